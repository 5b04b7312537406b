/* Inputs that the fuzz targets of tests/fuzz found failing, each kept as a
 * test of the parser it broke (the file is also in that target's seed
 * corpus, tests/fuzz/corpus/<target>/). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "tenants_file.h"

/* fuzz_tokens, corpus/tokens/nul-token: a line whose token is 47 NUL bytes
 * was accepted, although a token is made of letters, digits and -._~+/=
 * only (doc/api.md).  No client can send such a token. */
START_TEST(tokens_refuse_nul) {
  static const char file[] =
      "\n \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0 short.\n ";
  tenants_table *t = NULL;
  char err[512] = "", warn[512];
  int rc = tenants_parse("tokens", file, sizeof file - 1, &t, err, sizeof err, warn,
                         sizeof warn);
  ck_assert_msg(rc == EXECD_ECONFIG, "a token of NUL bytes was accepted");
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err, "tokens:2: the token contains \\x00 (allowed") != NULL, "error: %s", err);
}
END_TEST

/* Review of fuzz_tokens: the check for a token listed twice compared each
 * new token with every earlier one, so a file of many short tokens (the
 * 1 MiB cap holds ~50,000) cost a start or a reload ~10^9 comparisons and
 * ran past this test's timeout.  The repeat found must still be the first
 * one in file order, naming both lines. */
START_TEST(tokens_many_with_repeats) {
  enum { N = 50000 };
  size_t cap = (size_t)N * 24 + 64, len = 0;
  char *file = malloc(cap);
  ck_assert_ptr_nonnull(file);
  for (unsigned i = 0; i < N; i++)
    len += (size_t)snprintf(file + len, cap - len, "tok%013u t%u\n", i, i % 7);
  /* Line 50001 repeats line 7, line 50002 repeats line 3. */
  len += (size_t)snprintf(file + len, cap - len, "tok%013u x\ntok%013u y\n", 6u, 2u);
  tenants_table *t = NULL;
  char err[512] = "", warn[512];
  int rc = tenants_parse("tokens", file, len, &t, err, sizeof err, warn, sizeof warn);
  ck_assert_int_eq(rc, EXECD_ECONFIG);
  ck_assert_msg(strstr(err, "tokens:50001: the same token is already on line 7") != NULL,
                "error: %s", err);
  /* Without the repeats every token loads. */
  len -= 2 * 19;
  ck_assert_int_eq(tenants_parse("tokens", file, len, &t, err, sizeof err, warn, sizeof warn), 0);
  ck_assert_uint_eq(tenants_token_count(t), N);
  tenants_free(t);
  free(file);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fuzz_found");
  TCase *tc = tcase_create("tokens");
  tcase_add_test(tc, tokens_refuse_nul);
  tcase_add_test(tc, tokens_many_with_repeats);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
