# The file storage: execd's embedded default storage, a crash-safe journal
# with an in-memory index and per-execution log files (doc/storage-file.md).
if BUILD_PLUGIN_FILE
plugin_LTLIBRARIES += plugins/storage/file/storage_file.la
plugins_storage_file_storage_file_la_SOURCES = \
	plugins/storage/file/file_internal.h \
	plugins/storage/file/file.c \
	plugins/storage/file/ops.c \
	plugins/storage/file/record.c plugins/storage/file/record.h \
	plugins/storage/file/journal.c plugins/storage/file/journal.h \
	plugins/storage/file/index.c plugins/storage/file/index.h \
	plugins/storage/file/commit.c \
	plugins/storage/file/compact.c \
	plugins/storage/file/logs.c \
	plugins/storage/file/reads.c \
	plugins/storage/file/reader.c \
	plugins/storage/file/quarantine.c
plugins_storage_file_storage_file_la_CFLAGS = $(PLUGIN_CFLAGS) \
	$(LIBBSD_CFLAGS) $(ZLIB_CFLAGS)
plugins_storage_file_storage_file_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_storage_file_storage_file_la_LIBADD = lib/configcheck/libconfigcheck.la lib/record/librecord.la $(LIBBSD_LIBS) $(ZLIB_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)
endif
