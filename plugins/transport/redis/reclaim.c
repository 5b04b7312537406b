/* Messages left pending: every claim_idle / 2, those idle for claim_idle
 * (their consumer died between read and XACK, or lost its connection)
 * are taken over.  First XPENDING finds the ones already delivered
 * max_deliveries times: each is claimed (XCLAIM), copied to the
 * dead-letter stream with the reason, refused on the events stream and
 * acknowledged.  Then XAUTOCLAIM takes the rest, which are handled as new
 * messages (their idempotency key makes a second delivery a replay).
 * Messages this node is still handling are left alone. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define CLAIM_COUNT 100

static void claim_round(rt *t);

static void on_claim_timer(uv_timer_t *tm) { claim_round(tm->data); }

void reclaim_start(rt *t) {
  uv_timer_init(t->loop, &t->claim_timer);
  t->claim_timer.data = t;
  uint64_t every = t->claim_idle_ms / 2;
  if (every < 500)
    every = 500;
  uv_timer_start(&t->claim_timer, on_claim_timer, every, every);
}

void reclaim_stop(rt *t) {
  if (t->claim_timer.data)
    uv_close((uv_handle_t *)&t->claim_timer, NULL);
}

/* ---- dead letters -------------------------------------------------------- */

typedef struct dead_ctx {
  rt *t;
  char id[RT_ID_MAX];
  char consumer[256];
  long long deliveries;
  entry *e;
} dead_ctx;

static void on_dead_added(void *arg, redisReply *r, const char *err) {
  dead_ctx *d = arg;
  rt *t = d->t;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    t->host->log(t->inst, EXECD_LOG_WARNING, "XADD %s for %s failed: %s; tried again later",
                 t->dead_letter_stream, d->id, r ? r->str : err);
    entry_done(d->e);
  } else {
    char why[300];
    snprintf(why, sizeof why,
             "delivered %lld times (max_deliveries %llu) without being acknowledged; moved to "
             "%s",
             d->deliveries, (unsigned long long)t->max_deliveries, t->dead_letter_stream);
    intake_reject(d->e, "max_deliveries", NULL, why);
  }
  free(d);
}

static void on_dead_claimed(void *arg, redisReply *r, const char *err) {
  dead_ctx *d = arg;
  rt *t = d->t;
  (void)err;
  const redisReply *ent = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 ? r->element[0] : NULL;
  if (!ent || ent->type != REDIS_REPLY_ARRAY || ent->elements != 2) {
    /* Acknowledged or deleted meanwhile, or redis away: nothing to do. */
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_NIL)
      intake_reject(d->e, "max_deliveries", NULL, "deleted from the stream while pending");
    else
      entry_done(d->e);
    free(d);
    return;
  }
  const redisReply *fields = ent->element[1];
  size_t nf = fields->type == REDIS_REPLY_ARRAY ? fields->elements : 0;
  size_t argc = 12 + nf;
  const char **argv = calloc(argc, sizeof *argv);
  size_t *lens = calloc(argc, sizeof *lens);
  char deliveries[24];
  snprintf(deliveries, sizeof deliveries, "%lld", d->deliveries);
  char reason[200];
  snprintf(reason, sizeof reason, "delivered %lld times (max_deliveries %llu)", d->deliveries,
           (unsigned long long)t->max_deliveries);
  if (!argv || !lens) {
    free(argv), free(lens);
    entry_done(d->e);
    free(d);
    return;
  }
  size_t n = 0;
  argv[n++] = "XADD", argv[n++] = t->dead_letter_stream, argv[n++] = "*";
  argv[n++] = "dead_message_id", argv[n++] = d->id;
  argv[n++] = "dead_stream", argv[n++] = t->requests_stream;
  argv[n++] = "dead_reason", argv[n++] = reason;
  argv[n++] = "dead_deliveries", argv[n++] = deliveries;
  for (size_t i = 0; i < n; i++)
    lens[i] = strlen(argv[i]);
  for (size_t i = 0; i < nf; i++) {
    argv[n] = fields->element[i]->str ? fields->element[i]->str : "";
    lens[n++] = fields->element[i]->str ? fields->element[i]->len : 0;
  }
  if (rt_command(t, on_dead_added, d, (int)n, argv, lens) != 0) {
    entry_done(d->e);
    free(d);
  }
  free(argv), free(lens);
}

static void dead_letter(rt *t, const char *id, const char *consumer, long long deliveries) {
  entry *e = entry_new(t, id); /* live: not read or claimed twice meanwhile */
  dead_ctx *d = calloc(1, sizeof *d);
  if (!e || !d) {
    if (e)
      entry_done(e);
    free(d);
    return;
  }
  d->t = t, d->e = e, d->deliveries = deliveries;
  snprintf(d->id, sizeof d->id, "%s", id);
  snprintf(d->consumer, sizeof d->consumer, "%s", consumer);
  t->host->log(t->inst, EXECD_LOG_WARNING,
               "message %s delivered %lld times (last to '%s'): moving it to %s", id, deliveries,
               consumer, t->dead_letter_stream);
  const char *argv[] = {"XCLAIM", t->requests_stream, t->group, t->consumer, "0", id};
  size_t lens[] = {6, strlen(argv[1]), strlen(argv[2]), strlen(argv[3]), 1, strlen(id)};
  if (rt_command(t, on_dead_claimed, d, 6, argv, lens) != 0) {
    entry_done(e);
    free(d);
  }
}

/* ---- the round ----------------------------------------------------------- */

static void on_autoclaimed(void *arg, redisReply *r, const char *err) {
  rt *t = arg;
  t->claiming = false;
  (void)err;
  if (t->stopping || !r)
    return;
  if (r->type == REDIS_REPLY_ERROR) {
    if (strncmp(r->str, "NOGROUP", 7) != 0)
      t->host->log(t->inst, EXECD_LOG_WARNING, "XAUTOCLAIM: %s", r->str);
    return;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY)
    return;
  const redisReply *list = r->element[1];
  size_t taken = 0;
  for (size_t i = 0; i < list->elements; i++) {
    const redisReply *ent = list->element[i];
    if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
        ent->element[0]->type != REDIS_REPLY_STRING || ent->element[0]->len >= RT_ID_MAX)
      continue;
    if (intake_is_live(t, ent->element[0]->str))
      continue;
    taken++;
    intake_entry(t, ent->element[0]->str, ent->element[1]);
  }
  /* Redis 7 lists the ids of entries deleted while pending: acknowledge them. */
  if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < r->element[2]->elements; i++)
      if (r->element[2]->element[i]->type == REDIS_REPLY_STRING &&
          r->element[2]->element[i]->len < RT_ID_MAX)
        intake_entry(t, r->element[2]->element[i]->str, NULL);
  if (taken)
    t->host->log(t->inst, EXECD_LOG_NOTICE, "claimed %zu messages idle for %llu ms", taken,
                 (unsigned long long)t->claim_idle_ms);
}

static void autoclaim(rt *t) {
  char idle[24], count[16];
  snprintf(idle, sizeof idle, "%llu", (unsigned long long)t->claim_idle_ms);
  snprintf(count, sizeof count, "%d", CLAIM_COUNT);
  const char *argv[] = {"XAUTOCLAIM", t->requests_stream, t->group, t->consumer,
                        idle,         "0-0",              "COUNT",  count};
  size_t lens[8];
  for (int i = 0; i < 8; i++)
    lens[i] = strlen(argv[i]);
  if (rt_command(t, on_autoclaimed, t, 8, argv, lens) != 0)
    t->claiming = false;
}

static void on_pending(void *arg, redisReply *r, const char *err) {
  rt *t = arg;
  (void)err;
  if (t->stopping || !r) {
    t->claiming = false;
    return;
  }
  if (r->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < r->elements; i++) {
      const redisReply *p = r->element[i];
      if (p->type != REDIS_REPLY_ARRAY || p->elements != 4 ||
          p->element[0]->type != REDIS_REPLY_STRING || p->element[0]->len >= RT_ID_MAX ||
          p->element[1]->type != REDIS_REPLY_STRING || p->element[3]->type != REDIS_REPLY_INTEGER)
        continue;
      if ((uint64_t)p->element[3]->integer >= t->max_deliveries &&
          !intake_is_live(t, p->element[0]->str))
        dead_letter(t, p->element[0]->str, p->element[1]->str, p->element[3]->integer);
    }
  }
  autoclaim(t);
}

static void claim_round(rt *t) {
  if (t->stopping || t->claiming || !t->group_ready || !t->cmd || !uvredis_conn_up(t->cmd))
    return;
  char idle[24], count[16];
  snprintf(idle, sizeof idle, "%llu", (unsigned long long)t->claim_idle_ms);
  snprintf(count, sizeof count, "%d", CLAIM_COUNT);
  const char *argv[] = {"XPENDING", t->requests_stream, t->group, "IDLE", idle, "-", "+", count};
  size_t lens[8];
  for (int i = 0; i < 8; i++)
    lens[i] = strlen(argv[i]);
  if (rt_command(t, on_pending, t, 8, argv, lens) == 0)
    t->claiming = true;
}
