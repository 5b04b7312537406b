/* Daemon logging: level-filtered lines on stderr ("<level> [component] msg"),
 * or entries with structured fields in the journal under systemd. */
#ifndef EXECD_CORE_LOG_H
#define EXECD_CORE_LOG_H

#include <stdarg.h>

#include <execd/host.h>

/* Current threshold: lines above it are dropped (EXECD_LOG_*). */
void log_set_level(int level);
int log_get_level(void);
/* "err", "warning", "notice", "info", "debug" -> level, or -1. */
int log_level_from_name(const char *name);

void log_msg(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(int level, const char *component, const char *fmt, va_list ap);

/* Structured fields of a message (NULL: absent).  In the journal they are
 * EXECD_EXECUTION_ID and EXECD_TENANT; on stderr the id prefixes the line
 * as "execution <id>: ".  A message without them that begins
 * "execution <id>: " still gets EXECD_EXECUTION_ID. */
typedef struct log_fields {
  const char *execution_id;
  const char *tenant;
} log_fields;
void log_vmsg_fields(int level, const char *component, const log_fields *f, const char *fmt,
                     va_list ap);
void log_execution(int level, const char *execution_id, const char *tenant, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

#define log_err(...) log_msg(EXECD_LOG_ERR, "execd", __VA_ARGS__)
#define log_warn(...) log_msg(EXECD_LOG_WARNING, "execd", __VA_ARGS__)
#define log_notice(...) log_msg(EXECD_LOG_NOTICE, "execd", __VA_ARGS__)
#define log_info(...) log_msg(EXECD_LOG_INFO, "execd", __VA_ARGS__)
#define log_debug(...) log_msg(EXECD_LOG_DEBUG, "execd", __VA_ARGS__)

#endif
