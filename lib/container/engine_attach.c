/* Hijacked attach over an httpc_conn; see engine_attach.h.  Only the
 * HTTP upgrade is here: how the bytes move is the connection's business. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_attach.h"
#include "httpc/httpc_conn.h"

#define HEADER_MAX 8192

struct engine_attach {
  httpc_conn *conn;
  char *request;     /* the hand-written HTTP request, until it is sent */
  char header[HEADER_MAX];
  size_t header_len;
  int ready;         /* the upgrade answer was seen */
  int ended;
  int closing;       /* closed by its owner: freed once the connection is */
  engine_attach_cb cb;
  engine_attach_data_cb on_data;
  engine_attach_end_cb on_end;
  void *arg;
};

static void report(engine_attach *a, int status, const char *error) {
  engine_attach_cb cb = a->cb;
  a->cb = NULL;
  if (status < 0) { /* nothing follows a failed attach */
    a->ready = 1;
    a->ended = 1;
  }
  if (cb)
    cb(a->arg, status, error);
}

static void on_conn_connect(void *arg, int status, const char *error) {
  engine_attach *a = arg;
  char msg[300];
  if (a->closing)
    return;
  if (status < 0) {
    snprintf(msg, sizeof msg, "attach: %s", error);
    report(a, -1, msg);
    return;
  }
  int rc = httpc_conn_write(a->conn, a->request, strlen(a->request));
  free(a->request);
  a->request = NULL;
  if (rc != 0)
    report(a, -1, "attach: cannot send the request");
}

/* Collects the answer's header; what follows it is the raw stream. */
static void on_answer(engine_attach *a, const char *data, size_t len) {
  size_t room = sizeof a->header - 1 - a->header_len;
  size_t take = len < room ? len : room;
  memcpy(a->header + a->header_len, data, take);
  size_t before = a->header_len;
  a->header_len += take;
  a->header[a->header_len] = '\0';
  char *eoh = strstr(a->header, "\r\n\r\n");
  if (!eoh) {
    if (a->header_len == sizeof a->header - 1)
      report(a, -1, "attach: answer header too long");
    return;
  }
  int status = 0;
  if (sscanf(a->header, "HTTP/1.%*d %d", &status) == 1 && (status == 101 || status == 200)) {
    a->ready = 1;
    size_t used = (size_t)(eoh + 4 - a->header) - before; /* of this chunk */
    report(a, 0, NULL);
    if (!a->closing && len > used && a->on_data)
      a->on_data(a->arg, data + used, len - used);
  } else {
    char msg[300];
    snprintf(msg, sizeof msg, "attach refused: HTTP %d %.200s", status, eoh + 4);
    report(a, -1, msg);
  }
}

static void on_conn_data(void *arg, const char *data, size_t len) {
  engine_attach *a = arg;
  if (a->closing)
    return;
  if (!a->ready)
    on_answer(a, data, len);
  else if (!a->ended && a->on_data)
    a->on_data(a->arg, data, len);
}

static void on_conn_end(void *arg, int status, const char *error) {
  engine_attach *a = arg;
  if (a->closing)
    return;
  if (!a->ready) {
    char msg[300];
    snprintf(msg, sizeof msg, "attach: connection closed before the answer (%s)",
             error ? error : "end of stream");
    report(a, -1, msg);
    return;
  }
  if (a->ended)
    return;
  a->ended = 1;
  if (a->on_end)
    a->on_end(a->arg, status);
}

engine_attach *engine_attach_open(httpc_client *client, const char *path, engine_attach_cb cb,
                                  engine_attach_data_cb on_data, engine_attach_end_cb on_end,
                                  void *arg) {
  const httpc_endpoint *ep = httpc_client_endpoint(client);
  struct sockaddr_storage peer;
  int have_peer = httpc_client_peer(client, &peer) == 0;
  if (!ep->unix_path && !have_peer)
    return NULL;
  engine_attach *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  if (asprintf(&a->request,
               "POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
               "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n",
               path, httpc_endpoint_authority(ep)) < 0) {
    free(a);
    return NULL;
  }
  a->cb = cb;
  a->on_data = on_data;
  a->on_end = on_end;
  a->arg = arg;
  static const httpc_conn_cbs cbs = {on_conn_connect, on_conn_data, on_conn_end};
  a->conn = httpc_conn_open(httpc_client_loop(client), ep, have_peer ? &peer : NULL, &cbs, a);
  if (!a->conn) {
    free(a->request);
    free(a);
    return NULL;
  }
  return a;
}

int engine_attach_send_eof(engine_attach *a, const char *data, size_t len) {
  if (!a->ready || a->closing)
    return -1;
  if (len > 0 && httpc_conn_write(a->conn, data, len) != 0)
    return -1;
  return httpc_conn_shutdown(a->conn);
}

static void free_attach(void *arg) {
  engine_attach *a = arg;
  free(a->request);
  free(a);
}

/* Freed later: this may be called from inside one of a's callbacks. */
void engine_attach_close(engine_attach *a) {
  if (!a || a->closing)
    return;
  a->closing = 1;
  a->cb = NULL;
  a->on_data = NULL;
  a->on_end = NULL;
  httpc_conn_close(a->conn, free_attach);
}
