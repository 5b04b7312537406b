/* Per-tenant counters for the quotas, in a small hash table: tenants are
 * the tokens file's (or "anonymous"), so the table stays small; entries
 * live until the daemon stops. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "ids.h"
#include "log.h"
#include "quota.h"
#include "records.h"
#include "xalloc.h"

#define BUCKETS 256
#define DAY_MS (86400LL * 1000)

typedef struct quota_entry {
  struct quota_entry *next;
  int64_t active;  /* executions in memory, not yet ended */
  int64_t pending; /* submits waiting for storage */
  int64_t day;     /* UTC day of day_count (days since the epoch) */
  int64_t day_count;
  char tenant[];
} quota_entry;

static quota_entry *buckets[BUCKETS];

static unsigned hash(const char *s) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h % BUCKETS;
}

static quota_entry *entry(const char *tenant) {
  if (!tenant)
    tenant = EXECD_TENANT_ANONYMOUS;
  unsigned h = hash(tenant);
  for (quota_entry *e = buckets[h]; e; e = e->next)
    if (strcmp(e->tenant, tenant) == 0)
      return e;
  size_t n = strlen(tenant);
  quota_entry *e = xcalloc(1, sizeof *e + n + 1);
  memcpy(e->tenant, tenant, n + 1);
  e->next = buckets[h];
  buckets[h] = e;
  return e;
}

static void roll_day(quota_entry *e, int64_t now_ms) {
  int64_t day = now_ms / DAY_MS;
  if (e->day != day) {
    e->day = day;
    e->day_count = 0;
  }
}

void quota_active_add(const char *tenant, int delta) {
  quota_entry *e = entry(tenant);
  e->active += delta;
  if (e->active < 0)
    e->active = 0;
}

int quota_reserve(const char *tenant, tenant_quota q, int64_t now_ms, char *why, size_t whylen) {
  quota_entry *e = entry(tenant);
  roll_day(e, now_ms);
  int64_t unfinished = e->active + e->pending;
  if (q.max_running > 0 && unfinished >= q.max_running) {
    snprintf(why, whylen,
             "tenant %s has %lld execution%s not yet ended, its max_running; wait for one "
             "to end",
             e->tenant, (long long)unfinished, unfinished == 1 ? "" : "s");
    return EXECD_EBUSY;
  }
  if (q.max_per_day > 0 && e->day_count >= q.max_per_day) {
    snprintf(why, whylen,
             "tenant %s has had %lld execution%s accepted today (UTC), its max_per_day; the "
             "count starts again at 00:00 UTC",
             e->tenant, (long long)e->day_count, e->day_count == 1 ? "" : "s");
    return EXECD_EBUSY;
  }
  e->pending++;
  e->day_count++;
  return 0;
}

void quota_settle(const char *tenant, bool accepted) {
  quota_entry *e = entry(tenant);
  if (e->pending > 0)
    e->pending--;
  if (!accepted && e->day_count > 0)
    e->day_count--;
}

void quota_counts(const char *tenant, int64_t now_ms, int64_t *active, int64_t *today) {
  quota_entry *e = entry(tenant);
  roll_day(e, now_ms);
  *active = e->active + e->pending;
  *today = e->day_count;
}

void quota_close(void) {
  for (int i = 0; i < BUCKETS; i++) {
    while (buckets[i]) {
      quota_entry *e = buckets[i];
      buckets[i] = e->next;
      free(e);
    }
  }
}

/* --- the day's counts, from storage ----------------------------------------- */

typedef struct load_ctx {
  pipeline *pipeline;
  void (*done)(void *arg);
  void *arg;
  char since[32];
  char *cursor;
  int64_t today;
  size_t counted;
} load_ctx;

static void load_next(load_ctx *c);

static void load_finish(load_ctx *c) {
  log_info("quotas: %zu executions accepted today (UTC) so far", c->counted);
  free(c->cursor);
  c->done(c->arg);
  free(c);
}

static void on_page(void *arg, int status, json_t *page, const char *next) {
  load_ctx *c = arg;
  if (status != 0) {
    log_err("quotas: listing today's executions failed: %s (%s); max_per_day counts start "
            "from the %zu read",
            execd_strerror(status),
            records_take_error(pipeline_records(c->pipeline), c, "no detail"), c->counted);
    load_finish(c);
    return;
  }
  size_t i;
  json_t *r;
  json_array_foreach(page, i, r) {
    int64_t created;
    const char *tenant = json_string_value(json_object_get(r, "tenant"));
    const char *at =
        json_string_value(json_object_get(json_object_get(r, "timestamps"), "created"));
    if (!tenant || !at || ids_parse_time(at, &created) != 0 || created / DAY_MS != c->today)
      continue;
    quota_entry *e = entry(tenant);
    roll_day(e, created);
    e->day_count++;
    c->counted++;
  }
  free(c->cursor);
  c->cursor = next ? xstrdup(next) : NULL;
  if (!c->cursor)
    load_finish(c);
  else
    load_next(c);
}

static void load_next(load_ctx *c) {
  execd_list_query q = {
      .struct_size = sizeof q,
      .cursor = c->cursor,
      .limit = 500,
      .created_after = c->since,
  };
  int rc = records_list(pipeline_records(c->pipeline), &q, on_page, c);
  if (rc != 0) {
    log_err("quotas: storage refused to list today's executions: %s", execd_strerror(rc));
    load_finish(c);
  }
}

void quota_load_today(pipeline *p, void (*done)(void *arg), void *arg) {
  load_ctx *c = xcalloc(1, sizeof *c);
  c->pipeline = p;
  c->done = done;
  c->arg = arg;
  c->today = ids_now_ms() / DAY_MS;
  ids_format_time(c->today * DAY_MS, c->since);
  load_next(c);
}
