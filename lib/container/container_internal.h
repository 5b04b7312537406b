/* The container backends (docker, podman): executions as hardened
 * containers through the Docker Engine API (v1.41) on the engine's unix
 * socket, or over TCP with TLS (container_endpoint.c).  Both plugins link
 * this library; what differs between the engines is a
 * container_engine_flavor chosen by the descriptor
 * (plugins/backend/docker/docker_plugin.c, plugins/backend/podman/podman.c).
 * container_backend.c holds the configuration, check(), health() and the
 * ops; container_job.c runs one attempt: create (workspace bind-mounted,
 * or uploaded into a volume) → attach stdin → wait → start → logs →
 * inspect → (download outputs) → remove. */
#ifndef EXECD_CONTAINER_INTERNAL_H
#define EXECD_CONTAINER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <execd/plugin.h>

#include "httpc/httpc.h"
#include "httpc/httpc_endpoint.h"

#define CONTAINER_API_PREFIX "/v1.41"
#define CONTAINER_WORKSPACE "/workspace"

enum container_pull { PULL_NEVER, PULL_IF_NOT_PRESENT, PULL_ALWAYS };

typedef struct container_job container_job;

/* What differs between the engines speaking this API. */
typedef struct container_engine_flavor {
  const char *name;           /* "docker": messages and the client's name */
  const char *default_socket;
  const char *api_prefix;
  bool tmpfs_owner_options;   /* tmpfs takes uid=/gid= (podman 4.3 refuses them) */
  bool ulimits_required;      /* nofile and nproc must be set (else runc fails) */
  bool oom_flag_reported;     /* sets State.OOMKilled (exit 137 is read as OOM either way) */
  bool exit_seen_at_stream_end; /* the wait answers late: inspect when the output ends */
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
      {"output_drain", EXECD_CFG_DURATION, "2s",                                                 \
       "how long to wait for the log stream to end after the container exited"},                 \
  {                                                                                              \
    NULL, 0, NULL, NULL                                                                          \
  }

typedef struct container_backend {
  const container_engine_flavor *flavor;
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;
  httpc_client *client;
  bool stopped;

  /* configuration */
  httpc_endpoint endpoint; /* socket, or endpoint and tls_* (container_endpoint.c) */
  char **images_allowed;
  int pull;
  char *user;             /* "uid:gid" */
  uid_t uid;
  gid_t gid;
  char *network;          /* NetworkMode unless a request tightens it */
  bool readonly_rootfs;
  bool drop_capabilities;
  bool no_new_privileges;
  bool init;
  int64_t memory_bytes;   /* defaults; a request can only lower them */
  double cpus;
  int64_t pids_limit;
  int64_t nofile;
  int64_t nproc;
  int64_t tmpfs_size;
  int64_t log_max;        /* engine log file cap and output forwarded */
  int64_t output_max;     /* bytes of files collected from the output dir */
  int64_t output_drain_ms;
  int64_t engine_grace_ms; /* engine_grace: waiting for a lost engine mid-run */
  bool bind_workspace;    /* workspace_mount = "bind": no copy in or out */
  char *registry_auth;    /* X-Registry-Auth header value, or NULL */

  /* health: the last /_ping answer, refreshed in the background */
  bool healthy;
  uint64_t health_at;     /* uv_now of the last answer */
  httpc_request *ping;
  uv_timer_t *health_timer; /* pings in the background, so a returning engine is seen */
  char health_error[256];

  char *daemon_label;     /* execd.daemon: this daemon's state directory */
  httpc_request *sweep;   /* listing of leftover containers in flight */
  unsigned sweep_removals; /* removals of leftovers in flight: no new listing meanwhile */
  bool adoption_over;     /* execd re-attached what it will (adopt_done) */

  LIST_HEAD(, container_job) jobs;
} container_backend;

/* The plugin entry points shared by the descriptors (container_backend.c). */
int container_backend_create(const container_engine_flavor *flavor, const execd_host *host,
                             execd_instance *inst, const json_t *config, void **self);
int container_backend_start(void *self);
void container_backend_stop(void *self);
void container_backend_destroy(void *self);
extern const execd_backend_ops container_backend_ops;

int container_job_start(container_backend *b, const execd_job_spec *spec, execd_job *job,
                        void **handle);
/* Re-attach to an attempt an earlier run of execd started (the adopt op). */
int container_job_adopt(container_backend *b, const execd_job_spec *spec, execd_job *job,
                        void **handle);
int container_job_signal(container_backend *b, void *handle, int signum);
/* stop(): forget every job without reporting (the loop is stopping). */
void container_jobs_abandon(container_backend *b);

/* True if this attempt of the execution is running now (its container
 * may exist before the create's answer arrives). */
bool container_job_owns(container_backend *b, const char *execution_id, const char *attempt);
/* The engine stopped answering an attempt whose container ran: health is
 * asked again at once, and the answer that comes back re-attaches
 * (container_backend.c). */
void container_engine_suspect(container_backend *b);
/* The engine answers again: attempts that lost it re-attach
 * (container_job.c). */
void container_jobs_engine_back(container_backend *b);
/* Fails the attempts that lost the engine longer than engine_grace ago;
 * true while some still wait for it. */
bool container_jobs_check_lost(container_backend *b);

/* Removes containers an earlier run of this daemon left (container_sweep.c). */
void container_sweep(container_backend *b);
/* True if the engine's socket refuses new connections: it is stopping. */
bool container_engine_refuses(const container_backend *b);

/* The keys saying where the engine is: socket, or endpoint with tls,
 * tls_ca, tls_cert, tls_key, tls_verify, into b->endpoint (container_endpoint.c).
 * Returns 0 or EXECD_E* with the message set, naming the key. */
int container_configure_endpoint(container_backend *b, const json_t *config);

/* "uid[:gid]" with numbers; returns 0 or -1. */
int container_parse_user(const char *s, uid_t *uid, gid_t *gid);

#endif
