/* Unit tests of the core's pure parts: sizes and durations, the state
 * machine, workflow commands and the line splitter, ids and times. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "ids.h"
#include "state.h"
#include "units.h"
#include "workflow.h"

START_TEST(size_parsing) {
  int64_t v;
  ck_assert_int_eq(units_parse_size("512M", &v), 0);
  ck_assert_int_eq(v, 512LL << 20);
  ck_assert_int_eq(units_parse_size("1G", &v), 0);
  ck_assert_int_eq(v, 1LL << 30);
  ck_assert_int_eq(units_parse_size("1GiB", &v), 0);
  ck_assert_int_eq(v, 1LL << 30);
  ck_assert_int_eq(units_parse_size("64k", &v), 0);
  ck_assert_int_eq(v, 65536);
  ck_assert_int_eq(units_parse_size("100", &v), 0);
  ck_assert_int_eq(v, 100);
  ck_assert_int_eq(units_parse_size("1.5K", &v), 0);
  ck_assert_int_eq(v, 1536);
  ck_assert_int_eq(units_parse_size("12X", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_size("-1M", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_size("", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_size("M", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_size("99999999999T", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_size("5MBB", &v), EXECD_EINVAL);
}
END_TEST

START_TEST(duration_parsing) {
  int64_t v;
  ck_assert_int_eq(units_parse_duration_ms("30s", &v), 0);
  ck_assert_int_eq(v, 30000);
  ck_assert_int_eq(units_parse_duration_ms("5m", &v), 0);
  ck_assert_int_eq(v, 300000);
  ck_assert_int_eq(units_parse_duration_ms("250ms", &v), 0);
  ck_assert_int_eq(v, 250);
  ck_assert_int_eq(units_parse_duration_ms("2h", &v), 0);
  ck_assert_int_eq(v, 7200000);
  ck_assert_int_eq(units_parse_duration_ms("1d", &v), 0);
  ck_assert_int_eq(v, 86400000);
  ck_assert_int_eq(units_parse_duration_ms("10", &v), 0);
  ck_assert_int_eq(v, 10000);
  ck_assert_int_eq(units_parse_duration_ms("1.5s", &v), 0);
  ck_assert_int_eq(v, 1500);
  ck_assert_int_eq(units_parse_duration_ms("5 parsecs", &v), EXECD_EINVAL);
  ck_assert_int_eq(units_parse_duration_ms("-3s", &v), EXECD_EINVAL);
  json_t *n = json_integer(7);
  ck_assert_int_eq(units_json_duration_ms(n, &v), 0);
  ck_assert_int_eq(v, 7000);
  json_decref(n);
  json_t *b = json_true();
  ck_assert_int_eq(units_json_size(b, &v), EXECD_EINVAL);
  char text[32];
  units_format_size(512LL << 20, text, sizeof text);
  ck_assert_str_eq(text, "512M");
}
END_TEST

START_TEST(state_machine) {
  ck_assert(state_transition_allowed(STATE_QUEUED, STATE_STARTING));
  ck_assert(state_transition_allowed(STATE_STARTING, STATE_RUNNING));
  ck_assert(state_transition_allowed(STATE_RUNNING, STATE_SUCCEEDED));
  ck_assert(state_transition_allowed(STATE_RUNNING, STATE_TIMED_OUT));
  ck_assert(state_transition_allowed(STATE_FAILED, STATE_RETRY_WAIT));
  ck_assert(state_transition_allowed(STATE_TIMED_OUT, STATE_RETRY_WAIT));
  ck_assert(state_transition_allowed(STATE_RETRY_WAIT, STATE_QUEUED));
  ck_assert(state_transition_allowed(STATE_RETRY_WAIT, STATE_CANCELLED));
  ck_assert(state_transition_allowed(STATE_QUEUED, STATE_CANCELLED));
  /* Refused: skipping steps, leaving final states, going backwards. */
  ck_assert(!state_transition_allowed(STATE_QUEUED, STATE_RUNNING));
  ck_assert(!state_transition_allowed(STATE_QUEUED, STATE_SUCCEEDED));
  ck_assert(!state_transition_allowed(STATE_SUCCEEDED, STATE_RUNNING));
  ck_assert(!state_transition_allowed(STATE_SUCCEEDED, STATE_RETRY_WAIT));
  ck_assert(!state_transition_allowed(STATE_CANCELLED, STATE_QUEUED));
  ck_assert(!state_transition_allowed(STATE_RUNNING, STATE_QUEUED));
  ck_assert(!state_transition_allowed(STATE_FAILED, STATE_SUCCEEDED));
  ck_assert(!state_transition_allowed(STATE_RUNNING, STATE_RUNNING));
  ck_assert(!state_transition_allowed(STATE__COUNT, STATE_QUEUED));
  for (int s = 0; s < STATE__COUNT; s++)
    ck_assert_int_eq(state_from_name(state_name((exec_state)s)), s);
  ck_assert_int_eq(state_from_name("running"), -1);
  ck_assert(state_is_terminal(STATE_CANCELLED));
  ck_assert(!state_is_terminal(STATE_RETRY_WAIT));
}
END_TEST

START_TEST(workflow_commands) {
  json_t *p;
  const char *why;
  const char *line = "::execd::progress {\"percent\": 40, \"message\": \"half\"}\n";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_PROGRESS);
  ck_assert_int_eq(json_integer_value(json_object_get(p, "percent")), 40);
  json_decref(p);
  line = "::execd::checkpoint {\"token\": \"step-2\", \"data\": {\"i\": 3}}";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_CHECKPOINT);
  ck_assert_str_eq(json_string_value(json_object_get(p, "token")), "step-2");
  json_decref(p);
  line = "::execd::progress {\"percent\": 140}";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_INVALID);
  ck_assert_ptr_nonnull(why);
  line = "::execd::progress not json";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_INVALID);
  line = "::execd::launch {}";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_INVALID);
  line = "::execd::checkpoint {\"data\": 1}";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_INVALID);
  line = "hello ::execd::progress {\"percent\": 1}";
  ck_assert_int_eq(workflow_parse_line(line, strlen(line), NULL, &p, &why), WORKFLOW_NONE);
}
END_TEST

typedef struct lines_seen {
  int count, complete;
  char last[128];
  size_t longest;
} lines_seen;

static void count_line(void *arg, const char *line, size_t len, int complete) {
  lines_seen *s = arg;
  s->count++;
  s->complete += complete;
  if (len > s->longest)
    s->longest = len;
  snprintf(s->last, sizeof s->last, "%.*s", (int)(len < 100 ? len : 100), line);
}

START_TEST(line_splitting) {
  line_splitter sp = {0};
  lines_seen seen = {0};
  line_splitter_feed(&sp, "ab", 2, count_line, &seen);
  ck_assert_int_eq(seen.count, 0);
  line_splitter_feed(&sp, "c\nde", 4, count_line, &seen);
  ck_assert_int_eq(seen.count, 1);
  ck_assert_str_eq(seen.last, "abc\n");
  line_splitter_flush(&sp, count_line, &seen);
  ck_assert_int_eq(seen.count, 2);
  ck_assert_str_eq(seen.last, "de");
  /* An overlong line is cut into pieces that are never commands. */
  size_t big = WORKFLOW_MAX_LINE * 2 + 10;
  char *buf = malloc(big + 1);
  memset(buf, 'x', big);
  buf[big] = '\n';
  memset(&seen, 0, sizeof seen);
  line_splitter_feed(&sp, buf, big + 1, count_line, &seen);
  ck_assert_int_eq(seen.count, 3);
  ck_assert_int_eq(seen.complete, 0);
  ck_assert_uint_le(seen.longest, WORKFLOW_MAX_LINE);
  free(buf);
  line_splitter_free(&sp);
}
END_TEST

START_TEST(ids_and_times) {
  char a[40], b[40];
  ids_new_uuid7(a);
  ids_new_uuid7(b);
  ck_assert(ids_valid_uuid(a));
  ck_assert_int_lt(strcmp(a, b), 0); /* time-ordered */
  ck_assert_int_eq(a[14], '7');
  ck_assert(!ids_valid_uuid("../../etc/passwd"));
  ck_assert(!ids_valid_uuid("0190A1B2-0000-7000-8000-000000000000"));
  char t[32];
  ids_format_time(1700000000123LL, t);
  ck_assert_str_eq(t, "2023-11-14T22:13:20.123Z");
  int64_t ms;
  ck_assert_int_eq(ids_parse_time(t, &ms), 0);
  ck_assert_int_eq(ms, 1700000000123LL);
  ck_assert_int_eq(ids_parse_time("yesterday", &ms), -1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("core-pure");
  TCase *tc = tcase_create("all");
  tcase_add_test(tc, size_parsing);
  tcase_add_test(tc, duration_parsing);
  tcase_add_test(tc, state_machine);
  tcase_add_test(tc, workflow_commands);
  tcase_add_test(tc, line_splitting);
  tcase_add_test(tc, ids_and_times);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
