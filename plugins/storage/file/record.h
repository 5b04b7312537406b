/* The members of a stored execution record that the file storage indexes
 * (see <execd/storage.h>), read out of the JSON document. */
#ifndef EXECD_FILE_RECORD_H
#define EXECD_FILE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "record/stored_record.h"

typedef struct record_fields {
  const char *id;       /* borrowed from the record, like every string here */
  const char *tenant;
  const char *state;
  const char *agent;    /* NULL if absent or null */
  const char *idem_key; /* NULL if absent or null */
  bool has_created;
  int64_t created_ms;   /* timestamps.created, ms since the epoch */
  const json_t *labels; /* object, or NULL; only string values are indexed */
} record_fields;

/* Fills f from rec.  Returns 0, or EXECD_EINVAL with the member at fault
 * described in err. */
int record_fields_get(const json_t *rec, record_fields *f, char *err,
                      size_t errlen);

/* The payload of a journal PUT: one line of JSON holding only the indexed
 * members (so that loading the journal parses little), a newline, and the
 * whole record as compact JSON.  Returns a malloc'd text, or NULL if out of
 * memory. */
char *record_payload(const json_t *rec, const record_fields *f, size_t *len);
/* Splits a PUT payload: the index line is payload[0, *meta_len), the
 * record starts at *body.  Returns 0, or -1 if it has no such shape. */
int record_payload_split(const char *payload, size_t len, size_t *meta_len,
                         const char **body, size_t *body_len);

#endif
