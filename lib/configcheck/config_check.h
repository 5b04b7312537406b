/* The check_config op of the in-tree plugins (ABI 1.3): run the plugin's
 * own configure function, the one create() runs, on a scratch instance
 * whose host table only records the error.
 *
 *   static int my_check_config(const json_t *config, char *err, size_t errlen) {
 *     config_check_ctx ck;
 *     my_plugin tmp = {.host = config_check_host(), .inst = config_check_begin(&ck, err, errlen)};
 *     int rc = configure(&tmp, config);   // the same function create() calls
 *     ... free what configure allocated ...
 *     return config_check_end(&ck, rc);
 *   }
 *
 * The host table: set_error and op_error write into err; log is silent
 * (warnings are create()'s to log); loop and state_dir return NULL;
 * every call back into the core (submit, get, ...) refuses with
 * EXECD_ENOTSUP.  A configure function that needs more than that is not
 * free of side effects and has no place in a check. */
#ifndef EXECD_CONFIG_CHECK_H
#define EXECD_CONFIG_CHECK_H

#include <stddef.h>

#include <execd/plugin.h>

typedef struct config_check_ctx {
  char *err;
  size_t errlen;
} config_check_ctx;

/* The instance to hand to the configure function; err is cleared. */
execd_instance *config_check_begin(config_check_ctx *ck, char *err, size_t errlen);
const execd_host *config_check_host(void);
/* rc, with a message in err when the plugin failed without one. */
int config_check_end(config_check_ctx *ck, int rc);

#endif
