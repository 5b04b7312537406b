/* sd_notify(3) for Type=notify; see notify.h. */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

static uv_timer_t watchdog;
static bool watchdog_on;

#ifdef HAVE_LIBSYSTEMD
/* One datagram: the state assignment (may be NULL) and a STATUS line. */
static void send_state(const char *state, const char *fmt, va_list ap) {
  char status[512];
  vsnprintf(status, sizeof status, fmt, ap);
  int rc = state ? sd_notifyf(0, "%s\nSTATUS=%s", state, status)
                 : sd_notifyf(0, "STATUS=%s", status);
  if (rc < 0)
    log_warn("sd_notify(%s): %s", state ? state : "STATUS", strerror(-rc));
}

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  sd_notify(0, "WATCHDOG=1");
}
#else
static void send_state(const char *state, const char *fmt, va_list ap) {
  (void)state, (void)fmt, (void)ap;
}
#endif

void notify_init(uv_loop_t *loop) {
#ifdef HAVE_LIBSYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
    return;
  /* Half the interval, as sd_watchdog_enabled(3) recommends. */
  uint64_t every_ms = usec / 2000 ? usec / 2000 : 1;
  uv_timer_init(loop, &watchdog);
  uv_unref((uv_handle_t *)&watchdog);
  uv_timer_start(&watchdog, on_watchdog, 0, every_ms);
  watchdog_on = true;
  log_info("systemd watchdog: pinging every %llu ms", (unsigned long long)every_ms);
#else
  (void)loop;
#endif
}

void notify_ready(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  send_state("READY=1", fmt, ap);
  va_end(ap);
}

void notify_status(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  send_state(NULL, fmt, ap);
  va_end(ap);
}

void notify_stopping(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  send_state("STOPPING=1", fmt, ap);
  va_end(ap);
}

void notify_close(void) {
  if (!watchdog_on)
    return;
  watchdog_on = false;
  uv_close((uv_handle_t *)&watchdog, NULL);
}
