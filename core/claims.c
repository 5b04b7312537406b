/* Several execd nodes on one store (a storage with claim, ABI 1.6).
 *
 * A node does not run what it accepted: every node claims queued
 * executions from storage, at most as many as it has free slots
 * (max_running less what runs or waits here), and runs those.  Each claim
 * carries a lease with a fencing token (include/execd/storage.h): the
 * token is in the record, so every later write of the attempt is applied
 * only while this node still holds the lease.  Here:
 *   - claiming when slots free up, when storage says work arrived
 *     (watch_work: LISTEN/NOTIFY on postgres), when a retry written here is
 *     due, and on a slow poll (daemon.claim_poll) whatever else happens;
 *   - the maintenance tick (a third of daemon.lease): the leases of every
 *     execution here are renewed in one call, then expired leases of other
 *     nodes are taken over (rescue) and their attempts end as node_lost,
 *     retried per the execution's policy;
 *   - a lease found lost (not renewed, or a write refused by the fence):
 *     the job is killed and nothing more of it is written here.
 * Retry backoffs are rows: an execution that enters RETRY_WAIT leaves this
 * node's memory once stored (execution.c), and any node claims it when its
 * retry_at is due. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "api.h"
#include "ids.h"
#include "log.h"
#include "pipeline_internal.h"
#include "xalloc.h"

/* Most records one claim or rescue asks for. */
#define CLAIM_BATCH_MAX 64u

typedef struct claims {
  pipeline *pipeline;
  uv_timer_t poll;        /* the slow poll (claim_poll) */
  uv_timer_t tick;        /* renew, then rescue (lease / 3) */
  uv_timer_t due;         /* a retry written here is due */
  int64_t due_at_ms;      /* when due fires, 0 if idle */
  int open_handles;
  int ops_inflight;       /* storage callbacks to come: c lives until then */
  bool closing;
  bool claim_inflight;    /* one claim at a time */
  unsigned inserting;     /* inserts that claim (insert_claim) in flight */
  bool claim_again;       /* a wake-up came while one was in flight */
  unsigned asked;         /* what the claim in flight asked for */
  bool starved;           /* the last claim found less than it asked for */
  bool tick_inflight;
  json_t *renewing;       /* {"id": token} sent by the renewal in flight */
  int64_t heartbeat_ms;   /* the last renewal or rescue storage answered */
  uint64_t claimed_total, rescued_total, lost_total;
  bool warned;            /* a failed claim was logged; quiet until one works */
} claims;

bool pipeline_claims(const pipeline *p) { return p->claims != NULL; }

/* --- claiming ------------------------------------------------------------- */

static void claim_now(claims *c);

/* Freed once its timers closed and no storage op will call back. */
static void claims_free(claims *c) {
  json_decref(c->renewing);
  free(c);
}

static bool op_done(claims *c) {
  c->ops_inflight--;
  if (!c->closing)
    return false;
  if (c->open_handles == 0 && c->ops_inflight == 0)
    claims_free(c);
  return true;
}

static void on_claimed(void *arg, int status, json_t *claimed, const char *next) {
  claims *c = arg;
  pipeline *p = c->pipeline;
  (void)next;
  c->claim_inflight = false;
  if (op_done(c))
    return;
  if (status != 0) {
    if (!c->warned)
      log_warn("claims: claiming executions from storage failed: %s (%s); trying again at "
               "the next wake-up or poll",
               execd_strerror(status), records_take_error(&p->records, c, "no detail"));
    else
      records_take_error(&p->records, c, NULL);
    c->warned = true;
    c->starved = true;
    return;
  }
  c->warned = false;
  size_t i, n = json_array_size(claimed);
  json_t *r;
  json_array_foreach(claimed, i, r) {
    const char *id = json_string_value(json_object_get(r, "id"));
    if (!records_usable(r) || pipeline_find(p, id)) {
      log_warn("claims: storage handed out %.64s, which is not claimable here; its lease "
               "will expire", id ? id : "a record without id");
      continue;
    }
    json_t *copy = json_deep_copy(r);
    execution *ex = execution_new(p, copy);
    json_decref(copy); /* execution_new took its own reference */
    if (!ex) {
      log_warn("claims: execution %s names backend %s, which is not configured here; its "
               "lease will expire", id,
               json_string_value(json_object_get(r, "backend")));
      continue;
    }
    c->claimed_total++;
    api_stored_wait_attach(ex, ex->id);
    if (ex->state == STATE_RETRY_WAIT)
      execution_transition(ex, STATE_QUEUED, "retry backoff elapsed");
    if (ex->state == STATE_QUEUED)
      scheduler_push(&p->sched, &ex->queue);
    else
      claims_lease_lost(ex, "storage handed out an execution that is not queued");
  }
  /* Less than a full batch: nothing more to claim until a wake-up. */
  c->starved = n < c->asked;
  bool again = c->claim_again;
  c->claim_again = false;
  pipeline_schedule(p);
  if (again)
    claim_now(c);
}

/* Slots this node can still fill: max_running less what runs, what waits
 * in the run queue and what inserts that claim may add. */
static int free_slots(const claims *c) {
  const pipeline *p = c->pipeline;
  return p->cfg->max_running - p->running - (int)p->sched.depth - (int)c->inserting;
}

static void claim_now(claims *c) {
  pipeline *p = c->pipeline;
  if (c->closing || p->draining || p->recovery)
    return;
  if (c->claim_inflight) {
    c->claim_again = true;
    return;
  }
  int room = free_slots(c);
  if (room <= 0)
    return;
  const char *names[64];
  size_t nb = 0;
  for (size_t i = 0; i < p->n_backends && nb < sizeof names / sizeof names[0]; i++) {
    if (backend_rt_has_room(&p->backends[i]))
      names[nb++] = p->backends[i].inst->name;
  }
  if (nb == 0)
    return;
  unsigned max = (unsigned)room < CLAIM_BATCH_MAX ? (unsigned)room : CLAIM_BATCH_MAX;
  execd_claim_query q = {.struct_size = sizeof q, .node = p->cfg->node, .max = max,
                         .lease_ms = (uint64_t)p->cfg->lease_ms, .backends = names,
                         .n_backends = nb};
  c->claim_inflight = true;
  c->claim_again = false;
  c->asked = max;
  c->ops_inflight++;
  int rc = records_claim(&p->records, &q, on_claimed, c);
  if (rc != 0) {
    c->ops_inflight--;
    c->claim_inflight = false;
    c->starved = true;
    if (!c->warned)
      log_warn("claims: storage refused to claim: %s (%s)", execd_strerror(rc),
               records_error(&p->records, "no detail"));
    c->warned = true;
  }
}

/* --- a submit claimed by its own node, in the insert (ABI 1.7) ------------- */

bool claims_insert_query(pipeline *p, const char *backend, execd_claim_query *q) {
  claims *c = p->claims;
  if (!c || c->closing || p->draining || p->recovery || !backend ||
      !records_has_insert_claim(&p->records))
    return false;
  if (free_slots(c) <= 0)
    return false;
  const backend_rt *b = pipeline_backend(p, backend);
  if (!b || !backend_rt_has_room(b))
    return false;
  *q = (execd_claim_query){.struct_size = sizeof *q, .node = p->cfg->node, .max = 1,
                           .lease_ms = (uint64_t)p->cfg->lease_ms};
  c->inserting++;
  return true;
}

execution *claims_inserted(pipeline *p, json_t *stored, struct agent *accepted_with) {
  claims *c = p->claims;
  if (c && c->inserting)
    c->inserting--;
  if (!c || !stored || !json_is_object(json_object_get(stored, "lease")))
    return NULL;
  const char *id = json_string_value(json_object_get(stored, "id"));
  if (!records_usable(stored) || pipeline_find(p, id)) {
    log_warn("claims: storage claimed %.64s at its insert, which is not claimable here; "
             "its lease will expire", id ? id : "a record without id");
    return NULL;
  }
  json_t *copy = json_deep_copy(stored);
  execution *ex = execution_new(p, copy);
  json_decref(copy);
  if (!ex) {
    log_warn("claims: execution %s names backend %s, which is not configured here; its "
             "lease will expire", id, json_string_value(json_object_get(stored, "backend")));
    return NULL;
  }
  p->accepted_total++;
  c->claimed_total++;
  ex->agent = agent_ref(accepted_with);
  scheduler_push(&p->sched, &ex->queue);
  pipeline_schedule(p);
  return ex;
}

void claims_kick(pipeline *p) {
  claims *c = p->claims;
  if (c && !c->starved)
    claim_now(c);
}

static void on_wake(void *arg) {
  claims *c = arg;
  c->starved = false;
  claim_now(c);
}

static void on_poll(uv_timer_t *t) { on_wake(t->data); }

static void on_due(uv_timer_t *t) {
  claims *c = t->data;
  c->due_at_ms = 0;
  on_wake(c);
}

void claims_wake(pipeline *p, int64_t delay_ms) {
  claims *c = p->claims;
  if (!c || c->closing)
    return;
  if (delay_ms <= 0) {
    on_wake(c);
    return;
  }
  int64_t at = ids_now_ms() + delay_ms;
  if (c->due_at_ms && c->due_at_ms <= at)
    return;
  c->due_at_ms = at;
  uv_timer_start(&c->due, on_due, (uint64_t)delay_ms, 0);
}

/* --- leases lost ------------------------------------------------------------ */

/* An attempt of it is in flight here (counted in running): its own path
 * calls claims_drop when it ends. */
static bool attempt_in_flight(const execution *ex) {
  return ex->state == STATE_STARTING || ex->state == STATE_RUNNING;
}

void claims_drop(execution *ex) {
  if (ex->released)
    return;
  scheduler_remove(&ex->pipeline->sched, &ex->queue);
  uv_timer_stop(&ex->timer);
  uv_timer_stop(&ex->kill_timer);
  execution_notify_done(ex);
  execution_release(ex);
}

void claims_lease_lost(execution *ex, const char *why) {
  claims *c = ex->pipeline->claims;
  if (ex->fenced || ex->released)
    return;
  ex->fenced = true;
  if (c)
    c->lost_total++;
  const json_t *lease = json_object_get(ex->record, "lease");
  execution_log(EXECD_LOG_ERR, ex,
                "lease lost (token %lld): %s; another node runs it now, this node stops "
                "its attempt and writes nothing more of it",
                (long long)json_integer_value(json_object_get(lease, "token")), why);
  if (ex->handle)
    ex->backend->ops->signal(ex->backend->inst->self, ex->handle, SIGKILL);
  if (ex->await_start) { /* counted as running, but nothing started */
    ex->await_start = false;
    ex->backend->running--;
    ex->pipeline->running--;
    claims_drop(ex);
    pipeline_schedule(ex->pipeline);
  } else if (!attempt_in_flight(ex)) {
    claims_drop(ex);
  }
}

/* --- renew, then rescue ------------------------------------------------------ */

static void rescue_now(claims *c);

static void on_renewed(void *arg, int status, json_t *ids, const char *next) {
  claims *c = arg;
  pipeline *p = c->pipeline;
  (void)next;
  if (op_done(c)) {
    c->tick_inflight = false;
    return;
  }
  if (status != 0) {
    c->tick_inflight = false;
    log_warn("claims: renewing the leases of node %s failed: %s (%s)", p->cfg->node,
             execd_strerror(status), records_take_error(&p->records, c, "no detail"));
    return;
  }
  c->heartbeat_ms = ids_now_ms();
  /* A lease the renewal named and storage did not renew was taken over;
   * only those: what was claimed since was not in it. */
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) json_object_del(c->renewing, json_string_value(id));
  const char *key;
  json_t *token;
  json_object_foreach(c->renewing, key, token) {
    execution *ex = pipeline_find(p, key);
    const json_t *now = ex ? json_object_get(json_object_get(ex->record, "lease"), "token")
                           : NULL;
    if (!ex || ex->fenced || !json_equal(now, token))
      continue; /* gone, or under a newer lease since */
    if ((ex->state != STATE_QUEUED && !attempt_in_flight(ex)) ||
        (ex->state == STATE_RUNNING && !ex->handle))
      continue; /* its job ended and its last write is on its way: that write
                 * will tell (the fence refuses it) */
    claims_lease_lost(ex, "storage did not renew its lease");
  }
  json_object_clear(c->renewing);
  rescue_now(c);
}

static void on_rescued(void *arg, int status, json_t *taken, const char *next) {
  claims *c = arg;
  pipeline *p = c->pipeline;
  (void)next;
  c->tick_inflight = false;
  if (op_done(c))
    return;
  if (status != 0) {
    log_warn("claims: taking over expired leases failed: %s (%s)", execd_strerror(status),
             records_take_error(&p->records, c, "no detail"));
    return;
  }
  c->heartbeat_ms = ids_now_ms();
  size_t i;
  json_t *r;
  json_array_foreach(taken, i, r) {
    const char *id = json_string_value(json_object_get(r, "id"));
    if (!records_usable(r))
      continue;
    execution *ex = pipeline_find(p, id);
    if (ex && ex->fenced)
      continue; /* its dying attempt is still here; the next rescue takes it */
    if (ex) {
      /* Its lease ran out here (the loop or storage was too slow to renew
       * it): the attempt goes on under the new lease. */
      log_warn("claims: execution %s: its lease had expired on this node; taken back",
               id);
      json_object_set(ex->record, "lease", json_object_get(r, "lease"));
      continue;
    }
    json_t *copy = json_deep_copy(r);
    ex = execution_new(p, copy);
    json_decref(copy);
    if (!ex) {
      log_warn("claims: execution %s of a lost node names backend %s, not configured here; "
               "another node will take it over", id,
               json_string_value(json_object_get(r, "backend")));
      continue;
    }
    c->rescued_total++;
    const char *lost = json_string_value(json_object_get(r, "node"));
    char msg[200];
    snprintf(msg, sizeof msg, "node %.63s stopped renewing the lease of the attempt (it "
             "died, hung or lost its database connection)", lost ? lost : "(unknown)");
    execution_log(EXECD_LOG_WARNING, ex, "taking over from node %s: attempt %lld ends as "
                  "node_lost", lost ? lost : "(unknown)",
                  (long long)json_integer_value(json_object_get(r, "attempts")));
    ex->backend->running++; /* attempt_finish gives it back */
    p->running++;
    ex->exit = json_pack("{s:i, s:s, s:s, s:b}", "exit_code", -1, "error_code", "node_lost",
                         "error_message", msg, "retryable", 1);
    attempt_finish(ex);
  }
}

static void rescue_now(claims *c) {
  pipeline *p = c->pipeline;
  execd_claim_query q = {.struct_size = sizeof q, .node = p->cfg->node,
                         .max = CLAIM_BATCH_MAX, .lease_ms = (uint64_t)p->cfg->lease_ms};
  c->ops_inflight++;
  if (records_rescue(&p->records, &q, on_rescued, c) != 0) {
    c->ops_inflight--;
    c->tick_inflight = false;
  }
}

static void on_tick(uv_timer_t *t) {
  claims *c = t->data;
  pipeline *p = c->pipeline;
  if (c->tick_inflight || c->closing)
    return;
  json_t *leases = json_array();
  json_object_clear(c->renewing);
  execution *ex;
  RB_FOREACH(ex, exec_tree, &p->active) {
    json_t *token = json_object_get(json_object_get(ex->record, "lease"), "token");
    if (!ex->fenced && json_is_integer(token)) {
      json_array_append_new(leases, json_pack("{s:s, s:O}", "id", ex->id, "token", token));
      json_object_set_new(c->renewing, ex->id, json_copy(token));
    }
  }
  c->tick_inflight = true;
  c->ops_inflight++;
  int rc = records_renew(&p->records, p->cfg->node, (uint64_t)p->cfg->lease_ms, leases,
                         on_renewed, c);
  json_decref(leases);
  if (rc != 0) {
    c->ops_inflight--;
    c->tick_inflight = false;
    log_warn("claims: storage refused to renew leases: %s", execd_strerror(rc));
  }
}

/* --- life ------------------------------------------------------------------- */

void claims_start(pipeline *p) {
  if (p->claims || !records_has_claims(&p->records))
    return;
  claims *c = xcalloc(1, sizeof *c);
  c->pipeline = p;
  c->renewing = json_object();
  p->claims = c;
  uv_timer_t *timers[] = {&c->poll, &c->tick, &c->due};
  for (size_t i = 0; i < 3; i++) {
    uv_timer_init(p->loop, timers[i]);
    timers[i]->data = c;
    c->open_handles++;
  }
  uint64_t poll = (uint64_t)p->cfg->claim_poll_ms;
  uint64_t tick = (uint64_t)p->cfg->lease_ms / 3;
  uv_timer_start(&c->poll, on_poll, poll, poll);
  uv_timer_start(&c->tick, on_tick, tick, tick);
  if (records_watch_work(&p->records, on_wake, c) != 0)
    log_notice("claims: storage sends no wake-ups; polling every %lld ms",
               (long long)p->cfg->claim_poll_ms);
  log_notice("node %s: claiming executions from storage (lease %lld ms, poll %lld ms)",
             p->cfg->node, (long long)p->cfg->lease_ms, (long long)p->cfg->claim_poll_ms);
}

static void on_timer_closed(uv_handle_t *h) {
  claims *c = h->data;
  if (--c->open_handles == 0 && c->ops_inflight == 0)
    claims_free(c);
}

void claims_close(pipeline *p) {
  claims *c = p->claims;
  if (!c)
    return;
  p->claims = NULL;
  c->closing = true;
  records_watch_work(&p->records, NULL, NULL);
  uv_close((uv_handle_t *)&c->poll, on_timer_closed);
  uv_close((uv_handle_t *)&c->tick, on_timer_closed);
  uv_close((uv_handle_t *)&c->due, on_timer_closed);
}

json_t *pipeline_node_status(const pipeline *p) {
  const claims *c = p->claims;
  json_t *o = json_pack("{s:s, s:b}", "name", p->cfg->node, "claims", c != NULL);
  if (!c)
    return o;
  size_t leases = 0;
  execution *ex;
  RB_FOREACH(ex, exec_tree, (struct exec_tree *)&p->active) leases += !ex->fenced;
  char hb[32] = "";
  if (c->heartbeat_ms)
    ids_format_time(c->heartbeat_ms, hb);
  json_object_set_new(o, "heartbeat", hb[0] ? json_string(hb) : json_null());
  json_object_set_new(o, "lease_ms", json_integer(p->cfg->lease_ms));
  json_object_set_new(o, "leases", json_integer((json_int_t)leases));
  json_object_set_new(o, "claimed", json_integer((json_int_t)c->claimed_total));
  json_object_set_new(o, "taken_over", json_integer((json_int_t)c->rescued_total));
  json_object_set_new(o, "lost", json_integer((json_int_t)c->lost_total));
  return o;
}
