/* lib/uvpq against a real PostgreSQL server (EXECD_PG_CONNINFO; skipped,
 * saying so, without it; tests/postgres/run-postgres.sh provides one):
 * parameters, prepared statements, order within a lane, statement_timeout,
 * an error that leaves the connection usable, reconnection after the server
 * ended the connection, an unreachable server, and a close that lets the
 * queued queries finish. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvpq/uvpq.h"

static const char *conninfo;
static uv_loop_t loop;

typedef struct outcome {
  int calls;
  bool ok;
  char value[256];
  char error[512];
} outcome;

static void on_result(void *arg, PGresult *res, const char *error) {
  outcome *o = arg;
  o->calls++;
  o->ok = res && !error;
  if (error)
    snprintf(o->error, sizeof o->error, "%s", error);
  if (o->ok && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
    snprintf(o->value, sizeof o->value, "%s", PQgetvalue(res, 0, 0));
}

static bool run_until(bool (*done)(void *), void *arg, int max_ms) {
  uint64_t end = uv_now(&loop) + (uint64_t)max_ms;
  while (!done(arg)) {
    if (uv_now(&loop) > end)
      return false;
    uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
  }
  return true;
}

static bool called(void *arg) { return ((outcome *)arg)->calls > 0; }

static const uvpq_statement statements[] = {
    {"echo", "SELECT $1::text"},
    {"add", "SELECT ($1::int + $2::int)::text"},
};

static uvpq_pool *pool_new(const char *ci, unsigned size, unsigned timeout_ms) {
  uvpq_config cfg = {.conninfo = ci, .pool_size = size,
                     .statement_timeout_ms = timeout_ms,
                     .backoff_min_ms = 20, .backoff_max_ms = 200,
                     .statements = statements, .n_statements = 2};
  char err[256];
  uvpq_pool *p = uvpq_pool_new(&loop, &cfg, err, sizeof err);
  ck_assert_msg(p != NULL, "uvpq_pool_new: %s", err);
  uvpq_pool_start(p);
  return p;
}

static bool closed_flag;
static void on_closed(void *arg) { *(bool *)arg = true; }
static bool is_true(void *arg) { return *(bool *)arg; }

static void pool_close(uvpq_pool *p) {
  closed_flag = false;
  uvpq_pool_close(p, on_closed, &closed_flag);
  ck_assert(run_until(is_true, &closed_flag, 10000));
}

static void query(uvpq_pool *p, const char *stmt, const char *sql, int n,
                  const char *const *values, long lane, outcome *o) {
  uvpq_query_spec q = {.stmt = stmt, .sql = sql, .nparams = n, .values = values,
                       .lane = lane};
  ck_assert_int_eq(uvpq_query(p, &q, on_result, o), 0);
  ck_assert_int_eq(o->calls, 0); /* never from inside the call */
}

static void setup(void) {
  conninfo = getenv("EXECD_PG_CONNINFO");
  ck_assert_int_eq(uv_loop_init(&loop), 0);
}

static void teardown(void) {
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static bool both_ready(void *arg) { return uvpq_pool_ready(arg) == 2; }

START_TEST(test_parameters_are_values) {
  uvpq_pool *p = pool_new(conninfo, 2, 0);
  const char *hostile = "x'); DROP TABLE pg_class; --\"\\";
  outcome a = {0}, b = {0}, c = {0};
  query(p, "echo", NULL, 1, (const char *[]){hostile}, -1, &a);
  query(p, "add", NULL, 2, (const char *[]){"40", "2"}, -1, &b);
  query(p, NULL, "SELECT $1::text || $2::text", 2, (const char *[]){"a'", NULL}, -1, &c);
  ck_assert(run_until(called, &a, 10000));
  ck_assert(run_until(called, &b, 10000));
  ck_assert(run_until(called, &c, 10000));
  ck_assert_msg(a.ok, "%s", a.error);
  ck_assert_str_eq(a.value, hostile);
  ck_assert_str_eq(b.value, "42");
  ck_assert(c.ok);
  ck_assert_str_eq(c.value, ""); /* NULL: the concatenation is NULL */
  ck_assert(run_until(both_ready, p, 10000));
  pool_close(p);
}
END_TEST

typedef struct seq {
  int next, bad;
} seq;
typedef struct seq_arg {
  seq *s;
  int i;
} seq_arg;

static void on_seq(void *arg, PGresult *res, const char *error) {
  seq_arg *a = arg;
  if (!res || error || atoi(PQgetvalue(res, 0, 0)) != a->i || a->s->next != a->i)
    a->s->bad++;
  a->s->next++;
}

static bool seq_done(void *arg) { return ((seq *)arg)->next == 200; }

START_TEST(test_lane_keeps_order) {
  uvpq_pool *p = pool_new(conninfo, 4, 0);
  seq s = {0, 0};
  seq_arg args[200];
  for (int i = 0; i < 200; i++) {
    char v[16];
    snprintf(v, sizeof v, "%d", i);
    args[i] = (seq_arg){&s, i};
    uvpq_query_spec q = {.stmt = "echo", .nparams = 1,
                         .values = (const char *[]){v}, .lane = 7};
    ck_assert_int_eq(uvpq_query(p, &q, on_seq, &args[i]), 0);
  }
  ck_assert(run_until(seq_done, &s, 20000));
  ck_assert_int_eq(s.bad, 0);
  pool_close(p);
}
END_TEST

START_TEST(test_statement_timeout_and_recovery_from_errors) {
  uvpq_pool *p = pool_new(conninfo, 1, 200);
  outcome slow = {0}, bad = {0}, after = {0};
  query(p, NULL, "SELECT pg_sleep(5)", 0, NULL, 0, &slow);
  query(p, NULL, "SELECT 1/0", 0, NULL, 0, &bad);
  query(p, "echo", NULL, 1, (const char *[]){"still here"}, 0, &after);
  ck_assert(run_until(called, &after, 10000));
  ck_assert(!slow.ok);
  ck_assert_msg(strstr(slow.error, "statement timeout"), "%s", slow.error);
  ck_assert(!bad.ok);
  ck_assert_msg(strstr(bad.error, "division by zero"), "%s", bad.error);
  ck_assert(after.ok);
  ck_assert_str_eq(after.value, "still here");
  pool_close(p);
}
END_TEST

static bool ready_again(void *arg) { return uvpq_pool_ready(arg) == 1; }

START_TEST(test_reconnects_after_the_server_ends_the_connection) {
  char ci[1024];
  snprintf(ci, sizeof ci, "%s application_name=uvpq-victim", conninfo);
  uvpq_pool *victim = pool_new(ci, 1, 0);
  uvpq_pool *killer = pool_new(conninfo, 1, 0);
  outcome first = {0};
  query(victim, "echo", NULL, 1, (const char *[]){"one"}, -1, &first);
  ck_assert(run_until(called, &first, 10000));
  ck_assert(first.ok);
  outcome kill = {0};
  query(killer, NULL,
        "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity "
        "WHERE application_name = $1",
        1, (const char *[]){"uvpq-victim"}, -1, &kill);
  ck_assert(run_until(called, &kill, 10000));
  ck_assert_msg(kill.ok, "%s", kill.error);
  ck_assert_str_eq(kill.value, "1");
  /* The idle connection notices, backs off, comes back, prepares again. */
  uint64_t t0 = uv_now(&loop);
  while (uvpq_pool_ready(victim) == 1 && uv_now(&loop) - t0 < 5000) {
    uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
  }
  ck_assert(run_until(ready_again, victim, 10000));
  outcome again = {0};
  query(victim, "echo", NULL, 1, (const char *[]){"two"}, -1, &again);
  ck_assert(run_until(called, &again, 10000));
  ck_assert_msg(again.ok, "%s", again.error);
  ck_assert_str_eq(again.value, "two");
  pool_close(victim);
  pool_close(killer);
}
END_TEST

START_TEST(test_unreachable_server_fails_queries) {
  /* A socket directory with no server: refused at once. */
  uvpq_pool *p = pool_new("host=/nonexistent-execd-dir port=15499 connect_timeout=2", 2, 0);
  outcome first = {0};
  query(p, "echo", NULL, 1, (const char *[]){"x"}, -1, &first);
  ck_assert(run_until(called, &first, 10000));
  ck_assert(!first.ok);
  ck_assert_int_eq(uvpq_pool_ready(p), 0);
  ck_assert_msg(uvpq_pool_last_error(p)[0], "no error recorded");
  /* Once known down, a query fails without waiting for a connection. */
  outcome second = {0};
  query(p, "echo", NULL, 1, (const char *[]){"x"}, 1, &second);
  ck_assert(run_until(called, &second, 10000));
  ck_assert(!second.ok);
  ck_assert_msg(strstr(second.error, "unreachable"), "%s", second.error);
  pool_close(p);
}
END_TEST

START_TEST(test_bad_conninfo_refused) {
  uvpq_config cfg = {.conninfo = "host=a nosuchkey=1", .pool_size = 1};
  char err[256] = "";
  ck_assert_ptr_null(uvpq_pool_new(&loop, &cfg, err, sizeof err));
  ck_assert_msg(strstr(err, "nosuchkey"), "%s", err);
}
END_TEST

START_TEST(test_close_finishes_queued_queries) {
  uvpq_pool *p = pool_new(conninfo, 2, 0);
  outcome o[20];
  memset(o, 0, sizeof o);
  for (int i = 0; i < 20; i++)
    query(p, "echo", NULL, 1, (const char *[]){"q"}, i % 3, &o[i]);
  closed_flag = false;
  uvpq_pool_close(p, on_closed, &closed_flag);
  uvpq_query_spec late = {.stmt = "echo", .nparams = 1,
                          .values = (const char *[]){"late"}, .lane = -1};
  outcome lo = {0};
  ck_assert_int_eq(uvpq_query(p, &late, on_result, &lo), -1);
  ck_assert(run_until(is_true, &closed_flag, 10000));
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(o[i].calls, 1);
    ck_assert_msg(o[i].ok, "query %d: %s", i, o[i].error);
  }
}
END_TEST

int main(void) {
  if (!getenv("EXECD_PG_CONNINFO")) {
    fprintf(stderr, "SKIP: test_uvpq needs a PostgreSQL server: set "
                    "EXECD_PG_CONNINFO (tests/postgres/run-postgres.sh does)\n");
    return 77;
  }
  Suite *s = suite_create("uvpq");
  TCase *tc = tcase_create("uvpq");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_parameters_are_values);
  tcase_add_test(tc, test_lane_keeps_order);
  tcase_add_test(tc, test_statement_timeout_and_recovery_from_errors);
  tcase_add_test(tc, test_reconnects_after_the_server_ends_the_connection);
  tcase_add_test(tc, test_unreachable_server_fails_queries);
  tcase_add_test(tc, test_bad_conninfo_refused);
  tcase_add_test(tc, test_close_finishes_queued_queries);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
