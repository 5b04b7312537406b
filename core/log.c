/* Logging: to systemd's journal with structured fields when stderr is the
 * journal stream systemd gave us (JOURNAL_STREAM), else one line per
 * message on stderr (where systemd's journal or the caller adds time). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
/* No CODE_FILE/CODE_LINE: they would always name this file. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#include "log.h"

static int log_threshold = EXECD_LOG_INFO;

static const char *const level_names[] = {
    [EXECD_LOG_ERR] = "err",       [EXECD_LOG_WARNING] = "warning",
    [EXECD_LOG_NOTICE] = "notice", [EXECD_LOG_INFO] = "info",
    [EXECD_LOG_DEBUG] = "debug",
};

void log_set_level(int level) { log_threshold = level; }
int log_get_level(void) { return log_threshold; }

int log_level_from_name(const char *name) {
  for (int i = EXECD_LOG_ERR; i <= EXECD_LOG_DEBUG; i++)
    if (strcmp(name, level_names[i]) == 0)
      return i;
  if (strcmp(name, "error") == 0)
    return EXECD_LOG_ERR;
  if (strcmp(name, "warn") == 0)
    return EXECD_LOG_WARNING;
  return -1;
}

#ifdef HAVE_LIBSYSTEMD
/* systemd sets JOURNAL_STREAM to "DEVICE:INODE" of the stream it connected
 * to stderr; only if stderr is still that stream do we talk to the journal
 * directly (a redirected stderr, e.g. `execd 2>file`, keeps plain lines). */
static bool stderr_is_journal(void) {
  const char *env = getenv("JOURNAL_STREAM");
  unsigned long long dev, ino;
  struct stat st;
  if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
    return false;
  return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static bool use_journal(void) {
  static int journal = -1;
  if (journal < 0)
    journal = stderr_is_journal();
  return journal;
}

/* The core's messages about one execution begin "execution <id>: ". */
static void execution_id_of(const char *msg, char *out, size_t len) {
  out[0] = '\0';
  if (strncmp(msg, "execution ", 10) != 0)
    return;
  const char *id = msg + 10;
  size_t n = strcspn(id, ": ");
  if (n == 0 || n >= len || id[n] != ':')
    return;
  memcpy(out, id, n);
  out[n] = '\0';
}

/* One journal entry: MESSAGE, PRIORITY and execd's own fields
 * (EXECD_COMPONENT, EXECD_PLUGIN for a plugin instance's messages,
 * EXECD_EXECUTION_ID, EXECD_TENANT).  Returns <0 if the journal refused. */
static int journal_send(int level, const char *component, const log_fields *f,
                        const char *msg) {
  char buf[8][512];
  struct iovec iov[8];
  int n = 0;
  char id[128];
  const char *exec_id = f && f->execution_id ? f->execution_id : NULL;
  if (!exec_id) {
    execution_id_of(msg, id, sizeof id);
    exec_id = id[0] ? id : NULL;
  }
  char *message = NULL;
  if (asprintf(&message, "MESSAGE=[%s] %s", component, msg) < 0)
    return -1;
  iov[n++] = (struct iovec){message, strlen(message)};
#define FIELD(...)                                                             \
  do {                                                                         \
    snprintf(buf[n], sizeof buf[n], __VA_ARGS__);                              \
    iov[n] = (struct iovec){buf[n], strlen(buf[n])};                           \
    n++;                                                                       \
  } while (0)
  FIELD("PRIORITY=%d", level);
  FIELD("SYSLOG_IDENTIFIER=execd");
  FIELD("EXECD_COMPONENT=%s", component);
  /* Plugin instances log as "<kind> <name>" (host.c's instance_label). */
  if (strcmp(component, "execd") != 0)
    FIELD("EXECD_PLUGIN=%s", component);
  if (exec_id)
    FIELD("EXECD_EXECUTION_ID=%s", exec_id);
  if (f && f->tenant)
    FIELD("EXECD_TENANT=%s", f->tenant);
#undef FIELD
  int rc = sd_journal_sendv(iov, n);
  free(message);
  return rc;
}
#endif

void log_vmsg_fields(int level, const char *component, const log_fields *f,
                     const char *fmt, va_list ap) {
  if (level > log_threshold)
    return;
  if (level < EXECD_LOG_ERR)
    level = EXECD_LOG_ERR;
  if (level > EXECD_LOG_DEBUG)
    level = EXECD_LOG_DEBUG;
  if (!component)
    component = "execd";
  char msg[4096];
  int n = 0;
  if (f && f->execution_id)
    n = snprintf(msg, sizeof msg, "execution %s: ", f->execution_id);
  if (n < 0 || (size_t)n >= sizeof msg)
    n = 0;
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
#ifdef HAVE_LIBSYSTEMD
  if (use_journal() && journal_send(level, component, f, msg) >= 0)
    return;
#endif
  /* One write per line so concurrent writers do not interleave. */
  fprintf(stderr, "%s [%s] %s\n", level_names[level], component, msg);
}

void log_vmsg(int level, const char *component, const char *fmt, va_list ap) {
  log_vmsg_fields(level, component, NULL, fmt, ap);
}

void log_msg(int level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, component, fmt, ap);
  va_end(ap);
}

void log_execution(int level, const char *execution_id, const char *tenant,
                   const char *fmt, ...) {
  log_fields f = {.execution_id = execution_id, .tenant = tenant};
  va_list ap;
  va_start(ap, fmt);
  log_vmsg_fields(level, "execd", &f, fmt, ap);
  va_end(ap);
}
