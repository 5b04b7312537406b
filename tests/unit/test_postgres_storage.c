/* The postgres storage beyond the conformance suite, against a real server
 * (EXECD_PG_CONNINFO; skipped, saying so, without it; run by
 * tests/postgres/run-postgres.sh):
 *  - hostile values (quotes, backslashes, "$1", NULs, huge strings) in ids,
 *    tenants, labels, idempotency keys, filters and cursors are refused or
 *    stored and matched exactly, and never reach SQL text: with
 *    EXECD_PG_LOG (the server's log of every statement, parameters left
 *    out) a marker in every hostile value must not appear in it;
 *  - a schema newer than this build's is refused at start, clearly;
 *  - a stored row that no longer decodes is set aside, not failing lists;
 *  - check_config; an unreachable server at start; connections killed by
 *    the server are made again. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "storage_client.h"

#define MARK "HOSTILE7f3a"

static const char *conninfo;
static harness_plugin P;
static char tenant[128];

static void quiet(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

/* A blocking admin connection: tests may block, execd may not. */
static PGresult *admin(const char *ci, const char *sql, int n, const char *const *values) {
  PGconn *c = PQconnectdb(ci);
  ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
  PQsetNoticeProcessor(c, quiet, NULL);
  PGresult *r = PQexecParams(c, sql, n, NULL, values, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                PQresultErrorMessage(r));
  PQfinish(c);
  return r;
}

static char *config_for(const char *ci, const char *extra) {
  json_t *c = json_pack("{s:s, s:i, s:i}", "conninfo", ci, "pool_size", 3, "log_max", 65536);
  if (extra) {
    json_t *e = json_loads(extra, 0, NULL);
    json_object_update(c, e);
    json_decref(e);
  }
  char *s = json_dumps(c, JSON_COMPACT);
  json_decref(c);
  return s;
}

static int load_with(const char *ci, const char *extra, harness_plugin *p) {
  char *cfg = config_for(ci, extra);
  int rc = harness_load(EXECD_KIND_STORAGE, "postgres", cfg, p);
  free(cfg);
  return rc;
}

static void setup(void) {
  conninfo = getenv("EXECD_PG_CONNINFO");
  char id[37];
  sc_new_id(id);
  snprintf(tenant, sizeof tenant, "t-'; DROP TABLE execd_executions; -- " MARK "-%s", id);
  int rc = load_with(conninfo, NULL, &P);
  ck_assert_msg(rc == 0, "load: %s", harness_last_error());
  sc_use(&P);
}

static void teardown(void) {
  harness_unload(&P);
  harness_shutdown();
}

static const char *id_of(const json_t *rec) {
  return json_string_value(json_object_get(rec, "id"));
}

START_TEST(test_hostile_values_round_trip_and_match) {
  char big[1 << 20];
  memset(big, 'q', sizeof big - 1);
  memcpy(big, "'\"\\$1" MARK, 5 + strlen(MARK));
  big[sizeof big - 1] = '\0';
  json_t *labels = json_pack("{s:s, s:s, s:s}", "quote'key" MARK, "it's \"x\" \\ $1 " MARK,
                             "big", big, "plain", "v");
  char id[37];
  sc_new_id(id);
  json_t *rec = sc_record(id, tenant, "QUEUED", "agent'); --" MARK, "key' OR '1'='1" MARK,
                          labels, 0);
  sc_result r = {0};
  ck_assert_int_eq(sc_insert(rec, &r), 0);
  ck_assert_msg(r.status == 0, "insert: %s", harness_last_error());
  sc_clear(&r);
  ck_assert_int_eq(sc_get(id, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert(json_equal(r.record, rec));
  sc_clear(&r);

  /* Filters with the same values find exactly it. */
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant,
                        .agent = "agent'); --" MARK,
                        .label_key = "quote'key" MARK,
                        .label_value = "it's \"x\" \\ $1 " MARK};
  ck_assert_int_eq(sc_list(&q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(json_array_size(r.records), 1);
  ck_assert_str_eq(id_of(json_array_get(r.records, 0)), id);
  sc_clear(&r);
  q.label_value = "it's \"x\" \\ $1 " MARK "' OR '1'='1";
  ck_assert_int_eq(sc_list(&q, &r), 0);
  ck_assert_int_eq(json_array_size(r.records), 0);
  sc_clear(&r);
  execd_list_query big_filter = {.struct_size = sizeof q, .tenant = tenant,
                                 .label_key = "big", .label_value = big};
  ck_assert_int_eq(sc_list(&big_filter, &r), 0);
  ck_assert_int_eq(json_array_size(r.records), 1);
  sc_clear(&r);

  /* The idempotency key with quotes dedupes exactly. */
  char id2[37];
  sc_new_id(id2);
  json_t *again = sc_record(id2, tenant, "QUEUED", NULL, "key' OR '1'='1" MARK, NULL, 0);
  ck_assert_int_eq(sc_insert(again, &r), 0);
  ck_assert_int_eq(r.status, EXECD_EEXIST);
  ck_assert_str_eq(id_of(r.record), id);
  sc_clear(&r);

  /* Cursors and ids that are not this storage's are refused up front. */
  const char *bad_cursors[] = {"x' OR '1'='1", "0000; DROP TABLE x", big, ""};
  for (size_t i = 0; i < 4; i++) {
    execd_list_query c = {.struct_size = sizeof c, .tenant = tenant,
                          .cursor = bad_cursors[i]};
    ck_assert_msg(sc_list(&c, &r) != 0, "cursor %zu accepted", i);
    sc_clear(&r);
  }
  ck_assert_int_ne(sc_get("a'b", &r), 0);
  ck_assert_int_ne(sc_get(big, &r), 0);
  ck_assert_int_ne(sc_remove("x'--" MARK, &r), 0);
  ck_assert_int_ne(sc_ops()->log_append(P.self, "x'y", "z", 1), 0);
  json_t *bad_id = sc_record("id'" MARK, tenant, "QUEUED", NULL, NULL, NULL, 0);
  ck_assert_int_ne(sc_insert(bad_id, &r), 0);
  ck_assert_int_eq(r.calls, 0);

  /* NULs and over-long indexed strings are refused, saying why. */
  char id3[37];
  sc_new_id(id3);
  json_t *nul = sc_record(id3, tenant, "QUEUED", NULL, NULL, NULL, 0);
  json_object_set_new(json_object_get(nul, "labels"), "k", json_stringn("a\0b", 3));
  ck_assert_int_eq(sc_insert(nul, &r), EXECD_EINVAL);
  ck_assert_msg(strstr(harness_last_error(), "NUL"), "%s", harness_last_error());
  json_object_set_new(nul, "labels", json_object());
  json_object_set_new(nul, "tenant", json_stringn("t\0u", 3));
  ck_assert_int_eq(sc_insert(nul, &r), EXECD_EINVAL);
  json_object_set_new(nul, "tenant", json_string(big));
  ck_assert_int_eq(sc_insert(nul, &r), EXECD_EINVAL);
  ck_assert_msg(strstr(harness_last_error(), "tenant"), "%s", harness_last_error());
  ck_assert_int_eq(r.calls, 0);

  /* Log bytes with NULs and quotes come back exactly. */
  const char bytes[] = "a\0b'c\"d\\e" MARK;
  ck_assert_int_eq(sc_ops()->log_append(P.self, id, bytes, sizeof bytes), 0);
  ck_assert_int_eq(sc_log_read(id, 0, 1000, &r), 0);
  ck_assert_int_eq(r.len, sizeof bytes);
  ck_assert(memcmp(r.data, bytes, sizeof bytes) == 0);
  sc_clear(&r);

  /* None of it reached SQL text: the server logged every statement. */
  const char *log = getenv("EXECD_PG_LOG");
  if (log) {
    harness_unload(&P); /* every statement has run */
    ck_assert_int_eq(load_with(conninfo, NULL, &P), 0);
    FILE *f = fopen(log, "r");
    ck_assert_msg(f != NULL, "cannot read %s", log);
    char line[8192];
    size_t statements = 0;
    while (fgets(line, sizeof line, f)) {
      if (strstr(line, "statement:") || strstr(line, "execute "))
        statements++;
      ck_assert_msg(!strstr(line, MARK), "a hostile value reached the server's "
                    "statement log: %s", line);
    }
    fclose(f);
    ck_assert_msg(statements > 0, "%s logged no statement", log);
    fprintf(stderr, "hostile values: none in %zu logged statements\n", statements);
  } else {
    fprintf(stderr, "EXECD_PG_LOG unset: the server's statement log was not checked\n");
  }
  json_decref(rec);
  json_decref(again);
  json_decref(bad_id);
  json_decref(nul);
}
END_TEST

/* A conninfo whose tables live in a schema of their own. */
static void private_schema(char *out, size_t size, const char *schema) {
  char sql[256];
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
  PQclear(admin(conninfo, sql, 0, NULL));
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
  PQclear(admin(conninfo, sql, 0, NULL));
  snprintf(out, size, "%s options='-csearch_path=%s'", conninfo, schema);
}

/* The harness runs one loop: a second instance is loaded alone (stopping
 * one runs the loop until no handle is left, the other's included). */
/* --- several nodes: claims, leases, the fence ------------------------------ */

static json_t *queued(const char *backend, int priority, char id[37]) {
  sc_new_id(id);
  json_t *rec = sc_record(id, tenant, "QUEUED", NULL, NULL, NULL, 0);
  json_object_set_new(rec, "backend", json_string(backend));
  json_object_set_new(rec, "priority", json_integer(priority));
  sc_result r = {0};
  ck_assert_int_eq(sc_insert(rec, &r), 0);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  return rec;
}

/* claim by node, one backend; the claimed records (a new reference). */
static json_t *claim(const char *node, const char *backend, unsigned max, uint64_t lease_ms) {
  const char *names[] = {backend};
  execd_claim_query q = {sizeof q, node, max, lease_ms, names, 1};
  sc_result r = {0};
  ck_assert_int_eq(sc_claim(&q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  json_t *out = json_incref(r.records);
  sc_clear(&r);
  return out;
}

/* rec's update carrying lease (borrowed): the status. */
static int fenced_update(json_t *rec, const json_t *lease, const char *from, const char *to) {
  json_object_set(rec, "lease", (json_t *)lease);
  json_object_set_new(rec, "state", json_string(to));
  sc_result r = {0};
  ck_assert_int_eq(sc_update(rec, from, &r), 0);
  int status = r.status;
  sc_clear(&r);
  return status;
}

static const json_t *find_record(const json_t *records, const char *id) {
  size_t i;
  json_t *r;
  json_array_foreach(records, i, r) if (strcmp(id_of(r), id) == 0) return r;
  return NULL;
}

START_TEST(test_claims_leases_and_the_fence) {
  char backend[64], low[37], high[37], id[37];
  sc_new_id(id);
  snprintf(backend, sizeof backend, "b-%s", id);
  json_t *a = queued(backend, 0, low);
  json_t *b = queued(backend, 5, high);
  /* Priority first, and never more than asked. */
  json_t *got = claim("node-a", backend, 1, 300);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), high);
  json_t *lease_b = json_incref(json_object_get(json_array_get(got, 0), "lease"));
  ck_assert_str_eq(json_string_value(json_object_get(lease_b, "node")), "node-a");
  json_decref(got);
  got = claim("node-b", backend, 5, 300);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), low);
  json_decref(got);
  got = claim("node-b", backend, 5, 300); /* both are leased */
  ck_assert_int_eq(json_array_size(got), 0);
  json_decref(got);

  /* node-a starts it under its lease; the lease runs out unrenewed. */
  ck_assert_int_eq(fenced_update(b, lease_b, "QUEUED", "STARTING"), 0);
  ck_assert_int_eq(fenced_update(b, lease_b, "STARTING", "RUNNING"), 0);
  usleep(400 * 1000);
  execd_claim_query rq = {sizeof rq, "node-b", 100, 5000, NULL, 0};
  sc_result r = {0};
  ck_assert_int_eq(sc_rescue(&rq, &r), 0);
  const json_t *taken = find_record(r.records, high);
  ck_assert_msg(taken != NULL, "the expired lease was not taken over");
  json_t *lease_new = json_incref(json_object_get(taken, "lease"));
  sc_clear(&r);
  ck_assert_int_gt(json_integer_value(json_object_get(lease_new, "token")),
                   json_integer_value(json_object_get(lease_b, "token")));
  /* node-a's late write (its result) is refused by the fence... */
  ck_assert_int_eq(fenced_update(b, lease_b, "RUNNING", "SUCCEEDED"), EXECD_ECONFLICT);
  ck_assert_int_eq(sc_get(high, &r), 0);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "RUNNING");
  sc_clear(&r);
  /* ... node-b's is applied; a renewal of node-a's old lease finds nothing. */
  ck_assert_int_eq(fenced_update(b, lease_new, "RUNNING", "FAILED"), 0);
  json_t *leases = json_pack("[{s:s, s:O}]", "id", high, "token",
                             json_object_get(lease_b, "token"));
  ck_assert_int_eq(sc_renew("node-a", 5000, leases, &r), 0);
  ck_assert_int_eq(json_array_size(r.records), 0);
  sc_clear(&r);
  json_decref(leases);
  json_decref(lease_b);
  json_decref(lease_new);
  json_decref(a);
  json_decref(b);
}
END_TEST

/* insert_claim (ABI 1.7): the accepting node holds the lease from the
 * insert on; nobody else claims it while the lease lasts; unrenewed, it
 * expires and another node claims the row with a newer token, which fences
 * the first node's writes.  A record with an idempotency key, or one that
 * an older claimable execution would go before, is inserted unclaimed. */
START_TEST(test_insert_claim_then_taken_over) {
  char backend[64], id[37], keyed[37];
  sc_new_id(id);
  snprintf(backend, sizeof backend, "ic-%s", id);
  json_t *rec = sc_record(id, tenant, "QUEUED", NULL, NULL, NULL, 0);
  json_object_set_new(rec, "backend", json_string(backend));
  execd_claim_query q = {sizeof q, "node-a", 1, 300, NULL, 0};
  sc_result r = {0};
  ck_assert_int_eq(sc_insert_claim(rec, &q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  json_t *lease_a = json_incref(json_object_get(r.record, "lease"));
  ck_assert_msg(json_is_object(lease_a), "the inserted record carries no lease");
  ck_assert_str_eq(json_string_value(json_object_get(lease_a, "node")), "node-a");
  sc_clear(&r);
  /* The same id again: refused with the stored record, no second row. */
  ck_assert_int_eq(sc_insert_claim(rec, &q, &r), 0);
  ck_assert_int_eq(r.status, EXECD_ECONFLICT);
  sc_clear(&r);
  json_t *got = claim("node-b", backend, 5, 300); /* leased by node-a */
  ck_assert_int_eq(json_array_size(got), 0);
  json_decref(got);
  /* node-a dies before it starts anything: the lease runs out. */
  usleep(400 * 1000);
  got = claim("node-b", backend, 5, 5000);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), id);
  json_t *lease_b = json_incref(json_object_get(json_array_get(got, 0), "lease"));
  json_decref(got);
  ck_assert_int_gt(json_integer_value(json_object_get(lease_b, "token")),
                   json_integer_value(json_object_get(lease_a, "token")));
  /* node-a's late start is refused; node-b's is applied. */
  ck_assert_int_eq(fenced_update(rec, lease_a, "QUEUED", "STARTING"), EXECD_ECONFLICT);
  ck_assert_int_eq(fenced_update(rec, lease_b, "QUEUED", "STARTING"), 0);
  /* With an idempotency key: stored without a lease, claimable at once. */
  sc_new_id(keyed);
  json_t *krec = sc_record(keyed, tenant, "QUEUED", NULL, "key-ic", NULL, 0);
  json_object_set_new(krec, "backend", json_string(backend));
  ck_assert_int_eq(sc_insert_claim(krec, &q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert_ptr_null(json_object_get(r.record, "lease"));
  sc_clear(&r);
  got = claim("node-b", backend, 5, 5000);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), keyed);
  json_decref(got);
  /* An older claimable execution of the backend waits: the new one does
   * not pass it; it is stored unclaimed and a claim takes the older first. */
  char older[37], newer[37];
  json_t *orec = queued(backend, 0, older);
  sc_new_id(newer);
  json_t *nrec = sc_record(newer, tenant, "QUEUED", NULL, NULL, NULL, 0);
  json_object_set_new(nrec, "backend", json_string(backend));
  ck_assert_int_eq(sc_insert_claim(nrec, &q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert_ptr_null(json_object_get(r.record, "lease"));
  sc_clear(&r);
  got = claim("node-b", backend, 1, 5000);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), older);
  json_decref(got);
  got = claim("node-b", backend, 1, 5000);
  ck_assert_int_eq(json_array_size(got), 1);
  ck_assert_str_eq(id_of(json_array_get(got, 0)), newer);
  json_decref(got);
  json_decref(orec);
  json_decref(nrec);
  json_decref(krec);
  json_decref(lease_a);
  json_decref(lease_b);
  json_decref(rec);
}
END_TEST

/* A rescuer racing a completion: the completion and the takeover are sent
 * together on two connections; exactly one of them wins, every time. */
START_TEST(test_rescuer_races_a_completion) {
  char backend[64], id[37];
  sc_new_id(id);
  snprintf(backend, sizeof backend, "race-%s", id);
  int completed = 0, rescued = 0;
  for (int round = 0; round < 20; round++) {
    json_t *rec = queued(backend, 0, id);
    json_t *got = claim("node-a", backend, 1, 100);
    ck_assert_int_eq(json_array_size(got), 1);
    json_t *lease = json_incref(json_object_get(json_array_get(got, 0), "lease"));
    json_decref(got);
    ck_assert_int_eq(fenced_update(rec, lease, "QUEUED", "RUNNING"), 0);
    usleep(150 * 1000);
    json_object_set_new(rec, "state", json_string("SUCCEEDED"));
    sc_result done = {0}, take = {0};
    execd_claim_query rq = {sizeof rq, "node-b", 100, 5000, NULL, 0};
    ck_assert_int_eq(sc_update_async(rec, "RUNNING", &done), 0);
    ck_assert_int_eq(sc_rescue_async(&rq, &take), 0);
    ck_assert_int_eq(sc_wait(&done), 0);
    ck_assert_int_eq(sc_wait(&take), 0);
    bool won_completion = done.status == 0;
    bool won_rescue = find_record(take.records, id) != NULL;
    ck_assert_msg(won_completion != won_rescue,
                  "round %d: completion %d, rescue %d: exactly one must win", round,
                  done.status, won_rescue);
    if (won_rescue)
      ck_assert_int_eq(done.status, EXECD_ECONFLICT);
    completed += won_completion;
    rescued += won_rescue;
    sc_clear(&done);
    sc_clear(&take);
    json_decref(lease);
    json_decref(rec);
  }
  printf("rescuer racing a completion: 20 rounds, %d completions won, %d takeovers won, "
         "0 both\n", completed, rescued);
}
END_TEST

START_TEST(test_newer_schema_refused) {
  harness_unload(&P);
  char ci[1024];
  private_schema(ci, sizeof ci, "execd_test_newer");
  harness_plugin p;
  ck_assert_int_eq(load_with(ci, NULL, &p), 0); /* creates version 2 */
  harness_unload(&p);
  PQclear(admin(ci, "INSERT INTO execd_schema (version) VALUES (3)", 0, NULL));
  int rc = load_with(ci, NULL, &p);
  ck_assert_int_ne(rc, 0);
  ck_assert_msg(strstr(harness_last_error(), "schema version 3, newer than the version 2"),
                "%s", harness_last_error());
  PQclear(admin(conninfo, "DROP SCHEMA execd_test_newer CASCADE", 0, NULL));
}
END_TEST

START_TEST(test_undecodable_row_set_aside) {
  char ok_id[37], bad_id[37];
  sc_new_id(ok_id);
  sc_new_id(bad_id);
  json_t *good = sc_record(ok_id, tenant, "QUEUED", NULL, NULL, NULL, 0);
  json_t *bad = sc_record(bad_id, tenant, "QUEUED", NULL, NULL, NULL, 0);
  sc_result r = {0};
  ck_assert_int_eq(sc_insert(good, &r), 0);
  sc_clear(&r);
  ck_assert_int_eq(sc_insert(bad, &r), 0);
  sc_clear(&r);
  ck_assert_int_eq(sc_ops()->log_append(P.self, bad_id, "kept\n", 5), 0);
  ck_assert_int_eq(sc_log_read(bad_id, 0, 100, &r), 0);
  sc_clear(&r);
  PQclear(admin(conninfo, "UPDATE execd_executions SET doc = '{\"id\": [' WHERE id = $1",
                1, (const char *[]){bad_id}));
  execd_list_query q = {.struct_size = sizeof q, .tenant = tenant};
  ck_assert_int_eq(sc_list(&q, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert_int_eq(json_array_size(r.records), 1);
  ck_assert_str_eq(id_of(json_array_get(r.records, 0)), ok_id);
  sc_clear(&r);
  ck_assert_int_eq(sc_get(bad_id, &r), 0); /* on its lane: after the set-aside */
  ck_assert_int_eq(r.status, EXECD_ENOENT);
  sc_clear(&r);
  PGresult *res = admin(conninfo, "SELECT doc, convert_from(log, 'UTF8') FROM "
                        "execd_quarantine WHERE id = $1", 1, (const char *[]){bad_id});
  ck_assert_int_eq(PQntuples(res), 1);
  ck_assert_str_eq(PQgetvalue(res, 0, 0), "{\"id\": [");
  ck_assert_str_eq(PQgetvalue(res, 0, 1), "kept\n");
  PQclear(res);
  json_decref(good);
  json_decref(bad);
}
END_TEST

START_TEST(test_check_config) {
  char err[512];
  const execd_plugin *d = P.plugin;
  json_t *c = json_pack("{s:s}", "conninfo", "host=x nosuchkey=1");
  ck_assert_int_ne(d->check_config(c, err, sizeof err), 0);
  ck_assert_msg(strncmp(err, "conninfo", 8) == 0 && strstr(err, "nosuchkey"), "%s", err);
  json_decref(c);
  c = json_pack("{s:i}", "pool_size", 2);
  ck_assert_int_ne(d->check_config(c, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "conninfo is missing"), "%s", err);
  json_decref(c);
  c = json_pack("{s:s, s:i}", "conninfo", "dbname=x", "pool_size", 0);
  ck_assert_int_ne(d->check_config(c, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "pool_size"), "%s", err);
  json_decref(c);
  c = json_pack("{s:s, s:i}", "conninfo", "host=/nonexistent dbname=x", "pool_size", 8);
  ck_assert_int_eq(d->check_config(c, err, sizeof err), 0); /* no connection made */
  json_decref(c);
}
END_TEST

START_TEST(test_unreachable_at_start) {
  harness_unload(&P);
  harness_plugin p;
  int rc = load_with("host=/nonexistent-execd-dir port=15499", "{\"connect_wait\": 2000}", &p);
  ck_assert_int_eq(rc, EXECD_EUNAVAIL);
  ck_assert_msg(strstr(harness_last_error(), "nonexistent-execd-dir"), "%s",
                harness_last_error());
}
END_TEST

typedef struct health_probe {
  const execd_storage_ops *ops;
  void *self;
} health_probe;

static int healthy(void *arg) {
  health_probe *h = arg;
  return h->ops->health(h->self) == 0;
}

START_TEST(test_connections_killed_are_made_again) {
  harness_unload(&P);
  char ci[1024];
  snprintf(ci, sizeof ci, "%s application_name=execd-kill-test", conninfo);
  ck_assert_int_eq(load_with(ci, NULL, &P), 0);
  sc_use(&P);
  char id[37];
  sc_new_id(id);
  json_t *rec = sc_record(id, tenant, "QUEUED", NULL, NULL, NULL, 0);
  sc_result r = {0};
  ck_assert_int_eq(sc_insert(rec, &r), 0);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  PGresult *k = admin(conninfo, "SELECT count(pg_terminate_backend(pid)) FROM "
                      "pg_stat_activity WHERE application_name = $1",
                      1, (const char *[]){"execd-kill-test"});
  ck_assert_int_ge(atoi(PQgetvalue(k, 0, 0)), 1);
  PQclear(k);
  /* Ops may fail while the pool notices; it then comes back by itself. */
  health_probe h = {sc_ops(), P.self};
  int ok = 0;
  for (int i = 0; i < 200 && !ok; i++) {
    harness_run_until(healthy, &h, 100);
    sc_result g = {0};
    ck_assert_int_eq(sc_get(id, &g), 0);
    ok = g.status == 0;
    if (!ok)
      ck_assert_int_eq(g.status, EXECD_EUNAVAIL);
    sc_clear(&g);
  }
  ck_assert_msg(ok, "the storage did not come back after its connections were killed");
  json_object_set_new(rec, "state", json_string("RUNNING"));
  ck_assert_int_eq(sc_update(rec, "QUEUED", &r), 0);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  json_decref(rec);
}
END_TEST

static long count_of(const char *sql, const char *value) {
  PGresult *r = admin(conninfo, sql, 1, (const char *[]){value});
  long n = atol(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n;
}

static int old_finished_gone(void *arg) {
  (void)arg; /* a blocking query per turn of the loop: a test may block */
  return count_of("SELECT count(*) FROM execd_executions WHERE tenant = $1 "
                  "AND state = 'SUCCEEDED' AND updated_at < now() - interval '1 hour'",
                  tenant) == 0;
}

START_TEST(test_retention_deletes_old_finished_in_batches) {
  enum { OLD = 5 };
  json_t *old[OLD], *running, *fresh;
  sc_result r = {0};
  for (int i = 0; i < OLD; i++) {
    char id[37];
    sc_new_id(id);
    old[i] = sc_record(id, tenant, "RUNNING", NULL, NULL, NULL, 0);
    ck_assert_int_eq(sc_insert(old[i], &r), 0);
    sc_clear(&r);
    ck_assert_int_eq(sc_ops()->log_append(P.self, id, "old\n", 4), 0);
    json_object_set_new(old[i], "state", json_string("SUCCEEDED"));
    ck_assert_int_eq(sc_update(old[i], "RUNNING", &r), 0);
    ck_assert_int_eq(r.status, 0);
    sc_clear(&r);
  }
  char id[37];
  sc_new_id(id);
  running = sc_record(id, tenant, "RUNNING", NULL, NULL, NULL, 0);
  ck_assert_int_eq(sc_insert(running, &r), 0);
  sc_clear(&r);
  sc_new_id(id);
  fresh = sc_record(id, tenant, "SUCCEEDED", NULL, NULL, NULL, 0);
  ck_assert_int_eq(sc_insert(fresh, &r), 0);
  sc_clear(&r);
  PQclear(admin(conninfo, "UPDATE execd_executions SET updated_at = now() - "
                "interval '2 hours' WHERE tenant = $1 AND id <> $2",
                2, (const char *[]){tenant, id_of(fresh)}));
  harness_unload(&P);
  /* An hour, two per statement, a pass every 50 ms. */
  ck_assert_int_eq(load_with(conninfo, "{\"retention\": 3600000, \"retention_batch\": 2, "
                             "\"retention_interval\": 50}", &P), 0);
  sc_use(&P);
  ck_assert_msg(harness_run_until(old_finished_gone, NULL, 30000),
                "old finished executions are still there");
  for (int i = 0; i < OLD; i++) {
    ck_assert_int_eq(sc_get(id_of(old[i]), &r), 0);
    ck_assert_int_eq(r.status, EXECD_ENOENT);
    sc_clear(&r);
    ck_assert_int_eq(count_of("SELECT count(*) FROM execd_log_chunks WHERE id = $1",
                              id_of(old[i])), 0);
    json_decref(old[i]);
  }
  ck_assert_int_eq(sc_get(id_of(running), &r), 0); /* not finished: kept */
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  ck_assert_int_eq(sc_get(id_of(fresh), &r), 0); /* recent: kept */
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);
  json_decref(running);
  json_decref(fresh);
}
END_TEST

static int unhealthy(void *arg) {
  health_probe *h = arg;
  return h->ops->health(h->self) != 0;
}

static void cluster(const char *verb) {
  char cmd[1024];
  /* "pg-cluster.sh DIR" -> "pg-cluster.sh VERB DIR" */
  const char *c = getenv("EXECD_PG_CLUSTER");
  const char *space = strrchr(c, ' ');
  snprintf(cmd, sizeof cmd, "%.*s %s%s", (int)(space - c), c, verb, space);
  ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

/* PostgreSQL stopped mid-run: health says so, an insert fails at once
 * (nothing acknowledged that is not stored), an update waits and is
 * written once the server is back. */
START_TEST(test_postgres_stopped_mid_run) {
  if (!getenv("EXECD_PG_CLUSTER")) {
    fprintf(stderr, "the outage test needs a private cluster (EXECD_PG_CLUSTER): not run\n");
    return;
  }
  char id[37];
  sc_new_id(id);
  json_t *rec = sc_record(id, tenant, "RUNNING", NULL, NULL, NULL, 0);
  sc_result r = {0};
  ck_assert_int_eq(sc_insert(rec, &r), 0);
  ck_assert_int_eq(r.status, 0);
  sc_clear(&r);

  cluster("pause");
  health_probe h = {sc_ops(), P.self};
  ck_assert_msg(harness_run_until(unhealthy, &h, 30000), "health still says usable");
  ck_assert_msg(strstr(harness_last_error(), "unreachable"), "%s", harness_last_error());

  char id2[37];
  sc_new_id(id2);
  json_t *refused = sc_record(id2, tenant, "QUEUED", NULL, NULL, NULL, 0);
  ck_assert_int_eq(sc_insert(refused, &r), 0);
  ck_assert_int_eq(r.status, EXECD_EUNAVAIL);
  sc_clear(&r);

  ck_assert_int_eq(sc_ops()->log_append(P.self, id, "result\n", 7), 0);
  json_object_set_new(rec, "state", json_string("SUCCEEDED"));
  sc_result u = {0};
  ck_assert_int_eq(sc_update_async(rec, "RUNNING", &u), 0);
  harness_run_until(unhealthy, &h, 0); /* a turn of the loop */
  ck_assert(harness_run_until(healthy, &h, 1500) == 0); /* still down */
  ck_assert_msg(u.calls == 0, "the update was answered while PostgreSQL was down: %s",
                execd_strerror(u.status));

  cluster("resume");
  ck_assert_int_eq(sc_wait(&u), 0);
  ck_assert_msg(u.status == 0, "the update failed: %s (%s)", execd_strerror(u.status),
                harness_last_error());
  sc_clear(&u);
  ck_assert_int_eq(sc_get(id, &r), 0);
  ck_assert_int_eq(r.status, 0);
  ck_assert_str_eq(json_string_value(json_object_get(r.record, "state")), "SUCCEEDED");
  sc_clear(&r);
  ck_assert_int_eq(sc_log_read(id, 0, 100, &r), 0); /* appended during the outage */
  ck_assert_int_eq(r.status, 0);
  ck_assert_str_eq(r.data, "result\n");
  sc_clear(&r);
  ck_assert_int_eq(sc_get(id2, &r), 0);
  ck_assert_int_eq(r.status, EXECD_ENOENT); /* refused means not stored */
  sc_clear(&r);
  json_decref(rec);
  json_decref(refused);
}
END_TEST

int main(void) {
  if (!getenv("EXECD_PG_CONNINFO")) {
    fprintf(stderr, "SKIP: test_postgres_storage needs a PostgreSQL server: set "
                    "EXECD_PG_CONNINFO (tests/postgres/run-postgres.sh does)\n");
    return 77;
  }
  Suite *s = suite_create("postgres storage");
  TCase *tc = tcase_create("postgres");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_hostile_values_round_trip_and_match);
  tcase_add_test(tc, test_newer_schema_refused);
  tcase_add_test(tc, test_claims_leases_and_the_fence);
  tcase_add_test(tc, test_rescuer_races_a_completion);
  tcase_add_test(tc, test_insert_claim_then_taken_over);
  tcase_add_test(tc, test_undecodable_row_set_aside);
  tcase_add_test(tc, test_check_config);
  tcase_add_test(tc, test_unreachable_at_start);
  tcase_add_test(tc, test_connections_killed_are_made_again);
  tcase_add_test(tc, test_retention_deletes_old_finished_in_batches);
  tcase_add_test(tc, test_postgres_stopped_mid_run);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
