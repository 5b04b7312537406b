/* The execution engine: lifecycle of executions from acceptance to a
 * persisted terminal state (DESIGN §3), on the one libuv loop. */
#ifndef EXECD_CORE_ENGINE_H
#define EXECD_CORE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

/* libbsd's tree.h marks generated functions __unused (a BSD spelling). */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <bsd/sys/tree.h>
#include <jansson.h>
#include <uv.h>

#include "conf.h"
#include "instance.h"
#include "scheduler.h"
#include "state.h"
#include "workflow.h"

typedef struct execution execution;
typedef struct engine engine;
typedef struct recover_ctx recover_ctx;

typedef struct backend_rt {
  execd_instance *inst;
  const execd_backend_ops *ops;
  const plugin_block *block;
  int running;
} backend_rt;

/* A client waiting for an execution to end (submit ?wait=, watch). */
typedef struct waiter waiter;

struct execd_job {
  execution *ex;
};

struct execution {
  RB_ENTRY(execution) node;
  sched_entry queue;
  engine *eng;
  char id[40];
  json_t *record;        /* the stored document; owned */
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
  uint64_t log_stored;   /* bytes of this execution's log in storage */
  uint64_t log_skip;     /* replayed log bytes storage already holds */
  char *stdout_text;     /* io:"json" stdout, capped */
  size_t stdout_len;
  json_t *exit;          /* what the backend reported */
  bool write_inflight, write_again, finished_notified, released;
  int refs;              /* timers, thread-pool work, storage ops */
  waiter *waiters;
};

RB_HEAD(exec_tree, execution);
int exec_cmp(execution *a, execution *b);
RB_PROTOTYPE(exec_tree, execution, node, exec_cmp)

struct engine {
  uv_loop_t *loop;
  const execd_config *cfg;
  execd_instance *storage;
  const execd_storage_ops *store;
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
  uint64_t accepted_total;
  uint64_t rejected_total;
  uint64_t finished_total[STATE__COUNT];
  uint64_t attempts_total;
  int64_t started_ms;
  recover_ctx *recovery; /* while recovery runs at start */
};

void engine_init(engine *eng, uv_loop_t *loop, const execd_config *cfg);
/* Load unfinished executions from storage and resume them; cb runs once
 * with 0 or an error. */
int engine_recover(engine *eng, void (*cb)(void *arg, int status), void *arg);
/* Stop starting attempts; cb runs once no attempt is running or the
 * shutdown grace has passed. */
void engine_drain(engine *eng, void (*cb)(void *arg), void *arg);
/* Ends a drain at once (a second SIGTERM): running jobs are left to
 * recovery at the next start. */
void engine_drain_now(engine *eng);
void engine_close(engine *eng);

execution *engine_find(engine *eng, const char *id);
backend_rt *engine_backend(engine *eng, const char *name);

/* Accept a validated record (state QUEUED, persisted): queue it. */
execution *engine_adopt(engine *eng, json_t *record);
void engine_schedule(engine *eng);
/* Cancel an active execution; returns 0 or EXECD_ECONFLICT. */
int engine_cancel(execution *ex, const char *reason);

/* The API view of a record (DESIGN §4); new reference. */
json_t *engine_view(const json_t *record);

/* Waiters: called once when the execution reaches a persisted terminal
 * state (or the engine closes, with record == the current one). */
typedef void (*waiter_cb)(void *arg, const json_t *record);
/* Events for watchers: type "log"/"state"/"progress". */
typedef void (*waiter_event_cb)(void *arg, const char *type, const json_t *data);
waiter *engine_add_waiter(execution *ex, waiter_cb done, waiter_event_cb event, void *arg);
void engine_remove_waiter(execution *ex, waiter *w);

/* Publish an event to transports. */
void engine_publish(engine *eng, const char *type, execution *ex, json_t *data);

#endif
