#!/bin/sh
# The redis transport with the real daemon against a private redis-server
# (make check).  Skips (77), saying so, without redis-server.
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
b=$EXECD_BUILDDIR
# make check's path (tests.mk) does not name the redis plugin: added here.
export EXECD_PLUGIN_PATH="${EXECD_PLUGIN_PATH:-$b/plugins/backend/local:$b/plugins/storage/file:$b/plugins/transport/http}:$b/plugins/transport/redis"
exec python3 "$here/test_redis_transport.py" -v "$@"
