/* Shared body of the deliberately broken backend plugins: everything a
 * valid backend has, so that each plugin differs from a loadable one only
 * in the one defect its file is about.  Never gets past the loader.  A
 * plugin whose defect is a missing op leaves parts of it unused. */
#ifndef EXECD_TEST_BROKEN_BACKEND_H
#define EXECD_TEST_BROKEN_BACKEND_H

#include <execd/plugin.h>

static int broken_create(const execd_host *host, execd_instance *inst,
                         const json_t *config, void **self) {
  (void)config;
  *self = NULL;
  host->set_error(inst, "this test plugin must never be created");
  return EXECD_ENOTSUP;
}

static void broken_destroy(void *self) { (void)self; }

static int broken_start(void *self, const execd_job_spec *spec, execd_job *job,
                        void **handle) {
  (void)self, (void)spec, (void)job, (void)handle;
  return EXECD_ENOTSUP;
}

__attribute__((unused)) static int broken_signal(void *self, void *handle, int signum) {
  (void)self, (void)handle, (void)signum;
  return EXECD_ENOTSUP;
}

__attribute__((unused)) static const execd_backend_ops broken_backend_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .start = broken_start,
    .signal = broken_signal,
};

#endif
