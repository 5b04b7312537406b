/* Hijacked attach on a uv_pipe; see engine_attach.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_attach.h"

#define HEADER_MAX 8192

struct engine_attach {
  uv_pipe_t pipe;
  uv_connect_t connect;
  uv_write_t req_write;
  uv_write_t data_write;
  uv_shutdown_t shutdown;
  char *request;     /* the hand-written HTTP request */
  char *stdin_copy;
  char header[HEADER_MAX];
  size_t header_len;
  int ready;         /* the upgrade answer was seen */
  int closing;
  int ended;
  engine_attach_cb cb;
  engine_attach_data_cb on_data;
  engine_attach_end_cb on_end;
  void *arg;
};

static void on_closed(uv_handle_t *h) {
  engine_attach *a = h->data;
  free(a->request);
  free(a->stdin_copy);
  free(a);
}

static void report(engine_attach *a, int status, const char *error) {
  engine_attach_cb cb = a->cb;
  a->cb = NULL;
  if (cb)
    cb(a->arg, status, error);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void end(engine_attach *a, int status) {
  if (a->ended || a->closing)
    return;
  a->ended = 1;
  if (a->on_end)
    a->on_end(a->arg, status);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  engine_attach *a = s->data;
  if (n < 0) {
    uv_read_stop(s);
    if (!a->ready) {
      char msg[160];
      snprintf(msg, sizeof msg, "attach: connection closed before the answer (%s)",
               uv_strerror((int)n));
      a->ready = 1;
      a->ended = 1;
      report(a, -1, msg);
    } else {
      end(a, n == UV_EOF ? 0 : -1);
    }
  } else if (n > 0 && a->ready) {
    if (!a->closing && !a->ended && a->on_data)
      a->on_data(a->arg, buf->base, (size_t)n);
  } else if (n > 0) {
    /* Collect the answer's header; what follows it is the raw stream. */
    size_t room = sizeof a->header - 1 - a->header_len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(a->header + a->header_len, buf->base, take);
    size_t before = a->header_len;
    a->header_len += take;
    a->header[a->header_len] = '\0';
    char *eoh = strstr(a->header, "\r\n\r\n");
    if (eoh) {
      int status = 0;
      if (sscanf(a->header, "HTTP/1.%*d %d", &status) == 1 && (status == 101 || status == 200)) {
        a->ready = 1;
        size_t used = (size_t)(eoh + 4 - a->header) - before; /* of this read */
        report(a, 0, NULL);
        if (!a->closing && (size_t)n > used && a->on_data)
          a->on_data(a->arg, buf->base + used, (size_t)n - used);
      } else {
        char msg[300];
        char *eol = strstr(a->header, "\r\n\r\n");
        const char *body = eol + 4;
        snprintf(msg, sizeof msg, "attach refused: HTTP %d %.200s", status, body);
        a->ready = 1;
        a->ended = 1;
        report(a, -1, msg);
      }
    } else if (a->header_len == sizeof a->header - 1) {
      a->ready = 1;
      a->ended = 1;
      report(a, -1, "attach: answer header too long");
    }
  }
  free(buf->base);
}

static void on_request_written(uv_write_t *w, int status) {
  engine_attach *a = w->data;
  if (status < 0 && !a->closing) {
    char msg[160];
    snprintf(msg, sizeof msg, "attach: cannot send the request: %s", uv_strerror(status));
    a->ready = 1;
    a->ended = 1;
    report(a, -1, msg);
  }
}

static void on_connect(uv_connect_t *c, int status) {
  engine_attach *a = c->data;
  if (a->closing)
    return;
  if (status < 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "attach: cannot connect to the engine: %s", uv_strerror(status));
    a->ready = 1;
    a->ended = 1;
    report(a, -1, msg);
    return;
  }
  uv_buf_t b = uv_buf_init(a->request, (unsigned)strlen(a->request));
  a->req_write.data = a;
  uv_write(&a->req_write, (uv_stream_t *)&a->pipe, &b, 1, on_request_written);
  uv_read_start((uv_stream_t *)&a->pipe, on_alloc, on_read);
}

engine_attach *engine_attach_open(uv_loop_t *loop, const char *socket_path, const char *path,
                                  engine_attach_cb cb, engine_attach_data_cb on_data,
                                  engine_attach_end_cb on_end, void *arg) {
  engine_attach *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  if (asprintf(&a->request,
               "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n"
               "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n",
               path) < 0) {
    free(a);
    return NULL;
  }
  a->cb = cb;
  a->on_data = on_data;
  a->on_end = on_end;
  a->arg = arg;
  uv_pipe_init(loop, &a->pipe, 0);
  a->pipe.data = a;
  a->connect.data = a;
  uv_pipe_connect(&a->connect, &a->pipe, socket_path, on_connect);
  return a;
}

static void on_shutdown(uv_shutdown_t *s, int status) {
  (void)s;
  (void)status; /* the job then sees EOF, or has already gone */
}

static void on_data_written(uv_write_t *w, int status) {
  (void)w;
  (void)status; /* a job that exits without reading its stdin is not an error */
}

int engine_attach_send_eof(engine_attach *a, const char *data, size_t len) {
  if (!a->ready || a->closing)
    return -1;
  if (len > 0) {
    a->stdin_copy = malloc(len);
    if (!a->stdin_copy)
      return -1;
    memcpy(a->stdin_copy, data, len);
    uv_buf_t b = uv_buf_init(a->stdin_copy, (unsigned)len);
    a->data_write.data = a;
    if (uv_write(&a->data_write, (uv_stream_t *)&a->pipe, &b, 1, on_data_written) != 0)
      return -1;
  }
  a->shutdown.data = a;
  return uv_shutdown(&a->shutdown, (uv_stream_t *)&a->pipe, on_shutdown) == 0 ? 0 : -1;
}

void engine_attach_close(engine_attach *a) {
  if (!a || a->closing)
    return;
  a->closing = 1;
  a->cb = NULL;
  a->on_data = NULL;
  a->on_end = NULL;
  uv_close((uv_handle_t *)&a->pipe, on_closed);
}
