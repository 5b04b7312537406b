#include "config.h"

#include <string.h>

#include "state.h"

static const char *const names[STATE__COUNT] = {
    [STATE_QUEUED] = "QUEUED",       [STATE_STARTING] = "STARTING",
    [STATE_RUNNING] = "RUNNING",     [STATE_RETRY_WAIT] = "RETRY_WAIT",
    [STATE_SUCCEEDED] = "SUCCEEDED", [STATE_FAILED] = "FAILED",
    [STATE_TIMED_OUT] = "TIMED_OUT", [STATE_CANCELLED] = "CANCELLED",
};

#define BIT(s) (1u << (s))

/* allowed[from] = set of states reachable in one step. */
static const unsigned allowed[STATE__COUNT] = {
    [STATE_QUEUED] = BIT(STATE_STARTING) | BIT(STATE_CANCELLED),
    [STATE_STARTING] = BIT(STATE_RUNNING) | BIT(STATE_FAILED) |
                       BIT(STATE_CANCELLED),
    [STATE_RUNNING] = BIT(STATE_SUCCEEDED) | BIT(STATE_FAILED) |
                      BIT(STATE_TIMED_OUT) | BIT(STATE_CANCELLED),
    [STATE_RETRY_WAIT] = BIT(STATE_QUEUED) | BIT(STATE_CANCELLED),
    [STATE_SUCCEEDED] = 0,
    [STATE_FAILED] = BIT(STATE_RETRY_WAIT),
    [STATE_TIMED_OUT] = BIT(STATE_RETRY_WAIT),
    [STATE_CANCELLED] = 0,
};

const char *state_name(exec_state s) {
  return (unsigned)s < STATE__COUNT ? names[s] : "UNKNOWN";
}

int state_from_name(const char *name) {
  if (!name)
    return -1;
  for (int i = 0; i < STATE__COUNT; i++)
    if (strcmp(name, names[i]) == 0)
      return i;
  return -1;
}

bool state_is_terminal(exec_state s) {
  return s == STATE_SUCCEEDED || s == STATE_FAILED || s == STATE_TIMED_OUT ||
         s == STATE_CANCELLED;
}

bool state_transition_allowed(exec_state from, exec_state to) {
  if ((unsigned)from >= STATE__COUNT || (unsigned)to >= STATE__COUNT)
    return false;
  return (allowed[from] & BIT(to)) != 0;
}
