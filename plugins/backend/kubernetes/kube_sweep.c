/* Leftovers: this daemon's Jobs (labels execd.daemon and execd.instance)
 * that no attempt runs now, from executions that ended or were given up
 * while execd was down or the API server away.  Deleted with
 * propagationPolicy Background, so their pods go too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_api.h"
#include "kube_internal.h"

#define SWEEP_MS 30000
#define SWEEP_BODY_MAX (8u << 20)

static void on_orphan_deleted(void *arg, const httpc_response *r) {
  (void)arg;
  (void)r;
}

static void on_list(void *arg, const httpc_response *r) {
  kube_backend *b = arg;
  b->sweep = NULL;
  if (r->transport_err || r->status != 200) {
    char msg[600];
    b->host->log(b->inst, EXECD_LOG_WARNING, "listing leftover jobs: %s",
                 r->transport_err ? r->error : kube_error_message(r, msg, sizeof msg));
    return;
  }
  char err[200];
  json_t *doc = kube_json_parse(r->body, r->body_len, err, sizeof err);
  if (!doc) {
    b->host->log(b->inst, EXECD_LOG_WARNING, "listing leftover jobs: %s", err);
    return;
  }
  size_t i;
  const json_t *item;
  json_array_foreach(json_object_get(doc, "items"), i, item) {
    const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
    if (!name || kube_job_is_running(b, name))
      continue;
    b->host->log(b->inst, EXECD_LOG_INFO, "removing leftover job %s", name);
    char *path = kube_path(b, "/apis/batch/v1", "jobs", name, "propagationPolicy=Background");
    if (path)
      kube_request(b, "DELETE", path, NULL, SWEEP_MS, on_orphan_deleted, NULL);
    free(path);
  }
  json_decref(doc);
}

void kube_sweep(kube_backend *b) {
  if (b->sweep || !b->client)
    return;
  char q[200];
  snprintf(q, sizeof q, "labelSelector=execd.daemon%%3D%s%%2Cexecd.instance%%3D%s",
           b->daemon_label, b->instance_label);
  char *path = kube_path(b, "/apis/batch/v1", "jobs", NULL, q);
  if (!path)
    return;
  httpc_request_opts o = {.method = "GET", .path = path, .extra_header = b->auth_header,
                          .timeout_ms = SWEEP_MS, .body_max = SWEEP_BODY_MAX, .on_done = on_list,
                          .arg = b};
  b->sweep = httpc_request_start(b->client, &o);
  free(path);
}
