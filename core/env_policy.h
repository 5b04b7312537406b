/* Which environment variable names a request may set (doc/backend-local.md,
 * "The request's environment").  A request's environment reaches the job's
 * program directly, so a name that changes what that program loads or
 * executes (LD_PRELOAD, GCONV_PATH, PYTHONSTARTUP, BASH_ENV, ...) would turn
 * an allow-listed program into any code: execd refuses such names on every
 * backend.  A backend's environment_allowed globs narrow the rest further.
 * Pure functions: nothing here touches disk or the loop. */
#ifndef EXECD_CORE_ENV_POLICY_H
#define EXECD_CORE_ENV_POLICY_H

#include <stdbool.h>

#include <jansson.h>

/* Why NAME may never come from a request ("it makes the dynamic loader
 * load other code", ...), or NULL if the built-in denylist allows it. */
const char *env_policy_denied(const char *name);

/* True if NAME matches one of ALLOWED's globs (an array of strings,
 * fnmatch(3) patterns), or if ALLOWED is NULL (no allowlist). */
bool env_policy_allowed(const char *name, const json_t *allowed);

#endif
