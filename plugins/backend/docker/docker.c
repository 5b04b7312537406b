/* The docker backend plugin: descriptor, configuration, check(), health()
 * and the ops glue.  Running jobs live in job.c. */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "docker_internal.h"

#define HEALTH_TTL_MS 5000
#define PING_TIMEOUT_MS 2000

static const execd_config_key docker_config_keys[] = {
    {"socket", EXECD_CFG_STRING, "/var/run/docker.sock", "the Docker Engine's unix socket"},
    {"images_allowed", EXECD_CFG_LIST, "[]",
     "globs of the images executions may use (\"registry.example/jobs/*\"); nothing runs "
     "unless it matches"},
    {"pull", EXECD_CFG_STRING, "if-not-present",
     "when images are pulled: \"never\", \"if-not-present\" or \"always\""},
    {"registry_auth_file", EXECD_CFG_STRING, NULL,
     "JSON file {\"username\", \"password\", \"serveraddress\"} sent with pulls"},
    {"user", EXECD_CFG_STRING, "65534:65534", "\"uid:gid\" jobs run as inside the container"},
    {"network", EXECD_CFG_STRING, "none",
     "NetworkMode of job containers; a request may only ask for \"none\" instead"},
    {"readonly_rootfs", EXECD_CFG_BOOL, "true", "mount the image's root file system read-only"},
    {"drop_capabilities", EXECD_CFG_BOOL, "true", "drop every Linux capability (CapDrop ALL)"},
    {"no_new_privileges", EXECD_CFG_BOOL, "true", "no privilege gain through setuid files"},
    {"init", EXECD_CFG_BOOL, "true",
     "an init process as PID 1 that forwards signals and reaps children"},
    {"memory", EXECD_CFG_SIZE, "512M", "memory limit (swap off); a request may lower it"},
    {"cpus", EXECD_CFG_FLOAT, "1", "CPU share; a request may lower it"},
    {"pids_limit", EXECD_CFG_INT, "256", "processes per container; a request may lower it"},
    {"nofile", EXECD_CFG_INT, "1024", "open files per process; a request may lower it"},
    {"nproc", EXECD_CFG_INT, "4096",
     "RLIMIT_NPROC: counted per uid across the host, so keep it above pids_limit"},
    {"tmpfs_size", EXECD_CFG_SIZE, "64M", "size of the tmpfs at /tmp (counts against memory)"},
    {"log_max", EXECD_CFG_SIZE, "16M",
     "engine log file cap, and the most stdout+stderr forwarded per attempt"},
    {"output_max", EXECD_CFG_SIZE, "256M", "the most file data collected from the output dir"},
    {"output_drain", EXECD_CFG_DURATION, "2s",
     "how long to wait for the log stream to end after the container exited"},
    {NULL, 0, NULL, NULL}};

/* ---- config ---------------------------------------------------------------- */

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

int docker_parse_user(const char *s, uid_t *uid, gid_t *gid) {
  unsigned long u, g;
  char *end;
  errno = 0;
  u = strtoul(s, &end, 10);
  if (end == s || errno || u > 0x7fffffffUL)
    return -1;
  g = u;
  if (*end == ':') {
    const char *gs = end + 1;
    g = strtoul(gs, &end, 10);
    if (end == gs || errno || g > 0x7fffffffUL)
      return -1;
  }
  if (*end)
    return -1;
  *uid = (uid_t)u;
  *gid = (gid_t)g;
  return 0;
}

static int config_error(docker_backend *b, const char *fmt, const char *a) {
  b->host->set_error(b->inst, fmt, a);
  return EXECD_ECONFIG;
}

static int64_t int_or(const json_t *config, const char *key, int64_t dflt) {
  const json_t *v = json_object_get(config, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool bool_or(const json_t *config, const char *key, bool dflt) {
  const json_t *v = json_object_get(config, key);
  return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* X-Registry-Auth is the credentials JSON in URL-safe base64. */
static char *base64url(const char *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *out = malloc(n / 3 * 4 + 5), *o = out;
  if (!out)
    return NULL;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    *o++ = tab[v >> 18 & 63];
    *o++ = tab[v >> 12 & 63];
    *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
    *o++ = i + 2 < n ? tab[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static int load_registry_auth(docker_backend *b, const char *file) {
  json_error_t jerr;
  json_t *doc = json_load_file(file, 0, &jerr);
  if (!json_is_object(doc)) {
    b->host->set_error(b->inst, "registry_auth_file %s: %s", file,
                       doc ? "not a JSON object" : jerr.text);
    json_decref(doc);
    return EXECD_ECONFIG;
  }
  if (!json_is_string(json_object_get(doc, "username")) ||
      !json_is_string(json_object_get(doc, "password"))) {
    json_decref(doc);
    return config_error(b, "registry_auth_file %s: needs string members username and password",
                        file);
  }
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  char *enc = text ? base64url(text, strlen(text)) : NULL;
  free(text);
  if (!enc)
    return EXECD_ENOMEM;
  if (asprintf(&b->registry_auth, "X-Registry-Auth: %s", enc) < 0)
    b->registry_auth = NULL;
  free(enc);
  return b->registry_auth ? 0 : EXECD_ENOMEM;
}

static int configure(docker_backend *b, const json_t *config) {
  const char *socket = json_string_value(json_object_get(config, "socket"));
  b->socket = strdup(socket ? socket : "/var/run/docker.sock");
  if (b->socket[0] != '/')
    return config_error(b, "socket \"%s\" must be an absolute path to a unix socket", b->socket);

  const json_t *globs = json_object_get(config, "images_allowed");
  size_t n = json_array_size(globs);
  b->images_allowed = calloc(n + 1, sizeof *b->images_allowed);
  if (!b->images_allowed)
    return EXECD_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *g = json_string_value(json_array_get(globs, i));
    if (!g || !*g) {
      b->host->set_error(b->inst, "images_allowed[%zu] must be a non-empty string", i);
      return EXECD_ECONFIG;
    }
    b->images_allowed[i] = strdup(g);
  }
  if (n == 0)
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "images_allowed is empty: every execution on this backend will be refused");

  const char *pull = json_string_value(json_object_get(config, "pull"));
  if (!pull || strcmp(pull, "if-not-present") == 0)
    b->pull = PULL_IF_NOT_PRESENT;
  else if (strcmp(pull, "never") == 0)
    b->pull = PULL_NEVER;
  else if (strcmp(pull, "always") == 0)
    b->pull = PULL_ALWAYS;
  else
    return config_error(b, "pull must be \"never\", \"if-not-present\" or \"always\", not \"%s\"",
                        pull);

  const char *user = json_string_value(json_object_get(config, "user"));
  b->user = strdup(user ? user : "65534:65534");
  if (docker_parse_user(b->user, &b->uid, &b->gid) < 0)
    return config_error(b, "user \"%s\" is not \"uid[:gid]\" (numbers)", b->user);
  if (b->uid == 0)
    b->host->log(b->inst, EXECD_LOG_WARNING, "user is root: jobs run as root in the container");

  const char *network = json_string_value(json_object_get(config, "network"));
  b->network = strdup(network ? network : "none");
  if (!*b->network)
    return config_error(b, "network must not be empty%s", "");
  if (strcmp(b->network, "none") != 0)
    b->host->log(b->inst, EXECD_LOG_WARNING, "network is \"%s\": jobs can reach the network",
                 b->network);

  b->readonly_rootfs = bool_or(config, "readonly_rootfs", true);
  b->drop_capabilities = bool_or(config, "drop_capabilities", true);
  b->no_new_privileges = bool_or(config, "no_new_privileges", true);
  b->init = bool_or(config, "init", true);
  b->memory_bytes = int_or(config, "memory", 512ll << 20);
  const json_t *cpus = json_object_get(config, "cpus");
  b->cpus = json_is_number(cpus) ? json_number_value(cpus) : 1.0;
  b->pids_limit = int_or(config, "pids_limit", 256);
  b->nofile = int_or(config, "nofile", 1024);
  b->nproc = int_or(config, "nproc", 4096);
  b->tmpfs_size = int_or(config, "tmpfs_size", 64ll << 20);
  b->log_max = int_or(config, "log_max", 16ll << 20);
  b->output_max = int_or(config, "output_max", 256ll << 20);
  b->output_drain_ms = int_or(config, "output_drain", 2000);
  if (b->memory_bytes != 0 && b->memory_bytes < (6 << 20))
    return config_error(b, "memory must be 0 (no limit) or at least 6M%s", "");
  if (b->cpus < 0 || b->pids_limit < 0 || b->nofile < 0 || b->nproc < 0 ||
      b->tmpfs_size <= 0 || b->log_max <= 0 || b->output_max <= 0 || b->output_drain_ms < 0)
    return config_error(b, "%s",
                        "cpus, pids_limit, nofile and nproc must not be negative; tmpfs_size, "
                        "log_max and output_max must be positive");

  const char *auth = json_string_value(json_object_get(config, "registry_auth_file"));
  if (auth)
    return load_registry_auth(b, auth);
  return 0;
}

/* ---- health ------------------------------------------------------------------ */

static void on_ping(void *arg, const engine_response *r) {
  docker_backend *b = arg;
  b->ping = NULL;
  b->health_at = uv_now(b->loop);
  bool was_down = !b->healthy;
  b->healthy = !r->transport_err && r->status == 200;
  if (b->healthy && was_down)
    docker_sweep(b); /* at start, and after the engine was down */
  if (!b->healthy) {
    char msg[200];
    snprintf(b->health_error, sizeof b->health_error, "docker engine at %s: %s", b->socket,
             engine_error_message(r, msg, sizeof msg));
  }
}

static void refresh_health(docker_backend *b) {
  if (b->ping || b->stopped || !b->client)
    return;
  b->ping = engine_request_json(b->client, "GET", "/_ping", NULL, PING_TIMEOUT_MS, on_ping, b);
}

static int docker_health(void *self) {
  docker_backend *b = self;
  struct stat st;
  if (stat(b->socket, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    b->healthy = false;
    b->host->set_error(b->inst, "docker engine socket %s: %s", b->socket,
                       errno ? strerror(errno) : "not a socket");
    return EXECD_EUNAVAIL;
  }
  if (uv_now(b->loop) - b->health_at > HEALTH_TTL_MS)
    refresh_health(b);
  if (b->health_at == 0 || b->healthy)
    return 0; /* not asked yet: assume up, the first answer will tell */
  b->host->set_error(b->inst, "%s", b->health_error);
  return EXECD_EUNAVAIL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static void docker_destroy(void *self) {
  docker_backend *b = self;
  if (!b)
    return;
  free(b->socket);
  free_strv(b->images_allowed);
  free(b->user);
  free(b->network);
  free(b->registry_auth);
  free(b->daemon_label);
  free(b);
}

static int docker_create(const execd_host *host, execd_instance *inst, const json_t *config,
                         void **self) {
  docker_backend *b = calloc(1, sizeof *b);
  if (!b)
    return EXECD_ENOMEM;
  b->host = host;
  b->inst = inst;
  b->loop = host->loop(inst);
  LIST_INIT(&b->jobs);
  const char *state_dir = host->state_dir(inst);
  b->daemon_label = strdup(state_dir ? state_dir : "");
  if (!b->daemon_label) {
    free(b);
    return EXECD_ENOMEM;
  }
  int rc = configure(b, config);
  if (rc) {
    docker_destroy(b);
    return rc;
  }
  *self = b;
  return 0;
}

static int docker_start_instance(void *self) {
  docker_backend *b = self;
  b->client = engine_client_new(b->loop, b->socket, DOCKER_API_PREFIX, "docker");
  if (!b->client) {
    b->host->set_error(b->inst, "cannot create the engine client (out of memory)");
    return EXECD_ENOMEM;
  }
  refresh_health(b);
  return 0;
}

static void docker_stop(void *self) {
  docker_backend *b = self;
  b->stopped = true;
  docker_jobs_abandon(b);
  engine_client_close(b->client);
  b->client = NULL;
  b->ping = NULL;
  b->sweep = NULL;
}

/* ---- ops ------------------------------------------------------------------------- */

static int docker_check(void *self, const execd_job_spec *spec) {
  docker_backend *b = self;
  if (!spec->image || !*spec->image) {
    b->host->set_error(b->inst, "the docker backend runs images: container.image is missing");
    return EXECD_EINVAL;
  }
  bool allowed = false;
  for (char **g = b->images_allowed; *g && !allowed; g++)
    allowed = fnmatch(*g, spec->image, 0) == 0;
  if (!allowed) {
    b->host->set_error(b->inst, "%s: image \"%s\" is not in images_allowed",
                       EXECD_ERR_IMAGE_NOT_ALLOWED, spec->image);
    return EXECD_EPERM;
  }
  if (!spec->argv || !spec->argv[0]) {
    b->host->set_error(b->inst, "no command given");
    return EXECD_EINVAL;
  }
  if (spec->user) {
    uid_t u;
    gid_t g;
    if (docker_parse_user(spec->user, &u, &g) < 0) {
      b->host->set_error(b->inst, "user \"%s\" is not \"uid[:gid]\" (numbers)", spec->user);
      return EXECD_EINVAL;
    }
    if (u == 0 && b->uid != 0) {
      b->host->set_error(b->inst, "user \"%s\": jobs may not run as root on this backend",
                         spec->user);
      return EXECD_EPERM;
    }
  }
  const char *net = spec->limits ? spec->limits->network : NULL;
  if (net && strcmp(net, "none") != 0 && strcmp(net, b->network) != 0) {
    b->host->set_error(b->inst, "network \"%s\": this backend allows \"none\"%s%s%s", net,
                       strcmp(b->network, "none") ? " and \"" : "",
                       strcmp(b->network, "none") ? b->network : "",
                       strcmp(b->network, "none") ? "\"" : "");
    return EXECD_EPERM;
  }
  return 0;
}

static int docker_start(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  docker_backend *b = self;
  int rc = docker_check(b, spec);
  if (rc)
    return rc;
  struct stat st;
  if (stat(b->socket, &st) != 0) {
    b->host->set_error(b->inst, "%s: docker engine socket %s: %s",
                       EXECD_ERR_BACKEND_UNAVAILABLE, b->socket, strerror(errno));
    return EXECD_EUNAVAIL;
  }
  return docker_job_start(b, spec, job, handle);
}

static int docker_signal(void *self, void *handle, int signum) {
  return docker_job_signal(self, handle, signum);
}

static const execd_backend_ops docker_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = docker_check,
    .start = docker_start,
    .signal = docker_signal,
    .health = docker_health,
};

static const execd_plugin docker_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "docker",
    .version = PACKAGE_VERSION,
    .description = "runs executions as hardened containers through the Docker Engine API",
    .config_keys = docker_config_keys,
    .create = docker_create,
    .start = docker_start_instance,
    .stop = docker_stop,
    .destroy = docker_destroy,
    .ops = &docker_ops,
};

EXECD_PLUGIN_DEFINE(docker_plugin)
