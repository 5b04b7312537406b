# The docker backend: executions as hardened containers through the Docker
# Engine API (doc/backend-docker.md): docker's descriptor and flavour on
# the container flow of lib/container.
if BUILD_PLUGIN_DOCKER
plugin_LTLIBRARIES += plugins/backend/docker/backend_docker.la
plugins_backend_docker_backend_docker_la_SOURCES = plugins/backend/docker/docker_plugin.c
plugins_backend_docker_backend_docker_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_backend_docker_backend_docker_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_backend_docker_backend_docker_la_LIBADD = lib/container/libcontainer.la lib/configcheck/libconfigcheck.la \
	lib/httpc/libhttpc.la $(CURL_LIBS) $(LIBARCHIVE_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
EXTRA_DIST += doc/backend-docker.md

if HAVE_CHECK
# The conformance suite against a real engine (skips when none answers),
# and the docker backend's own guarantees (hardening, images_allowed, pull):
# the container backend tests, which test_podman_backend runs too.
TESTS += tests/conformance/run-docker.sh
EXTRA_DIST += tests/conformance/run-docker.sh
check_PROGRAMS += tests/conformance/test_docker_backend
TESTS += tests/conformance/test_docker_backend
tests_conformance_test_docker_backend_SOURCES = tests/conformance/test_docker_backend.c \
	tests/conformance/container_backend.c tests/conformance/container_backend.h
tests_conformance_test_docker_backend_CFLAGS = $(TEST_CFLAGS) $(CURL_CFLAGS)
tests_conformance_test_docker_backend_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(CURL_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

# The same against the engine's TLS endpoint (scripts/engines.sh starts
# dockerd with one), and the conformance suite again over it with the
# workspace copied through volumes.  Both skip when no endpoint is set up.
TESTS += tests/conformance/run-docker-tls.sh
EXTRA_DIST += tests/conformance/run-docker-tls.sh
check_PROGRAMS += tests/conformance/test_docker_tls
TESTS += tests/conformance/test_docker_tls
tests_conformance_test_docker_tls_SOURCES = tests/conformance/test_docker_tls.c \
	tests/conformance/container_backend.c tests/conformance/container_backend.h
tests_conformance_test_docker_tls_CFLAGS = $(TEST_CFLAGS) $(CURL_CFLAGS)
tests_conformance_test_docker_tls_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(CURL_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
endif
endif
