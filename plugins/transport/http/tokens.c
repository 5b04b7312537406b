/* The tokens file: one "TOKEN TENANT" pair per line, '#' comment lines and
 * blank lines allowed.  Tokens are kept as SHA-256 digests and compared in
 * constant time, so neither memory dumps nor response timing reveal them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "http_internal.h"

#define TOKENS_FILE_MAX (1024 * 1024) /* a tokens file is small */
#define TOKEN_MIN_LEN 16              /* shorter tokens get a warning */

typedef struct http_token {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  char tenant[HTTP_TENANT_MAX + 1];
  unsigned line;
} http_token;

struct http_tokens {
  http_token *v;
  size_t n;
};

/* RFC 6750 b64token characters: anything else could never be sent. */
static int token_char(char c) {
  /* c != 0: strchr() finds the terminating NUL of its set. */
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("-._~+/=", c) != NULL);
}

static int tenant_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void tokens_free(http_tokens *t) {
  if (!t)
    return;
  OPENSSL_cleanse(t->v, t->n * sizeof *t->v);
  free(t->v);
  free(t);
}

size_t tokens_count(const http_tokens *t) { return t ? t->n : 0; }

static int by_digest_then_line(const void *a, const void *b) {
  const http_token *x = *(const http_token *const *)a, *y = *(const http_token *const *)b;
  int c = memcmp(x->digest, y->digest, sizeof x->digest);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A token listed twice is a mistake (which tenant is meant?).  Sorting the
 * digests finds it in n log n: a file of many short tokens must not cost a
 * reload n^2 comparisons.  The error names the earliest line that repeats
 * a token, and the line it repeats. */
static int find_duplicate(const http_tokens *t, const char *name, char *err, size_t errlen) {
  if (t->n < 2)
    return 0;
  const http_token **sorted = malloc(t->n * sizeof *sorted);
  if (!sorted) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  for (size_t i = 0; i < t->n; i++)
    sorted[i] = &t->v[i];
  qsort(sorted, t->n, sizeof *sorted, by_digest_then_line);
  const http_token *again = NULL, *first = NULL;
  for (size_t i = 1; i < t->n; i++)
    if (memcmp(sorted[i - 1]->digest, sorted[i]->digest, sizeof sorted[i]->digest) == 0 &&
        (!again || sorted[i]->line < again->line)) {
      again = sorted[i];
      first = sorted[i - 1]; /* a run is sorted by line: this is its first */
    }
  if (again)
    snprintf(err, errlen, "%s:%u: the same token is already on line %u", name, again->line,
             first->line);
  free(sorted);
  return again ? -1 : 0;
}

int tokens_parse(const char *name, const char *text, size_t len,
                 http_tokens **out, char *err, size_t errlen, char *warn,
                 size_t warnlen) {
  *out = NULL;
  if (warnlen)
    warn[0] = '\0';
  http_tokens *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "%s: out of memory", name);
    return EXECD_ENOMEM;
  }
  size_t cap = 0;
  unsigned lineno = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    lineno++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    /* Split the line into whitespace-separated fields. */
    const char *f[3] = {NULL, NULL, NULL};
    size_t fl[3] = {0, 0, 0};
    int nf = 0;
    const char *c = p;
    while (c < eol && is_space(*c))
      c++;
    if (c < eol && *c == '#')
      c = eol; /* comment line */
    while (c < eol) {
      const char *s = c;
      while (c < eol && !is_space(*c))
        c++;
      if (nf < 3) {
        f[nf] = s;
        fl[nf] = (size_t)(c - s);
      }
      nf++;
      while (c < eol && is_space(*c))
        c++;
    }
    p = eol + 1;
    if (nf == 0)
      continue;
    if (nf != 2) {
      snprintf(err, errlen, "%s:%u: expected 'TOKEN TENANT', found %d field%s",
               name, lineno, nf, nf == 1 ? "" : "s");
      goto fail;
    }
    for (size_t i = 0; i < fl[0]; i++)
      if (!token_char(f[0][i])) {
        unsigned char bad = (unsigned char)f[0][i];
        char shown[8];
        snprintf(shown, sizeof shown, bad > ' ' && bad < 0x7f ? "'%c'" : "\\x%02x", bad);
        snprintf(err, errlen,
                 "%s:%u: the token contains %s (allowed: letters, digits and "
                 "-._~+/=)",
                 name, lineno, shown);
        goto fail;
      }
    if (fl[1] > HTTP_TENANT_MAX) {
      snprintf(err, errlen, "%s:%u: the tenant name is longer than %d characters",
               name, lineno, HTTP_TENANT_MAX);
      goto fail;
    }
    for (size_t i = 0; i < fl[1]; i++)
      if (!tenant_char(f[1][i])) {
        snprintf(err, errlen,
                 "%s:%u: the tenant name contains '%c' (allowed: letters, "
                 "digits and -_.)",
                 name, lineno, f[1][i]);
        goto fail;
      }
    if (fl[0] < TOKEN_MIN_LEN && warnlen && !warn[0])
      snprintf(warn, warnlen,
               "%s:%u: the token is only %zu characters long and could be "
               "guessed; use at least %d random ones (openssl rand -hex 32)",
               name, lineno, fl[0], TOKEN_MIN_LEN);
    http_token tok;
    memset(&tok, 0, sizeof tok);
    SHA256((const unsigned char *)f[0], fl[0], tok.digest);
    memcpy(tok.tenant, f[1], fl[1]);
    tok.line = lineno;
    if (t->n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      http_token *nv = realloc(t->v, ncap * sizeof *nv);
      if (!nv) {
        snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
      }
      t->v = nv;
      cap = ncap;
    }
    t->v[t->n++] = tok;
    OPENSSL_cleanse(&tok, sizeof tok);
  }
  if (find_duplicate(t, name, err, errlen) != 0)
    goto fail;
  if (t->n == 0) {
    snprintf(err, errlen,
             "%s: no tokens (expected lines of 'TOKEN TENANT'); every request "
             "would be refused",
             name);
    goto fail;
  }
  *out = t;
  return 0;
fail:
  tokens_free(t);
  return EXECD_ECONFIG;
}

int tokens_load(const char *path, http_tokens **out, char *err, size_t errlen,
                char *warn, size_t warnlen) {
  *out = NULL;
  if (warnlen)
    warn[0] = '\0';
  /* O_NONBLOCK: opening a FIFO must not wait for a writer (it would wedge
   * the start or every later reload); only a regular file is read, and a
   * regular file never blocks, so the flag changes nothing for it. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    snprintf(err, errlen, "tokens_file %s: %s", path, strerror(errno));
    return EXECD_ECONFIG;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "tokens_file %s: %s", path, strerror(errno));
    close(fd);
    return EXECD_ECONFIG;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "tokens_file %s: not a regular file (%s)", path,
             S_ISFIFO(st.st_mode)   ? "a FIFO"
             : S_ISDIR(st.st_mode)  ? "a directory"
             : S_ISCHR(st.st_mode)  ? "a character device"
             : S_ISSOCK(st.st_mode) ? "a socket"
                                    : "not a file");
    close(fd);
    return EXECD_ECONFIG;
  }
  if (st.st_size > TOKENS_FILE_MAX) {
    snprintf(err, errlen, "tokens_file %s: %lld bytes, larger than the %d "
             "bytes a tokens file may have", path, (long long)st.st_size,
             TOKENS_FILE_MAX);
    close(fd);
    return EXECD_ECONFIG;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) {
    snprintf(err, errlen, "tokens_file %s: out of memory", path);
    close(fd);
    return EXECD_ENOMEM;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errlen, "tokens_file %s: %s", path, strerror(errno));
      OPENSSL_cleanse(buf, got);
      free(buf);
      close(fd);
      return EXECD_ECONFIG;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  int rc = tokens_parse(path, buf, got, out, err, errlen, warn, warnlen);
  OPENSSL_cleanse(buf, got);
  free(buf);
  /* The more serious warning wins. */
  if (rc == 0 && (st.st_mode & S_IROTH))
    snprintf(warn, warnlen,
             "tokens_file %s is readable by every user; chmod o-r it", path);
  return rc;
}

const char *tokens_lookup(const http_tokens *t, const char *token, size_t len) {
  if (!t || !token)
    return NULL;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)token, len, digest);
  /* Visit every entry whatever matches, so the time does not depend on
   * which token (if any) was presented. */
  const char *found = NULL;
  for (size_t i = 0; i < t->n; i++) {
    int same = CRYPTO_memcmp(t->v[i].digest, digest, sizeof digest) == 0;
    found = same ? t->v[i].tenant : found;
  }
  OPENSSL_cleanse(digest, sizeof digest);
  return found;
}
