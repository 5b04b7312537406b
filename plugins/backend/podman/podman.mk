# The podman backend: podman's descriptor and quirks (podman.c) on the
# container flow of lib/container that the docker backend runs on too.
if BUILD_PLUGIN_PODMAN
plugin_LTLIBRARIES += plugins/backend/podman/backend_podman.la
plugins_backend_podman_backend_podman_la_SOURCES = plugins/backend/podman/podman.c
plugins_backend_podman_backend_podman_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_backend_podman_backend_podman_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_backend_podman_backend_podman_la_LIBADD = lib/container/libcontainer.la lib/configcheck/libconfigcheck.la \
	lib/httpc/libhttpc.la $(CURL_LIBS) $(LIBARCHIVE_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

if HAVE_CHECK
# The conformance suite against a real podman service (skips when none answers).
TESTS += tests/conformance/run-podman.sh
EXTRA_DIST += tests/conformance/run-podman.sh
# The container backend tests of test_docker_backend against the podman
# service (skip when none answers), and podman's configuration rules.
check_PROGRAMS += tests/conformance/test_podman_backend
TESTS += tests/conformance/test_podman_backend
tests_conformance_test_podman_backend_SOURCES = tests/conformance/test_podman_backend.c \
	tests/conformance/container_backend.c tests/conformance/container_backend.h
tests_conformance_test_podman_backend_CFLAGS = $(TEST_CFLAGS) $(CURL_CFLAGS)
tests_conformance_test_podman_backend_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(CURL_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
endif
endif
