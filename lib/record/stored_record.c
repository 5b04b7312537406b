/* See stored_record.h. */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#include "stored_record.h"

bool record_id_valid(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > RECORD_ID_MAX || id[0] == '.')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_' &&
        id[i] != '.')
      return false;
  return true;
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i]))
      return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int record_parse_time(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, frac_ms = 0;
  const char *p = s;
  if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
      *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
      digits(&p, 2, &sec))
    return -1;
  if (*p == '.') {
    p++;
    int scale = 100, any = 0;
    while (isdigit((unsigned char)*p)) {
      frac_ms += (*p - '0') * scale;
      scale /= 10;
      p++;
      any = 1;
    }
    if (!any)
      return -1;
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om))
      return -1;
    offset_min = sign * (oh * 60 + om);
  } else {
    return -1;
  }
  if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60)
    return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  time_t t = timegm(&tm);
  *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
  return 0;
}
