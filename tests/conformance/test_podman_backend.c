/* The podman backend: the container backend tests (container_backend.c,
 * which test_docker_backend runs against docker) with the podman plugin
 * against a real podman service, and podman's own configuration rules,
 * which need no engine: podman's runtime fails unless nofile and nproc are
 * set within the host's hard limits, so the plugin refuses anything else
 * at load, naming the key; and its socket defaults to podman's, not
 * docker's.  The engine tests skip (77) with a loud message when no
 * service answers; the others run either way.
 *   EXECD_PODMAN_SOCKET  the service's socket (default: the first socket of
 *                        /run/execd-test/podman.sock (scripts/engines.sh),
 *                        /run/podman/podman.sock)
 *   EXECD_PODMAN_IMAGE   image with busybox (default busybox:local) */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "container_backend.h"
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
  static const char *const sockets[] = {"/run/execd-test/podman.sock", "/run/podman/podman.sock",
                                        NULL};
  static const container_engine podman = {"podman", "podman service", sockets, 0};
  Suite *s = suite_create("podman backend");
  TCase *tc = tcase_create("podman configuration");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_add_test(tc, ulimits_must_be_set_within_the_host_limits);
  tcase_add_test(tc, socket_defaults_to_podmans);
  suite_add_tcase(s, tc);
  return container_backend_main(&podman, s);
}
