/* Inputs that the fuzz targets of tests/fuzz found failing, each kept as a
 * test of the parser it broke (the file is also in that target's seed
 * corpus, tests/fuzz/corpus/<target>/). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "http_internal.h"

/* fuzz_tokens, corpus/tokens/nul-token: a line whose token is 47 NUL bytes
 * was accepted, although a token is made of letters, digits and -._~+/=
 * only (doc/api.md).  No client can send such a token. */
START_TEST(tokens_refuse_nul) {
  static const char file[] =
      "\n \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0 short.\n ";
  http_tokens *t = NULL;
  char err[512] = "", warn[512];
  int rc = tokens_parse("tokens", file, sizeof file - 1, &t, err, sizeof err, warn,
                        sizeof warn);
  ck_assert_msg(rc == EXECD_ECONFIG, "a token of NUL bytes was accepted");
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err, "tokens:2: the token contains \\x00 (allowed") != NULL, "error: %s", err);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fuzz_found");
  TCase *tc = tcase_create("tokens");
  tcase_add_test(tc, tokens_refuse_nul);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
