# The kubernetes section of bench/container-latency (sourced by it; uses
# its count, tmp, builddir, execd, sequential, percentiles, p50_of, p90_of
# and ratio): one execution of `true` in local/busybox:1 through execd's
# kubernetes-job backend against kubectl on the same cluster in the same
# run: `kubectl create` of a Job + `kubectl wait --for=condition=complete`
# + `kubectl logs` + `kubectl delete`.  Needs kube-local's env lines
# (KUBE_API, KUBE_TOKEN, KUBE_CA) and kubectl on PATH.
# shellcheck shell=sh disable=SC2317 # functions are called through "$1_run"

kube_image=${EXECD_KUBE_IMAGE:-local/busybox:1}
kube_execd_pid=

kube_stop() {
  if [ -n "$kube_execd_pid" ] && kill -0 "$kube_execd_pid" 2>/dev/null; then
    kill -TERM "$kube_execd_pid"
    wait "$kube_execd_pid" 2>/dev/null || true
  fi
  kube_execd_pid=
}

# execd with the kubernetes backend alone, configured as the tests
# configure it for kube-local (hostNetwork: its pods get no IP).
kube_start_execd() {
  trap 'kube_stop; stop_all' EXIT
  mkdir -p "$tmp/kube"
  printf '%s\n' "$KUBE_TOKEN" >"$tmp/kube/token"
  cat >"$tmp/kube/execd.conf" <<CONF
daemon: { state_dir = "$tmp/kube/state"; max_running = 4; log_level = "notice"; };
storage: { plugin = "file"; path = "$tmp/kube/state/store"; };
backends: ( { name = "kubernetes"; plugin = "kubernetes-job"; api_url = "$KUBE_API";
              ca_file = "$KUBE_CA"; token_file = "$tmp/kube/token";
              images_allowed = [ "${kube_image%%:*}:*" ]; helper_image = "$kube_image";
              pull = "never"; cpus = 0.1; termination_grace = "10s"; host_network = true; } );
transports: ( { plugin = "http"; listen = "127.0.0.1:0"; } );
CONF
  EXECD_PLUGIN_PATH="$builddir/plugins/storage/file:$builddir/plugins/transport/http:$builddir/plugins/backend/kubernetes" \
    "$execd" -c "$tmp/kube/execd.conf" >"$tmp/kube/execd.log" 2>&1 &
  kube_execd_pid=$!
  tries=0 port=
  while [ -z "$port" ]; do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/kube/execd.log" | head -n 1)
    [ -n "$port" ] && break
    if ! kill -0 "$kube_execd_pid" 2>/dev/null || [ $tries -ge 300 ]; then
      echo "$0: execd (kubernetes) did not start; its log:" >&2
      cat "$tmp/kube/execd.log" >&2
      return 1
    fi
    tries=$((tries + 1))
    sleep 0.05
  done
  kube_url=http://127.0.0.1:$port
}

kube_execd_run() {
  curl -sS -o "$tmp/kube/answer" -w '%{http_code}' -X POST "$kube_url/v1/executions?wait=300" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"backend\":\"kubernetes\",\"container\":{\"image\":\"$kube_image\",\"command\":[\"true\"]}}" \
    >"$tmp/kube/code" || return 1
  if [ "$(cat "$tmp/kube/code")" != 201 ] || ! grep -q '"state": *"SUCCEEDED"' "$tmp/kube/answer"; then
    echo "$0: execution on kubernetes did not succeed: HTTP $(cat "$tmp/kube/code") $(head -c 300 "$tmp/kube/answer")" >&2
    return 1
  fi
}

kubectl_() { kubectl --server="$KUBE_API" --certificate-authority="$KUBE_CA" --token="$KUBE_TOKEN" "$@"; }

# The kubectl way: a Job made from a manifest (`kubectl create job` cannot
# set hostNetwork, which kube-local's pods need, nor backoffLimit), waited
# for, its log read, deleted (as execd does, Background).
kube_seq=0
kube_cli_run() {
  kube_seq=$((kube_seq + 1))
  name=bench-kubectl-$$-$kube_seq
  kubectl_ create -f - >/dev/null <<JOB || return 1
{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "$name"},
 "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "hostNetwork": true,
   "terminationGracePeriodSeconds": 10,
   "containers": [{"name": "job", "image": "$kube_image", "imagePullPolicy": "Never",
                   "command": ["true"]}]}}}}
JOB
  kubectl_ wait --for=condition=complete --timeout=300s "job/$name" >/dev/null &&
    kubectl_ logs "job/$name" >/dev/null &&
    kubectl_ delete job "$name" --cascade=background >/dev/null
}

# Prints the section; 1 when it could not be measured.
kubernetes_section() {
  if [ -z "${KUBE_API:-}" ] || [ -z "${KUBE_TOKEN:-}" ] || [ -z "${KUBE_CA:-}" ]; then
    echo "kubernetes: skipped: KUBE_API, KUBE_TOKEN and KUBE_CA are unset (eval \"\$(kube-local env)\")" >&2
    return 1
  fi
  if ! [ -e "$builddir/plugins/backend/kubernetes/backend_kubernetes-job.la" ]; then
    echo "kubernetes: skipped: the kubernetes-job backend is not built" >&2
    return 1
  fi
  if ! command -v kubectl >/dev/null 2>&1; then
    echo "kubernetes: skipped: no kubectl on PATH" >&2
    return 1
  fi
  echo "kubernetes $(kubectl_ version -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | tail -n 1) at $KUBE_API: $count runs of 'true' in $kube_image"
  kube_start_execd || return 1
  rc=0
  if sequential kube_execd - "$tmp/kube/execd.ms"; then
    printf '  %-38s %s\n' "execd (HTTP ?wait=, kubernetes-job):" "$(percentiles "$tmp/kube/execd.ms")"
  else
    rc=1
  fi
  kube_stop
  if sequential kube_cli - "$tmp/kube/cli.ms"; then
    printf '  %-38s %s\n' "kubectl create+wait+logs+delete:" "$(percentiles "$tmp/kube/cli.ms")"
  else
    echo "$0: the kubectl runs failed" >&2
    rc=1
  fi
  if [ $rc = 0 ]; then
    printf '  %-38s p50 %s  p90 %s\n' "ratio execd/kubectl:" \
      "$(ratio "$(p50_of "$tmp/kube/execd.ms")" "$(p50_of "$tmp/kube/cli.ms")")" \
      "$(ratio "$(p90_of "$tmp/kube/execd.ms")" "$(p90_of "$tmp/kube/cli.ms")")"
  fi
  return $rc
}
