/* See json_bounds.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json_bounds.h"

json_bounds_fault json_bounds_scan(const char *text, size_t len, const json_bounds *b,
                                   size_t *offset) {
  size_t depth = 0, elements = 0, i = 0;
  json_bounds_fault fault = JSON_BOUNDS_OK;
  int in_token = 0; /* inside a number or literal */
  while (i < len) {
    unsigned char c = (unsigned char)text[i];
    if (c == '"') {
      /* A string (a value or a key): one element; skip it exactly. */
      in_token = 0;
      if (++elements > b->elements_max) {
        fault = JSON_BOUNDS_TOO_MANY;
        break;
      }
      for (i++; i < len && text[i] != '"'; i++)
        if (text[i] == '\\')
          i++; /* the escaped byte cannot end the string */
      i++;
      continue;
    }
    if (c == '[' || c == '{') {
      in_token = 0;
      if (++depth > b->depth_max) {
        fault = JSON_BOUNDS_TOO_DEEP;
        break;
      }
      if (++elements > b->elements_max) {
        fault = JSON_BOUNDS_TOO_MANY;
        break;
      }
    } else if (c == ']' || c == '}') {
      in_token = 0;
      if (depth)
        depth--;
    } else if (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      in_token = 0;
    } else if (!in_token) {
      /* A number, true, false or null begins. */
      in_token = 1;
      if (++elements > b->elements_max) {
        fault = JSON_BOUNDS_TOO_MANY;
        break;
      }
    }
    i++;
  }
  if (offset)
    *offset = i < len ? i : len;
  return fault;
}

json_t *json_bounds_load(const char *text, size_t len, size_t flags, const json_bounds *b,
                         json_bounds_error *err) {
  memset(err, 0, sizeof *err);
  err->fault = json_bounds_scan(text, len, b, &err->offset);
  if (err->fault == JSON_BOUNDS_TOO_DEEP) {
    snprintf(err->message, sizeof err->message,
             "nested deeper than %zu levels (at byte %zu)", b->depth_max, err->offset);
    return NULL;
  }
  if (err->fault == JSON_BOUNDS_TOO_MANY) {
    snprintf(err->message, sizeof err->message,
             "more than %zu JSON values (at byte %zu)", b->elements_max, err->offset);
    return NULL;
  }
  json_t *doc = json_loadb(text, len, flags, &err->json);
  if (!doc) {
    err->fault = JSON_BOUNDS_INVALID;
    snprintf(err->message, sizeof err->message, "malformed JSON at line %d, column %d: %s",
             err->json.line, err->json.column, err->json.text);
  }
  return doc;
}
