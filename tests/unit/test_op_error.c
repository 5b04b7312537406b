/* The error detail of an async op stays with that op: a storage plugin
 * (tests/plugins/storage_faildetail.c) fails two updates of one instance
 * in one batch, recording both details before either callback runs, and
 * each callback takes its own with instance_take_error(), as the core's
 * storage callbacks do.  Also: a plugin that only knows set_error still
 * gets its text through, and the table of details is bounded. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/plugin.h>

#include "instance.h"
#include "loader.h"

static uv_loop_t loop;
static execd_host host; /* the daemon's table, with the test's loop */
static execd_instance inst;

static uv_loop_t *test_loop(execd_instance *i) {
  (void)i;
  return &loop;
}

/* One update in flight: what its callback saw. */
typedef struct op {
  int called;
  int status;
  char detail[1024];
} op;

static void on_update(void *arg, int status, json_t *record) {
  op *o = arg;
  (void)record;
  o->called++;
  o->status = status;
  snprintf(o->detail, sizeof o->detail, "%s", instance_take_error(&inst, o, "no detail"));
}

static void load(const char *config_json) {
  const char *path = getenv("EXECD_PLUGIN_PATH");
  ck_assert_msg(path && *path, "EXECD_PLUGIN_PATH is not set (run through make check)");
  ck_assert_int_eq(loader_init(path), 0);
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  host = *host_table();
  host.loop = test_loop;
  memset(&inst, 0, sizeof inst);
  inst.name = "faildetail";
  inst.kind = EXECD_KIND_STORAGE;
  char err[2048] = "";
  ck_assert_msg(loader_open(EXECD_KIND_STORAGE, "faildetail", &host, &inst.loaded, err,
                            sizeof err) == 0,
                "%s", err);
  inst.plugin = loader_descriptor(inst.loaded);
  inst.ops = loader_ops(inst.loaded);
  json_t *config = json_loads(config_json, 0, NULL);
  ck_assert_ptr_nonnull(config);
  ck_assert_int_eq(inst.plugin->create(&host, &inst, config, &inst.self), 0);
  json_decref(config);
}

static void unload(void) {
  if (inst.self) {
    inst.plugin->stop(inst.self);
    uv_run(&loop, UV_RUN_DEFAULT);
    inst.plugin->destroy(inst.self);
  }
  if (inst.loaded)
    loader_close(inst.loaded);
  uv_loop_close(&loop);
  loader_exit();
  memset(&inst, 0, sizeof inst);
}

static void update(const char *id, op *o) {
  const execd_storage_ops *ops = inst.ops;
  json_t *record = json_pack("{s:s, s:s}", "id", id, "state", "RUNNING");
  ck_assert_int_eq(ops->update(inst.self, record, "STARTING", on_update, o), 0);
  json_decref(record);
  ck_assert_int_eq(o->called, 0); /* never from inside the call */
}

START_TEST(overlapping_failures_keep_their_own_detail) {
  load("{}");
  op a = {0}, b = {0};
  update("exec-a", &a);
  update("exec-b", &b);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(a.called, 1);
  ck_assert_int_eq(b.called, 1);
  ck_assert_int_eq(a.status, EXECD_EIO);
  ck_assert_int_eq(b.status, EXECD_EIO);
  ck_assert_str_eq(a.detail, "writing exec-a failed");
  ck_assert_str_eq(b.detail, "writing exec-b failed");
  unload();
}
END_TEST

START_TEST(set_error_of_an_older_plugin_still_reaches_the_core) {
  load("{\"set_error\": true}");
  op a = {0};
  update("exec-a", &a);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(a.called, 1);
  ck_assert_str_eq(a.detail, "writing exec-a failed");
  unload();
}
END_TEST

START_TEST(a_detail_is_taken_once) {
  load("{}");
  op a = {0};
  update("exec-a", &a);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_str_eq(a.detail, "writing exec-a failed");
  ck_assert_str_eq(instance_take_error(&inst, &a, "gone"), "gone");
  unload();
}
END_TEST

START_TEST(details_nobody_takes_are_bounded) {
  load("{}");
  /* One more than the table holds: the oldest is dropped. */
  op ops[INSTANCE_OP_ERRORS + 1];
  for (int i = 0; i <= INSTANCE_OP_ERRORS; i++)
    host.op_error(&inst, &ops[i], "detail %d", i);
  ck_assert_str_eq(instance_take_error(&inst, &ops[0], "dropped"), "dropped");
  for (int i = INSTANCE_OP_ERRORS; i >= 1; i--) {
    char want[32];
    snprintf(want, sizeof want, "detail %d", i);
    ck_assert_str_eq(instance_take_error(&inst, &ops[i], "dropped"), want);
  }
  /* A second detail for the same op replaces the first. */
  host.op_error(&inst, &ops[0], "first");
  host.op_error(&inst, &ops[0], "second");
  ck_assert_str_eq(instance_take_error(&inst, &ops[0], "none"), "second");
  ck_assert_str_eq(instance_take_error(&inst, &ops[0], "none"), "none");
  unload();
}
END_TEST

static Suite *op_error_suite(void) {
  Suite *s = suite_create("op_error");
  TCase *tc = tcase_create("details");
  tcase_add_test(tc, overlapping_failures_keep_their_own_detail);
  tcase_add_test(tc, set_error_of_an_older_plugin_still_reaches_the_core);
  tcase_add_test(tc, a_detail_is_taken_once);
  tcase_add_test(tc, details_nobody_takes_are_bounded);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(op_error_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
