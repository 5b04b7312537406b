#!/bin/sh
# execd --check-config against the build tree's plugins (make check).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_check_config.py" -v
