/* Service manager notifications (sd_notify): READY once execd serves,
 * STATUS lines, STOPPING when the drain begins, and WATCHDOG pings while
 * the loop turns.  Every call is a no-op when execd was not started with
 * NOTIFY_SOCKET or was built without libsystemd. */
#ifndef EXECD_CORE_NOTIFY_H
#define EXECD_CORE_NOTIFY_H

#include <uv.h>

/* Starts the watchdog pings on LOOP when the manager asked for them
 * (WatchdogSec=, seen as WATCHDOG_USEC); the timer does not keep LOOP
 * alive. */
void notify_init(uv_loop_t *loop);
/* READY=1 with a STATUS line: every plugin started, recovery finished. */
void notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STOPPING=1 with a STATUS line: no new executions, draining. */
void notify_stopping(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stops the watchdog pings (closes the timer) before the loop ends. */
void notify_close(void);

#endif
