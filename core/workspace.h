/* The per-attempt workspace on the host (doc/architecture.md, "The job's
 * I/O contract"):
 *   <dir>/input/   input.json, <document>.json, checkpoint.json, files
 *   <dir>/config/  config.json
 *   <dir>/output/  written by the job
 * These functions block (file I/O): call them from the thread pool. */
#ifndef EXECD_CORE_WORKSPACE_H
#define EXECD_CORE_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* The smallest workspace_max (resources): the input must fit in it. */
#define WORKSPACE_MAX_MIN ((int64_t)1 << 20)

/* The host directory of an attempt: <state_dir>/work/<execution id>-<attempt>.
 * Does not block. */
void workspace_path(const char *state_dir, const char *execution_id, unsigned attempt,
                    char *out, size_t len);
/* Create dir (must not exist, mode 0700) and lay out the request's input.  Files are
 * created below input/ without following symlinks.  checkpoint may be NULL.
 * If uid != (uid_t)-1 the output directory is given to that user.
 * If max_bytes > 0, dir is first made a tmpfs of that size (the disk quota
 * of the workspace: a job writing more gets ENOSPC); needs CAP_SYS_ADMIN.
 * Returns 0, or -errno with a message in err. */
int workspace_prepare(const char *dir, const json_t *input, const json_t *checkpoint,
                      uid_t uid, gid_t gid, int64_t max_bytes, char *err, size_t errlen);
/* Unmount dir if it is a workspace tmpfs, then remove it and everything
 * below it, never following symlinks. */
int workspace_remove(const char *dir);
/* True if dir is a tmpfs with (almost) no space or inodes left: why a job
 * that wrote there may have failed. */
bool workspace_full(const char *dir);
/* Whether workspace tmpfs mounts can be made below work_dir (a mount and
 * unmount of a tiny tmpfs); returns 0, or -errno with a message in err. */
int workspace_mount_probe(const char *work_dir, char *err, size_t errlen);
/* Remove every entry of dir whose name is not in keep (NULL-terminated),
 * as workspace_remove does.  A missing dir is fine. */
int workspace_sweep(const char *dir, const char *const *keep);

#endif
