/* A host table for side-effect-free config checks (config_check.h).  The
 * instance pointer it hands out is the caller's config_check_ctx. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "config_check.h"

static config_check_ctx *ctx_of(execd_instance *inst) { return (config_check_ctx *)(void *)inst; }

static void ck_vset(execd_instance *inst, const char *fmt, va_list ap) {
  config_check_ctx *ck = ctx_of(inst);
  if (ck && ck->errlen)
    vsnprintf(ck->err, ck->errlen, fmt, ap);
}

static void ck_set_error(execd_instance *inst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ck_vset(inst, fmt, ap);
  va_end(ap);
}

static void ck_op_error(execd_instance *inst, void *cb_arg, const char *fmt, ...) {
  (void)cb_arg;
  va_list ap;
  va_start(ap, fmt);
  ck_vset(inst, fmt, ap);
  va_end(ap);
}

static void ck_log(execd_instance *inst, int level, const char *fmt, ...) {
  (void)inst, (void)level, (void)fmt;
}

static uv_loop_t *ck_loop(execd_instance *inst) {
  (void)inst;
  return NULL;
}

static const char *ck_name(execd_instance *inst) {
  (void)inst;
  return "config-check";
}

static const char *ck_state_dir(execd_instance *inst) {
  (void)inst;
  return NULL;
}

static void ck_job_output(execd_job *job, int stream, const char *data, size_t len) {
  (void)job, (void)stream, (void)data, (void)len;
}

static void ck_job_exited(execd_job *job, const struct execd_job_exit *e) { (void)job, (void)e; }

static int ck_submit(execd_instance *i, const char *t, const char *b, size_t l, unsigned w,
                     execd_reply_cb cb, void *arg) {
  (void)i, (void)t, (void)b, (void)l, (void)w, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int ck_by_id(execd_instance *i, const char *t, const char *id, execd_reply_cb cb,
                    void *arg) {
  (void)i, (void)t, (void)id, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int ck_list(execd_instance *i, const char *t, const execd_list_query *q,
                   execd_reply_cb cb, void *arg) {
  (void)i, (void)t, (void)q, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int ck_logs(execd_instance *i, const char *t, const char *id, uint64_t o,
                   execd_reply_cb cb, void *arg) {
  (void)i, (void)t, (void)id, (void)o, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static int ck_watch(execd_instance *i, const char *t, const char *id, execd_watch_cb cb,
                    void *arg, execd_watch **out) {
  (void)i, (void)t, (void)id, (void)cb, (void)arg;
  *out = NULL;
  return EXECD_ENOTSUP;
}

static void ck_unwatch(execd_watch *w) { (void)w; }

static int ck_nullary(execd_instance *i, execd_reply_cb cb, void *arg) {
  (void)i, (void)cb, (void)arg;
  return EXECD_ENOTSUP;
}

static const execd_host check_host = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR,
    .struct_size = sizeof(execd_host),
    .log = ck_log,
    .set_error = ck_set_error,
    .loop = ck_loop,
    .instance_name = ck_name,
    .state_dir = ck_state_dir,
    .job_output = ck_job_output,
    .job_exited = ck_job_exited,
    .submit = ck_submit,
    .get = ck_by_id,
    .list = ck_list,
    .cancel = ck_by_id,
    .remove = ck_by_id,
    .logs = ck_logs,
    .watch = ck_watch,
    .unwatch = ck_unwatch,
    .agents = ck_nullary,
    .health = ck_nullary,
    .metrics = ck_nullary,
    .op_error = ck_op_error,
};

execd_instance *config_check_begin(config_check_ctx *ck, char *err, size_t errlen) {
  ck->err = err;
  ck->errlen = errlen;
  if (errlen)
    err[0] = '\0';
  return (execd_instance *)(void *)ck;
}

const execd_host *config_check_host(void) { return &check_host; }

int config_check_end(config_check_ctx *ck, int rc) {
  if (rc != 0 && ck->errlen && !ck->err[0])
    snprintf(ck->err, ck->errlen, "%s", execd_strerror(rc));
  return rc;
}
