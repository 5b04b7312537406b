/* The container backends' own guarantees beyond the backend contract,
 * shared by test_docker_backend and test_podman_backend: the docker and
 * podman plugins are the same library (lib/container/) with a
 * different flavor, so the same tests run against each plugin and its
 * engine (container_backend.c). */
#ifndef EXECD_TEST_CONTAINER_BACKEND_H
#define EXECD_TEST_CONTAINER_BACKEND_H

#include <check.h>

typedef struct container_engine {
  const char *plugin;         /* backend plugin (and flavor): "docker", "podman" */
  const char *what;           /* how SKIP lines name the engine: "docker engine" */
  const char *const *sockets; /* candidate sockets, NULL-terminated: the first that exists */
  int tls;                    /* reach it over its TLS endpoint instead (below) */
} container_engine;

/* Runs suite s (the program's own tests, which need no engine) with the
 * shared tests added: those needing no engine always, those against the
 * engine when one answers on the socket and has the image.
 *   EXECD_<PLUGIN>_SOCKET  the engine's socket (overrides the candidates)
 *   EXECD_<PLUGIN>_IMAGE   image with busybox (default busybox:local)
 * With tls, the engine is reached at its TLS endpoint, by the plugin
 * (endpoint and tls_* keys) and by the tests' own look at it, and the
 * TLS refusals are checked too:
 *   EXECD_<PLUGIN>_TLS_HOST      "tcp://HOST:PORT" (default: the "endpoint"
 *                                file of the certificate directory)
 *   EXECD_<PLUGIN>_TLS_CERT_DIR  ca.pem, cert.pem, key.pem (default
 *                                /run/execd-test/<plugin>-tls, as
 *                                scripts/engines.sh makes it)
 * The plugin is looked up in $EXECD_BUILDDIR/plugins/backend/<plugin>
 * first.  Returns the exit status: 1 if a test failed, else 77 with a
 * SKIP line on stdout and stderr if the engine tests did not run, else 0.
 * Frees s. */
int container_backend_main(const container_engine *engine, Suite *s);

#endif
