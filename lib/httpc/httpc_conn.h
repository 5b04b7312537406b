/* A byte stream to the engine on the libuv loop, for what libcurl cannot
 * do (the hijacked attach, engine_attach.h): a uv_pipe to a unix socket, a
 * uv_tcp, or a uv_tcp carrying TLS (engine_tls.h).  The transports differ
 * only here; above, bytes are bytes.  Half-closing the write side while
 * still reading is the point: on TLS it is close_notify, then the TCP
 * shutdown. */
#ifndef EXECD_ENGINE_CONN_H
#define EXECD_ENGINE_CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#include "httpc_endpoint.h"

typedef struct engine_conn engine_conn;

typedef struct engine_conn_cbs {
  /* Connected (TLS: the handshake is done): status 0; or it failed:
   * status < 0 and error says why.  Called once, first. */
  void (*on_connect)(void *arg, int status, const char *error);
  /* Bytes from the engine (decrypted), in order. */
  void (*on_data)(void *arg, const char *data, size_t len);
  /* The engine ended the stream (status 0) or it broke (< 0, error says
   * why).  Called at most once, after a successful connect. */
  void (*on_end)(void *arg, int status, const char *error);
} engine_conn_cbs;

/* Connects to ep: its unix socket, or for TCP the address peer (an
 * engine_client_peer answer; no name is looked up here).  ep is only read
 * during the call.  Returns NULL when out of memory. */
engine_conn *engine_conn_open(uv_loop_t *loop, const engine_endpoint *ep,
                              const struct sockaddr_storage *peer, const engine_conn_cbs *cbs,
                              void *arg);
/* Sends data (copied).  Only once connected.  Returns 0 or -1. */
int engine_conn_write(engine_conn *c, const char *data, size_t len);
/* Ends this side of the stream once what was written is sent; reading
 * goes on.  Returns 0 or -1. */
int engine_conn_shutdown(engine_conn *c);
/* Closes the connection; no callback runs after this but on_closed(arg)
 * (may be NULL), once libuv has closed the handle and c is gone, so the
 * owner of arg can free it then. */
void engine_conn_close(engine_conn *c, void (*on_closed)(void *arg));

#endif
