/* Transport plugins receive requests (and call the core through the host
 * table's submit/get/list/... members) and deliver responses and events.
 * A transport starts serving in the descriptor's start() and stops in
 * stop().
 */
#ifndef EXECD_TRANSPORT_H
#define EXECD_TRANSPORT_H

#include <stdint.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event types passed to publish(). */
#define EXECD_EVENT_STATE_CHANGED "execution.state_changed"
#define EXECD_EVENT_PROGRESS "execution.progress"
#define EXECD_EVENT_COMPLETED "execution.completed"

typedef struct execd_transport_ops {
  uint32_t struct_size;
  /* An event about an execution (borrowed: {"type", "execution_id",
   * "correlation_id", "tenant", "time", "data"}).  Transports that push
   * events (redis) publish it; others may ignore it.  May be NULL. */
  void (*publish)(void *self, const char *type, const json_t *event);
  /* 0 if serving, else EXECD_EUNAVAIL with host->set_error.  May be NULL. */
  int (*health)(void *self);
} execd_transport_ops;

#ifdef __cplusplus
}
#endif

#endif
