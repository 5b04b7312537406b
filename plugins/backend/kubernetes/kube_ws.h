/* A pod's exec or attach stream: an HTTP upgrade to WebSocket on a
 * connection of its own (httpc_conn, so TLS and client certificates as
 * the API client has them), with the "v4.channel.k8s.io" subprotocol
 * (kube_wsframe.h).  Everything runs on the loop. */
#ifndef EXECD_KUBE_WS_H
#define EXECD_KUBE_WS_H

#include <stddef.h>

#include "httpc/httpc.h"

typedef struct kube_ws kube_ws;

typedef struct kube_ws_cbs {
  /* The upgrade was answered (status 0) or refused or broke (status < 0,
   * error says why, with the HTTP status and the server's message).
   * Called once, first. */
  void (*on_open)(void *arg, int status, const char *error);
  /* Bytes of a channel (1 stdout, 2 stderr, 3 the final Status). */
  void (*on_data)(void *arg, int channel, const char *data, size_t len);
  /* The stream ended: the server closed it (status 0) or it broke
   * (status < 0, error says why).  At most once, after a good open. */
  void (*on_end)(void *arg, int status, const char *error);
} kube_ws_cbs;

/* Opens path (with its query) on the client's server; auth_header is
 * "Authorization: Bearer ..." or NULL.  Returns NULL when out of memory
 * or when the server's address is not known yet. */
kube_ws *kube_ws_open(httpc_client *c, const char *path, const char *auth_header,
                      const kube_ws_cbs *cbs, void *arg);
/* Sends data on channel (0: stdin) in frames of at most 256 KiB.  Only
 * after a good open.  Returns 0 or -1. */
int kube_ws_send(kube_ws *ws, int channel, const char *data, size_t len);
/* Sends a close frame: this side is done. */
int kube_ws_finish(kube_ws *ws);
/* Closes the stream; no callback runs after this.  Safe inside one. */
void kube_ws_close(kube_ws *ws);

#endif
