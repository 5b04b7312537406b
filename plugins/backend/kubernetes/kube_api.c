/* Bounded parsers of the API server's replies; see kube_api.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_api.h"

/* Nesting and element count, scanned over the bytes before jansson
 * builds anything: a deep or huge document costs nothing but this pass. */
static int json_bounds_ok(const char *s, size_t n, char *err, size_t errlen) {
  int depth = 0;
  size_t elements = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
    case '"':
      in_string = true;
      elements++;
      break;
    case '{':
    case '[':
      if (++depth > KUBE_JSON_DEPTH) {
        snprintf(err, errlen, "JSON nested deeper than %d levels", KUBE_JSON_DEPTH);
        return 0;
      }
      elements++;
      break;
    case '}':
    case ']':
      depth--;
      break;
    case ',':
      elements++;
      break;
    default:
      break;
    }
    if (elements > KUBE_JSON_ELEMENTS) {
      snprintf(err, errlen, "JSON with more than %d elements", KUBE_JSON_ELEMENTS);
      return 0;
    }
  }
  return 1;
}

json_t *kube_json_parse(const char *data, size_t len, char *err, size_t errlen) {
  if (len > KUBE_JSON_MAX) {
    snprintf(err, errlen, "reply of %zu bytes is over the %u byte limit", len, KUBE_JSON_MAX);
    return NULL;
  }
  if (!json_bounds_ok(data, len, err, errlen))
    return NULL;
  json_error_t jerr;
  json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc)
    snprintf(err, errlen, "invalid JSON: %s", jerr.text);
  return doc;
}

void kube_lines_reset(kube_lines *l) {
  free(l->buf);
  l->buf = NULL;
  l->len = l->cap = 0;
}

static int lines_append(kube_lines *l, const char *data, size_t n) {
  if (n == 0)
    return 0;
  if (l->len + n > l->max)
    return -1;
  if (l->len + n > l->cap) {
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < l->len + n)
      cap *= 2;
    char *b = realloc(l->buf, cap);
    if (!b)
      return -1;
    l->buf = b;
    l->cap = cap;
  }
  memcpy(l->buf + l->len, data, n);
  l->len += n;
  return 0;
}

int kube_lines_feed(kube_lines *l, const char *data, size_t len,
                    int (*on_line)(void *arg, const char *line, size_t len), void *arg) {
  while (len > 0) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) : len;
    if (lines_append(l, data, take) != 0)
      return -1;
    if (!nl)
      return 0;
    data += take + 1;
    len -= take + 1;
    size_t n = l->len;
    l->len = 0;
    if (n > 0) {
      int rc = on_line(arg, l->buf, n);
      if (rc)
        return rc;
    }
  }
  return 0;
}

static void copy_str(char *dst, size_t size, const json_t *v) {
  const char *s = json_string_value(v);
  snprintf(dst, size, "%s", s ? s : "");
}

static void parse_container_state(const json_t *status, kube_container_state *out) {
  const json_t *state = json_object_get(status, "state");
  const json_t *w = json_object_get(state, "waiting");
  const json_t *r = json_object_get(state, "running");
  const json_t *t = json_object_get(state, "terminated");
  memset(out, 0, sizeof *out);
  if (json_is_object(t)) {
    out->state = KUBE_CS_TERMINATED;
    const json_t *code = json_object_get(t, "exitCode");
    const json_t *sig = json_object_get(t, "signal");
    json_int_t c = json_is_integer(code) ? json_integer_value(code) : -1;
    json_int_t s = json_is_integer(sig) ? json_integer_value(sig) : 0;
    out->exit_code = c < -1 || c > 255 ? -1 : (int)c;
    out->signal = s < 0 || s > 64 ? 0 : (int)s;
    copy_str(out->reason, sizeof out->reason, json_object_get(t, "reason"));
    copy_str(out->message, sizeof out->message, json_object_get(t, "message"));
  } else if (json_is_object(r)) {
    out->state = KUBE_CS_RUNNING;
  } else if (json_is_object(w)) {
    out->state = KUBE_CS_WAITING;
    copy_str(out->reason, sizeof out->reason, json_object_get(w, "reason"));
    copy_str(out->message, sizeof out->message, json_object_get(w, "message"));
  }
}

static void find_container(const json_t *statuses, const char *name, kube_container_state *out) {
  size_t i;
  const json_t *cs;
  memset(out, 0, sizeof *out);
  if (!name || !json_is_array(statuses))
    return;
  json_array_foreach(statuses, i, cs) {
    const char *n = json_string_value(json_object_get(cs, "name"));
    if (n && strcmp(n, name) == 0) {
      parse_container_state(cs, out);
      return;
    }
  }
}

int kube_pod_status_parse(const json_t *pod, const char *init_name, const char *job_name,
                          const char *helper_name, kube_pod_status *out) {
  memset(out, 0, sizeof *out);
  const json_t *meta = json_object_get(pod, "metadata");
  const char *name = json_string_value(json_object_get(meta, "name"));
  if (!json_is_object(pod) || !name || !*name) {
    snprintf(out->reason, sizeof out->reason, "not a pod with a name");
    return -1;
  }
  snprintf(out->name, sizeof out->name, "%s", name);
  copy_str(out->resource_version, sizeof out->resource_version,
           json_object_get(meta, "resourceVersion"));
  out->deleting = json_is_string(json_object_get(meta, "deletionTimestamp"));
  const json_t *status = json_object_get(pod, "status");
  copy_str(out->phase, sizeof out->phase, json_object_get(status, "phase"));
  copy_str(out->reason, sizeof out->reason, json_object_get(status, "reason"));
  copy_str(out->message, sizeof out->message, json_object_get(status, "message"));
  find_container(json_object_get(status, "initContainerStatuses"), init_name, &out->init);
  find_container(json_object_get(status, "containerStatuses"), job_name, &out->job);
  find_container(json_object_get(status, "containerStatuses"), helper_name, &out->helper);
  return 0;
}

int kube_watch_event(const json_t *ev, const char **type, const json_t **object) {
  const char *t = json_string_value(json_object_get(ev, "type"));
  const json_t *o = json_object_get(ev, "object");
  if (!t || !json_is_object(o))
    return -1;
  *type = t;
  *object = o;
  return 0;
}

int kube_status_parse(const json_t *obj, kube_status *out) {
  memset(out, 0, sizeof *out);
  out->exit_code = -1;
  const char *kind = json_string_value(json_object_get(obj, "kind"));
  const char *status = json_string_value(json_object_get(obj, "status"));
  if (!json_is_object(obj) || (kind && strcmp(kind, "Status") != 0) || !status)
    return -1;
  out->success = strcmp(status, "Success") == 0;
  const json_t *code = json_object_get(obj, "code");
  if (json_is_integer(code) && json_integer_value(code) >= 0 && json_integer_value(code) < 1000)
    out->code = (long)json_integer_value(code);
  copy_str(out->reason, sizeof out->reason, json_object_get(obj, "reason"));
  copy_str(out->message, sizeof out->message, json_object_get(obj, "message"));
  const json_t *causes = json_object_get(json_object_get(obj, "details"), "causes");
  size_t i;
  const json_t *c;
  json_array_foreach(causes, i, c) {
    const char *r = json_string_value(json_object_get(c, "reason"));
    const char *m = json_string_value(json_object_get(c, "message"));
    if (r && m && strcmp(r, "ExitCode") == 0) {
      char *end;
      long v = strtol(m, &end, 10);
      if (end != m && *end == '\0' && v >= 0 && v <= 255)
        out->exit_code = (int)v;
    }
  }
  return 0;
}

const char *kube_resource_version(const json_t *obj) {
  return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}
