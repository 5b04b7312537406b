# The local backend: executions as process groups on this host.
if BUILD_PLUGIN_LOCAL
plugin_LTLIBRARIES += plugins/backend/local/backend_local.la
plugins_backend_local_backend_local_la_SOURCES = \
	plugins/backend/local/local_internal.h \
	plugins/backend/local/local.c \
	plugins/backend/local/job.c \
	plugins/backend/local/spawn.c plugins/backend/local/spawn.h \
	plugins/backend/local/spawner.c plugins/backend/local/spawner.h \
	plugins/backend/local/cgroup.c plugins/backend/local/cgroup.h \
	plugins/backend/local/procs.c plugins/backend/local/procs.h \
	plugins/backend/local/reaper.c \
	plugins/backend/local/netns.c \
	plugins/backend/local/netns_pool.c plugins/backend/local/netns_pool.h \
	plugins/backend/local/runners.c plugins/backend/local/runners.h \
	plugins/backend/local/identity.c plugins/backend/local/identity.h
plugins_backend_local_backend_local_la_CFLAGS = $(PLUGIN_CFLAGS) -pthread
plugins_backend_local_backend_local_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_backend_local_backend_local_la_LIBADD = lib/configcheck/libconfigcheck.la $(UV_LIBS) $(JANSSON_LIBS) -lpthread

check_PROGRAMS += tests/unit/test_netns_pool
TESTS += tests/unit/test_netns_pool
tests_unit_test_netns_pool_SOURCES = tests/unit/test_netns_pool.c \
	plugins/backend/local/netns_pool.c plugins/backend/local/spawn.c
tests_unit_test_netns_pool_CFLAGS = $(TEST_CFLAGS) -I$(srcdir)/plugins/backend/local -pthread
tests_unit_test_netns_pool_LDADD = $(CHECK_LIBS) -lpthread
endif
