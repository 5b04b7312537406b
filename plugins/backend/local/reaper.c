/* execd as a child subreaper.  A job's descendants that lose their parent
 * (a double fork, a daemon) are re-parented to execd instead of init, so
 * while execd runs they stay where the attempt's end can find and kill
 * them (procs.h), and execd reaps them.  The SIGCHLD handler reaps every
 * exited child: a job's leader through job.c (its status and rusage are
 * the attempt's), anything else as an orphan -- except a job the spawner
 * thread has started and not yet handed to the loop (spawner.h): that
 * zombie waits for its job, and the scan runs again once the loop has it.
 * The uid helpers, and a job's child until it execs, have exit signal 0
 * (spawn.h) and are not seen here.  Shared by every local instance: the
 * plugin is loaded once. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "local_internal.h"
#include "spawner.h"

static unsigned reaper_users;
static uv_signal_t reaper_signal;
static bool deferred; /* a scan stopped at a zombie a spawner may own */

static void scan(void) {
  deferred = false;
  /* One SIGCHLD may stand for several exits; the bound keeps one call
   * short whatever happens. */
  for (int i = 0; i < 4096; i++) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
      return;
    if (local_job_reap_leader(si.si_pid))
      continue;
    if (spawners_may_own(si.si_pid)) {
      deferred = true; /* waitid would return it first again */
      return;
    }
    if (waitpid(si.si_pid, NULL, WNOHANG) < 0 && errno != EINTR)
      return;
  }
}

static void on_sigchld(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  scan();
}

void local_reaper_rescan(void) {
  if (deferred && reaper_users > 0)
    scan();
}

void local_reaper_open(local_backend *lb) {
  if (reaper_users++ > 0)
    return;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
    lb->host->log(lb->inst, EXECD_LOG_WARNING,
                  "cannot become a child subreaper (%s): orphaned processes of jobs go to "
                  "init",
                  strerror(errno));
  uv_signal_init(lb->loop, &reaper_signal);
  uv_signal_start(&reaper_signal, on_sigchld, SIGCHLD);
}

void local_reaper_close(void) {
  if (reaper_users == 0 || --reaper_users > 0)
    return;
  uv_close((uv_handle_t *)&reaper_signal, NULL);
}
