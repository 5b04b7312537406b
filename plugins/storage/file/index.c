/* See index.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "index.h"

/* A NULL id sorts after every id: search keys use it to find the end of a
 * (tenant, state, ...) group. */
static int cmp_id(const char *a, const char *b) {
  if (!a || !b)
    return (a == b) ? 0 : (a ? -1 : 1);
  return strcmp(a, b);
}

static int cmp_by_id(const index_entry *a, const index_entry *b) {
  return cmp_id(a->id, b->id);
}

static int cmp_by_tenant(const index_entry *a, const index_entry *b) {
  int c = strcmp(a->tenant, b->tenant);
  return c ? c : cmp_id(a->id, b->id);
}

static int cmp_by_state(const index_entry *a, const index_entry *b) {
  int c = strcmp(a->state, b->state);
  return c ? c : cmp_id(a->id, b->id);
}

static int cmp_by_tenant_state(const index_entry *a, const index_entry *b) {
  int c = strcmp(a->tenant, b->tenant);
  if (!c)
    c = strcmp(a->state, b->state);
  return c ? c : cmp_id(a->id, b->id);
}

static int cmp_by_tenant_agent(const index_entry *a, const index_entry *b) {
  int c = strcmp(a->tenant, b->tenant);
  if (!c)
    c = strcmp(a->agent, b->agent);
  return c ? c : cmp_id(a->id, b->id);
}

static int cmp_by_idem(const index_entry *a, const index_entry *b) {
  int c = strcmp(a->tenant, b->tenant);
  if (!c)
    c = strcmp(a->idem_key, b->idem_key);
  if (!c && a->created_ms != b->created_ms)
    c = a->created_ms < b->created_ms ? -1 : 1;
  return c ? c : cmp_id(a->id, b->id);
}

RB_GENERATE_STATIC(index_by_id, index_entry, by_id, cmp_by_id)
RB_GENERATE_STATIC(index_by_tenant, index_entry, by_tenant, cmp_by_tenant)
RB_GENERATE_STATIC(index_by_state, index_entry, by_state, cmp_by_state)
RB_GENERATE_STATIC(index_by_tenant_state, index_entry, by_tenant_state,
                   cmp_by_tenant_state)
RB_GENERATE_STATIC(index_by_tenant_agent, index_entry, by_tenant_agent,
                   cmp_by_tenant_agent)
RB_GENERATE_STATIC(index_by_idem, index_entry, by_idem, cmp_by_idem)

void index_init(store_index *idx) {
  RB_INIT(&idx->by_id);
  RB_INIT(&idx->by_tenant);
  RB_INIT(&idx->by_state);
  RB_INIT(&idx->by_tenant_state);
  RB_INIT(&idx->by_tenant_agent);
  RB_INIT(&idx->by_idem);
  idx->count = 0;
}

void index_clear(store_index *idx) {
  index_entry *e;
  while ((e = RB_MIN(index_by_id, &idx->by_id)) != NULL)
    index_unlink(idx, e);
}

index_entry *index_entry_new(void) {
  index_entry *e = calloc(1, sizeof *e);
  if (e)
    e->refs = 1;
  return e;
}

void index_entry_ref(index_entry *e) { e->refs++; }

void index_entry_unref(index_entry *e) {
  if (!e || --e->refs > 0)
    return;
  json_decref(e->pending);
  free(e->strings);
  free(e);
}

/* Appends s (with its NUL) at *p. */
static const char *put_string(char **p, const char *s) {
  size_t n = strlen(s) + 1;
  memcpy(*p, s, n);
  const char *at = *p;
  *p += n;
  return at;
}

int index_entry_set(index_entry *e, const record_fields *f) {
  size_t size = strlen(f->id) + strlen(f->tenant) + strlen(f->state) + 3;
  if (f->agent)
    size += strlen(f->agent) + 1;
  if (f->idem_key)
    size += strlen(f->idem_key) + 1;
  const char *key;
  json_t *value;
  unsigned nlabels = 0;
  if (f->labels) {
    json_object_foreach((json_t *)f->labels, key, value) {
      if (!json_is_string(value))
        continue;
      size += strlen(key) + strlen(json_string_value(value)) + 2;
      nlabels++;
    }
  }
  char *strings = malloc(size);
  if (!strings)
    return -1;
  char *p = strings;
  free(e->strings);
  e->strings = strings;
  e->id = put_string(&p, f->id);
  e->tenant = put_string(&p, f->tenant);
  e->state = put_string(&p, f->state);
  e->agent = f->agent ? put_string(&p, f->agent) : NULL;
  e->idem_key = f->idem_key ? put_string(&p, f->idem_key) : NULL;
  e->labels = p;
  e->nlabels = nlabels;
  if (f->labels) {
    json_object_foreach((json_t *)f->labels, key, value) {
      if (!json_is_string(value))
        continue;
      put_string(&p, key);
      put_string(&p, json_string_value(value));
    }
  }
  e->has_created = f->has_created;
  e->created_ms = f->created_ms;
  return 0;
}

void index_link(store_index *idx, index_entry *e) {
  RB_INSERT(index_by_id, &idx->by_id, e);
  RB_INSERT(index_by_tenant, &idx->by_tenant, e);
  RB_INSERT(index_by_state, &idx->by_state, e);
  RB_INSERT(index_by_tenant_state, &idx->by_tenant_state, e);
  if (e->agent)
    RB_INSERT(index_by_tenant_agent, &idx->by_tenant_agent, e);
  if (e->idem_key)
    RB_INSERT(index_by_idem, &idx->by_idem, e);
  e->linked = true;
  e->refs++;
  idx->count++;
}

void index_unlink(store_index *idx, index_entry *e) {
  if (!e->linked)
    return;
  RB_REMOVE(index_by_id, &idx->by_id, e);
  RB_REMOVE(index_by_tenant, &idx->by_tenant, e);
  RB_REMOVE(index_by_state, &idx->by_state, e);
  RB_REMOVE(index_by_tenant_state, &idx->by_tenant_state, e);
  if (e->agent)
    RB_REMOVE(index_by_tenant_agent, &idx->by_tenant_agent, e);
  if (e->idem_key)
    RB_REMOVE(index_by_idem, &idx->by_idem, e);
  e->linked = false;
  idx->count--;
  index_entry_unref(e);
}

index_entry *index_find(store_index *idx, const char *id) {
  index_entry key = {.id = id};
  return RB_FIND(index_by_id, &idx->by_id, &key);
}

index_entry *index_find_idem(store_index *idx, const char *tenant,
                             const char *key) {
  index_entry k = {.tenant = tenant, .idem_key = key, .created_ms = INT64_MAX};
  index_entry *e = RB_NFIND(index_by_idem, &idx->by_idem, &k);
  e = e ? RB_PREV(index_by_idem, &idx->by_idem, e)
        : RB_MAX(index_by_idem, &idx->by_idem);
  if (e && strcmp(e->tenant, tenant) == 0 && strcmp(e->idem_key, key) == 0)
    return e;
  return NULL;
}

static bool has_label(const index_entry *e, const char *key, const char *value) {
  const char *p = e->labels;
  for (unsigned i = 0; i < e->nlabels; i++) {
    const char *k = p;
    const char *v = k + strlen(k) + 1;
    if (strcmp(k, key) == 0)
      return !value || strcmp(v, value) == 0;
    p = v + strlen(v) + 1;
  }
  return false;
}

static bool matches(const index_entry *e, const index_filter *f) {
  if (f->tenant && strcmp(e->tenant, f->tenant) != 0)
    return false;
  if (f->state && strcmp(e->state, f->state) != 0)
    return false;
  if (f->agent && (!e->agent || strcmp(e->agent, f->agent) != 0))
    return false;
  if (f->label_key && !has_label(e, f->label_key, f->label_value))
    return false;
  if (f->has_after && (!e->has_created || e->created_ms < f->after_ms))
    return false;
  if (f->has_before && (!e->has_created || e->created_ms >= f->before_ms))
    return false;
  return true;
}

/* Which tree a filter walks: the one whose key prefix it fixes most. */
enum walk { WALK_ID, WALK_TENANT, WALK_STATE, WALK_TENANT_STATE, WALK_TENANT_AGENT };

/* The greatest entry below key in the chosen tree (key's NULL id stands
 * for "above every id"), then the next ones going down. */
static index_entry *walk_start(store_index *idx, enum walk w, index_entry *key) {
  index_entry *e;
  switch (w) {
  case WALK_TENANT:
    e = RB_NFIND(index_by_tenant, &idx->by_tenant, key);
    return e ? RB_PREV(index_by_tenant, &idx->by_tenant, e)
             : RB_MAX(index_by_tenant, &idx->by_tenant);
  case WALK_STATE:
    e = RB_NFIND(index_by_state, &idx->by_state, key);
    return e ? RB_PREV(index_by_state, &idx->by_state, e)
             : RB_MAX(index_by_state, &idx->by_state);
  case WALK_TENANT_STATE:
    e = RB_NFIND(index_by_tenant_state, &idx->by_tenant_state, key);
    return e ? RB_PREV(index_by_tenant_state, &idx->by_tenant_state, e)
             : RB_MAX(index_by_tenant_state, &idx->by_tenant_state);
  case WALK_TENANT_AGENT:
    e = RB_NFIND(index_by_tenant_agent, &idx->by_tenant_agent, key);
    return e ? RB_PREV(index_by_tenant_agent, &idx->by_tenant_agent, e)
             : RB_MAX(index_by_tenant_agent, &idx->by_tenant_agent);
  case WALK_ID:
  default:
    e = RB_NFIND(index_by_id, &idx->by_id, key);
    return e ? RB_PREV(index_by_id, &idx->by_id, e)
             : RB_MAX(index_by_id, &idx->by_id);
  }
}

static index_entry *walk_next(store_index *idx, enum walk w, index_entry *e) {
  (void)idx;
  switch (w) {
  case WALK_TENANT: return RB_PREV(index_by_tenant, &idx->by_tenant, e);
  case WALK_STATE: return RB_PREV(index_by_state, &idx->by_state, e);
  case WALK_TENANT_STATE:
    return RB_PREV(index_by_tenant_state, &idx->by_tenant_state, e);
  case WALK_TENANT_AGENT:
    return RB_PREV(index_by_tenant_agent, &idx->by_tenant_agent, e);
  case WALK_ID:
  default: return RB_PREV(index_by_id, &idx->by_id, e);
  }
}

/* Still inside the key prefix the walk started in? */
static bool in_group(enum walk w, const index_entry *e, const index_filter *f) {
  switch (w) {
  case WALK_TENANT: return strcmp(e->tenant, f->tenant) == 0;
  case WALK_STATE: return strcmp(e->state, f->state) == 0;
  case WALK_TENANT_STATE:
    return strcmp(e->tenant, f->tenant) == 0 && strcmp(e->state, f->state) == 0;
  case WALK_TENANT_AGENT:
    return strcmp(e->tenant, f->tenant) == 0 && strcmp(e->agent, f->agent) == 0;
  case WALK_ID:
  default: return true;
  }
}

size_t index_select(store_index *idx, const index_filter *f,
                    const char *cursor, size_t limit, index_entry **out,
                    bool *more) {
  enum walk w = WALK_ID;
  if (f->tenant && f->state)
    w = WALK_TENANT_STATE;
  else if (f->tenant && f->agent)
    w = WALK_TENANT_AGENT;
  else if (f->tenant)
    w = WALK_TENANT;
  else if (f->state)
    w = WALK_STATE;
  index_entry key = {.id = cursor, .tenant = f->tenant, .state = f->state,
                     .agent = f->agent};
  size_t n = 0;
  *more = false;
  for (index_entry *e = walk_start(idx, w, &key); e && in_group(w, e, f);
       e = walk_next(idx, w, e)) {
    if (!matches(e, f))
      continue;
    if (n == limit) {
      *more = true;
      break;
    }
    out[n++] = e;
  }
  return n;
}

void index_foreach(store_index *idx, void (*fn)(index_entry *e, void *arg),
                   void *arg) {
  index_entry *e, *next;
  RB_FOREACH_SAFE(e, index_by_id, &idx->by_id, next) fn(e, arg);
}
