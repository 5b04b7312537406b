/* URI references (RFC 3986 section 5) and JSON Pointers (RFC 6901). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

void js_buf_append(js_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->s = js_realloc(b->s, b->cap);
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void js_buf_push_token(js_buf *b, const char *token) {
  js_buf_append(b, "/", 1);
  for (const char *p = token; *p; p++) {
    if (*p == '~') js_buf_append(b, "~0", 2);
    else if (*p == '/') js_buf_append(b, "~1", 2);
    else js_buf_append(b, p, 1);
  }
}

void js_buf_push_index(js_buf *b, size_t i) {
  char n[32];
  snprintf(n, sizeof n, "%zu", i);
  js_buf_push_token(b, n);
}

void js_buf_truncate(js_buf *b, size_t len) {
  if (b->s && len <= b->len) b->s[b->len = len] = '\0';
}

typedef struct {
  const char *scheme, *auth, *path, *query, *frag;
  size_t scheme_n, auth_n, path_n, query_n, frag_n;
  int has_scheme, has_auth, has_query, has_frag;
} uri_parts;

static void uri_parse(const char *u, uri_parts *p) {
  memset(p, 0, sizeof *p);
  const char *s = u;
  const char *c = s;
  while (*c && *c != ':' && *c != '/' && *c != '?' && *c != '#') c++;
  if (*c == ':' && c > s) {
    p->has_scheme = 1;
    p->scheme = s;
    p->scheme_n = (size_t)(c - s);
    s = c + 1;
  }
  if (s[0] == '/' && s[1] == '/') {
    p->has_auth = 1;
    p->auth = s + 2;
    const char *e = p->auth;
    while (*e && *e != '/' && *e != '?' && *e != '#') e++;
    p->auth_n = (size_t)(e - p->auth);
    s = e;
  }
  p->path = s;
  const char *e = s;
  while (*e && *e != '?' && *e != '#') e++;
  p->path_n = (size_t)(e - s);
  s = e;
  if (*s == '?') {
    p->has_query = 1;
    p->query = s + 1;
    e = p->query;
    while (*e && *e != '#') e++;
    p->query_n = (size_t)(e - p->query);
    s = e;
  }
  if (*s == '#') {
    p->has_frag = 1;
    p->frag = s + 1;
    p->frag_n = strlen(p->frag);
  }
}

/* RFC 3986 5.2.4: removes "." and ".." segments. */
static char *remove_dots(const char *in, size_t n) {
  char *out = js_malloc(n + 1);
  size_t o = 0;
  size_t i = 0;
  while (i < n) {
    const char *r = in + i;
    size_t left = n - i;
    if (left >= 3 && !strncmp(r, "../", 3)) i += 3;
    else if (left >= 2 && !strncmp(r, "./", 2)) i += 2;
    else if (left >= 3 && !strncmp(r, "/./", 3)) i += 2;
    else if (left == 2 && !strncmp(r, "/.", 2)) { i += 1; ((char *)in)[i] = '/'; }
    else if ((left >= 4 && !strncmp(r, "/../", 4)) || (left == 3 && !strncmp(r, "/..", 3))) {
      if (left == 3) { i += 2; ((char *)in)[i] = '/'; } else i += 3;
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
    } else if ((left == 1 && r[0] == '.') || (left == 2 && !strncmp(r, "..", 2))) {
      i = n;
    } else {
      size_t j = (r[0] == '/') ? 1 : 0;
      while (j < left && r[j] != '/') j++;
      memcpy(out + o, r, j);
      o += j;
      i += j;
    }
  }
  out[o] = '\0';
  return out;
}

static char *dots_of(const char *s, size_t n) {
  char *copy = js_strndup(s, n); /* remove_dots rewrites a byte in place */
  char *r = remove_dots(copy, n);
  free(copy);
  return r;
}

char *js_uri_resolve(const char *base, const char *ref) {
  uri_parts b, r;
  uri_parse(base, &b);
  uri_parse(ref, &r);
  js_buf out = {0};
  char *path = NULL;
  const char *query = NULL;
  size_t query_n = 0;
  int has_query = 0;
  const char *auth = NULL;
  size_t auth_n = 0;
  int has_auth = 0;
  const char *scheme = b.scheme;
  size_t scheme_n = b.scheme_n;
  int has_scheme = b.has_scheme;
  if (r.has_scheme) {
    scheme = r.scheme, scheme_n = r.scheme_n, has_scheme = 1;
    has_auth = r.has_auth, auth = r.auth, auth_n = r.auth_n;
    path = dots_of(r.path, r.path_n);
    has_query = r.has_query, query = r.query, query_n = r.query_n;
  } else if (r.has_auth) {
    has_auth = 1, auth = r.auth, auth_n = r.auth_n;
    path = dots_of(r.path, r.path_n);
    has_query = r.has_query, query = r.query, query_n = r.query_n;
  } else {
    has_auth = b.has_auth, auth = b.auth, auth_n = b.auth_n;
    if (r.path_n == 0) {
      path = js_strndup(b.path, b.path_n);
      if (r.has_query) has_query = 1, query = r.query, query_n = r.query_n;
      else has_query = b.has_query, query = b.query, query_n = b.query_n;
    } else {
      if (r.path[0] == '/') {
        path = dots_of(r.path, r.path_n);
      } else {
        js_buf m = {0};
        if (b.has_auth && b.path_n == 0) {
          js_buf_append(&m, "/", 1);
        } else {
          size_t keep = b.path_n;
          while (keep > 0 && b.path[keep - 1] != '/') keep--;
          js_buf_append(&m, b.path, keep);
        }
        js_buf_append(&m, r.path, r.path_n);
        path = dots_of(m.s, m.len);
        free(m.s);
      }
      has_query = r.has_query, query = r.query, query_n = r.query_n;
    }
  }
  if (has_scheme) {
    js_buf_append(&out, scheme, scheme_n);
    js_buf_append(&out, ":", 1);
  }
  if (has_auth) {
    js_buf_append(&out, "//", 2);
    js_buf_append(&out, auth, auth_n);
  }
  js_buf_append(&out, path, strlen(path));
  free(path);
  if (has_query) {
    js_buf_append(&out, "?", 1);
    js_buf_append(&out, query, query_n);
  }
  if (r.has_frag) {
    js_buf_append(&out, "#", 1);
    js_buf_append(&out, r.frag, r.frag_n);
  }
  if (!out.s) js_buf_append(&out, "", 0);
  return out.s;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void js_uri_split(const char *uri, char **abs, char **frag) {
  const char *h = strchr(uri, '#');
  if (!h) {
    *abs = js_strdup(uri);
    *frag = NULL;
    return;
  }
  *abs = js_strndup(uri, (size_t)(h - uri));
  const char *f = h + 1;
  char *d = js_malloc(strlen(f) + 1);
  size_t o = 0;
  for (size_t i = 0; f[i]; i++) {
    if (f[i] == '%' && hexval(f[i + 1]) >= 0 && hexval(f[i + 2]) >= 0) {
      d[o++] = (char)(hexval(f[i + 1]) * 16 + hexval(f[i + 2]));
      i += 2;
    } else {
      d[o++] = f[i];
    }
  }
  d[o] = '\0';
  *frag = d;
}
