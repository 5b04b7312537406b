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
# With EXECD_ENGINE_TLS_HOST (tcp://HOST:PORT) and EXECD_ENGINE_TLS_CERT_DIR
# (ca.pem, cert.pem, key.pem) the engine is reached there over TLS instead
# of the socket, with the workspace copied through volumes
# (run-docker-tls.sh).
set -u
plugin=$1 what=$2
shift 2
var=$(echo "$plugin" | tr a-z A-Z)
eval "sock=\${EXECD_${var}_SOCKET:-}"
eval "image=\${EXECD_${var}_IMAGE:-busybox:local}"
tls_host=${EXECD_ENGINE_TLS_HOST:-}
tls_dir=${EXECD_ENGINE_TLS_CERT_DIR:-}
if [ -z "$sock" ]; then
  for sock in "$@"; do
    [ -S "$sock" ] && break
  done
fi
builddir=${EXECD_BUILDDIR:-.}

engine_curl() { # PATH: GET it from the engine, quietly
  if [ -n "$tls_host" ]; then
    curl -sf --max-time 5 --cacert "$tls_dir/ca.pem" --cert "$tls_dir/cert.pem" \
      --key "$tls_dir/key.pem" "https://${tls_host#tcp://}/v1.41$1" >/dev/null 2>&1
  else
    curl -sf --max-time 5 --unix-socket "$sock" "http://localhost/v1.41$1" >/dev/null 2>&1
  fi
}

where=$sock
[ -z "$tls_host" ] || where=$tls_host
if ! engine_curl /_ping; then
  echo "SKIP: no $what at $where" >&2
  echo "SKIP: no $what at $where"
  exit 77
fi
if ! engine_curl "/images/$image/json"; then
  echo "SKIP: $what at $where has no image $image (build it with scripts/engines.sh)" >&2
  exit 77
fi

if [ -n "$tls_host" ]; then
  at="\"endpoint\": \"$tls_host\", \"tls_ca\": \"$tls_dir/ca.pem\", \"tls_cert\": \"$tls_dir/cert.pem\", \"tls_key\": \"$tls_dir/key.pem\", \"workspace_mount\": \"volume\""
else
  at="\"socket\": \"$sock\""
fi
EXECD_PLUGIN_PATH="$builddir/plugins/backend/$plugin${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=$plugin
EXECD_CONFORMANCE_IMAGE=$image
EXECD_CONFORMANCE_BACKEND_CONFIG="{$at, \"images_allowed\": [\"${image%%:*}:*\"], \"pull\": \"never\"}"
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG
exec "$builddir/tests/conformance/backend_conformance"
