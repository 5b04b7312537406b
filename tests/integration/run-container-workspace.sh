#!/bin/sh
# The job I/O contract on the container backends (bind and volume workspaces), against
# the engines named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET (make check).
# Skips (77) loudly when neither is set or the plugins are not built.
set -e
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
for e in DOCKER PODMAN; do
  eval "sock=\${EXECD_${e}_SOCKET:-}"
  lower=$(echo $e | tr A-Z a-z)
  if [ -n "$sock" ] && ! [ -e "$EXECD_BUILDDIR/plugins/backend/$lower/.libs/backend_$lower.so" ]; then
    echo "!!! the $lower plugin is not built; not testing it" >&2
    unset EXECD_${e}_SOCKET
  fi
done
if [ -z "${EXECD_DOCKER_SOCKET:-}" ] && [ -z "${EXECD_PODMAN_SOCKET:-}" ]; then
  echo "SKIP: no container engine to test workspaces against (set EXECD_DOCKER_SOCKET or EXECD_PODMAN_SOCKET)" >&2
  exit 77
fi
b=$EXECD_BUILDDIR/plugins/backend
export EXECD_PLUGIN_PATH="$b/docker:$b/podman:$b/local:$EXECD_BUILDDIR/plugins/storage/file:$EXECD_BUILDDIR/plugins/transport/http${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
exec python3 "$here/test_container_workspace.py" -v
