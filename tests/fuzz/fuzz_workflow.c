/* libFuzzer target: a job's output as the core reads it.  The input is fed
 * to the line splitter in slices whose sizes come from its first bytes (a
 * job writes in any slicing), and every complete line goes through
 * workflow_parse_line() as job_output.c does.  Checked besides memory
 * safety: every byte comes out once, in order, no piece is longer than
 * WORKFLOW_MAX_LINE, and a command's payload has the promised shape. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "workflow.h"

typedef struct seen {
  const uint8_t *input; /* the bytes fed, to compare with what comes out */
  size_t size, out;
} seen;

static void on_line(void *arg, const char *line, size_t len, int complete) {
  seen *s = arg;
  if (len == 0 || len > WORKFLOW_MAX_LINE || s->out + len > s->size ||
      memcmp(s->input + s->out, line, len) != 0)
    abort();
  s->out += len;
  if (!complete)
    return;
  json_t *payload;
  const char *why;
  /* Small bounds, so that the fuzzer reaches the refusals of deep or large
   * arguments as well as the accepted ones. */
  static const json_bounds bounds = {.depth_max = 8, .elements_max = 256};
  workflow_kind kind = workflow_parse_line(line, len, &bounds, &payload, &why);
  switch (kind) {
  case WORKFLOW_PROGRESS: {
    double pct = json_number_value(json_object_get(payload, "percent"));
    if (!json_is_object(payload) || pct < 0 || pct > 100)
      abort();
    break;
  }
  case WORKFLOW_CHECKPOINT:
    if (!json_is_string(json_object_get(payload, "token")) ||
        !json_object_get(payload, "data"))
      abort();
    break;
  case WORKFLOW_INVALID:
    if (!why || payload)
      abort();
    break;
  case WORKFLOW_NONE:
    if (payload)
      abort();
    break;
  }
  json_decref(payload);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Two bytes of slicing: the first slice's size, then a stride. */
  if (size < 2)
    return 0;
  size_t first = data[0], stride = (size_t)data[1] * 64 + 1;
  data += 2;
  size -= 2;
  seen s = {data, size, 0};
  line_splitter ls = {0};
  size_t off = 0, slice = first ? first : stride;
  while (off < size) {
    size_t n = size - off < slice ? size - off : slice;
    line_splitter_feed(&ls, (const char *)data + off, n, on_line, &s);
    off += n;
    slice = stride;
  }
  line_splitter_flush(&ls, on_line, &s);
  line_splitter_free(&ls);
  if (s.out != size)
    abort();
  return 0;
}
