/* Unit tests of job_spec_build(): the execd_job_spec a backend's check(),
 * start() and adopt() get from an execution's record. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "job_spec.h"

static json_t *record_of(const char *spec_json) {
  json_error_t err;
  json_t *spec = json_loads(spec_json, 0, &err);
  ck_assert_msg(spec != NULL, "%s", err.text);
  json_t *r = json_pack("{s:s, s:o, s:{s:{s:{s:i}}}, s:{s:s}, s:{s:s, s:{s:b}}}", "id",
                        "0190a1b2-0000-7000-8000-000000000001", "spec", spec, "request",
                        "input", "data", "x", 1, "labels", "team", "a", "checkpoint",
                        "token", "step-2", "data", "done", 1);
  ck_assert_ptr_nonnull(r);
  return r;
}

static const char *env_get(const execd_job_spec *js, const char *name) {
  size_t n = strlen(name);
  for (const char *const *e = js->env; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
      return *e + n + 1;
  return NULL;
}

START_TEST(host_program) {
  json_t *r = record_of(
      "{\"command\": [\"/usr/bin/python3\", \"job.py\"], \"io\": \"json\", \"user\": \"1000\","
      " \"working_dir\": \"/srv\", \"environment\": {\"A\": \"1\"},"
      " \"resources\": {\"memory\": 1000, \"cpus\": 0.5, \"pids\": 7, \"cpu_seconds\": 5,"
      " \"nofile\": 64, \"fsize\": 10, \"timeout_ms\": 3000, \"network\": \"none\"},"
      " \"schema_in\": {\"type\": \"object\"}}");
  execd_job_spec js;
  job_spec_storage *s = NULL;
  ck_assert_int_eq(job_spec_build(r, 2, "/state/work/x-2", &js, &s), 0);
  ck_assert_ptr_nonnull(s);
  ck_assert_uint_eq(js.struct_size, sizeof js);
  ck_assert_str_eq(js.execution_id, "0190a1b2-0000-7000-8000-000000000001");
  ck_assert_uint_eq(js.attempt, 2);
  ck_assert_str_eq(js.argv[0], "/usr/bin/python3");
  ck_assert_str_eq(js.argv[1], "job.py");
  ck_assert_ptr_null(js.argv[2]);
  ck_assert_ptr_null(js.image);
  ck_assert_str_eq(js.working_dir, "/srv");
  ck_assert_str_eq(js.user, "1000");
  ck_assert_str_eq(js.workspace, "/state/work/x-2");
  ck_assert_str_eq(env_get(&js, "EXECUTION_ID"), "0190a1b2-0000-7000-8000-000000000001");
  ck_assert_str_eq(env_get(&js, "ATTEMPT"), "2");
  ck_assert_str_eq(env_get(&js, "WORKSPACE_INPUT"), "/state/work/x-2/input");
  ck_assert_str_eq(env_get(&js, "WORKSPACE_OUTPUT"), "/state/work/x-2/output");
  ck_assert_str_eq(env_get(&js, "WORKSPACE_CONFIG"), "/state/work/x-2/config");
  ck_assert_str_eq(env_get(&js, "INPUT_DATA"), "{\"x\":1}");
  ck_assert_str_eq(env_get(&js, "CHECKPOINT_TOKEN"), "step-2");
  ck_assert_str_eq(env_get(&js, "PATH"), "/usr/local/bin:/usr/bin:/bin");
  ck_assert_str_eq(env_get(&js, "HOME"), "/state/work/x-2");
  ck_assert_str_eq(env_get(&js, "A"), "1");
  ck_assert_int_eq(js.limits->memory_bytes, 1000);
  ck_assert(js.limits->cpus == 0.5);
  ck_assert_int_eq(js.limits->pids, 7);
  ck_assert_int_eq(js.limits->cpu_seconds, 5);
  ck_assert_int_eq(js.limits->nofile, 64);
  ck_assert_int_eq(js.limits->fsize_bytes, 10);
  ck_assert_int_eq(js.limits->timeout_ms, 3000);
  ck_assert_str_eq(js.limits->network, "none");
  ck_assert_str_eq(js.stdin_data,
                   "{\"input\":{\"x\":1},\"schema_in\":{\"type\":\"object\"},\"schema_out\":null}");
  ck_assert_uint_eq(js.stdin_len, strlen(js.stdin_data));
  ck_assert_str_eq(json_string_value(json_object_get(js.labels, "team")), "a");
  job_spec_free(s);
  json_decref(r);
}
END_TEST

START_TEST(container) {
  json_t *r = record_of("{\"image\": \"alpine:3\", \"command\": [\"sh\", \"-c\", \"true\"],"
                        " \"io\": \"raw\", \"environment\": {}, \"resources\": {}}");
  execd_job_spec js;
  job_spec_storage *s = NULL;
  ck_assert_int_eq(job_spec_build(r, 1, "/state/work/x-1", &js, &s), 0);
  ck_assert_str_eq(js.image, "alpine:3");
  ck_assert_uint_eq(js.attempt, 1);
  /* Inside the container the workspace is mounted at /workspace. */
  ck_assert_str_eq(env_get(&js, "WORKSPACE_INPUT"), "/workspace/input");
  ck_assert_str_eq(env_get(&js, "WORKSPACE_OUTPUT"), "/workspace/output");
  ck_assert_str_eq(env_get(&js, "WORKSPACE_CONFIG"), "/workspace/config");
  ck_assert_ptr_null(env_get(&js, "PATH"));
  ck_assert_ptr_null(env_get(&js, "HOME"));
  ck_assert_str_eq(js.workspace, "/state/work/x-1");
  ck_assert_ptr_null(js.stdin_data);
  ck_assert_uint_eq(js.stdin_len, 0);
  ck_assert_ptr_null(js.limits->network);
  ck_assert_int_eq(js.limits->timeout_ms, 0);
  job_spec_free(s);
  json_decref(r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("job-spec");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, host_program);
  tcase_add_test(tc, container);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
