#!/bin/sh
# Runs the integration tests of job identities and the request environment
# against the build tree (make check).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_identity.py" -v
