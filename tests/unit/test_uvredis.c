/* lib/uvredis against a real redis-server started here (loopback, a port
 * of 16300-16399, a private directory, AOF on; stopped at the end):
 * commands and replies, AUTH with a password and as an ACL user, a wrong
 * password (the probe says refused; the connection never comes up and
 * names the refusal), a command past its timeout dropping the connection,
 * a server that never answers AUTH (the connect timeout), SUBSCRIBE on a
 * connection of its own, and the server killed and started again (down,
 * then up again by itself).  Skips (77) without redis-server. */
#include "config.h"

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis_server.h"
#include "uvredis/uvredis.h"

static redis_server srv;
static uv_loop_t loop;

/* What the callbacks saw. */
typedef struct seen {
  int ups, downs;
  char why[256];
  int replies;
  char reply[256];
  char err[256];
  int messages;
  char message[256];
} seen;

static void on_state(void *arg, bool up, const char *why) {
  seen *s = arg;
  if (up)
    s->ups++;
  else
    s->downs++, snprintf(s->why, sizeof s->why, "%s", why ? why : "");
}

static void on_reply(void *arg, redisReply *r, const char *err) {
  seen *s = arg;
  s->replies++;
  snprintf(s->reply, sizeof s->reply, "%s", r ? uvredis_reply_text(r) : "");
  snprintf(s->err, sizeof s->err, "%s", err ? err : "");
}

static void on_message(void *arg, redisReply *r, const char *err) {
  seen *s = arg;
  (void)err;
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
      strcmp(r->element[0]->str, "message") == 0) {
    s->messages++;
    snprintf(s->message, sizeof s->message, "%s", r->element[2]->str);
  }
}

/* Runs the loop until *counter reaches want; a guard of 20 s keeps a
 * broken build from hanging (the assertion is on the count, not the time). */
static void on_guard(uv_timer_t *t) { *(int *)t->data = 1; }
static void run_until(int *counter, int want) {
  uv_timer_t guard;
  int expired = 0;
  uv_timer_init(&loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, 20000, 0);
  while (*counter < want && !expired)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

static uvredis_config base_config(void) {
  uvredis_config cfg = {0};
  cfg.host = "127.0.0.1";
  cfg.port = srv.port;
  cfg.connect_timeout_ms = 2000;
  cfg.command_timeout_ms = 2000;
  cfg.backoff_min_ms = 50;
  cfg.backoff_max_ms = 200;
  return cfg;
}

static int command(uvredis_conn *c, seen *s, int argc, const char **argv) {
  size_t lens[16];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  return uvredis_command(c, 0, on_reply, s, argc, argv, lens);
}

static void close_conn(uvredis_conn *c) {
  uvredis_conn_close(c);
  /* Its handles close within the next iterations (others may stay open). */
  for (int i = 0; i < 4; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* One server for the suite, started and stopped by the runner's process
 * (a failing test's process ends without its teardown); a loop per test. */
static void server_start(void) {
  if (redis_server_start(&srv, "sekret") != 0)
    ck_abort_msg("redis-server did not start");
}

static void server_stop(void) { redis_server_stop(&srv); }

static void setup(void) { uv_loop_init(&loop); }

static void teardown(void) {
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

START_TEST(commands_after_auth) {
  uvredis_config cfg = base_config();
  cfg.password = "sekret";
  seen s = {0};
  uvredis_conn *c = uvredis_conn_new(&loop, &cfg, "test", on_state, &s);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(uvredis_command(c, 0, on_reply, &s, 0, NULL, NULL), -1); /* not up yet */
  run_until(&s.ups, 1);
  ck_assert_int_eq(s.ups, 1);
  const char *set[] = {"SET", "k", "v1"}, *get[] = {"GET", "k"};
  ck_assert_int_eq(command(c, &s, 3, set), 0);
  ck_assert_int_eq(command(c, &s, 2, get), 0);
  run_until(&s.replies, 2);
  ck_assert_str_eq(s.reply, "v1");
  ck_assert_str_eq(s.err, "");
  close_conn(c);
  ck_assert_int_eq(s.downs, 0); /* closing is not reported as a loss */
}
END_TEST

START_TEST(acl_user_and_wrong_password) {
  uvredis_config cfg = base_config();
  cfg.password = "sekret";
  seen admin = {0};
  uvredis_conn *a = uvredis_conn_new(&loop, &cfg, "admin", on_state, &admin);
  run_until(&admin.ups, 1);
  const char *acl[] = {"ACL", "SETUSER", "worker", "on", ">pw2", "~*", "&*", "+@all"};
  ck_assert_int_eq(command(a, &admin, 8, acl), 0);
  run_until(&admin.replies, 1);
  ck_assert_str_eq(admin.reply, "OK");

  uvredis_config user = base_config();
  user.user = "worker";
  user.password = "pw2";
  char err[256] = "";
  ck_assert_int_eq(uvredis_probe(&user, err, sizeof err), UVREDIS_PROBE_OK);
  seen s = {0};
  uvredis_conn *c = uvredis_conn_new(&loop, &user, "worker", on_state, &s);
  run_until(&s.ups, 1);
  ck_assert_int_eq(s.ups, 1);
  close_conn(c);

  uvredis_config wrong = base_config();
  wrong.password = "not-it";
  ck_assert_int_eq(uvredis_probe(&wrong, err, sizeof err), UVREDIS_PROBE_REFUSED);
  ck_assert_msg(strstr(err, "AUTH refused") != NULL, "probe said: %s", err);
  seen w = {0};
  uvredis_conn *bad = uvredis_conn_new(&loop, &wrong, "bad", on_state, &w);
  /* It keeps trying; each attempt is refused and the error says so. */
  int waited = 0;
  while (!strstr(uvredis_conn_error(bad), "AUTH refused") && waited++ < 2000)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_int_eq(w.ups, 0);
  ck_assert_int_eq(uvredis_conn_up(bad), 0);
  ck_assert_msg(strstr(uvredis_conn_error(bad), "connecting") ||
                    strstr(uvredis_conn_error(bad), "AUTH refused"),
                "error: %s", uvredis_conn_error(bad));
  close_conn(bad);
  close_conn(a);

  uvredis_config nowhere = base_config();
  nowhere.port = 1; /* nothing listens there */
  ck_assert_int_eq(uvredis_probe(&nowhere, err, sizeof err), UVREDIS_PROBE_UNREACHABLE);
}
END_TEST

START_TEST(command_timeout_drops_the_connection) {
  uvredis_config cfg = base_config();
  cfg.password = "sekret";
  cfg.command_timeout_ms = 200;
  seen s = {0};
  uvredis_conn *c = uvredis_conn_new(&loop, &cfg, "slow", on_state, &s);
  run_until(&s.ups, 1);
  /* BLPOP waits 3 s for a key nobody pushes: past the 200 ms timeout. */
  const char *blpop[] = {"BLPOP", "nothing", "3"};
  ck_assert_int_eq(command(c, &s, 3, blpop), 0);
  run_until(&s.replies, 1);
  ck_assert_msg(strstr(s.err, "no reply within 200 ms") != NULL, "err: %s", s.err);
  ck_assert_int_eq(s.downs, 1);
  ck_assert_msg(strstr(s.why, "no reply within") != NULL, "why: %s", s.why);
  run_until(&s.ups, 2); /* reconnected by itself */
  ck_assert_int_eq(s.ups, 2);
  /* The same wait with its own allowance is fine. */
  const char *blpop1[] = {"BLPOP", "nothing", "1"};
  size_t lens[] = {5, 7, 1};
  ck_assert_int_eq(uvredis_command(c, 1500, on_reply, &s, 3, blpop1, lens), 0);
  run_until(&s.replies, 2);
  ck_assert_str_eq(s.err, "");
  ck_assert_str_eq(s.reply, "nil");
  close_conn(c);
}
END_TEST

START_TEST(connect_timeout_when_auth_is_never_answered) {
  /* A socket that listens but never accepts: the TCP handshake completes
   * in the kernel, AUTH is never answered. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  uvredis_config cfg = base_config();
  cfg.port = ntohs(a.sin_port);
  cfg.password = "x";
  cfg.connect_timeout_ms = 200;
  cfg.command_timeout_ms = 60000;
  seen s = {0};
  uvredis_conn *c = uvredis_conn_new(&loop, &cfg, "mute", on_state, &s);
  int waited = 0;
  while (!strstr(uvredis_conn_error(c), "not connected within 200 ms") && waited++ < 2000)
    uv_run(&loop, UV_RUN_ONCE);
  ck_assert_msg(strstr(uvredis_conn_error(c), "not connected within 200 ms") != NULL, "error: %s",
                uvredis_conn_error(c));
  ck_assert_int_eq(s.ups, 0);
  close_conn(c);
  close(fd);
}
END_TEST

START_TEST(subscribe_and_server_restart) {
  uvredis_config cfg = base_config();
  cfg.password = "sekret";
  seen sub = {0}, pub = {0};
  uvredis_conn *sc = uvredis_conn_new(&loop, &cfg, "sub", on_state, &sub);
  uvredis_conn *pc = uvredis_conn_new(&loop, &cfg, "pub", on_state, &pub);
  run_until(&sub.ups, 1);
  run_until(&pub.ups, 1);
  const char *subscribe[] = {"SUBSCRIBE", "chan"};
  size_t lens[] = {9, 4};
  ck_assert_int_eq(uvredis_command(sc, UVREDIS_TIMEOUT_NONE, on_message, &sub, 2, subscribe, lens),
                   0);
  /* Publish until the subscription is in place and one message came. */
  const char *publish[] = {"PUBLISH", "chan", "hello"};
  while (sub.messages == 0) {
    ck_assert_int_eq(command(pc, &pub, 3, publish), 0);
    run_until(&pub.replies, pub.replies + 1);
  }
  ck_assert_str_eq(sub.message, "hello");

  redis_server_kill(&srv);
  run_until(&sub.downs, 1);
  run_until(&pub.downs, 1);
  ck_assert_int_eq(sub.downs, 1);
  ck_assert_int_eq(pub.downs, 1);
  ck_assert_int_eq(command(pc, &pub, 3, publish), -1); /* down: refused at once */
  ck_assert_int_eq(redis_server_restart(&srv), 0);
  run_until(&sub.ups, 2);
  run_until(&pub.ups, 2);
  ck_assert_int_eq(sub.ups, 2);
  ck_assert_int_eq(pub.ups, 2);
  /* The same connection object works again. */
  const char *ping[] = {"PING"};
  int before = pub.replies;
  ck_assert_int_eq(command(pc, &pub, 1, ping), 0);
  run_until(&pub.replies, before + 1);
  ck_assert_str_eq(pub.reply, "PONG");
  close_conn(sc);
  close_conn(pc);
}
END_TEST

START_TEST(addresses_and_password_files) {
  uvredis_config cfg = {0};
  char err[256];
  ck_assert_int_eq(uvredis_parse_address("127.0.0.1:6379", &cfg, err, sizeof err), 0);
  ck_assert_str_eq(cfg.host, "127.0.0.1");
  ck_assert_int_eq(cfg.port, 6379);
  ck_assert_int_eq(uvredis_parse_address("[::1]:7000", &cfg, err, sizeof err), 0);
  ck_assert_str_eq(cfg.host, "::1");
  ck_assert_int_eq(uvredis_parse_address("unix:/run/redis.sock", &cfg, err, sizeof err), 0);
  ck_assert_str_eq(cfg.unix_path, "/run/redis.sock");
  ck_assert_ptr_null(cfg.host);
  ck_assert_int_eq(uvredis_parse_address("localhost", &cfg, err, sizeof err), -1);
  ck_assert_int_eq(uvredis_parse_address("h:0", &cfg, err, sizeof err), -1);
  ck_assert_int_eq(uvredis_parse_address("unix:relative", &cfg, err, sizeof err), -1);
  uvredis_config_clear(&cfg);

  char path[300];
  snprintf(path, sizeof path, "%s/password", srv.dir);
  FILE *f = fopen(path, "w");
  fputs("s3cret\nignored\n", f);
  fclose(f);
  chmod(path, 0644);
  char *pw = NULL;
  ck_assert_int_eq(uvredis_read_password(path, &pw, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "readable by everyone") != NULL, "%s", err);
  chmod(path, 0600);
  ck_assert_int_eq(uvredis_read_password(path, &pw, err, sizeof err), 0);
  ck_assert_str_eq(pw, "s3cret");
  free(pw);
  ck_assert_int_eq(uvredis_read_password("/nonexistent/pw", &pw, err, sizeof err), -1);
}
END_TEST

int main(void) {
  if (!redis_server_binary()) {
    fprintf(stderr, "SKIP: redis-server is not installed (apt-get install redis-server)\n");
    return 77;
  }
  Suite *s = suite_create("uvredis");
  TCase *tc = tcase_create("uvredis");
  tcase_set_timeout(tc, 60);
  tcase_add_unchecked_fixture(tc, server_start, server_stop);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, commands_after_auth);
  tcase_add_test(tc, acl_user_and_wrong_password);
  tcase_add_test(tc, command_timeout_drops_the_connection);
  tcase_add_test(tc, connect_timeout_when_auth_is_never_answered);
  tcase_add_test(tc, subscribe_and_server_restart);
  tcase_add_test(tc, addresses_and_password_files);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
