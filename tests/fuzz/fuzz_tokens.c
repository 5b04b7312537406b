/* libFuzzer target: the tokens file (core/tenants_file.c), parsed from a
 * buffer by tenants_parse() (what tenants_load() calls once it has read
 * the file).
 * Checked besides memory safety: a file that parses maps the first token
 * line's token to that line's tenant, both made only of the characters
 * doc/api.md allows; the entitlements answer for every tenant and agent
 * named in the file, at a few instants, consistently (a grant that holds
 * later held earlier); and a refused file says why. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

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
  /* The first line holding something that is neither a comment nor a
   * directive (its first field ends with ':'). */
  const char *p = text, *end = text + size;
  int checked = 0;
  while (p < end && !checked) {
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
      if (tok[toklen - 1] == ':') {
        /* A directive: its tenant's entitlements answer, and time only
         * takes grants away. */
        char name[EXECD_TENANT_MAX + 1], why[512];
        snprintf(name, sizeof name, "%.*s", (int)(c - ten), ten);
        static const char *const agents[] = {"report-daily", "-", "a", "", NULL};
        for (int i = 0; agents[i]; i++) {
          const char *agent = i == 1 ? NULL : agents[i];
          int early = tenants_entitled(t, name, agent, 0, why, sizeof why);
          int late = tenants_entitled(t, name, agent, INT64_MAX - 1, why, sizeof why);
          if (early != 0 && late == 0) {
            fprintf(stderr, "an entitlement appeared with time\n");
            abort();
          }
          if ((early != 0 && !why[0]) || (early != 0 && early != EXECD_EPERM))
            abort();
        }
        (void)tenants_quota(t, name);
        p = eol + 1;
        continue;
      }
      if (!only(tok, toklen, "-._~+/=") || !only(ten, (size_t)(c - ten), "-_.") ||
          c - ten > EXECD_TENANT_MAX) {
        fprintf(stderr, "accepted a token or tenant the documentation forbids\n");
        abort();
      }
      const char *found = tenants_lookup(t, tok, toklen);
      if (!found || strlen(found) != (size_t)(c - ten) ||
          memcmp(found, ten, (size_t)(c - ten)) != 0)
        abort();
      checked = 1;
    }
    p = eol + 1;
  }
  tenants_free(t);
  return 0;
}
