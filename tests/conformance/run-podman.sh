#!/bin/sh
# The backend conformance suite against a real podman service, through the
# podman plugin and podman's Docker-compatible API (run-engine.sh).
#   EXECD_PODMAN_SOCKET  the service's socket (default: the first socket of
#                        /run/execd-test/podman.sock (scripts/engines.sh),
#                        /run/podman/podman.sock)
#   EXECD_PODMAN_IMAGE   image with a POSIX shell (default busybox:local)
exec "$(dirname "$0")/run-engine.sh" podman "podman service" \
  /run/execd-test/podman.sock /run/podman/podman.sock
