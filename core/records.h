/* The core's one door to its storage instance: the ops of
 * include/execd/storage.h called on the instance, and the error detail it
 * left.  api.c and the pipeline's files store and read records only
 * through these functions. */
#ifndef EXECD_CORE_RECORDS_H
#define EXECD_CORE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <execd/storage.h>

#include "instance.h"

typedef struct records {
  execd_instance *inst;        /* the storage instance */
  const execd_storage_ops *ops; /* its ops table */
} records;

void records_init(records *r, execd_instance *storage);

/* Each returns the op's own result: 0 when the callback will follow,
 * else a negative EXECD_E* and no callback. */
int records_insert(const records *r, const json_t *record, execd_store_cb cb, void *arg);
/* Compare-and-set on the stored state; cb may be NULL. */
int records_update(const records *r, const json_t *record, const char *expected_state,
                   execd_store_cb cb, void *arg);
int records_get(const records *r, const char *id, execd_store_cb cb, void *arg);
int records_list(const records *r, const execd_list_query *query, execd_list_cb cb,
                 void *arg);
int records_remove(const records *r, const char *id, execd_store_cb cb, void *arg);
/* EXECD_ENOTSUP when the storage keeps no logs. */
int records_log_append(const records *r, const char *id, const char *data, size_t len);
int records_log_read(const records *r, const char *id, uint64_t offset, size_t max,
                     execd_log_cb cb, void *arg);
/* EXECD_ENOTSUP when the storage keeps no time marks (an ops table older
 * than ABI 1.4, or one without log_marks). */
int records_log_marks(const records *r, const char *id, uint64_t from, uint64_t to,
                      execd_log_marks_cb cb, void *arg);
bool records_has_log_marks(const records *r);
/* Several nodes (ABI 1.6): whether storage claims, and its claim ops
 * (include/execd/storage.h); EXECD_ENOTSUP without them. */
bool records_has_claims(const records *r);
int records_claim(const records *r, const execd_claim_query *q, execd_list_cb cb, void *arg);
int records_rescue(const records *r, const execd_claim_query *q, execd_list_cb cb, void *arg);
int records_renew(const records *r, const char *node, uint64_t lease_ms, const json_t *leases,
                  execd_list_cb cb, void *arg);
int records_watch_work(const records *r, void (*wake)(void *arg), void *arg);
/* ABI 1.7: insert and claim in one transaction; EXECD_ENOTSUP without it. */
bool records_has_insert_claim(const records *r);
int records_insert_claim(const records *r, const json_t *record, const execd_claim_query *q,
                         execd_store_cb cb, void *arg);
/* 0 when the storage is usable now (or has no health op); clears the
 * error detail first so that what follows belongs to this check. */
int records_health(const records *r);

/* The storage instance's error detail, or fallback. */
const char *records_error(const records *r, const char *fallback);
/* In the callback of the op whose callback argument is cb_arg: that op's
 * own detail (see instance_take_error), or fallback. */
const char *records_take_error(const records *r, void *cb_arg, const char *fallback);
execd_instance *records_instance(const records *r);

/* Whether a record storage handed back can be served and taken back: an
 * object with string id, tenant and a known state.  Lists and recovery
 * skip, with one log line, what is not (a storage should have set it
 * aside; execd still serves the rest). */
bool records_usable(const json_t *record);

#endif
