/* The in-memory index of the file storage: for every live record only the
 * small members lists and lookups need, and where its newest version is in
 * the journal.  Bodies stay on disk, so memory is a few hundred bytes per
 * record.  Red-black trees (libbsd <sys/tree.h>) order the entries by id,
 * by (tenant, id), (state, id), (tenant, state, id), (tenant, agent, id),
 * and by (tenant, idempotency key, created) for the 24 h dedupe. */
#ifndef EXECD_FILE_INDEX_H
#define EXECD_FILE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libbsd's tree.h marks generated functions __unused (a BSD spelling). */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <bsd/sys/tree.h>
#include <jansson.h>

#include "record.h"

typedef struct index_entry index_entry;

struct index_entry {
  RB_ENTRY(index_entry) by_id;
  RB_ENTRY(index_entry) by_tenant;
  RB_ENTRY(index_entry) by_state;
  RB_ENTRY(index_entry) by_tenant_state;
  RB_ENTRY(index_entry) by_tenant_agent; /* only entries with an agent */
  RB_ENTRY(index_entry) by_idem;         /* only entries with a key */
  unsigned refs;  /* the index holds one while linked; queued I/O others */
  bool linked;

  /* Indexed members; all point into strings (one allocation). */
  char *strings;
  const char *id, *tenant, *state, *agent, *idem_key;
  const char *labels; /* "key\0value\0" nlabels times */
  unsigned nlabels;
  bool has_created;
  int64_t created_ms;

  /* The newest version written to the journal (length 0: none yet). */
  uint64_t offset;
  uint32_t length;
  /* The newest version while writes of it are queued or in flight. */
  json_t *pending;
  unsigned pending_writes;
  /* Log bytes were written without fsync: the next update syncs them. */
  bool log_unsynced;
  /* The size of its log file, once known: from the insert (no file yet)
   * or from a batch that appended to it; not for entries read at start. */
  uint64_t log_size;
  bool log_size_known;
};

RB_HEAD(index_by_id, index_entry);
RB_HEAD(index_by_tenant, index_entry);
RB_HEAD(index_by_state, index_entry);
RB_HEAD(index_by_tenant_state, index_entry);
RB_HEAD(index_by_tenant_agent, index_entry);
RB_HEAD(index_by_idem, index_entry);

typedef struct store_index {
  struct index_by_id by_id;
  struct index_by_tenant by_tenant;
  struct index_by_state by_state;
  struct index_by_tenant_state by_tenant_state;
  struct index_by_tenant_agent by_tenant_agent;
  struct index_by_idem by_idem;
  size_t count;
} store_index;

void index_init(store_index *idx);
/* Unlinks every entry and drops the index's references. */
void index_clear(store_index *idx);

/* A new unlinked entry with one reference (the caller's). */
index_entry *index_entry_new(void);
void index_entry_ref(index_entry *e);
void index_entry_unref(index_entry *e);

/* Copies the indexed members from f.  The entry must not be linked (the
 * trees are ordered by them).  Returns 0 or -1 when out of memory. */
int index_entry_set(index_entry *e, const record_fields *f);

/* Link takes a reference, unlink drops it. */
void index_link(store_index *idx, index_entry *e);
void index_unlink(store_index *idx, index_entry *e);

index_entry *index_find(store_index *idx, const char *id);
/* The newest entry of tenant with idempotency key, or NULL. */
index_entry *index_find_idem(store_index *idx, const char *tenant,
                             const char *key);

/* What a list selects; NULL members match everything. */
typedef struct index_filter {
  const char *tenant, *state, *agent, *label_key, *label_value;
  bool has_after, has_before;
  int64_t after_ms;  /* created >= after */
  int64_t before_ms; /* created < before */
} index_filter;

/* Up to limit entries matching f, newest id first, with ids below cursor
 * (all if NULL).  *more tells whether another match exists after them.
 * Walks the narrowest tree the filter allows and tests only indexed
 * members, never bodies. */
size_t index_select(store_index *idx, const index_filter *f,
                    const char *cursor, size_t limit, index_entry **out,
                    bool *more);

/* Calls fn for every linked entry. */
void index_foreach(store_index *idx, void (*fn)(index_entry *e, void *arg),
                   void *arg);

#endif
