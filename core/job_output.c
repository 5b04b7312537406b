/* A job's output: split into lines, workflow commands (progress,
 * checkpoint) taken out, io:"json" stdout kept for the envelope, the rest
 * kept for the result (capped) and appended to the stored log. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pipeline_internal.h"
#include "xalloc.h"

static void keep_log(execution *ex, const char *data, size_t len) {
  int64_t cap = ex->pipeline->cfg->limits.max_log_bytes;
  if ((int64_t)(ex->logs_len + len) > cap) {
    ex->logs_truncated = true;
    len = cap > (int64_t)ex->logs_len ? (size_t)(cap - (int64_t)ex->logs_len) : 0;
  }
  if (!len)
    return;
  char *b = xrealloc(ex->logs, ex->logs_len + len + 1);
  if (!b)
    return;
  memcpy(b + ex->logs_len, data, len);
  ex->logs_len += len;
  b[ex->logs_len] = '\0';
  ex->logs = b;
}

/* Appends to the stored log, except the first log_skip bytes: output a
 * backend replays after a restart that storage kept before it. */
static void store_log(execution *ex, const char *data, size_t len) {
  pipeline *p = ex->pipeline;
  size_t skip = ex->log_skip < len ? (size_t)ex->log_skip : len;
  ex->log_skip -= skip;
  data += skip;
  len -= skip;
  if (!len)
    return;
  int rc = records_log_append(&p->records, ex->id, data, len);
  if (rc == 0)
    ex->log_stored += len;
  else if (rc == EXECD_ETOOBIG && !json_is_true(json_object_get(ex->record, "logs_truncated")))
    /* Storage cut the log at its cap; persisted with the attempt's end. */
    json_object_set_new(ex->record, "logs_truncated", json_true());
}

typedef struct line_ctx {
  execution *ex;
  int stream;
} line_ctx;

static void on_line(void *arg, const char *line, size_t len, int complete) {
  line_ctx *c = arg;
  execution *ex = c->ex;
  pipeline *p = ex->pipeline;
  if (complete) {
    json_t *payload;
    const char *why;
    json_bounds bounds = limits_json_bounds(&p->cfg->limits);
    workflow_kind kind = workflow_parse_line(line, len, &bounds, &payload, &why);
    if (kind == WORKFLOW_PROGRESS) {
      json_object_set(ex->record, "progress", payload);
      execution_publish(ex, EXECD_EVENT_PROGRESS, payload);
      execution_notify_watchers(ex, "progress", payload);
      json_decref(payload);
      return;
    }
    if (kind == WORKFLOW_CHECKPOINT) {
      json_object_set(ex->record, "checkpoint", payload);
      json_decref(payload);
      execution_persist(ex); /* a checkpoint is only useful if it is durable */
      return;
    }
    if (kind == WORKFLOW_INVALID)
      execution_log(EXECD_LOG_INFO, ex, "ignored workflow command: %s", why);
  }
  if (c->stream == EXECD_STREAM_STDOUT &&
      strcmp(json_string_value(json_object_get(execution_spec(ex), "io")), "json") == 0) {
    /* The envelope is read from stdout; logs get stderr only. */
    int64_t cap = p->cfg->limits.max_output_bytes;
    if ((int64_t)(ex->stdout_len + len) <= cap) {
      char *b = xrealloc(ex->stdout_text, ex->stdout_len + len + 1);
      if (b) {
        memcpy(b + ex->stdout_len, line, len);
        ex->stdout_len += len;
        b[ex->stdout_len] = '\0';
        ex->stdout_text = b;
      }
    }
    return;
  }
  keep_log(ex, line, len);
  store_log(ex, line, len);
  if (ex->waiters) {
    json_t *ev = json_pack("{s:s, s:s%}", "stream",
                           c->stream == EXECD_STREAM_STDERR ? "stderr" : "stdout", "data",
                           line, len);
    if (ev)
      execution_notify_watchers(ex, "log", ev);
    json_decref(ev);
  }
}

void pipeline_job_output(execd_job *job, int stream, const char *data, size_t len) {
  execution *ex = job->ex;
  if (stream != EXECD_STREAM_STDERR)
    stream = EXECD_STREAM_STDOUT;
  line_ctx c = {ex, stream};
  line_splitter_feed(&ex->lines[stream], data, len, on_line, &c);
}

void job_output_flush(execution *ex) {
  for (int s = 1; s <= 2; s++) {
    line_ctx c = {ex, s};
    line_splitter_flush(&ex->lines[s], on_line, &c);
  }
}
