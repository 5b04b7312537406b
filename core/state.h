/* The execution state machine (doc/architecture.md, "States"), in one place. */
#ifndef EXECD_CORE_STATE_H
#define EXECD_CORE_STATE_H

#include <stdbool.h>

typedef enum exec_state {
  STATE_QUEUED,
  STATE_STARTING,
  STATE_RUNNING,
  STATE_RETRY_WAIT,
  STATE_SUCCEEDED,
  STATE_FAILED,
  STATE_TIMED_OUT,
  STATE_CANCELLED,
  STATE__COUNT
} exec_state;

const char *state_name(exec_state s);
/* -1 if name is not a state. */
int state_from_name(const char *name);
bool state_is_terminal(exec_state s);
/* FAILED and TIMED_OUT are terminal unless a retry follows. */
bool state_transition_allowed(exec_state from, exec_state to);

#endif
