# Integration tests: the real daemon over HTTP and through execctl.
TESTS += tests/integration/run-integration.sh tests/integration/run-container-restart.sh
EXTRA_DIST += tests/integration/run-integration.sh tests/integration/daemon.py \
	tests/integration/container-engines.sh tests/integration/engine_api.py \
	tests/integration/test_daemon.py tests/integration/run-container-restart.sh \
	tests/integration/test_container_restart.py
# The HTTP edges that need the core behind the transport.
TESTS += tests/integration/run-daemon-http.sh
EXTRA_DIST += tests/integration/run-daemon-http.sh \
	tests/integration/test_daemon_http.py
# execd --check-config runs each plugin's check of the values.
TESTS += tests/integration/run-check-config.sh
EXTRA_DIST += tests/integration/run-check-config.sh \
	tests/integration/test_check_config.py
# SIGTERM with jobs that ignore it, max_rss_bytes of local jobs, processes a
# local job leaves behind (at its end and after a kill -9 of execd).
TESTS += tests/integration/run-lifecycle.sh
EXTRA_DIST += tests/integration/run-lifecycle.sh tests/integration/test_lifecycle.py
# dockerd stopped mid-run and started again (a private dockerd of the test's own).
TESTS += tests/integration/run-container-engine-down.sh
EXTRA_DIST += tests/integration/run-container-engine-down.sh \
	tests/integration/test_container_engine_down.py
# Image pulls from a local docker-registry with htpasswd auth.
TESTS += tests/integration/run-container-registry.sh
EXTRA_DIST += tests/integration/run-container-registry.sh \
	tests/integration/test_container_registry.py
# The job I/O contract on the container backends, bind-mounted and volume
# workspaces: inputs, outputs, and links a hostile job leaves.
TESTS += tests/integration/run-container-workspace.sh
EXTRA_DIST += tests/integration/run-container-workspace.sh \
	tests/integration/test_container_workspace.py
# The engine goes away while a container runs on, and comes back (a podman
# service of the test's own).
TESTS += tests/integration/run-container-engine-lost.sh
EXTRA_DIST += tests/integration/run-container-engine-lost.sh \
	tests/integration/test_container_engine_lost.py
# Depth and value limits of the JSON that enters; unreadable stored records.
TESTS += tests/integration/run-json-limits.sh
EXTRA_DIST += tests/integration/run-json-limits.sh tests/integration/test_json_limits.py
# Agents' schema_in and schema_out: 422 input_invalid at submit, FAILED
# output_invalid at the end, invalid schemas as config errors.
TESTS += tests/integration/run-contracts.sh
EXTRA_DIST += tests/integration/run-contracts.sh tests/integration/test_contracts.py
# The catalog of agents: agent files, SIGHUP reloads, GET /v1/agents,
# execctl agents, requests that only tighten an agent.
TESTS += tests/integration/run-catalog.sh
EXTRA_DIST += tests/integration/run-catalog.sh tests/integration/test_catalog.py
# Job identities and the request's environment, under the shipped configuration.
TESTS += tests/integration/run-identity.sh
EXTRA_DIST += tests/integration/run-identity.sh tests/integration/test_identity.py
# What execd keeps from a job: large outputs hashed in bounded memory, logs
# cut at their cap with a marker.
TESTS += tests/integration/run-outputs-logs.sh
EXTRA_DIST += tests/integration/run-outputs-logs.sh tests/integration/test_outputs_logs.py
# Log timestamps: ?timestamps=true puts the time each line arrived in front.
TESTS += tests/integration/run-log-timestamps.sh
EXTRA_DIST += tests/integration/run-log-timestamps.sh tests/integration/test_log_timestamps.py
# The workspace disk quota: a tmpfs of workspace_max bytes per attempt.
TESTS += tests/integration/run-workspace-quota.sh
EXTRA_DIST += tests/integration/run-workspace-quota.sh tests/integration/test_workspace_quota.py
TESTS += tests/integration/run-container-workspace-quota.sh
EXTRA_DIST += tests/integration/run-container-workspace-quota.sh \
	tests/integration/test_container_workspace_quota.py
# Tenants: entitlements, quotas and usage (core/tenants.c, core/quota.c).
TESTS += tests/integration/run-tenants.sh
EXTRA_DIST += tests/integration/run-tenants.sh tests/integration/test_tenants.py
# Queued executions at rest (core/execution.c, execution_rest).
TESTS += tests/integration/run-queued-rest.sh
EXTRA_DIST += tests/integration/run-queued-rest.sh tests/integration/test_queued_rest.py
# Warm containers: made and started ahead with the cold hardening, one
# execution each, the pool refilled, removed at stop and after a kill -9.
TESTS += tests/integration/run-container-warm.sh
EXTRA_DIST += tests/integration/run-container-warm.sh tests/integration/test_container_warm.py
