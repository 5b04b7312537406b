/* See spawner.h.  SPAWNER_THREADS threads per backend take requests in
 * order; the uid claims, which move the range's round robin, are made one
 * at a time (claim_lock), the spawns side by side.  A failed
 * request leaves nothing behind: a uid it claimed is given back only after
 * every process of it is killed (nothing ran under it, unless the spawn
 * failed after the user switch). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "spawner.h"

/* Two: a spawn keeps its thread suspended while the child sets up and
 * execs, which is CPU work another core can do meanwhile. */
#define SPAWNER_THREADS 2

struct spawner {
  pthread_t threads[SPAWNER_THREADS];
  int started;               /* threads running */
  pthread_mutex_t claim_lock; /* identity_claim_next() moves the range */
  pthread_mutex_t lock;
  pthread_cond_t wake;       /* a request was queued, or stop */
  spawn_request *todo, **todo_tail;
  spawn_request *finished, **finished_tail;
  bool stopping;
  int busy;                  /* requests being run */
  spawn_request *current[SPAWNER_THREADS]; /* the requests being run */
  uv_async_t async;          /* finished requests are waiting for the loop */
  spawner *next_spawner;     /* every spawner (spawners_may_own); loop thread */
};

static spawner *all_spawners;

static void run(spawner *s, spawn_request *r) {
  r->claim.lock_fd = -1;
  r->err = 0;
  r->step = NULL;
  if (r->claim_from) {
    pthread_mutex_lock(&s->claim_lock);
    int e = identity_claim_next(r->claim_from, &r->claim);
    pthread_mutex_unlock(&s->claim_lock);
    if (e) {
      r->err = e;
      r->step = "uid claim";
      return;
    }
    r->plan.uid = r->claim.uid;
    r->plan.gid = (gid_t)r->claim.uid;
  }
  r->err = spawn_start(&r->plan, &r->child, &r->step);
  if (r->err && r->claim.lock_fd >= 0) {
    identity_kill_all(r->claim.uid);
    identity_release(&r->claim);
  }
}

/* Is R's directory given to a uid by a spawn under way?  Two children
 * giving one directory to their own uids at once would each find it the
 * other's at their chdir; one after the other, as on a single thread.
 * (Attempts have workspaces of their own; callers that share one do.) */
static bool dir_in_use(const spawner *s, const spawn_request *r) {
  const char *dir = r->plan.private_dir;
  for (int i = 0; dir && i < SPAWNER_THREADS; i++)
    if (s->current[i] && s->current[i]->plan.private_dir &&
        strcmp(s->current[i]->plan.private_dir, dir) == 0)
      return true;
  return false;
}

static void *worker(void *arg) {
  spawner *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->stopping && (!s->todo || dir_in_use(s, s->todo)))
      pthread_cond_wait(&s->wake, &s->lock);
    if (s->stopping)
      break;
    spawn_request *r = s->todo;
    s->todo = r->next;
    if (!s->todo)
      s->todo_tail = &s->todo;
    int slot = 0;
    while (s->current[slot])
      slot++;
    s->current[slot] = r;
    s->busy++;
    pthread_mutex_unlock(&s->lock);
    run(s, r);
    pthread_mutex_lock(&s->lock);
    s->current[slot] = NULL;
    s->busy--;
    r->next = NULL;
    *s->finished_tail = r;
    s->finished_tail = &r->next;
    uv_async_send(&s->async);
    pthread_cond_broadcast(&s->wake); /* a request may wait for its directory */
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* Hands finished requests to their callbacks (loop), one at a time: the
 * others stay in the list, where spawners_may_own() finds them while a
 * callback runs (it may scan for exited children). */
static void deliver(uv_async_t *a) {
  spawner *s = a->data;
  for (;;) {
    pthread_mutex_lock(&s->lock);
    spawn_request *r = s->finished;
    if (r) {
      s->finished = r->next;
      if (!s->finished)
        s->finished_tail = &s->finished;
    }
    pthread_mutex_unlock(&s->lock);
    if (!r)
      return;
    r->done(r);
  }
}

static void free_spawner(uv_handle_t *h) {
  spawner *s = h->data;
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->claim_lock);
  free(s);
}

/* Wakes every thread to stop and waits for them. */
static void join_all(spawner *s) {
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->lock);
  for (int i = 0; i < s->started; i++)
    pthread_join(s->threads[i], NULL);
  s->started = 0;
}

spawner *spawner_start(uv_loop_t *loop, int *err) {
  spawner *s = calloc(1, sizeof *s);
  if (!s) {
    *err = ENOMEM;
    return NULL;
  }
  s->todo_tail = &s->todo;
  s->finished_tail = &s->finished;
  pthread_mutex_init(&s->lock, NULL);
  pthread_mutex_init(&s->claim_lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  int rc = uv_async_init(loop, &s->async, deliver);
  if (rc) {
    *err = -rc;
    goto failed;
  }
  s->async.data = s;
  /* No signal handler of the daemon runs on this thread. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  for (rc = 0; rc == 0 && s->started < SPAWNER_THREADS; s->started++)
    rc = pthread_create(&s->threads[s->started], NULL, worker, s);
  if (rc)
    s->started--;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (rc) {
    *err = rc;
    join_all(s);
    uv_close((uv_handle_t *)&s->async, free_spawner);
    return NULL;
  }
  s->next_spawner = all_spawners;
  all_spawners = s;
  return s;
failed:
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->claim_lock);
  free(s);
  return NULL;
}

bool spawners_may_own(pid_t pid) {
  bool owns = false;
  for (spawner *s = all_spawners; s && !owns; s = s->next_spawner) {
    pthread_mutex_lock(&s->lock);
    /* While a request runs its child may have exec'd (its exit signal is
     * SIGCHLD from then on) and exited before the thread knows its pid. */
    owns = s->busy > 0;
    for (spawn_request *r = s->finished; r && !owns; r = r->next)
      owns = r->err == 0 && r->child.pid == pid;
    pthread_mutex_unlock(&s->lock);
  }
  return owns;
}

void spawner_submit(spawner *s, spawn_request *req) {
  req->next = NULL;
  pthread_mutex_lock(&s->lock);
  *s->todo_tail = req;
  s->todo_tail = &req->next;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
}

void spawner_stop(spawner *s) {
  if (!s)
    return;
  join_all(s);
  for (spawner **p = &all_spawners; *p; p = &(*p)->next_spawner)
    if (*p == s) {
      *p = s->next_spawner;
      break;
    }
  deliver(&s->async);
  spawn_request *r = s->todo;
  s->todo = NULL;
  s->todo_tail = &s->todo;
  while (r) {
    spawn_request *next = r->next;
    r->claim.lock_fd = -1;
    r->err = ECANCELED;
    r->step = "spawn";
    r->done(r);
    r = next;
  }
  uv_close((uv_handle_t *)&s->async, free_spawner);
}
