/* execctl without a daemon: the request documents and queries built from
 * its options, the exit status of `execctl run`, and the text output. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "request_build.h"
#include "run_outcome.h"

static char err[512];

/* A temporary file with this content and mode; the path is malloc'd. */
static char *temp_file(const char *name, const char *content, mode_t mode) {
  char dir[] = "/tmp/execctl-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(content, f);
  fclose(f);
  ck_assert_int_eq(chmod(path, mode), 0);
  return path;
}

static void remove_temp(char *path) {
  unlink(path);
  *strrchr(path, '/') = '\0';
  rmdir(path);
  free(path);
}

static char *argv_echo[] = {"/bin/echo", "hi", NULL};

/* The document as compact JSON with sorted keys, for exact comparisons. */
static char *compact(const json_t *doc) {
  return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
}

START_TEST(command_only) {
  run_options o = {.command = argv_echo, .command_count = 2};
  json_t *req = request_build(&o, err, sizeof err);
  ck_assert_ptr_nonnull(req);
  char *text = compact(req);
  ck_assert_str_eq(text, "{\"container\":{\"command\":[\"/bin/echo\",\"hi\"]}}");
  free(text);
  json_decref(req);
}
END_TEST

START_TEST(no_command_without_agent_is_refused) {
  run_options o = {0};
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, "no command given"));
  o.agent = "summarise";
  json_t *req = request_build(&o, err, sizeof err);
  ck_assert_ptr_nonnull(req);
  char *text = compact(req);
  ck_assert_str_eq(text, "{\"agent\":\"summarise\"}");
  free(text);
  json_decref(req);
}
END_TEST

START_TEST(options_fill_their_fields) {
  run_options o = {.command = argv_echo, .command_count = 1, .backend = "local",
                   .image = "alpine:3", .timeout = "30"};
  arg_list_push(&o.env, "A=1");
  arg_list_push(&o.env, "B=x=y");
  arg_list_push(&o.labels, "team=search");
  json_t *req = request_build(&o, err, sizeof err);
  ck_assert_ptr_nonnull(req);
  char *text = compact(req);
  ck_assert_str_eq(text, "{\"backend\":\"local\",\"container\":{\"command\":[\"/bin/echo\"],"
                         "\"image\":\"alpine:3\"},\"environment\":{\"A\":\"1\",\"B\":\"x=y\"},"
                         "\"labels\":{\"team\":\"search\"},\"resources\":{\"timeout\":30}}");
  free(text);
  json_decref(req);
  arg_list_clear(&o.env);
  arg_list_clear(&o.labels);
}
END_TEST

START_TEST(bad_pairs_name_the_option) {
  run_options o = {.command = argv_echo, .command_count = 1};
  arg_list_push(&o.env, "NOVALUE");
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_str_eq(err, "--env 'NOVALUE': expected KEY=VALUE");
  arg_list_clear(&o.env);
  arg_list_push(&o.labels, "=v");
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_str_eq(err, "--label '=v': expected KEY=VALUE");
  arg_list_clear(&o.labels);
}
END_TEST

START_TEST(timeouts) {
  json_t *t = request_timeout("30", err, sizeof err);
  ck_assert(json_is_integer(t) && json_integer_value(t) == 30);
  json_decref(t);
  t = request_timeout("1.5", err, sizeof err);
  ck_assert(json_is_real(t) && json_real_value(t) == 1.5);
  json_decref(t);
  t = request_timeout("5m", err, sizeof err);
  ck_assert_str_eq(json_string_value(t), "5m");
  json_decref(t);
  t = request_timeout("500ms", err, sizeof err);
  ck_assert_str_eq(json_string_value(t), "500ms");
  json_decref(t);
  static const char *const bad[] = {"0", "-3", "abc", "5x", "", " 5", "5 m", NULL};
  for (const char *const *b = bad; *b; b++) {
    err[0] = '\0';
    t = request_timeout(*b, err, sizeof err);
    ck_assert_msg(t == NULL, "timeout '%s' was accepted", *b);
    ck_assert_ptr_nonnull(strstr(err, "--timeout"));
  }
}
END_TEST

START_TEST(input_file_becomes_input_data) {
  char *path = temp_file("data.json", "{\"n\": [1, 2]}\n", 0644);
  run_options o = {.command = argv_echo, .command_count = 1, .input_path = path};
  json_t *req = request_build(&o, err, sizeof err);
  ck_assert_ptr_nonnull(req);
  char *text = compact(json_object_get(req, "input"));
  ck_assert_str_eq(text, "{\"data\":{\"n\":[1,2]}}");
  free(text);
  json_decref(req);
  remove_temp(path);

  path = temp_file("broken.json", "{\"n\": \n", 0644);
  o.input_path = path;
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, "--input "));
  ck_assert_ptr_nonnull(strstr(err, "broken.json: line 2"));
  remove_temp(path);
}
END_TEST

START_TEST(files_travel_base64_under_their_base_name) {
  char *script = temp_file("main.sh", "hello\n", 0755);
  char *data = temp_file("data.bin", "ab", 0600);
  run_options o = {.command = argv_echo, .command_count = 1};
  arg_list_push(&o.files, script);
  arg_list_push(&o.files, data);
  json_t *req = request_build(&o, err, sizeof err);
  ck_assert_msg(req != NULL, "%s", err);
  char *text = compact(json_object_get(req, "input"));
  ck_assert_str_eq(text, "{\"files\":["
                         "{\"content\":\"aGVsbG8K\",\"encoding\":\"base64\",\"mode\":\"0755\","
                         "\"path\":\"main.sh\"},"
                         "{\"content\":\"YWI=\",\"encoding\":\"base64\",\"mode\":\"0600\","
                         "\"path\":\"data.bin\"}]}");
  free(text);
  json_decref(req);
  arg_list_clear(&o.files);
  remove_temp(script);
  remove_temp(data);
}
END_TEST

START_TEST(unreadable_files_are_named) {
  run_options o = {.command = argv_echo, .command_count = 1};
  arg_list_push(&o.files, "/nonexistent/x.py");
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_str_eq(err, "--file /nonexistent/x.py: No such file or directory");
  arg_list_clear(&o.files);
  arg_list_push(&o.files, "/tmp");
  ck_assert_ptr_null(request_build(&o, err, sizeof err));
  ck_assert_str_eq(err, "--file /tmp: is a directory");
  arg_list_clear(&o.files);
}
END_TEST

START_TEST(list_queries) {
  list_options o = {0};
  char *path = request_list_path(&o, err, sizeof err);
  ck_assert_str_eq(path, "/v1/executions");
  free(path);
  o = (list_options){.state = "failed", .label = "team=search a", .limit = "20",
                     .cursor = "abc/+="};
  path = request_list_path(&o, err, sizeof err);
  ck_assert_str_eq(path, "/v1/executions?state=FAILED&label=team%3Dsearch%20a&limit=20"
                         "&cursor=abc%2F%2B%3D");
  free(path);
  static const char *const bad[] = {"0", "1001", "ten", "5 ", NULL};
  for (const char *const *b = bad; *b; b++) {
    o = (list_options){.limit = *b};
    ck_assert_ptr_null(request_list_path(&o, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "--limit"));
  }
  o = (list_options){.label = "team"};
  ck_assert_ptr_null(request_list_path(&o, err, sizeof err));
  ck_assert_str_eq(err, "--label 'team': expected KEY=VALUE");
}
END_TEST

START_TEST(execution_paths_need_an_id) {
  char *path = request_execution_path("0190a0b0-c0d0-7e00-8f00-000000000001", "/cancel", err,
                                      sizeof err);
  ck_assert_str_eq(path, "/v1/executions/0190a0b0-c0d0-7e00-8f00-000000000001/cancel");
  free(path);
  static const char *const bad[] = {"", "abc", "../../healthz/0000000000000000000000000",
                                    "0190a0b0-c0d0-7e00-8f00-00000000000g", NULL};
  for (const char *const *b = bad; *b; b++) {
    ck_assert_ptr_null(request_execution_path(*b, NULL, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "is not an execution id"));
  }
}
END_TEST

static int outcome_of(const char *doc_text, char *why) {
  json_t *doc = json_loads(doc_text, 0, NULL);
  ck_assert_ptr_nonnull(doc);
  int rc = run_outcome(doc, why, 256);
  json_decref(doc);
  return rc;
}

START_TEST(run_exit_statuses) {
  char why[256];
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"SUCCEEDED\","
                              "\"result\":{\"exit_code\":0},\"error\":null}", why), 0);
  ck_assert_str_eq(why, "");
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"FAILED\","
                              "\"result\":{\"exit_code\":4},\"error\":{\"code\":\"exit_code\","
                              "\"message\":\"the job exited with code 4\"}}", why), 4);
  ck_assert_str_eq(why, "");
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"TIMED_OUT\","
                              "\"result\":{\"exit_code\":-1},\"error\":{\"code\":\"timed_out\","
                              "\"message\":\"too long\"}}", why), 124);
  ck_assert_str_eq(why, "execution X timed out: timed_out: too long");
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"CANCELLED\"}", why), 130);
  ck_assert_str_eq(why, "execution X was cancelled");
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"FAILED\","
                              "\"result\":{\"exit_code\":-1},\"error\":{\"code\":"
                              "\"workspace_error\",\"message\":\"disk full\"}}", why), 1);
  ck_assert_str_eq(why, "execution X failed: workspace_error: disk full");
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"FAILED\","
                              "\"result\":{\"exit_code\":-1},\"error\":{\"code\":"
                              "\"killed_by_signal\",\"message\":\"signal 9\","
                              "\"details\":{\"term_signal\":9}}}", why), 137);
  ck_assert_str_eq(why, "execution X failed: killed_by_signal: signal 9");
  /* exit code 0 but FAILED (an invalid result.json): still a failure */
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"FAILED\","
                              "\"result\":{\"exit_code\":0},\"error\":{\"code\":"
                              "\"output_invalid\",\"message\":\"bad\"}}", why), 1);
  ck_assert_int_eq(outcome_of("{\"execution_id\":\"X\",\"state\":\"RUNNING\"}", why), 1);
  ck_assert_str_eq(why, "execution X has not ended: state RUNNING");
  ck_assert(run_outcome_terminal("CANCELLED"));
  ck_assert(!run_outcome_terminal("RETRY_WAIT"));
  ck_assert(!run_outcome_terminal(NULL));
}
END_TEST

START_TEST(durations) {
  char buf[32];
  format_duration(buf, sizeof buf, 320);
  ck_assert_str_eq(buf, "320 ms");
  format_duration(buf, sizeof buf, 5200);
  ck_assert_str_eq(buf, "5.20 s");
  format_duration(buf, sizeof buf, 125000);
  ck_assert_str_eq(buf, "2 min 05 s");
  format_duration(buf, sizeof buf, 7500000);
  ck_assert_str_eq(buf, "2 h 05 min");
}
END_TEST

/* What a format_* function printed, as a malloc'd string. */
#define CAPTURE(text, call)                                                                   \
  do {                                                                                        \
    size_t len_;                                                                              \
    FILE *out = open_memstream(&(text), &len_);                                               \
    call;                                                                                     \
    fclose(out);                                                                              \
  } while (0)

START_TEST(table_and_summary) {
  json_t *page = json_loads(
      "{\"executions\":[{\"execution_id\":\"0190a0b0-c0d0-7e00-8f00-000000000001\","
      "\"state\":\"FAILED\",\"backend\":\"local\",\"result\":{\"exit_code\":3},"
      "\"labels\":{\"team\":\"search\"},\"timestamps\":{\"created\":\"2024-05-01T10:00:00.000Z\"},"
      "\"error\":{\"code\":\"exit_code\",\"message\":\"the job exited with code 3\"},"
      "\"duration_ms\":5200,\"history\":[{\"from\":null,\"to\":\"QUEUED\","
      "\"at\":\"2024-05-01T10:00:00.000Z\",\"reason\":\"accepted\"}]}],"
      "\"next_cursor\":\"c2\"}",
      0, NULL);
  ck_assert_ptr_nonnull(page);
  char *text = NULL;
  CAPTURE(text, format_execution_table(out, page));
  ck_assert_ptr_nonnull(strstr(text, "ID "));
  ck_assert_ptr_nonnull(strstr(text, "0190a0b0-c0d0-7e00-8f00-000000000001  FAILED"));
  ck_assert_ptr_nonnull(strstr(text, "team=search"));
  ck_assert_ptr_nonnull(strstr(text, "next page: add --cursor c2"));
  free(text);

  json_t *one = json_array_get(json_object_get(page, "executions"), 0);
  CAPTURE(text, format_execution(out, one));
  ck_assert_ptr_nonnull(strstr(text, "state:        FAILED\n"));
  ck_assert_ptr_nonnull(strstr(text, "exit code:    3\n"));
  ck_assert_ptr_nonnull(strstr(text, "error:        exit_code: the job exited with code 3\n"));
  ck_assert_ptr_nonnull(strstr(text, "duration:     5.20 s\n"));
  ck_assert_ptr_nonnull(strstr(text, "QUEUED     accepted"));
  free(text);

  json_t *empty = json_pack("{s:[], s:n}", "executions", "next_cursor");
  CAPTURE(text, format_execution_table(out, empty));
  ck_assert_str_eq(text, "no executions\n");
  free(text);
  json_decref(empty);
  json_decref(page);
}
END_TEST

int main(void) {
  Suite *s = suite_create("execctl");
  TCase *tc = tcase_create("requests");
  tcase_add_test(tc, command_only);
  tcase_add_test(tc, no_command_without_agent_is_refused);
  tcase_add_test(tc, options_fill_their_fields);
  tcase_add_test(tc, bad_pairs_name_the_option);
  tcase_add_test(tc, timeouts);
  tcase_add_test(tc, input_file_becomes_input_data);
  tcase_add_test(tc, files_travel_base64_under_their_base_name);
  tcase_add_test(tc, unreadable_files_are_named);
  tcase_add_test(tc, list_queries);
  tcase_add_test(tc, execution_paths_need_an_id);
  suite_add_tcase(s, tc);
  tc = tcase_create("results");
  tcase_add_test(tc, run_exit_statuses);
  tcase_add_test(tc, durations);
  tcase_add_test(tc, table_and_summary);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
