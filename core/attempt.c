/* One attempt of an execution on its backend: prepare the workspace
 * (thread pool), start (or adopt after a restart) the job through the
 * backend, enforce the timeout (SIGTERM, then SIGKILL after the grace),
 * take its exit, collect its outputs (thread pool), then decide the
 * execution's state: retry with backoff, or conclude. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "contract.h"
#include "ids.h"
#include "job_spec.h"
#include "log.h"
#include "outputs.h"
#include "pipeline_internal.h"
#include "usage.h"
#include "workspace.h"
#include "xalloc.h"

/* --- prepare the workspace ------------------------------------------------- */

typedef struct prepare_work {
  uv_work_t req;
  execution *ex;
  json_t *input;      /* borrowed from the record; not modified while queued */
  json_t *checkpoint; /* own reference */
  uid_t uid;
  gid_t gid;
  bool container;     /* the spec has an image: its user is the container's */
  bool adopt;         /* recovery: adopt instead of start */
  int64_t max_bytes;  /* resources.workspace_max: a tmpfs of that size; 0: none */
  int rc;
  char err[512];
} prepare_work;

static void prepare_run(uv_work_t *req) {
  prepare_work *w = req->data;
  struct stat st;
  /* An adopted attempt's workspace may be in use (bind-mounted into its
   * container): keep it as it is. */
  if (w->adopt && stat(w->ex->workspace, &st) == 0 && S_ISDIR(st.st_mode)) {
    w->rc = 0;
    return;
  }
  w->rc = workspace_prepare(w->ex->workspace, w->input, w->checkpoint, w->uid, w->gid,
                            w->max_bytes, w->err, sizeof w->err);
  /* A container's user enters the workspace as mounted (the container
   * backend gives it the files); on the host, the directory is private to
   * the job's own uid. */
  if (w->rc == 0 && w->container && chmod(w->ex->workspace, 0755) < 0) {
    w->rc = -errno;
    snprintf(w->err, sizeof w->err, "cannot open up workspace %s: %s", w->ex->workspace,
             strerror(errno));
  }
}

static void begin_running(execution *ex);
static void adopt_running(execution *ex);
static void drop_workspace(execution *ex, bool failed);

static void prepare_done(uv_work_t *req, int status) {
  prepare_work *w = req->data;
  execution *ex = w->ex;
  json_decref(w->checkpoint);
  if (ex->fenced) {
    attempt_finish(ex); /* its lease was taken over: it never starts here */
  } else if (ex->stop == STOP_CANCEL) {
    ex->exit = json_pack("{s:i}", "exit_code", -1);
    attempt_finish(ex);
  } else if (status != 0 || w->rc != 0) {
    execution_set_error(ex, "workspace_error",
                        status ? "workspace preparation was cancelled" : w->err, NULL);
    ex->exit = json_pack("{s:i, s:s, s:b}", "exit_code", -1, "error_code", "workspace_error",
                         "retryable", 1);
    attempt_finish(ex);
  } else if (w->adopt) {
    adopt_running(ex);
  } else {
    begin_running(ex);
  }
  if (w->adopt)
    recovery_step_done(ex->pipeline);
  free(w);
  execution_unref(ex);
}

void attempt_start(execution *ex) {
  pipeline *p = ex->pipeline;
  unsigned attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts")) + 1;
  json_object_set_new(ex->record, "attempts", json_integer(attempt));
  json_object_set_new(ex->record, "error", json_null());
  json_object_set_new(ex->record, "retry_at", json_null());
  json_object_set_new(ex->record, "node", json_string(p->cfg->node));
  /* Where this attempt's output starts in the stored log: after a restart
   * an adopted attempt's replayed output is matched against it. */
  json_object_set_new(ex->record, "log_start", json_integer((json_int_t)ex->log_stored));
  char reason[160];
  snprintf(reason, sizeof reason, "attempt %u scheduled on backend %s", attempt,
           ex->backend->inst->name);
  if (execution_transition(ex, STATE_STARTING, reason) != 0)
    return;
  ex->backend->running++;
  p->running++;
  p->attempts_total++;
  ex->stop = STOP_NONE;
  json_decref(ex->exit);
  ex->exit = NULL;
  ex->logs_len = 0;
  ex->logs_truncated = false;
  ex->workspace_full = false;
  ex->stdout_len = 0;
  ex->log_skip = 0;
  /* Several nodes: nothing runs before storage took this attempt under
   * the lease (execution.c starts it then), so that an attempt whose
   * lease was taken over meanwhile never starts, and a started attempt's
   * number is never handed out again. */
  if (pipeline_claims(p))
    ex->await_start = true;
  else
    attempt_prepare(ex, false);
}

void attempt_prepare(execution *ex, bool adopt) {
  pipeline *p = ex->pipeline;
  unsigned attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts"));
  char dir[4096];
  workspace_path(p->cfg->state_dir, ex->id, attempt, dir, sizeof dir);
  free(ex->workspace);
  ex->workspace = xstrdup(dir);

  prepare_work *w = xcalloc(1, sizeof *w);
  w->ex = ex;
  w->adopt = adopt;
  w->req.data = w;
  w->input = json_object_get(json_object_get(ex->record, "request"), "input");
  json_t *cp = json_object_get(ex->record, "checkpoint");
  w->checkpoint = json_is_object(cp) ? json_incref(json_object_get(cp, "data")) : NULL;
  if (w->checkpoint == NULL && json_is_object(cp))
    w->checkpoint = json_null();
  w->uid = (uid_t)-1;
  w->gid = (gid_t)-1;
  w->container = json_object_get(execution_spec(ex), "image") != NULL;
  w->max_bytes = json_integer_value(
      json_object_get(json_object_get(execution_spec(ex), "resources"), "workspace_max"));
  const char *user = json_string_value(json_object_get(execution_spec(ex), "user"));
  unsigned uid, gid;
  if (user && !w->container) {
    int n = sscanf(user, "%u:%u", &uid, &gid);
    if (n >= 1) {
      w->uid = uid;
      w->gid = n == 2 ? gid : uid;
    }
  }
  execution_ref(ex);
  uv_queue_work(p->loop, &w->req, prepare_run, prepare_done);
}

/* --- start or adopt through the backend; timeout and kill ----------------- */

static void on_timeout(uv_timer_t *t);
static void on_kill_grace(uv_timer_t *t);

/* Builds the job spec of the current attempt (job_spec.c) and hands it to
 * the backend's start(), or adopt() after a restart.
 * *timeout_ms is the attempt's wall-clock limit (0: none). */
static int call_backend(execution *ex, bool adopt, int64_t *timeout_ms) {
  unsigned attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts"));
  execd_job_spec js;
  job_spec_storage *storage = NULL;
  int rc = job_spec_build(ex->record, attempt, ex->workspace, &js, &storage);
  if (rc != 0)
    return rc;
  ex->job.ex = ex;
  instance_clear_error(ex->backend->inst);
  const execd_backend_ops *ops = ex->backend->ops;
  void *self = ex->backend->inst->self;
  rc = adopt ? ops->adopt(self, &js, &ex->job, &ex->handle)
             : ops->start(self, &js, &ex->job, &ex->handle);
  *timeout_ms = js.limits->timeout_ms;
  job_spec_free(storage);
  return rc;
}

static void begin_running(execution *ex) {
  int64_t timeout_ms = 0;
  int rc = call_backend(ex, false, &timeout_ms);
  if (rc != 0) {
    const char *why = instance_error(ex->backend->inst, execd_strerror(rc));
    execution_log(EXECD_LOG_WARNING, ex, "backend %s could not start it: %s",
                  ex->backend->inst->name, why);
    int unavailable = rc == EXECD_EUNAVAIL;
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         unavailable ? "backend_unavailable" : "start_failed",
                         "error_message", why, "retryable", unavailable);
    ex->handle = NULL;
    attempt_finish(ex);
    return;
  }
  execution_ref(ex); /* held until job_exited */
  execution_set_timestamp(ex, "started");
  execution_transition(ex, STATE_RUNNING, "started");
  if (timeout_ms > 0)
    uv_timer_start(&ex->timer, on_timeout, (uint64_t)timeout_ms, 0);
}

/* Recovery: the attempt was running when execd stopped and its backend can
 * adopt it.  The backend replays the job's output from the start;
 * storage already holds part of it (log_skip). */
static void adopt_running(execution *ex) {
  int64_t timeout_ms = 0;
  int rc = call_backend(ex, true, &timeout_ms);
  if (rc != 0) {
    const char *why = instance_error(ex->backend->inst, execd_strerror(rc));
    execution_log(EXECD_LOG_WARNING, ex, "backend %s could not re-attach to it: %s",
                  ex->backend->inst->name, why);
    char msg[600];
    snprintf(msg, sizeof msg, "execd restarted while the execution was running and could not "
             "re-attach to it: %s", why);
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         EXECD_ERR_DAEMON_RESTART, "error_message", msg, "retryable", 1);
    ex->handle = NULL;
    attempt_finish(ex);
  } else {
    execution_ref(ex); /* held until job_exited */
    execution_log(EXECD_LOG_NOTICE, ex, "re-attached to attempt %lld on backend %s",
                  (long long)json_integer_value(json_object_get(ex->record, "attempts")),
                  ex->backend->inst->name);
    if (ex->state == STATE_STARTING) {
      execution_set_timestamp(ex, "started");
      execution_transition(ex, STATE_RUNNING, "re-attached after a restart of execd");
    }
    if (timeout_ms > 0) {
      /* What is left of the limit since the attempt started. */
      int64_t started = 0;
      ids_parse_time(json_string_value(json_object_get(json_object_get(ex->record, "timestamps"),
                                                       "started")),
                     &started);
      int64_t left = started > 0 ? timeout_ms - (ids_now_ms() - started) : timeout_ms;
      uv_timer_start(&ex->timer, on_timeout, (uint64_t)(left > 1 ? left : 1), 0);
    }
  }
}

void attempt_stop(execution *ex, int why) {
  if (ex->stop == STOP_NONE)
    ex->stop = why;
  if (!ex->handle)
    return;
  ex->backend->ops->signal(ex->backend->inst->self, ex->handle, SIGTERM);
  uv_timer_start(&ex->kill_timer, on_kill_grace, (uint64_t)ex->pipeline->cfg->kill_grace_ms, 0);
}

void attempt_abandon(execution *ex, int signum) {
  if (!ex->handle)
    return;
  ex->backend->ops->signal(ex->backend->inst->self, ex->handle, signum);
  if (signum == SIGKILL)
    uv_timer_stop(&ex->kill_timer);
  else
    uv_timer_start(&ex->kill_timer, on_kill_grace, (uint64_t)ex->pipeline->cfg->kill_grace_ms,
                   0);
}

static void on_timeout(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->state != STATE_RUNNING || !ex->handle)
    return;
  execution_log(EXECD_LOG_INFO, ex, "timed out, stopping it");
  attempt_stop(ex, STOP_TIMEOUT);
}

static void on_kill_grace(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->handle) {
    execution_log(EXECD_LOG_INFO, ex, "still running after the grace period, killing it");
    ex->backend->ops->signal(ex->backend->inst->self, ex->handle, SIGKILL);
  }
}

/* --- the job's exit; its outputs are collected on the thread pool ------- */

typedef struct collect_work {
  uv_work_t req;
  execution *ex;
  json_t *globs;
  int64_t max_bytes;
  json_bounds bounds;
  bool quota;         /* the workspace is a tmpfs of workspace_max */
  bool full;          /* ... and the job left it full */
  json_t *collected;
} collect_work;

static void collect_run(uv_work_t *req) {
  collect_work *w = req->data;
  w->full = w->quota && workspace_full(w->ex->workspace);
  w->collected = outputs_collect(w->ex->workspace, w->globs, w->max_bytes, &w->bounds);
}

static void collect_done(uv_work_t *req, int status) {
  collect_work *w = req->data;
  execution *ex = w->ex;
  json_t *result = json_object_get(ex->record, "result");
  ex->workspace_full = w->full;
  if (w->full)
    execution_log(EXECD_LOG_WARNING, ex, "workspace %s is full (workspace_max)", ex->workspace);
  if (w->collected) {
    json_object_set(result, "output", json_object_get(w->collected, "output"));
    json_object_set(result, "output_files", json_object_get(w->collected, "output_files"));
    json_t *err = json_object_get(w->collected, "error");
    if (json_is_object(err) && json_is_null(json_object_get(ex->record, "error")) &&
        ex->stop == STOP_NONE)
      execution_set_error(ex, json_string_value(json_object_get(err, "code")),
                          json_string_value(json_object_get(err, "message")), NULL);
    json_decref(w->collected);
  }
  json_decref(w->globs);
  free(w);
  (void)status;
  attempt_finish(ex);
  execution_unref(ex);
}

void pipeline_job_exited(execd_job *job, const execd_job_exit *e) {
  execution *ex = job->ex;
  job_output_flush(ex);
  ex->handle = NULL;
  uv_timer_stop(&ex->timer);
  uv_timer_stop(&ex->kill_timer);
  if (ex->pipeline->abandoning || ex->fenced) {
    /* Stopped by the shutdown: its record stays as storage has it, and
     * recovery concludes the attempt at the next start.  Or its lease was
     * taken over: the node that holds it now concludes it. */
    ex->backend->running--;
    ex->pipeline->running--;
    if (ex->fenced) {
      drop_workspace(ex, false);
      claims_drop(ex);
      pipeline_schedule(ex->pipeline);
    }
    execution_unref(ex); /* the backend's */
    return;
  }
  json_decref(ex->exit);
  ex->exit = json_pack("{s:i, s:i, s:b, s:f, s:I}", "exit_code", e->exit_code, "term_signal",
                       e->term_signal, "retryable", e->retryable, "cpu_seconds",
                       e->cpu_seconds, "max_rss_bytes", (json_int_t)e->max_rss_bytes);
  if (e->error_code)
    json_object_set_new(ex->exit, "error_code", json_string(e->error_code));
  if (e->error_message)
    json_object_set_new(ex->exit, "error_message", json_string(e->error_message));

  /* What the attempt used, added to the execution's usage (usage.h). */
  int64_t started = 0;
  ids_parse_time(
      json_string_value(json_object_get(json_object_get(ex->record, "timestamps"), "started")),
      &started);
  usage_add_attempt(ex->record, e->cpu_seconds, e->max_rss_bytes,
                    started > 0 ? ids_now_ms() - started : 0);

  json_t *result = json_pack("{s:i, s:n, s:n, s:[], s:f, s:I}", "exit_code", e->exit_code,
                             "output", "logs", "output_files", "cpu_seconds", e->cpu_seconds,
                             "max_rss_bytes", (json_int_t)e->max_rss_bytes);
  if (e->term_signal)
    json_object_set_new(result, "term_signal", json_integer(e->term_signal));
  json_object_set_new(ex->record, "result", result);

  collect_work *w = xcalloc(1, sizeof *w);
  w->ex = ex;
  w->req.data = w;
  const json_t *output = json_object_get(execution_spec(ex), "output");
  w->globs = json_deep_copy(json_object_get(output, "files"));
  w->max_bytes = json_integer_value(json_object_get(output, "max_bytes"));
  w->bounds = limits_json_bounds(&ex->pipeline->cfg->limits);
  w->quota = json_integer_value(json_object_get(json_object_get(execution_spec(ex), "resources"),
                                                "workspace_max")) > 0;
  /* The backend's reference becomes the collect work's. */
  uv_queue_work(ex->pipeline->loop, &w->req, collect_run, collect_done);
}

/* --- end of an attempt: decide the state, retry or finish ----------------- */

static bool permanent_error(const char *code) {
  static const char *const permanent[] = {
      "image_not_found", "image_not_allowed", "command_not_allowed", "spawn_failed",
      "output_invalid",  "invalid_envelope",  "job_error",           "start_failed",
      "output_too_large", NULL};
  for (const char *const *p = permanent; *p; p++)
    if (code && strcmp(code, *p) == 0)
      return true;
  return false;
}

typedef struct remove_work {
  uv_work_t req;
  char *dir;
} remove_work;

static void remove_run(uv_work_t *req) {
  remove_work *w = req->data;
  workspace_remove(w->dir);
}

static void remove_done(uv_work_t *req, int status) {
  remove_work *w = req->data;
  (void)status;
  free(w->dir);
  free(w);
}

static void drop_workspace(execution *ex, bool failed) {
  if (!ex->workspace)
    return;
  if (failed && ex->pipeline->cfg->keep_failed_workspaces) {
    execution_log(EXECD_LOG_INFO, ex, "keeping workspace %s for inspection", ex->workspace);
  } else {
    remove_work *w = xcalloc(1, sizeof *w);
    w->dir = ex->workspace;
    w->req.data = w;
    uv_queue_work(ex->pipeline->loop, &w->req, remove_run, remove_done);
    ex->workspace = NULL;
    return;
  }
  free(ex->workspace);
  ex->workspace = NULL;
}

void attempt_retry_timer(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->state != STATE_RETRY_WAIT)
    return;
  if (execution_transition(ex, STATE_QUEUED, "retry backoff elapsed") == 0) {
    scheduler_push(&ex->pipeline->sched, &ex->queue);
    pipeline_schedule(ex->pipeline);
  }
}

static void schedule_retry(execution *ex, int64_t delay_ms) {
  char at[32];
  ids_format_time(ids_now_ms() + delay_ms, at);
  json_object_set_new(ex->record, "retry_at", json_string(at));
  char reason[96];
  snprintf(reason, sizeof reason, "retrying in %lld ms", (long long)delay_ms);
  if (execution_transition(ex, STATE_RETRY_WAIT, reason) != 0)
    return;
  if (pipeline_claims(ex->pipeline))
    claims_wake(ex->pipeline, delay_ms); /* the stored row is the timer */
  else
    uv_timer_start(&ex->timer, attempt_retry_timer, (uint64_t)(delay_ms > 0 ? delay_ms : 1), 0);
}

static int64_t backoff_for(const execution *ex) {
  const json_t *retry = json_object_get(execution_spec(ex), "retry");
  int64_t base = json_integer_value(json_object_get(retry, "backoff_ms"));
  int64_t cap = json_integer_value(json_object_get(retry, "max_backoff_ms"));
  int64_t attempts = json_integer_value(json_object_get(ex->record, "attempts"));
  int64_t d = base;
  for (int64_t i = 1; i < attempts && d < cap; i++)
    d *= 2;
  return cap > 0 && d > cap ? cap : d;
}

/* After a failed attempt: retry while attempts remain and the error is
 * retryable; returns true if a retry was scheduled. */
static bool maybe_retry(execution *ex, bool retryable) {
  const json_t *retry = json_object_get(execution_spec(ex), "retry");
  int64_t max = json_integer_value(json_object_get(retry, "max_attempts"));
  int64_t attempts = json_integer_value(json_object_get(ex->record, "attempts"));
  if (!retryable || attempts >= max || ex->pipeline->draining)
    return false;
  schedule_retry(ex, backoff_for(ex));
  return true;
}

static void conclude(execution *ex, exec_state final, const char *reason, bool retryable) {
  execution_set_timestamp(ex, "finished");
  int64_t created = 0, finished = ids_now_ms();
  ids_parse_time(json_string_value(json_object_get(json_object_get(ex->record, "timestamps"), "created")),
                 &created);
  json_object_set_new(ex->record, "duration_ms", json_integer(finished - created));
  usage_set_output(ex->record, ex->log_stored);
  if (execution_transition(ex, final, reason) != 0)
    return;
  if (final != STATE_SUCCEEDED && maybe_retry(ex, retryable))
    return;
  ex->pipeline->finished_total[final]++;
  json_t *view = execution_view(ex->record);
  execution_publish(ex, EXECD_EVENT_COMPLETED, view);
  json_decref(view);
}

void attempt_finish(execution *ex) {
  pipeline *p = ex->pipeline;
  ex->backend->running--;
  p->running--;
  if (ex->fenced) { /* the node holding its lease now concludes it */
    drop_workspace(ex, false);
    claims_drop(ex);
    pipeline_schedule(p);
    return;
  }
  json_t *exit = ex->exit;
  json_t *result = json_object_get(ex->record, "result");
  if (!json_is_object(result)) {
    result = json_pack("{s:i, s:n, s:n, s:[]}", "exit_code", -1, "output", "logs", "output_files");
    json_object_set_new(ex->record, "result", result);
  }
  bool want_logs = json_is_true(json_object_get(json_object_get(execution_spec(ex), "output"), "logs"));
  if (want_logs) {
    json_t *logs = json_stringn_nocheck(ex->logs ? ex->logs : "", ex->logs_len);
    json_object_set_new(result, "logs", logs ? logs : json_string(""));
    if (ex->logs_truncated)
      json_object_set_new(result, "logs_truncated", json_true());
  }
  int code = (int)json_integer_value(json_object_get(exit, "exit_code"));
  int sig = (int)json_integer_value(json_object_get(exit, "term_signal"));
  const char *backend_error = json_string_value(json_object_get(exit, "error_code"));
  bool json_io = strcmp(json_string_value(json_object_get(execution_spec(ex), "io")), "json") == 0;
  exec_state final;
  const char *reason;
  bool retryable = false;

  if (ex->stop == STOP_CANCEL) {
    final = STATE_CANCELLED;
    reason = "cancelled";
    execution_set_error(ex, "cancelled", "the execution was cancelled", NULL);
  } else if (ex->stop == STOP_TIMEOUT) {
    final = STATE_TIMED_OUT;
    reason = "wall-clock timeout";
    char msg[128];
    snprintf(msg, sizeof msg, "the job ran longer than its timeout of %lld ms",
             (long long)json_integer_value(json_object_get(json_object_get(execution_spec(ex), "resources"), "timeout_ms")));
    execution_set_error(ex, "timed_out", msg, NULL);
    retryable = true;
  } else if (backend_error) {
    final = STATE_FAILED;
    reason = backend_error;
    const char *msg = json_string_value(json_object_get(exit, "error_message"));
    if (!json_is_object(json_object_get(ex->record, "error")) ||
        strcmp(backend_error, "workspace_error") != 0)
      execution_set_error(ex, backend_error, msg ? msg : backend_error,
                          json_pack("{s:i, s:i}", "exit_code", code, "term_signal", sig));
    retryable = json_is_true(json_object_get(exit, "retryable")) && !permanent_error(backend_error);
  } else if (sig) {
    final = STATE_FAILED;
    reason = "killed by a signal";
    char msg[96];
    snprintf(msg, sizeof msg, "the job was killed by signal %d (%s)", sig, strsignal(sig));
    execution_set_error(ex, "killed_by_signal", msg, json_pack("{s:i}", "term_signal", sig));
    retryable = true;
  } else if (code != 0 && ex->workspace_full) {
    /* The same input fills the same space again: not retried. */
    final = STATE_FAILED;
    reason = "non-zero exit code, workspace full";
    int64_t max = json_integer_value(
        json_object_get(json_object_get(execution_spec(ex), "resources"), "workspace_max"));
    char msg[160];
    snprintf(msg, sizeof msg,
             "the job exited with code %d and its workspace is full (workspace_max %lld bytes)",
             code, (long long)max);
    execution_set_error(ex, "workspace_full", msg,
                        json_pack("{s:i, s:I}", "exit_code", code, "workspace_max", (json_int_t)max));
  } else if (code != 0) {
    final = STATE_FAILED;
    reason = "non-zero exit code";
    char msg[64];
    snprintf(msg, sizeof msg, "the job exited with code %d", code);
    execution_set_error(ex, "exit_code", msg, json_pack("{s:i}", "exit_code", code));
    retryable = true;
  } else if (json_is_object(json_object_get(ex->record, "error"))) {
    final = STATE_FAILED; /* invalid result.json and the like */
    reason = json_string_value(json_object_get(json_object_get(ex->record, "error"), "code"));
  } else if (json_io) {
    json_bounds bounds = limits_json_bounds(&ex->pipeline->cfg->limits);
    char why[256];
    json_t *env = outputs_parse_envelope(ex->stdout_text ? ex->stdout_text : "", ex->stdout_len,
                                         &bounds, why, sizeof why);
    if (!env) {
      final = STATE_FAILED;
      reason = "no io:json envelope";
      execution_set_error(ex, "invalid_envelope",
                          why[0] ? why
                                 : "io is \"json\" but the job printed no {\"ok\": ...} line on stdout",
                          NULL);
    } else if (json_is_true(json_object_get(env, "ok"))) {
      final = STATE_SUCCEEDED;
      reason = "exit code 0, ok envelope";
      json_t *o = json_object_get(env, "output");
      json_object_set(result, "output", o ? o : json_null());
    } else {
      final = STATE_FAILED;
      reason = "job reported an error";
      json_t *err = json_object_get(env, "error");
      const char *msg = json_string_value(json_object_get(err, "message"));
      const char *ecode = json_string_value(json_object_get(err, "code"));
      json_t *details = json_object_get(err, "details");
      json_object_set_new(ex->record, "error",
                          json_pack("{s:s, s:s, s:O}", "code", ecode ? ecode : "job_error",
                                    "message", msg ? msg : "the job reported an error",
                                    "details", details ? details : json_null()));
    }
    json_decref(env);
  } else {
    final = STATE_SUCCEEDED;
    reason = "exit code 0";
  }
  /* With a schema_out, SUCCEEDED needs a valid output document; a permanent error. */
  json_t *invalid = final != STATE_SUCCEEDED ? NULL
                    : contract_check_output(execution_agent(ex), ex->record,
                                            json_object_get(result, "output"));
  if (invalid) {
    final = STATE_FAILED;
    reason = "output_invalid";
    json_object_set_new(ex->record, "error", invalid);
  }
  json_object_set(result, "error", json_object_get(ex->record, "error"));
  if (final == STATE_SUCCEEDED)
    json_object_set_new(ex->record, "error", json_null());
  drop_workspace(ex, final != STATE_SUCCEEDED);
  /* STARTING -> FAILED/CANCELLED is allowed; STARTING -> TIMED_OUT is not
   * reachable (the timeout starts with RUNNING). */
  conclude(ex, final, reason, retryable);
  pipeline_schedule(p);
}
