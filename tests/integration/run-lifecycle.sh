#!/bin/sh
# The daemon's own life against the build tree (make check): SIGTERM with
# jobs that will not end, max_rss_bytes, processes a local job leaves.
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_lifecycle.py" -v
