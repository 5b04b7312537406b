/* Tar in and out of a container: the workspace goes in as a tar body of
 * PUT /containers/{id}/archive, the outputs come back as the tar body of
 * GET /containers/{id}/archive (spooled to a file first, then unpacked from
 * it).  Both run on the thread pool (they touch the disk), never on the
 * loop thread. */
#ifndef EXECD_ENGINE_TAR_H
#define EXECD_ENGINE_TAR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Packs the tree under dir (directories and regular files; symlinks and
 * special files are left out) into a new tar in memory, entries named
 * relative to dir and owned by uid:gid, so a non-root job can write where
 * it should.  Returns 0 and *out (malloc'd), or -1 with err filled. */
int engine_tar_pack(const char *dir, uid_t uid, gid_t gid, char **out, size_t *out_len,
                    char *err, size_t err_size);

/* Unpacks a tar whose entries all lie under top ("output", "output/...")
 * into dest, top itself mapping to dest.  Refused: absolute names, ".."
 * components, entries outside top, and more than max_bytes of file data.
 * Symlinks, hard links and special files are skipped (counted in
 * *skipped), so nothing can point outside dest.  Returns 0, or -1 with err
 * filled (what was written before the error stays). */
int engine_tar_unpack(const char *data, size_t len, const char *top, const char *dest,
                      uint64_t max_bytes, unsigned *skipped, char *err, size_t err_size);

/* The same from a tar file, read in 64 KiB blocks: memory does not
 * follow the archive's size. */
int engine_tar_unpack_file(const char *path, const char *top, const char *dest,
                           uint64_t max_bytes, unsigned *skipped, char *err, size_t err_size);

/* True if name is a relative path without empty, "." or ".." components. */
int engine_tar_name_is_safe(const char *name);

#endif
