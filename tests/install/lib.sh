# Shared by run-install-test.sh and run-upgrade-test.sh (bash, as root):
# building the packages from a clean copy of the tree, the cached Debian 12
# root made with mmdebstrap, running commands in it, and starting execd the
# way its unit does with a NOTIFY_SOCKET this script listens on.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${EXECD_CI_CACHE:-/var/cache/execd-ci}
suite=bookworm
# What the root has beyond mmdebstrap's apt variant: systemd-analyze and
# man for `systemd-analyze verify` of the installed unit.  execd's own
# dependencies are not preinstalled: apt-get install ./*.deb must find them.
root_extra=systemd,man-db,ca-certificates

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
fail() { printf '!! %s\n' "$*"; exit 1; }

work=$(mktemp -d /tmp/execd-install-XXXXXX)
root=$work/root
netns=execd-install-$$
daemon_pid=
notify_pid=
journal_pid=
mounted=

cleanup() {
  local rc=$?
  [ -z "$daemon_pid" ] || { kill -KILL "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; }
  [ -z "$notify_pid" ] || { kill "$notify_pid" 2>/dev/null; wait "$notify_pid" 2>/dev/null; }
  [ -z "$journal_pid" ] || { kill "$journal_pid" 2>/dev/null; wait "$journal_pid" 2>/dev/null; }
  for m in $mounted; do umount -l "$m" 2>/dev/null || echo "!! could not unmount $m"; done
  ip netns del "$netns" 2>/dev/null
  if [ "${EXECD_INSTALL_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The host's Debian mirrors (deb822 .sources or one-line .list), so the root
# comes from the same archive the host uses.
host_mirror() {  # SUITE-SUFFIX ("" or -security)
  local want=$1
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' |
    tr ' ' '\n' | grep -E "/debian${want}/?\$" | head -n 1
}

apt_sources() {
  local main sec
  main=$(host_mirror "") || true
  sec=$(host_mirror "-security") || true
  [ -n "$main" ] || main=http://deb.debian.org/debian
  echo "deb $main $suite main"
  echo "deb $main $suite-updates main"
  [ -z "$sec" ] || echo "deb $sec $suite-security main"
}

# A copy of the tree as git sees it (tracked and new files, not ignored
# ones): the worktree's own build directories stay out.
clean_copy() {  # DEST
  mkdir -p "$1"
  (cd "$top" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$1"
}

build_packages() {  # SRC-DIR (its parent receives the .debs) [dpkg-buildpackage args]
  local src=$1; shift
  (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
     dpkg-buildpackage -us -uc -b "$@") >"$src.build.log" 2>&1 ||
    { tail -n 40 "$src.build.log"; fail "dpkg-buildpackage failed (log: $src.build.log)"; }
  grep -E "^dpkg-deb: building package" "$src.build.log" | sed 's/^/   /'
}

# The packages of the tree, in $build/: built there from a clean copy, or,
# when EXECD_INSTALL_BUILD names a directory that already holds a build of
# the same tree content (the install test's, for the upgrade test in CI),
# taken from there.
build_tree() {
  build=${EXECD_INSTALL_BUILD:-$work/build}
  clean_copy "$work/tree"
  local sum
  # tests/install/ is not packaged: editing the tests does not rebuild.
  sum=$(cd "$work/tree" && find . -path ./tests/install -prune -o -type f -print0 | sort -z |
          xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ -n "${EXECD_INSTALL_BUILD:-}" ] && [ "$(cat "$build/tree.sum" 2>/dev/null)" = "$sum" ] &&
     ls "$build"/execd_*.deb >/dev/null 2>&1; then
    say "reusing the build of this tree (content $sum) in $build:"
    (cd "$build" && ls -1 ./*.deb | sed 's/^/   /')
  else
    rm -rf "$build" && mkdir -p "$build" && mv "$work/tree" "$build/execd"
    build_packages "$build/execd"
    echo "$sum" >"$build/tree.sum"
  fi
  rm -rf "$work/tree"
  version=$(cd "$build/execd" && dpkg-parsechangelog -S Version)
}

# The Debian 12 root: mmdebstrap once, then a cached tarball (refreshed
# after a week, or when the sources or extra packages change).
make_root() {
  local sources key tarball
  sources=$(apt_sources)
  key=$(printf '%s\n%s\n' "$sources" "$root_extra" | sha256sum | cut -c1-12)
  tarball=$cache/debian-$suite-$key.tar
  mkdir -p "$cache"
  if [ -s "$tarball" ] && [ -n "$(find "$tarball" -mtime -7)" ]; then
    say "root: cached $tarball"
  else
    say "root: mmdebstrap $suite from: $(echo "$sources" | awk '{print $2}' | sort -u | tr '\n' ' ')"
    rm -f "$cache"/debian-$suite-*.tar
    echo "$sources" | mmdebstrap --variant=apt --format=tar --include="$root_extra" --quiet \
      "$suite" "$tarball.tmp" - >"$work/mmdebstrap.log" 2>&1 ||
      { tail -n 30 "$work/mmdebstrap.log"; rm -f "$tarball.tmp"; fail "mmdebstrap failed"; }
    mv "$tarball.tmp" "$tarball"
  fi
  mkdir -p "$root"
  tar -xf "$tarball" -C "$root"
  echo "$sources" > "$root/etc/apt/sources.list"
  mount -t proc proc "$root/proc" && mounted="$root/proc $mounted"
  mount --bind /dev "$root/dev" && mounted="$root/dev $mounted"
  # Its own network namespace: the shipped config listens on 127.0.0.1:8080,
  # which may be taken on this host.
  ip netns add "$netns" && ip -n "$netns" link set lo up || fail "cannot make network namespace $netns"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  in_root_net apt-get update -qq --error-on=any || fail "apt-get update in the root failed"
}

# A command in the root: with the host's network (apt), or in the test's
# network namespace (execd, execctl and the rest).
in_root_net() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                  DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
in_root() { ip netns exec "$netns" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
              DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

install_debs() {  # DIR-WITH-DEBS
  rm -rf "$root/tmp/debs" && mkdir -p "$root/tmp/debs"
  cp "$1"/execd_*.deb "$1"/execd-backend-docker_*.deb "$1"/libexecd-plugin-dev_*.deb "$root/tmp/debs/"
  in_root_net sh -c 'apt-get install -y --no-install-recommends /tmp/debs/*.deb' >"$work/apt.log" 2>&1 ||
    { tail -n 40 "$work/apt.log"; fail "apt-get install ./*.deb failed"; }
  grep -E '^(Unpacking|Preparing to unpack|Setting up) (execd|libexecd)|^[0-9]+ upgraded' "$work/apt.log" | sed 's/^/   /'
}

# The unit's ExecStart and its capability bounding set, read from the
# installed unit so that the test runs what systemd would.
unit=/lib/systemd/system/execd.service
unit_value() { sed -n "s/^$1=//p" "$root$unit" | tail -n 1; }

# Starts execd as the unit's ExecStart with NOTIFY_SOCKET, NoNewPrivileges
# and the unit's CapabilityBoundingSet (setpriv), and waits for READY=1.
# With "journal", stderr is announced as the journal stream (JOURNAL_STREAM)
# and a listener on the root's /run/systemd/journal/socket prints what
# execd sends to the journal into $work/journal.out.
start_daemon() {  # LOG [journal]
  local log=$1 caps exec journal_env=
  : >"$log"
  if [ "${2:-}" = journal ]; then
    mkdir -p "$root/run/systemd/journal"
    python3 "$here/notify-listen.py" --forever --journal "$root/run/systemd/journal/socket" \
      >"$work/journal.out" 2>&1 &
    journal_pid=$!
    for _ in $(seq 50); do grep -q listening "$work/journal.out" && break; sleep 0.1; done
    journal_env="JOURNAL_STREAM=$(stat -c %d:%i "$log")"
  fi
  exec=$(unit_value ExecStart)
  caps=$(unit_value CapabilityBoundingSet | tr ' ' '\n' | sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd, -)
  [ -n "$exec" ] && [ -n "$caps" ] || fail "cannot read ExecStart/CapabilityBoundingSet of $unit"
  : >"$work/notify.out"
  python3 "$here/notify-listen.py" --forever "$root/run/execd-notify.sock" >"$work/notify.out" 2>&1 &
  notify_pid=$!
  for _ in $(seq 50); do grep -q listening "$work/notify.out" && break; sleep 0.1; done
  say "ExecStart=$exec (NoNewPrivileges, bounding set $caps)"
  ip netns exec "$netns" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
    NOTIFY_SOCKET=/run/execd-notify.sock $journal_env \
    setpriv --no-new-privs --bounding-set "-all,$caps" $exec >"$log" 2>&1 &
  daemon_pid=$!
  local t0=$SECONDS
  until grep -q '^notify: READY=1$' "$work/notify.out"; do
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$log"; fail "execd exited before READY=1"; }
    [ $((SECONDS - t0)) -lt 60 ] || { cat "$log"; fail "no READY=1 within 60 s"; }
    sleep 0.2
  done
  sed -n 's/^notify: /   notify: /p' "$work/notify.out"
  say "READY=1 after $((SECONDS - t0)) s"
}

# SIGTERM, the exit status, and STOPPING=1 on the socket.
stop_daemon() {
  kill -TERM "$daemon_pid"
  local rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=
  grep -q '^notify: STOPPING=1$' "$work/notify.out" || fail "no STOPPING=1 on SIGTERM"
  sed -n '/STOPPING=1/,$s/^notify: /   notify: /p' "$work/notify.out"
  kill "$notify_pid" 2>/dev/null; wait "$notify_pid" 2>/dev/null; notify_pid=
  rm -f "$root/run/execd-notify.sock" "$root/run/systemd/journal/socket"
  if [ -n "$journal_pid" ]; then
    kill "$journal_pid" 2>/dev/null; wait "$journal_pid" 2>/dev/null; journal_pid=
  fi
  say "execd exited with status $rc"
  [ $rc = 0 ] || fail "execd exited with $rc"
}

execctl() { in_root execctl "$@"; }

# Field of an execution document (execctl get --json ID).
exec_field() {  # ID FIELD
  execctl get --json "$1" | python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$2"
}

wait_state() {  # ID STATE TIMEOUT
  local s t0=$SECONDS
  while :; do
    s=$(exec_field "$1" state)
    [ "$s" = "$2" ] && { say "execution $1: $s (attempts $(exec_field "$1" attempts))"; return 0; }
    case $s in SUCCEEDED|FAILED|TIMED_OUT|CANCELLED) fail "execution $1 ended $s, not $2";; esac
    [ $((SECONDS - t0)) -lt "$3" ] || fail "execution $1 still $s after $3 s"
    sleep 0.5
  done
}
