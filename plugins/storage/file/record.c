/* See record.h. */
#include "config.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <execd/error.h>

#include "record.h"

static int optional_string(const json_t *rec, const char *key,
                           const char **out, char *err, size_t errlen) {
  const json_t *v = json_object_get(rec, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    snprintf(err, errlen, "record member \"%s\" must be a string or null", key);
    return EXECD_EINVAL;
  }
  *out = json_string_value(v);
  return 0;
}

static int required_string(const json_t *rec, const char *key,
                           const char **out, char *err, size_t errlen) {
  const json_t *v = json_object_get(rec, key);
  if (!json_is_string(v)) {
    snprintf(err, errlen, "record member \"%s\" is missing or not a string",
             key);
    return EXECD_EINVAL;
  }
  *out = json_string_value(v);
  return 0;
}

int record_fields_get(const json_t *rec, record_fields *f, char *err,
                      size_t errlen) {
  memset(f, 0, sizeof *f);
  if (!json_is_object(rec)) {
    snprintf(err, errlen, "a record must be a JSON object");
    return EXECD_EINVAL;
  }
  int rc;
  if ((rc = required_string(rec, "id", &f->id, err, errlen)) ||
      (rc = required_string(rec, "tenant", &f->tenant, err, errlen)) ||
      (rc = required_string(rec, "state", &f->state, err, errlen)) ||
      (rc = optional_string(rec, "agent", &f->agent, err, errlen)) ||
      (rc = optional_string(rec, "idempotency_key", &f->idem_key, err, errlen)))
    return rc;
  if (!record_id_valid(f->id)) {
    snprintf(err, errlen,
             "record id \"%.80s\" is not 1-%d characters of [A-Za-z0-9._-] "
             "not starting with a dot",
             f->id, RECORD_ID_MAX);
    return EXECD_EINVAL;
  }
  const json_t *labels = json_object_get(rec, "labels");
  if (labels && !json_is_null(labels)) {
    if (!json_is_object(labels)) {
      snprintf(err, errlen, "record member \"labels\" must be an object");
      return EXECD_EINVAL;
    }
    f->labels = labels;
  }
  const json_t *ts = json_object_get(rec, "timestamps");
  const json_t *created = json_is_object(ts) ? json_object_get(ts, "created") : NULL;
  if (created && !json_is_null(created)) {
    if (!json_is_string(created) ||
        record_parse_time(json_string_value(created), &f->created_ms) != 0) {
      snprintf(err, errlen,
               "record member \"timestamps.created\" is not an RFC 3339 time");
      return EXECD_EINVAL;
    }
    f->has_created = true;
  }
  return 0;
}

char *record_payload(const json_t *rec, const record_fields *f, size_t *len) {
  const json_t *created =
      json_object_get(json_object_get(rec, "timestamps"), "created");
  json_t *meta = json_pack(
      "{s:s, s:s, s:s, s:s?, s:s?, s:O?, s:{s:O?}}", "id", f->id, "tenant",
      f->tenant, "state", f->state, "agent", f->agent, "idempotency_key",
      f->idem_key, "labels", f->labels, "timestamps", "created", created);
  char *head = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
  char *body = json_dumps(rec, JSON_COMPACT);
  json_decref(meta);
  char *out = NULL;
  if (head && body) {
    /* Compact JSON holds no raw newline: it separates the two. */
    size_t h = strlen(head), b = strlen(body);
    out = malloc(h + 1 + b + 1);
    if (out) {
      memcpy(out, head, h);
      out[h] = '\n';
      memcpy(out + h + 1, body, b + 1);
      *len = h + 1 + b;
    }
  }
  free(head);
  free(body);
  return out;
}

int record_payload_split(const char *payload, size_t len, size_t *meta_len,
                         const char **body, size_t *body_len) {
  const char *nl = memchr(payload, '\n', len);
  if (!nl)
    return -1;
  *meta_len = (size_t)(nl - payload);
  *body = nl + 1;
  *body_len = len - *meta_len - 1;
  return 0;
}
