/* Request validation: malformed and hostile input is refused with an
 * error naming the field; good input is normalised. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "catalog.h"
#include "request.h"

static request_limits limits = {
    .max_body_bytes = 1 << 20, .max_files = 3, .max_file_bytes = 1024,
    .max_input_bytes = 4096, .max_env_bytes = 256, .max_output_bytes = 1 << 20,
    .max_log_bytes = 1 << 16, .max_attempts = 5};

/* Expects a refusal with this status and field. */
static void refused(const char *body, int status, const char *field) {
  request_error e;
  json_t *r = request_parse(body, strlen(body), &limits, &e);
  ck_assert_msg(r == NULL, "accepted: %s", body);
  ck_assert_msg(e.status == status, "status %d for %s (%s)", e.status, body, e.message);
  ck_assert_msg(strcmp(e.field, field) == 0, "field '%s' != '%s' for %s (%s)", e.field, field,
                body, e.message);
  ck_assert(e.message[0]);
}

START_TEST(accepts_and_normalises) {
  const char *body =
      "{\"correlation_id\":\"c1\",\"container\":{\"command\":[\"/bin/echo\",\"hi\"]},"
      "\"input\":{\"data\":{\"x\":1},\"files\":[{\"path\":\"dir/a.txt\",\"content\":\"aGk=\","
      "\"encoding\":\"base64\",\"mode\":\"0600\"}],\"documents\":{\"graph\":{}}},"
      "\"resources\":{\"memory\":\"64M\",\"timeout\":30},\"retry\":{\"max_attempts\":3},"
      "\"priority\":7,\"labels\":{\"team\":\"search\"},\"network\":\"none\"}";
  request_error e;
  json_t *r = request_parse(body, strlen(body), &limits, &e);
  ck_assert_msg(r != NULL, "%s: %s", e.field, e.message);
  json_t *res = json_object_get(r, "resources");
  ck_assert_int_eq(json_integer_value(json_object_get(res, "memory")), 64 << 20);
  ck_assert_int_eq(json_integer_value(json_object_get(res, "timeout_ms")), 30000);
  ck_assert_str_eq(json_string_value(json_object_get(res, "network")), "none");
  json_t *f = json_array_get(json_object_get(json_object_get(r, "input"), "files"), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(f, "mode")), 0600);
  ck_assert_int_eq(json_integer_value(json_object_get(r, "priority")), 7);
  json_decref(r);
}
END_TEST

START_TEST(malformed_and_wrong_types) {
  refused("{\"container\": ", EXECD_EINVAL, "");
  refused("[1,2]", EXECD_EINVAL, "");
  refused("{\"a\":1,\"a\":2}", EXECD_EINVAL, "");
  refused("{\"bogus\":1}", EXECD_EINVAL, "bogus");
  refused("{\"container\":{\"command\":\"ls\"}}", EXECD_EINVAL, "container.command");
  refused("{\"container\":{\"command\":[]}}", EXECD_EINVAL, "container.command");
  refused("{\"container\":{\"command\":[1]}}", EXECD_EINVAL, "container.command[0]");
  refused("{\"container\":{\"cmd\":[\"x\"]}}", EXECD_EINVAL, "container.cmd");
  refused("{\"container\":{\"user\":\"root; rm\"}}", EXECD_EINVAL, "container.user");
  refused("{\"container\":{\"working_dir\":\"rel\"}}", EXECD_EINVAL, "container.working_dir");
  refused("{\"priority\":\"high\"}", EXECD_EINVAL, "priority");
  refused("{\"priority\":10}", EXECD_EINVAL, "priority");
  refused("{\"io\":\"xml\"}", EXECD_EINVAL, "io");
  refused("{\"resources\":{\"memory\":\"lots\"}}", EXECD_EINVAL, "resources.memory");
  refused("{\"resources\":{\"timeout\":-1}}", EXECD_EINVAL, "resources.timeout");
  refused("{\"resources\":{\"cpus\":0}}", EXECD_EINVAL, "resources.cpus");
  refused("{\"retry\":{\"max_attempts\":50}}", EXECD_EINVAL, "retry.max_attempts");
  refused("{\"labels\":{\"k\":1}}", EXECD_EINVAL, "labels.k");
  refused("{\"environment\":{\"A\":1}}", EXECD_EINVAL, "environment.A");
  refused("{\"environment\":{\"1A\":\"x\"}}", EXECD_EINVAL, "environment.1A");
  refused("{\"environment\":{\"EXECUTION_ID\":\"x\"}}", EXECD_EINVAL, "environment.EXECUTION_ID");
  refused("{\"output\":{\"files\":[\"../x\"]}}", EXECD_EINVAL, "output.files[0]");
  refused("{\"correlation_id\":\"a\\u0000b\"}", EXECD_EINVAL, ""); /* jansson: NUL not allowed */
  refused("{\"correlation_id\":\"a\\u0007b\"}", EXECD_EINVAL, "correlation_id");
}
END_TEST

START_TEST(hostile_paths) {
  const char *paths[] = {"../x", "/etc/passwd", "a/../../b", "a//b", "./a", "", "a/.",
                         "a\\\\b", "a/\\n", NULL};
  for (const char **p = paths; *p; p++) {
    char body[256];
    snprintf(body, sizeof body, "{\"input\":{\"files\":[{\"path\":\"%s\",\"content\":\"x\"}]}}", *p);
    refused(body, EXECD_EINVAL, "input.files[0].path");
  }
  refused("{\"input\":{\"files\":[{\"path\":\"input.json\",\"content\":\"x\"}]}}", EXECD_EINVAL,
          "input.files[0].path");
  refused("{\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"x\"},{\"path\":\"a/b\","
          "\"content\":\"y\"}]}}",
          EXECD_EINVAL, "input.files[1].path");
  refused("{\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"x\",\"mode\":\"4755\"}]}}",
          EXECD_EINVAL, "input.files[0].mode");
  refused("{\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"!!\",\"encoding\":\"base64\"}]}}",
          EXECD_EINVAL, "input.files[0].content");
  refused("{\"input\":{\"documents\":{\"../x\":{}}}}", EXECD_EINVAL, "input.documents.../x");
  ck_assert(request_safe_relative_path("a/b/c.txt"));
  ck_assert(!request_safe_relative_path("a/../b"));
}
END_TEST

START_TEST(size_limits) {
  char *big = malloc((1 << 20) + 64);
  memset(big, ' ', (1 << 20) + 10);
  memcpy(big, "{}", 2);
  big[(1 << 20) + 10] = '\0';
  refused(big, EXECD_ETOOBIG, "");
  free(big);
  refused("{\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"x\"},{\"path\":\"b\",\"content\":"
          "\"x\"},{\"path\":\"c\",\"content\":\"x\"},{\"path\":\"d\",\"content\":\"x\"}]}}",
          EXECD_ETOOBIG, "input.files");
  char body[4096];
  char content[2000];
  memset(content, 'a', sizeof content - 1);
  content[sizeof content - 1] = '\0';
  snprintf(body, sizeof body, "{\"input\":{\"files\":[{\"path\":\"a\",\"content\":\"%s\"}]}}", content);
  refused(body, EXECD_ETOOBIG, "input.files[0].content");
  char env[600];
  memset(env, 'v', sizeof env - 1);
  env[sizeof env - 1] = '\0';
  snprintf(body, sizeof body, "{\"environment\":{\"A\":\"%s\"}}", env);
  refused(body, EXECD_ETOOBIG, "environment");
}
END_TEST

/* The policy step: a request may only tighten what agent and backend allow. */
START_TEST(effective_spec_policy) {
  execd_config cfg;
  memset(&cfg, 0, sizeof cfg);
  plugin_block backends[1];
  memset(backends, 0, sizeof backends);
  backends[0].name = "local";
  backends[0].defaults = json_pack("{s:I, s:I, s:s}", "memory", (json_int_t)(512 << 20),
                                   "timeout_ms", (json_int_t)60000, "network", "none");
  cfg.backends = backends;
  cfg.n_backends = 1;
  cfg.default_backend = "local";
  cfg.limits = limits;
  cfg.catalog = catalog_new();
  const char *which;
  char why[256];
  agent *echo = agent_new(json_pack("{s:s, s:s, s:[s], s:s, s:{s:s}, s:{s:I}}", "name", "echo",
                                    "backend", "local", "command", "/bin/echo", "io", "json",
                                    "environment", "MODE", "fast", "resources", "timeout_ms",
                                    (json_int_t)10000),
                          NULL, &which, why, sizeof why);
  ck_assert_ptr_nonnull(echo);
  ck_assert_int_eq(catalog_add(cfg.catalog, echo, why, sizeof why), 0);
  /* defaults below the ceilings: what a request that does not ask gets */
  agent *lean = agent_new(json_pack("{s:s, s:[s], s:{s:I, s:I}, s:{s:I, s:I}}", "name", "lean",
                                    "command", "/bin/true", "resources", "timeout_ms",
                                    (json_int_t)20000, "memory", (json_int_t)(256 << 20),
                                    "defaults", "timeout_ms", (json_int_t)5000, "memory",
                                    (json_int_t)(1024 << 20)),
                          NULL, &which, why, sizeof why);
  ck_assert_ptr_nonnull(lean);
  ck_assert_int_eq(catalog_add(cfg.catalog, lean, why, sizeof why), 0);
  request_error e;
  struct {
    const char *body;
    int ok;
    const char *field;
  } cases[] = {
      {"{\"container\":{\"command\":[\"/bin/true\"]}}", 1, ""},
      {"{\"container\":{\"command\":[\"/bin/true\"]},\"resources\":{\"memory\":\"1G\"}}", 0,
       "resources.memory"},
      {"{\"container\":{\"command\":[\"/bin/true\"]},\"network\":\"bridge\"}", 0, "network"},
      {"{\"agent\":\"echo\"}", 1, ""},
      {"{\"agent\":\"echo\",\"resources\":{\"timeout\":30}}", 0, "resources.timeout"},
      {"{\"agent\":\"echo\",\"container\":{\"command\":[\"/bin/sh\"]}}", 0, "container.command"},
      {"{\"agent\":\"nope\"}", 0, "agent"},
      {"{\"agent\":\"echo\",\"io\":\"raw\"}", 0, "io"},
      {"{\"agent\":\"echo\",\"io\":\"json\"}", 1, ""},
      {"{\"agent\":\"echo\",\"environment\":{\"MODE\":\"slow\"}}", 0, "environment.MODE"},
      {"{\"agent\":\"echo\",\"environment\":{\"MODE\":\"fast\",\"X\":\"1\"}}", 1, ""},
      {"{\"agent\":\"echo\",\"resources\":{\"timeout\":5}}", 1, ""},
      {"{\"agent\":\"echo\",\"backend\":\"local\",\"container\":{\"command\":[\"/bin/echo\"]}}",
       1, ""},
      {"{\"backend\":\"docker\",\"container\":{\"command\":[\"/bin/true\"]}}", 0, "backend"},
      {"{}", 0, "container.command"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *req = request_parse(cases[i].body, strlen(cases[i].body), &limits, &e);
    ck_assert_msg(req != NULL, "%s: %s", cases[i].body, e.message);
    json_t *spec = request_effective_spec(req, &cfg, &e);
    if (cases[i].ok) {
      ck_assert_msg(spec != NULL, "%s refused: %s %s", cases[i].body, e.field, e.message);
      ck_assert_str_eq(json_string_value(json_object_get(spec, "backend")), "local");
    } else {
      ck_assert_msg(spec == NULL, "%s accepted", cases[i].body);
      ck_assert_str_eq(e.field, cases[i].field);
    }
    if (i == 3) /* the agent's tighter timeout applies */
      ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(spec, "resources"),
                                                          "timeout_ms")),
                       10000);
    json_decref(spec);
    json_decref(req);
  }
  json_decref(backends[0].defaults);
  /* An agent's default applies when the request asks for nothing, and the
   * request may ask for more, up to the ceiling. */
  const char *bodies[] = {"{\"agent\":\"lean\"}",
                          "{\"agent\":\"lean\",\"resources\":{\"timeout\":15}}"};
  const int64_t timeouts[] = {5000, 15000};
  for (int i = 0; i < 2; i++) {
    json_t *req = request_parse(bodies[i], strlen(bodies[i]), &limits, &e);
    json_t *spec = request_effective_spec(req, &cfg, &e);
    ck_assert_msg(spec != NULL, "%s", e.message);
    const json_t *res = json_object_get(spec, "resources");
    ck_assert_int_eq(json_integer_value(json_object_get(res, "timeout_ms")), timeouts[i]);
    /* a default over a ceiling (here the agent's own) is cut to it */
    ck_assert_int_eq(json_integer_value(json_object_get(res, "memory")), 256 << 20);
    json_decref(spec);
    json_decref(req);
  }
  catalog_free(cfg.catalog);
}
END_TEST

int main(void) {
  Suite *s = suite_create("request");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, accepts_and_normalises);
  tcase_add_test(tc, malformed_and_wrong_types);
  tcase_add_test(tc, hostile_paths);
  tcase_add_test(tc, size_limits);
  tcase_add_test(tc, effective_spec_policy);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
