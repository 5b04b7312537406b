/* A byte stream to a server on the libuv loop, for what libcurl cannot
 * do (a hijacked connection, such as a container engine's attach,
 * lib/container/engine_attach.h): a uv_pipe to a unix socket, a
 * uv_tcp, or a uv_tcp carrying TLS (httpc_tls.h).  The transports differ
 * only here; above, bytes are bytes.  Half-closing the write side while
 * still reading is the point: on TLS it is close_notify, then the TCP
 * shutdown. */
#ifndef EXECD_HTTPC_CONN_H
#define EXECD_HTTPC_CONN_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

#include "httpc_endpoint.h"

typedef struct httpc_conn httpc_conn;

typedef struct httpc_conn_cbs {
  /* Connected (TLS: the handshake is done): status 0; or it failed:
   * status < 0 and error says why.  Called once, first. */
  void (*on_connect)(void *arg, int status, const char *error);
  /* Bytes from the server (decrypted), in order. */
  void (*on_data)(void *arg, const char *data, size_t len);
  /* The server ended the stream (status 0) or it broke (< 0, error says
   * why).  Called at most once, after a successful connect. */
  void (*on_end)(void *arg, int status, const char *error);
} httpc_conn_cbs;

/* Connects to ep: its unix socket, or for TCP the address peer (an
 * httpc_client_peer answer; no name is looked up here).  ep is only read
 * during the call.  Returns NULL when out of memory. */
httpc_conn *httpc_conn_open(uv_loop_t *loop, const httpc_endpoint *ep,
                            const struct sockaddr_storage *peer, const httpc_conn_cbs *cbs,
                            void *arg);
/* Sends data (copied).  Only once connected.  Returns 0 or -1. */
int httpc_conn_write(httpc_conn *c, const char *data, size_t len);
/* Ends this side of the stream once what was written is sent; reading
 * goes on.  Returns 0 or -1. */
int httpc_conn_shutdown(httpc_conn *c);
/* Closes the connection; no callback runs after this but on_closed(arg)
 * (may be NULL), once libuv has closed the handle and c is gone, so the
 * owner of arg can free it then. */
void httpc_conn_close(httpc_conn *c, void (*on_closed)(void *arg));

#endif
