/* One attempt as a container.  The steps, each started by the answer to
 * the one before, all on the loop through the engine client:
 *   workspace_mount = "bind": the host workspace is given to the job's uid
 *     (thread pool) → create (labels, hardened HostConfig, the workspace
 *     bind-mounted at /workspace)
 *   workspace_mount = "volume": create (an anonymous volume at /workspace)
 *     → pack the host workspace (thread pool) → PUT archive into the volume
 *   → attach (hijacked: stdout/stderr frames, and stdin when there is any)
 *   → POST wait?condition=next-exit; once its headers arrive: start
 *     (so the exit cannot be missed) → stdin written, then half-closed
 *   → wait answers and the output stream ends → inspect (exit code,
 *     OOMKilled; docker: skipped for an exit below 129, the wait's code
 *     standing), and on podman the container's log read beside it, to
 *     forward what the attach stream missed
 *   → volume only: GET archive of /workspace/output → unpack into the
 *     host's <workspace>/output (thread pool)
 *   → job_exited → DELETE ?v=1&force=1 in the background
 *     (container_removal.c).
 * On docker the engine's die event, once the output stream has ended,
 * stands for the wait's answer (container_backend.c follows the events).
 * A warm slot (container_warm.c) runs the same steps up to the start
 * ahead, with execd-warm-launch as its command; an attempt that takes it
 * moves its workspace in, writes the launch file and gives the go
 * (slot_take), and goes on from the wait.
 * A failure anywhere records the first error and jumps to the removal. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container_internal.h"
#include "engine_attach.h"
#include "engine_frames.h"
#include "engine_fs.h"
#include "engine_pull.h"
#include "engine_tar.h"
#include "launch_file.h"

#define STEP_TIMEOUT_MS 60000L  /* create, upload, inspect, download, remove */
#define PULL_TIMEOUT_MS 0L      /* pulls stream progress: no overall cap */
#define OUTPUT_STALL_MS 60000L  /* the output download ends after this long without a byte */
/* The inspect at the end of the output stream, asked again while the
 * engine still shows the container running: after 5, 10, 20, 40 and 80 ms
 * (podman records the exit once conmon has written it), then the wait. */
#define PROBE_TRIES 6
#define PROBE_FIRST_DELAY_MS 5

struct container_job {
  container_backend *b;
  execd_job *job;
  char exec_id[80];
  unsigned attempt;
  char *image;
  char *workspace;
  char *id;            /* container id once created */
  json_t *create_body;
  char *stdin_data;
  size_t stdin_len;
  uid_t uid;
  gid_t gid;
  int64_t memory_bytes;
  bool bind;           /* the host workspace is mounted, not copied */
  char *name;          /* the container's name */
  /* A warm slot (container_warm.c): made and started ahead, its launcher
   * waiting for the go, then given one execution. */
  bool slot;
  bool parked;         /* started; no execution yet */
  bool taken;          /* given an execution */
  char *slot_dir;      /* <warm dir>/<n>: workspace/ (at /workspace) and control/ */
  char *key;           /* what is fixed at create (container_warm_key) */
  json_t *entrypoint;  /* the image's Entrypoint: an array, or NULL */
  char *image_workdir; /* the image's WorkingDir, or NULL */
  char *launch;        /* the launch file's bytes, for the execution given */
  size_t launch_len;
  unsigned go_tries;   /* opening the go FIFO before the launcher waits on it */
  bool launched;       /* the go was given */
  bool die_seen;       /* the engine's die event came (flavor->exit_in_events) */
  int die_code;

  httpc_request *step;   /* the one sequential request in flight */
  httpc_request *wait;
  httpc_request *logs;   /* re-attached: the container's log, followed */
  httpc_request *probe;  /* inspect at the end of the output, before the wait answers */
  unsigned probes;       /* ...made so far (PROBE_TRIES at most) */
  engine_attach *attach;
  engine_frames frames;
  uv_timer_t drain;
  uv_work_t work;
  bool work_pending;
  atomic_int stop_work; /* the job is released: thread-pool work ends early */
  bool release_wanted;
  bool abandoned;
  bool in_start;       /* inside start(): no report, start() fails instead */
  bool start_failed;

  uint64_t t0;         /* uv_hrtime at start() */
  bool pulled;
  bool replaced_stale;
  bool started;
  bool engine_lost;    /* the engine stopped answering while the container ran */
  bool was_lost;       /* ...at some point of this attempt */
  uint64_t lost_at;    /* uv_now when it was last lost */
  uint64_t replay_skip; /* bytes of the replayed log already forwarded */
  bool wait_done;
  bool output_done;
  bool output_clean;   /* the output stream ended without an error */
  bool collecting;
  int wait_status;     /* StatusCode from wait */
  int signal_sent;     /* the last signal execd asked for */
  uint64_t forwarded;  /* stdout+stderr bytes passed to the host */
  uint64_t forwarded_hash; /* FNV-1a of those bytes, in order */
  /* The output checked against the engine's log after the exit
   * (flavor->output_checked_against_log): */
  httpc_request *log_check;
  bool log_checked;    /* the check answered (or was not needed) */
  bool inspected;      /* the inspect after the exit answered */
  engine_frames log_frames;
  uint64_t log_seen;   /* log bytes read so far */
  uint64_t log_hash;   /* FNV-1a of the first `forwarded` of them */
  char *missed;        /* log bytes past `forwarded`: [stream u8][len u32][data]... */
  size_t missed_len;
  bool missed_over;    /* more than log_max: the check gives up */
  bool output_capped;
  bool output_bad;
  char *pull_status;   /* last progress line logged */
  char *pull_partial;  /* a progress line not yet ended by '\n' */
  size_t pull_partial_len;

  /* tar work */
  char *tar;
  size_t tar_len;
  long fetch_status;   /* the output download's HTTP status, 0: none came */
  int work_rc;
  char work_err[512];

  /* the result */
  int exit_code;
  bool failed;
  const char *error_code;
  char error_message[512];
  bool retryable;

  LIST_ENTRY(container_job) link;
};

static void do_create(container_job *j);
static void trace(container_job *j, const char *step);
static void do_pull(container_job *j);
static void do_wait(container_job *j);
static void do_remove(container_job *j);
static void maybe_collect(container_job *j);
static void on_frame(void *arg, int stream, const char *data, size_t len);
static void after_exit_checks(container_job *j);
static void download_outputs(container_job *j);
static void inspect_image(container_job *j);
static void return_workspace(container_job *j);
static int slot_take(container_job *j, const execd_job_spec *spec, execd_job *job);

/* ---- lifetime ----------------------------------------------------------------------- */

static void on_drain_closed(uv_handle_t *h) {
  container_job *j = h->data;
  free(j->image);
  free(j->workspace);
  free(j->id);
  json_decref(j->create_body);
  free(j->stdin_data);
  free(j->tar);
  free(j->pull_status);
  free(j->pull_partial);
  free(j->missed);
  free(j->name);
  free(j->slot_dir);
  free(j->key);
  json_decref(j->entrypoint);
  free(j->image_workdir);
  free(j->launch);
  free(j);
}

/* Cancels what follows the running container: the wait, the output
 * stream (attach or followed log), the exit probe and the drain timer. */
static void end_io(container_job *j) {
  httpc_request_cancel(j->wait);
  httpc_request_cancel(j->logs);
  httpc_request_cancel(j->probe);
  httpc_request_cancel(j->log_check);
  j->wait = j->logs = j->probe = j->log_check = NULL;
  engine_attach_close(j->attach);
  j->attach = NULL;
  uv_timer_stop(&j->drain);
}

/* Ends the job's I/O now; frees it once no thread-pool work refers to it. */
static void job_release(container_job *j) {
  httpc_request_cancel(j->step);
  j->step = NULL;
  end_io(j);
  if (j->work_pending) {
    j->release_wanted = true;
    atomic_store(&j->stop_work, 1);
    return;
  }
  LIST_REMOVE(j, link);
  uv_close((uv_handle_t *)&j->drain, on_drain_closed);
}

void container_jobs_abandon(container_backend *b) {
  container_job *j, *next;
  for (j = LIST_FIRST(&b->jobs); j; j = next) {
    next = LIST_NEXT(j, link);
    j->abandoned = true;
    if (j->slot && !j->taken) {
      /* Made ahead for nobody yet: removed with the daemon. */
      if (j->id)
        container_remove_later(b, j->id, j->exec_id);
      job_release(j);
      continue;
    }
    if (j->id)
      b->host->log(b->inst, EXECD_LOG_WARNING,
                   "execution %s: execd stops while its container %.12s runs; the next "
                   "start of execd re-attaches to it",
                   j->exec_id, j->id);
    job_release(j);
  }
}

/* Debug-level timing of each step, to see where an attempt's time goes. */
static void trace(container_job *j, const char *step) {
  uint64_t now = uv_hrtime();
  j->b->host->log(j->b->inst, EXECD_LOG_DEBUG, "execution %s: %s after %.1f ms", j->exec_id, step,
                  (double)(now - j->t0) / 1e6);
}

/* GET /containers/{id}/json of the job's container. */
static httpc_request *inspect(container_job *j, httpc_done_cb done) {
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/json", j->id);
  return httpc_request_json(j->b->client, "GET", path, NULL, STEP_TIMEOUT_MS, done, j);
}

/* ---- errors ------------------------------------------------------------------------ */

/* Records the first failure; later ones are consequences. */
static void set_failure(container_job *j, const char *code, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_failure(container_job *j, const char *code, bool retryable, const char *fmt, ...) {
  if (j->failed)
    return;
  j->failed = true;
  j->error_code = code;
  j->retryable = retryable;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->error_message, sizeof j->error_message, fmt, ap);
  va_end(ap);
  j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: %s", j->exec_id,
                  j->error_message);
}

/* A failed engine call: unreachable engine → backend_unavailable (a new
 * attempt may work), otherwise code with the engine's own message. */
static void fail_call(container_job *j, const char *what, const httpc_response *r, const char *code,
                      bool retryable) {
  char msg[400];
  httpc_error_message(r, msg, sizeof msg);
  if (r->transport_err)
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "%s engine at %s: %s: %s",
                j->b->flavor->name, j->b->endpoint.name, what, msg);
  else
    set_failure(j, code, retryable || r->status >= 500, "%s: %s: %s", j->b->flavor->name,
                what, msg);
}

static void fail_and_clean(container_job *j, const char *what, const httpc_response *r,
                           const char *code, bool retryable) {
  fail_call(j, what, r, code, retryable);
  do_remove(j);
}

/* ---- the end ----------------------------------------------------------------------- */

static void report_exit(container_job *j) {
  if (j->in_start) {
    j->start_failed = true;
    return;
  }
  if (j->slot)
    container_warm_remove_dir_later(j->b, j->slot_dir);
  if (j->slot && !j->taken) { /* a warm slot that ended before any execution */
    container_backend *b = j->b;
    bool failed = j->failed;
    job_release(j);
    container_warm_slot_gone(b, failed);
    return;
  }
  if (j->slot)
    container_warm_slot_gone(j->b, false); /* the execution is over: refill */
  execd_job_exit ex = {
      .struct_size = sizeof ex,
      .exit_code = j->exit_code,
      .error_code = j->failed ? j->error_code : NULL,
      .error_message = j->failed ? j->error_message : NULL,
      .retryable = j->failed && j->retryable,
  };
  if (j->signal_sent && j->exit_code == 128 + j->signal_sent)
    ex.term_signal = j->signal_sent;
  execd_job *job = j->job;
  container_backend *b = j->b;
  job_release(j);
  b->host->job_exited(job, &ex);
}

/* The container is removed after the exit is reported, in the background
 * (container_removal.c): its removal is not part of the attempt's time. */
static void do_remove(container_job *j) {
  httpc_request_cancel(j->step); /* e.g. a start still in flight */
  j->step = NULL;
  end_io(j);
  if (!j->failed && j->exit_code < 0)
    j->exit_code = -1;
  if (j->id) {
    char what[120];
    snprintf(what, sizeof what, "execution %s", j->exec_id);
    container_remove_later(j->b, j->id, j->slot ? j->name : what);
  }
  trace(j, "exit reported, removal in the background");
  report_exit(j);
}

/* ---- outputs ------------------------------------------------------------------------ */

/* The output archive goes to a spool file in the host workspace as it
 * arrives, then is unpacked from it: memory does not follow its size. */
typedef struct spool {
  int fd;
  uint64_t written, max;
  bool too_large;
  int err; /* errno of a failed write */
} spool;

static int spool_data(void *arg, const char *data, size_t len) {
  spool *sp = arg;
  if (sp->written + len > sp->max) {
    sp->too_large = true;
    return 1;
  }
  while (len > 0) {
    ssize_t n = write(sp->fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      sp->err = errno;
      return 1;
    }
    data += n;
    len -= (size_t)n;
    sp->written += (uint64_t)n;
  }
  return 0;
}

static void fetch_unpack_work(uv_work_t *w) {
  container_job *j = w->data;
  char path[200], tar_path[4096], dest[4096];
  snprintf(path, sizeof path, "/containers/%s/archive?path=" CONTAINER_WORKSPACE "/output", j->id);
  snprintf(tar_path, sizeof tar_path, "%s/output.tar.part", j->workspace);
  snprintf(dest, sizeof dest, "%s/output", j->workspace);
  j->work_rc = -1;
  j->fetch_status = 0;
  /* Tar headers and padding come on top of the file data. */
  spool sp = {.max = (uint64_t)j->b->output_max + (uint64_t)j->b->output_max / 8 + (1u << 20)};
  sp.fd = open(tar_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (sp.fd < 0) {
    snprintf(j->work_err, sizeof j->work_err, "cannot create %.300s: %s", tar_path,
             strerror(errno));
    return;
  }
  j->fetch_status = httpc_get_blocking(j->b->client, path, spool_data, &sp, &j->stop_work,
                                       OUTPUT_STALL_MS, j->work_err, sizeof j->work_err);
  if (close(sp.fd) != 0 && !sp.err)
    sp.err = errno;
  if (sp.too_large) {
    j->fetch_status = 200;
    snprintf(j->work_err, sizeof j->work_err, "outputs are larger than output_max (%lld bytes)",
             (long long)j->b->output_max);
  } else if (sp.err) {
    j->fetch_status = 200;
    snprintf(j->work_err, sizeof j->work_err, "writing %.300s: %s", tar_path,
             strerror(sp.err));
  } else if (j->fetch_status == 200) {
    unsigned skipped = 0;
    j->work_rc = engine_tar_unpack_file(tar_path, "output", dest, (uint64_t)j->b->output_max,
                                        &skipped, j->work_err, sizeof j->work_err);
    if (j->work_rc == 0 && skipped)
      snprintf(j->work_err, sizeof j->work_err,
               "%u output entries that are not regular files or directories were left out",
               skipped);
  }
  unlink(tar_path);
}

static void fetch_unpack_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  j->work_pending = false;
  trace(j, "outputs downloaded and unpacked");
  if (j->release_wanted || j->abandoned) {
    j->release_wanted = false;
    job_release(j);
    return;
  }
  if (status != 0) {
    set_failure(j, "output_error", false, "collecting outputs: cancelled");
  } else if (j->fetch_status == 404) {
    /* the job removed its output directory: nothing to collect */
  } else if (j->fetch_status == 0 || j->fetch_status >= 500) {
    /* The engine failing (it stops, its store is closed), not the job's outputs. */
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "%s engine at %s: downloading "
                "/workspace/output: %s", j->b->flavor->name, j->b->endpoint.name, j->work_err);
  } else if (j->fetch_status != 200) {
    set_failure(j, "output_error", false, "%s: downloading /workspace/output: %s",
                j->b->flavor->name, j->work_err);
  } else if (j->work_rc != 0) {
    set_failure(j, "output_error", false, "collecting outputs: %s", j->work_err);
  } else if (j->work_err[0]) {
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: %s", j->exec_id, j->work_err);
  }
  do_remove(j);
}

static void download_outputs(container_job *j) {
  j->work.data = j;
  j->work_err[0] = '\0';
  j->work_pending = true;
  uv_queue_work(j->b->loop, &j->work, fetch_unpack_work, fetch_unpack_done);
}

/* ---- exit status ----------------------------------------------------------------- */

/* ---- the output checked against the engine's log ---------------------------------- */

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv1a(uint64_t h, const char *data, size_t len) {
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)data[i];
    h *= FNV_PRIME;
  }
  return h;
}

/* Both the inspect and the log check answered: the outputs, then the
 * removal. */
static void after_exit_checks(container_job *j) {
  if (!j->inspected || !j->log_checked)
    return;
  if (j->slot && j->taken) {
    return_workspace(j);
    return;
  }
  if (j->bind)
    do_remove(j); /* the outputs are in the host workspace already */
  else
    download_outputs(j);
}

/* A frame of the log: its bytes up to what the attach stream forwarded
 * are hashed, to compare; those past it are kept, to forward. */
static void on_log_check_frame(void *arg, int stream, const char *data, size_t len) {
  container_job *j = arg;
  if (stream != ENGINE_FRAME_STDOUT && stream != ENGINE_FRAME_STDERR)
    return;
  if (j->log_seen < j->forwarded) {
    size_t n = j->forwarded - j->log_seen < len ? (size_t)(j->forwarded - j->log_seen) : len;
    j->log_hash = fnv1a(j->log_hash, data, n);
    j->log_seen += n;
    data += n;
    len -= n;
  }
  if (len == 0 || j->missed_over)
    return;
  if (j->log_seen + len > (uint64_t)j->b->log_max) {
    j->missed_over = true;
    return;
  }
  char *grown = realloc(j->missed, j->missed_len + 5 + len);
  if (!grown) {
    j->missed_over = true;
    return;
  }
  j->missed = grown;
  grown += j->missed_len;
  grown[0] = (char)stream;
  uint32_t n32 = (uint32_t)len;
  memcpy(grown + 1, &n32, 4);
  memcpy(grown + 5, data, len);
  j->missed_len += 5 + len;
  j->log_seen += len;
}

static int on_log_check_data(void *arg, const char *data, size_t len) {
  container_job *j = arg;
  engine_frames_feed(&j->log_frames, data, len);
  return 0;
}

static void on_log_check_done(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->log_check = NULL;
  j->log_checked = true;
  trace(j, "output checked against the log");
  bool prefix = j->log_seen >= j->forwarded && j->log_hash == j->forwarded_hash;
  if (!r->transport_err && r->status == 200 && j->missed_len > 0 && !j->missed_over) {
    if (prefix) {
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                      "execution %s: the attach stream ended %llu bytes short of the %s "
                      "engine's log of the container; the rest is taken from the log",
                      j->exec_id, (unsigned long long)(j->log_seen - j->forwarded),
                      j->b->flavor->name);
      for (size_t off = 0; off + 5 <= j->missed_len;) {
        uint32_t n32;
        memcpy(&n32, j->missed + off + 1, 4);
        on_frame(j, (unsigned char)j->missed[off], j->missed + off + 5, n32);
        off += 5 + n32;
      }
    } else {
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                      "execution %s: the output differs from the %s engine's log of the "
                      "container; it is kept as the attach stream gave it",
                      j->exec_id, j->b->flavor->name);
    }
  }
  free(j->missed);
  j->missed = NULL;
  j->missed_len = 0;
  after_exit_checks(j);
}

/* On engines whose attach stream can end without the container's last
 * (or only) output, the log, complete once the container exited, is read
 * beside the inspect: what the stream missed is forwarded from it. */
static void check_output_against_log(container_job *j) {
  if (!j->b->flavor->output_checked_against_log || j->output_capped ||
      j->forwarded >= (uint64_t)j->b->log_max) {
    j->log_checked = true;
    return;
  }
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/logs?stdout=1&stderr=1", j->id);
  engine_frames_init(&j->log_frames, on_log_check_frame, j);
  j->log_seen = 0;
  j->log_hash = FNV_OFFSET;
  httpc_request_opts o = {.method = "GET", .path = path, .timeout_ms = STEP_TIMEOUT_MS,
                          .on_data = on_log_check_data, .on_done = on_log_check_done, .arg = j};
  j->log_check = httpc_request_start(j->b->client, &o);
  if (!j->log_check)
    j->log_checked = true; /* out of memory: the output stays as it came */
}

static void on_inspect(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  trace(j, "inspected");
  j->exit_code = j->wait_status;
  if (r->transport_err || r->status != 200) {
    fail_and_clean(j, "inspecting the exited container", r, EXECD_ERR_BACKEND_UNAVAILABLE, true);
    return;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *state = json_object_get(doc, "State");
  json_t *code = json_object_get(state, "ExitCode");
  if (json_is_integer(code))
    j->exit_code = (int)json_integer_value(code);
  /* Killed by a signal execd did not send, while the engine was away or
   * as it goes down: the engine's doing.  (Only the first failure counts,
   * so the probe of a stopping engine is not made when the first holds.) */
  if (j->exit_code > 128 && !j->signal_sent && j->was_lost)
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                "%s engine at %s: the container was killed (exit %d) while the engine was "
                "unreachable, not by execd",
                j->b->flavor->name, j->b->endpoint.name, j->exit_code);
  else if (j->exit_code > 128 && !j->signal_sent && container_engine_refuses(j->b))
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "%s engine at %s: going down, it stopped "
                "the container (exit %d)", j->b->flavor->name, j->b->endpoint.name, j->exit_code);
  if (json_is_true(json_object_get(state, "OOMKilled")))
    set_failure(j, EXECD_ERR_OOM_KILLED, false,
                "the container was killed for exceeding its memory limit of %lld bytes",
                (long long)j->memory_bytes);
  else if (j->exit_code == 128 + SIGKILL && j->memory_bytes > 0 && !j->signal_sent)
    /* podman never sets OOMKilled; dockerd sets it from an OOM event that
     * can be processed after the exit, so an inspect may not show it yet. */
    set_failure(j, EXECD_ERR_OOM_KILLED, false,
                "the container was probably killed for exceeding its memory limit of %lld "
                "bytes: SIGKILLed (exit 137) with no kill sent by execd (%s %s, so this is "
                "inferred)",
                (long long)j->memory_bytes, j->b->flavor->name,
                j->b->flavor->oom_flag_reported ? "had not reported OOMKilled yet"
                                                : "does not report OOMKilled");
  json_decref(doc);
  j->inspected = true;
  after_exit_checks(j);
}

static void on_drain_timeout(uv_timer_t *t) {
  container_job *j = t->data;
  j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                  "execution %s: the output stream did not end %lld ms after the exit; the "
                  "rest of the output is dropped",
                  j->exec_id, (long long)j->b->output_drain_ms);
  j->output_done = true;
  maybe_collect(j);
}

/* Both the exit and the end of the output stream are needed before the
 * container is inspected, so no output is lost. */
static void maybe_collect(container_job *j) {
  if (!j->wait_done || j->collecting)
    return;
  if (!j->output_done) {
    if (!uv_is_active((uv_handle_t *)&j->drain))
      uv_timer_start(&j->drain, on_drain_timeout, (uint64_t)j->b->output_drain_ms, 0);
    return;
  }
  j->collecting = true;
  end_io(j); /* the wait answered, or the probe made it moot */
  check_output_against_log(j);
  if (j->wait_status >= 0 && j->wait_status <= 128 && !j->was_lost) {
    /* The wait's StatusCode (or the exit code an inspect or the die event
     * gave) is the exit code, and below 129 no signal (so no OOM kill, no
     * engine going down) ended the job: the inspect, there for OOMKilled
     * and exit 137, would add a round trip and nothing else. */
    trace(j, "exit code from the wait");
    j->exit_code = j->wait_status;
    j->inspected = true;
    after_exit_checks(j);
    return;
  }
  j->step = inspect(j, on_inspect);
}

/* ---- output ------------------------------------------------------------------------ */

static void on_frame(void *arg, int stream, const char *data, size_t len) {
  container_job *j = arg;
  if (stream != ENGINE_FRAME_STDOUT && stream != ENGINE_FRAME_STDERR)
    return;
  if (!j->job) { /* a warm slot's launcher, with no execution yet: it failed */
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "%s: %.*s", j->exec_id,
                    (int)(len > 300 ? 300 : len), data);
    return;
  }
  if (j->replay_skip) { /* re-attached: the log from its start, less what execd has */
    size_t n = len < j->replay_skip ? len : (size_t)j->replay_skip;
    j->replay_skip -= n;
    data += n;
    len -= n;
    if (len == 0)
      return;
  }
  uint64_t room = (uint64_t)j->b->log_max - j->forwarded;
  if (len > room) {
    len = (size_t)room;
    if (!j->output_capped) {
      j->output_capped = true;
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                      "execution %s: output over log_max (%lld bytes); the rest is dropped",
                      j->exec_id, (long long)j->b->log_max);
    }
  }
  if (len == 0)
    return;
  j->forwarded += len;
  j->forwarded_hash = fnv1a(j->forwarded_hash, data, len);
  j->b->host->job_output(j->job,
                         stream == ENGINE_FRAME_STDOUT ? EXECD_STREAM_STDOUT : EXECD_STREAM_STDERR,
                         data, len);
}

static void on_output(void *arg, const char *data, size_t len) {
  container_job *j = arg;
  if (engine_frames_feed(&j->frames, data, len) < 0 && !j->output_bad) {
    j->output_bad = true;
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                    "execution %s: the output stream is not in the multiplexed format",
                    j->exec_id);
  }
}

/* The answer to the inspect made when the output ended: an exited
 * container stands for the wait's answer.  One still running (it closed
 * its output, or the engine is slow to notice) leaves it to the wait. */
static void probe_exit(container_job *j);

static void probe_again(uv_timer_t *t) {
  probe_exit(t->data);
}

static void on_probe(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->probe = NULL;
  if (j->wait_done || r->transport_err || r->status != 200)
    return;
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *state = json_object_get(doc, "State");
  json_t *code = json_object_get(state, "ExitCode");
  bool ended = json_is_false(json_object_get(state, "Running")) &&
               json_is_false(json_object_get(state, "Paused")) &&
               json_is_false(json_object_get(state, "Restarting")) && json_is_integer(code);
  if (ended)
    j->wait_status = (int)json_integer_value(code);
  json_decref(doc);
  if (!ended) {
    if (j->probes < PROBE_TRIES)
      uv_timer_start(&j->drain, probe_again, (uint64_t)PROBE_FIRST_DELAY_MS << (j->probes - 1), 0);
    return;
  }
  j->wait_done = true;
  trace(j, "exited (seen by inspect)");
  maybe_collect(j);
}

/* On engines whose wait is late, an output stream that ended cleanly
 * after the start is the first sign of the exit. */
static void probe_exit(container_job *j) {
  if (!j->b->flavor->exit_seen_at_stream_end || !j->output_done || !j->output_clean ||
      !j->started || j->wait_done || j->collecting || j->probe || j->probes >= PROBE_TRIES)
    return;
  j->probes++;
  j->probe = inspect(j, on_probe);
}

/* The die event and the end of the output stream (every byte forwarded)
 * together stand for the wait's answer, which dockerd gives only after
 * unmounting the container. */
static void exit_from_event(container_job *j) {
  if (!j->die_seen || !j->output_done || !j->output_clean || !j->started || j->wait_done ||
      j->collecting || j->engine_lost)
    return;
  j->wait_status = j->die_code;
  j->wait_done = true;
  trace(j, "exited (seen in the die event)");
  maybe_collect(j);
}

void container_job_died(container_backend *b, const char *id, int exit_code) {
  container_job *j;
  LIST_FOREACH(j, &b->jobs, link) {
    if (j->id && strcmp(j->id, id) == 0) {
      j->die_seen = true;
      j->die_code = exit_code;
      exit_from_event(j);
      return;
    }
  }
}

static void on_output_end(void *arg, int status) {
  container_job *j = arg;
  char what[80];
  snprintf(what, sizeof what, "output stream ended (%llu bytes)", (unsigned long long)j->forwarded);
  trace(j, what);
  j->output_done = true;
  if (status < 0 && !j->wait_done)
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: the output stream broke",
                    j->exec_id);
  j->output_clean = status == 0;
  probe_exit(j);
  exit_from_event(j);
  maybe_collect(j);
}

/* ---- wait and start ------------------------------------------------------------------- */

static void on_started(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  if (r->transport_err || (r->status != 204 && r->status != 304)) {
    /* A failed start leaves the next-exit wait pending forever. */
    j->exit_code = r->status == 400 || r->status == 404 ? 127 : -1;
    fail_and_clean(j, "starting the container", r, EXECD_ERR_SPAWN_FAILED, false);
    return;
  }
  j->started = true;
  trace(j, "started");
  if (j->slot && !j->taken) {
    j->parked = true; /* its launcher waits for an execution */
    j->b->host->log(j->b->inst, EXECD_LOG_INFO, "warm container %s ready for %s", j->name,
                    j->image);
    return;
  }
  if (j->stdin_data && engine_attach_send_eof(j->attach, j->stdin_data, j->stdin_len) != 0)
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: writing stdin failed",
                    j->exec_id);
  /* SIGTERM/SIGKILL asked for while the container was being set up. */
  if (j->signal_sent)
    container_job_signal(j->b, j, j->signal_sent);
  probe_exit(j); /* the output may have ended before the start's answer came */
}

static void on_wait_headers(void *arg, long status) {
  container_job *j = arg;
  if (status != 200 || j->step)
    return; /* the error comes with on_wait_done */
  trace(j, "waiting");
  if (j->signal_sent) { /* stopped before it ran */
    set_failure(j, "cancelled", false, "stopped before the container started");
    do_remove(j);
    return;
  }
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/start", j->id);
  j->step = httpc_request_json(j->b->client, "POST", path, NULL, STEP_TIMEOUT_MS, on_started, j);
}

static void lose_engine(container_job *j, const char *why);

static void on_wait_done(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->wait = NULL;
  if (j->slot && !j->taken && (r->transport_err || r->status != 200)) {
    fail_and_clean(j, "waiting for the warm container", r, EXECD_ERR_BACKEND_UNAVAILABLE, true);
    return;
  }
  if (r->transport_err && j->started && !j->collecting && j->b->engine_grace_ms > 0) {
    lose_engine(j, r->error ? r->error : "the connection broke");
    return;
  }
  if (r->transport_err || r->status != 200) {
    fail_and_clean(j, "waiting for the container", r, EXECD_ERR_BACKEND_UNAVAILABLE, true);
    return;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *code = json_object_get(doc, "StatusCode");
  j->wait_status = json_is_integer(code) ? (int)json_integer_value(code) : -1;
  json_decref(doc);
  j->wait_done = true;
  trace(j, "exited");
  maybe_collect(j);
}

static void do_wait(container_job *j) {
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/wait?condition=next-exit", j->id);
  httpc_request_opts o = {.method = "POST", .path = path, .on_headers = on_wait_headers,
                          .on_done = on_wait_done, .arg = j};
  j->wait = httpc_request_start(j->b->client, &o);
  if (!j->wait) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

static void on_attached(void *arg, int status, const char *error) {
  container_job *j = arg;
  trace(j, "attached");
  if (status != 0) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "%s: attaching stdin: %s",
                j->b->flavor->name, error);
    do_remove(j);
    return;
  }
  do_wait(j);
}

/* Attached before the start, so the output stream holds every byte. */
static void after_upload(container_job *j) {
  char path[200];
  snprintf(path, sizeof path, "%s/containers/%s/attach?stream=1&stdout=1&stderr=1%s",
           j->b->flavor->api_prefix, j->id, j->stdin_data || j->slot ? "&stdin=1" : "");
  engine_frames_init(&j->frames, on_frame, j);
  j->attach = engine_attach_open(j->b->client, path, on_attached, on_output, on_output_end, j);
  if (!j->attach) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true,
                "attaching: out of memory, or the engine's address is not known");
    do_remove(j);
  }
}

/* ---- workspace upload ------------------------------------------------------------------ */

static void on_uploaded(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  trace(j, "workspace uploaded");
  if (r->transport_err || r->status != 200) {
    fail_and_clean(j, "uploading the workspace", r, EXECD_ERR_SPAWN_FAILED, false);
    return;
  }
  after_upload(j);
}

static void pack_work(uv_work_t *w) {
  container_job *j = w->data;
  j->work_rc = engine_tar_pack(j->workspace, j->uid, j->gid, &j->tar, &j->tar_len, j->work_err,
                               sizeof j->work_err);
}

/* The end of thread-pool work on the workspace before the start (what:
 * for messages).  True if the attempt goes on; otherwise the job was
 * released, or failed and is being removed. */
static bool workspace_work_done(container_job *j, int status, const char *what, bool retryable) {
  j->work_pending = false;
  trace(j, what);
  if (j->release_wanted || j->abandoned) {
    j->release_wanted = false;
    job_release(j);
    return false;
  }
  if (status != 0 || j->work_rc != 0) {
    set_failure(j, "workspace_error", retryable, "%s: %s", what,
                status ? "cancelled" : j->work_err);
    do_remove(j);
    return false;
  }
  if (j->signal_sent) {
    set_failure(j, "cancelled", false, "stopped before the container started");
    do_remove(j);
    return false;
  }
  return true;
}

static void pack_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  if (!workspace_work_done(j, status, "packing the workspace", true))
    return;
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/archive?path=" CONTAINER_WORKSPACE, j->id);
  httpc_request_opts o = {.method = "PUT", .path = path, .body_owned = j->tar,
                          .body_len = j->tar_len, .content_type = "application/x-tar",
                          .timeout_ms = STEP_TIMEOUT_MS, .on_done = on_uploaded, .arg = j};
  j->tar = NULL; /* the request owns it now */
  j->step = httpc_request_start(j->b->client, &o);
  if (!j->step) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

/* ---- create and pull ---------------------------------------------------------------- */

static void on_stale_removed(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  if (r->transport_err || (r->status != 204 && r->status != 404)) {
    fail_and_clean(j, "removing a stale container of the same name", r, EXECD_ERR_SPAWN_FAILED,
                   true);
    return;
  }
  do_create(j);
}

/* A container of this execution and attempt is left from an execd that
 * stopped without removing it; this attempt replaces it. */
static void remove_stale(container_job *j) {
  j->replaced_stale = true;
  j->b->host->log(j->b->inst, EXECD_LOG_WARNING,
                  "execution %s: removing container execd-%s-%u left from an earlier run",
                  j->exec_id, j->exec_id, j->attempt);
  char path[200];
  snprintf(path, sizeof path, "/containers/execd-%s-%u?v=1&force=1", j->exec_id, j->attempt);
  j->step = httpc_request_json(j->b->client, "DELETE", path, NULL, STEP_TIMEOUT_MS,
                               on_stale_removed, j);
  if (!j->step) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

static void on_created(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  if (r->status == 404 && !r->transport_err) {
    if (j->b->pull == PULL_IF_NOT_PRESENT && !j->pulled) {
      do_pull(j);
      return;
    }
    char msg[300];
    set_failure(j, EXECD_ERR_IMAGE_NOT_FOUND, false, "image \"%s\" not found%s: %s", j->image,
                j->b->pull == PULL_NEVER ? " (pull is \"never\" on this backend)" : "",
                httpc_error_message(r, msg, sizeof msg));
    do_remove(j);
    return;
  }
  if (r->status == 409 && !r->transport_err && !j->replaced_stale && !j->slot) {
    remove_stale(j);
    return;
  }
  if (r->transport_err || r->status != 201) {
    char what[400];
    if (j->b->runtime)
      snprintf(what, sizeof what, "creating the container with runtime \"%s\" (the backend's "
               "runtime key)", j->b->runtime);
    fail_and_clean(j, j->b->runtime ? what : "creating the container", r,
                   EXECD_ERR_SPAWN_FAILED, false);
    return;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  const char *id = json_string_value(json_object_get(doc, "Id"));
  j->id = id ? strdup(id) : NULL;
  json_t *warnings = json_object_get(doc, "Warnings");
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w) {
    if (json_is_string(w))
      j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: %s: %s", j->exec_id,
                      j->b->flavor->name,
                      json_string_value(w));
  }
  json_decref(doc);
  trace(j, "created");
  if (!j->id) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "%s: create answered without an Id",
                j->b->flavor->name);
    do_remove(j);
    return;
  }
  if (j->signal_sent) {
    set_failure(j, "cancelled", false, "stopped before the container started");
    do_remove(j);
    return;
  }
  if (j->slot) {
    inspect_image(j);
    return;
  }
  if (j->bind) {
    after_upload(j);
    return;
  }
  j->work.data = j;
  j->work_pending = true;
  uv_queue_work(j->b->loop, &j->work, pack_work, pack_done);
}

static void do_create(container_job *j) {
  char path[200];
  snprintf(path, sizeof path, "/containers/create?name=%s", j->name);
  j->step = httpc_request_json(j->b->client, "POST", path, j->create_body, STEP_TIMEOUT_MS,
                               on_created, j);
  if (!j->step) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

/* The engine's reason for a failed pull decides whether a later attempt
 * may succeed: a registry that cannot be reached now, or not the image. */
static void fail_pull(container_job *j, const char *message) {
  if (engine_pull_error_is_transient(message))
    set_failure(j, EXECD_ERR_IMAGE_PULL_FAILED, true,
                "pulling image \"%s\": the registry is unavailable: %s", j->image, message);
  else
    set_failure(j, EXECD_ERR_IMAGE_NOT_FOUND, false, "pulling image \"%s\": %s", j->image,
                message);
}

/* Progress arrives as JSON lines; log each new status once, note errors.
 * An answer other than 200 streams here too: its body is one
 * {"message": ...} document, kept whole in pull_status for on_pulled (a
 * 200 stream has status and error lines only). */
static void pull_line(container_job *j, const char *line, size_t n) {
  json_error_t jerr;
  json_t *doc = json_loadb(line, n, 0, &jerr);
  const char *status = json_string_value(json_object_get(doc, "status"));
  const char *error = json_string_value(json_object_get(doc, "error"));
  if (error) {
    fail_pull(j, error);
  } else if (status && (!j->pull_status || strcmp(status, j->pull_status) != 0)) {
    j->b->host->log(j->b->inst, EXECD_LOG_INFO, "execution %s: pulling %s: %s", j->exec_id,
                    j->image, status);
    free(j->pull_status);
    j->pull_status = strdup(status);
  } else if (!status && json_is_string(json_object_get(doc, "message"))) {
    free(j->pull_status);
    j->pull_status = strndup(line, n);
  }
  json_decref(doc);
}

/* Reads arrive cut anywhere: a line is parsed once its '\n' has come (or
 * the stream has ended, on_pulled). */
static int on_pull_data(void *arg, const char *data, size_t len) {
  container_job *j = arg;
  size_t off = 0;
  while (off < len) {
    const char *nl = memchr(data + off, '\n', len - off);
    size_t n = nl ? (size_t)(nl - (data + off)) : len - off;
    if (!nl || j->pull_partial_len) {
      /* Lines are short (one layer's progress); a runaway one is cut. */
      size_t room = n < 65536 - j->pull_partial_len ? n : 65536 - j->pull_partial_len;
      char *grown = realloc(j->pull_partial, j->pull_partial_len + room + 1);
      if (!grown)
        return 0;
      memcpy(grown + j->pull_partial_len, data + off, room);
      j->pull_partial = grown;
      j->pull_partial_len += room;
      if (nl) {
        pull_line(j, j->pull_partial, j->pull_partial_len);
        j->pull_partial_len = 0;
      }
    } else {
      pull_line(j, data + off, n);
    }
    off += n + 1;
  }
  return 0;
}

static void on_pulled(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  j->pulled = true;
  if (j->pull_partial_len) { /* the last line had no '\n' */
    pull_line(j, j->pull_partial, j->pull_partial_len);
    j->pull_partial_len = 0;
  }
  if (r->transport_err || r->status != 200) {
    char msg[300];
    httpc_response er = *r; /* the streamed error body, for its message */
    if (!r->transport_err && r->body_len == 0 && j->pull_status) {
      er.body = j->pull_status;
      er.body_len = strlen(j->pull_status);
    }
    if (r->status == 404 || r->status == 403 || r->status == 401 || r->status == 500)
      fail_pull(j, httpc_error_message(&er, msg, sizeof msg));
    else
      fail_call(j, "pulling the image", &er, EXECD_ERR_IMAGE_NOT_FOUND, false);
  }
  if (j->failed) {
    do_remove(j);
    return;
  }
  do_create(j);
}

static void do_pull(container_job *j) {
  /* fromImage=<name>&tag=<tag>; a digest reference goes whole in fromImage. */
  char *name = strdup(j->image);
  const char *tag = "latest";
  char *slash = strrchr(name, '/');
  char *colon = strrchr(name, ':');
  if (strchr(name, '@')) {
    tag = NULL;
  } else if (colon && (!slash || colon > slash)) {
    *colon = '\0';
    tag = colon + 1;
  }
  char *ename = httpc_url_escape(name);
  char *etag = tag ? httpc_url_escape(tag) : NULL;
  char path[1200];
  snprintf(path, sizeof path, "/images/create?fromImage=%s%s%s", ename ? ename : "",
           etag ? "&tag=" : "", etag ? etag : "");
  free(name);
  free(ename);
  free(etag);
  j->b->host->log(j->b->inst, EXECD_LOG_INFO, "execution %s: pulling image %s", j->exec_id,
                  j->image);
  httpc_request_opts o = {.method = "POST", .path = path, .timeout_ms = PULL_TIMEOUT_MS,
                          .extra_header = j->b->registry_auth, .on_data = on_pull_data,
                          .on_done = on_pulled, .arg = j};
  j->step = httpc_request_start(j->b->client, &o);
  if (!j->step) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

/* ---- the create body ------------------------------------------------------------------- */

static int64_t tighter(int64_t backend, int64_t request) {
  if (request <= 0)
    return backend;
  if (backend <= 0)
    return request;
  return request < backend ? request : backend;
}

static json_t *strv_json(const char *const *v) {
  json_t *a = json_array();
  for (; v && *v; v++)
    json_array_append_new(a, json_string(*v));
  return a;
}

static json_t *create_body(container_job *j, const execd_job_spec *spec) {
  container_backend *b = j->b;
  const execd_limits *l = spec->limits;
  execd_limits none = {0};
  if (!l)
    l = &none;
  j->memory_bytes = tighter(b->memory_bytes, l->memory_bytes);
  int64_t pids = tighter(b->pids_limit, l->pids);
  int64_t nofile = tighter(b->nofile, l->nofile);
  double cpus = b->cpus;
  if (l->cpus > 0 && (cpus <= 0 || l->cpus < cpus))
    cpus = l->cpus;
  const char *network = l->network && strcmp(l->network, "none") == 0 ? "none" : b->network;

  char attempt[16], tmpfs[160];
  snprintf(attempt, sizeof attempt, "%u", spec->attempt);
  if (b->flavor->tmpfs_owner_options)
    snprintf(tmpfs, sizeof tmpfs, "rw,noexec,nosuid,nodev,size=%lld,uid=%u,gid=%u",
             (long long)b->tmpfs_size, (unsigned)j->uid, (unsigned)j->gid);
  else /* no owner options: world-writable and sticky, like the host's /tmp */
    snprintf(tmpfs, sizeof tmpfs, "rw,noexec,nosuid,nodev,size=%lld,mode=1777",
             (long long)b->tmpfs_size);
  char log_max[32];
  snprintf(log_max, sizeof log_max, "%lld", (long long)b->log_max);

  /* A bind mount shares the host workspace (nothing to copy); a volume is
   * for engines that do not see the host's files.  A read-only root file
   * system refuses archive uploads anywhere but a volume. */
  json_t *mount = j->bind
                      ? json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source", j->workspace,
                                  "Target", CONTAINER_WORKSPACE, "ReadOnly", 0)
                      : json_pack("{s:s, s:s}", "Type", "volume", "Target", CONTAINER_WORKSPACE);
  json_t *host = json_pack("{s:s, s:b, s:b, s:{s:s}, s:[o], s:{s:s, s:{s:s, s:s}}}",
                           "NetworkMode", network, "ReadonlyRootfs", b->readonly_rootfs, "Init",
                           b->init, "Tmpfs", "/tmp", tmpfs, "Mounts", mount, "LogConfig", "Type",
                           "json-file", "Config", "max-size", log_max, "max-file", "1");
  if (!host)
    return NULL;
  if (b->drop_capabilities)
    json_object_set_new(host, "CapDrop", json_pack("[s]", "ALL"));
  if (b->no_new_privileges)
    json_object_set_new(host, "SecurityOpt", json_pack("[s]", "no-new-privileges"));
  if (b->runtime)
    json_object_set_new(host, "Runtime", json_string(b->runtime));
  if (j->memory_bytes > 0) {
    json_object_set_new(host, "Memory", json_integer(j->memory_bytes));
    json_object_set_new(host, "MemorySwap", json_integer(j->memory_bytes));
  }
  if (cpus > 0)
    json_object_set_new(host, "NanoCpus", json_integer((json_int_t)(cpus * 1e9)));
  if (pids > 0)
    json_object_set_new(host, "PidsLimit", json_integer(pids));
  json_t *ulimits = json_array();
  if (nofile > 0)
    json_array_append_new(ulimits, json_pack("{s:s, s:I, s:I}", "Name", "nofile", "Soft",
                                             (json_int_t)nofile, "Hard", (json_int_t)nofile));
  if (b->nproc > 0)
    json_array_append_new(ulimits, json_pack("{s:s, s:I, s:I}", "Name", "nproc", "Soft",
                                             (json_int_t)b->nproc, "Hard", (json_int_t)b->nproc));
  json_object_set_new(host, "Ulimits", ulimits);

  char user[64];
  snprintf(user, sizeof user, "%u:%u", (unsigned)j->uid, (unsigned)j->gid);
  json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "execd.execution", spec->execution_id,
                             "execd.attempt", attempt, "execd.instance",
                             b->host->instance_name(b->inst), "execd.daemon", b->daemon_label);
  bool with_stdin = spec->stdin_data != NULL;
  json_t *body = json_pack("{s:s, s:o, s:o, s:s, s:o, s:b, s:b, s:b, s:b, s:b, s:b, s:o}",
                           "Image", spec->image, "Cmd", strv_json(spec->argv), "Env",
                           strv_json(spec->env), "User", user, "Labels", labels, "AttachStdin",
                           with_stdin, "OpenStdin", with_stdin, "StdinOnce", with_stdin,
                           "AttachStdout", 1, "AttachStderr", 1, "Tty", 0, "HostConfig", host);
  if (body && spec->working_dir)
    json_object_set_new(body, "WorkingDir", json_string(spec->working_dir));
  return body;
}

/* ---- entry points ---------------------------------------------------------------------- */

/* A job for this attempt of spec, listed in b->jobs; NULL on ENOMEM (with
 * host->set_error). */
static container_job *job_new(container_backend *b, const execd_job_spec *spec, execd_job *job) {
  container_job *j = calloc(1, sizeof *j);
  if (!j) {
    b->host->set_error(b->inst, "out of memory");
    return NULL;
  }
  j->b = b;
  j->job = job;
  j->attempt = spec->attempt;
  j->exit_code = -1;
  j->forwarded_hash = FNV_OFFSET;
  snprintf(j->exec_id, sizeof j->exec_id, "%s", spec->execution_id);
  j->uid = b->uid;
  j->gid = b->gid;
  if (spec->user)
    container_parse_user(spec->user, &j->uid, &j->gid); /* check() vetted it */
  j->image = strdup(spec->image);
  j->workspace = strdup(spec->workspace ? spec->workspace : "");
  j->bind = b->bind_workspace;
  if (asprintf(&j->name, "execd-%s-%u", spec->execution_id, spec->attempt) < 0)
    j->name = NULL;
  if (spec->stdin_data) {
    j->stdin_data = malloc(spec->stdin_len + 1);
    if (j->stdin_data)
      memcpy(j->stdin_data, spec->stdin_data, spec->stdin_len);
    j->stdin_len = spec->stdin_len;
  }
  j->create_body = create_body(j, spec);
  if (!j->image || !j->workspace || !j->create_body || !j->name ||
      (spec->stdin_data && !j->stdin_data)) {
    free(j->name);
    free(j->image);
    free(j->workspace);
    free(j->stdin_data);
    json_decref(j->create_body);
    free(j);
    b->host->set_error(b->inst, "out of memory");
    return NULL;
  }
  uv_timer_init(b->loop, &j->drain);
  j->drain.data = j;
  LIST_INSERT_HEAD(&b->jobs, j, link);
  j->t0 = uv_hrtime();
  return j;
}

/* The first request of an attempt: a pull first if the policy says so. */
static void begin_create(container_job *j) {
  if (j->b->pull == PULL_ALWAYS)
    do_pull(j);
  else
    do_create(j);
}

static void give_work(uv_work_t *w) {
  container_job *j = w->data;
  j->work_rc = engine_chown_tree(j->workspace, j->uid, j->gid, j->work_err, sizeof j->work_err);
}

static void give_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  if (workspace_work_done(j, status, "giving the workspace to the job's user", false))
    begin_create(j);
}

int container_job_start(container_backend *b, const execd_job_spec *spec, execd_job *job,
                        void **handle) {
  container_job *j = job_new(b, spec, job);
  if (!j)
    return EXECD_ENOMEM;
  container_job *slot = container_warm_find(b, spec->image, j->create_body);
  if (slot && slot_take(slot, spec, job) == 0) {
    job_release(j); /* the cold job that was not needed */
    *handle = slot;
    return 0;
  }
  j->in_start = true;
  if (j->bind) {
    /* The job's uid must own its inputs and output directory before the
     * container runs. */
    j->work.data = j;
    j->work_pending = true;
    uv_queue_work(b->loop, &j->work, give_work, give_done);
  } else {
    begin_create(j);
  }
  j->in_start = false;
  if (j->start_failed) { /* not even the first request could be made */
    b->host->set_error(b->inst, "%s", j->error_message);
    job_release(j);
    return EXECD_ENOMEM;
  }
  *handle = j;
  return 0;
}

/* ---- re-attaching after a restart of execd ------------------------------------------- */

/* The container's output from its first byte: its log, then followed until
 * it exits (an exited container's log simply ends). */
static int on_log_data(void *arg, const char *data, size_t len) {
  on_output(arg, data, len);
  return 0;
}

static void on_log_done(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->logs = NULL;
  on_output_end(j, r->transport_err || r->status != 200 ? -1 : 0);
}

static void follow_adopted(container_job *j) {
  char logs[200], wait[200];
  snprintf(logs, sizeof logs, "/containers/%s/logs?follow=1&stdout=1&stderr=1", j->id);
  snprintf(wait, sizeof wait, "/containers/%s/wait?condition=not-running", j->id);
  engine_frames_init(&j->frames, on_frame, j);
  httpc_request_opts lo = {.method = "GET", .path = logs, .on_data = on_log_data,
                           .on_done = on_log_done, .arg = j};
  httpc_request_opts wo = {.method = "POST", .path = wait, .on_done = on_wait_done, .arg = j};
  j->logs = httpc_request_start(j->b->client, &lo);
  j->wait = httpc_request_start(j->b->client, &wo);
  if (!j->logs || !j->wait) {
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "out of memory");
    do_remove(j);
  }
}

/* How the container of an earlier run got its workspace, whatever the
 * configuration says now: a bind mount at /workspace holds its outputs on
 * the host already. */
static bool workspace_is_bound(const json_t *inspect) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(inspect, "Mounts"), i, m) {
    const char *dest = json_string_value(json_object_get(m, "Destination"));
    const char *type = json_string_value(json_object_get(m, "Type"));
    if (dest && type && strcmp(dest, CONTAINER_WORKSPACE) == 0)
      return strcmp(type, "bind") == 0;
  }
  return false;
}

static void on_adopt_inspect(void *arg, const httpc_response *r) {
  container_job *j = arg;
  container_backend *b = j->b;
  j->step = NULL;
  if (!r->transport_err && r->status == 404) {
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true,
                "execd restarted while the execution was running and its container "
                "execd-%s-%u is gone",
                j->exec_id, j->attempt);
    do_remove(j);
    return;
  }
  if (r->transport_err || r->status != 200) {
    fail_and_clean(j, "inspecting the container to re-attach to", r,
                   EXECD_ERR_BACKEND_UNAVAILABLE, true);
    return;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *labels = json_object_get(json_object_get(doc, "Config"), "Labels");
  const char *daemon = json_string_value(json_object_get(labels, "execd.daemon"));
  const char *instance = json_string_value(json_object_get(labels, "execd.instance"));
  const char *id = json_string_value(json_object_get(doc, "Id"));
  const char *status = json_string_value(json_object_get(json_object_get(doc, "State"), "Status"));
  if (!id || !daemon || strcmp(daemon, b->daemon_label) != 0 || !instance ||
      strcmp(instance, b->host->instance_name(b->inst)) != 0) {
    /* Not ours to collect or remove. */
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true,
                "execd restarted while the execution was running; the container named "
                "execd-%s-%u belongs to another execd or backend",
                j->exec_id, j->attempt);
    json_decref(doc);
    do_remove(j);
    return;
  }
  j->id = strdup(id);
  j->bind = workspace_is_bound(doc);
  bool never_started = !status || strcmp(status, "created") == 0 ||
                       strcmp(status, "configured") == 0;
  json_decref(doc);
  if (!j->id) {
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "out of memory");
    do_remove(j);
    return;
  }
  if (never_started) {
    /* Stopped between create and start: it never ran, so a new attempt
     * runs nothing twice. */
    set_failure(j, EXECD_ERR_DAEMON_RESTART, true,
                "execd restarted before the container of the attempt was started");
    do_remove(j);
    return;
  }
  trace(j, "re-attached");
  j->started = true;
  follow_adopted(j);
}

int container_job_adopt(container_backend *b, const execd_job_spec *spec, execd_job *job,
                        void **handle) {
  container_job *j = job_new(b, spec, job);
  if (!j)
    return EXECD_ENOMEM;
  free(j->stdin_data); /* the first run of execd wrote it */
  j->stdin_data = NULL;
  j->in_start = true;
  char path[200];
  snprintf(path, sizeof path, "/containers/execd-%s-%u/json", j->exec_id, j->attempt);
  j->step = httpc_request_json(b->client, "GET", path, NULL, STEP_TIMEOUT_MS, on_adopt_inspect,
                               j);
  if (!j->step) {
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true, "out of memory");
    report_exit(j);
  }
  j->in_start = false;
  if (j->start_failed) {
    b->host->set_error(b->inst, "%s", j->error_message);
    job_release(j);
    return EXECD_ENOMEM;
  }
  *handle = j;
  return 0;
}

/* ---- the engine lost while the container runs -------------------------------------- */

/* The connections to the engine broke while the container ran: podman's
 * service or a dockerd with live-restore can go away and come back while
 * the container runs on.  The attempt waits engine_grace for the engine,
 * then re-attaches (container_jobs_engine_back) rather than failing and
 * leaving a container that runs on beside its retry. */
static void lose_engine(container_job *j, const char *why) {
  container_backend *b = j->b;
  b->host->log(b->inst, EXECD_LOG_WARNING,
               "execution %s: lost the %s engine at %s while the container ran (%s); "
               "waiting up to %lld s for it to answer again",
               j->exec_id, b->flavor->name, b->endpoint.name, why,
               (long long)(b->engine_grace_ms / 1000));
  /* Each outage has its own grace: a second one, after a re-attach, is
   * counted from now. */
  j->lost_at = uv_now(b->loop);
  j->engine_lost = j->was_lost = true;
  end_io(j);
  j->output_done = j->wait_done = false;
  container_engine_suspect(b);
}

static void on_reattach_inspect(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  if (r->transport_err) { /* still away */
    j->engine_lost = true;
    return;
  }
  if (r->status == 404) {
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                "%s engine at %s: the container was gone when the engine answered again",
                j->b->flavor->name, j->b->endpoint.name);
    do_remove(j);
    return;
  }
  if (r->status != 200) {
    fail_and_clean(j, "inspecting the container to re-attach to", r,
                   EXECD_ERR_BACKEND_UNAVAILABLE, true);
    return;
  }
  trace(j, "re-attached after the engine came back");
  j->b->host->log(j->b->inst, EXECD_LOG_NOTICE,
                  "execution %s: the %s engine answers again; re-attached to container %.12s",
                  j->exec_id, j->b->flavor->name, j->id);
  j->replay_skip = j->forwarded;
  follow_adopted(j);
  if (j->signal_sent && j->wait) /* asked for while the engine was away */
    container_job_signal(j->b, j, j->signal_sent);
}

void container_jobs_engine_back(container_backend *b) {
  container_job *j;
  LIST_FOREACH(j, &b->jobs, link) {
    if (!j->engine_lost || j->step)
      continue;
    j->engine_lost = false;
    j->step = inspect(j, on_reattach_inspect);
    if (!j->step)
      j->engine_lost = true;
  }
}

bool container_jobs_check_lost(container_backend *b) {
  container_job *j, *next;
  bool lost = false;
  uint64_t now = uv_now(b->loop);
  for (j = LIST_FIRST(&b->jobs); j; j = next) {
    next = LIST_NEXT(j, link);
    if (!j->engine_lost)
      continue;
    if (now - j->lost_at < (uint64_t)b->engine_grace_ms) {
      lost = true;
      continue;
    }
    j->engine_lost = false;
    set_failure(j, EXECD_ERR_BACKEND_UNAVAILABLE, true,
                "%s engine at %s: not answering again within %lld s of losing it while the "
                "container ran",
                b->flavor->name, b->endpoint.name, (long long)(b->engine_grace_ms / 1000));
    do_remove(j); /* may release j: next was taken first */
  }
  return lost;
}

bool container_job_owns(container_backend *b, const char *execution_id, const char *attempt) {
  container_job *j;
  char n[16];
  LIST_FOREACH(j, &b->jobs, link) {
    snprintf(n, sizeof n, "%u", j->attempt);
    if (strcmp(j->exec_id, execution_id) == 0 && strcmp(n, attempt) == 0)
      return true;
  }
  return false;
}

static void on_killed(void *arg, const httpc_response *r) {
  container_backend *b = arg;
  if (r->transport_err || (r->status != 204 && r->status != 409 && r->status != 404))
    b->host->log(b->inst, EXECD_LOG_WARNING, "%s: kill: %s", b->flavor->name,
                 httpc_error_message(r, (char[200]){0}, 200));
}

int container_job_signal(container_backend *b, void *handle, int signum) {
  container_job *j = handle;
  j->signal_sent = signum;
  if (!j->started || j->collecting || j->engine_lost || (j->taken && !j->launched))
    return 0; /* applied when the container starts or is re-attached, or it has exited */
  if (!b->client)
    return EXECD_EUNAVAIL; /* the backend is stopping */
  char path[200];
  snprintf(path, sizeof path, "/containers/%s/kill?signal=%d", j->id, signum);
  /* The answer only matters for the log: it refers to the backend, not
   * the job, which may be gone by then. */
  if (!httpc_request_json(b->client, "POST", path, NULL, STEP_TIMEOUT_MS, on_killed, b))
    return EXECD_ENOMEM;
  return 0;
}

/* ---- warm slots (container_warm.c keeps the pool) --------------------------------- */

/* The launcher and the slot's control directory, read-only, beside the
 * workspace bind mount create_body() made. */
#define SLOT_LAUNCHER "/.execd-launch"
#define SLOT_CONTROL "/.execd"

static void on_image_inspected(void *arg, const httpc_response *r) {
  container_job *j = arg;
  j->step = NULL;
  if (r->transport_err || r->status != 200) {
    fail_and_clean(j, "inspecting the warm container's image", r, EXECD_ERR_SPAWN_FAILED, true);
    return;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *config = json_object_get(doc, "Config");
  json_t *ep = json_object_get(config, "Entrypoint");
  const char *wd = json_string_value(json_object_get(config, "WorkingDir"));
  bool ok = true;
  size_t i;
  json_t *v;
  if (json_is_array(ep)) {
    json_array_foreach(ep, i, v) ok = ok && json_is_string(v);
    if (ok && json_array_size(ep) > 0)
      j->entrypoint = json_incref(ep);
  }
  if (wd && *wd)
    j->image_workdir = strdup(wd);
  json_decref(doc);
  trace(j, "image inspected");
  if (!ok) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, false, "the image's Entrypoint is not strings");
    do_remove(j);
    return;
  }
  after_upload(j); /* attach, wait, start */
}

/* The image's Entrypoint goes in front of each execution's argv, as the
 * engine would put it: the slot's own entrypoint is the launcher. */
static void inspect_image(container_job *j) {
  char *esc = httpc_url_escape(j->image);
  char path[1200];
  snprintf(path, sizeof path, "/images/%s/json", esc ? esc : "");
  free(esc);
  j->step = httpc_request_json(j->b->client, "GET", path, NULL, STEP_TIMEOUT_MS,
                               on_image_inspected, j);
  if (!j->step) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "out of memory");
    do_remove(j);
  }
}

static void prepare_slot_work(uv_work_t *w) {
  container_job *j = w->data;
  j->work_rc = container_warm_prepare_dir(j->slot_dir, j->work_err, sizeof j->work_err);
}

static void prepare_slot_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  if (workspace_work_done(j, status, "preparing the warm slot's directories", true))
    begin_create(j);
}

container_job *container_slot_new(container_backend *b, const char *image, unsigned n) {
  char exec_id[40], dir[4096];
  snprintf(exec_id, sizeof exec_id, "warm-slot-%u", n);
  snprintf(dir, sizeof dir, "%s/%u", b->warm_dir, n);
  char workspace[4200];
  snprintf(workspace, sizeof workspace, "%s/workspace", dir);
  const char *argv[] = {"true", NULL};
  execd_job_spec spec = {.struct_size = sizeof spec, .execution_id = exec_id, .attempt = 0,
                         .argv = argv, .image = image, .workspace = workspace};
  container_job *j = job_new(b, &spec, NULL);
  if (!j)
    return NULL;
  j->slot = true;
  free(j->name);
  j->slot_dir = strdup(dir);
  j->name = NULL;
  if (asprintf(&j->name, "execd-warm-%s-%u", b->warm_token, n) < 0)
    j->name = NULL;
  /* What the launcher needs: the control directory and itself, read-only;
   * stdin attached (a job without stdin input gets EOF at once); no
   * per-execution environment, argv or directory (the launch file's). */
  char control[4200];
  snprintf(control, sizeof control, "%s/control", dir);
  json_t *body = j->create_body;
  json_t *host = json_object_get(body, "HostConfig");
  json_t *mounts = json_object_get(host, "Mounts");
  json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source",
                                          control, "Target", SLOT_CONTROL, "ReadOnly", 1));
  json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source",
                                          b->warm_launcher, "Target", SLOT_LAUNCHER, "ReadOnly",
                                          1));
  json_object_set_new(body, "Labels",
                      json_pack("{s:s, s:s, s:s}", "execd.warm", b->warm_token, "execd.instance",
                                b->host->instance_name(b->inst), "execd.daemon",
                                b->daemon_label));
  json_object_set_new(body, "Entrypoint", json_pack("[s]", SLOT_LAUNCHER));
  json_object_set_new(body, "Cmd", json_pack("[s]", SLOT_CONTROL));
  json_object_set_new(body, "Env", json_array());
  json_object_del(body, "WorkingDir");
  json_object_set_new(body, "AttachStdin", json_true());
  json_object_set_new(body, "OpenStdin", json_true());
  json_object_set_new(body, "StdinOnce", json_true());
  j->key = container_warm_key(body);
  if (!j->slot_dir || !j->name || !j->key) {
    job_release(j);
    return NULL;
  }
  j->work.data = j;
  j->work_pending = true;
  uv_queue_work(b->loop, &j->work, prepare_slot_work, prepare_slot_done);
  return j;
}

container_job *container_slot_find(container_backend *b, const char *image, const char *key) {
  container_job *j, *found = NULL;
  LIST_FOREACH(j, &b->jobs, link) {
    if (j->slot && j->parked && !j->taken && !j->collecting && !j->failed && j->attach &&
        strcmp(j->image, image) == 0 && strcmp(j->key, key) == 0)
      found = j; /* the last listed: the oldest */
  }
  return found;
}

bool container_slot_owns(container_backend *b, const char *id) {
  container_job *j;
  LIST_FOREACH(j, &b->jobs, link) {
    if (j->slot && (!j->id || strcmp(j->id, id) == 0))
      return true;
  }
  return false;
}

size_t container_slots_spare(container_backend *b, const char *image) {
  size_t n = 0;
  container_job *j;
  LIST_FOREACH(j, &b->jobs, link) n += j->slot && !j->taken && strcmp(j->image, image) == 0;
  return n;
}

/* Thread pool: the attempt's workspace given to the job's uid and its
 * entries moved into the slot's (a rename: both are under the state
 * directory), then the launch file written, whole, under its name. */
static void take_work(uv_work_t *w) {
  container_job *j = w->data;
  j->work_rc = engine_chown_tree(j->workspace, j->uid, j->gid, j->work_err, sizeof j->work_err);
  if (j->work_rc == 0)
    j->work_rc = container_warm_hand_over(j->workspace, j->slot_dir, j->launch, j->launch_len,
                                          j->work_err, sizeof j->work_err);
}

static void go_retry(uv_timer_t *t);

/* Opening the FIFO for writing is the go: the launcher, blocked opening it
 * for reading, reads the launch file and execs the job.  Non-blocking: a
 * launcher that is not (yet) waiting is asked again shortly, then given up. */
static void give_go(container_job *j) {
  char go[4200];
  snprintf(go, sizeof go, "%s/control/go", j->slot_dir);
  int fd = open(go, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ENXIO && ++j->go_tries < 400) {
    uv_timer_start(&j->drain, go_retry, 5, 0);
    return;
  }
  if (fd < 0) {
    set_failure(j, EXECD_ERR_SPAWN_FAILED, true, "warm container %s: its launcher does not "
                "wait for the go (%s)", j->name, strerror(errno));
    do_remove(j);
    return;
  }
  close(fd);
  j->launched = true;
  trace(j, "launched");
  if (engine_attach_send_eof(j->attach, j->stdin_data, j->stdin_data ? j->stdin_len : 0) != 0)
    j->b->host->log(j->b->inst, EXECD_LOG_WARNING, "execution %s: writing stdin failed",
                    j->exec_id);
  if (j->signal_sent)
    container_job_signal(j->b, j, j->signal_sent);
  probe_exit(j);
}

static void go_retry(uv_timer_t *t) {
  give_go(t->data);
}

static void take_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  if (!workspace_work_done(j, status, "handing the workspace to the warm container", false))
    return;
  give_go(j);
}

/* The cwd, argv and environment of the execution, as the launch file. */
static char *launch_bytes(container_job *j, const execd_job_spec *spec, size_t *len) {
  size_t nep = json_array_size(j->entrypoint), nargs = 0;
  while (spec->argv[nargs])
    nargs++;
  const char **argv = calloc(nep + nargs + 1, sizeof *argv);
  if (!argv)
    return NULL;
  for (size_t i = 0; i < nep; i++)
    argv[i] = json_string_value(json_array_get(j->entrypoint, i));
  for (size_t i = 0; i < nargs; i++)
    argv[nep + i] = spec->argv[i];
  const char *cwd = spec->working_dir ? spec->working_dir
                                      : j->image_workdir ? j->image_workdir : "/";
  char *bytes = launch_format(cwd, argv, (const char *const *)spec->env, len);
  free(argv);
  return bytes;
}

/* A parked slot given the attempt of spec: 0, or -1 (it stays parked and
 * the attempt goes the cold way). */
static int slot_take(container_job *j, const execd_job_spec *spec, execd_job *job) {
  size_t len = 0;
  char *launch = launch_bytes(j, spec, &len);
  char *workspace = spec->workspace ? strdup(spec->workspace) : NULL;
  char *stdin_data = NULL;
  if (spec->stdin_data) {
    stdin_data = malloc(spec->stdin_len + 1);
    if (stdin_data)
      memcpy(stdin_data, spec->stdin_data, spec->stdin_len);
  }
  if (!launch || !workspace || (spec->stdin_data && !stdin_data) ||
      !container_warm_same_device(j->slot_dir, workspace)) {
    free(launch);
    free(workspace);
    free(stdin_data);
    return -1;
  }
  j->taken = true;
  j->parked = false;
  j->job = job;
  snprintf(j->exec_id, sizeof j->exec_id, "%s", spec->execution_id);
  j->attempt = spec->attempt;
  j->t0 = uv_hrtime();
  free(j->workspace);
  j->workspace = workspace;
  j->stdin_data = stdin_data;
  j->stdin_len = spec->stdin_len;
  j->launch = launch;
  j->launch_len = len;
  j->b->host->log(j->b->inst, EXECD_LOG_INFO, "execution %s: runs in warm container %s",
                  j->exec_id, j->name);
  j->work.data = j;
  j->work_pending = true;
  uv_queue_work(j->b->loop, &j->work, take_work, take_done);
  return 0;
}

/* Thread pool: the output directory back into the attempt's workspace,
 * where execd collects it, and the slot's directories removed. */
static void return_work(uv_work_t *w) {
  container_job *j = w->data;
  j->work_rc = container_warm_take_back(j->slot_dir, j->workspace, j->work_err,
                                        sizeof j->work_err);
}

static void return_done(uv_work_t *w, int status) {
  container_job *j = w->data;
  j->work_pending = false;
  trace(j, "outputs moved back");
  if (j->release_wanted || j->abandoned) {
    j->release_wanted = false;
    job_release(j);
    return;
  }
  if (status != 0 || j->work_rc != 0)
    set_failure(j, "output_error", false, "collecting outputs from the warm container: %s",
                status ? "cancelled" : j->work_err);
  do_remove(j);
}

static void return_workspace(container_job *j) {
  j->work.data = j;
  j->work_err[0] = '\0';
  j->work_pending = true;
  uv_queue_work(j->b->loop, &j->work, return_work, return_done);
}
