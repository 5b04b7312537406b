/* lib/record: the id rule and the RFC 3339 parser the storages share. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "record/stored_record.h"

START_TEST(test_ids) {
  ck_assert(record_id_valid("01a23ca8-8f96-7000-b89c-c16c814e64cf"));
  ck_assert(record_id_valid("a.b_c-D9"));
  ck_assert(!record_id_valid(""));
  ck_assert(!record_id_valid(".hidden"));
  ck_assert(!record_id_valid("a/b"));
  ck_assert(!record_id_valid("../x"));
  ck_assert(!record_id_valid("a b"));
  ck_assert(!record_id_valid("caf\xc3\xa9"));
  char id[RECORD_ID_MAX + 2];
  memset(id, 'x', RECORD_ID_MAX);
  id[RECORD_ID_MAX] = '\0';
  ck_assert(record_id_valid(id));
  id[RECORD_ID_MAX] = 'x';
  id[RECORD_ID_MAX + 1] = '\0';
  ck_assert(!record_id_valid(id));
}
END_TEST

START_TEST(test_times) {
  int64_t ms = 0;
  ck_assert_int_eq(record_parse_time("1970-01-01T00:00:00Z", &ms), 0);
  ck_assert_int_eq(ms, 0);
  ck_assert_int_eq(record_parse_time("2026-12-03T16:40:05.678Z", &ms), 0);
  ck_assert_int_eq(ms, 1796316005678LL);
  /* Microseconds, as execd writes them: the milliseconds are kept. */
  ck_assert_int_eq(record_parse_time("2026-12-03T16:40:05.678901Z", &ms), 0);
  ck_assert_int_eq(ms, 1796316005678LL);
  /* An offset names the same instant. */
  ck_assert_int_eq(record_parse_time("2026-12-03T18:40:05.678+02:00", &ms), 0);
  ck_assert_int_eq(ms, 1796316005678LL);
  ck_assert_int_eq(record_parse_time("2026-12-03 16:40:05-00:30", &ms), 0);
  ck_assert_int_eq(ms, 1796317805000LL);
  const char *bad[] = {"",
                       "2026-12-03",
                       "2026-12-03T16:40:05",     /* no offset */
                       "2026-13-03T16:40:05Z",    /* month */
                       "2026-12-03T24:00:00Z",    /* hour */
                       "2026-12-03T16:40:05.Z",   /* empty fraction */
                       "2026-12-03T16:40:05Zjunk",
                       "2026-12-03T16:40:05+0200",
                       "26-12-03T16:40:05Z"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ms = 42;
    ck_assert_msg(record_parse_time(bad[i], &ms) == -1, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(ms, 42);
  }
  ck_assert_int_eq(record_parse_time(NULL, &ms), -1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("stored_record");
  TCase *tc = tcase_create("rules");
  tcase_add_test(tc, test_ids);
  tcase_add_test(tc, test_times);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
