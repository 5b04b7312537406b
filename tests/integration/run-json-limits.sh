#!/bin/sh
# What one JSON document may cost a real daemon (make check).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_json_limits.py" -v
