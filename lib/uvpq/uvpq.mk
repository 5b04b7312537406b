# libuvpq: PostgreSQL connections on the libuv loop through libpq's
# asynchronous API, a bounded pool with prepared statements, reconnect with
# backoff and a statement timeout.  The postgres storage uses it.
if BUILD_LIB_UVPQ
noinst_LTLIBRARIES += lib/uvpq/libuvpq.la
lib_uvpq_libuvpq_la_SOURCES = lib/uvpq/uvpq.c lib/uvpq/uvpq.h
lib_uvpq_libuvpq_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_uvpq_libuvpq_la_CFLAGS = $(LIB_CFLAGS) $(PQ_CFLAGS)
lib_uvpq_libuvpq_la_LIBADD = $(PQ_LIBS) $(UV_LIBS)
endif
