/* Removal of a finished attempt's container, off the attempt's critical
 * path: the attempt reports its exit first, and the container (with its
 * anonymous volume) is removed after, in the background.  Nothing in it is
 * read any more by then: the exit code came from the wait or the inspect,
 * the output stream has ended and the outputs are in the host workspace.
 * A daemon that stops or dies before a removal answered leaves the
 * container to the sweep of its next start (container_sweep.c), which
 * skips the ones still being removed here.  stop() keeps the engine client
 * open until the removals in flight have answered (bounded by
 * REMOVAL_TIMEOUT_MS), so a clean stop leaves nothing behind. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_internal.h"

#define REMOVAL_TIMEOUT_MS 15000L

struct container_removal {
  container_backend *b;
  char *id;
  char *what; /* "execution <id>" or "warm slot <n>": for the log */
  httpc_request *req;
  LIST_ENTRY(container_removal) link;
};

static void removal_free(container_removal *r) {
  LIST_REMOVE(r, link);
  free(r->id);
  free(r->what);
  free(r);
}

static void on_removed(void *arg, const httpc_response *resp) {
  container_removal *r = arg;
  container_backend *b = r->b;
  r->req = NULL;
  if (resp->transport_err ||
      (resp->status != 200 && resp->status != 204 && resp->status != 404))
    b->host->log(b->inst, EXECD_LOG_WARNING, "%s: removing container %.12s: %s", r->what, r->id,
                 httpc_error_message(resp, (char[200]){0}, 200));
  else
    b->host->log(b->inst, EXECD_LOG_DEBUG, "%s: container %.12s removed", r->what, r->id);
  removal_free(r);
  container_client_release_if_idle(b);
}

void container_remove_later(container_backend *b, const char *id, const char *what) {
  if (!b->client)
    return; /* stopped: the next start's sweep removes it */
  container_removal *r = calloc(1, sizeof *r);
  if (!r)
    return;
  r->b = b;
  r->id = strdup(id);
  r->what = strdup(what);
  if (!r->id || !r->what) {
    free(r->id);
    free(r->what);
    free(r);
    return;
  }
  LIST_INSERT_HEAD(&b->removals, r, link);
  char path[200];
  snprintf(path, sizeof path, "/containers/%s?v=1&force=1", id);
  r->req = httpc_request_json(b->client, "DELETE", path, NULL, REMOVAL_TIMEOUT_MS, on_removed, r);
  if (!r->req)
    removal_free(r);
}

bool container_removal_pending(const container_backend *b, const char *id) {
  const container_removal *r;
  LIST_FOREACH(r, &b->removals, link) {
    if (strcmp(r->id, id) == 0)
      return true;
  }
  return false;
}

void container_client_release_if_idle(container_backend *b) {
  if (!b->stopped || !b->client || !LIST_EMPTY(&b->removals))
    return;
  httpc_client_close(b->client);
  b->client = NULL;
}

void container_removals_forget(container_backend *b) {
  while (!LIST_EMPTY(&b->removals)) {
    container_removal *r = LIST_FIRST(&b->removals);
    httpc_request_cancel(r->req);
    removal_free(r);
  }
}
