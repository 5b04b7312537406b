/* The local backend's own guarantees, beyond the backend contract: the
 * allow-list, the whole process group killed, rlimits, the network
 * namespace, the user switch, the parent-death signal, pids cgroup and
 * resource usage. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 60000
#define ALLOWED "\"commands_allowed\": [\"/bin/*\", \"/usr/bin/*\"]"

static harness_plugin backend;
static const execd_backend_ops *ops;
static char workspace[256];

static void make_workspace(void) {
  snprintf(workspace, sizeof workspace, "%s/execd-local-XXXXXX", harness_tmpdir());
  ck_assert_ptr_nonnull(mkdtemp(workspace));
  chmod(workspace, 0755);
  char d[300];
  snprintf(d, sizeof d, "%s/output", workspace);
  ck_assert_int_eq(mkdir(d, 0755), 0);
}

static void load(const char *config) {
  int rc = harness_load(EXECD_KIND_BACKEND, "local", config, &backend);
  ck_assert_msg(rc == 0, "loading local: %s", harness_last_error());
  ops = backend.ops;
  make_workspace();
}

static void remove_workspace(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
  ck_assert_int_eq(system(cmd), 0);
}

static void teardown(void) {
  harness_unload(&backend);
  remove_workspace();
}

static void setup_default(void) { load("{" ALLOWED "}"); }

static execd_job_spec spec_for(const char *const *argv, execd_limits *limits) {
  static char out_env[300], id[40];
  static unsigned seq;
  static const char *env[] = {"PATH=/usr/bin:/bin", out_env, NULL};
  snprintf(out_env, sizeof out_env, "WORKSPACE_OUTPUT=%s/output", workspace);
  /* A new execution per job, as in the daemon: what the backend names after
   * it (cgroups, the processes it finds by EXECUTION_ID) is cleaned up
   * after the job ended, maybe while the next one starts. */
  snprintf(id, sizeof id, "0190c0de-%04x-7000-8000-%012u", (unsigned)getpid() & 0xffff, ++seq);
  execd_job_spec spec = {.struct_size = sizeof spec,
                         .execution_id = id,
                         .attempt = 1,
                         .argv = argv,
                         .env = env,
                         .workspace = workspace,
                         .limits = limits};
  return spec;
}

static harness_job *run_sh(const char *script, execd_limits *limits, void **handle_out) {
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  execd_limits none = {.network = "none"};
  execd_job_spec spec = spec_for(argv, limits ? limits : &none);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  int rc = ops->start(backend.self, &spec, (execd_job *)job, &handle);
  ck_assert_msg(rc == 0, "start: %s", harness_last_error());
  if (handle_out)
    *handle_out = handle;
  else
    ck_assert(harness_wait_job(job, WAIT_MS));
  return job;
}

/* Waits (bounded) until PID no longer exists or is a zombie. */
static int process_gone(pid_t pid) {
  for (int i = 0; i < 500; i++) {
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
      return 1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *close_paren = strrchr(stat, ')');
    if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z')
      return 1;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

typedef struct line_wait {
  harness_job *job;
} line_wait;

static int has_line(void *arg) {
  harness_job *j = arg;
  return j->exited || (j->out && strchr(j->out, '\n'));
}

START_TEST(allow_list_and_paths) {
  const char *cases[][2] = {
      {"/opt/evil", "not in commands_allowed"},
      {"/bin/../opt/evil", "absolute path without"},
      {"/bin//sh", "absolute path without"},
      {"sh", "absolute path without"},
  };
  execd_limits lim = {.network = "none"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *argv[] = {cases[i][0], NULL};
    execd_job_spec spec = spec_for(argv, &lim);
    ck_assert_int_eq(ops->check(backend.self, &spec), EXECD_EPERM);
    ck_assert_msg(strstr(harness_last_error(), cases[i][1]) &&
                      strstr(harness_last_error(), cases[i][0]),
                  "%s: %s", cases[i][0], harness_last_error());
    harness_job job = {0};
    void *h = NULL;
    ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)&job, &h), EXECD_EPERM);
  }
  const char *argv[] = {"/bin/sh", NULL};
  execd_job_spec spec = spec_for(argv, &lim);
  spec.image = "busybox";
  ck_assert_int_eq(ops->check(backend.self, &spec), EXECD_EINVAL);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "image"));
  spec.image = NULL;
  spec.user = "0";
  ck_assert_int_eq(ops->check(backend.self, &spec), EXECD_EPERM);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "users_allowed"));
}
END_TEST

START_TEST(missing_program_fails_start_cleanly) {
  const char *argv[] = {"/bin/execd-no-such-program", NULL};
  execd_limits lim = {.network = "none"};
  execd_job_spec spec = spec_for(argv, &lim);
  harness_job job = {0};
  void *h = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)&job, &h), EXECD_EINVAL);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "/bin/execd-no-such-program"));
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "No such file"));
  ck_assert_int_eq(job.exited, 0);
  const char *sh[] = {"/bin/sh", "-c", "true", NULL};
  spec = spec_for(sh, &lim);
  spec.working_dir = "/nonexistent-execd-dir";
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)&job, &h), EXECD_EINVAL);
  ck_assert_msg(strstr(harness_last_error(), "chdir /nonexistent-execd-dir"), "%s",
                harness_last_error());
  ck_assert_int_eq(job.exited, 0);
}
END_TEST

/* What fails only when the job's process tries (here: execve of a file
 * that is no program) is reported through job_exited, once, as
 * start_failed naming the step; nothing of it runs. */
START_TEST(exec_failure_after_start_is_reported) {
  char config[512], prog[300];
  snprintf(config, sizeof config,
           "{\"commands_allowed\": [\"/bin/*\", \"/usr/bin/*\", \"%s/*\"]}", harness_tmpdir());
  harness_unload(&backend);
  load(config);
  snprintf(prog, sizeof prog, "%s/not-a-program", harness_tmpdir());
  FILE *f = fopen(prog, "w");
  ck_assert_ptr_nonnull(f);
  fputs("not a program\n", f);
  fclose(f);
  ck_assert_int_eq(chmod(prog, 0755), 0);
  const char *argv[] = {prog, NULL};
  execd_limits lim = {.network = "none"};
  execd_job_spec spec = spec_for(argv, &lim);
  harness_job *job = harness_job_new();
  void *h = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &h), 0);
  ck_assert_int_eq(job->exited, 0); /* never from inside start() */
  ck_assert(harness_wait_job(job, WAIT_MS));
  ck_assert_int_eq(job->exited, 1);
  ck_assert_int_eq(job->exit.exit_code, -1);
  ck_assert_str_eq(job->error_code, "start_failed");
  ck_assert_msg(strstr(job->error_message, "execve") && strstr(job->error_message, prog),
                "message: %s", job->error_message);
  ck_assert_int_eq(job->exit.retryable, 0);
  harness_job_free(job);
  unlink(prog);
}
END_TEST

/* A signal sent right after start(), before the job's process exists
 * (it is made off the loop), reaches it once it runs. */
START_TEST(signal_before_the_job_runs_is_delivered) {
  const char *argv[] = {"/bin/sleep", "300", NULL};
  execd_limits lim = {.network = "none"};
  execd_job_spec spec = spec_for(argv, &lim);
  harness_job *job = harness_job_new();
  void *h = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &h), 0);
  ck_assert_int_eq(ops->signal(backend.self, h, SIGKILL), 0);
  ck_assert(harness_wait_job(job, WAIT_MS));
  ck_assert_int_eq(job->exited, 1);
  ck_assert_int_eq(job->exit.term_signal, SIGKILL);
  ck_assert_int_eq(job->exit.exit_code, 128 + SIGKILL);
  harness_job_free(job);
}
END_TEST

START_TEST(signal_kills_the_whole_process_group) {
  void *handle;
  harness_job *job = run_sh("sleep 300 & echo $!; wait", NULL, &handle);
  ck_assert(harness_run_until(has_line, job, WAIT_MS));
  pid_t child = (pid_t)atoi(job->out);
  ck_assert_int_gt(child, 1);
  ck_assert_int_eq(kill(child, 0), 0);
  ck_assert_int_eq(ops->signal(backend.self, handle, SIGTERM), 0);
  ck_assert(harness_wait_job(job, WAIT_MS));
  ck_assert_msg(process_gone(child), "background process %d survived", (int)child);
  harness_job_free(job);
}
END_TEST

START_TEST(leftovers_die_with_the_leader) {
  harness_job *job = run_sh("sleep 300 >/dev/null 2>&1 & echo $!", NULL, NULL);
  pid_t child = (pid_t)atoi(job->out);
  ck_assert_int_gt(child, 1);
  ck_assert_msg(process_gone(child), "background process %d survived", (int)child);
  harness_job_free(job);
}
END_TEST

START_TEST(rlimits_apply) {
  execd_limits lim = {.network = "none", .nofile = 77, .cpu_seconds = 33,
                      .fsize_bytes = 1 << 20};
  harness_job *job = run_sh("ulimit -n; ulimit -t; ulimit -f", &lim, NULL);
  /* ulimit -f counts 512-byte blocks. */
  ck_assert_str_eq(job->out, "77\n33\n2048\n");
  harness_job_free(job);
  lim.fsize_bytes = 4096;
  job = run_sh("head -c 100000 /dev/zero > \"$WORKSPACE_OUTPUT/big\"", &lim, NULL);
  ck_assert_int_ne(job->exit.exit_code, 0);
  harness_job_free(job);
}
END_TEST

START_TEST(network_none_sees_only_loopback) {
  execd_limits lim = {.network = "none"};
  harness_job *job = run_sh("grep -c : /proc/net/dev; grep -o 'lo:' /proc/net/dev", &lim, NULL);
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out, "1\nlo:\n");
  harness_job_free(job);
}
END_TEST

START_TEST(pids_limit_stops_fork_bombs) {
  execd_limits lim = {.network = "none", .pids = 4};
  harness_job *job = run_sh("for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait", &lim, NULL);
  ck_assert_msg(job->err && (strstr(job->err, "fork") || strstr(job->err, "Resource")),
                "stderr: %s", job->err ? job->err : "");
  harness_job_free(job);
}
END_TEST

START_TEST(usage_is_recorded) {
  harness_job *job =
      run_sh("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo $i", NULL, NULL);
  ck_assert_str_eq(job->out, "300000\n");
  ck_assert(job->exit.cpu_seconds > 0.0);
  ck_assert(job->exit.max_rss_bytes > 0);
  harness_job_free(job);
}
END_TEST

static void setup_nobody(void) {
  load("{" ALLOWED ", \"user\": \"65534:65534\"}");
}

START_TEST(runs_as_the_configured_user) {
  if (geteuid() != 0)
    return; /* switching users needs root */
  char input[300];
  snprintf(input, sizeof input, "%s/input", workspace);
  ck_assert_int_eq(mkdir(input, 0755), 0);
  harness_job *job = run_sh("id -u; id -g; echo ok > \"$WORKSPACE_OUTPUT/x\" && echo wrote; "
                            "touch \"$WORKSPACE_OUTPUT/../input/x\" 2>/dev/null || echo read-only",
                            NULL, NULL);
  ck_assert_msg(job->out && strcmp(job->out, "65534\n65534\nwrote\nread-only\n") == 0,
                "out: %s err: %s", job->out ? job->out : "", job->err ? job->err : "");
  char path[300];
  struct stat st;
  snprintf(path, sizeof path, "%s/output/x", workspace);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_uid, 65534);
  /* The workspace is the job's user's alone. */
  ck_assert_int_eq(stat(workspace, &st), 0);
  ck_assert_int_eq(st.st_uid, 65534);
  ck_assert_int_eq(st.st_mode & 0777, 0700);
  harness_job_free(job);
}
END_TEST

START_TEST(jobs_die_with_the_daemon) {
  /* A daemon process starts a job and dies without stopping it. */
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t daemon = fork();
  ck_assert_int_ge(daemon, 0);
  if (daemon == 0) {
    close(fds[0]);
    harness_plugin p;
    if (harness_load(EXECD_KIND_BACKEND, "local", "{" ALLOWED "}", &p) != 0)
      _exit(2);
    const char *argv[] = {"/bin/sh", "-c", "echo $$; exec sleep 300", NULL};
    execd_limits lim = {.network = "host"};
    execd_job_spec spec = spec_for(argv, &lim);
    harness_job *job = harness_job_new();
    void *h;
    const execd_backend_ops *o = p.ops;
    if (o->start(p.self, &spec, (execd_job *)job, &h) != 0)
      _exit(3);
    harness_run_until(has_line, job, WAIT_MS);
    if (write(fds[1], job->out, strlen(job->out)) < 0)
      _exit(4);
    _exit(0); /* no stop(), no signal: as if killed */
  }
  close(fds[1]);
  char buf[32] = "";
  ck_assert_int_gt(read(fds[0], buf, sizeof buf - 1), 0);
  close(fds[0]);
  int status;
  waitpid(daemon, &status, 0);
  pid_t job_pid = (pid_t)atoi(buf);
  ck_assert_int_gt(job_pid, 1);
  ck_assert_msg(process_gone(job_pid), "job %d outlived its daemon", (int)job_pid);
}
END_TEST

/* ---- a uid per attempt (execd as root, no user configured) ---------------- */

/* Claims are host-wide: a range of this process's own, so that two runs of
 * this test on one host (parallel builds) never take each other's uids. */
static unsigned RANGE_FIRST;
static void setup_own_uids(void) {
  RANGE_FIRST = 2013400000u + (unsigned)(getpid() % 50000) * 2u;
  char config[256];
  snprintf(config, sizeof config, "{" ALLOWED ", \"uid_range\": \"%u-%u\"}", RANGE_FIRST,
           RANGE_FIRST + 1);
  load(config);
}

/* A process running as uid until *release_fd is closed. */
static pid_t occupy_uid(uid_t uid, int *release_fd) {
  int fds[2], ready[2];
  ck_assert_int_eq(pipe(fds), 0);
  ck_assert_int_eq(pipe(ready), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(fds[1]);
    close(ready[0]);
    if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
      _exit(2);
    close(ready[1]); /* running as uid now */
    char c;
    while (read(fds[0], &c, 1) < 0)
      ;
    _exit(0);
  }
  close(fds[0]);
  close(ready[1]);
  char c;
  ck_assert_int_eq(read(ready[0], &c, 1), 0);
  close(ready[0]);
  *release_fd = fds[1];
  return pid;
}

START_TEST(each_attempt_has_a_uid_of_its_own) {
  if (geteuid() != 0)
    return; /* per-attempt uids need root */
  /* The first uid of the range is in use: the attempt gets the next one. */
  int release;
  pid_t occupier = occupy_uid(RANGE_FIRST, &release);
  const char *script = "id -u; id -g; stat -c '%u %a' \"$WORKSPACE_OUTPUT/..\"";
  harness_job *job = run_sh(script, NULL, NULL);
  char want[128];
  snprintf(want, sizeof want, "%u\n%u\n%u 700\n", RANGE_FIRST + 1, RANGE_FIRST + 1,
           RANGE_FIRST + 1);
  ck_assert_msg(job->out && strcmp(job->out, want) == 0, "out: %s err: %s",
                job->out ? job->out : "", job->err ? job->err : "");
  harness_job_free(job);
  /* Once nothing runs under it, the first uid is used again. */
  close(release);
  waitpid(occupier, NULL, 0);
  job = run_sh("id -u", NULL, NULL);
  snprintf(want, sizeof want, "%u\n", RANGE_FIRST);
  ck_assert_msg(job->out && strcmp(job->out, want) == 0, "out: %s", job->out ? job->out : "");
  harness_job_free(job);
}
END_TEST

START_TEST(no_new_privileges) {
  /* A set-user-ID program of the host gives the job no more than its uid. */
  harness_job *job = run_sh("grep NoNewPrivs /proc/self/status", NULL, NULL);
  ck_assert_msg(job->out && strcmp(job->out, "NoNewPrivs:\t1\n") == 0, "out: %s",
                job->out ? job->out : "");
  harness_job_free(job);
}
END_TEST

START_TEST(uid_range_is_checked) {
  static const char *const bad[][2] = {
      {"0-10", "0 < first"},
      {"60000-70000", "65534"},
      {"2013265920-4294967294", "2147483647"},
      {"12", "first-last"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char config[200];
    snprintf(config, sizeof config, "{" ALLOWED ", \"uid_range\": \"%s\"}", bad[i][0]);
    harness_plugin p;
    ck_assert_msg(harness_load(EXECD_KIND_BACKEND, "local", config, &p) != 0, "%s accepted",
                  bad[i][0]);
    ck_assert_msg(strstr(harness_last_error(), bad[i][1]), "%s: %s", bad[i][0],
                  harness_last_error());
  }
  if (geteuid() != 0)
    return; /* accounts are checked only when uids are switched */
  harness_plugin p;
  ck_assert(harness_load(EXECD_KIND_BACKEND, "local", "{" ALLOWED ", \"uid_range\": \"1-10\"}",
                         &p) != 0);
  ck_assert_msg(strstr(harness_last_error(), "holds the"), "%s", harness_last_error());
}
END_TEST

START_TEST(processes_that_left_the_group_die_with_the_attempt) {
  if (geteuid() != 0)
    return;
  /* The leader waits until the other process has a session of its own. */
  harness_job *job = run_sh(
      "setsid sh -c 'echo $$ > \"$WORKSPACE_OUTPUT/left\"; exec sleep 300' "
      ">/dev/null 2>&1 </dev/null & i=0; "
      "while [ ! -s \"$WORKSPACE_OUTPUT/left\" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; "
      "cat \"$WORKSPACE_OUTPUT/left\"",
      NULL, NULL);
  pid_t left = (pid_t)atoi(job->out ? job->out : "0");
  ck_assert_int_gt(left, 1);
  ck_assert_msg(process_gone(left), "process %d of the attempt's uid outlived it", (int)left);
  harness_job_free(job);
}
END_TEST

/* The harness's cleanup after a crash that left a workspace mounted in its
 * scratch tree: unmounted, then the whole tree removed. */
START_TEST(scratch_cleanup_unmounts_what_a_crash_left) {
  if (geteuid() != 0)
    return; /* mounting needs root */
  harness_scratch_begin();
  char root[256], ws[300], file[320];
  snprintf(root, sizeof root, "%s", harness_tmpdir());
  snprintf(ws, sizeof ws, "%s/work", root);
  snprintf(file, sizeof file, "%s/left", ws);
  ck_assert_int_eq(mkdir(ws, 0700), 0);
  ck_assert_msg(mount("tmpfs", ws, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") == 0, "mount: %s",
                strerror(errno));
  FILE *f = fopen(file, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  harness_scratch_end();
  struct stat st;
  ck_assert_msg(stat(root, &st) != 0 && errno == ENOENT, "%s is still there", root);
}
END_TEST

static Suite *local_suite(void) {
  Suite *s = suite_create("local backend");
  TCase *harness = tcase_create("harness");
  tcase_add_test(harness, scratch_cleanup_unmounts_what_a_crash_left);
  suite_add_tcase(s, harness);
  TCase *tc = tcase_create("local");
  tcase_add_checked_fixture(tc, setup_default, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, allow_list_and_paths);
  tcase_add_test(tc, missing_program_fails_start_cleanly);
  tcase_add_test(tc, exec_failure_after_start_is_reported);
  tcase_add_test(tc, signal_before_the_job_runs_is_delivered);
  tcase_add_test(tc, signal_kills_the_whole_process_group);
  tcase_add_test(tc, leftovers_die_with_the_leader);
  tcase_add_test(tc, rlimits_apply);
  tcase_add_test(tc, network_none_sees_only_loopback);
  tcase_add_test(tc, pids_limit_stops_fork_bombs);
  tcase_add_test(tc, usage_is_recorded);
  suite_add_tcase(s, tc);
  /* Without the checked fixture: the test forks a "daemon", and a fork
   * of a process whose plugin threads run (spawners, namespaces) may copy
   * a lock one of them holds (under ASan, its allocator's), and the child
   * then waits for it for ever. */
  TCase *death = tcase_create("daemon death");
  tcase_add_checked_fixture(death, make_workspace, remove_workspace);
  tcase_add_unchecked_fixture(death, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(death, 120);
  tcase_add_test(death, jobs_die_with_the_daemon);
  suite_add_tcase(s, death);
  TCase *user = tcase_create("user switch");
  tcase_add_checked_fixture(user, setup_nobody, teardown);
  tcase_add_unchecked_fixture(user, harness_scratch_begin, harness_scratch_end);
  tcase_add_test(user, runs_as_the_configured_user);
  suite_add_tcase(s, user);
  TCase *own = tcase_create("uid per attempt");
  tcase_add_checked_fixture(own, setup_own_uids, teardown);
  tcase_add_unchecked_fixture(own, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(own, 120);
  tcase_add_test(own, each_attempt_has_a_uid_of_its_own);
  tcase_add_test(own, uid_range_is_checked);
  tcase_add_test(own, no_new_privileges);
  tcase_add_test(own, processes_that_left_the_group_die_with_the_attempt);
  suite_add_tcase(s, own);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(local_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
