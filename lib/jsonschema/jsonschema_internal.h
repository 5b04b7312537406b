/* Internals of lib/jsonschema shared by its files. */
#ifndef EXECD_JSONSCHEMA_INTERNAL_H
#define EXECD_JSONSCHEMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include "jsonschema/jsonschema.h"

/* Allocation failures abort, as everywhere in execd: none returns NULL. */
void *js_malloc(size_t n);
void *js_calloc(size_t n, size_t size);
void *js_realloc(void *p, size_t n);
char *js_strdup(const char *s);
char *js_strndup(const char *s, size_t n);
char *js_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable string (JSON Pointers under construction). */
typedef struct js_buf {
  char *s;
  size_t len, cap;
} js_buf;
void js_buf_append(js_buf *b, const char *s, size_t n);
/* Appends "/" and the escaped token (~0, ~1). */
void js_buf_push_token(js_buf *b, const char *token);
void js_buf_push_index(js_buf *b, size_t i);
void js_buf_truncate(js_buf *b, size_t len);

/* RFC 3986 reference resolution: a new string.  */
char *js_uri_resolve(const char *base, const char *ref);
/* Splits uri at '#': *abs receives a new string without the fragment,
 * *frag a new string of the percent-decoded fragment (NULL if none). */
void js_uri_split(const char *uri, char **abs, char **frag);

/* Compiled subschema (one per schema object). */
typedef struct js_node {
  size_t index;              /* in jsonschema.nodes */
  const json_t *schema;      /* borrowed from a document the compiled schema keeps */
  const char *base;          /* absolute base URI (owned by the compiled schema) */
  const struct js_node *resource; /* root of the schema resource it is in */
  const json_t *ref;         /* $ref target */
  const json_t *dynref;      /* $dynamicRef initial target */
  char *dynref_name;         /* set when the $dynamicRef is dynamic (bookended) */
  const char *dynamic_anchor;/* this node's $dynamicAnchor */
  pcre2_code *pattern;
  size_t n_pattern_props;
  const char **pattern_keys; /* borrowed keys of patternProperties */
  const json_t **pattern_schemas;
  pcre2_code **pattern_codes;
  unsigned validation : 1;   /* the validation vocabulary applies */
  unsigned format_assertion : 1;
} js_node;

/* Pointer map: schema object -> node. */
typedef struct js_ptrmap {
  const void **keys;
  js_node **vals;
  size_t cap, n;
} js_ptrmap;
js_node *js_ptrmap_get(const js_ptrmap *m, const void *key);
void js_ptrmap_put(js_ptrmap *m, const void *key, js_node *val);

struct jsonschema {
  json_t *root;          /* the schema compiled */
  json_t *docs;          /* array: remote documents it uses (references) */
  js_ptrmap map;         /* every schema object */
  js_node **nodes;       /* owned */
  size_t n_nodes, cap_nodes;
  char **strings;        /* owned base URIs */
  size_t n_strings, cap_strings;
  json_t *dynamic;       /* "base#name" -> integer index of node with $dynamicAnchor */
  int needs_annotations; /* unevaluatedItems/unevaluatedProperties appear */
  jsonschema_options opt;
  pcre2_match_context *mctx;
};

/* Compiles an ECMA-262 style pattern; NULL and err set on error. */
pcre2_code *js_regex_compile(const char *pattern, char *err, size_t errlen);
/* 1 match, 0 no match, -1 the match gave up (resource limits). */
int js_regex_search(const pcre2_code *re, const pcre2_match_context *mctx, const char *s,
                    size_t len);

/* Numbers and equality as JSON Schema defines them (1 == 1.0). */
int js_is_number(const json_t *v);
double js_number(const json_t *v);
int js_is_integral(const json_t *v);
int js_equal(const json_t *a, const json_t *b);
/* A hash consistent with js_equal (equal values hash alike). */
uint64_t js_hash(const json_t *v);

#endif
