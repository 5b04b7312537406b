/* Workflow commands a job prints on its output (doc/architecture.md,
 * "The job's I/O contract"):
 *   ::execd::progress {"percent": 40, "message": "..."}
 *   ::execd::checkpoint {"token": "step-2", "data": {...}}
 * and the line splitter that finds them in a byte stream. */
#ifndef EXECD_CORE_WORKFLOW_H
#define EXECD_CORE_WORKFLOW_H

#include <stddef.h>

#include <jansson.h>

#include "json_bounds.h"

#define WORKFLOW_PREFIX "::execd::"
#define WORKFLOW_MAX_LINE (64 * 1024)

typedef enum workflow_kind {
  WORKFLOW_NONE,      /* an ordinary log line */
  WORKFLOW_PROGRESS,  /* payload: {"percent": 0..100, "message": string?} */
  WORKFLOW_CHECKPOINT,/* payload: {"token": string, "data": any} */
  WORKFLOW_INVALID    /* looked like a command but was malformed */
} workflow_kind;

/* Classify one line (without its newline).  Its JSON argument must be
 * within the bounds b (NULL: the defaults of daemon.limits).  For PROGRESS
 * and CHECKPOINT, *payload is a new reference; for INVALID, *why says what
 * is wrong. */
workflow_kind workflow_parse_line(const char *line, size_t len, const json_bounds *b,
                                  json_t **payload, const char **why);

/* Splits a byte stream into lines; lines longer than WORKFLOW_MAX_LINE are
 * cut into pieces (a piece is never a workflow command). */
typedef struct line_splitter {
  char *buf;
  size_t len, cap;
  int overlong; /* the current line already exceeded the maximum */
} line_splitter;

typedef void (*line_cb)(void *arg, const char *line, size_t len, int complete);
void line_splitter_feed(line_splitter *s, const char *data, size_t len, line_cb cb,
                        void *arg);
/* Emit what is left (a last line without newline). */
void line_splitter_flush(line_splitter *s, line_cb cb, void *arg);
void line_splitter_free(line_splitter *s);

#endif
