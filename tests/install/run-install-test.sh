#!/bin/bash
# The install test (run by .ci/run, as root): build the Debian packages from
# a clean copy of the tree, install them with apt-get in a clean Debian 12
# root, check the shipped config and unit, start execd as its unit would
# (NOTIFY_SOCKET: READY=1 must arrive), run an execution with execctl,
# purge, and check that nothing the packages installed or made is left.
# EXECD_CI_CACHE (default /var/cache/execd-ci) keeps the root's tarball;
# EXECD_INSTALL_KEEP=1 keeps the work directory.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
t_start=$SECONDS

step "build: dpkg-buildpackage -us -uc -b (clean copy of the tree)"
build_tree
say "version $version; build step took $((SECONDS - t_start)) s"

step "root: clean Debian 12 ($suite)"
t=$SECONDS
make_root
say "ready in $((SECONDS - t)) s"

step "install: apt-get install ./*.deb"
install_debs "$build"
in_root dpkg -l 'execd*' 'libexecd*' | sed -n 's/^ii  /   ii  /p'
in_root dpkg -L execd execd-backend-docker libexecd-plugin-dev | sort -u >"$work/installed.txt"
in_root getent passwd execd | sed 's/^/   user: /' || fail "no system user execd"

step "config and unit"
in_root execd --check-config -c /etc/execd/execd.conf 2>&1 | sed 's/^/   /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "execd --check-config failed on the shipped config"
in_root dpkg-query -W -f='${Conffiles}\n' execd | sed '/^$/d; s/^/   conffile:/'
in_root systemd-analyze verify "$unit" >"$work/verify.out" 2>&1
vrc=$?
sed 's/^/   /' "$work/verify.out"
[ $vrc = 0 ] && [ ! -s "$work/verify.out" ] || fail "systemd-analyze verify $unit is not clean"
say "systemd-analyze verify $unit: clean"

step "start: the unit's ExecStart with NOTIFY_SOCKET"
start_daemon "$work/execd.log" journal

step "execctl run"
execctl health | sed 's/^/   /'
execctl run --json -- /bin/echo installed-ok >"$work/run.json" 2>"$work/run.err"
rc=$?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("   execution %s: %s (exit code %s, attempts %s)" % (d["execution_id"], d["state"], d["result"]["exit_code"], d["attempts"]))' "$work/run.json" ||
  { cat "$work/run.json" "$work/run.err"; fail "execctl run printed no execution"; }
grep -q '"state": *"SUCCEEDED"' "$work/run.json" && [ $rc = 0 ] || fail "execctl run: not SUCCEEDED (status $rc)"
exec_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["execution_id"])' "$work/run.json")
execctl logs "$exec_id" | sed 's/^/   log: /'

step "stop: SIGTERM"
stop_daemon
step "journal: what execd sent to the journal socket (stderr was the journal stream)"
sed -n 's/^journal: /   /p' "$work/journal.out"
grep -q '^journal: MESSAGE=.*| PRIORITY=[0-7] | SYSLOG_IDENTIFIER=execd | EXECD_COMPONENT=transport http | EXECD_PLUGIN=transport http' "$work/journal.out" ||
  fail "no structured journal entry of the http transport"
[ ! -s "$work/execd.log" ] || { sed 's/^/   stderr: /' "$work/execd.log"; fail "execd wrote to stderr besides the journal"; }

step "purge: apt-get purge"
in_root_net apt-get purge -y execd execd-backend-docker libexecd-plugin-dev >"$work/purge.log" 2>&1 ||
  { tail -n 30 "$work/purge.log"; fail "apt-get purge failed"; }
grep -E '^(Removing|Purging)' "$work/purge.log" | sed 's/^/   /'
left=$(in_root dpkg -l | awk '$2 ~ /execd/ {print $1, $2}')
[ -z "$left" ] || fail "dpkg still knows: $left"
# Every path the packages held is gone, except directories other packages
# share (/usr, /etc, /lib/systemd/system, ...).
leftover=
while IFS= read -r p; do
  [ -e "$root$p" ] || continue
  [ -d "$root$p" ] && [ -n "$(ls -A "$root$p")" ] && continue
  leftover="$leftover $p"
done <"$work/installed.txt"
# What execd and its maintainer scripts made: state, config, unit links.
# (var/cache/man: man-db's cache of the pages systemd-analyze verify read.)
made=$(cd "$root" && find etc var lib run -path var/cache/man -prune -o -name '*execd*' -print 2>/dev/null)
[ -z "$leftover$made" ] || fail "left after purge:$leftover $made"
say "no file of the packages left; nothing named execd under /etc /var /lib /run"
in_root getent passwd execd >/dev/null &&
  say "system user execd kept, as Debian packages do: files it owns may remain, a reused uid would get them"

step "install test passed in $((SECONDS - t_start)) s"
