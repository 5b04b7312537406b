/* The tokens file (core/tenants_file.c) and the daemon's table of tenants
 * (core/tenants.c): parsing, loading, authenticate() and the SIGHUP
 * reload; and the config keys that name the file. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <execd/error.h>

#include "conf.h"
#include "tenants.h"
#include "tenants_file.h"

#define TOKEN_A "alpha-0123456789abcdef"
#define TOKEN_B "beta-0123456789abcdef0"
#define TOKEN_C "gamma-0123456789abcdef"

static char dir[64], file[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/execd-tenants-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(file, sizeof file, "%s/tokens", dir);
}

static void teardown(void) {
  tenants_close();
  unlink(file);
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  unlink(fifo);
  rmdir(dir);
}

static void write_file(const char *text, mode_t mode) {
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  ck_assert_int_eq(chmod(file, mode), 0);
}

/* Parses text; expects an error containing needle. */
static void expect_parse_error(const char *text, const char *needle) {
  tenants_table *t = NULL;
  char err[512] = "", warn[512];
  int rc = tenants_parse("tokens", text, strlen(text), &t, err, sizeof err, warn, sizeof warn);
  ck_assert_msg(rc == EXECD_ECONFIG, "accepted: %s", text);
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err, needle) != NULL, "'%s' not in '%s'", needle, err);
}

static const char *who(const char *token) {
  static char tenant[EXECD_TENANT_MAX + 1];
  if (tenants_authenticate(NULL, token, token ? strlen(token) : 0, tenant, sizeof tenant) != 0)
    return NULL;
  return tenant;
}

START_TEST(old_format) {
  static const char text[] = "# execd tokens\n\n" TOKEN_A " alpha\n  " TOKEN_B "\tbeta  \r\n"
                             "\t# indented comment\n" TOKEN_C " alpha";
  tenants_table *t = NULL;
  char err[512], warn[512];
  ck_assert_int_eq(
      tenants_parse("tokens", text, sizeof text - 1, &t, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_str_eq(warn, "");
  ck_assert_uint_eq(tenants_token_count(t), 3);
  ck_assert_str_eq(tenants_lookup(t, TOKEN_A, strlen(TOKEN_A)), "alpha");
  ck_assert_str_eq(tenants_lookup(t, TOKEN_B, strlen(TOKEN_B)), "beta");
  ck_assert_str_eq(tenants_lookup(t, TOKEN_C, strlen(TOKEN_C)), "alpha");
  ck_assert_ptr_null(tenants_lookup(t, TOKEN_A, strlen(TOKEN_A) - 1));
  ck_assert_ptr_null(tenants_lookup(t, "", 0));
  ck_assert_ptr_null(tenants_lookup(t, NULL, 0));
  tenants_free(t);
}
END_TEST

START_TEST(old_format_errors) {
  expect_parse_error(TOKEN_A " alpha\n\n" TOKEN_B "\n", "tokens:3: expected 'TOKEN TENANT', found 1 field");
  expect_parse_error(TOKEN_A " alpha extra\n", "tokens:1: expected 'TOKEN TENANT', found 3 fields");
  expect_parse_error("bad\"token alpha\n", "tokens:1: the token contains '\"'");
  expect_parse_error(TOKEN_A " bad/tenant\n", "tokens:1: the tenant name contains '/'");
  expect_parse_error(TOKEN_A " a234567890123456789012345678901234567890123456789012345678901234X\n",
                     "longer than 64");
  expect_parse_error(TOKEN_A " alpha\n" TOKEN_A " beta\n",
                     "tokens:2: the same token is already on line 1");
  expect_parse_error("# only comments\n", "no tokens");
  expect_parse_error("", "no tokens");
}
END_TEST

START_TEST(load_checks) {
  tenants_table *t = NULL;
  char err[512], warn[512];
  ck_assert_int_eq(tenants_load("/nonexistent/tokens", &t, err, sizeof err, warn, sizeof warn),
                   EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tokens"));
  ck_assert_int_eq(tenants_load(dir, &t, err, sizeof err, warn, sizeof warn), EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file (a directory)"));
  /* A FIFO is refused at once: opening it must not wait for a writer. */
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert_int_eq(tenants_load(fifo, &t, err, sizeof err, warn, sizeof warn), EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(err, "not a regular file (a FIFO)"));
  /* Over the size cap. */
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  for (int i = 0; i < TENANTS_FILE_MAX / 40 + 1; i++)
    fprintf(f, "tok-%033d t\n", i);
  fclose(f);
  ck_assert_int_eq(tenants_load(file, &t, err, sizeof err, warn, sizeof warn), EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(err, "larger than"));
  /* Short tokens and a world-readable file load, with a warning. */
  write_file("token-a tenant-a\n", 0600);
  ck_assert_int_eq(tenants_load(file, &t, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_ptr_nonnull(strstr(warn, ":1: the token is only 7 characters long"));
  tenants_free(t);
  write_file(TOKEN_A " alpha\n", 0644);
  ck_assert_int_eq(tenants_load(file, &t, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_ptr_nonnull(strstr(warn, "readable by every user"));
  tenants_free(t);
}
END_TEST

START_TEST(anonymous_without_file) {
  char err[512];
  ck_assert_int_eq(tenants_init(NULL, err, sizeof err), 0);
  ck_assert_str_eq(who(NULL), EXECD_TENANT_ANONYMOUS);
  ck_assert_str_eq(who("anything"), EXECD_TENANT_ANONYMOUS);
  char small[4];
  ck_assert_int_eq(tenants_authenticate(NULL, NULL, 0, small, sizeof small), EXECD_EINVAL);
}
END_TEST

static int reload_settled(uv_loop_t *loop) {
  /* The reload's work and its completion run on the loop. */
  return uv_run(loop, UV_RUN_DEFAULT);
}

START_TEST(authenticate_and_reload) {
  char err[512];
  write_file("# execd tokens\n" TOKEN_A " alpha\n" TOKEN_B " beta\n", 0600);
  ck_assert_msg(tenants_init(file, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(who(TOKEN_A), "alpha");
  ck_assert_str_eq(who(TOKEN_B), "beta");
  ck_assert_ptr_null(who(NULL));
  ck_assert_ptr_null(who("not-a-valid-token-at-all"));

  uv_loop_t loop;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  /* SIGHUP: a new file replaces the tokens. */
  write_file(TOKEN_C " gamma\n", 0600);
  tenants_reload(&loop, file);
  reload_settled(&loop);
  ck_assert_ptr_null(who(TOKEN_A));
  ck_assert_str_eq(who(TOKEN_C), "gamma");
  /* A broken file is refused, and the old tokens stay. */
  write_file(TOKEN_A " alpha\n" TOKEN_B " beta extra\n", 0600);
  tenants_reload(&loop, file);
  reload_settled(&loop);
  ck_assert_str_eq(who(TOKEN_C), "gamma");
  ck_assert_ptr_null(who(TOKEN_A));
  /* So is a FIFO named instead (opened without waiting for a writer). */
  char fifo[160];
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  tenants_reload(&loop, fifo);
  reload_settled(&loop);
  ck_assert_str_eq(who(TOKEN_C), "gamma");
  /* Removing the file from the config is refused: the tokens stay. */
  tenants_reload(&loop, NULL);
  reload_settled(&loop);
  ck_assert_str_eq(who(TOKEN_C), "gamma");
  ck_assert_ptr_null(who(NULL));
  /* A good file again. */
  write_file(TOKEN_B " beta\n", 0600);
  tenants_reload(&loop, file);
  reload_settled(&loop);
  ck_assert_str_eq(who(TOKEN_B), "beta");
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* daemon.tokens_file, and the transports' tokens_file of old configs. */
static execd_config *parse_conf(const char *text, char *err, size_t errlen) {
  execd_config *cfg = NULL;
  config_parse_text("execd.conf", text, strlen(text), &cfg, err, errlen);
  return cfg;
}

START_TEST(config_keys) {
  char err[1024];
  execd_config *cfg = parse_conf(
      "daemon: { tokens_file = \"/etc/execd/tokens\"; };\n"
      "backends: ( { plugin = \"local\"; } );\n"
      "transports: ( { plugin = \"http\"; } );\n",
      err, sizeof err);
  ck_assert_msg(cfg != NULL, "%s", err);
  ck_assert_str_eq(cfg->tokens_file, "/etc/execd/tokens");
  config_free(cfg);
  /* The http transport's key: read as daemon.tokens_file, gone from the
   * block the plugin gets. */
  cfg = parse_conf("backends: ( { plugin = \"local\"; } );\n"
                   "transports: ( { plugin = \"http\"; tokens_file = \"/t\"; } );\n",
                   err, sizeof err);
  ck_assert_msg(cfg != NULL, "%s", err);
  ck_assert_str_eq(cfg->tokens_file, "/t");
  ck_assert_ptr_null(json_object_get(cfg->transports[0].config, "tokens_file"));
  config_free(cfg);
  /* The same path twice is fine; two different ones are an error. */
  cfg = parse_conf("daemon: { tokens_file = \"/t\"; };\n"
                   "backends: ( { plugin = \"local\"; } );\n"
                   "transports: ( { plugin = \"http\"; tokens_file = \"/t\"; } );\n",
                   err, sizeof err);
  ck_assert_msg(cfg != NULL, "%s", err);
  config_free(cfg);
  cfg = parse_conf("daemon: { tokens_file = \"/t\"; };\n"
                   "backends: ( { plugin = \"local\"; } );\n"
                   "transports: ( { plugin = \"http\";\n tokens_file = \"/u\"; } );\n",
                   err, sizeof err);
  ck_assert_ptr_null(cfg);
  ck_assert_msg(strstr(err, "execd.conf:4: transports[0].tokens_file: '/u' is not the tokens "
                            "file already named ('/t')") != NULL,
                "%s", err);
  /* No file at all: anonymous. */
  cfg = parse_conf("backends: ( { plugin = \"local\"; } );\n", err, sizeof err);
  ck_assert_msg(cfg != NULL, "%s", err);
  ck_assert_ptr_null(cfg->tokens_file);
  config_free(cfg);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tenants");
  TCase *tc = tcase_create("tenants");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, old_format);
  tcase_add_test(tc, old_format_errors);
  tcase_add_test(tc, load_checks);
  tcase_add_test(tc, anonymous_without_file);
  tcase_add_test(tc, authenticate_and_reload);
  tcase_add_test(tc, config_keys);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
