/* Byte streams to a server; see httpc_conn.h.  Plain transports hand
 * the bytes through; TLS feeds what is read into the session and sends
 * whatever the session produces after every step. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpc_conn.h"
#include "httpc_tls.h"

struct httpc_conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  uv_connect_t connect;
  uv_shutdown_t shutdown;
  httpc_tls *tls;   /* NULL: the bytes go as they are */
  int connected;    /* on_connect(0) was reported */
  int done;         /* a failure or the end was reported: nothing more */
  int shut;         /* the write side is ended */
  int closing;
  httpc_conn_cbs cbs;
  void *arg;
  void (*on_closed)(void *arg);
};

/* A write owns its buffer. */
typedef struct write_req {
  uv_write_t req;
  httpc_conn *c;
  char *buf;
} write_req;

static void on_closed(uv_handle_t *h) {
  httpc_conn *c = h->data;
  void (*closed)(void *) = c->on_closed;
  void *arg = c->arg;
  httpc_tls_free(c->tls);
  free(c);
  if (closed)
    closed(arg);
}

/* The connect or the stream failed: reported once, then silence. */
static void fail(httpc_conn *c, const char *error) {
  if (c->done || c->closing)
    return;
  c->done = 1;
  uv_read_stop(&c->h.stream);
  if (c->connected)
    c->cbs.on_end(c->arg, -1, error);
  else
    c->cbs.on_connect(c->arg, -1, error);
}

static void finish(httpc_conn *c) {
  if (c->done || c->closing)
    return;
  if (!c->connected) {
    fail(c, "the engine closed the connection during the TLS handshake");
    return;
  }
  c->done = 1;
  uv_read_stop(&c->h.stream);
  c->cbs.on_end(c->arg, 0, NULL);
}

static void on_written(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  if (status < 0 && status != UV_ECANCELED) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot send to the engine: %s", uv_strerror(status));
    fail(wr->c, msg);
  }
  free(wr->buf);
  free(wr);
}

/* Sends buf (taken over) as it is. */
static int send_owned(httpc_conn *c, char *buf, size_t len) {
  write_req *wr = malloc(sizeof *wr);
  if (!wr) {
    free(buf);
    return -1;
  }
  wr->c = c;
  wr->buf = buf;
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  if (uv_write(&wr->req, &c->h.stream, &b, 1, on_written) != 0) {
    free(buf);
    free(wr);
    return -1;
  }
  return 0;
}

/* What the TLS session wrote (records, alerts, close_notify) goes out. */
static int flush_tls(httpc_conn *c) {
  size_t len;
  char *out;
  while ((out = httpc_tls_take_output(c->tls, &len)))
    if (send_owned(c, out, len) != 0)
      return -1;
  return 0;
}

static void deliver_tls(httpc_conn *c) {
  char buf[16384];
  while (!c->closing && !c->done) {
    ssize_t n = httpc_tls_read(c->tls, buf, sizeof buf);
    if (n > 0) {
      c->cbs.on_data(c->arg, buf, (size_t)n);
      continue;
    }
    if (flush_tls(c) != 0) /* a read can answer too (a key update) */
      fail(c, "out of memory");
    else if (n == HTTPC_TLS_EOF)
      finish(c);
    else if (n < 0)
      fail(c, httpc_tls_error(c->tls));
    return;
  }
}

static void advance_handshake(httpc_conn *c) {
  int hs = httpc_tls_handshake(c->tls);
  if (flush_tls(c) != 0) {
    fail(c, "out of memory");
    return;
  }
  if (hs < 0) {
    fail(c, httpc_tls_error(c->tls));
  } else if (hs == 1) {
    c->connected = 1;
    c->cbs.on_connect(c->arg, 0, NULL);
    deliver_tls(c); /* application data may have come with the last handshake bytes */
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  httpc_conn *c = s->data;
  if (n == UV_EOF) {
    finish(c);
  } else if (n < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "the connection broke: %s", uv_strerror((int)n));
    fail(c, msg);
  } else if (n > 0 && !c->done && !c->closing) {
    if (!c->tls)
      c->cbs.on_data(c->arg, buf->base, (size_t)n);
    else if (httpc_tls_feed(c->tls, buf->base, (size_t)n) != 0)
      fail(c, "out of memory");
    else if (!c->connected)
      advance_handshake(c);
    else
      deliver_tls(c);
  }
  free(buf->base);
}

static void on_connected(uv_connect_t *req, int status) {
  httpc_conn *c = req->data;
  if (c->closing)
    return;
  if (status < 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "cannot connect to the engine: %s", uv_strerror(status));
    fail(c, msg);
    return;
  }
  uv_read_start(&c->h.stream, on_alloc, on_read);
  if (c->tls) {
    advance_handshake(c); /* sends the ClientHello */
  } else {
    c->connected = 1;
    c->cbs.on_connect(c->arg, 0, NULL);
  }
}

httpc_conn *httpc_conn_open(uv_loop_t *loop, const httpc_endpoint *ep,
                            const struct sockaddr_storage *peer, const httpc_conn_cbs *cbs,
                            void *arg) {
  if (!ep->unix_path && !peer)
    return NULL;
  httpc_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->cbs = *cbs;
  c->arg = arg;
  c->connect.data = c;
  if (ep->unix_path) {
    uv_pipe_init(loop, &c->h.pipe, 0);
    c->h.handle.data = c;
    uv_pipe_connect(&c->connect, &c->h.pipe, ep->unix_path, on_connected);
    return c;
  }
  if (ep->tls && !(c->tls = httpc_tls_new(ep->ssl_ctx, ep->host, ep->tls_verify))) {
    free(c);
    return NULL;
  }
  uv_tcp_init(loop, &c->h.tcp);
  c->h.handle.data = c;
  uv_tcp_nodelay(&c->h.tcp, 1); /* small stdin writes and TLS records go at once */
  uv_tcp_keepalive(&c->h.tcp, 1, 60); /* a job may be silent for hours */
  if (uv_tcp_connect(&c->connect, &c->h.tcp, (const struct sockaddr *)peer, on_connected) != 0) {
    httpc_conn_close(c, NULL);
    return NULL;
  }
  return c;
}

int httpc_conn_write(httpc_conn *c, const char *data, size_t len) {
  if (!c->connected || c->closing || c->shut)
    return -1;
  if (c->tls)
    return httpc_tls_write(c->tls, data, len) == 0 && flush_tls(c) == 0 ? 0 : -1;
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return -1;
  memcpy(copy, data, len);
  return send_owned(c, copy, len);
}

static void on_shutdown(uv_shutdown_t *s, int status) {
  (void)s;
  (void)status; /* the server then sees EOF, or has already gone */
}

int httpc_conn_shutdown(httpc_conn *c) {
  if (!c->connected || c->closing || c->shut)
    return -1;
  c->shut = 1;
  /* TLS first says so itself (Go's TLS reads close_notify as EOF), then
   * the TCP write side ends after it. */
  if (c->tls && (httpc_tls_close_notify(c->tls) != 0 || flush_tls(c) != 0))
    return -1;
  c->shutdown.data = c;
  return uv_shutdown(&c->shutdown, &c->h.stream, on_shutdown) == 0 ? 0 : -1;
}

void httpc_conn_close(httpc_conn *c, void (*closed)(void *arg)) {
  if (!c || c->closing)
    return;
  c->closing = 1;
  c->on_closed = closed;
  uv_close(&c->h.handle, on_closed);
}
