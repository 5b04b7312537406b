#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <execd/error.h>

#include "units.h"

/* Parses a non-negative decimal (with optional fraction) and returns the
 * rest of the string in *rest. */
static int parse_number(const char *text, double *value, const char **rest) {
  while (isspace((unsigned char)*text))
    text++;
  if (!isdigit((unsigned char)*text) && *text != '.')
    return EXECD_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || !isfinite(v) || v < 0)
    return EXECD_EINVAL;
  while (isspace((unsigned char)*end))
    end++;
  *value = v;
  *rest = end;
  return 0;
}

int units_parse_size(const char *text, int64_t *bytes) {
  double v;
  const char *s;
  if (!text || parse_number(text, &v, &s) != 0)
    return EXECD_EINVAL;
  double mult = 1;
  switch (tolower((unsigned char)*s)) {
  case '\0': break;
  case 'b': if (s[1]) return EXECD_EINVAL; break;
  case 'k': mult = 1024.0; s++; break;
  case 'm': mult = 1024.0 * 1024; s++; break;
  case 'g': mult = 1024.0 * 1024 * 1024; s++; break;
  case 't': mult = 1024.0 * 1024 * 1024 * 1024; s++; break;
  default: return EXECD_EINVAL;
  }
  if (mult > 1) {
    if (*s == 'i' || *s == 'I')
      s++;
    if (*s == 'b' || *s == 'B')
      s++;
    if (*s)
      return EXECD_EINVAL;
  }
  double r = v * mult;
  if (r >= 9.2e18)
    return EXECD_EINVAL;
  *bytes = (int64_t)r;
  return 0;
}

int units_parse_duration_ms(const char *text, int64_t *ms) {
  double v;
  const char *s;
  if (!text || parse_number(text, &v, &s) != 0)
    return EXECD_EINVAL;
  double mult;
  if (*s == '\0' || strcmp(s, "s") == 0 || strcasecmp(s, "sec") == 0)
    mult = 1000;
  else if (strcmp(s, "ms") == 0)
    mult = 1;
  else if (strcmp(s, "m") == 0 || strcasecmp(s, "min") == 0)
    mult = 60e3;
  else if (strcmp(s, "h") == 0)
    mult = 3600e3;
  else if (strcmp(s, "d") == 0)
    mult = 86400e3;
  else
    return EXECD_EINVAL;
  double r = v * mult;
  if (r >= 9.2e18)
    return EXECD_EINVAL;
  *ms = (int64_t)llround(r);
  return 0;
}

int units_json_size(const json_t *v, int64_t *bytes) {
  if (json_is_string(v))
    return units_parse_size(json_string_value(v), bytes);
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *bytes = json_integer_value(v);
    return 0;
  }
  if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9.2e18) {
    *bytes = (int64_t)json_real_value(v);
    return 0;
  }
  return EXECD_EINVAL;
}

int units_json_duration_ms(const json_t *v, int64_t *ms) {
  if (json_is_string(v))
    return units_parse_duration_ms(json_string_value(v), ms);
  if (json_is_number(v) && json_number_value(v) >= 0 &&
      json_number_value(v) < 9.2e15) {
    *ms = (int64_t)llround(json_number_value(v) * 1000.0);
    return 0;
  }
  return EXECD_EINVAL;
}

void units_format_size(int64_t bytes, char *out, unsigned outlen) {
  static const char suffix[] = "KMGT";
  if (bytes < 1024 || bytes % 1024) {
    snprintf(out, outlen, "%lld", (long long)bytes);
    return;
  }
  int i = -1;
  while (bytes >= 1024 && bytes % 1024 == 0 && i < 3) {
    bytes /= 1024;
    i++;
  }
  snprintf(out, outlen, "%lld%c", (long long)bytes, suffix[i]);
}
