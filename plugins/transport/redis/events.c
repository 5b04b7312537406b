/* Events out: every event execd publishes, and the request.* events of
 * this transport, go to the events stream (XADD ... MAXLEN ~ N) and the
 * events channel (PUBLISH), per tenant when configured.  While Redis is
 * away events are held in order, up to EVENTS_HELD_MAX, and sent when it
 * is back; beyond that they are dropped (counted, logged once per outage):
 * the execution record in storage stays the truth. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_internal.h"

typedef struct send_ctx {
  rt *t;
  events_done_cb done;
  void *arg;
  char *tenant, *type, *text; /* kept to be held again if the connection drops */
} send_ctx;

static void hold(rt *t, const char *tenant, const char *type, char *text);

static void on_added(void *arg, redisReply *r, const char *err) {
  send_ctx *c = arg;
  bool ok = r && r->type != REDIS_REPLY_ERROR;
  if (!r && !c->done && !c->t->stopping) {
    /* The connection dropped with the event on the wire: held again and
     * sent once it is back (it may then be in the stream twice). */
    hold(c->t, c->tenant, c->type, c->text);
    c->text = NULL;
  } else if (!ok) {
    c->t->events_dropped++;
    c->t->host->log(c->t->inst, EXECD_LOG_WARNING, "event not added to the events stream: %s",
                    r ? r->str : err);
  }
  if (c->done)
    c->done(c->arg, ok);
  free(c->tenant);
  free(c->type);
  free(c->text);
  free(c);
}

static void on_published(void *arg, redisReply *r, const char *err) {
  (void)arg, (void)r, (void)err;
}

/* name, or name:tenant when events are per tenant. */
static void target(const rt *t, const char *base, const char *tenant, char *out, size_t size) {
  if (t->events_per_tenant && tenant)
    snprintf(out, size, "%s:%s", base, tenant);
  else
    snprintf(out, size, "%s", base);
}

/* XADD and PUBLISH of one event's text; false when the connection is down. */
static bool send_text(rt *t, const char *tenant, const char *type, const char *text,
                      events_done_cb done, void *arg) {
  send_ctx *c = calloc(1, sizeof *c);
  if (!c)
    return false;
  c->t = t, c->done = done, c->arg = arg;
  if (!done && (!(c->type = strdup(type)) || !(c->text = strdup(text)) ||
                (tenant && !(c->tenant = strdup(tenant))))) {
    free(c->type), free(c->text), free(c->tenant), free(c);
    return false;
  }
  char stream[512], maxlen[24];
  target(t, t->events_stream, tenant, stream, sizeof stream);
  snprintf(maxlen, sizeof maxlen, "%llu", (unsigned long long)t->events_maxlen);
  const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "type", type, "event", text};
  size_t lens[] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 4, strlen(type), 5, strlen(text)};
  if (rt_command(t, on_added, c, 10, argv, lens) != 0) {
    free(c->type), free(c->text), free(c->tenant), free(c);
    return false;
  }
  if (t->events_channel) {
    char channel[512];
    target(t, t->events_channel, tenant, channel, sizeof channel);
    const char *pargv[] = {"PUBLISH", channel, text};
    size_t plens[] = {7, strlen(channel), strlen(text)};
    rt_command(t, on_published, NULL, 3, pargv, plens);
  }
  return true;
}

static void held_free(held_event *h) {
  free(h->tenant);
  free(h->type);
  free(h->text);
  free(h);
}

void events_flush(rt *t) {
  while (t->held_head) {
    held_event *h = t->held_head;
    if (!send_text(t, h->tenant, h->type, h->text, NULL, NULL))
      return;
    t->held_head = h->next;
    if (!t->held_head)
      t->held_tail = NULL;
    t->held_count--;
    held_free(h);
  }
}

void events_clear(rt *t) {
  while (t->held_head) {
    held_event *h = t->held_head;
    t->held_head = h->next;
    held_free(h);
  }
  t->held_tail = NULL;
  t->held_count = 0;
}

/* Kept, in order, while Redis is away (up to EVENTS_HELD_MAX). */
static void hold(rt *t, const char *tenant, const char *type, char *text) {
  held_event *h = NULL;
  if (t->held_count < EVENTS_HELD_MAX && (h = calloc(1, sizeof *h))) {
    h->tenant = tenant ? strdup(tenant) : NULL;
    h->type = strdup(type);
    h->text = text;
    if ((tenant && !h->tenant) || !h->type) {
      held_free(h);
      h = NULL;
    }
  } else {
    free(text);
  }
  if (!h) {
    t->events_dropped++;
    if (!t->events_down_logged)
      t->host->log(t->inst, EXECD_LOG_WARNING,
                   "redis is away and %d events are held already: events are dropped until it "
                   "is back",
                   EVENTS_HELD_MAX);
    t->events_down_logged = true;
    return;
  }
  if (t->held_tail)
    t->held_tail->next = h;
  else
    t->held_head = h;
  t->held_tail = h;
  t->held_count++;
}

void events_send(rt *t, const char *tenant, const char *type, const json_t *event,
                 events_done_cb done, void *arg) {
  char *text = json_dumps(event, JSON_COMPACT);
  if (!text) {
    t->events_dropped++;
    if (done)
      done(arg, false);
    return;
  }
  events_flush(t);
  if (!t->held_head && send_text(t, tenant, type, text, done, arg)) {
    t->events_down_logged = false;
    free(text);
    return;
  }
  if (done) {
    /* A refusal is not held: its message stays unacknowledged instead. */
    free(text);
    done(arg, false);
    return;
  }
  hold(t, tenant, type, text);
}

json_t *events_request_frame(rt *t, const char *type, const entry *e) {
  char now[40];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(now + n, sizeof now - n, ".%03ldZ", ts.tv_nsec / 1000000);
  json_t *ev = json_pack("{s:s, s:s, s:s}", "type", type, "time", now, "stream",
                         e->id[0] ? t->requests_stream : t->requests_channel);
  if (!ev)
    return NULL;
  /* null until the token was checked */
  json_object_set_new(ev, "tenant", e->tenant[0] ? json_string(e->tenant) : json_null());
  json_object_set_new(ev, "message_id", e->id[0] ? json_string(e->id) : json_null());
  json_object_set_new(ev, "correlation_id",
                      e->msg.correlation_id ? json_string(e->msg.correlation_id) : json_null());
  return ev;
}
