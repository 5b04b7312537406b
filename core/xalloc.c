/* See xalloc.h: allocation failure in the core is fatal. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

void xalloc_failed(const char *what) {
  log_err("out of memory (%s); aborting", what);
  abort();
}

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    xalloc_failed("malloc");
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    xalloc_failed("calloc");
  return p;
}

void *xrealloc(void *p, size_t size) {
  void *q = realloc(p, size ? size : 1);
  if (!q)
    xalloc_failed("realloc");
  return q;
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p)
    xalloc_failed("strdup");
  return p;
}

char *xasprintf(const char *fmt, ...) {
  char *p;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&p, fmt, ap);
  va_end(ap);
  if (n < 0)
    xalloc_failed("asprintf");
  return p;
}
