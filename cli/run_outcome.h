/* What `execctl run` exits with once its execution has ended. */
#ifndef EXECCTL_RUN_OUTCOME_H
#define EXECCTL_RUN_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* True for SUCCEEDED, FAILED, TIMED_OUT and CANCELLED. */
bool run_outcome_terminal(const char *state);

/* The exit status for an execution document: the job's exit code, 124 if
 * it timed out, 130 if it was cancelled, 128+N if signal N killed it, and 1
 * for any other failure.  Writes into why a line for stderr that explains
 * a failure the status alone does not ("" when there is nothing to add). */
int run_outcome(const json_t *doc, char *why, size_t len);

#endif
