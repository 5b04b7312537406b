/* The local backend plugin: descriptor, configuration, check() and the ops
 * glue.  Running jobs live in job.c. */
#include "config.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "configcheck/config_check.h"
#include "local_internal.h"
#include "netns_pool.h"
#include "runners.h"
#include "procs.h"
#include "spawner.h"

static const execd_config_key local_config_keys[] = {
    {"commands_allowed", EXECD_CFG_LIST, "[]",
     "globs of the absolute program paths jobs may run (\"/usr/bin/*\"); nothing runs "
     "unless it matches"},
    {"user", EXECD_CFG_STRING, NULL,
     "\"uid[:gid]\" every job runs as (attempts share it); default: a uid of uid_range per "
     "attempt when execd is root, else execd's own user"},
    {"uid_range", EXECD_CFG_STRING, IDENTITY_DEFAULT_RANGE,
     "\"first-last\": the uids (and gids of the same numbers) attempts run under, one each, "
     "when execd is root and no user is set; no user or group of the host may use them"},
    {"users_allowed", EXECD_CFG_LIST, "[]",
     "\"uid[:gid]\" values a request's container.user may ask for"},
    {"network_namespace", EXECD_CFG_STRING, "per-job",
     "how jobs with network \"none\" are isolated: \"per-job\" (a new network "
     "namespace each), \"shared\" (one loopback-only namespace for all jobs, faster) "
     "or \"off\""},
    {"cgroups", EXECD_CFG_BOOL, "true",
     "put every job in a cgroup v1 memory group of its own (exact memory limit, OOM "
     "detection, its own peak memory) and jobs with a pids limit in a pids group; off: "
     "rlimits only"},
    {"output_drain", EXECD_CFG_DURATION, "2s",
     "how long to wait for stdout/stderr to close after the job exited"},
    {NULL, 0, NULL, NULL}};

/* ---- config ---------------------------------------------------------------- */

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

static int list_of(local_backend *lb, const json_t *config, const char *key, char ***out) {
  const json_t *a = json_object_get(config, key);
  size_t n = json_array_size(a);
  char **v = calloc(n + 1, sizeof *v);
  if (!v)
    return EXECD_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *s = json_string_value(json_array_get(a, i));
    if (!s || !*s) {
      lb->host->set_error(lb->inst, "%s[%zu] must be a non-empty string", key, i);
      free_strv(v);
      return EXECD_ECONFIG;
    }
    v[i] = strdup(s);
  }
  *out = v;
  return 0;
}

/* No account or group of the host may have an id of the range: its files
 * and processes would be an attempt's. */
static int check_range_is_free(local_backend *lb) {
  uid_t last = lb->uids.first + (uid_t)(lb->uids.count - 1);
  int rc = 0;
  setpwent();
  struct passwd *pw;
  while ((pw = getpwent()) != NULL) {
    if (pw->pw_uid >= lb->uids.first && pw->pw_uid <= last) {
      lb->host->set_error(lb->inst, "uid_range %u-%u holds the uid %u of user \"%s\": choose "
                          "a range no account uses",
                          (unsigned)lb->uids.first, (unsigned)last, (unsigned)pw->pw_uid,
                          pw->pw_name);
      rc = -1;
      break;
    }
  }
  endpwent();
  if (rc)
    return rc;
  setgrent();
  struct group *gr;
  while ((gr = getgrent()) != NULL) {
    if (gr->gr_gid >= lb->uids.first && gr->gr_gid <= last) {
      lb->host->set_error(lb->inst, "uid_range %u-%u holds the gid %u of group \"%s\": choose "
                          "a range no account uses (attempts get the gid of their uid's number)",
                          (unsigned)lb->uids.first, (unsigned)last, (unsigned)gr->gr_gid,
                          gr->gr_name);
      rc = -1;
      break;
    }
  }
  endgrent();
  return rc;
}

/* Per-attempt uids must reach their workspace: every directory above
 * <state_dir>/work needs search permission for others. */
static void check_workspaces_reachable(local_backend *lb) {
  const char *state = lb->host->state_dir ? lb->host->state_dir(lb->inst) : NULL;
  if (!state || state[0] != '/')
    return;
  char path[4096];
  snprintf(path, sizeof path, "%s/work", state);
  for (char *c = path + 1;; c++) {
    bool end = *c == '\0';
    if (*c == '/' || end) {
      char keep = *c;
      *c = '\0';
      struct stat st;
      if (stat(path, &st) == 0 && !(st.st_mode & S_IXOTH)) {
        lb->host->log(lb->inst, EXECD_LOG_WARNING,
                      "jobs run under their own uids and cannot reach their workspaces: %s "
                      "is mode %04o; make it searchable by others (chmod o+x)",
                      path, (unsigned)(st.st_mode & 07777));
        return;
      }
      *c = keep;
    }
    if (end)
      return;
  }
}

static int configure_identity(local_backend *lb, const json_t *config, const char *user) {
  const char *range = json_string_value(json_object_get(config, "uid_range"));
  const char *why = NULL;
  if (identity_parse_range(range ? range : IDENTITY_DEFAULT_RANGE, &lb->uids, &why) < 0) {
    lb->host->set_error(lb->inst, "uid_range \"%s\" %s", range, why);
    return -1;
  }
  if (user) {
    lb->identity_mode = IDENTITY_FIXED;
    lb->host->log(lb->inst, EXECD_LOG_NOTICE,
                  "every job runs as user %s: attempts running at once can reach each "
                  "other's workspaces (leave user unset for a uid per attempt)",
                  user);
  } else if (geteuid() == 0) {
    lb->identity_mode = IDENTITY_PER_ATTEMPT;
    if (check_range_is_free(lb))
      return -1;
  } else {
    lb->identity_mode = IDENTITY_DAEMON;
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "execd is not root, so jobs run as its own uid %u: attempts running at once "
                  "can reach each other's workspaces (run execd as root for a uid per attempt)",
                  (unsigned)geteuid());
    return 0;
  }
  check_workspaces_reachable(lb);
  return 0;
}

static int configure(local_backend *lb, const json_t *config) {
  int rc = list_of(lb, config, "commands_allowed", &lb->commands_allowed);
  if (!rc)
    rc = list_of(lb, config, "users_allowed", &lb->users_allowed);
  if (rc)
    return rc;
  for (char **g = lb->commands_allowed; *g; g++) {
    if ((*g)[0] != '/' && strcmp(*g, "*") != 0) {
      lb->host->set_error(lb->inst, "commands_allowed: \"%s\" is not an absolute path glob", *g);
      return EXECD_ECONFIG;
    }
    if (strcmp(*g, "*") == 0 || strcmp(*g, "/*") == 0) {
      lb->host->log(lb->inst, EXECD_LOG_WARNING,
                    "commands_allowed contains \"%s\": any program on this host may run", *g);
      continue;
    }
    char names[256];
    unsigned n = local_runners_in_entry(*g, names, sizeof names);
    if (n == 1 && !strpbrk(*g, "*?["))
      lb->host->log(lb->inst, EXECD_LOG_WARNING,
                    "commands_allowed contains \"%s\": %s runs its arguments, so a request "
                    "can run any program through it",
                    *g, names);
    else if (n)
      lb->host->log(lb->inst, EXECD_LOG_WARNING,
                    "commands_allowed contains \"%s\": it admits %u program%s (%s), each of "
                    "which runs its arguments, so a request can run any program through them",
                    *g, n, n == 1 ? "" : "s", names);
  }
  if (!lb->commands_allowed[0])
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "commands_allowed is empty: every execution on this backend will be refused");
  const char *user = json_string_value(json_object_get(config, "user"));
  if (user) {
    uid_t u;
    gid_t g;
    bool has_gid;
    if (local_parse_user(user, &u, &g, &has_gid) < 0) {
      lb->host->set_error(lb->inst, "user \"%s\" is not \"uid[:gid]\" (numbers)", user);
      return EXECD_ECONFIG;
    }
    lb->default_user = strdup(user);
  }
  for (char **p = lb->users_allowed; *p; p++) {
    uid_t u;
    gid_t g;
    bool has_gid;
    if (local_parse_user(*p, &u, &g, &has_gid) < 0) {
      lb->host->set_error(lb->inst, "users_allowed: \"%s\" is not \"uid[:gid]\" (numbers)", *p);
      return EXECD_ECONFIG;
    }
  }
  if ((user || lb->users_allowed[0]) && geteuid() != 0)
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "execd is not root: switching to another user will fail");
  if (configure_identity(lb, config, user))
    return EXECD_ECONFIG;

  const char *mode = json_string_value(json_object_get(config, "network_namespace"));
  if (!mode || strcmp(mode, "per-job") == 0) {
    lb->netns_mode = NETNS_PER_JOB;
  } else if (strcmp(mode, "shared") == 0) {
    lb->netns_mode = NETNS_SHARED;
  } else if (strcmp(mode, "off") == 0) {
    lb->netns_mode = NETNS_OFF;
  } else {
    lb->host->set_error(lb->inst,
                        "network_namespace must be \"per-job\", \"shared\" or \"off\", not \"%s\"",
                        mode);
    return EXECD_ECONFIG;
  }
  const json_t *cg = json_object_get(config, "cgroups");
  lb->use_cgroups = cg ? json_is_true(cg) : true;
  const json_t *drain = json_object_get(config, "output_drain");
  lb->output_drain_ms = drain ? json_integer_value(drain) : 2000;
  return 0;
}

/* Network isolation where the kernel allows it; say so when it does not. */
static void setup_network_isolation(local_backend *lb) {
  lb->shared_netns_fd = -1;
  if (lb->netns_mode == NETNS_OFF) {
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "network_namespace is off: jobs share the host's network");
    return;
  }
  int err = 0;
  int fd = local_netns_create(&err);
  if (fd < 0) {
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "cannot create network namespaces (%s): jobs share the host's network",
                  strerror(err));
    lb->netns_mode = NETNS_OFF;
    return;
  }
  if (lb->netns_mode == NETNS_SHARED) {
    lb->shared_netns_fd = fd;
    return;
  }
  close(fd);
  lb->netns_pool = netns_pool_start(&err);
  if (!lb->netns_pool)
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "cannot start making network namespaces ahead (%s): each job makes its own",
                  strerror(err));
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* <state_dir>/local/<instance>: the records of running attempts.  What
 * is recorded there at start belongs to an earlier execd that died
 * without ending its attempts: kill what is left of them. */
static void open_records(local_backend *lb) {
  const char *state = lb->host->state_dir(lb->inst);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/local", state ? state : ".");
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    goto unusable;
  snprintf(dir, sizeof dir, "%s/local/%s", state ? state : ".",
           lb->host->instance_name(lb->inst));
  if (mkdir(dir, 0700) < 0 && errno != EEXIST)
    goto unusable;
  unsigned killed = procs_sweep_records(dir);
  if (killed)
    lb->host->log(lb->inst, EXECD_LOG_NOTICE,
                  "killed %u processes left by attempts of an earlier run of execd", killed);
  lb->records_dir = strdup(dir);
  return;
unusable:
  lb->host->log(lb->inst, EXECD_LOG_WARNING,
                "cannot create %s (%s): processes a job leaves behind cannot be found after "
                "a crash of execd",
                dir, strerror(errno));
}

static void local_stop(void *self) {
  local_backend *lb = self;
  local_job_stop_all(lb);
  spawner_stop(lb->spawner);
  lb->spawner = NULL;
  local_reaper_close();
  netns_pool_stop(lb->netns_pool);
  lb->netns_pool = NULL;
}

static void local_destroy(void *self) {
  local_backend *lb = self;
  if (!lb)
    return;
  spawner_stop(lb->spawner); /* not stopped: a start that failed later on */
  free(lb->records_dir);
  free_strv(lb->commands_allowed);
  free_strv(lb->users_allowed);
  free(lb->default_user);
  if (lb->shared_netns_fd >= 0)
    close(lb->shared_netns_fd);
  netns_pool_stop(lb->netns_pool);
  cgroups_close(lb->cgroups);
  free(lb);
}

static int local_create(const execd_host *host, execd_instance *inst, const json_t *config,
                        void **self) {
  local_backend *lb = calloc(1, sizeof *lb);
  if (!lb)
    return EXECD_ENOMEM;
  lb->host = host;
  lb->inst = inst;
  lb->loop = host->loop(inst);
  lb->shared_netns_fd = -1;
  int rc = configure(lb, config);
  if (rc) {
    local_destroy(lb);
    return rc;
  }
  setup_network_isolation(lb);
  if (lb->use_cgroups)
    lb->cgroups = cgroups_open(host, inst);
  open_records(lb);
  int err = 0;
  lb->spawner = spawner_start(lb->loop, &err);
  if (!lb->spawner) {
    host->set_error(inst, "cannot start the thread that starts jobs: %s", strerror(err));
    local_destroy(lb);
    return EXECD_EIO;
  }
  local_reaper_open(lb);
  *self = lb;
  return 0;
}

/* ---- ops ------------------------------------------------------------------------- */

/* An absolute path without ".", ".." or empty components, so that a glob
 * like "/usr/bin/<star>" cannot be walked out of. */
static bool clean_absolute_path(const char *p) {
  if (p[0] != '/')
    return false;
  for (const char *c = p; *c; c++) {
    if (*c != '/')
      continue;
    const char *n = c + 1;
    if (*n == '/' || *n == '\0')
      return false;
    if (n[0] == '.' && (n[1] == '/' || n[1] == '\0'))
      return false;
    if (n[0] == '.' && n[1] == '.' && (n[2] == '/' || n[2] == '\0'))
      return false;
  }
  return true;
}

static bool in_list(char **list, const char *s) {
  for (char **p = list; p && *p; p++)
    if (strcmp(*p, s) == 0)
      return true;
  return false;
}

static int local_check(void *self, const execd_job_spec *spec) {
  local_backend *lb = self;
  if (spec->image) {
    lb->host->set_error(lb->inst,
                        "the local backend runs host programs, not images: drop container.image");
    return EXECD_EINVAL;
  }
  const char *prog = spec->argv ? spec->argv[0] : NULL;
  if (!prog) {
    lb->host->set_error(lb->inst, "no command given");
    return EXECD_EINVAL;
  }
  if (!clean_absolute_path(prog)) {
    lb->host->set_error(lb->inst,
                        "command \"%s\" must be an absolute path without \".\", \"..\" or "
                        "empty components",
                        prog);
    return EXECD_EPERM;
  }
  bool allowed = false;
  for (char **g = lb->commands_allowed; *g && !allowed; g++)
    allowed = fnmatch(*g, prog, 0) == 0;
  if (!allowed) {
    lb->host->set_error(lb->inst, "command \"%s\" is not in commands_allowed", prog);
    return EXECD_EPERM;
  }
  if (spec->user && !in_list(lb->users_allowed, spec->user) &&
      !(lb->default_user && strcmp(spec->user, lb->default_user) == 0)) {
    lb->host->set_error(lb->inst, "user \"%s\" is not in users_allowed", spec->user);
    return EXECD_EPERM;
  }
  const char *net = spec->limits ? spec->limits->network : NULL;
  if (net && strcmp(net, "none") != 0 && strcmp(net, "host") != 0) {
    lb->host->set_error(lb->inst, "network \"%s\": the local backend knows \"none\" and \"host\"",
                        net);
    return EXECD_EINVAL;
  }
  return 0;
}

static int local_start(void *self, const execd_job_spec *spec, execd_job *job, void **handle) {
  local_backend *lb = self;
  int rc = local_check(lb, spec);
  if (rc)
    return rc;
  return local_job_start(lb, spec, job, handle);
}

static int local_signal(void *self, void *handle, int signum) {
  return local_job_signal(self, handle, signum);
}

static const execd_backend_ops local_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = local_check,
    .start = local_start,
    .signal = local_signal,
    .health = NULL,
};

/* check_config: create()'s configure() on a scratch backend; nothing else
 * of create() (network namespace, cgroups) runs. */
static int local_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  local_backend *lb = calloc(1, sizeof *lb);
  if (!lb) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  lb->host = config_check_host();
  lb->inst = config_check_begin(&ck, err, errlen);
  lb->shared_netns_fd = -1;
  int rc = configure(lb, config);
  local_destroy(lb);
  return config_check_end(&ck, rc);
}

static const execd_plugin local_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "local",
    .version = PACKAGE_VERSION,
    .description = "runs executions as process groups on this host",
    .config_keys = local_config_keys,
    .create = local_create,
    .stop = local_stop,
    .destroy = local_destroy,
    .ops = &local_ops,
    .check_config = local_check_config,
};

EXECD_PLUGIN_DEFINE(local_plugin)
