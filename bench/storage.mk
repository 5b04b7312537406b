# Benchmark of the file storage: inserts, gets, list pages, reload and
# memory at 100k executions.  Built with the programs, run by hand from the
# build tree:  bench/storage-file [N] [sync 1|0]
# The conformance harness is compiled in, so check need not be installed.
if BUILD_PLUGIN_FILE
noinst_PROGRAMS += bench/storage-file
bench_storage_file_SOURCES = bench/storage-file.c \
	tests/conformance/harness.c tests/conformance/harness.h \
	tests/conformance/storage_client.c tests/conformance/storage_client.h
bench_storage_file_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/tests/conformance
bench_storage_file_LDADD = core/libexecdloader.la $(UV_LIBS) $(JANSSON_LIBS)
endif
