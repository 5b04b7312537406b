/* See spawn.h.  The child runs on the parent's memory (CLONE_VM, on a
 * stack of its own) until it execs, so it only makes system calls, writes
 * its failure into the shared spawn_failure and never returns from
 * child_run(). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "spawn.h"

/* Written by the child, read by the parent once clone returns. */
typedef struct spawn_failure {
  volatile int err;
  const char *volatile step;
} spawn_failure;

int spawn_loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  close(s);
  return rc;
}

SPAWN_CHILD_CODE __attribute__((noreturn)) static void child_fail(spawn_failure *f,
                                                                  const char *step) {
  f->err = errno ? errno : EINVAL;
  f->step = step;
  _exit(127);
}

SPAWN_CHILD_CODE static int move_fd(int from, int to) {
  if (from == to)
    return fcntl(to, F_SETFD, 0); /* keep it across exec */
  return dup2(from, to) < 0 ? -1 : 0;
}

SPAWN_CHILD_CODE __attribute__((noreturn)) static void child_run(const spawn_plan *p,
                                                                 pid_t parent,
                                                                 spawn_failure *f) {
  /* Handlers are the daemon's and would run on its memory: default them
   * all (the table is the child's own copy), then unblock below. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &dfl, NULL);

  /* A session of its own (and so a process group): what the job starts
   * keeps the session id unless it calls setsid() itself (procs.h). */
  if (setsid() < 0)
    child_fail(f, "setsid");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    child_fail(f, "prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) { /* the daemon died before the prctl */
    errno = ESRCH;
    child_fail(f, "getppid");
  }
  for (int i = 0; i < p->n_cgroup_fds; i++)
    if (write(p->cgroup_procs_fds[i], "0", 1) != 1)
      child_fail(f, "join cgroup");
  if (p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) < 0)
    child_fail(f, "setns(network)");
  if (p->new_netns) {
    if (unshare(CLONE_NEWNET) < 0)
      child_fail(f, "unshare(CLONE_NEWNET)");
    if (spawn_loopback_up() < 0)
      child_fail(f, "loopback up");
  }
  for (int i = 0; i < p->n_rlimits; i++)
    if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].limit) < 0)
      child_fail(f, "setrlimit");
  if (move_fd(p->stdin_fd, 0) < 0 || move_fd(p->stdout_fd, 1) < 0 ||
      move_fd(p->stderr_fd, 2) < 0)
    child_fail(f, "dup2");
  if (p->switch_user) {
    for (int i = 0; i < p->n_chown; i++)
      if (chown(p->chown_paths[i], p->uid, p->gid) < 0)
        child_fail(f, "chown workspace");
    if (p->private_dir && chmod(p->private_dir, 0700) < 0)
      child_fail(f, "chmod workspace");
    /* Raw system calls: glibc's wrappers would try to change every thread
     * of the daemon, whose memory this child shares. */
    if (syscall(SYS_setgroups, 1, &p->gid) < 0)
      child_fail(f, "setgroups");
    if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
      child_fail(f, "setgid");
    if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
      child_fail(f, "setuid");
    /* A change of credentials clears the parent-death signal: set it again. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
      child_fail(f, "prctl(PR_SET_PDEATHSIG)");
    if (getppid() != parent) {
      errno = ESRCH;
      child_fail(f, "getppid");
    }
  }
  if (chdir(p->cwd) < 0)
    child_fail(f, "chdir");
  /* The job's uid stays the job's: no set-user-ID program or file
   * capability of the host gives it more (as NoNewPrivileges= does). */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    child_fail(f, "prctl(PR_SET_NO_NEW_PRIVS)");
  /* Any descriptor of the daemon that lacks O_CLOEXEC stays behind. */
  syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(p->path, p->argv, p->envp);
  child_fail(f, "execve");
}

/* What the clone child needs: it runs child_run() on a stack of its own. */
typedef struct child_args {
  const spawn_plan *plan;
  pid_t parent;
  spawn_failure *failure;
} child_args;

SPAWN_CHILD_CODE static int child_main(void *arg) {
  child_args *a = arg;
  child_run(a->plan, a->parent, a->failure);
}

/* The child's stack, one per calling thread: the caller is suspended
 * until the child has exec'd or exited (CLONE_VFORK), so one is enough. */
#define CHILD_STACK_SIZE (256 * 1024)
static __thread char *child_stack;

int spawn_clone(int (*fn)(void *), void *arg) {
  if (!child_stack) {
    void *m = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
      return -1;
    child_stack = m;
  }
  /* Exit signal 0: no SIGCHLD, so the subreaper's reaping on the loop
   * (reaper.c, waitid without __WALL) never takes this child before its
   * creator, on another thread, has seen it fail; an exec makes it
   * SIGCHLD (then reaper.c leaves it to its job, spawner.h). */
  return clone(fn, child_stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK, arg);
}

int spawn_start(const spawn_plan *plan, spawn_child *out, const char **step) {
  spawn_failure failure = {0, NULL};
  child_args args = {plan, getpid(), &failure};
  sigset_t all, saved;
  sigfillset(&all);
  /* No handler may run in the child while it shares our memory. */
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = spawn_clone(child_main, &args);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (pid < 0) {
    *step = "clone";
    return fork_errno;
  }
  if (failure.step) {
    waitpid(pid, NULL, __WALL); /* it has already called _exit */
    *step = failure.step;
    return failure.err;
  }
  /* The reaper leaves it alone while the spawner runs (spawners_may_own),
   * so the pid is still its. */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    int e = errno;
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, __WALL);
    *step = "pidfd_open";
    return e;
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  out->pid = pid;
  out->pidfd = pidfd;
  return 0;
}
