/* The pub/sub style of existing publishers: PUBLISH exec-requests <json>.
 * At most once by nature: a message published while execd is not
 * subscribed is lost, and one execd cannot take now (queue full, storage
 * away) is refused with the error published, not retried. */
#include "config.h"

#include <string.h>

#include "redis_internal.h"

static void on_message(void *arg, redisReply *r, const char *err) {
  rt *t = arg;
  (void)err;
  if (!r || t->stopping || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0 ||
      r->element[2]->type != REDIS_REPLY_STRING)
    return; /* the subscription's confirmation, or its end */
  entry *e = entry_new(t, NULL);
  if (!e)
    return;
  message_error me;
  if (message_from_payload(r->element[2]->str, r->element[2]->len, &t->limits, &e->msg, &me) != 0) {
    intake_reject(e, me.code, me.field, me.text);
    return;
  }
  if (rt_authenticate(e) != 0)
    return;
  intake_submit(e);
}

void plain_state(void *arg, bool up, const char *why) {
  rt *t = arg;
  if (!up) {
    t->host->log(t->inst, EXECD_LOG_WARNING,
                 "redis subscription: %s (messages published meanwhile are lost)", why);
    return;
  }
  const char *argv[] = {"SUBSCRIBE", t->requests_channel};
  size_t lens[] = {9, strlen(t->requests_channel)};
  if (uvredis_command(t->sub, UVREDIS_TIMEOUT_NONE, on_message, t, 2, argv, lens) != 0)
    t->host->log(t->inst, EXECD_LOG_ERR, "cannot SUBSCRIBE %s", t->requests_channel);
}
