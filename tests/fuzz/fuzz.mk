# libFuzzer targets (doc/architecture.md, "Fuzzing"): built by "make fuzz" in a tree
# configured with --enable-fuzzing CC=clang, run by tests/fuzz/run-fuzz.sh.
# Each target compiles the sources it exercises itself, instrumented for
# coverage and built with ASan and UBSan, so nothing else in the tree is
# affected.  They are EXTRA_PROGRAMS: "make" and "make check" never build
# them.
FUZZ_TARGETS = tests/fuzz/fuzz_request tests/fuzz/fuzz_tokens \
	tests/fuzz/fuzz_journal tests/fuzz/fuzz_workflow \
	tests/fuzz/fuzz_engine_frames tests/fuzz/fuzz_http_route \
	tests/fuzz/fuzz_config tests/fuzz/fuzz_jsonschema \
	tests/fuzz/fuzz_kube_api tests/fuzz/fuzz_agent_file
EXTRA_PROGRAMS = $(FUZZ_TARGETS)
EXTRA_DIST += tests/fuzz/run-fuzz.sh tests/fuzz/lsan.supp tests/fuzz/corpus \
	tests/fuzz/dict bench/fuzz-long
CLEANFILES += $(FUZZ_TARGETS)

FUZZ_TARGET_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
FUZZ_SUPPORT = tests/fuzz/fuzz_support.c tests/fuzz/fuzz_support.h
FUZZ_SUPPORT_LIBS = $(UV_LIBS) $(JANSSON_LIBS)

# The core's sources, compiled once more with the fuzzing flags, for the
# targets of core parsers: whatever a parser calls links, also after the
# core gains files or libraries (the loader's library is compiled in here
# instead of being linked).
EXTRA_LTLIBRARIES = tests/fuzz/libfuzzcore.la
tests_fuzz_libfuzzcore_la_SOURCES = $(core_libexecdcore_la_SOURCES) \
	$(core_libexecdloader_la_SOURCES)
tests_fuzz_libfuzzcore_la_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(LIBCONFIG_CFLAGS) \
	$(CRYPTO_CFLAGS) $(SYSTEMD_CFLAGS)
tests_fuzz_libfuzzcore_la_LIBADD = \
	$(filter-out core/libexecdloader.la,$(core_libexecdcore_la_LIBADD)) \
	$(core_libexecdloader_la_LIBADD)
FUZZ_CORE_LIBS = tests/fuzz/libfuzzcore.la $(FUZZ_SUPPORT_LIBS)

# The request parser and validator, and the policy merge behind it.
tests_fuzz_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c $(FUZZ_SUPPORT)
tests_fuzz_fuzz_request_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_request_LDADD = $(FUZZ_CORE_LIBS)

# The configuration loader (a file in a private directory).
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c $(FUZZ_SUPPORT)
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_CORE_LIBS)

# Workflow commands and the line splitter.
tests_fuzz_fuzz_workflow_SOURCES = tests/fuzz/fuzz_workflow.c $(FUZZ_SUPPORT)
tests_fuzz_fuzz_workflow_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_workflow_LDADD = $(FUZZ_CORE_LIBS)

# The container engine's multiplexed stream format.
tests_fuzz_fuzz_engine_frames_SOURCES = tests/fuzz/fuzz_engine_frames.c \
	$(FUZZ_SUPPORT) lib/container/engine_frames.c lib/container/engine_frames.h
tests_fuzz_fuzz_engine_frames_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_engine_frames_LDADD = $(FUZZ_SUPPORT_LIBS)

# The tokens file (core/tenants_file.c).
tests_fuzz_fuzz_tokens_SOURCES = tests/fuzz/fuzz_tokens.c $(FUZZ_SUPPORT)
tests_fuzz_fuzz_tokens_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_tokens_LDADD = $(FUZZ_CORE_LIBS)

# The file storage opening a journal: the journal reader and the replay of
# its records into the index.
tests_fuzz_fuzz_journal_SOURCES = tests/fuzz/fuzz_journal.c $(FUZZ_SUPPORT) \
	$(plugins_storage_file_storage_file_la_SOURCES) \
	$(lib_configcheck_libconfigcheck_la_SOURCES) $(lib_record_librecord_la_SOURCES)
tests_fuzz_fuzz_journal_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/storage/file
tests_fuzz_fuzz_journal_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(LIBBSD_CFLAGS) $(ZLIB_CFLAGS)
tests_fuzz_fuzz_journal_LDADD = $(LIBBSD_LIBS) $(ZLIB_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

# The http transport's routing: method, path and query of a request sent
# to the real plugin over a socket, answered by a stub host.
tests_fuzz_fuzz_http_route_SOURCES = tests/fuzz/fuzz_http_route.c $(FUZZ_SUPPORT) \
	$(plugins_transport_http_transport_http_la_SOURCES) \
	$(lib_configcheck_libconfigcheck_la_SOURCES)
tests_fuzz_fuzz_http_route_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/transport/http
tests_fuzz_fuzz_http_route_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(MHD_CFLAGS) $(CRYPTO_CFLAGS)
tests_fuzz_fuzz_http_route_LDADD = $(MHD_LIBS) $(CRYPTO_LIBS) $(UV_LIBS) $(JANSSON_LIBS)

# An agent file of the catalog (JSON or libconfig, by its first byte).
tests_fuzz_fuzz_agent_file_SOURCES = tests/fuzz/fuzz_agent_file.c $(FUZZ_SUPPORT)
tests_fuzz_fuzz_agent_file_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_agent_file_LDADD = $(FUZZ_CORE_LIBS)

# The JSON Schema validator: a hostile schema compiled, then validated
# against a hostile instance.
tests_fuzz_fuzz_jsonschema_SOURCES = tests/fuzz/fuzz_jsonschema.c $(FUZZ_SUPPORT) \
	$(lib_jsonschema_libjsonschema_la_SOURCES)
tests_fuzz_fuzz_jsonschema_CPPFLAGS = $(AM_CPPFLAGS) $(LIB_CPPFLAGS)
tests_fuzz_fuzz_jsonschema_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(PCRE2_CFLAGS)
tests_fuzz_fuzz_jsonschema_LDADD = $(PCRE2_LIBS) -lm $(FUZZ_SUPPORT_LIBS)

if ENABLE_FUZZING
fuzz: $(FUZZ_TARGETS)
else
fuzz:
	@echo "make fuzz: configure with --enable-fuzzing CC=clang" >&2; exit 1
endif
.PHONY: fuzz

# What the fuzz targets found, kept as unit tests (tests/unit/test_fuzz_found.c):
# each links the source of the parser it checks.
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_fuzz_found
TESTS += tests/unit/test_fuzz_found
tests_unit_test_fuzz_found_SOURCES = tests/unit/test_fuzz_found.c
tests_unit_test_fuzz_found_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fuzz_found_LDADD = $(TEST_LDADD)
endif

# The kubernetes backend's parsers of the API server's replies: WebSocket
# frames of exec/attach, watch lines, bounded JSON, pod status, Status.
tests_fuzz_fuzz_kube_api_SOURCES = tests/fuzz/fuzz_kube_api.c $(FUZZ_SUPPORT) \
	plugins/backend/kubernetes/kube_api.c plugins/backend/kubernetes/kube_api.h \
	plugins/backend/kubernetes/kube_wsframe.c plugins/backend/kubernetes/kube_wsframe.h
tests_fuzz_fuzz_kube_api_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(SSL_CFLAGS)
tests_fuzz_fuzz_kube_api_LDADD = $(FUZZ_SUPPORT_LIBS) $(CRYPTO_LIBS)
# The kubernetes backend's kubeconfig parser (YAML, libyaml).
FUZZ_TARGETS += tests/fuzz/fuzz_kubeconfig
tests_fuzz_fuzz_kubeconfig_SOURCES = tests/fuzz/fuzz_kubeconfig.c $(FUZZ_SUPPORT) \
	plugins/backend/kubernetes/kube_kubeconfig.c plugins/backend/kubernetes/kube_kubeconfig.h
tests_fuzz_fuzz_kubeconfig_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(SSL_CFLAGS) $(YAML_CFLAGS)
tests_fuzz_fuzz_kubeconfig_LDADD = $(FUZZ_SUPPORT_LIBS) $(CRYPTO_LIBS) $(YAML_LIBS)
# The postgres storage's decoder of stored rows (a get's or a list's doc).
FUZZ_TARGETS += tests/fuzz/fuzz_pg_row
tests_fuzz_fuzz_pg_row_SOURCES = tests/fuzz/fuzz_pg_row.c \
	plugins/storage/postgres/row.c plugins/storage/postgres/row.h \
	$(lib_record_librecord_la_SOURCES)
tests_fuzz_fuzz_pg_row_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/storage/postgres
tests_fuzz_fuzz_pg_row_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_pg_row_LDADD = $(JANSSON_LIBS)
# The redis transport's request messages (stream entries and pub/sub payloads).
FUZZ_TARGETS += tests/fuzz/fuzz_redis_message
tests_fuzz_fuzz_redis_message_SOURCES = tests/fuzz/fuzz_redis_message.c $(FUZZ_SUPPORT) \
	plugins/transport/redis/message.c
tests_fuzz_fuzz_redis_message_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/transport/redis
tests_fuzz_fuzz_redis_message_CFLAGS = $(FUZZ_TARGET_CFLAGS)
tests_fuzz_fuzz_redis_message_LDADD = $(FUZZ_SUPPORT_LIBS)

# The launch file of a warm container, parsed by execd-warm-launch inside it.
FUZZ_TARGETS += tests/fuzz/fuzz_launch_file
tests_fuzz_fuzz_launch_file_SOURCES = tests/fuzz/fuzz_launch_file.c \
	lib/container/launch_file.c lib/container/launch_file.h
tests_fuzz_fuzz_launch_file_CFLAGS = $(FUZZ_TARGET_CFLAGS)

# The engine's event stream, as the docker backend reads die events from it.
FUZZ_TARGETS += tests/fuzz/fuzz_engine_events
tests_fuzz_fuzz_engine_events_SOURCES = tests/fuzz/fuzz_engine_events.c \
	lib/container/engine_events.c lib/container/engine_events.h
tests_fuzz_fuzz_engine_events_CFLAGS = $(FUZZ_TARGET_CFLAGS) $(JANSSON_CFLAGS)
tests_fuzz_fuzz_engine_events_LDADD = $(JANSSON_LIBS)
