/* Reading daemon.agents_dir: every "*.json" and "*.conf" file in it, in
 * name order, each a regular file (not followed through a symbolic link)
 * of at most AGENT_FILE_MAX bytes, parsed by agent_file.c.  Blocking:
 * before the loop runs or on the thread pool (a reload, main.c). */
#ifndef EXECD_CORE_CATALOG_DIR_H
#define EXECD_CORE_CATALOG_DIR_H

#include <stddef.h>

#include "catalog.h"

/* More files than this in the directory is an error. */
#define CATALOG_DIR_FILES_MAX 10000

/* Adds the agents of dir's files to c.  Every file is tried: returns 0,
 * or -1 with err holding each error, one a line, each starting with the
 * file's path ("dir/x.json:3: ..."); a name already in c (inline, or an
 * earlier file) is an error naming both.  Files of other names are
 * ignored. */
int catalog_load_dir(catalog *c, const char *dir, char *err, size_t errlen);

#endif
