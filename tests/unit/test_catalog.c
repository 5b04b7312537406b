/* The catalog of agents: agent files (JSON and libconfig) read from
 * daemon.agents_dir, their errors naming the file (and line), duplicates
 * naming both definitions, files that are not regular files refused, and
 * a catalog's lookup and listing. */
#include "config.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <execd/error.h>

#include "agent_file.h"
#include "catalog.h"
#include "catalog_dir.h"
#include "conf.h"

static char dir[64];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/execd-catalog-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)flag;
  (void)f;
  return remove(p);
}

static void remove_dir(void) { nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS); }

static void put(const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fputs(text, f) >= 0, 1);
  fclose(f);
}

/* Loads dir into a new catalog; returns it (or NULL with err filled). */
static catalog *load(char *err, size_t errlen) {
  catalog *c = catalog_new();
  if (catalog_load_dir(c, dir, err, errlen) == 0)
    return c;
  catalog_free(c);
  return NULL;
}

static void expect_error(const char *needle1, const char *needle2) {
  char err[8192];
  catalog *c = load(err, sizeof err);
  ck_assert_msg(c == NULL, "loaded, expected '%s'", needle1);
  ck_assert_msg(strstr(err, needle1) != NULL, "'%s' not in '%s'", needle1, err);
  if (needle2)
    ck_assert_msg(strstr(err, needle2) != NULL, "'%s' not in '%s'", needle2, err);
}

static const char *good_json =
    "{\n"
    "  \"name\": \"summarise\",\n"
    "  \"description\": \"Summarises a text\",\n"
    "  \"version\": \"1.2.0\",\n"
    "  \"backend\": \"local\",\n"
    "  \"command\": [\"/bin/cat\"],\n"
    "  \"io\": \"json\",\n"
    "  \"environment\": {\"MODE\": \"short\"},\n"
    "  \"resources\": {\"memory\": \"256M\", \"timeout\": \"30s\", \"cpus\": 0.5, \"pids\": 32},\n"
    "  \"defaults\": {\"timeout\": \"10s\"},\n"
    "  \"format_assertion\": true,\n"
    "  \"schema_in\": {\"type\": \"object\", \"required\": [\"text\"]},\n"
    "  \"schema_out\": {\"type\": \"object\", \"properties\": {\"summary\": {\"type\": \"string\"}}}\n"
    "}\n";

static const char *good_conf = "name = \"echo\";\n"
                               "version = \"3\";\n"
                               "image = \"debian:stable-slim\";\n"
                               "command = [\"/bin/echo\", \"hi\"];\n"
                               "resources = { timeout = \"10s\"; };\n"
                               "schema_in = \"{\\\"type\\\": \\\"integer\\\"}\";\n";

START_TEST(loads_json_and_libconfig_files) {
  make_dir();
  put("summarise.json", good_json);
  put("echo.conf", good_conf);
  put("README", "not an agent");
  put("summarise.json~", "{ broken");
  put(".hidden.json", "{ broken");
  char err[4096];
  catalog *c = load(err, sizeof err);
  remove_dir();
  ck_assert_msg(c != NULL, "%s", err);
  ck_assert_uint_eq(catalog_count(c), 2);
  ck_assert_str_eq(agent_name(catalog_at(c, 0)), "echo"); /* name order */
  agent *s = catalog_find(c, "summarise");
  ck_assert_ptr_nonnull(s);
  ck_assert_str_eq(agent_source(s), "file");
  ck_assert_str_eq(agent_file(s), "summarise.json");
  const json_t *def = agent_def(s);
  ck_assert_str_eq(json_string_value(json_object_get(def, "version")), "1.2.0");
  ck_assert_str_eq(json_string_value(json_object_get(def, "description")), "Summarises a text");
  const json_t *res = json_object_get(def, "resources");
  ck_assert_int_eq(json_integer_value(json_object_get(res, "memory")), 256 << 20);
  ck_assert_int_eq(json_integer_value(json_object_get(res, "timeout_ms")), 30000);
  ck_assert_int_eq(json_integer_value(json_object_get(res, "pids")), 32);
  ck_assert_int_eq(
      json_integer_value(json_object_get(json_object_get(def, "defaults"), "timeout_ms")), 10000);
  ck_assert_ptr_nonnull(agent_schema(s, AGENT_SCHEMA_IN));
  ck_assert_ptr_nonnull(agent_schema(s, AGENT_SCHEMA_OUT));
  ck_assert(agent_format_assertion(s));
  ck_assert(json_is_object(json_object_get(def, "schema_in")));
  agent *e = catalog_find(c, "echo");
  ck_assert_str_eq(agent_file(e), "echo.conf");
  ck_assert_ptr_nonnull(agent_schema(e, AGENT_SCHEMA_IN));
  ck_assert_ptr_null(agent_schema(e, AGENT_SCHEMA_OUT));
  ck_assert_ptr_null(catalog_find(c, "nope"));
  /* The listing: name order, source and file. */
  json_t *list = catalog_list(c);
  json_t *first = json_array_get(json_object_get(list, "agents"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "echo");
  ck_assert_str_eq(json_string_value(json_object_get(first, "source")), "file");
  ck_assert_str_eq(json_string_value(json_object_get(first, "file")), "echo.conf");
  json_decref(list);
  /* An agent outlives the catalog that loaded it while referenced. */
  agent_ref(s);
  catalog_free(c);
  ck_assert_str_eq(agent_name(s), "summarise");
  ck_assert_ptr_nonnull(agent_schema(s, AGENT_SCHEMA_OUT));
  agent_unref(s);
}
END_TEST

START_TEST(broken_json_names_file_and_line) {
  make_dir();
  put("bad.json", "{\n  \"name\": \"bad\",\n  \"command\": [\"/bin/true\"\n}\n");
  char p[128];
  snprintf(p, sizeof p, "%s/bad.json:4:", dir);
  expect_error(p, "not valid JSON");
  put("bad.json", "[\"not an object\"]");
  expect_error("bad.json: expected one JSON object", NULL);
  put("bad.json", "{\"name\": \"bad\", \"name\": \"twice\"}");
  expect_error("bad.json:", "duplicate");
  put("bad.json", "{\"name\": \"bad\", \"image\": null}");
  expect_error("bad.json: image: null", NULL);
  put("bad.json", "{\"name\": \"bad\", \"$id\": \"x\"}");
  expect_error("bad.json: $id: not a setting name", NULL);
  put("bad.json", "{\"name\": \"bad\", \"resources\": {\"memory\": \"lots\"}}");
  expect_error("bad.json: resources.memory", "not a size");
  put("bad.json", "{\"name\": \"bad\", \"colour\": \"red\"}");
  expect_error("bad.json: colour: unknown setting", NULL);
  put("bad.json", "{\"name\": \"../bad\"}");
  expect_error("bad.json: name", "is not an agent name");
  put("bad.json", "{\"name\": \"bad\", \"resources\": {\"timeout\": \"30s\"},"
                 " \"defaults\": {\"timeout\": \"1m\"}}");
  expect_error("bad.json: defaults.timeout: 60000 ms is over the agent's resources.timeout (30000 ms)",
               NULL);
  put("bad.json", "{\"description\": \"no name\"}");
  expect_error("bad.json:", "missing 'name");
  char deep[400] = "{\"name\": \"d\", \"schema_in\": ";
  for (int i = 0; i < 70; i++)
    strcat(deep, "[");
  put("bad.json", deep);
  expect_error("bad.json: ", "nested deeper than 64");
  remove_dir();
}
END_TEST

START_TEST(broken_libconfig_names_file_and_line) {
  make_dir();
  put("bad.conf", "name = \"bad\";\ncommand = [\"/bin/true\";\n");
  char p[128];
  snprintf(p, sizeof p, "%s/bad.conf:2:", dir);
  expect_error(p, "syntax error");
  put("bad.conf", "name = \"bad\";\n\nio = \"xml\";\n");
  snprintf(p, sizeof p, "%s/bad.conf:3: io:", dir);
  expect_error(p, "not an io protocol");
  put("bad.conf", "name = \"bad\";\n  @include \"/etc/passwd\"\n");
  snprintf(p, sizeof p, "%s/bad.conf:2:", dir);
  expect_error(p, "@include");
  remove_dir();
}
END_TEST

START_TEST(invalid_schema_names_file_and_agent) {
  make_dir();
  put("s.json", "{\"name\": \"s\", \"schema_out\": {\"properties\": {\"n\": {\"minimum\": \"one\"}}}}");
  expect_error("s.json: schema_out: agent 's': not a valid JSON Schema",
               "/properties/n/minimum: must be a number");
  put("s.json", "{\"name\": \"s\"}");
  put("t.conf", "name = \"t\";\nschema_in = \"{\\\"pattern\\\": \\\"([a-z]\\\"}\";\n");
  char p[128];
  snprintf(p, sizeof p, "%s/t.conf:2: schema_in: agent 't'", dir);
  expect_error(p, "/pattern: is not a valid regular expression");
  remove_dir();
}
END_TEST

START_TEST(oversize_and_non_regular_files_are_refused) {
  make_dir();
  char p[256];
  snprintf(p, sizeof p, "%s/big.json", dir);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "{\"name\": \"big\", \"description\": \"");
  for (int i = 0; i < AGENT_FILE_MAX; i++)
    fputc('x', f);
  fprintf(f, "\"}");
  fclose(f);
  expect_error("big.json: the agent file has", "more than 1048576");
  unlink(p);
  /* A symbolic link is not followed, even to a good file. */
  put("real.txt", good_conf);
  snprintf(p, sizeof p, "%s/link.conf", dir);
  ck_assert_int_eq(symlink("real.txt", p), 0);
  expect_error("link.conf: a symbolic link", NULL);
  unlink(p);
  snprintf(p, sizeof p, "%s/fifo.conf", dir);
  ck_assert_int_eq(mkfifo(p, 0600), 0);
  expect_error("fifo.conf: not a regular file", NULL);
  unlink(p);
  snprintf(p, sizeof p, "%s/sub.json", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  expect_error("sub.json: not a regular file", NULL);
  remove_dir();
}
END_TEST

/* Every file is tried: each broken one is named, one a line. */
START_TEST(every_error_is_reported) {
  make_dir();
  put("a.json", "{");
  put("b.conf", "name = ;");
  put("c.json", good_json);
  char err[8192];
  ck_assert_ptr_null(load(err, sizeof err));
  remove_dir();
  ck_assert_msg(strstr(err, "a.json") && strstr(err, "b.conf") && strchr(err, '\n'), "%s", err);
  ck_assert_msg(!strstr(err, "c.json"), "%s", err);
}
END_TEST

START_TEST(duplicates_name_both) {
  make_dir();
  put("one.json", "{\"name\": \"same\", \"command\": [\"/bin/true\"]}");
  put("two.conf", "name = \"same\";\n");
  expect_error("two.conf: duplicate agent name 'same'", "in one.json and in two.conf");
  remove_dir();

  /* A file against an inline agent of execd.conf. */
  make_dir();
  put("same.json", "{\"name\": \"echo\"}");
  char conf[128], text[512], err[4096];
  snprintf(conf, sizeof conf, "%s/execd.txt", dir);
  snprintf(text, sizeof text,
           "daemon: { agents_dir = \"%s\"; };\nbackends = ({plugin=\"local\";});\n"
           "agents = ({ name = \"echo\"; command = [\"/bin/echo\"]; });\n",
           dir);
  FILE *f = fopen(conf, "w");
  fputs(text, f);
  fclose(f);
  execd_config *cfg = NULL;
  ck_assert_int_eq(config_load(conf, &cfg, err, sizeof err), EXECD_ECONFIG);
  ck_assert_ptr_null(cfg);
  ck_assert_msg(strstr(err, "same.json: duplicate agent name 'echo'") &&
                    strstr(err, "inline in the config file and in same.json"),
                "%s", err);
  /* Fixed: the catalog holds both kinds, each with its source. */
  put("same.json", "{\"name\": \"other\", \"backend\": \"local\"}");
  ck_assert_msg(config_load(conf, &cfg, err, sizeof err) == 0, "%s", err);
  ck_assert_str_eq(agent_source(catalog_find(cfg->catalog, "echo")), "inline");
  ck_assert_str_eq(agent_source(catalog_find(cfg->catalog, "other")), "file");
  config_free(cfg);
  /* An agent file naming a backend that is not configured. */
  put("same.json", "{\"name\": \"other\", \"backend\": \"docker\"}");
  ck_assert_int_eq(config_load(conf, &cfg, err, sizeof err), EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "same.json: agent 'other' names backend 'docker'"), "%s", err);
  /* A missing agents_dir is an error naming it. */
  remove_dir();
  make_dir();
  snprintf(conf, sizeof conf, "%s/execd.txt", dir);
  f = fopen(conf, "w");
  fputs("daemon: { agents_dir = \"missing.d\"; };\nbackends = ({plugin=\"local\";});\n", f);
  fclose(f);
  ck_assert_int_eq(config_load(conf, &cfg, err, sizeof err), EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "/missing.d: daemon.agents_dir cannot be read"), "%s", err);
  remove_dir();
}
END_TEST

int main(void) {
  Suite *s = suite_create("catalog");
  TCase *tc = tcase_create("all");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, loads_json_and_libconfig_files);
  tcase_add_test(tc, broken_json_names_file_and_line);
  tcase_add_test(tc, broken_libconfig_names_file_and_line);
  tcase_add_test(tc, invalid_schema_names_file_and_agent);
  tcase_add_test(tc, oversize_and_non_regular_files_are_refused);
  tcase_add_test(tc, every_error_is_reported);
  tcase_add_test(tc, duplicates_name_both);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
