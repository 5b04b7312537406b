/* The one depth and size check for every JSON text that enters execd from
 * outside: request bodies, output/result.json, the io:"json" stdout
 * envelope and workflow commands.  jansson has no element limit and only a
 * compile-time depth limit (2048, deeper than a record holding such a
 * document can be read back), so the text is scanned first, without
 * building anything, and parsed only when it is within bounds.  Pure: no
 * I/O, no allocation beyond jansson's own. */
#ifndef EXECD_CORE_JSON_BOUNDS_H
#define EXECD_CORE_JSON_BOUNDS_H

#include <stddef.h>

#include <jansson.h>

typedef struct json_bounds {
  size_t depth_max;    /* arrays and objects open at once */
  size_t elements_max; /* values, object keys included */
} json_bounds;

typedef enum json_bounds_fault {
  JSON_BOUNDS_OK = 0,
  JSON_BOUNDS_TOO_DEEP,     /* nesting over depth_max */
  JSON_BOUNDS_TOO_MANY,     /* more than elements_max values */
  JSON_BOUNDS_INVALID       /* within bounds but not JSON (jansson said why) */
} json_bounds_fault;

typedef struct json_bounds_error {
  json_bounds_fault fault;
  size_t offset;        /* byte where the scan stopped (TOO_DEEP, TOO_MANY) */
  json_error_t json;    /* jansson's error (INVALID) */
  char message[200];    /* one sentence naming the limit or the syntax error */
} json_bounds_error;

/* Counts, without parsing, how deep text nests and how many values it
 * holds, stopping at the first bound crossed.  Strings (escapes included)
 * are skipped exactly; text that is not JSON is not diagnosed here (the
 * parser does that), but no text within bounds parses into more depth or
 * elements than counted.  Returns JSON_BOUNDS_OK, _TOO_DEEP or _TOO_MANY;
 * *offset (may be NULL) is where it stopped. */
json_bounds_fault json_bounds_scan(const char *text, size_t len, const json_bounds *b,
                                   size_t *offset);

/* json_loadb(text, len, flags) when text is within b.  Returns a new
 * reference, or NULL with err filled (err->message names the limit, e.g.
 * "nested deeper than 64 levels (at byte 65)"). */
json_t *json_bounds_load(const char *text, size_t len, size_t flags, const json_bounds *b,
                         json_bounds_error *err);

#endif
