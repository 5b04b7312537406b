/* A failed pull's message decides image_pull_failed (retryable) against
 * image_not_found (permanent): messages as docker and podman word them. */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "../../lib/container/engine_pull.h"

START_TEST(registry_outages_are_transient) {
  const char *msgs[] = {
      /* docker: nothing listens */
      "Get \"http://127.0.0.1:35693/v2/\": dial tcp 127.0.0.1:35693: connect: connection refused",
      /* docker: the registry answers 503 */
      "received unexpected HTTP status: 503 Service Unavailable",
      /* podman: the same two */
      "initializing source docker://127.0.0.1:50725/execd/busybox:1: pinging container registry "
      "127.0.0.1:50725: Get \"http://127.0.0.1:50725/v2/\": dial tcp 127.0.0.1:50725: connect: "
      "connection refused",
      "initializing source docker://127.0.0.1:34965/execd/busybox:1: pinging container registry "
      "127.0.0.1:34965: invalid status code from registry 503 (Service Unavailable)",
      "Get \"https://registry.example/v2/\": net/http: TLS handshake timeout",
      "Get \"https://registry.example/v2/\": context deadline exceeded",
      "toomanyrequests: You have reached your pull rate limit.",
  };
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++)
    ck_assert_msg(engine_pull_error_is_transient(msgs[i]), "not transient: %s", msgs[i]);
}
END_TEST

START_TEST(missing_or_denied_images_are_permanent) {
  const char *msgs[] = {
      "manifest for 127.0.0.1:5000/execd/busybox:nope not found: manifest unknown: manifest "
      "unknown",
      "initializing source docker://127.0.0.1:5000/execd/busybox:nope: reading manifest nope in "
      "127.0.0.1:5000/execd/busybox: manifest unknown",
      "pull access denied for nosuch, repository does not exist or may require 'docker login'",
      "Head \"http://127.0.0.1:5000/v2/execd/busybox/manifests/1\": no basic auth credentials",
      "unauthorized: authentication required",
      "invalid reference format",
      "something the classifier has never seen",
      "",
  };
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++)
    ck_assert_msg(!engine_pull_error_is_transient(msgs[i]), "transient: %s", msgs[i]);
  ck_assert(!engine_pull_error_is_transient(NULL));
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine pull errors");
  TCase *tc = tcase_create("classify");
  tcase_add_test(tc, registry_outages_are_transient);
  tcase_add_test(tc, missing_or_denied_images_are_permanent);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
