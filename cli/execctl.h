/* execctl's exit statuses and the subcommands that cli/main.c dispatches
 * to once their options are parsed. */
#ifndef EXECCTL_H
#define EXECCTL_H

#include <stdbool.h>

#include "client.h"
#include "request_build.h"

enum {
  EXECCTL_OK = 0,
  EXECCTL_API_ERROR = 1, /* the API refused, or execd could not be reached */
  EXECCTL_USAGE = 2,     /* bad arguments */
  EXECCTL_TIMED_OUT = 124,
  EXECCTL_CANCELLED = 130, /* also after Ctrl-C, as shells report SIGINT */
};

/* cli/run.c: submit, stream the logs, exit with the job's status. */
int execctl_run(client *c, const run_options *o);

/* cli/commands.c */
int execctl_get(client *c, const char *id, bool json);
int execctl_list(client *c, const list_options *o);
/* timestamps: each line with the time execd received it in front. */
int execctl_logs(client *c, const char *id, bool follow, bool timestamps);
int execctl_cancel(client *c, const char *id, bool json);
int execctl_delete(client *c, const char *id, bool json);
int execctl_health(client *c, bool json);
/* GET /v1/usage: a table of the groups, or the document with --json. */
int execctl_usage(client *c, const usage_options *o);
/* The catalog's agents (name NULL) or one agent, with its schemas. */
int execctl_agents(client *c, const char *name, bool json);

#endif
