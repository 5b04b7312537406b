/* The execution an idempotency key already names, for a submit refused
 * before it reaches storage (its tenant at a quota): a replay creates
 * nothing, so it is answered as every replay is, with the first
 * execution.  Storage checks keys only inside insert (storage.h), so this
 * pages through the tenant's executions created in the last 24 h (a key's
 * lifetime), newest first, and gives up after IDEMPOTENCY_LOOKUP_MAX of
 * them, so that a refused submit costs a bounded read. */
#ifndef EXECD_CORE_IDEMPOTENCY_LOOKUP_H
#define EXECD_CORE_IDEMPOTENCY_LOOKUP_H

#include <jansson.h>

#include "pipeline.h"

#define IDEMPOTENCY_LOOKUP_MAX 10000

/* record: the stored execution of tenant with key (borrowed, for the
 * callback's duration), or NULL when there is none, storage failed (logged)
 * or the limit was reached first. */
typedef void (*idempotency_found_cb)(void *arg, const json_t *record);

/* 0 when found will be called, else a negative EXECD_E* and no
 * callback. */
int idempotency_lookup(pipeline *p, const char *tenant, const char *key,
                       idempotency_found_cb found, void *arg);

#endif
