/* What the storage plugins agree on about a stored execution record's
 * keys: the rule for ids and the parser of its RFC 3339 times.  One rule
 * for all of them, so that records move between storages. */
#ifndef EXECD_LIB_STORED_RECORD_H
#define EXECD_LIB_STORED_RECORD_H

#include <stdbool.h>
#include <stdint.h>

/* Longest id accepted.  Ids name files (the file storage's logs), so they
 * are also restricted to [A-Za-z0-9._-] and may not start with a dot. */
#define RECORD_ID_MAX 64

/* Whether id is 1-RECORD_ID_MAX characters of [A-Za-z0-9._-], not
 * starting with a dot. */
bool record_id_valid(const char *id);

/* RFC 3339 date-time ("2026-01-02T03:04:05.678Z", "+02:00" offsets) to ms
 * since the epoch.  Returns 0, or -1 if s is not one (NULL included). */
int record_parse_time(const char *s, int64_t *ms);

#endif
