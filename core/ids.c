#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ids.h"

int64_t ids_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 9562 UUIDv7: 48-bit ms timestamp, version 7, 12 bits of a counter
 * (so ids made in the same ms on this node still sort in creation order),
 * variant, 62 random bits. */
void ids_new_uuid7(char *out) {
  static int64_t last_ms;
  static uint16_t counter;
  uint8_t b[16];
  int64_t ms = ids_now_ms();
  if (ms <= last_ms) {
    ms = last_ms;
    if (++counter > 0x0fff) { /* counter exhausted: borrow the next ms */
      ms = ++last_ms;
      counter = 0;
    }
  } else {
    last_ms = ms;
    counter = 0;
  }
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    /* getrandom on Linux does not fail for 16 bytes after boot; keep
     * the id unique anyway through time and counter. */
    memset(b, 0, sizeof b);
  }
  for (int i = 0; i < 6; i++)
    b[i] = (uint8_t)(ms >> (40 - 8 * i));
  b[6] = (uint8_t)(0x70 | ((counter >> 8) & 0x0f));
  b[7] = (uint8_t)(counter & 0xff);
  b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
  snprintf(out, IDS_UUID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
}

int ids_valid_uuid(const char *s) {
  if (!s || strlen(s) != IDS_UUID_LEN)
    return 0;
  for (int i = 0; i < IDS_UUID_LEN; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return 0;
    }
  }
  return 1;
}

void ids_format_time(int64_t ms, char *out) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64]; /* wide enough for any int the compiler can imagine */
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  memcpy(out, buf, IDS_TIME_LEN);
  out[IDS_TIME_LEN] = '\0';
}

void ids_format_time_us(int64_t us, char *out) {
  if (us < 0)
    us = 0;
  time_t secs = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[80];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
  memcpy(out, buf, IDS_TIME_US_LEN);
  out[IDS_TIME_US_LEN] = '\0';
}

int ids_parse_time(const char *text, int64_t *ms) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  int frac = 0, n = 0;
  if (!text)
    return -1;
  if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
             &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
    return -1;
  const char *p = text + n;
  if (*p == '.') {
    int digits = 0;
    p++;
    while (*p >= '0' && *p <= '9') {
      if (digits < 3) {
        frac = frac * 10 + (*p - '0');
        digits++;
      }
      p++;
    }
    while (digits++ < 3)
      frac *= 10;
  }
  if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return -1;
  *ms = (int64_t)t * 1000 + frac;
  return 0;
}
