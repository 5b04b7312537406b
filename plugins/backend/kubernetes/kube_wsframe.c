/* WebSocket frame codec; see kube_wsframe.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "kube_wsframe.h"

void kube_wsframe_init(kube_wsframe_dec *d) {
  memset(d, 0, sizeof *d);
  d->channel = -1;
}

static int fail(kube_wsframe_dec *d, const char *why) {
  d->error = why;
  return -1;
}

/* The header is complete when its extended length is: 2, 4 or 10 bytes. */
static size_t header_size(const unsigned char *h) {
  unsigned len7 = h[1] & 0x7f;
  return len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
}

static int start_frame(kube_wsframe_dec *d) {
  const unsigned char *h = d->hdr;
  if (h[0] & 0x70)
    return fail(d, "reserved bits set in a frame");
  if (h[1] & 0x80)
    return fail(d, "the server masked a frame");
  d->fin = (h[0] & 0x80) != 0;
  d->opcode = h[0] & 0x0f;
  unsigned len7 = h[1] & 0x7f;
  uint64_t len = len7;
  if (len7 == 126)
    len = (uint64_t)h[2] << 8 | h[3];
  else if (len7 == 127) {
    len = 0;
    for (int i = 2; i < 10; i++)
      len = len << 8 | h[i];
    if (len >> 63)
      return fail(d, "frame length over 2^63");
  }
  d->remaining = len;
  if (d->opcode >= 8) {
    if (!d->fin || len > sizeof d->control)
      return fail(d, "fragmented or oversized control frame");
    if (d->opcode != KUBE_WS_CLOSE && d->opcode != KUBE_WS_PING && d->opcode != KUBE_WS_PONG)
      return fail(d, "unknown control opcode");
    d->control_len = 0;
  } else if (d->opcode == 0) {
    if (!d->in_message)
      return fail(d, "continuation frame outside a message");
  } else if (d->opcode == 1 || d->opcode == 2) {
    if (d->in_message)
      return fail(d, "new message before the last one ended");
    d->in_message = 1;
    d->channel = -1;
  } else {
    return fail(d, "unknown data opcode");
  }
  return 0;
}

static void end_frame(kube_wsframe_dec *d, const kube_wsframe_cbs *cbs, void *arg) {
  if (d->opcode >= 8) {
    if (cbs->on_control)
      cbs->on_control(arg, d->opcode, d->control, d->control_len);
  } else if (d->fin) {
    d->in_message = 0;
    d->channel = -1;
  }
  d->hdr_len = 0;
}

int kube_wsframe_feed(kube_wsframe_dec *d, const char *data, size_t len,
                      const kube_wsframe_cbs *cbs, void *arg) {
  if (d->error)
    return -1;
  while (len > 0) {
    if (d->hdr_len < 2 || d->hdr_len < header_size(d->hdr)) {
      d->hdr[d->hdr_len++] = (unsigned char)*data++;
      len--;
      if (d->hdr_len >= 2 && d->hdr_len == header_size(d->hdr)) {
        if (start_frame(d) != 0)
          return -1;
        if (d->remaining == 0)
          end_frame(d, cbs, arg);
      }
      continue;
    }
    size_t take = d->remaining < len ? (size_t)d->remaining : len;
    if (d->opcode >= 8) {
      memcpy(d->control + d->control_len, data, take);
      d->control_len += take;
    } else {
      const char *p = data;
      size_t n = take;
      if (d->channel < 0) {
        d->channel = (unsigned char)*p;
        p++;
        n--;
      }
      if (n > 0 && cbs->on_data)
        cbs->on_data(arg, d->channel, p, n);
    }
    data += take;
    len -= take;
    d->remaining -= take;
    if (d->remaining == 0)
      end_frame(d, cbs, arg);
  }
  return 0;
}

char *kube_wsframe_encode(int opcode, int channel, const char *data, size_t len,
                          size_t *out_len) {
  size_t plen = len + (channel >= 0 ? 1 : 0);
  size_t hlen = plen < 126 ? 2 : plen <= 0xffff ? 4 : 10;
  char *f = malloc(hlen + 4 + plen);
  if (!f)
    return NULL;
  unsigned char *h = (unsigned char *)f;
  h[0] = (unsigned char)(0x80 | (opcode & 0x0f));
  if (plen < 126) {
    h[1] = (unsigned char)(0x80 | plen);
  } else if (plen <= 0xffff) {
    h[1] = 0x80 | 126;
    h[2] = (unsigned char)(plen >> 8);
    h[3] = (unsigned char)plen;
  } else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
      h[2 + i] = (unsigned char)((uint64_t)plen >> (56 - 8 * i));
  }
  unsigned char mask[4];
  if (RAND_bytes(mask, sizeof mask) != 1)
    memset(mask, 0x5a, sizeof mask);
  memcpy(h + hlen, mask, 4);
  unsigned char *p = h + hlen + 4;
  size_t i = 0;
  if (channel >= 0)
    p[i++] = (unsigned char)channel;
  memcpy(p + i, data, len);
  for (size_t k = 0; k < plen; k++)
    p[k] ^= mask[k & 3];
  *out_len = hlen + 4 + plen;
  return f;
}
