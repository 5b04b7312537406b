/* The depth and value scan done before jansson parses a JSON text that
 * enters execd (core/json_bounds.c), and its use by the request parser. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json_bounds.h"
#include "request.h"

static const json_bounds wide = {1000, 1000000};

/* The depth and values jansson builds for a text, counted on the tree. */
static void tree_cost(const json_t *v, size_t depth, size_t *max_depth, size_t *values) {
  (*values)++;
  if (json_is_array(v) || json_is_object(v)) {
    depth++;
    if (depth > *max_depth)
      *max_depth = depth;
  }
  size_t i;
  const char *key;
  json_t *child;
  if (json_is_array(v))
    json_array_foreach((json_t *)v, i, child) tree_cost(child, depth, max_depth, values);
  if (json_is_object(v))
    json_object_foreach((json_t *)v, key, child) {
      (*values)++; /* the key */
      tree_cost(child, depth, max_depth, values);
    }
}

/* The smallest bounds that let text through, found by the scan. */
static void scanned_cost(const char *text, size_t *depth, size_t *values) {
  size_t len = strlen(text);
  json_bounds b = wide;
  for (b.depth_max = 0; json_bounds_scan(text, len, &b, NULL) == JSON_BOUNDS_TOO_DEEP;)
    b.depth_max++;
  *depth = b.depth_max;
  for (b.elements_max = 0; json_bounds_scan(text, len, &b, NULL) == JSON_BOUNDS_TOO_MANY;)
    b.elements_max++;
  *values = b.elements_max;
}

START_TEST(test_counts_match_the_tree) {
  const char *texts[] = {
      "[]", "{}", "[1,2,3]", "[[],[[]],{}]", "{\"a\":1,\"b\":[true,false,null]}",
      "[\"[[[\", \"]]]\", \"{\\\"\"]",           /* brackets inside strings */
      "{\"k\\\"[\":\"\\\\\",\"x\":[-1.5e3, 0, \"\\u005b\"]}", /* escapes */
      " [ 1 , 2 ,\n\t3 ] ", "[\"a\\\\\", \"b\"]", "[1234567890123, -0.0]",
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_error_t je;
    json_t *doc = json_loads(texts[i], 0, &je);
    ck_assert_msg(doc != NULL, "test text %zu is not JSON: %s", i, je.text);
    size_t tdepth = 0, tvalues = 0, sdepth, svalues;
    tree_cost(doc, 0, &tdepth, &tvalues);
    scanned_cost(texts[i], &sdepth, &svalues);
    ck_assert_msg(sdepth == tdepth && svalues == tvalues,
                  "%s: scanned depth %zu values %zu, parsed depth %zu values %zu", texts[i],
                  sdepth, svalues, tdepth, tvalues);
    json_decref(doc);
  }
}
END_TEST

static char *nested(size_t depth) {
  char *s = malloc(2 * depth + 1);
  memset(s, '[', depth);
  memset(s + depth, ']', depth);
  s[2 * depth] = '\0';
  return s;
}

START_TEST(test_load_refuses_over_the_bounds) {
  json_bounds b = {64, 100};
  json_bounds_error e;
  char *ok = nested(64), *deep = nested(2047);
  json_t *doc = json_bounds_load(ok, strlen(ok), 0, &b, &e);
  ck_assert_ptr_nonnull(doc);
  ck_assert_int_eq(e.fault, JSON_BOUNDS_OK);
  json_decref(doc);
  ck_assert_ptr_null(json_bounds_load(deep, strlen(deep), 0, &b, &e));
  ck_assert_int_eq(e.fault, JSON_BOUNDS_TOO_DEEP);
  ck_assert_int_eq(e.offset, 64);
  ck_assert_msg(strstr(e.message, "deeper than 64 levels"), "%s", e.message);
  free(ok);
  free(deep);

  char many[512] = "[";
  for (int i = 0; i < 100; i++)
    strcat(many, i ? ",1" : "1");
  strcat(many, "]"); /* 101 values */
  ck_assert_ptr_null(json_bounds_load(many, strlen(many), 0, &b, &e));
  ck_assert_int_eq(e.fault, JSON_BOUNDS_TOO_MANY);
  ck_assert_msg(strstr(e.message, "more than 100 JSON values"), "%s", e.message);
  b.elements_max = 101;
  doc = json_bounds_load(many, strlen(many), 0, &b, &e);
  ck_assert_ptr_nonnull(doc);
  json_decref(doc);

  ck_assert_ptr_null(json_bounds_load("[1,", 3, 0, &b, &e));
  ck_assert_int_eq(e.fault, JSON_BOUNDS_INVALID);
  ck_assert_msg(strstr(e.message, "malformed JSON"), "%s", e.message);
  /* Text cut inside a string or after a backslash is scanned safely. */
  ck_assert_int_eq(json_bounds_scan("[\"abc\\", 6, &b, NULL), JSON_BOUNDS_OK);
  ck_assert_int_eq(json_bounds_scan("[\"", 2, &b, NULL), JSON_BOUNDS_OK);
}
END_TEST

/* The request parser: a 2,048-deep request is refused with 400 naming
 * json_depth_max, a body of many small values with 413 naming
 * json_elements_max. */
START_TEST(test_request_bounds) {
  request_limits lim = {.max_body_bytes = 16 << 20, .max_files = 10,
                        .max_file_bytes = 1 << 20, .max_input_bytes = 1 << 20,
                        .max_env_bytes = 1 << 16, .max_output_bytes = 1 << 20,
                        .max_log_bytes = 1 << 16, .max_attempts = 5};
  char *data = nested(2046);
  size_t cap = strlen(data) + 128;
  char *body = malloc(cap);
  snprintf(body, cap, "{\"container\": {\"command\": [\"/bin/true\"]}, \"input\": {\"data\": %s}}",
           data);
  request_error e;
  ck_assert_ptr_null(request_parse(body, strlen(body), &lim, &e));
  ck_assert_int_eq(e.status, EXECD_EINVAL);
  ck_assert_str_eq(e.code, "invalid_request");
  ck_assert_msg(strstr(e.message, "json_depth_max"), "%s", e.message);
  free(body);
  free(data);

  size_t n = 300000;
  body = malloc(2 * n + 128);
  char *p = body + sprintf(body, "{\"input\": {\"data\": [");
  for (size_t i = 0; i < n; i++) {
    *p++ = i ? ',' : ' ';
    *p++ = '7';
  }
  strcpy(p, "]}}");
  ck_assert_ptr_null(request_parse(body, strlen(body), &lim, &e));
  ck_assert_int_eq(e.status, EXECD_ETOOBIG);
  ck_assert_str_eq(e.code, "payload_too_large");
  ck_assert_msg(strstr(e.message, "json_elements_max"), "%s", e.message);
  lim.max_json_elements = 400000;
  json_t *req = request_parse(body, strlen(body), &lim, &e);
  ck_assert_msg(req != NULL, "%s", e.message);
  json_decref(req);
  free(body);
}
END_TEST

int main(void) {
  Suite *s = suite_create("json bounds");
  TCase *tc = tcase_create("scan");
  tcase_add_test(tc, test_counts_match_the_tree);
  tcase_add_test(tc, test_load_refuses_over_the_bounds);
  tcase_add_test(tc, test_request_bounds);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
