# execctl, the command-line client of the HTTP API (doc/execctl.md).
if BUILD_EXECCTL
bin_PROGRAMS += cli/execctl
cli_execctl_SOURCES = cli/main.c
cli_execctl_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
cli_execctl_LDADD = cli/libexecctl.la

# Everything but main(), so the unit test links the same code.
noinst_LTLIBRARIES += cli/libexecctl.la
cli_libexecctl_la_SOURCES = \
	cli/execctl.h \
	cli/client.c cli/client.h \
	cli/request_build.c cli/request_build.h \
	cli/run.c \
	cli/run_outcome.c cli/run_outcome.h \
	cli/commands.c \
	cli/format.c cli/format.h
cli_libexecctl_la_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) $(CRYPTO_CFLAGS)
cli_libexecctl_la_LIBADD = $(CURL_LIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS)

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_execctl_args
TESTS += tests/unit/test_execctl_args
tests_unit_test_execctl_args_SOURCES = tests/unit/test_execctl_args.c
tests_unit_test_execctl_args_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(CURL_CFLAGS) \
	-I$(top_srcdir)/cli
tests_unit_test_execctl_args_LDADD = cli/libexecctl.la $(CHECK_LIBS)
endif
endif
