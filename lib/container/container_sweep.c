/* Removal of containers an earlier run of this execd left behind that it
 * did not re-attach to (adopt): those of executions that ended, or whose
 * attempt was given up while the engine was down.  Such an attempt is over
 * for execd, so its container must not linger.  Containers are matched by
 * the labels execd.daemon (this daemon's state directory) and
 * execd.instance, so other daemons' containers on the same engine are left
 * alone; containers of attempts running now (by execution and attempt:
 * a create may not have answered yet) are skipped.
 * Runs once execd has re-attached what it will (adopt_done) and whenever
 * the engine comes back after being down. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_internal.h"

#define SWEEP_TIMEOUT_MS 30000L

static void on_orphan_removed(void *arg, const httpc_response *r) {
  container_backend *b = arg;
  b->sweep_removals--;
  if (r->transport_err || (r->status != 200 && r->status != 204 && r->status != 404))
    b->host->log(b->inst, EXECD_LOG_WARNING, "removing a leftover container: %s",
                 httpc_error_message(r, (char[200]){0}, 200));
}

static void on_listed(void *arg, const httpc_response *r) {
  container_backend *b = arg;
  b->sweep = NULL;
  if (r->transport_err || r->status != 200)
    return; /* tried again when the engine is back */
  json_t *list = json_loadb(r->body, r->body_len, 0, NULL);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *id = json_string_value(json_object_get(c, "Id"));
    json_t *labels = json_object_get(c, "Labels");
    const char *exec_id = json_string_value(json_object_get(labels, "execd.execution"));
    const char *attempt = json_string_value(json_object_get(labels, "execd.attempt"));
    const char *warm = json_string_value(json_object_get(labels, "execd.warm"));
    if (!id || (exec_id && attempt && container_job_owns(b, exec_id, attempt)) ||
        container_removal_pending(b, id) ||
        (container_warm_owns(b, warm) && container_slot_owns(b, id)))
      continue;
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "removing container %.12s of %s %s, left by an earlier run", id,
                 warm ? "warm slot" : "execution", warm ? warm : exec_id ? exec_id : "?");
    char path[200];
    snprintf(path, sizeof path, "/containers/%s?v=1&force=1", id);
    if (httpc_request_json(b->client, "DELETE", path, NULL, SWEEP_TIMEOUT_MS, on_orphan_removed,
                           b))
      b->sweep_removals++;
  }
  json_decref(list);
}

void container_sweep(container_backend *b) {
  /* Until execd has re-attached to the attempts that outlived its last
   * run, their containers are not leftovers. */
  /* A listing made while removals are in flight would list those
   * containers again (at start, adopt_done and the first ping both ask). */
  if (b->sweep || b->sweep_removals || !b->client || b->stopped || !b->adoption_over)
    return;
  json_t *filter = json_pack("{s:[s+, s+]}", "label", "execd.daemon=", b->daemon_label,
                             "execd.instance=", b->host->instance_name(b->inst));
  char *text = filter ? json_dumps(filter, JSON_COMPACT) : NULL;
  char *esc = text ? httpc_url_escape(text) : NULL;
  json_decref(filter);
  free(text);
  if (!esc)
    return;
  char *path = NULL;
  if (asprintf(&path, "/containers/json?all=1&filters=%s", esc) >= 0) {
    b->sweep = httpc_request_json(b->client, "GET", path, NULL, SWEEP_TIMEOUT_MS, on_listed, b);
    free(path);
  }
  free(esc);
}
