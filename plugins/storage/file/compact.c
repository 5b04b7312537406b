/* Compaction: when dead bytes (old versions, tombstones) outweigh the live
 * ones and exceed compact_min, the live versions are copied to a new file
 * on the thread pool, which is fsync'd and renamed over the journal (then
 * the directory is fsync'd).  Commits wait meanwhile: writes queue on the
 * loop and go to the new file after.  Reads still running on the old file
 * keep it open through their reference. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_internal.h"

#define COPY_CHUNK (1u << 20)

typedef struct compact_item {
  index_entry *entry; /* a reference */
  uint64_t from, to;
  uint32_t length;
} compact_item;

typedef struct compact_job {
  uv_work_t req;
  file_store *st;
  journal_file *old;
  char *dir, *path, *tmp_path;
  compact_item *items;
  size_t n;
  /* results */
  int fd;
  bool renamed; /* the new file is the journal now */
  uint64_t header_end, end;
  char err[512];
} compact_job;

bool compact_due(const file_store *st) {
  if (st->compact_now)
    return true;
  uint64_t dead = st->journal_end - st->header_end - st->live_bytes;
  return dead > st->live_bytes && dead >= st->compact_min &&
         st->journal_end >= st->compact_after;
}

static int by_offset(const void *a, const void *b) {
  const compact_item *x = a, *y = b;
  return x->from < y->from ? -1 : x->from > y->from;
}

typedef struct snapshot {
  compact_item *items;
  size_t n;
} snapshot;

static void take(index_entry *e, void *arg) {
  snapshot *s = arg;
  if (!e->length)
    return; /* not written yet: its queued write goes to the new file */
  index_entry_ref(e);
  s->items[s->n++] = (compact_item){e, e->offset, 0, e->length};
}

/* Copies the live records, checking each on the way, through a buffer of
 * COPY_CHUNK (a record larger than that gets a buffer of its own). */
static int copy_records(compact_job *c, char *err, size_t errlen) {
  size_t cap = COPY_CHUNK;
  char *buf = malloc(cap);
  size_t used = 0;
  uint64_t out = c->header_end, flushed_at = c->header_end;
  int rc = -1;
  if (!buf)
    goto out;
  for (size_t i = 0; i < c->n; i++) {
    compact_item *it = &c->items[i];
    if (used + it->length > cap) {
      if (journal_pwrite_all(c->fd, buf, used, flushed_at) != 0) {
        snprintf(err, errlen, "writing %s: %s", c->tmp_path, strerror(errno));
        goto out;
      }
      flushed_at += used;
      used = 0;
      if (it->length > cap) {
        char *grown = realloc(buf, it->length);
        if (!grown)
          goto out;
        buf = grown;
        cap = it->length;
      }
    }
    ssize_t n = journal_pread_all(c->old->fd, buf + used, it->length, it->from);
    int type;
    const char *payload, *why = "end of file";
    uint32_t plen;
    if (n != (ssize_t)it->length ||
        journal_decode(buf + used, it->length, &type, &payload, &plen, &why) != 0) {
      snprintf(err, errlen, "the record at offset %llu does not read back "
               "(%s)", (unsigned long long)it->from,
               n < 0 ? strerror(errno) : why);
      goto out;
    }
    it->to = out;
    out += it->length;
    used += it->length;
  }
  if (journal_pwrite_all(c->fd, buf, used, flushed_at) != 0) {
    snprintf(err, errlen, "writing %s: %s", c->tmp_path, strerror(errno));
    goto out;
  }
  c->end = out;
  rc = 0;
out:
  if (rc != 0 && !err[0])
    snprintf(err, errlen, "out of memory");
  free(buf);
  return rc;
}

static void compact_run(uv_work_t *req) {
  compact_job *c = req->data;
  c->fd = journal_create(c->tmp_path, &c->header_end);
  if (c->fd < 0) {
    snprintf(c->err, sizeof c->err, "creating %s: %s", c->tmp_path,
             strerror(errno));
    return;
  }
  if (copy_records(c, c->err, sizeof c->err) != 0)
    goto fail;
  if (fdatasync(c->fd) != 0 || rename(c->tmp_path, c->path) != 0) {
    snprintf(c->err, sizeof c->err, "replacing %s: %s", c->path,
             strerror(errno));
    goto fail;
  }
  c->renamed = true;
  if (journal_sync_dir(c->dir) != 0)
    snprintf(c->err, sizeof c->err, "fsync of %s after replacing the "
             "journal: %s", c->dir, strerror(errno));
  return;
fail:
  close(c->fd);
  c->fd = -1;
  unlink(c->tmp_path);
}

static void compact_done(uv_work_t *req, int status) {
  compact_job *c = req->data;
  file_store *st = c->st;
  st->io_busy = false;
  if (status != 0 && !c->err[0])
    snprintf(c->err, sizeof c->err, "cancelled");
  if (!c->renamed) {
    /* The old journal is intact: carry on with it, try again later. */
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "compaction of %s failed, the journal is unchanged: %s",
                  c->path, c->err);
    st->compact_after = st->journal_end + (st->compact_min ? st->compact_min : st->journal_end);
  } else {
    journal_file *jf = journal_file_new(c->fd);
    if (!jf) {
      /* The file is in place already; only the handle is missing. */
      store_break(st, "out of memory after compaction");
      close(c->fd);
    } else {
      uint64_t before = st->journal_end;
      st->live_bytes = 0;
      for (size_t i = 0; i < c->n; i++) {
        index_entry *e = c->items[i].entry;
        e->offset = c->items[i].to;
        if (e->linked)
          st->live_bytes += e->length;
      }
      journal_file_unref(st->journal);
      st->journal = jf;
      st->header_end = c->header_end;
      st->journal_end = c->end;
      st->compact_after = 0;
      st->host->log(st->inst, EXECD_LOG_INFO,
                    "compacted the journal: %llu -> %llu bytes, %zu records",
                    (unsigned long long)before, (unsigned long long)c->end,
                    c->n);
      /* The rename may not survive a crash: later writes could be lost. */
      if (c->err[0])
        store_break(st, c->err);
    }
  }
  for (size_t i = 0; i < c->n; i++)
    index_entry_unref(c->items[i].entry);
  free(c->items);
  journal_file_unref(c->old);
  free(c);
  commit_kick(st);
}

bool compact_start(file_store *st) {
  compact_job *c = calloc(1, sizeof *c);
  snapshot s = {calloc(st->index.count + 1, sizeof(compact_item)), 0};
  if (!c || !s.items) {
    free(c);
    free(s.items);
    return false;
  }
  index_foreach(&st->index, take, &s);
  qsort(s.items, s.n, sizeof *s.items, by_offset);
  c->req.data = c;
  c->st = st;
  c->old = journal_file_ref(st->journal);
  c->dir = st->dir;
  c->path = st->journal_path;
  c->tmp_path = st->compact_path;
  c->items = s.items;
  c->n = s.n;
  c->fd = -1;
  st->io_busy = true;
  st->compact_now = false; /* a failed one is tried again as usual */
  if (uv_queue_work(st->loop, &c->req, compact_run, compact_done) != 0) {
    st->io_busy = false;
    for (size_t i = 0; i < c->n; i++)
      index_entry_unref(c->items[i].entry);
    free(c->items);
    journal_file_unref(c->old);
    free(c);
    return false;
  }
  return true;
}
