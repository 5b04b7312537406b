/* The journal: one append-only file of records, each a 16-byte header
 * {magic, type, length, CRC-32} followed by a JSON payload.  The format is
 * described in doc/storage-file.md. */
#ifndef EXECD_FILE_JOURNAL_H
#define EXECD_FILE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JOURNAL_MAGIC "EXJR"
#define JOURNAL_HEADER_SIZE 16
#define JOURNAL_VERSION 1
/* Larger payloads are refused on write and treated as damage on read. */
#define JOURNAL_MAX_PAYLOAD (64u << 20)

enum journal_type {
  JOURNAL_FILE_HEADER = 1, /* first record: {"format", "version", "created"} */
  JOURNAL_PUT = 2,         /* the whole current version of one record */
  JOURNAL_DELETE = 3       /* tombstone: {"id"} */
};

/* A record ready to be written: header and payload in one malloc'd buffer. */
typedef struct journal_buf {
  char *data;
  size_t len;
} journal_buf;

/* Encodes a record.  Returns 0, or -1 if out of memory or too large. */
int journal_encode(int type, const char *payload, size_t len, journal_buf *out);

/* Checks one record at buf (avail bytes from there).  Returns 0 and sets
 * *type, *payload, *payload_len; or -1 with a reason ("bad CRC", "cut
 * short", ...) when it does not check out. */
int journal_decode(const char *buf, uint64_t avail, int *type,
                   const char **payload, uint32_t *payload_len,
                   const char **why);

/* Called for every valid record after the file header, in file order.
 * Returns 0 to go on, or non-zero to stop the open with that code. */
typedef int (*journal_visit_fn)(void *arg, int type, uint64_t offset,
                                uint32_t record_len, const char *payload,
                                uint32_t payload_len, char *err,
                                size_t errlen);

typedef struct journal_opened {
  int fd;               /* read-write */
  uint64_t end;         /* end of valid data = where appends go */
  uint64_t header_end;  /* end of the file header record */
  bool created;         /* the file was new (or held nothing valid) */
  /* Set when a damaged tail was dropped: */
  uint64_t dropped_at, dropped_bytes;
  const char *dropped_why;
  char aside[4096];     /* where the dropped bytes were saved, or "" */
  /* Set when damage in the middle was skipped (valid records follow it): */
  uint64_t damaged_ranges;  /* runs of bytes skipped */
  uint64_t damaged_records; /* records that began in them: lost */
  uint64_t damaged_bytes;
  char damaged_where[512];  /* "offset A (B bytes, why), ..." */
  char damaged_aside[4096]; /* where those bytes were saved */
} journal_opened;

/* Opens (creating if missing) the journal at path and visits its records.
 * A record that does not check out with valid records after it is damage
 * in the middle: the reader resynchronises on the next valid record (a
 * record header holds NUL bytes, which compact JSON never does, so none
 * can be found inside a payload), and the skipped bytes are copied to
 * path.damaged-<time>; they stay in the journal as dead bytes until the
 * next compaction.  A damaged tail (nothing valid after it: a write cut
 * short by a crash) is dropped: the bytes are copied to path.torn-<time>,
 * the file is truncated and fsync'd.  A file that is not a journal is
 * refused.  Returns 0, or a negative EXECD_E* with err set. */
int journal_open(const char *path, journal_visit_fn visit, void *arg,
                 journal_opened *out, char *err, size_t errlen);

/* Writes a new journal holding only the file header at path (truncating),
 * for compaction.  Returns the fd or -1 with errno set; *header_end set. */
int journal_create(const char *path, uint64_t *header_end);

/* write(2)/pwrite(2) until done.  Return 0 or -1 with errno. */
int journal_pwrite_all(int fd, const char *buf, size_t len, uint64_t offset);
/* pread(2) until len bytes or end of file.  Returns bytes read or -1. */
ssize_t journal_pread_all(int fd, char *buf, size_t len, uint64_t offset);

/* fsync(2) of a directory, so that a new or renamed entry is durable. */
int journal_sync_dir(const char *dir);

#endif
