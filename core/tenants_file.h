/* The tokens file: bearer tokens and the tenants they name, and the
 * tenants' entitlements (agents they may run, until when) and quotas
 * (doc/api.md, "Authentication and tenants").  Parsing is pure (no I/O, no global
 * state: the fuzz target drives it); loading reads one regular file of at
 * most TENANTS_FILE_MAX bytes and blocks, so the daemon calls it before the
 * loop runs or on the thread pool.  Tokens are kept only as SHA-256
 * digests and compared in constant time. */
#ifndef EXECD_CORE_TENANTS_FILE_H
#define EXECD_CORE_TENANTS_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <execd/host.h>

#define TENANTS_FILE_MAX (1024 * 1024) /* a tokens file is small */

typedef struct tenants_table tenants_table;

/* Parse text (len bytes; NULs are refused where they appear) into *out.
 * name is the file's name in messages.  On failure returns EXECD_ECONFIG
 * with "NAME:LINE: what is wrong" in err and *out NULL.  warn receives a
 * warning (a short token) or stays empty. */
int tenants_parse(const char *name, const char *text, size_t len, tenants_table **out,
                  char *err, size_t errlen, char *warn, size_t warnlen);
/* Read and parse the file at path (blocking): a regular file (a FIFO is
 * never waited on) of at most TENANTS_FILE_MAX bytes.  warn also says when
 * the file is readable by every user. */
int tenants_load(const char *path, tenants_table **out, char *err, size_t errlen, char *warn,
                 size_t warnlen);
/* The tenant token (len bytes) names, or NULL; borrowed from t.  Takes the
 * same time whichever token matches, or none. */
const char *tenants_lookup(const tenants_table *t, const char *token, size_t len);
size_t tenants_token_count(const tenants_table *t);
/* Tenants named by a tenant: or allow: line. */
size_t tenants_count(const tenants_table *t);
void tenants_free(tenants_table *t);

/* The name a request naming no agent is matched as, by the globs of the
 * allow: lines (so agents=* also allows such requests). */
#define TENANTS_NO_AGENT "-"

/* Whether tenant may run agent (NULL: the request names none) at now_ms
 * (milliseconds since the epoch).  A file without allow: lines restricts
 * no one (older files); with some, a tenant runs only what its own lines
 * allow, each until its until= (exclusive).  0, or EXECD_EPERM with the
 * reason in why (not entitled; the entitlement ended at ...). */
int tenants_entitled(const tenants_table *t, const char *tenant, const char *agent,
                     int64_t now_ms, char *why, size_t whylen);

/* A tenant's quotas; 0: none. */
typedef struct tenant_quota {
  int64_t max_running; /* executions not yet ended, at once */
  int64_t max_per_day; /* executions accepted per UTC day */
} tenant_quota;
tenant_quota tenants_quota(const tenants_table *t, const char *tenant);

#endif
