#!/bin/sh
# The workspace disk quota (a tmpfs per attempt) against the real daemon (make check).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_workspace_quota.py" -v
