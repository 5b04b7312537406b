/* See cgroup.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"

struct local_cgroups {
  char memory_parent[PATH_MAX]; /* "" if the controller is not usable */
  char pids_parent[PATH_MAX];
};

/* The mount point of the v1 hierarchy carrying CONTROLLER, from
 * /proc/self/mountinfo ("... <mount point> ... - cgroup <src> <options>"). */
static int find_mount(const char *controller, char *out, size_t outlen) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return -1;
  char line[4096];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    char *sep = strstr(line, " - cgroup ");
    if (!sep)
      continue;
    char *opts = strrchr(sep, ' ');
    if (!opts)
      continue;
    opts++;
    opts[strcspn(opts, "\n")] = '\0';
    bool has = false;
    for (char *save = NULL, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
      if (strcmp(o, controller) == 0)
        has = true;
    if (!has)
      continue;
    /* Fields: id parent major:minor root mountpoint ... */
    char *save = NULL, *field = strtok_r(line, " ", &save);
    for (int i = 0; field && i < 4; i++)
      field = strtok_r(NULL, " ", &save);
    if (field) {
      snprintf(out, outlen, "%s", field);
      found = 0;
    }
  }
  fclose(f);
  return found;
}

/* The daemon's own group in CONTROLLER's hierarchy, from /proc/self/cgroup
 * ("N:memory:/path"). */
static int own_group(const char *controller, char *out, size_t outlen) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f)
    return -1;
  char line[4096];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
      continue;
    *c2 = '\0';
    bool has = false;
    for (char *save = NULL, *o = strtok_r(c1 + 1, ",", &save); o; o = strtok_r(NULL, ",", &save))
      if (strcmp(o, controller) == 0)
        has = true;
    if (has) {
      char *path = c2 + 1;
      path[strcspn(path, "\n")] = '\0';
      snprintf(out, outlen, "%s", strcmp(path, "/") == 0 ? "" : path);
      found = 0;
    }
  }
  fclose(f);
  return found;
}

static int write_text(const char *dir, const char *file, const char *text) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  ssize_t n = write(fd, text, strlen(text));
  int e = n < 0 ? errno : 0;
  close(fd);
  return e;
}

static int read_text(const char *dir, const char *file, char *buf, size_t len) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

static void kill_procs_in(const char *dir) {
  for (int pass = 0; pass < 3; pass++) {
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (!f)
      return;
    int killed = 0;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1)
      if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
        killed++;
    fclose(f);
    if (!killed)
      return;
  }
}

/* Removes a group, waiting up to ~2 s for its last processes to go.
 * True once it is gone: then no process was left in it. */
static bool remove_group(const char *dir) {
  for (int i = 0; i < 200; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT)
      return true;
    if (errno != EBUSY)
      return false;
    kill_procs_in(dir);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

/* Groups of attempts that outlived a crashed daemon: kill and remove. */
static void remove_stale(const char *parent) {
  DIR *d = opendir(parent);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.')
      continue;
    char dir[PATH_MAX + 300];
    snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
    kill_procs_in(dir);
    remove_group(dir);
  }
  closedir(d);
}

static bool open_controller(const execd_host *host, execd_instance *inst,
                            const char *controller, char *parent, size_t len) {
  char mount[PATH_MAX], own[PATH_MAX];
  parent[0] = '\0';
  if (find_mount(controller, mount, sizeof mount) < 0) {
    host->log(inst, EXECD_LOG_INFO, "no cgroup v1 %s hierarchy mounted", controller);
    return false;
  }
  if (own_group(controller, own, sizeof own) < 0) {
    host->log(inst, EXECD_LOG_INFO, "not in a cgroup v1 %s group", controller);
    return false;
  }
  /* Named after the state directory too: two daemons on one host never
   * touch each other's groups, and a restarted one finds its stale ones. */
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *c = host->state_dir(inst); c && *c; c++)
    h = (h ^ (uint8_t)*c) * 16777619u;
  int n = snprintf(parent, len, "%s%s/execd-%08x-%s", mount, own, (unsigned)h,
                   host->instance_name(inst));
  if (n < 0 || (size_t)n >= len || (mkdir(parent, 0755) < 0 && errno != EEXIST)) {
    host->log(inst, EXECD_LOG_INFO, "cannot create the cgroup %s: %s", parent, strerror(errno));
    parent[0] = '\0';
    return false;
  }
  remove_stale(parent);
  return true;
}

local_cgroups *cgroups_open(const execd_host *host, execd_instance *inst) {
  local_cgroups *cg = calloc(1, sizeof *cg);
  if (!cg)
    return NULL;
  bool mem = open_controller(host, inst, "memory", cg->memory_parent, sizeof cg->memory_parent);
  bool pids = open_controller(host, inst, "pids", cg->pids_parent, sizeof cg->pids_parent);
  if (!mem && !pids) {
    free(cg);
    return NULL;
  }
  host->log(inst, EXECD_LOG_INFO, "per-job cgroups: memory %s, pids %s",
            mem ? cg->memory_parent : "unavailable", pids ? cg->pids_parent : "unavailable");
  return cg;
}

void cgroups_close(local_cgroups *cg) {
  if (!cg)
    return;
  if (cg->memory_parent[0])
    rmdir(cg->memory_parent);
  if (cg->pids_parent[0])
    rmdir(cg->pids_parent);
  free(cg);
}

bool cgroups_have_memory(const local_cgroups *cg) { return cg && cg->memory_parent[0]; }
bool cgroups_have_pids(const local_cgroups *cg) { return cg && cg->pids_parent[0]; }

static int make_group(const char *parent, const char *name, char *dir, size_t len, int *procs_fd) {
  int n = snprintf(dir, len, "%s/%s", parent, name);
  if (n < 0 || (size_t)n >= len)
    return ENAMETOOLONG;
  if (mkdir(dir, 0755) < 0 && errno != EEXIST)
    return errno;
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  *procs_fd = open(path, O_WRONLY | O_CLOEXEC);
  return *procs_fd < 0 ? errno : 0;
}

int cgroup_job_create(local_cgroups *cg, const char *name, bool memory_group,
                      int64_t memory_bytes, int64_t pids, cgroup_job *job) {
  memset(job, 0, sizeof *job);
  job->memory_procs_fd = job->pids_procs_fd = -1;
  char num[32];
  int e = 0;
  if (memory_group && cgroups_have_memory(cg)) {
    e = make_group(cg->memory_parent, name, job->memory_dir, sizeof job->memory_dir,
                   &job->memory_procs_fd);
    snprintf(num, sizeof num, "%" PRId64, memory_bytes);
    if (!e && memory_bytes > 0)
      e = write_text(job->memory_dir, "memory.limit_in_bytes", num);
    /* memory = memory + swap: no swapping past the limit.  Absent when the
     * kernel does not account swap. */
    if (!e && memory_bytes > 0)
      (void)write_text(job->memory_dir, "memory.memsw.limit_in_bytes", num);
  }
  if (!e && pids > 0 && cgroups_have_pids(cg)) {
    e = make_group(cg->pids_parent, name, job->pids_dir, sizeof job->pids_dir,
                   &job->pids_procs_fd);
    snprintf(num, sizeof num, "%" PRId64, pids);
    if (!e)
      e = write_text(job->pids_dir, "pids.max", num);
  }
  if (e) {
    cgroup_job_started(job);
    cgroup_job_remove(job);
  }
  return e;
}

void cgroup_job_started(cgroup_job *job) {
  if (job->memory_procs_fd >= 0)
    close(job->memory_procs_fd);
  if (job->pids_procs_fd >= 0)
    close(job->pids_procs_fd);
  job->memory_procs_fd = job->pids_procs_fd = -1;
}

bool cgroup_job_oom_killed(const cgroup_job *job) {
  char buf[512];
  if (!job->memory_dir[0] || read_text(job->memory_dir, "memory.oom_control", buf, sizeof buf) < 0)
    return false;
  const char *p = strstr(buf, "oom_kill ");
  return p && strtoll(p + 9, NULL, 10) > 0;
}

int64_t cgroup_job_peak_memory(const cgroup_job *job) {
  char buf[64];
  if (!job->memory_dir[0] || read_text(job->memory_dir, "memory.max_usage_in_bytes", buf, sizeof buf) < 0)
    return 0;
  return strtoll(buf, NULL, 10);
}

void cgroup_job_kill_all(const cgroup_job *job) {
  if (job->pids_dir[0])
    kill_procs_in(job->pids_dir);
  if (job->memory_dir[0])
    kill_procs_in(job->memory_dir);
}

bool cgroup_job_remove(cgroup_job *job) {
  bool gone = true;
  if (job->memory_dir[0])
    gone &= remove_group(job->memory_dir);
  if (job->pids_dir[0])
    gone &= remove_group(job->pids_dir);
  job->memory_dir[0] = job->pids_dir[0] = '\0';
  return gone;
}
