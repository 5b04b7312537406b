# The storage conformance suite (any storage plugin, by name; the file
# storage by default) and the file storage's own tests.  storage_client.c
# drives a storage plugin synchronously; the benchmark uses it too.
if BUILD_PLUGIN_FILE
STORAGE_TESTS = tests/conformance/storage_conformance tests/unit/test_file_recovery
check_PROGRAMS += $(STORAGE_TESTS)
TESTS += $(STORAGE_TESTS)

tests_conformance_storage_conformance_SOURCES = \
	tests/conformance/storage_conformance.c \
	tests/conformance/storage_client.c tests/conformance/storage_client.h
tests_conformance_storage_conformance_CFLAGS = $(TEST_CFLAGS)
tests_conformance_storage_conformance_LDADD = tests/conformance/libharness.la \
	$(CHECK_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

tests_unit_test_file_recovery_SOURCES = tests/unit/test_file_recovery.c \
	tests/conformance/storage_client.c tests/conformance/storage_client.h
tests_unit_test_file_recovery_CFLAGS = $(TEST_CFLAGS) $(ZLIB_CFLAGS) \
	-I$(top_srcdir)/tests/conformance
tests_unit_test_file_recovery_LDADD = tests/conformance/libharness.la \
	$(CHECK_LIBS) $(UV_LIBS) $(JANSSON_LIBS) $(ZLIB_LIBS)
endif
