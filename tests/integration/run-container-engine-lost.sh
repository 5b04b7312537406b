#!/bin/sh
# The engine goes away while a container runs on, then comes back: a podman
# service of the test's own on the storage of scripts/engines.sh (make
# check).  Skips (77) loudly when EXECD_PODMAN_SOCKET is unset and not found, podman is
# not installed or the podman plugin is not built.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/container-engines.sh"
[ -n "${EXECD_PODMAN_SOCKET:-}" ] ||
  skip "EXECD_PODMAN_SOCKET is unset and no podman service answers: no podman storage to share (scripts/engines.sh start)"
command -v podman >/dev/null 2>&1 || skip "podman is not installed"
unset EXECD_DOCKER_SOCKET
container_engines_or_skip "a lost engine"
exec python3 "$here/test_container_engine_lost.py" -v
