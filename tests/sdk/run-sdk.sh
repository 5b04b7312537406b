#!/bin/sh
# The SDK test (DESIGN §6): install execd into a staging directory with
# make install DESTDIR=..., check execd-plugin.pc and the installed headers,
# build the sample plugin (tests/sample-plugin) out of tree against them
# with pkg-config, and load it with the installed execd: --check-config,
# a mistyped key of the plugin, and (with the http transport and curl) one
# execution run through it.
#
# Run by make check; EXECD_SRCDIR, EXECD_BUILDDIR and EXECD_SDK_* come from
# tests/sdk/sdk.mk.  EXECD_SDK_KEEP=1 keeps the temporary directory.
set -eu

: "${EXECD_SRCDIR:?run through make check}" "${EXECD_BUILDDIR:?run through make check}"
: "${EXECD_SDK_SBINDIR:?run through make check}"
make_cmd=${EXECD_SDK_MAKE:-make}
cc=${EXECD_SDK_CC:-cc}

tmp=$(mktemp -d /tmp/execd-sdk-XXXXXX)
stage=$tmp/stage
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || :
    wait "$daemon_pid" 2>/dev/null || :
  fi
  if [ "${EXECD_SDK_KEEP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

# Shows a log file and fails.
fail_log() {
  echo "--- $2" >&2
  tail -n 40 "$2" >&2
  fail "$1"
}

command -v pkg-config >/dev/null || { echo "SKIP: pkg-config is not installed"; exit 77; }

# The outer make's jobserver is not ours to use.
unset MAKEFLAGS MFLAGS MAKELEVEL || :

# --- 1. install into the staging directory ------------------------------
step "make install DESTDIR=$stage"
(cd "$EXECD_BUILDDIR" && $make_cmd install DESTDIR="$stage") >"$tmp/install.log" 2>&1 ||
  fail_log "make install failed" "$tmp/install.log"

# --- 2. execd-plugin.pc ---------------------------------------------------
pc=$(find "$stage" -path '*/pkgconfig/execd-plugin.pc' | head -n 1)
[ -n "$pc" ] || fail "execd-plugin.pc was not installed"
step "pkg-config execd-plugin ($pc)"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pkg-config --print-errors --exists execd-plugin || fail "pkg-config cannot use $pc"
# Variables as installed (without the sysroot prefix some pkg-config add).
pc_var() { PKG_CONFIG_SYSROOT_DIR= pkg-config --variable="$1" execd-plugin; }
includedir=$(pc_var includedir)
plugindir=$(pc_var plugindir)
[ -n "$includedir" ] && [ -n "$plugindir" ] || fail "execd-plugin.pc lacks includedir or plugindir"
[ -f "$stage$includedir/execd/plugin.h" ] ||
  fail "includedir $includedir of execd-plugin.pc has no execd/plugin.h"
ls "$stage$plugindir"/*.so >/dev/null 2>&1 ||
  fail "plugindir $plugindir of execd-plugin.pc holds no plugin"
cflags=$(pkg-config --cflags execd-plugin)
case " $cflags " in
  *" -I$stage$includedir "*) ;;
  *) fail "pkg-config --cflags execd-plugin ('$cflags') lacks -I$stage$includedir" ;;
esac
requires=$(pkg-config --print-requires execd-plugin)
for dep in jansson libuv; do
  echo "$requires" | grep -q "^$dep\b" || fail "execd-plugin.pc does not require $dep (the headers include it)"
done
libs=$(pkg-config --libs execd-plugin)
abi_major=$(pc_var abi_major)
abi_minor=$(pc_var abi_minor)
echo "cflags: $cflags"
echo "libs: $libs"
echo "plugindir: $plugindir (ABI $abi_major.$abi_minor)"

# --- 3. the headers are self-contained ------------------------------------
step "each installed header compiles on its own (C11, C++)"
for h in "$stage$includedir"/execd/*.h; do
  name=execd/$(basename "$h")
  printf '#include <%s>\nint execd_sdk_header_check;\n' "$name" >"$tmp/header.c"
  # POSIX for <uv.h>; no config.h, no HAVE_*.
  $cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror $cflags \
    -fsyntax-only "$tmp/header.c" 2>"$tmp/header.log" ||
    fail_log "<$name> does not compile on its own" "$tmp/header.log"
done
if command -v c++ >/dev/null; then
  printf '#include <execd/plugin.h>\nint execd_sdk_header_check;\n' >"$tmp/header.cc"
  c++ -Wall -Wextra -Werror $cflags -fsyntax-only "$tmp/header.cc" 2>"$tmp/header.log" ||
    fail_log "<execd/plugin.h> does not compile as C++" "$tmp/header.log"
fi
grep -q "EXECD_ABI_MAJOR $abi_major\$" "$stage$includedir/execd/version.h" ||
  fail "abi_major=$abi_major of execd-plugin.pc differs from <execd/version.h>"
grep -q "EXECD_ABI_MINOR $abi_minor\$" "$stage$includedir/execd/version.h" ||
  fail "abi_minor=$abi_minor of execd-plugin.pc differs from <execd/version.h>"

# --- 4. the sample plugin, out of tree ------------------------------------
src=$tmp/sample-src
build=$tmp/sample-build
cp -R "$EXECD_SRCDIR/tests/sample-plugin" "$src"
chmod -R u+w "$src" # a distcheck source tree is read-only
mkdir "$build"
if command -v autoreconf >/dev/null && command -v libtoolize >/dev/null; then
  step "sample plugin: autoreconf, configure, make, make install (in $build)"
  (cd "$src" && autoreconf -fi) >"$tmp/sample.log" 2>&1 ||
    fail_log "autoreconf of the sample plugin failed" "$tmp/sample.log"
  (cd "$build" && "$src/configure" CC="$cc" CFLAGS="-O2 -g -Wall -Wextra -Werror" &&
    $make_cmd && $make_cmd install DESTDIR="$tmp/sample-dest") >>"$tmp/sample.log" 2>&1 ||
    fail_log "building the sample plugin failed" "$tmp/sample.log"
  # It installs into execd's plugindir, taken from execd-plugin.pc.
  echo_so=$(find "$tmp/sample-dest" -name backend_echo.so | head -n 1)
  [ -n "$echo_so" ] || fail "make install of the sample plugin installed no backend_echo.so"
  case "$echo_so" in
    *"$plugindir/backend_echo.so") ;;
    *) fail "the sample plugin went to $echo_so, not into plugindir $plugindir" ;;
  esac
  # distros delete .la files: load the bare .so
  rm -f "$(dirname "$echo_so")/backend_echo.la"
else
  step "sample plugin: autotools are missing; building with the compiler and pkg-config"
  echo_so=$build/backend_echo.so
  $cc -shared -fPIC -fvisibility=hidden -O2 -Wall -Wextra -Werror -DPACKAGE_VERSION='"1.0"' \
    $cflags "$src/echo.c" -o "$echo_so" $libs >"$tmp/sample.log" 2>&1 ||
    fail_log "building the sample plugin failed" "$tmp/sample.log"
fi
if command -v nm >/dev/null; then
  exported=$(nm -D --defined-only "$echo_so" | awk '$2 == "T" { print $3 }')
  [ "$exported" = execd_plugin_entry ] ||
    fail "backend_echo.so exports '$exported', expected only execd_plugin_entry"
fi

# --- 5. the installed execd loads it --------------------------------------
execd=$stage$EXECD_SDK_SBINDIR/execd
if [ ! -e "$stage$plugindir/storage_file.so" ]; then
  # configure --disable-file: no storage to load the sample plugin with.
  echo "SKIP: the file storage is not built; the sample plugin was built but not loaded"
  exit 77
fi
[ -x "$execd" ] || fail "execd was not installed in $EXECD_SDK_SBINDIR"
"$execd" --version | grep -q "plugin ABI $abi_major.$abi_minor" ||
  fail "execd --version does not report plugin ABI $abi_major.$abi_minor"
# Installed plugins from plugin_dir, the sample from EXECD_PLUGIN_PATH;
# nothing from the build tree.
EXECD_PLUGIN_PATH=$(dirname "$echo_so")
export EXECD_PLUGIN_PATH

# write_conf FILE BACKEND-KEYS [TRANSPORTS]
write_conf() {
  cat >"$1" <<EOF
daemon: { state_dir = "$tmp/state"; plugin_dir = "$stage$plugindir"; log_level = "info"; };
storage: { plugin = "file"; path = "$tmp/state/store"; };
backends: ( { plugin = "echo"; $2 } );
${3:-}
EOF
}

step "execd --check-config with the sample plugin"
write_conf "$tmp/execd.conf" 'prefix = "sdk:"; delay = "10ms";'
"$execd" --check-config -c "$tmp/execd.conf" >"$tmp/check.out" 2>&1 ||
  fail_log "execd --check-config refused the sample plugin" "$tmp/check.out"
grep -q "configuration OK (1 backends, 0 transports, storage file)" "$tmp/check.out" ||
  fail_log "execd --check-config did not report the configuration OK" "$tmp/check.out"
[ ! -e "$tmp/state" ] || fail "--check-config created the state directory"

step "execd --check-config names a mistyped key of the sample plugin"
write_conf "$tmp/typo.conf" 'prefx = "sdk:";'
if "$execd" --check-config -c "$tmp/typo.conf" >"$tmp/typo.out" 2>&1; then
  fail_log "execd --check-config accepted the unknown key 'prefx'" "$tmp/typo.out"
fi
grep -q "typo.conf:3: backend 'echo': prefx: unknown setting for plugin 'echo' (known: prefix, delay)" \
  "$tmp/typo.out" || fail_log "the error does not name file, line and the plugin's keys" "$tmp/typo.out"

# --- 6. one execution through it ------------------------------------------
if [ ! -e "$stage$plugindir/transport_http.so" ] || ! command -v curl >/dev/null; then
  echo "(no http transport or no curl: not running an execution)"
  echo "PASS: sample plugin built against the installed SDK and loaded"
  exit 0
fi
step "an execution through the installed execd, http transport and sample plugin"
write_conf "$tmp/run.conf" 'prefix = "sdk:";' \
  'transports: ( { plugin = "http"; listen = "127.0.0.1:0"; } );'
"$execd" -c "$tmp/run.conf" 2>"$tmp/daemon.log" &
daemon_pid=$!
# Wait for the listening line (the port is chosen by the kernel).
# The bound only keeps a broken daemon from hanging the suite.
url=
tries=0
while [ -z "$url" ]; do
  kill -0 "$daemon_pid" 2>/dev/null || fail_log "execd exited before listening" "$tmp/daemon.log"
  [ $tries -lt 1200 ] || fail_log "execd is not listening after 2 minutes" "$tmp/daemon.log"
  addr=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9][0-9]*\).*/\1/p' "$tmp/daemon.log" | head -n 1)
  if [ -n "$addr" ]; then url=http://$addr; else sleep 0.1; tries=$((tries + 1)); fi
done
curl -sS -X POST "$url/v1/executions?wait=60" -H 'Content-Type: application/json' \
  -d '{"container": {"command": ["echo", "hello", "plugin", "authors"]}}' >"$tmp/run.json" ||
  fail_log "submitting the execution failed" "$tmp/daemon.log"
grep -q '"state": *"SUCCEEDED"' "$tmp/run.json" || fail_log "the execution did not succeed" "$tmp/run.json"
grep -q '"backend": *"echo"' "$tmp/run.json" || fail_log "the execution did not run on echo" "$tmp/run.json"
grep -q 'sdk: hello plugin authors' "$tmp/run.json" ||
  fail_log "the execution's logs lack the sample plugin's output" "$tmp/run.json"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
[ "$status" -eq 0 ] || fail_log "execd exited with $status after SIGTERM" "$tmp/daemon.log"
echo "PASS: sample plugin built against the installed SDK, loaded and ran an execution"
