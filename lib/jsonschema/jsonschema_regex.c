/* ECMA-262 style regular expressions ("pattern", "patternProperties",
 * format "regex") on PCRE2: UTF-8 subjects, \uXXXX escapes, "$" only at
 * the end, unanchored search.  Matching is bounded by the match context's
 * limits so a hostile pattern cannot stall a validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

/* ECMA-262 names Unicode properties by their long names too
 * (\p{Letter}, \p{General_Category=Letter}, \p{Script=Greek}); PCRE2
 * knows the short ones and the script names. */
static const char *const categories[][2] = {
    {"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"}, {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"}, {"Mark", "M"}, {"Combining_Mark", "M"}, {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"}, {"Enclosing_Mark", "Me"}, {"Number", "N"}, {"Decimal_Number", "Nd"},
    {"digit", "Nd"}, {"Letter_Number", "Nl"}, {"Other_Number", "No"}, {"Punctuation", "P"},
    {"punct", "P"}, {"Connector_Punctuation", "Pc"}, {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"}, {"Close_Punctuation", "Pe"}, {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"}, {"Other_Punctuation", "Po"}, {"Symbol", "S"},
    {"Math_Symbol", "Sm"}, {"Currency_Symbol", "Sc"}, {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"}, {"Separator", "Z"}, {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"}, {"Paragraph_Separator", "Zp"}, {"Other", "C"}, {"Control", "Cc"},
    {"cntrl", "Cc"}, {"Format", "Cf"}, {"Unassigned", "Cn"}, {"Private_Use", "Co"},
    {"Surrogate", "Cs"}, {NULL, NULL}};

static char *translate(const char *pattern) {
  js_buf out = {0};
  for (const char *p = pattern; *p;) {
    if (p[0] == '\\' && (p[1] == 'p' || p[1] == 'P') && p[2] == '{') {
      const char *end = strchr(p + 3, '}');
      if (end) {
        char *name = js_strndup(p + 3, (size_t)(end - p - 3));
        const char *v = name;
        if (!strncmp(v, "General_Category=", 17)) v += 17;
        else if (!strncmp(v, "gc=", 3)) v += 3;
        else if (!strncmp(v, "Script=", 7)) v += 7;
        else if (!strncmp(v, "sc=", 3)) v += 3;
        else if (!strncmp(v, "Script_Extensions=", 18)) v += 18;
        else if (!strncmp(v, "scx=", 4)) v += 4;
        for (size_t i = 0; categories[i][0]; i++)
          if (!strcmp(v, categories[i][0])) v = categories[i][1];
        js_buf_append(&out, p, 3);
        js_buf_append(&out, v, strlen(v));
        js_buf_append(&out, "}", 1);
        free(name);
        p = end + 1;
        continue;
      }
    }
    size_t n = (p[0] == '\\' && p[1]) ? 2 : 1;
    js_buf_append(&out, p, n);
    p += n;
  }
  if (!out.s) js_buf_append(&out, "", 0);
  return out.s;
}

pcre2_code *js_regex_compile(const char *pattern, char *err, size_t errlen) {
  int code;
  PCRE2_SIZE off;
  char *translated = translate(pattern);
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)translated, PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &code, &off,
                                 NULL);
  free(translated);
  if (!re) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(code, msg, sizeof msg);
    snprintf(err, errlen, "is not a valid regular expression (%s at offset %zu)", (char *)msg,
             (size_t)off);
    return NULL;
  }
  return re;
}

int js_regex_search(const pcre2_code *re, const pcre2_match_context *mctx, const char *s,
                    size_t len) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  if (!md) return -1;
  int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, (pcre2_match_context *)mctx);
  pcre2_match_data_free(md);
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  return -1;
}
