/* The environment a request may set: the built-in denylist of names that
 * change what a program loads or executes, the per-backend
 * environment_allowed globs, and their use in the policy step. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <execd/error.h>

#include "conf.h"
#include "env_policy.h"
#include "request.h"

START_TEST(denylist) {
  static const char *const denied[] = {
      "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_ANYTHING_NEW", "GCONV_PATH",
      "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "GETCONF_DIR", "HOSTALIASES", "RES_OPTIONS",
      "TMPDIR", "TZDIR", "MALLOC_TRACE", "MALLOC_CHECK_", "PYTHONSTARTUP", "PYTHONPATH",
      "PYTHONINSPECT", "PERL5OPT", "PERL5LIB", "RUBYOPT", "NODE_OPTIONS", "BASH_ENV", "ENV",
      "SHELLOPTS", "PS4", "JAVA_TOOL_OPTIONS", "LUA_INIT", "OPENSSL_CONF", "PATH", "HOME",
      "GIT_SSH_COMMAND", NULL};
  for (const char *const *n = denied; *n; n++) {
    const char *why = env_policy_denied(*n);
    ck_assert_msg(why != NULL, "%s is not denied", *n);
    ck_assert(*why != '\0');
  }
  static const char *const fine[] = {"CUSTOM", "LANG", "LC_ALL", "TZ", "DEBUG", "LDAP_URI",
                                     "MY_LD_PRELOAD", "PYTHO", "_", NULL};
  for (const char *const *n = fine; *n; n++)
    ck_assert_msg(env_policy_denied(*n) == NULL, "%s is denied", *n);
}
END_TEST

START_TEST(allowlist_globs) {
  json_t *globs = json_pack("[s, s]", "APP_*", "LANG");
  ck_assert(env_policy_allowed("APP_MODE", globs));
  ck_assert(env_policy_allowed("LANG", globs));
  ck_assert(!env_policy_allowed("LANGUAGE", globs));
  ck_assert(!env_policy_allowed("CUSTOM", globs));
  ck_assert(env_policy_allowed("CUSTOM", NULL)); /* no allowlist: any name */
  json_t *none = json_array();
  ck_assert(!env_policy_allowed("CUSTOM", none)); /* an empty one: no name */
  json_decref(none);
  json_decref(globs);
}
END_TEST

/* The policy step refuses a denied or not-allowed name with 400 and the
 * variable as the field, on any backend. */
START_TEST(effective_spec_refuses_names) {
  request_limits limits = {.max_body_bytes = 1 << 20, .max_files = 10, .max_file_bytes = 1 << 20,
                           .max_input_bytes = 1 << 20, .max_env_bytes = 65536,
                           .max_output_bytes = 1 << 20, .max_log_bytes = 1 << 20,
                           .max_attempts = 5};
  execd_config cfg;
  memset(&cfg, 0, sizeof cfg);
  plugin_block backends[2];
  memset(backends, 0, sizeof backends);
  backends[0].name = "local";
  backends[0].defaults = json_object();
  backends[1].name = "docker";
  backends[1].defaults = json_object();
  backends[1].environment_allowed = json_pack("[s]", "APP_*");
  cfg.backends = backends;
  cfg.n_backends = 2;
  cfg.default_backend = "local";
  cfg.limits = limits;
  struct {
    const char *body;
    const char *field; /* NULL: accepted */
  } cases[] = {
      {"{\"container\":{\"command\":[\"/bin/echo\"]},\"environment\":{\"CUSTOM\":\"1\"}}", NULL},
      {"{\"container\":{\"command\":[\"/bin/echo\"]},\"environment\":{\"CUSTOM\":\"1\","
       "\"LD_PRELOAD\":\"input/evil.so\"}}",
       "environment.LD_PRELOAD"},
      {"{\"backend\":\"docker\",\"container\":{\"image\":\"a\",\"command\":[\"x\"]},"
       "\"environment\":{\"PYTHONSTARTUP\":\"x\"}}",
       "environment.PYTHONSTARTUP"},
      {"{\"backend\":\"docker\",\"container\":{\"image\":\"a\",\"command\":[\"x\"]},"
       "\"environment\":{\"APP_MODE\":\"x\"}}",
       NULL},
      {"{\"backend\":\"docker\",\"container\":{\"image\":\"a\",\"command\":[\"x\"]},"
       "\"environment\":{\"CUSTOM\":\"x\"}}",
       "environment.CUSTOM"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    request_error e;
    json_t *req = request_parse(cases[i].body, strlen(cases[i].body), &limits, &e);
    ck_assert_msg(req != NULL, "%s: %s", cases[i].body, e.message);
    json_t *spec = request_effective_spec(req, &cfg, &e);
    if (!cases[i].field) {
      ck_assert_msg(spec != NULL, "%s refused: %s %s", cases[i].body, e.field, e.message);
    } else {
      ck_assert_msg(spec == NULL, "%s accepted", cases[i].body);
      ck_assert_int_eq(e.status, EXECD_EINVAL);
      ck_assert_str_eq(e.code, "environment_not_allowed");
      ck_assert_str_eq(e.field, cases[i].field);
      ck_assert_ptr_nonnull(strstr(e.message, cases[i].field + strlen("environment.")));
    }
    json_decref(spec);
    json_decref(req);
  }
  json_decref(backends[0].defaults);
  json_decref(backends[1].defaults);
  json_decref(backends[1].environment_allowed);
}
END_TEST

/* A backend's environment_allowed in the configuration: a list of
 * non-empty strings, kept for the policy step and not passed to the plugin. */
static int load_text(const char *text, execd_config **cfg, char *err, size_t errlen) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/execd-env-test-XXXXXX");
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  int rc = config_load(path, cfg, err, errlen);
  unlink(path);
  return rc;
}

START_TEST(configuration_key) {
  char err[1024];
  execd_config *cfg = NULL;
  ck_assert_msg(load_text("backends: ( { plugin = \"local\"; commands_allowed = [\"/bin/*\"];\n"
                          "  environment_allowed = [\"APP_*\", \"LANG\"]; } );\n",
                          &cfg, err, sizeof err) == 0,
                "%s", err);
  const json_t *allowed = cfg->backends[0].environment_allowed;
  ck_assert_uint_eq(json_array_size(allowed), 2);
  ck_assert_str_eq(json_string_value(json_array_get(allowed, 0)), "APP_*");
  ck_assert_ptr_null(json_object_get(cfg->backends[0].config, "environment_allowed"));
  config_free(cfg);
  cfg = NULL;
  ck_assert_int_eq(load_text("backends: ( { plugin = \"local\"; environment_allowed = [\"\"]; } );\n",
                             &cfg, err, sizeof err),
                   EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "environment_allowed"), "%s", err);
  ck_assert_int_eq(load_text("backends: ( { plugin = \"local\"; environment_allowed = \"A\"; } );\n",
                             &cfg, err, sizeof err),
                   EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "environment_allowed"), "%s", err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("env_policy");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, denylist);
  tcase_add_test(tc, allowlist_globs);
  tcase_add_test(tc, effective_spec_refuses_names);
  tcase_add_test(tc, configuration_key);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
