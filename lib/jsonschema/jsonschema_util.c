#define _GNU_SOURCE
/* Allocation, the pointer map, and JSON values compared as JSON Schema
 * compares them. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

static void *oom(void *p) {
  if (!p) {
    fputs("jsonschema: out of memory\n", stderr);
    abort();
  }
  return p;
}
void *js_malloc(size_t n) { return oom(malloc(n ? n : 1)); }
void *js_calloc(size_t n, size_t size) { return oom(calloc(n ? n : 1, size ? size : 1)); }
void *js_realloc(void *p, size_t n) { return oom(realloc(p, n ? n : 1)); }
char *js_strdup(const char *s) { return oom(strdup(s)); }
char *js_strndup(const char *s, size_t n) { return oom(strndup(s, n)); }
char *js_asprintf(const char *fmt, ...) {
  va_list ap;
  char *s = NULL;
  va_start(ap, fmt);
  int rc = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (rc < 0) oom(NULL);
  return s;
}

/* --- pointer map (open addressing, linear probing) ------------------------ */

static size_t slot_of(const void *key, size_t cap) {
  uintptr_t h = (uintptr_t)key;
  h ^= h >> 17;
  h *= (uintptr_t)0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 7) & (cap - 1);
}

js_node *js_ptrmap_get(const js_ptrmap *m, const void *key) {
  if (!m->cap) return NULL;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (!m->keys[i]) return NULL;
    if (m->keys[i] == key) return m->vals[i];
  }
}

void js_ptrmap_put(js_ptrmap *m, const void *key, js_node *val) {
  if ((m->n + 1) * 2 > m->cap) {
    js_ptrmap bigger = {0};
    bigger.cap = m->cap ? m->cap * 2 : 64;
    bigger.keys = js_calloc(bigger.cap, sizeof *bigger.keys);
    bigger.vals = js_calloc(bigger.cap, sizeof *bigger.vals);
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) js_ptrmap_put(&bigger, m->keys[i], m->vals[i]);
    free(m->keys);
    free(m->vals);
    *m = bigger;
  }
  size_t i = slot_of(key, m->cap);
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = key;
  m->vals[i] = val;
}

/* --- numbers and equality ------------------------------------------------- */

int js_is_number(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

double js_number(const json_t *v) { return json_number_value(v); }

int js_is_integral(const json_t *v) {
  if (json_is_integer(v)) return 1;
  if (!json_is_real(v)) return 0;
  double d = json_real_value(v);
  return isfinite(d) && d == floor(d);
}

int js_equal(const json_t *a, const json_t *b) {
  if (js_is_number(a) && js_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) == json_integer_value(b);
    return js_number(a) == js_number(b);
  }
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  case JSON_ARRAY:
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!js_equal(json_array_get(a, i), json_array_get(b, i))) return 0;
    return 1;
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return 0;
    const char *k;
    json_t *va;
    json_object_foreach((json_t *)a, k, va) {
      const json_t *vb = json_object_get(b, k);
      if (!vb || !js_equal(va, vb)) return 0;
    }
    return 1;
  }
  default:
    return 1; /* true, false, null */
  }
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

uint64_t js_hash(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_INTEGER:
  case JSON_REAL: {
    /* 1 and 1.0 are equal: integral values hash as integers. */
    double d = js_number(v);
    if (json_is_integer(v)) return mix(1, (uint64_t)json_integer_value(v));
    if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18) return mix(1, (uint64_t)(int64_t)d);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return mix(2, bits);
  }
  case JSON_STRING: {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)json_string_value(v);
    for (size_t i = 0; i < json_string_length(v); i++) h = (h ^ p[i]) * 1099511628211ull;
    return mix(3, h);
  }
  case JSON_ARRAY: {
    uint64_t h = 4;
    for (size_t i = 0; i < json_array_size(v); i++) h = mix(h, js_hash(json_array_get(v, i)));
    return h;
  }
  case JSON_OBJECT: {
    /* Member order does not matter: a sum of the members' hashes. */
    uint64_t h = 0;
    const char *k;
    json_t *m;
    json_object_foreach((json_t *)v, k, m) {
      uint64_t kh = 1469598103934665603ull;
      for (const unsigned char *p = (const unsigned char *)k; *p; p++) kh = (kh ^ *p) * 1099511628211ull;
      h += mix(kh, js_hash(m));
    }
    return mix(5, h);
  }
  case JSON_TRUE: return 6;
  case JSON_FALSE: return 7;
  default: return 8;
  }
}
