/* A container backend (docker or podman, by its flavor): configuration,
 * check(), health() and the ops glue.  Running jobs live in
 * container_job.c, the descriptors in plugins/backend/docker/docker_plugin.c
 * and plugins/backend/podman/podman.c. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "configcheck/config_check.h"
#include "container_internal.h"

#define HEALTH_TTL_MS 5000
#define HEALTH_TICK_MS 1000 /* the background check; pings every HEALTH_TTL_MS unless lost */
#define PING_TIMEOUT_MS 2000

/* ---- config ---------------------------------------------------------------- */

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

int container_parse_user(const char *s, uid_t *uid, gid_t *gid) {
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

static int config_error(container_backend *b, const char *fmt, const char *a) {
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

static int load_registry_auth(container_backend *b, const char *file) {
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

/* Podman's runtime fails with "error setting rlimit" unless nofile and
 * nproc are set, and set within the host's hard limits. */
static int check_required_ulimit(container_backend *b, const char *key, int64_t value,
                                 int resource) {
  struct rlimit rl;
  if (value <= 0) {
    b->host->set_error(b->inst, "%s must be set (above 0): the %s engine needs explicit ulimits",
                       key, b->flavor->name);
    return EXECD_ECONFIG;
  }
  if (getrlimit(resource, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
      (uint64_t)value > (uint64_t)rl.rlim_max) {
    b->host->set_error(b->inst, "%s %lld is above the host's hard limit %llu", key,
                       (long long)value, (unsigned long long)rl.rlim_max);
    return EXECD_ECONFIG;
  }
  return 0;
}

static int configure(container_backend *b, const json_t *config) {
  int rc = container_configure_endpoint(b, config);
  if (rc)
    return rc;

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
  if (container_parse_user(b->user, &b->uid, &b->gid) < 0)
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
  b->engine_grace_ms = int_or(config, "engine_grace", 30000);
  if (b->memory_bytes != 0 && b->memory_bytes < (6 << 20))
    return config_error(b, "memory must be 0 (no limit) or at least 6M%s", "");
  if (b->cpus < 0 || b->pids_limit < 0 || b->nofile < 0 || b->nproc < 0 ||
      b->tmpfs_size <= 0 || b->log_max <= 0 || b->output_max <= 0 || b->output_drain_ms < 0 ||
      b->engine_grace_ms < 0)
    return config_error(b, "%s",
                        "cpus, pids_limit, nofile, nproc, output_drain and engine_grace must not "
                        "be negative; tmpfs_size, log_max and output_max must be positive");

  const char *mount = json_string_value(json_object_get(config, "workspace_mount"));
  if (!mount || strcmp(mount, "bind") == 0)
    b->bind_workspace = true;
  else if (strcmp(mount, "volume") != 0)
    return config_error(b, "workspace_mount must be \"bind\" or \"volume\", not \"%s\"", mount);
  /* A bind mount names a directory of this host: another machine's
   * engine would mount its own directory of that name. */
  if (b->bind_workspace && !httpc_endpoint_is_local(&b->endpoint)) {
    b->host->set_error(b->inst,
                       "workspace_mount = \"bind\"%s needs the engine on this host, and endpoint "
                       "%s is not a loopback address: set workspace_mount = \"volume\"",
                       mount ? "" : " (the default)", b->endpoint.name);
    return EXECD_ECONFIG;
  }
  /* The workspace is handed to the job's uid with chown. */
  if (b->bind_workspace && geteuid() != 0 && geteuid() != b->uid) {
    b->host->set_error(b->inst,
                       "workspace_mount = \"bind\" needs execd to run as root or as the job "
                       "user %u (it gives the workspace to that uid); use workspace_mount = "
                       "\"volume\"",
                       (unsigned)b->uid);
    return EXECD_ECONFIG;
  }

  if (b->flavor->ulimits_required) {
    rc = check_required_ulimit(b, "nofile", b->nofile, RLIMIT_NOFILE);
    if (!rc)
      rc = check_required_ulimit(b, "nproc", b->nproc, RLIMIT_NPROC);
    if (rc)
      return rc;
  }

  const char *runtime = json_string_value(json_object_get(config, "runtime"));
  if (runtime) {
    /* A name the engine knows ("crun"), or for podman a runtime's absolute path. */
    size_t len = strlen(runtime);
    bool ok = len > 0 && len < 256;
    for (size_t i = 0; ok && i < len; i++)
      ok = isalnum((unsigned char)runtime[i]) || strchr("._-/+", runtime[i]);
    if (!ok)
      return config_error(b, "runtime must be an OCI runtime's name as the engine knows it "
                             "(letters, digits, \".\", \"_\", \"-\", \"+\", or a path), not "
                             "\"%.100s\"", runtime);
    b->runtime = strdup(runtime);
    if (!b->runtime)
      return EXECD_ENOMEM;
  }

  rc = container_warm_configure(b, config);
  if (rc)
    return rc;
  const char *auth = json_string_value(json_object_get(config, "registry_auth_file"));
  if (auth)
    return load_registry_auth(b, auth);
  return 0;
}

/* ---- health ------------------------------------------------------------------ */

/* podman's /info takes seconds under load (it counts images and containers). */
#define INFO_TIMEOUT_MS 30000

/* The engine's list of runtimes (GET /info): a configured runtime it does
 * not have makes the backend unhealthy, with the names it has. */
static void on_info(void *arg, const httpc_response *r) {
  container_backend *b = arg;
  b->info = NULL;
  if (r->transport_err || r->status != 200)
    return; /* asked again at the next answer to a ping */
  b->runtime_checked = true;
  json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
  json_t *runtimes = json_object_get(doc, "Runtimes");
  const char *dflt = json_string_value(json_object_get(doc, "DefaultRuntime"));
  if (!b->flavor->runtime_per_container) {
    /* Every container runs the service's own runtime. */
    const char *base = strrchr(b->runtime, '/');
    base = base ? base + 1 : b->runtime;
    if (!dflt || (strcmp(dflt, b->runtime) != 0 && strcmp(dflt, base) != 0))
      snprintf(b->runtime_error, sizeof b->runtime_error,
               "%s engine at %s runs every container with its own runtime \"%s\": its "
               "Docker-compatible API does not choose one per container, so the backend's "
               "runtime = \"%s\" needs the service started with --runtime %s",
               b->flavor->name, b->endpoint.name, dflt ? dflt : "?", b->runtime, b->runtime);
  } else if (json_is_object(runtimes) && !json_object_get(runtimes, b->runtime)) {
    char names[256] = "";
    const char *name;
    json_t *v;
    size_t used = 0;
    json_object_foreach(runtimes, name, v) {
      int n = snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", name);
      if (n < 0 || (size_t)n >= sizeof names - used)
        break;
      used += (size_t)n;
    }
    snprintf(b->runtime_error, sizeof b->runtime_error,
             "%s engine at %s has no runtime \"%s\" (the backend's runtime key); it has: %s",
             b->flavor->name, b->endpoint.name, b->runtime, names);
  }
  if (b->runtime_error[0])
    b->host->log(b->inst, EXECD_LOG_ERR, "%s", b->runtime_error);
  json_decref(doc);
}

static void check_runtime(container_backend *b) {
  if (!b->runtime || b->runtime_checked || b->info || !b->client)
    return;
  b->info = httpc_request_json(b->client, "GET", "/info", NULL, INFO_TIMEOUT_MS, on_info, b);
}

/* ---- the engine's die events ------------------------------------------------------ */

static void on_event_data_die(void *arg, const char *id, int exit_code) {
  container_job_died(arg, id, exit_code);
}

static int on_event_data(void *arg, const char *data, size_t len) {
  container_backend *b = arg;
  engine_events_feed(&b->event_reader, data, len);
  return 0;
}

static void on_events_end(void *arg, const httpc_response *r) {
  (void)r;
  container_backend *b = arg;
  b->events = NULL; /* followed again at the next answer to a ping */
}

/* The die events of this daemon's containers on this backend, followed
 * while the engine answers (a hint: attempts still wait for the wait). */
static void follow_events(container_backend *b) {
  if (!b->flavor->exit_in_events || b->events || b->stopped || !b->client ||
      !b->event_reader.line)
    return;
  json_t *filter = json_pack("{s:[s], s:[s], s:[s+, s+]}", "type", "container", "event", "die",
                             "label", "execd.daemon=", b->daemon_label, "execd.instance=",
                             b->host->instance_name(b->inst));
  char *text = filter ? json_dumps(filter, JSON_COMPACT) : NULL;
  char *esc = text ? httpc_url_escape(text) : NULL;
  json_decref(filter);
  free(text);
  char *path = NULL;
  if (esc && asprintf(&path, "/events?filters=%s", esc) >= 0) {
    b->event_reader.len = 0;
    b->event_reader.skipping = false;
    httpc_request_opts o = {.method = "GET", .path = path, .on_data = on_event_data,
                            .on_done = on_events_end, .arg = b};
    b->events = httpc_request_start(b->client, &o);
    free(path);
  }
  free(esc);
}

static void on_ping(void *arg, const httpc_response *r) {
  container_backend *b = arg;
  b->ping = NULL;
  b->health_at = uv_now(b->loop);
  bool was_down = !b->healthy;
  b->healthy = !r->transport_err && r->status == 200;
  if (b->healthy)
    follow_events(b);
  if (b->healthy && was_down) {
    container_sweep(b); /* at start, and after the engine was down */
    check_runtime(b);
    container_jobs_engine_back(b);
  }
  if (!b->healthy) {
    char msg[200];
    snprintf(b->health_error, sizeof b->health_error, "%s engine at %s: %s", b->flavor->name,
             b->endpoint.name, httpc_error_message(r, msg, sizeof msg));
  }
}

static void refresh_health(container_backend *b) {
  if (b->ping || b->stopped || !b->client)
    return;
  b->ping = httpc_request_json(b->client, "GET", "/_ping", NULL, PING_TIMEOUT_MS, on_ping, b);
}

/* dockerd told to stop closes its listener (removing the socket) first,
 * then stops the containers while still answering on the connections it
 * has: such a container looks as if it had exited by itself. */
bool container_engine_refuses(const container_backend *b) {
  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  const char *path = b->endpoint.unix_path;
  if (path) {
    struct sockaddr_un *sa = (struct sockaddr_un *)&ss;
    if (strlen(path) >= sizeof sa->sun_path)
      return false;
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path) + 1);
    len = sizeof *sa;
  } else if (b->client && httpc_client_peer(b->client, &ss) == 0) {
    len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  } else {
    return false;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  /* Non-blocking: a listener with a full backlog fails with EAGAIN at once. */
  int err = connect(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : errno;
  /* TCP answers later; a refusal from this machine is already there, one
   * from further away would take a round trip, which is not waited for. */
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  socklen_t elen = sizeof err;
  if (err == EINPROGRESS && (poll(&p, 1, 0) != 1 ||
                             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0))
    err = 0;
  bool refused = err == ECONNREFUSED || err == ENOENT;
  close(fd);
  return refused;
}

static int container_health(void *self) {
  container_backend *b = self;
  struct stat st;
  /* A missing socket is known at once; a TCP engine only by its answer. */
  const char *path = b->endpoint.unix_path;
  errno = 0;
  if (path && (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode))) {
    b->healthy = false;
    b->host->set_error(b->inst, "%s engine socket %s: %s", b->flavor->name, path,
                       errno ? strerror(errno) : "not a socket");
    return EXECD_EUNAVAIL;
  }
  if (uv_now(b->loop) - b->health_at > HEALTH_TTL_MS)
    refresh_health(b);
  if (b->runtime_error[0]) {
    b->host->set_error(b->inst, "%s", b->runtime_error);
    return EXECD_EUNAVAIL;
  }
  if (b->runtime && !b->runtime_checked && !b->flavor->runtime_per_container) {
    check_runtime(b);
    b->host->set_error(b->inst, "%s engine at %s: not yet known whether it runs runtime \"%s\"",
                       b->flavor->name, b->endpoint.name, b->runtime);
    return EXECD_EUNAVAIL;
  }
  if (b->health_at == 0 || b->healthy)
    return 0; /* not asked yet: assume up, the first answer will tell */
  b->host->set_error(b->inst, "%s", b->health_error);
  return EXECD_EUNAVAIL;
}

/* ---- lifecycle ------------------------------------------------------------------ */

void container_backend_destroy(void *self) {
  container_backend *b = self;
  if (!b)
    return;
  httpc_endpoint_clear(&b->endpoint);
  free_strv(b->images_allowed);
  free(b->user);
  free(b->network);
  free(b->registry_auth);
  free(b->runtime);
  free(b->daemon_label);
  engine_events_clear(&b->event_reader);
  container_removals_forget(b);
  container_warm_free(b);
  free(b);
}

int container_backend_create(const container_engine_flavor *flavor, const execd_host *host,
                             execd_instance *inst, const json_t *config, void **self) {
  container_backend *b = calloc(1, sizeof *b);
  if (!b)
    return EXECD_ENOMEM;
  b->flavor = flavor;
  b->host = host;
  b->inst = inst;
  b->loop = host->loop(inst);
  LIST_INIT(&b->jobs);
  LIST_INIT(&b->removals);
  const char *state_dir = host->state_dir(inst);
  b->daemon_label = strdup(state_dir ? state_dir : "");
  if (!b->daemon_label) {
    free(b);
    return EXECD_ENOMEM;
  }
  int rc = configure(b, config);
  if (rc) {
    container_backend_destroy(b);
    return rc;
  }
  *self = b;
  return 0;
}

int container_backend_check_config(const container_engine_flavor *flavor, const json_t *config,
                                   char *err, size_t errlen) {
  config_check_ctx ck;
  container_backend *b = calloc(1, sizeof *b);
  if (!b) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  b->flavor = flavor;
  b->host = config_check_host();
  b->inst = config_check_begin(&ck, err, errlen);
  LIST_INIT(&b->jobs);
  LIST_INIT(&b->removals);
  int rc = configure(b, config);
  container_backend_destroy(b);
  return config_check_end(&ck, rc);
}

void container_engine_suspect(container_backend *b) {
  b->healthy = false; /* so the next answer counts as the engine coming back */
  snprintf(b->health_error, sizeof b->health_error, "%s engine at %s: a connection broke",
           b->flavor->name, b->endpoint.name);
  refresh_health(b);
}

static void on_health_timer(uv_timer_t *t) {
  container_backend *b = t->data;
  /* While attempts wait for a lost engine, ask every tick. */
  bool lost = container_jobs_check_lost(b);
  if (lost || uv_now(b->loop) - b->health_at >= HEALTH_TTL_MS)
    refresh_health(b);
}

/* The timer is freed apart from the backend: its close completes on the
 * loop, perhaps after destroy(). */
static void on_health_timer_closed(uv_handle_t *h) {
  free(h);
}

int container_backend_start(void *self) {
  container_backend *b = self;
  b->client = httpc_client_new(b->loop, &b->endpoint, b->flavor->api_prefix, b->flavor->name);
  b->health_timer = malloc(sizeof *b->health_timer);
  if (!b->client || !b->health_timer) {
    b->host->set_error(b->inst, "cannot create the engine client (out of memory)");
    free(b->health_timer);
    b->health_timer = NULL;
    return EXECD_ENOMEM;
  }
  /* Health is also refreshed without /readyz being asked: an engine that
   * comes back is noticed, and what it kept of this daemon's containers is
   * swept, within HEALTH_TTL_MS. */
  uv_timer_init(b->loop, b->health_timer);
  b->health_timer->data = b;
  uv_timer_start(b->health_timer, on_health_timer, HEALTH_TICK_MS, HEALTH_TICK_MS);
  uv_unref((uv_handle_t *)b->health_timer);
  if (b->flavor->exit_in_events &&
      engine_events_init(&b->event_reader, on_event_data_die, b) != 0) {
    b->host->set_error(b->inst, "cannot create the engine client (out of memory)");
    return EXECD_ENOMEM;
  }
  refresh_health(b);
  return 0;
}

void container_backend_stop(void *self) {
  container_backend *b = self;
  b->stopped = true;
  if (b->health_timer) {
    uv_timer_stop(b->health_timer);
    uv_close((uv_handle_t *)b->health_timer, on_health_timer_closed);
    b->health_timer = NULL;
  }
  container_jobs_abandon(b); /* removes the warm slots no execution took */
  container_warm_stop(b);
  httpc_request_cancel(b->ping);
  httpc_request_cancel(b->info);
  httpc_request_cancel(b->sweep);
  httpc_request_cancel(b->events);
  b->events = NULL;
  b->ping = NULL;
  b->info = NULL;
  b->sweep = NULL;
  /* The removals in flight finish first (bounded by their timeout): a
   * clean stop leaves no finished attempt's container behind. */
  container_client_release_if_idle(b);
}

/* ---- ops ------------------------------------------------------------------------- */

int container_check_request(const execd_host *host, execd_instance *inst, const char *backend,
                            char **images_allowed, const execd_job_spec *spec, bool *is_root) {
  *is_root = false;
  if (!spec->image || !*spec->image) {
    host->set_error(inst, "the %s backend runs images: container.image is missing", backend);
    return EXECD_EINVAL;
  }
  bool allowed = false;
  for (char **g = images_allowed; *g && !allowed; g++)
    allowed = fnmatch(*g, spec->image, 0) == 0;
  if (!allowed) {
    host->set_error(inst, "%s: image \"%s\" is not in images_allowed",
                    EXECD_ERR_IMAGE_NOT_ALLOWED, spec->image);
    return EXECD_EPERM;
  }
  if (!spec->argv || !spec->argv[0]) {
    host->set_error(inst, "no command given");
    return EXECD_EINVAL;
  }
  if (spec->user) {
    uid_t u;
    gid_t g;
    if (container_parse_user(spec->user, &u, &g) < 0) {
      host->set_error(inst, "user \"%s\" is not \"uid[:gid]\" (numbers)", spec->user);
      return EXECD_EINVAL;
    }
    *is_root = u == 0;
  }
  return 0;
}

static int container_check(void *self, const execd_job_spec *spec) {
  container_backend *b = self;
  bool root;
  int rc = container_check_request(b->host, b->inst, b->flavor->name, b->images_allowed, spec,
                                   &root);
  if (rc)
    return rc;
  if (root && b->uid != 0) {
    b->host->set_error(b->inst, "user \"%s\": jobs may not run as root on this backend",
                       spec->user);
    return EXECD_EPERM;
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

static int container_start(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  container_backend *b = self;
  int rc = container_check(b, spec);
  if (rc)
    return rc;
  struct stat st;
  const char *path = b->endpoint.unix_path;
  if (path && stat(path, &st) != 0) {
    b->host->set_error(b->inst, "%s: %s engine socket %s: %s",
                       EXECD_ERR_BACKEND_UNAVAILABLE, b->flavor->name, path, strerror(errno));
    return EXECD_EUNAVAIL;
  }
  if (b->runtime_error[0]) {
    b->host->set_error(b->inst, "%s: %s", EXECD_ERR_BACKEND_UNAVAILABLE, b->runtime_error);
    return EXECD_EUNAVAIL;
  }
  if (b->runtime && !b->runtime_checked && !b->flavor->runtime_per_container) {
    /* The engine would run it with whatever runtime it has: not before
     * that is known to be the one configured. */
    check_runtime(b);
    b->host->set_error(b->inst, "%s: %s engine at %s: not yet known whether it runs runtime "
                       "\"%s\"", EXECD_ERR_BACKEND_UNAVAILABLE, b->flavor->name,
                       b->endpoint.name, b->runtime);
    return EXECD_EUNAVAIL;
  }
  return container_job_start(b, spec, job, handle);
}

static int container_signal(void *self, void *handle, int signum) {
  return container_job_signal(self, handle, signum);
}

static int container_adopt(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  container_backend *b = self;
  struct stat st;
  const char *path = b->endpoint.unix_path;
  if (!b->client || (path && stat(path, &st) != 0)) {
    b->host->set_error(b->inst, "%s: %s engine at %s: %s", EXECD_ERR_BACKEND_UNAVAILABLE,
                       b->flavor->name, b->endpoint.name, b->client ? strerror(errno) : "stopped");
    return EXECD_EUNAVAIL;
  }
  return container_job_adopt(b, spec, job, handle);
}

static void container_adopt_done(void *self) {
  container_backend *b = self;
  b->adoption_over = true;
  container_sweep(b);
  container_warm_begin(b);
}

const execd_backend_ops container_backend_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = container_check,
    .start = container_start,
    .signal = container_signal,
    .health = container_health,
    .adopt = container_adopt,
    .adopt_done = container_adopt_done,
};
