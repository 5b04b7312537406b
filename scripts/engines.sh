#!/bin/sh
# Private container engines for execd's tests, CI and benchmarks (as root):
# a dockerd and a `podman system service` on their own sockets, state and
# data directories, so they neither use nor disturb an engine the machine
# already runs, plus the test image busybox:local in both, built from the
# busybox-static binary (no registry is needed).  The dockerd also listens
# on 127.0.0.1:$EXECD_ENGINES_DOCKER_TLS_PORT (default 12376) with TLS and
# client certificates (--tlsverify), for the TCP endpoint tests; the CA,
# server and client certificates are made with openssl in the run
# directory's docker-tls/ when missing (ca.pem, cert.pem and key.pem are
# the client's, as DOCKER_CERT_PATH has them; the file "endpoint" holds
# tcp://127.0.0.1:PORT).
#
#   scripts/engines.sh start    start what is not running, build the image if missing
#   scripts/engines.sh stop     remove containers labelled execd*, stop both engines
#   scripts/engines.sh status   sockets, pids and engine versions
#   scripts/engines.sh docker|podman ARGS...   that engine's CLI on the private engine
#
# The exit status of start and status says which engine is not usable:
# bit 1 docker, bit 2 podman (so 0 both fine, 1 docker, 2 podman, 3 neither),
# bit 4 docker's TLS endpoint.
# Sockets: $EXECD_DOCKER_SOCKET and $EXECD_PODMAN_SOCKET for the tests; the
# TLS endpoint: $EXECD_DOCKER_TLS_HOST and $EXECD_DOCKER_TLS_CERT_DIR.
set -u

run_dir=${EXECD_ENGINES_RUN_DIR:-/run/execd-test}
data_dir=${EXECD_ENGINES_DATA_DIR:-/var/lib/execd-test}
image=busybox:local
docker_sock=$run_dir/docker.sock
podman_sock=$run_dir/podman.sock
start_timeout=${EXECD_ENGINES_START_TIMEOUT:-60}
docker_tls_port=${EXECD_ENGINES_DOCKER_TLS_PORT:-12376}
docker_tls_dir=$run_dir/docker-tls
docker_tls_host=tcp://127.0.0.1:$docker_tls_port
docker_bit=1
podman_bit=2
docker_tls_bit=4

say() { printf 'engines: %s\n' "$*"; }
loud() {
  printf '\n!!! engines: %s\n\n' "$*" >&2
}

usage() {
  echo "usage: $0 start|stop|status | docker ARGS... | podman ARGS..." >&2
  exit 2
}

# --- helpers ------------------------------------------------------------------

pings() { # SOCKET: does an engine answer GET /_ping there?
  [ -S "$1" ] && curl -fsS --max-time 5 --unix-socket "$1" http://engine/_ping >/dev/null 2>&1
}

tls_pings() { # does dockerd answer GET /_ping on its TLS endpoint, with the client certificate?
  curl -fsS --max-time 5 --cacert "$docker_tls_dir/ca.pem" --cert "$docker_tls_dir/cert.pem" \
    --key "$docker_tls_dir/key.pem" "https://127.0.0.1:$docker_tls_port/_ping" >/dev/null 2>&1
}

# PIDFILE MARK: the pid in PIDFILE if that process is alive and its command
# line contains MARK (a recycled pid must not be signalled).
live_pid() {
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  echo "$pid"
}

# SOCKET PID: wait until SOCKET answers or PID dies or the timeout passes.
wait_ping() {
  waited=0
  while ! pings "$1"; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "exited without answering on $1"
      return 1
    fi
    if [ "$waited" -ge $((start_timeout * 10)) ]; then
      echo "did not answer on $1 within ${start_timeout}s (pid $2 left running)"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Podman keeps its state where these flags say; the service and every CLI
# call must use the same ones.  runc, not crun: crun refuses hybrid cgroup
# v1/v2 hosts ("cgroups in hybrid mode not supported"), runc runs on both.
podman_flags="--root $data_dir/podman --runroot $run_dir/podman-run --tmpdir $run_dir/podman-tmp"
if command -v runc >/dev/null 2>&1; then
  podman_flags="$podman_flags --runtime runc"
fi

# Podman, unlike dockerd, does not let plain HTTP reach a registry on the
# loopback unless registries.conf marks it insecure; the private engine
# gets a registries.conf of its own that does (the image pull tests run a
# registry on 127.0.0.1), and the machine's /etc/containers/registries.conf
# is neither read nor changed.  Drop-ins in registries.conf.d still apply.
podman_registries_conf=$run_dir/podman-registries.conf

write_podman_registries_conf() {
  cat >"$podman_registries_conf" <<'EOF'
# Written by execd's scripts/engines.sh for its private podman service.
[[registry]]
location = "127.0.0.1"
insecure = true
EOF
}

podman_cmd() {
  # shellcheck disable=SC2086 # the flags are words without blanks
  if [ -f "$podman_registries_conf" ]; then
    CONTAINERS_REGISTRIES_CONF=$podman_registries_conf podman $podman_flags "$@"
  else
    podman $podman_flags "$@"
  fi
}

docker_cmd() {
  DOCKER_HOST=unix://$docker_sock docker "$@"
}

engine_cmd() { # ENGINE ARGS...
  e=$1
  shift
  case $e in
    docker) docker_cmd "$@" ;;
    podman) podman_cmd "$@" ;;
  esac
}

# --- TLS material for dockerd's TCP listener ---------------------------------------

# A CA, a server certificate for 127.0.0.1 and localhost, and a client
# certificate, all signed by the CA (EC P-256 keys, valid ten years).
# Kept while they still verify, so a running dockerd and the tests agree.
make_tls_certs() {
  d=$docker_tls_dir
  if [ -f "$d/ca.pem" ] && [ -f "$d/server-key.pem" ] && [ -f "$d/key.pem" ] &&
    openssl verify -CAfile "$d/ca.pem" "$d/server-cert.pem" "$d/cert.pem" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null 2>&1 || {
    loud "docker: openssl is not installed (apt-get install openssl): no TLS endpoint"
    return 1
  }
  rm -rf "$d"
  mkdir -p "$d" && chmod 700 "$d" || return 1
  (
    set -e
    cd "$d"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca-key.pem
    openssl req -x509 -new -key ca-key.pem -days 3650 -subj "/CN=execd test CA" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -out ca.pem
    sign() { # NAME CN EXTENSIONS
      key "$1-key.pem"
      openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1-cert.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    sign server "execd test dockerd" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
    sign client "execd tests" "extendedKeyUsage=clientAuth"
    mv client-key.pem key.pem
    mv client-cert.pem cert.pem
    chmod 600 ./*key.pem
  ) || {
    loud "docker: could not make the TLS certificates in $d"
    return 1
  }
  say "docker: TLS certificates made in $d"
}

# After dockerd answers on its socket: its TLS endpoint must answer too.
check_docker_tls() {
  tries=0
  while ! tls_pings && [ "$tries" -lt 50 ]; do
    sleep 0.1
    tries=$((tries + 1))
  done
  if tls_pings; then
    echo "$docker_tls_host" >"$docker_tls_dir/endpoint"
    say "docker: TLS endpoint $docker_tls_host answers (certificates in $docker_tls_dir)"
    return 0
  fi
  rm -f "$docker_tls_dir/endpoint"
  loud "docker: no TLS answer on $docker_tls_host (a dockerd started without it? scripts/engines.sh stop; scripts/engines.sh start)"
  return 1
}

# --- crun, the second OCI runtime -------------------------------------------------

# crun (Debian package crun) is registered as the runtime "crun" with the
# dockerd (daemon.json "runtimes", applied by a reload: SIGHUP, no
# restart), and its name for podman, which picks a runtime per container
# by name or absolute path, is written to $run_dir/podman-crun
# ($run_dir/docker-crun for dockerd); the tests of the runtime key read
# them.  crun refuses a hybrid cgroup host whose v2 hierarchy holds a
# controller ("cgroups in hybrid mode not supported"); there it runs
# through a wrapper that hides /sys/fs/cgroup/unified in a mount namespace
# of its own, so it uses the v1 controllers as runc does.
crun_wrapper=$run_dir/crun-hybrid

crun_path() {
  crun=$(command -v crun) || return 1
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] &&
     [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    cat >"$crun_wrapper" <<EOF2
#!/bin/sh
# Written by execd's scripts/engines.sh: crun on a hybrid cgroup host.
exec unshare --mount --propagation private sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec $crun "\$@"' crun "\$@"
EOF2
    chmod 755 "$crun_wrapper"
    echo "$crun_wrapper"
  else
    echo "$crun"
  fi
}

docker_daemon_json() { # the private dockerd's configuration
  if path=$(crun_path); then
    printf '{"runtimes": {"crun": {"path": "%s"}}}\n' "$path"
  else
    echo '{}'
  fi
}

register_crun() {
  rm -f "$run_dir/docker-crun" "$run_dir/podman-crun"
  path=$(crun_path) || {
    say "crun is not installed: the runtime = \"crun\" tests do not run (apt-get install crun)"
    return 0
  }
  echo "$path" >"$run_dir/podman-crun"
  if pings "$docker_sock"; then
    conf=$(docker_daemon_json)
    if [ "$conf" != "$(cat "$run_dir/docker-daemon.json" 2>/dev/null)" ]; then
      echo "$conf" >"$run_dir/docker-daemon.json"
      pid=$(live_pid "$run_dir/docker.pid" "$docker_sock") && kill -HUP "$pid"
      sleep 1
    fi
    if curl -fsS --max-time 10 --unix-socket "$docker_sock" http://engine/info 2>/dev/null |
         grep -q '"crun"'; then
      echo crun >"$run_dir/docker-crun"
    else
      loud "docker: crun is not among dockerd's runtimes after a reload"
    fi
  fi
  say "crun: $path (podman: $(cat "$run_dir/podman-crun"); docker: $(cat "$run_dir/docker-crun" 2>/dev/null || echo none))"
}

# --- start ----------------------------------------------------------------------

start_docker() {
  if pings "$docker_sock"; then
    say "docker: already running on $docker_sock"
    return 0
  fi
  command -v dockerd >/dev/null 2>&1 || {
    loud "docker: dockerd is not installed (apt-get install docker.io)"
    return 1
  }
  if pid=$(live_pid "$run_dir/docker.pid" "$docker_sock"); then
    say "docker: dockerd $pid is starting, waiting for it"
  else
    rm -f "$docker_sock" "$run_dir/docker.pid"
    # An empty config file: /etc/docker/daemon.json belongs to the machine's
    # own dockerd.  No bridge, NAT or iptables: test containers run with
    # NetworkMode none.  The containerd namespace keeps this dockerd's
    # containers apart should it share a system containerd.
    docker_daemon_json >"$run_dir/docker-daemon.json"
    # From the run directory, like podman below.  TLS applies to the TCP
    # listener only; the unix socket stays as it is.
    tls_args=
    make_tls_certs && tls_args="--host $docker_tls_host --tlsverify
      --tlscacert $docker_tls_dir/ca.pem --tlscert $docker_tls_dir/server-cert.pem
      --tlskey $docker_tls_dir/server-key.pem"
    # shellcheck disable=SC2086 # the TLS words have no blanks
    (cd "$run_dir" && exec setsid dockerd --config-file "$run_dir/docker-daemon.json" \
      --host "unix://$docker_sock" $tls_args --pidfile "$run_dir/docker.pid" \
      --data-root "$data_dir/docker" --exec-root "$run_dir/docker-exec" \
      --containerd-namespace execd-test --containerd-plugins-namespace execd-test-plugins \
      --bridge none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
      </dev/null >"$run_dir/dockerd.log" 2>&1) &
    pid=$!
  fi
  t0=$(date +%s%N)
  if ! why=$(wait_ping "$docker_sock" "$pid"); then
    loud "docker: dockerd $why; the end of $run_dir/dockerd.log:"
    tail -n 20 "$run_dir/dockerd.log" >&2
    return 1
  fi
  say "docker: dockerd $pid answers on $docker_sock after $((($(date +%s%N) - t0) / 1000000)) ms"
}

start_podman() {
  if pings "$podman_sock"; then
    say "podman: already running on $podman_sock"
    return 0
  fi
  command -v podman >/dev/null 2>&1 || {
    loud "podman: podman is not installed (apt-get install podman)"
    return 1
  }
  if pid=$(live_pid "$run_dir/podman.pid" "$podman_sock"); then
    say "podman: service $pid is starting, waiting for it"
  else
    rm -f "$podman_sock"
    # --time=0: the service stays up however long it is idle.  setsid execs
    # in place (a background job is no group leader), so $! is podman's pid.
    # shellcheck disable=SC2086
    # From the run directory: conmon leaves files such as "oom" in its
    # working directory, which must not be the caller's.
    write_podman_registries_conf
    (cd "$run_dir" && CONTAINERS_REGISTRIES_CONF=$podman_registries_conf \
      exec setsid podman $podman_flags system service --time=0 \
      "unix://$podman_sock" </dev/null >"$run_dir/podman.log" 2>&1) &
    pid=$!
    echo "$pid" >"$run_dir/podman.pid"
  fi
  t0=$(date +%s%N)
  if ! why=$(wait_ping "$podman_sock" "$pid"); then
    loud "podman: the service $why; the end of $run_dir/podman.log:"
    tail -n 20 "$run_dir/podman.log" >&2
    return 1
  fi
  say "podman: service $pid answers on $podman_sock after $((($(date +%s%N) - t0) / 1000000)) ms"
}

# --- the test image -------------------------------------------------------------

has_image() { # SOCKET
  curl -fsS --max-time 10 --unix-socket "$1" "http://engine/images/$image/json" >/dev/null 2>&1
}

# A root filesystem of the static busybox: /bin with one relative symlink per
# applet (an absolute link into the build directory would dangle inside the
# container), /etc/passwd and /etc/group with nobody/nogroup 65534 for
# non-root jobs, and a world-writable /tmp.
make_rootfs() { # DIR
  busybox=$(command -v busybox) || {
    loud "busybox is not installed (apt-get install busybox-static)"
    return 1
  }
  if ldd "$busybox" >/dev/null 2>&1; then
    loud "$busybox is dynamically linked; the image needs busybox-static"
    return 1
  fi
  mkdir -p "$1/bin" "$1/etc" "$1/tmp"
  cp "$busybox" "$1/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$1/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$1/etc/group"
  chmod 1777 "$1/tmp"
}

build_image() { # ENGINE SOCKET
  if has_image "$2"; then
    say "$1: image $image present"
    return 0
  fi
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/execd-rootfs.XXXXXX")
  ok=1
  # podman import reports its progress on stderr: shown only on failure.
  if make_rootfs "$rootfs/fs" &&
    tar -C "$rootfs/fs" -cf - . |
    engine_cmd "$1" import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - "$image" \
      >/dev/null 2>"$rootfs/import.err" &&
    has_image "$2"; then
    say "$1: image $image built from busybox-static"
    ok=0
  else
    loud "$1: could not build the image $image"
    cat "$rootfs/import.err" >&2
  fi
  rm -rf "$rootfs"
  return $ok
}

# --- stop -------------------------------------------------------------------------

# Ids of the containers (any state) with a label execd or execd.*.
labelled_containers() { # SOCKET
  curl -fsS --max-time 30 --unix-socket "$1" 'http://engine/containers/json?all=1' |
    python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if any(k == "execd" or k.startswith("execd.") for k in (c.get("Labels") or {})):
        print(c["Id"])'
}

remove_leftovers() { # ENGINE SOCKET
  n=0
  for id in $(labelled_containers "$2"); do
    if curl -fsS --max-time 60 --unix-socket "$2" -X DELETE \
      "http://engine/containers/$id?force=1&v=1" >/dev/null; then
      n=$((n + 1))
    else
      loud "$1: could not remove container $id"
    fi
  done
  [ "$n" -eq 0 ] || say "$1: removed $n leftover container(s) labelled execd*"
}

stop_engine() { # ENGINE SOCKET PIDFILE
  if pings "$2"; then
    remove_leftovers "$1" "$2"
  fi
  if ! pid=$(live_pid "$3" "$2"); then
    say "$1: not running"
    rm -f "$2"
    return 0
  fi
  kill -TERM "$pid"
  # dockerd stops its containerd and the service its conmons before exiting.
  waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 300 ]; then
      loud "$1: pid $pid ignored SIGTERM for 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$2" "$3"
  # Podman's overlay driver bind-mounts its layer directory onto itself and
  # leaves it mounted; unmounted so that the data directory can be removed.
  if [ "$1" = podman ] && mountpoint -q "$data_dir/podman/overlay"; then
    umount "$data_dir/podman/overlay" || loud "podman: could not unmount $data_dir/podman/overlay"
  fi
  say "$1: stopped (pid $pid)"
}

# --- status -----------------------------------------------------------------------

version_of() { # SOCKET
  v=$(curl -fsS --max-time 10 --unix-socket "$1" http://engine/version 2>/dev/null) || {
    echo "version unknown (GET /version did not answer in 10 s)"
    return 0
  }
  printf '%s\n' "$v" | python3 -c '
import json, sys
v = json.load(sys.stdin)
print("%s %s (API %s)" % (v.get("Components", [{}])[0].get("Name", "Engine"), v.get("Version"), v.get("ApiVersion")))'
}

status_engine() { # ENGINE SOCKET PIDFILE
  if pings "$2"; then
    pid=$(live_pid "$3" "$2") || pid="not ours"
    img=missing
    has_image "$2" && img=present
    say "$1: $2 pid $pid, $(version_of "$2"), image $image $img"
    return 0
  fi
  say "$1: not running ($2 does not answer)"
  return 1
}

# --- main -------------------------------------------------------------------------

[ $# -ge 1 ] || usage
action=$1
shift
case $action in
  start | stop | status) [ $# -eq 0 ] || usage ;;
  docker) docker_cmd "$@"; exit ;;
  podman) podman_cmd "$@"; exit ;;
  *) usage ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "engines.sh: run as root (it starts dockerd and podman)" >&2
  exit 1
fi
mkdir -p "$run_dir" "$data_dir"
failed=0
case $action in
  start)
    if { start_docker && build_image docker "$docker_sock"; }; then
      check_docker_tls || failed=$((failed | docker_tls_bit))
    else
      failed=$((failed | docker_bit | docker_tls_bit))
    fi
    { start_podman && build_image podman "$podman_sock"; } || failed=$((failed | podman_bit))
    register_crun
    [ $((failed & docker_bit)) -eq 0 ] || loud "docker engine NOT available: tests that need it will skip"
    [ $((failed & docker_tls_bit)) -eq 0 ] || loud "docker TLS endpoint NOT available: the TLS tests will skip"
    [ $((failed & podman_bit)) -eq 0 ] || loud "podman engine NOT available: tests that need it will skip"
    ;;
  stop)
    stop_engine docker "$docker_sock" "$run_dir/docker.pid"
    stop_engine podman "$podman_sock" "$run_dir/podman.pid"
    ;;
  status)
    status_engine docker "$docker_sock" "$run_dir/docker.pid" || failed=$((failed | docker_bit))
    if tls_pings; then
      say "docker: TLS endpoint $docker_tls_host answers (certificates in $docker_tls_dir)"
    else
      say "docker: TLS endpoint $docker_tls_host does not answer"
      failed=$((failed | docker_tls_bit))
    fi
    status_engine podman "$podman_sock" "$run_dir/podman.pid" || failed=$((failed | podman_bit))
    ;;
esac
exit $failed
