/* One bounded read of a regular file (bounded_file.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounded_file.h"
#include "xalloc.h"

bounded_file_status bounded_file_read(int dirfd, const char *path, size_t max, int flags,
                                      bounded_file *out) {
  memset(out, 0, sizeof *out);
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; a regular
   * file, the only kind read, never blocks, so it changes nothing there. */
  int oflags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (flags & BOUNDED_FILE_NOFOLLOW)
    oflags |= O_NOFOLLOW;
  int fd = openat(dirfd, path, oflags);
  if (fd < 0) {
    out->errno_value = errno;
    return BOUNDED_FILE_OPEN_FAILED;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    out->errno_value = errno;
    close(fd);
    return BOUNDED_FILE_STAT_FAILED;
  }
  out->mode = st.st_mode;
  out->size = (long long)st.st_size;
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return BOUNDED_FILE_NOT_REGULAR;
  }
  if ((unsigned long long)st.st_size > max) {
    close(fd);
    return BOUNDED_FILE_TOO_LARGE;
  }
  size_t size = (size_t)st.st_size;
  char *buf = xmalloc(size + 1);
  size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      out->errno_value = errno;
      explicit_bzero(buf, got);
      free(buf);
      close(fd);
      return BOUNDED_FILE_READ_FAILED;
    }
    if (n == 0)
      break; /* it shrank meanwhile: the caller parses what is there */
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  out->data = buf;
  out->len = got;
  return BOUNDED_FILE_OK;
}
