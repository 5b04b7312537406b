/* Demuxer of the engine's multiplexed stream format (attach and logs of a
 * container without a TTY): frames of [stream u8][0 0 0][length u32 BE]
 * followed by the payload.  Frames span read boundaries freely, so the
 * demuxer keeps a partial header and the bytes still owed to a payload. */
#ifndef EXECD_ENGINE_FRAMES_H
#define EXECD_ENGINE_FRAMES_H

#include <stddef.h>
#include <stdint.h>

enum { ENGINE_FRAME_STDIN = 0, ENGINE_FRAME_STDOUT = 1, ENGINE_FRAME_STDERR = 2 };

/* Payload bytes of one frame (or a piece of it) on stream 0, 1 or 2. */
typedef void (*engine_frame_cb)(void *arg, int stream, const char *data, size_t len);

typedef struct engine_frames {
  unsigned char header[8];
  size_t header_len;  /* header bytes collected so far */
  uint32_t remaining; /* payload bytes still owed to the current frame */
  int stream;         /* stream of the current frame */
  int bad;            /* a header with an unknown stream was seen */
  engine_frame_cb cb;
  void *arg;
} engine_frames;

void engine_frames_init(engine_frames *f, engine_frame_cb cb, void *arg);
/* Feeds bytes as they arrived.  Returns 0, or -1 once the stream is not in
 * this format (the rest is then ignored). */
int engine_frames_feed(engine_frames *f, const char *data, size_t len);
/* True if a frame is cut off (the stream ended in the middle of one). */
int engine_frames_partial(const engine_frames *f);

#endif
