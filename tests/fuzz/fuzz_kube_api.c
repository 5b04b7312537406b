/* libFuzzer target: what the kubernetes backend reads from the API server
 * (plugins/backend/kubernetes/kube_api.c, kube_wsframe.c).  The input is
 * cut by its first byte: the WebSocket frame decoder gets it fed whole and
 * in slices (both must give the same channel bytes and verdict); the
 * watch line splitter gets it in slices, and every line goes through the
 * bounded JSON parser, the watch event, the pod status and the Status
 * parsers. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "../../plugins/backend/kubernetes/kube_api.h"
#include "../../plugins/backend/kubernetes/kube_wsframe.h"
#include "fuzz_support.h"

typedef struct got {
  char *bytes[256]; /* what each channel got, concatenated */
  size_t len[256];
  int controls;
} got;

static void on_data(void *arg, int channel, const char *data, size_t len) {
  got *g = arg;
  if (channel < 0 || channel > 255 || len == 0)
    abort();
  char *p = realloc(g->bytes[channel], g->len[channel] + len);
  if (!p)
    abort();
  memcpy(p + g->len[channel], data, len);
  g->bytes[channel] = p;
  g->len[channel] += len;
}

static void on_control(void *arg, int opcode, const char *data, size_t len) {
  got *g = arg;
  (void)data;
  if (len > 125 || opcode < 8)
    abort();
  g->controls++;
}

static const kube_wsframe_cbs cbs = {on_data, on_control};

static int on_line(void *arg, const char *line, size_t len) {
  (void)arg;
  char err[200];
  json_t *doc = kube_json_parse(line, len, err, sizeof err);
  if (!doc)
    return 0;
  const char *type;
  const json_t *obj;
  if (kube_watch_event(doc, &type, &obj) == 0) {
    kube_pod_status st;
    kube_pod_status_parse(obj, "init", "job", "execd-helper", &st);
    kube_status s;
    kube_status_parse(obj, &s);
    kube_resource_version(obj);
  }
  kube_status s;
  if (kube_status_parse(doc, &s) == 0 && (s.exit_code < -1 || s.exit_code > 255))
    abort();
  json_decref(doc);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  size_t step = (size_t)data[0] % 17 + 1;
  const char *in = (const char *)data + 1;
  size_t n = size - 1;

  kube_wsframe_dec whole, sliced;
  got a = {0}, b = {0};
  kube_wsframe_init(&whole);
  kube_wsframe_init(&sliced);
  int ra = kube_wsframe_feed(&whole, in, n, &cbs, &a);
  int rb = 0;
  for (size_t off = 0; off < n && rb == 0; off += step)
    rb = kube_wsframe_feed(&sliced, in + off, n - off < step ? n - off : step, &cbs, &b);
  if (ra != rb || a.controls != b.controls)
    abort();
  for (int c = 0; c < 256; c++) {
    if (a.len[c] != b.len[c] || (a.len[c] && memcmp(a.bytes[c], b.bytes[c], a.len[c]) != 0))
      abort();
    free(a.bytes[c]);
    free(b.bytes[c]);
  }

  kube_lines lines = {.max = 4096};
  for (size_t off = 0; off < n; off += step)
    if (kube_lines_feed(&lines, in + off, n - off < step ? n - off : step, on_line, NULL) < 0)
      break;
  kube_lines_reset(&lines);

  size_t flen;
  char *f = kube_wsframe_encode(2, 0, in, n, &flen);
  if (!f || flen < n + 1)
    abort();
  free(f);
  return 0;
}
