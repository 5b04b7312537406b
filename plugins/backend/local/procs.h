/* The processes of one attempt, found through /proc when cgroups cannot
 * hold them: its session (the job leads a session of its own) and, for
 * descendants that left it (setsid, a double fork), the EXECUTION_ID and
 * ATTEMPT variables execd put in the job's environment, which they keep.
 * Only processes started no earlier than the leader count, so a pid or a
 * session id reused by an unrelated process is never touched.  Also the
 * per-attempt record that lets the next start of execd find what an
 * attempt left behind after a crash (kill -9) of execd. */
#ifndef EXECD_LOCAL_PROCS_H
#define EXECD_LOCAL_PROCS_H

#include <stdbool.h>
#include <sys/types.h>

/* What identifies an attempt's processes. */
typedef struct procs_attempt {
  char execution_id[64];
  unsigned attempt;
  pid_t session;                   /* the leader's pid */
  unsigned long long start_ticks;  /* the leader's start, clock ticks since boot */
  char boot_id[40];                /* the boot the above belong to */
} procs_attempt;

/* Fills *a for a leader just started.  Returns 0 or an errno value. */
int procs_attempt_init(procs_attempt *a, const char *execution_id, unsigned attempt,
                       pid_t leader);

/* SIGKILLs every process of the attempt (the leader included), pass after
 * pass until none is found.  Reads /proc: call from the thread pool or
 * before the loop runs.  Returns how many were signalled. */
unsigned procs_kill_attempt(const procs_attempt *a);

/* The record of a running attempt, DIR/<execution>-<attempt>.  Written
 * atomically; 0 or an errno value. */
int procs_record_write(const char *dir, const procs_attempt *a);
void procs_record_remove(const char *dir, const procs_attempt *a);

/* At start: every attempt recorded in DIR belongs to an earlier execd
 * (the local backend never re-attaches): kill what is left of each and
 * remove its record.  Returns how many processes were signalled. */
unsigned procs_sweep_records(const char *dir);

#endif
