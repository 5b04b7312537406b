#!/bin/bash
# The upgrade test (run by .ci/run, as root): two builds of different
# versions (the tree's, and a copy of that build tree with the next Debian
# revision made with dch -v and packaged again with dpkg-buildpackage -nc,
# reusing the first build's objects).  In a clean Debian 12 root: install the old version,
# start it, finish one execution and leave one running, stop execd (SIGTERM
# twice: the drain stops waiting), install the new version over it, start
# it, and check that recovery kept both: the finished one unchanged, the
# interrupted one run again to SUCCEEDED.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t_start=$SECONDS

step "build: old and new versions"
build_tree
old=$version
case $old in
  *-*[!0-9]*|*[!0-9]) new=$old+1 ;;
  *-*) new=${old%-*}-$((${old##*-} + 1)) ;;
  *) new=$old+1 ;;
esac
say "old $old"
mkdir -p "$work/new" && cp -a "$build/execd" "$work/new/execd"
(cd "$work/new/execd" && DEBEMAIL=execd@localhost DEBFULLNAME="execd CI" \
   dch -v "$new" --distribution UNRELEASED --force-distribution "Upgrade test build." 2>&1) |
  sed 's/^/   /'
say "new $(cd "$work/new/execd" && dpkg-parsechangelog -S Version)"
build_packages "$work/new/execd" -nc
say "built in $((SECONDS - t_start)) s"

step "root: clean Debian 12 ($suite)"
make_root

step "install the old version ($old)"
install_debs "$build"
conf_sum=$(md5sum <"$root/etc/execd/execd.conf")

step "start the old version"
start_daemon "$work/execd-old.log"
done_id=$(execctl run --detach -- /bin/echo finished-before-upgrade) || fail "submit failed"
wait_state "$done_id" SUCCEEDED 30
running_id=$(execctl run --detach -- /usr/bin/env sleep 6) || fail "submit failed"
wait_state "$running_id" RUNNING 30

step "stop the old version while $running_id runs (SIGTERM, SIGTERM)"
stop_daemon now
sed 's/^/   execd: /' "$work/execd-old.log"
say "state on disk: $(du -sh "$root/var/lib/execd" | cut -f1) in /var/lib/execd"

step "install the new version ($new) over it"
install_debs "$work/new"
v=$(in_root dpkg-query -W -f='${Version}' execd)
[ "$v" = "$new" ] || fail "execd is at $v, not $new"
say "execd $v installed"
[ "$(md5sum <"$root/etc/execd/execd.conf")" = "$conf_sum" ] || fail "the conffile changed"
in_root getent passwd execd >/dev/null || fail "the system user execd is gone"

step "start the new version: recovery"
start_daemon "$work/execd-new.log" journal
grep -E 'recovery|re-attach|execution' "$work/journal.out" | sed 's/^journal: /   journal: /'
wait_state "$done_id" SUCCEEDED 5
wait_state "$running_id" SUCCEEDED 60
execctl get "$running_id" | sed 's/^/   /'
stop_daemon
grep -q "EXECD_EXECUTION_ID=$running_id" "$work/journal.out" ||
  fail "no journal entry with EXECD_EXECUTION_ID=$running_id"

step "upgrade test passed in $((SECONDS - t_start)) s"
