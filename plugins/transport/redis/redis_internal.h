/* The redis transport (doc/transport-redis.md): what its files share.
 *
 *   redis.c   descriptor, configuration, lifecycle, health, the publish op
 *   intake.c  the requests stream: consumer group, XREADGROUP, submit,
 *             XACK, backpressure
 *   reclaim.c XPENDING / XAUTOCLAIM of idle messages, the dead-letter stream
 *   plain.c   the at-most-once pub/sub style (SUBSCRIBE exec-requests)
 *   events.c  events and errors out: XADD (MAXLEN ~) and PUBLISH
 *   message.c a message's fields into the request text (pure; fuzzed)
 *
 * Three connections (lib/uvredis): cmd for short commands, reader for the
 * blocking XREADGROUP, sub for the subscription.  Everything runs on the
 * loop thread. */
#ifndef EXECD_REDIS_INTERNAL_H
#define EXECD_REDIS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <execd/plugin.h>

#include "message.h"
#include "uvredis/uvredis.h"

#define RT_ANONYMOUS EXECD_TENANT_ANONYMOUS
#define RT_TENANT_MAX EXECD_TENANT_MAX
#define RT_ID_MAX 48 /* a stream entry id: two 20-digit numbers and '-' */

typedef struct rt rt;

/* An event waiting for Redis to come back (events.c). */
#define EVENTS_HELD_MAX 10000
typedef struct held_event {
  struct held_event *next;
  char *tenant, *type, *text;
} held_event;

/* One message being handled, from its read to its XACK (or to being left
 * pending).  Owned by t->entries. */
typedef struct entry {
  rt *t;
  char id[RT_ID_MAX]; /* "" for a pub/sub message */
  message msg;
  char tenant[RT_TENANT_MAX + 1];
  bool live;          /* counted in t->inflight */
  struct entry *prev, *next;  /* t->entries */
  struct entry *retry_next;   /* t->retry_head */
} entry;

struct rt {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;

  /* configuration */
  uvredis_config redis;
  char *address;
  char *consumer;
  char *group;
  char *requests_stream;
  char *requests_channel; /* NULL: no pub/sub intake */
  char *events_stream;
  char *events_channel;   /* NULL: no PUBLISH of events */
  char *dead_letter_stream;
  bool events_per_tenant;
  uint64_t events_maxlen;
  uint64_t max_deliveries;
  uint64_t claim_idle_ms;
  uint64_t read_batch;
  message_limits limits;

  /* connections */
  uvredis_conn *cmd, *reader, *sub;
  bool stopping;

  /* intake (intake.c) */
  bool group_ready, group_creating;
  bool reading;
  bool history_done;          /* our own pending entries were read again */
  bool history_wanted;        /* read them again (an XACK was lost) */
  bool read_is_history;       /* the read in flight is of our pending ones */
  char history_from[RT_ID_MAX];
  size_t inflight;
  entry *entries;
  entry *retry_head, *retry_tail;
  uv_timer_t retry_timer;
  uint64_t retry_ms;
  uv_timer_t read_timer;      /* a read after an error, later */
  bool timers_init;

  /* reclaim.c */
  uv_timer_t claim_timer;
  bool claiming;

  /* events.c */
  uint64_t events_dropped;
  bool events_down_logged;
  held_event *held_head, *held_tail;
  size_t held_count;
};

/* intake.c */
void intake_init(rt *t);
void intake_reader_state(void *arg, bool up, const char *why);
void intake_cmd_up(rt *t);
/* Handles one stream entry (from a read or a claim): fields is the
 * entry's [name, value, ...] array, or NULL/nil when it was deleted. */
void intake_entry(rt *t, const char *id, const redisReply *fields);
bool intake_is_live(rt *t, const char *id);
/* Submits e's request; acknowledges, retries or refuses on the answer. */
void intake_submit(entry *e);
/* Publishes err for e, then acknowledges e (a permanent refusal). */
void intake_reject(entry *e, const char *code, const char *field, const char *text);
void intake_stop(rt *t);
void intake_free(rt *t);
entry *entry_new(rt *t, const char *id);
void entry_done(entry *e);

/* reclaim.c */
void reclaim_start(rt *t);
void reclaim_stop(rt *t);

/* plain.c */
void plain_state(void *arg, bool up, const char *why);

/* events.c */
typedef void (*events_done_cb)(void *arg, bool ok);
/* Sends event (borrowed) of tenant (NULL: the shared stream and channel)
 * to the events stream and channel; done (may be NULL) hears whether the
 * stream has it. */
void events_send(rt *t, const char *tenant, const char *type, const json_t *event,
                 events_done_cb done, void *arg);
/* Sends the events held while Redis was away (on reconnection). */
void events_flush(rt *t);
void events_clear(rt *t);
/* {"type": type, "message_id", "stream", "correlation_id", "tenant",
 * "time", ...}: the frame of request.* events. */
json_t *events_request_frame(rt *t, const char *type, const entry *e);

/* redis.c */
/* Sends argv on the cmd connection; -1 when it is down. */
int rt_command(rt *t, uvredis_reply_cb cb, void *arg, int argc, const char **argv,
               const size_t *lens);
/* The tenant of a message's token into e->tenant; 0, or -1 with a
 * rejection published. */
int rt_authenticate(entry *e);

#endif
