/* The daemon's tenants: the tokens file named by daemon.tokens_file,
 * loaded at start and re-read on SIGHUP (on the thread pool; a file that
 * does not load leaves the table in use as it was), the host table's
 * authenticate() (ABI 1.5) that every transport calls, and the
 * entitlements and quotas a submit is checked against, whatever transport
 * it came through. */
#ifndef EXECD_CORE_TENANTS_H
#define EXECD_CORE_TENANTS_H

#include <stddef.h>

#include <uv.h>

#include <execd/host.h>

#include "tenants_file.h"

/* Load path (blocking: before the loop runs).  NULL: no tokens file, every
 * caller is EXECD_TENANT_ANONYMOUS.  Returns 0, or EXECD_ECONFIG with the
 * reason in err (the file's name and line). */
int tenants_init(const char *path, char *err, size_t errlen);
/* SIGHUP: re-read path on the thread pool and swap the table in when it
 * loads; the outcome is logged.  A path the running daemon did not have
 * (or none, when it had one) is refused: adding or removing authentication
 * needs a restart. */
void tenants_reload(uv_loop_t *loop, const char *path);
/* At submit: whether tenant may run agent (NULL: the request names none)
 * now.  0, or EXECD_EPERM with the reason in why. */
int tenants_check_entitled(const char *tenant, const char *agent, char *why, size_t whylen);
/* tenant's quotas in the table in force; 0: none. */
tenant_quota tenants_current_quota(const char *tenant);
/* Free the table (after the loop ended). */
void tenants_close(void);
/* The host table's authenticate (include/execd/host.h). */
int tenants_authenticate(execd_instance *inst, const char *token, size_t len, char *tenant,
                         size_t size);

#endif
