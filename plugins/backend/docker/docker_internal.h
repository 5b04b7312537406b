/* The docker backend: executions as hardened containers through the Docker
 * Engine API (v1.41) on the engine's unix socket.  docker.c holds the
 * configuration, check(), health() and the descriptor; job.c runs one
 * attempt: create → upload workspace → attach stdin → wait → start →
 * logs → inspect → download outputs → remove. */
#ifndef EXECD_DOCKER_INTERNAL_H
#define EXECD_DOCKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <execd/plugin.h>

#include "../engine/engine_http.h"

#define DOCKER_API_PREFIX "/v1.41"
#define DOCKER_WORKSPACE "/workspace"

enum docker_pull { PULL_NEVER, PULL_IF_NOT_PRESENT, PULL_ALWAYS };

typedef struct docker_job docker_job;

typedef struct docker_backend {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;
  engine_client *client;
  bool stopped;

  /* configuration */
  char *socket;
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
  char *registry_auth;    /* X-Registry-Auth header value, or NULL */

  /* health: the last /_ping answer, refreshed in the background */
  bool healthy;
  uint64_t health_at;     /* uv_now of the last answer */
  engine_request *ping;
  char health_error[256];

  char *daemon_label;     /* execd.daemon: this daemon's state directory */
  engine_request *sweep;  /* listing of leftover containers in flight */

  LIST_HEAD(, docker_job) jobs;
} docker_backend;

int docker_job_start(docker_backend *b, const execd_job_spec *spec, execd_job *job,
                     void **handle);
int docker_job_signal(docker_backend *b, void *handle, int signum);
/* stop(): forget every job without reporting (the loop is stopping). */
void docker_jobs_abandon(docker_backend *b);

/* True if this attempt of the execution is running now (its container
 * may exist before the create's answer arrives). */
bool docker_job_owns(docker_backend *b, const char *execution_id, const char *attempt);
/* Removes containers an earlier run of this daemon left (sweep.c). */
void docker_sweep(docker_backend *b);

/* "uid[:gid]" with numbers; returns 0 or -1. */
int docker_parse_user(const char *s, uid_t *uid, gid_t *gid);

#endif
