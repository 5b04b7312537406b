# Tests: unit tests (check), conformance suites, integration tests.
# Plugins are found in the build tree, through their .la files.
TEST_PLUGIN_PATH = $(abs_top_builddir)/plugins/backend/local:$(abs_top_builddir)/plugins/storage/file:$(abs_top_builddir)/plugins/transport/http:$(abs_top_builddir)/tests/plugins
AM_TESTS_ENVIRONMENT = \
	EXECD_PLUGIN_PATH='$(TEST_PLUGIN_PATH)'; export EXECD_PLUGIN_PATH; \
	EXECD_BUILDDIR='$(abs_top_builddir)'; export EXECD_BUILDDIR; \
	EXECD_SRCDIR='$(abs_top_srcdir)'; export EXECD_SRCDIR;

if HAVE_CHECK
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LDADD = core/libexecdcore.la $(CHECK_LIBS)

# The conformance harness: the real loader with a host table of its own.
check_LTLIBRARIES += tests/conformance/libharness.la
tests_conformance_libharness_la_SOURCES = \
	tests/conformance/harness.c tests/conformance/harness.h
tests_conformance_libharness_la_CFLAGS = $(AM_CFLAGS)
tests_conformance_libharness_la_LIBADD = core/libexecdloader.la $(UV_LIBS) $(JANSSON_LIBS)

include tests/unit/unit.mk
include tests/conformance/backend.mk
include tests/conformance/storage.mk
include tests/postgres/postgres.mk
include tests/plugins/plugins.mk
endif

include tests/integration/integration.mk
include tests/sdk/sdk.mk

# The tests CI runs again under ASan+UBSan: all but the SDK test (it builds
# and installs a whole tree of its own).  The integration tests run the
# sanitized daemon, so a leak or UB in the core fails them too.
print-sanitizer-tests:
	@echo $(filter-out tests/sdk/%,$(TESTS))
.PHONY: print-sanitizer-tests
# Every test, for CI's choice of what distcheck runs again.
print-tests:
	@echo $(TESTS)
.PHONY: print-tests

include tests/fuzz/fuzz.mk
