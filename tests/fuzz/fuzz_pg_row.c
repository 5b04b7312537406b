/* libFuzzer target: the postgres storage's decoder of a stored row
 * (plugins/storage/postgres/row.c), what a get or a list reads back from
 * the database.  The input is the row's id column, a newline, then its doc
 * column (any bytes, NULs included: libpq hands text over with a length).
 * Checked besides memory safety: a decoded record has the row's id and is
 * written back as a row that decodes to an equal record. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  if (!nl)
    return 0;
  size_t id_len = (size_t)(nl - data);
  char *id = malloc(id_len + 1);
  if (!id)
    return 0;
  memcpy(id, data, id_len);
  id[id_len] = '\0';
  const char *doc = (const char *)nl + 1;
  size_t doc_len = size - id_len - 1;
  char err[512];
  json_t *rec = row_decode(id, doc, doc_len, err, sizeof err);
  if (!rec) {
    if (!err[0] || !memchr(err, '\0', sizeof err))
      abort(); /* a refusal says why */
    free(id);
    return 0;
  }
  row_fields f;
  char why[256];
  if (row_fields_get(rec, &f, why, sizeof why) != 0 || strcmp(f.id, id) != 0)
    abort();
  char *labels = row_labels_json(&f);
  json_t *parsed = labels ? json_loads(labels, 0, NULL) : NULL;
  if (labels && !json_is_object(parsed))
    abort();
  json_decref(parsed);
  free(labels);
  char *again = json_dumps(rec, JSON_COMPACT);
  if (again) {
    json_t *back = row_decode(id, again, strlen(again), err, sizeof err);
    if (!back || !json_equal(back, rec))
      abort();
    json_decref(back);
    free(again);
  }
  json_decref(rec);
  free(id);
  return 0;
}
