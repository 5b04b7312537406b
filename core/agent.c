/* One agent (agent.h): its definition and its compiled schemas. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "xalloc.h"

struct agent {
  int refs;
  char *name;
  char *file; /* NULL: inline */
  json_t *def;
  jsonschema *schema[2]; /* AGENT_SCHEMA_IN, AGENT_SCHEMA_OUT */
  bool format_assertion;
};

static const char *const schema_keys[] = {"schema_in", "schema_out"};

bool agent_name_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > AGENT_NAME_MAX || name[0] == '.')
    return false;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '.' || *c == '_' || *c == '-'))
      return false;
  return true;
}

static void agent_free(agent *a) {
  for (int k = 0; k < 2; k++)
    jsonschema_free(a->schema[k]);
  json_decref(a->def);
  free(a->name);
  free(a->file);
  free(a);
}

agent *agent_new(json_t *def, const char *file, const char **which, char *err, size_t errlen) {
  agent *a = xcalloc(1, sizeof *a);
  a->refs = 1;
  a->def = def;
  a->name = xstrdup(json_string_value(json_object_get(def, "name")) ?: "");
  a->file = file ? xstrdup(file) : NULL;
  a->format_assertion = json_is_true(json_object_get(def, "format_assertion"));
  jsonschema_options o = {.format_assertion = a->format_assertion};
  for (int k = 0; k < 2; k++) {
    json_t *doc = json_object_get(def, schema_keys[k]);
    if (doc && !(a->schema[k] = jsonschema_compile(doc, &o, NULL, err, errlen))) {
      *which = schema_keys[k];
      agent_free(a);
      return NULL;
    }
  }
  return a;
}

agent *agent_ref(agent *a) {
  if (a)
    a->refs++;
  return a;
}

void agent_unref(agent *a) {
  if (a && --a->refs == 0)
    agent_free(a);
}

const char *agent_name(const agent *a) { return a->name; }
const char *agent_source(const agent *a) { return a->file ? "file" : "inline"; }
const char *agent_file(const agent *a) { return a->file; }
const json_t *agent_def(const agent *a) { return a->def; }
const jsonschema *agent_schema(const agent *a, enum agent_schema_kind k) {
  return a ? a->schema[k] : NULL;
}
bool agent_format_assertion(const agent *a) { return a && a->format_assertion; }

json_t *agent_view(const agent *a) {
  json_t *v = json_deep_copy(a->def);
  json_object_set_new(v, "source", json_string(agent_source(a)));
  if (a->file)
    json_object_set_new(v, "file", json_string(a->file));
  return v;
}
