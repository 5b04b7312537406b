# The kubernetes backend (plugin = "kubernetes-job"): executions as batch/v1
# Jobs through the API server's REST API on lib/httpc, the workspace and
# outputs moved as tar streams over the attach and exec WebSocket streams
# (doc/backend-kubernetes.md).  Links lib/container for its tar code.
if BUILD_PLUGIN_KUBERNETES
plugin_LTLIBRARIES += plugins/backend/kubernetes/backend_kubernetes-job.la
plugins_backend_kubernetes_backend_kubernetes_job_la_SOURCES = \
	plugins/backend/kubernetes/kube_plugin.c plugins/backend/kubernetes/kube_internal.h \
	plugins/backend/kubernetes/kube_config.c \
	plugins/backend/kubernetes/kube_kubeconfig.c plugins/backend/kubernetes/kube_kubeconfig.h \
	plugins/backend/kubernetes/kube_manifest.c \
	plugins/backend/kubernetes/kube_job.c \
	plugins/backend/kubernetes/kube_sweep.c \
	plugins/backend/kubernetes/kube_api.c plugins/backend/kubernetes/kube_api.h \
	plugins/backend/kubernetes/kube_ws.c plugins/backend/kubernetes/kube_ws.h \
	plugins/backend/kubernetes/kube_wsframe.c plugins/backend/kubernetes/kube_wsframe.h
plugins_backend_kubernetes_backend_kubernetes_job_la_CFLAGS = $(PLUGIN_CFLAGS) $(SSL_CFLAGS) \
	$(YAML_CFLAGS)
plugins_backend_kubernetes_backend_kubernetes_job_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_backend_kubernetes_backend_kubernetes_job_la_LIBADD = lib/container/libcontainer.la \
	lib/configcheck/libconfigcheck.la lib/httpc/libhttpc.la $(CURL_LIBS) $(LIBARCHIVE_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS) $(SSL_LIBS) $(CRYPTO_LIBS) $(YAML_LIBS) -lm
EXTRA_DIST += doc/backend-kubernetes.md

if HAVE_CHECK
# The conformance suite against a real cluster (kube-local: .ci/run starts
# it and exports its `env`); skips loudly without KUBE_API.
# It runs test_kubernetes_backend too (hardening from inside the pod, 20 MB
# each way, a refused image, the limited token's 403).
TESTS += tests/conformance/run-kubernetes.sh
check_PROGRAMS += tests/conformance/test_kubernetes_backend
tests_conformance_test_kubernetes_backend_SOURCES = tests/conformance/test_kubernetes_backend.c
tests_conformance_test_kubernetes_backend_CFLAGS = $(TEST_CFLAGS)
tests_conformance_test_kubernetes_backend_LDADD = tests/conformance/libharness.la $(CHECK_LIBS) \
	$(UV_LIBS) $(JANSSON_LIBS)
endif
endif
EXTRA_DIST += tests/conformance/run-kubernetes.sh tests/conformance/kube-env.sh \
	tests/integration/test_kubernetes_daemon.py tests/integration/kube_api.py \
	bench/container-latency-kubernetes.sh
