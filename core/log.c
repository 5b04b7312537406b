/* Logging to stderr, one line per message; systemd's journal adds time. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

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

void log_vmsg(int level, const char *component, const char *fmt, va_list ap) {
  if (level > log_threshold)
    return;
  if (level < EXECD_LOG_ERR)
    level = EXECD_LOG_ERR;
  if (level > EXECD_LOG_DEBUG)
    level = EXECD_LOG_DEBUG;
  char line[4096];
  int n = snprintf(line, sizeof line, "%s [%s] ", level_names[level],
                   component ? component : "execd");
  if (n < 0 || (size_t)n >= sizeof line)
    n = 0;
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  /* One write per line so concurrent writers do not interleave. */
  fprintf(stderr, "%s\n", line);
}

void log_msg(int level, const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, component, fmt, ap);
  va_end(ap);
}
