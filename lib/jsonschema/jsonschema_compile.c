/* Compiling a schema: every subschema gets a node with its base URI and
 * vocabulary, identifiers ($id, $anchor, $dynamicAnchor) are indexed,
 * $ref and $dynamicRef are resolved (remote documents from the registry),
 * patterns compiled, and each keyword's value is checked.  The first
 * problem stops the compile with its location. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

#define DEFAULT_BASE "https://execd.invalid/schema.json"
#define VOCAB_VALIDATION "https://json-schema.org/draft/2020-12/vocab/validation"

struct jsonschema_registry {
  json_t *docs; /* uri -> document */
};

jsonschema_registry *jsonschema_registry_new(void) {
  jsonschema_registry *r = js_calloc(1, sizeof *r);
  r->docs = json_object();
  if (!r->docs) abort();
  return r;
}

void jsonschema_registry_free(jsonschema_registry *r) {
  if (!r) return;
  json_decref(r->docs);
  free(r);
}

int jsonschema_registry_add(jsonschema_registry *r, const char *uri, json_t *doc) {
  if (!uri || !*uri || strlen(uri) > 2048 || !doc) return -1;
  return json_object_set(r->docs, uri, doc) ? -1 : 0;
}

json_t *jsonschema_registry_get(const jsonschema_registry *r, const char *uri) {
  return r ? json_object_get(r->docs, uri) : NULL;
}

typedef struct compiler {
  jsonschema *s;
  const jsonschema_registry *reg;
  json_t *ids; /* "uri" and "uri#anchor" -> integer node index */
  js_buf where; /* JSON Pointer of the subschema being compiled (for errors) */
  char *err;
  size_t errlen;
  int failed;
} compiler;

static int fail(compiler *c, const char *keyword, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(compiler *c, const char *keyword, const char *fmt, ...) {
  if (c->failed) return -1;
  c->failed = 1;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t mark = c->where.len;
  if (keyword) js_buf_push_token(&c->where, keyword);
  /* A deep location keeps its last part, so the message always shows. */
  const char *at = c->where.len ? c->where.s : "/";
  const char *cut = c->where.len > 200 ? "..." : "";
  if (*cut) at = c->where.s + c->where.len - 200;
  snprintf(c->err, c->errlen, "%s%s: %s", cut, at, msg);
  js_buf_truncate(&c->where, mark);
  return -1;
}

static const char *keep_string(jsonschema *s, char *str) {
  if (s->n_strings == s->cap_strings) {
    s->cap_strings = s->cap_strings ? s->cap_strings * 2 : 16;
    s->strings = js_realloc(s->strings, s->cap_strings * sizeof *s->strings);
  }
  s->strings[s->n_strings++] = str;
  return str;
}

static js_node *new_node(compiler *c, const json_t *schema) {
  jsonschema *s = c->s;
  if (s->n_nodes == s->cap_nodes) {
    s->cap_nodes = s->cap_nodes ? s->cap_nodes * 2 : 64;
    s->nodes = js_realloc(s->nodes, s->cap_nodes * sizeof *s->nodes);
  }
  js_node *n = js_calloc(1, sizeof *n);
  n->schema = schema;
  n->index = s->n_nodes;
  s->nodes[s->n_nodes++] = n;
  js_ptrmap_put(&s->map, schema, n);
  return n;
}

static void index_id(compiler *c, const char *uri, const js_node *n) {
  if (!json_object_get(c->ids, uri)) json_object_set_new(c->ids, uri, json_integer((json_int_t)n->index));
}

static js_node *node_at(compiler *c, const char *uri) {
  json_t *i = json_object_get(c->ids, uri);
  return i ? c->s->nodes[json_integer_value(i)] : NULL;
}

/* --- keyword checks -------------------------------------------------------- */

static int is_nonneg_int(const json_t *v) {
  return js_is_integral(v) && js_number(v) >= 0;
}

static int check_type(compiler *c, const json_t *t) {
  static const char *names[] = {"null", "boolean", "object", "array", "number", "string",
                                "integer", NULL};
  const json_t *one;
  size_t i;
  if (json_is_string(t)) {
    for (const char **n = names; *n; n++)
      if (!strcmp(*n, json_string_value(t))) return 0;
    return fail(c, "type", "'%s' is not a JSON Schema type", json_string_value(t));
  }
  if (!json_is_array(t)) return fail(c, "type", "must be a string or an array of strings");
  json_array_foreach(t, i, one) {
    if (!json_is_string(one)) return fail(c, "type", "must be a string or an array of strings");
    int known = 0;
    for (const char **n = names; *n; n++) known |= !strcmp(*n, json_string_value(one));
    if (!known)
      return fail(c, "type", "'%s' is not a JSON Schema type", json_string_value(one));
    for (size_t j = 0; j < i; j++)
      if (js_equal(json_array_get(t, j), one)) return fail(c, "type", "names a type twice");
  }
  return 0;
}

static int check_string_array(compiler *c, const char *kw, const json_t *a) {
  size_t i;
  const json_t *v;
  if (!json_is_array(a)) return fail(c, kw, "must be an array of strings");
  json_array_foreach(a, i, v) if (!json_is_string(v)) return fail(c, kw, "must be an array of strings");
  return 0;
}

static int check_validation(compiler *c, const json_t *o) {
  static const char *nonneg[] = {"maxLength", "minLength", "maxItems", "minItems",
                                 "maxProperties", "minProperties", "maxContains",
                                 "minContains", NULL};
  static const char *numbers[] = {"maximum", "minimum", "exclusiveMaximum",
                                  "exclusiveMinimum", NULL};
  const json_t *v;
  for (const char **k = nonneg; *k; k++)
    if ((v = json_object_get(o, *k)) && !is_nonneg_int(v))
      return fail(c, *k, "must be a non-negative integer");
  for (const char **k = numbers; *k; k++)
    if ((v = json_object_get(o, *k)) && !js_is_number(v)) return fail(c, *k, "must be a number");
  if ((v = json_object_get(o, "multipleOf")) && (!js_is_number(v) || js_number(v) <= 0))
    return fail(c, "multipleOf", "must be a number greater than 0");
  if ((v = json_object_get(o, "type")) && check_type(c, v)) return -1;
  if ((v = json_object_get(o, "enum")) && !json_is_array(v))
    return fail(c, "enum", "must be an array");
  if ((v = json_object_get(o, "uniqueItems")) && !json_is_boolean(v))
    return fail(c, "uniqueItems", "must be a boolean");
  if ((v = json_object_get(o, "required")) && check_string_array(c, "required", v)) return -1;
  if ((v = json_object_get(o, "format")) && !json_is_string(v))
    return fail(c, "format", "must be a string");
  if ((v = json_object_get(o, "pattern")) && !json_is_string(v))
    return fail(c, "pattern", "must be a string");
  if ((v = json_object_get(o, "dependentRequired"))) {
    const char *k;
    json_t *a;
    if (!json_is_object(v)) return fail(c, "dependentRequired", "must be an object of arrays");
    json_object_foreach((json_t *)v, k, a) if (check_string_array(c, "dependentRequired", a)) return -1;
  }
  return 0;
}

/* --- the walk ---------------------------------------------------------------- */

static int walk(compiler *c, const json_t *schema, const char *base, const js_node *resource,
                int validation, size_t depth);

static int walk_child(compiler *c, const json_t *child, const char *kw, const char *key,
                      ssize_t index, const js_node *parent, size_t depth) {
  size_t mark = c->where.len;
  js_buf_push_token(&c->where, kw);
  if (key) js_buf_push_token(&c->where, key);
  if (index >= 0) js_buf_push_index(&c->where, (size_t)index);
  int rc = walk(c, child, parent->base, parent->resource, parent->validation, depth + 1);
  js_buf_truncate(&c->where, mark);
  return rc;
}

static int vocabulary_validation(compiler *c, const char *meta) {
  if (!strcmp(meta, JSONSCHEMA_DRAFT2020_12)) return 1;
  const json_t *doc = jsonschema_registry_get(c->reg, meta);
  if (!doc) return fail(c, "$schema", "unknown metaschema '%s' (only draft 2020-12 is supported)", meta);
  const json_t *vocab = json_object_get(doc, "$vocabulary");
  if (!json_is_object(vocab)) return 1;
  return json_object_get(vocab, VOCAB_VALIDATION) != NULL;
}

static int valid_anchor(const char *a) {
  if (!((*a >= 'A' && *a <= 'Z') || (*a >= 'a' && *a <= 'z') || *a == '_')) return 0;
  for (a++; *a; a++)
    if (!((*a >= 'A' && *a <= 'Z') || (*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9') ||
          *a == '_' || *a == '-' || *a == '.'))
      return 0;
  return 1;
}

static int walk(compiler *c, const json_t *schema, const char *base, const js_node *resource,
                int validation, size_t depth) {
  jsonschema *s = c->s;
  if (json_is_boolean(schema)) return 0;
  if (!json_is_object(schema)) return fail(c, NULL, "a schema must be an object or a boolean");
  if (js_ptrmap_get(&s->map, schema)) return 0;
  if (depth > s->opt.max_schema_depth)
    return fail(c, NULL, "subschemas nested deeper than %zu", s->opt.max_schema_depth);
  if (s->n_nodes >= s->opt.max_schema_nodes)
    return fail(c, NULL, "more than %zu subschemas", s->opt.max_schema_nodes);
  js_node *n = new_node(c, schema);
  n->base = base;
  n->resource = resource ? resource : n;
  if (!resource) index_id(c, base, n); /* a document's root */
  const json_t *v;
  if ((v = json_object_get(schema, "$id"))) {
    if (!json_is_string(v)) return fail(c, "$id", "must be a string");
    char *abs, *frag;
    char *r = js_uri_resolve(base, json_string_value(v));
    js_uri_split(r, &abs, &frag);
    free(r);
    int bad = frag && *frag;
    free(frag);
    if (bad) {
      free(abs);
      return fail(c, "$id", "must not have a fragment");
    }
    n->base = keep_string(s, abs);
    n->resource = n;
    index_id(c, n->base, n);
  }
  if ((v = json_object_get(schema, "$schema"))) {
    if (!json_is_string(v)) return fail(c, "$schema", "must be a string");
    int on = vocabulary_validation(c, json_string_value(v));
    if (on < 0) return -1;
    validation = on;
  }
  n->validation = validation ? 1 : 0;
  n->format_assertion = s->opt.format_assertion ? 1 : 0;
  if ((v = json_object_get(schema, "$anchor"))) {
    if (!json_is_string(v) || !valid_anchor(json_string_value(v)))
      return fail(c, "$anchor", "must be a plain name (a letter or '_', then letters, digits, '-', '_', '.')");
    char *key = js_asprintf("%s#%s", n->base, json_string_value(v));
    index_id(c, key, n);
    free(key);
  }
  if ((v = json_object_get(schema, "$dynamicAnchor"))) {
    if (!json_is_string(v) || !valid_anchor(json_string_value(v)))
      return fail(c, "$dynamicAnchor", "must be a plain name");
    char *key = js_asprintf("%s#%s", n->base, json_string_value(v));
    index_id(c, key, n);
    if (!json_object_get(s->dynamic, key))
      json_object_set_new(s->dynamic, key, json_integer((json_int_t)n->index));
    free(key);
    n->dynamic_anchor = json_string_value(v);
  }
  if ((v = json_object_get(schema, "$ref")) && !json_is_string(v))
    return fail(c, "$ref", "must be a string");
  if ((v = json_object_get(schema, "$dynamicRef")) && !json_is_string(v))
    return fail(c, "$dynamicRef", "must be a string");
  if ((v = json_object_get(schema, "$defs")) && !json_is_object(v))
    return fail(c, "$defs", "must be an object");
  if (validation && check_validation(c, schema)) return -1;
  if (json_object_get(schema, "unevaluatedItems") || json_object_get(schema, "unevaluatedProperties"))
    s->needs_annotations = 1;

  static const char *single[] = {"additionalProperties", "propertyNames", "items", "contains",
                                 "not", "if", "then", "else", "unevaluatedItems",
                                 "unevaluatedProperties", NULL};
  static const char *arrays[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
  static const char *maps[] = {"properties", "patternProperties", "dependentSchemas", "$defs", NULL};
  for (const char **k = single; *k; k++)
    if ((v = json_object_get(schema, *k)) && walk_child(c, v, *k, NULL, -1, n, depth)) return -1;
  for (const char **k = arrays; *k; k++) {
    if (!(v = json_object_get(schema, *k))) continue;
    if (!json_is_array(v) || json_array_size(v) == 0)
      return fail(c, *k, "must be a non-empty array of schemas");
    for (size_t i = 0; i < json_array_size(v); i++)
      if (walk_child(c, json_array_get(v, i), *k, NULL, (ssize_t)i, n, depth)) return -1;
  }
  for (const char **k = maps; *k; k++) {
    if (!(v = json_object_get(schema, *k))) continue;
    if (!json_is_object(v)) return fail(c, *k, "must be an object of schemas");
    const char *key;
    json_t *sub;
    json_object_foreach((json_t *)v, key, sub) if (walk_child(c, sub, *k, key, -1, n, depth)) return -1;
  }
  if (validation && (v = json_object_get(schema, "pattern"))) {
    char e[300];
    if (!(n->pattern = js_regex_compile(json_string_value(v), e, sizeof e)))
      return fail(c, "pattern", "%s", e);
  }
  if ((v = json_object_get(schema, "patternProperties")) && json_object_size(v)) {
    size_t m = json_object_size(v), i = 0;
    n->pattern_keys = js_calloc(m, sizeof *n->pattern_keys);
    n->pattern_schemas = js_calloc(m, sizeof *n->pattern_schemas);
    n->pattern_codes = js_calloc(m, sizeof *n->pattern_codes);
    const char *key;
    json_t *sub;
    json_object_foreach((json_t *)v, key, sub) {
      char e[300];
      n->pattern_keys[i] = key;
      n->pattern_schemas[i] = sub;
      n->n_pattern_props = i + 1;
      if (!(n->pattern_codes[i] = js_regex_compile(key, e, sizeof e))) {
        js_buf_push_token(&c->where, "patternProperties");
        int rc = fail(c, key, "%s", e);
        return rc;
      }
      i++;
    }
  }
  return 0;
}

/* --- references ---------------------------------------------------------- */

/* Walks a document of the registry as a resource of its own under uri. */
static js_node *load_remote(compiler *c, const char *uri) {
  json_t *doc = jsonschema_registry_get(c->reg, uri);
  if (!doc) return NULL;
  json_array_append(c->s->docs, doc);
  js_buf saved = c->where;
  c->where = (js_buf){0};
  js_buf_append(&c->where, uri, strlen(uri));
  js_buf_append(&c->where, "#", 1);
  int rc = walk(c, doc, keep_string(c->s, js_strdup(uri)), NULL, 1, 0);
  free(c->where.s);
  c->where = saved;
  if (rc) return NULL;
  if (!json_is_object(doc)) {
    fail(c, NULL, "the document '%s' is not a schema object", uri);
    return NULL;
  }
  return node_at(c, uri);
}

/* The schema (object or boolean) uri names; NULL if none. */
static const json_t *resolve(compiler *c, const char *uri) {
  char *abs, *frag;
  js_uri_split(uri, &abs, &frag);
  const json_t *target = NULL;
  js_node *res = node_at(c, abs);
  if (!res && !c->failed) res = load_remote(c, abs);
  if (!res) goto out;
  if (!frag || !*frag) {
    target = res->schema;
  } else if (frag[0] == '/') {
    /* A JSON Pointer from the resource's root; the base of a subschema
     * found inside unknown keywords is that of the nearest known one. */
    const json_t *at = res->schema;
    const js_node *known = res;
    char *p = frag + 1;
    for (;;) {
      char *slash = strchr(p, '/');
      if (slash) *slash = '\0';
      char *tok = js_malloc(strlen(p) + 1), *o = tok;
      for (char *q = p; *q; q++) {
        if (q[0] == '~' && q[1] == '0') *o++ = '~', q++;
        else if (q[0] == '~' && q[1] == '1') *o++ = '/', q++;
        else *o++ = *q;
      }
      *o = '\0';
      if (json_is_object(at)) {
        at = json_object_get(at, tok);
      } else if (json_is_array(at)) {
        char *end;
        unsigned long i = strtoul(tok, &end, 10);
        at = (*tok && !*end) ? json_array_get(at, i) : NULL;
      } else {
        at = NULL;
      }
      free(tok);
      if (!at) goto out;
      js_node *k = js_ptrmap_get(&c->s->map, at);
      if (k) known = k;
      if (!slash) break;
      p = slash + 1;
    }
    if (json_is_object(at) && !js_ptrmap_get(&c->s->map, at)) {
      if (walk(c, at, known->base, known->resource, known->validation, 0)) goto out;
    }
    if (json_is_object(at) || json_is_boolean(at)) target = at;
  } else {
    char *key = js_asprintf("%s#%s", abs, frag);
    js_node *a = node_at(c, key);
    free(key);
    if (a) target = a->schema;
  }
out:
  free(abs);
  free(frag);
  return target;
}

static int link_refs(compiler *c) {
  jsonschema *s = c->s;
  for (size_t i = 0; i < s->n_nodes; i++) {
    js_node *n = s->nodes[i];
    const json_t *v;
    if ((v = json_object_get(n->schema, "$ref"))) {
      char *uri = js_uri_resolve(n->base, json_string_value(v));
      n->ref = resolve(c, uri);
      if (!n->ref && !c->failed)
        fail(c, "$ref", "'%s' (%s) does not name a schema", json_string_value(v), uri);
      free(uri);
      if (c->failed) return -1;
    }
    if ((v = json_object_get(n->schema, "$dynamicRef"))) {
      char *uri = js_uri_resolve(n->base, json_string_value(v));
      n->dynref = resolve(c, uri);
      if (!n->dynref && !c->failed)
        fail(c, "$dynamicRef", "'%s' (%s) does not name a schema", json_string_value(v), uri);
      char *abs, *frag;
      js_uri_split(uri, &abs, &frag);
      free(uri);
      free(abs);
      if (c->failed) {
        free(frag);
        return -1;
      }
      /* Dynamic only when the initial target has the same $dynamicAnchor. */
      const js_node *t = js_ptrmap_get(&s->map, n->dynref);
      if (frag && *frag && frag[0] != '/' && t && t->dynamic_anchor &&
          !strcmp(t->dynamic_anchor, frag))
        n->dynref_name = frag;
      else
        free(frag);
    }
  }
  return 0;
}

jsonschema *jsonschema_compile(json_t *schema, const jsonschema_options *options,
                               const jsonschema_registry *reg, char *err, size_t errlen) {
  char dummy[1];
  if (!err || !errlen) err = dummy, errlen = sizeof dummy;
  err[0] = '\0';
  jsonschema *s = js_calloc(1, sizeof *s);
  if (options) s->opt = *options;
  if (!s->opt.max_schema_depth) s->opt.max_schema_depth = 128;
  if (!s->opt.max_schema_nodes) s->opt.max_schema_nodes = 20000;
  if (!s->opt.max_eval_depth) s->opt.max_eval_depth = 256;
  if (!s->opt.max_errors) s->opt.max_errors = 64;
  if (!s->opt.max_eval_steps) s->opt.max_eval_steps = 10000000;
  s->root = json_incref(schema);
  s->docs = json_array();
  s->dynamic = json_object();
  s->mctx = pcre2_match_context_create(NULL);
  if (!s->docs || !s->dynamic || !s->mctx) abort();
  pcre2_set_match_limit(s->mctx, 1000000);
  pcre2_set_depth_limit(s->mctx, 10000);
  compiler c = {.s = s, .reg = reg, .ids = json_object(), .err = err, .errlen = errlen};
  if (!c.ids) abort();
  int rc = -1;
  if (!schema) {
    fail(&c, NULL, "no schema");
  } else if (json_is_boolean(schema)) {
    rc = 0;
  } else {
    rc = walk(&c, schema, DEFAULT_BASE, NULL, 1, 0);
    if (!rc) rc = link_refs(&c);
  }
  json_decref(c.ids);
  free(c.where.s);
  if (rc) {
    jsonschema_free(s);
    return NULL;
  }
  return s;
}

void jsonschema_free(jsonschema *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n_nodes; i++) {
    js_node *n = s->nodes[i];
    free(n->dynref_name);
    if (n->pattern) pcre2_code_free(n->pattern);
    for (size_t j = 0; j < n->n_pattern_props; j++)
      if (n->pattern_codes[j]) pcre2_code_free(n->pattern_codes[j]);
    free(n->pattern_keys);
    free(n->pattern_schemas);
    free(n->pattern_codes);
    free(n);
  }
  free(s->nodes);
  for (size_t i = 0; i < s->n_strings; i++) free(s->strings[i]);
  free(s->strings);
  free(s->map.keys);
  free(s->map.vals);
  json_decref(s->dynamic);
  json_decref(s->docs);
  json_decref(s->root);
  if (s->mctx) pcre2_match_context_free(s->mctx);
  free(s);
}
