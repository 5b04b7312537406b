/* The pipeline's structs and the functions its own files share
 * (pipeline.c, execution.c, attempt.c, job_output.c, recovery.c,
 * drain.c, claims.c).  Every other core file includes pipeline.h only. */
#ifndef EXECD_CORE_PIPELINE_INTERNAL_H
#define EXECD_CORE_PIPELINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* libbsd's tree.h marks generated functions __unused (a BSD spelling). */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <bsd/sys/tree.h>
#include <jansson.h>
#include <uv.h>

#include "log.h"
#include "pipeline.h"
#include "records.h"
#include "scheduler.h"
#include "workflow.h"

typedef struct recover_ctx recover_ctx;

/* A configured backend instance and its running attempts. */
typedef struct backend_rt {
  execd_instance *inst;
  const execd_backend_ops *ops;
  const plugin_block *block;
  int running;
} backend_rt;

/* Whether another attempt may start on b under its own max_running. */
static inline bool backend_rt_has_room(const backend_rt *b) {
  return b->block->max_running <= 0 || b->running < b->block->max_running;
}

struct execd_job {
  execution *ex;
};

struct execution {
  RB_ENTRY(execution) node;
  sched_entry queue;
  pipeline *pipeline;
  char id[40];
  json_t *record;        /* the stored document; owned; NULL while it rests */
  char *resting;         /* while queued and persisted: the record as compact
                          * JSON text, a fraction of its jansson objects'
                          * memory (execution_rest); NULL otherwise */
  char *tenant;          /* == record.tenant, also while the record rests */
  struct agent *agent;   /* the agent it was accepted with (a reference); NULL
                          * without one, or when recovered after a restart */
  exec_state state;      /* == record.state */
  exec_state persisted;  /* what storage has */
  backend_rt *backend;
  struct execd_job job;  /* the token backends report with */
  void *handle;          /* backend's handle while running */
  enum { STOP_NONE, STOP_CANCEL, STOP_TIMEOUT } stop;
  uv_timer_t timer;      /* timeout while running; retry while waiting */
  uv_timer_t kill_timer; /* SIGTERM -> SIGKILL grace */
  char *workspace;
  line_splitter lines[3]; /* per stream (1 stdout, 2 stderr) */
  char *logs;            /* log text kept for the result, capped */
  size_t logs_len;
  bool logs_truncated;
  bool workspace_full;   /* the attempt's workspace tmpfs was full when it ended */
  uint64_t log_stored;   /* bytes of this execution's log in storage */
  uint64_t log_skip;     /* replayed log bytes storage already holds */
  char *stdout_text;     /* io:"json" stdout, capped */
  size_t stdout_len;
  json_t *exit;          /* what the backend reported */
  bool write_inflight, write_again, finished_notified, released;
  bool await_start;      /* several nodes: the job starts once storage has
                          * STARTING (the attempt's number under its lease) */
  bool fenced;           /* several nodes: its lease was taken over; nothing
                          * more of it is written here (claims.c) */
  int refs;              /* timers, thread-pool work, storage ops */
  waiter *waiters;
};

RB_HEAD(exec_tree, execution);
int exec_cmp(execution *a, execution *b);
RB_PROTOTYPE(exec_tree, execution, node, exec_cmp)

struct pipeline {
  uv_loop_t *loop;
  const execd_config *cfg;
  records records; /* the storage instance */
  backend_rt *backends;
  size_t n_backends;
  execd_instance **transports;
  size_t n_transports;
  scheduler sched;
  struct exec_tree active;
  size_t n_active;
  int running;
  bool draining;
  int64_t drain_deadline_ms; /* while draining: stop waiting for jobs then */
  bool abandoning;           /* past the grace: attempts are left to recovery */
  int64_t abandon_deadline_ms; /* stop waiting for the stopped jobs' exits then */
  uint64_t accepted_total;
  uint64_t rejected_total;
  uint64_t finished_total[STATE__COUNT];
  uint64_t attempts_total;
  int64_t started_ms;
  recover_ctx *recovery; /* while recovery runs at start */
  struct claims *claims; /* several nodes: claims and leases (claims.c), or NULL */
};

/* pipeline.c */
backend_rt *pipeline_backend(pipeline *p, const char *name);

/* execution.c: one execution's memory, record and state */
static inline const json_t *execution_spec(const execution *ex) {
  return json_object_get(ex->record, "spec");
}
/* A new active execution for a record (its backend must be configured;
 * else NULL); the active tree holds the first reference. */
execution *execution_new(pipeline *p, json_t *record);
/* The record in memory again if it rests (parsed from its text); every
 * use of ex->record outside execution.c comes after one of these or on a
 * path that already made one (attempt_start, transitions). */
json_t *execution_wake(execution *ex);
/* The agent ex was accepted with; for an execution recovered after a
 * restart, the catalog's agent of the record's name (borrowed; NULL). */
const struct agent *execution_agent(const execution *ex);
void execution_ref(execution *ex);
void execution_unref(execution *ex);
/* Terminal and persisted: leave the active set once nothing refers to it. */
void execution_release(execution *ex);
/* Checks the state machine, records history, publishes and persists
 * (compare-and-set on the persisted state).  0 or EXECD_ECONFLICT. */
int execution_transition(execution *ex, exec_state to, const char *reason);
/* Writes the record; one update in flight per execution, coalesced. */
void execution_persist(execution *ex);
void execution_set_timestamp(execution *ex, const char *which);
void execution_set_error(execution *ex, const char *code, const char *message,
                         json_t *details /* stolen, or NULL */);
/* Events ("state", "progress", "log") to the execution's watchers. */
void execution_notify_watchers(execution *ex, const char *type, const json_t *data);
/* The end to every waiter, once; the list is emptied. */
void execution_notify_done(execution *ex);

/* attempt.c: one run of an execution on its backend */
void attempt_start(execution *ex);
/* Lays out the attempt's workspace on the thread pool, then starts the
 * attempt, or adopts it (recovery) when adopt is true. */
void attempt_prepare(execution *ex, bool adopt);
/* SIGTERM now, SIGKILL after the grace (why: STOP_CANCEL, STOP_TIMEOUT). */
void attempt_stop(execution *ex, int why);
/* Shutdown past its grace: SIGNUM now (SIGTERM: SIGKILL follows after
 * kill_grace).  The exit that follows is not recorded; recovery concludes
 * the attempt at the next start (drain.c). */
void attempt_abandon(execution *ex, int signum);
/* The attempt ended (ex->exit says how): decide the state, retry or finish. */
void attempt_finish(execution *ex);
/* RETRY_WAIT's timer: back to the queue. */
void attempt_retry_timer(uv_timer_t *t);

/* job_output.c: the job's output lines */
/* Emits what is left in the line splitters (the last lines without newline). */
void job_output_flush(execution *ex);

/* claims.c: several nodes on one store (storage with claim, ABI 1.6) */
/* Claiming starts: timers, the storage's wake-ups. */
void claims_start(pipeline *p);
/* Timers close; nothing is claimed any more. */
void claims_close(pipeline *p);
/* Slots may be free: claim what fits (unless storage said it has none). */
void claims_kick(pipeline *p);
/* Work may be claimable now (a submit here, a retry due after delay_ms). */
void claims_wake(pipeline *p, int64_t delay_ms);
/* The execution's lease was taken over: stop its job, write nothing more,
 * leave memory once no attempt of it is in flight. */
void claims_lease_lost(execution *ex, const char *why);
/* A fenced execution's attempt is over: it leaves memory. */
void claims_drop(execution *ex);

/* recovery.c */
/* One adopt or log count of recovery is done. */
void recovery_step_done(pipeline *p);

/* A log line about one execution: log_execution() prefixes it with
 * "execution ID: " and gives the id and tenant as structured fields (the
 * journal's EXECD_EXECUTION_ID and EXECD_TENANT). */
#define execution_log(level, ex, fmt, ...)                                                 \
  log_execution(level, (ex)->id, (ex)->tenant, fmt, ##__VA_ARGS__)

#endif
