/* The exit status of `execctl run` (see run_outcome.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "execctl.h"
#include "run_outcome.h"

#define SIGNAL_EXIT_BASE 128 /* as shells report a job killed by a signal */

bool run_outcome_terminal(const char *state) {
  static const char *const terminal[] = {"SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED", NULL};
  for (const char *const *s = terminal; state && *s; s++)
    if (strcmp(state, *s) == 0)
      return true;
  return false;
}

static void explain(const json_t *doc, const char *what, char *why, size_t len) {
  const json_t *err = json_object_get(doc, "error");
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *message = json_string_value(json_object_get(err, "message"));
  const char *id = json_string_value(json_object_get(doc, "execution_id"));
  snprintf(why, len, "execution %s %s%s%s%s%s", id ? id : "?", what, code || message ? ": " : "",
           code ? code : "", code && message ? ": " : "", message ? message : "");
}

int run_outcome(const json_t *doc, char *why, size_t len) {
  const char *state = json_string_value(json_object_get(doc, "state"));
  why[0] = '\0';
  if (!state || !run_outcome_terminal(state)) {
    snprintf(why, len, "execution %s has not ended: state %s",
             json_string_value(json_object_get(doc, "execution_id")), state ? state : "unknown");
    return EXECCTL_API_ERROR;
  }
  if (strcmp(state, "SUCCEEDED") == 0)
    return EXECCTL_OK;
  if (strcmp(state, "TIMED_OUT") == 0) {
    explain(doc, "timed out", why, len);
    return EXECCTL_TIMED_OUT;
  }
  if (strcmp(state, "CANCELLED") == 0) {
    explain(doc, "was cancelled", why, len);
    return EXECCTL_CANCELLED;
  }
  const json_t *err = json_object_get(doc, "error");
  const char *code = json_string_value(json_object_get(err, "code"));
  json_int_t exit_code =
      json_integer_value(json_object_get(json_object_get(doc, "result"), "exit_code"));
  json_int_t sig = json_integer_value(json_object_get(json_object_get(err, "details"), "term_signal"));
  /* A plain non-zero exit says it all; anything else gets a line. */
  if (!code || strcmp(code, "exit_code") != 0)
    explain(doc, "failed", why, len);
  if (exit_code > 0 && exit_code < 256)
    return (int)exit_code;
  if (sig > 0 && sig < SIGNAL_EXIT_BASE)
    return SIGNAL_EXIT_BASE + (int)sig;
  return EXECCTL_API_ERROR;
}
