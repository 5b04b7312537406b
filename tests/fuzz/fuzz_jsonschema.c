/* libFuzzer target: the JSON Schema validator (lib/jsonschema), schemas and
 * instances both hostile.  The input is a schema followed by an instance
 * (two JSON texts, one after the other); its first byte chooses options.
 * A schema that compiles is validated against the instance twice: the two
 * verdicts and error lists must be equal (a compiled schema is immutable),
 * the list must be present exactly when the instance is invalid, and each
 * error must carry two JSON Pointers and a message. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "jsonschema/jsonschema.h"

static int is_pointer(const json_t *v) {
  const char *s = json_string_value(v);
  return s && (s[0] == '\0' || s[0] == '/');
}

static void check_errors(const json_t *errors) {
  if (!json_is_array(errors) || json_array_size(errors) == 0)
    abort();
  size_t i;
  const json_t *e;
  json_array_foreach(errors, i, e) {
    if (!is_pointer(json_object_get(e, "instanceLocation")) ||
        !is_pointer(json_object_get(e, "keywordLocation")) ||
        !json_is_string(json_object_get(e, "error")))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 64 * 1024)
    return 0;
  uint8_t flags = data[0];
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  json_error_t jerr;
  json_t *schema = json_loadb(text, len, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
  if (!schema)
    return 0;
  size_t used = (size_t)jerr.position;
  json_t *instance = used < len ? json_loadb(text + used, len - used, JSON_DECODE_ANY, &jerr)
                                : NULL;
  if (!instance)
    instance = json_null();

  /* Small budgets: a hostile schema must end within them, not time out. */
  jsonschema_options opt = {.format_assertion = flags & 1,
                            .max_schema_depth = 64,
                            .max_schema_nodes = 2000,
                            .max_eval_depth = 64,
                            .max_errors = (flags & 2) ? 4 : 0,
                            .max_eval_steps = 200000};
  char err[512] = "";
  jsonschema *s = jsonschema_compile(schema, &opt, NULL, err, sizeof err);
  if (!s) {
    if (err[0] == '\0') /* a refusal always says why */
      abort();
  } else {
    json_t *e1 = NULL, *e2 = NULL;
    int v1 = jsonschema_validate(s, instance, &e1);
    int v2 = jsonschema_validate(s, instance, &e2);
    if (v1 != v2 || (v1 != 0 && v1 != 1))
      abort();
    if (v1 == 1 ? (e1 || e2) : (!e1 || !e2))
      abort();
    if (!v1) {
      check_errors(e1);
      if (!json_equal(e1, e2))
        abort();
    }
    json_decref(e1);
    json_decref(e2);
    jsonschema_free(s);
  }
  json_decref(instance);
  json_decref(schema);
  return 0;
}
