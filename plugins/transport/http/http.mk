# The http transport: the HTTP/JSON API on libmicrohttpd (doc/api.md).
if BUILD_PLUGIN_HTTP
plugin_LTLIBRARIES += plugins/transport/http/transport_http.la
plugins_transport_http_transport_http_la_SOURCES = \
	plugins/transport/http/http_internal.h \
	plugins/transport/http/http.c \
	plugins/transport/http/listen.c \
	plugins/transport/http/server.c \
	plugins/transport/http/routes.c \
	plugins/transport/http/stream.c \
	plugins/transport/http/respond.c
plugins_transport_http_transport_http_la_CFLAGS = $(PLUGIN_CFLAGS) \
	$(MHD_CFLAGS) $(CRYPTO_CFLAGS)
plugins_transport_http_transport_http_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_transport_http_transport_http_la_LIBADD = lib/configcheck/libconfigcheck.la $(MHD_LIBS) $(CRYPTO_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)

# Unit test: the plugin loaded through the real loader with an in-memory
# host, driven over HTTP with libcurl.
if HAVE_CHECK
if BUILD_EXECCTL
check_PROGRAMS += tests/unit/test_http_transport
TESTS += tests/unit/test_http_transport
tests_unit_test_http_transport_SOURCES = tests/unit/test_http_transport.c
tests_unit_test_http_transport_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) \
	$(CURL_CFLAGS) -pthread
tests_unit_test_http_transport_LDADD = core/libexecdloader.la $(CHECK_LIBS) \
	$(CURL_LIBS) $(UV_LIBS) $(JANSSON_LIBS) -lpthread
endif
endif
endif
