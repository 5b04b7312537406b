/* Reads: bodies of records from the journal and bytes of log files, on
 * the thread pool; results are delivered on the loop.  A record whose
 * newest version is still being written is answered from memory, and even
 * answers with no I/O at all (ENOENT) go through the thread pool, so a
 * callback never runs inside the op that asked for it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_internal.h"

enum read_kind { READ_ONE, READ_LIST, READ_LOG, READ_MARKS };

typedef struct read_item {
  json_t *json;     /* the body: in memory already, or parsed by the job */
  journal_file *jf; /* else: where to read it */
  index_entry *entry; /* with jf: a reference, for a quarantine */
  char id[RECORD_ID_MAX + 1];
  uint64_t offset;
  uint32_t length;
  /* Set by the job when the version cannot be read back: */
  char *unreadable;  /* why (malloc'd) */
  char *aside;       /* where its bytes were saved (malloc'd), or NULL */
} read_item;

typedef struct read_job {
  uv_work_t req;     /* on libuv's pool, without reader threads */
  reader_task task;  /* on a reader thread */
  file_store *st;
  enum read_kind kind;
  int status;
  char err[512];
  execd_store_cb one_cb;
  execd_list_cb list_cb;
  execd_log_cb log_cb;
  void *arg;
  char *next_cursor;
  /* READ_LOG */
  char log_path[4096];
  uint64_t log_offset;
  size_t log_max;
  char *log_data;
  size_t log_len;
  /* READ_MARKS: log_path is the marks file, log_offset..marks_to the range */
  execd_log_marks_cb marks_cb;
  uint64_t marks_to;
  execd_log_mark *marks;
  size_t n_marks;
  /* READ_ONE, READ_LIST */
  size_t n;
  read_item items[];
} read_job;

static read_job *job_new(file_store *st, enum read_kind kind, size_t n) {
  read_job *j = calloc(1, sizeof *j + n * sizeof(read_item));
  if (!j)
    return NULL;
  j->req.data = j;
  j->st = st;
  j->kind = kind;
  j->n = n;
  return j;
}

/* Captures where e's newest version is, now, on the loop. */
static void item_capture(file_store *st, read_item *it, index_entry *e) {
  if (e->pending) {
    it->json = json_incref(e->pending);
  } else {
    it->jf = journal_file_ref(st->journal);
    it->entry = e;
    index_entry_ref(e);
    snprintf(it->id, sizeof it->id, "%s", e->id);
    it->offset = e->offset;
    it->length = e->length;
  }
}

/* Thread pool: a version that cannot be read back is saved aside (see
 * quarantine.c); the op goes on without it. */
static int item_unreadable(file_store *st, read_item *it, const char *buf,
                           const char *why, char *err, size_t errlen) {
  char path[4096];
  it->unreadable = strdup(why);
  if (quarantine_save(st->dir, st->logs_dir, it->id, it->offset, buf,
                      it->length, path, sizeof path) == 0)
    it->aside = strdup(path);
  else
    snprintf(err, errlen, "the journal record of %s at offset %llu cannot be "
             "read (%s) and could not be saved in %s/quarantine: %s", it->id,
             (unsigned long long)it->offset, why, st->dir, strerror(errno));
  if (!it->unreadable) {
    snprintf(err, errlen, "out of memory reading a record");
    return EXECD_ENOMEM;
  }
  return 0;
}

/* Thread pool: reads and parses one record body. */
static int item_load(file_store *st, read_item *it, char *err, size_t errlen) {
  if (it->json || !it->jf)
    return 0;
  char *buf = malloc(it->length);
  if (!buf) {
    snprintf(err, errlen, "out of memory reading a record");
    return EXECD_ENOMEM;
  }
  ssize_t n = journal_pread_all(it->jf->fd, buf, it->length, it->offset);
  if (n != (ssize_t)it->length) {
    snprintf(err, errlen, "reading %u bytes of the journal at offset %llu: %s",
             it->length, (unsigned long long)it->offset,
             n < 0 ? strerror(errno) : "end of file");
    free(buf);
    return EXECD_EIO;
  }
  int type = 0;
  const char *payload, *why = NULL;
  char because[256];
  uint32_t plen;
  size_t meta_len, body_len;
  const char *body;
  json_error_t je;
  int rc = 0;
  if (journal_decode(buf, it->length, &type, &payload, &plen, &why) != 0)
    ; /* why says what is wrong */
  else if (type != JOURNAL_PUT)
    why = "not a record version";
  else if (record_payload_split(payload, plen, &meta_len, &body, &body_len) != 0)
    why = "its payload is not an index line and a JSON record";
  else if (!(it->json = json_loadb(body, body_len, 0, &je))) {
    snprintf(because, sizeof because, "its JSON does not parse: %s at byte %zu",
             je.text, (size_t)je.position);
    why = because;
  }
  if (why)
    rc = item_unreadable(st, it, buf, why, err, errlen);
  free(buf);
  return rc;
}

static void read_log(read_job *j) {
  int fd = open(j->log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) { /* no file yet: no bytes yet */
      snprintf(j->err, sizeof j->err, "opening %.400s: %s", j->log_path,
               strerror(errno));
      j->status = EXECD_EIO;
    }
    return;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    snprintf(j->err, sizeof j->err, "stat %.400s: %s", j->log_path, strerror(errno));
    j->status = EXECD_EIO;
  } else if ((uint64_t)sb.st_size > j->log_offset) {
    uint64_t avail = (uint64_t)sb.st_size - j->log_offset;
    size_t want = avail < j->log_max ? (size_t)avail : j->log_max;
    j->log_data = malloc(want + 1);
    ssize_t n = j->log_data ? journal_pread_all(fd, j->log_data, want, j->log_offset) : -1;
    if (n < 0) {
      snprintf(j->err, sizeof j->err, "reading %.400s: %s", j->log_path,
               j->log_data ? strerror(errno) : "out of memory");
      j->status = j->log_data ? EXECD_EIO : EXECD_ENOMEM;
    } else {
      j->log_len = (size_t)n;
      j->log_data[n] = '\0';
    }
  }
  close(fd);
}

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* Thread pool: the marks of bytes [log_offset, marks_to).  The file is read
 * whole (it is capped at log_max); a partial last record is ignored. */
static void read_marks(read_job *j) {
  int fd = open(j->log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) { /* no marks file: a log without marks */
      snprintf(j->err, sizeof j->err, "opening %.400s: %s", j->log_path, strerror(errno));
      j->status = EXECD_EIO;
    }
    return;
  }
  struct stat sb;
  unsigned char *buf = NULL;
  ssize_t n = -1;
  if (fstat(fd, &sb) == 0) {
    size_t size = (size_t)sb.st_size - (size_t)sb.st_size % LOG_MARK_SIZE;
    buf = malloc(size ? size : 1);
    n = buf ? journal_pread_all(fd, (char *)buf, size, 0) : -1;
  }
  close(fd);
  j->marks = n > 0 ? calloc((size_t)n / LOG_MARK_SIZE, sizeof *j->marks) : NULL;
  if (n < 0 || (n > 0 && !j->marks)) {
    snprintf(j->err, sizeof j->err, "reading %.400s: %s", j->log_path,
             buf && n < 0 ? strerror(errno) : "out of memory");
    j->status = buf && n < 0 ? EXECD_EIO : EXECD_ENOMEM;
    free(buf);
    return;
  }
  for (size_t i = 0; i + LOG_MARK_SIZE <= (size_t)n; i += LOG_MARK_SIZE) {
    execd_log_mark m = {le64(buf + i), (int64_t)le64(buf + i + 8)};
    if (m.offset >= j->marks_to)
      break;
    if (m.offset <= j->log_offset)
      j->n_marks = 0; /* a later mark at or before from replaces it */
    j->marks[j->n_marks++] = m;
  }
  free(buf);
}

static void job_run(uv_work_t *req) {
  read_job *j = req->data;
  if (j->status != 0 && j->kind != READ_ONE)
    return;
  if (j->kind == READ_LOG) {
    read_log(j);
    return;
  }
  if (j->kind == READ_MARKS) {
    read_marks(j);
    return;
  }
  for (size_t i = 0; i < j->n; i++) {
    int rc = item_load(j->st, &j->items[i], j->err, sizeof j->err);
    if (rc != 0) {
      j->status = rc;
      return;
    }
  }
}

static void job_done(uv_work_t *req, int status) {
  read_job *j = req->data;
  file_store *st = j->st;
  if (status != 0 && j->status == 0) {
    j->status = EXECD_ECANCELED;
    snprintf(j->err, sizeof j->err, "the read was cancelled");
  }
  /* Versions that cannot be read back leave the store, and the op goes
   * on without them: a get finds nothing, a list skips them. */
  for (size_t i = 0; i < j->n; i++) {
    read_item *it = &j->items[i];
    if (it->unreadable && !it->aside) {
      /* Not saved: it stays where it is, and j->err says why. */
      st->host->log(st->inst, EXECD_LOG_ERR, "%s", j->err);
      if (j->kind == READ_ONE && (j->status == 0 || j->status == EXECD_EEXIST))
        j->status = EXECD_ECORRUPT;
      continue;
    }
    if (!it->aside)
      continue;
    quarantine_set_aside(st, it->entry, it->offset, it->unreadable, it->aside);
    if (j->kind == READ_ONE && j->status == 0) {
      j->status = EXECD_ENOENT;
      snprintf(j->err, sizeof j->err, "the record of %s cannot be read: it "
               "is set aside in %s", it->id, it->aside);
    } else if (j->kind == READ_ONE && j->status == EXECD_EEXIST) {
      /* The earlier execution of this idempotency key is gone. */
      j->status = EXECD_ECORRUPT;
      snprintf(j->err, sizeof j->err, "the execution with this idempotency "
               "key cannot be read (set aside in %s); try again", it->aside);
    }
  }
  if (j->err[0]) {
    store_op_error(st, j->arg, "%s", j->err);
    if (j->status == EXECD_ECORRUPT || j->status == EXECD_EIO)
      st->host->log(st->inst, EXECD_LOG_ERR, "%s", j->err);
  }
  switch (j->kind) {
  case READ_ONE:
    j->one_cb(j->arg, j->status,
              j->n && j->status != EXECD_EIO && j->status != EXECD_ECORRUPT
                  ? j->items[0].json
                  : NULL);
    break;
  case READ_LIST: {
    json_t *arr = json_array();
    for (size_t i = 0; j->status == 0 && i < j->n; i++)
      if (j->items[i].json)
        json_array_append(arr, j->items[i].json);
    j->list_cb(j->arg, j->status, j->status == 0 ? arr : NULL,
               j->status == 0 ? j->next_cursor : NULL);
    json_decref(arr);
    break;
  }
  case READ_LOG:
    j->log_cb(j->arg, j->status, j->log_data ? j->log_data : "", j->log_len,
              j->log_offset + j->log_len);
    break;
  case READ_MARKS:
    j->marks_cb(j->arg, j->status, j->status ? NULL : j->marks, j->status ? 0 : j->n_marks);
    break;
  }
  for (size_t i = 0; i < j->n; i++) {
    json_decref(j->items[i].json);
    journal_file_unref(j->items[i].jf);
    if (j->items[i].entry)
      index_entry_unref(j->items[i].entry);
    free(j->items[i].unreadable);
    free(j->items[i].aside);
  }
  free(j->next_cursor);
  free(j->log_data);
  free(j->marks);
  free(j);
}

static void task_run(reader_task *t) {
  read_job *j = (read_job *)((char *)t - offsetof(read_job, task));
  job_run(&j->req);
}

static void task_done(reader_task *t) {
  read_job *j = (read_job *)((char *)t - offsetof(read_job, task));
  job_done(&j->req, 0);
}

static void job_queue(read_job *j) {
  j->task.run = task_run;
  j->task.done = task_done;
  if (reader_submit(j->st, &j->task) == 0)
    return;
  int rc = uv_queue_work(j->st->loop, &j->req, job_run, job_done);
  if (rc != 0) {
    /* Only with a broken loop; the callback still runs exactly once. */
    j->status = EXECD_EUNAVAIL;
    snprintf(j->err, sizeof j->err, "uv_queue_work: %s", uv_strerror(rc));
    job_done(&j->req, 0);
  }
}

void reads_one(file_store *st, int status, index_entry *e, execd_store_cb cb,
               void *arg) {
  if (!cb)
    return;
  read_job *j = job_new(st, READ_ONE, e ? 1 : 0);
  if (!j) {
    /* Nothing else can be done: the op was already accepted. */
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory answering a read");
    return;
  }
  j->status = status;
  j->one_cb = cb;
  j->arg = arg;
  if (e)
    item_capture(st, &j->items[0], e);
  job_queue(j);
}

void reads_list(file_store *st, index_entry **entries, size_t n,
                const char *next_cursor, execd_list_cb cb, void *arg) {
  read_job *j = job_new(st, READ_LIST, n);
  if (!j) {
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory answering a list");
    return;
  }
  j->list_cb = cb;
  j->arg = arg;
  j->next_cursor = next_cursor ? strdup(next_cursor) : NULL;
  for (size_t i = 0; i < n; i++)
    item_capture(st, &j->items[i], entries[i]);
  job_queue(j);
}

void reads_log(file_store *st, const char *id, uint64_t offset, size_t max,
               execd_log_cb cb, void *arg) {
  read_job *j = job_new(st, READ_LOG, 0);
  if (!j) {
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory answering a log read");
    return;
  }
  j->log_cb = cb;
  j->arg = arg;
  logs_path(st->logs_dir, id, j->log_path, sizeof j->log_path);
  j->log_offset = offset;
  j->log_max = max;
  job_queue(j);
}

void reads_log_marks(file_store *st, const char *id, uint64_t from, uint64_t to,
                     execd_log_marks_cb cb, void *arg) {
  read_job *j = job_new(st, READ_MARKS, 0);
  if (!j) {
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory answering a log marks read");
    return;
  }
  j->marks_cb = cb;
  j->arg = arg;
  if (id)
    logs_times_path(st->logs_dir, id, j->log_path, sizeof j->log_path);
  else
    j->status = EXECD_ENOENT;
  j->log_offset = from;
  j->marks_to = to;
  job_queue(j);
}

void reads_log_missing(file_store *st, uint64_t offset, execd_log_cb cb,
                       void *arg) {
  read_job *j = job_new(st, READ_LOG, 0);
  if (!j) {
    st->host->log(st->inst, EXECD_LOG_ERR, "out of memory answering a log read");
    return;
  }
  j->status = EXECD_ENOENT;
  j->log_cb = cb;
  j->arg = arg;
  j->log_offset = offset;
  job_queue(j);
}
