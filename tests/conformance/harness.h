/* Conformance harness: loads any plugin by kind and name through execd's
 * real loader, hands it a host table of its own, and records what the
 * plugin reports (job output and exits).  Used by the per-kind suites. */
#ifndef EXECD_TEST_HARNESS_H
#define EXECD_TEST_HARNESS_H

#include <stddef.h>

#include <execd/plugin.h>

typedef struct harness_plugin {
  const execd_plugin *plugin; /* zero-padded descriptor */
  const void *ops;            /* zero-padded ops table of its kind */
  void *self;                 /* the created instance */
  execd_instance *inst;
} harness_plugin;

/* What a backend reported for one job.  Cast to execd_job* for start(). */
typedef struct harness_job {
  char *out;  /* stdout bytes, NUL-terminated */
  size_t out_len;
  char *err;  /* stderr bytes, NUL-terminated */
  size_t err_len;
  int exited; /* job_exited calls seen (must end up exactly 1) */
  execd_job_exit exit;   /* copy; strings below */
  char error_code[64];
  char error_message[512];
} harness_job;

/* The scratch tree (/tmp/execd-conformance-XXXXXX) that holds the state
 * directory of every test process: made by begin, removed with all it holds
 * by end.  Run them in the process that runs the tests, as an unchecked
 * fixture of each TCase using the harness, so that the tree goes even when
 * a test fails or is killed:
 *   tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
 * Without it, each test process's state directory is removed by
 * harness_shutdown() when that runs. */
void harness_scratch_begin(void);
void harness_scratch_end(void);
/* Where a test makes its own temporary directories: the scratch tree, or
 * /tmp without one. */
const char *harness_tmpdir(void);

/* Search path from EXECD_PLUGIN_PATH.  Returns 0 or aborts the test. */
void harness_init(void);
void harness_shutdown(void);

/* Load <kind>_<name>, create an instance from config_json ("{}" if NULL),
 * and call its start().  Returns 0 or a negative EXECD_E*, with the
 * loader's or plugin's message in harness_last_error(). */
int harness_load(int kind, const char *name, const char *config_json,
                 harness_plugin *out);
/* stop(), run the loop until closes finish, destroy(), unload. */
void harness_unload(harness_plugin *p);
const char *harness_last_error(void);

const execd_host *harness_host(void);
uv_loop_t *harness_loop(void);

harness_job *harness_job_new(void);
void harness_job_free(harness_job *job);

/* Run the loop until done(arg) is true or timeout_ms passes.  Returns 1 if
 * done, 0 on timeout. */
int harness_run_until(int (*done)(void *arg), void *arg, int timeout_ms);
/* Convenience: until job->exited. */
int harness_wait_job(harness_job *job, int timeout_ms);

#endif
