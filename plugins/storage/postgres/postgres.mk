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
	plugins/storage/postgres/row.c plugins/storage/postgres/row.h
plugins_storage_postgres_storage_postgres_la_CFLAGS = $(PLUGIN_CFLAGS) \
	$(LIBBSD_CFLAGS) $(PQ_CFLAGS)
plugins_storage_postgres_storage_postgres_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_storage_postgres_storage_postgres_la_LIBADD = lib/configcheck/libconfigcheck.la \
	lib/uvpq/libuvpq.la $(PQ_LIBS) $(LIBBSD_LIBS) $(UV_LIBS) $(JANSSON_LIBS)
endif
EXTRA_DIST += doc/storage-postgres.md
