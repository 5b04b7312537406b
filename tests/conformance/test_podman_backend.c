/* The podman backend's own configuration rules, which need no engine:
 * podman's runtime fails unless nofile and nproc are set within the
 * host's hard limits, so the plugin refuses anything else at load, naming
 * the key; and its socket defaults to podman's, not docker's. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

static void setup(void) {
  harness_init();
}

static void teardown(void) {
  harness_shutdown();
}

START_TEST(ulimits_must_be_set_within_the_host_limits) {
  struct rlimit rl;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
  char above[64];
  if (rl.rlim_max == RLIM_INFINITY)
    snprintf(above, sizeof above, "{\"nproc\": 0}"); /* no ceiling to pass: another refusal */
  else
    snprintf(above, sizeof above, "{\"nofile\": %llu}", (unsigned long long)rl.rlim_max + 1);
  const struct {
    const char *config, *named;
  } bad[] = {
      {"{\"nofile\": 0}", "nofile"},
      {"{\"nproc\": 0}", "nproc"},
      {above, rl.rlim_max == RLIM_INFINITY ? "nproc" : "hard limit"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    harness_plugin p;
    ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, "podman", bad[i].config, &p), EXECD_ECONFIG);
    ck_assert_msg(strstr(harness_last_error(), bad[i].named), "%s: message \"%s\" does not name %s",
                  bad[i].config, harness_last_error(), bad[i].named);
  }
}
END_TEST

START_TEST(socket_defaults_to_podmans) {
  harness_plugin p;
  ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, "podman", "{\"images_allowed\": [\"x\"]}", &p),
                   0);
  const execd_backend_ops *ops = p.plugin->ops;
  int rc = ops->health(p.self);
  /* Down (no service there) or up: either way the message or the answer
   * is about podman's socket, never docker's. */
  if (rc != 0)
    ck_assert_msg(strstr(harness_last_error(), "podman engine") &&
                      strstr(harness_last_error(), "/run/podman/podman.sock"),
                  "health message: %s", harness_last_error());
  harness_unload(&p);
}
END_TEST

int main(void) {
  /* The podman plugin is built next to the others, not in the default path. */
  const char *builddir = getenv("EXECD_BUILDDIR");
  const char *plugin_path = getenv("EXECD_PLUGIN_PATH");
  char search[4096];
  snprintf(search, sizeof search, "%s/plugins/backend/podman%s%s", builddir ? builddir : ".",
           plugin_path ? ":" : "", plugin_path ? plugin_path : "");
  setenv("EXECD_PLUGIN_PATH", search, 1);

  Suite *s = suite_create("podman backend");
  TCase *tc = tcase_create("podman");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, ulimits_must_be_set_within_the_host_limits);
  tcase_add_test(tc, socket_defaults_to_podmans);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
