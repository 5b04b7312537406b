# The postgres storage: records, logs and idempotency keys in PostgreSQL,
# through lib/uvpq (doc/storage-postgres.md).
if BUILD_PLUGIN_POSTGRES
plugin_LTLIBRARIES += plugins/storage/postgres/storage_postgres.la
plugins_storage_postgres_storage_postgres_la_SOURCES = \
	plugins/storage/postgres/pg_internal.h \
	plugins/storage/postgres/pg.c \
	plugins/storage/postgres/schema.c \
	plugins/storage/postgres/ops.c \
	plugins/storage/postgres/logs.c \
	plugins/storage/postgres/retention.c \
	plugins/storage/postgres/listen.c \
	plugins/storage/postgres/row.c plugins/storage/postgres/row.h
plugins_storage_postgres_storage_postgres_la_CFLAGS = $(PLUGIN_CFLAGS) \
	$(LIBBSD_CFLAGS) $(PQ_CFLAGS)
plugins_storage_postgres_storage_postgres_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_storage_postgres_storage_postgres_la_LIBADD = lib/configcheck/libconfigcheck.la lib/record/librecord.la \
	lib/uvpq/libuvpq.la $(PQ_LIBS) $(LIBBSD_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
endif
EXTRA_DIST += doc/storage-postgres.md

# Its benchmark (bench/storage-postgres, run by hand from the build tree):
# bench/storage_ops drives any storage plugin through what one execution
# does to it; the script compares file, postgres and pg-boss.
if BUILD_PLUGIN_POSTGRES
noinst_PROGRAMS += bench/storage_ops
bench_storage_ops_SOURCES = bench/storage_ops.c \
	tests/conformance/harness.c tests/conformance/harness.h \
	tests/conformance/storage_client.c tests/conformance/storage_client.h
bench_storage_ops_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tests/conformance
bench_storage_ops_LDADD = core/libexecdloader.la $(UV_LIBS) $(JANSSON_LIBS)
endif
EXTRA_DIST += bench/storage-postgres bench/storage-postgres-pgboss
