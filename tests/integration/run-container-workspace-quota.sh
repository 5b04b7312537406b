#!/bin/sh
# The workspace disk quota with bind-mounted container workspaces, against
# the engines named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET (make
# check).  Skips (77) loudly when neither is set nor found or the plugins are
# not built.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/container-engines.sh"
container_engines_or_skip "workspace quota"
exec python3 "$here/test_container_workspace_quota.py" -v
