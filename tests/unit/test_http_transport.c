/* The http transport plugin, loaded through execd's real loader with an
 * in-memory host of its own (submit/get/list/cancel/remove/logs/watch/
 * agents/health/metrics), driven over real HTTP on a loopback port.
 *
 * The server runs on the libuv loop of this (main) thread; the HTTP client
 * (libcurl) runs in a second thread.  The fake host is only touched from
 * the main thread; the client thread only fills in http_result structs,
 * which the main thread checks after joining it. */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <execd/plugin.h>

#include "loader.h"

/* ======================================================================== */
/* The fake host                                                              */
/* ======================================================================== */

struct execd_instance {
  char name[16];
};

static execd_instance the_inst = {"http"};
static uv_loop_t loop;
static char last_error[1024];
static char *log_text;  /* every line the plugin logged */
static size_t log_len;
static unsigned server_port;

#define LOG_PAGE 10 /* small log pages, so streams have to page */

typedef struct fake_exec {
  struct fake_exec *next;
  char id[40];
  char tenant[80];
  json_t *doc;   /* the execution document */
  char *log;
  size_t log_len;
  int lines_left; /* lines still to print; -1: runs silently forever */
  int line_no;
  execd_reply_cb wait_cb; /* submit ?wait= */
  void *wait_arg;
  int await_watch; /* print nothing until someone watches it */
} fake_exec;

struct execd_watch {
  struct execd_watch *next;
  fake_exec *ex;
  execd_watch_cb cb;
  void *arg;
  int dead;
};

typedef struct deferred {
  struct deferred *next;
  execd_reply_cb cb;
  void *arg;
  int status;
  char *code, *message, *field;
  json_t *body;
  execd_watch *end_for; /* or: deliver "end" to this watch */
} deferred;

static struct {
  fake_exec *execs;
  execd_watch *watches;
  deferred *queue, **tail;
  uv_timer_t drain, runner;
  int id_counter;
  int ready;            /* health answer */
  int hold_submits;     /* "simulate":"hang": keep the reply */
  deferred *held;
  /* what the plugin passed */
  char last_tenant[80];
  unsigned last_wait;
  char last_state[32], last_label_key[64], last_label_value[64], last_cursor[64];
  unsigned last_limit;
  int submits, lists, logs_calls, watch_calls;
} fh;

static void log_append(const char *line) {
  size_t n = strlen(line);
  char *grown = realloc(log_text, log_len + n + 2);
  ck_assert_ptr_nonnull(grown);
  memcpy(grown + log_len, line, n);
  log_len += n;
  grown[log_len++] = '\n';
  grown[log_len] = '\0';
  log_text = grown;
}

static void h_log(execd_instance *inst, int level, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log_append(line);
  if (getenv("TEST_DEBUG") || level <= EXECD_LOG_WARNING)
    fprintf(stderr, "[%s] %d %s\n", inst ? inst->name : "?", level, line);
  const char *p = strstr(line, "listening on ");
  if (p && level == EXECD_LOG_NOTICE) {
    const char *colon = strrchr(p, ':');
    if (colon)
      server_port = (unsigned)atoi(colon + 1);
  }
}

static void h_set_error(execd_instance *inst, const char *fmt, ...) {
  (void)inst;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

static uv_loop_t *h_loop(execd_instance *inst) { return &loop; }
static const char *h_instance_name(execd_instance *inst) { return inst->name; }
static const char *h_state_dir(execd_instance *inst) { return "/tmp"; }
static void h_job_output(execd_job *j, int s, const char *d, size_t l) {}
static void h_job_exited(execd_job *j, const struct execd_job_exit *e) {}

/* -- deferred delivery: replies never come from inside the call ---------- */

static void drain_cb(uv_timer_t *t);

static void enqueue(deferred *d) {
  d->next = NULL;
  *fh.tail = d;
  fh.tail = &d->next;
  if (!uv_is_active((uv_handle_t *)&fh.drain))
    uv_timer_start(&fh.drain, drain_cb, 1, 0);
}

static void deferred_free(deferred *d) {
  json_decref(d->body);
  free(d->code);
  free(d->message);
  free(d->field);
  free(d);
}

static void deliver(deferred *d) {
  execd_reply r = {sizeof r, d->status, d->code, d->message, d->field, d->body};
  d->cb(d->arg, &r);
}

static void watch_sweep(void);

static void drain_cb(uv_timer_t *t) {
  deferred *list = fh.queue;
  fh.queue = NULL;
  fh.tail = &fh.queue;
  while (list) {
    deferred *d = list;
    list = d->next;
    if (d->end_for) {
      if (!d->end_for->dead) {
        d->end_for->cb(d->end_for->arg, "end", d->body);
        d->end_for->dead = 1;
      }
    } else {
      deliver(d);
    }
    deferred_free(d);
  }
  watch_sweep();
}

static void reply_ok(execd_reply_cb cb, void *arg, json_t *body /* stolen */) {
  deferred *d = calloc(1, sizeof *d);
  d->cb = cb;
  d->arg = arg;
  d->body = body;
  enqueue(d);
}

static void reply_err(execd_reply_cb cb, void *arg, int status, const char *code,
                      const char *message, const char *field) {
  deferred *d = calloc(1, sizeof *d);
  d->cb = cb;
  d->arg = arg;
  d->status = status;
  d->code = code ? strdup(code) : NULL;
  d->message = message ? strdup(message) : NULL;
  d->field = field ? strdup(field) : NULL;
  enqueue(d);
}

/* -- executions ---------------------------------------------------------- */

static int terminal(const fake_exec *ex) {
  const char *s = json_string_value(json_object_get(ex->doc, "state"));
  return strcmp(s, "SUCCEEDED") == 0 || strcmp(s, "FAILED") == 0 ||
         strcmp(s, "CANCELLED") == 0;
}

static fake_exec *find_exec(const char *tenant, const char *id) {
  for (fake_exec *ex = fh.execs; ex; ex = ex->next)
    if (strcmp(ex->id, id) == 0 && strcmp(ex->tenant, tenant) == 0)
      return ex;
  return NULL;
}

static void notify(fake_exec *ex, const char *type, const json_t *data) {
  for (execd_watch *w = fh.watches; w; w = w->next)
    if (!w->dead && w->ex == ex) {
      w->cb(w->arg, type, data);
      if (strcmp(type, "end") == 0)
        w->dead = 1; /* finished */
    }
}

static void watch_sweep(void) {
  execd_watch **p = &fh.watches;
  while (*p) {
    execd_watch *w = *p;
    if (w->dead) {
      *p = w->next;
      free(w);
    } else {
      p = &w->next;
    }
  }
}

static int live_watches(void) {
  int n = 0;
  for (execd_watch *w = fh.watches; w; w = w->next)
    n += !w->dead;
  return n;
}

static void set_state(fake_exec *ex, const char *state) {
  json_object_set_new(ex->doc, "state", json_string(state));
  json_array_append_new(json_object_get(ex->doc, "history"),
                        json_pack("{s:s, s:s}", "to", state, "reason", "test"));
  notify(ex, "state", ex->doc);
  if (terminal(ex)) {
    notify(ex, "end", ex->doc);
    if (ex->wait_cb) {
      reply_ok(ex->wait_cb, ex->wait_arg, json_deep_copy(ex->doc));
      ex->wait_cb = NULL;
    }
  }
}

static int watched(const fake_exec *ex) {
  for (execd_watch *w = fh.watches; w; w = w->next)
    if (w->ex == ex && !w->dead)
      return 1;
  return 0;
}

/* Every tick, running executions print one line each. */
static void runner_cb(uv_timer_t *t) {
  for (fake_exec *ex = fh.execs; ex; ex = ex->next) {
    if (terminal(ex) || ex->lines_left < 0 || (ex->await_watch && !watched(ex)))
      continue;
    if (ex->lines_left == 0) {
      set_state(ex, "SUCCEEDED");
      continue;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "line %d of %s\n", ++ex->line_no,
                     ex->id + 30);
    ex->log = realloc(ex->log, ex->log_len + (size_t)n + 1);
    memcpy(ex->log + ex->log_len, line, (size_t)n + 1);
    ex->log_len += (size_t)n;
    ex->lines_left--;
    json_t *ev = json_pack("{s:s, s:s}", "stream", "stdout", "data", line);
    notify(ex, "log", ev);
    json_decref(ev);
  }
  watch_sweep();
}

static fake_exec *new_exec(const char *tenant, int lines, const json_t *labels) {
  fake_exec *ex = calloc(1, sizeof *ex);
  snprintf(ex->id, sizeof ex->id, "0190a0b0-c0d0-7e00-8f00-%012x",
           ++fh.id_counter);
  snprintf(ex->tenant, sizeof ex->tenant, "%s", tenant);
  ex->lines_left = lines;
  ex->doc = json_pack("{s:s, s:s, s:O, s:[{s:s, s:s}]}", "execution_id", ex->id,
                      "state", "RUNNING", "labels", labels ? labels : json_object(),
                      "history", "to", "QUEUED", "reason", "accepted");
  if (!labels)
    json_decref(json_object_get(ex->doc, "labels"));
  json_array_append_new(json_object_get(ex->doc, "history"),
                        json_pack("{s:s, s:s}", "to", "RUNNING", "reason", "started"));
  ex->next = fh.execs;
  fh.execs = ex;
  return ex;
}

/* -- the host API ---------------------------------------------------------- */

static int h_submit(execd_instance *i, const char *tenant, const char *body,
                    size_t len, unsigned wait_s, execd_reply_cb cb, void *arg) {
  fh.submits++;
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  fh.last_wait = wait_s;
  json_error_t jerr;
  json_t *req = json_loadb(body, len, 0, &jerr);
  if (!json_is_object(req)) {
    char msg[256];
    snprintf(msg, sizeof msg, "the body is not a JSON object: %s", jerr.text);
    reply_err(cb, arg, EXECD_EINVAL, "invalid_request", msg, NULL);
    json_decref(req);
    return 0;
  }
  const char *sim = json_string_value(json_object_get(req, "simulate"));
  if (sim) {
    if (strcmp(sim, "busy") == 0)
      reply_err(cb, arg, EXECD_EBUSY, "queue_full", "the queue is full", NULL);
    else if (strcmp(sim, "unprocessable") == 0)
      reply_err(cb, arg, EXECD_EUNPROC, NULL, "schema says no", "input.data");
    else if (strcmp(sim, "forbidden") == 0)
      reply_err(cb, arg, EXECD_EPERM, "not_allowed", "command not allowed",
                "container.command");
    else if (strcmp(sim, "unavailable") == 0)
      reply_err(cb, arg, EXECD_EUNAVAIL, NULL, NULL, NULL);
    else if (strcmp(sim, "refuse") == 0) {
      json_decref(req);
      return EXECD_EUNAVAIL; /* refused outright: no callback */
    } else if (strcmp(sim, "hang") == 0) {
      deferred *d = calloc(1, sizeof *d);
      d->cb = cb;
      d->arg = arg;
      d->body = json_pack("{s:s}", "execution_id", "late");
      d->next = fh.held;
      fh.held = d;
    }
    json_decref(req);
    return 0;
  }
  const char *key = json_string_value(json_object_get(req, "idempotency_key"));
  if (key)
    for (fake_exec *ex = fh.execs; ex; ex = ex->next) {
      const char *k = json_string_value(json_object_get(ex->doc, "idempotency_key"));
      if (k && strcmp(k, key) == 0 && strcmp(ex->tenant, tenant) == 0) {
        deferred *d = calloc(1, sizeof *d);
        d->cb = cb;
        d->arg = arg;
        d->code = strdup("idempotent_replay");
        d->body = json_deep_copy(ex->doc);
        enqueue(d);
        json_decref(req);
        return 0;
      }
    }
  json_t *lines = json_object_get(req, "lines");
  fake_exec *ex = new_exec(tenant, lines ? (int)json_integer_value(lines) : 3,
                           json_object_get(req, "labels"));
  if (key)
    json_object_set_new(ex->doc, "idempotency_key", json_string(key));
  if (wait_s) {
    ex->wait_cb = cb;
    ex->wait_arg = arg;
  } else {
    reply_ok(cb, arg, json_deep_copy(ex->doc));
  }
  json_decref(req);
  return 0;
}

static int h_get(execd_instance *i, const char *tenant, const char *id,
                 execd_reply_cb cb, void *arg) {
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  fake_exec *ex = find_exec(tenant, id);
  if (!ex)
    reply_err(cb, arg, EXECD_ENOENT, "not_found", "no such execution", NULL);
  else
    reply_ok(cb, arg, json_deep_copy(ex->doc));
  return 0;
}

static int h_list(execd_instance *i, const char *tenant, const execd_list_query *q,
                  execd_reply_cb cb, void *arg) {
  fh.lists++;
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  snprintf(fh.last_state, sizeof fh.last_state, "%s", q->state ? q->state : "");
  snprintf(fh.last_label_key, sizeof fh.last_label_key, "%s",
           q->label_key ? q->label_key : "");
  snprintf(fh.last_label_value, sizeof fh.last_label_value, "%s",
           q->label_value ? q->label_value : "");
  snprintf(fh.last_cursor, sizeof fh.last_cursor, "%s", q->cursor ? q->cursor : "");
  fh.last_limit = q->limit;
  json_t *list = json_array();
  for (fake_exec *ex = fh.execs; ex; ex = ex->next) {
    if (strcmp(ex->tenant, tenant) != 0)
      continue;
    if (q->state &&
        strcmp(q->state, json_string_value(json_object_get(ex->doc, "state"))) != 0)
      continue;
    if (q->label_key) {
      const char *v = json_string_value(
          json_object_get(json_object_get(ex->doc, "labels"), q->label_key));
      if (!v || strcmp(v, q->label_value) != 0)
        continue;
    }
    json_array_append_new(list, json_deep_copy(ex->doc));
  }
  reply_ok(cb, arg, json_pack("{s:o, s:n}", "executions", list, "next_cursor"));
  return 0;
}

static int h_cancel(execd_instance *i, const char *tenant, const char *id,
                    execd_reply_cb cb, void *arg) {
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  fake_exec *ex = find_exec(tenant, id);
  if (!ex) {
    reply_err(cb, arg, EXECD_ENOENT, "not_found", "no such execution", NULL);
  } else if (terminal(ex)) {
    reply_err(cb, arg, EXECD_ECONFLICT, "already_finished", "it already ended", NULL);
  } else {
    ex->lines_left = 0;
    set_state(ex, "CANCELLED");
    reply_ok(cb, arg, json_deep_copy(ex->doc));
  }
  return 0;
}

static int h_remove(execd_instance *i, const char *tenant, const char *id,
                    execd_reply_cb cb, void *arg) {
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  fake_exec *ex = find_exec(tenant, id);
  if (!ex) {
    reply_err(cb, arg, EXECD_ENOENT, "not_found", "no such execution", NULL);
    return 0;
  }
  if (!terminal(ex)) {
    reply_err(cb, arg, EXECD_ECONFLICT, "not_finished", "cancel it first", NULL);
    return 0;
  }
  for (fake_exec **p = &fh.execs; *p; p = &(*p)->next)
    if (*p == ex) {
      *p = ex->next;
      break;
    }
  json_decref(ex->doc);
  free(ex->log);
  free(ex);
  reply_ok(cb, arg, NULL); /* the transport fills in a body */
  return 0;
}

static int h_logs(execd_instance *i, const char *tenant, const char *id,
                  uint64_t offset, execd_reply_cb cb, void *arg) {
  fh.logs_calls++;
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  fake_exec *ex = find_exec(tenant, id);
  if (!ex) {
    reply_err(cb, arg, EXECD_ENOENT, "not_found", "no such execution", NULL);
    return 0;
  }
  size_t from = offset < ex->log_len ? (size_t)offset : ex->log_len;
  size_t n = ex->log_len - from < LOG_PAGE ? ex->log_len - from : LOG_PAGE;
  reply_ok(cb, arg,
           json_pack("{s:s%, s:I, s:I, s:b}", "logs", ex->log ? ex->log + from : "",
                     n, "offset", (json_int_t)offset, "next_offset",
                     (json_int_t)(from + n), "done",
                     terminal(ex) && from + n == ex->log_len));
  return 0;
}

/* Marks every FAKE_MARK bytes, named "t<offset>": a line's expected time is
 * that of the mark at or before its first byte. */
#define FAKE_MARK 16

static int h_logs_timed(execd_instance *i, const char *tenant, const char *id,
                        uint64_t offset, execd_reply_cb cb, void *arg) {
  fake_exec *ex = find_exec(tenant, id);
  if (!ex) {
    reply_err(cb, arg, EXECD_ENOENT, "not_found", "no such execution", NULL);
    return 0;
  }
  size_t from = offset < ex->log_len ? (size_t)offset : ex->log_len;
  size_t n = ex->log_len - from < LOG_PAGE ? ex->log_len - from : LOG_PAGE;
  json_t *times = json_array();
  for (size_t m = from - from % FAKE_MARK; m < from + n; m += FAKE_MARK) {
    char at[32];
    snprintf(at, sizeof at, "t%zu", m);
    json_array_append_new(times, json_pack("{s:I, s:s}", "offset", (json_int_t)m, "at", at));
  }
  reply_ok(cb, arg,
           json_pack("{s:s%, s:I, s:I, s:b, s:o}", "logs", ex->log ? ex->log + from : "",
                     n, "offset", (json_int_t)offset, "next_offset",
                     (json_int_t)(from + n), "done",
                     terminal(ex) && from + n == ex->log_len, "times", times));
  return 0;
}

static int h_watch(execd_instance *i, const char *tenant, const char *id,
                   execd_watch_cb cb, void *arg, execd_watch **out) {
  fh.watch_calls++;
  snprintf(fh.last_tenant, sizeof fh.last_tenant, "%s", tenant);
  *out = NULL;
  fake_exec *ex = find_exec(tenant, id);
  if (!ex)
    return EXECD_ENOENT;
  execd_watch *w = calloc(1, sizeof *w);
  w->ex = ex;
  w->cb = cb;
  w->arg = arg;
  w->next = fh.watches;
  fh.watches = w;
  if (terminal(ex)) {
    deferred *d = calloc(1, sizeof *d);
    d->end_for = w;
    d->body = json_deep_copy(ex->doc);
    enqueue(d);
  }
  *out = w;
  return 0;
}

static void h_unwatch(execd_watch *w) { w->dead = 1; }

/* Answers from inside the call, to check that path too. */
static int h_agents(execd_instance *i, execd_reply_cb cb, void *arg) {
  json_t *body = json_pack("{s:[{s:s}]}", "agents", "name", "echo");
  execd_reply r = {sizeof r, 0, NULL, NULL, NULL, body};
  cb(arg, &r);
  json_decref(body);
  return 0;
}

static int h_health(execd_instance *i, execd_reply_cb cb, void *arg) {
  if (fh.ready)
    reply_ok(cb, arg, json_pack("{s:b, s:[], s:{s:s}}", "ready", 1, "down",
                                "components", "storage file", "ok"));
  else
    reply_ok(cb, arg, json_pack("{s:b, s:[s], s:{s:s}}", "ready", 0, "down",
                                "storage file", "components", "storage file",
                                "disk full"));
  return 0;
}

static int h_metrics(execd_instance *i, execd_reply_cb cb, void *arg) {
  reply_ok(cb, arg,
           json_string("# TYPE execd_up gauge\nexecd_up 1\n"
                       "execd_executions_total{state=\"SUCCEEDED\"} 3\n"));
  return 0;
}

/* The daemon's authenticate (ABI 1.5), over the "TOKEN TENANT" lines of
 * fh_tokens; with none set, every caller is anonymous.  (The tokens file
 * itself is the core's: tests/unit/test_tenants.c.) */
static char fh_tokens[1024];

static int h_authenticate(execd_instance *inst, const char *token, size_t len, char *tenant,
                          size_t size) {
  (void)inst;
  if (!fh_tokens[0]) {
    snprintf(tenant, size, "%s", EXECD_TENANT_ANONYMOUS);
    return 0;
  }
  for (const char *line = fh_tokens; token && *line;) {
    size_t tl = strcspn(line, " "), ll = strcspn(line, "\n");
    if (tl == len && memcmp(line, token, len) == 0) {
      snprintf(tenant, size, "%.*s", (int)(ll - tl - 1), line + tl + 1);
      return 0;
    }
    line += ll + (line[ll] == '\n');
  }
  return EXECD_EPERM;
}

static const execd_host host_table = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR,
    .struct_size = sizeof(execd_host),
    .log = h_log,
    .set_error = h_set_error,
    .loop = h_loop,
    .instance_name = h_instance_name,
    .state_dir = h_state_dir,
    .job_output = h_job_output,
    .job_exited = h_job_exited,
    .submit = h_submit,
    .get = h_get,
    .list = h_list,
    .cancel = h_cancel,
    .remove = h_remove,
    .logs = h_logs,
    .watch = h_watch,
    .unwatch = h_unwatch,
    .agents = h_agents,
    .health = h_health,
    .metrics = h_metrics,
    .logs_timed = h_logs_timed,
    .authenticate = h_authenticate,
};

/* ======================================================================== */
/* Loading the plugin                                                        */
/* ======================================================================== */

static loaded_plugin *loaded;
static const execd_plugin *plugin;
static void *self;

static void setup(void) {
  memset(&fh, 0, sizeof fh);
  fh.tail = &fh.queue;
  fh.ready = 1;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &fh.drain);
  uv_timer_init(&loop, &fh.runner);
  uv_timer_start(&fh.runner, runner_cb, 15, 15);
  ck_assert_int_eq(loader_init(getenv("EXECD_PLUGIN_PATH")), 0);
  char err[512];
  int rc = loader_open(EXECD_KIND_TRANSPORT, "http", &host_table, &loaded, err,
                       sizeof err);
  ck_assert_msg(rc == 0, "loading transport_http: %s", err);
  plugin = loader_descriptor(loaded);
  free(log_text);
  log_text = NULL;
  log_len = 0;
  server_port = 0;
  fh_tokens[0] = '\0';
}

static void free_all_execs(void) {
  while (fh.execs) {
    fake_exec *ex = fh.execs;
    fh.execs = ex->next;
    json_decref(ex->doc);
    free(ex->log);
    free(ex);
  }
}

static void teardown(void) {
  if (self) {
    plugin->stop(self);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  /* Replies still queued go to a stopped server: they must be dropped
   * safely (the request contexts are marked closed). */
  while (fh.held) {
    deferred *d = fh.held;
    fh.held = d->next;
    deliver(d);
    deferred_free(d);
  }
  uv_timer_stop(&fh.runner);
  uv_close((uv_handle_t *)&fh.runner, NULL);
  uv_close((uv_handle_t *)&fh.drain, NULL);
  drain_cb(&fh.drain);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (self)
    plugin->destroy(self);
  self = NULL;
  watch_sweep();
  ck_assert_msg(fh.watches == NULL, "a watch was never ended or unwatched");
  loader_close(loaded);
  loader_exit();
  free_all_execs();
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  free(log_text);
  log_text = NULL;
}

/* create() + start(); returns the error, with the message in last_error. */
static int try_start(const char *config_json) {
  json_error_t jerr;
  json_t *config = json_loads(config_json, 0, &jerr);
  ck_assert_msg(config != NULL, "bad test config: %s", jerr.text);
  last_error[0] = '\0';
  int rc = plugin->create(&host_table, &the_inst, config, &self);
  json_decref(config);
  if (rc == 0 && plugin->start) {
    rc = plugin->start(self);
    if (rc != 0) {
      plugin->stop(self);
      uv_run(&loop, UV_RUN_NOWAIT);
      plugin->destroy(self);
      self = NULL;
    }
  }
  if (rc != 0)
    self = NULL;
  return rc;
}

static void start_server(const char *config_json) {
  int rc = try_start(config_json);
  ck_assert_msg(rc == 0, "start failed: %s (%s)", execd_strerror(rc), last_error);
  ck_assert_msg(server_port != 0, "no 'listening on' line in the log:\n%s",
                log_text ? log_text : "");
}

/* The tokens the stub host knows: "TOKEN TENANT\n" lines. */
static void set_tokens(const char *lines) { snprintf(fh_tokens, sizeof fh_tokens, "%s", lines); }

static void guard_cb(uv_timer_t *t) { (void)t; }

/* Run the loop until done() or timeout_ms; returns done(). */
static int run_until(int (*done)(void), int timeout_ms) {
  uint64_t end = uv_now(&loop) + (uint64_t)timeout_ms;
  uv_timer_t guard;
  uv_timer_init(&loop, &guard);
  while (!done() && uv_now(&loop) < end) {
    uv_timer_start(&guard, guard_cb, 20, 0);
    uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return done();
}

/* ======================================================================== */
/* The HTTP client (second thread)                                            */
/* ======================================================================== */

typedef struct http_result {
  CURLcode rc;
  long status;
  char *body;
  size_t len;
  char content_type[128];
  char allow[128];
  char www_auth[256];
  char location[256];
  char retry_after[32];
} http_result;

typedef struct http_req {
  const char *method;
  const char *path;
  const char *token;        /* bearer token, or NULL */
  const char *content_type; /* or NULL: none */
  const char *body;         /* or NULL */
  size_t body_len;
  int chunked;              /* send the body without Content-Length */
  long timeout_ms;          /* 0: 20 s */
  /* Raw mode (no libcurl): these bytes are sent as they are, followed by
   * raw_chunks 64 KiB chunks of a chunked body (stopping early if the server
   * answers); the answer is read until the server closes. */
  const char *raw;
  size_t raw_chunks;
} http_req;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  http_result *r = ud;
  size_t len = size * n;
  char *grown = realloc(r->body, r->len + len + 1);
  if (!grown)
    return 0;
  memcpy(grown + r->len, p, len);
  r->len += len;
  grown[r->len] = '\0';
  r->body = grown;
  return len;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t outlen) {
  size_t nl = strlen(name);
  if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
    return;
  const char *v = line + nl + 1;
  const char *end = line + len;
  while (v < end && *v == ' ')
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n'))
    end--;
  snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  http_result *r = ud;
  size_t len = size * n;
  header_value(p, len, "Content-Type", r->content_type, sizeof r->content_type);
  header_value(p, len, "Allow", r->allow, sizeof r->allow);
  header_value(p, len, "WWW-Authenticate", r->www_auth, sizeof r->www_auth);
  header_value(p, len, "Location", r->location, sizeof r->location);
  header_value(p, len, "Retry-After", r->retry_after, sizeof r->retry_after);
  return len;
}

typedef struct upload {
  const char *data;
  size_t len, pos;
} upload;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
  upload *u = ud;
  size_t left = u->len - u->pos;
  size_t take = size * n < left ? size * n : left;
  if (take > 700)
    take = 700; /* several chunks */
  memcpy(buf, u->data + u->pos, take);
  u->pos += take;
  return take;
}

/* Parse a raw HTTP answer into r (status, Content-Type, body). */
static void raw_parse(http_result *r, char *data, size_t len) {
  r->rc = CURLE_OK;
  if (len < 12 || strncmp(data, "HTTP/1.", 7) != 0) {
    r->rc = CURLE_GOT_NOTHING;
    r->body = data;
    r->len = len;
    return;
  }
  r->status = atol(data + 9);
  char *head_end = strstr(data, "\r\n\r\n");
  size_t head_len = head_end ? (size_t)(head_end - data) + 4 : len;
  for (char *line = data; line < data + head_len;) {
    char *eol = strstr(line, "\r\n");
    if (!eol)
      break;
    header_value(line, (size_t)(eol - line), "Content-Type", r->content_type,
                 sizeof r->content_type);
    header_value(line, (size_t)(eol - line), "Retry-After", r->retry_after,
                 sizeof r->retry_after);
    line = eol + 2;
  }
  r->len = len - head_len;
  r->body = malloc(r->len + 1);
  memcpy(r->body, data + head_len, r->len);
  r->body[r->len] = '\0';
  free(data);
}

static void raw_do(const http_req *q, http_result *r) {
  memset(r, 0, sizeof *r);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    r->rc = CURLE_COULDNT_CONNECT;
    r->body = strdup("");
    close(fd);
    return;
  }
  (void)!send(fd, q->raw, strlen(q->raw), MSG_NOSIGNAL);
  static char chunk[65536 + 16];
  int head = snprintf(chunk, sizeof chunk, "10000\r\n");
  memset(chunk + head, 'x', 65536);
  memcpy(chunk + head + 65536, "\r\n", 2);
  for (size_t i = 0; i < q->raw_chunks; i++) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0)
      break; /* the server answered (or closed) */
    if (send(fd, chunk, (size_t)head + 65538, MSG_NOSIGNAL) < 0)
      break;
  }
  if (q->raw_chunks)
    (void)!send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  size_t len = 0, cap = 4096;
  char *data = malloc(cap);
  for (;;) {
    if (len + 1024 > cap)
      data = realloc(data, cap *= 2);
    ssize_t n = recv(fd, data + len, cap - len - 1, 0);
    if (n <= 0)
      break;
    len += (size_t)n;
    data[len] = '\0';
    /* One answer is enough: stop at the end of its body. */
    char *he = strstr(data, "\r\n\r\n");
    const char *cl = he ? strcasestr(data, "\r\nContent-Length:") : NULL;
    if (he && cl && cl < he && len >= (size_t)(he + 4 - data) + (size_t)atol(cl + 17))
      break;
  }
  data[len] = '\0';
  close(fd);
  raw_parse(r, data, len);
}

static void http_do(const http_req *q, http_result *r) {
  if (q->raw) {
    raw_do(q, r);
    return;
  }
  memset(r, 0, sizeof *r);
  CURL *c = curl_easy_init();
  char url[512], auth[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", server_port, q->path);
  struct curl_slist *h = curl_slist_append(NULL, "Expect:");
  if (q->token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", q->token);
    h = curl_slist_append(h, auth);
  }
  char ct[160];
  if (q->content_type) {
    snprintf(ct, sizeof ct, "Content-Type: %s", q->content_type);
    h = curl_slist_append(h, ct);
  } else if (q->body) {
    h = curl_slist_append(h, "Content-Type:"); /* none at all */
  }
  upload u = {q->body, q->body ? (q->body_len ? q->body_len : strlen(q->body)) : 0, 0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  if (strcmp(q->method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
  if (q->body && q->chunked) {
    h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
  } else if (q->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)u.len);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, q->timeout_ms ? q->timeout_ms : 20000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  r->rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (!r->body)
    r->body = strdup("");
}

static void result_free(http_result *r) {
  free(r->body);
  r->body = NULL;
}

/* A batch of requests run one after the other by a client thread. */
#define MAX_BATCH 32
typedef struct batch {
  http_req req[MAX_BATCH];
  http_result res[MAX_BATCH];
  int n;
  atomic_int done;
  uv_async_t wake;
  pthread_t thread;
} batch;

static batch B, B2; /* B: the usual one; B2: runs alongside B */
static batch *waiting_for;

static void batch_clear(batch *b) {
  for (int i = 0; i < b->n; i++)
    result_free(&b->res[i]);
  memset(&b->req, 0, sizeof b->req);
  memset(&b->res, 0, sizeof b->res);
  b->n = 0;
  atomic_store(&b->done, 0);
}

static void batch_reset(void) { batch_clear(&B); }

static int add_to(batch *b, const char *method, const char *path) {
  ck_assert_int_lt(b->n, MAX_BATCH);
  b->req[b->n].method = method;
  b->req[b->n].path = path;
  return b->n++;
}

static int add(const char *method, const char *path) { return add_to(&B, method, path); }

static int add_body(const char *method, const char *path, const char *ct,
                    const char *body) {
  int i = add(method, path);
  B.req[i].content_type = ct;
  B.req[i].body = body;
  return i;
}

static void *client_main(void *arg) {
  batch *b = arg;
  for (int i = 0; i < b->n; i++)
    http_do(&b->req[i], &b->res[i]);
  atomic_store(&b->done, 1);
  uv_async_send(&b->wake);
  return NULL;
}

static void on_wake(uv_async_t *a) { (void)a; }
static int batch_done(void) { return atomic_load(&waiting_for->done); }

static void client_start(batch *b) {
  uv_async_init(&loop, &b->wake, on_wake);
  ck_assert_int_eq(pthread_create(&b->thread, NULL, client_main, b), 0);
}

static void client_finish(batch *b, int timeout_ms) {
  waiting_for = b;
  int ok = run_until(batch_done, timeout_ms);
  ck_assert_msg(ok, "the HTTP client did not finish in %d ms", timeout_ms);
  pthread_join(b->thread, NULL);
  uv_close((uv_handle_t *)&b->wake, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

/* Run the queued requests while the server serves. */
static void run_batch(void) {
  client_start(&B);
  client_finish(&B, 30000);
}

static http_result *res(int i) { return &B.res[i]; }

/* Assert an error document with this status and code. */
static void assert_error(int i, long status, const char *code) {
  http_result *r = res(i);
  ck_assert_msg(r->rc == CURLE_OK, "request %d: curl: %s", i, curl_easy_strerror(r->rc));
  ck_assert_msg(r->status == status, "request %d (%s %s): status %ld, want %ld: %s", i,
                B.req[i].method, B.req[i].path, r->status, status, r->body);
  ck_assert_msg(strcmp(r->content_type, "application/json") == 0,
                "request %d: Content-Type '%s': %.200s", i, r->content_type, r->body);
  json_error_t jerr;
  json_t *doc = json_loads(r->body, 0, &jerr);
  ck_assert_msg(doc != NULL, "request %d: not JSON: %s", i, r->body);
  json_t *err = json_object_get(doc, "error");
  ck_assert_msg(json_is_object(err), "request %d: no error object: %s", i, r->body);
  ck_assert_msg(json_is_string(json_object_get(err, "message")), "no message: %s", r->body);
  ck_assert_msg(json_object_get(err, "field") != NULL, "no field member: %s", r->body);
  if (code)
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
  ck_assert_msg(r->len > 0 && r->body[r->len - 1] == '\n', "no final newline");
  json_decref(doc);
}

static const char *error_field(int i) {
  static char field[64];
  json_t *doc = json_loads(res(i)->body, 0, NULL);
  const char *f = json_string_value(json_object_get(json_object_get(doc, "error"), "field"));
  snprintf(field, sizeof field, "%s", f ? f : "(null)");
  json_decref(doc);
  return field;
}

/* Parse a JSON answer with this status; caller decrefs. */
static json_t *json_answer(int i, long status) {
  http_result *r = res(i);
  ck_assert_msg(r->rc == CURLE_OK, "request %d: curl: %s", i, curl_easy_strerror(r->rc));
  ck_assert_msg(r->status == status, "request %d (%s %s): status %ld, want %ld: %s", i,
                B.req[i].method, B.req[i].path, r->status, status, r->body);
  ck_assert_str_eq(r->content_type, "application/json");
  ck_assert_msg(r->len > 0 && r->body[r->len - 1] == '\n', "no final newline: %s", r->body);
  json_error_t jerr;
  json_t *doc = json_loads(r->body, 0, &jerr);
  ck_assert_msg(doc != NULL, "request %d: not JSON (%s): %s", i, jerr.text, r->body);
  return doc;
}

static const char *str(const json_t *doc, const char *key) {
  const char *v = json_string_value(json_object_get(doc, key));
  return v ? v : "(none)";
}

/* ======================================================================== */
/* Tests                                                                       */
/* ======================================================================== */

START_TEST(test_health_routes_and_errors) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  int healthz = add("GET", "/healthz");
  int ready = add("GET", "/readyz");
  int metrics = add("GET", "/metrics");
  int agents = add("GET", "/v1/agents");
  int nope = add("GET", "/v2/nothing");
  int put = add("PUT", "/v1/executions");
  int del = add("DELETE", "/healthz");
  int head = add("HEAD", "/healthz");
  int bad_id = add("GET", "/v1/executions/NOT-AN-ID");
  int unknown = add("GET", "/v1/executions/0190a0b0-c0d0-7e00-8f00-00000000ffff");
  int bad_param = add("GET", "/v1/agents?verbose=1");
  int agent = add("GET", "/v1/agents/echo");
  int no_agent = add("GET", "/v1/agents/nope");
  int bad_agent = add("GET", "/v1/agents/.hidden");
  run_batch();

  json_t *doc = json_answer(healthz, 200);
  ck_assert_str_eq(str(doc, "status"), "ok");
  json_decref(doc);
  doc = json_answer(ready, 200);
  ck_assert(json_is_true(json_object_get(doc, "ready")));
  json_decref(doc);
  ck_assert_int_eq(res(metrics)->status, 200);
  ck_assert_str_eq(res(metrics)->content_type, "text/plain; version=0.0.4; charset=utf-8");
  ck_assert_ptr_nonnull(strstr(res(metrics)->body, "execd_up 1\n"));
  doc = json_answer(agents, 200);
  ck_assert_str_eq(str(json_array_get(json_object_get(doc, "agents"), 0), "name"), "echo");
  json_decref(doc);
  assert_error(nope, 404, "not_found");
  assert_error(put, 405, "method_not_allowed");
  ck_assert_str_eq(res(put)->allow, "GET, HEAD, POST");
  assert_error(del, 405, "method_not_allowed");
  ck_assert_str_eq(res(del)->allow, "GET, HEAD");
  ck_assert_int_eq(res(head)->status, 200);
  ck_assert_str_eq(res(head)->content_type, "application/json");
  assert_error(bad_id, 400, "invalid_id");
  ck_assert_str_eq(error_field(bad_id), "id");
  assert_error(unknown, 404, "not_found");
  assert_error(bad_param, 400, "invalid_request");
  ck_assert_str_eq(error_field(bad_param), "verbose");
  /* One agent: its entry of the host's list, or 404 unknown_agent. */
  doc = json_answer(agent, 200);
  ck_assert_str_eq(str(doc, "name"), "echo");
  json_decref(doc);
  assert_error(no_agent, 404, "unknown_agent");
  ck_assert_str_eq(error_field(no_agent), "name");
  assert_error(bad_agent, 404, "unknown_agent");
  ck_assert_str_eq(fh.last_tenant, "anonymous");

  /* readyz follows the host's health; healthz does not. */
  batch_reset();
  fh.ready = 0;
  ready = add("GET", "/readyz");
  healthz = add("GET", "/healthz");
  run_batch();
  doc = json_answer(ready, 503);
  ck_assert(json_is_false(json_object_get(doc, "ready")));
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "down"), 0)),
                   "storage file");
  json_decref(doc);
  doc = json_answer(healthz, 200);
  json_decref(doc);

  /* The transport's own health. */
  const execd_transport_ops *ops = loader_ops(loaded);
  ck_assert_int_eq(ops->health(self), 0);
  batch_reset();
}
END_TEST

START_TEST(test_submit_get_list_cancel_remove) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  const char *req = "{\"lines\": 2, \"labels\": {\"team\": \"search\"}}";
  int post = add_body("POST", "/v1/executions", "application/json; charset=utf-8", req);
  int post_noct = add_body("POST", "/v1/executions", NULL, "{\"lines\": -1}");
  int post_text = add_body("POST", "/v1/executions", "text/plain", req);
  int post_bad = add_body("POST", "/v1/executions", "application/json", "{nope");
  int post_empty = add_body("POST", "/v1/executions", "application/json", "");
  int busy = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"busy\"}");
  int unproc = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"unprocessable\"}");
  int forbid = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"forbidden\"}");
  int unavail = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"unavailable\"}");
  int refused = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"refuse\"}");
  int idem1 = add_body("POST", "/v1/executions", NULL, "{\"idempotency_key\": \"k1\"}");
  int idem2 = add_body("POST", "/v1/executions", NULL, "{\"idempotency_key\": \"k1\"}");
  int bad_wait = add_body("POST", "/v1/executions?wait=soon", NULL, req);
  run_batch();

  json_t *doc = json_answer(post, 201);
  char id[40];
  snprintf(id, sizeof id, "%s", str(doc, "execution_id"));
  ck_assert_int_eq(strlen(id), 36);
  char want[128];
  snprintf(want, sizeof want, "/v1/executions/%s", id);
  ck_assert_str_eq(res(post)->location, want);
  json_decref(doc);
  doc = json_answer(post_noct, 201);
  char running_id[40];
  snprintf(running_id, sizeof running_id, "%s", str(doc, "execution_id"));
  json_decref(doc);
  assert_error(post_text, 415, "unsupported_media_type");
  assert_error(post_bad, 400, "invalid_request");
  ck_assert_ptr_nonnull(strstr(res(post_bad)->body, "not a JSON object"));
  assert_error(post_empty, 400, "invalid_request");
  assert_error(busy, 429, "queue_full");
  ck_assert_str_eq(res(busy)->retry_after, "1");
  assert_error(unproc, 422, "unprocessable");
  ck_assert_str_eq(error_field(unproc), "input.data");
  assert_error(forbid, 403, "not_allowed");
  ck_assert_str_eq(error_field(forbid), "container.command");
  assert_error(unavail, 503, "unavailable");
  assert_error(refused, 503, "unavailable");
  doc = json_answer(idem1, 201);
  char idem_id[40];
  snprintf(idem_id, sizeof idem_id, "%s", str(doc, "execution_id"));
  json_decref(doc);
  doc = json_answer(idem2, 200);
  ck_assert_str_eq(str(doc, "execution_id"), idem_id);
  json_decref(doc);
  assert_error(bad_wait, 400, "invalid_request");
  ck_assert_str_eq(error_field(bad_wait), "wait");
  ck_assert_str_eq(fh.last_tenant, "anonymous");

  /* Wait for the 2-line execution to finish, then read it back. */
  batch_reset();
  char p_get[128], p_cancel[128], p_del[128], p_cancel_run[128], p_del_run[128];
  snprintf(p_get, sizeof p_get, "/v1/executions/%s", id);
  snprintf(p_cancel, sizeof p_cancel, "/v1/executions/%s/cancel", id);
  snprintf(p_del, sizeof p_del, "/v1/executions/%s", id);
  snprintf(p_del_run, sizeof p_del_run, "/v1/executions/%s", running_id);
  snprintf(p_cancel_run, sizeof p_cancel_run, "/v1/executions/%s/cancel", running_id);
  int del_running = add("DELETE", p_del_run);
  int list = add("GET", "/v1/executions?state=RUNNING&label=team:search&limit=5&cursor=abc");
  int list_eq = add("GET", "/v1/executions?label=team=search");
  int list_badlimit = add("GET", "/v1/executions?limit=0");
  int list_badlabel = add("GET", "/v1/executions?label=team");
  int list_unknown = add("GET", "/v1/executions?colour=red");
  int cancel_run = add("POST", p_cancel_run);
  int cancel_again = add("POST", p_cancel_run);
  int del_after_cancel = add("DELETE", p_del_run);
  int get_deleted = add("GET", p_del_run);
  run_batch();
  assert_error(del_running, 409, "not_finished");
  doc = json_answer(list, 200);
  ck_assert_str_eq(fh.last_label_key, "team"); /* of the last list call */
  ck_assert_str_eq(fh.last_label_value, "search");
  json_decref(doc);
  doc = json_answer(list_eq, 200);
  ck_assert_int_eq(json_array_size(json_object_get(doc, "executions")), 1);
  ck_assert_str_eq(str(json_array_get(json_object_get(doc, "executions"), 0), "execution_id"),
                   id);
  ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
  json_decref(doc);
  assert_error(list_badlimit, 400, "invalid_request");
  ck_assert_str_eq(error_field(list_badlimit), "limit");
  assert_error(list_badlabel, 400, "invalid_request");
  ck_assert_str_eq(error_field(list_badlabel), "label");
  assert_error(list_unknown, 400, "invalid_request");
  ck_assert_str_eq(error_field(list_unknown), "colour");
  ck_assert_int_eq(fh.lists, 2);
  doc = json_answer(cancel_run, 200);
  ck_assert_str_eq(str(doc, "state"), "CANCELLED");
  json_decref(doc);
  assert_error(cancel_again, 409, "already_finished");
  doc = json_answer(del_after_cancel, 200);
  ck_assert(json_is_true(json_object_get(doc, "deleted")));
  ck_assert_str_eq(str(doc, "execution_id"), running_id);
  json_decref(doc);
  assert_error(get_deleted, 404, "not_found");

  /* The list query reached the host as parsed. */
  batch_reset();
  list = add("GET", "/v1/executions?state=RUNNING&label=team:search&limit=5&cursor=abc"
                    "&created_after=2024-01-01T00:00:00Z");
  int get = add("GET", p_get);
  run_batch();
  doc = json_answer(list, 200);
  json_decref(doc);
  ck_assert_str_eq(fh.last_state, "RUNNING");
  ck_assert_str_eq(fh.last_label_key, "team");
  ck_assert_str_eq(fh.last_label_value, "search");
  ck_assert_str_eq(fh.last_cursor, "abc");
  ck_assert_uint_eq(fh.last_limit, 5);
  doc = json_answer(get, 200);
  ck_assert_str_eq(str(doc, "execution_id"), id);
  json_decref(doc);
  batch_reset();
  (void)p_cancel;
  (void)p_del;
}
END_TEST

START_TEST(test_submit_wait) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  int post = add_body("POST", "/v1/executions?wait=10", "application/json", "{\"lines\": 3}");
  run_batch();
  json_t *doc = json_answer(post, 201);
  ck_assert_str_eq(str(doc, "state"), "SUCCEEDED");
  json_decref(doc);
  ck_assert_uint_eq(fh.last_wait, 10);
  batch_reset();
}
END_TEST

static char big[4096];

START_TEST(test_body_limits) {
  start_server("{\"listen\": \"127.0.0.1:0\", \"max_body\": 1024}");
  /* A valid JSON object of n bytes. */
  memset(big, ' ', sizeof big);
  big[0] = '{';
  big[1] = '}';
  big[2000] = '\0';
  int too_big = add_body("POST", "/v1/executions", "application/json", big);
  int too_big_chunked = add_body("POST", "/v1/executions", "application/json", big);
  B.req[too_big_chunked].chunked = 1;
  int fits = add_body("POST", "/v1/executions", "application/json", big);
  B.req[fits].body_len = 1000;
  int fits_chunked = add_body("POST", "/v1/executions", "application/json", big);
  B.req[fits_chunked].body_len = 1000;
  B.req[fits_chunked].chunked = 1;
  int after = add("GET", "/healthz"); /* the server is still fine */
  run_batch();
  assert_error(too_big, 413, "payload_too_large");
  assert_error(too_big_chunked, 413, "payload_too_large");
  json_t *doc = json_answer(fits, 201);
  json_decref(doc);
  doc = json_answer(fits_chunked, 201);
  json_decref(doc);
  doc = json_answer(after, 200);
  json_decref(doc);
  ck_assert_int_eq(fh.submits, 2);
  batch_reset();
}
END_TEST

#define TOKEN_A "alpha-0123456789abcdef"
#define TOKEN_B "beta-0123456789abcdef0"
#define TOKEN_C "gamma-0123456789abcdef"

START_TEST(test_tokens_and_tenants) {
  set_tokens(TOKEN_A " alpha\n" TOKEN_B " beta\n");
  start_server("{\"listen\": \"127.0.0.1:0\"}");

  int none = add_body("POST", "/v1/executions", NULL, "{}");
  int wrong = add_body("POST", "/v1/executions", NULL, "{}");
  B.req[wrong].token = "not-a-valid-token-at-all";
  int alpha = add_body("POST", "/v1/executions", NULL, "{\"lines\": 1}");
  B.req[alpha].token = TOKEN_A;
  int health = add("GET", "/healthz");
  int agents = add("GET", "/v1/agents");
  run_batch();
  assert_error(none, 401, "unauthorized");
  ck_assert_str_eq(res(none)->www_auth, "Bearer realm=\"execd\"");
  assert_error(wrong, 401, "unauthorized");
  ck_assert_str_eq(res(wrong)->www_auth, "Bearer realm=\"execd\", error=\"invalid_token\"");
  json_t *doc = json_answer(alpha, 201);
  char id[40], path[128];
  snprintf(id, sizeof id, "%s", str(doc, "execution_id"));
  json_decref(doc);
  ck_assert_str_eq(fh.last_tenant, "alpha");
  doc = json_answer(health, 200);
  json_decref(doc);
  assert_error(agents, 401, "unauthorized");
  ck_assert_int_eq(fh.submits, 1);

  /* beta asks for alpha's execution: the host sees tenant beta (and says
   * 404, as the core does for another tenant's id). */
  batch_reset();
  snprintf(path, sizeof path, "/v1/executions/%s", id);
  int as_beta = add("GET", path);
  B.req[as_beta].token = TOKEN_B;
  run_batch();
  assert_error(as_beta, 404, "not_found");
  ck_assert_str_eq(fh.last_tenant, "beta");

  /* The daemon's table changes (a SIGHUP): the next request sees it. */
  set_tokens(TOKEN_C " gamma\n");
  batch_reset();
  int old_token = add("GET", "/v1/agents");
  B.req[old_token].token = TOKEN_A;
  int new_token = add_body("POST", "/v1/executions", NULL, "{}");
  B.req[new_token].token = TOKEN_C;
  run_batch();
  assert_error(old_token, 401, "unauthorized");
  doc = json_answer(new_token, 201);
  json_decref(doc);
  ck_assert_str_eq(fh.last_tenant, "gamma");
  batch_reset();
}
END_TEST

/* Malformed and hostile requests get execd's JSON error document, never
 * libmicrohttpd's HTML page, a closed connection or a success. */
static int add_raw(const char *raw, size_t chunks) {
  int i = add("RAW", "(raw request)");
  B.req[i].raw = raw;
  B.req[i].raw_chunks = chunks;
  return i;
}

START_TEST(test_http_edges) {
  set_tokens(TOKEN_A " alpha\n");
  start_server("{\"listen\": \"127.0.0.1:0\", \"max_body\": 4096}");
  fake_exec *ex = new_exec("alpha", -1, NULL);
  static char get_nul[256], long_uri[40000], big_header[40000], mid_header[20000];
  snprintf(get_nul, sizeof get_nul,
           "GET /v1/executions/%s%%00 HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer " TOKEN_A "\r\n\r\n", ex->id);
  int nul = add_raw(get_nul, 0);
  int junk = add("GET", "/v1/agents");
  B.req[junk].token = TOKEN_A " junk";
  int bad_id = add("GET", "/v1/executions/not-an-id");
  B.req[bad_id].token = TOKEN_A;
  int two_cl = add_raw("POST /v1/executions HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer " TOKEN_A "\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}", 0);
  int cl_te = add_raw("POST /v1/executions HTTP/1.1\r\nHost: x\r\n"
                      "Authorization: Bearer " TOKEN_A "\r\n"
                      "Content-Type: application/json\r\n"
                      "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "2\r\n{}\r\n0\r\n\r\n", 0);
  int chunked = add_raw("POST /v1/executions HTTP/1.1\r\nHost: x\r\n"
                        "Authorization: Bearer " TOKEN_A "\r\n"
                        "Content-Type: application/json\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n", 200); /* 12.5 MiB */
  int n = snprintf(long_uri, sizeof long_uri, "GET /v1/executions?state=");
  memset(long_uri + n, 'A', 36000);
  snprintf(long_uri + n + 36000, sizeof long_uri - (size_t)n - 36000,
           " HTTP/1.1\r\nHost: x\r\n\r\n");
  int uri = add_raw(long_uri, 0);
  n = snprintf(big_header, sizeof big_header, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(big_header + n, 'A', 36000);
  snprintf(big_header + n + 36000, sizeof big_header - (size_t)n - 36000, "\r\n\r\n");
  int header = add_raw(big_header, 0);
  n = snprintf(mid_header, sizeof mid_header, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(mid_header + n, 'A', 17000);
  snprintf(mid_header + n + 17000, sizeof mid_header - (size_t)n - 17000, "\r\n\r\n");
  int header_mid = add_raw(mid_header, 0);
  int version = add_raw("GET /healthz HTTP/1.2\r\nHost: x\r\n\r\n", 0);
  run_batch();
  assert_error(nul, 400, "invalid_id");
  assert_error(junk, 401, "unauthorized");
  assert_error(bad_id, 400, "invalid_id");
  assert_error(two_cl, 400, "invalid_request");
  assert_error(cl_te, 400, "invalid_request");
  assert_error(chunked, 413, "payload_too_large");
  assert_error(uri, 414, "uri_too_long");
  assert_error(header, 431, "headers_too_large");
  assert_error(header_mid, 431, "headers_too_large");
  assert_error(version, 505, "http_version_not_supported");
  ck_assert_int_eq(fh.submits, 0);
  batch_reset();
}
END_TEST

START_TEST(test_listen_config) {
  ck_assert_int_eq(try_start("{\"listen\": \"nonsense\"}"), EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(last_error, "listen 'nonsense'"));
  ck_assert_int_eq(try_start("{\"listen\": \"127.0.0.1:99999\"}"), EXECD_ECONFIG);
  ck_assert_int_eq(try_start("{\"listen\": \"example.com:80\"}"), EXECD_ECONFIG);
  ck_assert_int_eq(try_start("{\"listen\": 8080}"), EXECD_ECONFIG);
  ck_assert_int_eq(try_start("{\"max_body\": \"big\"}"), EXECD_ECONFIG);
  ck_assert_ptr_nonnull(strstr(last_error, "max_body"));

  /* Not loopback and no tokens: served, with a warning. */
  start_server("{\"listen\": \"0.0.0.0:0\"}");
  ck_assert_ptr_nonnull(strstr(log_text, "not a loopback address"));
  ck_assert_ptr_nonnull(strstr(log_text, "listening on 0.0.0.0:"));

  /* The port is taken now: the error names the address. */
  char config[128], where[64];
  snprintf(config, sizeof config, "{\"listen\": \"0.0.0.0:%u\"}", server_port);
  void *first = self;
  self = NULL;
  ck_assert_int_eq(try_start(config), EXECD_EIO);
  snprintf(where, sizeof where, "0.0.0.0:%u: bind:", server_port);
  ck_assert_msg(strstr(last_error, where) != NULL, "error: %s", last_error);
  self = first;
}
END_TEST

START_TEST(test_listen_ipv6) {
  int rc = try_start("{\"listen\": \"[::1]:0\"}");
  if (rc == EXECD_EIO && strstr(last_error, "bind")) {
    fprintf(stderr, "skipping: no IPv6 loopback here (%s)\n", last_error);
    return;
  }
  ck_assert_msg(rc == 0, "%s", last_error);
  ck_assert_ptr_nonnull(strstr(log_text, "listening on [::1]:"));
  ck_assert_ptr_null(strstr(log_text, "not a loopback"));
}
END_TEST

static char follow_id[40];

static int exec_finished(void) {
  for (fake_exec *ex = fh.execs; ex; ex = ex->next)
    if (strcmp(ex->id, follow_id) == 0)
      return terminal(ex);
  return 0;
}

START_TEST(test_logs) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  fake_exec *done = new_exec("anonymous", 4, NULL);
  snprintf(follow_id, sizeof follow_id, "%s", done->id);
  ck_assert(run_until(exec_finished, 10000));
  ck_assert_int_gt((int)done->log_len, 2 * LOG_PAGE); /* several pages */
  fake_exec *running = new_exec("anonymous", 12, NULL);

  char p_all[128], p_off[128], p_follow[128], p_missing[128], p_badoff[128], p_badflag[128];
  snprintf(p_all, sizeof p_all, "/v1/executions/%s/logs", done->id);
  snprintf(p_off, sizeof p_off, "/v1/executions/%s/logs?offset=7", done->id);
  snprintf(p_follow, sizeof p_follow, "/v1/executions/%s/logs?follow=1", running->id);
  snprintf(p_missing, sizeof p_missing,
           "/v1/executions/0190a0b0-c0d0-7e00-8f00-00000000ffff/logs?follow=1");
  snprintf(p_badoff, sizeof p_badoff, "/v1/executions/%s/logs?offset=-1", done->id);
  snprintf(p_badflag, sizeof p_badflag, "/v1/executions/%s/logs?follow=maybe", done->id);
  int all = add("GET", p_all);
  int off = add("GET", p_off);
  int follow = add("GET", p_follow);
  int missing = add("GET", p_missing);
  int badoff = add("GET", p_badoff);
  int badflag = add("GET", p_badflag);
  run_batch();

  ck_assert_int_eq(res(all)->status, 200);
  ck_assert_str_eq(res(all)->content_type, "text/plain; charset=utf-8");
  ck_assert_uint_eq(res(all)->len, done->log_len);
  ck_assert_str_eq(res(all)->body, done->log);
  ck_assert_int_eq(res(off)->status, 200);
  ck_assert_str_eq(res(off)->body, done->log + 7);
  /* Followed while it ran: the whole log, and the stream ended with it. */
  ck_assert_msg(res(follow)->rc == CURLE_OK, "follow: %s", curl_easy_strerror(res(follow)->rc));
  ck_assert_int_eq(res(follow)->status, 200);
  ck_assert(terminal(running));
  ck_assert_str_eq(res(follow)->body, running->log);
  ck_assert_ptr_nonnull(strstr(res(follow)->body, "line 12 of"));
  assert_error(missing, 404, "not_found");
  assert_error(badoff, 400, "invalid_request");
  ck_assert_str_eq(error_field(badoff), "offset");
  assert_error(badflag, 400, "invalid_request");
  ck_assert_int_eq(live_watches(), 0);
  batch_reset();
}
END_TEST

/* log (from byte offset on) as ?timestamps=true shows it under h_logs_timed. */
static char *expected_timed(const char *log, size_t offset) {
  size_t len = strlen(log);
  char *out = calloc(1, 2 * len + 64 * (len + 1));
  char *w = out;
  int at_start = 1;
  for (size_t i = offset; i < len; i++) {
    if (at_start)
      w += sprintf(w, "t%zu ", i - i % FAKE_MARK);
    *w++ = log[i];
    at_start = log[i] == '\n';
  }
  return out;
}

/* Every line, also one split across pages, gets its time in front, in
 * plain and followed logs; the stored text is unchanged without the flag. */
START_TEST(test_logs_timestamps) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  fake_exec *done = new_exec("anonymous", 4, NULL);
  snprintf(follow_id, sizeof follow_id, "%s", done->id);
  ck_assert(run_until(exec_finished, 10000));
  fake_exec *running = new_exec("anonymous", 6, NULL);
  char p_all[128], p_off[128], p_follow[128], p_bad[128];
  snprintf(p_all, sizeof p_all, "/v1/executions/%s/logs?timestamps=true", done->id);
  snprintf(p_off, sizeof p_off, "/v1/executions/%s/logs?timestamps=1&offset=7", done->id);
  snprintf(p_follow, sizeof p_follow, "/v1/executions/%s/logs?follow=1&timestamps=yes",
           running->id);
  snprintf(p_bad, sizeof p_bad, "/v1/executions/%s/logs?timestamps=maybe", done->id);
  int all = add("GET", p_all);
  int off = add("GET", p_off);
  int follow = add("GET", p_follow);
  int bad = add("GET", p_bad);
  run_batch();

  char *want = expected_timed(done->log, 0);
  ck_assert_int_eq(res(all)->status, 200);
  ck_assert_str_eq(res(all)->body, want);
  free(want);
  want = expected_timed(done->log, 7);
  ck_assert_int_eq(res(off)->status, 200);
  ck_assert_str_eq(res(off)->body, want);
  free(want);
  ck_assert_int_eq(res(follow)->status, 200);
  ck_assert(terminal(running));
  want = expected_timed(running->log, 0);
  ck_assert_str_eq(res(follow)->body, want);
  free(want);
  assert_error(bad, 400, "invalid_request");
  ck_assert_str_eq(error_field(bad), "timestamps");
  batch_reset();
}
END_TEST

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

START_TEST(test_events) {
  start_server("{\"listen\": \"127.0.0.1:0\"}");
  fake_exec *ex = new_exec("anonymous", 5, NULL);
  ex->await_watch = 1; /* all five lines must reach the follower */
  fake_exec *done = new_exec("anonymous", 0, NULL);
  set_state(done, "FAILED");
  char p_hist[128], p_follow[128], p_done[128];
  snprintf(p_hist, sizeof p_hist, "/v1/executions/%s/events", ex->id);
  snprintf(p_follow, sizeof p_follow, "/v1/executions/%s/events?follow=true", ex->id);
  snprintf(p_done, sizeof p_done, "/v1/executions/%s/events?follow=1", done->id);
  int hist = add("GET", p_hist);
  int follow = add("GET", p_follow);
  int ended = add("GET", p_done);
  run_batch();

  json_t *doc = json_answer(hist, 200);
  ck_assert_str_eq(str(doc, "execution_id"), ex->id);
  json_t *events = json_object_get(doc, "events");
  ck_assert_int_ge(json_array_size(events), 2);
  ck_assert_str_eq(str(json_array_get(events, 0), "to"), "QUEUED");
  json_decref(doc);

  http_result *r = res(follow);
  ck_assert_msg(r->rc == CURLE_OK, "follow: %s", curl_easy_strerror(r->rc));
  ck_assert_int_eq(r->status, 200);
  ck_assert_str_eq(r->content_type, "text/event-stream");
  ck_assert_msg(strncmp(r->body, "event: state\ndata: {", 20) == 0, "starts: %.80s", r->body);
  ck_assert_int_eq(count(r->body, "event: log\n"), 5);
  ck_assert_ptr_nonnull(strstr(r->body, "\"data\":\"line 5 of"));
  ck_assert_int_eq(count(r->body, "event: end\n"), 1);
  const char *end = strstr(r->body, "event: end\ndata: {");
  ck_assert_ptr_nonnull(end);
  ck_assert_ptr_nonnull(strstr(end, "\"state\":\"SUCCEEDED\""));
  ck_assert_msg(r->body[r->len - 1] == '\n' && r->body[r->len - 2] == '\n',
                "the last event is complete");

  r = res(ended);
  ck_assert_int_eq(r->status, 200);
  ck_assert_int_eq(count(r->body, "event: state\n"), 1);
  ck_assert_int_eq(count(r->body, "event: end\n"), 1);
  ck_assert_int_eq(live_watches(), 0);
  batch_reset();
}
END_TEST

static int no_watches(void) { return live_watches() == 0 && fh.watch_calls > 0; }
static int one_watch(void) { return live_watches() == 1; }
static int one_held(void) { return fh.held != NULL; }

START_TEST(test_dead_client_is_noticed) {
  start_server("{\"listen\": \"127.0.0.1:0\", \"stream_keepalive\": 100}");
  fake_exec *ex = new_exec("anonymous", -1, NULL); /* silent, never ends */
  char p_logs[128], p_events[128];
  snprintf(p_logs, sizeof p_logs, "/v1/executions/%s/logs?follow=1", ex->id);
  snprintf(p_events, sizeof p_events, "/v1/executions/%s/events?follow=1", ex->id);
  int logs = add("GET", p_logs);
  B.req[logs].timeout_ms = 400; /* the client gives up */
  int events = add("GET", p_events);
  B.req[events].timeout_ms = 700;
  run_batch();
  ck_assert_int_eq(res(logs)->rc, CURLE_OPERATION_TIMEDOUT);
  ck_assert_int_eq(res(events)->rc, CURLE_OPERATION_TIMEDOUT);
  /* SSE keep-alives arrived while nothing happened. */
  ck_assert_ptr_nonnull(strstr(res(events)->body, ": keep-alive\n\n"));
  /* The server noticed both clients left and unsubscribed. */
  ck_assert_msg(run_until(no_watches, 10000), "%d watches left", live_watches());
  batch_reset();
}
END_TEST

static int hang_and_follow(void) { return one_held() && one_watch(); }

START_TEST(test_stop_while_streaming_and_waiting) {
  start_server("{\"listen\": \"127.0.0.1:0\", \"stream_keepalive\": 100}");
  fake_exec *ex = new_exec("anonymous", -1, NULL); /* silent, never ends */
  char p_logs[128];
  snprintf(p_logs, sizeof p_logs, "/v1/executions/%s/logs?follow=1", ex->id);
  int hang = add_body("POST", "/v1/executions", NULL, "{\"simulate\": \"hang\"}");
  int follow = add_to(&B2, "GET", p_logs);
  client_start(&B);
  client_start(&B2);
  ck_assert(run_until(hang_and_follow, 10000));

  /* Stop with a request waiting for the host and a stream open. */
  plugin->stop(self);
  /* The host answers after the client is gone: dropped safely. */
  while (fh.held) {
    deferred *d = fh.held;
    fh.held = d->next;
    deliver(d);
    deferred_free(d);
  }
  client_finish(&B, 10000);
  client_finish(&B2, 10000);
  ck_assert_msg(res(hang)->status != 201, "the late answer reached the client");
  ck_assert_msg(B2.res[follow].rc != CURLE_OK, "the follow ended cleanly: %s",
                B2.res[follow].body);
  ck_assert_int_eq(live_watches(), 0);
  const execd_transport_ops *ops = loader_ops(loaded);
  ck_assert_int_eq(ops->health(self), EXECD_EUNAVAIL);
  batch_clear(&B2);
  batch_reset();
}
END_TEST

Suite *http_suite(void);
Suite *http_suite(void) {
  Suite *s = suite_create("http transport");
  TCase *tc = tcase_create("http");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_health_routes_and_errors);
  tcase_add_test(tc, test_submit_get_list_cancel_remove);
  tcase_add_test(tc, test_submit_wait);
  tcase_add_test(tc, test_body_limits);
  tcase_add_test(tc, test_tokens_and_tenants);
  tcase_add_test(tc, test_http_edges);
  tcase_add_test(tc, test_listen_config);
  tcase_add_test(tc, test_listen_ipv6);
  tcase_add_test(tc, test_logs);
  tcase_add_test(tc, test_logs_timestamps);
  tcase_add_test(tc, test_events);
  tcase_add_test(tc, test_dead_client_is_noticed);
  tcase_add_test(tc, test_stop_while_streaming_and_waiting);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  SRunner *sr = srunner_create(http_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  curl_global_cleanup();
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
