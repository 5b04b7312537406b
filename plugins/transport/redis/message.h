/* A request message as it arrives from Redis, checked and turned into the
 * request text execd's submit takes.  Pure: no I/O, no Redis, no host
 * (the fuzz target tests/fuzz/fuzz_redis_message.c drives it).
 *
 * A stream entry (XADD exec-requests * request <json> [token <t>]
 * [correlation_id <c>]) has the fields:
 *   request         the execution request, a JSON object (required)
 *   token           the tenant's bearer token
 *   correlation_id  copied into the request when it has none
 * A pub/sub payload (PUBLISH exec-requests <json>) is the request itself,
 * or an envelope {"request": {...}, "token": "...", "correlation_id": "..."}.
 *
 * The request is parsed (after a scan of its depth and value count) only
 * to add what the message says: the idempotency key of a stream entry
 * without one ("redis:<stream>:<entry id>", so a redelivery is the same
 * execution), and the correlation id. */
#ifndef EXECD_REDIS_MESSAGE_H
#define EXECD_REDIS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct message_limits {
  size_t message_max;  /* bytes of all fields together */
  size_t depth_max;    /* arrays and objects open at once */
  size_t elements_max; /* JSON values, keys included */
} message_limits;

/* A message accepted for submission.  Owned: message_clear. */
typedef struct message {
  char *body;           /* the request JSON to submit */
  size_t len;
  char *token;          /* NULL when the message has none */
  char *correlation_id; /* the request's, NULL when none */
} message;

/* Why a message is refused, for the published error: code (static),
 * message, and the field at fault (static, or NULL). */
typedef struct message_error {
  const char *code;
  const char *field;
  char text[256];
} message_error;

/* A stream entry's fields (names[i] = values[i]; n pairs).  idem_key is
 * the idempotency key to add when the request has none (NULL: none).
 * 0, or -1 with err filled. */
int message_from_fields(const char *const *names, const size_t *name_lens,
                        const char *const *values, const size_t *value_lens, size_t n,
                        const char *idem_key, const message_limits *lim, message *out,
                        message_error *err);

/* A pub/sub payload.  0, or -1 with err filled. */
int message_from_payload(const char *payload, size_t len, const message_limits *lim,
                         message *out, message_error *err);

void message_clear(message *m);

#endif
