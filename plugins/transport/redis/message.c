/* Request messages from Redis (see message.h). */
#include "config.h"

#include "message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TOKEN_MAX 4096
#define CORRELATION_MAX 256

static int fail(message_error *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(message_error *err, const char *code, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->text, sizeof err->text, fmt, ap);
  va_end(ap);
  err->code = code;
  err->field = field;
  return -1;
}

/* Depth and value count of JSON text without building it: the bytes
 * outside strings that open a value or a container.  Text within both
 * bounds never parses into more. */
static int scan_bounds(const char *s, size_t len, const message_limits *lim, const char *field,
                       message_error *err) {
  size_t depth = 0, values = 0;
  bool in_string = false, value_start = true;
  for (size_t i = 0; i < len; i++) {
    char ch = s[i];
    if (in_string) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_string = false;
      continue;
    }
    switch (ch) {
    case '"':
      in_string = true;
      values++;
      break;
    case '[':
    case '{':
      if (++depth > lim->depth_max)
        return fail(err, "json_too_deep", field, "%s nests deeper than %zu at byte %zu", field,
                    lim->depth_max, i);
      values++;
      value_start = true;
      continue;
    case ']':
    case '}':
      if (depth)
        depth--;
      break;
    case ',':
    case ':':
      value_start = true;
      continue;
    case ' ':
    case '\t':
    case '\r':
    case '\n':
      continue;
    default:
      if (value_start)
        values++;
      break;
    }
    value_start = false;
    if (values > lim->elements_max)
      return fail(err, "json_too_large", field, "%s has more than %zu JSON values", field,
                  lim->elements_max);
  }
  if (values > lim->elements_max)
    return fail(err, "json_too_large", field, "%s has more than %zu JSON values", field,
                lim->elements_max);
  return 0;
}

static json_t *parse_object(const char *text, size_t len, const message_limits *lim,
                            const char *field, message_error *err) {
  if (scan_bounds(text, len, lim, field, err) != 0)
    return NULL;
  json_error_t je;
  json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!v) {
    fail(err, "invalid_json", field, "%s is not JSON: %s (byte %d)", field, je.text, je.position);
    return NULL;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    fail(err, "invalid_request", field, "%s must be a JSON object", field);
    return NULL;
  }
  return v;
}

/* A text member of at most max bytes, no NUL; NULL when absent. */
static int check_text(const char *v, size_t len, size_t max, const char *field,
                      message_error *err) {
  if (len == 0 || len > max || memchr(v, '\0', len))
    return fail(err, "invalid_message", field, "%s must be 1-%zu bytes of text", field, max);
  return 0;
}

/* Adds the correlation id and the idempotency key the request lacks, and
 * turns it into out's body.  Steals req. */
static int finish(json_t *req, const char *correlation_id, const char *idem_key, message *out,
                  message_error *err) {
  json_t *cid = json_object_get(req, "correlation_id");
  if (!cid && correlation_id)
    json_object_set_new(req, "correlation_id", json_string(correlation_id));
  if (!json_object_get(req, "idempotency_key") && idem_key)
    json_object_set_new(req, "idempotency_key", json_string(idem_key));
  cid = json_object_get(req, "correlation_id");
  if (json_is_string(cid))
    out->correlation_id = strdup(json_string_value(cid));
  out->body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (!out->body) {
    message_clear(out);
    return fail(err, "internal", NULL, "out of memory");
  }
  out->len = strlen(out->body);
  return 0;
}

static bool name_is(const char *name, size_t len, const char *want) {
  return len == strlen(want) && memcmp(name, want, len) == 0;
}

int message_from_fields(const char *const *names, const size_t *name_lens,
                        const char *const *values, const size_t *value_lens, size_t n,
                        const char *idem_key, const message_limits *lim, message *out,
                        message_error *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += name_lens[i] + value_lens[i];
  if (total > lim->message_max)
    return fail(err, "message_too_large", NULL, "the message is %zu bytes, over the limit of %zu",
                total, lim->message_max);
  const char *request = NULL, *token = NULL, *cid = NULL;
  size_t request_len = 0, token_len = 0, cid_len = 0;
  for (size_t i = 0; i < n; i++) {
    const char **slot;
    size_t *slot_len;
    if (name_is(names[i], name_lens[i], "request"))
      slot = &request, slot_len = &request_len;
    else if (name_is(names[i], name_lens[i], "token"))
      slot = &token, slot_len = &token_len;
    else if (name_is(names[i], name_lens[i], "correlation_id"))
      slot = &cid, slot_len = &cid_len;
    else
      return fail(err, "invalid_message", NULL,
                  "unknown field '%.64s' (a message has request, token, correlation_id)",
                  names[i]);
    if (*slot)
      return fail(err, "invalid_message", NULL, "field '%.64s' appears twice", names[i]);
    *slot = values[i];
    *slot_len = value_lens[i];
  }
  if (!request)
    return fail(err, "invalid_message", "request", "the message has no 'request' field");
  if (token && check_text(token, token_len, TOKEN_MAX, "token", err) != 0)
    return -1;
  if (cid && check_text(cid, cid_len, CORRELATION_MAX, "correlation_id", err) != 0)
    return -1;
  json_t *req = parse_object(request, request_len, lim, "request", err);
  if (!req)
    return -1;
  char *cid_text = cid ? strndup(cid, cid_len) : NULL;
  if (token && !(out->token = strndup(token, token_len))) {
    free(cid_text);
    json_decref(req);
    return fail(err, "internal", NULL, "out of memory");
  }
  int rc = finish(req, cid_text, idem_key, out, err);
  free(cid_text);
  return rc;
}

int message_from_payload(const char *payload, size_t len, const message_limits *lim,
                         message *out, message_error *err) {
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  if (len > lim->message_max)
    return fail(err, "message_too_large", NULL, "the message is %zu bytes, over the limit of %zu",
                len, lim->message_max);
  json_t *doc = parse_object(payload, len, lim, "message", err);
  if (!doc)
    return -1;
  json_t *req = json_object_get(doc, "request");
  if (!req) /* the request itself */
    return finish(doc, NULL, NULL, out, err);
  const char *k;
  json_t *v;
  json_object_foreach(doc, k, v) {
    if (strcmp(k, "request") && strcmp(k, "token") && strcmp(k, "correlation_id")) {
      fail(err, "invalid_message", NULL,
           "unknown member '%.64s' (an envelope has request, token, correlation_id)", k);
      json_decref(doc);
      return -1;
    }
  }
  json_t *token = json_object_get(doc, "token"), *cid = json_object_get(doc, "correlation_id");
  int rc = 0;
  if (!json_is_object(req))
    rc = fail(err, "invalid_request", "request", "request must be a JSON object");
  else if (token && (!json_is_string(token) ||
                     check_text(json_string_value(token), json_string_length(token), TOKEN_MAX,
                                "token", err) != 0))
    rc = err->code ? -1 : fail(err, "invalid_message", "token", "token must be a string");
  else if (cid && (!json_is_string(cid) ||
                   check_text(json_string_value(cid), json_string_length(cid), CORRELATION_MAX,
                              "correlation_id", err) != 0))
    rc = err->code ? -1
                   : fail(err, "invalid_message", "correlation_id", "correlation_id must be a string");
  if (rc == 0 && token && !(out->token = strdup(json_string_value(token))))
    rc = fail(err, "internal", NULL, "out of memory");
  if (rc == 0) {
    json_incref(req);
    rc = finish(req, cid ? json_string_value(cid) : NULL, NULL, out, err);
  }
  json_decref(doc);
  if (rc)
    message_clear(out);
  return rc;
}

void message_clear(message *m) {
  if (m->token)
    memset(m->token, 0, strlen(m->token));
  free(m->body);
  free(m->token);
  free(m->correlation_id);
  memset(m, 0, sizeof *m);
}
