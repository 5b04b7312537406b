#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
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

static void sha256_hex(const char *data, size_t len, char *hex) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
  for (unsigned i = 0; i < n; i++)
    sprintf(hex + 2 * i, "%02x", md[i]);
  hex[2 * n] = '\0';
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

json_t *outputs_collect(const char *workspace, const json_t *globs, int64_t max_bytes) {
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
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    if (doc)
      json_object_set_new(res, "output", doc);
    else
      json_object_set_new(res, "error",
                          json_pack("{s:s, s:s+}", "code", "invalid_output", "message",
                                    "output/result.json is not valid JSON: ", je.text));
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
      char *data = NULL;
      size_t size = 0;
      if (read_regular(dirfd, rel, (int64_t)1 << 40, &data, &size) != 0)
        continue;
      char hex[2 * EVP_MAX_MD_SIZE + 1];
      sha256_hex(data, size, hex);
      json_t *entry = json_pack("{s:s, s:I, s:s}", "name", rel, "size", (json_int_t)size,
                                "sha256", hex);
      if ((int64_t)size <= budget) {
        budget -= (int64_t)size;
        if (valid_utf8_text(data, size)) {
          json_object_set_new(entry, "content", json_stringn(data, size));
          json_object_set_new(entry, "encoding", json_string("utf-8"));
        } else {
          char *b64 = base64(data, size);
          json_object_set_new(entry, "content", json_string(b64));
          json_object_set_new(entry, "encoding", json_string("base64"));
          free(b64);
        }
      } else {
        json_object_set_new(entry, "truncated", json_true());
      }
      free(data);
      json_array_append_new(files, entry);
    }
    free(items);
    json_decref(names);
  }
  close(dirfd);
  return res;
}

json_t *outputs_parse_envelope(const char *text, size_t len) {
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
      json_t *doc = json_loadb(text + start, n, 0, NULL);
      if (json_is_object(doc) && json_is_boolean(json_object_get(doc, "ok")))
        return doc;
      json_decref(doc);
      return NULL;
    }
    end = start ? start - 1 : 0;
  }
  return NULL;
}
