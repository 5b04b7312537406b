#!/bin/sh
# From a fresh Debian 12 machine (as root): install the build dependencies,
# build execd, run it on the embedded default (local backend, file storage,
# HTTP on 127.0.0.1) and submit one execution, printing its result.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ "${EXECD_SKIP_DEPS:-0}" = 1 ] || "$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
mkdir -p _build && cd _build
# (configure names core/ in its exit cleanup; its complaint is noise)
[ -f Makefile ] || ../configure -q >/dev/null 2>&1 || ../configure -q >/dev/null
make -j"$(nproc)" >/dev/null
build=$(pwd)
state=$(mktemp -d /tmp/execd-quickstart-XXXXXX)
port=${EXECD_PORT:-18080}
cat > "$state/execd.conf" <<CONF
daemon: { state_dir = "$state"; };
backends: ( { name = "local"; plugin = "local"; commands_allowed = [ "/bin/echo", "/bin/sh" ];
              defaults = { memory = "256M"; timeout = "30s"; }; } );
transports: ( { plugin = "http"; listen = "127.0.0.1:$port"; } );
CONF
export EXECD_PLUGIN_PATH="$build/plugins/backend/local:$build/plugins/storage/file:$build/plugins/transport/http"
"$build/core/execd" -c "$state/execd.conf" 2>"$state/execd.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "execd is running (pid $pid, log $state/execd.log); submitting an execution:"
curl -fsS -X POST "http://127.0.0.1:$port/v1/executions?wait=30" \
  -H 'Content-Type: application/json' --data-binary @- <<'JSON' | python3 -m json.tool
{"container": {"command": ["/bin/sh", "-c",
  "echo hello from execd; echo '{\"sum\": 42}' > \"$WORKSPACE_OUTPUT/result.json\""]}}
JSON
