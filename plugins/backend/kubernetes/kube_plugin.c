/* The kubernetes backend (plugin = "kubernetes-job"): executions as
 * batch/v1 Jobs through the API server's REST API on lib/httpc
 * (doc/backend-kubernetes.md).  This file: the descriptor, the plugin's
 * life, check(), health() and the ops glue; one attempt is kube_job.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configcheck/config_check.h"
#include "kube_api.h"
#include "kube_internal.h"

#define HEALTH_TTL_MS 5000
#define HEALTH_TICK_MS 1000
#define PING_TIMEOUT_MS 3000

/* ---- API helpers ---------------------------------------------------------------- */

char *kube_path(const kube_backend *b, const char *group, const char *resource, const char *name,
                const char *query) {
  char *p = NULL;
  if (asprintf(&p, "%s/namespaces/%s/%s%s%s%s%s", group, b->ns, resource, name ? "/" : "",
               name ? name : "", query ? "?" : "", query ? query : "") < 0)
    return NULL;
  return p;
}

const char *kube_error_message(const httpc_response *r, char *buf, size_t size) {
  char err[200];
  json_t *doc = r->body_len ? kube_json_parse(r->body, r->body_len, err, sizeof err) : NULL;
  kube_status st;
  if (doc && kube_status_parse(doc, &st) == 0 && st.message[0])
    snprintf(buf, size, "%s", st.message);
  else
    snprintf(buf, size, "%.300s", r->body_len ? r->body : "(no message)");
  json_decref(doc);
  return buf;
}

const char *kube_denied_message(const kube_backend *b, const httpc_response *r, const char *verb,
                                const char *resource, char *buf, size_t size) {
  char msg[600];
  snprintf(buf, size,
           "kubernetes API at %s: %s: execd may not %s %s in namespace %s (%s); grant it the Role "
           "of doc/backend-kubernetes.md",
           b->api_url, r->status == 401 ? "401 Unauthorized (the token or certificate is not "
                                          "accepted)"
                                        : "403 Forbidden",
           verb, resource, b->ns, kube_error_message(r, msg, sizeof msg));
  return buf;
}

httpc_request *kube_request(kube_backend *b, const char *method, const char *path,
                            const json_t *body, long timeout_ms, httpc_done_cb done, void *arg) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  httpc_request_opts o = {.method = method, .path = path, .body_owned = text,
                          .body_len = text ? strlen(text) : 0, .extra_header = b->auth_header,
                          .timeout_ms = timeout_ms, .on_done = done, .arg = arg};
  return httpc_request_start(b->client, &o);
}

/* ---- health -------------------------------------------------------------------- */

static void on_ping(void *arg, const httpc_response *r) {
  kube_backend *b = arg;
  b->ping = NULL;
  b->health_at = uv_now(b->loop);
  bool was = b->healthy;
  char msg[900];
  if (r->transport_err) {
    b->healthy = false;
    snprintf(b->health_error, sizeof b->health_error, "kubernetes API at %s: %s", b->api_url,
             r->error);
  } else if (r->status == 401 || r->status == 403) {
    b->healthy = false;
    snprintf(b->health_error, sizeof b->health_error, "%s",
             kube_denied_message(b, r, "list", "jobs.batch", msg, sizeof msg));
  } else if (r->status != 200) {
    b->healthy = false;
    snprintf(b->health_error, sizeof b->health_error, "kubernetes API at %s: HTTP %ld: %s",
             b->api_url, r->status, kube_error_message(r, msg, sizeof msg));
  } else {
    b->healthy = true;
    b->health_error[0] = '\0';
    if (!was && b->adoption_over)
      kube_sweep(b); /* back after an outage: remove what nobody runs */
  }
}

/* A list of at most one Job: the server answers, execd is let in, and
 * may list Jobs in its namespace. */
static void refresh_health(kube_backend *b) {
  if (b->ping || !b->client)
    return;
  char *path = kube_path(b, "/apis/batch/v1", "jobs", NULL, "limit=1");
  b->ping = path ? kube_request(b, "GET", path, NULL, PING_TIMEOUT_MS, on_ping, b) : NULL;
  free(path);
}

static void on_health_timer(uv_timer_t *t) {
  kube_backend *b = t->data;
  if (uv_now(b->loop) - b->health_at >= HEALTH_TTL_MS || !b->healthy)
    refresh_health(b);
}

static int kube_health(void *self) {
  kube_backend *b = self;
  if (!b->client) {
    b->host->set_error(b->inst, "stopped");
    return EXECD_EUNAVAIL;
  }
  if (uv_now(b->loop) - b->health_at >= HEALTH_TTL_MS)
    refresh_health(b);
  if (!b->healthy) {
    b->host->set_error(b->inst, "%s", b->health_error[0] ? b->health_error
                                                         : "the API server has not answered yet");
    return EXECD_EUNAVAIL;
  }
  return 0;
}

/* ---- life ------------------------------------------------------------------------ */

static const execd_config_key kube_config_keys[] = {
    {"api_url", EXECD_CFG_STRING, NULL, "the API server, \"https://HOST:PORT\""},
    {"kubeconfig", EXECD_CFG_STRING, NULL,
     "a kubeconfig file: its current context gives the server, CA, credentials and namespace "
     "(instead of api_url)"},
    {"in_cluster", EXECD_CFG_BOOL, "false",
     "use the service account of the pod execd runs in (KUBERNETES_SERVICE_HOST/PORT and "
     "service_account_dir)"},
    {"service_account_dir", EXECD_CFG_STRING, "/var/run/secrets/kubernetes.io/serviceaccount",
     "with in_cluster: the directory of the service account's token, ca.crt and namespace"},
    {"ca_file", EXECD_CFG_STRING, NULL,
     "PEM file of the CA the API server's certificate must chain to (default: the system's)"},
    {"token_file", EXECD_CFG_STRING, NULL, "file holding the bearer token execd presents"},
    {"client_cert", EXECD_CFG_STRING, NULL, "PEM file of execd's client certificate"},
    {"client_key", EXECD_CFG_STRING, NULL, "PEM file of the client certificate's private key"},
    {"namespace", EXECD_CFG_STRING, "default",
     "namespace the Jobs are made in (default: the kubeconfig context's or service account's, "
     "else \"default\")"},
    {"images_allowed", EXECD_CFG_LIST, "[]",
     "globs of the images executions may use; nothing runs unless it matches"},
    {"helper_image", EXECD_CFG_STRING, "busybox:1.36",
     "image with a static /bin/busybox: copies it in for the job's wrapper, and serves the "
     "outputs"},
    {"pull", EXECD_CFG_STRING, "if-not-present",
     "imagePullPolicy: \"never\", \"if-not-present\" or \"always\""},
    {"user", EXECD_CFG_STRING, "65534:65534", "\"uid:gid\" pods run as (runAsNonRoot)"},
    {"memory", EXECD_CFG_SIZE, "512M", "memory limit = request; a request may lower it"},
    {"cpus", EXECD_CFG_FLOAT, "0.5", "CPU limit = request; a request may lower it"},
    {"tmpfs_size", EXECD_CFG_SIZE, "64M", "size of the memory-backed /tmp"},
    {"output_max", EXECD_CFG_SIZE, "256M", "the most file data collected from the output dir"},
    {"termination_grace", EXECD_CFG_DURATION, "30s",
     "terminationGracePeriodSeconds: SIGTERM to SIGKILL when a Job is deleted"},
    {"deadline_slack", EXECD_CFG_DURATION, "60s",
     "activeDeadlineSeconds is the execution's timeout plus this: the cluster's backstop"},
    {"api_grace", EXECD_CFG_DURATION, "30s",
     "how long a running attempt waits for an API server that went away"},
    {"seccomp", EXECD_CFG_BOOL, "true", "seccompProfile RuntimeDefault on every pod"},
    {"host_network", EXECD_CFG_BOOL, "false",
     "hostNetwork on every pod: only for a cluster whose pods get no IP address, where the "
     "kubelet stops a pod right after it started (kube-local); jobs share the node's network"},
    {NULL, 0, NULL, NULL}};

static int kube_create(const execd_host *host, execd_instance *inst, const json_t *config,
                       void **self) {
  kube_backend *b = calloc(1, sizeof *b);
  if (!b)
    return EXECD_ENOMEM;
  b->host = host;
  b->inst = inst;
  b->loop = host->loop(inst);
  int rc = kube_configure(b, config);
  if (rc) {
    kube_config_free(b);
    free(b);
    return rc;
  }
  *self = b;
  return 0;
}

static int kube_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  kube_backend tmp = {.host = config_check_host(), .inst = config_check_begin(&ck, err, errlen)};
  int rc = kube_configure(&tmp, config);
  kube_config_free(&tmp);
  return config_check_end(&ck, rc);
}

static void on_health_timer_closed(uv_handle_t *h) {
  free(h);
}

static int kube_start(void *self) {
  kube_backend *b = self;
  b->client = httpc_client_new(b->loop, &b->endpoint, "", "kubernetes");
  b->health_timer = malloc(sizeof *b->health_timer);
  if (!b->client || !b->health_timer) {
    b->host->set_error(b->inst, "cannot create the API client (out of memory)");
    free(b->health_timer);
    b->health_timer = NULL;
    return EXECD_ENOMEM;
  }
  uv_timer_init(b->loop, b->health_timer);
  b->health_timer->data = b;
  uv_timer_start(b->health_timer, on_health_timer, HEALTH_TICK_MS, HEALTH_TICK_MS);
  uv_unref((uv_handle_t *)b->health_timer);
  refresh_health(b);
  return 0;
}

static void kube_stop(void *self) {
  kube_backend *b = self;
  b->stopped = true;
  if (b->health_timer) {
    uv_timer_stop(b->health_timer);
    uv_close((uv_handle_t *)b->health_timer, on_health_timer_closed);
    b->health_timer = NULL;
  }
  kube_jobs_abandon(b);
  httpc_client_close(b->client);
  b->client = NULL;
  b->ping = NULL;
  b->sweep = NULL;
}

static void kube_destroy(void *self) {
  kube_backend *b = self;
  kube_config_free(b);
  free(b);
}

/* ---- ops ------------------------------------------------------------------------- */

static int kube_check(void *self, const execd_job_spec *spec) {
  kube_backend *b = self;
  bool root;
  int rc = container_check_request(b->host, b->inst, "kubernetes", b->images_allowed, spec, &root);
  if (rc)
    return rc;
  if (root) {
    b->host->set_error(b->inst, "user \"%s\": pods run with runAsNonRoot, not as root",
                       spec->user);
    return EXECD_EPERM;
  }
  const char *net = spec->limits ? spec->limits->network : NULL;
  if (net && strcmp(net, "none") != 0) {
    b->host->set_error(b->inst, "network \"%s\": the kubernetes backend runs pods on the "
                                "cluster's network and offers no choice; ask for \"none\"",
                       net);
    return EXECD_EPERM;
  }
  return 0;
}

static int kube_op_start(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  kube_backend *b = self;
  int rc = kube_check(b, spec);
  if (rc)
    return rc;
  if (!b->client) {
    b->host->set_error(b->inst, "%s: stopped", EXECD_ERR_BACKEND_UNAVAILABLE);
    return EXECD_EUNAVAIL;
  }
  if (!spec->workspace) {
    b->host->set_error(b->inst, "no workspace");
    return EXECD_EINVAL;
  }
  return kube_job_start(b, spec, job, handle, false);
}

static int kube_signal(void *self, void *handle, int signum) {
  return kube_job_signal(self, handle, signum);
}

static int kube_adopt(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  kube_backend *b = self;
  if (!b->client) {
    b->host->set_error(b->inst, "%s: stopped", EXECD_ERR_BACKEND_UNAVAILABLE);
    return EXECD_EUNAVAIL;
  }
  return kube_job_start(b, spec, job, handle, true);
}

static void kube_adopt_done(void *self) {
  kube_backend *b = self;
  b->adoption_over = true;
  kube_sweep(b);
}

static const execd_backend_ops kube_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = kube_check,
    .start = kube_op_start,
    .signal = kube_signal,
    .health = kube_health,
    .adopt = kube_adopt,
    .adopt_done = kube_adopt_done,
};

static const execd_plugin kube_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "kubernetes-job",
    .version = PACKAGE_VERSION,
    .description = "runs executions as hardened batch/v1 Jobs through the Kubernetes API",
    .config_keys = kube_config_keys,
    .create = kube_create,
    .start = kube_start,
    .stop = kube_stop,
    .destroy = kube_destroy,
    .ops = &kube_ops,
    .check_config = kube_check_config,
};

EXECD_PLUGIN_DEFINE(kube_plugin)
