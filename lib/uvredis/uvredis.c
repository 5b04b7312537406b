/* uvredis: hiredis connections on the libuv loop (see uvredis.h). */
#include "config.h"

#include "uvredis/uvredis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

enum conn_state { ST_WAIT, ST_RESOLVING, ST_CONNECTING, ST_HANDSHAKE, ST_UP, ST_CLOSED };

/* One command in flight: its callback, and its deadline while it is in the
 * timed list (replies come in the order commands were sent, so the list's
 * head is the first one overdue). */
typedef struct cmd {
  uvredis_conn *conn;
  uvredis_reply_cb cb;
  void *arg;
  uint64_t deadline; /* loop ms; 0: not timed */
  bool persistent;   /* SUBSCRIBE: called per message until NULL */
  struct cmd *prev, *next;
} cmd;

/* The poll handle of one hiredis context; freed when the handle is closed
 * (after the context is gone). */
typedef struct poll_ev {
  uv_poll_t handle;
  redisAsyncContext *ac; /* NULL once hiredis cleaned up */
  uvredis_conn *conn;
  int events;
} poll_ev;

struct uvredis_conn {
  uv_loop_t *loop;
  uvredis_config cfg;
  char *name;
  uvredis_state_cb state_cb;
  void *arg;
  enum conn_state state;
  redisAsyncContext *ac;
  uv_timer_t timer;     /* connect timeout, then the reconnect backoff */
  uv_timer_t cmd_timer; /* the timed list's head deadline */
  uv_getaddrinfo_t gai;
  bool resolving;
  uint64_t backoff_ms;
  cmd *head, *tail;     /* timed commands, in send order */
  unsigned refs;        /* open handles and requests; freed at 0 once closed */
  char error[256];
};

static void conn_connect(uvredis_conn *c);
static void conn_down(uvredis_conn *c);

static void set_error(uvredis_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(uvredis_conn *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof c->error, fmt, ap);
  va_end(ap);
}

static void conn_unref(uvredis_conn *c) {
  if (--c->refs == 0 && c->state == ST_CLOSED) {
    uvredis_config_clear(&c->cfg);
    free(c->name);
    free(c);
  }
}

static void on_handle_closed(uv_handle_t *h) { conn_unref(h->data); }

/* ---- the event hooks hiredis calls ------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_ev *p = h->data;
  /* On a poll error, let hiredis read or write anyway: the socket's error
   * then fails the connection instead of leaving it hanging. */
  int ev = status < 0 ? p->events : events;
  if (p->ac && (ev & UV_READABLE))
    redisAsyncHandleRead(p->ac);
  if (p->ac && (ev & UV_WRITABLE))
    redisAsyncHandleWrite(p->ac);
}

static void poll_update(poll_ev *p) {
  if (p->events)
    uv_poll_start(&p->handle, p->events, on_poll);
  else
    uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d) {
  poll_ev *p = d;
  p->events |= UV_READABLE;
  poll_update(p);
}
static void ev_del_read(void *d) {
  poll_ev *p = d;
  p->events &= ~UV_READABLE;
  poll_update(p);
}
static void ev_add_write(void *d) {
  poll_ev *p = d;
  p->events |= UV_WRITABLE;
  poll_update(p);
}
static void ev_del_write(void *d) {
  poll_ev *p = d;
  p->events &= ~UV_WRITABLE;
  poll_update(p);
}

static void on_poll_closed(uv_handle_t *h) {
  poll_ev *p = h->data;
  uvredis_conn *c = p->conn;
  free(p);
  conn_unref(c);
}

static void ev_cleanup(void *d) {
  poll_ev *p = d;
  p->ac = NULL;
  uv_close((uv_handle_t *)&p->handle, on_poll_closed);
}

/* ---- commands ------------------------------------------------------------- */

static void cmd_timer_arm(uvredis_conn *c);

static void cmd_unlink(uvredis_conn *c, cmd *k) {
  if (!k->deadline)
    return;
  if (k->prev)
    k->prev->next = k->next;
  else
    c->head = k->next;
  if (k->next)
    k->next->prev = k->prev;
  else
    c->tail = k->prev;
  k->prev = k->next = NULL;
  k->deadline = 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata) {
  cmd *k = privdata;
  uvredis_conn *c = k->conn;
  redisReply *reply = r;
  const char *err = NULL;
  if (!reply)
    err = ac->err ? ac->errstr : c->error[0] ? c->error : "connection closed";
  if (k->persistent && reply) {
    k->cb(k->arg, reply, NULL);
    return;
  }
  cmd_unlink(c, k);
  k->cb(k->arg, reply, err);
  free(k);
  if (c->state != ST_CLOSED)
    cmd_timer_arm(c);
}

static void on_cmd_timer(uv_timer_t *t) {
  uvredis_conn *c = t->data;
  if (!c->head)
    return;
  if (uv_now(c->loop) < c->head->deadline) {
    cmd_timer_arm(c);
    return;
  }
  set_error(c, "%s: no reply within %llu ms", c->name,
            (unsigned long long)c->cfg.command_timeout_ms);
  conn_down(c);
}

static void cmd_timer_arm(uvredis_conn *c) {
  if (!c->head) {
    uv_timer_stop(&c->cmd_timer);
    return;
  }
  uint64_t now = uv_now(c->loop);
  uv_timer_start(&c->cmd_timer, on_cmd_timer,
                 c->head->deadline > now ? c->head->deadline - now : 0, 0);
}

/* Sends on the current context whatever the state (the handshake's AUTH
 * and SELECT go out before the connection is up). */
static int send_argv(uvredis_conn *c, uint64_t extra_ms, uvredis_reply_cb cb, void *arg, int argc,
                     const char **argv, const size_t *argvlen) {
  if (!c->ac)
    return -1;
  cmd *k = calloc(1, sizeof *k);
  if (!k)
    return -1;
  k->conn = c;
  k->cb = cb;
  k->arg = arg;
  k->persistent = extra_ms == UVREDIS_TIMEOUT_NONE;
  if (redisAsyncCommandArgv(c->ac, on_reply, k, argc, argv, argvlen) != REDIS_OK) {
    free(k);
    return -1;
  }
  if (!k->persistent) {
    k->deadline = uv_now(c->loop) + c->cfg.command_timeout_ms + extra_ms;
    if (k->deadline == 0)
      k->deadline = 1;
    k->prev = c->tail;
    if (c->tail)
      c->tail->next = k;
    else
      c->head = k;
    c->tail = k;
    if (c->head == k)
      cmd_timer_arm(c);
  }
  return 0;
}

int uvredis_command(uvredis_conn *c, uint64_t extra_ms, uvredis_reply_cb cb, void *arg, int argc,
                    const char **argv, const size_t *argvlen) {
  if (c->state != ST_UP)
    return -1;
  return send_argv(c, extra_ms, cb, arg, argc, argv, argvlen);
}

/* ---- connection life ------------------------------------------------------ */

static void on_retry(uv_timer_t *t) {
  uvredis_conn *c = t->data;
  conn_connect(c);
}

/* The context is gone or going: tell the owner if it was up, and try
 * again after the backoff. */
static void conn_down(uvredis_conn *c) {
  if (c->state == ST_CLOSED)
    return;
  redisAsyncContext *ac = c->ac;
  bool was_up = c->state == ST_UP;
  c->ac = NULL;
  c->state = ST_WAIT;
  uv_timer_stop(&c->timer);
  if (ac) {
    /* Its pending callbacks run now, with NULL (c->error says why). */
    ac->data = NULL;
    redisAsyncFree(ac);
  }
  if (c->state == ST_CLOSED)
    return; /* closed from a callback just run */
  if (was_up && c->state_cb)
    c->state_cb(c->arg, false, c->error);
  if (c->state != ST_WAIT)
    return; /* closed, or reconnecting already */
  uv_timer_start(&c->timer, on_retry, c->backoff_ms, 0);
  c->backoff_ms *= 2;
  if (c->backoff_ms > c->cfg.backoff_max_ms)
    c->backoff_ms = c->cfg.backoff_max_ms;
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  uvredis_conn *c = ac->data;
  if (!c)
    return; /* dropped by us: conn_down is under way */
  if (status != REDIS_OK || !c->error[0])
    set_error(c, "%s: connection lost: %s", c->name, ac->err ? ac->errstr : "closed by the server");
  c->ac = NULL; /* hiredis frees it on return */
  conn_down(c);
}

static void become_up(uvredis_conn *c) {
  uv_timer_stop(&c->timer);
  c->state = ST_UP;
  c->backoff_ms = c->cfg.backoff_min_ms;
  c->error[0] = '\0';
  if (c->state_cb)
    c->state_cb(c->arg, true, NULL);
}

static void on_select(void *arg, redisReply *r, const char *err) {
  uvredis_conn *c = arg;
  if (c->state != ST_HANDSHAKE)
    return;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    set_error(c, "%s: SELECT %d refused: %s", c->name, c->cfg.db, r ? r->str : err);
    conn_down(c);
    return;
  }
  become_up(c);
}

static void send_select(uvredis_conn *c) {
  char db[16];
  snprintf(db, sizeof db, "%d", c->cfg.db);
  const char *argv[] = {"SELECT", db};
  size_t lens[] = {6, strlen(db)};
  if (send_argv(c, 0, on_select, c, 2, argv, lens) != 0) {
    set_error(c, "%s: cannot send SELECT", c->name);
    conn_down(c);
  }
}

static void on_auth(void *arg, redisReply *r, const char *err) {
  uvredis_conn *c = arg;
  if (c->state != ST_HANDSHAKE)
    return;
  if (!r || r->type == REDIS_REPLY_ERROR) {
    set_error(c, "%s: AUTH%s%s refused: %s", c->name, c->cfg.user ? " as " : "",
              c->cfg.user ? c->cfg.user : "", r ? r->str : err);
    conn_down(c);
    return;
  }
  if (c->cfg.db)
    send_select(c);
  else
    become_up(c);
}

static void on_connect_timeout(uv_timer_t *t);

static void on_connect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  uvredis_conn *c = ac->data;
  if (!c)
    return;
  if (status != REDIS_OK) {
    set_error(c, "%s: cannot connect: %s", c->name, ac->errstr);
    c->ac = NULL; /* hiredis frees it on return */
    conn_down(c);
    return;
  }
  c->state = ST_HANDSHAKE;
  if (c->cfg.password) {
    const char *argv[3];
    size_t lens[3];
    int n = 0;
    argv[n] = "AUTH", lens[n++] = 4;
    if (c->cfg.user)
      argv[n] = c->cfg.user, lens[n++] = strlen(c->cfg.user);
    argv[n] = c->cfg.password, lens[n++] = strlen(c->cfg.password);
    if (send_argv(c, 0, on_auth, c, n, argv, lens) != 0) {
      set_error(c, "%s: cannot send AUTH", c->name);
      uv_timer_stop(&c->timer); /* dropped from the loop, not inside hiredis */
      uv_timer_start(&c->timer, on_connect_timeout, 0, 0);
    }
  } else if (c->cfg.db) {
    send_select(c);
  } else {
    become_up(c);
  }
}

static void on_connect_timeout(uv_timer_t *t) {
  uvredis_conn *c = t->data;
  set_error(c, "%s: not connected within %llu ms", c->name,
            (unsigned long long)c->cfg.connect_timeout_ms);
  conn_down(c);
}

static void connect_to(uvredis_conn *c, const char *ip) {
  redisAsyncContext *ac = c->cfg.unix_path ? redisAsyncConnectUnix(c->cfg.unix_path)
                                           : redisAsyncConnect(ip, c->cfg.port);
  if (!ac || ac->err) {
    set_error(c, "%s: cannot connect: %s", c->name, ac ? ac->errstr : "out of memory");
    if (ac)
      redisAsyncFree(ac);
    conn_down(c);
    return;
  }
  poll_ev *p = calloc(1, sizeof *p);
  if (!p || uv_poll_init(c->loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    set_error(c, "%s: cannot watch the socket", c->name);
    redisAsyncFree(ac);
    conn_down(c);
    return;
  }
  p->handle.data = p;
  p->ac = ac;
  p->conn = c;
  c->refs++;
  ac->ev.data = p;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  ac->data = c;
  c->ac = ac;
  c->state = ST_CONNECTING;
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  redisAsyncSetConnectCallback(ac, on_connect);
  uv_timer_start(&c->timer, on_connect_timeout, c->cfg.connect_timeout_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  uvredis_conn *c = req->data;
  c->resolving = false;
  if (c->state == ST_CLOSED) {
    uv_freeaddrinfo(res);
    conn_unref(c);
    return;
  }
  conn_unref(c);
  char ip[64] = "";
  if (status == 0 && res) {
    if (res->ai_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    else
      uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
  }
  uv_freeaddrinfo(res);
  if (!ip[0]) {
    set_error(c, "%s: cannot resolve %s: %s", c->name, c->cfg.host,
              status ? uv_strerror(status) : "no address");
    conn_down(c);
    return;
  }
  connect_to(c, ip);
}

static void conn_connect(uvredis_conn *c) {
  if (c->state == ST_CLOSED)
    return;
  if (c->cfg.unix_path) {
    connect_to(c, NULL);
    return;
  }
  unsigned char buf[sizeof(struct in6_addr)];
  if (uv_inet_pton(AF_INET, c->cfg.host, buf) == 0 || uv_inet_pton(AF_INET6, c->cfg.host, buf) == 0) {
    connect_to(c, c->cfg.host);
    return;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  c->gai.data = c;
  c->state = ST_RESOLVING;
  if (uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->cfg.host, NULL, &hints) != 0) {
    set_error(c, "%s: cannot resolve %s", c->name, c->cfg.host);
    conn_down(c);
    return;
  }
  c->resolving = true;
  c->refs++;
}

uvredis_conn *uvredis_conn_new(uv_loop_t *loop, const uvredis_config *cfg, const char *name,
                               uvredis_state_cb state_cb, void *arg) {
  uvredis_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->name = strdup(name);
  if (!c->name || uvredis_config_copy(&c->cfg, cfg) != 0) {
    uvredis_config_clear(&c->cfg);
    free(c->name);
    free(c);
    return NULL;
  }
  if (!c->cfg.connect_timeout_ms)
    c->cfg.connect_timeout_ms = 5000;
  if (!c->cfg.command_timeout_ms)
    c->cfg.command_timeout_ms = 10000;
  if (!c->cfg.backoff_min_ms)
    c->cfg.backoff_min_ms = 100;
  if (c->cfg.backoff_max_ms < c->cfg.backoff_min_ms)
    c->cfg.backoff_max_ms = c->cfg.backoff_min_ms * 50;
  c->loop = loop;
  c->state_cb = state_cb;
  c->arg = arg;
  c->backoff_ms = c->cfg.backoff_min_ms;
  uv_timer_init(loop, &c->timer);
  uv_timer_init(loop, &c->cmd_timer);
  c->timer.data = c->cmd_timer.data = c;
  c->refs = 2;
  c->state = ST_WAIT;
  set_error(c, "%s: connecting", c->name);
  conn_connect(c);
  return c;
}

bool uvredis_conn_up(const uvredis_conn *c) { return c->state == ST_UP; }

const char *uvredis_conn_error(const uvredis_conn *c) {
  return c->state == ST_UP ? "up" : c->error;
}

void uvredis_conn_close(uvredis_conn *c) {
  if (!c || c->state == ST_CLOSED)
    return;
  c->state = ST_CLOSED;
  set_error(c, "%s: closed", c->name);
  if (c->resolving)
    uv_cancel((uv_req_t *)&c->gai);
  redisAsyncContext *ac = c->ac;
  c->ac = NULL;
  c->refs++; /* held while hiredis runs the callbacks */
  if (ac) {
    ac->data = NULL;
    redisAsyncFree(ac);
  }
  c->head = c->tail = NULL; /* each cmd was freed by its callback */
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->cmd_timer, on_handle_closed);
  conn_unref(c);
}

const char *uvredis_reply_text(const redisReply *r) {
  if (!r)
    return "no reply";
  switch (r->type) {
  case REDIS_REPLY_ERROR:
  case REDIS_REPLY_STATUS:
  case REDIS_REPLY_STRING:
    return r->str;
  case REDIS_REPLY_NIL:
    return "nil";
  case REDIS_REPLY_INTEGER:
    return "integer";
  case REDIS_REPLY_ARRAY:
    return "array";
  default:
    return "reply";
  }
}
