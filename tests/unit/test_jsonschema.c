/* lib/jsonschema's API: what a schema that is itself invalid reports,
 * the JSON Pointers of validation errors, and the limits against hostile
 * schemas and instances.  (Conformance is test_jsonschema_suite.) */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema/jsonschema.h"

static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
  ck_assert_msg(v != NULL, "%s: %s", text, e.text);
  return v;
}

static char err[512];

/* Whether the errors' text contains what. */
static int errors_mention(const json_t *errors, const char *what) {
  char *text = json_dumps(errors, 0);
  int found = text && strstr(text, what) != NULL;
  free(text);
  return found;
}

static jsonschema *compile_text(const char *text, const jsonschema_options *o) {
  json_t *s = J(text);
  jsonschema *c = jsonschema_compile(s, o, NULL, err, sizeof err);
  json_decref(s);
  return c;
}

/* Validates and returns the errors (NULL when valid). */
static json_t *check_text(jsonschema *s, const char *inst) {
  json_t *i = J(inst), *errors = NULL;
  int ok = jsonschema_validate(s, i, &errors);
  json_decref(i);
  ck_assert_int_eq(ok, errors == NULL);
  return errors;
}

static void assert_compile_error(const char *schema, const char *want) {
  jsonschema *s = compile_text(schema, NULL);
  ck_assert_msg(s == NULL, "%s compiled", schema);
  ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

START_TEST(invalid_schemas_name_the_keyword) {
  assert_compile_error("{\"type\": \"strin\"}", "/type: 'strin' is not a JSON Schema type");
  assert_compile_error("{\"properties\": {\"a\": {\"minLength\": -1}}}",
                       "/properties/a/minLength: must be a non-negative integer");
  assert_compile_error("{\"items\": [1]}", "/items: a schema must be an object or a boolean");
  assert_compile_error("{\"pattern\": \"(\"}", "/pattern: is not a valid regular expression");
  assert_compile_error("{\"$ref\": \"#/$defs/none\"}", "/$ref: '#/$defs/none'");
  assert_compile_error("{\"$ref\": \"http://example.com/elsewhere.json\"}", "does not name a schema");
  assert_compile_error("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}",
                       "/$schema: unknown metaschema");
  assert_compile_error("{\"anyOf\": []}", "/anyOf: must be a non-empty array");
  assert_compile_error("[]", "/: a schema must be an object or a boolean");
}
END_TEST

START_TEST(errors_carry_instance_and_keyword_locations) {
  jsonschema *s = compile_text("{\"properties\": {\"a/b\": {\"type\": \"array\", \"items\": "
                               "{\"$ref\": \"#/$defs/int\"}}}, \"required\": [\"c\"],"
                               "\"$defs\": {\"int\": {\"type\": \"integer\"}}}", NULL);
  ck_assert_msg(s != NULL, "%s", err);
  json_t *e = check_text(s, "{\"a/b\": [1, \"x\"], \"c\": 0}");
  ck_assert_int_eq(json_array_size(e), 1);
  json_t *u = json_array_get(e, 0);
  ck_assert_str_eq(json_string_value(json_object_get(u, "instanceLocation")), "/a~1b/1");
  ck_assert_str_eq(json_string_value(json_object_get(u, "keywordLocation")),
                   "/properties/a~1b/items/$ref/type");
  json_decref(e);
  e = check_text(s, "{}");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "keywordLocation")),
                   "/required");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "instanceLocation")), "");
  json_decref(e);
  ck_assert_ptr_null(check_text(s, "{\"a/b\": [1, 2], \"c\": 0}"));
  jsonschema_free(s);
}
END_TEST

START_TEST(format_is_an_annotation_unless_asked) {
  const char *schema = "{\"format\": \"date\"}";
  jsonschema *s = compile_text(schema, NULL);
  ck_assert_ptr_null(check_text(s, "\"2024-02-30\""));
  jsonschema_free(s);
  jsonschema_options o = {.format_assertion = 1};
  s = compile_text(schema, &o);
  json_t *e = check_text(s, "\"2024-02-30\"");
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "keywordLocation")), "/format");
  json_decref(e);
  ck_assert_ptr_null(check_text(s, "\"2024-02-29\""));
  jsonschema_free(s);
  ck_assert_int_eq(jsonschema_format_check("ipv4", "1.2.3.4", 7), 1);
  ck_assert_int_eq(jsonschema_format_check("ipv4", "1.2.3.04", 8), 0);
  ck_assert_int_eq(jsonschema_format_check("uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", 36), 1);
  ck_assert_int_eq(jsonschema_format_check("email", "a..b@example.com", 16), 0);
  ck_assert_int_eq(jsonschema_format_check("date-time", "1990-12-31T15:59:60-08:00", 25), 1);
  ck_assert_int_eq(jsonschema_format_check("hostname", "-a.example", 10), 0);
}
END_TEST

START_TEST(lengths_count_code_points) {
  jsonschema *s = compile_text("{\"maxLength\": 2, \"pattern\": \"^\\\\p{Letter}+$\"}", NULL);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_ptr_null(check_text(s, "\"\\u00e9\\u00e9\""));
  json_t *e = check_text(s, "\"\\u00e9\\u00e9\\u00e9\"");
  ck_assert_int_eq(json_array_size(e), 1);
  json_decref(e);
  jsonschema_free(s);
}
END_TEST

START_TEST(ref_cycle_without_input_is_an_error) {
  jsonschema *s = compile_text("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": "
                               "{\"$ref\": \"#/$defs/a\"}}, \"$ref\": \"#/$defs/a\"}", NULL);
  ck_assert_msg(s != NULL, "%s", err);
  json_t *e = check_text(s, "1");
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(strstr(json_string_value(json_object_get(json_array_get(e, json_array_size(e) - 1), "error")),
                       "same schema at the same instance location") != NULL, "no cycle error");
  json_decref(e);
  jsonschema_free(s);
}
END_TEST

START_TEST(deep_instances_and_schemas_are_bounded) {
  jsonschema *s = compile_text("{\"items\": {\"$ref\": \"#\"}}", NULL);
  ck_assert_msg(s != NULL, "%s", err);
  json_t *deep = json_array(), *at = deep;
  for (int i = 0; i < 1000; i++) {
    json_t *next = json_array();
    json_array_append_new(at, next);
    at = next;
  }
  json_t *errors = NULL;
  ck_assert_int_eq(jsonschema_validate(s, deep, &errors), 0);
  ck_assert_msg(errors_mention(errors, "nests deeper"), "no depth error");
  json_decref(errors);
  json_decref(deep);
  jsonschema_free(s);

  json_t *schema = json_true();
  for (int i = 0; i < 200; i++) schema = json_pack("{s:o}", "not", schema);
  ck_assert_ptr_null(jsonschema_compile(schema, NULL, NULL, err, sizeof err));
  ck_assert_msg(strstr(err, "nested deeper than 128") != NULL, "%s", err);
  json_decref(schema);
}
END_TEST

START_TEST(large_instances_stay_cheap) {
  /* uniqueItems on 200000 items is not quadratic; 1 and 1.0 are equal. */
  jsonschema *s = compile_text("{\"uniqueItems\": true}", NULL);
  json_t *arr = json_array();
  for (int i = 0; i < 200000; i++) json_array_append_new(arr, json_integer(i));
  ck_assert_int_eq(jsonschema_validate(s, arr, NULL), 1);
  json_array_append_new(arr, json_real(7.0));
  json_t *e = NULL;
  ck_assert_int_eq(jsonschema_validate(s, arr, &e), 0);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "error")),
                   "items 7 and 200000 are equal");
  json_decref(e);
  jsonschema_free(s);
  /* A step budget ends an evaluation that would take too long. */
  jsonschema_options o = {.max_eval_steps = 1000};
  s = compile_text("{\"items\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}}", &o);
  ck_assert_int_eq(jsonschema_validate(s, arr, &e), 0);
  ck_assert_msg(errors_mention(e, "more steps than the validator allows"), "no budget error");
  json_decref(e);
  json_decref(arr);
  jsonschema_free(s);
}
END_TEST

START_TEST(errors_are_capped) {
  jsonschema_options o = {.max_errors = 3};
  jsonschema *s = compile_text("{\"items\": {\"type\": \"string\"}}", &o);
  json_t *e = check_text(s, "[1, 2, 3, 4, 5, 6]");
  ck_assert_int_eq(json_array_size(e), 4);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 3), "error")),
                   "3 more errors left out");
  json_decref(e);
  jsonschema_free(s);
}
END_TEST

START_TEST(catastrophic_patterns_give_up) {
  jsonschema *s = compile_text("{\"pattern\": \"^(a+)+$\"}", NULL);
  char inst[80];
  memset(inst, 'a', sizeof inst);
  inst[0] = '"';
  inst[sizeof inst - 3] = 'b';
  inst[sizeof inst - 2] = '"';
  inst[sizeof inst - 1] = '\0';
  json_t *e = check_text(s, inst);
  ck_assert_msg(errors_mention(e, "regular expression limits"), "no limit error");
  json_decref(e);
  jsonschema_free(s);
}
END_TEST

START_TEST(remote_documents_come_from_the_registry) {
  jsonschema_registry *reg = jsonschema_registry_new();
  json_t *remote = J("{\"$defs\": {\"n\": {\"type\": \"number\"}}}");
  ck_assert_int_eq(jsonschema_registry_add(reg, "https://example.com/n.json", remote), 0);
  json_decref(remote);
  json_t *schema = J("{\"$ref\": \"https://example.com/n.json#/$defs/n\"}");
  jsonschema *s = jsonschema_compile(schema, NULL, reg, err, sizeof err);
  jsonschema_registry_free(reg); /* the compiled schema keeps what it uses */
  json_decref(schema);
  ck_assert_msg(s != NULL, "%s", err);
  ck_assert_ptr_null(check_text(s, "1.5"));
  json_t *e = check_text(s, "\"x\"");
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(e, 0), "keywordLocation")), "/$ref/type");
  json_decref(e);
  jsonschema_free(s);
}
END_TEST

int main(void) {
  Suite *su = suite_create("jsonschema");
  TCase *tc = tcase_create("api");
  tcase_add_test(tc, invalid_schemas_name_the_keyword);
  tcase_add_test(tc, errors_carry_instance_and_keyword_locations);
  tcase_add_test(tc, format_is_an_annotation_unless_asked);
  tcase_add_test(tc, lengths_count_code_points);
  tcase_add_test(tc, ref_cycle_without_input_is_an_error);
  tcase_add_test(tc, deep_instances_and_schemas_are_bounded);
  tcase_add_test(tc, errors_are_capped);
  tcase_add_test(tc, large_instances_stay_cheap);
  tcase_add_test(tc, catastrophic_patterns_give_up);
  tcase_add_test(tc, remote_documents_come_from_the_registry);
  suite_add_tcase(su, tc);
  SRunner *sr = srunner_create(su);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
