# bench/local-throughput: executions/s through HTTP + local backend + file
# storage against a bare posix_spawn loop (bench/README.md).  The wrapper
# script and the README are listed in EXTRA_DIST (Makefile.am).
if BUILD_EXECCTL
noinst_PROGRAMS += bench/local_throughput
bench_local_throughput_SOURCES = bench/local_throughput.c
bench_local_throughput_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
bench_local_throughput_LDADD = $(CURL_LIBS) $(JANSSON_LIBS) -lm
endif
# bench/scale: RSS and CPU with many executions running, queued and stored,
# read latencies over many stored, an idle daemon's CPU and wake-ups
# (bench/README.md).  A script, run by hand from the build tree.
EXTRA_DIST += bench/scale
