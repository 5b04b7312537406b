# libjsonschema: a JSON Schema draft 2020-12 validator on jansson, with
# ECMA-262 style patterns on PCRE2.  The core checks requests and outputs
# against agents' schemas with it (core/contract.c).
noinst_LTLIBRARIES += lib/jsonschema/libjsonschema.la
lib_jsonschema_libjsonschema_la_SOURCES = \
	lib/jsonschema/jsonschema.h lib/jsonschema/jsonschema_internal.h \
	lib/jsonschema/jsonschema_compile.c \
	lib/jsonschema/jsonschema_validate.c \
	lib/jsonschema/jsonschema_format.c \
	lib/jsonschema/jsonschema_regex.c \
	lib/jsonschema/jsonschema_uri.c \
	lib/jsonschema/jsonschema_util.c
lib_jsonschema_libjsonschema_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_jsonschema_libjsonschema_la_CFLAGS = $(LIB_CFLAGS) $(PCRE2_CFLAGS)
lib_jsonschema_libjsonschema_la_LIBADD = $(JANSSON_LIBS) $(PCRE2_LIBS) -lm

# Unit tests: the library's API (compile errors, error locations, limits);
# the official JSON-Schema-Test-Suite, draft 2020-12 (skipped, loudly, when
# the suite or the metaschemas are not on this machine).
check_PROGRAMS += tests/unit/test_jsonschema_suite
TESTS += tests/unit/test_jsonschema_suite
tests_unit_test_jsonschema_suite_SOURCES = tests/unit/test_jsonschema_suite.c
tests_unit_test_jsonschema_suite_CPPFLAGS = $(LIB_CPPFLAGS)
tests_unit_test_jsonschema_suite_CFLAGS = $(AM_CFLAGS)
tests_unit_test_jsonschema_suite_LDADD = lib/jsonschema/libjsonschema.la $(JANSSON_LIBS)
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_jsonschema
TESTS += tests/unit/test_jsonschema
tests_unit_test_jsonschema_SOURCES = tests/unit/test_jsonschema.c
tests_unit_test_jsonschema_CPPFLAGS = $(LIB_CPPFLAGS)
tests_unit_test_jsonschema_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_jsonschema_LDADD = lib/jsonschema/libjsonschema.la $(CHECK_LIBS) $(JANSSON_LIBS)
endif

# Differential test: the same random schemas and instances through this
# library and python3-jsonschema (skipped without it).
check_PROGRAMS += tests/unit/jsonschema_oracle
tests_unit_jsonschema_oracle_SOURCES = tests/unit/jsonschema_oracle.c
tests_unit_jsonschema_oracle_CPPFLAGS = $(LIB_CPPFLAGS)
tests_unit_jsonschema_oracle_CFLAGS = $(AM_CFLAGS)
tests_unit_jsonschema_oracle_LDADD = lib/jsonschema/libjsonschema.la $(JANSSON_LIBS)
TESTS += tests/unit/run-jsonschema-differential.sh
EXTRA_DIST += tests/unit/run-jsonschema-differential.sh tests/unit/jsonschema_differential.py
