/* The records the postgres storage writes and reads back: the members it
 * keeps in columns of their own (see <execd/storage.h>), checked before
 * anything is sent, and the decoder of a stored row.  Nothing here talks
 * to the server (the fuzz target links this file alone). */
#ifndef EXECD_PG_ROW_H
#define EXECD_PG_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "record/stored_record.h"

/* Ids: record_id_valid() (lib/record), the file storage's rule too. */
/* Tenant, state, agent, idempotency key: indexed columns (a btree entry
 * holds at most ~2.7 kB). */
#define ROW_KEY_MAX 1024
/* A whole record as stored. */
#define ROW_DOC_MAX (16u << 20)

typedef struct row_fields {
  const char *id; /* borrowed from the record, like every string here */
  const char *tenant;
  const char *state;
  const char *agent;    /* NULL if absent or null */
  const char *idem_key; /* NULL if absent or null */
  bool has_created;
  int64_t created_ms;   /* timestamps.created */
  const json_t *labels; /* object or NULL; only string values are indexed */
  /* several nodes (doc/storage-postgres.md, "Several nodes") */
  const char *backend;  /* NULL if absent or null */
  int priority;         /* "priority", 0 if absent */
  bool has_token;
  int64_t lease_token;  /* "lease": {"token"}: the fence of an update */
  bool has_retry_at;
  int64_t retry_at_ms;  /* "retry_at": when a RETRY_WAIT row is due */
} row_fields;

/* Fills f from rec.  Returns 0, or EXECD_EINVAL with the member at fault
 * in err. */
int row_fields_get(const json_t *rec, row_fields *f, char *err, size_t errlen);
/* The labels whose values are strings, as a JSON object text (malloc'd). */
char *row_labels_json(const row_fields *f);

/* Decodes the stored document of row id (len bytes, not NUL terminated):
 * a JSON object whose members check out as on writing and whose id is
 * the row's.  Returns the record (a new reference), or NULL with why in
 * err. */
json_t *row_decode(const char *id, const char *doc, size_t len, char *err,
                   size_t errlen);

#endif
