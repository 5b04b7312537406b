# libuvredis: hiredis connections on the libuv loop (execd's own adapter:
# poll errors surface, connect and command timeouts, AUTH, reconnect with
# backoff).  The redis transport uses it.
if BUILD_PLUGIN_REDIS
noinst_LTLIBRARIES += lib/uvredis/libuvredis.la
lib_uvredis_libuvredis_la_SOURCES = \
	lib/uvredis/uvredis.c lib/uvredis/uvredis.h \
	lib/uvredis/uvredis_config.c
lib_uvredis_libuvredis_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_uvredis_libuvredis_la_CFLAGS = $(LIB_CFLAGS) $(HIREDIS_CFLAGS)
lib_uvredis_libuvredis_la_LIBADD = $(HIREDIS_LIBS) $(UV_LIBS)

# Unit test: against a real redis-server the test starts (loopback, a
# private directory, AOF on); skips, saying so, without redis-server.
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_uvredis
TESTS += tests/unit/test_uvredis
tests_unit_test_uvredis_SOURCES = tests/unit/test_uvredis.c \
	tests/unit/redis_server.c tests/unit/redis_server.h
tests_unit_test_uvredis_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(HIREDIS_CFLAGS)
tests_unit_test_uvredis_LDADD = lib/uvredis/libuvredis.la $(CHECK_LIBS) $(HIREDIS_LIBS) $(UV_LIBS)
endif
endif
