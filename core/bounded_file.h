/* Reading a whole regular file of bounded size into memory, as the config
 * file, the agent files and the tokens file are: opened without blocking
 * (a FIFO must not wait for a writer), refused unless regular, refused
 * over a size limit before anything is read.  Each caller words its own
 * errors from what bounded_file_read() reports. */
#ifndef EXECD_CORE_BOUNDED_FILE_H
#define EXECD_CORE_BOUNDED_FILE_H

#include <stddef.h>
#include <sys/stat.h>

typedef enum {
  BOUNDED_FILE_OK = 0,
  BOUNDED_FILE_OPEN_FAILED,  /* errno_value: open's (ELOOP: a symbolic link with NOFOLLOW) */
  BOUNDED_FILE_STAT_FAILED,  /* errno_value: fstat's */
  BOUNDED_FILE_NOT_REGULAR,  /* mode: what it is */
  BOUNDED_FILE_TOO_LARGE,    /* size: its size */
  BOUNDED_FILE_READ_FAILED,  /* errno_value: read's */
} bounded_file_status;

enum { BOUNDED_FILE_NOFOLLOW = 1 }; /* a symbolic link is refused (ELOOP) */

typedef struct bounded_file {
  char *data;      /* BOUNDED_FILE_OK: the bytes, NUL-terminated; the caller frees */
  size_t len;      /* bytes read (fewer than size if it shrank meanwhile) */
  int errno_value; /* of the failed call */
  mode_t mode;     /* st_mode, once fstat succeeded (also on success) */
  long long size;  /* st_size, once fstat succeeded */
} bounded_file;

/* path relative to dirfd (AT_FDCWD for the working directory), at most
 * max bytes.  On failure nothing is left allocated, and the bytes read so
 * far are wiped first (the tokens file holds secrets). */
bounded_file_status bounded_file_read(int dirfd, const char *path, size_t max, int flags,
                                      bounded_file *out);

#endif
