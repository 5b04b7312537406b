#!/bin/sh
# The PostgreSQL tests against a private cluster started here
# (pg-cluster.sh: a unix socket in a private directory, port 15400 naming
# it) and stopped at the end, or against EXECD_PG_CONNINFO when that is set
# (the database must be one the tests may fill).  Skips (77), saying so,
# when the PostgreSQL server binaries are missing.
#   1. tests/unit/test_uvpq                 lib/uvpq
#   2. storage conformance suite            on the postgres storage
#   3. tests/unit/test_postgres_storage     hostile values, schema version,
#                                           quarantine, reconnection
set -u
here=$(cd "$(dirname "$0")" && pwd)
builddir=${EXECD_BUILDDIR:-.}
port=${EXECD_PG_TEST_PORT:-15400}
dir=
cleanup() {
  [ -z "$dir" ] || "$here/pg-cluster.sh" stop "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
if [ -z "${EXECD_PG_CONNINFO:-}" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/execd-pg-XXXXXX") || exit 99
  EXECD_PG_CONNINFO=$("$here/pg-cluster.sh" start "$dir" "$port")
  rc=$?
  if [ $rc = 77 ]; then
    echo "SKIP: no PostgreSQL server binaries (install postgresql): the postgres storage was not tested" >&2
    exit 77
  fi
  if [ $rc != 0 ]; then
    # Where the server cannot run (a build chroot), skip loudly; CI fails
    # on a skip of these tests once the plugin is built (.ci/run).
    echo "SKIP: the private PostgreSQL cluster did not start (see above): the postgres storage was not tested" >&2
    exit 77
  fi
  EXECD_PG_LOG="$dir/server.log"
  # The outage test stops and starts this private server.
  EXECD_PG_CLUSTER="$here/pg-cluster.sh $dir"
  export EXECD_PG_LOG EXECD_PG_CLUSTER
fi
export EXECD_PG_CONNINFO
EXECD_PLUGIN_PATH="$builddir/plugins/storage/postgres${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
export EXECD_PLUGIN_PATH
echo "PostgreSQL: $EXECD_PG_CONNINFO"

fail=0
run() { # NAME COMMAND...
  name=$1
  shift
  start=$(date +%s)
  "$@"
  rc=$?
  echo "== $name: exit $rc ($(($(date +%s) - start)) s)"
  [ $rc = 0 ] || fail=1
}
run test_uvpq "$builddir/tests/unit/test_uvpq"
conf=$(printf '{"conninfo": "%s", "pool_size": 4, "log_max": 65536}' "$EXECD_PG_CONNINFO")
EXECD_CONFORMANCE_STORAGE=postgres EXECD_CONFORMANCE_STORAGE_CONFIG=$conf \
  run "storage conformance on postgres" "$builddir/tests/conformance/storage_conformance"
run test_postgres_storage "$builddir/tests/unit/test_postgres_storage"
exit $fail
