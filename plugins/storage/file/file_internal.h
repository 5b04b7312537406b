/* The file storage plugin: what its parts share.  file.c has the plugin
 * descriptor, configuration and the store's lifecycle; ops.c the storage
 * ops; record.c the indexed members of a record; journal.c the record
 * format and recovery; index.c the in-memory index; commit.c the group
 * commit of writes; compact.c the journal compaction; logs.c the
 * per-execution log files; reads.c the reads of bodies and logs.  Every
 * function here runs on the loop thread unless it says otherwise; disk I/O
 * that can block runs on the libuv thread pool. */
#ifndef EXECD_FILE_INTERNAL_H
#define EXECD_FILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <bsd/sys/queue.h>

#include <execd/plugin.h>

#include "index.h"
#include "journal.h"
#include "record.h"

/* An open journal file; read jobs hold a reference, so a compaction can
 * replace the file while they still read from the old one. */
typedef struct journal_file {
  int fd;
  unsigned refs;
} journal_file;

journal_file *journal_file_new(int fd);
journal_file *journal_file_ref(journal_file *jf);
void journal_file_unref(journal_file *jf);

/* One journal write waiting for, or in, a group commit. */
typedef struct pending_write {
  STAILQ_ENTRY(pending_write) link;
  int type;           /* JOURNAL_PUT or JOURNAL_DELETE */
  index_entry *entry; /* a reference */
  journal_buf rec;    /* the encoded record */
  uint64_t offset;    /* where it goes, set when its batch starts */
  json_t *record;     /* PUT: the stored copy handed to cb (a reference) */
  execd_store_cb cb;  /* may be NULL */
  void *arg;
} pending_write;

STAILQ_HEAD(write_queue, pending_write);

/* Log bytes of one execution accepted but not yet in its file. */
typedef struct log_buffer {
  RB_ENTRY(log_buffer) node;
  char id[RECORD_ID_MAX + 1];
  char *data;
  size_t len, cap;
  size_t flushing; /* bytes handed to the batch in flight */
  long batch_job;  /* its job in the batch being built, or -1 */
  bool full;       /* the file reached log_max: further bytes are dropped */
  bool dropped;    /* bytes were dropped: the next batch ends the file with the marker */
  bool removed;    /* the execution was removed while a batch had bytes */
  int64_t received_us; /* when the first of data's bytes arrived (Unix µs) */
} log_buffer;

RB_HEAD(log_buffers, log_buffer);

/* A log_read waiting for buffered bytes to reach the file. */
typedef struct log_wait {
  STAILQ_ENTRY(log_wait) link;
  uint64_t batch; /* ready once this many batches are done */
  char id[RECORD_ID_MAX + 1];
  uint64_t offset;
  size_t max;
  execd_log_cb cb;
  void *arg;
} log_wait;

STAILQ_HEAD(log_waits, log_wait);

/* Work for the reader threads (reader.c). */
typedef struct reader_task {
  STAILQ_ENTRY(reader_task) link;
  void (*run)(struct reader_task *t);  /* on a reader thread */
  void (*done)(struct reader_task *t); /* then on the loop */
} reader_task;
typedef struct reader reader;

typedef struct file_store {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;

  /* configuration */
  char *dir;          /* the store directory */
  char *journal_path; /* dir/journal */
  char *compact_path; /* dir/journal.compact */
  char *logs_dir;     /* dir/logs */
  bool sync;
  uint64_t log_max;
  uint64_t compact_min;

  int lock_fd; /* dir/lock, flock'ed: one daemon per directory */
  journal_file *journal;
  uint64_t header_end;  /* the file header record ends here */
  uint64_t journal_end; /* the next batch writes here */
  uint64_t live_bytes;  /* bytes of the newest committed version of live records */
  uint64_t compact_after; /* after a failed compaction: wait for this size */
  bool compact_now;       /* compact at once (damage was skipped at start) */

  store_index index;

  struct write_queue queued; /* writes for the next batch, in call order */
  bool io_busy;       /* a batch or a compaction is on the thread pool */
  bool completing;    /* running callbacks of a finished batch */
  bool stopping;
  uint64_t batches_started, batches_done;

  struct log_buffers logs;
  size_t logs_dirty; /* buffers with bytes not yet handed to a batch */
  struct log_waits log_waits;

  reader *reader;      /* the reader threads, from the first read on */
  bool reader_failed;  /* they could not start: reads use libuv's pool */

  /* Why writes stopped (a failed write or fsync), or NULL. */
  const char *broken;
  char broken_why[512];
} file_store;

/* --- commit.c ------------------------------------------------------------ */
/* Queues w for the next group commit (taking ownership) and starts one if
 * none is running. */
void commit_enqueue(file_store *st, pending_write *w);
/* Starts the next batch (or a due compaction) if there is work and no job
 * is running. */
void commit_kick(file_store *st);
void pending_write_free(pending_write *w);
/* After store_break: the queued writes fail (callbacks with EXECD_EIO,
 * later, from the loop). */
void commit_fail_queued(file_store *st);

/* --- compact.c ----------------------------------------------------------- */
bool compact_due(const file_store *st);
/* Starts a compaction on the thread pool.  Returns false if it could not. */
bool compact_start(file_store *st);

/* --- logs.c -------------------------------------------------------------- */
typedef struct log_job {
  char id[RECORD_ID_MAX + 1];
  char *data; /* bytes to append (owned), or NULL */
  size_t len;
  bool sync;   /* fsync the file */
  bool unlink; /* the execution was removed: delete its file */
  bool dropped; /* bytes after these were dropped: end the file with the marker */
  int64_t received_us; /* the time mark of these bytes (Unix µs) */
  /* results, from the thread pool */
  uint64_t size;
  bool created;
  bool full;
  int err; /* errno */
} log_job;

/* Accepts bytes of id's log.  Returns 0, or EXECD_ETOOBIG if some were
 * dropped because the log is at its cap (exactly when the file's size is
 * known, index_entry.log_size; otherwise from the append after the batch
 * that found it full). */
int logs_append(file_store *st, const char *id, const char *data, size_t len);
/* The execution is gone: drop its buffered bytes. */
void logs_forget(file_store *st, const char *id);
/* Moves every buffer's bytes into new jobs at jobs[*n...]. */
void logs_collect(file_store *st, log_job *jobs, size_t *n);
/* The job index of id's bytes in the batch being built, or -1. */
long logs_job_of(file_store *st, const char *id);
/* Thread pool: performs one job (append with the cap, fsync, unlink). */
void log_job_run(const char *logs_dir, uint64_t cap, log_job *job);
/* Back on the loop after a batch: book the results. */
void logs_batch_done(file_store *st, log_job *jobs, size_t n);
/* Reads id's log once the bytes buffered now are in the file. */
void logs_read(file_store *st, const char *id, uint64_t offset, size_t max,
               execd_log_cb cb, void *arg);
/* Starts the reads whose bytes have reached the file. */
void logs_release_waits(file_store *st);
void logs_free_all(file_store *st);
/* "dir/logs/<id>.log" into buf. */
void logs_path(const char *logs_dir, const char *id, char *buf, size_t size);
/* "dir/logs/<id>.times" into buf: the time marks of the log, one
 * LOG_MARK_SIZE record per batch that appended bytes (doc/storage-file.md). */
void logs_times_path(const char *logs_dir, const char *id, char *buf, size_t size);
#define LOG_MARK_SIZE 16

/* --- reads.c ------------------------------------------------------------- */
/* Calls cb later with status and the body of e (NULL: no record).  cb may
 * be NULL, then nothing happens. */
void reads_one(file_store *st, int status, index_entry *e, execd_store_cb cb,
               void *arg);
/* Calls cb later with the bodies of entries[0..n), in that order. */
void reads_list(file_store *st, index_entry **entries, size_t n,
                const char *next_cursor, execd_list_cb cb, void *arg);
/* Calls cb later with bytes of id's log file from offset. */
void reads_log(file_store *st, const char *id, uint64_t offset, size_t max,
               execd_log_cb cb, void *arg);
/* Calls cb later with the time marks of id's log bytes [from, to): the
 * last mark at or before from, then every mark before to. */
void reads_log_marks(file_store *st, const char *id, uint64_t from, uint64_t to,
                     execd_log_marks_cb cb, void *arg);
/* Calls cb later with EXECD_ENOENT: no such execution. */
void reads_log_missing(file_store *st, uint64_t offset, execd_log_cb cb,
                       void *arg);

/* --- reader.c ------------------------------------------------------------ */
/* Queues t for a reader thread: t->run there, then t->done on the loop.
 * Returns -1 when there are no reader threads (stopping, or they could
 * not start): the caller uses libuv's thread pool instead. */
int reader_submit(file_store *st, reader_task *t);
/* file_stop: the eventfd's handle closes once every read is answered. */
void reader_stop(file_store *st);
/* file_destroy: joins the threads. */
void reader_destroy(file_store *st);

/* --- quarantine.c --------------------------------------------------------- */
/* Thread pool: saves the bytes of the unreadable journal record of id at
 * offset as dir/quarantine/<id>-<offset>.record (fsync'd), and links its
 * log file there as <id>-<offset>.log.  Returns 0 with the record file's
 * path in path, or -1 with errno. */
int quarantine_save(const char *dir, const char *logs_dir, const char *id,
                    uint64_t offset, const char *bytes, size_t len, char *path,
                    size_t pathlen);
/* On the loop, after quarantine_save: if e's newest version is still the
 * one at offset, the record leaves the store (a tombstone; its log file
 * is deleted, the link in quarantine/ keeps it) and one warning says
 * where it went. */
void quarantine_set_aside(file_store *st, index_entry *e, uint64_t offset,
                          const char *why, const char *path);

/* --- file.c, ops.c -------------------------------------------------------- */
extern const execd_storage_ops file_storage_ops;
/* Removes e (linked): a tombstone is queued, its log goes once it is
 * durable; cb (may be NULL) hears the end.  Returns 0 or EXECD_E*. */
int store_remove_entry(file_store *st, index_entry *e, execd_store_cb cb,
                       void *arg);
/* Stops all writes: every later op fails with EXECD_EUNAVAIL and why. */
void store_break(file_store *st, const char *why);
/* The detail of the error the op whose callback argument is cb_arg is
 * about to report: host->op_error (ABI 1.2), so that two ops failing
 * together keep their own; set_error under an older host. */
void store_op_error(file_store *st, void *cb_arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
