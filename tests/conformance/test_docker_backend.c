/* The docker backend's own guarantees beyond the backend contract, checked
 * against a real docker engine: the container backend tests
 * (container_backend.c, which test_podman_backend runs against podman) with
 * the docker plugin.  The engine tests skip (77) with a loud message when
 * no engine answers; those needing no engine run either way.
 *   EXECD_DOCKER_SOCKET  the engine's socket (default: the first socket of
 *                        /run/execd-test/docker.sock (scripts/engines.sh),
 *                        /var/run/docker.sock, /run/execd-test-docker.sock)
 *   EXECD_DOCKER_IMAGE   image with busybox (default busybox:local) */
#include "config.h"

#include <check.h>
#include <stddef.h>

#include "container_backend.h"

int main(void) {
  static const char *const sockets[] = {"/run/execd-test/docker.sock", "/var/run/docker.sock",
                                        "/run/execd-test-docker.sock", NULL};
  static const container_engine docker = {"docker", "docker engine", sockets, 0};
  return container_backend_main(&docker, suite_create("docker backend"));
}
