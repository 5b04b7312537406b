/* See storage_client.h. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_client.h"

static harness_plugin *plugin;
static int in_call; /* set while an op call is on the stack */

void sc_use(harness_plugin *p) { plugin = p; }
const execd_storage_ops *sc_ops(void) { return plugin->ops; }

static void note_call(sc_result *r, int status) {
  r->calls++;
  r->status = status;
  if (in_call)
    r->inside_call = true;
}

static void on_store(void *arg, int status, json_t *record) {
  sc_result *r = arg;
  note_call(r, status);
  json_decref(r->record);
  r->record = record ? json_deep_copy(record) : NULL;
}

static void on_list(void *arg, int status, json_t *records,
                    const char *next_cursor) {
  sc_result *r = arg;
  note_call(r, status);
  json_decref(r->records);
  r->records = records ? json_deep_copy(records) : NULL;
  free(r->cursor);
  r->cursor = next_cursor ? strdup(next_cursor) : NULL;
}

static void on_log(void *arg, int status, const char *data, size_t len,
                   uint64_t next_offset) {
  sc_result *r = arg;
  note_call(r, status);
  free(r->data);
  r->data = malloc(len + 1);
  if (len)
    memcpy(r->data, data, len);
  r->data[len] = '\0';
  r->len = len;
  r->next_offset = next_offset;
}

static void on_marks(void *arg, int status, const execd_log_mark *marks, size_t n) {
  sc_result *r = arg;
  note_call(r, status);
  free(r->marks);
  r->marks = calloc(n ? n : 1, sizeof *r->marks);
  if (n)
    memcpy(r->marks, marks, n * sizeof *marks);
  r->n_marks = n;
}

static int called(void *arg) { return ((sc_result *)arg)->calls > 0; }

int sc_wait(sc_result *r) {
  return harness_run_until(called, r, SC_WAIT_MS) ? 0 : SC_TIMEOUT;
}

void sc_clear(sc_result *r) {
  json_decref(r->record);
  json_decref(r->records);
  free(r->cursor);
  free(r->data);
  free(r->marks);
  memset(r, 0, sizeof *r);
}

/* Runs an op call with in_call set, then waits if it was accepted. */
#define CALL_AND_WAIT(expr)                                                  \
  do {                                                                       \
    in_call = 1;                                                             \
    int rc_ = (expr);                                                        \
    in_call = 0;                                                             \
    return rc_ ? rc_ : sc_wait(r);                                           \
  } while (0)

#define CALL(expr)                                                           \
  do {                                                                       \
    in_call = 1;                                                             \
    int rc_ = (expr);                                                        \
    in_call = 0;                                                             \
    return rc_;                                                              \
  } while (0)

int sc_insert_async(const json_t *rec, sc_result *r) {
  CALL(sc_ops()->insert(plugin->self, rec, on_store, r));
}

int sc_update_async(const json_t *rec, const char *expected_state,
                    sc_result *r) {
  CALL(sc_ops()->update(plugin->self, rec, expected_state, on_store, r));
}

static bool has_claims(void) {
  const execd_storage_ops *o = sc_ops();
  return o->struct_size > offsetof(execd_storage_ops, renew) && o->claim && o->rescue &&
         o->renew;
}

int sc_claim(const execd_claim_query *q, sc_result *r) {
  if (!has_claims())
    return SC_NO_OP;
  CALL_AND_WAIT(sc_ops()->claim(plugin->self, q, on_list, r));
}

int sc_insert_claim(const json_t *rec, const execd_claim_query *q, sc_result *r) {
  const execd_storage_ops *o = sc_ops();
  if (o->struct_size <= offsetof(execd_storage_ops, insert_claim) || !o->insert_claim)
    return SC_NO_OP;
  CALL_AND_WAIT(o->insert_claim(plugin->self, rec, q, on_store, r));
}

int sc_rescue(const execd_claim_query *q, sc_result *r) {
  if (!has_claims())
    return SC_NO_OP;
  CALL_AND_WAIT(sc_ops()->rescue(plugin->self, q, on_list, r));
}

int sc_rescue_async(const execd_claim_query *q, sc_result *r) {
  if (!has_claims())
    return SC_NO_OP;
  CALL(sc_ops()->rescue(plugin->self, q, on_list, r));
}

int sc_renew(const char *node, uint64_t lease_ms, const json_t *leases, sc_result *r) {
  if (!has_claims())
    return SC_NO_OP;
  CALL_AND_WAIT(sc_ops()->renew(plugin->self, node, lease_ms, leases, on_list, r));
}

int sc_insert(const json_t *rec, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->insert(plugin->self, rec, on_store, r));
}

int sc_update(const json_t *rec, const char *expected_state, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->update(plugin->self, rec, expected_state, on_store, r));
}

int sc_get(const char *id, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->get(plugin->self, id, on_store, r));
}

int sc_list(const execd_list_query *q, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->list(plugin->self, q, on_list, r));
}

int sc_remove(const char *id, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->remove(plugin->self, id, on_store, r));
}

int sc_log_read(const char *id, uint64_t offset, size_t max, sc_result *r) {
  CALL_AND_WAIT(sc_ops()->log_read(plugin->self, id, offset, max, on_log, r));
}

int sc_log_marks(const char *id, uint64_t from, uint64_t to, sc_result *r) {
  const execd_storage_ops *ops = sc_ops();
  if (ops->struct_size < offsetof(execd_storage_ops, log_marks) + sizeof ops->log_marks ||
      !ops->log_marks)
    return SC_NO_OP;
  CALL_AND_WAIT(ops->log_marks(plugin->self, id, from, to, on_marks, r));
}

int64_t sc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sc_format_time(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

void sc_new_id(char out[37]) {
  static uint64_t last_ms, counter;
  static int seeded;
  if (!seeded) {
    srandom((unsigned)(time(NULL) ^ (uintptr_t)&seeded));
    seeded = 1;
  }
  uint64_t ms = (uint64_t)sc_now_ms();
  /* 48 bits of ms, then a 12-bit counter: strictly increasing. */
  if (ms > last_ms) {
    last_ms = ms;
    counter = 0;
  } else if (++counter > 0xfff) {
    last_ms++;
    counter = 0;
  }
  uint64_t rnd = ((uint64_t)random() << 31) ^ (uint64_t)random();
  char text[80];
  snprintf(text, sizeof text, "%08llx-%04llx-7%03llx-%04llx-%012llx",
           (unsigned long long)((last_ms >> 16) & 0xffffffffull),
           (unsigned long long)(last_ms & 0xffff),
           (unsigned long long)counter,
           (unsigned long long)(0x8000 | (rnd & 0x3fff)),
           (unsigned long long)((rnd >> 14) & 0xffffffffffffull));
  memcpy(out, text, 36);
  out[36] = '\0';
}

json_t *sc_record(const char *id, const char *tenant, const char *state,
                  const char *agent, const char *idem_key, json_t *labels,
                  int64_t created_ms) {
  char created[32];
  sc_format_time(created_ms ? created_ms : sc_now_ms(), created);
  return json_pack(
      "{s:s, s:s, s:s, s:s?, s:s?, s:o, s:s, s:{s:s, s:[s, s]}, s:i,"
      " s:{s:s, s:n, s:n}, s:n, s:[{s:n, s:s, s:s, s:s}]}",
      "id", id, "tenant", tenant, "state", state, "agent", agent,
      "idempotency_key", idem_key, "labels", labels ? labels : json_object(),
      "backend", "local", "request", "command", "sh", "args", "-c", "echo hi",
      "attempts", 0, "timestamps", "created", created, "started", "finished",
      "result", "history", "from", "to", state, "at", created, "reason",
      "accepted");
}
