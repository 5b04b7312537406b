/* libcurl multi_socket on the libuv loop, for a server's REST API over its
 * unix socket or TCP (TLS material handed to curl from memory, so no file
 * is read on the loop).  The pattern is curl's multi-uv example with three
 * rules:
 * - the multi API is never called from inside curl's callbacks: requests
 *   started or cancelled meanwhile are queued and applied once
 *   curl_multi_socket_action has returned;
 * - curl's 0 ms timeout is clamped to 1 ms, since libuv 1.44 runs a 0 ms
 *   timer re-armed from its own callback again in the same pass, forever;
 * - poll errors are passed on as CURL_CSELECT_ERR, with IN and OUT, so
 *   curl reads (or writes) and reports the socket's own reason: what was
 *   received before a reset (a TLS alert) comes first, not "select/poll
 *   returned error". */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <curl/curl.h>

#include "httpc.h"

#define DEFAULT_BODY_MAX (1u << 20)
#define CONNECT_TIMEOUT_MS 5000L

struct httpc_request {
  httpc_client *c;
  CURL *easy;
  struct curl_slist *headers;
  httpc_request_opts o;
  char *send_body;  /* owned copy of the request body */
  char *buf;        /* buffered response body */
  size_t len, cap, max;
  int truncated;
  int headers_done;
  int added;        /* handed to the multi handle */
  int cancelled;
  char errbuf[CURL_ERROR_SIZE];
  LIST_ENTRY(httpc_request) link;
  TAILQ_ENTRY(httpc_request) queue; /* pending add or removal */
};

typedef struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  httpc_client *c;
} sock_ctx;

struct httpc_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  httpc_endpoint ep; /* the client's own copy */
  char *base;        /* "http://localhost", "https://HOST:PORT" */
  char *prefix;
  char *name;
  struct sockaddr_storage peer; /* TCP: where the server was last reached */
  int peer_known;
  int in_curl;       /* inside curl_multi_socket_action: no multi calls */
  int closing;
  int open_handles;  /* libuv handles not yet closed */
  LIST_HEAD(, httpc_request) requests;
  TAILQ_HEAD(, httpc_request) to_add;
  TAILQ_HEAD(, httpc_request) to_remove;
};

static void request_free(httpc_request *r) {
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  free(r->send_body);
  free(r->buf);
  free(r);
}

/* Takes r out of the multi handle and frees it.  Not inside curl callbacks. */
static void request_discard(httpc_request *r) {
  LIST_REMOVE(r, link);
  if (r->added)
    curl_multi_remove_handle(r->c->multi, r->easy);
  request_free(r);
}

static void maybe_free_client(httpc_client *c) {
  if (c->closing && c->open_handles == 0) {
    httpc_endpoint_clear(&c->ep);
    free(c->base);
    free(c->prefix);
    free(c->name);
    free(c);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  httpc_client *c = h->data;
  if (h != (uv_handle_t *)&c->timer)
    free(h); /* a sock_ctx: the poll handle is its first member */
  c->open_handles--;
  maybe_free_client(c);
}

/* The address curl reached the server at, for connections made without
 * curl (httpc_conn.h) and the probe of a stopping server. */
static void note_peer(httpc_client *c, CURL *easy) {
  char *ip = NULL;
  long port = 0;
  if (c->ep.unix_path || curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
      curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port) != CURLE_OK || port <= 0)
    return;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)&ss) != 0 &&
      uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)&ss) != 0)
    return;
  c->peer = ss;
  c->peer_known = 1;
}

static void deliver_done(httpc_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    httpc_request *r = NULL;
    CURLcode result = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (result == CURLE_OK)
      note_peer(c, msg->easy_handle);
    /* msg is dead once the handle is removed: keep what is needed. */
    LIST_REMOVE(r, link);
    curl_multi_remove_handle(c->multi, r->easy);
    r->added = 0;
    if (!r->cancelled) {
      httpc_response resp = {0};
      char error[CURL_ERROR_SIZE + 16];
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
      if (result != CURLE_OK) {
        const char *e = r->errbuf[0] ? r->errbuf : curl_easy_strerror(result);
        /* curl says "SSL" for TLS failures (a refused certificate, an
         * alert): the message says which layer it was. */
        snprintf(error, sizeof error, "%s%s", c->ep.tls && strstr(e, "SSL") ? "TLS: " : "", e);
        resp.transport_err = 1;
        resp.error = error;
      }
      resp.body = r->buf ? r->buf : "";
      resp.body_len = r->len;
      resp.truncated = r->truncated;
      r->o.on_done(r->o.arg, &resp);
    }
    request_free(r);
  }
}

/* Applies what was queued while curl was running. */
static void apply_queued(httpc_client *c) {
  httpc_request *r;
  while ((r = TAILQ_FIRST(&c->to_remove))) {
    TAILQ_REMOVE(&c->to_remove, r, queue);
    request_discard(r);
  }
  while ((r = TAILQ_FIRST(&c->to_add))) {
    TAILQ_REMOVE(&c->to_add, r, queue);
    if (curl_multi_add_handle(c->multi, r->easy) == CURLM_OK)
      r->added = 1;
  }
}

static void drive(httpc_client *c, curl_socket_t fd, int ev_bitmask) {
  int running = 0;
  c->in_curl = 1;
  curl_multi_socket_action(c->multi, fd, ev_bitmask, &running);
  c->in_curl = 0;
  apply_queued(c);
  deliver_done(c);
  apply_queued(c);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_ctx *s = (sock_ctx *)p;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  drive(s->c, s->fd, flags);
}

static void on_timer(uv_timer_t *t) {
  drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  (void)easy;
  httpc_client *c = userp;
  sock_ctx *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      uv_poll_stop(&s->poll); /* now: the fd number may be reused at once */
      uv_close((uv_handle_t *)&s->poll, on_handle_closed);
      curl_multi_assign(c->multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s)
      return -1;
    s->fd = fd;
    s->c = c;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = c;
    c->open_handles++;
    curl_multi_assign(c->multi, fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  httpc_client *c = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, timeout_ms > 0 ? (uint64_t)timeout_ms : 1, 0);
  return 0;
}

static void global_init(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Where URLs point: the unix socket is given apart (CURLOPT_UNIX_SOCKET_PATH). */
static char *base_url(const httpc_endpoint *ep) {
  char *url = NULL;
  int rc = asprintf(&url, "%s://%s", ep->tls ? "https" : "http", httpc_endpoint_authority(ep));
  return rc < 0 ? NULL : url;
}

httpc_client *httpc_client_new(uv_loop_t *loop, const httpc_endpoint *ep, const char *prefix,
                               const char *name) {
  static uv_once_t once = UV_ONCE_INIT;
  uv_once(&once, global_init);
  httpc_client *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->loop = loop;
  int copied = httpc_endpoint_copy(&c->ep, ep) == 0;
  c->base = copied ? base_url(&c->ep) : NULL;
  c->peer_known = copied && httpc_endpoint_address(&c->ep, &c->peer) == 0;
  c->prefix = strdup(prefix ? prefix : "");
  c->name = strdup(name ? name : "engine");
  c->multi = curl_multi_init();
  LIST_INIT(&c->requests);
  TAILQ_INIT(&c->to_add);
  TAILQ_INIT(&c->to_remove);
  if (!c->base || !c->prefix || !c->name || !c->multi) {
    if (c->multi)
      curl_multi_cleanup(c->multi);
    httpc_endpoint_clear(&c->ep);
    free(c->base);
    free(c->prefix);
    free(c->name);
    free(c);
    return NULL;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->open_handles = 1;
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  return c;
}

void httpc_client_close(httpc_client *c) {
  if (!c || c->closing)
    return;
  c->closing = 1;
  httpc_request *r;
  while ((r = TAILQ_FIRST(&c->to_remove)))
    TAILQ_REMOVE(&c->to_remove, r, queue);
  while ((r = TAILQ_FIRST(&c->to_add)))
    TAILQ_REMOVE(&c->to_add, r, queue);
  while ((r = LIST_FIRST(&c->requests)))
    request_discard(r);
  curl_multi_cleanup(c->multi); /* removes its sockets through socket_cb */
  c->multi = NULL;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

uv_loop_t *httpc_client_loop(const httpc_client *c) { return c->loop; }
const httpc_endpoint *httpc_client_endpoint(const httpc_client *c) { return &c->ep; }
const char *httpc_client_name(const httpc_client *c) { return c->name; }

int httpc_client_peer(const httpc_client *c, struct sockaddr_storage *out) {
  if (!c->peer_known)
    return -1;
  *out = c->peer;
  return 0;
}

/* The client's PEM bytes outlive every easy handle: curl need not copy them. */
static void set_blob(CURL *e, CURLoption opt, const httpc_pem *p) {
  struct curl_blob blob = {.data = p->data, .len = p->len, .flags = CURL_BLOB_NOCOPY};
  curl_easy_setopt(e, opt, &blob);
}

static void set_transport(const httpc_client *c, CURL *e) {
  const httpc_endpoint *ep = &c->ep;
  if (ep->unix_path) {
    curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, ep->unix_path);
    return;
  }
  if (!ep->tls)
    return;
  if (ep->ca.data)
    set_blob(e, CURLOPT_CAINFO_BLOB, &ep->ca);
  if (ep->cert.data) {
    set_blob(e, CURLOPT_SSLCERT_BLOB, &ep->cert);
    set_blob(e, CURLOPT_SSLKEY_BLOB, &ep->key);
  }
  curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ep->tls_verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ep->tls_verify ? 2L : 0L);
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  httpc_request *r = userdata;
  size_t n = size * nmemb;
  if (r->cancelled)
    return 0; /* aborts the transfer */
  if (r->o.on_data)
    return r->o.on_data(r->o.arg, ptr, n) == 0 ? n : 0;
  if (r->len + n > r->max) {
    r->truncated = 1;
    n = r->max - r->len;
  }
  if (r->len + n + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n + 1)
      cap *= 2;
    char *b = realloc(r->buf, cap);
    if (!b)
      return 0;
    r->buf = b;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, ptr, n);
  r->len += n;
  r->buf[r->len] = '\0';
  return size * nmemb;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata) {
  httpc_request *r = userdata;
  size_t n = size * nitems;
  if (r->cancelled)
    return n;
  if ((n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n')) {
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && !r->headers_done) {
      r->headers_done = 1;
      if (r->o.on_headers)
        r->o.on_headers(r->o.arg, status);
    }
  }
  return n;
}

httpc_request *httpc_request_start(httpc_client *c, const httpc_request_opts *o) {
  httpc_request *r = calloc(1, sizeof *r);
  if (!r) {
    free(o->body_owned);
    return NULL;
  }
  r->c = c;
  r->o = *o;
  r->o.body_owned = NULL;
  r->o.body = NULL;
  r->o.path = NULL;
  r->o.extra_header = NULL;
  r->o.content_type = NULL;
  r->o.method = NULL;
  r->max = o->body_max ? o->body_max : DEFAULT_BODY_MAX;
  size_t body_len = o->body_len;
  if (o->body_owned) {
    r->send_body = o->body_owned;
  } else if (o->body) {
    r->send_body = malloc(body_len + 1);
    if (r->send_body)
      memcpy(r->send_body, o->body, body_len);
  }
  r->easy = curl_easy_init();
  size_t url_len = strlen(c->base) + strlen(c->prefix) + strlen(o->path) + 1;
  char *url = malloc(url_len);
  if (!r->easy || !url || (o->body && !r->send_body)) {
    free(url);
    request_free(r);
    return NULL;
  }
  snprintf(url, url_len, "%s%s%s", c->base, c->prefix, o->path);
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  free(url);
  set_transport(c, e);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  if (o->timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  const char *method = o->method ? o->method : "GET";
  if (strcmp(method, "GET") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  if (r->send_body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->send_body ? body_len : 0));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->send_body ? r->send_body : "");
    char ct[128];
    snprintf(ct, sizeof ct, "Content-Type: %s",
             o->content_type ? o->content_type : "application/json");
    r->headers = curl_slist_append(r->headers, ct);
  }
  if (o->extra_header)
    r->headers = curl_slist_append(r->headers, o->extra_header);
  /* No 100-continue round trip before larger bodies. */
  r->headers = curl_slist_append(r->headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

  LIST_INSERT_HEAD(&c->requests, r, link);
  if (c->in_curl) {
    TAILQ_INSERT_TAIL(&c->to_add, r, queue);
  } else if (curl_multi_add_handle(c->multi, e) == CURLM_OK) {
    r->added = 1;
  } else {
    LIST_REMOVE(r, link);
    request_free(r);
    return NULL;
  }
  return r;
}

httpc_request *httpc_request_json(httpc_client *c, const char *method, const char *path,
                                  const json_t *body, long timeout_ms, httpc_done_cb done,
                                  void *arg) {
  httpc_request_opts o = {.method = method, .path = path, .timeout_ms = timeout_ms,
                          .on_done = done, .arg = arg};
  if (body) {
    o.body_owned = json_dumps(body, JSON_COMPACT);
    if (!o.body_owned)
      return NULL;
    o.body_len = strlen(o.body_owned);
  }
  return httpc_request_start(c, &o);
}

void httpc_request_cancel(httpc_request *r) {
  if (!r || r->cancelled)
    return;
  r->cancelled = 1;
  httpc_client *c = r->c;
  if (c->in_curl) {
    if (!r->added) /* still waiting to be added: drop it from that queue */
      TAILQ_REMOVE(&c->to_add, r, queue);
    TAILQ_INSERT_TAIL(&c->to_remove, r, queue);
  } else {
    request_discard(r);
  }
}

const char *httpc_error_message(const httpc_response *r, char *buf, size_t size) {
  if (r->transport_err) {
    snprintf(buf, size, "%s", r->error ? r->error : "connection failed");
    return buf;
  }
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  const char *msg = json_string_value(json_object_get(doc, "message"));
  if (msg)
    snprintf(buf, size, "%s", msg);
  else
    snprintf(buf, size, "HTTP %ld: %.*s", r->status, (int)(r->body_len > 200 ? 200 : r->body_len),
             r->body);
  json_decref(doc);
  size_t n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  return buf;
}

char *httpc_url_escape(const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  char *copy = e ? strdup(e) : NULL;
  curl_free(e);
  return copy;
}

/* ---- a blocking GET, for the thread pool ------------------------------------------ */

typedef struct blocking_get {
  CURL *easy;
  httpc_data_cb on_data;
  void *arg;
  const atomic_int *stop;
  long status;
  char error_body[512]; /* the start of a non-200 answer */
  size_t error_len;
} blocking_get;

static size_t blocking_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
  blocking_get *g = userdata;
  size_t n = size * nmemb;
  if (atomic_load(g->stop))
    return 0;
  if (!g->status)
    curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &g->status);
  if (g->status == 200)
    return g->on_data(g->arg, ptr, n) == 0 ? n : 0;
  size_t room = sizeof g->error_body - 1 - g->error_len;
  size_t take = n < room ? n : room;
  memcpy(g->error_body + g->error_len, ptr, take);
  g->error_len += take;
  g->error_body[g->error_len] = '\0';
  return n;
}

static int blocking_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  blocking_get *g = userdata;
  return atomic_load(g->stop) ? 1 : 0;
}

long httpc_get_blocking(const httpc_client *c, const char *path, httpc_data_cb on_data,
                        void *arg, const atomic_int *stop, long stall_ms, char *err,
                        size_t err_size) {
  blocking_get g = {.on_data = on_data, .arg = arg, .stop = stop};
  char errbuf[CURL_ERROR_SIZE] = "";
  char *url = NULL;
  if (!c->base || asprintf(&url, "%s%s%s", c->base, c->prefix, path) < 0 ||
      !(g.easy = curl_easy_init())) {
    free(url);
    snprintf(err, err_size, "out of memory");
    return 0;
  }
  CURL *e = g.easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  set_transport(c, e);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  /* A stalled server: under 1 byte/s for stall_ms ends the transfer. */
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall_ms > 1000 ? stall_ms / 1000 : 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, blocking_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, blocking_progress);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &g);
  CURLcode rc = curl_easy_perform(e);
  if (!g.status)
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g.status);
  curl_easy_cleanup(e);
  free(url);
  if (rc != CURLE_OK) {
    snprintf(err, err_size, "%s", atomic_load(stop) ? "stopped" : errbuf[0] ? errbuf
                                                              : curl_easy_strerror(rc));
    return 0;
  }
  if (g.status != 200) {
    httpc_response r = {.status = g.status, .body = g.error_body, .body_len = g.error_len};
    httpc_error_message(&r, err, err_size);
  }
  return g.status;
}
