#!/bin/sh
# The backend conformance suite against a real Kubernetes cluster
# (kube-local), through the kubernetes-job backend, then the backend's own
# tests (test_kubernetes_backend).  Skips (77) loudly
# without one (tests/conformance/kube-env.sh).
set -u
. "$(dirname "$0")/kube-env.sh"
builddir=${EXECD_BUILDDIR:-.}
rc=0
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
EXECD_KUBE_TEST_CONFIG=$kube_config
EXECD_KUBE_TEST_LIMITED_CONFIG=$(printf '%s' "$kube_config" | sed "s#$kube_dir/token#$kube_dir/limited-token#")
EXECD_KUBE_TEST_IMAGE=$kube_image
export EXECD_KUBE_TEST_CONFIG EXECD_KUBE_TEST_LIMITED_CONFIG EXECD_KUBE_TEST_IMAGE
"$builddir/tests/conformance/test_kubernetes_backend" || rc=$?
exit $rc
