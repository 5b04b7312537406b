/* The kubernetes-job backend's own guarantees beyond the conformance
 * suite, against a real cluster (run by run-kubernetes.sh, which skips
 * without one):
 *   EXECD_KUBE_TEST_CONFIG          the backend's config (JSON)
 *   EXECD_KUBE_TEST_LIMITED_CONFIG  the same with a token that may do nothing
 *   EXECD_KUBE_TEST_IMAGE           an allowed image with busybox
 * Hardening seen from inside the pod, a 20 MB file each way, a refused
 * image (nothing created), the limited token's 403. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 120000
#define BIG (20 << 20)

static harness_plugin backend;
static const execd_backend_ops *ops;
static char workspace[256];
static unsigned seq;

static void make_workspace(void) {
  snprintf(workspace, sizeof workspace, "%s/execd-kube-XXXXXX", harness_tmpdir());
  ck_assert_ptr_nonnull(mkdtemp(workspace));
  chmod(workspace, 0755);
  const char *subs[] = {"input", "config", "output"};
  for (int i = 0; i < 3; i++) {
    char d[300];
    snprintf(d, sizeof d, "%s/%s", workspace, subs[i]);
    ck_assert_int_eq(mkdir(d, 0755), 0);
  }
}

static void load(const char *var) {
  const char *config = getenv(var);
  ck_assert_msg(config && *config, "%s is not set (run through run-kubernetes.sh)", var);
  int rc = harness_load(EXECD_KIND_BACKEND, "kubernetes-job", config, &backend);
  ck_assert_msg(rc == 0, "loading: %s", harness_last_error());
  ops = backend.ops;
  make_workspace();
}

static void setup(void) {
  load("EXECD_KUBE_TEST_CONFIG");
}

static void setup_limited(void) {
  load("EXECD_KUBE_TEST_LIMITED_CONFIG");
}

static void teardown(void) {
  harness_unload(&backend);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
  ck_assert_int_eq(system(cmd), 0);
}

static void spec_for(execd_job_spec *spec, execd_limits *lim, const char **argv, char *id,
                     size_t idlen, const char *image) {
  snprintf(id, idlen, "0190c0de-%04x-7000-9000-%012u", (unsigned)getpid() & 0xffff, ++seq);
  static const char *env[] = {"PATH=/bin:/usr/bin", NULL};
  *lim = (execd_limits){.network = "none", .timeout_ms = WAIT_MS};
  *spec = (execd_job_spec){.struct_size = sizeof *spec, .execution_id = id, .attempt = 1,
                           .argv = argv, .image = image, .env = env, .workspace = workspace,
                           .limits = lim};
}

static harness_job *run(const char *script) {
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  char id[64];
  execd_job_spec spec;
  execd_limits lim;
  spec_for(&spec, &lim, argv, id, sizeof id, getenv("EXECD_KUBE_TEST_IMAGE"));
  ck_assert_msg(ops->check(backend.self, &spec) == 0, "check: %s", harness_last_error());
  harness_job *job = harness_job_new();
  void *handle;
  ck_assert_msg(ops->start(backend.self, &spec, (execd_job *)job, &handle) == 0, "start: %s",
                harness_last_error());
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "the job did not end");
  return job;
}

START_TEST(hardening_seen_from_inside_the_pod) {
  harness_job *job = run(
      "echo uid=$(id -u) gid=$(id -g); grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "
      "/proc/self/status; touch /probe 2>/dev/null && echo rootfs=writable || echo "
      "rootfs=read-only; ls /var/run/secrets/kubernetes.io/serviceaccount 2>/dev/null && echo "
      "token=mounted || echo token=none; echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
      "2>/dev/null || cat /sys/fs/cgroup/memory.max)");
  printf("hardening probe from inside the pod:\n%s", job->out ? job->out : "");
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_ptr_nonnull(strstr(job->out, "uid=65534 gid=65534"));
  ck_assert_ptr_nonnull(strstr(job->out, "CapEff:\t0000000000000000"));
  ck_assert_ptr_nonnull(strstr(job->out, "NoNewPrivs:\t1"));
  ck_assert_ptr_nonnull(strstr(job->out, "Seccomp:\t2"));
  ck_assert_ptr_nonnull(strstr(job->out, "rootfs=read-only"));
  ck_assert_ptr_nonnull(strstr(job->out, "token=none"));
  ck_assert_ptr_null(strstr(job->out, "memory=max"));
  harness_job_free(job);
}
END_TEST

START_TEST(twenty_megabytes_each_way) {
  char path[400];
  snprintf(path, sizeof path, "%s/input/big.bin", workspace);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  unsigned x = 12345;
  for (int i = 0; i < BIG; i++) {
    x = x * 1103515245u + 12345u;
    fputc((int)(x >> 16) & 0xff, f);
  }
  fclose(f);
  char cmd[600], want[200] = "", got[200] = "";
  snprintf(cmd, sizeof cmd, "sha256sum < '%s'", path);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(fgets(want, sizeof want, p));
  pclose(p);
  harness_job *job = run("sha256sum < /workspace/input/big.bin; "
                         "head -c 20971520 /workspace/input/big.bin | tr '\\000-\\377' "
                         "'\\001-\\377\\000' > /workspace/output/big.out");
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_msg(job->out && strncmp(job->out, want, 64) == 0, "in the pod: %s, here: %s",
                job->out, want);
  snprintf(path, sizeof path, "%s/output/big.out", workspace);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(st.st_size, BIG);
  snprintf(cmd, sizeof cmd, "tr '\\001-\\377\\000' '\\000-\\377' < '%s' | sha256sum", path);
  p = popen(cmd, "r");
  ck_assert_ptr_nonnull(fgets(got, sizeof got, p));
  pclose(p);
  ck_assert_msg(strncmp(got, want, 64) == 0, "the 20 MB output came back changed");
  printf("20 MB in and 20 MB out: sha256 %.64s both ways\n", want);
  harness_job_free(job);
}
END_TEST

START_TEST(an_image_not_allowed_is_refused_at_check) {
  const char *argv[] = {"/bin/true", NULL};
  char id[64];
  execd_job_spec spec;
  execd_limits lim;
  spec_for(&spec, &lim, argv, id, sizeof id, "docker.io/library/nginx:latest");
  ck_assert_int_eq(ops->check(backend.self, &spec), EXECD_EPERM);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "image_not_allowed"));
  harness_job *job = harness_job_new();
  void *handle;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), EXECD_EPERM);
  ck_assert_int_eq(job->exited, 0);
  harness_job_free(job);
}
END_TEST

START_TEST(a_token_without_rights_gets_a_clear_403) {
  harness_job *job = run("true");
  printf("limited token: %s: %s\n", job->error_code, job->error_message);
  ck_assert_str_eq(job->error_code, "backend_forbidden");
  ck_assert_int_eq(job->exit.retryable, 0);
  ck_assert_ptr_nonnull(strstr(job->error_message, "403 Forbidden"));
  ck_assert_ptr_nonnull(strstr(job->error_message, "create jobs.batch"));
  harness_job_free(job);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kubernetes backend");
  TCase *tc = tcase_create("cluster");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, hardening_seen_from_inside_the_pod);
  tcase_add_test(tc, twenty_megabytes_each_way);
  tcase_add_test(tc, an_image_not_allowed_is_refused_at_check);
  suite_add_tcase(s, tc);
  TCase *lim = tcase_create("limited token");
  tcase_add_checked_fixture(lim, setup_limited, teardown);
  tcase_add_unchecked_fixture(lim, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(lim, 60);
  tcase_add_test(lim, a_token_without_rights_gets_a_clear_403);
  suite_add_tcase(s, lim);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_VERBOSE);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
