/* Config loading: errors name file, line and setting. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <execd/error.h>

#include "bounded_file.h"
#include "catalog.h"
#include "conf.h"

static char path[64];

static void write_conf(const char *text) {
  snprintf(path, sizeof path, "/tmp/execd-conf-test-XXXXXX");
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
}

/* Loads text; expects failure whose message contains each needle. */
static void expect_error(const char *text, const char *needle1, const char *needle2) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf(text);
  int rc = config_load(path, &cfg, err, sizeof err);
  unlink(path);
  ck_assert_msg(rc == EXECD_ECONFIG, "accepted: %s", text);
  ck_assert_ptr_null(cfg);
  ck_assert_msg(strstr(err, path) != NULL, "no file name in '%s'", err);
  ck_assert_msg(strstr(err, needle1) != NULL, "'%s' not in '%s'", needle1, err);
  if (needle2)
    ck_assert_msg(strstr(err, needle2) != NULL, "'%s' not in '%s'", needle2, err);
}

static const char *good =
    "daemon: { state_dir = \"/tmp/x\"; max_running = 4; kill_grace = \"2s\"; };\n"
    "backends: ( { name = \"local\"; plugin = \"local\"; max_running = 2;\n"
    "              commands_allowed = [\"/bin/*\"];\n"
    "              defaults = { memory = \"256M\"; timeout = \"1m\"; pids = 64; }; } );\n"
    "transports: ( { plugin = \"http\"; listen = \"127.0.0.1:0\"; } );\n"
    "agents = ( { name = \"echo\"; command = [\"/bin/echo\"]; io = \"json\"; } );\n";

START_TEST(loads_good_config) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf(good);
  ck_assert_msg(config_load(path, &cfg, err, sizeof err) == 0, "%s", err);
  unlink(path);
  ck_assert_str_eq(cfg->state_dir, "/tmp/x");
  ck_assert_int_eq(cfg->max_running, 4);
  ck_assert_int_eq(cfg->kill_grace_ms, 2000);
  ck_assert_uint_eq(cfg->n_backends, 1);
  ck_assert_int_eq(cfg->backends[0].max_running, 2);
  ck_assert_int_eq(json_integer_value(json_object_get(cfg->backends[0].defaults, "memory")),
                   256 << 20);
  ck_assert_int_eq(json_integer_value(json_object_get(cfg->backends[0].defaults, "timeout_ms")),
                   60000);
  /* core keys are removed from what the plugin sees */
  ck_assert_ptr_null(json_object_get(cfg->backends[0].config, "defaults"));
  ck_assert_ptr_nonnull(json_object_get(cfg->backends[0].config, "commands_allowed"));
  /* the embedded default storage */
  ck_assert_str_eq(cfg->storage.plugin, "file");
  ck_assert_str_eq(cfg->default_backend, "local");
  ck_assert_ptr_nonnull(catalog_find(cfg->catalog, "echo"));
  ck_assert_str_eq(agent_source(catalog_find(cfg->catalog, "echo")), "inline");
  config_free(cfg);
}
END_TEST

START_TEST(errors_name_file_line_setting) {
  expect_error("daemon: { max_running = \"many\"; };\nbackends = ({plugin=\"local\";});", ":1:",
               "daemon.max_running");
  expect_error("backends = ({plugin=\"local\";});\ndaemon: {\n  kill_grace = \"soon\"; };", ":3:",
               "daemon.kill_grace");
  expect_error("backends = ({plugin=\"local\";});\ndeamon: { };", ":2:", "deamon");
  expect_error("backends = ({plugin=\"local\";\n defaults = { memroy = \"1G\"; }; });", ":2:",
               "memroy");
  expect_error("backends = ({name=\"a\";});", ":1:", "plugin");
  expect_error("backends = ({plugin=\"local\";}, {plugin=\"local\";});", "duplicate instance name",
               "backends[1]");
  expect_error("backends = ({plugin=\"local\";});\nrouting = { default_backend = \"gpu\"; };",
               "routing.default_backend", "gpu");
  expect_error("backends = ({plugin=\"local\";});\nagents = ({ name = \"a\"; io = \"xml\"; });",
               ":2:", "agents[0].io");
  expect_error("daemon: { max_running = 4 ", ":1:", "syntax error");
}
END_TEST

/* Several nodes: the node's name (default the host name), its lease and
 * poll, each bounded. */
START_TEST(node_and_leases) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf("backends = ({plugin=\"local\";});\n");
  ck_assert_int_eq(config_load(path, &cfg, err, sizeof err), 0);
  unlink(path);
  ck_assert(cfg->node && cfg->node[0]);
  ck_assert_int_eq(cfg->lease_ms, 30000);
  ck_assert_int_eq(cfg->claim_poll_ms, 5000);
  config_free(cfg);
  write_conf("backends = ({plugin=\"local\";});\n"
             "daemon: { node = \"worker-1.b_2\"; lease = \"2s\"; claim_poll = \"250ms\"; };\n");
  ck_assert_int_eq(config_load(path, &cfg, err, sizeof err), 0);
  unlink(path);
  ck_assert_str_eq(cfg->node, "worker-1.b_2");
  ck_assert_int_eq(cfg->lease_ms, 2000);
  ck_assert_int_eq(cfg->claim_poll_ms, 250);
  config_free(cfg);
  expect_error("backends = ({plugin=\"local\";});\ndaemon: { node = \"a b\"; };", ":2:",
               "daemon.node");
  expect_error("backends = ({plugin=\"local\";});\ndaemon: { node = \"\"; };", ":2:",
               "daemon.node");
  expect_error("backends = ({plugin=\"local\";});\ndaemon: { lease = \"100ms\"; };", ":2:",
               "daemon.lease");
  expect_error("backends = ({plugin=\"local\";});\ndaemon: { claim_poll = \"2h\"; };",
               ":2:", "daemon.claim_poll");
}
END_TEST

/* The workspace quota is a size in defaults (and agents' resources), at
 * least 1M: the input must fit in the tmpfs. */
START_TEST(workspace_max_is_a_size) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf("backends = ({plugin=\"local\"; defaults = { workspace_max = \"64M\"; }; });\n"
             "agents = ({ name = \"a\"; resources = { workspace_max = \"2M\"; }; });");
  ck_assert_msg(config_load(path, &cfg, err, sizeof err) == 0, "%s", err);
  unlink(path);
  ck_assert_int_eq(
      json_integer_value(json_object_get(cfg->backends[0].defaults, "workspace_max")), 64 << 20);
  ck_assert_int_eq(json_integer_value(json_object_get(
                       json_object_get(agent_def(catalog_find(cfg->catalog, "a")), "resources"),
                       "workspace_max")),
                   2 << 20);
  config_free(cfg);
  expect_error("backends = ({plugin=\"local\";\n defaults = { workspace_max = \"512K\"; }; });",
               ":2:", "defaults.workspace_max");
  expect_error("backends = ({plugin=\"local\";\n defaults = { workspace_max = \"lots\"; }; });",
               ":2:", "defaults.workspace_max");
}
END_TEST

/* daemon.limits.json_depth_max and json_elements_max: defaults, values,
 * ranges. */
START_TEST(json_limits) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf(good);
  ck_assert_msg(config_load(path, &cfg, err, sizeof err) == 0, "%s", err);
  unlink(path);
  json_bounds b = limits_json_bounds(&cfg->limits);
  ck_assert_uint_eq(b.depth_max, 64);
  ck_assert_uint_eq(b.elements_max, 250000);
  config_free(cfg);
  write_conf("daemon: { limits = { json_depth_max = 16; json_elements_max = 1000; }; };\n"
             "backends = ({plugin=\"local\";});");
  ck_assert_msg(config_load(path, &cfg, err, sizeof err) == 0, "%s", err);
  unlink(path);
  b = limits_json_bounds(&cfg->limits);
  ck_assert_uint_eq(b.depth_max, 16);
  ck_assert_uint_eq(b.elements_max, 1000);
  config_free(cfg);
  expect_error("daemon: { limits = { json_depth_max = 5000; }; };\nbackends = ({plugin=\"local\";});",
               ":1:", "daemon.limits.json_depth_max");
  expect_error("daemon: { limits = { json_elements_max = 0; }; };\nbackends = ({plugin=\"local\";});",
               ":1:", "daemon.limits.json_elements_max");
}
END_TEST

/* An agent's schema that is not a valid JSON Schema is refused at load,
 * naming the file, the line of the schema, the agent and the JSON Pointer
 * of the fault; a valid one loads. */
START_TEST(agent_schemas_are_compiled_at_load) {
  expect_error("backends = ({plugin=\"local\";});\nagents = ({ name = \"sum\";\n"
               "  schema_in = \"{\\\"type\\\": \\\"object\\\"}\";\n"
               "  schema_out = \"{\\\"properties\\\": {\\\"n\\\": {\\\"minimum\\\": \\\"one\\\"}}}\"; });",
               ":4: agents[0].schema_out: agent 'sum'", "/properties/n/minimum: must be a number");
  expect_error("backends = ({plugin=\"local\";});\nagents = ({ name = \"p\";\n"
               "  schema_in = \"{\\\"pattern\\\": \\\"([a-z]\\\"}\"; });",
               ":3: agents[0].schema_in: agent 'p'", "/pattern: is not a valid regular expression");
  expect_error("backends = ({plugin=\"local\";});\nagents = ({ name = \"f\"; format_assertion = 1; });",
               ":2:", "agents[0].format_assertion");
  char err[1024];
  execd_config *cfg = NULL;
  write_conf("backends = ({plugin=\"local\";});\nagents = ({ name = \"ok\"; format_assertion = true;\n"
             "  schema_in = \"{\\\"$ref\\\": \\\"#/$defs/n\\\", \\\"$defs\\\": {\\\"n\\\": {\\\"type\\\": \\\"integer\\\"}}}\"; });");
  int rc = config_load(path, &cfg, err, sizeof err);
  unlink(path);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_ptr_nonnull(agent_schema(catalog_find(cfg->catalog, "ok"), AGENT_SCHEMA_IN));
  ck_assert_ptr_null(agent_schema(catalog_find(cfg->catalog, "ok"), AGENT_SCHEMA_OUT));
  config_free(cfg);
}
END_TEST

START_TEST(plugin_keys_are_checked) {
  char err[1024];
  execd_config *cfg = NULL;
  write_conf("backends = ({ plugin = \"local\";\n  path = \"/bin\";\n  comands_allowed = [\"x\"];\n"
             "  grace = \"5s\";\n  limit = \"1G\";\n});\n");
  ck_assert_int_eq(config_load(path, &cfg, err, sizeof err), 0);
  unlink(path);
  static const execd_config_key keys[] = {
      {"path", EXECD_CFG_STRING, NULL, "search path"},
      {"commands_allowed", EXECD_CFG_LIST, NULL, "globs"},
      {"grace", EXECD_CFG_DURATION, "5s", "grace"},
      {"limit", EXECD_CFG_SIZE, "1G", "limit"},
      {NULL, 0, NULL, NULL}};
  int rc = config_check_plugin_keys(cfg, &cfg->backends[0], keys, err, sizeof err);
  ck_assert_int_eq(rc, EXECD_ECONFIG);
  ck_assert_msg(strstr(err, ":3:") && strstr(err, "comands_allowed") &&
                    strstr(err, "commands_allowed"),
                "%s", err);
  /* fix the typo: the rest is normalised */
  json_object_del(cfg->backends[0].config, "comands_allowed");
  rc = config_check_plugin_keys(cfg, &cfg->backends[0], keys, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  ck_assert_int_eq(json_integer_value(json_object_get(cfg->backends[0].config, "grace")), 5000);
  ck_assert_int_eq(json_integer_value(json_object_get(cfg->backends[0].config, "limit")), 1 << 30);
  /* wrong type */
  json_object_set_new(cfg->backends[0].config, "path", json_integer(3));
  rc = config_check_plugin_keys(cfg, &cfg->backends[0], keys, err, sizeof err);
  ck_assert_msg(rc == EXECD_ECONFIG && strstr(err, ":2:") && strstr(err, "expected a string"),
                "%s", err);
  config_free(cfg);
}
END_TEST

  /* A long string value arrives intact, and the time it takes grows linearly
 * with its size (bench/config-parse shows the figures; this runs under
 * check's default 4 s timeout, which a quadratic parse of 8 MiB, about a
 * minute, does not meet). */
#define LONG_STRING (8u << 20)

START_TEST(long_string_parses) {
  char err[1024];
  execd_config *cfg = NULL;
  const char *head = "backends: ( { name = \"local\"; plugin = \"local\"; } );\n"
                     "transports: ( { plugin = \"http\"; listen = \"127.0.0.1:0\";\n"
                     "  note = \"";
  const char *tail = "\"; } );\n";
  size_t len = strlen(head) + LONG_STRING + strlen(tail);
  char *text = malloc(len + 1);
  ck_assert_ptr_nonnull(text);
  memcpy(text, head, strlen(head));
  memset(text + strlen(head), 'a', LONG_STRING);
  memcpy(text + strlen(head) + LONG_STRING, tail, strlen(tail) + 1);
  write_conf(text);
  free(text);
  int rc = config_load(path, &cfg, err, sizeof err);
  unlink(path);
  ck_assert_msg(rc == 0, "%s", err);
  const json_t *note = json_object_get(cfg->transports[0].config, "note");
  ck_assert_uint_eq(json_string_length(note), LONG_STRING);
  ck_assert_int_eq(json_string_value(note)[LONG_STRING - 1], 'a');
  config_free(cfg);
}
END_TEST

/* Only a regular file is read: a FIFO would block the start forever. */
START_TEST(config_must_be_a_regular_file) {
  char dir[] = "/tmp/execd-conf-fifo-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char fifo[64], err[1024];
  snprintf(fifo, sizeof fifo, "%s/execd.conf", dir);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  execd_config *cfg = NULL;
  int rc = config_load(fifo, &cfg, err, sizeof err);
  unlink(fifo);
  rmdir(dir);
  ck_assert_int_eq(rc, EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
}
END_TEST

/* The one bounded reader of the config, agent and tokens files: what it
 * reads, and what it refuses before reading. */
START_TEST(bounded_file_reads_only_small_regular_files) {
  char dir[] = "/tmp/execd-bounded-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char regular[64], fifo[64], link[64];
  snprintf(regular, sizeof regular, "%s/f", dir);
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(link, sizeof link, "%s/link", dir);
  FILE *f = fopen(regular, "w");
  ck_assert_ptr_nonnull(f);
  fputs("0123456789", f);
  fclose(f);
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  ck_assert_int_eq(symlink(regular, link), 0);

  bounded_file b;
  ck_assert_int_eq(bounded_file_read(AT_FDCWD, regular, 10, 0, &b), BOUNDED_FILE_OK);
  ck_assert_uint_eq(b.len, 10);
  ck_assert_str_eq(b.data, "0123456789");
  ck_assert(S_ISREG(b.mode));
  free(b.data);
  ck_assert_int_eq(bounded_file_read(AT_FDCWD, regular, 9, 0, &b), BOUNDED_FILE_TOO_LARGE);
  ck_assert_int_eq(b.size, 10);
  ck_assert_ptr_null(b.data);
  /* Refused without waiting for a writer. */
  ck_assert_int_eq(bounded_file_read(AT_FDCWD, fifo, 10, 0, &b), BOUNDED_FILE_NOT_REGULAR);
  ck_assert(S_ISFIFO(b.mode));
  ck_assert_int_eq(bounded_file_read(AT_FDCWD, dir, 10, 0, &b), BOUNDED_FILE_NOT_REGULAR);
  /* A link is followed unless told not to; relative to a directory. */
  ck_assert_int_eq(bounded_file_read(AT_FDCWD, link, 10, 0, &b), BOUNDED_FILE_OK);
  free(b.data);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  ck_assert_int_ge(dfd, 0);
  ck_assert_int_eq(bounded_file_read(dfd, "link", 10, BOUNDED_FILE_NOFOLLOW, &b),
                   BOUNDED_FILE_OPEN_FAILED);
  ck_assert_int_eq(b.errno_value, ELOOP);
  ck_assert_int_eq(bounded_file_read(dfd, "f", 10, BOUNDED_FILE_NOFOLLOW, &b), BOUNDED_FILE_OK);
  free(b.data);
  ck_assert_int_eq(bounded_file_read(dfd, "missing", 10, 0, &b), BOUNDED_FILE_OPEN_FAILED);
  ck_assert_int_eq(b.errno_value, ENOENT);
  close(dfd);

  /* Each caller keeps its own words for a file over its limit. */
  f = fopen(regular, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, (1 << 20) * 64, SEEK_SET), 0);
  fputc('\n', f);
  fclose(f);
  char err[1024];
  execd_config *cfg = NULL;
  ck_assert_int_eq(config_load(regular, &cfg, err, sizeof err), EXECD_ECONFIG);
  ck_assert_msg(strstr(err, ": the config file has 67108865 bytes, more than ") != NULL, "%s",
                err);
  unlink(regular);
  unlink(fifo);
  unlink(link);
  rmdir(dir);
}
END_TEST

/* The text parser is usable without a file. */
START_TEST(parses_text_in_memory) {
  char err[1024];
  execd_config *cfg = NULL;
  ck_assert_int_eq(config_parse_text("mem", good, strlen(good), &cfg, err, sizeof err), 0);
  ck_assert_int_eq(cfg->max_running, 4);
  config_free(cfg);
  static const char nul[] = "daemon: {\n max_running = 4;\0 };\n";
  ck_assert_int_eq(config_parse_text("mem", nul, sizeof nul - 1, &cfg, err, sizeof err),
                   EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "mem:2:") != NULL, "%s", err);
}
END_TEST

int main(void) {
Suite *s = suite_create("conf");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, loads_good_config);
  tcase_add_test(tc, node_and_leases);
  tcase_add_test(tc, long_string_parses);
  tcase_add_test(tc, config_must_be_a_regular_file);
  tcase_add_test(tc, bounded_file_reads_only_small_regular_files);
  tcase_add_test(tc, parses_text_in_memory);
  tcase_add_test(tc, errors_name_file_line_setting);
  tcase_add_test(tc, workspace_max_is_a_size);
  tcase_add_test(tc, plugin_keys_are_checked);
  tcase_add_test(tc, json_limits);
  tcase_add_test(tc, agent_schemas_are_compiled_at_load);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
