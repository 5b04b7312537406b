# librecord: what the storage plugins agree on about a stored record's
# keys: the id rule and the parser of its RFC 3339 times (stored_record.h).
noinst_LTLIBRARIES += lib/record/librecord.la
lib_record_librecord_la_SOURCES = \
	lib/record/stored_record.h lib/record/stored_record.c
lib_record_librecord_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_record_librecord_la_CFLAGS = $(LIB_CFLAGS)

check_PROGRAMS += tests/unit/test_stored_record
TESTS += tests/unit/test_stored_record
tests_unit_test_stored_record_SOURCES = tests/unit/test_stored_record.c
tests_unit_test_stored_record_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_stored_record_LDADD = lib/record/librecord.la $(CHECK_LIBS)
