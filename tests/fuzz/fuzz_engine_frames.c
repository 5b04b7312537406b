/* libFuzzer target: the demuxer of the container engine's multiplexed
 * stream (lib/container/engine_frames.c), as attach and logs responses feed
 * it.  The stream is fed once whole and once in slices whose sizes come
 * from the input's first byte; both must give the same bytes on the same
 * streams and the same verdict, every payload byte must come from the
 * input, and never more payload than the input held. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "container/engine_frames.h"
#include "fuzz_support.h"

typedef struct demuxed {
  char *bytes[3]; /* what each stream got, concatenated */
  size_t len[3];
  const char *input;
  size_t input_len;
} demuxed;

static void on_frame(void *arg, int stream, const char *data, size_t len) {
  demuxed *d = arg;
  if (stream < 0 || stream > 2 || data < d->input ||
      data + len > d->input + d->input_len)
    abort();
  char *grown = realloc(d->bytes[stream], d->len[stream] + len + 1);
  if (!grown)
    abort();
  memcpy(grown + d->len[stream], data, len);
  d->bytes[stream] = grown;
  d->len[stream] += len;
}

/* Feeds input in slices of slice bytes (0: whole); returns the verdict. */
static int demux(const char *input, size_t len, size_t slice, demuxed *d,
                 int *partial) {
  memset(d, 0, sizeof *d);
  d->input = input;
  d->input_len = len;
  engine_frames f;
  engine_frames_init(&f, on_frame, d);
  int rc = 0;
  size_t off = 0;
  do {
    size_t n = slice && len - off > slice ? slice : len - off;
    if (engine_frames_feed(&f, input + off, n) != 0)
      rc = -1;
    off += n;
  } while (off < len);
  *partial = engine_frames_partial(&f);
  return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t slice = (size_t)data[0] % 17 + 1;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  demuxed whole, sliced;
  int whole_partial, sliced_partial;
  int whole_rc = demux(in, len, 0, &whole, &whole_partial);
  int sliced_rc = demux(in, len, slice, &sliced, &sliced_partial);
  size_t total = 0;
  for (int s = 0; s < 3; s++) {
    total += whole.len[s];
    if (whole.len[s] != sliced.len[s] ||
        (whole.len[s] && memcmp(whole.bytes[s], sliced.bytes[s], whole.len[s]) != 0))
      abort();
    free(whole.bytes[s]);
    free(sliced.bytes[s]);
  }
  if (whole_rc != sliced_rc || total > len ||
      (whole_rc == 0 && whole_partial != sliced_partial))
    abort();
  return 0;
}
