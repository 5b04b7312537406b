/* See spawner.h.  One thread per backend; requests in order.  A failed
 * request leaves nothing behind: a uid it claimed is given back only after
 * every process of it is killed (nothing ran under it, unless the spawn
 * failed after the user switch). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "spawner.h"

struct spawner {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;       /* a request was queued, or stop */
  spawn_request *todo, **todo_tail;
  spawn_request *finished, **finished_tail;
  bool stopping;
  bool busy;                 /* a request is being run */
  uv_async_t async;          /* finished requests are waiting for the loop */
  spawner *next_spawner;     /* every spawner (spawners_may_own); loop thread */
};

static spawner *all_spawners;

static void run(spawn_request *r) {
  r->claim.lock_fd = -1;
  r->err = 0;
  r->step = NULL;
  if (r->claim_from) {
    int e = identity_claim_next(r->claim_from, &r->claim);
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

static void *loop_thread(void *arg) {
  spawner *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (!s->todo && !s->stopping)
      pthread_cond_wait(&s->wake, &s->lock);
    if (s->stopping)
      break;
    spawn_request *r = s->todo;
    s->todo = r->next;
    if (!s->todo)
      s->todo_tail = &s->todo;
    s->busy = true;
    pthread_mutex_unlock(&s->lock);
    run(r);
    pthread_mutex_lock(&s->lock);
    s->busy = false;
    r->next = NULL;
    *s->finished_tail = r;
    s->finished_tail = &r->next;
    uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* Hands finished requests to their callbacks (loop). */
static void deliver(uv_async_t *a) {
  spawner *s = a->data;
  pthread_mutex_lock(&s->lock);
  spawn_request *list = s->finished;
  s->finished = NULL;
  s->finished_tail = &s->finished;
  pthread_mutex_unlock(&s->lock);
  while (list) {
    spawn_request *next = list->next;
    list->done(list);
    list = next;
  }
}

static void free_spawner(uv_handle_t *h) {
  spawner *s = h->data;
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  free(s);
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
  rc = pthread_create(&s->thread, NULL, loop_thread, s);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (rc) {
    *err = rc;
    uv_close((uv_handle_t *)&s->async, free_spawner);
    return NULL;
  }
  s->next_spawner = all_spawners;
  all_spawners = s;
  return s;
failed:
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->lock);
  free(s);
  return NULL;
}

bool spawners_may_own(pid_t pid) {
  bool owns = false;
  for (spawner *s = all_spawners; s && !owns; s = s->next_spawner) {
    pthread_mutex_lock(&s->lock);
    /* While a request runs its child may have exec'd (its exit signal is
     * SIGCHLD from then on) and exited before the thread knows its pid. */
    owns = s->busy;
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
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
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
