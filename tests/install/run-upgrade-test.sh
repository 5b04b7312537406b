#!/bin/bash
# The upgrade test (run by .ci/run, as root): two builds of different
# versions (the tree's, and a copy of that build tree with the next Debian
# revision made with dch -v and packaged again with dpkg-buildpackage -nc,
# reusing the first build's objects).  In a clean Debian 12 root: install the old version,
# start it, finish one execution, submit ten more, stop execd with SIGTERM
# while they run (the drain lets them finish within shutdown_grace), install
# the new version over it, start it, and check that the new version
# recovered the old one's store: every execution there, SUCCEEDED.
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
# The jobs below sleep: the shipped allow-list has only /bin/true and /bin/echo.
sed -i 's|commands_allowed = \[|commands_allowed = [ "/bin/sleep",|' "$root/etc/execd/execd.conf"
conf_sum=$(md5sum <"$root/etc/execd/execd.conf")

step "start the old version"
start_daemon "$work/execd-old.log"
done_id=$(execctl run --detach -- /bin/echo finished-before-upgrade) || fail "submit failed"
wait_state "$done_id" SUCCEEDED 30
# More than the local backend runs at once (max_running = 8).
ids=()
for i in $(seq 10); do
  ids+=("$(execctl run --detach -- /bin/sleep 4)") || fail "submit $i failed"
done
wait_state "${ids[0]}" RUNNING 30
for id in "${ids[@]}"; do exec_field "$id" state; done | sort | uniq -c | tr -s ' ' |
  sed 's/^/   at the stop:/'

step "stop the old version (SIGTERM) while they run: the drain lets them finish"
stop_daemon
say "stopped at $(date -u +%H:%M:%S.%3N)"
sed 's/^/   execd: /' "$work/execd-old.log"
say "state on disk: $(du -sh "$root/var/lib/execd" | cut -f1) in /var/lib/execd"

step "install the new version ($new) over it"
install_debs "$work/new"
v=$(in_root dpkg-query -W -f='${Version}' execd)
[ "$v" = "$new" ] || fail "execd is at $v, not $new"
say "execd $v installed"
[ "$(md5sum <"$root/etc/execd/execd.conf")" = "$conf_sum" ] || fail "the conffile changed"
in_root getent passwd execd >/dev/null || fail "the system user execd is gone"

step "start the new version at $(date -u +%H:%M:%S.%3N): recovery"
start_daemon "$work/execd-new.log" journal
grep -E 'recovery' "$work/journal.out" | sed 's/^journal: /   journal: /'
wait_state "$done_id" SUCCEEDED 5
for id in "${ids[@]}"; do wait_state "$id" SUCCEEDED 60; done
execctl get "${ids[9]}" | sed 's/^/   /'
stop_daemon
step "journal of the new version"
sed -n 's/^journal: /   /p' "$work/journal.out"
# An entry about one execution carries its id as a field.
python3 - "$work/journal.out" <<'PY' || fail "a journal entry about an execution lacks EXECD_EXECUTION_ID"
import re, sys
bad = 0
for line in open(sys.argv[1]):
    m = re.match(r"journal: MESSAGE=\[execd\] execution ([^:]+):", line)
    if m and ("| EXECD_EXECUTION_ID=%s" % m.group(1)) not in line:
        print("   no EXECD_EXECUTION_ID: " + line.strip())
        bad = 1
sys.exit(bad)
PY

step "upgrade test passed in $((SECONDS - t_start)) s"
