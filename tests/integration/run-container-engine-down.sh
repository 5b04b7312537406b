#!/bin/sh
# dockerd stopped while a docker execution runs, then started again (make
# check).  The test stops a private dockerd of its own, never the engine on
# EXECD_DOCKER_SOCKET, which it only reads to copy the test image from.
# Skips (77) loudly when that engine is unset, dockerd is not installed, the
# docker plugin is not built, or not run as root (dockerd needs it).
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
skip() {
  printf '\n!!! SKIP: %s\n\n' "$*" >&2
  exit 77
}
[ -n "${EXECD_DOCKER_SOCKET:-}" ] ||
  skip "EXECD_DOCKER_SOCKET is unset: no docker engine to copy the test image from (scripts/engines.sh start)"
command -v dockerd >/dev/null 2>&1 || skip "dockerd is not installed: cannot stop and restart an engine"
[ "$(id -u)" = 0 ] || skip "not root: a private dockerd cannot be started"
b=$EXECD_BUILDDIR/plugins/backend
[ -e "$b/docker/.libs/backend_docker.so" ] || skip "the docker plugin is not built"
export EXECD_PLUGIN_PATH="$b/docker:$b/local:$EXECD_BUILDDIR/plugins/storage/file:$EXECD_BUILDDIR/plugins/transport/http${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
exec python3 "$here/test_container_engine_down.py" -v
