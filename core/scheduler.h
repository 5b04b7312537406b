/* The run queue: priority (9 first) then FIFO, with per-backend limits
 * applied by the caller's predicate. */
#ifndef EXECD_CORE_SCHEDULER_H
#define EXECD_CORE_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#define SCHED_PRIORITIES 10

typedef struct sched_entry {
  TAILQ_ENTRY(sched_entry) link;
  int priority; /* 0..9 */
  bool queued;
} sched_entry;

TAILQ_HEAD(sched_list, sched_entry);

typedef struct scheduler {
  struct sched_list levels[SCHED_PRIORITIES];
  size_t depth;
} scheduler;

void scheduler_init(scheduler *s);
void scheduler_push(scheduler *s, sched_entry *e);
void scheduler_remove(scheduler *s, sched_entry *e);
/* The first entry, by priority then age, for which can_run(e, arg) is
 * true; it is removed from the queue.  NULL if none can run. */
sched_entry *scheduler_pop(scheduler *s, bool (*can_run)(sched_entry *e, void *arg),
                           void *arg);

#endif
