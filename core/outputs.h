/* Collecting what a job left in <workspace>/output after it exited
 * (doc/architecture.md, "The job's I/O contract" and "Results").
 * Blocking file I/O: run in the thread pool. */
#ifndef EXECD_CORE_OUTPUTS_H
#define EXECD_CORE_OUTPUTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "json_bounds.h"

/* Returns a new object:
 *   {"output": result.json's document or null,
 *    "output_files": [{"name","size","sha256","content","encoding"}...],
 *    "error": null | {"code": "output_invalid"|"output_too_large", "message"}}
 * result.json must be within max_bytes and the JSON bounds b (deeper:
 * output_invalid; more values: output_too_large).
 * Files match the globs (fnmatch, relative to output/); symlinks and
 * special files are never read.  Contents are included while their total
 * stays within max_bytes; the rest are listed with "truncated": true. */
json_t *outputs_collect(const char *workspace, const json_t *globs, int64_t max_bytes,
                        const json_bounds *b);

/* The io:"json" envelope: the last stdout line that is a JSON object with
 * a boolean "ok", within the JSON bounds b.  Returns a new reference, or
 * NULL; then why (if not NULL) holds the reason when the line was out of
 * bounds, else "". */
json_t *outputs_parse_envelope(const char *stdout_text, size_t len, const json_bounds *b,
                               char *why, size_t whylen);

#endif
