# libconfigcheck: the check_config op of the in-tree plugins (ABI 1.3): a
# host table that only records the error, so a plugin runs the configure
# function its create() runs on a scratch instance, with no side effects.
noinst_LTLIBRARIES += lib/configcheck/libconfigcheck.la
lib_configcheck_libconfigcheck_la_SOURCES = \
	lib/configcheck/config_check.h lib/configcheck/config_check.c
lib_configcheck_libconfigcheck_la_CPPFLAGS = $(LIB_CPPFLAGS)
lib_configcheck_libconfigcheck_la_CFLAGS = $(LIB_CFLAGS)
