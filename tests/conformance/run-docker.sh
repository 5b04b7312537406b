#!/bin/sh
# The backend conformance suite against a real Docker engine.  Skips (77)
# with a loud message when no engine answers on the socket.
#   EXECD_DOCKER_SOCKET  the engine's socket (default: the first socket of
#                        /run/execd-test/docker.sock (scripts/engines.sh),
#                        /var/run/docker.sock, /run/execd-test-docker.sock)
#   EXECD_DOCKER_IMAGE   image with a POSIX shell (default busybox:local)
set -u
sock=${EXECD_DOCKER_SOCKET:-}
if [ -z "$sock" ]; then
  for sock in /run/execd-test/docker.sock /var/run/docker.sock /run/execd-test-docker.sock; do
    [ -S "$sock" ] && break
  done
fi
image=${EXECD_DOCKER_IMAGE:-busybox:local}
builddir=${EXECD_BUILDDIR:-.}

if ! curl -sf --max-time 5 --unix-socket "$sock" http://localhost/v1.41/_ping >/dev/null 2>&1; then
  echo "SKIP: no docker engine at $sock" >&2
  echo "SKIP: no docker engine at $sock"
  exit 77
fi
if ! curl -sf --max-time 5 --unix-socket "$sock" \
    "http://localhost/v1.41/images/$image/json" >/dev/null 2>&1; then
  echo "SKIP: docker engine at $sock has no image $image (build it with scripts/engines.sh)" >&2
  exit 77
fi

EXECD_PLUGIN_PATH="$builddir/plugins/backend/docker${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=docker
EXECD_CONFORMANCE_IMAGE=$image
EXECD_CONFORMANCE_BACKEND_CONFIG="{\"socket\": \"$sock\", \"images_allowed\": [\"${image%%:*}:*\"], \"pull\": \"never\"}"
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG
exec "$builddir/tests/conformance/backend_conformance"
