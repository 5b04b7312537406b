/* Sizes ("512M", "1GiB", 1024) and durations ("30s", "5m", "250ms").
 * The one place execd parses them: config, requests and plugins' SIZE and
 * DURATION keys all come through here. */
#ifndef EXECD_CORE_UNITS_H
#define EXECD_CORE_UNITS_H

#include <stdint.h>

#include <jansson.h>

/* Binary multiples: k/K = 1024, M, G, T; an optional "i" and/or "B"
 * suffix ("512MiB", "512MB", "512m") means the same.  Returns 0 or
 * EXECD_EINVAL (negative, empty, overflow, unknown suffix). */
int units_parse_size(const char *text, int64_t *bytes);
/* ms, s, m, h, d; a bare number is seconds; "1.5s" is allowed.
 * Returns 0 or EXECD_EINVAL. */
int units_parse_duration_ms(const char *text, int64_t *ms);

/* The same for a JSON value: a string as above, or a non-negative
 * number (bytes; seconds for durations). */
int units_json_size(const json_t *v, int64_t *bytes);
int units_json_duration_ms(const json_t *v, int64_t *ms);

/* "512M"-style text for messages; out must hold 32 bytes. */
void units_format_size(int64_t bytes, char *out, unsigned outlen);

#endif
