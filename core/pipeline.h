/* The pipeline: executions from acceptance to a persisted terminal state
 * (doc/architecture.md, "The pipeline"), on the one libuv loop.  This is
 * the header other core files include; the structs are private to the
 * pipeline's files (pipeline_internal.h). */
#ifndef EXECD_CORE_PIPELINE_H
#define EXECD_CORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "conf.h"
#include "instance.h"
#include "records.h"
#include "state.h"

typedef struct pipeline pipeline;
/* One accepted request's whole life (record and state). */
typedef struct execution execution;
/* A client waiting for an execution to end (submit ?wait=, watch). */
typedef struct waiter waiter;

/* --- set-up and shutdown (main.c) */

/* Room for cfg's backends and transports; NULL when out of memory. */
pipeline *pipeline_new(uv_loop_t *loop, const execd_config *cfg);
void pipeline_free(pipeline *p);
void pipeline_set_storage(pipeline *p, execd_instance *storage);
/* 0, or EXECD_ENOMEM beyond the room cfg gave. */
int pipeline_add_backend(pipeline *p, execd_instance *inst, const plugin_block *block);
int pipeline_add_transport(pipeline *p, execd_instance *inst);
/* Load unfinished executions from storage and resume them; cb runs once
 * with 0 or an error (recovery.c). */
int pipeline_recover(pipeline *p, void (*cb)(void *arg, int status), void *arg);
/* Stop starting attempts; cb runs once no attempt is running or the
 * shutdown grace has passed (drain.c). */
void pipeline_drain(pipeline *p, void (*cb)(void *arg), void *arg);
/* Ends a drain at once (a second SIGTERM): running jobs are left to
 * recovery at the next start. */
void pipeline_drain_now(pipeline *p);
/* Releases every execution's memory; storage keeps them as they are. */
void pipeline_close(pipeline *p);

/* --- what the API and the host table read */

uv_loop_t *pipeline_loop(const pipeline *p);
const execd_config *pipeline_config(const pipeline *p);
records *pipeline_records(pipeline *p);
bool pipeline_draining(const pipeline *p);
/* Several nodes (claims.c): executions are claimed from storage, not run
 * where they were accepted. */
bool pipeline_claims(const pipeline *p);
/* An accepted execution stored for whichever node claims it. */
void pipeline_accept_claimable(pipeline *p);
/* Several nodes, a storage with insert_claim (ABI 1.7): whether a submit
 * for backend should be inserted and claimed here in one transaction (this
 * node has a free slot for it); if so, fills q and counts the insert until
 * claims_inserted. */
bool claims_insert_query(pipeline *p, const char *backend, execd_claim_query *q);
/* That insert's answer: stored is the record storage handed back, with
 * "lease" if it claimed it here (NULL if it failed); then the execution is
 * active here (returned), queued to start.  NULL: not claimed here. */
struct execution *claims_inserted(pipeline *p, json_t *stored, struct agent *accepted_with);
/* This node for /readyz: {"name", "claims", and with claims "heartbeat",
 * "lease_ms", "leases", "claimed", "taken_over", "lost"}; a new reference. */
json_t *pipeline_node_status(const pipeline *p);
size_t pipeline_queue_depth(const pipeline *p);
/* A request refused before it was stored. */
void pipeline_count_rejected(pipeline *p);
/* Health of the storage, every backend and every transport: report(arg,
 * instance, 0 or its health op's error) for each, in that order. */
void pipeline_health(pipeline *p, void (*report)(void *arg, execd_instance *inst, int rc),
                     void *arg);

/* Counters and gauges for metrics. */
typedef struct pipeline_stats {
  unsigned active[STATE__COUNT]; /* executions in memory, by state */
  uint64_t finished_total[STATE__COUNT];
  uint64_t accepted_total, rejected_total, attempts_total;
  int running;
  size_t queue_depth;
  int64_t started_ms;
} pipeline_stats;
void pipeline_get_stats(const pipeline *p, pipeline_stats *out);
size_t pipeline_backend_count(const pipeline *p);
/* Backend i's instance name and running attempts. */
const char *pipeline_backend_name(const pipeline *p, size_t i);
int pipeline_backend_running(const pipeline *p, size_t i);

/* --- executions */

/* Asks the record's backend whether it would run the record at all
 * (check(), with the job spec start() will get for attempt 1) before it is
 * stored.  0, or the op's error with its detail in why; *backend_name is
 * the backend's instance name. */
int pipeline_backend_check(pipeline *p, const json_t *record, char *why, size_t whylen,
                           const char **backend_name);
struct agent;
/* Accept a validated record (state QUEUED, persisted): count it and queue
 * it.  accepted_with is the catalog's agent the request named (NULL: none); the
 * execution keeps a reference to it until it is freed, so that a reload of
 * the catalog does not change the agent it runs with.  NULL if its backend
 * is not configured. */
execution *pipeline_enqueue(pipeline *p, json_t *record, struct agent *accepted_with);
/* Start what may start now. */
void pipeline_schedule(pipeline *p);
/* The active execution of that id, or NULL. */
execution *pipeline_find(pipeline *p, const char *id);

/* The record (parsed again if it rested: execution_rest). */
const json_t *execution_record(execution *ex);
/* The tenant the execution belongs to. */
const char *execution_tenant(const execution *ex);
/* The API view of the execution, without keeping a resting record awake;
 * new reference. */
json_t *execution_view_of(execution *ex);
/* A queued execution whose record storage holds as it is keeps only its
 * compact text until it starts (or anything else needs the record): 10 000
 * queued executions then cost a fraction of their jansson objects. */
void execution_rest(execution *ex);
exec_state execution_state(const execution *ex);
/* Terminal, persisted, and its waiters have heard the end. */
bool execution_ended(const execution *ex);
/* Cancel an active execution; returns 0 or EXECD_ECONFLICT. */
int execution_cancel(execution *ex, const char *reason);
/* The API view of a record (doc/api.md); new reference. */
json_t *execution_view(const json_t *record);
/* Publish an event of the execution to transports. */
void execution_publish(execution *ex, const char *type, json_t *data);

/* Waiters: called once when the execution reaches a persisted terminal
 * state (or the pipeline closes, with record == the current one). */
typedef void (*waiter_cb)(void *arg, const json_t *record);
/* Events for watchers: type "log"/"state"/"progress". */
typedef void (*waiter_event_cb)(void *arg, const char *type, const json_t *data);
waiter *execution_add_waiter(execution *ex, waiter_cb done, waiter_event_cb event, void *arg);
void execution_remove_waiter(execution *ex, waiter *w);

/* --- the host table's backend members */

/* A job's output (job_output.c). */
void pipeline_job_output(execd_job *job, int stream, const char *data, size_t len);
/* A job's end (attempt.c). */
void pipeline_job_exited(execd_job *job, const execd_job_exit *exit);

#endif
