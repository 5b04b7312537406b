/* libFuzzer target: a request message of the redis transport
 * (plugins/transport/redis/message.c).  The first byte picks the form: a
 * stream entry (the rest split at NUL bytes into field, value, field,
 * value...) or a pub/sub payload (the rest as is).  Small limits, so that
 * every refusal is reached.  Checked besides memory safety: a refusal has
 * a code and a sentence; an accepted message gives a JSON object that
 * parses, whose idempotency key (a stream entry's) and correlation id are
 * strings. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_support.h"
#include "message.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

#define FIELDS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const message_limits lim = {.message_max = 4096, .depth_max = 8, .elements_max = 64};
  int stream = data[0] & 1;
  const char *rest = (const char *)data + 1;
  size_t len = size - 1;
  message m;
  message_error err;
  int rc;
  if (stream) {
    const char *parts[2 * FIELDS_MAX];
    size_t lens[2 * FIELDS_MAX], n = 0, start = 0;
    for (size_t i = 0; i <= len && n < 2 * FIELDS_MAX; i++) {
      if (i == len || rest[i] == '\0') {
        parts[n] = rest + start;
        lens[n++] = i - start;
        start = i + 1;
      }
    }
    n -= n % 2;
    const char *names[FIELDS_MAX], *values[FIELDS_MAX];
    size_t nl[FIELDS_MAX], vl[FIELDS_MAX];
    for (size_t i = 0; i < n / 2; i++) {
      names[i] = parts[2 * i], nl[i] = lens[2 * i];
      values[i] = parts[2 * i + 1], vl[i] = lens[2 * i + 1];
    }
    rc = message_from_fields(names, nl, values, vl, n / 2, "redis:s:1-0", &lim, &m, &err);
  } else {
    rc = message_from_payload(rest, len, &lim, &m, &err);
  }
  if (rc != 0) {
    if (!err.code || !*err.code || !err.text[0])
      abort();
    return 0;
  }
  json_t *doc = json_loadb(m.body, m.len, 0, NULL);
  if (!json_is_object(doc))
    abort();
  if (stream && !json_is_string(json_object_get(doc, "idempotency_key")) &&
      !json_object_get(doc, "idempotency_key"))
    abort();
  json_t *cid = json_object_get(doc, "correlation_id");
  if (m.correlation_id && (!json_is_string(cid) || strcmp(json_string_value(cid), m.correlation_id)))
    abort();
  json_decref(doc);
  message_clear(&m);
  return 0;
}
