/* Execution lifecycle.  Every state change goes through transition(),
 * which checks the state machine, records history and persists with a
 * compare-and-set on the previously persisted state.  Blocking work
 * (workspace files, output collection) runs in the libuv thread pool. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "ids.h"
#include "log.h"
#include "outputs.h"
#include "workspace.h"

#define INPUT_DATA_ENV_MAX (64 * 1024)

int exec_cmp(execution *a, execution *b) { return strcmp(a->id, b->id); }
RB_GENERATE(exec_tree, execution, node, exec_cmp)

struct waiter {
  waiter *next;
  waiter_cb done;
  waiter_event_cb event;
  void *arg;
};

static void persist(execution *ex);
static void finish_attempt(execution *ex);
static void release(execution *ex);

/* --- reference counting: an execution lives while anything refers to it */

static void ex_ref(execution *ex) { ex->refs++; }

static void ex_free(execution *ex) {
  for (int i = 0; i < 3; i++)
    line_splitter_free(&ex->lines[i]);
  json_decref(ex->record);
  json_decref(ex->exit);
  free(ex->workspace);
  free(ex->logs);
  free(ex->stdout_text);
  free(ex);
}

static void ex_unref(execution *ex) {
  if (--ex->refs == 0)
    ex_free(ex);
}

static void on_handle_closed(uv_handle_t *h) { ex_unref(h->data); }

/* --- small record helpers ---------------------------------------------- */

static const json_t *spec_of(const execution *ex) {
  return json_object_get(ex->record, "spec");
}

static void now_text(char *buf) { ids_format_time(ids_now_ms(), buf); }

static void set_timestamp(execution *ex, const char *which) {
  char now[32];
  now_text(now);
  json_t *ts = json_object_get(ex->record, "timestamps");
  json_object_set_new(ts, which, json_string(now));
}

json_t *engine_view(const json_t *r) {
  json_t *result = json_object_get(r, "result");
  json_t *view = json_pack(
      "{s:O, s:O, s:O, s:b, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
      "execution_id", json_object_get(r, "id"), "correlation_id",
      json_object_get(r, "correlation_id"), "state", json_object_get(r, "state"),
      "success", json_is_string(json_object_get(r, "state")) &&
                     strcmp(json_string_value(json_object_get(r, "state")), "SUCCEEDED") == 0,
      "result", result ? result : json_null(), "attempts", json_object_get(r, "attempts"),
      "backend", json_object_get(r, "backend"), "agent", json_object_get(r, "agent"),
      "labels", json_object_get(r, "labels"), "priority", json_object_get(r, "priority"),
      "progress", json_object_get(r, "progress"), "timestamps",
      json_object_get(r, "timestamps"), "duration_ms", json_object_get(r, "duration_ms"),
      "error", json_object_get(r, "error"));
  if (!view)
    return json_object();
  json_t *h = json_object_get(r, "history");
  if (h)
    json_object_set(view, "history", h);
  json_t *ra = json_object_get(r, "retry_at");
  if (ra && !json_is_null(ra))
    json_object_set(view, "retry_at", ra);
  /* Never null where clients expect an object. */
  const char *k;
  json_t *v;
  json_object_foreach(view, k, v) if (!v) json_object_set_new(view, k, json_null());
  return view;
}

/* --- events to waiters and transports ------------------------------------ */

void engine_publish(engine *eng, const char *type, execution *ex, json_t *data) {
  char now[32];
  now_text(now);
  json_t *event = json_pack("{s:s, s:s, s:O, s:O, s:s, s:O}", "type", type,
                            "execution_id", ex->id, "correlation_id",
                            json_object_get(ex->record, "correlation_id"), "tenant",
                            json_object_get(ex->record, "tenant"), "time", now, "data",
                            data ? data : json_null());
  for (size_t i = 0; i < eng->n_transports; i++) {
    execd_instance *t = eng->transports[i];
    const execd_transport_ops *ops = t->ops;
    if (ops->publish && t->started)
      ops->publish(t->self, type, event);
  }
  json_decref(event);
}

static void notify_watchers(execution *ex, const char *type, const json_t *data) {
  for (waiter *w = ex->waiters; w;) {
    waiter *next = w->next; /* a callback may remove itself */
    if (w->event)
      w->event(w->arg, type, data);
    w = next;
  }
}

waiter *engine_add_waiter(execution *ex, waiter_cb done, waiter_event_cb event, void *arg) {
  waiter *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->done = done;
  w->event = event;
  w->arg = arg;
  w->next = ex->waiters;
  ex->waiters = w;
  return w;
}

void engine_remove_waiter(execution *ex, waiter *w) {
  for (waiter **p = &ex->waiters; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      free(w);
      return;
    }
}

static void notify_done(execution *ex) {
  waiter *list = ex->waiters;
  ex->waiters = NULL;
  while (list) {
    waiter *next = list->next;
    list->done(list->arg, ex->record);
    free(list);
    list = next;
  }
}

/* --- state transitions ----------------------------------------------------- */

static int transition(execution *ex, exec_state to, const char *reason) {
  exec_state from = ex->state;
  if (!state_transition_allowed(from, to)) {
    log_err("execution %s: refused invalid transition %s -> %s (%s)", ex->id,
            state_name(from), state_name(to), reason);
    return EXECD_ECONFLICT;
  }
  char now[32];
  now_text(now);
  ex->state = to;
  json_object_set_new(ex->record, "state", json_string(state_name(to)));
  json_array_append_new(json_object_get(ex->record, "history"),
                        json_pack("{s:s, s:s, s:s, s:s}", "from", state_name(from), "to",
                                  state_name(to), "at", now, "reason", reason));
  log_debug("execution %s: %s -> %s (%s)", ex->id, state_name(from), state_name(to), reason);
  json_t *data = json_pack("{s:s, s:s, s:s}", "from", state_name(from), "to",
                           state_name(to), "reason", reason);
  engine_publish(ex->eng, EXECD_EVENT_STATE_CHANGED, ex, data);
  json_decref(data);
  if (ex->waiters) {
    json_t *view = engine_view(ex->record);
    notify_watchers(ex, "state", view);
    json_decref(view);
  }
  persist(ex);
  return 0;
}

/* --- persistence: one update in flight per execution, coalesced ---------- */

static void on_persisted(void *arg, int status, json_t *stored) {
  execution *ex = arg;
  ex->write_inflight = false;
  if (status == 0) {
    ex->persisted = (exec_state)state_from_name(json_string_value(json_object_get(stored, "state")));
  } else {
    log_err("execution %s: storage update failed: %s (%s)", ex->id, execd_strerror(status),
            instance_take_error(ex->eng->storage, ex, "no detail"));
    if (status == EXECD_ECONFLICT && stored) {
      /* Another writer moved it: take storage's word for the state. */
      int s = state_from_name(json_string_value(json_object_get(stored, "state")));
      if (s >= 0)
        ex->persisted = (exec_state)s;
    }
  }
  if (ex->write_again) {
    ex->write_again = false;
    persist(ex);
  } else if (state_is_terminal(ex->state) && !ex->finished_notified &&
             ex->persisted == ex->state) {
    ex->finished_notified = true;
    notify_done(ex);
    release(ex);
  }
  ex_unref(ex);
}

static void persist(execution *ex) {
  if (ex->write_inflight) {
    ex->write_again = true;
    return;
  }
  ex->write_inflight = true;
  ex_ref(ex);
  int rc = ex->eng->store->update(ex->eng->storage->self, ex->record,
                                  state_name(ex->persisted), on_persisted, ex);
  if (rc != 0) {
    log_err("execution %s: storage refused the update: %s (%s)", ex->id,
            execd_strerror(rc), instance_error(ex->eng->storage, "no detail"));
    ex->write_inflight = false;
    ex_unref(ex);
  }
}

/* --- scheduling -------------------------------------------------------- */

static execution *from_entry(sched_entry *e) {
  return (execution *)((char *)e - offsetof(execution, queue));
}

static bool backend_has_room(sched_entry *e, void *arg) {
  (void)arg;
  execution *ex = from_entry(e);
  int limit = ex->backend->block->max_running;
  return limit <= 0 || ex->backend->running < limit;
}

static void start_attempt(execution *ex);

void engine_schedule(engine *eng) {
  /* Nothing starts before recovery is over: it removes the last run's
   * workspaces and needs to know which ones are still in use. */
  while (!eng->draining && !eng->recovery && eng->running < eng->cfg->max_running) {
    sched_entry *e = scheduler_pop(&eng->sched, backend_has_room, NULL);
    if (!e)
      break;
    start_attempt(from_entry(e));
  }
}

/* --- attempt: prepare workspace -> start -> output -> exit -> collect ----- */

typedef struct prepare_work {
  uv_work_t req;
  execution *ex;
  json_t *input;      /* borrowed from the record; not modified while queued */
  json_t *checkpoint; /* own reference */
  uid_t uid;
  gid_t gid;
  bool reattach;      /* recovery: re-attach instead of start */
  int rc;
  char err[512];
} prepare_work;

static void prepare_run(uv_work_t *req) {
  prepare_work *w = req->data;
  struct stat st;
  /* A re-attached attempt's workspace may be in use (bind-mounted into its
   * container): keep it as it is. */
  if (w->reattach && stat(w->ex->workspace, &st) == 0 && S_ISDIR(st.st_mode)) {
    w->rc = 0;
    return;
  }
  w->rc = workspace_prepare(w->ex->workspace, w->input, w->checkpoint, w->uid, w->gid,
                            w->err, sizeof w->err);
}

static void set_error(execution *ex, const char *code, const char *message,
                      json_t *details) {
  json_object_set_new(ex->record, "error",
                      json_pack("{s:s, s:s, s:o}", "code", code, "message", message,
                                "details", details ? details : json_null()));
}

static void begin_running(execution *ex);
static void reattach_running(execution *ex);
static void recovery_step_done(engine *eng);

static void prepare_done(uv_work_t *req, int status) {
  prepare_work *w = req->data;
  execution *ex = w->ex;
  json_decref(w->checkpoint);
  if (ex->stop == STOP_CANCEL) {
    ex->exit = json_pack("{s:i}", "exit_code", -1);
    finish_attempt(ex);
  } else if (status != 0 || w->rc != 0) {
    set_error(ex, "workspace_error", status ? "workspace preparation was cancelled" : w->err,
              NULL);
    ex->exit = json_pack("{s:i, s:s, s:b}", "exit_code", -1, "error_code", "workspace_error",
                         "retryable", 1);
    finish_attempt(ex);
  } else if (w->reattach) {
    reattach_running(ex);
  } else {
    begin_running(ex);
  }
  if (w->reattach)
    recovery_step_done(ex->eng);
  free(w);
  ex_unref(ex);
}

static void queue_prepare(execution *ex, bool reattach);

static void start_attempt(execution *ex) {
  engine *eng = ex->eng;
  unsigned attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts")) + 1;
  json_object_set_new(ex->record, "attempts", json_integer(attempt));
  json_object_set_new(ex->record, "error", json_null());
  json_object_set_new(ex->record, "retry_at", json_null());
  /* Where this attempt's output starts in the stored log: after a restart
   * a re-attached attempt's replayed output is matched against it. */
  json_object_set_new(ex->record, "log_start", json_integer((json_int_t)ex->log_stored));
  char reason[160];
  snprintf(reason, sizeof reason, "attempt %u scheduled on backend %s", attempt,
           ex->backend->inst->name);
  if (transition(ex, STATE_STARTING, reason) != 0)
    return;
  ex->backend->running++;
  eng->running++;
  eng->attempts_total++;
  ex->stop = STOP_NONE;
  json_decref(ex->exit);
  ex->exit = NULL;
  ex->logs_len = 0;
  ex->logs_truncated = false;
  ex->stdout_len = 0;
  ex->log_skip = 0;
  queue_prepare(ex, false);
}

/* Lays out the attempt's workspace on the thread pool, then starts the
 * attempt (or re-attaches to it after a restart). */
static void queue_prepare(execution *ex, bool reattach) {
  engine *eng = ex->eng;
  unsigned attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts"));
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/work/%s-%u", eng->cfg->state_dir, ex->id, attempt);
  free(ex->workspace);
  ex->workspace = strdup(dir);

  prepare_work *w = calloc(1, sizeof *w);
  w->ex = ex;
  w->reattach = reattach;
  w->req.data = w;
  w->input = json_object_get(json_object_get(ex->record, "request"), "input");
  json_t *cp = json_object_get(ex->record, "checkpoint");
  w->checkpoint = json_is_object(cp) ? json_incref(json_object_get(cp, "data")) : NULL;
  if (w->checkpoint == NULL && json_is_object(cp))
    w->checkpoint = json_null();
  w->uid = (uid_t)-1;
  w->gid = (gid_t)-1;
  const char *user = json_string_value(json_object_get(spec_of(ex), "user"));
  unsigned uid, gid;
  if (user && !json_object_get(spec_of(ex), "image")) {
    int n = sscanf(user, "%u:%u", &uid, &gid);
    if (n >= 1) {
      w->uid = uid;
      w->gid = n == 2 ? gid : uid;
    }
  }
  ex_ref(ex);
  uv_queue_work(eng->loop, &w->req, prepare_run, prepare_done);
}

static void on_timeout(uv_timer_t *t);
static void on_kill_grace(uv_timer_t *t);

/* Builds NULL-terminated string arrays from JSON. */
static const char **argv_of(const json_t *cmd) {
  size_t n = json_array_size(cmd);
  const char **argv = calloc(n + 1, sizeof *argv);
  for (size_t i = 0; i < n; i++)
    argv[i] = json_string_value(json_array_get(cmd, i));
  return argv;
}

static char **env_of(execution *ex, const char *ws_in, const char *ws_out, const char *ws_conf) {
  const json_t *spec = spec_of(ex);
  const json_t *env = json_object_get(spec, "environment");
  size_t n = json_object_size(env) + 10;
  char **list = calloc(n + 1, sizeof *list);
  size_t i = 0;
  asprintf(&list[i++], "EXECUTION_ID=%s", ex->id);
  asprintf(&list[i++], "ATTEMPT=%lld",
           (long long)json_integer_value(json_object_get(ex->record, "attempts")));
  asprintf(&list[i++], "WORKSPACE_INPUT=%s", ws_in);
  asprintf(&list[i++], "WORKSPACE_OUTPUT=%s", ws_out);
  asprintf(&list[i++], "WORKSPACE_CONFIG=%s", ws_conf);
  json_t *data = json_object_get(json_object_get(json_object_get(ex->record, "request"), "input"), "data");
  if (data) {
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text && strlen(text) <= INPUT_DATA_ENV_MAX)
      asprintf(&list[i++], "INPUT_DATA=%s", text);
    free(text);
  }
  json_t *cp = json_object_get(ex->record, "checkpoint");
  if (json_is_object(cp))
    asprintf(&list[i++], "CHECKPOINT_TOKEN=%s", json_string_value(json_object_get(cp, "token")));
  bool container = json_object_get(spec, "image") != NULL;
  bool have_path = json_object_get(env, "PATH") != NULL;
  if (!container && !have_path)
    list[i++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!container && !json_object_get(env, "HOME"))
    asprintf(&list[i++], "HOME=%s", ex->workspace);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)env, k, v) asprintf(&list[i++], "%s=%s", k, json_string_value(v));
  list[i] = NULL;
  return list;
}

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

/* Builds the job spec of the current attempt and hands it to the backend's
 * start(), or adopt() when re-attaching after a restart.  *timeout_ms is
 * the attempt's wall-clock limit (0: none). */
static int call_backend(execution *ex, bool reattach, int64_t *timeout_ms) {
  const json_t *spec = spec_of(ex);
  const json_t *res = json_object_get(spec, "resources");
  bool container = json_object_get(spec, "image") != NULL;
  char in[4200], out[4200], conf[4200];
  if (container) {
    snprintf(in, sizeof in, "/workspace/input");
    snprintf(out, sizeof out, "/workspace/output");
    snprintf(conf, sizeof conf, "/workspace/config");
  } else {
    snprintf(in, sizeof in, "%s/input", ex->workspace);
    snprintf(out, sizeof out, "%s/output", ex->workspace);
    snprintf(conf, sizeof conf, "%s/config", ex->workspace);
  }
  const char **argv = argv_of(json_object_get(spec, "command"));
  char **env = env_of(ex, in, out, conf);
  execd_limits limits = {
      .memory_bytes = json_integer_value(json_object_get(res, "memory")),
      .cpus = json_number_value(json_object_get(res, "cpus")),
      .pids = json_integer_value(json_object_get(res, "pids")),
      .cpu_seconds = json_integer_value(json_object_get(res, "cpu_seconds")),
      .nofile = json_integer_value(json_object_get(res, "nofile")),
      .fsize_bytes = json_integer_value(json_object_get(res, "fsize")),
      .timeout_ms = json_integer_value(json_object_get(res, "timeout_ms")),
      .network = json_string_value(json_object_get(res, "network")),
  };
  char *stdin_text = NULL;
  if (strcmp(json_string_value(json_object_get(spec, "io")), "json") == 0) {
    json_t *data = json_object_get(json_object_get(json_object_get(ex->record, "request"), "input"), "data");
    json_t *env_doc = json_pack("{s:O, s:O, s:O}", "input", data ? data : json_null(),
                                "schema_in", json_object_get(spec, "schema_in") ? json_object_get(spec, "schema_in") : json_null(),
                                "schema_out", json_object_get(spec, "schema_out") ? json_object_get(spec, "schema_out") : json_null());
    stdin_text = json_dumps(env_doc, JSON_COMPACT);
    json_decref(env_doc);
  }
  execd_job_spec js = {
      .struct_size = sizeof js,
      .execution_id = ex->id,
      .attempt = (unsigned)json_integer_value(json_object_get(ex->record, "attempts")),
      .argv = argv,
      .image = json_string_value(json_object_get(spec, "image")),
      .working_dir = json_string_value(json_object_get(spec, "working_dir")),
      .user = json_string_value(json_object_get(spec, "user")),
      .env = (const char *const *)env,
      .workspace = ex->workspace,
      .stdin_data = stdin_text,
      .stdin_len = stdin_text ? strlen(stdin_text) : 0,
      .limits = &limits,
      .labels = json_object_get(ex->record, "labels"),
  };
  ex->job.ex = ex;
  ex->backend->inst->last_error[0] = '\0';
  const execd_backend_ops *ops = ex->backend->ops;
  void *self = ex->backend->inst->self;
  int rc = reattach ? ops->adopt(self, &js, &ex->job, &ex->handle)
                    : ops->start(self, &js, &ex->job, &ex->handle);
  free(argv);
  free_strv(env);
  free(stdin_text);
  *timeout_ms = limits.timeout_ms;
  return rc;
}

static void begin_running(execution *ex) {
  int64_t timeout_ms = 0;
  int rc = call_backend(ex, false, &timeout_ms);
  if (rc != 0) {
    const char *why = instance_error(ex->backend->inst, execd_strerror(rc));
    log_warn("execution %s: backend %s could not start it: %s", ex->id,
             ex->backend->inst->name, why);
    int unavailable = rc == EXECD_EUNAVAIL;
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         unavailable ? "backend_unavailable" : "start_failed",
                         "error_message", why, "retryable", unavailable);
    ex->handle = NULL;
    finish_attempt(ex);
    return;
  }
  ex_ref(ex); /* held until job_exited */
  set_timestamp(ex, "started");
  transition(ex, STATE_RUNNING, "started");
  if (timeout_ms > 0)
    uv_timer_start(&ex->timer, on_timeout, (uint64_t)timeout_ms, 0);
}

/* Recovery: the attempt was running when execd stopped and its backend can
 * re-attach to it.  The backend replays the job's output from the start;
 * storage already holds part of it (log_skip). */
static void reattach_running(execution *ex) {
  int64_t timeout_ms = 0;
  int rc = call_backend(ex, true, &timeout_ms);
  if (rc != 0) {
    const char *why = instance_error(ex->backend->inst, execd_strerror(rc));
    log_warn("execution %s: backend %s could not re-attach to it: %s", ex->id,
             ex->backend->inst->name, why);
    char msg[600];
    snprintf(msg, sizeof msg, "execd restarted while the execution was running and could not "
             "re-attach to it: %s", why);
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         EXECD_ERR_DAEMON_RESTART, "error_message", msg, "retryable", 1);
    ex->handle = NULL;
    finish_attempt(ex);
  } else {
    ex_ref(ex); /* held until job_exited */
    log_notice("execution %s: re-attached to attempt %lld on backend %s", ex->id,
               (long long)json_integer_value(json_object_get(ex->record, "attempts")),
               ex->backend->inst->name);
    if (ex->state == STATE_STARTING) {
      set_timestamp(ex, "started");
      transition(ex, STATE_RUNNING, "re-attached after a restart of execd");
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

static void stop_job(execution *ex, int why) {
  if (ex->stop == STOP_NONE)
    ex->stop = why;
  if (!ex->handle)
    return;
  ex->backend->ops->signal(ex->backend->inst->self, ex->handle, SIGTERM);
  uv_timer_start(&ex->kill_timer, on_kill_grace, (uint64_t)ex->eng->cfg->kill_grace_ms, 0);
}

static void on_timeout(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->state != STATE_RUNNING || !ex->handle)
    return;
  log_info("execution %s: timed out, stopping it", ex->id);
  stop_job(ex, STOP_TIMEOUT);
}

static void on_kill_grace(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->handle) {
    log_info("execution %s: still running after the grace period, killing it", ex->id);
    ex->backend->ops->signal(ex->backend->inst->self, ex->handle, SIGKILL);
  }
}

/* --- output from the job ---------------------------------------------------- */

static void keep_log(execution *ex, const char *data, size_t len) {
  int64_t cap = ex->eng->cfg->limits.max_log_bytes;
  if ((int64_t)(ex->logs_len + len) > cap) {
    ex->logs_truncated = true;
    len = cap > (int64_t)ex->logs_len ? (size_t)(cap - (int64_t)ex->logs_len) : 0;
  }
  if (!len)
    return;
  char *b = realloc(ex->logs, ex->logs_len + len + 1);
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
  engine *eng = ex->eng;
  size_t skip = ex->log_skip < len ? (size_t)ex->log_skip : len;
  ex->log_skip -= skip;
  data += skip;
  len -= skip;
  if (len && eng->store->log_append &&
      eng->store->log_append(eng->storage->self, ex->id, data, len) == 0)
    ex->log_stored += len;
}

typedef struct line_ctx {
  execution *ex;
  int stream;
} line_ctx;

static void on_line(void *arg, const char *line, size_t len, int complete) {
  line_ctx *c = arg;
  execution *ex = c->ex;
  engine *eng = ex->eng;
  if (complete) {
    json_t *payload;
    const char *why;
    workflow_kind kind = workflow_parse_line(line, len, &payload, &why);
    if (kind == WORKFLOW_PROGRESS) {
      json_object_set(ex->record, "progress", payload);
      engine_publish(eng, EXECD_EVENT_PROGRESS, ex, payload);
      notify_watchers(ex, "progress", payload);
      json_decref(payload);
      return;
    }
    if (kind == WORKFLOW_CHECKPOINT) {
      json_object_set(ex->record, "checkpoint", payload);
      json_decref(payload);
      persist(ex); /* a checkpoint is only useful if it is durable */
      return;
    }
    if (kind == WORKFLOW_INVALID)
      log_info("execution %s: ignored workflow command: %s", ex->id, why);
  }
  if (c->stream == EXECD_STREAM_STDOUT &&
      strcmp(json_string_value(json_object_get(spec_of(ex), "io")), "json") == 0) {
    /* The envelope is read from stdout; logs get stderr only. */
    int64_t cap = eng->cfg->limits.max_output_bytes;
    if ((int64_t)(ex->stdout_len + len) <= cap) {
      char *b = realloc(ex->stdout_text, ex->stdout_len + len + 1);
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
      notify_watchers(ex, "log", ev);
    json_decref(ev);
  }
}

static void host_job_output(execd_job *job, int stream, const char *data, size_t len) {
  execution *ex = job->ex;
  if (stream != EXECD_STREAM_STDERR)
    stream = EXECD_STREAM_STDOUT;
  line_ctx c = {ex, stream};
  line_splitter_feed(&ex->lines[stream], data, len, on_line, &c);
}

typedef struct collect_work {
  uv_work_t req;
  execution *ex;
  json_t *globs;
  int64_t max_bytes;
  json_t *collected;
} collect_work;

static void collect_run(uv_work_t *req) {
  collect_work *w = req->data;
  w->collected = outputs_collect(w->ex->workspace, w->globs, w->max_bytes);
}

static void collect_done(uv_work_t *req, int status) {
  collect_work *w = req->data;
  execution *ex = w->ex;
  json_t *result = json_object_get(ex->record, "result");
  if (w->collected) {
    json_object_set(result, "output", json_object_get(w->collected, "output"));
    json_object_set(result, "output_files", json_object_get(w->collected, "output_files"));
    json_t *err = json_object_get(w->collected, "error");
    if (json_is_object(err) && json_is_null(json_object_get(ex->record, "error")) &&
        ex->stop == STOP_NONE)
      set_error(ex, json_string_value(json_object_get(err, "code")),
                json_string_value(json_object_get(err, "message")), NULL);
    json_decref(w->collected);
  }
  json_decref(w->globs);
  free(w);
  (void)status;
  finish_attempt(ex);
  ex_unref(ex);
}

static void host_job_exited(execd_job *job, const execd_job_exit *e) {
  execution *ex = job->ex;
  for (int s = 1; s <= 2; s++) {
    line_ctx c = {ex, s};
    line_splitter_flush(&ex->lines[s], on_line, &c);
  }
  ex->handle = NULL;
  uv_timer_stop(&ex->timer);
  uv_timer_stop(&ex->kill_timer);
  json_decref(ex->exit);
  ex->exit = json_pack("{s:i, s:i, s:b, s:f, s:I}", "exit_code", e->exit_code, "term_signal",
                       e->term_signal, "retryable", e->retryable, "cpu_seconds",
                       e->cpu_seconds, "max_rss_bytes", (json_int_t)e->max_rss_bytes);
  if (e->error_code)
    json_object_set_new(ex->exit, "error_code", json_string(e->error_code));
  if (e->error_message)
    json_object_set_new(ex->exit, "error_message", json_string(e->error_message));

  json_t *result = json_pack("{s:i, s:n, s:n, s:[], s:f, s:I}", "exit_code", e->exit_code,
                             "output", "logs", "output_files", "cpu_seconds", e->cpu_seconds,
                             "max_rss_bytes", (json_int_t)e->max_rss_bytes);
  if (e->term_signal)
    json_object_set_new(result, "term_signal", json_integer(e->term_signal));
  json_object_set_new(ex->record, "result", result);

  collect_work *w = calloc(1, sizeof *w);
  w->ex = ex;
  w->req.data = w;
  const json_t *output = json_object_get(spec_of(ex), "output");
  w->globs = json_deep_copy(json_object_get(output, "files"));
  w->max_bytes = json_integer_value(json_object_get(output, "max_bytes"));
  /* The backend's reference becomes the collect work's. */
  uv_queue_work(ex->eng->loop, &w->req, collect_run, collect_done);
}

/* --- end of an attempt: decide the state, retry or finish ----------------- */

static bool permanent_error(const char *code) {
  static const char *const permanent[] = {
      "image_not_found", "image_not_allowed", "command_not_allowed", "spawn_failed",
      "invalid_output",  "invalid_envelope",  "job_error",           "start_failed",
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
  if (failed && ex->eng->cfg->keep_failed_workspaces) {
    log_info("execution %s: keeping workspace %s for inspection", ex->id, ex->workspace);
  } else {
    remove_work *w = calloc(1, sizeof *w);
    w->dir = ex->workspace;
    w->req.data = w;
    uv_queue_work(ex->eng->loop, &w->req, remove_run, remove_done);
    ex->workspace = NULL;
    return;
  }
  free(ex->workspace);
  ex->workspace = NULL;
}

static void on_retry_timer(uv_timer_t *t) {
  execution *ex = t->data;
  if (ex->state != STATE_RETRY_WAIT)
    return;
  if (transition(ex, STATE_QUEUED, "retry backoff elapsed") == 0) {
    scheduler_push(&ex->eng->sched, &ex->queue);
    engine_schedule(ex->eng);
  }
}

static void schedule_retry(execution *ex, int64_t delay_ms) {
  char at[32];
  ids_format_time(ids_now_ms() + delay_ms, at);
  json_object_set_new(ex->record, "retry_at", json_string(at));
  char reason[96];
  snprintf(reason, sizeof reason, "retrying in %lld ms", (long long)delay_ms);
  if (transition(ex, STATE_RETRY_WAIT, reason) == 0)
    uv_timer_start(&ex->timer, on_retry_timer, (uint64_t)(delay_ms > 0 ? delay_ms : 1), 0);
}

static int64_t backoff_for(const execution *ex) {
  const json_t *retry = json_object_get(spec_of(ex), "retry");
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
  const json_t *retry = json_object_get(spec_of(ex), "retry");
  int64_t max = json_integer_value(json_object_get(retry, "max_attempts"));
  int64_t attempts = json_integer_value(json_object_get(ex->record, "attempts"));
  if (!retryable || attempts >= max || ex->eng->draining)
    return false;
  schedule_retry(ex, backoff_for(ex));
  return true;
}

static void conclude(execution *ex, exec_state final, const char *reason, bool retryable) {
  char now[32];
  now_text(now);
  set_timestamp(ex, "finished");
  int64_t created = 0, finished = ids_now_ms();
  ids_parse_time(json_string_value(json_object_get(json_object_get(ex->record, "timestamps"), "created")),
                 &created);
  json_object_set_new(ex->record, "duration_ms", json_integer(finished - created));
  if (transition(ex, final, reason) != 0)
    return;
  if (final != STATE_SUCCEEDED && maybe_retry(ex, retryable))
    return;
  ex->eng->finished_total[final]++;
  json_t *view = engine_view(ex->record);
  engine_publish(ex->eng, EXECD_EVENT_COMPLETED, ex, view);
  json_decref(view);
}

static void finish_attempt(execution *ex) {
  engine *eng = ex->eng;
  ex->backend->running--;
  eng->running--;
  json_t *exit = ex->exit;
  json_t *result = json_object_get(ex->record, "result");
  if (!json_is_object(result)) {
    result = json_pack("{s:i, s:n, s:n, s:[]}", "exit_code", -1, "output", "logs", "output_files");
    json_object_set_new(ex->record, "result", result);
  }
  bool want_logs = json_is_true(json_object_get(json_object_get(spec_of(ex), "output"), "logs"));
  if (want_logs) {
    json_t *logs = json_stringn_nocheck(ex->logs ? ex->logs : "", ex->logs_len);
    json_object_set_new(result, "logs", logs ? logs : json_string(""));
    if (ex->logs_truncated)
      json_object_set_new(result, "logs_truncated", json_true());
  }
  int code = (int)json_integer_value(json_object_get(exit, "exit_code"));
  int sig = (int)json_integer_value(json_object_get(exit, "term_signal"));
  const char *backend_error = json_string_value(json_object_get(exit, "error_code"));
  bool json_io = strcmp(json_string_value(json_object_get(spec_of(ex), "io")), "json") == 0;
  exec_state final;
  const char *reason;
  bool retryable = false;

  if (ex->stop == STOP_CANCEL) {
    final = STATE_CANCELLED;
    reason = "cancelled";
    set_error(ex, "cancelled", "the execution was cancelled", NULL);
  } else if (ex->stop == STOP_TIMEOUT) {
    final = STATE_TIMED_OUT;
    reason = "wall-clock timeout";
    char msg[128];
    snprintf(msg, sizeof msg, "the job ran longer than its timeout of %lld ms",
             (long long)json_integer_value(json_object_get(json_object_get(spec_of(ex), "resources"), "timeout_ms")));
    set_error(ex, "timed_out", msg, NULL);
    retryable = true;
  } else if (backend_error) {
    final = STATE_FAILED;
    reason = backend_error;
    const char *msg = json_string_value(json_object_get(exit, "error_message"));
    if (!json_is_object(json_object_get(ex->record, "error")) ||
        strcmp(backend_error, "workspace_error") != 0)
      set_error(ex, backend_error, msg ? msg : backend_error,
                json_pack("{s:i, s:i}", "exit_code", code, "term_signal", sig));
    retryable = json_is_true(json_object_get(exit, "retryable")) && !permanent_error(backend_error);
  } else if (sig) {
    final = STATE_FAILED;
    reason = "killed by a signal";
    char msg[96];
    snprintf(msg, sizeof msg, "the job was killed by signal %d (%s)", sig, strsignal(sig));
    set_error(ex, "killed_by_signal", msg, json_pack("{s:i}", "term_signal", sig));
    retryable = true;
  } else if (code != 0) {
    final = STATE_FAILED;
    reason = "non-zero exit code";
    char msg[64];
    snprintf(msg, sizeof msg, "the job exited with code %d", code);
    set_error(ex, "exit_code", msg, json_pack("{s:i}", "exit_code", code));
    retryable = true;
  } else if (json_is_object(json_object_get(ex->record, "error"))) {
    final = STATE_FAILED; /* invalid result.json and the like */
    reason = json_string_value(json_object_get(json_object_get(ex->record, "error"), "code"));
  } else if (json_io) {
    json_t *env = outputs_parse_envelope(ex->stdout_text ? ex->stdout_text : "", ex->stdout_len);
    if (!env) {
      final = STATE_FAILED;
      reason = "no io:json envelope";
      set_error(ex, "invalid_envelope",
                "io is \"json\" but the job printed no {\"ok\": ...} line on stdout", NULL);
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
  json_object_set(result, "error", json_object_get(ex->record, "error"));
  if (final == STATE_SUCCEEDED)
    json_object_set_new(ex->record, "error", json_null());
  drop_workspace(ex, final != STATE_SUCCEEDED);
  /* STARTING -> FAILED/CANCELLED is allowed; STARTING -> TIMED_OUT is not
   * reachable (the timeout starts with RUNNING). */
  conclude(ex, final, reason, retryable);
  engine_schedule(eng);
}

/* --- cancel ----------------------------------------------------------------- */

int engine_cancel(execution *ex, const char *reason) {
  switch (ex->state) {
  case STATE_QUEUED:
    scheduler_remove(&ex->eng->sched, &ex->queue);
    /* fallthrough */
  case STATE_RETRY_WAIT:
    uv_timer_stop(&ex->timer);
    set_error(ex, "cancelled", reason, NULL);
    set_timestamp(ex, "finished");
    if (transition(ex, STATE_CANCELLED, reason) == 0)
      ex->eng->finished_total[STATE_CANCELLED]++;
    return 0;
  case STATE_STARTING:
  case STATE_RUNNING:
    stop_job(ex, STOP_CANCEL);
    return 0;
  default:
    return EXECD_ECONFLICT;
  }
}

/* --- adopting records (new and recovered) ---------------------------------- */

static execution *ex_new(engine *eng, json_t *record) {
  const char *backend = json_string_value(json_object_get(record, "backend"));
  backend_rt *b = backend ? engine_backend(eng, backend) : NULL;
  if (!b)
    return NULL;
  execution *ex = calloc(1, sizeof *ex);
  ex->eng = eng;
  snprintf(ex->id, sizeof ex->id, "%s", json_string_value(json_object_get(record, "id")));
  ex->record = json_incref(record);
  int s = state_from_name(json_string_value(json_object_get(record, "state")));
  ex->state = ex->persisted = s < 0 ? STATE_QUEUED : (exec_state)s;
  ex->backend = b;
  ex->queue.priority = (int)json_integer_value(json_object_get(record, "priority"));
  uv_timer_init(eng->loop, &ex->timer);
  uv_timer_init(eng->loop, &ex->kill_timer);
  ex->timer.data = ex;
  ex->kill_timer.data = ex;
  ex->refs = 1; /* the active tree's */
  RB_INSERT(exec_tree, &eng->active, ex);
  eng->n_active++;
  return ex;
}

/* Terminal and persisted: leave the active set once nothing refers to it. */
static void release(execution *ex) {
  if (ex->released)
    return;
  ex->released = true;
  RB_REMOVE(exec_tree, &ex->eng->active, ex);
  ex->eng->n_active--;
  ex_ref(ex);
  ex_ref(ex);
  uv_close((uv_handle_t *)&ex->timer, on_handle_closed);
  uv_close((uv_handle_t *)&ex->kill_timer, on_handle_closed);
  ex_unref(ex); /* the active tree's */
}

execution *engine_adopt(engine *eng, json_t *record) {
  execution *ex = ex_new(eng, record);
  if (!ex)
    return NULL;
  scheduler_push(&eng->sched, &ex->queue);
  return ex;
}

execution *engine_find(engine *eng, const char *id) {
  execution key;
  snprintf(key.id, sizeof key.id, "%s", id);
  return RB_FIND(exec_tree, &eng->active, &key);
}

backend_rt *engine_backend(engine *eng, const char *name) {
  for (size_t i = 0; i < eng->n_backends; i++)
    if (strcmp(eng->backends[i].inst->name, name) == 0)
      return &eng->backends[i];
  return NULL;
}

/* --- recovery after a restart ------------------------------------------- */

/* Recovery reads every unfinished record, page by page and state by state.
 * Per execution that ran before, it first measures the stored log (where a
 * re-attached attempt's replayed output continues).  An attempt that was
 * running is re-attached when its backend can (adopt), else it ends as
 * interrupted (daemon_restart) and is retried per its policy.  Recovery is
 * over when every page is read and every such step is done; then backends
 * hear adopt_done() and may remove what nobody re-attached. */
struct recover_ctx {
  engine *eng;
  void (*cb)(void *arg, int status);
  void *arg;
  int state_index;
  char *cursor;
  bool listed;      /* every page has been read */
  unsigned pending; /* executions whose log count or re-attach is under way */
  unsigned resumed, reattached, failed;
};

static const exec_state recover_states[] = {STATE_RUNNING, STATE_STARTING, STATE_RETRY_WAIT,
                                            STATE_QUEUED};

static void recover_next(recover_ctx *c);

/* The end of recovery: workspaces of the last run that no re-attached
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
  engine *eng = c->eng;
  size_t n = 0, i = 0;
  execution *ex;
  RB_FOREACH(ex, exec_tree, &eng->active) n++;
  sweep_work *w = calloc(1, sizeof *w);
  char **keep = calloc(n + 1, sizeof *keep);
  if (!w || !keep) {
    free(w);
    free(keep);
    log_warn("recovery: out of memory; workspaces of the last run are left in place");
    recovery_complete(c);
    return;
  }
  RB_FOREACH(ex, exec_tree, &eng->active) {
    const char *slash = ex->workspace ? strrchr(ex->workspace, '/') : NULL;
    if (slash && (keep[i] = strdup(slash + 1)) != NULL)
      i++;
  }
  w->c = c;
  w->keep = keep;
  w->req.data = w;
  snprintf(w->dir, sizeof w->dir, "%s/work", eng->cfg->state_dir);
  uv_queue_work(eng->loop, &w->req, sweep_run, sweep_done);
}

static void recovery_complete(recover_ctx *c) {
  engine *eng = c->eng;
  eng->recovery = NULL;
  for (size_t i = 0; i < eng->n_backends; i++) {
    const execd_backend_ops *ops = eng->backends[i].ops;
    if (EXECD_BACKEND_HAS(ops, adopt_done))
      ops->adopt_done(eng->backends[i].inst->self);
  }
  if (c->resumed || c->reattached || c->failed)
    log_notice("recovery: resumed %u executions, re-attached to %u running attempts, %u "
               "interrupted by the restart",
               c->resumed, c->reattached, c->failed);
  c->cb(c->arg, 0);
  free(c->cursor);
  free(c);
  engine_schedule(eng);
}

static void recovery_step_done(engine *eng) {
  recover_ctx *c = eng->recovery;
  if (!c) /* recovery already failed */
    return;
  c->pending--;
  if (c->listed && c->pending == 0)
    recovery_finish(c);
}

/* Puts a recovered execution back where its state says. */
static void recover_dispatch(recover_ctx *c, execution *ex) {
  engine *eng = c->eng;
  switch (ex->state) {
  case STATE_RUNNING:
  case STATE_STARTING: {
    ex->backend->running++; /* finish_attempt gives it back */
    eng->running++;
    if (EXECD_BACKEND_HAS(ex->backend->ops, adopt)) {
      c->reattached++;
      c->pending++;
      json_int_t start = json_integer_value(json_object_get(ex->record, "log_start"));
      ex->log_skip = ex->log_stored > (uint64_t)start ? ex->log_stored - (uint64_t)start : 0;
      if (ex->log_skip)
        log_info("execution %s: storage holds %llu bytes of the attempt's output; the rest "
                 "of its replay is stored after them",
                 ex->id, (unsigned long long)ex->log_skip);
      queue_prepare(ex, true);
      break;
    }
    c->failed++;
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code",
                         EXECD_ERR_DAEMON_RESTART, "error_message",
                         "execd restarted while the execution was running", "retryable", 1);
    finish_attempt(ex);
    break;
  }
  case STATE_RETRY_WAIT: {
    int64_t at = 0;
    ids_parse_time(json_string_value(json_object_get(ex->record, "retry_at")), &at);
    int64_t delay = at - ids_now_ms();
    uv_timer_start(&ex->timer, on_retry_timer, (uint64_t)(delay > 1 ? delay : 1), 0);
    c->resumed++;
    break;
  }
  default:
    scheduler_push(&eng->sched, &ex->queue);
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
  engine *eng = ex->eng;
  (void)data;
  if (status == 0 && len > 0) {
    k->offset = next_offset;
    if (eng->store->log_read(eng->storage->self, ex->id, k->offset, LOG_COUNT_CHUNK,
                             on_log_chunk, k) == 0)
      return;
  } else if (status != 0) {
    log_warn("execution %s: reading its stored log failed (%s); a re-attached attempt's "
             "output may be stored twice",
             ex->id, execd_strerror(status));
  }
  ex->log_stored = k->offset;
  free(k);
  if (eng->recovery)
    recover_dispatch(eng->recovery, ex);
  ex_unref(ex);
  recovery_step_done(eng);
}

static void recover_one(recover_ctx *c, json_t *record) {
  engine *eng = c->eng;
  const char *id = json_string_value(json_object_get(record, "id"));
  if (!id || engine_find(eng, id))
    return;
  execution *ex = ex_new(eng, record);
  if (!ex) {
    log_err("execution %s: its backend '%s' is no longer configured; marking it failed", id,
            json_string_value(json_object_get(record, "backend")));
    /* Keep it visible as failed without an engine object. */
    json_t *copy = json_deep_copy(record);
    const char *state = json_string_value(json_object_get(record, "state"));
    json_object_set_new(copy, "state", json_string("FAILED"));
    json_object_set_new(copy, "error", json_pack("{s:s, s:s}", "code", "backend_unavailable",
                                                 "message", "the backend is no longer configured"));
    eng->store->update(eng->storage->self, copy, state, NULL, NULL);
    json_decref(copy);
    return;
  }
  if (json_integer_value(json_object_get(record, "attempts")) > 0 && eng->store->log_read) {
    log_count *k = calloc(1, sizeof *k);
    if (k) {
      k->ex = ex;
      ex_ref(ex);
      if (eng->store->log_read(eng->storage->self, ex->id, 0, LOG_COUNT_CHUNK, on_log_chunk,
                               k) == 0) {
        c->pending++;
        return;
      }
      free(k);
      ex_unref(ex);
    }
  }
  recover_dispatch(c, ex);
}

static void recovery_failed(recover_ctx *c, int status) {
  c->eng->recovery = NULL;
  c->cb(c->arg, status);
  free(c->cursor);
  free(c);
}

static void on_recover_page(void *arg, int status, json_t *records, const char *next) {
  recover_ctx *c = arg;
  if (status != 0) {
    log_err("recovery: listing executions failed: %s", execd_strerror(status));
    recovery_failed(c, status);
    return;
  }
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r) recover_one(c, r);
  free(c->cursor);
  c->cursor = next ? strdup(next) : NULL;
  if (!c->cursor)
    c->state_index++;
  recover_next(c);
}

static void recover_next(recover_ctx *c) {
  engine *eng = c->eng;
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
  int rc = eng->store->list(eng->storage->self, &q, on_recover_page, c);
  if (rc != 0) {
    log_err("recovery: storage refused to list: %s", execd_strerror(rc));
    recovery_failed(c, rc);
  }
}

int engine_recover(engine *eng, void (*cb)(void *arg, int status), void *arg) {
  recover_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return EXECD_ENOMEM;
  c->eng = eng;
  c->cb = cb;
  c->arg = arg;
  eng->recovery = c;
  recover_next(c);
  return 0;
}

/* --- drain and close ------------------------------------------------------- */

typedef struct drain_ctx {
  engine *eng;
  uv_timer_t poll;
  void (*cb)(void *arg);
  void *arg;
} drain_ctx;

static void drain_closed(uv_handle_t *h) { free(h->data); }

static void drain_check(uv_timer_t *t) {
  drain_ctx *d = t->data;
  if (d->eng->running > 0 && ids_now_ms() < d->eng->drain_deadline_ms)
    return;
  if (d->eng->running > 0)
    log_warn("shutdown: %d executions still running after the grace period; they will be "
             "recovered at the next start",
             d->eng->running);
  uv_timer_stop(t);
  d->cb(d->arg);
  uv_close((uv_handle_t *)t, drain_closed);
}

void engine_drain(engine *eng, void (*cb)(void *arg), void *arg) {
  eng->draining = true;
  drain_ctx *d = calloc(1, sizeof *d);
  d->eng = eng;
  d->cb = cb;
  d->arg = arg;
  eng->drain_deadline_ms = ids_now_ms() + eng->cfg->shutdown_grace_ms;
  uv_timer_init(eng->loop, &d->poll);
  d->poll.data = d;
  if (eng->running)
    log_notice("shutdown: waiting up to %lld ms for %d running executions",
               (long long)eng->cfg->shutdown_grace_ms, eng->running);
  uv_timer_start(&d->poll, drain_check, 1, 50);
}

void engine_drain_now(engine *eng) { eng->drain_deadline_ms = 0; }

void engine_close(engine *eng) {
  /* Whatever is left stays in storage as it is and is recovered at the
   * next start; only memory is released here. */
  execution *ex, *next;
  RB_FOREACH_SAFE(ex, exec_tree, &eng->active, next) {
    scheduler_remove(&eng->sched, &ex->queue);
    waiter *w = ex->waiters;
    ex->waiters = NULL;
    while (w) {
      waiter *n = w->next;
      w->done(w->arg, ex->record);
      free(w);
      w = n;
    }
    release(ex);
  }
}

void engine_init(engine *eng, uv_loop_t *loop, const execd_config *cfg) {
  memset(eng, 0, sizeof *eng);
  eng->loop = loop;
  eng->cfg = cfg;
  scheduler_init(&eng->sched);
  RB_INIT(&eng->active);
  eng->started_ms = ids_now_ms();
}

/* The host table's backend members live here, next to what they touch. */
void engine_host_job_output(execd_job *job, int stream, const char *data, size_t len);
void engine_host_job_exited(execd_job *job, const execd_job_exit *exit);
void engine_host_job_output(execd_job *job, int stream, const char *data, size_t len) {
  host_job_output(job, stream, data, len);
}
void engine_host_job_exited(execd_job *job, const execd_job_exit *exit) {
  host_job_exited(job, exit);
}
