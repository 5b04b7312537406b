/* libFuzzer target: the http transport's routing of one request, through
 * the real plugin (libmicrohttpd and routes.c: method, path, the execution
 * id, query parameters and their values, authentication, content type,
 * the handlers and their replies, log and event streams).  The plugin
 * listens on 127.0.0.1, port 0, with two tenants' tokens; a stub host answers
 * every call a moment later, as the core does, with a document or, when
 * the input asks, an error.
 *
 * Input: byte 0 chooses the method (bits 0-2), whether the request carries
 * the valid token (bit 3) and whether the host's replies are errors (bit
 * 4); then the request target (path and query) up to the first newline,
 * with the bytes that cannot appear in a request line percent-encoded; the
 * rest is the body.  Each request is complete and asks to close the
 * connection, so every one must get an answer.  Checked besides memory
 * safety: the answer is an HTTP/1.1 status line, and a JSON answer parses
 * (an error one as {"error": {"code", "message"}}). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <execd/error.h>

#include "fuzz_support.h"
#include "http_internal.h"

#define TOKEN "fuzz-token-0123456789abcdef"
#define ID "0190c0de-0000-7000-8000-000000000001"

static execd_host host;
static const execd_plugin *plugin;
static http_server *srv;
static unsigned short port;
static int replies_fail; /* this input's host replies are errors */

/* --- the stub host: replies and events delivered from the loop ---------- */

struct execd_watch {
  execd_watch_cb cb;
  void *arg;
  int pending; /* its "end" event is queued */
};

typedef struct pending {
  enum { P_REPLY, P_EVENT } kind;
  execd_reply_cb cb;
  void *arg;
  json_t *body; /* the reply's document (owned) */
  execd_watch *watch;
} pending;

#define MAX_PENDING 64
static pending queue[MAX_PENDING];
static size_t queued;
static uv_idle_t deliver_idle;

static void deliver(uv_idle_t *h) {
  /* Deliver what is queued now; calls made by the callbacks wait for the
   * next turn. */
  pending now[MAX_PENDING];
  size_t n = queued;
  memcpy(now, queue, n * sizeof *now);
  queued = 0;
  uv_idle_stop(h);
  for (size_t i = 0; i < n; i++) {
    pending *p = &now[i];
    if (p->kind == P_EVENT) {
      execd_watch *w = p->watch;
      if (w->pending) { /* not unwatched meanwhile */
        execd_watch_cb cb = w->cb;
        void *arg = w->arg;
        free(w); /* the watch is finished with its end event */
        json_t *doc = json_pack("{s:s, s:s}", "execution_id", ID, "state", "SUCCEEDED");
        cb(arg, "end", replies_fail ? NULL : doc);
        json_decref(doc);
      } else {
        free(w);
      }
      continue;
    }
    execd_reply r = {sizeof r, 0, NULL, NULL, NULL, p->body};
    if (replies_fail) {
      r.status = EXECD_ENOENT;
      r.code = "not_found";
      r.message = "no such execution";
      r.field = "id";
      r.body = NULL;
    }
    p->cb(p->arg, &r);
    json_decref(p->body);
  }
}

static int enqueue(pending p) {
  if (queued == MAX_PENDING) {
    json_decref(p.body);
    return EXECD_EBUSY;
  }
  if (!p.body && p.kind == P_REPLY)
    abort();
  queue[queued++] = p;
  uv_idle_start(&deliver_idle, deliver);
  return 0;
}

static int reply_later(execd_reply_cb cb, void *arg, json_t *body) {
  pending p = {P_REPLY, cb, arg, body, NULL};
  return enqueue(p);
}

static json_t *execution_doc(const char *id, const char *state) {
  return json_pack("{s:s, s:s, s:s}", "execution_id", id, "state", state,
                   "tenant", "alice");
}

static int h_submit(execd_instance *inst, const char *tenant, const char *body,
                    size_t len, unsigned wait_s, execd_reply_cb cb, void *arg) {
  (void)inst;
  (void)wait_s;
  if (!tenant || !body || len == 0)
    abort();
  return reply_later(cb, arg, execution_doc(ID, "QUEUED"));
}

static void check_id(const char *tenant, const char *id) {
  /* The router promises a tenant and a well-formed id. */
  if (!tenant || !id || strlen(id) != HTTP_ID_LEN ||
      strspn(id, "0123456789abcdef-") != HTTP_ID_LEN)
    abort();
}

static int h_get(execd_instance *inst, const char *tenant, const char *id,
                 execd_reply_cb cb, void *arg) {
  (void)inst;
  check_id(tenant, id);
  return reply_later(cb, arg, execution_doc(id, "SUCCEEDED"));
}

static int h_list(execd_instance *inst, const char *tenant,
                  const struct execd_list_query *q, execd_reply_cb cb, void *arg) {
  (void)inst;
  if (!tenant || !q || q->limit > 1000 || (!q->label_key != !q->label_value))
    abort();
  return reply_later(cb, arg, json_pack("{s:[], s:n}", "executions", "next_cursor"));
}

static int h_cancel(execd_instance *inst, const char *tenant, const char *id,
                    execd_reply_cb cb, void *arg) {
  (void)inst;
  check_id(tenant, id);
  return reply_later(cb, arg, execution_doc(id, "CANCELLED"));
}

static int h_remove(execd_instance *inst, const char *tenant, const char *id,
                    execd_reply_cb cb, void *arg) {
  (void)inst;
  check_id(tenant, id);
  return reply_later(cb, arg, json_pack("{s:s, s:b}", "execution_id", id, "deleted", 1));
}

static int h_logs(execd_instance *inst, const char *tenant, const char *id,
                  uint64_t offset, execd_reply_cb cb, void *arg) {
  (void)inst;
  check_id(tenant, id);
  /* One short page, and the execution is over: a follow ends. */
  json_int_t off = (json_int_t)(offset > 1000000 ? 1000000 : offset);
  return reply_later(cb, arg, json_pack("{s:s, s:I, s:I, s:b}", "logs", "line\n",
                                        "offset", off, "next_offset", off + 5,
                                        "done", 1));
}

static int h_watch(execd_instance *inst, const char *tenant, const char *id,
                   execd_watch_cb cb, void *arg, execd_watch **out) {
  (void)inst;
  check_id(tenant, id);
  execd_watch *w = calloc(1, sizeof *w);
  if (!w)
    abort();
  w->cb = cb;
  w->arg = arg;
  w->pending = 1;
  pending p = {P_EVENT, NULL, NULL, NULL, w};
  if (enqueue(p) != 0) {
    free(w);
    return EXECD_EBUSY;
  }
  *out = w;
  return 0;
}

static void h_unwatch(execd_watch *w) { w->pending = 0; } /* freed by deliver */

static int h_agents(execd_instance *inst, execd_reply_cb cb, void *arg) {
  (void)inst;
  return reply_later(cb, arg, json_pack("{s:[{s:s}]}", "agents", "name", "echo"));
}

/* The daemon's authenticate (ABI 1.5) for the two tenants; the tokens
 * file behind it is fuzz_tokens' target. */
static int h_authenticate(execd_instance *inst, const char *token, size_t len, char *tenant,
                          size_t size) {
  (void)inst;
  static const struct {
    const char *token, *tenant;
  } known[] = {{TOKEN, "alice"}, {"other-token-0123456789ab", "bob"}};
  for (size_t i = 0; token && i < sizeof known / sizeof known[0]; i++)
    if (strlen(known[i].token) == len && memcmp(known[i].token, token, len) == 0) {
      snprintf(tenant, size, "%s", known[i].tenant);
      return 0;
    }
  return EXECD_EPERM;
}

static int h_health(execd_instance *inst, execd_reply_cb cb, void *arg) {
  (void)inst;
  return reply_later(cb, arg, json_pack("{s:b, s:[], s:{}}", "ready", !replies_fail,
                                        "down", "components"));
}

static int h_metrics(execd_instance *inst, execd_reply_cb cb, void *arg) {
  (void)inst;
  return reply_later(cb, arg, json_string("execd_executions_total 1\n"));
}

/* --- set-up --------------------------------------------------------------- */

static void shutdown_server(void) {
  plugin->stop(srv);
  uv_close((uv_handle_t *)&deliver_idle, NULL);
  uv_run(fuzz_loop(), UV_RUN_DEFAULT);
  plugin->destroy(srv);
  uv_loop_close(fuzz_loop());
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  host = *fuzz_host();
  host.submit = h_submit;
  host.get = h_get;
  host.list = h_list;
  host.cancel = h_cancel;
  host.remove = h_remove;
  host.logs = h_logs;
  host.watch = h_watch;
  host.unwatch = h_unwatch;
  host.agents = h_agents;
  host.health = h_health;
  host.metrics = h_metrics;
  uv_idle_init(fuzz_loop(), &deliver_idle);

  host.authenticate = h_authenticate;
  json_t *config = json_pack("{s:s, s:I, s:I}", "listen", "127.0.0.1:0",
                             "max_body", (json_int_t)65536,
                             "connection_timeout", (json_int_t)10000);
  plugin = execd_plugin_entry(&host);
  void *self = NULL;
  if (plugin->create(&host, NULL, config, &self) != 0 || plugin->start(self) != 0) {
    fprintf(stderr, "fuzz_http_route: the http transport: %s\n", fuzz_host_error());
    abort();
  }
  json_decref(config);
  srv = self;
  const char *colon = strrchr(srv->bound, ':');
  port = (unsigned short)(colon ? atoi(colon + 1) : 0);
  if (!port)
    abort();
  atexit(shutdown_server);
  return 0;
}

/* --- one exchange --------------------------------------------------------- */

typedef struct exchange {
  uv_poll_t poll;
  int fd;
  const char *out;
  size_t out_len, sent;
  char *in;
  size_t in_len, in_cap;
  int done;
} exchange;

static void on_client(uv_poll_t *h, int status, int events) {
  exchange *x = h->data;
  if (status < 0) {
    x->done = 1;
    return;
  }
  if ((events & UV_WRITABLE) && x->sent < x->out_len) {
    ssize_t n = send(x->fd, x->out + x->sent, x->out_len - x->sent, MSG_NOSIGNAL);
    if (n > 0)
      x->sent += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
      x->sent = x->out_len; /* the server closed early: read its answer */
    if (x->sent == x->out_len)
      uv_poll_start(h, UV_READABLE, on_client);
  }
  if (events & UV_READABLE) {
    for (;;) {
      if (x->in_cap - x->in_len < 4096) {
        x->in_cap = x->in_cap * 2 + 8192;
        x->in = realloc(x->in, x->in_cap);
        if (!x->in)
          abort();
      }
      ssize_t n = recv(x->fd, x->in + x->in_len, x->in_cap - x->in_len - 1, 0);
      if (n > 0) {
        x->in_len += (size_t)n;
        x->in[x->in_len] = '\0';
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR))
        x->done = 1;
      break;
    }
  }
  if (x->done)
    uv_poll_stop(h);
}

static void append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *buf = realloc(*buf, *cap);
    if (!*buf)
      abort();
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
}

/* The answer must be an HTTP/1.1 status line; a JSON answer must parse. */
static void check_answer(const char *in, size_t len) {
  if (len < 12 || memcmp(in, "HTTP/1.1 ", 9) != 0) {
    fprintf(stderr, "not an HTTP answer (%zu bytes): %.*s\n", len, (int)(len > 200 ? 200 : len), in);
    abort();
  }
  int status = atoi(in + 9);
  const char *head_end = strstr(in, "\r\n\r\n");
  if (status < 100 || status > 599 || !head_end)
    abort();
  const char *ct = strcasestr(in, "\r\nContent-Type: application/json");
  if (!ct || ct > head_end || strcasestr(in, "\r\nTransfer-Encoding: chunked"))
    return;
  const char *body = head_end + 4;
  size_t body_len = len - (size_t)(body - in);
  if (body_len == 0)
    return; /* HEAD */
  json_error_t je;
  json_t *doc = json_loadb(body, body_len, 0, &je);
  if (!doc) {
    fprintf(stderr, "a JSON answer that does not parse: %s\n%.*s\n", je.text,
            (int)(len > 400 ? 400 : len), in);
    abort();
  }
  if (status >= 400) {
    json_t *e = json_object_get(doc, "error");
    if (!json_is_string(json_object_get(e, "code")) ||
        !json_is_string(json_object_get(e, "message"))) {
      fprintf(stderr, "an error answer without error.code and error.message:\n%.*s\n",
              (int)(len > 400 ? 400 : len), in);
      abort();
    }
  }
  json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD",
                                        "PUT", "OPTIONS", "PATCH", "GET"};
  if (size < 1)
    return 0;
  unsigned flags = data[0];
  replies_fail = (flags >> 4) & 1;
  const char *target = (const char *)data + 1;
  size_t rest = size - 1;
  const char *nl = memchr(target, '\n', rest);
  size_t target_len = nl ? (size_t)(nl - target) : rest;
  const char *body = nl ? nl + 1 : target + rest;
  size_t body_len = nl ? rest - target_len - 1 : 0;

  char *req = NULL;
  size_t len = 0, cap = 0;
  const char *method = methods[flags & 7];
  append(&req, &len, &cap, method, strlen(method));
  append(&req, &len, &cap, " ", 1);
  if (target_len == 0)
    append(&req, &len, &cap, "/", 1);
  for (size_t i = 0; i < target_len; i++) {
    unsigned char c = (unsigned char)target[i];
    if (c <= ' ' || c >= 0x7f) {
      char esc[4];
      snprintf(esc, sizeof esc, "%%%02X", c);
      append(&req, &len, &cap, esc, 3);
    } else {
      append(&req, &len, &cap, (const char *)&c, 1);
    }
  }
  char head[256];
  int n = snprintf(head, sizeof head,
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                   (flags & 8) ? "Authorization: Bearer " TOKEN "\r\n" : "", body_len);
  append(&req, &len, &cap, head, (size_t)n);
  append(&req, &len, &cap, body, body_len);

  exchange x;
  memset(&x, 0, sizeof x);
  x.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (x.fd < 0 ||
      (connect(x.fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS))
    abort();
  x.out = req;
  x.out_len = len;
  if (uv_poll_init(fuzz_loop(), &x.poll, x.fd) != 0)
    abort();
  x.poll.data = &x;
  uv_poll_start(&x.poll, UV_WRITABLE | UV_READABLE, on_client);
  while (!x.done)
    uv_run(fuzz_loop(), UV_RUN_ONCE);
  uv_close((uv_handle_t *)&x.poll, NULL);
  /* Let the server see the connection end and free its request. */
  while (srv->requests || queued)
    uv_run(fuzz_loop(), UV_RUN_ONCE);
  uv_run(fuzz_loop(), UV_RUN_NOWAIT);
  close(x.fd);
  check_answer(x.in ? x.in : "", x.in_len);
  free(x.in);
  free(req);
  return 0;
}
