/* What a container backend plugin needs from lib/container: the flavour
 * that says how its engine differs, the configuration keys, and the
 * plugin entry points, which run the container flow of lib/container on
 * the flavour the descriptor passes in.  A descriptor is all a plugin adds
 * (plugins/backend/docker/docker_plugin.c, plugins/backend/podman/podman.c).
 * The rest of the library is internal to it (container_internal.h). */
#ifndef EXECD_CONTAINER_BACKEND_H
#define EXECD_CONTAINER_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>

#include <execd/plugin.h>

/* The version of the Docker Engine API both engines are asked in. */
#define CONTAINER_API_PREFIX "/v1.41"

/* What differs between the engines speaking this API. */
typedef struct container_engine_flavor {
  const char *name;           /* "docker": messages and the client's name */
  const char *default_socket;
  const char *api_prefix;
  bool tmpfs_owner_options;   /* tmpfs takes uid=/gid= (podman 4.3 refuses them) */
  bool ulimits_required;      /* nofile and nproc must be set (else runc fails) */
  bool oom_flag_reported;     /* sets State.OOMKilled (exit 137 is read as OOM either way) */
  bool exit_seen_at_stream_end; /* the wait answers late: inspect when the output ends */
  bool output_checked_against_log; /* the attach stream can miss output: compare the log */
  bool runtime_per_container; /* honours HostConfig.Runtime (podman 4.3's compat API ignores it) */
  bool exit_in_events;        /* its "die" event comes before the wait's answer (engine_events.h) */
} container_engine_flavor;

/* The configuration keys of a container backend whose socket defaults to
 * SOCKET (a string literal). */
#define CONTAINER_CONFIG_KEYS(SOCKET, SOCKET_DESC)                                               \
  {"socket", EXECD_CFG_STRING, SOCKET, SOCKET_DESC},                                             \
      {"endpoint", EXECD_CFG_STRING, NULL,                                                       \
       "\"tcp://HOST:PORT\" of an engine reached over TCP, instead of socket; TLS unless "       \
       "tls = false"},                                                                            \
      {"tls", EXECD_CFG_BOOL, NULL,                                                              \
       "TLS to the endpoint: on when tls_* are set; false allows plain TCP (anyone reaching "    \
       "the port controls the engine)"},                                                         \
      {"tls_ca", EXECD_CFG_STRING, NULL,                                                         \
       "PEM file of the CA the engine's certificate must chain to (default: the system's)"},     \
      {"tls_cert", EXECD_CFG_STRING, NULL, "PEM file of execd's client certificate"},           \
      {"tls_key", EXECD_CFG_STRING, NULL, "PEM file of the client certificate's private key"},  \
      {"tls_verify", EXECD_CFG_BOOL, "true",                                                     \
       "check the engine's certificate and that it names the endpoint's host"},                  \
      {"images_allowed", EXECD_CFG_LIST, "[]",                                                   \
       "globs of the images executions may use (\"registry.example/jobs/*\"); nothing runs "     \
       "unless it matches"},                                                                     \
      {"pull", EXECD_CFG_STRING, "if-not-present",                                               \
       "when images are pulled: \"never\", \"if-not-present\" or \"always\""},                  \
      {"registry_auth_file", EXECD_CFG_STRING, NULL,                                             \
       "JSON file {\"username\", \"password\", \"serveraddress\"} sent with pulls"},             \
      {"user", EXECD_CFG_STRING, "65534:65534", "\"uid:gid\" jobs run as inside the container"}, \
      {"network", EXECD_CFG_STRING, "none",                                                      \
       "NetworkMode of job containers; a request may only ask for \"none\" instead"},            \
      {"readonly_rootfs", EXECD_CFG_BOOL, "true", "mount the image's root file system read-only"}, \
      {"drop_capabilities", EXECD_CFG_BOOL, "true", "drop every Linux capability (CapDrop ALL)"}, \
      {"no_new_privileges", EXECD_CFG_BOOL, "true", "no privilege gain through setuid files"},    \
      {"init", EXECD_CFG_BOOL, "true",                                                           \
       "an init process as PID 1 that forwards signals and reaps children"},                     \
      {"memory", EXECD_CFG_SIZE, "512M", "memory limit (swap off); a request may lower it"},     \
      {"cpus", EXECD_CFG_FLOAT, "1", "CPU share; a request may lower it"},                       \
      {"pids_limit", EXECD_CFG_INT, "256", "processes per container; a request may lower it"},   \
      {"nofile", EXECD_CFG_INT, "1024", "open files per process; a request may lower it"},       \
      {"nproc", EXECD_CFG_INT, "4096",                                                           \
       "RLIMIT_NPROC: counted per uid across the host, so keep it above pids_limit"},            \
      {"tmpfs_size", EXECD_CFG_SIZE, "64M", "size of the tmpfs at /tmp (counts against memory)"}, \
      {"log_max", EXECD_CFG_SIZE, "16M",                                                         \
       "engine log file cap, and the most stdout+stderr forwarded per attempt"},                 \
      {"output_max", EXECD_CFG_SIZE, "256M", "the most file data collected from the output dir"}, \
      {"workspace_mount", EXECD_CFG_STRING, "bind",                                             \
       "how the workspace reaches the container: \"bind\" (the host directory, mounted) or "   \
       "\"volume\" (copied into a volume and back, for engines that do not share the host's " \
       "files and uids)"},                                                                       \
      {"engine_grace", EXECD_CFG_DURATION, "30s",                                               \
       "how long an attempt whose engine stopped answering while the container ran waits for "   \
       "it, then re-attaches; 0: it fails at once"},                                             \
      {"runtime", EXECD_CFG_STRING, NULL,                                                      \
       "OCI runtime of job containers (HostConfig.Runtime), e.g. \"crun\": a name the engine "  \
       "knows (dockerd: daemon.json \"runtimes\"; podman: containers.conf, or an absolute "     \
       "path); unset: the engine's default"},                                                    \
      {"output_drain", EXECD_CFG_DURATION, "2s",                                                 \
       "how long to wait for the log stream to end after the container exited"},                 \
      {"warm", EXECD_CFG_INT, "0",                                                               \
       "containers created and started ahead per image of warm_images (0 to 16): an execution " \
       "whose settings are the backend's takes one, and the pool is refilled"},                \
      {"warm_images", EXECD_CFG_LIST, "[]",                                                      \
       "the images (each in images_allowed) warm containers are kept for"},                      \
      {"warm_launcher", EXECD_CFG_STRING, NULL,                                                  \
       "the launcher warm containers wait in (default: execd's execd-warm-launch)"},             \
  {                                                                                              \
    NULL, 0, NULL, NULL                                                                          \
  }

/* The plugin entry points shared by the descriptors (container_backend.c):
 * create() with the descriptor's flavour, which must outlive the instance. */
int container_backend_create(const container_engine_flavor *flavor, const execd_host *host,
                             execd_instance *inst, const json_t *config, void **self);
int container_backend_start(void *self);
void container_backend_stop(void *self);
void container_backend_destroy(void *self);
/* The check_config op: the validation create() runs (configure()), on a
 * scratch backend, with no side effects. */
int container_backend_check_config(const container_engine_flavor *flavor, const json_t *config,
                                   char *err, size_t errlen);
extern const execd_backend_ops container_backend_ops;

/* "uid[:gid]" with numbers; returns 0 or -1.  Also the kubernetes
 * backend's reading of a request's and its own user. */
int container_parse_user(const char *s, uid_t *uid, gid_t *gid);

/* The part of check() that every backend running images makes (docker,
 * podman, kubernetes): an image is named and matches a glob of
 * images_allowed (NULL-terminated), a command is given, and the user, if
 * any, is "uid[:gid]".  Sets the error through host and returns an
 * EXECD_E* code, or 0 with *is_root telling whether that user is uid 0
 * (false without a user), which each backend allows or not. */
int container_check_request(const execd_host *host, execd_instance *inst, const char *backend,
                            char **images_allowed, const execd_job_spec *spec, bool *is_root);

#endif
