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

#include <execd/error.h>

#include "tenants_file.h"
#include "xalloc.h"

#define TOKEN_MIN_LEN 16 /* shorter tokens get a warning */

typedef struct tenant_token {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  char tenant[EXECD_TENANT_MAX + 1];
  unsigned line;
} tenant_token;

struct tenants_table {
  tenant_token *tokens;
  size_t n_tokens;
};

/* RFC 6750 b64token characters: anything else could never be sent. */
static int token_char(char c) {
  /* c != 0: strchr() finds the terminating NUL of its set. */
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("-._~+/=", c) != NULL);
}

static int tenant_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.';
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void tenants_free(tenants_table *t) {
  if (!t)
    return;
  OPENSSL_cleanse(t->tokens, t->n_tokens * sizeof *t->tokens);
  free(t->tokens);
  free(t);
}

size_t tenants_token_count(const tenants_table *t) { return t ? t->n_tokens : 0; }

static int by_digest_then_line(const void *a, const void *b) {
  const tenant_token *x = *(const tenant_token *const *)a, *y = *(const tenant_token *const *)b;
  int c = memcmp(x->digest, y->digest, sizeof x->digest);
  return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* A token listed twice is a mistake (which tenant is meant?).  Sorting the
 * digests finds it in n log n: a file of many short tokens must not cost a
 * reload n^2 comparisons.  The error names the earliest line that repeats
 * a token, and the line it repeats. */
static int find_duplicate(const tenants_table *t, const char *name, char *err, size_t errlen) {
  if (t->n_tokens < 2)
    return 0;
  const tenant_token **sorted = xmalloc(t->n_tokens * sizeof *sorted);
  for (size_t i = 0; i < t->n_tokens; i++)
    sorted[i] = &t->tokens[i];
  qsort(sorted, t->n_tokens, sizeof *sorted, by_digest_then_line);
  const tenant_token *again = NULL, *first = NULL;
  for (size_t i = 1; i < t->n_tokens; i++)
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

/* One line split into whitespace-separated fields (at most FIELDS_MAX are
 * kept; nf counts them all). */
#define FIELDS_MAX 3
typedef struct line_fields {
  const char *f[FIELDS_MAX];
  size_t fl[FIELDS_MAX];
  int nf;
} line_fields;

static void split_fields(const char *c, const char *eol, line_fields *lf) {
  memset(lf, 0, sizeof *lf);
  while (c < eol && is_space(*c))
    c++;
  if (c < eol && *c == '#')
    return; /* comment line */
  while (c < eol) {
    const char *s = c;
    while (c < eol && !is_space(*c))
      c++;
    if (lf->nf < FIELDS_MAX) {
      lf->f[lf->nf] = s;
      lf->fl[lf->nf] = (size_t)(c - s);
    }
    lf->nf++;
    while (c < eol && is_space(*c))
      c++;
  }
}

/* The character shown in an error: printable as itself, else \xNN. */
static void show_char(char c, char *out, size_t outlen) {
  unsigned char u = (unsigned char)c;
  snprintf(out, outlen, u > ' ' && u < 0x7f ? "'%c'" : "\\x%02x", u);
}

static int check_tenant_name(const char *name, unsigned lineno, const char *s, size_t len,
                             char *err, size_t errlen) {
  if (len > EXECD_TENANT_MAX) {
    snprintf(err, errlen, "%s:%u: the tenant name is longer than %d characters", name, lineno,
             EXECD_TENANT_MAX);
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    if (!tenant_char(s[i])) {
      char shown[8];
      show_char(s[i], shown, sizeof shown);
      snprintf(err, errlen,
               "%s:%u: the tenant name contains %s (allowed: letters, digits and -_.)", name,
               lineno, shown);
      return -1;
    }
  return 0;
}

static int parse_token_line(tenants_table *t, size_t *cap, const char *name, unsigned lineno,
                            const line_fields *lf, char *err, size_t errlen, char *warn,
                            size_t warnlen) {
  if (lf->nf != 2) {
    snprintf(err, errlen, "%s:%u: expected 'TOKEN TENANT', found %d field%s", name, lineno,
             lf->nf, lf->nf == 1 ? "" : "s");
    return -1;
  }
  for (size_t i = 0; i < lf->fl[0]; i++)
    if (!token_char(lf->f[0][i])) {
      char shown[8];
      show_char(lf->f[0][i], shown, sizeof shown);
      snprintf(err, errlen,
               "%s:%u: the token contains %s (allowed: letters, digits and -._~+/=)", name,
               lineno, shown);
      return -1;
    }
  if (check_tenant_name(name, lineno, lf->f[1], lf->fl[1], err, errlen) != 0)
    return -1;
  if (lf->fl[0] < TOKEN_MIN_LEN && warnlen && !warn[0])
    snprintf(warn, warnlen,
             "%s:%u: the token is only %zu characters long and could be guessed; use at "
             "least %d random ones (openssl rand -hex 32)",
             name, lineno, lf->fl[0], TOKEN_MIN_LEN);
  if (t->n_tokens == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    t->tokens = xrealloc(t->tokens, *cap * sizeof *t->tokens);
  }
  tenant_token *tok = &t->tokens[t->n_tokens++];
  memset(tok, 0, sizeof *tok);
  SHA256((const unsigned char *)lf->f[0], lf->fl[0], tok->digest);
  memcpy(tok->tenant, lf->f[1], lf->fl[1]);
  tok->line = lineno;
  return 0;
}

int tenants_parse(const char *name, const char *text, size_t len, tenants_table **out,
                  char *err, size_t errlen, char *warn, size_t warnlen) {
  *out = NULL;
  if (warnlen)
    warn[0] = '\0';
  tenants_table *t = xcalloc(1, sizeof *t);
  size_t cap = 0;
  unsigned lineno = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    lineno++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    line_fields lf;
    split_fields(p, eol, &lf);
    p = eol + 1;
    if (lf.nf == 0)
      continue;
    if (parse_token_line(t, &cap, name, lineno, &lf, err, errlen, warn, warnlen) != 0)
      goto fail;
  }
  if (find_duplicate(t, name, err, errlen) != 0)
    goto fail;
  if (t->n_tokens == 0) {
    snprintf(err, errlen,
             "%s: no tokens (expected lines of 'TOKEN TENANT'); every request would be "
             "refused",
             name);
    goto fail;
  }
  *out = t;
  return 0;
fail:
  tenants_free(t);
  return EXECD_ECONFIG;
}

static const char *file_kind(mode_t m) {
  return S_ISFIFO(m)   ? "a FIFO"
         : S_ISDIR(m)  ? "a directory"
         : S_ISCHR(m)  ? "a character device"
         : S_ISSOCK(m) ? "a socket"
                       : "not a file";
}

int tenants_load(const char *path, tenants_table **out, char *err, size_t errlen, char *warn,
                 size_t warnlen) {
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
             file_kind(st.st_mode));
    close(fd);
    return EXECD_ECONFIG;
  }
  if (st.st_size > TENANTS_FILE_MAX) {
    snprintf(err, errlen,
             "tokens_file %s: %lld bytes, larger than the %d bytes a tokens file may have",
             path, (long long)st.st_size, TENANTS_FILE_MAX);
    close(fd);
    return EXECD_ECONFIG;
  }
  char *buf = xmalloc((size_t)st.st_size + 1);
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
  int rc = tenants_parse(path, buf, got, out, err, errlen, warn, warnlen);
  OPENSSL_cleanse(buf, got);
  free(buf);
  /* The more serious warning wins. */
  if (rc == 0 && (st.st_mode & S_IROTH))
    snprintf(warn, warnlen, "tokens_file %s is readable by every user; chmod o-r it", path);
  return rc;
}

const char *tenants_lookup(const tenants_table *t, const char *token, size_t len) {
  if (!t || !token)
    return NULL;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)token, len, digest);
  /* Visit every entry whatever matches, so the time does not depend on
   * which token (if any) was presented. */
  const char *found = NULL;
  for (size_t i = 0; i < t->n_tokens; i++) {
    int same = CRYPTO_memcmp(t->tokens[i].digest, digest, sizeof digest) == 0;
    found = same ? t->tokens[i].tenant : found;
  }
  OPENSSL_cleanse(digest, sizeof digest);
  return found;
}
