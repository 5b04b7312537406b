#!/bin/sh
# The backend conformance suite against a real Kubernetes cluster
# (kube-local), through the kubernetes-job backend, then the backend's own
# tests (test_kubernetes_backend), then the backend inside a real execd
# (tests/integration/test_kubernetes_daemon.py: cancel, kill -9 and restart,
# the API server stopped and started).  One runner, so that nothing else
# uses the cluster while its API server is stopped.  Skips (77) loudly
# without one (tests/conformance/kube-env.sh).
set -u
. "$(dirname "$0")/kube-env.sh"
builddir=${EXECD_BUILDDIR:-.}
rc=0
t0=$(date +%s)
EXECD_PLUGIN_PATH="$builddir/plugins/backend/kubernetes${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=kubernetes-job
EXECD_CONFORMANCE_IMAGE=$kube_image
EXECD_CONFORMANCE_BACKEND_CONFIG=$kube_config
# Pods take seconds each to be scheduled and started on one node: 24 at
# once (concurrent_jobs_each_exit_once) may take minutes on a loaded machine.
EXECD_CONFORMANCE_WAIT_S=${EXECD_CONFORMANCE_WAIT_S:-240}
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG EXECD_CONFORMANCE_WAIT_S
"$builddir/tests/conformance/backend_conformance" || rc=$?
t1=$(date +%s)
EXECD_KUBE_TEST_CONFIG=$kube_config
EXECD_KUBE_TEST_LIMITED_CONFIG=$(printf '%s' "$kube_config" | sed "s#$kube_dir/token#$kube_dir/limited-token#")
EXECD_KUBE_TEST_IMAGE=$kube_image
export EXECD_KUBE_TEST_CONFIG EXECD_KUBE_TEST_LIMITED_CONFIG EXECD_KUBE_TEST_IMAGE
"$builddir/tests/conformance/test_kubernetes_backend" || rc=$?
t2=$(date +%s)
srcdir=$(cd "$(dirname "$0")/.." && pwd)
EXECD_BUILDDIR=$(cd "$builddir" && pwd)
EXECD_PLUGIN_PATH="$EXECD_BUILDDIR/plugins/backend/kubernetes:$EXECD_BUILDDIR/plugins/backend/local:$EXECD_BUILDDIR/plugins/storage/file:$EXECD_BUILDDIR/plugins/transport/http"
EXECD_KUBE_TOKEN_FILE=$kube_dir/token
EXECD_KUBE_LOCAL_RUN=${EXECD_KUBE_LOCAL_RUN:-$(dirname "$(dirname "$KUBE_CA")")/run}
export EXECD_BUILDDIR EXECD_PLUGIN_PATH EXECD_KUBE_TOKEN_FILE EXECD_KUBE_LOCAL_RUN
python3 "$srcdir/integration/test_kubernetes_daemon.py" -v || rc=$?
t3=$(date +%s)
echo "run-kubernetes.sh: conformance $((t1 - t0)) s, test_kubernetes_backend $((t2 - t1)) s, test_kubernetes_daemon.py $((t3 - t2)) s, total $((t3 - t0)) s"
exit $rc
