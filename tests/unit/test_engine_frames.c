/* The engine stream demuxer: frames split at every byte, several frames in
 * one read, stdout and stderr kept apart, bad headers refused. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/container/engine_frames.h"

typedef struct collected {
  char out[256], err[256];
  size_t out_len, err_len;
  int calls;
} collected;

static void collect(void *arg, int stream, const char *data, size_t len) {
  collected *c = arg;
  c->calls++;
  if (stream == ENGINE_FRAME_STDOUT) {
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
  } else if (stream == ENGINE_FRAME_STDERR) {
    memcpy(c->err + c->err_len, data, len);
    c->err_len += len;
  }
}

/* Appends one frame to buf and returns the new length. */
static size_t frame(char *buf, size_t at, int stream, const char *payload) {
  size_t n = strlen(payload);
  unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
                        (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  memcpy(buf + at, h, 8);
  memcpy(buf + at + 8, payload, n);
  return at + 8 + n;
}

static size_t sample(char *buf) {
  size_t n = frame(buf, 0, 1, "hello ");
  n = frame(buf, n, 2, "warning\n");
  n = frame(buf, n, 1, "world\n");
  n = frame(buf, n, 1, "");
  return frame(buf, n, 2, "bye\n");
}

START_TEST(whole_buffer_in_one_read) {
  char buf[256];
  size_t n = sample(buf);
  collected c = {0};
  engine_frames f;
  engine_frames_init(&f, collect, &c);
  ck_assert_int_eq(engine_frames_feed(&f, buf, n), 0);
  ck_assert_int_eq(engine_frames_partial(&f), 0);
  ck_assert_uint_eq(c.out_len, 12);
  ck_assert_mem_eq(c.out, "hello world\n", 12);
  ck_assert_uint_eq(c.err_len, 12);
  ck_assert_mem_eq(c.err, "warning\nbye\n", 12);
}
END_TEST

START_TEST(split_at_every_offset) {
  char buf[256];
  size_t n = sample(buf);
  for (size_t cut = 1; cut < n; cut++) {
    collected c = {0};
    engine_frames f;
    engine_frames_init(&f, collect, &c);
    ck_assert_int_eq(engine_frames_feed(&f, buf, cut), 0);
    ck_assert_int_eq(engine_frames_feed(&f, buf + cut, n - cut), 0);
    ck_assert_msg(c.out_len == 12 && memcmp(c.out, "hello world\n", 12) == 0,
                  "stdout wrong when cut at %zu", cut);
    ck_assert_msg(c.err_len == 12 && memcmp(c.err, "warning\nbye\n", 12) == 0,
                  "stderr wrong when cut at %zu", cut);
  }
}
END_TEST

START_TEST(one_byte_at_a_time) {
  char buf[256];
  size_t n = sample(buf);
  collected c = {0};
  engine_frames f;
  engine_frames_init(&f, collect, &c);
  for (size_t i = 0; i < n; i++)
    ck_assert_int_eq(engine_frames_feed(&f, buf + i, 1), 0);
  ck_assert_mem_eq(c.out, "hello world\n", 12);
  ck_assert_mem_eq(c.err, "warning\nbye\n", 12);
  ck_assert_int_eq(engine_frames_partial(&f), 0);
}
END_TEST

START_TEST(partial_frame_at_the_end_is_noticed) {
  char buf[64];
  size_t n = frame(buf, 0, 1, "abcdef");
  collected c = {0};
  engine_frames f;
  engine_frames_init(&f, collect, &c);
  ck_assert_int_eq(engine_frames_feed(&f, buf, n - 2), 0);
  ck_assert_int_eq(engine_frames_partial(&f), 1);
  ck_assert_uint_eq(c.out_len, 4);
  engine_frames_init(&f, collect, &c);
  ck_assert_int_eq(engine_frames_feed(&f, buf, 5), 0); /* inside the header */
  ck_assert_int_eq(engine_frames_partial(&f), 1);
}
END_TEST

START_TEST(raw_stream_is_refused) {
  collected c = {0};
  engine_frames f;
  engine_frames_init(&f, collect, &c);
  ck_assert_int_eq(engine_frames_feed(&f, "plain text, no frames\n", 22), -1);
  ck_assert_int_eq(c.calls, 0);
  ck_assert_int_eq(engine_frames_feed(&f, "x", 1), -1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine frames");
  TCase *tc = tcase_create("demux");
  tcase_add_test(tc, whole_buffer_in_one_read);
  tcase_add_test(tc, split_at_every_offset);
  tcase_add_test(tc, one_byte_at_a_time);
  tcase_add_test(tc, partial_frame_at_the_end_is_noticed);
  tcase_add_test(tc, raw_stream_is_refused);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
