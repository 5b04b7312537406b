/* The kubernetes-job backend's own guarantees beyond the conformance
 * suite, against a real cluster (run by run-kubernetes.sh, which skips
 * without one):
 *   EXECD_KUBE_TEST_CONFIG          the backend's config (JSON)
 *   EXECD_KUBE_TEST_LIMITED_CONFIG  the same with a token that may do nothing
 *   EXECD_KUBE_TEST_IMAGE           an allowed image with busybox
 *   KUBE_API, KUBE_TOKEN, KUBE_CA, KUBE_CLIENT_CERT, KUBE_CLIENT_KEY
 *                                   (kube-local env): written into kubeconfig
 *                                   files and a service account directory
 * Hardening seen from inside the pod, a 20 MB file each way, a refused
 * image (nothing created), the limited token's 403, the connection from a
 * kubeconfig file and from the in-cluster service account, and what a bad
 * kubeconfig is told. */
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

/* ---- kubeconfig and in-cluster -------------------------------------------------- */

static char *base64_of(const char *file) {
  ck_assert_msg(file != NULL, "KUBE_CA, KUBE_CLIENT_CERT or KUBE_CLIENT_KEY is unset (kube-local env)");
  char cmd[600], *out = calloc(1, 65536);
  snprintf(cmd, sizeof cmd, "base64 -w0 < '%s'", file);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out, 1, 65535, p);
  pclose(p);
  ck_assert_uint_gt(n, 0);
  return out;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* The backend's policy keys, after the keys that say how to connect. */
#define POLICY                                                                                    \
  "\"images_allowed\": [\"%s\"], \"helper_image\": \"%s\", \"pull\": \"never\", \"cpus\": 0.1, " \
  "\"termination_grace\": 10000, \"host_network\": true}"

static char *config_with(const char *connect) {
  const char *image = getenv("EXECD_KUBE_TEST_IMAGE");
  char glob[200];
  snprintf(glob, sizeof glob, "%.*s:*", (int)strcspn(image, ":"), image);
  char *c = NULL;
  ck_assert_int_ge(asprintf(&c, "{%s, " POLICY, connect, glob, image), 0);
  return c;
}

static void load_config(const char *config) {
  int rc = harness_load(EXECD_KIND_BACKEND, "kubernetes-job", config, &backend);
  ck_assert_msg(rc == 0, "loading %s: %s", config, harness_last_error());
  ops = backend.ops;
}

static int healthy(void *arg) {
  (void)arg;
  return ops->health(backend.self) == 0;
}

static void setup_files(void) {
  make_workspace();
}

START_TEST(kubeconfig_with_certificate_data_runs_a_job) {
  char *ca = base64_of(getenv("KUBE_CA"));
  char *cert = base64_of(getenv("KUBE_CLIENT_CERT"));
  char *key = base64_of(getenv("KUBE_CLIENT_KEY"));
  char path[400], text[16384];
  snprintf(path, sizeof path, "%s/kubeconfig", workspace);
  snprintf(text, sizeof text,
           "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
           "clusters:\n- name: local\n  cluster:\n    server: %s\n"
           "    certificate-authority-data: %s\n"
           "users:\n- name: other\n  user: {token: not-this-one}\n"
           "- name: admin\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n"
           "contexts:\n- name: test\n  context: {cluster: local, user: admin, namespace: default}\n",
           getenv("KUBE_API"), ca, cert, key);
  write_file(path, text);
  free(ca);
  free(cert);
  free(key);
  char connect[600], *config;
  snprintf(connect, sizeof connect, "\"kubeconfig\": \"%s\"", path);
  config = config_with(connect);
  load_config(config);
  free(config);
  harness_job *job = run("echo through-the-kubeconfig");
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out, "through-the-kubeconfig\n");
  printf("kubeconfig (client certificate data): %s", job->out);
  harness_job_free(job);
}
END_TEST

START_TEST(kubeconfig_with_files_and_a_token_file) {
  char path[400], tok[400], text[4096];
  snprintf(tok, sizeof tok, "%s/token", workspace);
  snprintf(text, sizeof text, "%s\n", getenv("KUBE_TOKEN"));
  write_file(tok, text);
  snprintf(path, sizeof path, "%s/kubeconfig", workspace);
  /* tokenFile relative to the kubeconfig's directory */
  snprintf(text, sizeof text,
           "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
           "clusters: [{name: c, cluster: {server: \"%s\", certificate-authority: \"%s\"}}]\n"
           "users: [{name: u, user: {tokenFile: token}}]\n"
           "contexts: [{name: t, context: {cluster: c, user: u}}]\n",
           getenv("KUBE_API"), getenv("KUBE_CA"));
  write_file(path, text);
  char connect[600], *config;
  snprintf(connect, sizeof connect, "\"kubeconfig\": \"%s\"", path);
  config = config_with(connect);
  load_config(config);
  free(config);
  ck_assert_msg(harness_run_until(healthy, NULL, 30000), "not healthy: %s", harness_last_error());
}
END_TEST

START_TEST(in_cluster_service_account) {
  char dir[400], f[500], text[300];
  snprintf(dir, sizeof dir, "%s/serviceaccount", workspace);
  ck_assert_int_eq(mkdir(dir, 0755), 0);
  snprintf(f, sizeof f, "%s/token", dir);
  write_file(f, getenv("KUBE_TOKEN"));
  snprintf(f, sizeof f, "%s/namespace", dir);
  write_file(f, "default\n");
  snprintf(f, sizeof f, "cp '%s' '%s/ca.crt'", getenv("KUBE_CA"), dir);
  ck_assert_int_eq(system(f), 0);
  /* KUBE_API is https://HOST:PORT */
  const char *hostport = getenv("KUBE_API") + strlen("https://");
  const char *colon = strrchr(hostport, ':');
  ck_assert_ptr_nonnull(colon);
  snprintf(text, sizeof text, "%.*s", (int)(colon - hostport), hostport);
  setenv("KUBERNETES_SERVICE_HOST", text, 1);
  setenv("KUBERNETES_SERVICE_PORT", colon + 1, 1);
  char connect[600], *config;
  snprintf(connect, sizeof connect, "\"in_cluster\": true, \"service_account_dir\": \"%s\"", dir);
  config = config_with(connect);
  load_config(config);
  free(config);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  ck_assert_msg(harness_run_until(healthy, NULL, 30000), "not healthy: %s", harness_last_error());
  harness_job *job = run("echo in-cluster");
  ck_assert_int_eq(job->exit.exit_code, 0);
  ck_assert_str_eq(job->out, "in-cluster\n");
  printf("in_cluster service account: %s", job->out);
  harness_job_free(job);
}
END_TEST

/* A kubeconfig that does not say one clear thing is refused at load, the
 * message naming the file and what is wrong. */
START_TEST(bad_kubeconfigs_are_refused_naming_the_problem) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"apiVersion: v1\nclusters: []\n", "current-context is not set"},
      {"current-context: x\ncontexts: []\n", "\"x\" is not in contexts"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\nusers: []\n",
       "\"u\" is not in users"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n"
       "users: [{name: u, user: {exec: {command: aws}}}]\n",
       "user \"u\": exec is not supported"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\", "
       "certificate-authority-data: \"!!notbase64\"}}]\nusers: [{name: u, user: {token: t}}]\n",
       "certificate-authority-data is not base64"},
      {"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
       "users: [{name: u, user: {token: t}}]\n",
       "must start with https://"},
      {"current-context: [unclosed\n", "not YAML"},
      {"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
       "nested deeper than 32 levels"},
  };
  char path[400], connect[600];
  snprintf(path, sizeof path, "%s/kubeconfig", workspace);
  snprintf(connect, sizeof connect, "\"kubeconfig\": \"%s\"", path);
  char *config = config_with(connect);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_file(path, cases[i].text);
    ck_assert_int_ne(harness_load(EXECD_KIND_BACKEND, "kubernetes-job", config, &backend), 0);
    const char *e = harness_last_error();
    ck_assert_msg(strstr(e, path) && strstr(e, cases[i].want), "case %zu: %s", i, e);
    printf("refused: %s\n", e);
  }
  free(config);
  /* Two ways at once, and in_cluster outside a pod. */
  config = config_with("\"kubeconfig\": \"/x\", \"api_url\": \"https://127.0.0.1:6443\"");
  ck_assert_int_ne(harness_load(EXECD_KIND_BACKEND, "kubernetes-job", config, &backend), 0);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "set one"));
  free(config);
  unsetenv("KUBERNETES_SERVICE_HOST");
  config = config_with("\"in_cluster\": true");
  ck_assert_int_ne(harness_load(EXECD_KIND_BACKEND, "kubernetes-job", config, &backend), 0);
  ck_assert_ptr_nonnull(strstr(harness_last_error(), "KUBERNETES_SERVICE_HOST"));
  free(config);
  ops = NULL;
}
END_TEST

static void teardown_files(void) {
  if (ops)
    harness_unload(&backend);
  ops = NULL;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
  ck_assert_int_eq(system(cmd), 0);
}

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
  TCase *conn = tcase_create("connection");
  tcase_add_checked_fixture(conn, setup_files, teardown_files);
  tcase_add_unchecked_fixture(conn, harness_scratch_begin, harness_scratch_end);
  tcase_set_timeout(conn, 240);
  tcase_add_test(conn, bad_kubeconfigs_are_refused_naming_the_problem);
  tcase_add_test(conn, kubeconfig_with_files_and_a_token_file);
  tcase_add_test(conn, in_cluster_service_account);
  tcase_add_test(conn, kubeconfig_with_certificate_data_runs_a_job);
  suite_add_tcase(s, conn);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_VERBOSE);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
