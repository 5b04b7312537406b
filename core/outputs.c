#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <openssl/evp.h>

#include "outputs.h"
#include "xalloc.h"

#define OUTPUT_MAX_FILES 1000

/* Opens rel below dirfd without following a symlink in any component and
 * without leaving dirfd's tree, even if the job's processes changed it
 * after the walk. */
static int open_beneath(int dirfd, const char *rel) {
  struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                    RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
  int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) /* before Linux 5.6: the last component only */
    fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  return fd;
}

/* Reads a regular file (not through a symlink) of at most max bytes.  A
 * file with more than one hard link is refused: it may be a link the job
 * made to a file outside its workspace, which execd (root) could read. */
static int read_regular(int dirfd, const char *rel, int64_t max, char **out, size_t *len) {
  int fd = open_beneath(dirfd, rel);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
    close(fd);
    return -EINVAL;
  }
  if (st.st_size > max) {
    close(fd);
    return -EFBIG;
  }
  char *buf = xmalloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return 0;
}

#define OUTPUT_CHUNK 65536

/* One output file, hashed in OUTPUT_CHUNK reads so memory never follows
 * its size; its content is kept only while it fits in keep_max bytes. */
typedef struct scanned_file {
  int64_t size;
  char sha256[2 * EVP_MAX_MD_SIZE + 1];
  char *content; /* malloc'd, or NULL when the file is larger than keep_max */
  size_t content_len;
} scanned_file;

static int scan_regular(int dirfd, const char *rel, int64_t keep_max, scanned_file *out) {
  memset(out, 0, sizeof *out);
  int fd = openat(dirfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -EINVAL;
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    close(fd);
    return -ENOMEM;
  }
  /* The size read, not fstat's: the file may change while it is read. */
  bool keep = st.st_size <= keep_max;
  char *kept = keep ? xmalloc((size_t)st.st_size + 1) : NULL;
  size_t kept_cap = keep ? (size_t)st.st_size : 0;
  char *chunk = xmalloc(OUTPUT_CHUNK);
  int64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, chunk, OUTPUT_CHUNK);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    if (n == 0)
      break;
    EVP_DigestUpdate(md, chunk, (size_t)n);
    if (keep && total + n > keep_max) {
      keep = false; /* it grew past what may be kept */
      free(kept);
      kept = NULL;
    }
    if (keep) {
      if ((size_t)(total + n) > kept_cap) {
        kept_cap = (size_t)(total + n);
        kept = xrealloc(kept, kept_cap + 1);
      }
      memcpy(kept + total, chunk, (size_t)n);
    }
    total += n;
  }
  free(chunk);
  close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dn = 0;
  EVP_DigestFinal_ex(md, digest, &dn);
  EVP_MD_CTX_free(md);
  if (rc != 0) {
    free(kept);
    return rc;
  }
  for (unsigned i = 0; i < dn; i++)
    sprintf(out->sha256 + 2 * i, "%02x", digest[i]);
  out->sha256[2 * dn] = '\0';
  out->size = total;
  if (keep) {
    kept[total] = '\0';
    out->content = kept;
    out->content_len = (size_t)total;
  }
  return 0;
}

static int valid_utf8_text(const char *s, size_t len) {
  if (memchr(s, '\0', len))
    return 0;
  json_t *probe = json_stringn(s, len); /* jansson validates UTF-8 */
  int ok = probe != NULL;
  json_decref(probe);
  return ok;
}

static char *base64(const char *data, size_t len) {
  char *out = xmalloc(4 * ((len + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
  return out;
}

/* nftw has no user pointer: the walk state lives here, one walk per thread. */
static __thread struct walk {
  const char *root;
  size_t rootlen;
  const json_t *globs;
  json_t *names;
} walk;

static int collect_name(const char *path, const struct stat *st, int type, struct FTW *f) {
  (void)f;
  if (type != FTW_F || !S_ISREG(st->st_mode))
    return 0; /* directories, symlinks (FTW_SL with FTW_PHYS), devices */
  const char *rel = path + walk.rootlen + 1;
  size_t i;
  json_t *g;
  json_array_foreach(walk.globs, i, g) {
    if (fnmatch(json_string_value(g), rel, FNM_PATHNAME) == 0) {
      json_array_append_new(walk.names, json_string(rel));
      break;
    }
  }
  return json_array_size(walk.names) >= OUTPUT_MAX_FILES ? 1 : 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

json_t *outputs_collect(const char *workspace, const json_t *globs, int64_t max_bytes,
                        const json_bounds *b) {
  char outdir[4096];
  snprintf(outdir, sizeof outdir, "%s/output", workspace);
  json_t *res = json_pack("{s:n, s:[], s:n}", "output", "output_files", "error");
  int dirfd = open(outdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dirfd < 0)
    return res;

  char *text = NULL;
  size_t len = 0;
  int rc = read_regular(dirfd, "result.json", max_bytes, &text, &len);
  if (rc == 0) {
    json_bounds_error je;
    json_t *doc = json_bounds_load(text, len, 0, b, &je);
    if (doc)
      json_object_set_new(res, "output", doc);
    else if (je.fault == JSON_BOUNDS_INVALID)
      json_object_set_new(res, "error",
                          json_pack("{s:s, s:s+}", "code", "output_invalid", "message",
                                    "output/result.json is not valid JSON: ", je.json.text));
    else
      json_object_set_new(
          res, "error",
          json_pack("{s:s, s:s+++}", "code",
                    je.fault == JSON_BOUNDS_TOO_DEEP ? "output_invalid" : "output_too_large",
                    "message", "output/result.json is ",
                    je.fault == JSON_BOUNDS_TOO_DEEP ? "" : "over its limit of values: ",
                    je.message,
                    je.fault == JSON_BOUNDS_TOO_DEEP
                        ? "; the limit is daemon.limits.json_depth_max"
                        : "; the limit is daemon.limits.json_elements_max"));
    free(text);
  } else if (rc == -EFBIG) {
    json_object_set_new(res, "error",
                        json_pack("{s:s, s:s}", "code", "output_too_large", "message",
                                  "output/result.json is larger than output.max_bytes"));
  }

  if (json_array_size(globs)) {
    json_t *names = json_array();
    walk.root = outdir;
    walk.rootlen = strlen(outdir);
    walk.globs = globs;
    walk.names = names;
    nftw(outdir, collect_name, 16, FTW_PHYS | FTW_MOUNT);
    /* Stable order for clients and tests. */
    size_t n = json_array_size(names);
    json_t **items = xmalloc(n * sizeof *items + 1);
    for (size_t i = 0; i < n; i++)
      items[i] = json_array_get(names, i);
    qsort(items, n, sizeof *items, cmp_names);
    int64_t budget = max_bytes;
    json_t *files = json_object_get(res, "output_files");
    for (size_t i = 0; i < n; i++) {
      const char *rel = json_string_value(items[i]);
      scanned_file f;
      if (scan_regular(dirfd, rel, budget, &f) != 0)
        continue;
      json_t *entry = json_pack("{s:s, s:I, s:s}", "name", rel, "size", (json_int_t)f.size,
                                "sha256", f.sha256);
      if (f.content) {
        budget -= (int64_t)f.content_len;
        if (valid_utf8_text(f.content, f.content_len)) {
          json_object_set_new(entry, "content", json_stringn(f.content, f.content_len));
          json_object_set_new(entry, "encoding", json_string("utf-8"));
        } else {
          char *b64 = base64(f.content, f.content_len);
          json_object_set_new(entry, "content", json_string(b64));
          json_object_set_new(entry, "encoding", json_string("base64"));
          free(b64);
        }
      } else {
        json_object_set_new(entry, "truncated", json_true());
      }
      free(f.content);
      json_array_append_new(files, entry);
    }
    free(items);
    json_decref(names);
  }
  close(dirfd);
  return res;
}

json_t *outputs_parse_envelope(const char *text, size_t len, const json_bounds *b,
                               char *why, size_t whylen) {
  if (why && whylen)
    why[0] = '\0';
  /* Walk lines from the end: the envelope is the job's last word. */
  size_t end = len;
  while (end > 0) {
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n')
      start--;
    size_t n = end - start;
    while (n && (text[start + n - 1] == '\n' || text[start + n - 1] == '\r'))
      n--;
    if (n) {
      json_bounds_error je;
      json_t *doc = json_bounds_load(text + start, n, 0, b, &je);
      if (json_is_object(doc) && json_is_boolean(json_object_get(doc, "ok")))
        return doc;
      if (!doc && je.fault != JSON_BOUNDS_INVALID && why)
        snprintf(why, whylen, "the io:json envelope on stdout is %s; the limit is %s",
                 je.message,
                 je.fault == JSON_BOUNDS_TOO_DEEP ? "daemon.limits.json_depth_max"
                                                  : "daemon.limits.json_elements_max");
      json_decref(doc);
      return NULL;
    }
    end = start ? start - 1 : 0;
  }
  return NULL;
}
