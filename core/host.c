/* The host table: what plugins may call.  Backend reports go to the
 * pipeline, transport calls to the API, the rest is here. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "pipeline.h"
#include "instance.h"
#include "log.h"
#include "tenants.h"

void instance_label(const execd_instance *inst, char *out, size_t len) {
  snprintf(out, len, "%s %s", loader_kind_name(inst->kind), inst->name);
}

const char *instance_error(execd_instance *inst, const char *fallback) {
  return inst && inst->last_error[0] ? inst->last_error : fallback;
}

void instance_clear_error(execd_instance *inst) { inst->last_error[0] = '\0'; }

const char *instance_take_error(execd_instance *inst, void *cb_arg, const char *fallback) {
  if (!inst)
    return fallback;
  for (int i = 0; i < INSTANCE_OP_ERRORS; i++) {
    op_error_slot *s = &inst->op_errors[i];
    if (s->seq && s->cb_arg == cb_arg) {
      snprintf(inst->taken_error, sizeof inst->taken_error, "%s", s->text);
      s->seq = 0;
      return inst->taken_error;
    }
  }
  return instance_error(inst, fallback);
}

static void h_log(execd_instance *inst, int level, const char *fmt, ...) {
  char label[128];
  instance_label(inst, label, sizeof label);
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, label, fmt, ap);
  va_end(ap);
}

static void h_set_error(execd_instance *inst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(inst->last_error, sizeof inst->last_error, fmt, ap);
  va_end(ap);
}

/* One slot per pending op: the op's own if it has one already, else a free
 * one, else the oldest. */
static void h_op_error(execd_instance *inst, void *cb_arg, const char *fmt, ...) {
  op_error_slot *slot = NULL;
  for (int i = 0; i < INSTANCE_OP_ERRORS && !slot; i++)
    if (inst->op_errors[i].seq && inst->op_errors[i].cb_arg == cb_arg)
      slot = &inst->op_errors[i];
  for (int i = 0; i < INSTANCE_OP_ERRORS && !slot; i++)
    if (!inst->op_errors[i].seq)
      slot = &inst->op_errors[i];
  if (!slot) {
    slot = &inst->op_errors[0];
    for (int i = 1; i < INSTANCE_OP_ERRORS; i++)
      if (inst->op_errors[i].seq < slot->seq)
        slot = &inst->op_errors[i];
  }
  slot->cb_arg = cb_arg;
  slot->seq = ++inst->op_error_seq;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(slot->text, sizeof slot->text, fmt, ap);
  va_end(ap);
}

static uv_loop_t *h_loop(execd_instance *inst) { return pipeline_loop(inst->pipeline); }
static const char *h_instance_name(execd_instance *inst) { return inst->name; }
static const char *h_state_dir(execd_instance *inst) {
  return pipeline_config(inst->pipeline)->state_dir;
}

static const execd_host table = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR,
    .struct_size = sizeof(execd_host),
    .log = h_log,
    .set_error = h_set_error,
    .loop = h_loop,
    .instance_name = h_instance_name,
    .state_dir = h_state_dir,
    .job_output = pipeline_job_output,
    .job_exited = pipeline_job_exited,
    .submit = api_submit,
    .get = api_get,
    .list = api_list,
    .cancel = api_cancel,
    .remove = api_remove,
    .logs = api_logs,
    .watch = api_watch,
    .unwatch = api_unwatch,
    .agents = api_agents,
    .health = api_health,
    .metrics = api_metrics,
    .op_error = h_op_error,
    .logs_timed = api_logs_timed,
    .authenticate = tenants_authenticate,
    .usage = api_usage,
};

const execd_host *host_table(void) { return &table; }
