#!/bin/sh
# Image pulls from a local docker-registry (htpasswd auth, on 127.0.0.1)
# through the real daemon: pull policies, registry_auth_file and
# images_allowed, against the engines named by EXECD_DOCKER_SOCKET /
# EXECD_PODMAN_SOCKET (make check).  The image is pushed through docker, so
# docker is required.  Skips (77) loudly when EXECD_DOCKER_SOCKET is unset and not found,
# the docker plugin is not built, or docker-registry / htpasswd is missing.
set -e
here=$(cd "$(dirname "$0")" && pwd)
. "$here/container-engines.sh"
[ -n "${EXECD_DOCKER_SOCKET:-}" ] ||
  skip "no docker engine to push the test image with (scripts/engines.sh start, or set EXECD_DOCKER_SOCKET)"
[ -e "$EXECD_BUILDDIR/plugins/backend/docker/.libs/backend_docker.so" ] ||
  skip "the docker plugin is not built"
export EXECD_REGISTRY="${EXECD_REGISTRY:-docker-registry}"
export EXECD_HTPASSWD="${EXECD_HTPASSWD:-htpasswd}"
command -v "$EXECD_REGISTRY" >/dev/null 2>&1 ||
  skip "no registry binary $EXECD_REGISTRY (apt-get install docker-registry)"
command -v "$EXECD_HTPASSWD" >/dev/null 2>&1 ||
  skip "no $EXECD_HTPASSWD (apt-get install apache2-utils)"
container_engines_or_skip "image pulls"
exec python3 "$here/test_container_registry.py" -v
