/* The docker backend's descriptor: the container backend of
 * lib/container with Docker Engine behaviour. */
#include "config.h"

#include "container/container_backend.h"

static const container_engine_flavor docker_engine = {
    .name = "docker",
    .default_socket = "/var/run/docker.sock",
    .api_prefix = CONTAINER_API_PREFIX,
    .tmpfs_owner_options = true,
    .ulimits_required = false,
    .oom_flag_reported = true,
    .exit_seen_at_stream_end = false, /* its wait answers within ms of the exit */
    .output_checked_against_log = false, /* its attach stream holds every byte */
    .runtime_per_container = true,
    /* dockerd sends "die" once the output streams are closed, and answers
     * the wait only after unmounting the container. */
    .exit_in_events = true,
};

static const execd_config_key docker_config_keys[] = {
    CONTAINER_CONFIG_KEYS("/var/run/docker.sock", "the Docker Engine's unix socket")};

static int docker_create(const execd_host *host, execd_instance *inst, const json_t *config,
                         void **self) {
  return container_backend_create(&docker_engine, host, inst, config, self);
}

static int docker_check_config(const json_t *config, char *err, size_t errlen) {
  return container_backend_check_config(&docker_engine, config, err, errlen);
}

static const execd_plugin docker_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "docker",
    .version = PACKAGE_VERSION,
    .description = "runs executions as hardened containers through the Docker Engine API",
    .config_keys = docker_config_keys,
    .create = docker_create,
    .start = container_backend_start,
    .stop = container_backend_stop,
    .destroy = container_backend_destroy,
    .ops = &container_backend_ops,
    .check_config = docker_check_config,
};

EXECD_PLUGIN_DEFINE(docker_plugin)
