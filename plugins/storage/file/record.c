/* See record.h. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <execd/error.h>

#include "record.h"

bool record_id_valid(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > RECORD_ID_MAX || id[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_' &&
        id[i] != '.')
      return false;
  return true;
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int record_parse_time(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, frac_ms = 0;
  const char *p = s;
  if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
      *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
      digits(&p, 2, &sec))
    return -1;
  if (*p == '.') {
    p++;
    int scale = 100, any = 0;
    while (isdigit((unsigned char)*p)) {
      frac_ms += (*p - '0') * scale;
      scale /= 10;
      p++;
      any = 1;
    }
    if (!any)
      return -1;
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
      return -1;
    offset_min = sign * (oh * 60 + om);
  } else {
    return -1;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60)
    return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  time_t t = timegm(&tm);
  *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
  return 0;
}

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
