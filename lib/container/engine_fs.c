/* See engine_fs.h. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine_fs.h"

/* nftw has no user pointer: one walk per thread at a time. */
static __thread struct chown_walk {
  size_t root_len;
  uid_t uid;
  gid_t gid;
  int err;
  char path[512];
} walk;

static int give(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)st;
  (void)type;
  (void)f;
  if (strlen(path) <= walk.root_len)
    return 0; /* the workspace itself stays execd's */
  if (lchown(path, walk.uid, walk.gid) < 0) {
    walk.err = errno;
    snprintf(walk.path, sizeof walk.path, "%s", path);
    return 1;
  }
  return 0;
}

int engine_chown_tree(const char *dir, uid_t uid, gid_t gid, char *err, size_t err_size) {
  walk.root_len = strlen(dir);
  walk.uid = uid;
  walk.gid = gid;
  walk.err = 0;
  walk.path[0] = '\0';
  int rc = nftw(dir, give, 16, FTW_PHYS | FTW_MOUNT);
  if (rc == 0)
    return 0;
  if (walk.err)
    snprintf(err, err_size, "cannot give %s to uid %u: %s", walk.path, (unsigned)uid,
             strerror(walk.err));
  else
    snprintf(err, err_size, "cannot walk %s: %s", dir, strerror(errno));
  return -1;
}
