/* Host file-system work for container backends that bind-mount the host
 * workspace into the container.  Blocking: call from the thread pool. */
#ifndef EXECD_ENGINE_FS_H
#define EXECD_ENGINE_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Gives everything below DIR (not DIR itself) to uid:gid, without
 * following symlinks, so a job running as that user inside the container
 * can read its inputs and write its outputs.  DIR is the workspace execd
 * just laid out, which no job has touched yet.  Returns 0, or -1 with a
 * message in err naming the path. */
int engine_chown_tree(const char *dir, uid_t uid, gid_t gid, char *err, size_t err_size);

#endif
