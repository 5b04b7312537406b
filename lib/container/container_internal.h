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
#include "engine_events.h"
#include "httpc/httpc.h"
#include "httpc/httpc_endpoint.h"

#define CONTAINER_WORKSPACE "/workspace"

enum container_pull { PULL_NEVER, PULL_IF_NOT_PRESENT, PULL_ALWAYS };

typedef struct container_job container_job;
typedef struct container_removal container_removal;

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
  httpc_request *events;  /* the engine's die events (flavor->exit_in_events) */
  engine_events event_reader;
  httpc_request *sweep;   /* listing of leftover containers in flight */
  unsigned sweep_removals; /* removals of leftovers in flight: no new listing meanwhile */
  bool adoption_over;     /* execd re-attached what it will (adopt_done) */

  /* the warm pool (container_warm.c) */
  int64_t warm;           /* slots kept per warm image; 0: none */
  char **warm_images;
  char *warm_launcher;    /* execd-warm-launch, bind-mounted into each slot */
  char *warm_dir;         /* <state_dir>/warm/<instance>: the slots' directories */
  char warm_token[24];    /* this run's: labels and names its slots */
  unsigned warm_seq;
  bool warm_ready;        /* warm_dir cleared of an earlier run's and made */
  bool warm_clearing;
  unsigned warm_failures; /* slots in a row that ended before use: refills back off */
  uv_timer_t *warm_timer;

  LIST_HEAD(, container_job) jobs;
  LIST_HEAD(, container_removal) removals; /* finished attempts' containers (container_removal.c) */
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
/* The engine's die event for container id: an attempt whose output has
 * ended takes it as its exit (container_job.c). */
void container_job_died(container_backend *b, const char *id, int exit_code);
/* Fails the attempts that lost the engine longer than engine_grace ago;
 * true while some still wait for it. */
bool container_jobs_check_lost(container_backend *b);

/* Removes container ID in the background (WHAT names it in the log);
 * the caller has reported what it needed of it (container_removal.c). */
void container_remove_later(container_backend *b, const char *id, const char *what);
/* True while container ID is being removed: the sweep leaves it. */
bool container_removal_pending(const container_backend *b, const char *id);
/* After stop(): closes the engine client once no removal is in flight. */
void container_client_release_if_idle(container_backend *b);
/* destroy(): frees what is left of the removals' bookkeeping. */
void container_removals_forget(container_backend *b);

/* ---- the warm pool (container_warm.c) ---- */
/* The keys warm, warm_images and warm_launcher.  0 or EXECD_ECONFIG. */
int container_warm_configure(container_backend *b, const json_t *config);
/* adopt_done: the directory of an earlier run removed, then the pool filled. */
void container_warm_begin(container_backend *b);
/* A slot ended, used (failed false) or not: the pool is refilled, later
 * when slots keep failing. */
void container_warm_slot_gone(container_backend *b, bool failed);
void container_warm_stop(container_backend *b);
void container_warm_free(container_backend *b);
/* A started slot whose create body is the same as create_body but for
 * what each execution sets, or NULL. */
container_job *container_warm_find(container_backend *b, const char *image,
                                   const json_t *create_body);
/* The canonical text of what a create body fixes for the container's life. */
char *container_warm_key(const json_t *create_body);
/* True if container ID (with its execd.warm label TOKEN) is a slot of
 * this run: the sweep leaves it. */
bool container_warm_owns(const container_backend *b, const char *token);
/* The slot's directory removed on the thread pool. */
void container_warm_remove_dir_later(container_backend *b, const char *dir);
/* Loop, cheap: a rename from workspace into slot_dir can work. */
bool container_warm_same_device(const char *slot_dir, const char *workspace);
/* Thread pool (0, or -1 with err): */
int container_warm_prepare_dir(const char *slot_dir, char *err, size_t errlen);
int container_warm_hand_over(const char *workspace, const char *slot_dir, const char *launch,
                             size_t launch_len, char *err, size_t errlen);
int container_warm_take_back(const char *slot_dir, const char *workspace, char *err,
                             size_t errlen);
/* container_job.c: a slot being made for image (number n), NULL on ENOMEM;
 * whether a slot is ready for a create body's key, or spare for image. */
container_job *container_slot_new(container_backend *b, const char *image, unsigned n);
/* The oldest started slot of image for key, or NULL; the slots of image
 * not given an execution (started or being made). */
container_job *container_slot_find(container_backend *b, const char *image, const char *key);
size_t container_slots_spare(container_backend *b, const char *image);
/* True if container id is a slot's, or a slot's create has not answered
 * yet (it may be that one): the sweep leaves this run's warm containers
 * alone unless their slot is gone. */
bool container_slot_owns(container_backend *b, const char *id);

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
