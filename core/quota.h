/* The counts behind the tenants' quotas (tenants_file.h, tenant_quota):
 * per tenant, the executions not yet ended (in memory, and submits whose
 * record storage has not confirmed yet) and the executions accepted in
 * the current UTC day.  The day's counts are taken from storage at start
 * (records created since 00:00 UTC), so a restart does not reset them. */
#ifndef EXECD_CORE_QUOTA_H
#define EXECD_CORE_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"
#include "tenants_file.h"

/* An execution of tenant entered memory (+1) or left it, ended (-1). */
void quota_active_add(const char *tenant, int delta);
/* A submit passed every other check: refuse it when tenant is at a quota
 * (EXECD_EBUSY, the reason in why), else count it, pending, until
 * quota_settle().  0 or EXECD_EBUSY. */
int quota_reserve(const char *tenant, tenant_quota q, int64_t now_ms, char *why, size_t whylen);
/* Storage answered the reserved submit: accepted (a new execution) or not
 * (an error, or an idempotent replay of an earlier one). */
void quota_settle(const char *tenant, bool accepted);
/* Count the records created since 00:00 UTC today, by tenant (paging
 * through storage), then call done.  A storage error is logged and the
 * counts start from what was read. */
void quota_load_today(pipeline *p, void (*done)(void *arg), void *arg);
/* Executions not yet ended, and accepted today, of tenant (for tests and
 * metrics). */
void quota_counts(const char *tenant, int64_t now_ms, int64_t *active, int64_t *today);
void quota_close(void);

#endif
