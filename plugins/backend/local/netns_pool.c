/* See netns_pool.h.  The pool's thread makes each namespace by moving
 * itself into a new one (unshare(CLONE_NEWNET) moves only the calling
 * thread), bringing its loopback up and opening it; then it goes back to
 * the daemon's namespace, so that no namespace it hands out has any member
 * but the job that joins it.  Nothing else of the daemon runs on it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "netns_pool.h"
#include "spawn.h"

struct netns_pool {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake; /* a namespace was taken, or stop */
  int fds[NETNS_POOL_SIZE];
  int count;
  bool stopping;
  int home_fd; /* the daemon's namespace, to go back to */
};

/* One new namespace with loopback up, or -1.  Leaves the calling thread
 * in the daemon's namespace again (or returns -2 if it cannot: then the
 * thread must make no more). */
static int make_one(netns_pool *pool) {
  if (unshare(CLONE_NEWNET) < 0)
    return -1;
  int fd = -1;
  if (spawn_loopback_up() == 0)
    fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (setns(pool->home_fd, CLONE_NEWNET) < 0) {
    if (fd >= 0)
      close(fd);
    return -2;
  }
  return fd;
}

static void *fill(void *arg) {
  netns_pool *pool = arg;
  pthread_mutex_lock(&pool->lock);
  while (!pool->stopping) {
    if (pool->count == NETNS_POOL_SIZE) {
      pthread_cond_wait(&pool->wake, &pool->lock);
      continue;
    }
    pthread_mutex_unlock(&pool->lock);
    int fd = make_one(pool);
    pthread_mutex_lock(&pool->lock);
    if (fd == -2)
      break; /* stranded outside the daemon's namespace: stop making them */
    if (fd < 0) {
      /* The kernel refused (memory, a limit): jobs make their own until
       * one is taken and the thread tries again. */
      pthread_cond_wait(&pool->wake, &pool->lock);
      continue;
    }
    pool->fds[pool->count++] = fd;
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

netns_pool *netns_pool_start(int *err) {
  netns_pool *pool = calloc(1, sizeof *pool);
  if (!pool) {
    *err = ENOMEM;
    return NULL;
  }
  pool->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (pool->home_fd < 0) {
    *err = errno;
    free(pool);
    return NULL;
  }
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  /* No signal handler of the daemon runs on the pool's thread. */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  int rc = pthread_create(&pool->thread, NULL, fill, pool);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (rc != 0) {
    *err = rc;
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    close(pool->home_fd);
    free(pool);
    return NULL;
  }
  return pool;
}

int netns_pool_take(netns_pool *pool) {
  int fd = -1;
  pthread_mutex_lock(&pool->lock);
  if (pool->count > 0) {
    /* Oldest first; the slot is emptied so it cannot be handed again. */
    fd = pool->fds[0];
    pool->count--;
    for (int i = 0; i < pool->count; i++)
      pool->fds[i] = pool->fds[i + 1];
    pool->fds[pool->count] = -1;
  }
  /* Also when empty: a thread the kernel refused tries again. */
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  return fd;
}

int netns_pool_ready(netns_pool *pool) {
  pthread_mutex_lock(&pool->lock);
  int n = pool->count;
  pthread_mutex_unlock(&pool->lock);
  return n;
}

void netns_pool_stop(netns_pool *pool) {
  if (!pool)
    return;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = true;
  pthread_cond_signal(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  pthread_join(pool->thread, NULL);
  for (int i = 0; i < pool->count; i++)
    close(pool->fds[i]);
  close(pool->home_fd);
  pthread_cond_destroy(&pool->wake);
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}
