#!/bin/sh
# Runs the integration suite against the build tree (make check).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_daemon.py" -v
