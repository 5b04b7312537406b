# Backend conformance suite: against local here; any backend by name with
# EXECD_CONFORMANCE_BACKEND (and _CONFIG, _IMAGE).
check_PROGRAMS += tests/conformance/backend_conformance
TESTS += tests/conformance/backend_conformance
tests_conformance_backend_conformance_SOURCES = tests/conformance/backend_conformance.c
tests_conformance_backend_conformance_CFLAGS = $(TEST_CFLAGS)
tests_conformance_backend_conformance_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)

# The local backend's own guarantees beyond the contract: process group,
# rlimits, allow-list, network namespace, user switch, cgroups.
check_PROGRAMS += tests/conformance/test_local_backend
TESTS += tests/conformance/test_local_backend
tests_conformance_test_local_backend_SOURCES = tests/conformance/test_local_backend.c
tests_conformance_test_local_backend_CFLAGS = $(TEST_CFLAGS)
tests_conformance_test_local_backend_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)
