# Sourced by the run-container-*.sh runners of suites that test every
# engine named by EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET: drops an
# engine whose plugin is not built, skips (77) loudly when none is left,
# and points EXECD_PLUGIN_PATH at the build tree's plugins.
# An unset EXECD_DOCKER_SOCKET / EXECD_PODMAN_SOCKET is found as the
# conformance runners find it (tests/conformance/run-docker.sh,
# run-podman.sh): the first of their candidate sockets that answers a ping,
# /run/execd-test/*.sock of scripts/engines.sh first.
# Usage: . container-engines.sh; container_engines_or_skip "WHAT IS TESTED"
# skip "WHY" ends a runner with a loud SKIP (77) of its own.
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
find_engine() { # VAR SOCKET...: export VAR as the first socket that answers
  var=$1
  shift
  eval "[ -z \"\${$var:-}\" ]" || return 0
  for candidate in "$@"; do
    if [ -S "$candidate" ] && curl -sf --max-time 5 --unix-socket "$candidate" \
      http://localhost/_ping >/dev/null 2>&1; then
      echo "using $candidate ($var is unset)" >&2
      eval "export $var=\$candidate"
      return 0
    fi
  done
}
find_engine EXECD_DOCKER_SOCKET /run/execd-test/docker.sock /var/run/docker.sock \
  /run/execd-test-docker.sock
find_engine EXECD_PODMAN_SOCKET /run/execd-test/podman.sock /run/podman/podman.sock
skip() {
  printf '\n!!! SKIP: %s\n\n' "$*" >&2
  exit 77
}
container_engines_or_skip() {
  for e in DOCKER PODMAN; do
    eval "sock=\${EXECD_${e}_SOCKET:-}"
    lower=$(echo $e | tr A-Z a-z)
    if [ -n "$sock" ] && ! [ -e "$EXECD_BUILDDIR/plugins/backend/$lower/.libs/backend_$lower.so" ]; then
      echo "!!! the $lower plugin is not built; not testing it" >&2
      unset EXECD_${e}_SOCKET
    fi
  done
  [ -n "${EXECD_DOCKER_SOCKET:-}" ] || [ -n "${EXECD_PODMAN_SOCKET:-}" ] ||
    skip "no container engine to test $1 against (none answers on the sockets of scripts/engines.sh start; or set EXECD_DOCKER_SOCKET or EXECD_PODMAN_SOCKET)"
  b=$EXECD_BUILDDIR/plugins/backend
  export EXECD_PLUGIN_PATH="$b/docker:$b/podman:$b/local:$EXECD_BUILDDIR/plugins/storage/file:$EXECD_BUILDDIR/plugins/transport/http${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
}
