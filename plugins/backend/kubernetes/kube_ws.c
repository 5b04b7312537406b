/* Exec and attach streams over WebSocket; see kube_ws.h.  The handshake
 * is written by hand on an httpc_conn (libcurl's WebSocket support is
 * newer than Debian 12's), the frames are kube_wsframe's. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "httpc/httpc_conn.h"
#include "kube_ws.h"
#include "kube_wsframe.h"

#define HEADER_MAX 16384
#define SEND_FRAME_MAX (256u << 10)

struct kube_ws {
  httpc_conn *conn;
  char *request;
  char accept[64]; /* the Sec-WebSocket-Accept the server must answer */
  char header[HEADER_MAX];
  size_t header_len;
  int open, ended, closing;
  kube_wsframe_dec dec;
  kube_ws_cbs cbs;
  void *arg;
};

static void report_open(kube_ws *ws, int status, const char *error) {
  void (*cb)(void *, int, const char *) = ws->cbs.on_open;
  ws->cbs.on_open = NULL;
  if (status < 0)
    ws->ended = 1;
  else
    ws->open = 1;
  if (cb)
    cb(ws->arg, status, error);
}

static void report_end(kube_ws *ws, int status, const char *error) {
  if (ws->ended || ws->closing)
    return;
  ws->ended = 1;
  if (ws->cbs.on_end)
    ws->cbs.on_end(ws->arg, status, error);
}

static void on_frame_data(void *arg, int channel, const char *data, size_t len) {
  kube_ws *ws = arg;
  if (!ws->closing && !ws->ended && ws->cbs.on_data)
    ws->cbs.on_data(ws->arg, channel, data, len);
}

static void on_frame_control(void *arg, int opcode, const char *data, size_t len) {
  kube_ws *ws = arg;
  if (opcode == KUBE_WS_PING) {
    size_t n;
    char *f = kube_wsframe_encode(KUBE_WS_PONG, -1, data, len, &n);
    if (f) {
      httpc_conn_write(ws->conn, f, n);
      free(f);
    }
  } else if (opcode == KUBE_WS_CLOSE) {
    report_end(ws, 0, NULL);
  }
}

static const kube_wsframe_cbs frame_cbs = {on_frame_data, on_frame_control};

static void feed_frames(kube_ws *ws, const char *data, size_t len) {
  if (kube_wsframe_feed(&ws->dec, data, len, &frame_cbs, ws) != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "websocket: %s", ws->dec.error);
    report_end(ws, -1, msg);
  }
}

static void on_conn_connect(void *arg, int status, const char *error) {
  kube_ws *ws = arg;
  if (ws->closing)
    return;
  if (status < 0) {
    report_open(ws, -1, error);
    return;
  }
  int rc = httpc_conn_write(ws->conn, ws->request, strlen(ws->request));
  free(ws->request);
  ws->request = NULL;
  if (rc != 0)
    report_open(ws, -1, "cannot send the upgrade request");
}

/* A refusal carries a Status object or text after the header; what came
 * with this chunk is enough to name it. */
static void refused(kube_ws *ws, int status, const char *body) {
  char msg[700];
  const char *m = strstr(body, "\"message\":\"");
  if (m) {
    m += 11;
    const char *e = strchr(m, '"');
    snprintf(msg, sizeof msg, "HTTP %d: %.*s", status, e ? (int)(e - m) : 300, m);
  } else {
    snprintf(msg, sizeof msg, "HTTP %d: %.300s", status, body);
  }
  report_open(ws, -status, msg);
}

static int header_has(const char *header, const char *name, const char *value) {
  size_t nlen = strlen(name);
  for (const char *l = strstr(header, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    const char *p = l + 2;
    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      p += nlen + 1;
      while (*p == ' ')
        p++;
      return strncmp(p, value, strlen(value)) == 0;
    }
  }
  return 0;
}

static void on_answer(kube_ws *ws, const char *data, size_t len) {
  size_t room = sizeof ws->header - 1 - ws->header_len;
  size_t take = len < room ? len : room;
  size_t before = ws->header_len;
  memcpy(ws->header + ws->header_len, data, take);
  ws->header_len += take;
  ws->header[ws->header_len] = '\0';
  char *eoh = strstr(ws->header, "\r\n\r\n");
  if (!eoh) {
    if (ws->header_len == sizeof ws->header - 1)
      report_open(ws, -1, "upgrade answer header too long");
    return;
  }
  int status = 0;
  if (sscanf(ws->header, "HTTP/1.%*d %d", &status) != 1 || status != 101) {
    refused(ws, status > 0 ? status : 1, eoh + 4);
    return;
  }
  *eoh = '\0';
  if (!header_has(ws->header, "Sec-WebSocket-Accept", ws->accept)) {
    report_open(ws, -1, "upgrade answered without the right Sec-WebSocket-Accept");
    return;
  }
  size_t used = (size_t)(eoh + 4 - ws->header) - before;
  report_open(ws, 0, NULL);
  if (!ws->closing && !ws->ended && len > used)
    feed_frames(ws, data + used, len - used);
}

static void on_conn_data(void *arg, const char *data, size_t len) {
  kube_ws *ws = arg;
  if (ws->closing || ws->ended)
    return;
  if (!ws->open)
    on_answer(ws, data, len);
  else
    feed_frames(ws, data, len);
}

static void on_conn_end(void *arg, int status, const char *error) {
  kube_ws *ws = arg;
  if (ws->closing)
    return;
  if (!ws->open) {
    char msg[300];
    snprintf(msg, sizeof msg, "connection closed before the upgrade answer (%s)",
             error ? error : "end of stream");
    report_open(ws, -1, msg);
    return;
  }
  report_end(ws, status < 0 ? -1 : 0, error);
}

static int make_key(kube_ws *ws, char key[32]) {
  unsigned char raw[16], digest[SHA_DIGEST_LENGTH];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return -1;
  EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
  char both[128];
  snprintf(both, sizeof both, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
  SHA1((const unsigned char *)both, strlen(both), digest);
  EVP_EncodeBlock((unsigned char *)ws->accept, digest, sizeof digest);
  return 0;
}

kube_ws *kube_ws_open(httpc_client *c, const char *path, const char *auth_header,
                      const kube_ws_cbs *cbs, void *arg) {
  const httpc_endpoint *ep = httpc_client_endpoint(c);
  struct sockaddr_storage peer;
  int have_peer = httpc_client_peer(c, &peer) == 0;
  if (!ep->unix_path && !have_peer)
    return NULL;
  kube_ws *ws = calloc(1, sizeof *ws);
  char key[32];
  if (!ws || make_key(ws, key) != 0) {
    free(ws);
    return NULL;
  }
  if (asprintf(&ws->request,
               "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n%s%s\r\n",
               path, httpc_endpoint_authority(ep), key, auth_header ? auth_header : "",
               auth_header ? "\r\n" : "") < 0) {
    free(ws);
    return NULL;
  }
  kube_wsframe_init(&ws->dec);
  ws->cbs = *cbs;
  ws->arg = arg;
  static const httpc_conn_cbs conn_cbs = {on_conn_connect, on_conn_data, on_conn_end};
  ws->conn = httpc_conn_open(httpc_client_loop(c), ep, have_peer ? &peer : NULL, &conn_cbs, ws);
  if (!ws->conn) {
    free(ws->request);
    free(ws);
    return NULL;
  }
  return ws;
}

int kube_ws_send(kube_ws *ws, int channel, const char *data, size_t len) {
  if (!ws->open || ws->ended || ws->closing)
    return -1;
  do {
    size_t n = len < SEND_FRAME_MAX ? len : SEND_FRAME_MAX, flen;
    char *f = kube_wsframe_encode(2, channel, data, n, &flen);
    if (!f)
      return -1;
    int rc = httpc_conn_write(ws->conn, f, flen);
    free(f);
    if (rc != 0)
      return -1;
    data += n;
    len -= n;
  } while (len > 0);
  return 0;
}

int kube_ws_finish(kube_ws *ws) {
  if (!ws->open || ws->closing)
    return -1;
  static const char normal[2] = {0x03, (char)0xe8}; /* 1000: normal closure */
  size_t n;
  char *f = kube_wsframe_encode(KUBE_WS_CLOSE, -1, normal, sizeof normal, &n);
  if (!f)
    return -1;
  int rc = httpc_conn_write(ws->conn, f, n);
  free(f);
  return rc;
}

static void free_ws(void *arg) {
  kube_ws *ws = arg;
  free(ws->request);
  free(ws);
}

void kube_ws_close(kube_ws *ws) {
  if (!ws || ws->closing)
    return;
  ws->closing = 1;
  httpc_conn_close(ws->conn, free_ws);
}
