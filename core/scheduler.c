#include "config.h"

#include "scheduler.h"

void scheduler_init(scheduler *s) {
  for (int i = 0; i < SCHED_PRIORITIES; i++)
    TAILQ_INIT(&s->levels[i]);
  s->depth = 0;
}

static int level_of(const sched_entry *e) {
  return e->priority < 0 ? 0 : e->priority >= SCHED_PRIORITIES ? SCHED_PRIORITIES - 1 : e->priority;
}

void scheduler_push(scheduler *s, sched_entry *e) {
  if (e->queued)
    return;
  TAILQ_INSERT_TAIL(&s->levels[level_of(e)], e, link);
  e->queued = true;
  s->depth++;
}

void scheduler_remove(scheduler *s, sched_entry *e) {
  if (!e->queued)
    return;
  TAILQ_REMOVE(&s->levels[level_of(e)], e, link);
  e->queued = false;
  s->depth--;
}

sched_entry *scheduler_pop(scheduler *s, bool (*can_run)(sched_entry *e, void *arg),
                           void *arg) {
  /* Entries of a saturated backend are skipped, so a full backend never
   * blocks others behind it. */
  for (int p = SCHED_PRIORITIES - 1; p >= 0; p--) {
    sched_entry *e;
    TAILQ_FOREACH(e, &s->levels[p], link) {
      if (can_run(e, arg)) {
        scheduler_remove(s, e);
        return e;
      }
    }
  }
  return NULL;
}
