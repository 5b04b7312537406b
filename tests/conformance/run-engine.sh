#!/bin/sh
# The backend conformance suite against a real container engine, through
# the backend plugin of the same name.  Skips (77) with a loud message when
# nothing answers on the socket or the image is missing.
#   run-engine.sh PLUGIN WHAT SOCKET...
#     PLUGIN  backend plugin name ("docker", "podman")
#     WHAT    how messages name the engine ("docker engine")
#     SOCKET  candidate sockets, the first that exists is used
#   EXECD_<PLUGIN>_SOCKET  the engine's socket (overrides the candidates)
#   EXECD_<PLUGIN>_IMAGE   image with a POSIX shell (default busybox:local)
set -u
plugin=$1 what=$2
shift 2
var=$(echo "$plugin" | tr a-z A-Z)
eval "sock=\${EXECD_${var}_SOCKET:-}"
eval "image=\${EXECD_${var}_IMAGE:-busybox:local}"
if [ -z "$sock" ]; then
  for sock in "$@"; do
    [ -S "$sock" ] && break
  done
fi
builddir=${EXECD_BUILDDIR:-.}

if ! curl -sf --max-time 5 --unix-socket "$sock" http://localhost/v1.41/_ping >/dev/null 2>&1; then
  echo "SKIP: no $what at $sock" >&2
  echo "SKIP: no $what at $sock"
  exit 77
fi
if ! curl -sf --max-time 5 --unix-socket "$sock" \
    "http://localhost/v1.41/images/$image/json" >/dev/null 2>&1; then
  echo "SKIP: $what at $sock has no image $image (build it with scripts/engines.sh)" >&2
  exit 77
fi

EXECD_PLUGIN_PATH="$builddir/plugins/backend/$plugin${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=$plugin
EXECD_CONFORMANCE_IMAGE=$image
EXECD_CONFORMANCE_BACKEND_CONFIG="{\"socket\": \"$sock\", \"images_allowed\": [\"${image%%:*}:*\"], \"pull\": \"never\"}"
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG
exec "$builddir/tests/conformance/backend_conformance"
