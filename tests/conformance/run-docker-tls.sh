#!/bin/sh
# The backend conformance suite against a real Docker engine over its TLS
# endpoint (endpoint, tls_ca, tls_cert, tls_key; workspace_mount "volume"),
# through run-engine.sh.  Skips (77) when no TLS endpoint is configured.
#   EXECD_DOCKER_TLS_HOST      "tcp://HOST:PORT" (default: the file
#                              "endpoint" in the certificate directory,
#                              which scripts/engines.sh writes)
#   EXECD_DOCKER_TLS_CERT_DIR  ca.pem, cert.pem, key.pem (default
#                              /run/execd-test/docker-tls)
#   EXECD_DOCKER_IMAGE         image with a POSIX shell (default busybox:local)
dir=${EXECD_DOCKER_TLS_CERT_DIR:-/run/execd-test/docker-tls}
host=${EXECD_DOCKER_TLS_HOST:-}
[ -n "$host" ] || host=$(cat "$dir/endpoint" 2>/dev/null)
if [ -z "$host" ]; then
  echo "SKIP: no docker TLS endpoint: EXECD_DOCKER_TLS_HOST is not set and $dir/endpoint is missing (scripts/engines.sh start)" >&2
  echo "SKIP: no docker TLS endpoint (EXECD_DOCKER_TLS_HOST, $dir/endpoint)"
  exit 77
fi
EXECD_ENGINE_TLS_HOST=$host EXECD_ENGINE_TLS_CERT_DIR=$dir \
  exec "$(dirname "$0")/run-engine.sh" docker "docker TLS endpoint"
