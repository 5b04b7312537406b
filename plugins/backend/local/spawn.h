/* Process creation for the local backend.
 *
 * uv_spawn forks and offers no hook for rlimits, a parent-death signal or
 * namespaces; posix_spawn offers no hook either.  spawn_start() therefore
 * does what posix_spawn does inside glibc -- clone(CLONE_VM | CLONE_VFORK)
 * onto a stack of its own, a short child setup of raw system calls,
 * execve() -- with the setup execd needs.  The calling thread (the
 * backend's spawner thread, not the loop: spawner.h) is suspended only
 * until the exec, and gets a pidfd to watch the exit on the loop.  The
 * child's exit signal is 0 until it execs (exec makes it SIGCHLD), so a
 * child that fails before its exec is reaped by its creator (__WALL),
 * never by the subreaper's SIGCHLD handler on the loop (reaper.c). */
#ifndef EXECD_LOCAL_SPAWN_H
#define EXECD_LOCAL_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#define SPAWN_MAX_RLIMITS 8
#define SPAWN_MAX_CGROUPS 2
#define SPAWN_MAX_CHOWN 3

/* Everything the child does between vfork and exec.  Prepared in full by
 * the parent: the child allocates nothing. */
typedef struct spawn_plan {
  const char *path;          /* absolute program path (argv[0]) */
  char *const *argv;
  char *const *envp;
  const char *cwd;
  int stdin_fd, stdout_fd, stderr_fd; /* become 0, 1, 2 */
  struct {
    int resource;
    struct rlimit limit;
  } rlimits[SPAWN_MAX_RLIMITS];
  int n_rlimits;
  int cgroup_procs_fds[SPAWN_MAX_CGROUPS]; /* "0" is written to each: join */
  int n_cgroup_fds;
  int netns_fd;    /* setns() into this namespace, or -1 */
  bool new_netns;  /* unshare(CLONE_NEWNET) and bring loopback up */
  bool switch_user;
  uid_t uid;
  gid_t gid;
  const char *chown_paths[SPAWN_MAX_CHOWN]; /* given to uid:gid first */
  int n_chown;
  const char *private_dir; /* then made 0700 (the workspace), or NULL */
} spawn_plan;

/* A started process: its pid (also its session and process group) and a pidfd that
 * turns readable when it exits. */
typedef struct spawn_child {
  pid_t pid;
  int pidfd;
} spawn_child;

/* Starts the plan.  Returns 0, or an errno value with *step naming the
 * setup step that failed ("execve", "setrlimit", ...); nothing is left
 * running then. */
int spawn_start(const spawn_plan *plan, spawn_child *out, const char **step);

/* Runs fn(arg) in a child sharing the caller's memory, on a stack of the
 * calling thread's, with exit signal 0 (until an exec); the caller is
 * suspended until the child execs or exits (the block of every signal is
 * the caller's to set).  Returns the child's pid (reap it with __WALL), or
 * -1. */
int spawn_clone(int (*fn)(void *), void *arg);

/* For the functions a spawn_clone() child runs: AddressSanitizer does not
 * know the child's stack and aborts at its first call that does not
 * return (_exit, execve). */
#define SPAWN_CHILD_CODE __attribute__((no_sanitize_address))

/* Brings the loopback interface of the current network namespace up. */
int spawn_loopback_up(void);

#endif
