/* execd plugin ABI version.
 *
 * A plugin is loaded iff its ABI major equals EXECD_ABI_MAJOR and its ABI
 * minor is not newer than EXECD_ABI_MINOR.  A minor bump only appends
 * fields to the end of structs and functions to the end of the host table;
 * anything else is a major bump.
 *
 * 1.1  execd_backend_ops: adopt() and adopt_done() (re-attaching to
 *      attempts that outlived a restart of execd).
 * 1.2  execd_host: op_error() (the error detail of one async op, which
 *      another op's failure cannot overwrite).
 * 1.3  execd_plugin: check_config() (a side-effect-free check of a config
 *      block's values, for execd --check-config).
 * 1.4  execd_storage_ops: log_marks() (when each part of a log arrived);
 *      execd_host: logs_timed() (a log page with those times).
 * 1.5  execd_host: authenticate() (a bearer token's tenant, from the
 *      daemon's tokens file, for every transport); usage() (what a
 *      tenant's executions used, by tenant or agent).
 * 1.6  execd_storage_ops: claim(), rescue(), renew(), watch_work() (several
 *      execd nodes on one store: leases with fencing tokens).
 * 1.7  execd_storage_ops: insert_claim() (a node claims what it accepted in
 *      the insert's own transaction).
 */
#ifndef EXECD_VERSION_H
#define EXECD_VERSION_H

#define EXECD_ABI_MAJOR 1
#define EXECD_ABI_MINOR 7

/* Marks the one symbol a plugin exports (built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define EXECD_EXPORT __attribute__((visibility("default")))
#else
#define EXECD_EXPORT
#endif

#endif
