/* Per-attempt identities of the local backend: each attempt runs under a
 * uid (and a gid of the same number) of its own, taken from the configured
 * uid_range, so that no attempt can reach another one's workspace or
 * processes (doc/backend-local.md, "Identities").
 *
 * A uid is claimed host-wide by binding the abstract socket
 * "execd-uid-<uid>" (released by the kernel when execd dies, so nothing is
 * left behind by a crash), and taken only if no process runs under it:
 * whatever an earlier attempt left running keeps its uid from being
 * reused.  When the attempt ends every process of its uid is killed before
 * the claim is released. */
#ifndef EXECD_LOCAL_IDENTITY_H
#define EXECD_LOCAL_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The default range: 65536 ids from 2013265920 (0x78000000), inside the
 * block systemd leaves unassigned (1879048192-2147352575), above every
 * default subordinate-uid range and below 2^31. */
#define IDENTITY_DEFAULT_RANGE "2013265920-2013331455"

typedef struct identity_range {
  uid_t first;
  uint32_t count;
  uint32_t next; /* where the next search starts (offset from first) */
} identity_range;

/* One claimed uid; lock_fd < 0 when nothing is claimed. */
typedef struct identity_claim {
  uid_t uid;
  int lock_fd;
} identity_claim;

/* Parses "first-last" (decimal).  Returns 0 or -1 with why set. */
int identity_parse_range(const char *text, identity_range *out, const char **why);

/* Claims a free uid of the range.  Returns 0, or an errno value (EAGAIN:
 * every uid tried is in use).  Does not block: a few system calls and a
 * short-lived helper process per candidate. */
int identity_claim_next(identity_range *range, identity_claim *out);

/* Kills every process running under uid (from a short-lived helper that
 * switches to it, so no other user's process can be hit).  Returns true
 * if none was running: then none can appear under uid (only root or a
 * process of uid starts one) until execd starts one. */
bool identity_kill_all(uid_t uid);

/* Releases a claim (kill first: identity_kill_all). */
void identity_release(identity_claim *claim);

#endif
