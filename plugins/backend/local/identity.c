/* See identity.h.  The helpers are children sharing the daemon's memory
 * (spawn_clone: CLONE_VM | CLONE_VFORK, exit signal 0) that change only their
 * own credentials with raw system calls (glibc's setuid() would try to
 * change every thread of the daemon whose memory they share), then kill or
 * probe as that uid: kill(-1, SIGKILL) reaches exactly the processes a
 * process of that uid may signal, which are that uid's own. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "identity.h"
#include "spawn.h"

#define CLAIM_TRIES 4096 /* candidates looked at per claim */

int identity_parse_range(const char *text, identity_range *out, const char **why) {
  char *end;
  errno = 0;
  unsigned long long first = strtoull(text, &end, 10);
  if (errno || end == text || *end != '-') {
    *why = "is not \"first-last\" (two uids)";
    return -1;
  }
  const char *l = end + 1;
  unsigned long long last = strtoull(l, &end, 10);
  if (errno || end == l || *end) {
    *why = "is not \"first-last\" (two uids)";
    return -1;
  }
  if (first == 0 || last < first) {
    *why = "must be first-last with 0 < first <= last";
    return -1;
  }
  if (last >= 2147483647ULL) {
    *why = "must end below 2147483647 (uids from 2^31 up are unsafe in many programs)";
    return -1;
  }
  if (first <= 65535 && last >= 65534) {
    *why = "must not contain 65534 (nobody) or 65535";
    return -1;
  }
  out->first = (uid_t)first;
  out->count = (uint32_t)(last - first + 1);
  out->next = 0;
  return 0;
}

/* The helper's work, as uid. */
enum as_uid_task { KILL_ALL, PROBE };

/* PROBE: is any process running under the helper's uid?  kill(-1, 0) cannot
 * tell (it succeeds whenever any process exists), but the kernel counts each
 * user's processes: with RLIMIT_NPROC at 2, the helper (1) can start one
 * more only if nothing else runs as its uid.  A vfork, whose child exits
 * at once: no fork handler runs, and the daemon's page tables are not
 * copied (a plain fork here cost more than starting the job itself).
 * Returns 0: free, 1: in use. */
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_WITH_VFORK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROBE_WITH_VFORK 0
#endif
#endif
#ifndef PROBE_WITH_VFORK
#define PROBE_WITH_VFORK 1
#endif

SPAWN_CHILD_CODE static int probe_as_uid(void) {
  struct rlimit two = {2, 2};
  if (setrlimit(RLIMIT_NPROC, &two) < 0)
    return 2;
#if PROBE_WITH_VFORK
  pid_t c = vfork();
  if (c == 0)
    _exit(0);
#else
  /* AddressSanitizer's vfork keeps the caller's return address in the
   * thread's storage, which this child shares with the daemon's thread
   * (it runs in as_uid()'s child): a vfork here would overwrite the
   * daemon's.  A raw clone copies the memory instead. */
  long c = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
  if (c == 0)
    syscall(SYS_exit_group, 0);
#endif
  if (c < 0)
    return errno == EAGAIN ? 1 : 2;
  while (waitpid((pid_t)c, NULL, 0) < 0 && errno == EINTR)
    ;
  return 0;
}

/* Runs TASK as uid in a helper child (spawn_clone).  KILL_ALL: kill(-1, SIGKILL) reaches
 * exactly the processes of uid, then the probe tells whether any is left
 * (killed ones count until they are gone).  Returns the probe's result
 * (0 nothing else runs as uid, 1 something does), or -1 if the helper
 * failed. */
typedef struct as_uid_args {
  uid_t uid;
  enum as_uid_task task;
} as_uid_args;

SPAWN_CHILD_CODE static int as_uid_child(void *arg) {
  const as_uid_args *a = arg;
  if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, a->uid, a->uid, a->uid) < 0 ||
      syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
    _exit(2);
  if (a->task == KILL_ALL)
    kill(-1, SIGKILL);
  _exit(probe_as_uid());
}

static int as_uid(uid_t uid, enum as_uid_task task) {
  as_uid_args args = {uid, task};
  sigset_t all, saved;
  sigfillset(&all);
  /* No handler of the daemon may run in the child while it shares our memory. */
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  /* Exit signal 0: the subreaper's SIGCHLD handler on the loop never
   * reaps it before this thread does. */
  pid_t pid = spawn_clone(as_uid_child, &args);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (pid < 0)
    return -1;
  int status;
  while (waitpid(pid, &status, __WALL) < 0)
    if (errno != EINTR)
      return -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
    return -1;
  return WEXITSTATUS(status);
}

bool identity_kill_all(uid_t uid) {
  /* Twice: a process forking while the first pass ran is caught by the
   * second.  Unless nothing was left after the first: then nothing can
   * fork (only a process of uid, or root, starts one under uid).  kill()
   * cannot tell: kill(-1) succeeds whenever any process exists. */
  if (as_uid(uid, KILL_ALL) == 0)
    return true;
  as_uid(uid, KILL_ALL);
  return false;
}

static int claim_lock(uid_t uid) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  /* Abstract name: sun_path[0] is NUL. */
  int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "execd-uid-%u", (unsigned)uid);
  if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                                  (size_t)n)) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int identity_claim_next(identity_range *range, identity_claim *out) {
  uint32_t tries = range->count < CLAIM_TRIES ? range->count : CLAIM_TRIES;
  for (uint32_t i = 0; i < tries; i++) {
    uid_t uid = range->first + (uid_t)((range->next + i) % range->count);
    int fd = claim_lock(uid);
    if (fd == -EADDRINUSE)
      continue; /* another attempt, of this execd or another, has it */
    if (fd < 0)
      return -fd;
    /* Something of an earlier attempt still runs under it: leave it be. */
    int probe = as_uid(uid, PROBE);
    if (probe != 0) {
      close(fd);
      if (probe < 0)
        return EPERM;
      continue;
    }
    /* Round robin: a released uid is the last to be used again. */
    range->next = (range->next + i + 1) % range->count;
    out->uid = uid;
    out->lock_fd = fd;
    return 0;
  }
  return EAGAIN;
}

void identity_release(identity_claim *claim) {
  if (claim->lock_fd >= 0)
    close(claim->lock_fd);
  claim->lock_fd = -1;
}
