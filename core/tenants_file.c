/* The tokens file: one "TOKEN TENANT" pair per line, '#' comment lines and
 * blank lines allowed; and the tenants' entitlements and quotas, on lines
 * that start with a directive ("allow:", "tenant:"; a colon is never part
 * of a token, so no line of an older file reads as one).  Tokens are kept
 * as SHA-256 digests and compared in constant time, so neither memory
 * dumps nor response timing reveal them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdint.h>
#include <time.h>
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

/* One "allow:" line: agents the tenant may run, until when. */
typedef struct tenant_grant {
  char **globs;
  size_t n_globs;
  int64_t until_ms; /* exclusive; INT64_MAX: no end */
  char until_text[40];
  unsigned line;
} tenant_grant;

/* A tenant named by a directive: its quotas and its grants. */
typedef struct tenant_entry {
  char name[EXECD_TENANT_MAX + 1];
  tenant_quota quota;
  unsigned quota_line; /* its "tenant:" line, or 0 */
  tenant_grant *grants;
  size_t n_grants;
  unsigned first_line; /* for sorting directives into tenants */
} tenant_entry;

struct tenants_table {
  tenant_token *tokens;
  size_t n_tokens;
  tenant_entry *tenants; /* sorted by name once parsed */
  size_t n_tenants;
  int restricted; /* some "allow:" line: every tenant runs only what it is allowed */
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

static void grant_free(tenant_grant *g) {
  for (size_t i = 0; i < g->n_globs; i++)
    free(g->globs[i]);
  free(g->globs);
}

static void entry_free(tenant_entry *e) {
  for (size_t i = 0; i < e->n_grants; i++)
    grant_free(&e->grants[i]);
  free(e->grants);
}

void tenants_free(tenants_table *t) {
  if (!t)
    return;
  OPENSSL_cleanse(t->tokens, t->n_tokens * sizeof *t->tokens);
  free(t->tokens);
  for (size_t i = 0; i < t->n_tenants; i++)
    entry_free(&t->tenants[i]);
  free(t->tenants);
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
#define FIELDS_MAX 8
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

/* ---- directives: "tenant:" and "allow:" --------------------------------- */

#define GLOBS_MAX 64     /* globs on one allow: line */
#define GLOB_LEN_MAX 128 /* characters of one glob */
#define QUOTA_MAX 1000000000LL

static int glob_char(char c) {
  return c > ' ' && c < 0x7f && c != ',';
}

static int days_in_month(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : d[m - 1];
}

static int digits(const char *s, size_t n, int *out) {
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* RFC 3339 date-time (len bytes): "2027-01-31T00:00:00Z", with optional
 * fractional seconds and a "+HH:MM"/"-HH:MM" offset instead of Z.  Leap
 * seconds (:60) are refused: an expiry is an instant execd can compare. */
static int parse_rfc3339(const char *s, size_t len, int64_t *ms) {
  int y, mo, d, h, mi, se;
  if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
      digits(s + 8, 2, &d) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
      digits(s + 17, 2, &se))
    return -1;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
      mi > 59 || se > 59)
    return -1;
  size_t i = 19;
  int frac = 0, nfrac = 0;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      if (nfrac < 3) {
        frac = frac * 10 + (s[i] - '0');
        nfrac++;
      }
      i++;
    }
    if (i == start || i - start > 9)
      return -1;
    while (nfrac++ < 3)
      frac *= 10;
  }
  int offset_min = 0;
  if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
      return -1;
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return -1;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return -1;
  *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac;
  return 0;
}

/* "KEY=VALUE": the key's length, or 0 when there is no '=' (or no key). */
static size_t key_len(const char *f, size_t fl) {
  const char *eq = memchr(f, '=', fl);
  return eq && eq > f ? (size_t)(eq - f) : 0;
}

static int is_key(const char *f, size_t kl, const char *key) {
  return strlen(key) == kl && memcmp(f, key, kl) == 0;
}

static int parse_count(const char *name, unsigned lineno, const char *key, const char *v,
                       size_t vl, int64_t *out, char *err, size_t errlen) {
  int64_t n = 0;
  for (size_t i = 0; i < vl; i++) {
    if (v[i] < '0' || v[i] > '9' || n > QUOTA_MAX) {
      n = -1;
      break;
    }
    n = n * 10 + (v[i] - '0');
  }
  if (vl == 0 || n < 1 || n > QUOTA_MAX) {
    snprintf(err, errlen, "%s:%u: %s must be a whole number from 1 to %lld", name, lineno, key,
             QUOTA_MAX);
    return -1;
  }
  *out = n;
  return 0;
}

static tenant_entry *add_entry(tenants_table *t, size_t *cap, const line_fields *lf,
                               unsigned lineno) {
  if (t->n_tenants == *cap) {
    *cap = *cap ? *cap * 2 : 8;
    t->tenants = xrealloc(t->tenants, *cap * sizeof *t->tenants);
  }
  tenant_entry *e = &t->tenants[t->n_tenants++];
  memset(e, 0, sizeof *e);
  memcpy(e->name, lf->f[1], lf->fl[1]);
  e->first_line = lineno;
  return e;
}

/* "tenant: NAME [max_running=N] [max_per_day=N]" */
static int parse_tenant_line(tenants_table *t, size_t *cap, const char *name, unsigned lineno,
                             const line_fields *lf, char *err, size_t errlen) {
  tenant_quota q = {0, 0};
  for (int i = 2; i < lf->nf && i < FIELDS_MAX; i++) {
    const char *f = lf->f[i];
    size_t fl = lf->fl[i], kl = key_len(f, fl);
    int64_t *slot = is_key(f, kl, "max_running")   ? &q.max_running
                    : is_key(f, kl, "max_per_day") ? &q.max_per_day
                                                   : NULL;
    if (!slot) {
      snprintf(err, errlen,
               "%s:%u: unknown setting '%.*s' (known: max_running=N, max_per_day=N)", name,
               lineno, (int)(fl > 40 ? 40 : fl), f);
      return -1;
    }
    if (*slot) {
      snprintf(err, errlen, "%s:%u: %.*s is given twice", name, lineno, (int)kl, f);
      return -1;
    }
    char key[16];
    snprintf(key, sizeof key, "%.*s", (int)kl, f);
    if (parse_count(name, lineno, key, f + kl + 1, fl - kl - 1, slot, err, errlen) != 0)
      return -1;
  }
  tenant_entry *e = add_entry(t, cap, lf, lineno);
  e->quota = q;
  e->quota_line = lineno;
  return 0;
}

static int parse_globs(tenant_grant *g, const char *name, unsigned lineno, const char *v,
                       size_t vl, char *err, size_t errlen) {
  const char *p = v, *end = v + vl;
  while (p <= end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma)
      comma = end;
    size_t gl = (size_t)(comma - p);
    if (gl == 0 || gl > GLOB_LEN_MAX) {
      snprintf(err, errlen, "%s:%u: agents: %s (a list of globs: agents=report-*,summarize)",
               name, lineno, gl ? "a glob is longer than 128 characters" : "an empty glob");
      return -1;
    }
    for (size_t i = 0; i < gl; i++)
      if (!glob_char(p[i])) {
        char shown[8];
        show_char(p[i], shown, sizeof shown);
        snprintf(err, errlen, "%s:%u: agents: a glob contains %s", name, lineno, shown);
        return -1;
      }
    if (g->n_globs == GLOBS_MAX) {
      snprintf(err, errlen, "%s:%u: agents: more than %d globs on one line", name, lineno,
               GLOBS_MAX);
      return -1;
    }
    g->globs = xrealloc(g->globs, (g->n_globs + 1) * sizeof *g->globs);
    char *glob = xmalloc(gl + 1);
    memcpy(glob, p, gl);
    glob[gl] = '\0';
    g->globs[g->n_globs++] = glob;
    p = comma + 1;
  }
  return 0;
}

/* "allow: NAME agents=GLOB[,GLOB...] [until=RFC3339]" */
static int parse_allow_line(tenants_table *t, size_t *cap, const char *name, unsigned lineno,
                            const line_fields *lf, char *err, size_t errlen) {
  tenant_grant g;
  memset(&g, 0, sizeof g);
  g.until_ms = INT64_MAX;
  g.line = lineno;
  int have_agents = 0, have_until = 0;
  for (int i = 2; i < lf->nf && i < FIELDS_MAX; i++) {
    const char *f = lf->f[i];
    size_t fl = lf->fl[i], kl = key_len(f, fl);
    const char *v = f + kl + 1;
    size_t vl = kl ? fl - kl - 1 : 0;
    if (is_key(f, kl, "agents")) {
      if (have_agents++) {
        snprintf(err, errlen, "%s:%u: agents is given twice", name, lineno);
        goto fail;
      }
      if (parse_globs(&g, name, lineno, v, vl, err, errlen) != 0)
        goto fail;
    } else if (is_key(f, kl, "until")) {
      if (have_until++) {
        snprintf(err, errlen, "%s:%u: until is given twice", name, lineno);
        goto fail;
      }
      if (parse_rfc3339(v, vl, &g.until_ms) != 0) {
        snprintf(err, errlen,
                 "%s:%u: until '%.*s' is not an RFC 3339 time such as "
                 "2027-01-31T00:00:00Z",
                 name, lineno, (int)(vl > 40 ? 40 : vl), v);
        goto fail;
      }
      snprintf(g.until_text, sizeof g.until_text, "%.*s", (int)vl, v);
    } else {
      snprintf(err, errlen,
               "%s:%u: unknown setting '%.*s' (known: agents=GLOB,..., until=RFC3339)", name,
               lineno, (int)(fl > 40 ? 40 : fl), f);
      goto fail;
    }
  }
  if (!have_agents) {
    snprintf(err, errlen, "%s:%u: an allow: line needs agents=GLOB[,GLOB...]", name, lineno);
    goto fail;
  }
  tenant_entry *e = add_entry(t, cap, lf, lineno);
  e->grants = xmalloc(sizeof *e->grants);
  e->grants[0] = g;
  e->n_grants = 1;
  t->restricted = 1;
  return 0;
fail:
  grant_free(&g);
  return -1;
}

static int parse_directive(tenants_table *t, size_t *cap, const char *name, unsigned lineno,
                           const line_fields *lf, char *err, size_t errlen) {
  int tenant = lf->fl[0] == 7 && memcmp(lf->f[0], "tenant:", 7) == 0;
  int allow = lf->fl[0] == 6 && memcmp(lf->f[0], "allow:", 6) == 0;
  if (!tenant && !allow) {
    snprintf(err, errlen, "%s:%u: unknown directive '%.*s' (known: tenant:, allow:)", name,
             lineno, (int)(lf->fl[0] > 40 ? 40 : lf->fl[0]), lf->f[0]);
    return -1;
  }
  if (lf->nf > FIELDS_MAX) {
    snprintf(err, errlen, "%s:%u: more than %d fields", name, lineno, FIELDS_MAX);
    return -1;
  }
  if (lf->nf < 2 || lf->fl[1] == 0) {
    snprintf(err, errlen, "%s:%u: %s needs a tenant name", name, lineno,
             tenant ? "tenant:" : "allow:");
    return -1;
  }
  if (check_tenant_name(name, lineno, lf->f[1], lf->fl[1], err, errlen) != 0)
    return -1;
  return tenant ? parse_tenant_line(t, cap, name, lineno, lf, err, errlen)
                : parse_allow_line(t, cap, name, lineno, lf, err, errlen);
}

static int by_name_then_line(const void *a, const void *b) {
  const tenant_entry *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->first_line > y->first_line) - (x->first_line < y->first_line);
}

/* One entry per directive becomes one per tenant: sorted by name (n log n
 * however many lines), then merged; a second "tenant:" line of a tenant
 * is an error naming both lines. */
static int merge_entries(tenants_table *t, const char *name, char *err, size_t errlen) {
  if (t->n_tenants == 0)
    return 0;
  qsort(t->tenants, t->n_tenants, sizeof *t->tenants, by_name_then_line);
  size_t out = 0;
  int rc = 0;
  for (size_t i = 0; i < t->n_tenants; i++) {
    tenant_entry *e = &t->tenants[i];
    if (out > 0 && strcmp(t->tenants[out - 1].name, e->name) == 0 && rc == 0) {
      tenant_entry *m = &t->tenants[out - 1];
      if (m->quota_line && e->quota_line) {
        snprintf(err, errlen, "%s:%u: tenant %s already has a tenant: line (line %u)", name,
                 e->quota_line, e->name, m->quota_line);
        rc = -1;
      } else if (e->quota_line) {
        m->quota = e->quota;
        m->quota_line = e->quota_line;
      }
      if (e->n_grants) {
        m->grants = xrealloc(m->grants, (m->n_grants + e->n_grants) * sizeof *m->grants);
        memcpy(m->grants + m->n_grants, e->grants, e->n_grants * sizeof *e->grants);
        m->n_grants += e->n_grants;
      }
      free(e->grants);
      continue;
    }
    if (rc != 0) {
      entry_free(e);
      continue;
    }
    if (out != i)
      t->tenants[out] = *e;
    out++;
  }
  t->n_tenants = out;
  return rc;
}

static const tenant_entry *find_tenant(const tenants_table *t, const char *tenant) {
  if (!t || !tenant || t->n_tenants == 0)
    return NULL;
  size_t lo = 0, hi = t->n_tenants;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(tenant, t->tenants[mid].name);
    if (c == 0)
      return &t->tenants[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

static int by_string(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first tenant with tokens that a restricted file gives no allow:
 * line (it can run nothing), or one with directives but no token. */
static void warn_orphans(const tenants_table *t, const char *name, char *warn, size_t warnlen) {
  if (!warnlen || warn[0])
    return;
  for (size_t i = 0; t->restricted && i < t->n_tokens; i++) {
    const tenant_entry *e = find_tenant(t, t->tokens[i].tenant);
    if (!e || e->n_grants == 0) {
      snprintf(warn, warnlen,
               "%s:%u: tenant %s has no allow: line: it may run nothing (every other "
               "tenant's allow: lines restrict all tenants)",
               name, t->tokens[i].line, t->tokens[i].tenant);
      return;
    }
  }
  /* Sorted token tenants, searched for each directive's tenant: n log n. */
  const char **names = xmalloc((t->n_tokens ? t->n_tokens : 1) * sizeof *names);
  for (size_t i = 0; i < t->n_tokens; i++)
    names[i] = t->tokens[i].tenant;
  qsort(names, t->n_tokens, sizeof *names, by_string);
  for (size_t i = 0; i < t->n_tenants; i++) {
    const char *key = t->tenants[i].name;
    if (!bsearch(&key, names, t->n_tokens, sizeof *names, by_string)) {
      snprintf(warn, warnlen, "%s:%u: tenant %s has no token: nobody can act as it", name,
               t->tenants[i].first_line, t->tenants[i].name);
      break;
    }
  }
  free(names);
}

int tenants_parse(const char *name, const char *text, size_t len, tenants_table **out,
                  char *err, size_t errlen, char *warn, size_t warnlen) {
  *out = NULL;
  if (warnlen)
    warn[0] = '\0';
  tenants_table *t = xcalloc(1, sizeof *t);
  size_t cap = 0, tenants_cap = 0;
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
    int directive = lf.fl[0] > 0 && lf.f[0][lf.fl[0] - 1] == ':';
    if (directive ? parse_directive(t, &tenants_cap, name, lineno, &lf, err, errlen)
                  : parse_token_line(t, &cap, name, lineno, &lf, err, errlen, warn, warnlen))
      goto fail;
  }
  if (merge_entries(t, name, err, errlen) != 0 || find_duplicate(t, name, err, errlen) != 0)
    goto fail;
  if (t->n_tokens == 0) {
    snprintf(err, errlen,
             "%s: no tokens (expected lines of 'TOKEN TENANT'); every request would be "
             "refused",
             name);
    goto fail;
  }
  warn_orphans(t, name, warn, warnlen);
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

size_t tenants_count(const tenants_table *t) { return t ? t->n_tenants : 0; }

tenant_quota tenants_quota(const tenants_table *t, const char *tenant) {
  const tenant_entry *e = find_tenant(t, tenant);
  tenant_quota none = {0, 0};
  return e ? e->quota : none;
}

int tenants_entitled(const tenants_table *t, const char *tenant, const char *agent,
                     int64_t now_ms, char *why, size_t whylen) {
  if (!t || !t->restricted)
    return 0;
  const char *subject = agent ? agent : TENANTS_NO_AGENT;
  const tenant_entry *e = find_tenant(t, tenant);
  const tenant_grant *expired = NULL;
  for (size_t i = 0; e && i < e->n_grants; i++) {
    const tenant_grant *g = &e->grants[i];
    int match = 0;
    for (size_t j = 0; j < g->n_globs && !match; j++)
      match = fnmatch(g->globs[j], subject, 0) == 0;
    if (!match)
      continue;
    if (now_ms < g->until_ms)
      return 0;
    if (!expired || g->until_ms > expired->until_ms)
      expired = g;
  }
  if (expired)
    snprintf(why, whylen, "tenant %s's entitlement to %s%s%s ended at %s", tenant,
             agent ? "agent '" : "requests naming no agent", agent ? agent : "",
             agent ? "'" : "", expired->until_text);
  else
    snprintf(why, whylen, "tenant %s is not entitled to %s%s%s", tenant,
             agent ? "agent '" : "requests naming no agent", agent ? agent : "",
             agent ? "'" : "");
  return EXECD_EPERM;
}
