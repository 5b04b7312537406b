# Sourced by the kubernetes tests: the cluster (kube-local's `env` lines in
# the environment: KUBE_API, KUBE_TOKEN, KUBE_LIMITED_TOKEN, KUBE_CA), or a
# loud skip (77).  Makes $kube_dir (removed on exit) with the token files,
# and kube_config, the backend's configuration as JSON.
#   EXECD_KUBE_IMAGE  job and helper image (default local/busybox:1)
if [ -z "${KUBE_API:-}" ] || [ -z "${KUBE_TOKEN:-}" ] || [ -z "${KUBE_CA:-}" ]; then
  echo "SKIP: no Kubernetes cluster: KUBE_API, KUBE_TOKEN and KUBE_CA are unset (eval \"\$(kube-local env)\")" >&2
  echo "SKIP: no Kubernetes cluster (KUBE_API unset)"
  exit 77
fi
if ! curl -sf --max-time 5 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_TOKEN" \
     "$KUBE_API/version" >/dev/null 2>&1; then
  echo "SKIP: the Kubernetes API server at $KUBE_API does not answer" >&2
  echo "SKIP: no API server at $KUBE_API"
  exit 77
fi
kube_image=${EXECD_KUBE_IMAGE:-local/busybox:1}
kube_dir=$(mktemp -d "${TMPDIR:-/tmp}/execd-kube-XXXXXX")
trap 'rm -rf "$kube_dir"' EXIT
printf '%s\n' "$KUBE_TOKEN" > "$kube_dir/token"
printf '%s\n' "${KUBE_LIMITED_TOKEN:-none}" > "$kube_dir/limited-token"
kube_config="{\"api_url\": \"$KUBE_API\", \"ca_file\": \"$KUBE_CA\", \"token_file\": \"$kube_dir/token\", \"namespace\": \"${EXECD_KUBE_NAMESPACE:-default}\", \"images_allowed\": [\"${kube_image%%:*}:*\"], \"helper_image\": \"$kube_image\", \"pull\": \"never\", \"cpus\": 0.1, \"termination_grace\": 10000, \"host_network\": true}"
