# Deliberately broken plugins (and two minimal good ones) for the loader
# tests.  check_LTLIBRARIES with -rpath, so libtool builds real modules in
# tests/plugins/.libs, found through EXECD_PLUGIN_PATH like installed ones.
TEST_PLUGIN_LDFLAGS = -module -avoid-version -shared -no-undefined -rpath /nowhere
TEST_PLUGIN_LIBADD = $(UV_LIBS) $(JANSSON_LIBS)

check_LTLIBRARIES += \
	tests/plugins/backend_abimajor.la \
	tests/plugins/backend_abiminor.la \
	tests/plugins/backend_oldminor.la \
	tests/plugins/backend_noentry.la \
	tests/plugins/backend_wrongkind.la \
	tests/plugins/backend_declines.la \
	tests/plugins/backend_good.la \
	tests/plugins/backend_nosignal.la \
	tests/plugins/backend_shortops.la \
	tests/plugins/storage_good.la \
	tests/plugins/storage_noupdate.la \
	tests/plugins/storage_faildetail.la \
	tests/plugins/transport_nostop.la

tests_plugins_backend_abimajor_la_SOURCES = tests/plugins/backend_abimajor.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_abimajor_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_abimajor_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_abimajor_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_abiminor_la_SOURCES = tests/plugins/backend_abiminor.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_abiminor_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_abiminor_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_abiminor_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_oldminor_la_SOURCES = tests/plugins/backend_oldminor.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_oldminor_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_oldminor_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_oldminor_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_noentry_la_SOURCES = tests/plugins/backend_noentry.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_noentry_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_noentry_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_noentry_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_wrongkind_la_SOURCES = tests/plugins/backend_wrongkind.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_wrongkind_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_wrongkind_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_wrongkind_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_declines_la_SOURCES = tests/plugins/backend_declines.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_declines_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_declines_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_declines_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_good_la_SOURCES = tests/plugins/backend_good.c
tests_plugins_backend_good_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_good_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_good_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_storage_good_la_SOURCES = tests/plugins/storage_good.c
tests_plugins_storage_good_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_storage_good_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_storage_good_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_nosignal_la_SOURCES = tests/plugins/backend_nosignal.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_nosignal_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_nosignal_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_nosignal_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_backend_shortops_la_SOURCES = tests/plugins/backend_shortops.c \
	tests/plugins/broken_backend.h
tests_plugins_backend_shortops_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_backend_shortops_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_backend_shortops_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_storage_noupdate_la_SOURCES = tests/plugins/storage_noupdate.c
tests_plugins_storage_noupdate_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_storage_noupdate_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_storage_noupdate_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_storage_faildetail_la_SOURCES = tests/plugins/storage_faildetail.c
tests_plugins_storage_faildetail_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_storage_faildetail_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_storage_faildetail_la_LIBADD = $(TEST_PLUGIN_LIBADD)

tests_plugins_transport_nostop_la_SOURCES = tests/plugins/transport_nostop.c
tests_plugins_transport_nostop_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_plugins_transport_nostop_la_LDFLAGS = $(TEST_PLUGIN_LDFLAGS)
tests_plugins_transport_nostop_la_LIBADD = $(TEST_PLUGIN_LIBADD)

# The loader's refusals, through its API and through the daemon binary.
check_PROGRAMS += tests/unit/test_loader
TESTS += tests/unit/test_loader
tests_unit_test_loader_SOURCES = tests/unit/test_loader.c
tests_unit_test_loader_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_loader_LDADD = $(TEST_LDADD)

# Each async op's error detail stays its own (host op_error, ABI 1.2).
check_PROGRAMS += tests/unit/test_op_error
TESTS += tests/unit/test_op_error
tests_unit_test_op_error_SOURCES = tests/unit/test_op_error.c
tests_unit_test_op_error_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_op_error_LDADD = $(TEST_LDADD)
