/* See row.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "row.h"

/* A string member kept in a column: no NUL (PostgreSQL text cannot hold
 * one), at most ROW_KEY_MAX bytes. */
static int column_string(const json_t *rec, const char *key, bool required,
                         const char **out, char *err, size_t errlen) {
  const json_t *v = json_object_get(rec, key);
  *out = NULL;
  if (!required && (!v || json_is_null(v)))
    return 0;
  if (!json_is_string(v)) {
    snprintf(err, errlen, required ? "record member \"%s\" is missing or not a string"
                                   : "record member \"%s\" must be a string or null",
             key);
    return EXECD_EINVAL;
  }
  size_t n = json_string_length(v);
  if (n > ROW_KEY_MAX) {
    snprintf(err, errlen, "record member \"%s\" is %zu bytes, over the %d the "
             "storage indexes", key, n, ROW_KEY_MAX);
    return EXECD_EINVAL;
  }
  if (memchr(json_string_value(v), '\0', n)) {
    snprintf(err, errlen, "record member \"%s\" contains a NUL character", key);
    return EXECD_EINVAL;
  }
  *out = json_string_value(v);
  return 0;
}

int row_fields_get(const json_t *rec, row_fields *f, char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  if (!json_is_object(rec)) {
    snprintf(err, errlen, "a record must be a JSON object");
    return EXECD_EINVAL;
  }
  int rc;
  if ((rc = column_string(rec, "id", true, &f->id, err, errlen)) ||
      (rc = column_string(rec, "tenant", true, &f->tenant, err, errlen)) ||
      (rc = column_string(rec, "state", true, &f->state, err, errlen)) ||
      (rc = column_string(rec, "agent", false, &f->agent, err, errlen)) ||
      (rc = column_string(rec, "idempotency_key", false, &f->idem_key, err, errlen)))
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
    const char *k;
    size_t klen;
    json_t *v;
    void *tmp;
    json_object_keylen_foreach_safe((json_t *)labels, tmp, k, klen, v) {
      if (memchr(k, '\0', klen) ||
          (json_is_string(v) &&
           memchr(json_string_value(v), '\0', json_string_length(v)))) {
        snprintf(err, errlen, "record member \"labels\" contains a NUL character");
        return EXECD_EINVAL;
      }
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
  if ((rc = column_string(rec, "backend", false, &f->backend, err, errlen)))
    return rc;
  const json_t *prio = json_object_get(rec, "priority");
  if (json_is_integer(prio))
    f->priority = json_integer_value(prio) > 1000000   ? 1000000
                  : json_integer_value(prio) < -1000000 ? -1000000
                                                        : (int)json_integer_value(prio);
  const json_t *lease = json_object_get(rec, "lease");
  const json_t *token = json_is_object(lease) ? json_object_get(lease, "token") : NULL;
  if (lease && !json_is_null(lease) && !json_is_integer(token)) {
    snprintf(err, errlen, "record member \"lease\" must be an object with an integer "
             "\"token\"");
    return EXECD_EINVAL;
  }
  if (token) {
    f->has_token = true;
    f->lease_token = json_integer_value(token);
  }
  const json_t *retry_at = json_object_get(rec, "retry_at");
  if (json_is_string(retry_at) &&
      record_parse_time(json_string_value(retry_at), &f->retry_at_ms) == 0)
    f->has_retry_at = true;
  return 0;
}

char *row_labels_json(const row_fields *f) {
  json_t *o = json_object();
  if (!o)
    return NULL;
  if (f->labels) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f->labels, k, v) {
      if (json_is_string(v))
        json_object_set(o, k, v);
    }
  }
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

json_t *row_decode(const char *id, const char *doc, size_t len, char *err,
                   size_t errlen) {
  if (len > ROW_DOC_MAX) {
    snprintf(err, errlen, "stored record is %zu bytes, over %u", len, ROW_DOC_MAX);
    return NULL;
  }
  json_error_t jerr;
  json_t *rec = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!rec) {
    snprintf(err, errlen, "stored record is not JSON: %s (at byte %d)", jerr.text,
             jerr.position);
    return NULL;
  }
  row_fields f;
  char why[256];
  if (row_fields_get(rec, &f, why, sizeof why) != 0) {
    snprintf(err, errlen, "stored record: %s", why);
    json_decref(rec);
    return NULL;
  }
  if (strcmp(f.id, id) != 0) {
    snprintf(err, errlen, "stored record has id \"%s\", its row \"%.80s\"", f.id, id);
    json_decref(rec);
    return NULL;
  }
  return rec;
}
