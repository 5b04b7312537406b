# The container-engine client shared by the container backends: where the
# engine listens (unix socket, TCP, TLS), HTTP to it (libcurl multi on
# libuv), the stream demuxer, tar in and out (libarchive), stdin through a
# hijacked attach on a connection of its own (pipe, TCP, or TLS with
# OpenSSL), handing a bind-mounted workspace to the job's user.
if BUILD_PLUGIN_ENGINE
# The conformance suite against a real engine, shared by run-docker.sh and
# run-podman.sh.
EXTRA_DIST += tests/conformance/run-engine.sh
noinst_LTLIBRARIES += plugins/backend/engine/libengine.la
plugins_backend_engine_libengine_la_SOURCES = \
	plugins/backend/engine/engine_http.c plugins/backend/engine/engine_http.h \
	plugins/backend/engine/engine_frames.c plugins/backend/engine/engine_frames.h \
	plugins/backend/engine/engine_tar.c plugins/backend/engine/engine_tar.h \
	plugins/backend/engine/engine_endpoint.c plugins/backend/engine/engine_endpoint.h \
	plugins/backend/engine/engine_tls.c plugins/backend/engine/engine_tls.h \
	plugins/backend/engine/engine_conn.c plugins/backend/engine/engine_conn.h \
	plugins/backend/engine/engine_attach.c plugins/backend/engine/engine_attach.h \
	plugins/backend/engine/engine_fs.c plugins/backend/engine/engine_fs.h
plugins_backend_engine_libengine_la_CFLAGS = $(PLUGIN_CFLAGS) $(CURL_CFLAGS) $(LIBARCHIVE_CFLAGS) \
	$(SSL_CFLAGS)
plugins_backend_engine_libengine_la_LIBADD = $(CURL_LIBS) $(LIBARCHIVE_LIBS) $(UV_LIBS) \
	$(JANSSON_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS)

# Unit tests: the frame demuxer, tar safety, the HTTP client against a
# fake engine on a unix socket, endpoints and TLS sessions against an
# OpenSSL server in memory.
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_engine_frames tests/unit/test_engine_tar \
	tests/unit/test_engine_http tests/unit/test_engine_tls
TESTS += tests/unit/test_engine_frames tests/unit/test_engine_tar tests/unit/test_engine_http \
	tests/unit/test_engine_tls
tests_unit_test_engine_frames_SOURCES = tests/unit/test_engine_frames.c
tests_unit_test_engine_frames_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_engine_frames_LDADD = plugins/backend/engine/libengine.la $(CHECK_LIBS)
tests_unit_test_engine_tar_SOURCES = tests/unit/test_engine_tar.c
tests_unit_test_engine_tar_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBARCHIVE_CFLAGS)
tests_unit_test_engine_tar_LDADD = plugins/backend/engine/libengine.la $(CHECK_LIBS) \
	$(LIBARCHIVE_LIBS)
tests_unit_test_engine_http_SOURCES = tests/unit/test_engine_http.c
tests_unit_test_engine_http_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_engine_http_LDADD = plugins/backend/engine/libengine.la $(CHECK_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)
tests_unit_test_engine_tls_SOURCES = tests/unit/test_engine_tls.c
tests_unit_test_engine_tls_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SSL_CFLAGS)
tests_unit_test_engine_tls_LDADD = plugins/backend/engine/libengine.la $(CHECK_LIBS) \
	$(SSL_LIBS) $(CRYPTO_LIBS)
endif
endif
