# The SDK test (DESIGN §6): make install DESTDIR=..., then the sample plugin
# of tests/sample-plugin/ built out of tree with pkg-config execd-plugin and
# loaded by the installed execd.  Needs no check library.
TESTS += tests/sdk/run-sdk.sh
AM_TESTS_ENVIRONMENT += \
	EXECD_SDK_SBINDIR='$(sbindir)'; export EXECD_SDK_SBINDIR; \
	EXECD_SDK_MAKE='$(MAKE)'; export EXECD_SDK_MAKE; \
	EXECD_SDK_CC='$(CC)'; export EXECD_SDK_CC;
EXTRA_DIST += tests/sdk/run-sdk.sh \
	tests/sample-plugin/README.md \
	tests/sample-plugin/configure.ac \
	tests/sample-plugin/Makefile.am \
	tests/sample-plugin/echo.c
