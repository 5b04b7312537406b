/* The "format" checks (RFC 3339 dates and times, RFC 5321 addresses in
 * their common form, RFC 1123 host names, IP addresses, RFC 3986 URIs,
 * RFC 4122 UUIDs, regular expressions).  Strings only; unknown formats
 * pass. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "jsonschema_internal.h"

static int digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i])) return 0;
  return 1;
}

static int num(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
  return v;
}

static int check_date(const char *s, size_t len) {
  if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
      !digits(s + 8, 2))
    return 0;
  int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return 0;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = mdays[m - 1] + (m == 2 && leap);
  return d <= max;
}

/* partial-time time-offset, with the leap second allowed only at 23:59:60 UTC. */
static int check_time(const char *s, size_t len) {
  if (len < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) ||
      !digits(s + 6, 2))
    return 0;
  int h = num(s, 2), mi = num(s + 3, 2), se = num(s + 6, 2);
  if (h > 23 || mi > 59 || se > 60) return 0;
  size_t i = 8;
  if (s[i] == '.') {
    size_t j = ++i;
    while (i < len && isdigit((unsigned char)s[i])) i++;
    if (i == j) return 0;
  }
  if (i >= len) return 0;
  int off_min = 0;
  if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
    off_min = 0;
  } else if ((s[i] == '+' || s[i] == '-') && len - i == 6 && s[i + 3] == ':' &&
             digits(s + i + 1, 2) && digits(s + i + 4, 2)) {
    int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
    if (oh > 23 || om > 59) return 0;
    off_min = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
  } else {
    return 0;
  }
  if (se == 60) {
    int utc = ((h * 60 + mi - off_min) % 1440 + 1440) % 1440;
    if (utc != 23 * 60 + 59) return 0;
  }
  return 1;
}

static int check_date_time(const char *s, size_t len) {
  if (len < 11 || (s[10] != 'T' && s[10] != 't')) return 0;
  return check_date(s, 10) && check_time(s + 11, len - 11);
}

static int check_hostname(const char *s, size_t len) {
  if (len == 0 || len > 253) return 0;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      label = 0;
      continue;
    }
    if (!isalnum((unsigned char)c) && c != '-') return 0;
    if (c == '-' && label == 0) return 0;
    if (++label > 63) return 0;
  }
  if (label == 0 || s[len - 1] == '-') return 0;
  return 1;
}

static int check_ipv4(const char *s, size_t len) {
  int parts = 0;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && isdigit((unsigned char)s[j])) j++;
    if (j == i || j - i > 3 || (j - i > 1 && s[i] == '0') || num(s + i, j - i) > 255) return 0;
    parts++;
    if (j == len) break;
    if (s[j] != '.' || parts == 4) return 0;
    i = j + 1;
    if (i == len) return 0;
  }
  return parts == 4;
}

static int check_ipv6(const char *s, size_t len) {
  char buf[64];
  unsigned char out[16];
  if (len == 0 || len >= sizeof buf || memchr(s, '%', len)) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.') return 0;
  memcpy(buf, s, len);
  buf[len] = '\0';
  return inet_pton(AF_INET6, buf, out) == 1;
}

static int check_email(const char *s, size_t len) {
  const char *at = NULL;
  for (size_t i = 0; i < len; i++)
    if (s[i] == '@') at = s + i;
  if (!at || at == s || at == s + len - 1) return 0;
  size_t local = (size_t)(at - s);
  const char *dom = at + 1;
  size_t dlen = len - local - 1;
  if (s[0] == '"') {
    if (local < 2 || s[local - 1] != '"') return 0;
  } else {
    if (s[0] == '.' || s[local - 1] == '.') return 0;
    for (size_t i = 0; i < local; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '.' && s[i + 1] == '.') return 0;
      if (!isalnum(c) && !strchr("!#$%&'*+-/=?^_`{|}~.", c) && c < 0x80) return 0;
    }
  }
  if (dom[0] == '[') {
    if (dom[dlen - 1] != ']') return 0;
    if (dlen > 7 && !strncmp(dom + 1, "IPv6:", 5)) return check_ipv6(dom + 6, dlen - 7);
    return check_ipv4(dom + 1, dlen - 2);
  }
  return check_hostname(dom, dlen);
}

static int check_uuid(const char *s, size_t len) {
  if (len != 36) return 0;
  for (size_t i = 0; i < len; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return 0;
    } else if (!isxdigit((unsigned char)s[i])) {
      return 0;
    }
  }
  return 1;
}

/* An absolute URI: scheme ":" hier-part, RFC 3986 characters only, valid
 * percent-encodings, no non-ASCII (that is an IRI). */
static int check_uri(const char *s, size_t len) {
  size_t i = 0;
  if (len == 0 || !isalpha((unsigned char)s[0])) return 0;
  while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    i++;
  if (i >= len || s[i] != ':') return 0;
  int in_auth = (i + 2 < len && s[i + 1] == '/' && s[i + 2] == '/');
  size_t auth_start = i + 3;
  for (i++; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
        return 0;
      i += 2;
      continue;
    }
    if (in_auth && i >= auth_start && (c == '/' || c == '?' || c == '#')) in_auth = 0;
    if (in_auth && i >= auth_start && (c == '[' || c == ']')) continue;
    if (!isalnum(c) && !strchr("-._~:/?#@!$&'()*+,;=", c)) return 0;
  }
  return 1;
}

static int check_regex(const char *s, size_t len) {
  char err[200];
  char *copy = js_strndup(s, len);
  pcre2_code *re = js_regex_compile(copy, err, sizeof err);
  free(copy);
  if (!re) return 0;
  pcre2_code_free(re);
  return 1;
}

int jsonschema_format_check(const char *format, const char *s, size_t len) {
  if (!strcmp(format, "date-time")) return check_date_time(s, len);
  if (!strcmp(format, "date")) return check_date(s, len);
  if (!strcmp(format, "time")) return check_time(s, len);
  if (!strcmp(format, "email")) return check_email(s, len);
  if (!strcmp(format, "hostname")) return check_hostname(s, len);
  if (!strcmp(format, "ipv4")) return check_ipv4(s, len);
  if (!strcmp(format, "ipv6")) return check_ipv6(s, len);
  if (!strcmp(format, "uri")) return check_uri(s, len);
  if (!strcmp(format, "uuid")) return check_uuid(s, len);
  if (!strcmp(format, "regex")) return check_regex(s, len);
  return 1;
}
