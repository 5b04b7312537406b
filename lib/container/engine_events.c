/* The engine's event stream: see engine_events.h. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine_events.h"

int engine_events_init(engine_events *e, engine_die_cb on_die, void *arg) {
  memset(e, 0, sizeof *e);
  e->line = malloc(ENGINE_EVENT_LINE_MAX);
  e->on_die = on_die;
  e->arg = arg;
  return e->line ? 0 : -1;
}

void engine_events_clear(engine_events *e) {
  free(e->line);
  e->line = NULL;
}

int engine_event_die(const char *line, size_t len, char *id, size_t idlen, int *exit_code) {
  /* Flat objects a few levels deep: anything deeper is not an event. */
  json_t *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
  int rc = -1;
  const char *type = json_string_value(json_object_get(doc, "Type"));
  const char *action = json_string_value(json_object_get(doc, "Action"));
  json_t *actor = json_object_get(doc, "Actor");
  const char *cid = json_string_value(json_object_get(actor, "ID"));
  const char *code = json_string_value(
      json_object_get(json_object_get(actor, "Attributes"), "exitCode"));
  if (type && action && cid && code && strcmp(type, "container") == 0 &&
      strcmp(action, "die") == 0 && *cid && strlen(cid) < idlen) {
    char *end;
    errno = 0;
    long v = strtol(code, &end, 10);
    if (end != code && !*end && !errno && v >= 0 && v <= 255) {
      memcpy(id, cid, strlen(cid) + 1);
      *exit_code = (int)v;
      rc = 0;
    }
  }
  json_decref(doc);
  return rc;
}

static void one_line(engine_events *e, const char *line, size_t len) {
  char id[128];
  int code;
  if (len > 0 && engine_event_die(line, len, id, sizeof id, &code) == 0)
    e->on_die(e->arg, id, code);
}

void engine_events_feed(engine_events *e, const char *data, size_t len) {
  while (len > 0 && e->line) {
    const char *nl = memchr(data, '\n', len);
    size_t n = nl ? (size_t)(nl - data) : len;
    if (!e->skipping) {
      if (e->len + n > ENGINE_EVENT_LINE_MAX) {
        e->skipping = true;
        e->len = 0;
      } else {
        memcpy(e->line + e->len, data, n);
        e->len += n;
      }
    }
    if (!nl)
      return;
    if (!e->skipping)
      one_line(e, e->line, e->len);
    e->skipping = false;
    e->len = 0;
    data += n + 1;
    len -= n + 1;
  }
}
