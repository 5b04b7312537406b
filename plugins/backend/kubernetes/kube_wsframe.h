/* WebSocket frames (RFC 6455) as the API server's exec and attach speak
 * them with the "v4.channel.k8s.io" subprotocol: every binary message
 * starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 the final
 * Status).  The decoder streams payloads through without holding them,
 * so a message's size costs nothing; control frames (at most 125 bytes by
 * the RFC) are held whole.  Pure: tests/fuzz/fuzz_kube_api.c feeds it. */
#ifndef EXECD_KUBE_WSFRAME_H
#define EXECD_KUBE_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

enum { KUBE_WS_CLOSE = 8, KUBE_WS_PING = 9, KUBE_WS_PONG = 10 };

typedef struct kube_wsframe_cbs {
  /* Payload bytes of a data message on channel (the channel byte taken). */
  void (*on_data)(void *arg, int channel, const char *data, size_t len);
  /* A whole control frame (close, ping, pong). */
  void (*on_control)(void *arg, int opcode, const char *data, size_t len);
} kube_wsframe_cbs;

typedef struct kube_wsframe_dec {
  unsigned char hdr[14];
  size_t hdr_len;
  int opcode;          /* of the frame being read */
  uint64_t remaining;  /* its payload bytes still to come */
  int channel;         /* of the message under way, -1 before its first byte */
  int in_message;      /* a data message whose final frame is still to come */
  int fin;
  char control[125];
  size_t control_len;
  const char *error;   /* set when the stream broke the protocol */
} kube_wsframe_dec;

void kube_wsframe_init(kube_wsframe_dec *d);
/* Decodes data.  Returns 0, or -1 with d->error set (nothing after an
 * error is valid). */
int kube_wsframe_feed(kube_wsframe_dec *d, const char *data, size_t len,
                      const kube_wsframe_cbs *cbs, void *arg);

/* One masked client frame (opcode 2 binary with the channel byte before
 * data, or a control opcode with channel < 0) into a new buffer.
 * Returns it (malloc'd, *out_len its size) or NULL when out of memory. */
char *kube_wsframe_encode(int opcode, int channel, const char *data, size_t len,
                          size_t *out_len);

#endif
