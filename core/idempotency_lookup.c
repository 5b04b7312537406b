/* Paging through a tenant's last 24 h of executions for one idempotency
 * key (idempotency_lookup.h). */
#include "config.h"

#include <string.h>

#include <execd/error.h>

#include "idempotency_lookup.h"
#include "ids.h"
#include "log.h"
#include "records.h"
#include "xalloc.h"

#define PAGE 500
#define KEY_LIFETIME_MS (86400LL * 1000)

typedef struct lookup {
  pipeline *pipeline;
  char *tenant;
  char *key;
  char since[32];
  char *cursor;
  size_t read;
  idempotency_found_cb found;
  void *arg;
} lookup;

static int next_page(lookup *l);

static void finish(lookup *l, const json_t *record) {
  l->found(l->arg, record);
  free(l->tenant);
  free(l->key);
  free(l->cursor);
  free(l);
}

static void on_page(void *arg, int status, json_t *page, const char *next) {
  lookup *l = arg;
  if (status != 0) {
    log_err("idempotency: listing tenant %s's executions failed: %s (%s)", l->tenant,
            execd_strerror(status),
            records_take_error(pipeline_records(l->pipeline), l, "no detail"));
    finish(l, NULL);
    return;
  }
  size_t i;
  json_t *r;
  json_array_foreach(page, i, r) {
    const char *key = json_string_value(json_object_get(r, "idempotency_key"));
    const char *tenant = json_string_value(json_object_get(r, "tenant"));
    if (key && tenant && strcmp(key, l->key) == 0 && strcmp(tenant, l->tenant) == 0) {
      finish(l, r);
      return;
    }
  }
  l->read += json_array_size(page);
  free(l->cursor);
  l->cursor = next ? xstrdup(next) : NULL;
  if (l->cursor && l->read >= IDEMPOTENCY_LOOKUP_MAX)
    log_warn("idempotency: stopped looking for a key of tenant %s after %zu executions",
                l->tenant, l->read);
  if (!l->cursor || l->read >= IDEMPOTENCY_LOOKUP_MAX || next_page(l) != 0)
    finish(l, NULL);
}

static int next_page(lookup *l) {
  execd_list_query q = {
      .struct_size = sizeof q,
      .tenant = l->tenant,
      .cursor = l->cursor,
      .limit = PAGE,
      .created_after = l->since,
  };
  int rc = records_list(pipeline_records(l->pipeline), &q, on_page, l);
  if (rc != 0)
    log_err("idempotency: storage refused to list tenant %s's executions: %s", l->tenant,
            execd_strerror(rc));
  return rc;
}

int idempotency_lookup(pipeline *p, const char *tenant, const char *key,
                       idempotency_found_cb found, void *arg) {
  lookup *l = xcalloc(1, sizeof *l);
  l->pipeline = p;
  l->tenant = xstrdup(tenant);
  l->key = xstrdup(key);
  l->found = found;
  l->arg = arg;
  ids_format_time(ids_now_ms() - KEY_LIFETIME_MS, l->since);
  int rc = next_page(l);
  if (rc != 0) {
    free(l->tenant);
    free(l->key);
    free(l);
  }
  return rc;
}
