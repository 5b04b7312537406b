/* One running attempt of the local backend.
 *
 * Life of a job: start() checks it, makes its cgroups and pipes and hands
 * its spawn to the spawner thread (spawner.h: the uid claim, spawn.c) ->
 * on_spawned() on the loop: the pidfd watched, the attempt's record
 * written for the next start (thread pool) -> stdout/stderr read on the
 * loop, stdin written from a copy of the spec's data -> the pidfd turns
 * readable when the leader exits -> the rest of its
 * process group (and cgroups) is killed, the leader reaped with its
 * rusage, what else is left of the attempt killed (procs.h, thread pool)
 * -> once both output pipes hit EOF (or output_drain passed) the exit is
 * reported -> handles close; on the thread pool the attempt's processes
 * are killed once more, its record and cgroups removed; then the job is
 * freed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "local_internal.h"
#include "netns_pool.h"
#include "procs.h"
#include "spawn.h"
#include "spawner.h"

#define STDERR_TAIL 2048

typedef struct local_job {
  struct local_job *next, **prevp; /* every job of the plugin (live_jobs) */
  local_backend *lb;
  execd_job *token; /* dead once job_exited was called */
  pid_t pid;        /* also the process group */
  uv_poll_t exit_watch;
  uv_pipe_t out, err, in;
  uv_write_t in_req;
  uv_timer_t drain_timer;
  char *stdin_copy;
  int pidfd;
  unsigned open_handles; /* initialised handles not yet closed */
  bool out_open, err_open, in_open;
  bool reaped, reported, drain_started;
  int status;
  struct rusage usage;
  cgroup_job cg;
  bool has_cg;
  identity_claim identity; /* the attempt's own uid, when it has one */
  bool uid_empty;           /* the sweep after the leader's exit found nothing under it */
  procs_attempt procs; /* what finds the attempt's processes */
  bool has_procs;
  long daemon_peak_kb; /* execd's own peak RSS when the job was exec'd */
  int64_t memory_limit;
  bool address_space_limited; /* RLIMIT_AS stands for the memory limit */
  char stderr_tail[STDERR_TAIL];
  size_t stderr_tail_len;
  uv_work_t record_work, sweep_work, cleanup;
  char *records_dir; /* copy of lb->records_dir, for the thread pool */
  /* The start, on the spawner thread (spawner.h) until on_spawned(). */
  spawn_request spawn;
  bool spawning;
  bool watching;          /* exit_watch initialised (the process runs) */
  int pending_signal;     /* signal() while spawning: sent once it runs */
  int child_fds[3];       /* the job's ends of its pipes, closed once it runs */
  int pooled_netns_fd;    /* a namespace made ahead, closed once joined */
  bool held_by_cgroup;    /* its processes cannot leave its cgroup */
  char **argv, **env;     /* copies: the spec is the caller's only during start() */
  char *cwd, *workspace;
  char out_path[PATH_MAX];
  char execution_id[64];
  unsigned attempt;
} local_job;

/* Jobs not yet freed, of every instance (the reaper looks leaders up). */
static local_job *live_jobs;

static void maybe_report(local_job *j);

/* ---- teardown ----------------------------------------------------------- */

static void cleanup_run(uv_work_t *req) {
  local_job *j = req->data;
  /* Whatever of the attempt started since the sweep at the leader's exit. */
  if (j->has_procs)
    procs_kill_attempt(&j->procs);
  if (j->has_procs && j->records_dir)
    procs_record_remove(j->records_dir, &j->procs);
  /* Held by its cgroup, the attempt cannot have a process outside it (all
   * of them descend from the job, which joined the group as root before
   * its user switch, and only root moves a process to another group): the
   * group gone, nothing runs under the uid.  Else, and if the group could
   * not be removed, the uid's helper kills what is left before the uid
   * can go to another attempt (the sweep at the leader's exit may have
   * found it empty already). */
  bool emptied = j->has_cg && cgroup_job_remove(&j->cg);
  if (j->identity.lock_fd >= 0 && !j->uid_empty && !(j->held_by_cgroup && emptied))
    identity_kill_all(j->identity.uid);
}

static void free_strings(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

static void cleanup_done(uv_work_t *req, int status) {
  local_job *j = req->data;
  (void)status;
  identity_release(&j->identity);
  if (j->pidfd >= 0) /* stopped at shutdown before its leader was reaped */
    close(j->pidfd);
  if (j->next)
    j->next->prevp = j->prevp;
  *j->prevp = j->next;
  free(j->records_dir);
  free(j->stdin_copy);
  free_strings(j->argv);
  free_strings(j->env);
  free(j->cwd);
  free(j->workspace);
  free(j);
}

/* One handle closed or one piece of thread-pool work done: the last one
 * frees the job. */
static void release_one(local_job *j) {
  if (--j->open_handles > 0)
    return;
  j->cleanup.data = j;
  uv_queue_work(j->lb->loop, &j->cleanup, cleanup_run, cleanup_done);
}

static void on_handle_closed(uv_handle_t *h) { release_one(h->data); }

/* ---- the attempt's processes (procs.h) on the thread pool -------------------- */

static void record_run(uv_work_t *req) {
  local_job *j = req->data;
  procs_record_write(j->records_dir, &j->procs);
}

static void sweep_run(uv_work_t *req) {
  local_job *j = req->data;
  if (j->has_procs)
    procs_kill_attempt(&j->procs);
  /* With a uid of its own, whatever left the process group goes too. */
  if (j->identity.lock_fd >= 0)
    j->uid_empty = identity_kill_all(j->identity.uid);
}

static void work_done(uv_work_t *req, int status) {
  (void)status;
  release_one(req->data);
}

static void close_handle(local_job *j, uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, on_handle_closed);
  (void)j;
}

/* Closes one of the job's pipes (&j->out, &j->err, &j->in) once; *open
 * says whether it is still open. */
static void close_pipe(local_job *j, bool *open, uv_pipe_t *p) {
  if (!*open)
    return;
  *open = false;
  close_handle(j, (uv_handle_t *)p);
}

/* ---- output --------------------------------------------------------------- */

static void alloc_output(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[64 * 1024]; /* the loop thread reads one pipe at a time */
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(chunk, sizeof chunk);
}

static void keep_stderr_tail(local_job *j, const char *data, size_t n) {
  if (n >= STDERR_TAIL) {
    memcpy(j->stderr_tail, data + n - (STDERR_TAIL - 1), STDERR_TAIL - 1);
    j->stderr_tail_len = STDERR_TAIL - 1;
  } else {
    size_t keep = j->stderr_tail_len + n < STDERR_TAIL ? j->stderr_tail_len
                                                         : STDERR_TAIL - 1 - n;
    memmove(j->stderr_tail, j->stderr_tail + j->stderr_tail_len - keep, keep);
    memcpy(j->stderr_tail + keep, data, n);
    j->stderr_tail_len = keep + n;
  }
  j->stderr_tail[j->stderr_tail_len] = '\0';
}

static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  local_job *j = s->data;
  bool is_err = s == (uv_stream_t *)&j->err;
  if (n > 0) {
    if (!j->reported)
      j->lb->host->job_output(j->token, is_err ? EXECD_STREAM_STDERR : EXECD_STREAM_STDOUT,
                              buf->base, (size_t)n);
    if (is_err)
      keep_stderr_tail(j, buf->base, (size_t)n);
    return;
  }
  if (n == 0)
    return;
  /* EOF or a read error: this stream is done. */
  if (is_err)
    j->err_open = false;
  else
    j->out_open = false;
  close_handle(j, (uv_handle_t *)s);
  maybe_report(j);
}

static void on_stdin_written(uv_write_t *req, int status) {
  local_job *j = req->data;
  (void)status; /* EPIPE: the job did not read it all, its business */
  free(j->stdin_copy);
  j->stdin_copy = NULL;
  close_pipe(j, &j->in_open, &j->in);
}

/* ---- exit ------------------------------------------------------------------ */

static void on_drain_timeout(uv_timer_t *t) {
  local_job *j = t->data;
  /* Something outside the process group still holds the pipes open. */
  close_pipe(j, &j->out_open, &j->out);
  close_pipe(j, &j->err_open, &j->err);
  maybe_report(j);
}

static bool stderr_says_out_of_memory(const local_job *j) {
  static const char *const signs[] = {"Cannot allocate memory", "out of memory", "Out of memory",
                                      "MemoryError", "bad_alloc", "memory exhausted", NULL};
  for (const char *const *s = signs; *s; s++)
    if (strstr(j->stderr_tail, *s))
      return true;
  return false;
}

/* The job's own peak memory, or 0 if unknown.  The memory group counts
 * only what the job charged to it.  wait4's ru_maxrss is not the job's
 * alone: exec takes the peak of the memory the child shared with execd
 * until then (vfork) into the count, so it is the job's only when it is
 * above execd's own peak at that time. */
static int64_t job_peak_memory(const local_job *j) {
  if (j->has_cg && j->cg.memory_dir[0])
    return cgroup_job_peak_memory(&j->cg);
  if (j->usage.ru_maxrss > j->daemon_peak_kb)
    return (int64_t)j->usage.ru_maxrss * 1024;
  return 0;
}

static void report(local_job *j) {
  local_backend *lb = j->lb;
  char message[256] = "";
  execd_job_exit e = {.struct_size = sizeof e, .exit_code = -1};
  if (WIFEXITED(j->status)) {
    e.exit_code = WEXITSTATUS(j->status);
  } else if (WIFSIGNALED(j->status)) {
    e.term_signal = WTERMSIG(j->status);
    e.exit_code = 128 + e.term_signal; /* as shells and container engines report it */
  }
  e.cpu_seconds = (double)j->usage.ru_utime.tv_sec + j->usage.ru_utime.tv_usec / 1e6 +
                  (double)j->usage.ru_stime.tv_sec + j->usage.ru_stime.tv_usec / 1e6;
  e.max_rss_bytes = job_peak_memory(j);
  bool failed = e.exit_code != 0;
  if (j->has_cg && j->cg.memory_dir[0] && cgroup_job_oom_killed(&j->cg)) {
    e.error_code = EXECD_ERR_OOM_KILLED;
    snprintf(message, sizeof message,
             "the job exceeded its memory limit of %lld bytes and was killed by the kernel's "
             "OOM killer",
             (long long)j->memory_limit);
  } else if (failed && j->address_space_limited && stderr_says_out_of_memory(j)) {
    e.error_code = EXECD_ERR_MEMORY_LIMIT;
    snprintf(message, sizeof message,
             "the job failed to allocate memory within its limit of %lld bytes (address space)",
             (long long)j->memory_limit);
  } else if (e.term_signal == SIGXCPU) {
    e.error_code = "cpu_time_limit";
    snprintf(message, sizeof message, "the job used up its CPU time limit");
  } else if (e.term_signal == SIGXFSZ) {
    e.error_code = "file_size_limit";
    snprintf(message, sizeof message, "the job wrote a file larger than its limit");
  }
  if (message[0])
    e.error_message = message;
  j->reported = true;
  lb->running--;
  lb->host->job_exited(j->token, &e);
  j->token = NULL;
  uv_timer_stop(&j->drain_timer);
  close_handle(j, (uv_handle_t *)&j->drain_timer);
  if (j->watching)
    close_handle(j, (uv_handle_t *)&j->exit_watch);
  close_pipe(j, &j->in_open, &j->in);
}

static void maybe_report(local_job *j) {
  if (j->reported || !j->reaped)
    return;
  if (!j->out_open && !j->err_open) {
    report(j);
    return;
  }
  if (!j->drain_started) {
    j->drain_started = true;
    uv_timer_start(&j->drain_timer, on_drain_timeout, (uint64_t)j->lb->output_drain_ms, 0);
  }
}

/* The leader exited (its pidfd turned readable, or the reaper saw it). */
static void reap_leader(local_job *j) {
  if (j->reaped)
    return;
  /* Closed (not just stopped) before the pidfd: libuv takes a closing
   * poll handle's descriptor number out of epoll, which by then could be
   * a new pipe's of another job, never to be seen readable again. */
  if (j->watching)
    close_handle(j, (uv_handle_t *)&j->exit_watch);
  /* The leader is a zombie until reaped, so its pid cannot be reused as a
   * process group id yet: kill the rest of the group first. */
  kill(-j->pid, SIGKILL);
  if (j->has_cg)
    cgroup_job_kill_all(&j->cg);
  /* __WALL: a child that died before its exec still has exit signal 0. */
  pid_t got = wait4(j->pid, &j->status, WNOHANG | __WALL, &j->usage);
  if (got != j->pid) {
    /* Readable pidfd means exited; this cannot block for long. */
    got = wait4(j->pid, &j->status, __WALL, &j->usage);
  }
  j->reaped = true;
  close(j->pidfd);
  j->pidfd = -1;
  /* Descendants that left the group (setsid, double fork) may hold the
   * output pipes: kill them now rather than after output_drain, on the
   * thread pool (a /proc scan, helper processes).  (Not for a job stopped
   * at shutdown: its cleanup does that.)  An attempt held by its cgroup
   * has just had all of them killed through it. */
  if ((j->has_procs || (j->identity.lock_fd >= 0 && !j->held_by_cgroup)) && !j->reported) {
    j->open_handles++;
    j->sweep_work.data = j;
    uv_queue_work(j->lb->loop, &j->sweep_work, sweep_run, work_done);
  }
  maybe_report(j);
}

static void on_leader_exit(uv_poll_t *w, int status, int events) {
  (void)status;
  (void)events;
  reap_leader(w->data);
}

bool local_job_reap_leader(pid_t pid) {
  for (local_job *j = live_jobs; j; j = j->next)
    if (!j->spawning && j->pid == pid && !j->reaped) {
      reap_leader(j);
      return true;
    }
  return false;
}

void local_job_stop_all(local_backend *lb) {
  for (local_job *j = live_jobs; j; j = j->next) {
    if (j->lb != lb || j->reported)
      continue;
    /* No exit report: execd is going and leaves the attempt to recovery. */
    j->reported = true;
    j->token = NULL;
    lb->running--;
    /* Still starting: on_spawned() kills it once it runs. */
    if (!j->spawning)
      kill(-j->pid, SIGKILL);
    if (j->has_cg)
      cgroup_job_kill_all(&j->cg);
    uv_timer_stop(&j->drain_timer);
    close_handle(j, (uv_handle_t *)&j->drain_timer);
    if (j->watching)
      close_handle(j, (uv_handle_t *)&j->exit_watch);
    close_pipe(j, &j->out_open, &j->out);
    close_pipe(j, &j->err_open, &j->err);
    close_pipe(j, &j->in_open, &j->in);
  }
}

/* ---- start ------------------------------------------------------------------ */

int local_parse_user(const char *text, uid_t *uid, gid_t *gid, bool *has_gid) {
  char *end;
  errno = 0;
  unsigned long u = strtoul(text, &end, 10);
  if (errno || end == text || u > UINT32_MAX - 1 || (*end && *end != ':'))
    return -1;
  *uid = (uid_t)u;
  *has_gid = false;
  if (*end == ':') {
    const char *g = end + 1;
    unsigned long gv = strtoul(g, &end, 10);
    if (errno || end == g || *end || gv > UINT32_MAX - 1)
      return -1;
    *gid = (gid_t)gv;
    *has_gid = true;
  }
  return 0;
}

static void add_rlimit(spawn_plan *p, int resource, int64_t value) {
  if (value <= 0 || p->n_rlimits >= SPAWN_MAX_RLIMITS)
    return;
  p->rlimits[p->n_rlimits].resource = resource;
  p->rlimits[p->n_rlimits].limit.rlim_cur = (rlim_t)value;
  p->rlimits[p->n_rlimits].limit.rlim_max = (rlim_t)value;
  p->n_rlimits++;
}

static int fail(local_backend *lb, int rc, const char *fmt, const char *arg, int err) {
  lb->host->set_error(lb->inst, fmt, arg, strerror(err));
  return rc;
}

/* A copy of a NULL-terminated list of strings, or NULL. */
static char **copy_strings(const char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  char **c = calloc(n + 1, sizeof *c);
  if (!c)
    return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(c[i] = strdup(v[i]))) {
      free_strings(c);
      return NULL;
    }
  return c;
}

/* What would fail the exec or the chdir for certain, told now so that
 * start() refuses it as before (the rest is reported through job_exited
 * once the spawner has tried). */
static int check_runnable(local_backend *lb, const char *path, const char *cwd) {
  struct stat st;
  if (stat(path, &st) < 0)
    return fail(lb, EXECD_EINVAL, "execve %s: %s", path, errno);
  if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
    return fail(lb, EXECD_EINVAL, "execve %s: %s", path, EACCES);
  if (stat(cwd, &st) < 0)
    return fail(lb, EXECD_EINVAL, "chdir %s: %s", cwd, errno);
  if (!S_ISDIR(st.st_mode))
    return fail(lb, EXECD_EINVAL, "chdir %s: %s", cwd, ENOTDIR);
  return 0;
}

static void on_spawned(spawn_request *req);

int local_job_start(local_backend *lb, const execd_job_spec *spec, execd_job *token,
                    void **handle) {
  const execd_limits *lim = spec->limits;
  const execd_limits none = {0};
  if (!lim)
    lim = &none;
  const char *cwd = spec->working_dir ? spec->working_dir : spec->workspace;
  int rc = check_runnable(lb, spec->argv[0], cwd);
  if (rc)
    return rc;
  local_job *j = calloc(1, sizeof *j);
  if (!j)
    return EXECD_ENOMEM;
  j->lb = lb;
  j->token = token;
  j->pidfd = -1;
  j->pooled_netns_fd = -1;
  j->child_fds[0] = j->child_fds[1] = j->child_fds[2] = -1;
  j->identity.lock_fd = -1;
  j->memory_limit = lim->memory_bytes;
  j->attempt = spec->attempt;
  snprintf(j->execution_id, sizeof j->execution_id, "%s",
           spec->execution_id ? spec->execution_id : "");
  j->argv = copy_strings(spec->argv);
  j->env = copy_strings(spec->env);
  j->cwd = strdup(cwd);
  j->workspace = strdup(spec->workspace);
  if (!j->argv || !j->env || !j->cwd || !j->workspace) {
    rc = EXECD_ENOMEM;
    goto failed;
  }

  spawn_plan plan = {.path = j->argv[0],
                     .argv = j->argv,
                     .envp = j->env,
                     .cwd = j->cwd,
                     .netns_fd = -1};
  identity_range *claim_from = NULL;
  const char *user = spec->user ? spec->user : lb->default_user;
  const char *step = NULL;
  int e = 0;
  if (user) {
    bool has_gid;
    if (local_parse_user(user, &plan.uid, &plan.gid, &has_gid) < 0) {
      lb->host->set_error(lb->inst, "user \"%s\" is not \"uid[:gid]\"", user);
      rc = EXECD_EINVAL;
      goto failed;
    }
    if (!has_gid)
      plan.gid = (gid_t)plan.uid;
    plan.switch_user = true;
  } else if (lb->identity_mode == IDENTITY_PER_ATTEMPT) {
    /* Claimed on the spawner thread (the probe is a helper process). */
    claim_from = &lb->uids;
    plan.switch_user = true;
  }
  if (plan.switch_user) {
    /* The workspace (created 0700 by execd) becomes the job's, so that no
     * other uid can enter it; what execd wrote below input/ and config/
     * stays root's, read-only to the job, and it writes its outputs. */
    plan.chown_paths[plan.n_chown++] = j->workspace;
    plan.private_dir = j->workspace;
    snprintf(j->out_path, sizeof j->out_path, "%s/output", j->workspace);
    plan.chown_paths[plan.n_chown++] = j->out_path;
  }

  bool network_none = !lim->network || strcmp(lim->network, "none") == 0;
  if (network_none && lb->netns_mode == NETNS_PER_JOB)
    plan.new_netns = true; /* or one made ahead: below */
  else if (network_none && lb->netns_mode == NETNS_SHARED)
    plan.netns_fd = lb->shared_netns_fd;

  /* Memory: exact through the memory cgroup, else as address space.  The
   * memory group is made even without a limit: its peak is the job's. */
  bool cg_memory = cgroups_have_memory(lb->cgroups);
  bool cg_pids = lim->pids > 0 && cgroups_have_pids(lb->cgroups);
  if (cg_memory || cg_pids) {
    char name[128];
    snprintf(name, sizeof name, "%s-%u", spec->execution_id ? spec->execution_id : "job",
             spec->attempt);
    e = cgroup_job_create(lb->cgroups, name, cg_memory, lim->memory_bytes,
                          cg_pids ? lim->pids : 0, &j->cg);
    if (e) {
      rc = fail(lb, EXECD_EIO, "cannot create the cgroups of %s: %s", name, e);
      goto failed;
    }
    j->has_cg = true;
    if (j->cg.memory_procs_fd >= 0)
      plan.cgroup_procs_fds[plan.n_cgroup_fds++] = j->cg.memory_procs_fd;
    if (j->cg.pids_procs_fd >= 0)
      plan.cgroup_procs_fds[plan.n_cgroup_fds++] = j->cg.pids_procs_fd;
  }
  if (lim->memory_bytes > 0 && !cg_memory) {
    add_rlimit(&plan, RLIMIT_AS, lim->memory_bytes);
    j->address_space_limited = true;
  }
  /* RLIMIT_NPROC counts every process of the user, so it is only a
   * fallback, and root ignores it anyway. */
  if (!cg_pids)
    add_rlimit(&plan, RLIMIT_NPROC, lim->pids);
  add_rlimit(&plan, RLIMIT_CPU, lim->cpu_seconds);
  add_rlimit(&plan, RLIMIT_NOFILE, lim->nofile);
  add_rlimit(&plan, RLIMIT_FSIZE, lim->fsize_bytes);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  rc = EXECD_EIO;
  if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
    e = errno;
    step = "pipe";
    goto failed_pipes;
  }
  if (spec->stdin_data) {
    if (pipe2(in_pipe, O_CLOEXEC) < 0) {
      e = errno;
      step = "pipe";
      goto failed_pipes;
    }
  } else if ((in_pipe[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    e = errno;
    step = "open /dev/null";
    goto failed_pipes;
  }
  plan.stdin_fd = j->child_fds[0] = in_pipe[0];
  plan.stdout_fd = j->child_fds[1] = out_pipe[1];
  plan.stderr_fd = j->child_fds[2] = err_pipe[1];

  /* The job's own namespace: one made ahead, closed once the job has
   * joined it (the job then holds the only reference: it is never handed
   * to another), else made by the job's child as it starts. */
  if (plan.new_netns && lb->netns_pool &&
      (j->pooled_netns_fd = netns_pool_take(lb->netns_pool)) >= 0) {
    plan.new_netns = false;
    plan.netns_fd = j->pooled_netns_fd;
  }
  /* What finds the attempt's processes now and, after a crash of execd,
   * at the next start: its cgroup when it has one and runs under a uid
   * other than root's (it cannot leave the group: the other groups'
   * cgroup.procs are root's, and its groups are emptied at the next
   * start), else /proc (procs.h). */
  j->held_by_cgroup = j->has_cg && plan.switch_user && (claim_from || plan.uid != 0);

  /* Handles on the loop now; the process comes from the spawner. */
  uv_loop_t *loop = lb->loop;
  uv_pipe_init(loop, &j->out, 0);
  uv_pipe_init(loop, &j->err, 0);
  uv_timer_init(loop, &j->drain_timer);
  j->out.data = j->err.data = j->drain_timer.data = j->exit_watch.data = j;
  j->open_handles = 4; /* out, err, drain timer, the spawn */
  uv_pipe_open(&j->out, out_pipe[0]);
  uv_pipe_open(&j->err, err_pipe[0]);
  j->out_open = j->err_open = true;
  uv_read_start((uv_stream_t *)&j->out, alloc_output, on_output);
  uv_read_start((uv_stream_t *)&j->err, alloc_output, on_output);
  if (spec->stdin_data) {
    uv_pipe_init(loop, &j->in, 0);
    j->in.data = j;
    j->open_handles++;
    uv_pipe_open(&j->in, in_pipe[1]);
    j->in_open = true;
    j->stdin_copy = malloc(spec->stdin_len ? spec->stdin_len : 1);
    memcpy(j->stdin_copy, spec->stdin_data, spec->stdin_len);
    uv_buf_t b = uv_buf_init(j->stdin_copy, (unsigned)spec->stdin_len);
    j->in_req.data = j;
    if (uv_write(&j->in_req, (uv_stream_t *)&j->in, &b, 1, on_stdin_written) < 0) {
      close_pipe(j, &j->in_open, &j->in);
    }
  }
  j->next = live_jobs;
  if (live_jobs)
    live_jobs->prevp = &j->next;
  j->prevp = &live_jobs;
  live_jobs = j;
  j->spawning = true;
  j->spawn.plan = plan;
  j->spawn.claim_from = claim_from;
  j->spawn.done = on_spawned;
  j->spawn.data = j;
  spawner_submit(lb->spawner, &j->spawn);
  lb->running++;
  *handle = j;
  return 0;

failed_pipes:
  for (int i = 0; i < 2; i++) {
    if (out_pipe[i] >= 0)
      close(out_pipe[i]);
    if (err_pipe[i] >= 0)
      close(err_pipe[i]);
    if (in_pipe[i] >= 0)
      close(in_pipe[i]);
  }
  if (j->has_cg) {
    cgroup_job_started(&j->cg);
    cgroup_job_remove(&j->cg);
  }
  rc = fail(lb, rc, "%s: %s", step, e);
failed:
  free_strings(j->argv);
  free_strings(j->env);
  free(j->cwd);
  free(j->workspace);
  free(j);
  return rc;
}

/* The start failed on the spawner: nothing runs (spawner.h), and the exit
 * report says why. */
static void report_start_failure(local_job *j, const spawn_request *r) {
  local_backend *lb = j->lb;
  char message[PATH_MAX + 128];
  const char *step = r->step ? r->step : "spawn";
  const char *subject = strcmp(step, "execve") == 0  ? j->argv[0]
                        : strcmp(step, "chdir") == 0 ? j->cwd
                                                     : "";
  bool no_uid = strcmp(step, "uid claim") == 0;
  if (no_uid)
    snprintf(message, sizeof message, "no uid of uid_range is free for this attempt: %s",
             r->err == EAGAIN ? "all in use" : strerror(r->err));
  else
    snprintf(message, sizeof message, "%s%s%s: %s", step, *subject ? " " : "", subject,
             strerror(r->err));
  lb->host->log(lb->inst, EXECD_LOG_WARNING, "attempt %u of %s could not start: %s",
                j->attempt, j->execution_id, message);
  execd_job_exit e = {.struct_size = sizeof e,
                      .exit_code = -1,
                      .error_code = no_uid && r->err == EAGAIN ? EXECD_ERR_BACKEND_UNAVAILABLE
                                                               : "start_failed",
                      .error_message = message,
                      .retryable = no_uid && r->err == EAGAIN};
  j->reported = true;
  lb->running--;
  lb->host->job_exited(j->token, &e);
  j->token = NULL;
}

/* The spawner is done with the job's start (loop). */
static void on_spawned(spawn_request *r) {
  local_job *j = r->data;
  local_backend *lb = j->lb;
  j->spawning = false;
  if (j->pooled_netns_fd >= 0)
    close(j->pooled_netns_fd);
  j->pooled_netns_fd = -1;
  for (int i = 0; i < 3; i++)
    if (j->child_fds[i] >= 0)
      close(j->child_fds[i]);
  if (j->has_cg)
    cgroup_job_started(&j->cg);
  j->identity = r->claim;
  if (r->err) {
    /* Nothing to reap; the pipes see EOF now that their other ends are
     * closed. */
    j->reaped = true;
    if (!j->reported)
      report_start_failure(j, r);
    uv_timer_stop(&j->drain_timer);
    close_handle(j, (uv_handle_t *)&j->drain_timer);
    close_pipe(j, &j->out_open, &j->out);
    close_pipe(j, &j->err_open, &j->err);
    close_pipe(j, &j->in_open, &j->in);
    release_one(j); /* the spawn */
    local_reaper_rescan();
    return;
  }
  j->pid = r->child.pid;
  j->pidfd = r->child.pidfd;
  struct rusage self_usage;
  getrusage(RUSAGE_SELF, &self_usage);
  j->daemon_peak_kb = self_usage.ru_maxrss;
  if (j->reported) {
    /* Stopped at shutdown while it was starting. */
    kill(-j->pid, SIGKILL);
    if (j->has_cg)
      cgroup_job_kill_all(&j->cg);
    release_one(j);
    local_reaper_rescan();
    return;
  }
  uv_poll_init(lb->loop, &j->exit_watch, j->pidfd);
  j->exit_watch.data = j;
  j->watching = true;
  uv_poll_start(&j->exit_watch, UV_READABLE, on_leader_exit);
  j->has_procs = !j->held_by_cgroup &&
                 procs_attempt_init(&j->procs, j->execution_id[0] ? j->execution_id : NULL,
                                    j->attempt, j->pid) == 0;
  if (j->has_procs && lb->records_dir && (j->records_dir = strdup(lb->records_dir))) {
    j->open_handles++;
    j->record_work.data = j;
    uv_queue_work(lb->loop, &j->record_work, record_run, work_done);
  }
  if (j->pending_signal) {
    kill(-j->pid, j->pending_signal);
    if (j->pending_signal == SIGKILL && j->has_cg)
      cgroup_job_kill_all(&j->cg);
  }
  /* The spawn's count becomes the exit watch's.  A scan of exited
   * children may have stopped at this job: it is known now. */
  local_reaper_rescan();
}

int local_job_signal(local_backend *lb, void *handle, int signum) {
  local_job *j = handle;
  (void)lb;
  if (j && j->spawning) {
    /* Sent once it runs; SIGKILL wins over SIGTERM. */
    if (j->pending_signal != SIGKILL)
      j->pending_signal = signum;
    return 0;
  }
  if (!j || j->reaped)
    return 0; /* already gone; its exit is on its way */
  if (kill(-j->pid, signum) < 0 && errno != ESRCH)
    return EXECD_EIO;
  if (signum == SIGKILL && j->has_cg)
    cgroup_job_kill_all(&j->cg);
  return 0;
}
