#!/bin/sh
# The backend conformance suite against a real Kubernetes cluster
# (kube-local), through the kubernetes-job backend.  Skips (77) loudly
# without one (tests/conformance/kube-env.sh).
set -u
. "$(dirname "$0")/kube-env.sh"
builddir=${EXECD_BUILDDIR:-.}
EXECD_PLUGIN_PATH="$builddir/plugins/backend/kubernetes${EXECD_PLUGIN_PATH:+:$EXECD_PLUGIN_PATH}"
EXECD_CONFORMANCE_BACKEND=kubernetes-job
EXECD_CONFORMANCE_IMAGE=$kube_image
EXECD_CONFORMANCE_BACKEND_CONFIG=$kube_config
export EXECD_PLUGIN_PATH EXECD_CONFORMANCE_BACKEND EXECD_CONFORMANCE_IMAGE \
  EXECD_CONFORMANCE_BACKEND_CONFIG
"$builddir/tests/conformance/backend_conformance"
