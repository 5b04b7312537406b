/* Per-attempt cgroups (cgroup v1 "memory" and "pids" controllers) for the
 * local backend.  They make the memory limit exact (resident memory, not
 * address space), let execd tell an OOM kill from other deaths, give the
 * job's peak memory, cap its processes without RLIMIT_NPROC's per-user
 * counting, and find every process of the job even if it left its process
 * group.  Without a writable v1 hierarchy the backend falls back to
 * rlimits alone. */
#ifndef EXECD_LOCAL_CGROUP_H
#define EXECD_LOCAL_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <execd/host.h>

typedef struct local_cgroups local_cgroups;

/* One attempt's groups. */
typedef struct cgroup_job {
  char memory_dir[PATH_MAX]; /* "" when not used */
  char pids_dir[PATH_MAX];   /* "" when not used */
  int memory_procs_fd;       /* cgroup.procs, for the child to join; or -1 */
  int pids_procs_fd;
} cgroup_job;

/* Finds the hierarchies and makes the backend's parent groups below the
 * daemon's own ("<own>/execd-<hash of state_dir>-<instance>").  Returns NULL (and logs why at
 * info level) when neither controller is usable. */
local_cgroups *cgroups_open(const execd_host *host, execd_instance *inst);
void cgroups_close(local_cgroups *cg);
bool cgroups_have_memory(const local_cgroups *cg);
bool cgroups_have_pids(const local_cgroups *cg);

/* Creates the groups of one attempt: a memory group when memory_group
 * (limited when memory_bytes > 0, else for the peak alone), a pids group
 * when pids > 0.  Returns 0 or an errno value; on failure nothing is left
 * behind. */
int cgroup_job_create(local_cgroups *cg, const char *name, bool memory_group,
                      int64_t memory_bytes, int64_t pids, cgroup_job *job);
/* Closes the join descriptors once the child has started. */
void cgroup_job_started(cgroup_job *job);
/* True if the kernel's OOM killer killed a process of the attempt. */
bool cgroup_job_oom_killed(const cgroup_job *job);
/* Peak memory use of the attempt in bytes, or 0 if unknown. */
int64_t cgroup_job_peak_memory(const cgroup_job *job);
/* SIGKILLs every process still in the attempt's groups. */
void cgroup_job_kill_all(const cgroup_job *job);
/* Removes the groups, killing what is left in them; blocks briefly while
 * the last processes go away, so call it from the thread pool.  True if
 * every group is gone: then no process of the attempt is left. */
bool cgroup_job_remove(cgroup_job *job);

#endif
