/* The kubernetes backend's shared state: its configuration, the API
 * client, and the attempts it runs (kube_job.c).  kube_config.c reads the
 * configuration, kube_manifest.c writes a Job, kube_plugin.c is the
 * descriptor and the ops, kube_sweep.c removes what nobody runs. */
#ifndef EXECD_KUBE_INTERNAL_H
#define EXECD_KUBE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <execd/backend.h>
#include <execd/plugin.h>

#include "container/container_backend.h" /* container_parse_user, container_check_request */
#include "httpc/httpc.h"

/* Names of the pod's containers. */
#define KUBE_C_JOB "job"
#define KUBE_C_HELPER "execd-helper"

/* Error codes of this backend besides EXECD_ERR_*. */
#define KUBE_ERR_FORBIDDEN "backend_forbidden"
#define KUBE_ERR_DEADLINE "deadline_exceeded"
#define KUBE_ERR_OUTPUT "output_error"

typedef struct kube_job kube_job;

typedef struct kube_backend {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;

  /* connection */
  httpc_endpoint endpoint;
  char *api_url;     /* as configured, for messages */
  char *auth_header; /* "Authorization: Bearer ..." or NULL (client certificate) */
  char *ns;          /* namespace */
  httpc_client *client;

  /* policy */
  char **images_allowed;
  char *helper_image;
  char *pull_policy; /* IfNotPresent, Never, Always */
  uid_t uid;
  gid_t gid;
  int64_t memory_bytes;
  double cpus;
  int64_t tmpfs_size;
  int64_t output_max;
  int64_t grace_s;         /* terminationGracePeriodSeconds */
  int64_t deadline_slack_s;/* activeDeadlineSeconds = timeout + this */
  int64_t api_grace_ms;    /* how long the API server may be away mid-run */
  bool seccomp;
  bool host_network;       /* hostNetwork: for clusters whose pods get no IP */

  /* labels */
  char daemon_label[24];   /* a hash of the state directory */
  char instance_label[64]; /* the instance name, as a label value */

  /* health */
  httpc_request *ping;
  uv_timer_t *health_timer;
  bool healthy;
  uint64_t health_at;
  char health_error[1024];

  kube_job *jobs;   /* running attempts */
  bool adoption_over;
  bool stopped;
  httpc_request *sweep;
} kube_backend;

/* kube_config.c: reads config into b (create() and check_config). */
int kube_configure(kube_backend *b, const json_t *config);
void kube_config_free(kube_backend *b);

/* kube_manifest.c: the Job for an attempt (a new reference), or NULL. */
json_t *kube_manifest_job(const kube_backend *b, const execd_job_spec *spec, const char *name);
/* "execd-<execution>-<attempt>" into buf: the Job's name. */
void kube_job_name(const char *execution_id, unsigned attempt, char *buf, size_t size);

/* kube_job.c */
int kube_job_start(kube_backend *b, const execd_job_spec *spec, execd_job *job, void **handle,
                   bool adopt);
int kube_job_signal(kube_backend *b, kube_job *j, int signum);
void kube_jobs_abandon(kube_backend *b);
bool kube_job_is_running(const kube_backend *b, const char *name);

/* kube_sweep.c: deletes this daemon's Jobs that no attempt runs. */
void kube_sweep(kube_backend *b);

/* An API path under the backend's namespace into a new string:
 * kube_path(b, "/apis/batch/v1", "jobs", name-or-NULL, query-or-NULL). */
char *kube_path(const kube_backend *b, const char *group, const char *resource, const char *name,
                const char *query);
/* A message for a 401/403 answer naming verb and resource, into buf. */
const char *kube_denied_message(const kube_backend *b, const httpc_response *r, const char *verb,
                                const char *resource, char *buf, size_t size);
/* The server's message of an error answer. */
const char *kube_error_message(const httpc_response *r, char *buf, size_t size);
/* Starts a request with the backend's auth header. */
httpc_request *kube_request(kube_backend *b, const char *method, const char *path,
                            const json_t *body, long timeout_ms, httpc_done_cb done, void *arg);

#endif
