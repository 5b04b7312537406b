/* Evaluating an instance against a compiled schema.  Keywords of one
 * schema object run in a fixed order so that unevaluatedItems and
 * unevaluatedProperties come last and see the annotations (evaluated
 * indices and property names) of every valid subschema applied to the
 * same instance.  Evaluation is bounded: a nesting limit, and a $ref that
 * comes back to the same schema at the same instance location without
 * consuming anything is an error instead of an endless loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

typedef struct ann {
  json_t *props;         /* evaluated property names (a set), or NULL */
  unsigned char *items;  /* evaluated indices, or NULL */
  size_t n;
} ann;

typedef struct frame {
  const json_t *schema;
  const json_t *inst;
} frame;

typedef struct ctx {
  const jsonschema *s;
  json_t *errors;  /* NULL: not collecting */
  size_t dropped;
  js_buf kloc, iloc;
  const js_node **scope; /* dynamic scope: resources entered, outermost first */
  size_t n_scope, cap_scope;
  frame *refs;
  size_t n_refs, cap_refs;
  size_t depth;
  size_t steps; /* subschema evaluations so far */
  int fatal;
} ctx;

/* --- annotations ------------------------------------------------------------ */

static void ann_item(ann *a, size_t i, size_t len) {
  if (!a) return;
  if (!a->items) {
    a->items = js_calloc(len, 1);
    a->n = len;
  }
  if (i < a->n) a->items[i] = 1;
}

static void ann_prop(ann *a, const char *key) {
  if (!a) return;
  if (!a->props && !(a->props = json_object())) abort();
  json_object_set_new(a->props, key, json_true());
}

static int ann_has_item(const ann *a, size_t i) { return a && a->items && i < a->n && a->items[i]; }
static int ann_has_prop(const ann *a, const char *k) { return a && a->props && json_object_get(a->props, k); }

static void ann_merge(ann *into, const ann *from, size_t len) {
  if (!into || !from) return;
  for (size_t i = 0; from->items && i < from->n; i++)
    if (from->items[i]) ann_item(into, i, len);
  const char *k;
  json_t *v;
  if (from->props) json_object_foreach(from->props, k, v) ann_prop(into, k);
}

static void ann_free(ann *a) {
  if (!a) return;
  json_decref(a->props);
  free(a->items);
  a->props = NULL;
  a->items = NULL;
  a->n = 0;
}

static size_t inst_len(const json_t *inst) { return json_is_array(inst) ? json_array_size(inst) : 0; }

/* --- errors ----------------------------------------------------------------- */

static void add_error(ctx *c, const char *kw, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_error(ctx *c, const char *kw, const char *fmt, ...) {
  if (!c->errors) return;
  if (json_array_size(c->errors) >= c->s->opt.max_errors) {
    c->dropped++;
    return;
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t mark = c->kloc.len;
  if (kw) js_buf_push_token(&c->kloc, kw);
  json_t *e = json_pack("{s:s, s:s, s:s}", "instanceLocation", c->iloc.s ? c->iloc.s : "",
                        "keywordLocation", c->kloc.s ? c->kloc.s : "", "error", msg);
  js_buf_truncate(&c->kloc, mark);
  if (!e || json_array_append_new(c->errors, e)) abort();
}

typedef struct err_mark {
  size_t n, dropped;
} err_mark;

static err_mark errors_mark(const ctx *c) {
  return (err_mark){c->errors ? json_array_size(c->errors) : 0, c->dropped};
}

static void errors_reset(ctx *c, err_mark m) {
  if (!c->errors) return;
  while (json_array_size(c->errors) > m.n) json_array_remove(c->errors, json_array_size(c->errors) - 1);
  c->dropped = m.dropped;
}

static void fatal(ctx *c, const char *kw, const char *msg) {
  if (c->fatal) return;
  c->fatal = 1;
  if (c->errors) {
    /* Keep room for the reason: it is what the caller must see. */
    while (json_array_size(c->errors) >= c->s->opt.max_errors && json_array_size(c->errors))
      json_array_remove(c->errors, json_array_size(c->errors) - 1), c->dropped++;
  }
  add_error(c, kw, "%s", msg);
}

/* --- evaluation ---------------------------------------------------------- */

static int eval(ctx *c, const json_t *schema, const json_t *inst, ann *out);

/* Evaluates schema at kloc + kw [+ key or index] on inst (a child of the
 * current instance when ikey or iidx says so); its annotations go to into
 * when it is valid (into: the same instance only). */
static int sub(ctx *c, const json_t *schema, const json_t *inst, ann *into, const char *kw,
               const char *key, ssize_t idx, const char *ikey, ssize_t iidx) {
  size_t km = c->kloc.len, im = c->iloc.len;
  js_buf_push_token(&c->kloc, kw);
  if (key) js_buf_push_token(&c->kloc, key);
  if (idx >= 0) js_buf_push_index(&c->kloc, (size_t)idx);
  if (ikey) js_buf_push_token(&c->iloc, ikey);
  if (iidx >= 0) js_buf_push_index(&c->iloc, (size_t)iidx);
  int ok;
  if (into) {
    ann tmp = {0};
    ok = eval(c, schema, inst, &tmp);
    if (ok) ann_merge(into, &tmp, inst_len(inst));
    ann_free(&tmp);
  } else {
    ok = eval(c, schema, inst, NULL);
  }
  js_buf_truncate(&c->kloc, km);
  js_buf_truncate(&c->iloc, im);
  return ok && !c->fatal;
}

static int follow_ref(ctx *c, const char *kw, const json_t *target, const json_t *inst, ann *own) {
  for (size_t i = 0; i < c->n_refs; i++)
    if (c->refs[i].schema == target && c->refs[i].inst == inst) {
      fatal(c, kw, "the reference comes back to the same schema at the same instance location");
      return 0;
    }
  if (c->n_refs == c->cap_refs) {
    c->cap_refs = c->cap_refs ? c->cap_refs * 2 : 16;
    c->refs = js_realloc(c->refs, c->cap_refs * sizeof *c->refs);
  }
  c->refs[c->n_refs++] = (frame){target, inst};
  int ok = sub(c, target, inst, own, kw, NULL, -1, NULL, -1);
  c->n_refs--;
  return ok;
}

static const json_t *dynamic_target(ctx *c, const js_node *n) {
  if (!n->dynref_name) return n->dynref;
  for (size_t i = 0; i < c->n_scope; i++) {
    char *key = js_asprintf("%s#%s", c->scope[i]->base, n->dynref_name);
    json_t *idx = json_object_get(c->s->dynamic, key);
    free(key);
    if (idx) return c->s->nodes[json_integer_value(idx)]->schema;
  }
  return n->dynref;
}

static int type_matches(const json_t *inst, const char *t) {
  switch (t[0]) {
  case 'n': return t[1] == 'u' ? (t[2] == 'l' ? json_is_null(inst) : js_is_number(inst)) : 0;
  case 'b': return json_is_boolean(inst);
  case 'o': return json_is_object(inst);
  case 'a': return json_is_array(inst);
  case 's': return json_is_string(inst);
  case 'i': return js_is_integral(inst);
  default: return 0;
  }
}

static size_t code_points(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
  return n;
}

static int multiple_of(const json_t *v, const json_t *m) {
  if (json_is_integer(v) && json_is_integer(m))
    return json_integer_value(v) % json_integer_value(m) == 0;
  double dv = js_number(v), dm = js_number(m);
  double q = dv / dm;
  if (!isfinite(q)) return fmod(dv, dm) == 0;
  double tol = 1e-9 * fabs(q);
  return fabs(q - nearbyint(q)) <= (tol > 1e-9 ? tol : 1e-9);
}

typedef struct hashed {
  uint64_t hash;
  size_t index;
} hashed;

static int by_hash(const void *x, const void *y) {
  const hashed *a = x, *b = y;
  if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* uniqueItems in O(n log n): items sorted by hash, equal hashes compared.
 * Returns 1, or 0 with the first equal pair found in *a < *b. */
static int all_unique(const json_t *arr, size_t *a, size_t *b) {
  size_t len = json_array_size(arr);
  if (len < 2) return 1;
  hashed *h = js_malloc(len * sizeof *h);
  for (size_t i = 0; i < len; i++) h[i] = (hashed){js_hash(json_array_get(arr, i)), i};
  qsort(h, len, sizeof *h, by_hash);
  int unique = 1;
  for (size_t i = 0; i < len && unique; i++)
    for (size_t j = i + 1; j < len && h[j].hash == h[i].hash; j++)
      if (js_equal(json_array_get(arr, h[i].index), json_array_get(arr, h[j].index))) {
        *a = h[i].index, *b = h[j].index;
        unique = 0;
        break;
      }
  free(h);
  return unique;
}

static int eval_validation(ctx *c, const js_node *n, const json_t *inst) {
  const json_t *o = n->schema, *v;
  int ok = 1;
  if ((v = json_object_get(o, "type"))) {
    int m = 0;
    if (json_is_string(v)) m = type_matches(inst, json_string_value(v));
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v) && !m; i++)
      m = type_matches(inst, json_string_value(json_array_get(v, i)));
    if (!m) {
      char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
      add_error(c, "type", "is not of type %s", t ? t : "?");
      free(t);
      ok = 0;
    }
  }
  if ((v = json_object_get(o, "enum"))) {
    int m = 0;
    for (size_t i = 0; i < json_array_size(v) && !m; i++) m = js_equal(inst, json_array_get(v, i));
    if (!m) add_error(c, "enum", "is not one of the values the schema enumerates"), ok = 0;
  }
  if ((v = json_object_get(o, "const")) && !js_equal(inst, v))
    add_error(c, "const", "is not the value the schema requires"), ok = 0;
  if (js_is_number(inst)) {
    double d = js_number(inst);
    if ((v = json_object_get(o, "multipleOf")) && !multiple_of(inst, v))
      add_error(c, "multipleOf", "%g is not a multiple of %g", d, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "maximum")) && !(d <= js_number(v)))
      add_error(c, "maximum", "%g is greater than %g", d, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "exclusiveMaximum")) && !(d < js_number(v)))
      add_error(c, "exclusiveMaximum", "%g is not less than %g", d, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "minimum")) && !(d >= js_number(v)))
      add_error(c, "minimum", "%g is less than %g", d, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "exclusiveMinimum")) && !(d > js_number(v)))
      add_error(c, "exclusiveMinimum", "%g is not greater than %g", d, js_number(v)), ok = 0;
  }
  if (json_is_string(inst)) {
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst), cps = 0;
    int counted = 0;
    if ((v = json_object_get(o, "maxLength"))) {
      cps = code_points(s, len), counted = 1;
      if ((double)cps > js_number(v))
        add_error(c, "maxLength", "is %zu characters long, more than %g", cps, js_number(v)), ok = 0;
    }
    if ((v = json_object_get(o, "minLength"))) {
      if (!counted) cps = code_points(s, len);
      if ((double)cps < js_number(v))
        add_error(c, "minLength", "is %zu characters long, fewer than %g", cps, js_number(v)), ok = 0;
    }
    if (n->pattern) {
      int m = js_regex_search(n->pattern, c->s->mctx, s, len);
      if (m < 0) add_error(c, "pattern", "could not be matched within the regular expression limits"), ok = 0;
      else if (!m) add_error(c, "pattern", "does not match the pattern %s",
                             json_string_value(json_object_get(o, "pattern"))), ok = 0;
    }
  }
  if (json_is_array(inst)) {
    size_t len = json_array_size(inst);
    if ((v = json_object_get(o, "maxItems")) && (double)len > js_number(v))
      add_error(c, "maxItems", "has %zu items, more than %g", len, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "minItems")) && (double)len < js_number(v))
      add_error(c, "minItems", "has %zu items, fewer than %g", len, js_number(v)), ok = 0;
    size_t a, b;
    if (json_is_true(json_object_get(o, "uniqueItems")) && !all_unique(inst, &a, &b)) {
      add_error(c, "uniqueItems", "items %zu and %zu are equal", a, b);
      ok = 0;
    }
  }
  if (json_is_object(inst)) {
    size_t len = json_object_size(inst);
    if ((v = json_object_get(o, "maxProperties")) && (double)len > js_number(v))
      add_error(c, "maxProperties", "has %zu properties, more than %g", len, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "minProperties")) && (double)len < js_number(v))
      add_error(c, "minProperties", "has %zu properties, fewer than %g", len, js_number(v)), ok = 0;
    if ((v = json_object_get(o, "required"))) {
      for (size_t i = 0; i < json_array_size(v); i++) {
        const char *k = json_string_value(json_array_get(v, i));
        if (!json_object_get(inst, k)) add_error(c, "required", "lacks the required property '%s'", k), ok = 0;
      }
    }
    if ((v = json_object_get(o, "dependentRequired"))) {
      const char *key;
      json_t *need;
      json_object_foreach((json_t *)v, key, need) {
        if (!json_object_get(inst, key)) continue;
        for (size_t i = 0; i < json_array_size(need); i++) {
          const char *k = json_string_value(json_array_get(need, i));
          if (!json_object_get(inst, k)) {
            size_t m = c->kloc.len;
            js_buf_push_token(&c->kloc, "dependentRequired");
            add_error(c, key, "has '%s' but lacks '%s'", key, k);
            js_buf_truncate(&c->kloc, m);
            ok = 0;
          }
        }
      }
    }
  }
  return ok;
}

static int eval_format(ctx *c, const js_node *n, const json_t *inst) {
  const json_t *f = json_object_get(n->schema, "format");
  if (!f || !n->format_assertion || !json_is_string(inst)) return 1;
  if (jsonschema_format_check(json_string_value(f), json_string_value(inst), json_string_length(inst)))
    return 1;
  add_error(c, "format", "is not a valid %s", json_string_value(f));
  return 0;
}

static int eval_in_place(ctx *c, const js_node *n, const json_t *inst, ann *own) {
  const json_t *o = n->schema, *v;
  int ok = 1;
  if (n->ref && !follow_ref(c, "$ref", n->ref, inst, own)) ok = 0;
  if (c->fatal) return 0;
  if (n->dynref && !follow_ref(c, "$dynamicRef", dynamic_target(c, n), inst, own)) ok = 0;
  if (c->fatal) return 0;
  if ((v = json_object_get(o, "allOf")))
    for (size_t i = 0; i < json_array_size(v); i++)
      if (!sub(c, json_array_get(v, i), inst, own, "allOf", NULL, (ssize_t)i, NULL, -1)) ok = 0;
  if ((v = json_object_get(o, "anyOf"))) {
    err_mark m = errors_mark(c);
    int any = 0;
    for (size_t i = 0; i < json_array_size(v) && !c->fatal; i++)
      if (sub(c, json_array_get(v, i), inst, own, "anyOf", NULL, (ssize_t)i, NULL, -1)) any = 1;
    if (any) errors_reset(c, m);
    else add_error(c, "anyOf", "matches none of the schemas"), ok = 0;
  }
  if ((v = json_object_get(o, "oneOf"))) {
    err_mark m = errors_mark(c);
    ann first = {0};
    int count = 0;
    size_t a = 0, b = 0;
    for (size_t i = 0; i < json_array_size(v) && !c->fatal; i++) {
      ann tmp = {0};
      if (sub(c, json_array_get(v, i), inst, own ? &tmp : NULL, "oneOf", NULL, (ssize_t)i, NULL, -1)) {
        if (count == 0) a = i, first = tmp, tmp = (ann){0};
        else b = i;
        count++;
      }
      ann_free(&tmp);
    }
    if (count == 1) {
      errors_reset(c, m);
      ann_merge(own, &first, inst_len(inst));
    } else if (count == 0) {
      add_error(c, "oneOf", "matches none of the schemas"), ok = 0;
    } else {
      errors_reset(c, m);
      add_error(c, "oneOf", "matches more than one schema (%zu and %zu)", a, b), ok = 0;
    }
    ann_free(&first);
  }
  if ((v = json_object_get(o, "not"))) {
    err_mark m = errors_mark(c);
    int matched = sub(c, v, inst, NULL, "not", NULL, -1, NULL, -1);
    errors_reset(c, m);
    if (matched) add_error(c, "not", "matches the schema it must not match"), ok = 0;
  }
  if ((v = json_object_get(o, "if"))) {
    err_mark m = errors_mark(c);
    int cond = sub(c, v, inst, own, "if", NULL, -1, NULL, -1);
    errors_reset(c, m);
    const char *branch = cond ? "then" : "else";
    const json_t *b = json_object_get(o, branch);
    if (b && !c->fatal && !sub(c, b, inst, own, branch, NULL, -1, NULL, -1)) ok = 0;
  }
  if ((v = json_object_get(o, "dependentSchemas")) && json_is_object(inst)) {
    const char *key;
    json_t *s;
    json_object_foreach((json_t *)v, key, s) if (json_object_get(inst, key) &&
                                                 !sub(c, s, inst, own, "dependentSchemas", key, -1, NULL, -1)) ok = 0;
  }
  return ok;
}

static int eval_array(ctx *c, const js_node *n, const json_t *inst, ann *own) {
  const json_t *o = n->schema, *v;
  size_t len = json_array_size(inst), start = 0;
  int ok = 1;
  if ((v = json_object_get(o, "prefixItems"))) {
    start = json_array_size(v);
    for (size_t i = 0; i < start && i < len; i++) {
      if (!sub(c, json_array_get(v, i), json_array_get(inst, i), NULL, "prefixItems", NULL, (ssize_t)i, NULL, (ssize_t)i))
        ok = 0;
      ann_item(own, i, len);
    }
  }
  if ((v = json_object_get(o, "items"))) {
    for (size_t i = start; i < len; i++) {
      if (!sub(c, v, json_array_get(inst, i), NULL, "items", NULL, -1, NULL, (ssize_t)i)) ok = 0;
      ann_item(own, i, len);
    }
  }
  if ((v = json_object_get(o, "contains"))) {
    err_mark m = errors_mark(c);
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
      if (sub(c, v, json_array_get(inst, i), NULL, "contains", NULL, -1, NULL, (ssize_t)i)) {
        count++;
        ann_item(own, i, len);
      }
    errors_reset(c, m);
    const json_t *mn = n->validation ? json_object_get(o, "minContains") : NULL;
    const json_t *mx = n->validation ? json_object_get(o, "maxContains") : NULL;
    double min = mn ? js_number(mn) : 1;
    if ((double)count < min) {
      if (mn) add_error(c, "minContains", "contains %zu matching items, fewer than %g", count, min);
      else add_error(c, "contains", "contains no item that matches");
      ok = 0;
    }
    if (mx && (double)count > js_number(mx))
      add_error(c, "maxContains", "contains %zu matching items, more than %g", count, js_number(mx)), ok = 0;
  }
  return ok;
}

static int eval_object(ctx *c, const js_node *n, const json_t *inst, ann *own) {
  const json_t *o = n->schema, *v;
  const json_t *props = json_object_get(o, "properties");
  const json_t *addl = json_object_get(o, "additionalProperties");
  int ok = 1;
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)inst, key, val) {
    int matched = 0;
    const json_t *ps = props ? json_object_get(props, key) : NULL;
    if (ps) {
      matched = 1;
      if (!sub(c, ps, val, NULL, "properties", key, -1, key, -1)) ok = 0;
    }
    for (size_t i = 0; i < n->n_pattern_props; i++) {
      int m = js_regex_search(n->pattern_codes[i], c->s->mctx, key, strlen(key));
      if (m < 0) {
        size_t km = c->kloc.len;
        js_buf_push_token(&c->kloc, "patternProperties");
        add_error(c, n->pattern_keys[i], "could not be matched within the regular expression limits");
        js_buf_truncate(&c->kloc, km);
        ok = 0;
      } else if (m) {
        matched = 1;
        if (!sub(c, n->pattern_schemas[i], val, NULL, "patternProperties", n->pattern_keys[i], -1, key, -1))
          ok = 0;
      }
    }
    if (!matched && addl) {
      matched = 1;
      if (!sub(c, addl, val, NULL, "additionalProperties", NULL, -1, key, -1)) ok = 0;
    }
    if (matched) ann_prop(own, key);
    if (c->fatal) return 0;
  }
  if ((v = json_object_get(o, "propertyNames"))) {
    json_object_foreach((json_t *)inst, key, val) {
      json_t *name = json_string(key);
      if (!name) abort();
      if (!sub(c, v, name, NULL, "propertyNames", NULL, -1, key, -1)) ok = 0;
      json_decref(name);
    }
  }
  return ok;
}

static int eval_unevaluated(ctx *c, const js_node *n, const json_t *inst, ann *own) {
  const json_t *v;
  int ok = 1;
  if ((v = json_object_get(n->schema, "unevaluatedItems")) && json_is_array(inst)) {
    size_t len = json_array_size(inst);
    for (size_t i = 0; i < len; i++) {
      if (ann_has_item(own, i)) continue;
      if (!sub(c, v, json_array_get(inst, i), NULL, "unevaluatedItems", NULL, -1, NULL, (ssize_t)i)) ok = 0;
      ann_item(own, i, len);
    }
  }
  if ((v = json_object_get(n->schema, "unevaluatedProperties")) && json_is_object(inst)) {
    const char *key;
    json_t *val;
    json_t *seen = json_object();
    if (!seen) abort();
    json_object_foreach((json_t *)inst, key, val) {
      if (ann_has_prop(own, key)) continue;
      if (!sub(c, v, val, NULL, "unevaluatedProperties", NULL, -1, key, -1)) ok = 0;
      json_object_set_new(seen, key, json_true());
    }
    json_object_foreach(seen, key, val) ann_prop(own, key);
    json_decref(seen);
  }
  return ok;
}

static int eval_node(ctx *c, const js_node *n, const json_t *inst, ann *out) {
  int pushed = 0;
  if (!c->n_scope || c->scope[c->n_scope - 1] != n->resource) {
    if (c->n_scope == c->cap_scope) {
      c->cap_scope = c->cap_scope ? c->cap_scope * 2 : 16;
      c->scope = js_realloc(c->scope, c->cap_scope * sizeof *c->scope);
    }
    c->scope[c->n_scope++] = n->resource;
    pushed = 1;
  }
  ann own = {0};
  ann *a = c->s->needs_annotations ? &own : NULL;
  int ok = eval_in_place(c, n, inst, a);
  if (!c->fatal && n->validation && !eval_validation(c, n, inst)) ok = 0;
  if (!c->fatal && !eval_format(c, n, inst)) ok = 0;
  if (!c->fatal && json_is_array(inst) && !eval_array(c, n, inst, a)) ok = 0;
  if (!c->fatal && json_is_object(inst) && !eval_object(c, n, inst, a)) ok = 0;
  if (!c->fatal && a && !eval_unevaluated(c, n, inst, a)) ok = 0;
  if (ok && out) ann_merge(out, a, inst_len(inst));
  ann_free(&own);
  if (pushed) c->n_scope--;
  return ok && !c->fatal;
}

static int eval(ctx *c, const json_t *schema, const json_t *inst, ann *out) {
  if (c->fatal) return 0;
  if (json_is_true(schema)) return 1;
  if (!json_is_object(schema)) {
    add_error(c, NULL, "no value is valid here (the schema is false)");
    return 0;
  }
  const js_node *n = js_ptrmap_get(&c->s->map, schema);
  if (!n) {
    fatal(c, NULL, "internal error: a subschema was not compiled");
    return 0;
  }
  if (++c->steps > c->s->opt.max_eval_steps) {
    fatal(c, NULL, "the evaluation takes more steps than the validator allows");
    return 0;
  }
  if (++c->depth > c->s->opt.max_eval_depth) {
    fatal(c, NULL, "the evaluation nests deeper than the validator allows");
    c->depth--;
    return 0;
  }
  int ok = eval_node(c, n, inst, out);
  c->depth--;
  return ok;
}

int jsonschema_validate(const jsonschema *s, const json_t *instance, json_t **errors) {
  ctx c = {.s = s};
  if (errors) {
    *errors = NULL;
    if (!(c.errors = json_array())) abort();
  }
  js_buf_append(&c.kloc, "", 0);
  js_buf_append(&c.iloc, "", 0);
  int ok = eval(&c, s->root, instance, NULL) && !c.fatal;
  if (c.errors && !ok && c.dropped) {
    char *msg = js_asprintf("%zu more errors left out", c.dropped);
    json_t *more = json_pack("{s:s, s:s, s:s}", "instanceLocation", "", "keywordLocation", "",
                             "error", msg);
    free(msg);
    if (more) json_array_append_new(c.errors, more);
  }
  if (errors && !ok) {
    if (!json_array_size(c.errors))
      json_array_append_new(c.errors, json_pack("{s:s, s:s, s:s}", "instanceLocation", "",
                                                "keywordLocation", "", "error", "is not valid"));
    *errors = c.errors;
  } else {
    json_decref(c.errors);
  }
  free(c.kloc.s);
  free(c.iloc.s);
  free(c.scope);
  free(c.refs);
  return ok;
}
