/* The store's reader threads: reads of bodies, logs and time marks run off
 * the loop as on libuv's thread pool, but a finished read wakes the loop
 * through an eventfd that a uv_poll watches.  The pool's own wake-up
 * (uv_async_send) makes the loop spin, then sched_yield(), until the
 * worker that wrote the eventfd has run again to mark its send complete:
 * on a busy machine the loop waits a whole time slice of other processes,
 * milliseconds per read (doc/storage-file.md, "Reads").  Reads also no
 * longer queue behind commits, compactions and workspaces on the pool.
 *
 * Started by the first read (a store created only to be checked or
 * fuzzed has no threads); stopped by file_stop once the reads in flight
 * are answered; the threads are joined by file_destroy. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "file_internal.h"

#define READER_THREADS 2

STAILQ_HEAD(reader_tasks, reader_task);

struct reader {
  file_store *st;
  uv_mutex_t lock;
  uv_cond_t wake;
  struct reader_tasks todo;     /* for the threads (under lock) */
  struct reader_tasks finished; /* for the loop (under lock) */
  bool quit;                    /* under lock: threads exit once todo is empty */
  uv_thread_t threads[READER_THREADS];
  int nthreads;
  int efd;
  uv_poll_t poll;
  bool poll_open; /* until its close callback */
  bool closing;   /* file_stop: close the poll once nothing is outstanding */
  size_t outstanding; /* submitted, done() not yet called (loop only) */
};

static void thread_main(void *arg) {
  reader *r = arg;
  uv_mutex_lock(&r->lock);
  for (;;) {
    reader_task *t = STAILQ_FIRST(&r->todo);
    if (!t) {
      if (r->quit)
        break;
      uv_cond_wait(&r->wake, &r->lock);
      continue;
    }
    STAILQ_REMOVE_HEAD(&r->todo, link);
    uv_mutex_unlock(&r->lock);
    t->run(t);
    uv_mutex_lock(&r->lock);
    bool first = STAILQ_EMPTY(&r->finished);
    STAILQ_INSERT_TAIL(&r->finished, t, link);
    if (first) {
      /* An eventfd write never blocks below its counter's maximum; the
       * loop reads the counter back to 0 each time it wakes. */
      uint64_t one = 1;
      ssize_t n;
      do
        n = write(r->efd, &one, sizeof one);
      while (n < 0 && errno == EINTR);
    }
  }
  uv_mutex_unlock(&r->lock);
}

static void on_poll_closed(uv_handle_t *h) {
  reader *r = h->data;
  r->poll_open = false;
}

static void close_if_idle(reader *r) {
  if (r->closing && r->outstanding == 0 && r->poll_open &&
      !uv_is_closing((uv_handle_t *)&r->poll))
    uv_close((uv_handle_t *)&r->poll, on_poll_closed);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  reader *r = p->data;
  (void)status;
  (void)events;
  uint64_t count;
  ssize_t n;
  do
    n = read(r->efd, &count, sizeof count);
  while (n < 0 && errno == EINTR);
  struct reader_tasks done = STAILQ_HEAD_INITIALIZER(done);
  uv_mutex_lock(&r->lock);
  STAILQ_CONCAT(&done, &r->finished);
  uv_mutex_unlock(&r->lock);
  reader_task *t;
  while ((t = STAILQ_FIRST(&done)) != NULL) {
    STAILQ_REMOVE_HEAD(&done, link);
    r->outstanding--;
    t->done(t);
  }
  close_if_idle(r);
}

/* Ends the threads (each finishes what is queued first) and frees r. */
static void reader_free(reader *r) {
  uv_mutex_lock(&r->lock);
  r->quit = true;
  uv_cond_broadcast(&r->wake);
  uv_mutex_unlock(&r->lock);
  for (int i = 0; i < r->nthreads; i++)
    uv_thread_join(&r->threads[i]);
  uv_cond_destroy(&r->wake);
  uv_mutex_destroy(&r->lock);
  if (r->efd >= 0)
    close(r->efd);
  free(r);
}

static reader *reader_new(file_store *st) {
  reader *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->st = st;
  r->efd = -1;
  STAILQ_INIT(&r->todo);
  STAILQ_INIT(&r->finished);
  if (uv_mutex_init(&r->lock) != 0) {
    free(r);
    return NULL;
  }
  if (uv_cond_init(&r->wake) != 0) {
    uv_mutex_destroy(&r->lock);
    free(r);
    return NULL;
  }
  r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->efd < 0 || uv_poll_init(st->loop, &r->poll, r->efd) != 0) {
    reader_free(r);
    return NULL;
  }
  r->poll.data = r;
  r->poll_open = true;
  for (int i = 0; i < READER_THREADS; i++) {
    if (uv_thread_create(&r->threads[i], thread_main, r) != 0)
      break;
    r->nthreads++;
  }
  if (r->nthreads == 0 || uv_poll_start(&r->poll, UV_READABLE, on_readable) != 0) {
    /* The poll is initialised: it must be closed before r goes. */
    r->closing = true;
    st->reader_failed = true;
    close_if_idle(r);
    return r;
  }
  return r;
}

int reader_submit(file_store *st, reader_task *t) {
  if (st->stopping || st->reader_failed)
    return -1;
  if (!st->reader) {
    st->reader = reader_new(st);
    if (!st->reader) {
      st->reader_failed = true;
      return -1;
    }
    if (st->reader_failed)
      return -1;
  }
  reader *r = st->reader;
  r->outstanding++;
  uv_mutex_lock(&r->lock);
  STAILQ_INSERT_TAIL(&r->todo, t, link);
  uv_cond_signal(&r->wake);
  uv_mutex_unlock(&r->lock);
  return 0;
}

void reader_stop(file_store *st) {
  reader *r = st->reader;
  if (!r)
    return;
  r->closing = true;
  close_if_idle(r);
}

void reader_destroy(file_store *st) {
  if (st->reader)
    reader_free(st->reader);
  st->reader = NULL;
}
