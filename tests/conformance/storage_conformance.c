/* The storage conformance suite: checks every rule of <execd/storage.h>
 * against any storage plugin, loaded by name through execd's real loader.
 *
 *   EXECD_CONFORMANCE_STORAGE         plugin name (default "file")
 *   EXECD_CONFORMANCE_STORAGE_CONFIG  its config block as JSON; for "file"
 *                                     the default is a fresh temporary
 *                                     directory with log_max 65536
 *
 * Every test uses a tenant and ids of its own, so the suite may run
 * against a store that holds other data.  The log cap is checked when the
 * config has an integer "log_max". */
#include "config.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage_client.h"

static const char *plugin_name;
static char *config_json;
static char temp_dir[64]; /* made for the default file config, or "" */
static harness_plugin P;
static char tenant[64], other_tenant[64];

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void load(void) {
  int rc = harness_load(EXECD_KIND_STORAGE, plugin_name, config_json, &P);
  ck_assert_msg(rc == 0, "loading storage '%s' with %s failed: %s (%s)",
                plugin_name, config_json, execd_strerror(rc),
                harness_last_error());
  sc_use(&P);
}

static void setup(void) {
  plugin_name = getenv("EXECD_CONFORMANCE_STORAGE");
  if (!plugin_name || !*plugin_name)
    plugin_name = "file";
  const char *cfg = getenv("EXECD_CONFORMANCE_STORAGE_CONFIG");
  temp_dir[0] = '\0';
  if (cfg && *cfg) {
    config_json = strdup(cfg);
  } else if (strcmp(plugin_name, "file") == 0) {
    snprintf(temp_dir, sizeof temp_dir, "%s/execd-storage-conf-XXXXXX", harness_tmpdir());
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
    json_t *c = json_pack("{s:s, s:i}", "path", temp_dir, "log_max", 65536);
    config_json = json_dumps(c, JSON_COMPACT);
    json_decref(c);
  } else {
    config_json = strdup("{}");
  }
  char id[37];
  sc_new_id(id);
  snprintf(tenant, sizeof tenant, "conformance-%s", id);
  snprintf(other_tenant, sizeof other_tenant, "other-%s", id);
  load();
}

static void teardown(void) {
  harness_unload(&P);
  harness_shutdown();
  if (temp_dir[0])
    nftw(temp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(config_json);
}

/* Asserts the op was accepted, called back once, never from inside. */
#define ck_done(rc, r)                                                        \
  do {                                                                        \
    int rc__ = (rc);                                                          \
    ck_assert_msg(rc__ == 0, "op refused or timed out: %d (%s)", rc__,        \
                  harness_last_error());                                      \
    ck_assert_msg(!(r)->inside_call, "callback ran inside the op call");      \
    ck_assert_int_eq((r)->calls, 1);                                          \
  } while (0)

static json_t *rec_new(const char *state) {
  char id[37];
  sc_new_id(id);
  return sc_record(id, tenant, state, NULL, NULL, NULL, 0);
}

static const char *id_of(const json_t *rec) {
  return json_string_value(json_object_get(rec, "id"));
}

static void insert_ok(const json_t *rec) {
  sc_result r = {0};
  ck_done(sc_insert(rec, &r), &r);
  ck_assert_msg(r.status == 0, "insert of %s: %s (%s)", id_of(rec),
                execd_strerror(r.status), harness_last_error());
  sc_clear(&r);
}

static void update_state(json_t *rec, const char *from, const char *to) {
  json_object_set_new(rec, "state", json_string(to));
  sc_result r = {0};
  ck_done(sc_update(rec, from, &r), &r);
  ck_assert_msg(r.status == 0, "update of %s %s->%s: %s", id_of(rec), from, to,
                execd_strerror(r.status));
  sc_clear(&r);
}

/* --- insert and get ------------------------------------------------------- */

START_TEST(test_insert_get_round_trip) {
  json_t *labels = json_pack("{s:s, s:s}", "team", "blue", "env", "ci");
  char id[37];
  sc_new_id(id);
  json_t *rec = sc_record(id, tenant, "QUEUED", "builder", "key-1", labels, 0);
  sc_result r = {0};
  ck_done(sc_insert(rec, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_msg(json_equal(r.record, rec), "insert did not hand back the record");
  sc_clear(&r);

  ck_done(sc_get(id, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_msg(json_equal(r.record, rec), "get returned another document");
  sc_clear(&r);
  json_decref(rec);
}
END_TEST

START_TEST(test_get_missing_is_enoent) {
  char id[37];
  sc_new_id(id);
  sc_result r = {0};
  ck_done(sc_get(id, &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  ck_assert_ptr_null(r.record);
  sc_clear(&r);
}
END_TEST

START_TEST(test_invalid_record_refused) {
  json_t *no_id = json_pack("{s:s, s:s}", "tenant", tenant, "state", "QUEUED");
  json_t *not_object = json_string("hello");
  sc_result r = {0};
  ck_assert_int_ne(sc_insert(no_id, &r), 0);
  ck_assert_int_ne(sc_insert(not_object, &r), 0);
  ck_assert_int_eq(r.calls, 0);
  ck_assert_msg(harness_last_error()[0], "a refusal should say why");
  json_decref(no_id);
  json_decref(not_object);
}
END_TEST

/* Records passed in are not kept: changing them after the call changes
 * nothing stored. */
START_TEST(test_records_are_copied) {
  json_t *rec = rec_new("QUEUED");
  char id[37];
  snprintf(id, sizeof id, "%s", id_of(rec));
  sc_result r = {0};
  ck_assert_int_eq(sc_insert_async(rec, &r), 0);
  json_object_set_new(rec, "state", json_string("MUTATED"));
  json_object_set_new(rec, "extra", json_true());
  ck_assert_int_eq(sc_wait(&r), 0);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  ck_done(sc_get(id, &r), &r);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "QUEUED");
  ck_assert_ptr_null(json_object_get(r.record, "extra"));
  sc_clear(&r);
  json_decref(rec);
}
END_TEST

/* --- callbacks ---------------------------------------------------------------- */

START_TEST(test_callbacks_never_synchronous) {
  /* Answers that need no I/O at all must still come later. */
  char missing[37];
  sc_new_id(missing);
  json_t *ghost = sc_record(missing, tenant, "RUNNING", NULL, NULL, NULL, 0);
  sc_result r = {0};
  ck_done(sc_get(missing, &r), &r);
  sc_clear(&r);
  ck_done(sc_update(ghost, "QUEUED", &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  ck_done(sc_remove(missing, &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  ck_done(sc_log_read(missing, 0, 100, &r), &r);
  sc_clear(&r);
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant};
  ck_done(sc_list(&q, &r), &r);
  sc_clear(&r);

  /* An insert and a get of it issued back to back, before the loop runs. */
  json_t *rec = rec_new("QUEUED");
  sc_result a = {0}, b = {0};
  ck_assert_int_eq(sc_insert_async(rec, &a), 0);
  ck_assert_int_eq(a.calls, 0);
  ck_done(sc_get(id_of(rec), &b), &b);
  ck_assert_int_eq(sc_wait(&a), 0);
  ck_assert_int_eq(a.calls, 1);
  ck_assert_int_eq(a.status, 0);
  sc_clear(&a);
  sc_clear(&b);
  json_decref(rec);
  json_decref(ghost);
}
END_TEST

/* Write callbacks come in the order of the calls. */
typedef struct order_log {
  int seen[16];
  int n;
} order_log;

typedef struct order_arg {
  order_log *log;
  int index;
} order_arg;

static void on_ordered(void *arg, int status, json_t *record) {
  (void)record;
  order_arg *a = arg;
  a->log->seen[a->log->n++] = status == 0 ? a->index : -1 - a->index;
}

static int all_seen(void *arg) { return ((order_log *)arg)->n == 8; }

START_TEST(test_write_callbacks_in_call_order) {
  order_log log = {{0}, 0};
  order_arg args[8];
  json_t *recs[4];
  for (int i = 0; i < 4; i++) {
    recs[i] = rec_new("QUEUED");
    args[i] = (order_arg){&log, i};
    ck_assert_int_eq(sc_ops()->insert(P.self, recs[i], on_ordered, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    json_object_set_new(recs[i], "state", json_string("RUNNING"));
    args[4 + i] = (order_arg){&log, 4 + i};
    ck_assert_int_eq(sc_ops()->update(P.self, recs[i], "QUEUED", on_ordered,
                                      &args[4 + i]), 0);
  }
  ck_assert_int_eq(log.n, 0);
  ck_assert(harness_run_until(all_seen, &log, SC_WAIT_MS));
  for (int i = 0; i < 8; i++)
    ck_assert_msg(log.seen[i] == i, "callback %d was for write %d", i, log.seen[i]);
  for (int i = 0; i < 4; i++)
    json_decref(recs[i]);
}
END_TEST

/* --- idempotency ----------------------------------------------------------- */

START_TEST(test_idempotency_key_dedupes) {
  char a[37], b[37], c[37];
  sc_new_id(a);
  sc_new_id(b);
  sc_new_id(c);
  json_t *first = sc_record(a, tenant, "QUEUED", NULL, "order-42", NULL, 0);
  json_t *again = sc_record(b, tenant, "QUEUED", NULL, "order-42", NULL, 0);
  json_t *elsewhere = sc_record(c, other_tenant, "QUEUED", NULL, "order-42", NULL, 0);
  insert_ok(first);

  sc_result r = {0};
  ck_done(sc_insert(again, &r), &r);
  ck_assert_int_eq(r.status, EXECD_EEXIST);
  ck_assert_ptr_nonnull(r.record);
  ck_assert_str_eq(id_of(r.record), a);
  sc_clear(&r);
  ck_done(sc_get(b, &r), &r);
  ck_assert_msg(r.status == EXECD_ENOENT, "the duplicate was stored");
  sc_clear(&r);

  /* Keys are per tenant. */
  insert_ok(elsewhere);
  ck_done(sc_get(c, &r), &r);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);

  /* Another key of the same tenant is another execution. */
  char d[37];
  sc_new_id(d);
  json_t *other_key = sc_record(d, tenant, "QUEUED", NULL, "order-43", NULL, 0);
  insert_ok(other_key);
  json_decref(first);
  json_decref(again);
  json_decref(elsewhere);
  json_decref(other_key);
}
END_TEST

START_TEST(test_idempotency_window_is_24h) {
  char a[37], b[37];
  sc_new_id(a);
  sc_new_id(b);
  int64_t day_ago = sc_now_ms() - 25ll * 3600 * 1000;
  json_t *old = sc_record(a, tenant, "SUCCEEDED", NULL, "nightly", NULL, day_ago);
  json_t *fresh = sc_record(b, tenant, "QUEUED", NULL, "nightly", NULL, 0);
  insert_ok(old);
  sc_result r = {0};
  ck_done(sc_insert(fresh, &r), &r);
  ck_assert_msg(r.status == 0, "a key last used 25 h ago still deduped: %s",
                execd_strerror(r.status));
  sc_clear(&r);
  /* Now the fresh one is the newest: it dedupes. */
  char c[37];
  sc_new_id(c);
  json_t *third = sc_record(c, tenant, "QUEUED", NULL, "nightly", NULL, 0);
  ck_done(sc_insert(third, &r), &r);
  ck_assert_int_eq(r.status, EXECD_EEXIST);
  ck_assert_str_eq(id_of(r.record), b);
  sc_clear(&r);
  json_decref(old);
  json_decref(fresh);
  json_decref(third);
}
END_TEST

/* --- update: compare-and-set ------------------------------------------------ */

START_TEST(test_update_compare_and_set) {
  json_t *rec = rec_new("QUEUED");
  insert_ok(rec);
  update_state(rec, "QUEUED", "RUNNING");

  json_t *stale = json_deep_copy(rec);
  json_object_set_new(stale, "state", json_string("CANCELLED"));
  sc_result r = {0};
  ck_done(sc_update(stale, "QUEUED", &r), &r);
  ck_assert_int_eq(r.status, EXECD_ECONFLICT);
  ck_assert_ptr_nonnull(r.record);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "RUNNING");
  sc_clear(&r);

  ck_done(sc_get(id_of(rec), &r), &r);
  ck_assert_msg(json_equal(r.record, rec), "the losing update changed the record");
  sc_clear(&r);

  char missing[37];
  sc_new_id(missing);
  json_t *ghost = sc_record(missing, tenant, "RUNNING", NULL, NULL, NULL, 0);
  ck_done(sc_update(ghost, "QUEUED", &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  json_decref(rec);
  json_decref(stale);
  json_decref(ghost);
}
END_TEST

/* Updates issued back to back compare against the newest state, including
 * writes not yet called back: two writers cannot both win. */
START_TEST(test_update_sees_writes_in_flight) {
  json_t *rec = rec_new("QUEUED");
  insert_ok(rec);
  json_t *v1 = json_deep_copy(rec), *v2 = json_deep_copy(rec),
         *rival = json_deep_copy(rec);
  json_object_set_new(v1, "state", json_string("RUNNING"));
  json_object_set_new(v2, "state", json_string("SUCCEEDED"));
  json_object_set_new(rival, "state", json_string("CANCELLED"));
  sc_result a = {0}, b = {0}, c = {0};
  ck_assert_int_eq(sc_update_async(v1, "QUEUED", &a), 0);
  ck_assert_int_eq(sc_update_async(rival, "QUEUED", &c), 0);
  ck_assert_int_eq(sc_update_async(v2, "RUNNING", &b), 0);
  ck_assert_int_eq(sc_wait(&a), 0);
  ck_assert_int_eq(sc_wait(&b), 0);
  ck_assert_int_eq(sc_wait(&c), 0);
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(c.status, EXECD_ECONFLICT);
  ck_assert_int_eq(b.status, 0);
  sc_result r = {0};
  ck_done(sc_get(id_of(rec), &r), &r);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "SUCCEEDED");
  sc_clear(&r);
  sc_clear(&a);
  sc_clear(&b);
  sc_clear(&c);
  json_decref(rec);
  json_decref(v1);
  json_decref(v2);
  json_decref(rival);
}
END_TEST

START_TEST(test_fire_and_forget_update) {
  json_t *rec = rec_new("QUEUED");
  insert_ok(rec);
  json_object_set_new(rec, "state", json_string("RUNNING"));
  ck_assert_int_eq(sc_ops()->update(P.self, rec, "QUEUED", NULL, NULL), 0);
  sc_result r = {0};
  ck_done(sc_get(id_of(rec), &r), &r);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "RUNNING");
  sc_clear(&r);
  json_decref(rec);
}
END_TEST

/* --- list ---------------------------------------------------------------------- */

#define NLIST 30
static const char *list_states[] = {"QUEUED", "RUNNING", "SUCCEEDED"};
static const char *list_agents[] = {"alpha", "beta", NULL};

typedef struct listed {
  json_t *recs[NLIST]; /* in insert order = ascending id */
  int64_t base_ms;
} listed;

static void make_list_data(listed *L) {
  L->base_ms = sc_now_ms() - 3600 * 1000;
  for (int i = 0; i < NLIST; i++) {
    char id[37];
    sc_new_id(id);
    json_t *labels = json_pack("{s:s, s:s}", "team", i % 2 ? "red" : "blue",
                               "shard", i % 5 == 0 ? "zero" : "other");
    L->recs[i] = sc_record(id, tenant, list_states[i % 3], list_agents[i % 4 % 3],
                           NULL, labels, L->base_ms + i * 60000);
    insert_ok(L->recs[i]);
  }
  /* Another tenant's records never show up in this tenant's lists. */
  for (int i = 0; i < 5; i++) {
    char id[37];
    sc_new_id(id);
    json_t *r = sc_record(id, other_tenant, "QUEUED", "alpha", NULL,
                          json_pack("{s:s}", "team", "blue"), 0);
    insert_ok(r);
    json_decref(r);
  }
}

static void free_list_data(listed *L) {
  for (int i = 0; i < NLIST; i++)
    json_decref(L->recs[i]);
}

static bool rec_matches(const json_t *rec, const execd_list_query *q) {
  const char *agent = json_string_value(json_object_get(rec, "agent"));
  const char *label = q->label_key ? json_string_value(json_object_get(
                                         json_object_get(rec, "labels"), q->label_key))
                                   : NULL;
  const char *created = json_string_value(
      json_object_get(json_object_get(rec, "timestamps"), "created"));
  if (q->tenant && strcmp(q->tenant, json_string_value(json_object_get(rec, "tenant"))))
    return false;
  if (q->state && strcmp(q->state, json_string_value(json_object_get(rec, "state"))))
    return false;
  if (q->agent && (!agent || strcmp(q->agent, agent)))
    return false;
  if (q->label_key && (!label || (q->label_value && strcmp(label, q->label_value))))
    return false;
  /* All times here are UTC with milliseconds: they compare as text. */
  if (q->created_after && strcmp(created, q->created_after) < 0)
    return false;
  if (q->created_before && strcmp(created, q->created_before) >= 0)
    return false;
  return true;
}

/* Lists everything q selects, page by page, and compares with L. */
static void check_query(listed *L, execd_list_query q, const char *what) {
  json_t *expected = json_array();
  for (int i = NLIST - 1; i >= 0; i--)
    if (rec_matches(L->recs[i], &q))
      json_array_append(expected, L->recs[i]);
  json_t *got = json_array();
  char *cursor = NULL;
  int pages = 0;
  do {
    q.cursor = cursor;
    sc_result r = {0};
    ck_done(sc_list(&q, &r), &r);
    ck_assert_msg(r.status == 0, "%s: list failed: %s", what, execd_strerror(r.status));
    ck_assert_msg(json_array_size(r.records) <= (q.limit ? q.limit : 100),
                  "%s: page over the limit", what);
    ck_assert_msg(r.cursor == NULL || json_array_size(r.records) > 0,
                  "%s: an empty page with a cursor", what);
    json_array_extend(got, r.records);
    free(cursor);
    cursor = r.cursor ? strdup(r.cursor) : NULL;
    sc_clear(&r);
    ck_assert_msg(++pages < 100, "%s: paging does not end", what);
  } while (cursor);
  size_t i;
  json_t *rec;
  /* Newest first, every match exactly once, nothing else. */
  json_array_foreach(got, i, rec) {
    if (i > 0)
      ck_assert_msg(strcmp(id_of(json_array_get(got, i - 1)), id_of(rec)) > 0,
                    "%s: not in descending id order at %zu", what, i);
  }
  ck_assert_msg(json_array_size(got) == json_array_size(expected),
                "%s: %zu records listed, %zu expected", what,
                json_array_size(got), json_array_size(expected));
  json_array_foreach(expected, i, rec)
    ck_assert_msg(json_equal(rec, json_array_get(got, i)),
                  "%s: record %zu differs", what, i);
  json_decref(got);
  json_decref(expected);
}

START_TEST(test_list_filters) {
  listed L;
  make_list_data(&L);
  char after[32], before[32];
  sc_format_time(L.base_ms + 10 * 60000, after);
  sc_format_time(L.base_ms + 20 * 60000, before);
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant, .limit = 1000};
  check_query(&L, q, "tenant");
  q.state = "RUNNING";
  check_query(&L, q, "tenant+state");
  q.state = NULL;
  q.agent = "alpha";
  check_query(&L, q, "tenant+agent");
  q.agent = NULL;
  q.label_key = "team";
  q.label_value = "red";
  check_query(&L, q, "tenant+label");
  q.label_key = "shard";
  q.label_value = "zero";
  q.state = "QUEUED";
  check_query(&L, q, "tenant+state+label");
  q.label_key = q.label_value = NULL;
  q.state = NULL;
  q.created_after = after;
  check_query(&L, q, "created_after");
  q.created_before = before;
  check_query(&L, q, "created_after+created_before");
  q.created_after = NULL;
  check_query(&L, q, "created_before");
  q.created_before = NULL;
  q.state = "SUCCEEDED";
  q.agent = "beta";
  q.label_key = "team";
  q.label_value = "blue";
  check_query(&L, q, "tenant+state+agent+label");
  q.state = "NO_SUCH_STATE";
  check_query(&L, q, "a state nothing is in");
  free_list_data(&L);
}
END_TEST

START_TEST(test_list_without_tenant) {
  listed L;
  make_list_data(&L);
  /* The engine lists by state alone when it recovers. */
  execd_list_query q = {.struct_size = sizeof q, .state = "RUNNING", .limit = 1000};
  json_t *ours = json_array();
  char *cursor = NULL;
  do {
    q.cursor = cursor;
    sc_result r = {0};
    ck_done(sc_list(&q, &r), &r);
    ck_assert_int_eq(r.status, 0);
    size_t i;
    json_t *rec;
    json_array_foreach(r.records, i, rec) {
      ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "RUNNING");
      if (strcmp(json_string_value(json_object_get(rec, "tenant")), tenant) == 0)
        json_array_append(ours, rec);
    }
    free(cursor);
    cursor = r.cursor ? strdup(r.cursor) : NULL;
    sc_clear(&r);
  } while (cursor);
  ck_assert_int_eq(json_array_size(ours), NLIST / 3);
  json_decref(ours);
  free_list_data(&L);
}
END_TEST

START_TEST(test_list_paging) {
  listed L;
  make_list_data(&L);
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant, .limit = 7};
  check_query(&L, q, "pages of 7");
  q.limit = 1;
  check_query(&L, q, "pages of 1");
  q.limit = NLIST;
  check_query(&L, q, "one full page");
  q.limit = 4;
  q.state = "QUEUED";
  check_query(&L, q, "pages of 4 of one state");

  /* A page boundary survives the removal of the record the cursor names
   * and of records on later pages; new records (higher ids) stay out. */
  q.state = NULL;
  q.limit = 10;
  sc_result r = {0};
  ck_done(sc_list(&q, &r), &r);
  ck_assert_int_eq(json_array_size(r.records), 10);
  ck_assert_ptr_nonnull(r.cursor);
  char *cursor = strdup(r.cursor);
  sc_clear(&r);
  ck_done(sc_remove(id_of(L.recs[NLIST - 10]), &r), &r); /* the cursor's */
  sc_clear(&r);
  ck_done(sc_remove(id_of(L.recs[NLIST - 12]), &r), &r);
  sc_clear(&r);
  json_t *newer = rec_new("QUEUED");
  insert_ok(newer);
  q.cursor = cursor;
  q.limit = 1000;
  ck_done(sc_list(&q, &r), &r);
  ck_assert_int_eq(json_array_size(r.records), NLIST - 11);
  ck_assert_str_eq(id_of(json_array_get(r.records, 0)), id_of(L.recs[NLIST - 11]));
  ck_assert_str_eq(id_of(json_array_get(r.records, 1)), id_of(L.recs[NLIST - 13]));
  ck_assert_ptr_null(r.cursor);
  sc_clear(&r);
  free(cursor);
  json_decref(newer);
  free_list_data(&L);
}
END_TEST

START_TEST(test_list_default_limit) {
  enum { N = 105 };
  sc_result *res = calloc(N, sizeof *res);
  for (int i = 0; i < N; i++) { /* all in flight at once */
    json_t *rec = rec_new("QUEUED");
    ck_assert_int_eq(sc_insert_async(rec, &res[i]), 0);
    json_decref(rec);
  }
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(sc_wait(&res[i]), 0);
    ck_assert_int_eq(res[i].status, 0);
    sc_clear(&res[i]);
  }
  free(res);
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant};
  sc_result r = {0};
  ck_done(sc_list(&q, &r), &r);
  ck_assert_int_eq(json_array_size(r.records), 100);
  ck_assert_ptr_nonnull(r.cursor);
  sc_clear(&r);
}
END_TEST

START_TEST(test_list_bad_query_refused) {
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant,
                        .created_after = "yesterday"};
  sc_result r = {0};
  int rc = sc_list(&q, &r);
  ck_assert_msg(rc != 0 || r.status != 0,
                "created_after \"yesterday\" was accepted");
  sc_clear(&r);
}
END_TEST

/* --- remove -------------------------------------------------------------------- */

START_TEST(test_remove) {
  json_t *keep = rec_new("SUCCEEDED"), *gone = rec_new("FAILED");
  insert_ok(keep);
  insert_ok(gone);
  ck_assert_int_eq(sc_ops()->log_append(P.self, id_of(gone), "bye\n", 4), 0);
  sc_result r = {0};
  ck_done(sc_remove(id_of(gone), &r), &r);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  ck_done(sc_get(id_of(gone), &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  ck_done(sc_remove(id_of(gone), &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  ck_done(sc_log_read(id_of(gone), 0, 100, &r), &r);
  ck_assert_msg(r.status == EXECD_ENOENT || (r.status == 0 && r.len == 0),
                "the log of a removed execution is still there");
  sc_clear(&r);
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant};
  ck_done(sc_list(&q, &r), &r);
  ck_assert_int_eq(json_array_size(r.records), 1);
  ck_assert_str_eq(id_of(json_array_get(r.records, 0)), id_of(keep));
  sc_clear(&r);
  json_decref(keep);
  json_decref(gone);
}
END_TEST

/* --- logs ---------------------------------------------------------------------- */

START_TEST(test_log_append_and_read) {
  json_t *rec = rec_new("RUNNING");
  insert_ok(rec);
  const char *id = id_of(rec);
  sc_result r = {0};
  ck_done(sc_log_read(id, 0, 100, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(r.len, 0);
  ck_assert_int_eq(r.next_offset, 0);
  sc_clear(&r);

  ck_assert_int_eq(sc_ops()->log_append(P.self, id, "hello ", 6), 0);
  ck_assert_int_eq(sc_ops()->log_append(P.self, id, "world\n", 6), 0);
  /* Durable no later than the next update: make one. */
  update_state(rec, "RUNNING", "SUCCEEDED");

  ck_done(sc_log_read(id, 0, 100, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_str_eq(r.data, "hello world\n");
  ck_assert_int_eq(r.next_offset, 12);
  sc_clear(&r);
  ck_done(sc_log_read(id, 3, 5, &r), &r);
  ck_assert_str_eq(r.data, "lo wo");
  ck_assert_int_eq(r.next_offset, 8);
  sc_clear(&r);
  ck_done(sc_log_read(id, 8, 100, &r), &r);
  ck_assert_str_eq(r.data, "rld\n");
  ck_assert_int_eq(r.next_offset, 12);
  sc_clear(&r);
  ck_done(sc_log_read(id, 12, 100, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(r.len, 0);
  ck_assert_int_eq(r.next_offset, 12);
  sc_clear(&r);

  char missing[37];
  sc_new_id(missing);
  ck_done(sc_log_read(missing, 0, 100, &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  json_decref(rec);
}
END_TEST

START_TEST(test_log_cap) {
  json_t *cfg = json_loads(config_json, 0, NULL);
  json_t *cap_json = json_object_get(cfg, "log_max");
  if (!json_is_integer(cap_json)) {
    fprintf(stderr, "log cap not checked: the config sets no integer log_max\n");
    json_decref(cfg);
    return;
  }
  size_t cap = (size_t)json_integer_value(cap_json);
  json_decref(cfg);
  json_t *rec = rec_new("RUNNING");
  insert_ok(rec);
  const char *id = id_of(rec);
  char chunk[1000];
  memset(chunk, 'x', sizeof chunk);
  chunk[sizeof chunk - 1] = '\n';
  for (size_t sent = 0; sent < 3 * cap; sent += sizeof chunk)
    sc_ops()->log_append(P.self, id, chunk, sizeof chunk); /* may say ETOOBIG */
  update_state(rec, "RUNNING", "SUCCEEDED");

  size_t total = 0;
  uint64_t offset = 0;
  for (;;) {
    sc_result r = {0};
    ck_done(sc_log_read(id, offset, 4096, &r), &r);
    ck_assert_int_eq(r.status, 0);
    if (total == 0)
      ck_assert_msg(r.len > 0 && r.data[0] == 'x', "the log lost its beginning");
    total += r.len;
    offset = r.next_offset;
    size_t len = r.len;
    sc_clear(&r);
    if (!len)
      break;
  }
  ck_assert_msg(total <= cap, "%zu log bytes kept, over log_max %zu", total, cap);
  ck_assert_msg(total >= cap / 2, "only %zu of log_max %zu bytes kept", total, cap);
  json_decref(rec);
}
END_TEST

/* Each part of a log has the time it arrived: log_marks (ABI 1.4) gives the
 * mark at or before the range's start and every mark inside it.  The file
 * storage must keep marks; another plugin may lack the op. */
START_TEST(test_log_marks) {
  json_t *rec = rec_new("RUNNING");
  insert_ok(rec);
  const char *id = id_of(rec);
  sc_result r = {0};
  int rc = sc_log_marks(id, 0, 100, &r);
  if (rc == SC_NO_OP) {
    ck_assert_msg(strcmp(plugin_name, "file") != 0, "the file storage has no log_marks op");
    fprintf(stderr, "log marks not checked: %s has no log_marks op\n", plugin_name);
    json_decref(rec);
    return;
  }
  ck_done(rc, &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(r.n_marks, 0); /* no bytes yet: no marks */
  sc_clear(&r);

  int64_t before_ms = sc_now_ms();
  ck_assert_int_eq(sc_ops()->log_append(P.self, id, "one\n", 4), 0);
  update_state(rec, "RUNNING", "SUCCEEDED"); /* durable, with its mark */
  int64_t between_ms = sc_now_ms();
  ck_assert_int_eq(sc_ops()->log_append(P.self, id, "two\n", 4), 0);
  ck_done(sc_log_read(id, 0, 100, &r), &r); /* read once the bytes are stored */
  ck_assert_str_eq(r.data, "one\ntwo\n");
  sc_clear(&r);
  int64_t after_ms = sc_now_ms();

  ck_done(sc_log_marks(id, 0, 8, &r), &r);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(r.n_marks, 2);
  ck_assert_int_eq(r.marks[0].offset, 0);
  ck_assert_int_eq(r.marks[1].offset, 4);
  ck_assert_int_ge(r.marks[0].time_us / 1000, before_ms);
  ck_assert_int_le(r.marks[0].time_us / 1000, between_ms);
  ck_assert_int_ge(r.marks[1].time_us / 1000, between_ms);
  ck_assert_int_le(r.marks[1].time_us / 1000, after_ms);
  ck_assert_int_ge(r.marks[1].time_us, r.marks[0].time_us);
  sc_clear(&r);
  /* From inside the second part: only its mark. */
  ck_done(sc_log_marks(id, 5, 8, &r), &r);
  ck_assert_int_eq(r.n_marks, 1);
  ck_assert_int_eq(r.marks[0].offset, 4);
  sc_clear(&r);
  /* Up to the second part: only the first mark. */
  ck_done(sc_log_marks(id, 0, 4, &r), &r);
  ck_assert_int_eq(r.n_marks, 1);
  ck_assert_int_eq(r.marks[0].offset, 0);
  sc_clear(&r);

  char missing[37];
  sc_new_id(missing);
  ck_done(sc_log_marks(missing, 0, 100, &r), &r);
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  /* Removed with its log. */
  ck_done(sc_remove(id, &r), &r);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  ck_done(sc_log_marks(id, 0, 100, &r), &r);
  ck_assert_msg(r.status == EXECD_ENOENT || (r.status == 0 && r.n_marks == 0),
                "the log marks of a removed execution are still there");
  sc_clear(&r);
  if (temp_dir[0]) { /* the file storage's own directory: no file left behind */
    char path[256];
    snprintf(path, sizeof path, "%s/logs/%s.times", temp_dir, id);
    ck_assert_msg(access(path, F_OK) != 0, "%s is still there", path);
  }
  json_decref(rec);
}
END_TEST

/* --- durability ------------------------------------------------------------------ */

START_TEST(test_durable_across_reload) {
  enum { N = 20 };
  json_t *recs[N];
  for (int i = 0; i < N; i++) {
    char id[37], key[32];
    sc_new_id(id);
    snprintf(key, sizeof key, "key-%d", i);
    recs[i] = sc_record(id, tenant, "QUEUED", i % 2 ? "alpha" : NULL,
                        i < 5 ? key : NULL, json_pack("{s:i}", "i", i), 0);
    insert_ok(recs[i]);
  }
  for (int i = 0; i < N; i += 2)
    update_state(recs[i], "QUEUED", "RUNNING");
  for (int i = 0; i < N; i += 4) {
    char line[64];
    int n = snprintf(line, sizeof line, "line of %d\n", i);
    ck_assert_int_eq(sc_ops()->log_append(P.self, id_of(recs[i]), line, (size_t)n), 0);
    update_state(recs[i], "RUNNING", "SUCCEEDED");
  }
  sc_result r = {0};
  ck_done(sc_remove(id_of(recs[N - 1]), &r), &r);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);

  harness_unload(&P);
  load();

  for (int i = 0; i < N - 1; i++) {
    ck_done(sc_get(id_of(recs[i]), &r), &r);
    ck_assert_msg(r.status == 0, "record %d lost across the reload", i);
    ck_assert_msg(json_equal(r.record, recs[i]), "record %d not its last version", i);
    sc_clear(&r);
  }
  ck_done(sc_get(id_of(recs[N - 1]), &r), &r);
  ck_assert_msg(r.status == EXECD_ENOENT, "a removed record came back");
  sc_clear(&r);
  for (int i = 0; i < N; i += 4) {
    char line[64];
    snprintf(line, sizeof line, "line of %d\n", i);
    ck_done(sc_log_read(id_of(recs[i]), 0, 100, &r), &r);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.data, line);
    sc_clear(&r);
  }
  /* Indexes are rebuilt: lists, compare-and-set and idempotency work. */
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant,
                        .state = "SUCCEEDED", .limit = 100};
  ck_done(sc_list(&q, &r), &r);
  ck_assert_int_eq(json_array_size(r.records), N / 4);
  sc_clear(&r);
  json_t *stale = json_deep_copy(recs[1]);
  json_object_set_new(stale, "state", json_string("RUNNING"));
  ck_done(sc_update(stale, "RUNNING", &r), &r);
  ck_assert_int_eq(r.status, EXECD_ECONFLICT);
  sc_clear(&r);
  char id[37];
  sc_new_id(id);
  json_t *dup = sc_record(id, tenant, "QUEUED", NULL, "key-3", NULL, 0);
  ck_done(sc_insert(dup, &r), &r);
  ck_assert_int_eq(r.status, EXECD_EEXIST);
  ck_assert_str_eq(id_of(r.record), id_of(recs[3]));
  sc_clear(&r);
  json_decref(dup);
  json_decref(stale);
  for (int i = 0; i < N; i++)
    json_decref(recs[i]);
}
END_TEST

START_TEST(test_health) {
  if (sc_ops()->health)
    ck_assert_msg(sc_ops()->health(P.self) == 0, "a fresh storage is unhealthy: %s",
                  harness_last_error());
}
END_TEST

static Suite *storage_suite(void) {
  Suite *s = suite_create("storage conformance");
  TCase *tc = tcase_create("storage");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, test_insert_get_round_trip);
  tcase_add_test(tc, test_get_missing_is_enoent);
  tcase_add_test(tc, test_invalid_record_refused);
  tcase_add_test(tc, test_records_are_copied);
  tcase_add_test(tc, test_callbacks_never_synchronous);
  tcase_add_test(tc, test_write_callbacks_in_call_order);
  tcase_add_test(tc, test_idempotency_key_dedupes);
  tcase_add_test(tc, test_idempotency_window_is_24h);
  tcase_add_test(tc, test_update_compare_and_set);
  tcase_add_test(tc, test_update_sees_writes_in_flight);
  tcase_add_test(tc, test_fire_and_forget_update);
  tcase_add_test(tc, test_list_filters);
  tcase_add_test(tc, test_list_without_tenant);
  tcase_add_test(tc, test_list_paging);
  tcase_add_test(tc, test_list_default_limit);
  tcase_add_test(tc, test_list_bad_query_refused);
  tcase_add_test(tc, test_remove);
  tcase_add_test(tc, test_log_append_and_read);
  tcase_add_test(tc, test_log_cap);
  tcase_add_test(tc, test_log_marks);
  tcase_add_test(tc, test_durable_across_reload);
  tcase_add_test(tc, test_health);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(storage_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
