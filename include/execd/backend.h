/* Backend plugins run one attempt of an execution and report its output
 * and exit through the host (job_output, job_exited).
 *
 * execd prepares the workspace on the host before start():
 *   <workspace>/input/   input.json, <doc>.json, the request's files
 *   <workspace>/config/  config.json
 *   <workspace>/output/  empty; the job writes here
 * and reads outputs from <workspace>/output/ after job_exited.  A container
 * backend mounts the workspace at /workspace (or copies it in, and the
 * output directory back before reporting the exit).  The workspace is the
 * attempt's alone: nothing else in it is read but what execd wrote and the
 * output directory, never through a symlink.
 */
#ifndef EXECD_BACKEND_H
#define EXECD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <execd/host.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Resource limits of one attempt; 0 (or NULL) means "not set". */
typedef struct execd_limits {
  int64_t memory_bytes; /* memory (containers: memory = swap; local: RLIMIT_AS) */
  double cpus;          /* CPU share (containers) */
  int64_t pids;         /* processes (containers: pids limit; local: RLIMIT_NPROC) */
  int64_t cpu_seconds;  /* CPU time (local: RLIMIT_CPU) */
  int64_t nofile;       /* open files */
  int64_t fsize_bytes;  /* largest file written */
  int64_t timeout_ms;   /* wall clock; enforced by execd, for information */
  const char *network;  /* "none" (default) or a backend-defined mode */
} execd_limits;

/* What to run.  Everything is borrowed and valid only during start(). */
typedef struct execd_job_spec {
  uint32_t struct_size;
  const char *execution_id;
  unsigned attempt;             /* 1, 2, ... */
  const char *const *argv;      /* NULL-terminated; argv[0] is the program */
  const char *image;            /* container image, or NULL */
  const char *working_dir;      /* or NULL: the backend's default */
  const char *user;             /* "uid[:gid]" or NULL: the backend's default */
  const char *const *env;       /* NULL-terminated "NAME=value" list */
  const char *workspace;        /* host directory laid out as above */
  const char *stdin_data;       /* written to the job's stdin, then EOF; or NULL */
  size_t stdin_len;
  const execd_limits *limits;
  const json_t *labels;         /* the request's labels (object), or NULL */
} execd_job_spec;

/* Error codes a backend may report in execd_job_exit.error_code. */
#define EXECD_ERR_OOM_KILLED "oom_killed"
#define EXECD_ERR_MEMORY_LIMIT "memory_limit"
#define EXECD_ERR_IMAGE_NOT_FOUND "image_not_found"
/* The image could not be pulled because its registry was unreachable or
 * failed (retryable); image_not_found is for an image that does not exist. */
#define EXECD_ERR_IMAGE_PULL_FAILED "image_pull_failed"
#define EXECD_ERR_IMAGE_NOT_ALLOWED "image_not_allowed"
#define EXECD_ERR_BACKEND_UNAVAILABLE "backend_unavailable"
#define EXECD_ERR_SPAWN_FAILED "spawn_failed"
#define EXECD_ERR_COMMAND_NOT_ALLOWED "command_not_allowed"
/* The attempt was interrupted by a restart of execd and cannot be resumed
 * (retryable: it did not finish). */
#define EXECD_ERR_DAEMON_RESTART "daemon_restart"

/* How an attempt ended. */
typedef struct execd_job_exit {
  uint32_t struct_size;
  int exit_code;          /* the job's exit status, or -1 */
  int term_signal;        /* signal that killed it, or 0 */
  const char *error_code; /* NULL, or one of EXECD_ERR_* / a backend's own */
  const char *error_message;
  int retryable;          /* non-zero if a new attempt may succeed */
  double cpu_seconds;     /* user + system CPU time, if known */
  int64_t max_rss_bytes;  /* peak resident set, if known */
} execd_job_exit;

typedef struct execd_backend_ops {
  uint32_t struct_size;

  /* Refuse a spec this backend will never run (command or image not
   * allowed, missing image for a container backend...) before anything is
   * persisted.  Returns 0, or EXECD_EPERM / EXECD_EINVAL with
   * host->set_error.  May be NULL. */
  int (*check)(void *self, const execd_job_spec *spec);
  /* Start an attempt without blocking.  On success *handle is the
   * backend's own state for it, and exactly one host->job_exited(job)
   * follows (never from inside start()).  On failure nothing was started. */
  int (*start)(void *self, const execd_job_spec *spec, execd_job *job,
               void **handle);
  /* Send a signal (SIGTERM, SIGKILL) to the whole job.  Only between a
   * successful start() and job_exited(). */
  int (*signal)(void *self, void *handle, int signum);
  /* 0 if the backend can run jobs now, else EXECD_EUNAVAIL with
   * host->set_error.  May be NULL (always ready). */
  int (*health)(void *self);

  /* ---- since ABI 1.1 (check struct_size before use; may be NULL) ---- */

  /* Re-attach to an attempt an earlier run of execd started on this
   * backend instance (spec->execution_id, spec->attempt), which may still
   * run or may have ended while execd was down.  Called at start, before
   * adopt_done(), only for attempts execd recorded as starting or running.
   * On 0, *handle is as from start(): the job's output is delivered again
   * from its beginning through job_output (execd skips what it kept), and
   * exactly one job_exited follows, with error_code EXECD_ERR_DAEMON_RESTART
   * if nothing of the attempt is left to collect.  On failure nothing was
   * adopted and execd treats the attempt as interrupted. */
  int (*adopt)(void *self, const execd_job_spec *spec, execd_job *job, void **handle);
  /* Called once, after every adopt() of the start: whatever the backend
   * finds of earlier attempts that was not adopted (containers, cgroups)
   * belongs to nobody and may be removed. */
  void (*adopt_done)(void *self);
} execd_backend_ops;

/* True if OPS (of a plugin built against any 1.x) has the member FIELD. */
#define EXECD_BACKEND_HAS(ops, field)                                                            \
  ((ops)->struct_size >= offsetof(execd_backend_ops, field) + sizeof((ops)->field) &&          \
   (ops)->field != NULL)

#ifdef __cplusplus
}
#endif

#endif
