/* The host API table: every call a plugin makes into execd goes through
 * the execd_host it was handed.  The daemon exports no other symbols.
 *
 * The table is append-only: test for a member added in a later ABI minor
 * with EXECD_HOST_HAS(host, member) before calling it.
 *
 * All functions must be called on the loop thread unless noted.
 */
#ifndef EXECD_HOST_H
#define EXECD_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: one configured plugin instance, as execd knows it. */
typedef struct execd_instance execd_instance;
/* Opaque: one running attempt of an execution, as execd knows it. */
typedef struct execd_job execd_job;
/* Opaque: a live subscription to an execution's events. */
typedef struct execd_watch execd_watch;

struct execd_job_exit;
struct execd_list_query;

/* The longest tenant name (ABI 1.5), and the tenant of every caller when
 * the daemon has no tokens file. */
#define EXECD_TENANT_MAX 64
#define EXECD_TENANT_ANONYMOUS "anonymous"

/* Log levels (syslog numbering). */
enum execd_log_level {
  EXECD_LOG_ERR = 3,
  EXECD_LOG_WARNING = 4,
  EXECD_LOG_NOTICE = 5,
  EXECD_LOG_INFO = 6,
  EXECD_LOG_DEBUG = 7
};

/* Output streams of a job. */
enum execd_stream { EXECD_STREAM_STDOUT = 1, EXECD_STREAM_STDERR = 2 };

/* The answer to a transport's call into the core.  Everything is borrowed
 * and valid only during the callback. */
typedef struct execd_reply {
  uint32_t struct_size;
  int status;          /* 0, or a negative EXECD_E* */
  const char *code;    /* machine-readable error code ("invalid_request"), or NULL */
  const char *message; /* human-readable error, or NULL */
  const char *field;   /* the request field at fault ("input.files[0].path"), or NULL */
  json_t *body;        /* the result document on success, or NULL; on an error,
                          NULL or an object of details the transport shows with
                          the error (e.g. {"errors": [...]} of input_invalid) */
} execd_reply;

typedef void (*execd_reply_cb)(void *arg, const execd_reply *reply);

/* Event of a watched execution.  type is "log" (data: {"stream","data"}),
 * "state" (data: the execution document), "progress" (data: {"percent",
 * "message"}) or "end" (data: the final execution document, or NULL if no
 * such execution exists for the tenant; the watch is finished and must not
 * be used again).  Events are never delivered from inside watch(). */
typedef void (*execd_watch_cb)(void *arg, const char *type, const json_t *data);

typedef struct execd_host {
  uint16_t abi_major;   /* frozen */
  uint16_t abi_minor;   /* frozen */
  uint32_t struct_size; /* frozen: sizeof(execd_host) in the daemon */

  /* --- every plugin --------------------------------------------------- */
  /* Log a line prefixed with the instance's name. */
  void (*log)(execd_instance *inst, int level, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));
  /* Record the detail of the error the instance is about to return (from
   * the call under way).  One text per instance: for the error an async
   * op reports through its callback, use op_error (since ABI 1.2). */
  void (*set_error)(execd_instance *inst, const char *fmt, ...)
      __attribute__((format(printf, 2, 3)));
  /* The daemon's one event loop. */
  uv_loop_t *(*loop)(execd_instance *inst);
  /* The instance's configured name ("docker", "http"). */
  const char *(*instance_name)(execd_instance *inst);
  /* The daemon's state directory (daemon.state_dir). */
  const char *(*state_dir)(execd_instance *inst);

  /* --- backends: report on a job started with ops->start ------------- */
  /* Bytes the job wrote on a stream; any slicing, execd splits lines. */
  void (*job_output)(execd_job *job, int stream, const char *data, size_t len);
  /* The attempt is over.  Call exactly once; the job token is dead after. */
  void (*job_exited)(execd_job *job, const struct execd_job_exit *exit);

  /* --- transports: the API, for the given tenant ----------------------
   * Each call returns 0 and later calls cb exactly once (never from
   * inside the call), or returns a negative EXECD_E* and never calls cb. */
  /* Validate and accept an execution request (JSON text).  The reply comes
   * once the execution is durable (body: the execution document), or, with
   * wait_s > 0, once it ended or wait_s passed. */
  int (*submit)(execd_instance *inst, const char *tenant, const char *body,
                size_t len, unsigned wait_s, execd_reply_cb cb, void *arg);
  /* body: the execution document. */
  int (*get)(execd_instance *inst, const char *tenant, const char *id,
             execd_reply_cb cb, void *arg);
  /* body: {"executions": [...], "next_cursor": "..."|null}.  The query's
   * tenant member is ignored: tenant is used. */
  int (*list)(execd_instance *inst, const char *tenant,
              const struct execd_list_query *query, execd_reply_cb cb,
              void *arg);
  /* body: the execution document after the cancel was applied. */
  int (*cancel)(execd_instance *inst, const char *tenant, const char *id,
                execd_reply_cb cb, void *arg);
  /* Delete a finished execution.  409 while it is not terminal. */
  int (*remove)(execd_instance *inst, const char *tenant, const char *id,
                execd_reply_cb cb, void *arg);
  /* body: {"logs": "...", "offset": N, "next_offset": N, "done": bool}. */
  int (*logs)(execd_instance *inst, const char *tenant, const char *id,
              uint64_t offset, execd_reply_cb cb, void *arg);
  /* Subscribe to an execution's events (see execd_watch_cb).  If it has
   * already ended, one "end" event is delivered soon after. */
  int (*watch)(execd_instance *inst, const char *tenant, const char *id,
               execd_watch_cb cb, void *arg, execd_watch **out);
  /* Stop a subscription before its "end" event; cb is not called again. */
  void (*unwatch)(execd_watch *w);
  /* body: {"agents": [...]}. */
  int (*agents)(execd_instance *inst, execd_reply_cb cb, void *arg);
  /* body: {"ready": bool, "down": [names], "components": {...}}. */
  int (*health)(execd_instance *inst, execd_reply_cb cb, void *arg);
  /* body: a JSON string holding Prometheus text exposition. */
  int (*metrics)(execd_instance *inst, execd_reply_cb cb, void *arg);

  /* ---- since ABI 1.2 (test with EXECD_HOST_HAS(host, op_error)) ------ */

  /* Record the detail of the error that the op whose callback argument is
   * cb_arg is about to report (call it just before that callback, or
   * earlier: the detail waits for it).  Unlike set_error, the detail stays
   * with that one op: two async ops of an instance failing close together
   * each keep their own.  Use set_error for an op that fails by its return
   * value, and for create/start/health.  A detail nobody reads is dropped
   * after a while (the daemon keeps a few per instance). */
  void (*op_error)(execd_instance *inst, void *cb_arg, const char *fmt, ...)
      __attribute__((format(printf, 3, 4)));

  /* ---- since ABI 1.4 (test with EXECD_HOST_HAS(host, logs_timed)) ---- */

  /* As logs, and the body also has "times": [{"offset": N, "at": "RFC 3339
   * UTC with microseconds"}], ascending: the bytes from offset on (up to the
   * next entry) were received at "at".  The first entry is at or before the
   * page's offset; bytes before the first entry have no known time.  Fails
   * with EXECD_EINVAL, code "timestamps_unsupported", when the storage
   * keeps no times. */
  int (*logs_timed)(execd_instance *inst, const char *tenant, const char *id,
                    uint64_t offset, execd_reply_cb cb, void *arg);

  /* ---- since ABI 1.5 (test with EXECD_HOST_HAS(host, authenticate)) -- */

  /* Who presents a bearer token: the tenant the daemon's tokens file
   * (daemon.tokens_file) gives token (len bytes), copied NUL-terminated
   * into tenant (size bytes; EXECD_TENANT_MAX + 1 always suffice).
   * Returns 0, or EXECD_EPERM when the token is not valid or token is NULL
   * (none was presented); EXECD_EINVAL when size is too small.  Without a
   * tokens file every caller is EXECD_TENANT_ANONYMOUS, token or not: a
   * call with token NULL tells a transport whether the daemon
   * authenticates at all.  Answers at once; takes the same time whichever
   * token matches, or none.  The file is re-read on SIGHUP. */
  int (*authenticate)(execd_instance *inst, const char *token, size_t len, char *tenant,
                      size_t size);
  /* What the tenant's executions created in [from, to) used (RFC 3339 UTC
   * times, NULL or "": no bound), summed by group_by ("tenant" or "agent";
   * NULL: tenant).  body: {"from", "to", "group_by", "groups": [{"tenant",
   * "agent" (by agent), "executions": {STATE: n}, "executions_total",
   * "unfinished", "cpu_seconds", "peak_memory_bytes", "wall_seconds",
   * "output_bytes"}], "executions_scanned"}.  A bad parameter fails with
   * EXECD_EINVAL, code "invalid_query", field naming it. */
  int (*usage)(execd_instance *inst, const char *tenant, const char *from, const char *to,
               const char *group_by, execd_reply_cb cb, void *arg);
} execd_host;

/* True if the host table has MEMBER (it may come from an older daemon). */
#define EXECD_HOST_HAS(host, member)                                        \
  (offsetof(execd_host, member) + sizeof((host)->member) <=                 \
   (size_t)(host)->struct_size)

#ifdef __cplusplus
}
#endif

#endif
