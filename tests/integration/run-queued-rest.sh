#!/bin/sh
# Queued executions whose record rests as compact text until they start
# (make check): get, list, watch, cancel, restart and start after resting.
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
exec python3 "$here/test_queued_rest.py" -v
