/* One attempt as a Kubernetes Job (doc/backend-kubernetes.md, "One
 * attempt"):
 *   pack the workspace into a tar (thread pool) -> create the Job ->
 *   watch its pod (from the last resourceVersion; 410 Gone: from now) ->
 *   once the containers run: attach to the job container (stdin, stdout,
 *   stderr on one stream), write a size line and the tar (the wrapper
 *   unpacks it, then runs the command), and exec in it the output reader,
 *   which waits for the command's status, then writes `tar -c output` ->
 *   the outputs unpacked (thread pool) -> the job container ends: exit code
 *   and reason from the pod status -> the Job deleted (propagationPolicy
 *   Background) -> job_exited.
 * A signal deletes the Job (the kubelet sends SIGTERM, the wrapper
 * forwards it, SIGKILL follows after terminationGracePeriodSeconds);
 * SIGKILL also deletes the pod with a grace of one second.
 * An adopted attempt (execd restarted) follows the job container's log
 * from its first byte instead of attaching. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container/engine_tar.h"
#include "kube_api.h"
#include "kube_internal.h"
#include "kube_ws.h"

#define WATCH_LINE_MAX KUBE_JSON_MAX
#define RETRY_MS 1000
#define DRAIN_MS 3000
#define CREATE_TRIES 20
#define EXEC_TRIES 5
#define REQUEST_MS 30000
/* What the output reader writes to stderr once its archive is written. */
#define TAR_END_MARK_WORD "execd-tar-end"
#define TAR_END_MARK TAR_END_MARK_WORD "\n"

enum { ST_PACKING, ST_CREATING, ST_RUNNING, ST_DELETING, ST_DONE };

struct kube_job {
  kube_backend *b;
  kube_job *next;
  execd_job *job;
  char name[96];
  char pod[254];
  int state;
  bool adopted;
  uint64_t started_at;

  /* input */
  char *workspace;
  char *manifest; /* the Job, as JSON text */
  char *stdin_data;
  size_t stdin_len;
  char *tar;
  size_t tar_len;
  uid_t uid;
  gid_t gid;

  /* the thread pool */
  uv_work_t work;
  bool work_busy;
  int work_rc;
  char work_err[512];

  /* requests and streams */
  httpc_request *req;       /* create, delete, get: one at a time */
  httpc_request *kill_req;  /* the pod's deletion for SIGKILL */
  httpc_request *watch;
  httpc_request *logs;
  kube_ws *out_ws, *exec_ws;
  kube_lines lines;
  char rv[64];
  uv_timer_t *timer;  /* timers[0]: one purpose at a time (T_*) */
  uv_timer_t *retry;  /* timers[1]: reopening the watch, log or exec (on_retry) */
  int timers_open;
  int timer_purpose;
  bool log_retry, exec_retry, rewatch, exit_rewatched;
  uint64_t exec_fail_since;
  int create_tries;

  /* what was seen */
  bool created, attaching, attached, output_ended, terminated, deleted_seen;
  bool helper_running, started_checked, collecting, outputs_done;
  bool tar_end_seen, tar_acked; /* the reader's marker; "ok" sent back */
  int exec_tries;
  kube_container_state final;
  uint64_t delivered;  /* stdout + stderr bytes handed to execd */
  uint64_t log_skip;   /* of a followed log: bytes execd already has */
  uint64_t outage_since;
  int signalled;       /* the first signal asked for, 0 if none */
  bool job_deleted, pod_kill_sent;
  uint64_t signal_at;

  /* outputs */
  char *otar;
  size_t otar_len, otar_cap;
  char exec_err[512];
  kube_status exec_status;
  bool exec_status_seen;

  /* the exit to report */
  bool failed;
  execd_job_exit exit;
  char error_code[64];
  char error_message[1024];
  bool freed_on_close;
};

enum {
  T_NONE,
  T_RETRY_CREATE,
  T_DRAIN,
  T_SIGNAL_WAIT,
  T_RETRY_ATTACH,
  T_EXIT_WAIT
};

static void maybe_collect(kube_job *j);
static void maybe_finish(kube_job *j);
static void collected(kube_job *j);
static void collect_outputs(kube_job *j);
static void arm(kube_job *j, int purpose, uint64_t ms);
static void start_watch(kube_job *j);
static void restart_watch(kube_job *j);
static void delete_job(kube_job *j);
static void finish(kube_job *j);
static void on_timer(uv_timer_t *t);

/* ---- bookkeeping ----------------------------------------------------------- */

/* With log_level = "debug": each step, with the time since the start. */
static void step(kube_job *j, const char *what) {
  j->b->host->log(j->b->inst, EXECD_LOG_DEBUG, "job %s: %s (%llu ms)", j->name, what,
                  (unsigned long long)(uv_now(j->b->loop) - j->started_at));
}

static void set_failure(kube_job *j, const char *code, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_failure(kube_job *j, const char *code, bool retryable, const char *fmt, ...) {
  if (j->failed)
    return;
  j->failed = true;
  snprintf(j->error_code, sizeof j->error_code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->error_message, sizeof j->error_message, fmt, ap);
  va_end(ap);
  j->exit.exit_code = -1;
  j->exit.retryable = retryable;
  j->b->host->log(j->b->inst, EXECD_LOG_DEBUG, "job %s: %s: %s", j->name, code,
                  j->error_message);
}

static void unlink_job(kube_job *j) {
  for (kube_job **p = &j->b->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      return;
    }
}

static void free_job(kube_job *j) {
  free(j->workspace);
  free(j->manifest);
  free(j->stdin_data);
  free(j->tar);
  free(j->otar);
  kube_lines_reset(&j->lines);
  free(j);
}

/* Both timers are one allocation (j->timer), freed when both closed. */
static void on_timer_closed(uv_handle_t *h) {
  kube_job *j = h->data;
  if (--j->timers_open > 0)
    return;
  free(j->timer);
  j->timer = j->retry = NULL;
  if (!j->work_busy)
    free_job(j);
}

static void close_timers(kube_job *j) {
  j->freed_on_close = true;
  uv_timer_stop(j->timer);
  uv_timer_stop(j->retry);
  uv_close((uv_handle_t *)j->timer, on_timer_closed);
  uv_close((uv_handle_t *)j->retry, on_timer_closed);
}

static void stop_io(kube_job *j) {
  httpc_request_cancel(j->req);
  httpc_request_cancel(j->kill_req);
  httpc_request_cancel(j->watch);
  httpc_request_cancel(j->logs);
  j->req = j->kill_req = j->watch = j->logs = NULL;
  kube_ws_close(j->out_ws);
  kube_ws_close(j->exec_ws);
  j->out_ws = j->exec_ws = NULL;
}

/* Reports the exit once and lets the attempt go.  The struct is freed
 * once its timer has closed and no work is on the thread pool. */
static void finish(kube_job *j) {
  if (j->state == ST_DONE)
    return;
  j->state = ST_DONE;
  stop_io(j);
  unlink_job(j);
  execd_job_exit ex = j->exit;
  ex.struct_size = sizeof ex;
  if (j->failed) {
    ex.error_code = j->error_code;
    ex.error_message = j->error_message;
  }
  if (j->job) {
    execd_job *job = j->job;
    j->job = NULL;
    j->b->host->job_exited(job, &ex);
  }
  close_timers(j);
}

static void arm(kube_job *j, int purpose, uint64_t ms) {
  j->timer_purpose = purpose;
  uv_timer_start(j->timer, on_timer, ms, 0);
}

/* A stream to the API server broke (it went away, or answered an error):
 * whatever is missing (the watch, the followed log, the output reader) is
 * opened again in a moment.  The watch bounds how long: once the API
 * server has been away for api_grace, the attempt ends. */
static void on_retry(uv_timer_t *t);
static void retry_soon(kube_job *j) {
  if (!uv_is_active((uv_handle_t *)j->retry))
    uv_timer_start(j->retry, on_retry, RETRY_MS, 0);
}

/* The end of an attempt that failed before or without its exit: the Job
 * is deleted (if it was made) before the failure is reported. */
static void fail_and_delete(kube_job *j) {
  if (j->created && !j->job_deleted)
    delete_job(j);
  else
    finish(j);
}

static bool denied(kube_job *j, const httpc_response *r, const char *verb, const char *resource) {
  if (r->status != 401 && r->status != 403)
    return false;
  char msg[900];
  set_failure(j, KUBE_ERR_FORBIDDEN, false, "%s",
              kube_denied_message(j->b, r, verb, resource, msg, sizeof msg));
  return true;
}

/* ---- deletion ----------------------------------------------------------------- */

static void on_deleted(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->req = NULL;
  if (r->transport_err) {
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                    "job %s: deleting it: %s (removed as a leftover once the API server answers)",
                    j->name, r->error);
  } else if (r->status >= 300 && r->status != 404) {
    char msg[600];
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: deleting it: HTTP %ld: %s", j->name,
                    r->status, kube_error_message(r, msg, sizeof msg));
  }
  finish(j);
}

static void delete_job(kube_job *j) {
  j->state = ST_DELETING;
  step(j, "deleting");
  j->job_deleted = true;
  httpc_request_cancel(j->watch);
  httpc_request_cancel(j->logs);
  j->watch = j->logs = NULL;
  char *path = kube_path(j->b, "/apis/batch/v1", "jobs", j->name, "propagationPolicy=Background");
  httpc_request_cancel(j->req);
  j->req = path ? kube_request(j->b, "DELETE", path, NULL, REQUEST_MS, on_deleted, j) : NULL;
  free(path);
  if (!j->req)
    finish(j);
}

/* ---- outputs ------------------------------------------------------------------ */

static void unpack_work(uv_work_t *w) {
  kube_job *j = w->data;
  char dest[4096];
  snprintf(dest, sizeof dest, "%s/output", j->workspace);
  unsigned skipped = 0;
  j->work_rc = engine_tar_unpack(j->otar, j->otar_len, "output", dest, (uint64_t)j->b->output_max,
                                 &skipped, j->work_err, sizeof j->work_err);
  if (j->work_rc == 0 && skipped)
    snprintf(j->work_err, sizeof j->work_err, "%u links or special files left out", skipped);
}

static void unpack_done(uv_work_t *w, int status) {
  kube_job *j = w->data;
  j->work_busy = false;
  free(j->otar);
  j->otar = NULL;
  if (j->state == ST_DONE) { /* abandoned meanwhile */
    if (!j->timer)
      free_job(j);
    return;
  }
  if (status != 0 || j->work_rc != 0)
    set_failure(j, KUBE_ERR_OUTPUT, false, "outputs of job %s: %s", j->name,
                status ? "cancelled" : j->work_err);
  else if (j->work_err[0])
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: outputs: %s", j->name, j->work_err);
  collected(j);
}

/* The outputs could not be read (yet): again while tries remain, or
 * while the API server has been away for less than api_grace (the exec
 * stream goes through it). */
static void exec_failed(kube_job *j, const char *code, bool retryable, const char *why) {
  kube_ws_close(j->exec_ws);
  j->exec_ws = NULL;
  if (j->signalled) { /* the container is being stopped: no outputs are read */
    collected(j);
    return;
  }
  uint64_t now = uv_now(j->b->loop);
  if (!j->exec_fail_since)
    j->exec_fail_since = now;
  bool in_grace = now - j->exec_fail_since <= (uint64_t)j->b->api_grace_ms;
  if (retryable && (j->exec_tries < EXEC_TRIES || in_grace) && !j->terminated) {
    j->b->host->log(j->b->inst, EXECD_LOG_DEBUG, "job %s: reading the outputs: %s; again",
                    j->name, why);
    j->exec_retry = true;
    j->rewatch = j->rewatch || strcmp(code, EXECD_ERR_BACKEND_UNAVAILABLE) == 0;
    retry_soon(j);
    return;
  }
  if (retryable && strcmp(code, EXECD_ERR_BACKEND_UNAVAILABLE) == 0)
    set_failure(j, code, true,
                "job %s: the API server at %s did not answer for %lld ms (reading the outputs: "
                "%s)",
                j->name, j->b->api_url, (long long)(now - j->exec_fail_since), why);
  else
    set_failure(j, code, retryable, "job %s: reading the outputs (exec): %s", j->name, why);
  collected(j);
}

static void on_exec_open(void *arg, int status, const char *error) {
  kube_job *j = arg;
  if (status < 0)
    exec_failed(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, error);
  else
    j->exec_fail_since = 0;
}

/* The archive is whole: its length a number of 512-byte blocks, ending
 * with the two zero blocks tar writes last. */
static bool tar_complete(const kube_job *j) {
  if (j->otar_len < 1024 || j->otar_len % 512)
    return false;
  for (size_t i = j->otar_len - 1024; i < j->otar_len; i++)
    if (j->otar[i])
      return false;
  return true;
}

/* The reader in the pod said the archive is written, and all of it is
 * here (or it failed here: over output_max, out of memory, an error on
 * stderr, and the attempt fails with output_error): "ok" lets the
 * container end. */
static void maybe_ack_tar(kube_job *j) {
  if (!j->tar_end_seen || j->tar_acked || (!j->exec_err[0] && !tar_complete(j)))
    return;
  j->tar_acked = true;
  if (kube_ws_send(j->exec_ws, 0, "ok\n", 3) != 0)
    snprintf(j->exec_err, sizeof j->exec_err, "cannot confirm the outputs to the pod");
}

static void on_exec_data(void *arg, int channel, const char *data, size_t len) {
  kube_job *j = arg;
  if (channel == 1) {
    size_t cap = (size_t)j->b->output_max + (size_t)j->b->output_max / 8 + (1u << 20);
    if (j->otar_len + len > cap) {
      snprintf(j->exec_err, sizeof j->exec_err, "more than output_max (%lld bytes) of outputs",
               (long long)j->b->output_max);
      return;
    }
    if (j->otar_len + len > j->otar_cap) {
      size_t c = j->otar_cap ? j->otar_cap : 65536;
      while (c < j->otar_len + len)
        c *= 2;
      char *p = realloc(j->otar, c);
      if (!p) {
        snprintf(j->exec_err, sizeof j->exec_err, "out of memory");
        return;
      }
      j->otar = p;
      j->otar_cap = c;
    }
    memcpy(j->otar + j->otar_len, data, len);
    j->otar_len += len;
    maybe_ack_tar(j);
  } else if (channel == 2) {
    size_t mark = sizeof TAR_END_MARK - 1;
    if (len >= mark && memcmp(data + len - mark, TAR_END_MARK, mark) == 0) {
      j->tar_end_seen = true;
      len -= mark;
    }
    size_t have = strlen(j->exec_err);
    if (len && have + 1 < sizeof j->exec_err)
      snprintf(j->exec_err + have, sizeof j->exec_err - have, "%.*s", (int)len, data);
    maybe_ack_tar(j);
  } else if (channel == 3) {
    char err[200];
    json_t *doc = kube_json_parse(data, len, err, sizeof err);
    j->exec_status_seen = doc && kube_status_parse(doc, &j->exec_status) == 0;
    json_decref(doc);
  }
}

static void on_exec_end(void *arg, int status, const char *error) {
  kube_job *j = arg;
  if (j->signalled) { /* the container is being stopped: no outputs */
    exec_failed(j, KUBE_ERR_OUTPUT, false, "stopped");
    return;
  }
  if (j->tar_acked && !j->exec_err[0]) {
    /* The whole archive is here and the reader was told so: it sets the
     * marker and the container ends, which may kill the reader before its
     * status is reported (137, or no status at all). */
    j->exec_status_seen = true;
    j->exec_status.success = true;
    status = 0;
  }
  if (status < 0 || !j->exec_status_seen) {
    exec_failed(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                status < 0 ? error : "the stream ended without its status");
    return;
  }
  if (!j->exec_status.success &&
      (j->exec_status.exit_code < 0 || j->exec_status.exit_code == 128 + SIGKILL)) {
    /* Killed, or not run (no exit code of its own): again, from scratch. */
    exec_failed(j, KUBE_ERR_OUTPUT, true, j->exec_status.message);
    return;
  }
  kube_ws_close(j->exec_ws);
  j->exec_ws = NULL;
  if (!j->exec_status.success || j->exec_err[0] || !j->tar_acked) {
    set_failure(j, KUBE_ERR_OUTPUT, false, "job %s: reading the outputs: %s", j->name,
                j->exec_err[0]           ? j->exec_err
                : !j->exec_status.success ? j->exec_status.message
                                          : "the archive of the output directory is incomplete");
    collected(j);
    return;
  }
  step(j, "outputs read");
  j->work.data = j;
  j->work_busy = true;
  uv_queue_work(j->b->loop, &j->work, unpack_work, unpack_done);
}

/* An exec in the job container, run by the wrapper's busybox: once the
 * command's status is there, `tar -c output` to stdout and a marker line
 * to stderr; then it waits for execd's "ok" on stdin (sent once the whole
 * archive is in) before it sets the marker file that lets the wrapper
 * exit.  The exec of an execd that was killed may live on in the
 * container: its stdin ends with its stream, so it never sets the marker,
 * and the container waits for the next execd to read the outputs. */
static const char collect_script[] =
    "B=/workspace/.execd/busybox; X=/workspace/.execd\n"
    "while [ ! -e $X/rc ]; do $B sleep 0.2; done\n"
    "$B tar -c -C /workspace output || exit 1\n"
    "echo " TAR_END_MARK_WORD " >&2\n"
    "read a && [ \"$a\" = ok ] && $B touch $X/collected\n";

static void collect_outputs(kube_job *j) {
  j->collecting = true;
  j->exec_tries++;
  j->exec_status_seen = false;
  j->exec_err[0] = '\0';
  j->otar_len = 0;
  j->tar_end_seen = j->tar_acked = false;
  step(j, "reading the outputs");
  static const kube_ws_cbs cbs = {on_exec_open, on_exec_data, on_exec_end};
  char *path = kube_path(j->b, "/api/v1", "pods", j->pod, NULL);
  char *script = httpc_url_escape(collect_script);
  char *full = NULL;
  if (path && script &&
      asprintf(&full,
               "%s/exec?container=" KUBE_C_JOB "&command=%%2Fworkspace%%2F.execd%%2Fbusybox"
               "&command=sh&command=-c&command=%s&stdin=true&stdout=true&stderr=true",
               path, script) < 0)
    full = NULL;
  free(path);
  free(script);
  j->exec_ws = full ? kube_ws_open(j->b->client, full, j->b->auth_header, &cbs, j) : NULL;
  free(full);
  if (!j->exec_ws)
    exec_failed(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "cannot open the exec stream");
}

/* ---- the exit ----------------------------------------------------------------- */

static bool is_image_error(const char *reason) {
  return strcmp(reason, "ErrImagePull") == 0 || strcmp(reason, "ImagePullBackOff") == 0 ||
         strcmp(reason, "ErrImageNeverPull") == 0 || strcmp(reason, "InvalidImageName") == 0;
}

/* Exit code and reason of the terminated job container. */
static void take_exit(kube_job *j) {
  const kube_container_state *t = &j->final;
  char what[700];
  snprintf(what, sizeof what, "exit %d signal %d %s: %s", t->exit_code, t->signal, t->reason,
           t->message);
  step(j, what);
  j->exit.exit_code = t->exit_code;
  j->exit.term_signal = t->signal;
  if (strcmp(t->reason, "OOMKilled") == 0)
    set_failure(j, EXECD_ERR_OOM_KILLED, false, "job %s: killed by the out-of-memory killer "
                "(exit %d)", j->name, t->exit_code), j->exit.exit_code = t->exit_code;
  else if (t->exit_code == 125 && strstr(t->message, "workspace did not arrive"))
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "job %s: the workspace did not arrive", j->name);
}

/* The job container ended: once the outputs are in (or will not come),
 * its exit is taken and the Job deleted. */
static void maybe_finish(kube_job *j) {
  if (j->state != ST_RUNNING || !j->terminated || j->collecting)
    return;
  if (!j->output_ended && (j->out_ws || j->logs)) {
    if (j->timer_purpose != T_DRAIN || !uv_is_active((uv_handle_t *)j->timer))
      arm(j, T_DRAIN, DRAIN_MS);
    return;
  }
  uv_timer_stop(j->timer);
  take_exit(j);
  delete_job(j);
}

/* The output stream ended: the container ended, or the stream broke. */
static void maybe_collect(kube_job *j) {
  if (j->state == ST_RUNNING)
    maybe_finish(j);
}

static void collected(kube_job *j) {
  j->collecting = false;
  j->outputs_done = true;
  if (j->state != ST_RUNNING)
    return;
  if (j->failed) {
    fail_and_delete(j);
    return;
  }
  /* The wrapper exits within 0.1 s of the marker; the watch shows it. */
  if (!j->terminated && !j->signalled)
    arm(j, T_EXIT_WAIT, (uint64_t)(j->b->grace_s + 30) * 1000);
  maybe_finish(j);
}

/* ---- output streams ---------------------------------------------------------- */

static void deliver(kube_job *j, int stream, const char *data, size_t len) {
  j->delivered += len;
  if (j->job)
    j->b->host->job_output(j->job, stream, data, len);
}

static void on_out_data(void *arg, int channel, const char *data, size_t len) {
  kube_job *j = arg;
  if (channel == 1 || channel == 2)
    deliver(j, channel, data, len);
}

static void output_over(kube_job *j) {
  j->output_ended = true;
  maybe_collect(j);
}

static void follow_log(kube_job *j, uint64_t skip);

/* The attach ended: the container ended, or the stream broke with the API
 * server.  Unless the container's end was seen, its log is followed on,
 * less what execd has (after an end, the rest is empty). */
static void on_out_end(void *arg, int status, const char *error) {
  kube_job *j = arg;
  kube_ws_close(j->out_ws);
  j->out_ws = NULL;
  if (status < 0)
    j->b->host->log(j->b->inst, EXECD_LOG_INFO, "job %s: output stream: %s", j->name, error);
  if (j->state == ST_RUNNING && !j->terminated && !j->signalled) {
    follow_log(j, j->delivered);
    if (j->logs)
      return;
  }
  output_over(j);
}

static char *attach_path(kube_job *j, const char *what) {
  char *path = kube_path(j->b, "/api/v1", "pods", j->pod, NULL), *full = NULL;
  if (path && asprintf(&full, "%s/attach?container=" KUBE_C_JOB "&%s", path, what) < 0)
    full = NULL;
  free(path);
  return full;
}

static void on_out_open(void *arg, int status, const char *error) {
  kube_job *j = arg;
  if (status < 0) {
    kube_ws_close(j->out_ws);
    j->out_ws = NULL;
    j->attaching = false;
    if (j->create_tries++ < CREATE_TRIES) { /* the container may not be attachable yet */
      j->b->host->log(j->b->inst, EXECD_LOG_DEBUG, "job %s: attach: %s; again", j->name, error);
      arm(j, T_RETRY_ATTACH, RETRY_MS / 4);
      return;
    }
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "job %s: attaching: %s", j->name, error);
    delete_job(j);
    return;
  }
  j->attached = true;
  step(j, "attached");
  /* The size, then the tar, on the same attach as the output: an attach
   * without an output stream ends at once, and with stdinOnce its end
   * closes the container's stdin.  The attach stays open (its end closes
   * stdin: the wrapper reads the size it was told, the job's stdin is a
   * file). */
  char size_line[32];
  int n = snprintf(size_line, sizeof size_line, "%zu\n", j->tar_len);
  if (kube_ws_send(j->out_ws, 0, size_line, (size_t)n) != 0 ||
      kube_ws_send(j->out_ws, 0, j->tar, j->tar_len) != 0) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "job %s: writing the workspace", j->name);
    delete_job(j);
    return;
  }
  free(j->tar);
  j->tar = NULL;
  step(j, "workspace sent");
  collect_outputs(j); /* it waits in the pod for the command's status */
}

static void attach(kube_job *j) {
  if (j->attaching || j->attached || j->state != ST_RUNNING)
    return;
  j->attaching = true;
  static const kube_ws_cbs cbs = {on_out_open, on_out_data, on_out_end};
  char *path = attach_path(j, "stdin=true&stdout=true&stderr=true");
  j->out_ws = path ? kube_ws_open(j->b->client, path, j->b->auth_header, &cbs, j) : NULL;
  free(path);
  if (!j->out_ws) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "job %s: cannot attach", j->name);
    delete_job(j);
  }
}

/* A followed log (adoption, or after the attach broke): what execd has
 * is skipped, the rest is stdout (the log API merges the two). */
static int on_log_data(void *arg, const char *data, size_t len) {
  kube_job *j = arg;
  if (j->log_skip >= len) {
    j->log_skip -= len;
    return 0;
  }
  data += j->log_skip;
  len -= j->log_skip;
  j->log_skip = 0;
  deliver(j, 1, data, len);
  return 0;
}

static void on_log_done(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->logs = NULL;
  if (r->transport_err || r->status != 200) {
    char msg[600];
    j->b->host->log(j->b->inst, EXECD_LOG_INFO, "job %s: following the log: %s", j->name,
                    r->transport_err ? r->error : kube_error_message(r, msg, sizeof msg));
    if (j->state == ST_RUNNING && !j->terminated && !j->signalled) {
      /* Broken while the job runs on: followed again, from where it broke;
       * the API server did not answer: the watch may hang on one that is
       * going away, and is made again too. */
      j->log_retry = true;
      j->rewatch = j->rewatch || r->transport_err;
      retry_soon(j);
      return;
    }
  }
  output_over(j);
}

static void follow_log(kube_job *j, uint64_t skip) {
  if (j->logs)
    return;
  j->log_skip = skip;
  j->output_ended = false;
  char *path = kube_path(j->b, "/api/v1", "pods", j->pod, NULL), *full = NULL;
  if (path && asprintf(&full, "%s/log?container=" KUBE_C_JOB "&follow=true", path) < 0)
    full = NULL;
  free(path);
  if (!full)
    return;
  httpc_request_opts o = {.method = "GET", .path = full, .extra_header = j->b->auth_header,
                          .on_data = on_log_data, .on_done = on_log_done, .arg = j};
  j->logs = httpc_request_start(j->b->client, &o);
  free(full);
}

/* ---- the pod's states ----------------------------------------------------------- */

static void on_started_check(void *arg, int status, const char *error);

static void on_started_status(void *arg, int channel, const char *data, size_t len) {
  kube_job *j = arg;
  if (channel == 3) {
    char err[200];
    json_t *doc = kube_json_parse(data, len, err, sizeof err);
    j->exec_status_seen = doc && kube_status_parse(doc, &j->exec_status) == 0;
    json_decref(doc);
  }
}

static void on_started_end(void *arg, int status, const char *error) {
  kube_job *j = arg;
  kube_ws_close(j->exec_ws);
  j->exec_ws = NULL;
  if (status < 0 || !j->exec_status_seen) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true,
                "job %s: could not tell whether it started: %s", j->name,
                status < 0 ? error : "no status");
    fail_and_delete(j);
  } else if (!j->exec_status.success) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true,
                "job %s: execd stopped before the job had its workspace", j->name);
    fail_and_delete(j);
  } else {
    follow_log(j, 0);
    collect_outputs(j);
  }
}

static void on_started_check(void *arg, int status, const char *error) {
  if (status < 0)
    on_started_end(arg, status, error);
}

/* An adopted pod whose job runs: did it get its workspace before execd
 * went down?  The wrapper leaves /workspace/.execd/started once it has. */
static void check_started(kube_job *j) {
  j->started_checked = true;
  j->exec_status_seen = false;
  static const kube_ws_cbs cbs = {on_started_check, on_started_status, on_started_end};
  char *path = kube_path(j->b, "/api/v1", "pods", j->pod, NULL), *full = NULL;
  if (path && asprintf(&full,
                       "%s/exec?container=" KUBE_C_JOB "&command=%%2Fworkspace%%2F.execd%%2Fbusybox"
                       "&command=test&command=-e&command=%%2Fworkspace%%2F.execd%%2Fstarted&stderr=true",
                       path) < 0)
    full = NULL;
  free(path);
  j->exec_ws = full ? kube_ws_open(j->b->client, full, j->b->auth_header, &cbs, j) : NULL;
  free(full);
  if (!j->exec_ws) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true, "job %s: cannot look into the pod", j->name);
    fail_and_delete(j);
  }
}

static void on_pod(kube_job *j, const kube_pod_status *st, bool deleted) {
  if (j->state != ST_RUNNING)
    return;
  char what[600];
  snprintf(what, sizeof what, "pod %s %s%s: job %d %s, helper %d %s", st->name, st->phase,
           deleted ? " deleted" : "", st->job.state, st->job.reason, st->helper.state,
           st->helper.reason);
  step(j, what);
  if (!j->pod[0] || strcmp(j->pod, st->name) != 0) {
    if (j->pod[0] && !deleted) /* a second pod: the first was lost */
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: a new pod %s", j->name, st->name);
    if (deleted && j->pod[0])
      return;
    snprintf(j->pod, sizeof j->pod, "%s", st->name);
  }
  j->helper_running = st->helper.state == KUBE_CS_RUNNING && !st->deleting;

  if (st->job.state == KUBE_CS_WAITING && is_image_error(st->job.reason)) {
    set_failure(j, EXECD_ERR_IMAGE_NOT_FOUND, false, "job %s: image: %s: %s", j->name,
                st->job.reason, st->job.message);
    fail_and_delete(j);
    return;
  }
  if (st->helper.state == KUBE_CS_WAITING && is_image_error(st->helper.reason)) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, false, "job %s: helper_image \"%s\": %s: %s", j->name,
                j->b->helper_image, st->helper.reason, st->helper.message);
    fail_and_delete(j);
    return;
  }
  if (st->job.state == KUBE_CS_WAITING &&
      (strcmp(st->job.reason, "CreateContainerConfigError") == 0 ||
       strcmp(st->job.reason, "CreateContainerError") == 0 ||
       strcmp(st->job.reason, "RunContainerError") == 0)) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, false, "job %s: %s: %s", j->name, st->job.reason,
                st->job.message);
    fail_and_delete(j);
    return;
  }
  if (st->helper.state == KUBE_CS_TERMINATED && !j->terminated && !j->signalled &&
      st->job.state != KUBE_CS_TERMINATED) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, false, "job %s: the helper container ended (exit %d, "
                "%s): %s", j->name, st->helper.exit_code, st->helper.reason, st->helper.message);
    fail_and_delete(j);
    return;
  }
  if (strcmp(st->reason, "DeadlineExceeded") == 0 && !j->terminated) {
    set_failure(j, KUBE_ERR_DEADLINE, false,
                "job %s: activeDeadlineSeconds passed: the cluster stopped the pod", j->name);
  }
  if (st->job.state == KUBE_CS_TERMINATED && !j->terminated) {
    j->terminated = true;
    j->final = st->job;
    if (j->adopted && !j->logs && !j->started_checked) /* it ended while execd was away */
      follow_log(j, 0);
    maybe_finish(j);
    return;
  }
  if (deleted || (j->failed && st->phase[0] && strcmp(st->phase, "Failed") == 0)) {
    if (!j->failed && !j->signalled)
      set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                  "job %s: pod %s was deleted before its job ended", j->name, st->name);
    if (j->signalled) {
      j->exit.exit_code = -1;
      j->exit.term_signal = j->signalled;
    }
    fail_and_delete(j);
    return;
  }
  if (j->signalled) {
    /* The pod ended without a terminated state for the job container (the
     * kubelet can report it as waiting once it is killed): the signal's
     * doing. */
    if (strcmp(st->phase, "Failed") == 0 || strcmp(st->phase, "Succeeded") == 0) {
      j->exit.exit_code = -1;
      j->exit.term_signal = j->signalled;
      fail_and_delete(j);
    }
    return;
  }
  if (st->job.state == KUBE_CS_RUNNING && !st->deleting) {
    if (j->adopted) {
      if (!j->started_checked)
        check_started(j);
    } else {
      attach(j);
    }
  }
}

/* ---- the watch ----------------------------------------------------------------- */

static int on_watch_line(void *arg, const char *line, size_t len) {
  kube_job *j = arg;
  char err[200];
  json_t *ev = kube_json_parse(line, len, err, sizeof err);
  const char *type;
  const json_t *obj;
  if (!ev || kube_watch_event(ev, &type, &obj) != 0) {
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: watch: a bad event (%s)", j->name,
                    ev ? "not an event" : err);
    json_decref(ev);
    return 0;
  }
  if (strcmp(type, "ERROR") == 0) {
    kube_status s;
    if (kube_status_parse(obj, &s) == 0 && s.code == 410) /* Gone: watch from now */
      j->rv[0] = '\0';
    json_decref(ev);
    return 1; /* ends this watch; it is made again */
  }
  const char *rv = kube_resource_version(obj);
  if (rv && strlen(rv) < sizeof j->rv)
    snprintf(j->rv, sizeof j->rv, "%s", rv);
  if (strcmp(type, "BOOKMARK") != 0) {
    kube_pod_status st;
    if (kube_pod_status_parse(obj, NULL, KUBE_C_JOB, KUBE_C_HELPER, &st) == 0)
      on_pod(j, &st, strcmp(type, "DELETED") == 0);
  }
  json_decref(ev);
  return j->state == ST_RUNNING ? 0 : 1;
}

static int on_watch_data(void *arg, const char *data, size_t len) {
  kube_job *j = arg;
  int rc = kube_lines_feed(&j->lines, data, len, on_watch_line, j);
  if (rc < 0)
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: watch: an event over %u bytes",
                    j->name, (unsigned)WATCH_LINE_MAX);
  return rc != 0;
}

static void on_watch_headers(void *arg, long status) {
  kube_job *j = arg;
  if (status == 200 && j->outage_since) {
    j->b->host->log(j->b->inst, EXECD_LOG_NOTICE, "job %s: the API server answers again",
                    j->name);
    j->outage_since = 0;
  }
}

static void on_watch_done(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->watch = NULL;
  j->lines.len = 0;
  if (j->state != ST_RUNNING)
    return;
  if (denied(j, r, "watch", "pods")) {
    fail_and_delete(j);
    return;
  }
  if (r->status == 410)
    j->rv[0] = '\0';
  if (r->transport_err || r->status >= 500) {
    uint64_t now = uv_now(j->b->loop);
    if (!j->outage_since) {
      j->outage_since = now;
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                      "job %s: the API server at %s is away (%s); waiting up to %lld ms",
                      j->name, j->b->api_url, r->transport_err ? r->error : "5xx",
                      (long long)j->b->api_grace_ms);
    } else if (now - j->outage_since > (uint64_t)j->b->api_grace_ms) {
      set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                  "job %s: the API server at %s did not answer for %lld ms", j->name,
                  j->b->api_url, (long long)j->b->api_grace_ms);
      j->created = false; /* it cannot be deleted now: the sweep removes it later */
      finish(j);
      return;
    }
    retry_soon(j);
    return;
  }
  if (r->status != 200 && r->status != 410) {
    char msg[600];
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: watch: HTTP %ld: %s", j->name,
                    r->status, kube_error_message(r, msg, sizeof msg));
    retry_soon(j);
    return;
  }
  /* The attach broke with the API server while the job ran on: its log
   * is followed, less what execd has. */
  if (!j->adopted && j->attached && !j->out_ws && !j->logs && !j->terminated && j->pod[0])
    follow_log(j, j->delivered);
  start_watch(j);
}

static void start_watch(kube_job *j) {
  if (j->watch || j->state != ST_RUNNING)
    return;
  step(j, j->rv[0] ? "watching from a resourceVersion" : "watching");
  char sel[200], q[400];
  snprintf(sel, sizeof sel, "job-name%%3D%s", j->name);
  snprintf(q, sizeof q, "labelSelector=%s&watch=true&allowWatchBookmarks=true&timeoutSeconds=300%s%s",
           sel, j->rv[0] ? "&resourceVersion=" : "", j->rv);
  char *path = kube_path(j->b, "/api/v1", "pods", NULL, q);
  if (!path)
    return;
  httpc_request_opts o = {.method = "GET", .path = path, .extra_header = j->b->auth_header,
                          .on_data = on_watch_data, .on_headers = on_watch_headers,
                          .on_done = on_watch_done, .arg = j};
  j->watch = httpc_request_start(j->b->client, &o);
  free(path);
}

/* A new watch from the last resourceVersion, in place of the current one. */
static void restart_watch(kube_job *j) {
  httpc_request_cancel(j->watch);
  j->watch = NULL;
  j->lines.len = 0;
  start_watch(j);
}

/* ---- creation ------------------------------------------------------------------ */

static void create_job(kube_job *j);

static void on_created(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->req = NULL;
  if (r->transport_err) {
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "kubernetes API at %s: creating job %s: %s",
                j->b->api_url, j->name, r->error);
    finish(j);
    return;
  }
  if (denied(j, r, "create", "jobs.batch")) {
    finish(j);
    return;
  }
  if (r->status == 409 && j->create_tries++ < CREATE_TRIES) {
    /* A Job of the same attempt left behind: deleted, then made again. */
    char *path = kube_path(j->b, "/apis/batch/v1", "jobs", j->name, "propagationPolicy=Background");
    if (path)
      httpc_request_cancel(kube_request(j->b, "DELETE", path, NULL, REQUEST_MS, NULL, NULL));
    free(path);
    arm(j, T_RETRY_CREATE, RETRY_MS);
    return;
  }
  if (r->status != 201 && r->status != 200) {
    char msg[700];
    set_failure(j, EXECD_ERR_SPAWN_FAILED, r->status >= 500,
                "kubernetes API at %s: creating job %s: HTTP %ld: %s", j->b->api_url, j->name,
                r->status, kube_error_message(r, msg, sizeof msg));
    finish(j);
    return;
  }
  j->created = true;
  j->create_tries = 0;
  step(j, "created");
  if (j->signalled) {
    set_failure(j, "cancelled", false, "stopped before the job started");
    delete_job(j);
    return;
  }
  j->state = ST_RUNNING;
  start_watch(j);
}

static void create_job(kube_job *j) {
  j->state = ST_CREATING;
  char *path = kube_path(j->b, "/apis/batch/v1", "jobs", NULL, NULL);
  httpc_request_opts o = {.method = "POST", .path = path, .body = j->manifest,
                          .body_len = strlen(j->manifest), .extra_header = j->b->auth_header,
                          .timeout_ms = REQUEST_MS, .on_done = on_created, .arg = j};
  j->req = path ? httpc_request_start(j->b->client, &o) : NULL;
  free(path);
  if (!j->req) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "job %s: out of memory", j->name);
    finish(j);
  }
}

/* ---- packing -------------------------------------------------------------------- */

static void pack_work(uv_work_t *w) {
  kube_job *j = w->data;
  char stdin_path[4096];
  snprintf(stdin_path, sizeof stdin_path, "%s/.execd-stdin", j->workspace);
  j->work_rc = 0;
  if (j->stdin_data) {
    int fd = open(stdin_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t off = 0;
    while (fd >= 0 && off < j->stdin_len) {
      ssize_t n = write(fd, j->stdin_data + off, j->stdin_len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      off += (size_t)n;
    }
    if (fd < 0 || off < j->stdin_len) {
      snprintf(j->work_err, sizeof j->work_err, "writing stdin into the workspace: %s",
               strerror(errno));
      j->work_rc = -1;
    }
    if (fd >= 0)
      close(fd);
  }
  if (j->work_rc == 0)
    j->work_rc = engine_tar_pack(j->workspace, j->uid, j->gid, &j->tar, &j->tar_len, j->work_err,
                                 sizeof j->work_err);
  if (j->stdin_data)
    unlink(stdin_path);
}

static void pack_done(uv_work_t *w, int status) {
  kube_job *j = w->data;
  j->work_busy = false;
  if (j->state == ST_DONE) {
    if (!j->timer)
      free_job(j);
    return;
  }
  if (status != 0 || j->work_rc != 0) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, false, "job %s: packing the workspace: %s", j->name,
                status ? "cancelled" : j->work_err);
    finish(j);
    return;
  }
  if (j->signalled) {
    set_failure(j, "cancelled", false, "stopped before the job started");
    finish(j);
    return;
  }
  create_job(j);
}

/* ---- the timer -------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  kube_job *j = t->data;
  int purpose = j->timer_purpose;
  j->timer_purpose = T_NONE;
  switch (purpose) {
  case T_RETRY_CREATE:
    create_job(j);
    break;
  case T_DRAIN: /* the output stream did not end after the exit */
    j->output_ended = true;
    maybe_finish(j);
    break;
  case T_EXIT_WAIT: /* outputs read, but the container's end was never seen */
    if (j->state == ST_RUNNING && !j->terminated && !j->exit_rewatched) {
      /* The watch may hang on a server that is going away: a new one from
       * the last resourceVersion sees what it missed. */
      j->exit_rewatched = true;
      restart_watch(j);
      arm(j, T_EXIT_WAIT, (uint64_t)(j->b->grace_s + 30) * 1000);
    } else if (j->state == ST_RUNNING && !j->terminated) {
      set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                  "job %s: the job container did not end after its outputs were read", j->name);
      fail_and_delete(j);
    }
    break;
  case T_RETRY_ATTACH:
    attach(j);
    break;
  case T_SIGNAL_WAIT: /* the pod's end was never seen */
    if (j->state == ST_RUNNING || j->state == ST_CREATING) {
      j->exit.exit_code = -1;
      j->exit.term_signal = j->signalled;
      fail_and_delete(j);
    }
    break;
  default:
    break;
  }
}

static void on_retry(uv_timer_t *t) {
  kube_job *j = t->data;
  if (j->state != ST_RUNNING)
    return;
  if (j->rewatch) {
    j->rewatch = false;
    restart_watch(j);
  }
  start_watch(j);
  if (j->log_retry) {
    j->log_retry = false;
    if (!j->terminated && !j->signalled)
      follow_log(j, j->delivered);
    if (!j->logs)
      output_over(j);
  }
  if (j->exec_retry && !j->exec_ws) {
    j->exec_retry = false;
    if (!j->terminated) {
      collect_outputs(j);
    } else {
      set_failure(j, KUBE_ERR_OUTPUT, true,
                  "job %s: the job container ended before its outputs were read", j->name);
      collected(j);
    }
  }
}

/* ---- adoption ----------------------------------------------------------------------- */

static void on_adopt_get(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->req = NULL;
  if (r->status == 404) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true, "job %s is gone", j->name);
    finish(j);
    return;
  }
  if (r->transport_err || r->status != 200) {
    char msg[600];
    if (!denied(j, r, "get", "jobs.batch"))
      set_failure(j, EXECD_ERR_DAEMON_RESTART, true, "job %s: %s", j->name,
                  r->transport_err ? r->error : kube_error_message(r, msg, sizeof msg));
    finish(j);
    return;
  }
  char err[200];
  json_t *doc = kube_json_parse(r->body, r->body_len, err, sizeof err);
  const json_t *labels = json_object_get(json_object_get(doc, "metadata"), "labels");
  const char *daemon = json_string_value(json_object_get(labels, "execd.daemon"));
  const char *inst = json_string_value(json_object_get(labels, "execd.instance"));
  bool ours = daemon && inst && strcmp(daemon, j->b->daemon_label) == 0 &&
              strcmp(inst, j->b->instance_label) == 0;
  json_decref(doc);
  j->created = true;
  if (!ours) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true, "job %s belongs to another daemon", j->name);
    j->created = false; /* not ours to delete */
    finish(j);
    return;
  }
  j->state = ST_RUNNING;
  start_watch(j);
}

/* ---- entry points ------------------------------------------------------------------- */

int kube_job_start(kube_backend *b, const execd_job_spec *spec, execd_job *job, void **handle,
                   bool adopt) {
  kube_job *j = calloc(1, sizeof *j);
  if (!j)
    return EXECD_ENOMEM;
  j->b = b;
  j->job = job;
  j->adopted = adopt;
  j->started_at = uv_now(b->loop);
  j->lines.max = WATCH_LINE_MAX;
  j->uid = b->uid;
  j->gid = b->gid;
  if (spec->user)
    container_parse_user(spec->user, &j->uid, &j->gid);
  kube_job_name(spec->execution_id, spec->attempt, j->name, sizeof j->name);
  j->workspace = spec->workspace ? strdup(spec->workspace) : NULL;
  j->timer = malloc(2 * sizeof *j->timer);
  if (!adopt) {
    json_t *m = kube_manifest_job(b, spec, j->name);
    j->manifest = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    if (spec->stdin_data) {
      j->stdin_data = malloc(spec->stdin_len ? spec->stdin_len : 1);
      if (j->stdin_data)
        memcpy(j->stdin_data, spec->stdin_data, spec->stdin_len);
      j->stdin_len = spec->stdin_len;
    }
  }
  if (!j->timer || (!adopt && (!j->manifest || !j->workspace ||
                               (spec->stdin_data && !j->stdin_data)))) {
    free(j->timer);
    j->timer = NULL;
    free_job(j);
    b->host->set_error(b->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  j->retry = j->timer + 1;
  uv_timer_init(b->loop, j->timer);
  uv_timer_init(b->loop, j->retry);
  j->timer->data = j->retry->data = j;
  j->timers_open = 2;
  j->next = b->jobs;
  b->jobs = j;
  *handle = j;
  if (adopt) {
    j->state = ST_CREATING;
    char *path = kube_path(b, "/apis/batch/v1", "jobs", j->name, NULL);
    j->req = path ? kube_request(b, "GET", path, NULL, REQUEST_MS, on_adopt_get, j) : NULL;
    free(path);
    if (!j->req) {
      unlink_job(j);
      close_timers(j);
      b->host->set_error(b->inst, "out of memory");
      return EXECD_ENOMEM;
    }
    return 0;
  }
  j->state = ST_PACKING;
  j->work.data = j;
  j->work_busy = true;
  uv_queue_work(b->loop, &j->work, pack_work, pack_done);
  return 0;
}

static void on_pod_killed(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->kill_req = NULL;
  if (r->transport_err || (r->status >= 300 && r->status != 404))
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: deleting pod %s: %s", j->name, j->pod,
                    r->transport_err ? r->error : "refused");
}

static void kill_pod(kube_job *j) {
  if (j->pod_kill_sent || !j->pod[0])
    return;
  j->pod_kill_sent = true;
  char *path = kube_path(j->b, "/api/v1", "pods", j->pod, "gracePeriodSeconds=1");
  j->kill_req = path ? kube_request(j->b, "DELETE", path, NULL, REQUEST_MS, on_pod_killed, j) : NULL;
  free(path);
}

/* The Job goes first, so its controller makes no new pod; then, for
 * SIGKILL, the pod with a grace of a second. */
static void on_signal_deleted(void *arg, const httpc_response *r) {
  kube_job *j = arg;
  j->req = NULL;
  if (r->transport_err || (r->status >= 300 && r->status != 404)) {
    char msg[600];
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "job %s: deleting it for a signal: %s",
                    j->name, r->transport_err ? r->error : kube_error_message(r, msg, sizeof msg));
  }
  if (j->state != ST_RUNNING)
    return;
  if (!j->pod[0]) { /* no pod was made: nothing more will be seen */
    j->exit.exit_code = -1;
    j->exit.term_signal = j->signalled;
    finish(j);
    return;
  }
  if (j->signalled == SIGKILL)
    kill_pod(j);
}

int kube_job_signal(kube_backend *b, kube_job *j, int signum) {
  (void)b;
  if (j->state == ST_DONE)
    return 0;
  bool first = !j->signalled;
  if (first || signum == SIGKILL)
    j->signalled = signum;
  if (j->state != ST_RUNNING)
    return 0; /* handled once the Job exists, or is being collected */
  if (first) {
    j->job_deleted = true;
    char *path = kube_path(j->b, "/apis/batch/v1", "jobs", j->name, "propagationPolicy=Background");
    httpc_request_cancel(j->req);
    j->req = path ? kube_request(j->b, "DELETE", path, NULL, REQUEST_MS, on_signal_deleted, j)
                  : NULL;
    free(path);
    arm(j, T_SIGNAL_WAIT, (uint64_t)(j->b->grace_s + 60) * 1000);
  } else if (signum == SIGKILL && !j->req) {
    kill_pod(j);
  }
  return 0;
}

/* execd stops: streams and requests are dropped, the Jobs stay for the
 * next start to adopt. */
void kube_jobs_abandon(kube_backend *b) {
  while (b->jobs) {
    kube_job *j = b->jobs;
    j->job = NULL; /* no exit is reported to a daemon going away */
    finish(j);
  }
}

bool kube_job_is_running(const kube_backend *b, const char *name) {
  for (const kube_job *j = b->jobs; j; j = j->next)
    if (strcmp(j->name, name) == 0)
      return true;
  return false;
}
