/* The engine's event stream (GET /events: one JSON object a line), read
 * for one thing: a container's "die" event, which dockerd sends once the
 * container's output streams are closed, before it unmounts the
 * container and answers its waiters.  A hint only (an engine skips events
 * for a reader that falls behind): the wait still answers. */
#ifndef EXECD_ENGINE_EVENTS_H
#define EXECD_ENGINE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#define ENGINE_EVENT_LINE_MAX 65536 /* a longer line is skipped */

typedef void (*engine_die_cb)(void *arg, const char *id, int exit_code);

typedef struct engine_events {
  char *line;      /* the line being collected (ENGINE_EVENT_LINE_MAX bytes) */
  size_t len;
  bool skipping;   /* the current line is too long: dropped up to its '\n' */
  engine_die_cb on_die;
  void *arg;
} engine_events;

/* 0, or -1 when out of memory. */
int engine_events_init(engine_events *e, engine_die_cb on_die, void *arg);
void engine_events_clear(engine_events *e);
/* Bytes as they arrived, cut anywhere. */
void engine_events_feed(engine_events *e, const char *data, size_t len);
/* One line: 0 with the container's id (at most idlen - 1 bytes) and exit
 * code if it is a container's die event that has both; -1 otherwise. */
int engine_event_die(const char *line, size_t len, char *id, size_t idlen, int *exit_code);

#endif
