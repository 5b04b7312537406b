/* Streaming responses: the execution log as chunked text/plain (optionally
 * following it until the execution ends) and live events as server-sent
 * events.
 *
 * Logs are always read from the core with host->logs, page by page from a
 * byte offset, so the client gets exactly the stored log with no gaps or
 * duplicates; a host->watch subscription only says when to read again.
 * With timestamps, pages come from host->logs_timed and each line (the
 * bytes after a newline, and the first bytes sent) gets the time its
 * bytes were received and a space in front.
 * Events are forwarded from host->watch as they come.
 *
 * The MHD response pulls from a buffer (stream_read).  When the buffer is
 * empty the reader suspends the connection and returns 0; new data resumes
 * it.  Suspended connections see neither timeouts nor disconnects, so a
 * tick checks idle streams: it peeks at the socket to notice clients that
 * went away and sends SSE comments as keep-alives.
 *
 * A stream lives until MHD frees its response (stream_release) and no host
 * call of it is in flight. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_internal.h"

#define STREAM_BLOCK 16384            /* MHD reader block size */
#define STREAM_LOW_WATER 65536        /* read more log below this */
#define STREAM_MAX_BUFFER (8u << 20)  /* an SSE client this far behind is cut */
#define STREAM_RETRIES 5              /* ticks to retry a wake-up that found no data */

enum stream_kind { STREAM_LOGS = 1, STREAM_EVENTS = 2 };

struct http_stream {
  http_server *srv;             /* valid until released */
  struct MHD_Connection *conn;  /* valid while attached and not released */
  http_stream *prev, *next;     /* in srv->streams while attached */
  http_request *req;            /* waiting for the first answer, or NULL */
  int kind;
  int follow;
  int timestamps;      /* logs: prefix lines with the time they arrived */
  int at_line_start;   /* logs, timestamps: the next byte starts a line */
  char tenant[HTTP_TENANT_MAX + 1];
  char id[HTTP_ID_LEN + 1];

  char *buf; /* bytes not yet read by MHD: buf[pos..len) */
  size_t len, pos, cap;

  uint64_t offset;     /* logs: next byte to read from the core */
  int attached;        /* the MHD response exists */
  int released;        /* MHD freed the response */
  int call_in_flight;  /* a host call will call back */
  int suspended;       /* suspended by stream_read */
  int finished;        /* no more data: end once the buffer is drained */
  int failed;          /* end with an error: the client sees a cut stream */
  int more;            /* logs: the last page had data, read on */
  int wake_now;        /* logs: an event asked for a read */
  int retries;         /* logs: tick reads left after a wake-up */
  int log_done;        /* logs: the core said no more log will come */
  int ended;           /* the watch delivered "end" */
  execd_watch *watch;  /* live subscription, or NULL */
  uint64_t last_activity;
};

/* ---- buffer ---------------------------------------------------------------- */

static int buf_append(http_stream *s, const char *data, size_t n) {
  if (s->pos == s->len)
    s->pos = s->len = 0;
  if (s->len + n > s->cap) {
    if (s->pos > 0) { /* compact first */
      memmove(s->buf, s->buf + s->pos, s->len - s->pos);
      s->len -= s->pos;
      s->pos = 0;
    }
    if (s->len + n > s->cap) {
      size_t cap = s->cap ? s->cap : 4096;
      while (cap < s->len + n)
        cap *= 2;
      char *nb = realloc(s->buf, cap);
      if (!nb)
        return -1;
      s->buf = nb;
      s->cap = cap;
    }
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  return 0;
}

static size_t buffered(const http_stream *s) { return s->len - s->pos; }

/* ---- lifetime --------------------------------------------------------------- */

static http_stream *stream_new(http_request *req, int kind, int follow) {
  http_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->srv = req->srv;
  s->kind = kind;
  s->follow = follow;
  snprintf(s->tenant, sizeof s->tenant, "%s", req->tenant);
  snprintf(s->id, sizeof s->id, "%s", req->id);
  s->req = req;
  request_ref(req);
  return s;
}

static void stream_free(http_stream *s) {
  free(s->buf);
  free(s);
}

static void stop_watch(http_stream *s) {
  if (s->watch) {
    execd_watch *w = s->watch;
    s->watch = NULL;
    s->srv->host->unwatch(w);
  }
}

/* MHD is done with the response (the connection ended or the daemon
 * stopped). */
static void stream_release(void *cls) {
  http_stream *s = cls;
  http_server *srv = s->srv;
  s->released = 1;
  s->conn = NULL;
  stop_watch(s);
  if (s->prev)
    s->prev->next = s->next;
  else if (srv->streams == s)
    srv->streams = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->prev = s->next = NULL;
  if (!srv->streams)
    server_tick_stop(srv);
  if (!s->call_in_flight)
    stream_free(s);
}

/* New data, an end or a failure: let MHD call stream_read again. */
static void wake(http_stream *s) {
  if (!s->suspended || s->released)
    return;
  s->suspended = 0;
  MHD_resume_connection(s->conn);
  server_kick_soon(s->srv);
}

/* ---- reading logs from the core ------------------------------------------- */

static void on_page(void *arg, const execd_reply *reply);

/* Ask the core for the page at s->offset. */
static int read_page(http_stream *s) {
  const execd_host *h = s->srv->host;
  if (!s->timestamps)
    return h->logs(s->srv->inst, s->tenant, s->id, s->offset, on_page, s);
  return h->logs_timed(s->srv->inst, s->tenant, s->id, s->offset, on_page, s);
}

/* Start the next host->logs read if one is due. */
static void pump(http_stream *s, int from_tick) {
  if (!s->attached || s->released || s->finished || s->failed ||
      s->call_in_flight || s->kind != STREAM_LOGS)
    return;
  if (buffered(s) > STREAM_LOW_WATER)
    return; /* the client is behind: read once it caught up */
  int due = s->more || s->wake_now || (from_tick && s->retries > 0);
  if (!due) {
    if (s->log_done || !s->follow || s->ended) {
      s->finished = 1;
      wake(s);
    }
    return;
  }
  s->wake_now = 0;
  s->call_in_flight = 1;
  int rc = read_page(s);
  if (rc != 0) {
    s->call_in_flight = 0;
    if (rc == EXECD_ENOENT) {
      s->finished = 1; /* deleted while followed */
    } else {
      s->srv->host->log(s->srv->inst, EXECD_LOG_WARNING,
                        "reading the log of %s: %s", s->id, execd_strerror(rc));
      s->failed = 1;
    }
    wake(s);
  }
}

/* The "at" of the last entry of times at or before offset, or NULL. */
static const char *time_at(const json_t *times, uint64_t offset) {
  const char *at = NULL;
  size_t i;
  const json_t *t;
  json_array_foreach(times, i, t) {
    const json_t *o = json_object_get(t, "offset");
    if (!json_is_integer(o) || (uint64_t)json_integer_value(o) > offset)
      break;
    at = json_string_value(json_object_get(t, "at"));
  }
  return at;
}

/* Appends data (log bytes from offset) with each line's time in front. */
static int append_timed(http_stream *s, const char *data, size_t n, uint64_t offset,
                        const json_t *times) {
  size_t done = 0;
  while (done < n) {
    if (s->at_line_start) {
      const char *at = time_at(times, offset + done);
      if (at && (buf_append(s, at, strlen(at)) != 0 || buf_append(s, " ", 1) != 0))
        return -1;
      s->at_line_start = 0;
    }
    const char *nl = memchr(data + done, '\n', n - done);
    size_t end = nl ? (size_t)(nl - data) + 1 : n;
    if (buf_append(s, data + done, end - done) != 0)
      return -1;
    s->at_line_start = nl != NULL;
    done = end;
  }
  return 0;
}

/* Take one page {"logs","offset","next_offset","done"[,"times"]} into the
 * buffer. */
static int take_page(http_stream *s, const json_t *body) {
  const json_t *logs = json_object_get(body, "logs");
  const char *data = json_string_value(logs);
  size_t n = data ? json_string_length(logs) : 0;
  if (n && s->timestamps &&
      append_timed(s, data, n, s->offset, json_object_get(body, "times")) != 0)
    return -1;
  if (n && !s->timestamps && buf_append(s, data, n) != 0)
    return -1;
  const json_t *next = json_object_get(body, "next_offset");
  uint64_t next_offset = s->offset + n;
  if (json_is_integer(next) && json_integer_value(next) >= 0 &&
      (uint64_t)json_integer_value(next) >= s->offset)
    next_offset = (uint64_t)json_integer_value(next);
  s->more = n > 0 || next_offset > s->offset;
  s->offset = next_offset;
  if (!s->more && s->retries > 0)
    s->retries--;
  if (json_is_true(json_object_get(body, "done"))) {
    s->log_done = 1;
    s->more = 0;
    s->retries = 0;
  }
  return 0;
}

/* ---- events from the core -------------------------------------------------- */

static void append_sse(http_stream *s, const char *type, const json_t *data) {
  char *text = json_dumps(data ? data : json_null(),
                          JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) {
    s->failed = 1;
    return;
  }
  /* Compact JSON has no raw newlines, so it is one "data:" line. */
  if (buf_append(s, "event: ", 7) != 0 ||
      buf_append(s, type, strlen(type)) != 0 ||
      buf_append(s, "\ndata: ", 7) != 0 ||
      buf_append(s, text, strlen(text)) != 0 || buf_append(s, "\n\n", 2) != 0)
    s->failed = 1;
  free(text);
  if (buffered(s) > STREAM_MAX_BUFFER) {
    s->srv->host->log(s->srv->inst, EXECD_LOG_WARNING,
                      "events of %s: the client is too slow, closing", s->id);
    s->failed = 1;
  }
}

static void on_event(void *arg, const char *type, const json_t *data) {
  http_stream *s = arg;
  if (strcmp(type, "end") == 0) {
    s->watch = NULL; /* finished: must not be used again */
    s->ended = 1;
  }
  if (s->kind == STREAM_LOGS) {
    s->wake_now = 1;
    s->retries = s->ended ? 0 : STREAM_RETRIES;
    pump(s, 0);
  } else {
    append_sse(s, type, data);
    if (s->ended)
      s->finished = 1;
    if (s->failed)
      stop_watch(s);
    wake(s);
  }
}

/* ---- the MHD side ----------------------------------------------------------- */

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
  http_stream *s = cls;
  (void)pos;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (s->failed)
      return MHD_CONTENT_READER_END_WITH_ERROR;
    if (buffered(s) > 0) {
      size_t n = buffered(s) < max ? buffered(s) : max;
      memcpy(out, s->buf + s->pos, n);
      s->pos += n;
      s->last_activity = uv_now(s->srv->loop);
      pump(s, 0);
      return (ssize_t)n;
    }
    if (s->finished)
      return MHD_CONTENT_READER_END_OF_STREAM;
    if (attempt == 0)
      pump(s, 0); /* may finish, or (rarely) answer at once */
  }
  /* Nothing yet: sleep until wake(); returning 0 without suspending would
   * make MHD poll the reader in a busy loop. */
  s->suspended = 1;
  MHD_suspend_connection(s->conn);
  return 0;
}

/* The first answer arrived: attach a streaming response to the request. */
static int attach(http_stream *s) {
  http_request *req = s->req;
  struct MHD_Response *resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s, stream_release);
  if (!resp)
    return -1;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          s->kind == STREAM_EVENTS ? "text/event-stream"
                                                   : "text/plain; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  /* Reverse proxies (nginx) must not buffer a live stream. */
  if (s->follow)
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  s->conn = req->conn;
  s->attached = 1;
  s->last_activity = uv_now(s->srv->loop);
  s->next = s->srv->streams;
  if (s->srv->streams)
    s->srv->streams->prev = s;
  s->srv->streams = s;
  server_tick_start(s->srv);
  /* A live stream may be quiet for long: the keep-alive tick watches it
   * instead of the idle timeout. */
  if (s->follow)
    MHD_set_connection_option(s->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
  pump(s, 0);
  http_answer a = {MHD_HTTP_OK, resp};
  s->req = NULL;
  request_answer(req, &a);
  request_unref(req);
  return 0;
}

/* The first answer was an error (or the client is gone): no stream. */
static void abandon(http_stream *s, http_answer *a) {
  http_request *req = s->req;
  s->req = NULL;
  if (a)
    request_answer(req, a);
  request_unref(req);
  stream_free(s);
}

static void start_watch(http_stream *s) {
  execd_watch *w = NULL;
  int rc = s->srv->host->watch(s->srv->inst, s->tenant, s->id, on_event, s, &w);
  if (rc != 0) {
    s->ended = 1; /* nothing more will come */
    if (rc != EXECD_ENOENT)
      s->srv->host->log(s->srv->inst, EXECD_LOG_WARNING,
                        "cannot watch %s: %s", s->id, execd_strerror(rc));
    return;
  }
  if (!s->ended) /* "end" may have come during the call */
    s->watch = w;
}

static void on_first_page(http_stream *s, const execd_reply *reply) {
  http_answer a = {0, NULL};
  if (reply->status != 0) {
    answer_reply_error(&a, reply);
    abandon(s, &a);
    return;
  }
  if (take_page(s, reply->body) != 0) {
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory",
                 NULL);
    abandon(s, &a);
    return;
  }
  if (s->follow && !s->log_done)
    start_watch(s);
  if (attach(s) != 0) {
    stop_watch(s);
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory",
                 NULL);
    abandon(s, &a);
  }
}

static void on_page(void *arg, const execd_reply *reply) {
  http_stream *s = arg;
  s->call_in_flight = 0;
  if (s->released) {
    stream_free(s);
    return;
  }
  if (!s->attached && s->req->closed) {
    abandon(s, NULL);
    return;
  }
  if (!s->attached) { /* the first page decides the status */
    on_first_page(s, reply);
    return;
  }
  if (reply->status != 0) {
    if (reply->status == EXECD_ENOENT) {
      s->finished = 1;
    } else {
      s->srv->host->log(s->srv->inst, EXECD_LOG_WARNING,
                        "reading the log of %s: %s", s->id,
                        reply->message ? reply->message
                                       : execd_strerror(reply->status));
      s->failed = 1;
    }
  } else if (take_page(s, reply->body) != 0) {
    s->failed = 1;
  }
  if (s->log_done)
    stop_watch(s);
  pump(s, 0);
  wake(s);
}

void stream_logs_begin(http_request *req, uint64_t offset, int follow, int timestamps) {
  if (timestamps && !(EXECD_HOST_HAS(req->srv->host, logs_timed) &&
                      req->srv->host->logs_timed)) {
    http_answer a = {0, NULL};
    answer_error(&a, MHD_HTTP_BAD_REQUEST, "timestamps_unsupported",
                 "this execd keeps no log timestamps", "timestamps");
    request_answer(req, &a);
    return;
  }
  http_stream *s = stream_new(req, STREAM_LOGS, follow);
  if (!s) {
    http_answer a = {0, NULL};
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory", NULL);
    request_answer(req, &a);
    return;
  }
  s->offset = offset;
  s->timestamps = timestamps;
  s->at_line_start = 1;
  s->call_in_flight = 1;
  int rc = read_page(s);
  if (rc != 0) {
    s->call_in_flight = 0;
    http_answer a = {0, NULL};
    answer_call_error(&a, rc);
    abandon(s, &a);
  }
}

static void on_document(void *arg, const execd_reply *reply) {
  http_stream *s = arg;
  s->call_in_flight = 0;
  if (s->req->closed) {
    abandon(s, NULL);
    return;
  }
  http_answer a = {0, NULL};
  if (reply->status != 0 || !reply->body) {
    if (reply->status != 0)
      answer_reply_error(&a, reply);
    else
      answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                   "the core returned no document", NULL);
    abandon(s, &a);
  } else {
    /* The current state first, then whatever happens next. */
    append_sse(s, "state", reply->body);
    start_watch(s);
    if (s->ended && !s->watch)
      s->finished = 1;
    if (attach(s) != 0) {
      stop_watch(s);
      answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory",
                   NULL);
      abandon(s, &a);
    }
  }
}

void stream_events_begin(http_request *req) {
  http_stream *s = stream_new(req, STREAM_EVENTS, 1);
  if (!s) {
    http_answer a = {0, NULL};
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, "out of memory", NULL);
    request_answer(req, &a);
    return;
  }
  s->call_in_flight = 1;
  int rc = req->srv->host->get(req->srv->inst, s->tenant, s->id, on_document, s);
  if (rc != 0) {
    s->call_in_flight = 0;
    http_answer a = {0, NULL};
    answer_call_error(&a, rc);
    abandon(s, &a);
  }
}

/* ---- keep-alive ------------------------------------------------------------- */

/* True if the peer closed or reset the connection.  Peeking consumes
 * nothing, so MHD still sees any bytes that are there. */
static int client_gone(http_stream *s) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci)
    return 0;
  char c;
  ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0)
    return 1;
  return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

void stream_tick(http_server *srv) {
  uint64_t now = uv_now(srv->loop);
  for (http_stream *s = srv->streams; s; s = s->next) {
    if (s->released)
      continue;
    pump(s, 1);
    if (now - s->last_activity < srv->keepalive_ms)
      continue;
    s->last_activity = now;
    if (!s->suspended)
      continue;
    if (client_gone(s)) {
      s->failed = 1;
      stop_watch(s);
      wake(s);
    } else if (s->kind == STREAM_EVENTS && !s->finished) {
      if (buf_append(s, ": keep-alive\n\n", 14) != 0)
        s->failed = 1;
      wake(s);
    }
  }
}

void stream_shutdown_all(http_server *srv) {
  for (http_stream *s = srv->streams; s; s = s->next) {
    s->failed = 1; /* cut: the execution did not end */
    stop_watch(s);
    if (s->suspended && !s->released) {
      s->suspended = 0;
      MHD_resume_connection(s->conn);
    }
  }
}
