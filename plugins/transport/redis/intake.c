/* The requests stream: read with the consumer group, each message
 * submitted to execd and acknowledged (XACK) only once execd answered that
 * the execution is stored, or once a permanent refusal was published.
 *
 * At most read_batch messages are held unacknowledged; a message execd
 * cannot take now (queue full, storage away) is offered again after a
 * backoff, and nothing more is read meanwhile: the queue's limit holds the
 * stream back instead of messages being taken and dropped.  After each
 * (re)connection our own pending messages are read again first (a restart
 * after a crash between read and XACK); the idempotency key of each
 * message (its id unless the request has one) makes that a replay, not a
 * second execution. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_internal.h"

#define BLOCK_MS 2000
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 2000
#define READ_ERROR_DELAY_MS 1000

static void read_next(rt *t);

void intake_init(rt *t) {
  uv_timer_init(t->loop, &t->retry_timer);
  uv_timer_init(t->loop, &t->read_timer);
  t->retry_timer.data = t->read_timer.data = t;
  t->timers_init = true;
  t->retry_ms = RETRY_MIN_MS;
  snprintf(t->history_from, sizeof t->history_from, "0");
}

/* ---- entries ------------------------------------------------------------- */

entry *entry_new(rt *t, const char *id) {
  entry *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->t = t;
  snprintf(e->id, sizeof e->id, "%s", id ? id : "");
  e->next = t->entries;
  if (t->entries)
    t->entries->prev = e;
  t->entries = e;
  if (id) {
    e->live = true;
    t->inflight++;
  }
  return e;
}

void entry_done(entry *e) {
  rt *t = e->t;
  if (e->prev)
    e->prev->next = e->next;
  else
    t->entries = e->next;
  if (e->next)
    e->next->prev = e->prev;
  if (e->live)
    t->inflight--;
  message_clear(&e->msg);
  free(e);
  if (!t->stopping)
    read_next(t);
}

bool intake_is_live(rt *t, const char *id) {
  for (entry *e = t->entries; e; e = e->next)
    if (e->live && strcmp(e->id, id) == 0)
      return true;
  return false;
}

/* ---- acknowledging ------------------------------------------------------- */

static void on_acked(void *arg, redisReply *r, const char *err) {
  entry *e = arg;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    e->t->host->log(e->t->inst, EXECD_LOG_WARNING,
                    "XACK %s failed (%s): the message will be delivered again and found a replay",
                    e->id, r ? r->str : err);
    /* Lost with the connection: our pending messages are read again once it
     * is back, not only after claim_idle.  (A refused XACK is not retried
     * in a loop: the claim takes the message after claim_idle.) */
    if (!r)
      e->t->history_wanted = true;
  }
  entry_done(e);
}

static void ack(entry *e) {
  rt *t = e->t;
  if (!e->id[0]) {
    entry_done(e);
    return;
  }
  const char *argv[] = {"XACK", t->requests_stream, t->group, e->id};
  size_t lens[] = {4, strlen(argv[1]), strlen(argv[2]), strlen(e->id)};
  if (rt_command(t, on_acked, e, 4, argv, lens) != 0) {
    t->host->log(t->inst, EXECD_LOG_WARNING,
                 "cannot XACK %s now (redis away): it stays pending and is taken again", e->id);
    t->history_wanted = true;
    entry_done(e);
  }
}

/* ---- refusing ------------------------------------------------------------ */

static void on_reject_published(void *arg, bool ok) {
  entry *e = arg;
  if (ok) {
    ack(e);
  } else {
    /* Unpublished: not acknowledged, so it comes back and is refused again. */
    entry_done(e);
  }
}

void intake_reject(entry *e, const char *code, const char *field, const char *text) {
  rt *t = e->t;
  t->host->log(t->inst, EXECD_LOG_INFO, "message %s refused: %s: %s", e->id[0] ? e->id : "(pub/sub)",
               code, text);
  json_t *ev = events_request_frame(t, "request.rejected", e);
  json_t *error = json_pack("{s:s, s:s}", "code", code, "message", text);
  if (error)
    json_object_set_new(error, "field", field ? json_string(field) : json_null());
  if (ev && error)
    json_object_set_new(ev, "error", error);
  else
    json_decref(error);
  if (!ev) {
    entry_done(e);
    return;
  }
  events_send(t, e->tenant[0] ? e->tenant : NULL, "request.rejected", ev, on_reject_published, e);
  json_decref(ev);
}

/* ---- submitting ---------------------------------------------------------- */


static void on_retry_timer(uv_timer_t *tm) {
  rt *t = tm->data;
  entry *list = t->retry_head;
  t->retry_head = t->retry_tail = NULL;
  while (list) {
    entry *e = list;
    list = e->retry_next;
    e->retry_next = NULL;
    intake_submit(e);
  }
}

/* Offered again after a backoff; nothing is read while any waits. */
static void retry_later(entry *e) {
  rt *t = e->t;
  if (t->retry_tail)
    t->retry_tail->retry_next = e;
  else
    t->retry_head = e;
  t->retry_tail = e;
  if (!uv_is_active((uv_handle_t *)&t->retry_timer)) {
    uv_timer_start(&t->retry_timer, on_retry_timer, t->retry_ms, 0);
    t->retry_ms = t->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : t->retry_ms * 2;
  }
}

static void on_submitted(void *arg, const execd_reply *r) {
  entry *e = arg;
  rt *t = e->t;
  if (t->stopping) {
    entry_done(e);
    return;
  }
  if (r->status == 0) {
    t->retry_ms = RETRY_MIN_MS;
    json_t *ev = events_request_frame(t, "request.accepted", e);
    if (ev) {
      json_object_set(ev, "execution_id", json_object_get(r->body, "execution_id"));
      json_object_set_new(ev, "replay", json_boolean(r->code && !strcmp(r->code, "idempotent_replay")));
      events_send(t, e->tenant, "request.accepted", ev, NULL, NULL);
      json_decref(ev);
    }
    ack(e);
    return;
  }
  /* A tenant's quota (also EXECD_EBUSY) is refused, not waited for: one
   * tenant over its quota must not hold the stream back for the others. */
  bool queue_full = r->status == EXECD_EBUSY && r->code && strcmp(r->code, "queue_full") == 0;
  switch (queue_full ? EXECD_EBUSY : r->status == EXECD_EBUSY ? EXECD_EPERM : r->status) {
  case EXECD_EBUSY:    /* queue full */
  case EXECD_EUNAVAIL: /* storage or backend away, shutting down */
  case EXECD_EIO:
  case EXECD_ENOMEM:
  case EXECD_ETIMEDOUT:
    if (e->id[0]) {
      if (t->retry_ms == RETRY_MIN_MS)
        t->host->log(t->inst, EXECD_LOG_NOTICE,
                     "message %s: %s (%s); reading paused, offered again shortly", e->id,
                     r->code ? r->code : "unavailable", r->message ? r->message : "");
      retry_later(e);
      return;
    }
    break; /* pub/sub: at most once, refused with the error */
  default:
    break;
  }
  intake_reject(e, r->code ? r->code : "rejected", r->field,
                r->message ? r->message : "refused by execd");
}

void intake_submit(entry *e) {
  rt *t = e->t;
  int rc = t->host->submit(t->inst, e->tenant, e->msg.body, e->msg.len, 0, on_submitted, e);
  if (rc != 0) {
    execd_reply r = {sizeof r, rc, NULL, "execd refused the call", NULL, NULL};
    on_submitted(e, &r);
  }
}

/* ---- one message --------------------------------------------------------- */

void intake_entry(rt *t, const char *id, const redisReply *fields) {
  if (intake_is_live(t, id))
    return; /* being handled already (read again after a reconnect) */
  entry *e = entry_new(t, id);
  if (!e)
    return; /* stays pending; taken again */
  if (!fields || fields->type != REDIS_REPLY_ARRAY) {
    /* Deleted from the stream (XDEL, trimmed) while pending. */
    ack(e);
    return;
  }
  size_t n = fields->elements / 2;
  const char **names = calloc(n + 1, sizeof *names), **values = calloc(n + 1, sizeof *values);
  size_t *nl = calloc(n + 1, sizeof *nl), *vl = calloc(n + 1, sizeof *vl);
  int rc = -1;
  message_error err = {0};
  if (names && values && nl && vl) {
    bool strings = true;
    for (size_t i = 0; i < n; i++) {
      const redisReply *k = fields->element[2 * i], *v = fields->element[2 * i + 1];
      if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
        strings = false;
      names[i] = k->str, nl[i] = k->len;
      values[i] = v->str, vl[i] = v->len;
    }
    char key[RT_ID_MAX + 256];
    snprintf(key, sizeof key, "redis:%s:%s", t->requests_stream, id);
    if (strings)
      rc = message_from_fields(names, nl, values, vl, n, key, &t->limits, &e->msg, &err);
    else
      err = (message_error){"invalid_message", NULL, "a field is not a string"};
  } else {
    err = (message_error){"internal", NULL, "out of memory"};
  }
  free(names), free(values), free(nl), free(vl);
  if (rc != 0) {
    intake_reject(e, err.code, err.field, err.text);
    return;
  }
  if (rt_authenticate(e) != 0)
    return;
  intake_submit(e);
}

/* ---- reading ------------------------------------------------------------- */

static void ensure_group(rt *t);

/* After an error (a server still loading its AOF answers -LOADING): the
 * group first if it is not known to be there. */
static void on_read_timer(uv_timer_t *tm) {
  rt *t = tm->data;
  if (!t->group_ready)
    ensure_group(t);
  else
    read_next(t);
}

static void on_read(void *arg, redisReply *r, const char *err) {
  rt *t = arg;
  t->reading = false;
  if (t->stopping)
    return;
  if (!r) {
    (void)err; /* the connection went down: reading starts again when it is up */
    return;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    if (strncmp(r->str, "NOGROUP", 7) == 0) {
      t->host->log(t->inst, EXECD_LOG_WARNING, "group '%s' is gone from '%s': creating it again",
                   t->group, t->requests_stream);
      t->group_ready = false;
      ensure_group(t);
    } else {
      t->host->log(t->inst, EXECD_LOG_WARNING, "XREADGROUP: %s", r->str);
      uv_timer_start(&t->read_timer, on_read_timer, READ_ERROR_DELAY_MS, 0);
    }
    return;
  }
  size_t got = 0;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
      r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
      r->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
    const redisReply *list = r->element[0]->element[1];
    for (size_t i = 0; i < list->elements; i++) {
      const redisReply *ent = list->element[i];
      if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
          ent->element[0]->type != REDIS_REPLY_STRING || ent->element[0]->len >= RT_ID_MAX)
        continue;
      got++;
      if (t->read_is_history)
        snprintf(t->history_from, sizeof t->history_from, "%s", ent->element[0]->str);
      intake_entry(t, ent->element[0]->str, ent->element[1]);
    }
  }
  if (t->read_is_history && got == 0) {
    t->history_done = true;
    t->host->log(t->inst, EXECD_LOG_DEBUG, "own pending messages read again; reading new ones");
  }
  read_next(t);
}

static void read_next(rt *t) {
  if (t->stopping || t->reading || !t->group_ready || t->retry_head || !t->reader ||
      !uvredis_conn_up(t->reader) || t->inflight >= t->read_batch ||
      uv_is_active((uv_handle_t *)&t->read_timer))
    return;
  if (t->history_wanted) {
    t->history_wanted = false;
    t->history_done = false;
    snprintf(t->history_from, sizeof t->history_from, "0");
  }
  char count[24], block[24];
  snprintf(count, sizeof count, "%llu", (unsigned long long)(t->read_batch - t->inflight));
  snprintf(block, sizeof block, "%d", BLOCK_MS);
  const char *from = t->history_done ? ">" : t->history_from;
  const char *argv[] = {"XREADGROUP", "GROUP", t->group, t->consumer, "COUNT", count,
                        "BLOCK", block, "STREAMS", t->requests_stream, from};
  size_t lens[11];
  for (int i = 0; i < 11; i++)
    lens[i] = strlen(argv[i]);
  /* History reads do not block: they answer at once. */
  int argc = 11;
  if (!t->history_done) {
    argv[6] = "STREAMS", argv[7] = t->requests_stream, argv[8] = from;
    lens[6] = 7, lens[7] = strlen(t->requests_stream), lens[8] = strlen(from);
    argc = 9;
  }
  if (uvredis_command(t->reader, BLOCK_MS, on_read, t, argc, argv, lens) == 0) {
    t->reading = true;
    t->read_is_history = !t->history_done;
  }
}

static void on_group(void *arg, redisReply *r, const char *err) {
  rt *t = arg;
  t->group_creating = false;
  if (t->stopping || !r)
    return;
  (void)err;
  if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
    t->host->log(t->inst, EXECD_LOG_ERR, "XGROUP CREATE %s %s: %s", t->requests_stream, t->group,
                 r->str);
    uv_timer_start(&t->read_timer, on_read_timer, READ_ERROR_DELAY_MS, 0);
    return;
  }
  if (r->type != REDIS_REPLY_ERROR)
    t->host->log(t->inst, EXECD_LOG_NOTICE, "created group '%s' on stream '%s'", t->group,
                 t->requests_stream);
  t->group_ready = true;
  read_next(t);
}

/* The group, created with the stream if need be, from the stream's start
 * (requests added before execd first ran are served). */
static void ensure_group(rt *t) {
  if (t->group_creating || !t->reader)
    return;
  const char *argv[] = {"XGROUP", "CREATE", t->requests_stream, t->group, "0", "MKSTREAM"};
  size_t lens[] = {6, 6, strlen(t->requests_stream), strlen(t->group), 1, 8};
  if (uvredis_command(t->reader, 0, on_group, t, 6, argv, lens) == 0)
    t->group_creating = true;
}

void intake_reader_state(void *arg, bool up, const char *why) {
  rt *t = arg;
  t->reading = false;
  t->group_creating = false;
  if (!up) {
    t->host->log(t->inst, EXECD_LOG_WARNING, "redis reads: %s", why);
    t->group_ready = false;
    return;
  }
  /* Our own pending messages first: those read before a crash or before
   * the connection broke, not acknowledged. */
  t->history_done = false;
  snprintf(t->history_from, sizeof t->history_from, "0");
  ensure_group(t);
}

void intake_cmd_up(rt *t) { read_next(t); }

void intake_stop(rt *t) {
  if (t->timers_init) {
    uv_close((uv_handle_t *)&t->retry_timer, NULL);
    uv_close((uv_handle_t *)&t->read_timer, NULL);
  }
}

/* Entries still waiting for execd's answer stay until the answer (the host
 * calls back exactly once); the rest are freed here, after the loop. */
void intake_free(rt *t) {
  while (t->entries) {
    entry *e = t->entries;
    t->entries = e->next;
    message_clear(&e->msg);
    free(e);
  }
}
