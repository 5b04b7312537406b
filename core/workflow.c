#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "workflow.h"
#include "xalloc.h"

workflow_kind workflow_parse_line(const char *line, size_t len, const json_bounds *b,
                                  json_t **payload, const char **why) {
  const size_t plen = sizeof WORKFLOW_PREFIX - 1;
  *payload = NULL;
  *why = NULL;
  while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  if (len < plen || memcmp(line, WORKFLOW_PREFIX, plen) != 0)
    return WORKFLOW_NONE;
  const char *cmd = line + plen;
  size_t rest = len - plen;
  const char *space = memchr(cmd, ' ', rest);
  size_t cmdlen = space ? (size_t)(space - cmd) : rest;
  workflow_kind kind;
  if (cmdlen == 8 && memcmp(cmd, "progress", 8) == 0)
    kind = WORKFLOW_PROGRESS;
  else if (cmdlen == 10 && memcmp(cmd, "checkpoint", 10) == 0)
    kind = WORKFLOW_CHECKPOINT;
  else {
    *why = "unknown workflow command (known: progress, checkpoint)";
    return WORKFLOW_INVALID;
  }
  if (!space) {
    *why = "missing JSON argument";
    return WORKFLOW_INVALID;
  }
  json_bounds defaults = limits_json_bounds(NULL);
  json_bounds_error je;
  json_t *doc = json_bounds_load(space + 1, len - plen - cmdlen - 1, 0, b ? b : &defaults, &je);
  if (!doc && je.fault == JSON_BOUNDS_TOO_DEEP) {
    *why = "argument nests deeper than daemon.limits.json_depth_max";
    return WORKFLOW_INVALID;
  }
  if (!doc && je.fault == JSON_BOUNDS_TOO_MANY) {
    *why = "argument holds more values than daemon.limits.json_elements_max";
    return WORKFLOW_INVALID;
  }
  if (!json_is_object(doc)) {
    json_decref(doc);
    *why = "argument is not a JSON object";
    return WORKFLOW_INVALID;
  }
  if (kind == WORKFLOW_PROGRESS) {
    json_t *pct = json_object_get(doc, "percent");
    json_t *msg = json_object_get(doc, "message");
    if (!json_is_number(pct) || json_number_value(pct) < 0 ||
        json_number_value(pct) > 100 || (msg && !json_is_string(msg))) {
      json_decref(doc);
      *why = "progress needs \"percent\" from 0 to 100 and an optional string \"message\"";
      return WORKFLOW_INVALID;
    }
  } else {
    json_t *tok = json_object_get(doc, "token");
    if (!json_is_string(tok) || json_string_length(tok) == 0 ||
        json_string_length(tok) > 256) {
      json_decref(doc);
      *why = "checkpoint needs a string \"token\" of 1 to 256 bytes";
      return WORKFLOW_INVALID;
    }
    if (!json_object_get(doc, "data"))
      json_object_set_new(doc, "data", json_null());
  }
  *payload = doc;
  return kind;
}

static void grow(line_splitter *s, size_t need) {
  if (s->cap >= need)
    return;
  size_t cap = s->cap ? s->cap : 256;
  while (cap < need)
    cap *= 2;
  s->buf = xrealloc(s->buf, cap);
  s->cap = cap;
}

void line_splitter_feed(line_splitter *s, const char *data, size_t len, line_cb cb,
                        void *arg) {
  while (len) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) + 1 : len;
    if (s->len + take > WORKFLOW_MAX_LINE) {
      /* Cut an overlong line: emit what we have as an incomplete piece. */
      size_t room = WORKFLOW_MAX_LINE - s->len;
      grow(s, s->len + room);
      memcpy(s->buf + s->len, data, room);
      s->len += room;
      cb(arg, s->buf, s->len, 0);
      s->len = 0;
      s->overlong = 1;
      data += room;
      len -= room;
      continue;
    }
    grow(s, s->len + take);
    memcpy(s->buf + s->len, data, take);
    s->len += take;
    data += take;
    len -= take;
    if (nl) {
      cb(arg, s->buf, s->len, !s->overlong);
      s->len = 0;
      s->overlong = 0;
    }
  }
}

void line_splitter_flush(line_splitter *s, line_cb cb, void *arg) {
  if (s->len)
    cb(arg, s->buf, s->len, !s->overlong);
  s->len = 0;
  s->overlong = 0;
}

void line_splitter_free(line_splitter *s) {
  free(s->buf);
  memset(s, 0, sizeof *s);
}
