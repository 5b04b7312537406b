/* A JSON Schema draft 2020-12 validator on jansson.
 *
 * A schema is compiled once (jsonschema_compile) into an immutable object
 * that any number of validations may then share, from any thread.  The
 * compile step checks the schema itself (keyword types, patterns, $ref
 * targets) and reports the first problem with its JSON Pointer; remote
 * documents ($ref to another URI) come only from a registry the caller
 * fills, never from the network.
 *
 * Errors of a validation are the "basic" output format of the
 * specification: an array of
 *   {"instanceLocation": "/a/0", "keywordLocation": "/properties/a/items/type",
 *    "error": "..."}
 * where both locations are JSON Pointers. */
#ifndef EXECD_JSONSCHEMA_H
#define EXECD_JSONSCHEMA_H

#include <stddef.h>
#include <jansson.h>

/* The URI of the draft 2020-12 metaschema. */
#define JSONSCHEMA_DRAFT2020_12 "https://json-schema.org/draft/2020-12/schema"

/* Documents a schema may $ref by absolute URI (remote schemas, metaschemas). */
typedef struct jsonschema_registry jsonschema_registry;

jsonschema_registry *jsonschema_registry_new(void);
void jsonschema_registry_free(jsonschema_registry *reg);
/* Adds doc under uri (absolute, without fragment); takes a new reference
 * to doc.  Returns 0, or -1 if uri is empty or too long. */
int jsonschema_registry_add(jsonschema_registry *reg, const char *uri, json_t *doc);
/* Borrowed; NULL if absent. */
json_t *jsonschema_registry_get(const jsonschema_registry *reg, const char *uri);

typedef struct jsonschema_options {
  int format_assertion;    /* 1: "format" is an assertion; 0: an annotation */
  size_t max_schema_depth; /* nesting of subschemas; 0: 128 */
  size_t max_schema_nodes; /* subschemas in all, remote ones included; 0: 20000 */
  size_t max_eval_depth;   /* nested evaluations ($ref chains too); 0: 256 */
  size_t max_errors;       /* errors kept per validation; 0: 64 */
  size_t max_eval_steps;   /* subschema evaluations per validation; 0: 10000000 */
} jsonschema_options;

typedef struct jsonschema jsonschema;

/* Compiles schema (an object or a boolean) under options (NULL: defaults)
 * with remote documents from reg (NULL: none; only read during the call).
 * Keeps a reference to schema and to the registry documents it uses.
 * On error returns NULL and writes "<JSON Pointer>: <what is wrong>" to err. */
jsonschema *jsonschema_compile(json_t *schema, const jsonschema_options *options,
                               const jsonschema_registry *reg, char *err, size_t errlen);
void jsonschema_free(jsonschema *s);

/* Validates instance.  Returns 1 if valid, 0 if not.  If errors is not
 * NULL it receives a new array of the basic output units when invalid
 * (NULL when valid); at most max_errors are kept, the last one saying how
 * many were left out. */
int jsonschema_validate(const jsonschema *s, const json_t *instance, json_t **errors);

/* Checks value against a format ("date-time", "date", "time", "email",
 * "hostname", "ipv4", "ipv6", "uri", "uuid", "regex", ...).  Returns 1 if
 * valid or the format is unknown, 0 if not. */
int jsonschema_format_check(const char *format, const char *value, size_t len);

#endif
