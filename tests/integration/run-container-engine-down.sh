#!/bin/sh
# dockerd stopped while a docker execution runs, then started again (make
# check).  The test stops a private dockerd of its own, never the engine on
# EXECD_DOCKER_SOCKET, which it only reads to copy the test image from.
# Skips (77) loudly when that engine is unset and not found, dockerd is not installed, the
# docker plugin is not built, or not run as root (dockerd needs it).
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/container-engines.sh"
[ -n "${EXECD_DOCKER_SOCKET:-}" ] ||
  skip "EXECD_DOCKER_SOCKET is unset and no docker engine answers: none to copy the test image from (scripts/engines.sh start)"
command -v dockerd >/dev/null 2>&1 || skip "dockerd is not installed: cannot stop and restart an engine"
[ "$(id -u)" = 0 ] || skip "not root: a private dockerd cannot be started"
[ -e "$EXECD_BUILDDIR/plugins/backend/docker/.libs/backend_docker.so" ] ||
  skip "the docker plugin is not built"
container_engines_or_skip "a stopped dockerd"
exec python3 "$here/test_container_engine_down.py" -v
