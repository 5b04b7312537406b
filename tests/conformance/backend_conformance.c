/* Backend conformance suite: what every backend plugin must do, checked
 * through the real loader against any backend by name.
 *
 *   EXECD_CONFORMANCE_BACKEND         plugin name (default "local")
 *   EXECD_CONFORMANCE_BACKEND_CONFIG  its config as JSON (default: for
 *                                     local, /bin and /usr/bin allowed)
 *   EXECD_CONFORMANCE_IMAGE           image for container backends
 *   EXECD_CONFORMANCE_SHELL           shell inside the job (default /bin/sh)
 *
 * Jobs are shell scripts, so the image needs a POSIX shell with head, tr,
 * sleep and cat (busybox is enough). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* How long a check waits for a job: 60 s, or EXECD_CONFORMANCE_WAIT_S for a
 * backend whose jobs take long to start (a pod is scheduled, its image
 * unpacked, its containers started).  A bound on waiting, not a speed
 * requirement. */
static int wait_ms_from_env(void) {
  const char *v = getenv("EXECD_CONFORMANCE_WAIT_S");
  int s = v ? atoi(v) : 0;
  return (s > 0 && s <= 3600 ? s : 60) * 1000;
}
#define WAIT_MS wait_ms_from_env()

static harness_plugin backend;
static const execd_backend_ops *ops;
static char workspace[256];
static const char *image;
static const char *shell;
static unsigned attempt_seq;

static void make_workspace(void) {
  snprintf(workspace, sizeof workspace, "%s/execd-bconf-XXXXXX", harness_tmpdir());
  ck_assert_ptr_nonnull(mkdtemp(workspace));
  chmod(workspace, 0755);
  char d[300];
  const char *subs[] = {"input", "config", "output"};
  for (int i = 0; i < 3; i++) {
    snprintf(d, sizeof d, "%s/%s", workspace, subs[i]);
    ck_assert_int_eq(mkdir(d, 0755), 0);
  }
  snprintf(d, sizeof d, "%s/input/input.json", workspace);
  FILE *f = fopen(d, "w");
  fputs("{\"x\": 1}\n", f);
  fclose(f);
}

static void remove_workspace(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
  ck_assert_int_eq(system(cmd), 0);
}

static void setup(void) {
  const char *name = getenv("EXECD_CONFORMANCE_BACKEND");
  if (!name || !*name)
    name = "local";
  const char *config = getenv("EXECD_CONFORMANCE_BACKEND_CONFIG");
  if (!config || !*config)
    config = strcmp(name, "local") == 0
                 ? "{\"commands_allowed\": [\"/bin/*\", \"/usr/bin/*\"], \"output_drain\": 2000}"
                 : "{}";
  image = getenv("EXECD_CONFORMANCE_IMAGE");
  if (image && !*image)
    image = NULL;
  shell = getenv("EXECD_CONFORMANCE_SHELL");
  if (!shell || !*shell)
    shell = "/bin/sh";
  int rc = harness_load(EXECD_KIND_BACKEND, name, config, &backend);
  ck_assert_msg(rc == 0, "loading backend %s: %s", name, harness_last_error());
  ops = backend.ops;
  ck_assert_ptr_nonnull(ops->start);
  ck_assert_ptr_nonnull(ops->signal);
  make_workspace();
}

static void teardown(void) {
  harness_unload(&backend);
  remove_workspace();
}

typedef struct job_opts {
  const char *stdin_data;
  int64_t memory;
  const char *extra_env;
} job_opts;

/* Starts `shell -c script`; fails the test if start() fails. */
static void start_job(const char *script, const job_opts *o, harness_job *job, void **handle) {
  const char *argv[] = {shell, "-c", script, NULL};
  char out_env[400], in_env[400], id[64];
  snprintf(out_env, sizeof out_env, "WORKSPACE_OUTPUT=%s/output",
           image ? "/workspace" : workspace);
  snprintf(in_env, sizeof in_env, "WORKSPACE_INPUT=%s/input", image ? "/workspace" : workspace);
  /* Unique per process: container backends name containers after it, and
   * two suites may share one engine. */
  snprintf(id, sizeof id, "0190c0de-%04x-7000-8000-%012u", (unsigned)getpid() & 0xffff,
           ++attempt_seq);
  const char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", out_env, in_env,
                       o && o->extra_env ? o->extra_env : "EXECD_TEST=1", NULL};
  execd_limits limits = {.memory_bytes = o ? o->memory : 0, .network = "none",
                         .pids = 128, .timeout_ms = WAIT_MS};
  execd_job_spec spec = {
      .struct_size = sizeof spec,
      .execution_id = id,
      .attempt = 1,
      .argv = argv,
      .image = image,
      .env = env,
      .workspace = workspace,
      .stdin_data = o ? o->stdin_data : NULL,
      .stdin_len = o && o->stdin_data ? strlen(o->stdin_data) : 0,
      .limits = &limits,
  };
  if (ops->check)
    ck_assert_msg(ops->check(backend.self, &spec) == 0, "check: %s", harness_last_error());
  int rc = ops->start(backend.self, &spec, (execd_job *)job, handle);
  ck_assert_msg(rc == 0, "start: %s (%s)", execd_strerror(rc), harness_last_error());
  ck_assert_msg(job->exited == 0, "job_exited was called from inside start()");
}

static harness_job *run_job(const char *script, const job_opts *o) {
  harness_job *job = harness_job_new();
  void *handle = NULL;
  start_job(script, o, job, &handle);
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "the job did not exit");
  return job;
}

START_TEST(stdout_and_stderr_apart_exit_zero) {
  harness_job *job = run_job("echo to-out; echo to-err >&2", NULL);
  ck_assert_int_eq(job->exited, 1);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_int_eq(job->exit.term_signal, 0);
  ck_assert_ptr_null(job->exit.error_code);
  ck_assert_str_eq(job->out, "to-out\n");
  ck_assert_str_eq(job->err, "to-err\n");
  harness_job_free(job);
}
END_TEST

START_TEST(exit_code_is_reported) {
  harness_job *job = run_job("exit 7", NULL);
  ck_assert_int_eq(job->exit.exit_code, 7);
  ck_assert_int_eq(job->exit.term_signal, 0);
  harness_job_free(job);
}
END_TEST

START_TEST(environment_is_passed) {
  job_opts o = {.extra_env = "EXECD_TEST=hello world"};
  harness_job *job = run_job("printf '%s' \"$EXECD_TEST\"", &o);
  ck_assert_str_eq(job->out ? job->out : "", "hello world");
  harness_job_free(job);
}
END_TEST

START_TEST(stdin_is_delivered_then_closed) {
  job_opts o = {.stdin_data = "{\"input\": 42}\nsecond line\n"};
  harness_job *job = run_job("cat", &o);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out ? job->out : "", "{\"input\": 42}\nsecond line\n");
  harness_job_free(job);
}
END_TEST

START_TEST(workspace_input_and_output) {
  harness_job *job = run_job("cat \"$WORKSPACE_INPUT/input.json\" && "
                             "echo '{\"done\": true}' > \"$WORKSPACE_OUTPUT/result.json\"",
                             NULL);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out ? job->out : "", "{\"x\": 1}\n");
  char path[300], text[64] = "";
  snprintf(path, sizeof path, "%s/output/result.json", workspace);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "result.json not in the host workspace after the exit");
  ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
  fclose(f);
  ck_assert_str_eq(text, "{\"done\": true}\n");
  harness_job_free(job);
}
END_TEST

START_TEST(large_output_is_complete) {
  harness_job *job = run_job("head -c 1000000 /dev/zero | tr '\\000' x", NULL);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_uint_eq(job->out_len, 1000000);
  ck_assert_int_eq(job->out[0], 'x');
  ck_assert_int_eq(job->out[999999], 'x');
  harness_job_free(job);
}
END_TEST

static void wait_for_output(harness_job *job, const char *text);

START_TEST(sigterm_stops_the_job) {
  harness_job *job = harness_job_new();
  void *handle = NULL;
  start_job("echo started; exec sleep 60", NULL, job, &handle);
  wait_for_output(job, "started");
  ck_assert_int_eq(ops->signal(backend.self, handle, SIGTERM), 0);
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "SIGTERM did not end the job");
  ck_assert_msg(job->exit.term_signal == SIGTERM || job->exit.exit_code == 128 + SIGTERM,
                "exit %d signal %d", job->exit.exit_code, job->exit.term_signal);
  harness_job_free(job);
}
END_TEST

START_TEST(sigkill_ends_a_job_that_ignores_sigterm) {
  harness_job *job = harness_job_new();
  void *handle = NULL;
  start_job("trap '' TERM; echo started; while :; do sleep 1; done", NULL, job, &handle);
  wait_for_output(job, "started");
  ck_assert_int_eq(ops->signal(backend.self, handle, SIGTERM), 0);
  ck_assert_int_eq(ops->signal(backend.self, handle, SIGKILL), 0);
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "SIGKILL did not end the job");
  ck_assert_int_eq(job->exited, 1);
  ck_assert_msg(job->exit.term_signal == SIGKILL || job->exit.exit_code == 128 + SIGKILL,
                "exit %d signal %d", job->exit.exit_code, job->exit.term_signal);
  harness_job_free(job);
}
END_TEST

START_TEST(background_children_do_not_hold_the_exit) {
  /* The leader exits; a background child keeping stdout open is the
   * backend's to kill, and the exit is still reported. */
  harness_job *job = run_job("sleep 300 & echo leader-done", NULL);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out ? job->out : "", "leader-done\n");
  harness_job_free(job);
}
END_TEST

START_TEST(memory_limit_has_its_own_error_code) {
  job_opts o = {.memory = 64 << 20};
  harness_job *job = run_job("x=$(head -c 300000000 /dev/zero | tr '\\000' a); echo ${#x}", &o);
  ck_assert_int_ne(job->exit.exit_code, 0);
  ck_assert_ptr_nonnull(job->exit.error_code);
  ck_assert_msg(strcmp(job->exit.error_code, EXECD_ERR_OOM_KILLED) == 0 ||
                    strcmp(job->exit.error_code, EXECD_ERR_MEMORY_LIMIT) == 0,
                "error code %s", job->exit.error_code);
  ck_assert_int_eq(job->exit.retryable, 0);
  harness_job_free(job);
}
END_TEST

typedef struct many_ctx {
  harness_job *jobs[24];
  int n;
} many_ctx;

static int all_exited(void *arg) {
  many_ctx *c = arg;
  for (int i = 0; i < c->n; i++)
    if (!c->jobs[i]->exited)
      return 0;
  return 1;
}

START_TEST(concurrent_jobs_each_exit_once) {
  many_ctx c = {.n = 24};
  for (int i = 0; i < c.n; i++) {
    char script[64];
    snprintf(script, sizeof script, "echo job-%d; exit %d", i, i % 5);
    c.jobs[i] = harness_job_new();
    void *handle;
    start_job(script, NULL, c.jobs[i], &handle);
  }
  ck_assert(harness_run_until(all_exited, &c, WAIT_MS));
  for (int i = 0; i < c.n; i++) {
    char want[32];
    snprintf(want, sizeof want, "job-%d\n", i);
    ck_assert_int_eq(c.jobs[i]->exited, 1);
    ck_assert_int_eq(c.jobs[i]->exit.exit_code, i % 5);
    ck_assert_str_eq(c.jobs[i]->out ? c.jobs[i]->out : "", want);
    harness_job_free(c.jobs[i]);
  }
}
END_TEST

typedef struct output_wait {
  harness_job *job;
  const char *text;
} output_wait;

static int has_output(void *arg) {
  output_wait *w = arg;
  return w->job->exited || (w->job->out && strstr(w->job->out, w->text));
}

static void wait_for_output(harness_job *job, const char *text) {
  output_wait w = {job, text};
  ck_assert_msg(harness_run_until(has_output, &w, WAIT_MS) && !job->exited,
                "the job did not print \"%s\" while running", text);
}

static Suite *backend_suite(void) {
  Suite *s = suite_create("backend conformance");
  TCase *tc = tcase_create("contract");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(tc, 2.0 * wait_ms_from_env() / 1000);
  tcase_add_test(tc, stdout_and_stderr_apart_exit_zero);
  tcase_add_test(tc, exit_code_is_reported);
  tcase_add_test(tc, environment_is_passed);
  tcase_add_test(tc, stdin_is_delivered_then_closed);
  tcase_add_test(tc, workspace_input_and_output);
  tcase_add_test(tc, large_output_is_complete);
  tcase_add_test(tc, sigterm_stops_the_job);
  tcase_add_test(tc, sigkill_ends_a_job_that_ignores_sigterm);
  tcase_add_test(tc, background_children_do_not_hold_the_exit);
  tcase_add_test(tc, memory_limit_has_its_own_error_code);
  tcase_add_test(tc, concurrent_jobs_each_exit_once);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(backend_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
