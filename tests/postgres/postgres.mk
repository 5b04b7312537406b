# The PostgreSQL tests: lib/uvpq's unit test, the storage conformance suite
# on the postgres storage, and the hostile-values test, all run by
# tests/postgres/run-postgres.sh against a private cluster it starts
# (tests/postgres/pg-cluster.sh) or the one in EXECD_PG_CONNINFO.
if BUILD_PLUGIN_POSTGRES
check_PROGRAMS += tests/unit/test_uvpq
tests_unit_test_uvpq_SOURCES = tests/unit/test_uvpq.c
tests_unit_test_uvpq_CFLAGS = $(TEST_CFLAGS) $(PQ_CFLAGS)
tests_unit_test_uvpq_LDADD = lib/uvpq/libuvpq.la $(CHECK_LIBS) $(PQ_LIBS) $(UV_LIBS)
check_PROGRAMS += tests/unit/test_postgres_storage
tests_unit_test_postgres_storage_SOURCES = tests/unit/test_postgres_storage.c \
	tests/conformance/storage_client.c tests/conformance/storage_client.h
tests_unit_test_postgres_storage_CFLAGS = $(TEST_CFLAGS) $(PQ_CFLAGS) \
	-I$(top_srcdir)/tests/conformance
tests_unit_test_postgres_storage_LDADD = tests/conformance/libharness.la \
	$(CHECK_LIBS) $(PQ_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
TESTS += tests/postgres/run-postgres.sh
TESTS += tests/postgres/run-multinode.sh
endif
EXTRA_DIST += tests/postgres/run-postgres.sh tests/postgres/pg-cluster.sh
EXTRA_DIST += tests/postgres/run-multinode.sh tests/postgres/test_multinode.py
