/* The 8-byte multiplexed stream demuxer; see engine_frames.h. */
#include "config.h"

#include <string.h>

#include "engine_frames.h"

void engine_frames_init(engine_frames *f, engine_frame_cb cb, void *arg) {
  memset(f, 0, sizeof *f);
  f->cb = cb;
  f->arg = arg;
}

int engine_frames_feed(engine_frames *f, const char *data, size_t len) {
  if (f->bad)
    return -1;
  while (len > 0) {
    if (f->remaining > 0) {
      size_t n = len < f->remaining ? len : f->remaining;
      f->cb(f->arg, f->stream, data, n);
      f->remaining -= (uint32_t)n;
      data += n;
      len -= n;
      continue;
    }
    size_t want = sizeof f->header - f->header_len;
    size_t n = len < want ? len : want;
    memcpy(f->header + f->header_len, data, n);
    f->header_len += n;
    data += n;
    len -= n;
    if (f->header_len < sizeof f->header)
      break;
    f->header_len = 0;
    if (f->header[0] > ENGINE_FRAME_STDERR || f->header[1] || f->header[2] || f->header[3]) {
      f->bad = 1;
      return -1;
    }
    f->stream = f->header[0];
    f->remaining = (uint32_t)f->header[4] << 24 | (uint32_t)f->header[5] << 16 |
                   (uint32_t)f->header[6] << 8 | (uint32_t)f->header[7];
  }
  return 0;
}

int engine_frames_partial(const engine_frames *f) {
  return f->header_len > 0 || f->remaining > 0;
}
