/* Config loading: errors name file, line and setting. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <execd/error.h>

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
  ck_assert_ptr_nonnull(json_object_get(cfg->agents, "echo"));
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
  ck_assert_ptr_nonnull(cfg->contracts);
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

int main(void) {
  Suite *s = suite_create("conf");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, loads_good_config);
  tcase_add_test(tc, errors_name_file_line_setting);
  tcase_add_test(tc, plugin_keys_are_checked);
  tcase_add_test(tc, agent_schemas_are_compiled_at_load);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
