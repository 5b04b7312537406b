/* Tar packing and safe unpacking with libarchive; see engine_tar.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "engine_tar.h"

typedef struct membuf {
  char *data;
  size_t len, cap;
} membuf;

static la_ssize_t membuf_write(struct archive *a, void *arg, const void *buf, size_t n) {
  (void)a;
  membuf *m = arg;
  if (m->len + n > m->cap) {
    size_t cap = m->cap ? m->cap : 65536;
    while (cap < m->len + n)
      cap *= 2;
    char *d = realloc(m->data, cap);
    if (!d)
      return -1;
    m->data = d;
    m->cap = cap;
  }
  memcpy(m->data + m->len, buf, n);
  m->len += n;
  return (la_ssize_t)n;
}

static int add_file(struct archive *a, const char *path, const char *name, const struct stat *st,
                    uid_t uid, gid_t gid, char *err, size_t err_size) {
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_uid(e, uid);
  archive_entry_set_gid(e, gid);
  archive_entry_set_mtime(e, st->st_mtime, 0);
  int fd = -1;
  if (S_ISDIR(st->st_mode)) {
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
  } else {
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
      archive_entry_free(e);
      return -1;
    }
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, (st->st_mode & 0111) ? 0755 : 0644);
    archive_entry_set_size(e, st->st_size);
  }
  int rc = 0;
  if (archive_write_header(a, e) != ARCHIVE_OK) {
    snprintf(err, err_size, "tar header for %s: %s", name, archive_error_string(a));
    rc = -1;
  }
  char buf[65536];
  ssize_t n;
  while (rc == 0 && fd >= 0 && (n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
      rc = -1;
    } else if (archive_write_data(a, buf, (size_t)n) != n) {
      snprintf(err, err_size, "tar data of %s: %s", name, archive_error_string(a));
      rc = -1;
    }
  }
  if (fd >= 0)
    close(fd);
  archive_entry_free(e);
  return rc;
}

/* Adds the entries below path (named with prefix) recursively. */
static int add_tree(struct archive *a, const char *path, const char *prefix, uid_t uid, gid_t gid,
                    char *err, size_t err_size) {
  DIR *d = opendir(path);
  if (!d) {
    snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  int rc = 0;
  struct dirent *de;
  while (rc == 0 && (de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    char *child = NULL, *name = NULL;
    if (asprintf(&child, "%s/%s", path, de->d_name) < 0 ||
        asprintf(&name, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0) {
      free(child);
      snprintf(err, err_size, "out of memory");
      rc = -1;
      break;
    }
    struct stat st;
    if (lstat(child, &st) != 0) {
      snprintf(err, err_size, "cannot stat %s: %s", child, strerror(errno));
      rc = -1;
    } else if (S_ISDIR(st.st_mode)) {
      rc = add_file(a, child, name, &st, uid, gid, err, err_size);
      if (rc == 0)
        rc = add_tree(a, child, name, uid, gid, err, err_size);
    } else if (S_ISREG(st.st_mode)) {
      rc = add_file(a, child, name, &st, uid, gid, err, err_size);
    }
    free(child);
    free(name);
  }
  closedir(d);
  return rc;
}

int engine_tar_pack(const char *dir, uid_t uid, gid_t gid, char **out, size_t *out_len,
                    char *err, size_t err_size) {
  membuf m = {0};
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  if (archive_write_open(a, &m, NULL, membuf_write, NULL) != ARCHIVE_OK) {
    snprintf(err, err_size, "tar: %s", archive_error_string(a));
    archive_write_free(a);
    free(m.data);
    return -1;
  }
  int rc = add_tree(a, dir, "", uid, gid, err, err_size);
  if (archive_write_close(a) != ARCHIVE_OK && rc == 0) {
    snprintf(err, err_size, "tar: %s", archive_error_string(a));
    rc = -1;
  }
  archive_write_free(a);
  if (rc != 0) {
    free(m.data);
    return -1;
  }
  *out = m.data;
  *out_len = m.len;
  return 0;
}

int engine_tar_name_is_safe(const char *name) {
  if (!name || !*name || name[0] == '/')
    return 0;
  const char *p = name;
  while (*p) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 && slash && slash[1] != '\0')
      return 0; /* "a//b" */
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return 0;
    if (!slash)
      break;
    p = slash + 1;
  }
  return 1;
}

/* The part of name below top, "" for top itself, NULL if outside top. */
static const char *below_top(const char *name, const char *top) {
  while (name[0] == '.' && name[1] == '/')
    name += 2; /* "./output/x" */
  size_t n = strlen(top);
  if (strncmp(name, top, n) != 0)
    return NULL;
  if (name[n] == '\0')
    return name + n;
  if (name[n] != '/')
    return NULL;
  return name + n + 1;
}

/* Unpacks the archive in (opened: open_rc is the open's result) and frees it. */
static int unpack_archive(struct archive *in, int open_rc, const char *top, const char *dest,
                          uint64_t max_bytes, unsigned *skipped, char *err, size_t err_size) {
  struct archive *out = archive_write_disk_new();
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  *skipped = 0;
  int rc = 0;
  uint64_t total = 0;
  if (open_rc != ARCHIVE_OK) {
    snprintf(err, err_size, "output archive: %s", archive_error_string(in));
    rc = -1;
  }
  struct archive_entry *e;
  while (rc == 0) {
    int r = archive_read_next_header(in, &e);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      snprintf(err, err_size, "output archive: %s", archive_error_string(in));
      rc = -1;
      break;
    }
    const char *name = archive_entry_pathname(e);
    const char *rel = name ? below_top(name, top) : NULL;
    if (!rel || (*rel && !engine_tar_name_is_safe(rel))) {
      snprintf(err, err_size, "output archive entry \"%s\" is outside %s/ or not a safe name",
               name ? name : "(none)", top);
      rc = -1;
      break;
    }
    mode_t type = archive_entry_filetype(e);
    if (archive_entry_hardlink(e) || (type != AE_IFREG && type != AE_IFDIR)) {
      (*skipped)++;
      continue;
    }
    if (type == AE_IFREG) {
      total += (uint64_t)archive_entry_size(e);
      if (total > max_bytes) {
        snprintf(err, err_size, "outputs are larger than %llu bytes",
                 (unsigned long long)max_bytes);
        rc = -1;
        break;
      }
    }
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", dest, *rel ? "/" : "", rel) < 0) {
      snprintf(err, err_size, "out of memory");
      rc = -1;
      break;
    }
    archive_entry_set_pathname(e, path);
    archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : (archive_entry_perm(e) & 0111 ? 0755 : 0644));
    free(path);
    if (archive_write_header(out, e) != ARCHIVE_OK) {
      snprintf(err, err_size, "writing output \"%s\": %s", name, archive_error_string(out));
      rc = -1;
      break;
    }
    const void *buf;
    size_t n;
    la_int64_t off;
    while (type == AE_IFREG && (r = archive_read_data_block(in, &buf, &n, &off)) == ARCHIVE_OK) {
      if (archive_write_data_block(out, buf, n, off) != ARCHIVE_OK) {
        snprintf(err, err_size, "writing output \"%s\": %s", name, archive_error_string(out));
        rc = -1;
        break;
      }
    }
    if (rc == 0 && type == AE_IFREG && r != ARCHIVE_EOF) {
      snprintf(err, err_size, "output archive: %s", archive_error_string(in));
      rc = -1;
    }
    if (archive_write_finish_entry(out) != ARCHIVE_OK && rc == 0) {
      snprintf(err, err_size, "writing output \"%s\": %s", name, archive_error_string(out));
      rc = -1;
    }
  }
  archive_read_free(in);
  archive_write_free(out);
  return rc;
}

int engine_tar_unpack(const char *data, size_t len, const char *top, const char *dest,
                      uint64_t max_bytes, unsigned *skipped, char *err, size_t err_size) {
  struct archive *in = archive_read_new();
  archive_read_support_format_tar(in);
  int open_rc = archive_read_open_memory(in, data, len);
  return unpack_archive(in, open_rc, top, dest, max_bytes, skipped, err, err_size);
}

int engine_tar_unpack_file(const char *path, const char *top, const char *dest,
                           uint64_t max_bytes, unsigned *skipped, char *err, size_t err_size) {
  struct archive *in = archive_read_new();
  archive_read_support_format_tar(in);
  int open_rc = archive_read_open_filename(in, path, 65536);
  return unpack_archive(in, open_rc, top, dest, max_bytes, skipped, err, err_size);
}
