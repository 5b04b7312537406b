#!/bin/sh
# Warm containers on the container backends (made and started ahead, one
# execution each), against the engines named by EXECD_DOCKER_SOCKET /
# EXECD_PODMAN_SOCKET (make check).  Skips (77) loudly when neither is set
# nor found or the plugins are not built.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/container-engines.sh"
container_engines_or_skip "warm containers"
exec python3 "$here/test_container_warm.py" -v
