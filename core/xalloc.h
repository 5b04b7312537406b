/* The core's out-of-memory policy: an allocation that fails ends the
 * daemon (one log line, then abort()).  A daemon that went on with a
 * half-built execution, instance or config would lose or corrupt state in
 * ways far harder to diagnose than a restart, and everything it had
 * accepted is durable in storage and recovered at the next start.
 * Every allocation of the core whose result it would use goes through
 * these wrappers; none of them returns NULL.  Plugins follow another rule:
 * they report EXECD_ENOMEM (doc/plugin-guide.md, "Out of memory"). */
#ifndef EXECD_CORE_XALLOC_H
#define EXECD_CORE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Aborts through the policy: for allocations made by a library (a jansson
 * constructor, asprintf) whose failure the caller detected. */
_Noreturn void xalloc_failed(const char *what);

#endif
