# libhttpc: an HTTP client on the libuv loop (libcurl multi), over a unix
# socket or TCP, in the clear or with TLS (OpenSSL), and byte streams of
# its own for what libcurl cannot do (a hijacked connection that is
# half-closed).  The container backends use it for the engine's API.
if BUILD_LIB_HTTPC
noinst_LTLIBRARIES += lib/httpc/libhttpc.la
lib_httpc_libhttpc_la_SOURCES = \
	lib/httpc/httpc.c lib/httpc/httpc.h \
	lib/httpc/httpc_endpoint.c lib/httpc/httpc_endpoint.h \
	lib/httpc/httpc_tls.c lib/httpc/httpc_tls.h \
	lib/httpc/httpc_conn.c lib/httpc/httpc_conn.h
lib_httpc_libhttpc_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_httpc_libhttpc_la_CFLAGS = $(LIB_CFLAGS) $(CURL_CFLAGS) $(SSL_CFLAGS)
lib_httpc_libhttpc_la_LIBADD = $(CURL_LIBS) $(UV_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS)

# Unit tests: endpoints and TLS sessions against an OpenSSL server in
# memory; the client against a fake server on a unix socket and on TCP,
# with the container engine's hijacked attach of lib/container on top
# (so test_httpc is built with lib/container).
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_httpc_tls
TESTS += tests/unit/test_httpc_tls
if BUILD_LIB_CONTAINER
check_PROGRAMS += tests/unit/test_httpc
TESTS += tests/unit/test_httpc
tests_unit_test_httpc_SOURCES = tests/unit/test_httpc.c
tests_unit_test_httpc_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_httpc_LDADD = lib/container/libcontainer.la lib/httpc/libhttpc.la $(CHECK_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)
endif
tests_unit_test_httpc_tls_SOURCES = tests/unit/test_httpc_tls.c
tests_unit_test_httpc_tls_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SSL_CFLAGS)
tests_unit_test_httpc_tls_LDADD = lib/httpc/libhttpc.la $(CHECK_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS)
endif
endif
