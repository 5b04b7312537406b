/* Blocking wrappers around a storage plugin's asynchronous ops, for the
 * storage conformance suite, the file storage tests and the benchmark:
 * each call makes the op, notes whether its callback came from inside the
 * call (a breach of <execd/storage.h>), then runs the harness loop until
 * the callback came. */
#ifndef EXECD_TEST_STORAGE_CLIENT_H
#define EXECD_TEST_STORAGE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Returned when a callback did not come within SC_WAIT_MS. */
#define SC_TIMEOUT (-1000)
#define SC_WAIT_MS 60000

typedef struct sc_result {
  int calls;        /* callbacks seen: must be exactly 1 */
  bool inside_call; /* a callback ran before the op returned */
  int status;
  json_t *record;   /* a copy of the callback's record, or NULL */
  json_t *records;  /* list: a copy of the array */
  char *cursor;     /* list: next_cursor, or NULL */
  char *data;       /* log_read: the bytes (NUL-terminated) */
  size_t len;
  uint64_t next_offset;
  execd_log_mark *marks; /* log_marks: a copy of the marks */
  size_t n_marks;
} sc_result;

/* The plugin the calls go to. */
void sc_use(harness_plugin *p);
const execd_storage_ops *sc_ops(void);

/* Each returns the op's return value if non-zero, SC_TIMEOUT, or 0 with
 * *r filled in (clear it with sc_clear before reuse). */
int sc_insert(const json_t *rec, sc_result *r);
int sc_update(const json_t *rec, const char *expected_state, sc_result *r);
int sc_get(const char *id, sc_result *r);
int sc_list(const execd_list_query *q, sc_result *r);
int sc_remove(const char *id, sc_result *r);
int sc_log_read(const char *id, uint64_t offset, size_t max, sc_result *r);
/* log_marks (ABI 1.4): SC_NO_OP if the plugin's ops table has none. */
#define SC_NO_OP (-1001)
int sc_log_marks(const char *id, uint64_t from, uint64_t to, sc_result *r);
void sc_clear(sc_result *r);
/* Several nodes (ABI 1.6): SC_NO_OP if the plugin has no claim ops.
 * claim and rescue fill r->records; renew fills r->records with ids. */
int sc_claim(const execd_claim_query *q, sc_result *r);
/* ABI 1.7: SC_NO_OP for a storage without insert_claim. */
int sc_insert_claim(const json_t *rec, const execd_claim_query *q, sc_result *r);
int sc_rescue(const execd_claim_query *q, sc_result *r);
int sc_rescue_async(const execd_claim_query *q, sc_result *r);
int sc_renew(const char *node, uint64_t lease_ms, const json_t *leases, sc_result *r);

/* Starts an op whose callback fills r, without waiting; sc_wait waits. */
int sc_insert_async(const json_t *rec, sc_result *r);
int sc_update_async(const json_t *rec, const char *expected_state, sc_result *r);
int sc_wait(sc_result *r);

/* A new time-ordered UUIDv7 string, larger than every earlier one. */
void sc_new_id(char out[37]);
/* RFC 3339 UTC time of ms since the epoch. */
void sc_format_time(int64_t ms, char out[32]);
int64_t sc_now_ms(void);

/* A record shaped like execd's: agent and idem_key may be NULL; labels is
 * stolen (NULL: {}); created_ms 0 means now. */
json_t *sc_record(const char *id, const char *tenant, const char *state,
                  const char *agent, const char *idem_key, json_t *labels,
                  int64_t created_ms);

#endif
