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

#include "container_backend.h"
#include "httpc/httpc.h"
#include "httpc/httpc_endpoint.h"

#define CONTAINER_WORKSPACE "/workspace"

enum container_pull { PULL_NEVER, PULL_IF_NOT_PRESENT, PULL_ALWAYS };

typedef struct container_job container_job;

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
  char *runtime;          /* HostConfig.Runtime ("crun"), or NULL: the engine's default */
  httpc_request *info;    /* GET /info: does the engine have that runtime? */
  bool runtime_checked;
  char runtime_error[512]; /* set when the engine lacks it */

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

/* Removes containers an earlier run of this daemon left
 * (container_sweep.c). */
void container_sweep(container_backend *b);
/* True if the engine's socket refuses new connections: it is stopping. */
bool container_engine_refuses(const container_backend *b);

/* The keys saying where the engine is: socket, or endpoint with tls,
 * tls_ca, tls_cert, tls_key, tls_verify, into b->endpoint
 * (container_endpoint.c).  Returns 0 or EXECD_E* with the message set, naming the key. */
int container_configure_endpoint(container_backend *b, const json_t *config);

#endif
