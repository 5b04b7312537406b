#!/bin/sh
# The backend conformance suite against a real Docker engine (run-engine.sh).
#   EXECD_DOCKER_SOCKET  the engine's socket (default: the first socket of
#                        /run/execd-test/docker.sock (scripts/engines.sh),
#                        /var/run/docker.sock, /run/execd-test-docker.sock)
#   EXECD_DOCKER_IMAGE   image with a POSIX shell (default busybox:local)
exec "$(dirname "$0")/run-engine.sh" docker "docker engine" \
  /run/execd-test/docker.sock /var/run/docker.sock /run/execd-test-docker.sock
