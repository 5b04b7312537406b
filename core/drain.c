/* The drain at shutdown: no attempt starts any more; running attempts get
 * the shutdown grace to end.  After it, the attempts of backends that
 * cannot re-attach to them at the next start (the local backend's
 * processes die with execd anyway) are stopped: SIGTERM, then SIGKILL
 * after kill_grace.  Their exits are not recorded: the records stay as
 * they are and recovery concludes them at the next start, like those of
 * attempts left running on backends that can re-attach (containers).
 * The caller hears when nothing it waits for is running, or at the
 * latest kill_grace + ABANDON_SLACK_MS after the grace, so execd exits
 * within shutdown_grace + kill_grace + 1 s.  A second SIGTERM skips what
 * is left of both graces: SIGKILL at once. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "ids.h"
#include "log.h"
#include "pipeline_internal.h"
#include "xalloc.h"

/* After the SIGKILL: time for the exits to come in before execd goes. */
#define ABANDON_SLACK_MS 500

typedef struct drain_ctx {
  pipeline *pipeline;
  uv_timer_t poll;
  void (*cb)(void *arg);
  void *arg;
} drain_ctx;

static void drain_closed(uv_handle_t *h) { free(h->data); }

static bool can_reattach(const execution *ex) {
  return EXECD_BACKEND_HAS(ex->backend->ops, adopt);
}

/* Attempts with a job this execd must stop before it goes. */
static int attempts_to_stop(pipeline *p) {
  int n = 0;
  execution *ex;
  RB_FOREACH(ex, exec_tree, &p->active) {
    if (ex->handle && !can_reattach(ex))
      n++;
  }
  return n;
}

static void stop_attempts(pipeline *p, int signum) {
  execution *ex;
  RB_FOREACH(ex, exec_tree, &p->active) {
    if (ex->handle && !can_reattach(ex))
      attempt_abandon(ex, signum);
  }
}

/* The grace is over: stop what cannot outlive execd.  SIGKILL straight
 * away when a second SIGTERM asked not to wait. */
static void begin_abandon(pipeline *p, bool now) {
  int64_t kill_grace = now ? 0 : p->cfg->kill_grace_ms;
  int to_stop = attempts_to_stop(p);
  if (!p->abandoning && p->running > 0)
    log_warn("shutdown: %d executions still running after the grace period; %d of them "
             "are being stopped (SIGTERM, SIGKILL after %lld ms); all are concluded by "
             "recovery at the next start",
             p->running, to_stop, (long long)kill_grace);
  p->abandoning = true;
  p->abandon_deadline_ms = ids_now_ms() + kill_grace + ABANDON_SLACK_MS;
  stop_attempts(p, now ? SIGKILL : SIGTERM);
}

static void drain_check(uv_timer_t *t) {
  drain_ctx *d = t->data;
  pipeline *p = d->pipeline;
  int64_t now = ids_now_ms();
  if (p->running > 0 && !p->abandoning) {
    if (now < p->drain_deadline_ms)
      return;
    begin_abandon(p, false);
  }
  if (p->abandoning && attempts_to_stop(p) > 0 && now < p->abandon_deadline_ms)
    return;
  if (p->running > 0)
    log_notice("shutdown: %d executions left to recovery at the next start", p->running);
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

void pipeline_drain_now(pipeline *p) {
  p->drain_deadline_ms = 0;
  if (p->draining)
    begin_abandon(p, true);
}
