/* Execution ids (UUIDv7: time-ordered, so string order is creation order)
 * and RFC 3339 timestamps. */
#ifndef EXECD_CORE_IDS_H
#define EXECD_CORE_IDS_H

#include <stdint.h>

#define IDS_UUID_LEN 36
#define IDS_TIME_LEN 24 /* "2026-11-22T13:00:00.123Z" */

/* out: 37 bytes. */
void ids_new_uuid7(char *out);
/* 1 if s is a canonical lower-case UUID string. */
int ids_valid_uuid(const char *s);
/* Wall-clock milliseconds since the epoch. */
int64_t ids_now_ms(void);
/* out: 25 bytes. */
void ids_format_time(int64_t ms, char *out);
/* Parses what ids_format_time writes (and plain RFC 3339 with Z);
 * returns 0 or -1. */
int ids_parse_time(const char *text, int64_t *ms);
/* RFC 3339 UTC with microseconds, "2026-01-02T03:04:05.123456Z", of
 * microseconds since the epoch; out holds IDS_TIME_US_LEN + 1 bytes. */
#define IDS_TIME_US_LEN 27
void ids_format_time_us(int64_t us, char *out);

#endif
