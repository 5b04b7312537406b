/* The drain at shutdown: no attempt starts any more, and the caller hears
 * when none is running or the shutdown grace has passed. */
#include "config.h"

#include <stdlib.h>

#include "ids.h"
#include "log.h"
#include "pipeline_internal.h"
#include "xalloc.h"

typedef struct drain_ctx {
  pipeline *pipeline;
  uv_timer_t poll;
  void (*cb)(void *arg);
  void *arg;
} drain_ctx;

static void drain_closed(uv_handle_t *h) { free(h->data); }

static void drain_check(uv_timer_t *t) {
  drain_ctx *d = t->data;
  if (d->pipeline->running > 0 && ids_now_ms() < d->pipeline->drain_deadline_ms)
    return;
  if (d->pipeline->running > 0)
    log_warn("shutdown: %d executions still running after the grace period; they will be "
             "recovered at the next start",
             d->pipeline->running);
  uv_timer_stop(t);
  d->cb(d->arg);
  uv_close((uv_handle_t *)t, drain_closed);
}

void pipeline_drain(pipeline *p, void (*cb)(void *arg), void *arg) {
  p->draining = true;
  drain_ctx *d = xcalloc(1, sizeof *d);
  d->pipeline = p;
  d->cb = cb;
  d->arg = arg;
  p->drain_deadline_ms = ids_now_ms() + p->cfg->shutdown_grace_ms;
  uv_timer_init(p->loop, &d->poll);
  d->poll.data = d;
  if (p->running)
    log_notice("shutdown: waiting up to %lld ms for %d running executions",
               (long long)p->cfg->shutdown_grace_ms, p->running);
  uv_timer_start(&d->poll, drain_check, 1, 50);
}

void pipeline_drain_now(pipeline *p) { p->drain_deadline_ms = 0; }
