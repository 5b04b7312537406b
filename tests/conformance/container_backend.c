/* See container_backend.h.  The guarantees of a container backend (docker
 * or podman), checked against its real engine: hardening seen from inside
 * the job, limits a request cannot widen, images outside images_allowed
 * refused before anything exists, a missing image with pull "never",
 * outputs and stdin, and no container left behind; and, with no engine,
 * bad configuration and an engine that is gone.  Where the engines differ
 * the test branches on the flavor (is_podman()) and says why. */
#include "config.h"

#include "container_backend.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 60000

static const container_engine *engine;
static const char *sock;
static char tls_host[256]; /* with engine->tls: "tcp://HOST:PORT" */
static char tls_dir[512];  /* ca.pem, cert.pem, key.pem */
static const char *where;  /* how messages name the engine: sock or tls_host */
static const char *image;
static harness_plugin backend;
static const execd_backend_ops *ops;
static char workspace[64];
static unsigned seq;

static int is_podman(void) {
  return strcmp(engine->plugin, "podman") == 0;
}

/* ---- talking to the engine directly, to see what exists ------------------ */

typedef struct body {
  char data[65536];
  size_t len;
} body;

static size_t collect(char *p, size_t size, size_t n, void *arg) {
  body *b = arg;
  size_t len = size * n;
  size_t room = sizeof b->data - 1 - b->len;
  size_t take = len < room ? len : room;
  memcpy(b->data + b->len, p, take);
  b->len += take;
  b->data[b->len] = '\0';
  return len;
}

/* A request to path on the engine: over its socket, or its TLS endpoint
 * with the client certificate. */
static void engine_at(CURL *c, const char *path) {
  char url[1024], file[600];
  if (!engine->tls) {
    snprintf(url, sizeof url, "http://localhost/v1.41%s", path);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
  } else {
    snprintf(url, sizeof url, "https://%s/v1.41%s", tls_host + strlen("tcp://"), path);
    snprintf(file, sizeof file, "%s/ca.pem", tls_dir);
    curl_easy_setopt(c, CURLOPT_CAINFO, file);
    snprintf(file, sizeof file, "%s/cert.pem", tls_dir);
    curl_easy_setopt(c, CURLOPT_SSLCERT, file);
    snprintf(file, sizeof file, "%s/key.pem", tls_dir);
    curl_easy_setopt(c, CURLOPT_SSLKEY, file);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
}

/* METHOD path on the engine (a POST or DELETE with the JSON body json),
 * within timeout seconds; returns the HTTP status, body in *out. */
static long engine_request(const char *method, const char *path, const char *json, long timeout,
                           body *out) {
  CURL *c = curl_easy_init();
  out->len = 0;
  out->data[0] = '\0';
  struct curl_slist *h = NULL;
  engine_at(c, path);
  if (strcmp(method, "GET") != 0) {
    h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json ? json : "");
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  long status = 0;
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

static long engine_get(const char *path, body *out) {
  return engine_request("GET", path, NULL, 10L, out);
}

static long engine_call(const char *method, const char *path, const char *json, body *out) {
  return engine_request(method, path, json, 30L, out);
}

/* Containers (running or not) labelled with this execution id. */
static size_t containers_of(const char *execution_id) {
  char filter[256], path[512];
  snprintf(filter, sizeof filter, "{\"label\":[\"execd.execution=%s\"]}", execution_id);
  char *esc = curl_easy_escape(NULL, filter, 0);
  snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", esc);
  curl_free(esc);
  body b;
  ck_assert_int_eq(engine_get(path, &b), 200);
  json_t *list = json_loads(b.data, 0, NULL);
  ck_assert_msg(json_is_array(list), "container list is not an array: %s", b.data);
  size_t n = json_array_size(list);
  json_decref(list);
  return n;
}

static int gone(void *arg) {
  return containers_of(arg) == 0;
}

/* A finished attempt's container is removed after its exit is reported,
 * in the background: the loop runs until it is gone. */
static void assert_removed(const char *execution_id) {
  ck_assert_msg(harness_run_until(gone, (void *)execution_id, WAIT_MS),
                "the container of %s is still there", execution_id);
}

/* ---- fixture ----------------------------------------------------------- */

/* Loads the plugin with where the engine is (its socket, or its TLS
 * endpoint with tls, unless tls_material gives the tls_* keys), the image
 * allowed, and extra keys. */
static void load_with(const char *tls_material, const char *extra) {
  char repo[128], at[2048], config[2560];
  snprintf(repo, sizeof repo, "%s", image);
  char *colon = strrchr(repo, ':');
  if (colon)
    *colon = '\0';
  if (!engine->tls)
    snprintf(at, sizeof at, "\"socket\": \"%s\"", sock);
  else if (tls_material)
    snprintf(at, sizeof at, "\"endpoint\": \"%s\", %s", tls_host, tls_material);
  else
    snprintf(at, sizeof at,
             "\"endpoint\": \"%s\", \"tls_ca\": \"%s/ca.pem\", \"tls_cert\": \"%s/cert.pem\", "
             "\"tls_key\": \"%s/key.pem\"",
             tls_host, tls_dir, tls_dir, tls_dir);
  snprintf(config, sizeof config, "{%s, \"images_allowed\": [\"%s:*\"]%s%s}", at, repo,
           extra ? ", " : "", extra ? extra : "");
  int rc = harness_load(EXECD_KIND_BACKEND, engine->plugin, config, &backend);
  ck_assert_msg(rc == 0, "loading the %s backend: %s", engine->plugin, harness_last_error());
  ops = backend.ops;
}

static void load(const char *extra) {
  load_with(NULL, extra);
}

static void setup(void) {
  snprintf(workspace, sizeof workspace, "%s/execd-%stest-XXXXXX", harness_tmpdir(),
           engine->plugin);
  ck_assert_ptr_nonnull(mkdtemp(workspace));
  chmod(workspace, 0755);
  const char *subs[] = {"input", "config", "output"};
  for (int i = 0; i < 3; i++) {
    char d[128];
    snprintf(d, sizeof d, "%s/%s", workspace, subs[i]);
    ck_assert_int_eq(mkdir(d, 0755), 0);
  }
  backend.plugin = NULL;
}

static void teardown(void) {
  if (backend.plugin)
    harness_unload(&backend);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", workspace);
  ck_assert_int_eq(system(cmd), 0);
}

static void spec_for(execd_job_spec *spec, execd_limits *limits, const char *img,
                     const char *const *argv, char *id, size_t id_size) {
  static const char *env[] = {"PATH=/bin", NULL};
  snprintf(id, id_size, "0190c0de-d0c0-7000-8000-%06u%06u", ++seq,
           (unsigned)getpid() % 1000000); /* each test runs in its own process */
  *spec = (execd_job_spec){
      .struct_size = sizeof *spec,
      .execution_id = id,
      .attempt = 1,
      .argv = argv,
      .image = img,
      .env = env,
      .workspace = workspace,
      .limits = limits,
  };
}

static harness_job *run(const char *img, const char *script, execd_limits *limits, char *id,
                        size_t id_size) {
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  execd_job_spec spec;
  spec_for(&spec, limits, img, argv, id, id_size);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  int rc = ops->start(backend.self, &spec, (execd_job *)job, &handle);
  ck_assert_msg(rc == 0, "start: %s (%s)", execd_strerror(rc), harness_last_error());
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "the job did not exit");
  ck_assert_int_eq(job->exited, 1);
  return job;
}

/* ---- tests against the engine ------------------------------------------ */

static int never(void *arg) {
  (void)arg;
  return 0;
}

/* The limits as the job's cgroup has them: cgroup v1 (a mount per
 * controller) or v2 (one mount), whichever the host has.  Both engines
 * mount the container's own cgroup at /sys/fs/cgroup: on a v1 host (as
 * measured with podman 4.3 and runc, and docker 20.10) the same paths
 * under memory/ and pids/. */
#define CGROUP_LIMITS                                                                       \
  "echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max " \
  "2>/dev/null); "                                                                          \
  "echo pids=$(cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null); "

START_TEST(hardening_is_seen_from_inside) {
  load(NULL);
  execd_limits limits = {.memory_bytes = 64 << 20, .pids = 100, .network = "none"};
  char id[64];
  harness_job *job = run(image,
                         "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status; "
                         "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/if=/'; "
                         "if touch /x 2>/dev/null; then echo root=writable; "
                         "else echo root=readonly; fi; "
                         "echo rootmount=$(grep '^[^ ]* / ' /proc/mounts | tail -n 1 | "
                         "cut -d' ' -f4 | cut -d, -f1); "
                         "echo uid=$(id -u); " CGROUP_LIMITS
                         "touch /tmp/t && echo tmp=writable; "
                         "echo tmpowner=$(stat -c %u:%a /tmp); "
                         "grep ' /tmp ' /proc/mounts | cut -d' ' -f4 | tr , '\\n' | "
                         "sed 's/^/tmpopt=/'",
                         &limits, id, sizeof id);
  ck_assert_int_eq(job->exit.exit_code, 0);
  const char *out = job->out ? job->out : "";
  ck_assert_msg(strstr(out, "CapEff:\t0000000000000000\n"), "capabilities left: %s", out);
  /* A non-root job has no effective capabilities anyway: the bounding set
   * is what CapDrop ALL empties. */
  ck_assert_msg(strstr(out, "CapBnd:\t0000000000000000\n"), "capabilities not dropped: %s", out);
  ck_assert_msg(strstr(out, "NoNewPrivs:\t1\n"), "no_new_privs not set: %s", out);
  ck_assert_msg(strstr(out, "if=lo\n"), "no loopback: %s", out);
  const char *ifs = out;
  int interfaces = 0;
  while ((ifs = strstr(ifs, "if="))) {
    interfaces++;
    ifs += 3;
  }
  ck_assert_msg(interfaces == 1, "network interfaces besides lo: %s", out);
  /* The job's user cannot write / anyway: the mount is what must be ro. */
  ck_assert_msg(strstr(out, "root=readonly\n"), "root file system writable: %s", out);
  ck_assert_msg(strstr(out, "rootmount=ro\n"), "root file system not mounted read-only: %s", out);
  ck_assert_msg(strstr(out, "uid=") && !strstr(out, "uid=0\n"), "runs as root: %s", out);
  ck_assert_msg(strstr(out, "uid=65534\n"), "not the default user: %s", out);
  ck_assert_msg(strstr(out, "mem=67108864\n"), "memory limit not applied: %s", out);
  ck_assert_msg(strstr(out, "pids=100\n"), "pids limit not applied: %s", out);
  ck_assert_msg(strstr(out, "tmp=writable\n"), "/tmp not writable for the job: %s", out);
  ck_assert_msg(strstr(out, "tmpopt=noexec\n") && strstr(out, "tmpopt=nosuid\n") &&
                    strstr(out, "tmpopt=nodev\n"),
                "/tmp not mounted noexec,nosuid,nodev: %s", out);
  /* Docker's tmpfs takes uid=/gid= (owned by the job's user); podman 4.3
   * refuses them, so the flavor asks for mode=1777 instead (world-writable
   * and sticky, like the host's /tmp). */
  if (is_podman())
    ck_assert_msg(strstr(out, "tmpowner=0:1777\n"), "/tmp not root's with mode 1777: %s", out);
  else
    ck_assert_msg(strstr(out, "tmpowner=65534:"), "/tmp not the job user's: %s", out);
  assert_removed(id);
  harness_job_free(job);
}
END_TEST

START_TEST(request_cannot_widen_the_backend_limits) {
  load("\"memory\": 33554432, \"pids_limit\": 50");
  execd_limits limits = {.memory_bytes = 256 << 20, .pids = 500, .network = "none"};
  char id[64];
  harness_job *job = run(image, CGROUP_LIMITS, &limits, id, sizeof id);
  const char *out = job->out ? job->out : "";
  ck_assert_msg(strstr(out, "mem=33554432\n"), "memory widened by the request: %s", out);
  ck_assert_msg(strstr(out, "pids=50\n"), "pids widened by the request: %s", out);
  harness_job_free(job);
}
END_TEST

START_TEST(image_outside_images_allowed_is_refused_before_anything_exists) {
  load(NULL);
  const char *argv[] = {"/bin/true", NULL};
  execd_limits limits = {.network = "none"};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, &limits, "docker.io/library/alpine:latest", argv, id, sizeof id);
  ck_assert_int_eq(ops->check(backend.self, &spec), EXECD_EPERM);
  ck_assert_msg(strstr(harness_last_error(), "image_not_allowed") &&
                    strstr(harness_last_error(), "alpine"),
                "message: %s", harness_last_error());
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), EXECD_EPERM);
  harness_run_until(never, NULL, 200); /* let a wrongly started job show up */
  ck_assert_int_eq(job->exited, 0);
  assert_removed(id);
  harness_job_free(job);
}
END_TEST

START_TEST(missing_image_with_pull_never_is_image_not_found) {
  load("\"pull\": \"never\"");
  char repo[160], id[64];
  snprintf(repo, sizeof repo, "%s", image);
  char *colon = strrchr(repo, ':');
  if (colon)
    *colon = '\0';
  strcat(repo, ":no-such-tag-execd");
  execd_limits limits = {.network = "none"};
  harness_job *job = run(repo, "true", &limits, id, sizeof id);
  ck_assert_ptr_nonnull(job->exit.error_code);
  ck_assert_str_eq(job->exit.error_code, EXECD_ERR_IMAGE_NOT_FOUND);
  ck_assert_int_eq(job->exit.retryable, 0);
  ck_assert_msg(strstr(job->exit.error_message, "no-such-tag-execd"), "message: %s",
                job->exit.error_message);
  assert_removed(id);
  harness_job_free(job);
}
END_TEST

/* The job's outputs reach the host workspace, and its stdin is the
 * request's, then closed: with the workspace bind-mounted (the default) or
 * copied into a volume and back. */
static void outputs_and_stdin(const char *workspace_mount) {
  char extra[64];
  snprintf(extra, sizeof extra, "\"workspace_mount\": \"%s\"", workspace_mount);
  load(extra);
  const char *argv[] = {"/bin/sh", "-c",
                        "cat > \"$WORKSPACE_OUTPUT/echo.txt\"; mkdir \"$WORKSPACE_OUTPUT/d\"; "
                        "echo nested > \"$WORKSPACE_OUTPUT/d/n.txt\"; "
                        "ln -s /etc/passwd \"$WORKSPACE_OUTPUT/link\"",
                        NULL};
  static const char *env[] = {"PATH=/bin", "WORKSPACE_OUTPUT=/workspace/output", NULL};
  execd_limits limits = {.network = "none"};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, &limits, image, argv, id, sizeof id);
  spec.env = env;
  spec.stdin_data = "{\"envelope\": 1}\n";
  spec.stdin_len = strlen(spec.stdin_data);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), 0);
  ck_assert(harness_wait_job(job, WAIT_MS));
  ck_assert_msg(job->exit.exit_code == 0, "exit %d: %s %s", job->exit.exit_code,
                job->err ? job->err : "", job->error_message);
  ck_assert_ptr_null(job->exit.error_code);
  char path[128], text[64] = "";
  snprintf(path, sizeof path, "%s/output/echo.txt", workspace);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "echo.txt not collected");
  ck_assert_ptr_nonnull(fgets(text, sizeof text, f));
  fclose(f);
  ck_assert_str_eq(text, "{\"envelope\": 1}\n");
  snprintf(path, sizeof path, "%s/output/d/n.txt", workspace);
  ck_assert_int_eq(access(path, R_OK), 0);
  /* Copied back, a symlink from the container is not unpacked.  Bind
   * mounted, the host directory holds what the job made, links too; the
   * daemon's output collection skips symlinks (core/outputs.c). */
  if (strcmp(workspace_mount, "volume") == 0) {
    struct stat st;
    snprintf(path, sizeof path, "%s/output/link", workspace);
    ck_assert_msg(lstat(path, &st) != 0, "a symlink from the container was unpacked");
  }
  assert_removed(id);
  harness_job_free(job);
}

START_TEST(outputs_come_back_and_stdin_is_closed_bind_mounted) {
  outputs_and_stdin("bind");
}
END_TEST

START_TEST(outputs_come_back_and_stdin_is_closed_through_a_volume) {
  outputs_and_stdin("volume");
}
END_TEST

/* An io "json" job reads its envelope to the end: the end must come. */
START_TEST(stdin_ends_with_eof) {
  load(NULL);
  const char *argv[] = {"/bin/sh", "-c", "wc -c; echo stdin-closed", NULL};
  execd_limits limits = {.network = "none"};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, &limits, image, argv, id, sizeof id);
  spec.stdin_data = "{\"input\": {\"n\": 1}, \"schema_in\": null, \"schema_out\": null}\n";
  spec.stdin_len = strlen(spec.stdin_data);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), 0);
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "the job did not exit: no EOF on its stdin?");
  ck_assert_int_eq(job->exit.exit_code, 0);
  char want[64];
  snprintf(want, sizeof want, "%zu\nstdin-closed\n", spec.stdin_len);
  ck_assert_str_eq(job->out ? job->out : "", want);
  harness_job_free(job);
}
END_TEST

/* ---- the runtime key ------------------------------------------------------ */

/* The name of crun for this engine: $EXECD_<PLUGIN>_CRUN, else the file
 * /run/execd-test/<plugin>-crun that scripts/engines.sh writes when it
 * registers crun ("crun" for dockerd; for podman a name or a path, as
 * the host needs); NULL if neither. */
static const char *crun_name(void) {
  static char name[256];
  char var[64], file[128];
  snprintf(var, sizeof var, "EXECD_%s_CRUN", is_podman() ? "PODMAN" : "DOCKER");
  const char *env = getenv(var);
  if (env && *env)
    return env;
  snprintf(file, sizeof file, "/run/execd-test/%s-crun", engine->plugin);
  FILE *f = fopen(file, "r");
  if (!f)
    return NULL;
  char *got = fgets(name, sizeof name, f);
  fclose(f);
  if (!got)
    return NULL;
  name[strcspn(name, "\n")] = '\0';
  return name[0] ? name : NULL;
}

typedef struct runtime_seen {
  const char *id;
  char runtime[256];
} runtime_seen;

/* The running container's HostConfig.Runtime, once it exists. */
static int container_runtime_known(void *arg) {
  runtime_seen *r = arg;
  char path[256];
  snprintf(path, sizeof path, "/containers/execd-%s-1/json", r->id);
  body b;
  if (engine_get(path, &b) != 200)
    return 0;
  json_t *doc = json_loads(b.data, 0, NULL);
  const char *rt = json_string_value(json_object_get(json_object_get(doc, "HostConfig"), "Runtime"));
  snprintf(r->runtime, sizeof r->runtime, "%s", rt ? rt : "");
  json_decref(doc);
  return 1;
}

static int health_up(void *arg) {
  (void)arg;
  return ops->health(backend.self) == 0;
}

/* Health down for good: the engine's /info answered against the runtime. */
static int health_down(void *arg) {
  (void)arg;
  return ops->health(backend.self) != 0 && !strstr(harness_last_error(), "not yet known");
}

/* Starts a job printing "ran-under-<runtime>" and checks, while it runs,
 * that its container has want as HostConfig.Runtime (docker), then its
 * output and exit. */
static void runs_with_runtime(const char *runtime, const char *want) {
  char extra[400];
  snprintf(extra, sizeof extra, "\"runtime\": \"%s\"", runtime);
  load(extra);
  /* health is up once the engine's /info answered (podman: the runtime
   * is confirmed as the service's) */
  ck_assert_msg(harness_run_until(health_up, NULL, WAIT_MS), "health: %s", harness_last_error());
  const char *argv[] = {"/bin/sh", "-c", "sleep 2; echo ran", NULL};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, NULL, image, argv, id, sizeof id);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_msg(ops->start(backend.self, &spec, (execd_job *)job, &handle) == 0, "start: %s",
                harness_last_error());
  if (want) {
    runtime_seen seen = {.id = id};
    ck_assert_msg(harness_run_until(container_runtime_known, &seen, WAIT_MS),
                  "the container never appeared");
    ck_assert_str_eq(seen.runtime, want);
  }
  ck_assert_msg(harness_wait_job(job, WAIT_MS), "the job did not exit");
  ck_assert_msg(job->exit.exit_code == 0 && !job->exit.error_code, "exit %d, %s: %s",
                job->exit.exit_code, job->exit.error_code ? job->exit.error_code : "-",
                job->exit.error_message ? job->exit.error_message : "-");
  ck_assert_str_eq(job->out ? job->out : "", "ran\n");
  harness_job_free(job);
}

START_TEST(runtime_crun_runs_the_job) {
  const char *crun = crun_name();
  if (!crun) {
    fprintf(stderr, "\n!!! %s: no crun registered with the engine (scripts/engines.sh start "
                    "registers it when crun is installed): runtime_crun_runs_the_job not run\n\n",
            engine->plugin);
    return;
  }
  if (!is_podman()) {
    runs_with_runtime(crun, crun);
    return;
  }
  /* podman's compat API runs the service's runtime: crun is refused with
   * a message saying so (the service here runs runc), runc runs. */
  char extra[400];
  snprintf(extra, sizeof extra, "\"runtime\": \"%s\"", crun);
  load(extra);
  ck_assert_msg(harness_run_until(health_down, NULL, WAIT_MS), "health stays up with runtime %s",
                crun);
  ck_assert_msg(strstr(harness_last_error(), "--runtime"), "health: %s", harness_last_error());
  execd_job_spec spec;
  char id[64];
  const char *argv[] = {"/bin/true", NULL};
  spec_for(&spec, NULL, image, argv, id, sizeof id);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), EXECD_EUNAVAIL);
  harness_job_free(job);
  harness_unload(&backend);
  backend.plugin = NULL;
  runs_with_runtime("runc", NULL);
}
END_TEST

START_TEST(runtime_the_engine_lacks_is_a_clear_error) {
  load("\"runtime\": \"execd-no-such-runtime\"");
  ck_assert_msg(harness_run_until(health_down, NULL, WAIT_MS), "health stays up");
  ck_assert_msg(strstr(harness_last_error(), "\"execd-no-such-runtime\""), "health: %s",
                harness_last_error());
  char id[64];
  execd_job_spec spec;
  const char *argv[] = {"/bin/true", NULL};
  spec_for(&spec, NULL, image, argv, id, sizeof id);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), EXECD_EUNAVAIL);
  ck_assert_msg(strstr(harness_last_error(), "\"execd-no-such-runtime\""), "start: %s",
                harness_last_error());
  harness_job_free(job);
  assert_removed(id);
}
END_TEST

/* ---- TLS refusals (with engine->tls) ------------------------------------ */

static int health_known(void *arg) {
  (void)arg;
  return ops->health(backend.self) != 0;
}

/* Loaded with this TLS material, the engine refuses execd: health says
 * so, naming the endpoint and the certificate problem, and a job ends
 * backend_unavailable (retryable) with no container made. */
static void refused_over_tls(const char *material, const char *named) {
  load_with(material, NULL);
  ck_assert_msg(harness_run_until(health_known, NULL, 10000), "health still up");
  const char *msg = harness_last_error();
  ck_assert_msg(strstr(msg, tls_host) && strstr(msg, "TLS") && strstr(msg, named),
                "health message: %s", msg);
  execd_limits limits = {.network = "none"};
  char id[64];
  harness_job *job = run(image, "true", &limits, id, sizeof id);
  ck_assert_ptr_nonnull(job->exit.error_code);
  ck_assert_str_eq(job->exit.error_code, EXECD_ERR_BACKEND_UNAVAILABLE);
  ck_assert_int_eq(job->exit.retryable, 1);
  ck_assert_msg(strstr(job->exit.error_message, "TLS") &&
                    strstr(job->exit.error_message, named),
                "job message: %s", job->exit.error_message);
  assert_removed(id);
  harness_job_free(job);
}

START_TEST(engine_certificate_from_another_ca_is_refused) {
  char cmd[1024], material[1200];
  snprintf(cmd, sizeof cmd,
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
           "-subj '/CN=another CA' -keyout '%s/other-key.pem' -out '%s/other-ca.pem' "
           ">/dev/null 2>&1",
           workspace, workspace);
  ck_assert_msg(system(cmd) == 0, "openssl could not make a CA");
  snprintf(material, sizeof material,
           "\"tls_ca\": \"%s/other-ca.pem\", \"tls_cert\": \"%s/cert.pem\", "
           "\"tls_key\": \"%s/key.pem\"",
           workspace, tls_dir, tls_dir);
  refused_over_tls(material, "certificate");
}
END_TEST

/* tls = true alone: the system's CAs, which do not know the test CA. */
START_TEST(engine_certificate_unknown_to_the_system_cas_is_refused) {
  refused_over_tls("\"tls\": true", "certificate");
}
END_TEST

START_TEST(no_client_certificate_is_refused) {
  char material[600];
  snprintf(material, sizeof material, "\"tls_ca\": \"%s/ca.pem\"", tls_dir);
  refused_over_tls(material, "certificate");
}
END_TEST

/* Creates a stopped container with these labels; returns its id (static). */
static const char *leftover(const char *daemon, const char *instance, const char *exec_id) {
  static char id[80];
  char json[1024];
  snprintf(json, sizeof json,
           "{\"Image\": \"%s\", \"Cmd\": [\"true\"], \"Labels\": {\"execd.daemon\": \"%s\", "
           "\"execd.instance\": \"%s\", \"execd.execution\": \"%s\", \"execd.attempt\": \"1\"}}",
           image, daemon, instance, exec_id);
  body b;
  ck_assert_int_eq(engine_call("POST", "/containers/create", json, &b), 201);
  json_t *doc = json_loads(b.data, 0, NULL);
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(doc, "Id")));
  json_decref(doc);
  return id;
}

START_TEST(containers_left_by_an_earlier_run_are_removed_at_start) {
  load(NULL);
  const execd_host *h = harness_host();
  char daemon[256], instance[64], mine[64], theirs[64];
  snprintf(daemon, sizeof daemon, "%s", h->state_dir(backend.inst));
  snprintf(instance, sizeof instance, "%s", h->instance_name(backend.inst));
  harness_unload(&backend);
  backend.plugin = NULL;
  snprintf(mine, sizeof mine, "leftover-mine-%d", (int)getpid());
  snprintf(theirs, sizeof theirs, "leftover-theirs-%d", (int)getpid());
  leftover(daemon, instance, mine);
  char other_id[80];
  snprintf(other_id, sizeof other_id, "%s", leftover("/another/execd", instance, theirs));
  ck_assert_uint_eq(containers_of(mine), 1);

  load(NULL); /* the same daemon starting again, with nothing to re-attach */
  ck_assert_msg(EXECD_BACKEND_HAS(ops, adopt_done), "the plugin has no adopt_done op");
  ops->adopt_done(backend.self);
  ck_assert_msg(harness_run_until(gone, mine, WAIT_MS), "the leftover container is still there");
  ck_assert_uint_eq(containers_of(theirs), 1); /* another daemon's: left alone */
  char path[200];
  body b;
  snprintf(path, sizeof path, "/containers/%s?force=1&v=1", other_id);
  ck_assert_int_eq(engine_call("DELETE", path, NULL, &b), 204); /* podman 4.3 too */
}
END_TEST

/* ---- tests that need no engine ------------------------------------------ */

START_TEST(engine_gone_is_backend_unavailable) {
  const char *config = "{\"socket\": \"/nonexistent/engine.sock\", \"images_allowed\": [\"*\"]}";
  ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, engine->plugin, config, &backend), 0);
  ops = backend.ops;
  ck_assert_int_eq(ops->health(backend.self), EXECD_EUNAVAIL);
  char named[64];
  snprintf(named, sizeof named, "%s engine", engine->plugin);
  ck_assert_msg(strstr(harness_last_error(), "/nonexistent/engine.sock") &&
                    strstr(harness_last_error(), named),
                "message: %s", harness_last_error());
  const char *argv[] = {"/bin/true", NULL};
  execd_limits limits = {.network = "none"};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, &limits, image, argv, id, sizeof id);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), EXECD_EUNAVAIL);
  ck_assert_msg(strstr(harness_last_error(), "backend_unavailable"), "message: %s",
                harness_last_error());
  harness_job_free(job);
}
END_TEST

/* Nothing listens on 127.0.0.1:1: plain TCP to it (allowed, with bind,
 * since it is this host), and a remote engine with volumes loads too. */
START_TEST(tcp_engine_gone_is_backend_unavailable) {
  const char *config = "{\"endpoint\": \"tcp://127.0.0.1:1\", \"tls\": false, "
                       "\"images_allowed\": [\"*\"]}";
  ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, engine->plugin, config, &backend), 0);
  ops = backend.ops;
  ck_assert_msg(harness_run_until(health_known, NULL, 10000), "health still up");
  ck_assert_msg(strstr(harness_last_error(), "tcp://127.0.0.1:1"), "message: %s",
                harness_last_error());
  const char *argv[] = {"/bin/true", NULL};
  execd_limits limits = {.network = "none"};
  execd_job_spec spec;
  char id[64];
  spec_for(&spec, &limits, "busybox:local", argv, id, sizeof id);
  harness_job *job = harness_job_new();
  void *handle = NULL;
  ck_assert_int_eq(ops->start(backend.self, &spec, (execd_job *)job, &handle), 0);
  ck_assert(harness_wait_job(job, WAIT_MS));
  ck_assert_ptr_nonnull(job->exit.error_code);
  ck_assert_str_eq(job->exit.error_code, EXECD_ERR_BACKEND_UNAVAILABLE);
  ck_assert_msg(strstr(job->exit.error_message, "tcp://127.0.0.1:1"), "message: %s",
                job->exit.error_message);
  harness_job_free(job);
  harness_unload(&backend);
  config = "{\"endpoint\": \"tcp://[2001:db8::1]:2376\", \"tls\": false, "
           "\"workspace_mount\": \"volume\", \"images_allowed\": [\"*\"]}";
  ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, engine->plugin, config, &backend), 0);
  harness_unload(&backend);
  /* TLS with the system's CAs, read at start */
  config = "{\"endpoint\": \"tcp://localhost:1\", \"tls\": true, \"images_allowed\": [\"*\"]}";
  ck_assert_msg(harness_load(EXECD_KIND_BACKEND, engine->plugin, config, &backend) == 0, "%s",
                harness_last_error());
}
END_TEST

START_TEST(bad_configuration_is_refused_naming_the_key) {
  static const struct {
    const char *config, *named;
  } bad[] = {
      {"{\"pull\": \"sometimes\"}", "pull"},
      {"{\"user\": \"nobody\"}", "user \"nobody\""},
      {"{\"memory\": 1000}", "memory"},
      {"{\"socket\": \"docker.sock\"}", "socket"},
      {"{\"images_allowed\": [\"\"]}", "images_allowed[0]"},
      {"{\"registry_auth_file\": \"/nonexistent/auth.json\"}", "/nonexistent/auth.json"},
      /* where the engine is: socket or endpoint, and TLS */
      {"{\"socket\": \"/run/e.sock\", \"endpoint\": \"tcp://127.0.0.1:2376\", \"tls\": false}",
       "socket and endpoint"},
      {"{\"socket\": \"tcp://127.0.0.1:2376\"}", "endpoint"},
      {"{\"endpoint\": \"unix:///run/e.sock\"}", "endpoint \"unix:///run/e.sock\""},
      {"{\"endpoint\": \"tcp://127.0.0.1\", \"tls\": false}", "endpoint \"tcp://127.0.0.1\""},
      {"{\"endpoint\": \"tcp://127.0.0.1:0\", \"tls\": false}", "port"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\"}", "tls = false"}, /* TLS or not: say it */
      {"{\"tls_ca\": \"/etc/ssl/ca.pem\"}", "tls_ca needs endpoint"},
      {"{\"tls\": true}", "tls needs endpoint"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls\": false, \"tls_ca\": \"/x.pem\"}",
       "tls_ca is set but tls = false"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls\": false, \"tls_verify\": false}",
       "tls_verify is set but tls = false"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls_cert\": \"/c.pem\"}", "tls_key"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls_key\": \"/k.pem\"}", "tls_cert"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls_ca\": \"/etc/passwd\", "
       "\"tls_verify\": false}",
       "tls_verify = false"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls_ca\": \"/nonexistent/ca.pem\"}",
       "tls_ca /nonexistent/ca.pem"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls_ca\": \"/etc/passwd\"}",
       "tls_ca /etc/passwd: no CA certificate"},
      {"{\"endpoint\": \"tcp://127.0.0.1:2376\", \"tls\": true, \"tls_cert\": \"/etc/passwd\", "
       "\"tls_key\": \"/etc/passwd\"}",
       "tls_cert /etc/passwd"},
      /* a bind mount needs the engine on this host */
      {"{\"endpoint\": \"tcp://engine.example:2376\", \"tls\": false}", "workspace_mount"},
      {"{\"endpoint\": \"tcp://10.1.2.3:2376\", \"tls\": false, \"workspace_mount\": \"bind\"}",
       "workspace_mount"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    harness_plugin p;
    ck_assert_int_eq(harness_load(EXECD_KIND_BACKEND, engine->plugin, bad[i].config, &p),
                     EXECD_ECONFIG);
    ck_assert_msg(strstr(harness_last_error(), bad[i].named), "%s: message \"%s\" does not name %s",
                  bad[i].config, harness_last_error(), bad[i].named);
  }
}
END_TEST

/* ---- the program ------------------------------------------------------- */

int container_backend_main(const container_engine *e, Suite *s) {
  engine = e;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char var[64], upper[32];
  size_t n;
  for (n = 0; e->plugin[n] && n < sizeof upper - 1; n++)
    upper[n] = (char)(e->plugin[n] >= 'a' && e->plugin[n] <= 'z' ? e->plugin[n] - 'a' + 'A'
                                                                  : e->plugin[n]);
  upper[n] = '\0';
  snprintf(var, sizeof var, "EXECD_%s_SOCKET", upper);
  sock = getenv(var);
  for (size_t i = 0; (!sock || !*sock) && e->sockets && e->sockets[i]; i++) {
    struct stat st;
    if (stat(e->sockets[i], &st) == 0 && S_ISSOCK(st.st_mode))
      sock = e->sockets[i];
  }
  if ((!sock || !*sock) && e->sockets)
    sock = e->sockets[0];
  where = sock;
  if (e->tls) {
    snprintf(var, sizeof var, "EXECD_%s_TLS_CERT_DIR", upper);
    const char *dir = getenv(var);
    snprintf(tls_dir, sizeof tls_dir, "%s", dir && *dir ? dir : "");
    if (!tls_dir[0])
      snprintf(tls_dir, sizeof tls_dir, "/run/execd-test/%s-tls", e->plugin);
    snprintf(var, sizeof var, "EXECD_%s_TLS_HOST", upper);
    const char *host = getenv(var);
    snprintf(tls_host, sizeof tls_host, "%s", host && *host ? host : "");
    char file[600];
    snprintf(file, sizeof file, "%s/endpoint", tls_dir);
    FILE *f = tls_host[0] ? NULL : fopen(file, "r");
    if (f) { /* scripts/engines.sh writes it once the endpoint answers */
      if (!fgets(tls_host, sizeof tls_host, f))
        tls_host[0] = '\0';
      tls_host[strcspn(tls_host, "\n")] = '\0';
      fclose(f);
    }
    where = tls_host;
  }
  snprintf(var, sizeof var, "EXECD_%s_IMAGE", upper);
  image = getenv(var);
  if (!image || !*image)
    image = "busybox:local";

  /* The plugin is built next to the others, not in the default path. */
  const char *builddir = getenv("EXECD_BUILDDIR");
  const char *plugin_path = getenv("EXECD_PLUGIN_PATH");
  char search[4096];
  snprintf(search, sizeof search, "%s/plugins/backend/%s%s%s", builddir ? builddir : ".",
           e->plugin, plugin_path ? ":" : "", plugin_path ? plugin_path : "");
  setenv("EXECD_PLUGIN_PATH", search, 1);

  /* check keeps the names, not copies. */
  static char alone_name[64], engine_name[64];
  snprintf(alone_name, sizeof alone_name, "%s without an engine", e->plugin);
  if (!e->tls) { /* the same plugin's: run once, by the program on its socket */
    TCase *alone = tcase_create(alone_name);
    tcase_add_checked_fixture(alone, setup, teardown);
    tcase_add_unchecked_fixture(alone, harness_scratch_begin, harness_scratch_end);
    /* check's default of 4 s: two dozen plugin loads, some reading the
     * system's CAs, outlast it under a sanitizer on a busy machine. */
    tcase_set_timeout(alone, 60);
    tcase_add_test(alone, engine_gone_is_backend_unavailable);
    tcase_add_test(alone, tcp_engine_gone_is_backend_unavailable);
    tcase_add_test(alone, bad_configuration_is_refused_naming_the_key);
    suite_add_tcase(s, alone);
  }

  char skip[1024] = "";
  body b;
  char path[300];
  snprintf(path, sizeof path, "/images/%s/json", image);
  if (e->tls && strncmp(tls_host, "tcp://", 6) != 0)
    snprintf(skip, sizeof skip,
             "no %s: EXECD_%s_TLS_HOST is not set and %s/endpoint is missing (scripts/engines.sh "
             "start)",
             e->what, upper, tls_dir);
  else if (engine_get("/_ping", &b) != 200)
    snprintf(skip, sizeof skip, "no %s at %s", e->what, where);
  else if (engine_get(path, &b) != 200)
    snprintf(skip, sizeof skip, "%s at %s has no image %s (build it with scripts/engines.sh)",
             e->what, where, image);
  else {
    snprintf(engine_name, sizeof engine_name, "%s engine%s", e->plugin, e->tls ? " over TLS" : "");
    TCase *tc = tcase_create(engine_name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_unchecked_fixture(tc, harness_scratch_begin, harness_scratch_end);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, hardening_is_seen_from_inside);
    tcase_add_test(tc, request_cannot_widen_the_backend_limits);
    tcase_add_test(tc, image_outside_images_allowed_is_refused_before_anything_exists);
    tcase_add_test(tc, missing_image_with_pull_never_is_image_not_found);
    tcase_add_test(tc, outputs_come_back_and_stdin_is_closed_bind_mounted);
    tcase_add_test(tc, outputs_come_back_and_stdin_is_closed_through_a_volume);
    tcase_add_test(tc, containers_left_by_an_earlier_run_are_removed_at_start);
    tcase_add_test(tc, stdin_ends_with_eof);
    if (!engine->tls) {
      tcase_add_test(tc, runtime_crun_runs_the_job);
      tcase_add_test(tc, runtime_the_engine_lacks_is_a_clear_error);
    }
    if (e->tls) {
      tcase_add_test(tc, engine_certificate_from_another_ca_is_refused);
      tcase_add_test(tc, engine_certificate_unknown_to_the_system_cas_is_refused);
      tcase_add_test(tc, no_client_certificate_is_refused);
    }
    suite_add_tcase(s, tc);
  }

  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  curl_global_cleanup();
  if (failed)
    return EXIT_FAILURE;
  if (skip[0]) {
    /* The engine tests did not run: a skip, not a pass. */
    fprintf(stderr, "SKIP: %s: the %s engine tests did not run\n", skip, e->plugin);
    printf("SKIP: %s: the %s engine tests did not run\n", skip, e->plugin);
    return 77;
  }
  return EXIT_SUCCESS;
}
