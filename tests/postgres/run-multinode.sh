#!/bin/sh
# Several execd nodes on one PostgreSQL (tests/postgres/test_multinode.py):
# three nodes exactly once, kill -9 takeover, a paused (zombie) node, the
# LISTEN connection terminated, PostgreSQL restarted under load.  Runs
# against a private cluster started here (pg-cluster.sh, port 15450 naming
# its socket, beside run-postgres.sh's 15400) and stopped at the end.
# Skips (77), saying so, without the PostgreSQL server binaries.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export EXECD_BUILDDIR="${EXECD_BUILDDIR:-$(pwd)}"
b=$EXECD_BUILDDIR
port=${EXECD_PG_MULTINODE_PORT:-15450}
dir=$(mktemp -d "${TMPDIR:-/tmp}/execd-pgm-XXXXXX") || exit 99
cleanup() { "$here/pg-cluster.sh" stop "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
EXECD_PG_CONNINFO=$("$here/pg-cluster.sh" start "$dir" "$port")
rc=$?
if [ $rc != 0 ]; then
  echo "SKIP: no private PostgreSQL cluster (install postgresql): several nodes were not tested" >&2
  exit 77
fi
EXECD_PG_CLUSTER="$here/pg-cluster.sh $dir"
export EXECD_PG_CONNINFO EXECD_PG_CLUSTER
# The statement log of this cluster is not read: keep it small.
"$here/pg-cluster.sh" psql "$dir" "$port" "ALTER SYSTEM SET log_statement = 'none'" >/dev/null
"$here/pg-cluster.sh" psql "$dir" "$port" "SELECT pg_reload_conf()" >/dev/null
export EXECD_PLUGIN_PATH="${EXECD_PLUGIN_PATH:-$b/plugins/backend/local:$b/plugins/transport/http}:$b/plugins/storage/postgres"
start=$(date +%s)
python3 "$here/test_multinode.py" -v "$@"
rc=$?
echo "== several nodes: exit $rc ($(($(date +%s) - start)) s)"
exit $rc
