/* execd: loads the config and its plugins, recovers unfinished
 * executions, serves until SIGTERM, then drains. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "api.h"
#include "catalog.h"
#include "conf.h"
#include "pipeline.h"
#include "quota.h"
#include "tenants.h"
#include "usage.h"
#include "instance.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "workspace.h"
#include "xalloc.h"

typedef struct daemon_ctx {
  uv_loop_t *loop;
  execd_config *cfg;
  pipeline *pipeline;
  execd_instance **instances; /* storage, backends, transports */
  size_t n_instances;
  uv_signal_t sigterm, sigint, sighup;
  int stopping;
  int exit_code;
  int reloading, reload_again; /* a SIGHUP's work is queued; another came meanwhile */
} daemon_ctx;

static void usage(FILE *out) {
  fprintf(out,
          "usage: execd [-c FILE] [--check-config] [-f] [-h] [-V]\n"
          "  -c, --config FILE   configuration file (default %s/execd/execd.conf)\n"
          "      --check-config  load the config and its plugins, check every key, exit\n"
          "  -f, --foreground    stay in the foreground (the default; for systemd)\n"
          "  -V, --version       print the version and the plugin ABI\n"
          "  -h, --help          this text\n"
          "environment: EXECD_PLUGIN_PATH  directories searched for plugins before plugin_dir\n",
          SYSCONFDIR);
}

static int mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

/* Loads one plugin for a block and checks the block's keys. */
static execd_instance *load_instance(daemon_ctx *d, plugin_block *b, char *err, size_t errlen) {
  execd_instance *inst = xcalloc(1, sizeof *inst);
  inst->name = xstrdup(b->name);
  inst->kind = b->kind;
  inst->block = b;
  inst->pipeline = d->pipeline;
  int rc = loader_open(b->kind, b->plugin, host_table(), &inst->loaded, err, errlen);
  if (rc == 0) {
    inst->plugin = loader_descriptor(inst->loaded);
    inst->ops = loader_ops(inst->loaded);
    rc = config_check_plugin_keys(d->cfg, b, inst->plugin->config_keys, err, errlen);
  }
  if (rc == 0 && inst->plugin->check_config) {
    /* The plugin's own check of the values (ABI 1.3): the validation its
     * create() runs, without side effects. */
    char why[1024];
    if (inst->plugin->check_config(b->config, why, sizeof why) != 0)
      rc = config_plugin_value_error(d->cfg, b, why, err, errlen);
  }
  if (rc) {
    if (inst->loaded)
      loader_close(inst->loaded);
    free(inst->name);
    free(inst);
    return NULL;
  }
  d->instances[d->n_instances++] = inst;
  return inst;
}

/* Every block is tried, so that each error is reported at once. */
static int load_all(daemon_ctx *d) {
  execd_config *cfg = d->cfg;
  char err[2048];
  int failed = 0;
  d->instances = xcalloc(1 + cfg->n_backends + cfg->n_transports, sizeof *d->instances);
  if (!load_instance(d, &cfg->storage, err, sizeof err)) {
    log_err("%s", err);
    failed = 1;
  } else {
    pipeline_set_storage(d->pipeline, d->instances[0]);
  }
  for (size_t i = 0; i < cfg->n_backends; i++) {
    execd_instance *inst = load_instance(d, &cfg->backends[i], err, sizeof err);
    if (!inst) {
      log_err("%s", err);
      failed = 1;
    } else if (!failed && pipeline_add_backend(d->pipeline, inst, &cfg->backends[i]) != 0) {
      log_err("backend '%s' cannot be added", cfg->backends[i].name);
      failed = 1;
    }
  }
  for (size_t i = 0; i < cfg->n_transports; i++) {
    execd_instance *inst = load_instance(d, &cfg->transports[i], err, sizeof err);
    if (!inst) {
      log_err("%s", err);
      failed = 1;
    } else if (!failed && pipeline_add_transport(d->pipeline, inst) != 0) {
      log_err("transport '%s' cannot be added", cfg->transports[i].name);
      failed = 1;
    }
  }
  /* The loader refused any plugin lacking an op its kind requires. */
  return failed ? -1 : 0;
}

static int create_all(daemon_ctx *d) {
  for (size_t i = 0; i < d->n_instances; i++) {
    execd_instance *inst = d->instances[i];
    int rc = inst->plugin->create(host_table(), inst, inst->block->config, &inst->self);
    if (rc) {
      char label[128];
      instance_label(inst, label, sizeof label);
      log_err("%s (plugin %s): cannot start: %s", label, loader_path(inst->loaded),
              instance_error(inst, execd_strerror(rc)));
      inst->self = NULL;
      return -1;
    }
  }
  return 0;
}

static int start_kind(daemon_ctx *d, int kind) {
  for (size_t i = 0; i < d->n_instances; i++) {
    execd_instance *inst = d->instances[i];
    if (inst->kind != kind || inst->started)
      continue;
    if (inst->plugin->start) {
      int rc = inst->plugin->start(inst->self);
      if (rc) {
        char label[128];
        instance_label(inst, label, sizeof label);
        log_err("%s: cannot start: %s", label, instance_error(inst, execd_strerror(rc)));
        return -1;
      }
    }
    inst->started = 1;
  }
  return 0;
}

static void stop_kind(daemon_ctx *d, int kind) {
  for (size_t i = 0; i < d->n_instances; i++) {
    execd_instance *inst = d->instances[i];
    if (inst->kind == kind && inst->started) {
      if (inst->plugin->stop)
        inst->plugin->stop(inst->self);
      inst->started = 0;
    }
  }
}

static void on_drained(void *arg) {
  daemon_ctx *d = arg;
  /* Transports served until now, answering new executions with 503. */
  stop_kind(d, EXECD_KIND_TRANSPORT);
  stop_kind(d, EXECD_KIND_BACKEND);
  pipeline_close(d->pipeline);
  stop_kind(d, EXECD_KIND_STORAGE);
  api_close();
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sighup, NULL);
  notify_close();
  log_notice("stopped");
}

static void on_stop_signal(uv_signal_t *h, int signum) {
  daemon_ctx *d = h->data;
  if (d->stopping) {
    log_notice("%s again: not waiting any longer", strsignal(signum));
    pipeline_drain_now(d->pipeline);
    return;
  }
  d->stopping = 1;
  log_notice("%s: no longer accepting executions; draining", strsignal(signum));
  notify_stopping("draining: no longer accepting executions");
  /* Transports keep listening while draining: clients get a 503 with
   * Retry-After rather than a refused connection. */
  pipeline_drain(d->pipeline, on_drained, d);
}

/* The config, or its agents, give some workspaces a quota (resources.
 * workspace_max): the first such job must not be where it turns out that
 * execd cannot mount (not root, no CAP_SYS_ADMIN).  Blocks: before the loop,
 * or on the thread pool for a reload (whose agents may set it). */
static int check_workspace_quota(const execd_config *cfg, const char *state_dir, char *why,
                                 size_t whylen) {
  const char *where = NULL;
  for (size_t i = 0; i < cfg->n_backends && !where; i++)
    if (json_object_get(cfg->backends[i].defaults, "workspace_max"))
      where = cfg->backends[i].name;
  for (size_t i = 0; !where && i < catalog_count(cfg->catalog); i++) {
    const agent *a = catalog_at(cfg->catalog, i);
    if (json_object_get(json_object_get(agent_def(a), "resources"), "workspace_max") ||
        json_object_get(json_object_get(agent_def(a), "defaults"), "workspace_max"))
      where = agent_name(a);
  }
  if (!where)
    return 0;
  char dir[4096], err[4200];
  snprintf(dir, sizeof dir, "%s/work", state_dir);
  if (workspace_mount_probe(dir, err, sizeof err) == 0)
    return 0;
  snprintf(why, whylen,
           "workspace_max is set (%s) but workspaces cannot be mounted: %s; "
           "run execd as root (CAP_SYS_ADMIN) or remove workspace_max",
           where, err);
  return -1;
}

/* Logs each line of a multi-line error (every broken agent file). */
static void log_err_lines(const char *prefix, const char *err, const char *suffix) {
  const char *line = err;
  do {
    size_t n = strcspn(line, "\n");
    log_err("%s%.*s%s", prefix, (int)n, line, suffix);
    line += n;
  } while (*line++);
}

/* A reload: the file and the agent files are read and checked on the
 * thread pool (blocking reads, schema compilation), then applied on the
 * loop.  A SIGHUP during a reload asks for one more after it. */
typedef struct reload_ctx {
  uv_work_t work;
  daemon_ctx *d;
  char *path;
  char *state_dir; /* the running one: workspaces stay where they are */
  execd_config *fresh; /* NULL: err says why */
  char err[16384];
} reload_ctx;

static void start_reload(daemon_ctx *d);

static void reload_work(uv_work_t *w) {
  reload_ctx *r = w->data;
  if (config_load(r->path, &r->fresh, r->err, sizeof r->err) != 0) {
    r->fresh = NULL;
  } else if (check_workspace_quota(r->fresh, r->state_dir, r->err, sizeof r->err) != 0) {
    config_free(r->fresh);
    r->fresh = NULL;
  }
}

/* The fresh catalog replaces the running one: requests from now on see it;
 * executions accepted before keep the agents they hold. */
static void apply_catalog(daemon_ctx *d, execd_config *fresh) {
  char err[2048];
  if (catalog_check_backends(fresh->catalog, d->cfg, err, sizeof err) != 0) {
    log_err("reload: %s; keeping the running agents", err);
    return;
  }
  catalog *old = d->cfg->catalog;
  d->cfg->catalog = fresh->catalog;
  fresh->catalog = old; /* freed with fresh; agents in use stay */
  char *dir = d->cfg->agents_dir;
  d->cfg->agents_dir = fresh->agents_dir;
  fresh->agents_dir = dir;
  log_notice("reload: %zu agents in force (%s%s)", catalog_count(d->cfg->catalog),
             d->cfg->agents_dir ? "inline and " : "inline",
             d->cfg->agents_dir ? d->cfg->agents_dir : "");
}

/* Applies the log level, hands each instance its (re-validated) block and
 * swaps the catalog in.  Plugins, backends and listeners stay. */
static void reload_done(uv_work_t *w, int status) {
  reload_ctx *r = w->data;
  daemon_ctx *d = r->d;
  execd_config *fresh = r->fresh;
  char err[2048];
  d->reloading = 0;
  if (status != 0 || !fresh) {
    log_err_lines("reload: ", status ? "cancelled" : r->err, "");
    log_err("reload: keeping the running configuration and agents");
  } else if (!d->stopping) {
    log_set_level(fresh->log_level);
    tenants_reload(d->loop, fresh->tokens_file);
    for (size_t i = 0; i < d->n_instances; i++) {
      execd_instance *inst = d->instances[i];
      if (!inst->plugin->reload)
        continue;
      plugin_block *b = NULL;
      if (inst->kind == EXECD_KIND_STORAGE)
        b = &fresh->storage;
      for (size_t j = 0; !b && inst->kind == EXECD_KIND_BACKEND && j < fresh->n_backends; j++)
        if (strcmp(fresh->backends[j].name, inst->name) == 0)
          b = &fresh->backends[j];
      for (size_t j = 0; !b && inst->kind == EXECD_KIND_TRANSPORT && j < fresh->n_transports; j++)
        if (strcmp(fresh->transports[j].name, inst->name) == 0)
          b = &fresh->transports[j];
      if (!b)
        continue;
      if (config_check_plugin_keys(fresh, b, inst->plugin->config_keys, err, sizeof err) != 0) {
        log_err("reload: %s", err);
        continue;
      }
      inst->last_error[0] = '\0';
      if (inst->plugin->reload(inst->self, b->config) != 0)
        log_err("reload of %s failed: %s", inst->name, instance_error(inst, "no detail"));
    }
    apply_catalog(d, fresh);
    log_notice("reloaded %s (log level, tokens, agents and plugin settings that can change live)",
               d->cfg->path);
  }
  config_free(fresh);
  free(r->path);
  free(r->state_dir);
  free(r);
  if (d->reload_again && !d->stopping) {
    d->reload_again = 0;
    start_reload(d);
  }
}

static void start_reload(daemon_ctx *d) {
  reload_ctx *r = xcalloc(1, sizeof *r);
  r->d = d;
  r->path = xstrdup(d->cfg->path);
  r->state_dir = xstrdup(d->cfg->state_dir);
  r->work.data = r;
  d->reloading = 1;
  if (uv_queue_work(d->loop, &r->work, reload_work, reload_done) != 0) {
    log_err("reload: cannot queue the reload");
    d->reloading = 0;
    free(r->path);
    free(r->state_dir);
    free(r);
  }
}

static void on_reload(uv_signal_t *h, int signum) {
  daemon_ctx *d = h->data;
  (void)signum;
  if (d->stopping)
    return;
  if (d->reloading) {
    d->reload_again = 1;
    return;
  }
  start_reload(d);
}

static void serve(void *arg);

static void on_recovered(void *arg, int status) {
  daemon_ctx *d = arg;
  if (status != 0) {
    log_err("recovery failed; refusing to serve with an unknown backlog");
    d->exit_code = 1;
    d->stopping = 1;
    on_drained(d);
    return;
  }
  /* max_per_day counts what storage accepted earlier today, so the day's
   * count is known before the first submit.  Without a tokens file there
   * are no quotas (adding one takes a restart). */
  if (d->cfg->tokens_file)
    quota_load_today(d->pipeline, serve, d);
  else
    serve(d);
}

/* Recovery done and the day's quota counts read: the transports start. */
static void serve(void *arg) {
  daemon_ctx *d = arg;
  if (start_kind(d, EXECD_KIND_TRANSPORT) != 0) {
    d->exit_code = 1;
    d->stopping = 1;
    stop_kind(d, EXECD_KIND_TRANSPORT);
    on_drained(d);
    return;
  }
  log_notice("ready: %zu backends, %zu transports, storage %s", d->cfg->n_backends,
             d->cfg->n_transports, d->instances[0]->name);
  /* Every plugin started and recovery finished: only now are we up. */
  notify_ready("serving: %zu backends, %zu transports, storage %s", d->cfg->n_backends,
               d->cfg->n_transports, d->instances[0]->name);
}

static void close_leftover(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Jobs run under uids of their own must be able to pass through every
 * directory above their workspace.  execd's own two (state_dir, work/)
 * are made searchable if they were not (an existing state_dir, or one
 * from mktemp -d, may be 0700); an ancestor that others cannot search is
 * the operator's to change, and said once. */
static void make_searchable(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0 || (st.st_mode & 0011) == 0011)
    return;
  if (chmod(dir, (st.st_mode & 07777) | 0011) == 0)
    log_notice("%s made searchable (mode %04o) so that jobs under their own uids reach their "
               "workspaces below it",
               dir, (unsigned)((st.st_mode & 07777) | 0011));
}

static void check_ancestors_searchable(const char *state_dir) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", state_dir);
  for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
    *slash = '\0';
    const char *dir = buf[0] ? buf : "/";
    struct stat st;
    if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH)) {
      log_warn("%s (mode %04o) cannot be searched by other users: jobs that run under "
                  "their own uid cannot reach their workspaces in %s/work; chmod o+x it or "
                  "choose another state_dir",
                  dir, (unsigned)(st.st_mode & 07777), state_dir);
      return;
    }
    if (!buf[0])
      break;
  }
}

/* Workspaces left by an earlier run are removed at the end of recovery,
 * except those of adopted attempts (recovery.c). */
static void make_work_dir(const char *state_dir) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/work", state_dir);
  mkdir_p(dir, 0711); /* jobs under their own uids reach their workspace, list none */
  make_searchable(state_dir);
  make_searchable(dir);
  check_ancestors_searchable(state_dir);
}

int main(int argc, char **argv) {
  const char *config_path = SYSCONFDIR "/execd/execd.conf";
  int check_only = 0;
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"check-config", no_argument, NULL, 'C'},
                                       {"foreground", no_argument, NULL, 'f'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
    switch (opt) {
    case 'c': config_path = optarg; break;
    case 'C': check_only = 1; break;
    case 'f': break;
    case 'V':
      printf("execd %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
      return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  daemon_ctx d;
  memset(&d, 0, sizeof d);
  char err[16384];
  if (config_load(config_path, &d.cfg, err, sizeof err) != 0) {
    log_err_lines("", err, "");
    log_err("refusing to start: fix the configuration (execd --check-config -c %s)", config_path);
    return 1;
  }
  log_set_level(d.cfg->log_level);

  char search[8192];
  const char *env_path = getenv("EXECD_PLUGIN_PATH");
  snprintf(search, sizeof search, "%s%s%s", env_path && *env_path ? env_path : "",
           env_path && *env_path ? ":" : "", d.cfg->plugin_dir);
  if (loader_init(search) != 0) {
    log_err("cannot initialise the plugin loader (libltdl)");
    return 1;
  }
  d.loop = uv_default_loop();
  d.pipeline = pipeline_new(d.loop, d.cfg);
  if (!d.pipeline) {
    log_err("out of memory");
    return 1;
  }
  int rc = load_all(&d);
  if (rc == 0) {
    /* The tokens file is the core's (every transport authenticates with
     * it): read at start and by --check-config alike. */
    if (tenants_init(d.cfg->tokens_file, err, sizeof err) != 0) {
      log_err("%s", err);
      rc = 1;
    }
  }
  if (rc == 0 && check_only) {
    printf("%s: configuration OK (%zu backends, %zu transports, storage %s)\n", config_path,
           d.cfg->n_backends, d.cfg->n_transports, d.cfg->storage.plugin);
  }
  if (rc != 0 || check_only) {
    for (size_t i = 0; i < d.n_instances; i++) {
      loader_close(d.instances[i]->loaded);
      free(d.instances[i]->name);
      free(d.instances[i]);
    }
    free(d.instances);
    pipeline_free(d.pipeline);
    tenants_close();
    loader_exit();
    config_free(d.cfg);
    if (rc != 0 && check_only)
      log_err("%s: configuration invalid", config_path);
    else if (rc != 0)
      log_err("refusing to start: a plugin could not be loaded or configured");
    return rc != 0 ? 1 : 0;
  }

  /* Searchable, not listable, by others: jobs under their own uids reach
   * their workspaces below it; the store is private (0750). */
  if (mkdir_p(d.cfg->state_dir, 0711) != 0) {
    log_err("cannot create state_dir %s: %s", d.cfg->state_dir, strerror(errno));
    return 1;
  }
  make_work_dir(d.cfg->state_dir);
  if (check_workspace_quota(d.cfg, d.cfg->state_dir, err, sizeof err) != 0) {
    log_err("%s", err);
    return 1;
  }
  api_init(d.pipeline);
  if (create_all(&d) != 0 || start_kind(&d, EXECD_KIND_STORAGE) != 0 ||
      start_kind(&d, EXECD_KIND_BACKEND) != 0) {
    d.exit_code = 1;
    api_close();
  } else {
    uv_signal_init(d.loop, &d.sigterm);
    uv_signal_init(d.loop, &d.sigint);
    uv_signal_init(d.loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&d.sighup, on_reload, SIGHUP);
    log_notice("execd %s starting with %s", PACKAGE_VERSION, config_path);
    notify_init(d.loop);
    notify_status("recovering unfinished executions");
    pipeline_recover(d.pipeline, on_recovered, &d);
  }
  uv_run(d.loop, UV_RUN_DEFAULT);
  /* A plugin that left a handle open must not keep us from exiting. */
  uv_walk(d.loop, close_leftover, NULL);
  uv_run(d.loop, UV_RUN_DEFAULT);

  for (size_t i = d.n_instances; i-- > 0;) {
    execd_instance *inst = d.instances[i];
    if (inst->self)
      inst->plugin->destroy(inst->self);
    loader_close(inst->loaded);
    free(inst->name);
    free(inst);
  }
  free(d.instances);
  pipeline_free(d.pipeline);
  tenants_close();
  quota_close();
  usage_close();
  uv_loop_close(d.loop);
  loader_exit();
  config_free(d.cfg);
  return d.exit_code;
}
