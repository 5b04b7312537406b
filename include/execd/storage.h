/* Storage plugins keep the durable record of executions and their logs.
 *
 * A record is a JSON object owned by execd's core; storage treats it as a
 * document but indexes these members:
 *   "id" (string, time-ordered), "tenant" (string), "state" (string),
 *   "agent" (string|null), "labels" (object of strings),
 *   "idempotency_key" (string|null), "timestamps": {"created": RFC 3339}
 * doc/execution-record.md lists every member, who writes it, the state
 * machine and every call the core makes.
 *
 * Rules for every op:
 *  - A non-zero return means the op was refused and cb will not be called;
 *    describe why with host->set_error.
 *  - On 0, cb is called exactly once, later (never from inside the call).
 *    The one exception: update's cb may be NULL (below).
 *  - Writes (insert, update, remove) of one instance complete, and their
 *    callbacks run, in the order they were called; each sees the writes
 *    called before it, even those not yet durable.
 *  - Records handed to callbacks are borrowed: json_incref to keep them.
 *  - Records passed in are not kept: storage copies what it needs.
 *  - Writes are durable (fsync'd or committed) before their callback runs.
 *  - The detail of a failure reported through cb goes with
 *    host->op_error(inst, arg, ...) (ABI 1.2; set_error under older hosts).
 *  - The core requires every op but health; the loader refuses a storage
 *    plugin without one.
 */
#ifndef EXECD_STORAGE_H
#define EXECD_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* status: 0 or negative EXECD_E*; record: borrowed, or NULL. */
typedef void (*execd_store_cb)(void *arg, int status, json_t *record);
/* records: borrowed array; next_cursor: NULL at the end. */
typedef void (*execd_list_cb)(void *arg, int status, json_t *records,
                              const char *next_cursor);
/* data: borrowed bytes from offset; next_offset: where to read next. */
typedef void (*execd_log_cb)(void *arg, int status, const char *data,
                             size_t len, uint64_t next_offset);

/* One time mark of a log: the bytes from offset on (up to the next mark)
 * were received by execd at time_us (microseconds since the Unix epoch,
 * UTC).  Since ABI 1.4. */
typedef struct execd_log_mark {
  uint64_t offset;
  int64_t time_us;
} execd_log_mark;
/* marks: borrowed, n of them, ascending offsets. */
typedef void (*execd_log_marks_cb)(void *arg, int status,
                                   const execd_log_mark *marks, size_t n);

/* Filters of a list; NULL members match everything.  Results come newest
 * first (descending id); cursor is an opaque string from a previous page. */
typedef struct execd_list_query {
  uint32_t struct_size;
  const char *tenant;
  const char *state;
  const char *agent;
  const char *label_key;   /* with label_value: labels[key] == value */
  const char *label_value;
  const char *cursor;
  unsigned limit;          /* 0: the storage's default (100) */
  const char *created_after;  /* RFC 3339, inclusive, or NULL */
  const char *created_before; /* RFC 3339, exclusive, or NULL */
} execd_list_query;

struct execd_claim_query;

typedef struct execd_storage_ops {
  uint32_t struct_size;

  /* Insert a new record.  If it has an idempotency_key and a record of
   * the same tenant with the same key was created within the last 24 h,
   * nothing is written and cb gets EXECD_EEXIST with that record. */
  int (*insert)(void *self, const json_t *record, execd_store_cb cb, void *arg);
  /* Replace a record, compare-and-set on state: only if the stored
   * record's "state" equals expected_state (else EXECD_ECONFLICT with the
   * stored record; EXECD_ENOENT if none).  The core always passes an
   * expected_state; NULL replaces without comparing.
   * cb may be NULL: fire-and-forget.  The core does this for a write whose
   * outcome nothing waits for (doc/execution-record.md); storage applies it
   * exactly as with a callback (the compare-and-set, durably, in order with
   * the other writes) and reports a failure only in its own log. */
  int (*update)(void *self, const json_t *record, const char *expected_state,
                execd_store_cb cb, void *arg);
  int (*get)(void *self, const char *id, execd_store_cb cb, void *arg);
  /* One stored record that cannot be read back must not fail a list (nor
   * the core's recovery, which lists at every start): set it aside, log
   * it, and answer the rest of the page; a get of it answers
   * EXECD_ENOENT once it is set aside (doc/storage-file.md, "Quarantine"). */
  int (*list)(void *self, const execd_list_query *query, execd_list_cb cb,
              void *arg);
  /* Delete a record and its logs. */
  int (*remove)(void *self, const char *id, execd_store_cb cb, void *arg);
  /* Append log bytes of an execution; buffered, capped per execution (the
   * cap is storage config); made durable no later than the next update()
   * of that execution completes.  Returns 0 or a negative EXECD_E*; no
   * callback. */
  int (*log_append)(void *self, const char *id, const char *data, size_t len);
  int (*log_read)(void *self, const char *id, uint64_t offset, size_t max,
                  execd_log_cb cb, void *arg);
  /* 0 if usable now, else EXECD_EUNAVAIL with host->set_error.  May be NULL. */
  int (*health)(void *self);

  /* ---- since ABI 1.4 (the core reads it only when struct_size covers it;
   * execd loads an older table with this op absent) ---------------------- */

  /* The time marks of log bytes [from, to) of an execution: the last mark
   * at or before from (if any), then every mark before to, ascending.
   * log_append records a mark with the time the bytes arrived, at least
   * once per durable write of the log (execd serves
   * GET .../logs?timestamps=true from them).  Marks of bytes that reached
   * log_read are readable.  A log with no marks (written before the
   * storage kept them) gives n = 0; an unknown id gives EXECD_ENOENT.
   * May be NULL: then execd answers timestamp requests with 400. */
  int (*log_marks)(void *self, const char *id, uint64_t from, uint64_t to,
                   execd_log_marks_cb cb, void *arg);

  /* ---- since ABI 1.6: several execd nodes on one store (the core reads
   * these only when struct_size covers them; a storage without claim runs
   * one node, which schedules from memory) -------------------------------
   *
   * A node claims executions from storage instead of running those it
   * accepted.  A claimed record carries a lease, written into the record by
   * storage as "lease": {"node", "token", "expires"} (expires in ms since
   * the epoch): the node that holds it runs the execution.  The token is the
   * fencing token: it changes with every claim and rescue, and every update
   * of a record whose "lease" has a "token" is applied only if the stored
   * lease has that token, in the same statement as the compare-and-set on
   * state (else EXECD_ECONFLICT with the stored record).  An update to a
   * state other than QUEUED, STARTING or RUNNING releases the lease; an
   * update to RETRY_WAIT makes the record claimable again once its
   * "retry_at" is due.  doc/storage-postgres.md, "Several nodes". */

  /* Claims up to query->max executions for query->node: QUEUED and not
   * leased (or their lease expired), or RETRY_WAIT with retry_at due;
   * with a backend among query->backends; by priority (highest first),
   * then age.  A lease of query->lease_ms each.  cb: the claimed records
   * (with "lease"), possibly none. */
  int (*claim)(void *self, const struct execd_claim_query *query, execd_list_cb cb,
               void *arg);
  /* Takes over up to query->max STARTING or RUNNING executions whose lease
   * expired (their node stopped renewing it), with a new lease for
   * query->node (backends is not used).  cb: the records taken (with their
   * new "lease"); the caller ends their attempt as lost. */
  int (*rescue)(void *self, const struct execd_claim_query *query, execd_list_cb cb,
                void *arg);
  /* Extends by lease_ms the leases node holds: leases is a JSON array of
   * {"id", "token"}.  cb: records is an array of the ids whose lease was
   * extended; a lease missing there was taken over (or released). */
  int (*renew)(void *self, const char *node, uint64_t lease_ms, const json_t *leases,
               execd_list_cb cb, void *arg);
  /* Calls wake(arg), on the loop, whenever work may have become claimable
   * (a record inserted or made QUEUED, by any node; a lost notification
   * channel re-established).  One registration per instance; wake NULL
   * ends it.  May be NULL: the core then polls. */
  int (*watch_work)(void *self, void (*wake)(void *arg), void *arg);

  /* ---- since ABI 1.7 (the core reads it only when struct_size covers it;
   * without it a node inserts, then claims) ------------------------------ */

  /* insert(), and in the same transaction a claim of that record for
   * query->node with a lease of query->lease_ms (backends and max are not
   * used), so that the node that accepted an execution and has room for it
   * runs it without a claim's round trip.  On success cb's record carries
   * "lease" as claim() gives it, and no other node is woken for it; a
   * storage that does not claim this record (e.g. one with an idempotency
   * key, or one an older claimable record would go before in a claim) may
   * store it as insert() does and hand it back without "lease":
   * it is then claimable by any node.  Everything else (statuses, the
   * stored record of a duplicate, durability, order) as insert().  The
   * lease is a claim's in every respect: unrenewed, it expires and the
   * record is claimable again by any node. */
  int (*insert_claim)(void *self, const json_t *record,
                      const struct execd_claim_query *query, execd_store_cb cb, void *arg);
} execd_storage_ops;

/* What claim, rescue and insert_claim take.  Since ABI 1.6. */
typedef struct execd_claim_query {
  uint32_t struct_size;
  const char *node;              /* the claiming node's name */
  unsigned max;                  /* at most this many records */
  uint64_t lease_ms;             /* each lease runs this long unless renewed */
  const char *const *backends;   /* claim: backend names with room */
  size_t n_backends;
} execd_claim_query;

#ifdef __cplusplus
}
#endif

#endif
