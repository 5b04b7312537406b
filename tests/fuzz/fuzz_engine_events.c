/* libFuzzer target: the engine's event stream (lib/container/engine_events.c),
 * as the docker backend follows it for die events.  The stream is fed
 * whole and in slices whose sizes come from the input's first byte: both
 * must report the same die events, each with an id that is a non-empty
 * string of the input's and an exit code from 0 to 255. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/engine_events.h"

typedef struct seen {
  unsigned count;
  unsigned long long hash;
} seen;

static void on_die(void *arg, const char *id, int exit_code) {
  seen *s = arg;
  size_t n = strlen(id);
  if (n == 0 || n >= 128 || exit_code < 0 || exit_code > 255)
    abort();
  s->count++;
  for (size_t i = 0; i < n; i++)
    s->hash = (s->hash ^ (unsigned char)id[i]) * 1099511628211ull;
  s->hash = (s->hash ^ (unsigned)exit_code) * 1099511628211ull;
}

static seen feed(const char *in, size_t len, size_t slice) {
  seen s = {0, 1469598103934665603ull};
  engine_events e;
  if (engine_events_init(&e, on_die, &s) != 0)
    abort();
  for (size_t off = 0; off < len;) {
    size_t n = slice && len - off > slice ? slice : len - off;
    engine_events_feed(&e, in + off, n);
    off += n;
  }
  engine_events_clear(&e);
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t slice = (size_t)data[0] % 23 + 1;
  char *in = malloc(size - 1 ? size - 1 : 1);
  if (!in)
    return 0;
  memcpy(in, data + 1, size - 1);
  seen whole = feed(in, size - 1, 0), sliced = feed(in, size - 1, slice);
  if (whole.count != sliced.count || whole.hash != sliced.hash)
    abort();
  free(in);
  return 0;
}
