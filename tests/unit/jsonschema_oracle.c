/* A line-oriented front end of lib/jsonschema for the differential test:
 * each stdin line is {"schema": ..., "instances": [...]}; each output line
 * is an array of true/false (valid or not) per instance, or the string
 * "compile error: ..." when the schema does not compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema/jsonschema.h"

int main(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    json_error_t je;
    json_t *t = json_loadb(line, (size_t)n, 0, &je);
    if (!t) {
      fprintf(stderr, "bad input line: %s\n", je.text);
      return 2;
    }
    char err[512];
    jsonschema *s = jsonschema_compile(json_object_get(t, "schema"), NULL, NULL, err, sizeof err);
    json_t *out;
    if (!s) {
      out = json_string(err);
    } else {
      out = json_array();
      size_t i;
      json_t *inst;
      json_array_foreach(json_object_get(t, "instances"), i, inst)
          json_array_append_new(out, json_boolean(jsonschema_validate(s, inst, NULL)));
      jsonschema_free(s);
    }
    char *text = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(out);
    json_decref(t);
  }
  free(line);
  return 0;
}
