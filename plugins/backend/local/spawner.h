/* Jobs started off the event loop.
 *
 * Starting a job suspends the thread that starts it until the job has
 * exec'd (spawn.h), and a uid of its own is claimed only after a helper
 * process has probed it (identity.h).  Done on the loop, both kept every
 * other execution waiting meanwhile: the loop was suspended for about as
 * long as the jobs ran.  Threads of the backend do both instead (two, the
 * claims one at a time) and hand each result back to the loop.
 *
 * A request and everything its plan points at belong to the caller and
 * must stay untouched from spawner_submit() until its done callback, which
 * runs on the loop (never from inside spawner_submit()). */
#ifndef EXECD_LOCAL_SPAWNER_H
#define EXECD_LOCAL_SPAWNER_H

#include <stdbool.h>
#include <sys/types.h>

#include <uv.h>

#include "identity.h"
#include "spawn.h"

typedef struct spawner spawner;
typedef struct spawn_request spawn_request;

struct spawn_request {
  /* In. */
  spawn_plan plan;
  identity_range *claim_from; /* claim a uid of it for plan.uid/gid first, or NULL */
  void (*done)(spawn_request *req); /* on the loop */
  void *data;
  /* Out. */
  identity_claim claim; /* the uid claimed (lock_fd < 0: none) */
  spawn_child child;    /* when err == 0 */
  int err;              /* 0, or an errno value; EAGAIN from the claim: every uid in use */
  const char *step;     /* the step that failed ("uid claim", "execve", ...) */
  /* The spawner's. */
  spawn_request *next;
};

/* Starts the thread; NULL with *err set if it cannot. */
spawner *spawner_start(uv_loop_t *loop, int *err);

/* Queues a request (loop thread). */
void spawner_submit(spawner *s, spawn_request *req);

/* True if PID may be a job that a spawner has started and not yet handed
 * to the loop (or one is being started now): the subreaper must leave such
 * a zombie to its job (reaper.c).  Loop thread; takes each spawner's lock
 * only for a look at its lists. */
bool spawners_may_own(pid_t pid);

/* Stops the thread (loop thread) and calls done for every request not yet
 * delivered: the ones it finished as they are, the ones it never took with
 * err ECANCELED.  Then frees the spawner.  NULL is a no-op. */
void spawner_stop(spawner *s);

#endif
