/* Group commit: writes queue on the loop while one batch is on the thread
 * pool; the next batch takes everything queued meanwhile, writes it to the
 * journal with one pwrite per record run, appends buffered log bytes, and
 * makes it durable with one fdatasync (plus an fsync of the log files of
 * the executions it updates).  Callbacks run afterwards, in call order. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "file_internal.h"

typedef struct commit_batch {
  uv_work_t req;
  file_store *st;
  struct write_queue writes;
  journal_file *jf;
  uint64_t start, end;
  char *logs_dir;
  uint64_t log_max;
  log_job *logs;
  size_t nlogs;
  bool sync;
  char err[512]; /* empty: success */
} commit_batch;

void pending_write_free(pending_write *w) {
  if (!w)
    return;
  index_entry_unref(w->entry);
  free(w->rec.data);
  json_decref(w->record);
  free(w);
}

void commit_enqueue(file_store *st, pending_write *w) {
  STAILQ_INSERT_TAIL(&st->queued, w, link);
  commit_kick(st);
}

/* pwritev in runs of at most IOV_MAX records. */
static int write_records(commit_batch *b) {
  struct iovec iov[64];
  int n = 0;
  uint64_t at = b->start, run_start = b->start;
  pending_write *w;
  STAILQ_FOREACH(w, &b->writes, link) {
    iov[n].iov_base = w->rec.data;
    iov[n].iov_len = w->rec.len;
    n++;
    at += w->rec.len;
    if (n == (int)(sizeof iov / sizeof iov[0]) || !STAILQ_NEXT(w, link)) {
      /* pwritev may write less than asked: finish the run by hand. */
      ssize_t done = pwritev(b->jf->fd, iov, n, (off_t)run_start);
      if (done < 0 && errno != EINTR)
        return -1;
      if (done < 0)
        done = 0;
      uint64_t pos = run_start;
      for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if ((uint64_t)done >= len) {
          done -= (ssize_t)len;
        } else {
          if (journal_pwrite_all(b->jf->fd, (char *)iov[i].iov_base + done,
                                 len - (size_t)done, pos + (uint64_t)done) != 0)
            return -1;
          done = 0;
        }
        pos += len;
      }
      n = 0;
      run_start = at;
    }
  }
  return 0;
}

static void batch_run(uv_work_t *req) {
  commit_batch *b = req->data;
  bool any_sync = false;
  /* Log bytes first: they must be durable once the updates are. */
  for (size_t i = 0; i < b->nlogs; i++) {
    if (b->logs[i].unlink)
      continue;
    log_job_run(b->logs_dir, b->log_max, &b->logs[i]);
    if (b->logs[i].err) {
      snprintf(b->err, sizeof b->err, "writing the log of %s in %s: %s",
               b->logs[i].id, b->logs_dir, strerror(b->logs[i].err));
      return;
    }
    any_sync |= b->logs[i].sync;
  }
  /* A new log file is durable only once its directory entry is. */
  if (any_sync && journal_sync_dir(b->logs_dir) != 0) {
    snprintf(b->err, sizeof b->err, "fsync of %s: %s", b->logs_dir,
             strerror(errno));
    return;
  }
  if (!STAILQ_EMPTY(&b->writes)) {
    if (write_records(b) != 0) {
      snprintf(b->err, sizeof b->err, "writing %llu bytes to the journal at "
               "offset %llu: %s", (unsigned long long)(b->end - b->start),
               (unsigned long long)b->start, strerror(errno));
      return;
    }
    if (b->sync && fdatasync(b->jf->fd) != 0) {
      snprintf(b->err, sizeof b->err, "fdatasync of the journal: %s",
               strerror(errno));
      return;
    }
  }
  /* Log files of removed executions go once their tombstones are durable:
   * a crash in between leaves a stray file, never a record without log. */
  for (size_t i = 0; i < b->nlogs; i++) {
    if (!b->logs[i].unlink)
      continue;
    log_job_run(b->logs_dir, b->log_max, &b->logs[i]);
    if (b->logs[i].err) {
      snprintf(b->err, sizeof b->err, "deleting the log of %s in %s: %s",
               b->logs[i].id, b->logs_dir, strerror(b->logs[i].err));
      return;
    }
  }
}

/* The entry's newest version is no longer being written. */
static void write_finished(pending_write *w) {
  index_entry *e = w->entry;
  if (w->type == JOURNAL_PUT && --e->pending_writes == 0) {
    json_decref(e->pending);
    e->pending = NULL;
  }
}

void commit_fail_queued(file_store *st) {
  pending_write *w;
  while ((w = STAILQ_FIRST(&st->queued)) != NULL) {
    STAILQ_REMOVE_HEAD(&st->queued, link);
    write_finished(w);
    if (w->cb)
      store_op_error(st, w->arg, "storage writes stopped after an error: %s", st->broken);
    /* Through the thread pool: this may run inside an op call. */
    reads_one(st, EXECD_EIO, NULL, w->cb, w->arg);
    pending_write_free(w);
  }
}

/* A committed PUT: the entry's newest on-disk version is now w's. */
static void book_put(file_store *st, pending_write *w) {
  index_entry *e = w->entry;
  if (e->linked) {
    st->live_bytes -= e->length;
    st->live_bytes += w->rec.len;
  }
  e->offset = w->offset;
  e->length = (uint32_t)w->rec.len;
}

static void batch_done(uv_work_t *req, int status) {
  commit_batch *b = req->data;
  file_store *st = b->st;
  st->io_busy = false;
  st->batches_done++;
  st->completing = true;
  bool ok = status == 0 && !b->err[0];
  if (!ok)
    store_break(st, b->err[0] ? b->err : "the commit job was cancelled");
  else
    logs_batch_done(st, b->logs, b->nlogs);
  pending_write *w;
  while ((w = STAILQ_FIRST(&b->writes)) != NULL) {
    STAILQ_REMOVE_HEAD(&b->writes, link);
    if (ok && w->type == JOURNAL_PUT)
      book_put(st, w);
    write_finished(w);
    if (w->cb) {
      if (!ok)
        store_op_error(st, w->arg, "%s", st->broken);
      w->cb(w->arg, ok ? 0 : EXECD_EIO, ok ? w->record : NULL);
    }
    pending_write_free(w);
  }
  for (size_t i = 0; i < b->nlogs; i++)
    free(b->logs[i].data);
  free(b->logs);
  journal_file_unref(b->jf);
  free(b);
  st->completing = false;
  logs_release_waits(st);
  commit_kick(st);
}

void commit_kick(file_store *st) {
  if (st->io_busy || st->completing || st->broken)
    return;
  if (!st->stopping && compact_due(st) && compact_start(st))
    return;
  if (STAILQ_EMPTY(&st->queued) && st->logs_dirty == 0)
    return;

  commit_batch *b = calloc(1, sizeof *b);
  size_t nwrites = 0;
  pending_write *w;
  STAILQ_FOREACH(w, &st->queued, link) nwrites++;
  log_job *jobs = calloc(st->logs_dirty + nwrites + 1, sizeof *jobs);
  if (!b || !jobs) {
    free(b);
    free(jobs);
    store_break(st, "out of memory starting a commit");
    return;
  }
  b->req.data = b;
  b->st = st;
  b->logs = jobs;
  b->logs_dir = st->logs_dir;
  b->log_max = st->log_max;
  b->sync = st->sync;
  b->jf = journal_file_ref(st->journal);
  STAILQ_INIT(&b->writes);
  STAILQ_CONCAT(&b->writes, &st->queued);

  logs_collect(st, jobs, &b->nlogs);
  b->start = st->journal_end;
  uint64_t at = b->start;
  STAILQ_FOREACH(w, &b->writes, link) {
    w->offset = at;
    at += w->rec.len;
    index_entry *e = w->entry;
    if (w->type == JOURNAL_DELETE) {
      log_job *j = &jobs[b->nlogs++];
      snprintf(j->id, sizeof j->id, "%s", e->id);
      j->unlink = true;
      continue;
    }
    /* The execution's log must be durable once this update is. */
    if (!st->sync)
      continue;
    long job = logs_job_of(st, e->id);
    if (job >= 0) {
      jobs[job].sync = true;
    } else if (e->log_unsynced) {
      log_job *j = &jobs[b->nlogs++];
      snprintf(j->id, sizeof j->id, "%s", e->id);
      j->sync = true;
    }
    e->log_unsynced = false;
  }
  b->end = at;
  st->journal_end = at;
  st->io_busy = true;
  st->batches_started++;
  int rc = uv_queue_work(st->loop, &b->req, batch_run, batch_done);
  if (rc != 0) {
    /* Cannot happen with a valid loop; fail the batch the normal way. */
    snprintf(b->err, sizeof b->err, "uv_queue_work: %s", uv_strerror(rc));
    batch_done(&b->req, 0);
  }
}
