# Integration tests: the real daemon over HTTP and through execctl.
TESTS += tests/integration/run-integration.sh
EXTRA_DIST += tests/integration/run-integration.sh tests/integration/daemon.py \
	tests/integration/test_daemon.py
