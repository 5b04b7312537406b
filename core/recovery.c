/* Recovery after a restart of execd: unfinished executions are loaded
 * from storage and put back where their state says; attempts that were
 * running are adopted through their backend when it can. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "log.h"
#include "pipeline_internal.h"
#include "workspace.h"
#include "xalloc.h"

/* Recovery reads every unfinished record, page by page and state by state.
 * Per execution that ran before, it first measures the stored log (where an
 * adopted attempt's replayed output continues).  An attempt that was
 * running is adopted (re-attached to through the backend's adopt op) when
 * its backend can, else it ends as interrupted (daemon_restart) and is
 * retried per its policy.  Recovery is over when every page is read and
 * every such step is done; then backends hear adopt_done() and may remove
 * what nobody adopted. */
struct recover_ctx {
  pipeline *pipeline;
  void (*cb)(void *arg, int status);
  void *arg;
  int state_index;
  char *cursor;
  bool listed;      /* every page has been read */
  unsigned pending; /* executions whose log count or adopt is under way */
  unsigned resumed, adopted, failed;
};

static const exec_state recover_states[] = {STATE_RUNNING, STATE_STARTING, STATE_RETRY_WAIT,
                                            STATE_QUEUED};

static void recover_next(recover_ctx *c);

/* The end of recovery: workspaces of the last run that no adopted
 * attempt uses are removed (thread pool) before anything new starts. */
typedef struct sweep_work {
  uv_work_t req;
  recover_ctx *c;
  char dir[4096];
  char **keep; /* NULL-terminated basenames; owned */
} sweep_work;

static void recovery_complete(recover_ctx *c);

static void sweep_run(uv_work_t *req) {
  sweep_work *w = req->data;
  int rc = workspace_sweep(w->dir, (const char *const *)w->keep);
  if (rc)
    log_warn("removing workspaces left by the last run in %s: %s", w->dir, strerror(-rc));
}

static void sweep_done(uv_work_t *req, int status) {
  sweep_work *w = req->data;
  (void)status;
  recover_ctx *c = w->c;
  for (char **k = w->keep; *k; k++)
    free(*k);
  free(w->keep);
  free(w);
  recovery_complete(c);
}

static void recovery_finish(recover_ctx *c) {
  pipeline *p = c->pipeline;
  size_t n = 0, i = 0;
  execution *ex;
  RB_FOREACH(ex, exec_tree, &p->active) n++;
  sweep_work *w = xcalloc(1, sizeof *w);
  char **keep = xcalloc(n + 1, sizeof *keep);
  if (!w || !keep) {
    free(w);
    free(keep);
    log_warn("recovery: out of memory; workspaces of the last run are left in place");
    recovery_complete(c);
    return;
  }
  RB_FOREACH(ex, exec_tree, &p->active) {
    const char *slash = ex->workspace ? strrchr(ex->workspace, '/') : NULL;
    if (slash && (keep[i] = xstrdup(slash + 1)) != NULL)
      i++;
  }
  w->c = c;
  w->keep = keep;
  w->req.data = w;
  snprintf(w->dir, sizeof w->dir, "%s/work", p->cfg->state_dir);
  uv_queue_work(p->loop, &w->req, sweep_run, sweep_done);
}

static void recovery_complete(recover_ctx *c) {
  pipeline *p = c->pipeline;
  p->recovery = NULL;
  for (size_t i = 0; i < p->n_backends; i++) {
    const execd_backend_ops *ops = p->backends[i].ops;
    if (EXECD_BACKEND_HAS(ops, adopt_done))
      ops->adopt_done(p->backends[i].inst->self);
  }
  if (c->resumed || c->adopted || c->failed)
    log_notice("recovery: resumed %u executions, re-attached to %u running attempts, %u "
               "interrupted by the restart",
               c->resumed, c->adopted, c->failed);
  c->cb(c->arg, 0);
  free(c->cursor);
  free(c);
  pipeline_schedule(p);
}

void recovery_step_done(pipeline *p) {
  recover_ctx *c = p->recovery;
  if (!c) /* recovery already failed */
    return;
  c->pending--;
  if (c->listed && c->pending == 0)
    recovery_finish(c);
}

/* Puts a recovered execution back where its state says. */
static void recover_dispatch(recover_ctx *c, execution *ex) {
  pipeline *p = c->pipeline;
  switch (ex->state) {
  case STATE_RUNNING:
  case STATE_STARTING: {
    ex->backend->running++; /* attempt_finish gives it back */
    p->running++;
    if (EXECD_BACKEND_HAS(ex->backend->ops, adopt)) {
      c->adopted++;
      c->pending++;
      json_int_t start = json_integer_value(json_object_get(ex->record, "log_start"));
      ex->log_skip = ex->log_stored > (uint64_t)start ? ex->log_stored - (uint64_t)start : 0;
      if (ex->log_skip)
        execution_log(EXECD_LOG_INFO, ex,
                      "storage holds %llu bytes of the attempt's output; the rest of its "
                      "replay is stored after them",
                      (unsigned long long)ex->log_skip);
      attempt_prepare(ex, true);
      break;
    }
    c->failed++;
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         EXECD_ERR_DAEMON_RESTART, "error_message",
                         "execd restarted while the execution was running", "retryable", 1);
    attempt_finish(ex);
    break;
  }
  case STATE_RETRY_WAIT: {
    int64_t at = 0;
    ids_parse_time(json_string_value(json_object_get(ex->record, "retry_at")), &at);
    int64_t delay = at - ids_now_ms();
    uv_timer_start(&ex->timer, attempt_retry_timer, (uint64_t)(delay > 1 ? delay : 1), 0);
    c->resumed++;
    break;
  }
  default:
    scheduler_push(&p->sched, &ex->queue);
    execution_rest(ex);
    c->resumed++;
  }
}

/* Measuring the stored log of a recovered execution, a chunk at a time. */
typedef struct log_count {
  execution *ex;
  uint64_t offset;
} log_count;

#define LOG_COUNT_CHUNK (1u << 20)

static void on_log_chunk(void *arg, int status, const char *data, size_t len,
                         uint64_t next_offset) {
  log_count *k = arg;
  execution *ex = k->ex;
  pipeline *p = ex->pipeline;
  (void)data;
  if (status == 0 && len > 0) {
    k->offset = next_offset;
    if (records_log_read(&p->records, ex->id, k->offset, LOG_COUNT_CHUNK, on_log_chunk,
                         k) == 0)
      return;
  } else if (status != 0) {
    execution_log(EXECD_LOG_WARNING, ex,
                  "reading its stored log failed (%s: %s); a re-attached attempt's output may "
                  "be stored twice",
                  execd_strerror(status), records_take_error(&p->records, k, "no detail"));
  }
  ex->log_stored = k->offset;
  free(k);
  if (p->recovery)
    recover_dispatch(p->recovery, ex);
  execution_unref(ex);
  recovery_step_done(p);
}

static void recover_one(recover_ctx *c, json_t *record) {
  pipeline *p = c->pipeline;
  const char *id = json_string_value(json_object_get(record, "id"));
  if (!id || pipeline_find(p, id))
    return;
  execution *ex = execution_new(p, record);
  if (!ex) {
    log_execution(EXECD_LOG_ERR, id, json_string_value(json_object_get(record, "tenant")),
                  "its backend '%s' is no longer configured; marking it failed",
                  json_string_value(json_object_get(record, "backend")));
    /* Keep it visible as failed without an execution in memory. */
    json_t *copy = json_deep_copy(record);
    const char *state = json_string_value(json_object_get(record, "state"));
    json_object_set_new(copy, "state", json_string("FAILED"));
    json_object_set_new(copy, "error", json_pack("{s:s, s:s}", "code", "backend_unavailable",
                                                 "message", "the backend is no longer configured"));
    records_update(&p->records, copy, state, NULL, NULL);
    json_decref(copy);
    return;
  }
  if (json_integer_value(json_object_get(record, "attempts")) > 0) {
    log_count *k = xcalloc(1, sizeof *k);
    if (k) {
      k->ex = ex;
      execution_ref(ex);
      if (records_log_read(&p->records, ex->id, 0, LOG_COUNT_CHUNK, on_log_chunk, k) == 0) {
        c->pending++;
        return;
      }
      free(k);
      execution_unref(ex);
    }
  }
  recover_dispatch(c, ex);
}

static void recovery_failed(recover_ctx *c, int status) {
  c->pipeline->recovery = NULL;
  c->cb(c->arg, status);
  free(c->cursor);
  free(c);
}

static void on_recover_page(void *arg, int status, json_t *page, const char *next) {
  recover_ctx *c = arg;
  if (status != 0) {
    log_err("recovery: listing executions failed: %s (%s)", execd_strerror(status),
            records_take_error(&c->pipeline->records, c, "no detail"));
    recovery_failed(c, status);
    return;
  }
  size_t i;
  json_t *r;
  json_array_foreach(page, i, r) {
    if (records_usable(r))
      recover_one(c, r);
    else {
      const char *id = json_string_value(json_object_get(r, "id"));
      log_warn("recovery: storage returned a record that is not an execution (id %.64s); "
               "skipped",
               id ? id : "missing");
    }
  }
  free(c->cursor);
  c->cursor = next ? xstrdup(next) : NULL;
  if (!c->cursor)
    c->state_index++;
  recover_next(c);
}

static void recover_next(recover_ctx *c) {
  pipeline *p = c->pipeline;
  if (c->state_index >= (int)(sizeof recover_states / sizeof recover_states[0])) {
    c->listed = true;
    if (c->pending == 0)
      recovery_finish(c);
    return;
  }
  execd_list_query q = {
      .struct_size = sizeof q,
      .state = state_name(recover_states[c->state_index]),
      .cursor = c->cursor,
      .limit = 500,
  };
  int rc = records_list(&p->records, &q, on_recover_page, c);
  if (rc != 0) {
    log_err("recovery: storage refused to list: %s", execd_strerror(rc));
    recovery_failed(c, rc);
  }
}

int pipeline_recover(pipeline *p, void (*cb)(void *arg, int status), void *arg) {
  recover_ctx *c = xcalloc(1, sizeof *c);
  if (!c)
    return EXECD_ENOMEM;
  c->pipeline = p;
  c->cb = cb;
  c->arg = arg;
  p->recovery = c;
  /* Several nodes: nothing is taken back by listing (another node may run
   * it); this node claims, and takes over expired leases (claims.c). */
  claims_start(p);
  if (p->claims)
    c->state_index = (int)(sizeof recover_states / sizeof recover_states[0]);
  recover_next(c);
  return 0;
}
