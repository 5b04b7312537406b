/* One execution: its references, its record's state changes (each
 * persisted with a compare-and-set on the previously persisted state),
 * timestamps, API view, waiters and published events. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "catalog.h"
#include "ids.h"
#include "log.h"
#include "pipeline_internal.h"
#include "quota.h"
#include "usage.h"
#include "xalloc.h"

int exec_cmp(execution *a, execution *b) { return strcmp(a->id, b->id); }
RB_GENERATE(exec_tree, execution, node, exec_cmp)

struct waiter {
  waiter *next;
  waiter_cb done;
  waiter_event_cb event;
  void *arg;
};

/* --- reference counting: an execution lives while anything refers to it */

void execution_ref(execution *ex) { ex->refs++; }

static void execution_free(execution *ex) {
  for (int i = 0; i < 3; i++)
    line_splitter_free(&ex->lines[i]);
  json_decref(ex->record);
  free(ex->resting);
  free(ex->tenant);
  agent_unref(ex->agent);
  json_decref(ex->exit);
  free(ex->workspace);
  free(ex->logs);
  free(ex->stdout_text);
  free(ex);
}

void execution_unref(execution *ex) {
  if (--ex->refs == 0)
    execution_free(ex);
}

const struct agent *execution_agent(const execution *ex) {
  if (ex->agent)
    return ex->agent;
  return catalog_find(ex->pipeline->cfg->catalog,
                      json_string_value(json_object_get(execution_wake((execution *)ex), "agent")));
}

static void on_handle_closed(uv_handle_t *h) { execution_unref(h->data); }

execution *execution_new(pipeline *p, json_t *record) {
  const char *backend = json_string_value(json_object_get(record, "backend"));
  backend_rt *b = backend ? pipeline_backend(p, backend) : NULL;
  if (!b)
    return NULL;
  execution *ex = xcalloc(1, sizeof *ex);
  ex->pipeline = p;
  snprintf(ex->id, sizeof ex->id, "%s", json_string_value(json_object_get(record, "id")));
  ex->record = json_incref(record);
  const char *tenant = json_string_value(json_object_get(record, "tenant"));
  ex->tenant = xstrdup(tenant ? tenant : "");
  int s = state_from_name(json_string_value(json_object_get(record, "state")));
  ex->state = ex->persisted = s < 0 ? STATE_QUEUED : (exec_state)s;
  ex->backend = b;
  ex->queue.priority = (int)json_integer_value(json_object_get(record, "priority"));
  uv_timer_init(p->loop, &ex->timer);
  uv_timer_init(p->loop, &ex->kill_timer);
  ex->timer.data = ex;
  ex->kill_timer.data = ex;
  ex->refs = 1; /* the active tree's */
  RB_INSERT(exec_tree, &p->active, ex);
  p->n_active++;
  quota_active_add(ex->tenant, +1);
  return ex;
}

void execution_release(execution *ex) {
  if (ex->released)
    return;
  ex->released = true;
  RB_REMOVE(exec_tree, &ex->pipeline->active, ex);
  ex->pipeline->n_active--;
  quota_active_add(ex->tenant, -1);
  execution_ref(ex);
  execution_ref(ex);
  uv_close((uv_handle_t *)&ex->timer, on_handle_closed);
  uv_close((uv_handle_t *)&ex->kill_timer, on_handle_closed);
  execution_unref(ex); /* the active tree's */
}

const json_t *execution_record(execution *ex) { return execution_wake(ex); }
const char *execution_tenant(const execution *ex) { return ex->tenant; }

/* --- a queued execution's record at rest --------------------------------- */

/* What a queued execution needs until it starts is in struct execution
 * (id, tenant, backend, priority, agent); its record, as storage holds it,
 * is kept as compact text rather than a tree of jansson objects (several
 * KiB each: a hash table per object, an allocation per key and value). */
void execution_rest(execution *ex) {
  if (!ex->record || ex->state != STATE_QUEUED || ex->persisted != STATE_QUEUED ||
      ex->write_inflight || ex->released)
    return;
  char *text = json_dumps(ex->record, JSON_COMPACT);
  if (!text)
    return; /* stays awake: nothing is lost */
  ex->resting = text;
  json_decref(ex->record);
  ex->record = NULL;
}

static json_t *parse_resting(const execution *ex) {
  json_error_t je;
  json_t *record = json_loads(ex->resting, 0, &je);
  /* The text is jansson's own output: only memory can be missing. */
  if (!record)
    xalloc_failed("a queued execution's record");
  return record;
}

json_t *execution_wake(execution *ex) {
  if (!ex->record && ex->resting) {
    ex->record = parse_resting(ex);
    free(ex->resting);
    ex->resting = NULL;
  }
  return ex->record;
}

json_t *execution_view_of(execution *ex) {
  if (ex->record)
    return execution_view(ex->record);
  json_t *record = parse_resting(ex);
  json_t *view = execution_view(record);
  json_decref(record);
  return view;
}

exec_state execution_state(const execution *ex) { return ex->state; }
bool execution_ended(const execution *ex) { return ex->finished_notified; }

/* --- small record helpers ---------------------------------------------- */

static void now_text(char *buf) { ids_format_time(ids_now_ms(), buf); }

void execution_set_timestamp(execution *ex, const char *which) {
  execution_wake(ex);
  char now[32];
  now_text(now);
  json_t *ts = json_object_get(ex->record, "timestamps");
  json_object_set_new(ts, which, json_string(now));
}

void execution_set_error(execution *ex, const char *code, const char *message,
                         json_t *details) {
  execution_wake(ex);
  json_object_set_new(ex->record, "error",
                      json_pack("{s:s, s:s, s:o}", "code", code, "message", message,
                                "details", details ? details : json_null()));
}

json_t *execution_view(const json_t *r) {
  json_t *result = json_object_get(r, "result");
  json_t *view = json_pack(
      "{s:O, s:O, s:O, s:b, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}",
      "execution_id", json_object_get(r, "id"), "correlation_id",
      json_object_get(r, "correlation_id"), "state", json_object_get(r, "state"),
      "success", json_is_string(json_object_get(r, "state")) &&
                     strcmp(json_string_value(json_object_get(r, "state")), "SUCCEEDED") == 0,
      "result", result ? result : json_null(), "attempts", json_object_get(r, "attempts"),
      "backend", json_object_get(r, "backend"), "agent", json_object_get(r, "agent"),
      "labels", json_object_get(r, "labels"), "priority", json_object_get(r, "priority"),
      "progress", json_object_get(r, "progress"), "timestamps",
      json_object_get(r, "timestamps"), "duration_ms", json_object_get(r, "duration_ms"),
      "error", json_object_get(r, "error"));
  if (!view)
    return json_object();
  json_t *h = json_object_get(r, "history");
  if (h)
    json_object_set(view, "history", h);
  json_t *node = json_object_get(r, "node");
  if (json_is_string(node))
    json_object_set(view, "node", node);
  json_t *ra = json_object_get(r, "retry_at");
  if (ra && !json_is_null(ra))
    json_object_set(view, "retry_at", ra);
  if (json_is_true(json_object_get(r, "logs_truncated")))
    json_object_set_new(view, "logs_truncated", json_true());
  json_t *usage = json_object_get(r, "usage");
  if (json_is_object(usage))
    json_object_set(view, "usage", usage);
  /* Never null where clients expect an object. */
  const char *k;
  json_t *v;
  json_object_foreach(view, k, v) if (!v) json_object_set_new(view, k, json_null());
  return view;
}

/* --- events to waiters and transports ------------------------------------ */

void execution_publish(execution *ex, const char *type, json_t *data) {
  pipeline *p = ex->pipeline;
  execution_wake(ex);
  char now[32];
  now_text(now);
  json_t *event = json_pack("{s:s, s:s, s:O, s:O, s:s, s:O}", "type", type,
                            "execution_id", ex->id, "correlation_id",
                            json_object_get(ex->record, "correlation_id"), "tenant",
                            json_object_get(ex->record, "tenant"), "time", now, "data",
                            data ? data : json_null());
  for (size_t i = 0; i < p->n_transports; i++) {
    execd_instance *t = p->transports[i];
    const execd_transport_ops *ops = t->ops;
    if (ops->publish && t->started)
      ops->publish(t->self, type, event);
  }
  json_decref(event);
}

void execution_notify_watchers(execution *ex, const char *type, const json_t *data) {
  for (waiter *w = ex->waiters; w;) {
    waiter *next = w->next; /* a callback may remove itself */
    if (w->event)
      w->event(w->arg, type, data);
    w = next;
  }
}

waiter *execution_add_waiter(execution *ex, waiter_cb done, waiter_event_cb event, void *arg) {
  waiter *w = xcalloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->done = done;
  w->event = event;
  w->arg = arg;
  w->next = ex->waiters;
  ex->waiters = w;
  return w;
}

void execution_remove_waiter(execution *ex, waiter *w) {
  for (waiter **p = &ex->waiters; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      free(w);
      return;
    }
}

void execution_notify_done(execution *ex) {
  if (ex->waiters)
    execution_wake(ex);
  waiter *list = ex->waiters;
  ex->waiters = NULL;
  while (list) {
    waiter *next = list->next;
    list->done(list->arg, ex->record);
    free(list);
    list = next;
  }
}

/* --- state transitions ----------------------------------------------------- */

int execution_transition(execution *ex, exec_state to, const char *reason) {
  exec_state from = ex->state;
  if (ex->fenced)
    return EXECD_ECONFLICT; /* another node holds its lease */
  execution_wake(ex);
  if (!state_transition_allowed(from, to)) {
    execution_log(EXECD_LOG_ERR, ex, "refused invalid transition %s -> %s (%s)",
                  state_name(from), state_name(to), reason);
    return EXECD_ECONFLICT;
  }
  char now[32];
  now_text(now);
  ex->state = to;
  json_object_set_new(ex->record, "state", json_string(state_name(to)));
  json_array_append_new(json_object_get(ex->record, "history"),
                        json_pack("{s:s, s:s, s:s, s:s}", "from", state_name(from), "to",
                                  state_name(to), "at", now, "reason", reason));
  execution_log(EXECD_LOG_DEBUG, ex, "%s -> %s (%s)", state_name(from), state_name(to), reason);
  json_t *data = json_pack("{s:s, s:s, s:s}", "from", state_name(from), "to",
                           state_name(to), "reason", reason);
  execution_publish(ex, EXECD_EVENT_STATE_CHANGED, data);
  json_decref(data);
  if (ex->waiters) {
    json_t *view = execution_view(ex->record);
    execution_notify_watchers(ex, "state", view);
    json_decref(view);
  }
  execution_persist(ex);
  return 0;
}

/* --- persistence: one update in flight per execution, coalesced ---------- */

static void on_persisted(void *arg, int status, json_t *stored) {
  execution *ex = arg;
  ex->write_inflight = false;
  if (status == 0) {
    ex->persisted = (exec_state)state_from_name(json_string_value(json_object_get(stored, "state")));
  } else {
    execution_log(EXECD_LOG_ERR, ex, "storage update failed: %s (%s)", execd_strerror(status),
                  records_take_error(&ex->pipeline->records, ex, "no detail"));
    if (status == EXECD_ECONFLICT && stored) {
      /* Another writer moved it: take storage's word for the state. */
      int s = state_from_name(json_string_value(json_object_get(stored, "state")));
      if (s >= 0)
        ex->persisted = (exec_state)s;
    }
    if (pipeline_claims(ex->pipeline) &&
        ((status == EXECD_ECONFLICT && json_object_get(ex->record, "lease")) ||
         ex->await_start)) {
      /* The fence refused it: the lease is another node's now.  Or the
       * attempt's start was not stored: it must not run unrecorded (its
       * lease runs out and the attempt is retried). */
      ex->write_again = false;
      claims_lease_lost(ex, status == EXECD_ECONFLICT
                                ? "storage refused its write (the lease's token changed)"
                                : "storage did not store the start of its attempt");
      execution_unref(ex);
      return;
    }
  }
  if (status == 0 && ex->await_start && ex->persisted == STATE_STARTING) {
    ex->await_start = false;
    attempt_prepare(ex, false);
  }
  if (ex->write_again) {
    ex->write_again = false;
    execution_persist(ex);
  } else if (pipeline_claims(ex->pipeline) && ex->state == STATE_RETRY_WAIT &&
             ex->persisted == STATE_RETRY_WAIT) {
    /* Several nodes: the stored row waits for its retry_at, and whichever
     * node claims it then runs the next attempt. */
    claims_drop(ex);
  } else if (state_is_terminal(ex->state) && !ex->finished_notified &&
             ex->persisted == ex->state) {
    ex->finished_notified = true;
    usage_count_ended(ex->record);
    execution_notify_done(ex);
    execution_release(ex);
  }
  execution_unref(ex);
}

void execution_persist(execution *ex) {
  if (ex->fenced)
    return;
  if (ex->write_inflight) {
    ex->write_again = true;
    return;
  }
  execution_wake(ex);
  ex->write_inflight = true;
  execution_ref(ex);
  int rc = records_update(&ex->pipeline->records, ex->record, state_name(ex->persisted),
                          on_persisted, ex);
  if (rc != 0) {
    execution_log(EXECD_LOG_ERR, ex, "storage refused the update: %s (%s)",
                  execd_strerror(rc), records_error(&ex->pipeline->records, "no detail"));
    ex->write_inflight = false;
    execution_unref(ex);
  }
}

/* --- cancel ----------------------------------------------------------------- */

int execution_cancel(execution *ex, const char *reason) {
  execution_wake(ex);
  switch (ex->state) {
  case STATE_QUEUED:
    scheduler_remove(&ex->pipeline->sched, &ex->queue);
    /* fallthrough */
  case STATE_RETRY_WAIT:
    uv_timer_stop(&ex->timer);
    execution_set_error(ex, "cancelled", reason, NULL);
    execution_set_timestamp(ex, "finished");
    if (execution_transition(ex, STATE_CANCELLED, reason) == 0)
      ex->pipeline->finished_total[STATE_CANCELLED]++;
    return 0;
  case STATE_STARTING:
  case STATE_RUNNING:
    attempt_stop(ex, STOP_CANCEL);
    return 0;
  default:
    return EXECD_ECONFLICT;
  }
}
