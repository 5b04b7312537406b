#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "workspace.h"
#include "xalloc.h"

static int write_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Create file `name` in directory dirfd; O_EXCL|O_NOFOLLOW so nothing
 * that already exists (or a symlink) is written through. */
static int write_file_at(int dirfd, const char *name, const char *data, size_t len,
                         mode_t mode) {
  int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  int rc = write_all(fd, data, len);
  if (fchmod(fd, mode) < 0 && !rc)
    rc = -errno;
  close(fd);
  return rc;
}

static int write_json_at(int dirfd, const char *name, const json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text)
    return -ENOMEM;
  int rc = write_file_at(dirfd, name, text, strlen(text), 0644);
  free(text);
  return rc;
}

/* Opens (creating as needed) the directories of a relative path below
 * base, one component at a time with O_NOFOLLOW; returns the fd of the
 * last directory and points *leaf at the file name. */
static int open_parent(int base, const char *path, const char **leaf) {
  int dirfd = dup(base);
  if (dirfd < 0)
    return -errno;
  const char *seg = path;
  const char *slash;
  while ((slash = strchr(seg, '/'))) {
    char name[256];
    size_t n = (size_t)(slash - seg);
    if (n == 0 || n >= sizeof name) {
      close(dirfd);
      return -EINVAL;
    }
    memcpy(name, seg, n);
    name[n] = '\0';
    if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST) {
      int e = -errno;
      close(dirfd);
      return e;
    }
    int next = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(dirfd);
    if (next < 0)
      return -errno;
    dirfd = next;
    seg = slash + 1;
  }
  *leaf = seg;
  return dirfd;
}

static int decode_base64(const char *text, size_t len, unsigned char **out, size_t *outlen) {
  unsigned char *buf = xmalloc(len / 4 * 3 + 3);
  int n = len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len) : 0;
  if (n < 0) {
    free(buf);
    return -EINVAL;
  }
  /* EVP_DecodeBlock counts padding as zero bytes; drop them. */
  if (len >= 1 && text[len - 1] == '=')
    n--;
  if (len >= 2 && text[len - 2] == '=')
    n--;
  *out = buf;
  *outlen = (size_t)n;
  return 0;
}

void workspace_path(const char *state_dir, const char *execution_id, unsigned attempt,
                    char *out, size_t len) {
  snprintf(out, len, "%s/work/%s-%u", state_dir, execution_id, attempt);
}

/* A tmpfs of max_bytes at dir, owned by root with mode 0700 like the
 * directory it covers.  nosuid, nodev: a job's files grant nothing. */
static int mount_tmpfs(const char *dir, int64_t max_bytes) {
  char opts[96];
  snprintf(opts, sizeof opts, "size=%lld,mode=0700,uid=0,gid=0", (long long)max_bytes);
  return mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0 ? -errno : 0;
}

int workspace_prepare(const char *dir, const json_t *input, const json_t *checkpoint,
                      uid_t uid, gid_t gid, int64_t max_bytes, char *err, size_t errlen) {
  int rc = 0, root = -1, in = -1, conf = -1;
  /* 0700: only the attempt's own user may enter (a backend gives it the
   * directory, or opens it up for a container's user). */
  if (mkdir(dir, 0700) < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot create workspace %s: %s", dir, strerror(-rc));
    return rc;
  }
  /* Before anything is written: the input counts against the quota too. */
  if (max_bytes > 0 && (rc = mount_tmpfs(dir, max_bytes)) != 0) {
    snprintf(err, errlen, "cannot mount a tmpfs of %lld bytes (workspace_max) at %s: %s",
             (long long)max_bytes, dir, strerror(-rc));
    rmdir(dir);
    return rc;
  }
  root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0 || mkdirat(root, "input", 0755) < 0 || mkdirat(root, "config", 0755) < 0 ||
      mkdirat(root, "output", 0755) < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot lay out workspace %s: %s", dir, strerror(-rc));
    goto out;
  }
  if (uid != (uid_t)-1 && (fchownat(root, "output", uid, gid, AT_SYMLINK_NOFOLLOW) < 0)) {
    rc = -errno;
    snprintf(err, errlen, "cannot give %s/output to uid %u: %s", dir, (unsigned)uid,
             strerror(-rc));
    goto out;
  }
  in = openat(root, "input", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  conf = openat(root, "config", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0 || conf < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot open workspace %s: %s", dir, strerror(-rc));
    goto out;
  }
  json_t *data = json_object_get(input, "data");
  if ((rc = write_json_at(in, "input.json", data ? data : json_null()))) {
    snprintf(err, errlen, "cannot write input/input.json: %s", strerror(-rc));
    goto out;
  }
  json_t *config = json_object_get(input, "config");
  json_t *empty = config ? NULL : json_object();
  rc = write_json_at(conf, "config.json", config ? config : empty);
  json_decref(empty);
  if (rc) {
    snprintf(err, errlen, "cannot write config/config.json: %s", strerror(-rc));
    goto out;
  }
  if (checkpoint && (rc = write_json_at(in, "checkpoint.json", checkpoint))) {
    snprintf(err, errlen, "cannot write input/checkpoint.json: %s", strerror(-rc));
    goto out;
  }
  const char *name;
  json_t *doc;
  json_object_foreach((json_t *)json_object_get(input, "documents"), name, doc) {
    char fname[300];
    snprintf(fname, sizeof fname, "%s.json", name);
    if ((rc = write_json_at(in, fname, doc))) {
      snprintf(err, errlen, "cannot write input/%s: %s", fname, strerror(-rc));
      goto out;
    }
  }
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(input, "files"), i, f) {
    const char *path = json_string_value(json_object_get(f, "path"));
    json_t *content = json_object_get(f, "content");
    const char *enc = json_string_value(json_object_get(f, "encoding"));
    mode_t mode = (mode_t)json_integer_value(json_object_get(f, "mode"));
    const char *leaf = NULL;
    int dirfd = open_parent(in, path, &leaf);
    if (dirfd < 0) {
      rc = dirfd;
      snprintf(err, errlen, "input.files[%zu]: cannot create directories of '%s': %s", i,
               path, strerror(-rc));
      goto out;
    }
    if (enc && strcmp(enc, "base64") == 0) {
      unsigned char *bytes;
      size_t n;
      rc = decode_base64(json_string_value(content), json_string_length(content), &bytes, &n);
      if (!rc) {
        rc = write_file_at(dirfd, leaf, (const char *)bytes, n, mode);
        free(bytes);
      }
    } else {
      rc = write_file_at(dirfd, leaf, json_string_value(content),
                         json_string_length(content), mode);
    }
    close(dirfd);
    if (rc) {
      snprintf(err, errlen, "input.files[%zu]: cannot write '%s': %s", i, path,
               strerror(-rc));
      goto out;
    }
  }
out:
  if (in >= 0)
    close(in);
  if (conf >= 0)
    close(conf);
  if (root >= 0)
    close(root);
  if (rc)
    workspace_remove(dir);
  return rc;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)st;
  (void)f;
  if (type == FTW_DP)
    rmdir(path);
  else
    unlink(path);
  return 0;
}

int workspace_remove(const char *dir) {
  /* A workspace tmpfs goes with its contents in one call; detached, so a
   * process of the job still holding a file open cannot keep it mounted.
   * EINVAL: not (or no longer) a mount point. */
  while (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    ;
  /* Jobs may leave read-only directories; make them writable first is not
   * needed for root, and unlink/rmdir need write permission only on the
   * parent, which execd created. */
  if (nftw(dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

int workspace_sweep(const char *dir, const char *const *keep) {
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : -errno;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    bool kept = false;
    for (const char *const *k = keep; k && *k && !kept; k++)
      kept = strcmp(*k, e->d_name) == 0;
    if (kept)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    int r = workspace_remove(path);
    if (r && !rc)
      rc = r;
  }
  closedir(d);
  return rc;
}

bool workspace_full(const char *dir) {
  struct statfs st;
  if (statfs(dir, &st) < 0 || st.f_type != TMPFS_MAGIC)
    return false;
  /* A write fails with ENOSPC when what is left is smaller than it, not
   * only at zero: count under 64 KiB as full. */
  unsigned long long left = (unsigned long long)st.f_bavail * (unsigned long long)st.f_bsize;
  return left < (64u << 10) || (st.f_files > 0 && st.f_ffree == 0);
}

int workspace_mount_probe(const char *work_dir, char *err, size_t errlen) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/.mount-probe-%ld", work_dir, (long)getpid());
  if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
    int rc = -errno;
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
    return rc;
  }
  int rc = mount_tmpfs(dir, 4096);
  if (rc)
    snprintf(err, errlen, "cannot mount a tmpfs at %s: %s", dir, strerror(-rc));
  else
    umount2(dir, MNT_DETACH);
  rmdir(dir);
  return rc;
}
