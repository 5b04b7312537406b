/* libFuzzer target: the tokens file (core/tenants_file.c), parsed from a
 * buffer by tenants_parse() (what tenants_load() calls once it has read
 * the file).
 * Checked besides memory safety: a file that parses maps the first line's
 * token to that line's tenant, both made only of the characters doc/api.md
 * allows, and a refused file says why. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_support.h"
#include "tenants_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  return 0;
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* doc/api.md: a token is made of letters, digits and -._~+/=; a tenant of
 * letters, digits and -_. (at most 64). */
static int only(const char *s, size_t len, const char *punct) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || (c && strchr(punct, c))))
      return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  tenants_table *t = NULL;
  char err[512] = "", warn[512] = "";
  int rc = tenants_parse("fuzz", text, size, &t, err, sizeof err, warn, sizeof warn);
  if (rc != 0) {
    if (t || !err[0])
      abort();
    return 0;
  }
  if (!t || tenants_token_count(t) == 0)
    abort();
  /* The first line holding something that is not a comment. */
  const char *p = text, *end = text + size;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    const char *c = p;
    while (c < eol && blank(*c))
      c++;
    if (c < eol && *c != '#') {
      const char *tok = c;
      while (c < eol && !blank(*c))
        c++;
      size_t toklen = (size_t)(c - tok);
      while (c < eol && blank(*c))
        c++;
      const char *ten = c;
      while (c < eol && !blank(*c))
        c++;
      if (!only(tok, toklen, "-._~+/=") || !only(ten, (size_t)(c - ten), "-_.") ||
          c - ten > EXECD_TENANT_MAX) {
        fprintf(stderr, "accepted a token or tenant the documentation forbids\n");
        abort();
      }
      const char *found = tenants_lookup(t, tok, toklen);
      if (!found || strlen(found) != (size_t)(c - ten) ||
          memcmp(found, ten, (size_t)(c - ten)) != 0)
        abort();
      break;
    }
    p = eol + 1;
  }
  tenants_free(t);
  return 0;
}
