/* Programs that run their arguments: env, shells, nice, timeout, xargs,
 * find, interpreters ...  One of them in commands_allowed lets a request run
 * any program ("/usr/bin/env /bin/sh -c ..."), so the backend warns at start
 * about each allow-list entry that holds one. */
#ifndef EXECD_LOCAL_RUNNERS_H
#define EXECD_LOCAL_RUNNERS_H

#include <stdbool.h>
#include <stddef.h>

/* True if the program at PATH runs its arguments, judged by its file name
 * and by the name of what it resolves to through symlinks
 * (/usr/bin/python3 -> python3.11, /bin/sh -> dash).  NAME gets the name
 * that matched.  Reads the file system (realpath). */
bool local_runs_arguments(const char *path, char *name, size_t len);

/* For an allow-list entry (a path or a glob): how many existing programs it
 * admits run their arguments (checked up to a bound), and the names of the
 * first ones, comma-separated, in NAMES.  Reads the file system. */
unsigned local_runners_in_entry(const char *entry, char *names, size_t len);

#endif
