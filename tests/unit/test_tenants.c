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
#include "quota.h"
#include "tenants.h"
#include "tenants_file.h"
#include "usage.h"

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

/* 2027-01-31T00:00:00Z in milliseconds since the epoch. */
#define JAN31 1801353600000LL

static tenants_table *parse_ok(const char *text, char *warn, size_t warnlen) {
  tenants_table *t = NULL;
  char err[512] = "";
  int rc = tenants_parse("tokens", text, strlen(text), &t, err, sizeof err, warn, warnlen);
  ck_assert_msg(rc == 0, "refused: %s", err);
  return t;
}

static int entitled(const tenants_table *t, const char *tenant, const char *agent, int64_t now,
                    char *why) {
  return tenants_entitled(t, tenant, agent, now, why, 256);
}

START_TEST(new_format) {
  static const char text[] =
      TOKEN_A " alpha\n" TOKEN_B " beta\n" TOKEN_C " gamma\n"
      "# alpha: reports until the end of January, summarize for ever\n"
      "tenant:  alpha  max_running=2 max_per_day=100\n"
      "allow:   alpha  agents=report-*,summarize   until=2027-01-31T00:00:00Z\n"
      "allow:   alpha  agents=summarize\n"
      "allow:   beta   agents=*  until=2027-01-31T01:00:00+01:00\n"
      "tenant:  gamma  max_per_day=5\n";
  char warn[512] = "", why[256];
  tenants_table *t = parse_ok(text, warn, sizeof warn);
  ck_assert_uint_eq(tenants_token_count(t), 3);
  ck_assert_uint_eq(tenants_count(t), 3);
  /* Globs, and the second the entitlement ends. */
  ck_assert_int_eq(entitled(t, "alpha", "report-daily", JAN31 - 1000, why), 0);
  ck_assert_int_eq(entitled(t, "alpha", "report-daily", JAN31 - 1, why), 0);
  ck_assert_int_eq(entitled(t, "alpha", "report-daily", JAN31, why), EXECD_EPERM);
  ck_assert_msg(strstr(why, "tenant alpha's entitlement to agent 'report-daily' ended at "
                            "2027-01-31T00:00:00Z") != NULL, "%s", why);
  ck_assert_int_eq(entitled(t, "alpha", "summarize", JAN31 + 86400000LL * 365, why), 0);
  ck_assert_int_eq(entitled(t, "alpha", "translate", JAN31 - 1000, why), EXECD_EPERM);
  ck_assert_msg(strstr(why, "tenant alpha is not entitled to agent 'translate'") != NULL, "%s",
                why);
  /* A request naming no agent matches as "-": only beta's * covers it. */
  ck_assert_int_eq(entitled(t, "alpha", NULL, JAN31 - 1000, why), EXECD_EPERM);
  ck_assert_msg(strstr(why, "requests naming no agent") != NULL, "%s", why);
  ck_assert_int_eq(entitled(t, "beta", NULL, JAN31 - 1000, why), 0);
  /* An offset: +01:00 is the same instant as JAN31. */
  ck_assert_int_eq(entitled(t, "beta", "anything", JAN31 - 1, why), 0);
  ck_assert_int_eq(entitled(t, "beta", "anything", JAN31, why), EXECD_EPERM);
  /* gamma has quotas but no allow: line: in a file with allow: lines it
   * may run nothing, and the load says so. */
  ck_assert_int_eq(entitled(t, "gamma", "summarize", 0, why), EXECD_EPERM);
  ck_assert_msg(strstr(warn, "tokens:3: tenant gamma has no allow: line") != NULL, "%s", warn);
  tenant_quota q = tenants_quota(t, "alpha");
  ck_assert_int_eq(q.max_running, 2);
  ck_assert_int_eq(q.max_per_day, 100);
  q = tenants_quota(t, "gamma");
  ck_assert_int_eq(q.max_running, 0);
  ck_assert_int_eq(q.max_per_day, 5);
  q = tenants_quota(t, "beta");
  ck_assert_int_eq(q.max_running + q.max_per_day, 0);
  tenants_free(t);

  /* Quotas without allow: lines restrict no agent (and an old file none). */
  t = parse_ok(TOKEN_A " alpha\ntenant: alpha max_running=1\n", warn, sizeof warn);
  ck_assert_int_eq(entitled(t, "alpha", "anything", 0, why), 0);
  ck_assert_int_eq(entitled(t, "alpha", NULL, 0, why), 0);
  ck_assert_int_eq(tenants_quota(t, "alpha").max_running, 1);
  tenants_free(t);
  t = parse_ok(TOKEN_A " alpha\n", warn, sizeof warn);
  ck_assert_int_eq(entitled(t, "alpha", "anything", 0, why), 0);
  ck_assert_int_eq(tenants_quota(t, "alpha").max_per_day, 0);
  tenants_free(t);
  /* A directive for a tenant no token names loads, with a warning. */
  t = parse_ok(TOKEN_A " alpha\nallow: alpha agents=*\n\nallow: ghost agents=x\n", warn,
               sizeof warn);
  ck_assert_msg(strstr(warn, "tokens:4: tenant ghost has no token") != NULL, "%s", warn);
  tenants_free(t);
}
END_TEST

START_TEST(new_format_errors) {
  expect_parse_error(TOKEN_A " alpha\nallowed: alpha agents=*\n",
                     "tokens:2: unknown directive 'allowed:' (known: tenant:, allow:)");
  expect_parse_error(TOKEN_A " alpha\nallow:\n", "tokens:2: allow: needs a tenant name");
  expect_parse_error(TOKEN_A " alpha\nallow: al/pha agents=*\n",
                     "tokens:2: the tenant name contains '/'");
  expect_parse_error(TOKEN_A " alpha\n\nallow: alpha\n",
                     "tokens:3: an allow: line needs agents=GLOB");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a,,b\n", "tokens:2: agents: an empty glob");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a agents=b\n",
                     "tokens:2: agents is given twice");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a expires=2027-01-01T00:00:00Z\n",
                     "tokens:2: unknown setting 'expires=2027-01-01T00:00:00Z'");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a until=2027-02-30T00:00:00Z\n",
                     "tokens:2: until '2027-02-30T00:00:00Z' is not an RFC 3339 time");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a until=2027-01-01\n",
                     "is not an RFC 3339 time");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a until=2027-01-01T00:00:00\n",
                     "is not an RFC 3339 time");
  expect_parse_error(TOKEN_A " alpha\nallow: alpha agents=a until=2027-01-01T24:00:00Z\n",
                     "is not an RFC 3339 time");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha max_running=0\n",
                     "tokens:2: max_running must be a whole number from 1 to");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha max_per_day=-3\n",
                     "tokens:2: max_per_day must be a whole number");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha max_per_day=99999999999999999999\n",
                     "tokens:2: max_per_day must be a whole number");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha max_running=1 max_running=2\n",
                     "tokens:2: max_running is given twice");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha running=1\n",
                     "tokens:2: unknown setting 'running=1'");
  expect_parse_error(TOKEN_A " alpha\ntenant: alpha max_running=1\nallow: alpha agents=*\n"
                     "tenant: alpha max_per_day=2\n",
                     "tokens:4: tenant alpha already has a tenant: line (line 2)");
  expect_parse_error("allow: alpha agents=*\n", "no tokens");
  /* Old lines keep their own errors next to directives. */
  expect_parse_error("allow: alpha agents=*\n" TOKEN_A " al:pha\n",
                     "tokens:2: the tenant name contains ':'");
}
END_TEST

START_TEST(quota_reserve_and_settle) {
  tenant_quota q = {2, 3};
  char why[256];
  int64_t now = JAN31 + 3600 * 1000, active, today;
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), 0);
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), 0);
  /* Two not yet ended (pending): max_running. */
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), EXECD_EBUSY);
  ck_assert_msg(strstr(why, "tenant alpha has 2 executions not yet ended") != NULL, "%s", why);
  /* One accepted and ended, one refused by storage. */
  quota_active_add("alpha", +1);
  quota_settle("alpha", true);
  quota_settle("alpha", false);
  quota_active_add("alpha", -1);
  quota_counts("alpha", now, &active, &today);
  ck_assert_int_eq(active, 0);
  ck_assert_int_eq(today, 1);
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), 0);
  quota_settle("alpha", true);
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), 0);
  quota_settle("alpha", true);
  /* Three today: max_per_day, until 00:00 UTC. */
  ck_assert_int_eq(quota_reserve("alpha", q, now, why, sizeof why), EXECD_EBUSY);
  ck_assert_msg(strstr(why, "tenant alpha has had 3 executions accepted today (UTC)") != NULL,
                "%s", why);
  ck_assert_int_eq(quota_reserve("alpha", q, JAN31 + 86400000LL, why, sizeof why), 0);
  /* Other tenants have their own counts; no quota, no limit. */
  tenant_quota none = {0, 0};
  for (int i = 0; i < 10; i++)
    ck_assert_int_eq(quota_reserve("beta", none, now, why, sizeof why), 0);
  quota_close();
}
END_TEST

/* usage.c: a record's usage over its attempts, and the sums by group. */
START_TEST(usage_sums) {
  json_t *a = json_pack("{s:s, s:s, s:s, s:{s:[{s:I}, {s:I}], s:{s:i}}}", "tenant", "alpha",
                        "agent", "summarize", "state", "SUCCEEDED", "result", "output_files",
                        "size", (json_int_t)100, "size", (json_int_t)20, "output", "n", 7);
  usage_add_attempt(a, 1.25, 1000, 1500);
  usage_add_attempt(a, 0.5, 3000, 500); /* a retry: summed, peak kept */
  usage_set_output(a, 1000);            /* log + files + {"n":7} */
  const json_t *u = json_object_get(a, "usage");
  ck_assert_double_eq_tol(json_real_value(json_object_get(u, "cpu_seconds")), 1.75, 1e-9);
  ck_assert_int_eq(json_integer_value(json_object_get(u, "peak_memory_bytes")), 3000);
  ck_assert_int_eq(json_integer_value(json_object_get(u, "wall_ms")), 2000);
  ck_assert_int_eq(json_integer_value(json_object_get(u, "output_bytes")), 1000 + 120 + 7);
  ck_assert_int_eq(json_integer_value(json_object_get(u, "attempts")), 2);

  json_t *b = json_pack("{s:s, s:n, s:s}", "tenant", "alpha", "agent", "state", "FAILED");
  usage_add_attempt(b, 0.25, 5000, 100);
  json_t *c = json_pack("{s:s, s:s, s:s}", "tenant", "alpha", "agent", "summarize", "state",
                        "RUNNING");
  usage_report *r = usage_report_new("agent");
  usage_report_add(r, a);
  usage_report_add(r, b);
  usage_report_add(r, c);
  json_t *groups = usage_report_finish(r);
  ck_assert_uint_eq(json_array_size(groups), 2);
  /* Sorted: "" (no agent) first. */
  json_t *none = json_array_get(groups, 0), *sum = json_array_get(groups, 1);
  ck_assert(json_is_null(json_object_get(none, "agent")));
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(none, "executions"),
                                                      "FAILED")), 1);
  ck_assert_str_eq(json_string_value(json_object_get(sum, "agent")), "summarize");
  ck_assert_int_eq(json_integer_value(json_object_get(sum, "executions_total")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(sum, "unfinished")), 1);
  ck_assert_double_eq_tol(json_real_value(json_object_get(sum, "wall_seconds")), 2.0, 1e-9);
  json_decref(groups);

  r = usage_report_new("tenant");
  usage_report_add(r, a);
  usage_report_add(r, b);
  groups = usage_report_finish(r);
  ck_assert_uint_eq(json_array_size(groups), 1);
  sum = json_array_get(groups, 0);
  ck_assert_str_eq(json_string_value(json_object_get(sum, "tenant")), "alpha");
  ck_assert_double_eq_tol(json_real_value(json_object_get(sum, "cpu_seconds")), 2.0, 1e-9);
  ck_assert_int_eq(json_integer_value(json_object_get(sum, "peak_memory_bytes")), 5000);
  json_decref(groups);

  /* The counters for /metrics, labels escaped. */
  json_object_set_new(b, "agent", json_string("we\"ird\\"));
  usage_count_ended(a);
  usage_count_ended(b);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  usage_metrics(f);
  fclose(f);
  ck_assert_msg(strstr(text, "execd_tenant_cpu_seconds_total{tenant=\"alpha\",agent=\"summarize\"} "
                             "1.750000\n") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "execd_tenant_executions_total{tenant=\"alpha\",agent=\"we\\\"ird"
                             "\\\\\",state=\"FAILED\"} 1\n") != NULL, "%s", text);
  free(text);
  usage_close();
  json_decref(a);
  json_decref(b);
  json_decref(c);
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
  tcase_add_test(tc, new_format);
  tcase_add_test(tc, new_format_errors);
  tcase_add_test(tc, quota_reserve_and_settle);
  tcase_add_test(tc, usage_sums);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
