/* Transport-facing API.  Replies are always delivered from the loop
 * later (a deferred queue drained by an idle handle), never from inside
 * the call, so transports can suspend connections before the answer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "api.h"
#include "catalog.h"
#include "contract.h"
#include "ids.h"
#include "log.h"
#include "metrics.h"
#include "idempotency_lookup.h"
#include "quota.h"
#include "records.h"
#include "request.h"
#include "tenants.h"
#include "usage.h"
#include "xalloc.h"

/* --- deferred replies ------------------------------------------------------- */

typedef struct deferred {
  struct deferred *next;
  execd_reply_cb cb;
  void *arg;
  int status;
  char *code, *message, *field;
  json_t *body;
  /* or a watch event */
  execd_watch *watch;
} deferred;

static struct {
  pipeline *pipeline;
  uv_idle_t idle;
  deferred *head, **tail;
  int ready;
  /* Submits whose insert storage has not answered yet: they count against
   * max_queued, so that submits arriving together cannot all pass the
   * check while the queue still looks empty. */
  size_t inserts_in_flight;
} api;

static void deliver_watch_end(execd_watch *w, json_t *view);

static void drain_deferred(uv_idle_t *h) {
  (void)h;
  deferred *list = api.head;
  api.head = NULL;
  api.tail = &api.head;
  uv_idle_stop(&api.idle);
  while (list) {
    deferred *d = list;
    list = d->next;
    if (d->watch) {
      deliver_watch_end(d->watch, d->body);
    } else {
      execd_reply r = {sizeof r, d->status, d->code, d->message, d->field, d->body};
      d->cb(d->arg, &r);
    }
    json_decref(d->body);
    free(d->code);
    free(d->message);
    free(d->field);
    free(d);
  }
}

static void defer(deferred *d) {
  d->next = NULL;
  *api.tail = d;
  api.tail = &d->next;
  uv_idle_start(&api.idle, drain_deferred);
}

static void reply_ok(execd_reply_cb cb, void *arg, json_t *body /* stolen */) {
  deferred *d = xcalloc(1, sizeof *d);
  d->cb = cb;
  d->arg = arg;
  d->body = body;
  defer(d);
}

/* An error reply; details (stolen, may be NULL) goes to the transport as
 * the reply's body (host.h). */
static void reply_verr(execd_reply_cb cb, void *arg, int status, const char *code,
                       const char *field, json_t *details, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
static void reply_verr(execd_reply_cb cb, void *arg, int status, const char *code,
                       const char *field, json_t *details, const char *fmt, va_list ap) {
  deferred *d = xcalloc(1, sizeof *d);
  d->cb = cb;
  d->arg = arg;
  d->status = status;
  d->body = details;
  d->code = xstrdup(code);
  d->field = field && *field ? xstrdup(field) : NULL;
  if (vasprintf(&d->message, fmt, ap) < 0)
    d->message = NULL;
  defer(d);
}

static void reply_err_details(execd_reply_cb cb, void *arg, int status, const char *code,
                              const char *field, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void reply_err_details(execd_reply_cb cb, void *arg, int status, const char *code,
                              const char *field, json_t *details, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_verr(cb, arg, status, code, field, details, fmt, ap);
  va_end(ap);
}

static void reply_err(execd_reply_cb cb, void *arg, int status, const char *code,
                      const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void reply_err(execd_reply_cb cb, void *arg, int status, const char *code,
                      const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_verr(cb, arg, status, code, field, NULL, fmt, ap);
  va_end(ap);
}

void api_init(pipeline *p) {
  api.pipeline = p;
  api.head = NULL;
  api.tail = &api.head;
  uv_idle_init(pipeline_loop(p), &api.idle);
  api.ready = 1;
}

void api_close(void) {
  if (api.ready)
    uv_close((uv_handle_t *)&api.idle, NULL);
  api.ready = 0;
}

static int tenant_is(const char *t, const char *tenant) {
  return t && tenant && strcmp(t, tenant) == 0;
}

static int owned_by(const json_t *record, const char *tenant) {
  return tenant_is(json_string_value(json_object_get(record, "tenant")), tenant);
}

#define NOT_FOUND(cb, arg, id) \
  reply_err(cb, arg, EXECD_ENOENT, "not_found", NULL, "no execution %s", id)

/* An answer that waits for an execution's end: a waiting submit (?wait=)
 * and the cancel of a running attempt answer with the execution's document
 * once it has ended, or with its document at that moment when the wait
 * runs out first. */
typedef struct end_wait {
  execution *ex;
  waiter *w;
  uv_timer_t timer;
  execd_reply_cb cb;
  void *arg;
} end_wait;

static void end_wait_free(uv_handle_t *h) { free(h->data); }

static void end_wait_answer(end_wait *c, const json_t *record) {
  json_t *view = execution_view(record);
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, view};
  c->cb(c->arg, &r);
  json_decref(view);
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, end_wait_free);
}

static void end_wait_done(void *arg, const json_t *record) {
  end_wait *c = arg;
  c->w = NULL;
  end_wait_answer(c, record);
}

static void end_wait_timeout(uv_timer_t *t) {
  end_wait *c = t->data;
  if (c->w)
    execution_remove_waiter(c->ex, c->w);
  c->w = NULL;
  end_wait_answer(c, execution_record(c->ex));
}

static void answer_when_ended(execution *ex, uint64_t timeout_ms, execd_reply_cb cb, void *arg) {
  end_wait *c = xcalloc(1, sizeof *c);
  c->ex = ex;
  c->cb = cb;
  c->arg = arg;
  c->w = execution_add_waiter(ex, end_wait_done, NULL, c);
  uv_timer_init(pipeline_loop(api.pipeline), &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, end_wait_timeout, timeout_ms, 0);
}

/* --- submit ------------------------------------------------------------------ */

/* Several nodes: a waiting submit reads the stored record until it ended,
 * every STORED_WAIT_POLL_MS, or answers with it when the wait runs out.
 * When this node claims the execution, the wait listens to it here instead
 * (api_stored_wait_attach): its durable end answers at once, and anything else
 * that takes it out of this node's memory (a retry's backoff, a lost lease)
 * reads storage again at once. */
#define STORED_WAIT_POLL_MS 200
#define STORED_WAIT_BUCKETS 256

typedef struct stored_wait_ctx {
  uv_timer_t timer;
  struct stored_wait_ctx *next, **prev; /* its bucket of stored_waits */
  char id[40];
  int64_t deadline_ms;
  json_t *last; /* the newest record read (or the accepted one) */
  unsigned failed_reads;
  bool reading; /* a read of storage is in flight */
  bool answered; /* freed once no read is in flight */
  execution *ex; /* claimed here: listened to through w */
  waiter *w;
  execd_reply_cb cb;
  void *arg;
} stored_wait_ctx;

static stored_wait_ctx *stored_waits[STORED_WAIT_BUCKETS];

static stored_wait_ctx **stored_wait_bucket(const char *id) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *c = (const unsigned char *)id; *c; c++)
    h = (h ^ *c) * 16777619u;
  return &stored_waits[h % STORED_WAIT_BUCKETS];
}

static void stored_wait_free(uv_handle_t *h) {
  stored_wait_ctx *w = h->data;
  json_decref(w->last);
  free(w);
}

static void stored_wait_poll(uv_timer_t *t);

static void stored_wait_answer(stored_wait_ctx *w, const json_t *record) {
  w->answered = true;
  if (w->w)
    execution_remove_waiter(w->ex, w->w);
  w->w = NULL;
  w->ex = NULL;
  *w->prev = w->next;
  if (w->next)
    w->next->prev = w->prev;
  json_t *view = execution_view(record);
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, view};
  w->cb(w->arg, &r);
  json_decref(view);
  uv_timer_stop(&w->timer);
  if (!w->reading)
    uv_close((uv_handle_t *)&w->timer, stored_wait_free);
}

static void stored_wait_read(void *arg, int status, json_t *record) {
  stored_wait_ctx *w = arg;
  w->reading = false;
  if (w->answered) { /* at the deadline, while this read was in flight */
    if (status != 0)
      records_take_error(pipeline_records(api.pipeline), w, NULL);
    uv_close((uv_handle_t *)&w->timer, stored_wait_free);
    return;
  }
  if (status == 0 && records_usable(record)) {
    json_decref(w->last);
    w->last = json_incref(record);
  } else if (status != 0) {
    records_take_error(pipeline_records(api.pipeline), w, NULL);
  }
  int s = state_from_name(json_string_value(json_object_get(w->last, "state")));
  /* FAILED may be followed by RETRY_WAIT at once: it is the end when a
   * second read still finds it. */
  bool ended = s >= 0 && state_is_terminal((exec_state)s) &&
               (s != STATE_FAILED || w->failed_reads++ > 0);
  if (s != STATE_FAILED)
    w->failed_reads = 0;
  if (ended || ids_now_ms() >= w->deadline_ms) {
    stored_wait_answer(w, w->last);
    return;
  }
  /* Listening to it here: its end or its departure says when to look. */
  if (!w->w)
    uv_timer_start(&w->timer, stored_wait_poll, STORED_WAIT_POLL_MS, 0);
}

static void stored_wait_poll(uv_timer_t *t) {
  stored_wait_ctx *w = t->data;
  if (w->reading)
    return;
  w->reading = true;
  if (records_get(pipeline_records(api.pipeline), w->id, stored_wait_read, w) != 0)
    stored_wait_read(w, EXECD_EUNAVAIL, NULL);
}

/* Listening here, the wait ran out: the execution as it is now. */
static void stored_wait_deadline(uv_timer_t *t) {
  stored_wait_ctx *w = t->data;
  stored_wait_answer(w, w->ex ? execution_record(w->ex) : w->last);
}

/* The execution left this node's memory: at its durable end (answered
 * with it), or otherwise (storage is read again now). */
static void stored_wait_heard(void *arg, const json_t *record) {
  stored_wait_ctx *w = arg;
  execution *ex = w->ex;
  w->w = NULL;
  w->ex = NULL;
  if (execution_ended(ex)) {
    stored_wait_answer(w, record);
    return;
  }
  uv_timer_start(&w->timer, stored_wait_poll, 0, 0);
}

static void stored_wait_listen(stored_wait_ctx *w, execution *ex) {
  if (w->w || w->answered)
    return;
  w->ex = ex;
  w->w = execution_add_waiter(ex, stored_wait_heard, NULL, w);
  /* Storage is no longer polled: the waiter or the deadline answers. */
  int64_t left = w->deadline_ms - ids_now_ms();
  uv_timer_start(&w->timer, stored_wait_deadline, (uint64_t)(left > 0 ? left : 0), 0);
}

void api_stored_wait_attach(execution *ex, const char *id) {
  for (stored_wait_ctx *w = *stored_wait_bucket(id); w; w = w->next)
    if (strcmp(w->id, id) == 0)
      stored_wait_listen(w, ex);
}

static void stored_wait(const json_t *record, unsigned wait_s, execd_reply_cb cb, void *arg) {
  stored_wait_ctx *w = xcalloc(1, sizeof *w);
  snprintf(w->id, sizeof w->id, "%s", json_string_value(json_object_get(record, "id")));
  w->deadline_ms = ids_now_ms() + (int64_t)wait_s * 1000;
  w->last = json_deep_copy(record);
  w->cb = cb;
  w->arg = arg;
  stored_wait_ctx **b = stored_wait_bucket(w->id);
  w->next = *b;
  w->prev = b;
  if (*b)
    (*b)->prev = &w->next;
  *b = w;
  uv_timer_init(pipeline_loop(api.pipeline), &w->timer);
  w->timer.data = w;
  execution *ex = pipeline_find(api.pipeline, w->id);
  if (ex)
    stored_wait_listen(w, ex);
  else
    uv_timer_start(&w->timer, stored_wait_poll, STORED_WAIT_POLL_MS, 0);
}

typedef struct submit_ctx {
  pipeline *pipeline;
  bool claiming; /* inserted with insert_claim */
  json_t *record;
  agent *agent; /* the request's agent as it was when accepted (a reference), or NULL */
  unsigned wait_s;
  execd_reply_cb cb;
  void *arg;
} submit_ctx;

static void on_inserted(void *arg, int status, json_t *stored) {
  submit_ctx *c = arg;
  pipeline *p = c->pipeline;
  api.inserts_in_flight--; /* enqueued below, or not accepted */
  execution *claimed = c->claiming ? claims_inserted(p, status == 0 ? stored : NULL, c->agent)
                                   : NULL;
  /* After pipeline_enqueue() counted the execution as active, below. */
  bool accepted = status == 0;
  if (status == EXECD_EEXIST && stored) {
    /* Same idempotency key within 24 h: the first execution answers. */
    json_t *view = execution_view(stored);
    execd_reply r = {sizeof r, 0, "idempotent_replay", NULL, NULL, view};
    c->cb(c->arg, &r);
    json_decref(view);
  } else if (status != 0) {
    pipeline_count_rejected(p);
    execd_reply r = {sizeof r, EXECD_EUNAVAIL, "storage_unavailable",
                     "the execution could not be stored; nothing was accepted", NULL, NULL};
    log_err("submit: storage insert failed: %s (%s)", execd_strerror(status),
            records_take_error(pipeline_records(p), c, "no detail"));
    c->cb(c->arg, &r);
  } else if (pipeline_claims(p)) {
    /* Several nodes: stored is accepted; the node that claims it runs it
     * (a wait answers with the stored document once it ended).  Claimed
     * here in the insert's transaction: it is active here already. */
    if (!claimed)
      pipeline_accept_claimable(p);
    if (c->wait_s) {
      stored_wait(c->record, c->wait_s, c->cb, c->arg);
    } else {
      json_t *view = execution_view(c->record);
      execd_reply r = {sizeof r, 0, NULL, NULL, NULL, view};
      c->cb(c->arg, &r);
      json_decref(view);
    }
  } else {
    execution *ex = pipeline_enqueue(p, c->record, c->agent);
    if (!ex) {
      execd_reply r = {sizeof r, EXECD_EUNAVAIL, "backend_unavailable",
                       "the backend disappeared", NULL, NULL};
      c->cb(c->arg, &r);
    } else if (c->wait_s) {
      answer_when_ended(ex, (uint64_t)c->wait_s * 1000, c->cb, c->arg);
    } else {
      json_t *view = execution_view(c->record);
      execd_reply r = {sizeof r, 0, NULL, NULL, NULL, view};
      c->cb(c->arg, &r);
      json_decref(view);
    }
    if (ex) {
      json_t *ev = json_pack("{s:n, s:s, s:s}", "from", "to", "QUEUED", "reason", "accepted");
      execution_publish(ex, EXECD_EVENT_STATE_CHANGED, ev);
      json_decref(ev);
      pipeline_schedule(p);
      execution_rest(ex); /* if it stays queued */
    }
  }
  quota_settle(json_string_value(json_object_get(c->record, "tenant")), accepted);
  json_decref(c->record);
  agent_unref(c->agent);
  free(c);
}

/* The record of an accepted request, before it is stored; steals req and
 * spec.  NULL when out of memory. */
static json_t *new_record(const char *tenant, json_t *req, json_t *spec) {
  char id[40], now[32];
  ids_new_uuid7(id);
  ids_format_time(ids_now_ms(), now);
  return json_pack(
      "{s:s, s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O, s:o, s:o, s:i, s:n, s:n, s:n, s:n,"
      " s:{s:s, s:n, s:n}, s:n, s:n, s:[{s:n, s:s, s:s, s:s}]}",
      "id", id, "tenant", tenant ? tenant : "anonymous", "state", "QUEUED", "correlation_id",
      json_object_get(req, "correlation_id") ? json_object_get(req, "correlation_id") : json_null(),
      "idempotency_key",
      json_object_get(req, "idempotency_key") ? json_object_get(req, "idempotency_key") : json_null(),
      "agent", json_object_get(req, "agent") ? json_object_get(req, "agent") : json_null(),
      "backend", json_object_get(spec, "backend"), "priority", json_object_get(req, "priority"),
      "labels", json_object_get(req, "labels"), "request", req, "spec", spec, "attempts", 0,
      "progress", "checkpoint", "result", "error", "timestamps", "created", now, "started",
      "finished", "duration_ms", "retry_at", "history", "from", "to", "QUEUED", "at", now,
      "reason", "accepted");
}

/* The tenant's entitlements (tenants.h): before anything else looks at
 * the request, so a tenant learns nothing about an agent it may not run. */
static int refuse_unentitled(const char *tenant, const json_t *req, request_error *e) {
  char why[sizeof e->message];
  const char *agent_name = json_string_value(json_object_get(req, "agent"));
  if (tenants_check_entitled(tenant ? tenant : EXECD_TENANT_ANONYMOUS, agent_name, why,
                             sizeof why) == 0)
    return 0;
  e->status = EXECD_EPERM;
  snprintf(e->code, sizeof e->code, "not_entitled");
  snprintf(e->field, sizeof e->field, "%s", agent_name ? "agent" : "");
  snprintf(e->message, sizeof e->message, "%s", why);
  return -1;
}

/* A submit refused by its tenant's quota: 429 quota_exceeded, with the
 * seconds before a retry can succeed as details.retry_after (the HTTP
 * transport's Retry-After) -- unless it repeats the idempotency key of an
 * execution, which it then gets as any replay does, since it creates
 * nothing. */
typedef struct over_quota {
  char *why;
  int64_t retry_after_s;
  execd_reply_cb cb;
  void *arg;
} over_quota;

static void answer_over_quota(over_quota *q) {
  pipeline_count_rejected(api.pipeline);
  reply_err_details(q->cb, q->arg, EXECD_EBUSY, "quota_exceeded", NULL,
                    json_pack("{s:I}", "retry_after", (json_int_t)q->retry_after_s), "%s",
                    q->why);
}

static void on_over_quota_lookup(void *arg, const json_t *stored) {
  over_quota *q = arg;
  if (stored) {
    json_t *view = execution_view(stored);
    execd_reply r = {sizeof r, 0, "idempotent_replay", NULL, NULL, view};
    q->cb(q->arg, &r);
    json_decref(view);
  } else {
    answer_over_quota(q);
  }
  free(q->why);
  free(q);
}

static void refuse_over_quota(const json_t *record, const char *why, int64_t retry_after_s,
                              execd_reply_cb cb, void *arg) {
  over_quota *q = xcalloc(1, sizeof *q);
  q->why = xstrdup(why);
  q->retry_after_s = retry_after_s;
  q->cb = cb;
  q->arg = arg;
  const char *key = json_string_value(json_object_get(record, "idempotency_key"));
  const char *tenant = json_string_value(json_object_get(record, "tenant"));
  if (key && idempotency_lookup(api.pipeline, tenant, key, on_over_quota_lookup, q) == 0)
    return;
  answer_over_quota(q);
  free(q->why);
  free(q);
}

int api_submit(execd_instance *inst, const char *tenant, const char *body, size_t len,
               unsigned wait_s, execd_reply_cb cb, void *arg) {
  pipeline *p = api.pipeline;
  const execd_config *cfg = pipeline_config(p);
  (void)inst;
  if (pipeline_draining(p)) {
    reply_err(cb, arg, EXECD_EUNAVAIL, "shutting_down", NULL,
              "execd is shutting down and accepts no new executions");
    return 0;
  }
  request_error e;
  json_t *req = request_parse(body, len, &cfg->limits, &e);
  if (req && refuse_unentitled(tenant, req, &e) != 0)
    json_decref(req), req = NULL;
  json_t *spec = req ? request_effective_spec(req, cfg, &e) : NULL;
  json_t *details = NULL; /* the schema_in errors of a 422 */
  agent *a = spec ? catalog_find(cfg->catalog, json_string_value(json_object_get(req, "agent")))
                  : NULL;
  if (spec && contract_check_input(a, req, spec, &e, &details) != 0)
    json_decref(spec), spec = NULL;
  if (!spec) {
    pipeline_count_rejected(p);
    reply_err_details(cb, arg, e.status, e.code, e.field, details, "%s", e.message);
    json_decref(req);
    return 0;
  }
  json_t *record = new_record(tenant, req, spec);
  if (!record) {
    reply_err(cb, arg, EXECD_ENOMEM, "internal", NULL, "out of memory");
    return 0;
  }
  /* The backend's check() sees the job spec its start() will get. */
  spec = json_object_get(record, "spec");
  char why[1024];
  const char *backend_name;
  int rc = pipeline_backend_check(p, record, why, sizeof why, &backend_name);
  if (rc) {
    pipeline_count_rejected(p);
    const char *field = json_object_get(spec, "image") && rc == EXECD_EPERM ? "container.image"
                        : rc == EXECD_EPERM ? "container.command" : "container";
    const char *code = rc != EXECD_EPERM                  ? "invalid_request"
                       : json_object_get(spec, "image") ? "image_not_allowed"
                                                        : "command_not_allowed";
    reply_err(cb, arg, rc == EXECD_EPERM ? EXECD_EPERM : EXECD_EINVAL, code, field,
              "backend %s refuses it: %s", backend_name, why);
    json_decref(record);
    return 0;
  }
  if ((int64_t)(pipeline_queue_depth(p) + api.inserts_in_flight) >= cfg->max_queued) {
    pipeline_count_rejected(p);
    reply_err(cb, arg, EXECD_EBUSY, "queue_full", NULL,
              "%zu executions are queued or being stored, the configured maximum; try again later",
              pipeline_queue_depth(p) + api.inserts_in_flight);
    json_decref(record);
    return 0;
  }
  /* The tenant's quotas, last: only a request that would be accepted
   * counts (quota_settle() once storage answered). */
  const char *who = json_string_value(json_object_get(record, "tenant"));
  int64_t retry_after_s;
  if (quota_reserve(who, tenants_current_quota(who), ids_now_ms(), why, sizeof why,
                    &retry_after_s) != 0) {
    refuse_over_quota(record, why, retry_after_s, cb, arg);
    json_decref(record);
    return 0;
  }
  submit_ctx *c = xcalloc(1, sizeof *c);
  c->pipeline = p;
  c->record = record;
  c->agent = agent_ref(a);
  c->wait_s = wait_s > 3600 ? 3600 : wait_s;
  c->cb = cb;
  c->arg = arg;
  records *store = pipeline_records(p);
  api.inserts_in_flight++;
  execd_claim_query claim;
  c->claiming = pipeline_claims(p) && claims_insert_query(p, backend_name, &claim);
  rc = c->claiming ? records_insert_claim(store, record, &claim, on_inserted, c)
                   : records_insert(store, record, on_inserted, c);
  if (rc) {
    if (c->claiming)
      claims_inserted(p, NULL, NULL);
    api.inserts_in_flight--;
    quota_settle(who, false);
    reply_err(cb, arg, EXECD_EUNAVAIL, "storage_unavailable", NULL,
              "the execution could not be stored (%s); nothing was accepted",
              records_error(store, execd_strerror(rc)));
    json_decref(record);
    agent_unref(c->agent);
    free(c);
  }
  return 0;
}

/* --- reads: active executions from memory, the rest from storage ------------- */

typedef struct read_ctx {
  char *tenant;
  char id[40];
  uint64_t offset;
  execd_reply_cb cb;
  void *arg;
  int op; /* READ_GET, READ_CANCEL, READ_REMOVE, READ_LOGS */
  bool timed; /* READ_LOGS: with the time marks of the page */
  /* a timed page waiting for its marks (owned) */
  char *page;
  size_t page_len;
  uint64_t page_next;
  int page_status;
} read_ctx;

enum { READ_GET, READ_CANCEL, READ_REMOVE, READ_LOGS };

/* In the callback of a failed storage op: takes the detail the storage left
 * for this op's callback argument, so that none lingers for a later op at
 * the same address, and logs it when the failure is storage's own rather
 * than the caller's (no such execution, an invalid query). */
static void storage_failed(const char *what, int status, void *cb_arg) {
  const char *detail = records_take_error(pipeline_records(api.pipeline), cb_arg, "no detail");
  if (status != EXECD_ENOENT && status != EXECD_EINVAL)
    log_warn("%s: storage failed: %s (%s)", what, execd_strerror(status), detail);
}

static void read_free(read_ctx *c) {
  free(c->page);
  free(c->tenant);
  free(c);
}

/* The page's body: {"logs", "offset", "next_offset", "done"}, and with
 * timed reads "times": [{"offset": N, "at": RFC 3339 with µs}], the marks of
 * the page's bytes (the first at or before offset). */
static void log_page_reply(read_ctx *c, int status, const char *data, size_t len, uint64_t next,
                           const execd_log_mark *marks, size_t n_marks) {
  pipeline *p = api.pipeline;
  if (status != 0 && status != EXECD_ENOENT) {
    execd_reply r = {sizeof r, status, "storage_error", "reading logs failed", NULL, NULL};
    c->cb(c->arg, &r);
    return;
  }
  execution *ex = pipeline_find(p, c->id);
  int done = !ex || state_is_terminal(execution_state(ex));
  json_t *body = json_pack("{s:s%, s:I, s:I, s:b}", "logs", status ? "" : (data ? data : ""),
                           status ? (size_t)0 : len, "offset", (json_int_t)c->offset,
                           "next_offset", (json_int_t)(status ? c->offset : next), "done",
                           done && (status || len == 0 || next >= c->offset + len));
  if (!body) /* not UTF-8: hand it over as bytes anyway, escaped */
    body = json_pack("{s:s, s:I, s:I, s:b}", "logs", "", "offset", (json_int_t)c->offset,
                     "next_offset", (json_int_t)next, "done", done);
  if (c->timed) {
    json_t *times = json_array();
    for (size_t i = 0; i < n_marks; i++) {
      char at[IDS_TIME_US_LEN + 1];
      ids_format_time_us(marks[i].time_us, at);
      json_array_append_new(times, json_pack("{s:I, s:s}", "offset",
                                             (json_int_t)marks[i].offset, "at", at));
    }
    json_object_set_new(body, "times", times);
  }
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, body};
  c->cb(c->arg, &r);
  json_decref(body);
}

static void on_log_marks(void *arg, int status, const execd_log_mark *marks, size_t n) {
  read_ctx *c = arg;
  if (status) {
    storage_failed("log times", status, c);
    c->page_status = status == EXECD_ENOENT ? status : EXECD_EIO;
  }
  log_page_reply(c, c->page_status, c->page, c->page_len, c->page_next, status ? NULL : marks,
                 status ? 0 : n);
  read_free(c);
}

static void on_log_read(void *arg, int status, const char *data, size_t len, uint64_t next) {
  read_ctx *c = arg;
  if (status)
    storage_failed("logs", status, c);
  if (c->timed && status == 0 && len > 0) {
    /* The page's bytes reached storage, so their marks did too. */
    c->page = xmalloc(len + 1);
    memcpy(c->page, data, len);
    c->page[len] = '\0';
    c->page_len = len;
    c->page_next = next;
    if (records_log_marks(pipeline_records(api.pipeline), c->id, c->offset, c->offset + len,
                          on_log_marks, c) == 0)
      return;
    status = EXECD_EUNAVAIL;
  }
  log_page_reply(c, status, data, len, next, NULL, 0);
  read_free(c);
}

static void on_removed(void *arg, int status, json_t *record) {
  read_ctx *c = arg;
  (void)record;
  if (status) {
    storage_failed("delete", status, c);
    execd_reply r = {sizeof r, status, status == EXECD_ENOENT ? "not_found" : "storage_error",
                     status == EXECD_ENOENT ? "no such execution" : "deleting failed", NULL, NULL};
    c->cb(c->arg, &r);
  } else {
    json_t *body = json_pack("{s:s, s:b}", "execution_id", c->id, "deleted", 1);
    execd_reply r = {sizeof r, 0, NULL, NULL, NULL, body};
    c->cb(c->arg, &r);
    json_decref(body);
  }
  read_free(c);
}

/* Several nodes: a cancel of a queued or waiting execution that no node
 * runs here is a compare-and-set in storage, without a fence (a node that
 * claimed it meanwhile finds its own next write refused, and drops it). */
static void on_cancel_stored(void *arg, int status, json_t *stored) {
  read_ctx *c = arg;
  if (status == 0) {
    json_t *view = execution_view(stored);
    execd_reply r = {sizeof r, 0, NULL, NULL, NULL, view};
    c->cb(c->arg, &r);
    json_decref(view);
  } else {
    storage_failed("cancel", status, c);
    char msg[160];
    snprintf(msg, sizeof msg, "execution %s changed state meanwhile (now %s); try again",
             c->id, stored ? json_string_value(json_object_get(stored, "state")) : "unknown");
    execd_reply r = {sizeof r, status == EXECD_ECONFLICT ? EXECD_ECONFLICT : EXECD_EUNAVAIL,
                     status == EXECD_ECONFLICT ? "conflict" : "storage_error",
                     status == EXECD_ECONFLICT ? msg : "storage refused the cancel", NULL,
                     NULL};
    c->cb(c->arg, &r);
  }
  read_free(c);
}

static int cancel_stored(read_ctx *c, const json_t *record, exec_state from) {
  json_t *copy = json_deep_copy(record);
  char now[32];
  ids_format_time(ids_now_ms(), now);
  json_object_del(copy, "lease");
  json_object_set_new(copy, "state", json_string(state_name(STATE_CANCELLED)));
  json_object_set_new(copy, "error", json_pack("{s:s, s:s, s:n}", "code", "cancelled",
                                               "message", "cancelled by request", "details"));
  json_object_set_new(json_object_get(copy, "timestamps"), "finished", json_string(now));
  json_array_append_new(json_object_get(copy, "history"),
                        json_pack("{s:s, s:s, s:s, s:s}", "from", state_name(from), "to",
                                  state_name(STATE_CANCELLED), "at", now, "reason",
                                  "cancelled by request"));
  int rc = records_update(pipeline_records(api.pipeline), copy, state_name(from),
                          on_cancel_stored, c);
  json_decref(copy);
  return rc;
}

static void on_stored_record(void *arg, int status, json_t *record) {
  read_ctx *c = arg;
  pipeline *p = api.pipeline;
  if (status)
    storage_failed("get", status, c);
  if (status == 0 && !owned_by(record, c->tenant))
    status = EXECD_ENOENT; /* another tenant's execution does not exist for you */
  if (status != 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "no execution %s", c->id);
    execd_reply r = {sizeof r, status, status == EXECD_ENOENT ? "not_found" : "storage_error",
                     status == EXECD_ENOENT ? msg : "storage read failed", NULL, NULL};
    c->cb(c->arg, &r);
    read_free(c);
    return;
  }
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, NULL};
  json_t *view = NULL;
  int s = state_from_name(json_string_value(json_object_get(record, "state")));
  switch (c->op) {
  case READ_GET:
    view = execution_view(record);
    r.body = view;
    break;
  case READ_CANCEL: {
    if (pipeline_claims(p) && (s == STATE_QUEUED || s == STATE_RETRY_WAIT)) {
      if (cancel_stored(c, record, (exec_state)s) == 0)
        return;
      r.status = EXECD_EUNAVAIL;
      r.code = "storage_error";
      r.message = "storage refused the cancel";
      break;
    }
    char msg[200];
    if (pipeline_claims(p) && s >= 0 && !state_is_terminal((exec_state)s)) {
      snprintf(msg, sizeof msg, "execution %s runs on node %.63s: cancel it through that node",
               c->id, json_string_value(json_object_get(record, "node"))
                          ? json_string_value(json_object_get(record, "node"))
                          : "(another)");
      r.status = EXECD_ECONFLICT;
      r.code = "running_elsewhere";
      r.message = msg;
      c->cb(c->arg, &r);
      read_free(c);
      return;
    }
    /* Not active in this daemon: only a finished execution gets here. */
    snprintf(msg, sizeof msg, "execution %s already ended (%s)", c->id, state_name(s));
    r.status = EXECD_ECONFLICT;
    r.code = "already_finished";
    r.message = msg;
    c->cb(c->arg, &r);
    read_free(c);
    return;
  }
  case READ_REMOVE:
    if (pipeline_find(p, c->id) || (s >= 0 && !state_is_terminal((exec_state)s))) {
      r.status = EXECD_ECONFLICT;
      r.code = "not_finished";
      r.message = "the execution has not ended; cancel it first";
      break;
    }
    if (records_remove(pipeline_records(p), c->id, on_removed, c) == 0)
      return;
    r.status = EXECD_EUNAVAIL;
    r.code = "storage_error";
    r.message = "storage refused the delete";
    break;
  case READ_LOGS:
    if (records_log_read(pipeline_records(p), c->id, c->offset, 1 << 20, on_log_read, c) == 0)
      return;
    r.status = EXECD_EUNAVAIL;
    r.code = "storage_error";
    r.message = "storage refused to read logs";
    break;
  }
  c->cb(c->arg, &r);
  json_decref(view);
  read_free(c);
}

/* --- cancel of a running attempt ------------------------------------------------
 * The job gets SIGTERM, then SIGKILL after kill_grace: the answer waits for
 * the execution to end, so it shows CANCELLED (the document after the
 * cancel), not the RUNNING it had when the signal was sent.  The wait is
 * bounded; an attempt that outlives kill_grace and a margin is answered
 * with its current document. */

#define CANCEL_WAIT_MARGIN_MS 5000

static int start_read(const char *tenant, const char *id, int op, uint64_t offset, bool timed,
                      execd_reply_cb cb, void *arg) {
  pipeline *p = api.pipeline;
  if (!ids_valid_uuid(id)) {
    reply_err(cb, arg, EXECD_EINVAL, "invalid_id", "id", "'%.64s' is not an execution id", id);
    return 0;
  }
  if (timed && !records_has_log_marks(pipeline_records(p))) {
    reply_err(cb, arg, EXECD_EINVAL, "timestamps_unsupported", "timestamps",
              "the storage keeps no log timestamps");
    return 0;
  }
  execution *ex = pipeline_find(p, id);
  if (ex && !tenant_is(execution_tenant(ex), tenant)) {
    NOT_FOUND(cb, arg, id);
    return 0;
  }
  if (ex && op == READ_GET) {
    reply_ok(cb, arg, execution_view_of(ex));
    return 0;
  }
  if (ex && op == READ_CANCEL) {
    int rc = execution_cancel(ex, "cancelled by the client");
    if (rc)
      reply_err(cb, arg, EXECD_ECONFLICT, "already_finished", NULL,
                "execution %s already ended (%s)", id, state_name(execution_state(ex)));
    else if (state_is_terminal(execution_state(ex)))
      reply_ok(cb, arg, execution_view(execution_record(ex)));
    else /* a job is being stopped */
      answer_when_ended(ex, (uint64_t)pipeline_config(p)->kill_grace_ms + CANCEL_WAIT_MARGIN_MS,
                        cb, arg);
    return 0;
  }
  if (ex && op == READ_REMOVE) {
    reply_err(cb, arg, EXECD_ECONFLICT, "not_finished", NULL,
              "execution %s has not ended (%s); cancel it first", id, state_name(execution_state(ex)));
    return 0;
  }
  read_ctx *c = xcalloc(1, sizeof *c);
  c->tenant = xstrdup(tenant ? tenant : "anonymous");
  snprintf(c->id, sizeof c->id, "%s", id);
  c->op = op;
  c->timed = timed;
  c->offset = offset;
  c->cb = cb;
  c->arg = arg;
  if (ex && op == READ_LOGS) {
    if (records_log_read(pipeline_records(p), c->id, offset, 1 << 20, on_log_read, c) == 0)
      return 0;
  } else if (records_get(pipeline_records(p), id, on_stored_record, c) == 0) {
    return 0;
  }
  read_free(c);
  reply_err(cb, arg, EXECD_EUNAVAIL, "storage_error", NULL, "storage refused the read");
  return 0;
}

int api_get(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
            void *arg) {
  (void)inst;
  return start_read(tenant, id, READ_GET, 0, false, cb, arg);
}

int api_cancel(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
               void *arg) {
  (void)inst;
  return start_read(tenant, id, READ_CANCEL, 0, false, cb, arg);
}

int api_remove(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
               void *arg) {
  (void)inst;
  return start_read(tenant, id, READ_REMOVE, 0, false, cb, arg);
}

int api_logs(execd_instance *inst, const char *tenant, const char *id, uint64_t offset,
             execd_reply_cb cb, void *arg) {
  (void)inst;
  return start_read(tenant, id, READ_LOGS, offset, false, cb, arg);
}

int api_logs_timed(execd_instance *inst, const char *tenant, const char *id, uint64_t offset,
                   execd_reply_cb cb, void *arg) {
  (void)inst;
  return start_read(tenant, id, READ_LOGS, offset, true, cb, arg);
}

/* --- list -------------------------------------------------------------------- */

typedef struct list_ctx {
  execd_reply_cb cb;
  void *arg;
} list_ctx;

static void on_listed(void *arg, int status, json_t *page, const char *next) {
  list_ctx *c = arg;
  if (status) {
    storage_failed("list", status, c);
    execd_reply r = {sizeof r, status, status == EXECD_EINVAL ? "invalid_query" : "storage_error",
                     status == EXECD_EINVAL ? "invalid list query (cursor or filter)"
                                            : "listing failed",
                     NULL, NULL};
    c->cb(c->arg, &r);
  } else {
    json_t *list = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(page, i, rec) {
      if (!records_usable(rec)) {
        log_warn("list: storage returned a record that is not an execution; skipped");
        continue;
      }
      /* Active executions: memory is fresher than storage. */
      execution *ex = pipeline_find(api.pipeline, json_string_value(json_object_get(rec, "id")));
      json_array_append_new(list, ex ? execution_view_of(ex) : execution_view(rec));
    }
    json_t *body = json_pack("{s:o, s:s?}", "executions", list, "next_cursor", next);
    if (body && !next)
      json_object_set_new(body, "next_cursor", json_null());
    execd_reply r = {sizeof r, 0, NULL, NULL, NULL, body};
    c->cb(c->arg, &r);
    json_decref(body);
  }
  free(c);
}

/* The query parameter a storage's refusal names: its message starts with
 * the parameter's name ("cursor \"x\" is not ..."), else none. */
static const char *list_query_field(const char *message) {
  static const char *const names[] = {"cursor", "created_after", "created_before",
                                      "state", "agent", "label"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    size_t n = strlen(names[i]);
    if (strncmp(message, names[i], n) == 0 && (message[n] == ' ' || message[n] == ':'))
      return names[i];
  }
  return NULL;
}

int api_list(execd_instance *inst, const char *tenant, const execd_list_query *query,
             execd_reply_cb cb, void *arg) {
  pipeline *p = api.pipeline;
  (void)inst;
  execd_list_query q;
  memset(&q, 0, sizeof q);
  if (query)
    memcpy(&q, query, query->struct_size && query->struct_size < sizeof q ? query->struct_size
                                                                         : sizeof q);
  q.struct_size = sizeof q;
  q.tenant = tenant ? tenant : "anonymous";
  if (q.state && state_from_name(q.state) < 0) {
    reply_err(cb, arg, EXECD_EINVAL, "invalid_query", "state",
              "'%.64s' is not a state (QUEUED, STARTING, RUNNING, RETRY_WAIT, SUCCEEDED, "
              "FAILED, TIMED_OUT, CANCELLED)",
              q.state);
    return 0;
  }
  if (q.limit > 1000)
    q.limit = 1000;
  list_ctx *c = xcalloc(1, sizeof *c);
  c->cb = cb;
  c->arg = arg;
  instance_clear_error(records_instance(pipeline_records(p)));
  int rc = records_list(pipeline_records(p), &q, on_listed, c);
  if (rc == EXECD_EINVAL) {
    /* The storage refused the query itself (a cursor it never returned, a
     * time that is not RFC 3339): the client's mistake, not an outage. */
    free(c);
    const char *why = records_error(pipeline_records(p), "invalid list query (cursor or filter)");
    reply_err(cb, arg, EXECD_EINVAL, "invalid_query", list_query_field(why), "%s", why);
  } else if (rc != 0) {
    free(c);
    reply_err(cb, arg, EXECD_EUNAVAIL, "storage_error", NULL, "storage refused to list");
  }
  return 0;
}

/* --- watch ------------------------------------------------------------------- */

struct execd_watch {
  execd_watch_cb cb;
  void *arg;
  execution *ex; /* while attached */
  waiter *w;
  char *tenant;
  char id[40];
  int cancelled; /* unwatched while its "end" was pending */
  int pending;
};

static void watch_free(execd_watch *w) {
  free(w->tenant);
  free(w);
}

static void watch_event(void *arg, const char *type, const json_t *data) {
  execd_watch *w = arg;
  w->cb(w->arg, type, data);
}

static void watch_done(void *arg, const json_t *record) {
  execd_watch *w = arg;
  w->w = NULL;
  w->ex = NULL;
  json_t *view = execution_view(record);
  w->cb(w->arg, "end", view);
  json_decref(view);
  watch_free(w);
}

static void deliver_watch_end(execd_watch *w, json_t *view) {
  w->pending = 0;
  if (!w->cancelled)
    w->cb(w->arg, "end", view);
  watch_free(w);
}

static void on_watch_record(void *arg, int status, json_t *record) {
  execd_watch *w = arg;
  if (status)
    storage_failed("watch", status, w);
  deferred *d = xcalloc(1, sizeof *d);
  d->watch = w;
  d->body = status == 0 && owned_by(record, w->tenant) ? execution_view(record) : NULL;
  /* Deliver through the deferred queue so ordering matches replies. */
  defer(d);
}

int api_watch(execd_instance *inst, const char *tenant, const char *id, execd_watch_cb cb,
              void *arg, execd_watch **out) {
  pipeline *p = api.pipeline;
  (void)inst;
  *out = NULL;
  if (!ids_valid_uuid(id))
    return EXECD_EINVAL;
  execd_watch *w = xcalloc(1, sizeof *w);
  w->cb = cb;
  w->arg = arg;
  w->tenant = xstrdup(tenant ? tenant : "anonymous");
  snprintf(w->id, sizeof w->id, "%s", id);
  execution *ex = pipeline_find(p, id);
  if (ex && tenant_is(execution_tenant(ex), tenant) && !execution_ended(ex)) {
    w->ex = ex;
    w->w = execution_add_waiter(ex, watch_done, watch_event, w);
  } else if (ex) {
    deferred *d = xcalloc(1, sizeof *d);
    d->watch = w;
    d->body = tenant_is(execution_tenant(ex), tenant) ? execution_view_of(ex) : NULL;
    w->pending = 1;
    defer(d);
  } else {
    w->pending = 1;
    if (records_get(pipeline_records(p), id, on_watch_record, w) != 0) {
      watch_free(w);
      return EXECD_EUNAVAIL;
    }
  }
  *out = w;
  return 0;
}

void api_unwatch(execd_watch *w) {
  if (!w)
    return;
  if (w->pending) {
    w->cancelled = 1; /* freed when its pending "end" is drained */
    return;
  }
  if (w->ex && w->w)
    execution_remove_waiter(w->ex, w->w);
  watch_free(w);
}

/* --- agents, health, metrics ------------------------------------------------- */

int api_agents(execd_instance *inst, execd_reply_cb cb, void *arg) {
  (void)inst;
  reply_ok(cb, arg, catalog_list(pipeline_config(api.pipeline)->catalog));
  return 0;
}

typedef struct health_ctx {
  json_t *components, *down;
} health_ctx;

static void add_component(void *arg, execd_instance *inst, int rc) {
  health_ctx *h = arg;
  char label[128];
  instance_label(inst, label, sizeof label);
  if (rc == 0) {
    json_object_set_new(h->components, label, json_string("ok"));
  } else {
    json_object_set_new(h->components, label,
                        json_string(instance_error(inst, execd_strerror(rc))));
    json_array_append_new(h->down, json_string(label));
  }
}

int api_health(execd_instance *inst, execd_reply_cb cb, void *arg) {
  pipeline *p = api.pipeline;
  (void)inst;
  health_ctx h = {json_object(), json_array()};
  pipeline_health(p, add_component, &h);
  int ready = json_array_size(h.down) == 0 && !pipeline_draining(p);
  if (pipeline_draining(p))
    json_array_append_new(h.down, json_string("execd (shutting down)"));
  reply_ok(cb, arg, json_pack("{s:b, s:o, s:o, s:o}", "ready", ready, "down", h.down,
                              "components", h.components, "node", pipeline_node_status(p)));
  return 0;
}

int api_metrics(execd_instance *inst, execd_reply_cb cb, void *arg) {
  (void)inst;
  char *text = metrics_render(api.pipeline);
  reply_ok(cb, arg, json_string(text ? text : ""));
  free(text);
  return 0;
}

/* --- usage ------------------------------------------------------------------- */

/* A range wider than this many records is refused: narrow from/to. */
#define USAGE_RECORDS_MAX 1000000

typedef struct usage_ctx {
  execd_reply_cb cb;
  void *arg;
  char *tenant;
  char from[32], to[32]; /* normalised RFC 3339, "" for no bound */
  char *group_by;
  char *cursor;
  usage_report *report;
  size_t scanned;
} usage_ctx;

static void usage_ctx_free(usage_ctx *c) {
  free(c->tenant);
  free(c->group_by);
  free(c->cursor);
  free(c);
}

static int usage_next(usage_ctx *c);

static void on_usage_page(void *arg, int status, json_t *page, const char *next) {
  usage_ctx *c = arg;
  if (status == 0 && c->scanned + json_array_size(page) > USAGE_RECORDS_MAX)
    status = EXECD_ETOOBIG;
  if (status != 0) {
    if (status != EXECD_ETOOBIG)
      storage_failed("usage", status, c);
    execd_reply r = {sizeof r, status == EXECD_ETOOBIG ? EXECD_ETOOBIG : EXECD_EUNAVAIL,
                     status == EXECD_ETOOBIG ? "too_large" : "storage_error",
                     status == EXECD_ETOOBIG
                         ? "more than 1000000 executions in the range; narrow from and to"
                         : "listing the executions failed",
                     NULL, NULL};
    c->cb(c->arg, &r);
    json_decref(usage_report_finish(c->report));
    usage_ctx_free(c);
    return;
  }
  size_t i;
  json_t *rec;
  json_array_foreach(page, i, rec) {
    if (records_usable(rec))
      usage_report_add(c->report, rec);
  }
  c->scanned += json_array_size(page);
  free(c->cursor);
  c->cursor = next ? xstrdup(next) : NULL;
  if (c->cursor && usage_next(c) == 0)
    return;
  json_t *body = json_pack("{s:s?, s:s?, s:s, s:o, s:I}", "from", c->from[0] ? c->from : NULL,
                           "to", c->to[0] ? c->to : NULL, "group_by", c->group_by, "groups",
                           usage_report_finish(c->report), "executions_scanned",
                           (json_int_t)c->scanned);
  if (!body)
    xalloc_failed("usage");
  if (!c->from[0])
    json_object_set_new(body, "from", json_null());
  if (!c->to[0])
    json_object_set_new(body, "to", json_null());
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, body};
  if (c->cursor) {
    r.status = EXECD_EUNAVAIL;
    r.code = "storage_error";
    r.message = "storage refused to list the next page";
    r.body = NULL;
  }
  c->cb(c->arg, &r);
  json_decref(body);
  usage_ctx_free(c);
}

/* 0 with the next page asked for, else an error (answered by the caller). */
static int usage_next(usage_ctx *c) {
  execd_list_query q = {
      .struct_size = sizeof q,
      .tenant = c->tenant,
      .cursor = c->cursor,
      .limit = 1000,
      .created_after = c->from[0] ? c->from : NULL,
      .created_before = c->to[0] ? c->to : NULL,
  };
  return records_list(pipeline_records(api.pipeline), &q, on_usage_page, c);
}

static int usage_bound(const char *text, const char *name, char *out, execd_reply_cb cb,
                       void *arg) {
  int64_t ms;
  out[0] = '\0';
  if (!text || !*text)
    return 0;
  if (ids_parse_time(text, &ms) != 0 || ms < 0) {
    reply_err(cb, arg, EXECD_EINVAL, "invalid_query", name,
              "%s '%.64s' is not an RFC 3339 UTC time such as 2027-01-31T00:00:00Z", name, text);
    return -1;
  }
  ids_format_time(ms, out);
  return 0;
}

int api_usage(execd_instance *inst, const char *tenant, const char *from, const char *to,
              const char *group_by, execd_reply_cb cb, void *arg) {
  (void)inst;
  if (group_by && *group_by && strcmp(group_by, "tenant") != 0 &&
      strcmp(group_by, "agent") != 0) {
    reply_err(cb, arg, EXECD_EINVAL, "invalid_query", "group_by",
              "group_by '%.64s' is not tenant or agent", group_by);
    return 0;
  }
  usage_ctx *c = xcalloc(1, sizeof *c);
  if (usage_bound(from, "from", c->from, cb, arg) != 0 ||
      usage_bound(to, "to", c->to, cb, arg) != 0) {
    free(c);
    return 0;
  }
  if (c->from[0] && c->to[0] && strcmp(c->from, c->to) >= 0) {
    free(c);
    reply_err(cb, arg, EXECD_EINVAL, "invalid_query", "to", "to must be later than from");
    return 0;
  }
  c->cb = cb;
  c->arg = arg;
  c->tenant = xstrdup(tenant ? tenant : EXECD_TENANT_ANONYMOUS);
  c->group_by = xstrdup(group_by && *group_by ? group_by : "tenant");
  c->report = usage_report_new(c->group_by);
  instance_clear_error(records_instance(pipeline_records(api.pipeline)));
  int rc = usage_next(c);
  if (rc != 0) {
    json_decref(usage_report_finish(c->report));
    usage_ctx_free(c);
    reply_err(cb, arg, EXECD_EUNAVAIL, "storage_error", NULL, "storage refused to list");
  }
  return 0;
}
