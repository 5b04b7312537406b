#!/bin/sh
# The backend conformance suite against a real podman service (the podman
# plugin through podman's Docker-compatible API).  Skips (77) with a loud
# message when no service answers on the socket.
#   EXECD_PODMAN_SOCKET  the service's socket (default: the first socket of
#                        /run/execd-test/podman.sock (scripts/engines.sh),
#                        /run/podman/podman.sock)
#   EXECD_PODMAN_IMAGE   image with a POSIX shell (default busybox:local)
set -u
sock=${EXECD_PODMAN_SOCKET:-}
if [ -z "$sock" ]; then
  for sock in /run/execd-test/podman.sock /run/podman/podman.sock; do
    [ -S "$sock" ] && break
  done
fi
image=${EXECD_PODMAN_IMAGE:-busybox:local}
builddir=${EXECD_BUILDDIR:-.}

if ! curl -sf --max-time 5 --unix-socket "$sock" http://localhost/v1.41/_ping >/dev/null 2>&1; then
  echo "SKIP: no podman service at $sock" >&2
  echo "SKIP: no podman service at $sock"
  exit 77
fi
if ! curl -sf --max-time 5 --unix-socket "$sock" \
    "http://localhost/v1.41/images/$image/json" >/dev/null 2>&1; then
  echo "SKIP: podman service at $sock has no image $image (build it with scripts/engines.sh)" >&2
  exit 77
fi

EXECD_PLUGIN_PATH="$builddir/plugins/backend/podman${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=podman
EXECD_CONFORMANCE_IMAGE=$image
EXECD_CONFORMANCE_BACKEND_CONFIG="{\"socket\": \"$sock\", \"images_allowed\": [\"${image%%:*}:*\"], \"pull\": \"never\"}"
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG
exec "$builddir/tests/conformance/backend_conformance"
