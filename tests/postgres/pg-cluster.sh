#!/bin/sh
# A private PostgreSQL cluster for the tests and the benchmark: initdb in a
# directory of its own, listening only on a unix socket in that directory
# (no TCP), run as an unprivileged user when started as root (postgres
# refuses root), stopped and removed by "stop".
#   pg-cluster.sh start DIR PORT   prints the libpq conninfo of database "execd"
#   pg-cluster.sh pause DIR        stops the server, keeping its data
#   pg-cluster.sh resume DIR       starts it again
#   pg-cluster.sh restart DIR      pg_ctl restart -m fast
#   pg-cluster.sh psql DIR PORT SQL  prints the value of one query
#   pg-cluster.sh stop DIR         stops the server and removes DIR
# PORT only names the socket (.s.PGSQL.PORT); the tests use 15400-15499.
# The server logs every statement without its parameters
# (log_parameter_max_length = 0) to DIR/server.log: the hostile-values test
# reads it to prove that request data never reaches SQL text.
# EXECD_PG_BINDIR overrides where initdb, pg_ctl and postgres are found.
set -eu
cmd=$1 dir=$2
bindir=${EXECD_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && bindir=$d
  done
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}
case $cmd in
start)
  port=$3
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "pg-cluster.sh: PostgreSQL server binaries not found (install postgresql)" >&2
    exit 77
  fi
  mkdir -p "$dir"
  [ "$(id -u)" != 0 ] || chown nobody:nogroup "$dir"
  chmod 700 "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U execd -A trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = on
max_connections = 200
shared_buffers = 64MB
log_statement = 'all'
log_parameter_max_length = 0
log_parameter_max_length_on_error = 0
log_min_error_statement = panic
CONF
  # The socket directory must be the server's to write: $dir is.
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    >"$dir/pg_ctl.log" 2>&1 || { cat "$dir/pg_ctl.log" "$dir/server.log" >&2; exit 1; }
  as_owner "$bindir/psql" -h "$dir" -p "$port" -U execd -d postgres -q \
    -c "CREATE DATABASE execd" >/dev/null
  echo "host=$dir port=$port user=execd dbname=execd"
  ;;
pause) # DIR: the server stops, its data stays (tests of an outage)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
restart) # DIR: pg_ctl restart -m fast (connections are cut, data stays)
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 \
    restart >/dev/null
  ;;
resume) # DIR
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
  ;;
psql) # DIR PORT SQL: one query's value, for the benchmark's checks
  as_owner "$bindir/psql" -h "$dir" -p "$3" -U execd -d execd -Atq -c "$4"
  ;;
stop)
  if [ -d "$dir/data" ] && [ -n "$bindir" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: pg-cluster.sh start DIR PORT | psql DIR PORT SQL | stop DIR" >&2
  exit 2
  ;;
esac
