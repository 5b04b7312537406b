#!/bin/sh
# The whole test suite on a fresh Debian 12 machine: installs the build
# dependencies, builds execd with -Werror in _build/, runs `make check`
# (unit tests, conformance suites, integration tests) and prints totals.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${EXECD_SKIP_DEPS:-0}" != 1 ]; then
  "$top/scripts/install-deps.sh"
fi
cd "$top"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --enable-werror -q >/dev/null
make -j"$(nproc)" >/dev/null
rc=0
make -j"$(nproc)" check || rc=$?
python3 "$top/scripts/test-totals.py" .
exit $rc
