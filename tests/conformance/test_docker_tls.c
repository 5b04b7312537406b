/* The container backend tests (container_backend.c) with the docker plugin
 * against the engine's TLS endpoint instead of its socket: endpoint,
 * tls_ca, tls_cert and tls_key, so every request and the hijacked attach
 * (stdin, its EOF as close_notify) go over TLS; plus the refusals: an
 * engine certificate from another CA, and no client certificate, are
 * backend_unavailable with a message naming TLS and the certificate.
 * Skips (77) with a loud message when no TLS endpoint is configured.
 *   EXECD_DOCKER_TLS_HOST      "tcp://127.0.0.1:PORT" (default: the file
 *                              "endpoint" in the certificate directory)
 *   EXECD_DOCKER_TLS_CERT_DIR  ca.pem, cert.pem, key.pem (default
 *                              /run/execd-test/docker-tls, scripts/engines.sh)
 *   EXECD_DOCKER_IMAGE         image with busybox (default busybox:local) */
#include "config.h"

#include <check.h>
#include <stddef.h>

#include "container_backend.h"

int main(void) {
  static const container_engine docker_tls = {"docker", "docker TLS endpoint", NULL, 1};
  return container_backend_main(&docker_tls, suite_create("docker backend over TLS"));
}
