/* The HTTP client (httpc) against a small fake engine on a unix socket in
 * the same loop: JSON answers, the API prefix, bodies sent, streamed
 * answers with the headers seen before the body, cancel from inside a
 * callback, and an engine that is not there; and the hijacked attach over
 * the unix socket and over plain TCP (the same fake on 127.0.0.1): the
 * upgrade, output before and after stdin, stdin ended by the half-close,
 * and a refused attach. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/container/engine_attach.h"
#include "../../lib/httpc/httpc.h"

static uv_loop_t loop;
static uv_pipe_t server;
static uv_tcp_t tcp_server;
static int tcp_port;
static char sock_path[108];
static char last_request[8192];

typedef struct conn {
  union {
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  char buf[8192];
  size_t len;
  int answered;
  int raw; /* an attach: what follows the request is the job's stdin */
} conn;

static void on_conn_closed(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *w, int status) {
  (void)status;
  free(w->data);
  free(w);
}

static void send_text(conn *c, const char *text) {
  uv_write_t *w = malloc(sizeof *w);
  w->data = strdup(text);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)strlen(text));
  uv_write(w, (uv_stream_t *)&c->h, &b, 1, on_written);
}

/* Answers by path once the whole request (headers + Content-Length) is in. */
static void answer(conn *c) {
  char *eoh = strstr(c->buf, "\r\n\r\n");
  if (!eoh || c->answered)
    return;
  const char *cl = strcasestr(c->buf, "Content-Length:");
  size_t want = cl && cl < eoh ? (size_t)atoi(cl + 15) : 0;
  if (c->len < (size_t)(eoh + 4 - c->buf) + want)
    return;
  c->answered = 1;
  snprintf(last_request, sizeof last_request, "%s", c->buf);
  if (strncmp(c->buf, "GET /v9/ok ", 11) == 0) {
    send_text(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n"
                 "{\"a\": 1}");
  } else if (strncmp(c->buf, "POST /v9/echo ", 14) == 0) {
    char reply[8192];
    snprintf(reply, sizeof reply, "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n%.4000s",
             strlen(eoh + 4), eoh + 4);
    send_text(c, reply);
  } else if (strncmp(c->buf, "GET /v9/stream ", 15) == 0) {
    /* Chunked, and the last chunk only when the client closes: streamed. */
    send_text(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  } else if (strncmp(c->buf, "POST /v9/attach ", 16) == 0) {
    /* Output before stdin, then (on_read) what stdin held once it ends. */
    send_text(c, "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ");
    c->raw = 1;
    c->len = 0;
  } else if (strncmp(c->buf, "GET /v9/hang ", 13) == 0) {
    /* never answers */
  } else {
    send_text(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 28\r\n\r\n"
                 "{\"message\": \"no such thing\"}");
  }
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  conn *c = (conn *)h;
  (void)s;
  b->base = c->buf + c->len;
  b->len = sizeof c->buf - 1 - c->len;
}

static void on_last_written(uv_write_t *w, int status) {
  uv_handle_t *h = (uv_handle_t *)w->handle;
  on_written(w, status);
  uv_close(h, on_conn_closed);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  conn *c = (conn *)s;
  (void)b;
  if (n == UV_EOF && c->raw) { /* stdin ended: say what it held, then end the output */
    char reply[8300];
    snprintf(reply, sizeof reply, "stdin:%zu:%s", c->len, c->buf);
    uv_write_t *w = malloc(sizeof *w);
    w->data = strdup(reply);
    uv_buf_t out = uv_buf_init(w->data, (unsigned)strlen(reply));
    uv_write(w, s, &out, 1, on_last_written);
    return;
  }
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_conn_closed);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (c->raw)
    return;
  answer(c);
  if (c->raw)
    return;
  if (c->answered) { /* one request per connection: keep-alive is off here */
    c->len = 0;
    c->answered = 0;
  }
}

static void on_connection(uv_stream_t *s, int status) {
  ck_assert_int_eq(status, 0);
  conn *c = calloc(1, sizeof *c);
  if (s == (uv_stream_t *)&tcp_server)
    uv_tcp_init(&loop, &c->h.tcp);
  else
    uv_pipe_init(&loop, &c->h.pipe, 0);
  ck_assert_int_eq(uv_accept(s, (uv_stream_t *)&c->h), 0);
  uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read);
}

static void setup(void) {
  uv_loop_init(&loop);
  snprintf(sock_path, sizeof sock_path, "/tmp/execd-fake-engine-%d.sock", (int)getpid());
  unlink(sock_path);
  uv_pipe_init(&loop, &server, 0);
  ck_assert_int_eq(uv_pipe_bind(&server, sock_path), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&server, 16, on_connection), 0);
  /* The same fake on 127.0.0.1, at a port of the kernel's choosing. */
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&ss);
  uv_tcp_init(&loop, &tcp_server);
  ck_assert_int_eq(uv_tcp_bind(&tcp_server, (struct sockaddr *)&ss, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&tcp_server, 16, on_connection), 0);
  ck_assert_int_eq(uv_tcp_getsockname(&tcp_server, (struct sockaddr *)&ss, &len), 0);
  tcp_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h == (uv_handle_t *)&server || h == (uv_handle_t *)&tcp_server ? NULL
                                                                            : on_conn_closed);
}

static void teardown(void) {
  uv_walk(&loop, close_all, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  unlink(sock_path);
}

typedef struct result {
  int done;
  long status;
  int transport_err;
  char body[256];
  char streamed[256];
  int headers_seen_before_data;
  int headers;
} result;

static void on_done(void *arg, const httpc_response *r) {
  result *res = arg;
  res->done++;
  res->status = r->status;
  res->transport_err = r->transport_err;
  snprintf(res->body, sizeof res->body, "%s", r->body);
}

static void on_headers(void *arg, long status) {
  result *res = arg;
  res->headers = (int)status;
}

static int on_data(void *arg, const char *data, size_t len) {
  result *res = arg;
  if (res->streamed[0] == '\0')
    res->headers_seen_before_data = res->headers == 200;
  strncat(res->streamed, data, len);
  return 0;
}

/* A client of the engine on the unix socket at path. */
static httpc_client *new_client(const char *path) {
  httpc_endpoint ep = {0};
  ck_assert_int_eq(httpc_endpoint_set_unix(&ep, path), 0);
  httpc_client *c = httpc_client_new(&loop, &ep, "/v9", "fake");
  httpc_endpoint_clear(&ep); /* the client has a copy */
  ck_assert_ptr_nonnull(c);
  return c;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* A ticking timer, so a UV_RUN_ONCE that finished the request in its timer
 * phase does not then block in poll on the listening socket. */
static void run_until(int *flag) {
  uv_timer_t tick;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, on_tick, 5, 5);
  for (int i = 0; i < 100000 && !*flag; i++)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

START_TEST(json_answer_under_the_prefix) {
  httpc_client *c = new_client(sock_path);
  result res = {0};
  ck_assert_ptr_nonnull(httpc_request_json(c, "GET", "/ok", NULL, 5000, on_done, &res));
  ck_assert_int_eq(res.done, 0); /* never from inside the call */
  run_until(&res.done);
  ck_assert_int_eq(res.done, 1);
  ck_assert_int_eq(res.status, 200);
  ck_assert_str_eq(res.body, "{\"a\": 1}");
  httpc_client_close(c);
}
END_TEST

START_TEST(body_is_sent_and_errors_carry_the_engine_message) {
  httpc_client *c = new_client(sock_path);
  result res = {0};
  json_t *doc = json_pack("{s:s}", "Image", "busybox");
  ck_assert_ptr_nonnull(httpc_request_json(c, "POST", "/echo", doc, 5000, on_done, &res));
  json_decref(doc);
  run_until(&res.done);
  ck_assert_int_eq(res.status, 201);
  ck_assert_str_eq(res.body, "{\"Image\":\"busybox\"}");
  ck_assert_ptr_nonnull(strstr(last_request, "Content-Type: application/json"));

  result miss = {0};
  httpc_request_json(c, "GET", "/nothing", NULL, 5000, on_done, &miss);
  run_until(&miss.done);
  ck_assert_int_eq(miss.status, 404);
  httpc_response r = {.status = 404, .body = miss.body, .body_len = strlen(miss.body)};
  char msg[100];
  ck_assert_str_eq(httpc_error_message(&r, msg, sizeof msg), "no such thing");
  httpc_client_close(c);
}
END_TEST

START_TEST(streamed_answer_after_its_headers) {
  httpc_client *c = new_client(sock_path);
  result res = {0};
  httpc_request_opts o = {.method = "GET", .path = "/stream", .on_headers = on_headers,
                          .on_data = on_data, .on_done = on_done, .arg = &res};
  ck_assert_ptr_nonnull(httpc_request_start(c, &o));
  run_until(&res.done);
  ck_assert_int_eq(res.status, 200);
  ck_assert_str_eq(res.streamed, "hello world");
  ck_assert_int_eq(res.headers_seen_before_data, 1);
  ck_assert_str_eq(res.body, ""); /* streamed, not buffered */
  httpc_client_close(c);
}
END_TEST

typedef struct cancel_ctx {
  httpc_request *victim;
  result res;
} cancel_ctx;

static void cancel_other(void *arg, const httpc_response *r) {
  cancel_ctx *x = arg;
  (void)r;
  httpc_request_cancel(x->victim);
  x->res.done = 1;
}

START_TEST(cancel_from_a_callback_silences_the_request) {
  httpc_client *c = new_client(sock_path);
  result hung = {0};
  cancel_ctx x = {0};
  x.victim = httpc_request_json(c, "GET", "/hang", NULL, 0, on_done, &hung);
  ck_assert_ptr_nonnull(httpc_request_json(c, "GET", "/ok", NULL, 5000, cancel_other, &x));
  run_until(&x.res.done);
  for (int i = 0; i < 50; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(hung.done, 0);
  httpc_client_close(c);
}
END_TEST

START_TEST(missing_engine_is_a_transport_error) {
  httpc_client *c = new_client("/nonexistent/engine.sock");
  result res = {0};
  httpc_request_json(c, "GET", "/ok", NULL, 5000, on_done, &res);
  run_until(&res.done);
  ck_assert_int_eq(res.done, 1);
  ck_assert_int_eq(res.transport_err, 1);
  ck_assert_int_eq(res.status, 0);
  httpc_client_close(c);
}
END_TEST

/* ---- the hijacked attach -------------------------------------------------- */

typedef struct attach_result {
  int attached; /* 1 ok, -1 failed */
  char error[300];
  char data[256];
  int ended;
  int end_status;
} attach_result;

static void on_attach(void *arg, int status, const char *error) {
  attach_result *r = arg;
  r->attached = status == 0 ? 1 : -1;
  snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

static void on_attach_data(void *arg, const char *data, size_t len) {
  attach_result *r = arg;
  size_t room = sizeof r->data - 1 - strlen(r->data);
  strncat(r->data, data, len < room ? len : room);
}

static void on_attach_end(void *arg, int status) {
  attach_result *r = arg;
  r->ended = 1;
  r->end_status = status;
}

static httpc_client *new_tcp_client(void) {
  httpc_endpoint ep = {0};
  char uri[64], err[100];
  snprintf(uri, sizeof uri, "tcp://127.0.0.1:%d", tcp_port);
  ck_assert_int_eq(httpc_endpoint_set_tcp(&ep, uri, err, sizeof err), 0);
  httpc_client *c = httpc_client_new(&loop, &ep, "/v9", "fake");
  httpc_endpoint_clear(&ep);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* The output before and after stdin, and stdin's end reaching the engine. */
static void attach_round_trip(httpc_client *c) {
  attach_result r = {0};
  engine_attach *a = engine_attach_open(c, "/v9/attach", on_attach, on_attach_data,
                                        on_attach_end, &r);
  ck_assert_ptr_nonnull(a);
  run_until(&r.attached);
  ck_assert_msg(r.attached == 1, "attach: %s", r.error);
  ck_assert_int_eq(engine_attach_send_eof(a, "{\"x\": 1}\n", 9), 0);
  run_until(&r.ended);
  ck_assert_int_eq(r.end_status, 0);
  ck_assert_str_eq(r.data, "hello stdin:9:{\"x\": 1}\n");
  ck_assert_ptr_nonnull(strstr(last_request, "Upgrade: tcp"));
  engine_attach_close(a);

  attach_result refused = {0};
  a = engine_attach_open(c, "/v9/nothing", on_attach, on_attach_data, on_attach_end, &refused);
  run_until(&refused.attached);
  ck_assert_int_eq(refused.attached, -1);
  ck_assert_msg(strstr(refused.error, "attach refused: HTTP 404"), "%s", refused.error);
  engine_attach_close(a);
  httpc_client_close(c);
}

START_TEST(attach_over_the_unix_socket) {
  attach_round_trip(new_client(sock_path));
}
END_TEST

START_TEST(attach_over_tcp) {
  httpc_client *c = new_tcp_client();
  attach_round_trip(c);
}
END_TEST

START_TEST(requests_over_tcp) {
  httpc_client *c = new_tcp_client();
  result res = {0};
  ck_assert_ptr_nonnull(httpc_request_json(c, "GET", "/ok", NULL, 5000, on_done, &res));
  run_until(&res.done);
  ck_assert_int_eq(res.status, 200);
  ck_assert_str_eq(res.body, "{\"a\": 1}");
  char host[64];
  snprintf(host, sizeof host, "Host: 127.0.0.1:%d", tcp_port);
  ck_assert_msg(strstr(last_request, host), "request: %s", last_request);
  struct sockaddr_storage peer;
  ck_assert_int_eq(httpc_client_peer(c, &peer), 0);
  ck_assert_int_eq(ntohs(((struct sockaddr_in *)&peer)->sin_port), tcp_port);
  httpc_client_close(c);
}
END_TEST

START_TEST(attach_to_a_name_needs_an_address_first) {
  httpc_endpoint ep = {0};
  char uri[64], err[100];
  snprintf(uri, sizeof uri, "tcp://localhost:%d", tcp_port);
  ck_assert_int_eq(httpc_endpoint_set_tcp(&ep, uri, err, sizeof err), 0);
  httpc_client *c = httpc_client_new(&loop, &ep, "/v9", "fake");
  httpc_endpoint_clear(&ep);
  attach_result r = {0};
  /* No request has reached the engine: its address is not known. */
  ck_assert_ptr_null(engine_attach_open(c, "/v9/attach", on_attach, on_attach_data,
                                        on_attach_end, &r));
  result res = {0};
  httpc_request_json(c, "GET", "/ok", NULL, 5000, on_done, &res);
  run_until(&res.done);
  if (res.status == 200) /* localhost may be ::1 first, where nothing listens */
    attach_round_trip(c);
  else
    httpc_client_close(c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine http");
  TCase *tc = tcase_create("client");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, json_answer_under_the_prefix);
  tcase_add_test(tc, body_is_sent_and_errors_carry_the_engine_message);
  tcase_add_test(tc, streamed_answer_after_its_headers);
  tcase_add_test(tc, cancel_from_a_callback_silences_the_request);
  tcase_add_test(tc, missing_engine_is_a_transport_error);
  tcase_add_test(tc, requests_over_tcp);
  tcase_add_test(tc, attach_over_the_unix_socket);
  tcase_add_test(tc, attach_over_tcp);
  tcase_add_test(tc, attach_to_a_name_needs_an_address_first);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
