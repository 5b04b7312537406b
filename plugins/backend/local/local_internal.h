/* The local backend: runs each attempt as a process group on this host.
 *
 *   local.c   descriptor, configuration, check(), health()
 *   job.c     one running attempt: spawn, stdin/stdout/stderr, signals,
 *             reaping through a pidfd, the exit report
 *   spawn.c   the vfork-style spawn with the child's setup (rlimits,
 *             process group, parent-death signal, namespaces, user switch)
 *   cgroup.c  per-attempt cgroup v1 memory and pids groups, when usable
 *   procs.c   an attempt's processes found through /proc (session and
 *             environment), its record for the next start after a crash
 *   reaper.c  execd as the child subreaper; SIGCHLD reaps leaders and
 *             orphans
 *   netns.c   the network namespace a job with network "none" gets
 *   netns_pool.c  namespaces made ahead for "per-job", on a thread of its own
 *   identity.c  the per-attempt uid each job runs under
 *   spawner.c the thread that claims uids and starts jobs off the loop
 *   runners.c the programs that run their arguments (warned about at start)
 */
#ifndef EXECD_LOCAL_INTERNAL_H
#define EXECD_LOCAL_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include <execd/plugin.h>

#include "identity.h"

/* How jobs with network "none" are cut off from the host's network. */
enum local_netns_mode {
  NETNS_OFF,     /* share the host's network (no isolation) */
  NETNS_SHARED,  /* one namespace with only loopback, shared by all jobs */
  NETNS_PER_JOB  /* a fresh namespace per attempt (slower to create) */
};

/* Whom jobs run as (doc/backend-local.md, "Identities"). */
enum local_identity_mode {
  IDENTITY_PER_ATTEMPT, /* a uid of uid_range of its own per attempt (execd is root) */
  IDENTITY_FIXED,       /* the configured user, the same for every attempt */
  IDENTITY_DAEMON       /* execd's own user (execd is not root) */
};

typedef struct local_cgroups local_cgroups; /* cgroup.h */
typedef struct netns_pool netns_pool;       /* netns_pool.h */
typedef struct spawner spawner;             /* spawner.h */

typedef struct local_backend {
  const execd_host *host;
  execd_instance *inst;
  uv_loop_t *loop;
  char **commands_allowed; /* NULL-terminated globs */
  char **users_allowed;    /* NULL-terminated "uid[:gid]" a request may ask for */
  char *default_user;      /* "uid[:gid]" or NULL: see identity_mode */
  enum local_identity_mode identity_mode;
  identity_range uids;     /* IDENTITY_PER_ATTEMPT: where uids come from (the spawner's) */
  enum local_netns_mode netns_mode;
  int shared_netns_fd;     /* NETNS_SHARED: the namespace to join, or -1 */
  netns_pool *netns_pool;  /* NETNS_PER_JOB: namespaces made ahead, or NULL */
  spawner *spawner;        /* starts every job, off the loop */
  bool use_cgroups;
  local_cgroups *cgroups;  /* NULL when cgroups are off or unusable */
  int64_t output_drain_ms; /* wait for stdout/stderr EOF after the exit */
  char *records_dir;       /* <state_dir>/local/<instance>: running attempts (procs.h) */
  unsigned running;
} local_backend;

/* Parses "uid[:gid]" (numbers only).  Returns 0 or -1. */
int local_parse_user(const char *text, uid_t *uid, gid_t *gid, bool *has_gid);

/* netns.c: a new network namespace with loopback up, as a descriptor to
 * setns() into; -1 with *err set when the kernel refuses. */
int local_netns_create(int *err);

/* job.c */
int local_job_start(local_backend *lb, const execd_job_spec *spec,
                    execd_job *token, void **handle);
int local_job_signal(local_backend *lb, void *handle, int signum);
/* Reaps PID if it is the leader of a running job (the reaper found it
 * exited); false if it is not one. */
bool local_job_reap_leader(pid_t pid);
/* Shutdown: kills every job of LB and closes its handles without an exit
 * report (recovery concludes those attempts at the next start). */
void local_job_stop_all(local_backend *lb);

/* reaper.c */
void local_reaper_open(local_backend *lb);
void local_reaper_close(void);
/* Scans again for exited children if a scan stopped at a job the spawner
 * had not yet handed to the loop. */
void local_reaper_rescan(void);

#endif
