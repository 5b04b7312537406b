/* The podman backend's descriptor: the container backend of
 * lib/container through Podman's Docker-compatible API,
 * with the quirks measured on Podman 4.3 (doc/backend-docker.md): tmpfs
 * refuses uid=/gid=, nofile and nproc ulimits must be explicit, and
 * OOMKilled is never set, so exit 137 under a memory limit with no kill
 * from execd is reported as oom_killed, and the exit is read with an
 * inspect when the output stream ends rather than from the late wait. */
#include "config.h"

#include "container/container_backend.h"

static const container_engine_flavor podman_engine = {
    .name = "podman",
    .default_socket = "/run/podman/podman.sock",
    .api_prefix = CONTAINER_API_PREFIX,
    .tmpfs_owner_options = false,
    .ulimits_required = true,
    .oom_flag_reported = false,
    /* Its wait answers only after the cleanup process conmon runs at the
     * exit (100-300 ms here); an inspect once the attach stream ends
     * already shows the exit. */
    .exit_seen_at_stream_end = true,
    /* Its attach stream can end without output the log has (conmon hands
     * the stream only to attach connections it has accepted, and closes
     * them at the exit), so the log is read once the container exited. */
    .output_checked_against_log = true,
    /* Its Docker-compatible create ignores HostConfig.Runtime: every
     * container runs the service's runtime (--runtime), which a runtime
     * key must then name. */
    .runtime_per_container = false,
};

static const execd_config_key podman_config_keys[] = {
    CONTAINER_CONFIG_KEYS("/run/podman/podman.sock", "the socket of `podman system service`")};

static int podman_create(const execd_host *host, execd_instance *inst, const json_t *config,
                         void **self) {
  return container_backend_create(&podman_engine, host, inst, config, self);
}

static int podman_check_config(const json_t *config, char *err, size_t errlen) {
  return container_backend_check_config(&podman_engine, config, err, errlen);
}

static const execd_plugin podman_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "podman",
    .version = PACKAGE_VERSION,
    .description = "runs executions as hardened containers through Podman's Docker-compatible API",
    .config_keys = podman_config_keys,
    .create = podman_create,
    .start = container_backend_start,
    .stop = container_backend_stop,
    .destroy = container_backend_destroy,
    .ops = &container_backend_ops,
    .check_config = podman_check_config,
};

EXECD_PLUGIN_DEFINE(podman_plugin)
