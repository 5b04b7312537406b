/* The pipeline object: its set-up and shutdown, its backends and
 * transports, the active executions, the run queue and what the API reads
 * of them.  Executions, attempts, output, recovery and drain have their
 * own files (see pipeline_internal.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "ids.h"
#include "job_spec.h"
#include "pipeline_internal.h"
#include "workspace.h"
#include "xalloc.h"

/* --- set-up and shutdown ------------------------------------------------- */

pipeline *pipeline_new(uv_loop_t *loop, const execd_config *cfg) {
  pipeline *p = xcalloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->loop = loop;
  p->cfg = cfg;
  p->backends = xcalloc(cfg->n_backends ? cfg->n_backends : 1, sizeof *p->backends);
  p->transports = xcalloc(cfg->n_transports ? cfg->n_transports : 1, sizeof *p->transports);
  if (!p->backends || !p->transports) {
    pipeline_free(p);
    return NULL;
  }
  scheduler_init(&p->sched);
  RB_INIT(&p->active);
  p->started_ms = ids_now_ms();
  return p;
}

void pipeline_free(pipeline *p) {
  if (!p)
    return;
  free(p->backends);
  free(p->transports);
  free(p);
}

void pipeline_set_storage(pipeline *p, execd_instance *storage) {
  records_init(&p->records, storage);
}

int pipeline_add_backend(pipeline *p, execd_instance *inst, const plugin_block *block) {
  if (p->n_backends >= p->cfg->n_backends)
    return EXECD_ENOMEM;
  backend_rt *b = &p->backends[p->n_backends++];
  b->inst = inst;
  b->ops = inst->ops;
  b->block = block;
  return 0;
}

int pipeline_add_transport(pipeline *p, execd_instance *inst) {
  if (p->n_transports >= p->cfg->n_transports)
    return EXECD_ENOMEM;
  p->transports[p->n_transports++] = inst;
  return 0;
}

void pipeline_close(pipeline *p) {
  /* Whatever is left stays in storage as it is and is recovered at the
   * next start; only memory is released here. */
  claims_close(p);
  execution *ex, *next;
  RB_FOREACH_SAFE(ex, exec_tree, &p->active, next) {
    scheduler_remove(&p->sched, &ex->queue);
    execution_notify_done(ex);
    execution_release(ex);
  }
}

/* --- what the API and the host table read ---------------------------------- */

uv_loop_t *pipeline_loop(const pipeline *p) { return p->loop; }
const execd_config *pipeline_config(const pipeline *p) { return p->cfg; }
records *pipeline_records(pipeline *p) { return &p->records; }
bool pipeline_draining(const pipeline *p) { return p->draining; }
size_t pipeline_queue_depth(const pipeline *p) { return p->sched.depth; }
void pipeline_count_rejected(pipeline *p) { p->rejected_total++; }

void pipeline_health(pipeline *p, void (*report)(void *arg, execd_instance *inst, int rc),
                     void *arg) {
  report(arg, records_instance(&p->records), records_health(&p->records));
  for (size_t i = 0; i < p->n_backends; i++) {
    backend_rt *b = &p->backends[i];
    instance_clear_error(b->inst);
    report(arg, b->inst, b->ops->health ? b->ops->health(b->inst->self) : 0);
  }
  for (size_t i = 0; i < p->n_transports; i++) {
    execd_instance *t = p->transports[i];
    const execd_transport_ops *ops = t->ops;
    instance_clear_error(t);
    report(arg, t, ops->health ? ops->health(t->self) : 0);
  }
}

void pipeline_get_stats(const pipeline *p, pipeline_stats *out) {
  memset(out, 0, sizeof *out);
  execution *ex;
  RB_FOREACH(ex, exec_tree, (struct exec_tree *)&p->active) out->active[ex->state]++;
  memcpy(out->finished_total, p->finished_total, sizeof out->finished_total);
  out->accepted_total = p->accepted_total;
  out->rejected_total = p->rejected_total;
  out->attempts_total = p->attempts_total;
  out->running = p->running;
  out->queue_depth = p->sched.depth;
  out->started_ms = p->started_ms;
}

size_t pipeline_backend_count(const pipeline *p) { return p->n_backends; }
const char *pipeline_backend_name(const pipeline *p, size_t i) {
  return p->backends[i].inst->name;
}
int pipeline_backend_running(const pipeline *p, size_t i) { return p->backends[i].running; }

/* --- backends ------------------------------------------------------------------ */

backend_rt *pipeline_backend(pipeline *p, const char *name) {
  for (size_t i = 0; i < p->n_backends; i++)
    if (strcmp(p->backends[i].inst->name, name) == 0)
      return &p->backends[i];
  return NULL;
}

int pipeline_backend_check(pipeline *p, const json_t *record, char *why, size_t whylen,
                           const char **backend_name) {
  const char *name = json_string_value(json_object_get(record, "backend"));
  backend_rt *b = name ? pipeline_backend(p, name) : NULL;
  *backend_name = name ? name : "";
  if (!b || !b->ops->check)
    return 0;
  char dir[4096];
  workspace_path(p->cfg->state_dir, json_string_value(json_object_get(record, "id")), 1, dir,
                 sizeof dir);
  execd_job_spec js;
  job_spec_storage *storage = NULL;
  int rc = job_spec_build(record, 1, dir, &js, &storage);
  if (rc == 0) {
    instance_clear_error(b->inst);
    rc = b->ops->check(b->inst->self, &js);
    job_spec_free(storage);
  }
  if (rc)
    snprintf(why, whylen, "%s", instance_error(b->inst, execd_strerror(rc)));
  return rc;
}

/* --- the active executions and the run queue ------------------------------ */

execution *pipeline_enqueue(pipeline *p, json_t *record, struct agent *accepted_with) {
  p->accepted_total++;
  execution *ex = execution_new(p, record);
  if (!ex)
    return NULL;
  ex->agent = agent_ref(accepted_with);
  scheduler_push(&p->sched, &ex->queue);
  return ex;
}

void pipeline_accept_claimable(pipeline *p) {
  p->accepted_total++;
  claims_wake(p, 0);
}

execution *pipeline_find(pipeline *p, const char *id) {
  execution key;
  snprintf(key.id, sizeof key.id, "%s", id);
  return RB_FIND(exec_tree, &p->active, &key);
}

static execution *from_entry(sched_entry *e) {
  return (execution *)((char *)e - offsetof(execution, queue));
}

static bool backend_has_room(sched_entry *e, void *arg) {
  (void)arg;
  return backend_rt_has_room(from_entry(e)->backend);
}

void pipeline_schedule(pipeline *p) {
  /* Nothing starts before recovery is over: it removes the last run's
   * workspaces and needs to know which ones are still in use. */
  while (!p->draining && !p->recovery && p->running < p->cfg->max_running) {
    sched_entry *e = scheduler_pop(&p->sched, backend_has_room, NULL);
    if (!e)
      break;
    execution_wake(from_entry(e));
    attempt_start(from_entry(e));
  }
  claims_kick(p);
}
