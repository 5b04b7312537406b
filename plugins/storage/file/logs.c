/* Per-execution log files (dir/logs/<id>.log), capped at log_max bytes.
 * Beside each, dir/logs/<id>.times holds the log's time marks: each batch
 * that appends bytes appends one LOG_MARK_SIZE record (the offset of its
 * first byte, the time the first of them arrived), while the marks file is
 * within log_max too.
 * Bytes are buffered on the loop and appended by the next group commit;
 * the file is fsync'd with the next update of the execution (commit.c).
 * The cap holds the marker: log bytes fill at most log_max minus the
 * marker's length, and a file whose bytes were cut ends with the marker
 * line.  The cut is made on the loop when the file's size is known
 * (index_entry.log_size), otherwise where it is known, on the thread pool. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_internal.h"

#define TRUNCATED_MARK "\n[execd: log truncated: it reached the storage's log_max]\n"
#define MARK_LEN (sizeof TRUNCATED_MARK - 1)

/* Bytes of log a file may hold before its marker. */
static uint64_t data_cap(uint64_t cap) {
  return cap > MARK_LEN ? cap - MARK_LEN : 0;
}

/* A buffer a batch has work for: bytes, or the marker still to write. */
static bool pending(const log_buffer *b) {
  return b->len || b->dropped;
}

static int cmp_log(const log_buffer *a, const log_buffer *b) {
  return strcmp(a->id, b->id);
}

RB_GENERATE_STATIC(log_buffers, log_buffer, node, cmp_log)

void logs_path(const char *logs_dir, const char *id, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s.log", logs_dir, id);
}

void logs_times_path(const char *logs_dir, const char *id, char *buf, size_t size) {
  snprintf(buf, size, "%s/%s.times", logs_dir, id);
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static log_buffer *find(file_store *st, const char *id) {
  log_buffer key;
  snprintf(key.id, sizeof key.id, "%s", id);
  return RB_FIND(log_buffers, &st->logs, &key);
}

static void drop(file_store *st, log_buffer *b) {
  if (pending(b))
    st->logs_dirty--;
  RB_REMOVE(log_buffers, &st->logs, b);
  free(b->data);
  free(b);
}

int logs_append(file_store *st, const char *id, const char *data, size_t len) {
  if (len == 0)
    return 0;
  log_buffer *b = find(st, id);
  if (!b) {
    b = calloc(1, sizeof *b);
    if (!b)
      return EXECD_ENOMEM;
    snprintf(b->id, sizeof b->id, "%s", id);
    b->batch_job = -1;
    RB_INSERT(log_buffers, &st->logs, b);
  }
  if (b->full || b->dropped)
    return EXECD_ETOOBIG;
  bool was_pending = pending(b);
  /* With the file's size known the cut is exact here; otherwise memory
   * stays bounded by the cap and the batch makes the cut. */
  uint64_t held = b->len + b->flushing;
  index_entry *e = index_find(&st->index, id);
  uint64_t limit = st->log_max;
  if (e && e->log_size_known) {
    held += e->log_size;
    limit = data_cap(st->log_max);
  }
  size_t room = held < limit ? (size_t)(limit - held) : 0;
  size_t take = len < room ? len : room;
  if (take && b->len + take > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + take)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
      return EXECD_ENOMEM;
    b->data = grown;
    b->cap = cap;
  }
  if (take && b->len == 0)
    b->received_us = now_us(); /* the batch's mark: its first byte's arrival */
  if (take)
    memcpy(b->data + b->len, data, take);
  b->len += take;
  if (take < len)
    b->dropped = true;
  if (!was_pending && pending(b))
    st->logs_dirty++;
  return take < len ? EXECD_ETOOBIG : 0;
}

void logs_forget(file_store *st, const char *id) {
  log_buffer *b = find(st, id);
  if (!b)
    return;
  if (b->flushing == 0) {
    drop(st, b);
    return;
  }
  /* Its batch is in flight: drop the buffer once that batch is done. */
  if (pending(b))
    st->logs_dirty--;
  b->len = 0;
  b->dropped = false;
  b->removed = true;
}

void logs_collect(file_store *st, log_job *jobs, size_t *n) {
  log_buffer *b;
  RB_FOREACH(b, log_buffers, &st->logs) {
    b->batch_job = -1;
    if (!pending(b))
      continue;
    log_job *j = &jobs[*n];
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", b->id);
    j->data = b->data ? b->data : strdup("");
    if (!j->data)
      continue; /* out of memory: the marker waits for the next batch */
    j->len = b->len;
    j->received_us = b->received_us;
    j->dropped = b->dropped;
    b->dropped = false;
    b->full = b->full || j->dropped; /* nothing more is taken after the marker */
    b->flushing = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->batch_job = (long)*n;
    (*n)++;
    st->logs_dirty--;
  }
}

long logs_job_of(file_store *st, const char *id) {
  log_buffer *b = find(st, id);
  return b ? b->batch_job : -1;
}

/* How many of len bytes fit in a file of size bytes under cap, and whether
 * the truncation marker follows them: when bytes are cut here, or were
 * already dropped before the batch (dropped).  A file past its data cap
 * has its marker already. */
static size_t fit(uint64_t size, size_t len, bool dropped, uint64_t cap, bool *mark) {
  uint64_t limit = data_cap(cap);
  *mark = false;
  if (size > limit)
    return 0;
  if (size + len <= limit && !dropped)
    return len;
  *mark = true;
  return size + len <= limit ? len : (size_t)(limit - size);
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Appends the mark (offset, time_us) to the marks file at path, fsync'd
 * with sync.  A marks file at cap takes no more marks (later bytes keep the
 * last mark's time); a record cut short by a crash is cut off first, so
 * every record stays whole and aligned. */
static int append_mark(const char *path, uint64_t cap, uint64_t offset, int64_t time_us,
                       bool sync) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return -1;
  struct stat sb;
  int rc = fstat(fd, &sb);
  uint64_t size = rc == 0 ? (uint64_t)sb.st_size : 0;
  uint64_t whole = size - size % LOG_MARK_SIZE;
  if (rc == 0 && whole != size)
    rc = ftruncate(fd, (off_t)whole);
  if (rc == 0 && whole + LOG_MARK_SIZE <= cap) {
    unsigned char rec[LOG_MARK_SIZE];
    uint64_t t = (uint64_t)time_us;
    for (int i = 0; i < 8; i++) { /* little-endian, whatever the host */
      rec[i] = (unsigned char)(offset >> (8 * i));
      rec[8 + i] = (unsigned char)(t >> (8 * i));
    }
    ssize_t n;
    do
      n = pwrite(fd, rec, sizeof rec, (off_t)whole);
    while (n < 0 && errno == EINTR);
    rc = n == (ssize_t)sizeof rec ? 0 : -1;
    if (n >= 0 && n != (ssize_t)sizeof rec)
      errno = EIO;
  }
  if (rc == 0 && sync)
    rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* Makes the marks of earlier, unsynced batches durable with their log. */
static int sync_marks(const char *path) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

void log_job_run(const char *logs_dir, uint64_t cap, log_job *job) {
  char path[4096], times[4096];
  logs_path(logs_dir, job->id, path, sizeof path);
  logs_times_path(logs_dir, job->id, times, sizeof times);
  if (job->unlink) {
    if (unlink(path) != 0 && errno != ENOENT)
      job->err = errno;
    if (unlink(times) != 0 && errno != ENOENT && !job->err)
      job->err = errno;
    return;
  }
  int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && (job->len || job->dropped)) {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    job->created = fd >= 0;
  }
  if (fd < 0) {
    if (errno != ENOENT) /* a sync of a log never written is fine */
      job->err = errno;
    return;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    job->err = errno;
    close(fd);
    return;
  }
  uint64_t size = (uint64_t)sb.st_size;
  bool mark;
  size_t take = fit(size, job->len, job->dropped, cap, &mark);
  if ((take && write_all(fd, job->data, take) != 0) ||
      (mark && write_all(fd, TRUNCATED_MARK, MARK_LEN) != 0) ||
      (job->sync && fsync(fd) != 0)) {
    job->err = errno;
    close(fd);
    return;
  }
  /* The mark follows its bytes: a crash between them leaves bytes with the
   * previous mark's time, never a mark of bytes that are not there. */
  if ((take && append_mark(times, cap, size, job->received_us, job->sync) != 0) ||
      (!take && job->sync && sync_marks(times) != 0)) {
    job->err = errno;
    close(fd);
    return;
  }
  size += take + (mark ? MARK_LEN : 0);
  job->size = size;
  job->full = size > data_cap(cap);
  close(fd);
}

void logs_batch_done(file_store *st, log_job *jobs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    log_job *j = &jobs[i];
    log_buffer *b = find(st, j->id);
    if (j->data && !j->err) {
      index_entry *e = index_find(&st->index, j->id);
      if (e) {
        e->log_size = j->size;
        e->log_size_known = true;
      }
    }
    if (b && j->data) {
      b->flushing = 0;
      b->batch_job = -1;
      if (j->full && (j->dropped || !b->full) && !b->removed) {
        b->full = true;
        st->host->log(st->inst, EXECD_LOG_NOTICE,
                      "the log of %s reached log_max (%llu bytes); later "
                      "output is dropped", j->id,
                      (unsigned long long)st->log_max);
      }
      /* Keep a buffer only while it holds bytes or marks a full log. */
      if (!pending(b) && (!b->full || b->removed))
        drop(st, b);
    }
    if (j->data && !j->sync && st->sync) {
      index_entry *e = index_find(&st->index, j->id);
      if (e)
        e->log_unsynced = true;
    }
  }
}

void logs_read(file_store *st, const char *id, uint64_t offset, size_t max,
               execd_log_cb cb, void *arg) {
  log_buffer *b = find(st, id);
  if (!b || (!b->len && !b->flushing) || st->broken) {
    reads_log(st, id, offset, max, cb, arg);
    return;
  }
  log_wait *w = calloc(1, sizeof *w);
  if (!w) {
    reads_log(st, id, offset, max, cb, arg);
    return;
  }
  /* Buffered bytes go with the next batch; bytes in flight with this one. */
  w->batch = st->batches_started + (b->len ? 1 : 0);
  snprintf(w->id, sizeof w->id, "%s", id);
  w->offset = offset;
  w->max = max;
  w->cb = cb;
  w->arg = arg;
  STAILQ_INSERT_TAIL(&st->log_waits, w, link);
  commit_kick(st);
}

void logs_release_waits(file_store *st) {
  log_wait *w, *next;
  STAILQ_FOREACH_SAFE(w, &st->log_waits, link, next) {
    if (w->batch > st->batches_done && !st->broken)
      continue;
    STAILQ_REMOVE(&st->log_waits, w, log_wait, link);
    reads_log(st, w->id, w->offset, w->max, w->cb, w->arg);
    free(w);
  }
}

void logs_free_all(file_store *st) {
  log_buffer *b;
  while ((b = RB_MIN(log_buffers, &st->logs)) != NULL)
    drop(st, b);
  log_wait *w;
  while ((w = STAILQ_FIRST(&st->log_waits)) != NULL) {
    STAILQ_REMOVE_HEAD(&st->log_waits, link);
    free(w);
  }
}
