/* Reading daemon.agents_dir (catalog_dir.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_file.h"
#include "catalog_dir.h"
#include "xalloc.h"

/* Errors of one load, one a line. */
typedef struct errors {
  char *buf;
  size_t len, used;
  int n;
} errors;

static void add_error(errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(errors *e, const char *fmt, ...) {
  e->n++;
  if (e->used + 1 >= e->len)
    return; /* full: the first ones are the ones to fix first */
  if (e->used)
    e->buf[e->used++] = '\n';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
  va_end(ap);
  if (n > 0)
    e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file's bytes (NUL-terminated), or NULL with the reason in e. */
static char *read_agent_file(int dfd, const char *name, const char *path, size_t *len,
                             errors *e) {
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP)
      add_error(e, "%s: a symbolic link; an agent file must be a regular file", path);
    else
      add_error(e, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    add_error(e, "%s: not a regular file; an agent file must be one", path);
    close(fd);
    return NULL;
  }
  if (st.st_size > AGENT_FILE_MAX) {
    add_error(e, "%s: the agent file has %lld bytes, more than %d", path,
              (long long)st.st_size, AGENT_FILE_MAX);
    close(fd);
    return NULL;
  }
  char *buf = xmalloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      add_error(e, "%s: cannot read: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (n == 0)
      break; /* it shrank meanwhile: parse what is there */
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  *len = got;
  return buf;
}

int catalog_load_dir(catalog *c, const char *dir, char *err, size_t errlen) {
  errors e = {err, errlen, 0, 0};
  err[0] = '\0';
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    add_error(&e, "%s: daemon.agents_dir cannot be read: %s", dir, strerror(errno));
    if (dfd >= 0)
      close(dfd);
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (agent_file_format(de->d_name) == AGENT_FILE_NONE)
      continue;
    if (n == CATALOG_DIR_FILES_MAX) {
      add_error(&e, "%s: more than %d agent files", dir, CATALOG_DIR_FILES_MAX);
      break;
    }
    names = xrealloc(names, (n + 1) * sizeof *names);
    names[n++] = xstrdup(de->d_name);
  }
  if (n)
    qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char *path = xasprintf("%s/%s", dir, names[i]);
    size_t len;
    char *text = read_agent_file(dirfd(d), names[i], path, &len, &e);
    char why[2048];
    agent *a = NULL;
    if (text && agent_file_parse(path, names[i], text, len, &a, why, sizeof why) != 0)
      add_error(&e, "%s", why);
    else if (a && catalog_add(c, a, why, sizeof why) != 0)
      add_error(&e, "%s: %s", path, why);
    free(text);
    free(path);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  closedir(d);
  return e.n ? -1 : 0;
}
