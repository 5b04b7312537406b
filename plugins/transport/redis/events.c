/* Events out: every event execd publishes, and the request.* events of
 * this transport, go to the events stream (XADD ... MAXLEN ~ N) and the
 * events channel (PUBLISH), per tenant when configured.  While Redis is
 * away events are dropped (counted, logged once per outage): the stream
 * is a feed, the execution record in storage is the truth. */
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
} send_ctx;

static void on_added(void *arg, redisReply *r, const char *err) {
  send_ctx *c = arg;
  bool ok = r && r->type != REDIS_REPLY_ERROR;
  if (!ok) {
    c->t->events_dropped++;
    c->t->host->log(c->t->inst, EXECD_LOG_WARNING, "event not added to the events stream: %s",
                    r ? r->str : err);
  }
  if (c->done)
    c->done(c->arg, ok);
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

void events_send(rt *t, const char *tenant, const char *type, const json_t *event,
                 events_done_cb done, void *arg) {
  char *text = json_dumps(event, JSON_COMPACT);
  send_ctx *c = calloc(1, sizeof *c);
  bool sent = false;
  if (text && c) {
    c->t = t, c->done = done, c->arg = arg;
    char stream[512], maxlen[24];
    target(t, t->events_stream, tenant, stream, sizeof stream);
    snprintf(maxlen, sizeof maxlen, "%llu", (unsigned long long)t->events_maxlen);
    const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "type", type, "event", text};
    size_t lens[] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 4, strlen(type), 5, strlen(text)};
    sent = rt_command(t, on_added, c, 10, argv, lens) == 0;
    if (sent && t->events_channel) {
      char channel[512];
      target(t, t->events_channel, tenant, channel, sizeof channel);
      const char *pargv[] = {"PUBLISH", channel, text};
      size_t plens[] = {7, strlen(channel), strlen(text)};
      rt_command(t, on_published, NULL, 3, pargv, plens);
    }
  }
  free(text);
  if (sent) {
    t->events_down_logged = false;
    return;
  }
  free(c);
  t->events_dropped++;
  if (!t->events_down_logged)
    t->host->log(t->inst, EXECD_LOG_WARNING,
                 "redis is not connected: events are dropped until it is back (%s)",
                 uvredis_conn_error(t->cmd));
  t->events_down_logged = true;
  if (done)
    done(arg, false);
}

json_t *events_request_frame(rt *t, const char *type, const entry *e) {
  char now[40];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(now + n, sizeof now - n, ".%03ldZ", ts.tv_nsec / 1000000);
  json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type", type, "time", now, "stream",
                         e->id[0] ? t->requests_stream : t->requests_channel, "tenant",
                         e->tenant[0] ? e->tenant : RT_ANONYMOUS);
  if (!ev)
    return NULL;
  json_object_set_new(ev, "message_id", e->id[0] ? json_string(e->id) : json_null());
  json_object_set_new(ev, "correlation_id",
                      e->msg.correlation_id ? json_string(e->msg.correlation_id) : json_null());
  return ev;
}
