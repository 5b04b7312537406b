/* The storage facade: see records.h. */
#include "config.h"

#include <execd/error.h>

#include "records.h"
#include "state.h"

void records_init(records *r, execd_instance *storage) {
  r->inst = storage;
  r->ops = storage->ops;
}

int records_insert(const records *r, const json_t *record, execd_store_cb cb, void *arg) {
  return r->ops->insert(r->inst->self, record, cb, arg);
}

int records_update(const records *r, const json_t *record, const char *expected_state,
                   execd_store_cb cb, void *arg) {
  return r->ops->update(r->inst->self, record, expected_state, cb, arg);
}

int records_get(const records *r, const char *id, execd_store_cb cb, void *arg) {
  return r->ops->get(r->inst->self, id, cb, arg);
}

int records_list(const records *r, const execd_list_query *query, execd_list_cb cb,
                 void *arg) {
  return r->ops->list(r->inst->self, query, cb, arg);
}

int records_remove(const records *r, const char *id, execd_store_cb cb, void *arg) {
  return r->ops->remove(r->inst->self, id, cb, arg);
}

int records_log_append(const records *r, const char *id, const char *data, size_t len) {
  if (!r->ops->log_append)
    return EXECD_ENOTSUP;
  return r->ops->log_append(r->inst->self, id, data, len);
}

int records_log_read(const records *r, const char *id, uint64_t offset, size_t max,
                     execd_log_cb cb, void *arg) {
  if (!r->ops->log_read)
    return EXECD_ENOTSUP;
  return r->ops->log_read(r->inst->self, id, offset, max, cb, arg);
}

/* The loader zero-pads an older ops table, so a missing op reads NULL. */
bool records_has_log_marks(const records *r) { return r->ops->log_marks != NULL; }

int records_log_marks(const records *r, const char *id, uint64_t from, uint64_t to,
                      execd_log_marks_cb cb, void *arg) {
  if (!r->ops->log_marks)
    return EXECD_ENOTSUP;
  return r->ops->log_marks(r->inst->self, id, from, to, cb, arg);
}

/* The claim ops come together: a storage with claim has all four but
 * watch_work, which may be absent (the core polls). */
bool records_has_claims(const records *r) {
  return r->ops->claim && r->ops->rescue && r->ops->renew;
}

int records_claim(const records *r, const execd_claim_query *q, execd_list_cb cb, void *arg) {
  if (!records_has_claims(r))
    return EXECD_ENOTSUP;
  return r->ops->claim(r->inst->self, q, cb, arg);
}

int records_rescue(const records *r, const execd_claim_query *q, execd_list_cb cb, void *arg) {
  if (!records_has_claims(r))
    return EXECD_ENOTSUP;
  return r->ops->rescue(r->inst->self, q, cb, arg);
}

int records_renew(const records *r, const char *node, uint64_t lease_ms, const json_t *leases,
                  execd_list_cb cb, void *arg) {
  if (!records_has_claims(r))
    return EXECD_ENOTSUP;
  return r->ops->renew(r->inst->self, node, lease_ms, leases, cb, arg);
}

bool records_has_insert_claim(const records *r) {
  return records_has_claims(r) && r->ops->insert_claim;
}

int records_insert_claim(const records *r, const json_t *record, const execd_claim_query *q,
                         execd_store_cb cb, void *arg) {
  if (!records_has_insert_claim(r))
    return EXECD_ENOTSUP;
  return r->ops->insert_claim(r->inst->self, record, q, cb, arg);
}

int records_watch_work(const records *r, void (*wake)(void *arg), void *arg) {
  if (!r->ops->watch_work)
    return EXECD_ENOTSUP;
  return r->ops->watch_work(r->inst->self, wake, arg);
}

int records_health(const records *r) {
  instance_clear_error(r->inst);
  return r->ops->health ? r->ops->health(r->inst->self) : 0;
}

const char *records_error(const records *r, const char *fallback) {
  return instance_error(r->inst, fallback);
}

execd_instance *records_instance(const records *r) { return r->inst; }

const char *records_take_error(const records *r, void *cb_arg, const char *fallback) {
  return instance_take_error(r->inst, cb_arg, fallback);
}

bool records_usable(const json_t *record) {
  return json_is_object(record) && json_is_string(json_object_get(record, "id")) &&
         json_is_string(json_object_get(record, "tenant")) &&
         state_from_name(json_string_value(json_object_get(record, "state"))) >= 0;
}
