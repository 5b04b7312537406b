#!/bin/bash
# Runs every libFuzzer target of tests/fuzz for SECONDS each (two at a time
# by default) under ASan and UBSan, and fails if any of them finds a crash,
# a leak, a timeout or runs out of memory.  Prints per target the
# executions done:
#   fuzz_request: 1234567 execs in 40 s (30864/s), corpus 812 inputs: ok
#
#   tests/fuzz/run-fuzz.sh [-j JOBS] SECONDS [TARGET...]
#
# Runs in the build tree ($EXECD_BUILDDIR, else the current directory),
# which must be configured with --enable-fuzzing CC=clang; the targets are
# built here with "make fuzz" first.  Everything it writes is under
# BUILDDIR/tests/fuzz/work/: the corpus each target grew (kept, so the next
# run goes on from it), and the reproducer of a failure (crash-*, leak-*,
# timeout-*, oom-*).  The scratch files the targets make go to a private
# directory on /dev/shm (else under work/), removed at the end.
set -uo pipefail

jobs=2
if [ "${1:-}" = -j ]; then
  jobs=$2
  shift 2
fi
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  echo "usage: $0 [-j JOBS] SECONDS [TARGET...]" >&2
  exit 2
fi
seconds=$1
shift
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(cd "${EXECD_BUILDDIR:-.}" && pwd)
cd "$builddir" || exit 2
if ! ./config.status --config 2>/dev/null | grep -q -e '--enable-fuzzing'; then
  echo "$0: $builddir is not configured with --enable-fuzzing CC=clang" >&2
  exit 2
fi
all="request tokens journal workflow engine_frames http_route config jsonschema agent_file pg_row redis_message kube_api kubeconfig launch_file engine_events"
targets=${*:-$all}
bins=""
for t in $targets; do bins="$bins tests/fuzz/fuzz_${t#fuzz_}"; done
make -s -j"$jobs" $bins >/dev/null || { echo "$0: make$bins failed" >&2; exit 1; }

work=$builddir/tests/fuzz/work
mkdir -p "$work"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  scratch=$(mktemp -d /dev/shm/execd-fuzz.XXXXXX)
else
  scratch=$(mktemp -d "$work/scratch.XXXXXX")
fi
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM HUP

# The longest input worth trying per target: what the parser is given in
# one piece in the daemon, bounded so that each run stays fast.
max_len() {
  case $1 in
    workflow) echo 140000 ;;  # beyond WORKFLOW_MAX_LINE (64 KiB): cut lines
    journal) echo 65536 ;;
    request|config|tokens) echo 32768 ;;
    http_route) echo 8192 ;;
    *) echo 16384 ;;
  esac
}

# Runs one target; its summary line goes to work/NAME/summary.
run_one() {
  local t=$1 name=fuzz_$1
  local dir=$work/$name
  mkdir -p "$dir/corpus" "$scratch/$name"
  rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir/summary"
  local dict=() seeds=()
  [ -f "$srcdir/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$srcdir/tests/fuzz/dict/$t.dict")
  [ -d "$srcdir/tests/fuzz/corpus/$t" ] && seeds=("$srcdir/tests/fuzz/corpus/$t")
  local start end rc
  start=$(date +%s)
  TMPDIR=$scratch/$name \
  LSAN_OPTIONS=suppressions=$srcdir/tests/fuzz/lsan.supp:print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1 \
    "tests/fuzz/$name" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" "${seeds[@]}" \
      </dev/null >"$dir/log" 2>&1
  rc=$?
  end=$(date +%s)
  local execs corpus verdict=ok
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
  corpus=$(find "$dir/corpus" -type f | wc -l)
  if [ $rc -ne 0 ]; then
    verdict="FAILED (exit $rc)"
    local found
    found=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -n 1)
    [ -n "$found" ] && verdict="$verdict: reproduce with $builddir/tests/fuzz/$name $found"
  fi
  local secs=$((end - start))
  [ $secs -gt 0 ] || secs=1
  printf '%s: %s execs in %d s (%d/s), corpus %d inputs: %s\n' "$name" \
    "${execs:-0}" "$secs" "$(( ${execs:-0} / secs ))" "$corpus" "$verdict" >"$dir/summary"
  return $rc
}

fail=0
running=0
for t in $targets; do
  t=${t#fuzz_}
  if [ $running -ge "$jobs" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ $running -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done

for t in $targets; do
  t=${t#fuzz_}
  dir=$work/fuzz_$t
  cat "$dir/summary" 2>/dev/null || { echo "fuzz_$t: no result"; fail=1; }
  if ! grep -q ': ok$' "$dir/summary" 2>/dev/null; then
    echo "--- fuzz_$t: the end of $dir/log"
    grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' "$dir/log" | tail -n 60
    fail=1
  fi
done
exit $fail
