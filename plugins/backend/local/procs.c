/* See procs.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procs.h"

/* Environments longer than this are not searched (the variables execd
 * sets come first, but a job may have reordered them). */
#define ENVIRON_MAX (256 * 1024)
#define MAX_PASSES 8

static int read_boot_id(char *out, size_t len) {
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  ssize_t n = read(fd, out, len - 1);
  int e = n < 0 ? errno : 0;
  close(fd);
  if (e)
    return e;
  out[n] = '\0';
  out[strcspn(out, "\n")] = '\0';
  return 0;
}

/* State, session id and start time of PID from /proc/PID/stat.  The
 * command name (field 2) may hold spaces and parentheses: parse after the
 * last ')'. */
static int read_stat(pid_t pid, char *state, pid_t *session, unsigned long long *start_ticks) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p)
    return -1;
  /* Fields from 3 on: state ppid pgrp session ... starttime is field 22. */
  int sid = 0;
  unsigned long long start = 0;
  if (sscanf(p + 2,
             "%c %*d %*d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             state, &sid, &start) != 3)
    return -1;
  *session = (pid_t)sid;
  *start_ticks = start;
  return 0;
}

int procs_attempt_init(procs_attempt *a, const char *execution_id, unsigned attempt,
                       pid_t leader) {
  memset(a, 0, sizeof *a);
  snprintf(a->execution_id, sizeof a->execution_id, "%s", execution_id ? execution_id : "");
  a->attempt = attempt;
  a->session = leader;
  pid_t sid;
  char state;
  if (read_stat(leader, &state, &sid, &a->start_ticks) < 0)
    return errno ? errno : ESRCH;
  return read_boot_id(a->boot_id, sizeof a->boot_id);
}

/* True if both entries ("NAME=VALUE") are in PID's initial environment. */
static bool environ_has_both(pid_t pid, const char *first, const char *second) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char *buf = malloc(ENVIRON_MAX + 1);
  if (!buf) {
    close(fd);
    return false;
  }
  size_t len = 0;
  ssize_t n;
  while (len < ENVIRON_MAX && (n = read(fd, buf + len, ENVIRON_MAX - len)) > 0)
    len += (size_t)n;
  close(fd);
  buf[len] = '\0';
  bool has_first = false, has_second = false;
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
    has_first = has_first || strcmp(buf + i, first) == 0;
    has_second = has_second || strcmp(buf + i, second) == 0;
  }
  free(buf);
  return has_first && has_second;
}

static bool belongs(const procs_attempt *a, pid_t pid, bool session_is_ours, const char *id_entry,
                    const char *attempt_entry) {
  pid_t sid;
  unsigned long long start;
  char state;
  /* A zombie is already dead: only its parent's wait is missing. */
  if (read_stat(pid, &state, &sid, &start) < 0 || state == 'Z' || start < a->start_ticks)
    return false;
  if (session_is_ours && sid == a->session)
    return true;
  return a->execution_id[0] && environ_has_both(pid, id_entry, attempt_entry);
}

unsigned procs_kill_attempt(const procs_attempt *a) {
  char boot[40];
  if (read_boot_id(boot, sizeof boot) != 0 || strcmp(boot, a->boot_id) != 0)
    return 0; /* another boot: nothing of it is left */
  char id_entry[96], attempt_entry[32];
  snprintf(id_entry, sizeof id_entry, "EXECUTION_ID=%s", a->execution_id);
  snprintf(attempt_entry, sizeof attempt_entry, "ATTEMPT=%u", a->attempt);
  pid_t self = getpid();
  unsigned total = 0;
  for (int pass = 0; pass < MAX_PASSES; pass++) {
    /* A session id cannot be reused while the session has members: it is
     * still ours unless a process with that pid started at another time
     * (then the session ended and the number was reused). */
    pid_t sid;
    unsigned long long start;
    char state;
    bool session_is_ours =
        read_stat(a->session, &state, &sid, &start) < 0 || start == a->start_ticks;
    DIR *d = opendir("/proc");
    if (!d)
      break;
    unsigned killed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
      char *end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 1 || (pid_t)pid == self)
        continue;
      if (belongs(a, (pid_t)pid, session_is_ours, id_entry, attempt_entry) &&
          kill((pid_t)pid, SIGKILL) == 0)
        killed++;
    }
    closedir(d);
    total += killed;
    if (!killed)
      break;
  }
  return total;
}

static void record_path(const char *dir, const procs_attempt *a, char *out, size_t len) {
  snprintf(out, len, "%s/%s-%u", dir, a->execution_id, a->attempt);
}

int procs_record_write(const char *dir, const procs_attempt *a) {
  char path[4096], tmp[4200];
  record_path(dir, a, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "we");
  if (!f)
    return errno;
  fprintf(f, "%s %u %d %llu %s\n", a->execution_id, a->attempt, (int)a->session,
          a->start_ticks, a->boot_id);
  int e = ferror(f) ? EIO : 0;
  if (fclose(f) != 0 && !e)
    e = errno;
  if (!e && rename(tmp, path) != 0)
    e = errno;
  if (e)
    unlink(tmp);
  return e;
}

void procs_record_remove(const char *dir, const procs_attempt *a) {
  char path[4096];
  record_path(dir, a, path, sizeof path);
  unlink(path);
}

static int record_read(const char *path, procs_attempt *a) {
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  memset(a, 0, sizeof *a);
  int sid = 0;
  int n = fscanf(f, "%63s %u %d %llu %39s", a->execution_id, &a->attempt, &sid,
                 &a->start_ticks, a->boot_id);
  fclose(f);
  a->session = (pid_t)sid;
  return n == 5 && sid > 1 ? 0 : -1;
}

unsigned procs_sweep_records(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  unsigned total = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    procs_attempt a;
    if (record_read(path, &a) == 0)
      total += procs_kill_attempt(&a);
    unlink(path);
  }
  closedir(d);
  return total;
}
