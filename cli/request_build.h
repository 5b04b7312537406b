/* Turning execctl's command-line options into API requests: the execution
 * request document of `execctl run` and the query of `execctl list`.
 * Nothing here talks to the network, so it is unit-tested on its own
 * (tests/unit/test_execctl_args.c). */
#ifndef EXECCTL_REQUEST_BUILD_H
#define EXECCTL_REQUEST_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* A growable list of option arguments; the strings belong to argv. */
typedef struct {
  const char **items;
  size_t count;
} arg_list;

int arg_list_push(arg_list *l, const char *item);
void arg_list_clear(arg_list *l);

/* The options of `execctl run`. */
typedef struct {
  const char *backend;
  const char *image;
  const char *agent;
  const char *timeout;    /* seconds, or a duration such as "5m" */
  const char *input_path; /* JSON file for input.data; "-" is stdin */
  arg_list files;         /* --file PATH */
  arg_list env;           /* --env K=V */
  arg_list labels;        /* --label K=V */
  char **command;         /* argv of the job, may be empty with --agent */
  int command_count;
  bool detach;
  bool json;
} run_options;

/* The options of `execctl list`. */
typedef struct {
  const char *state;
  const char *agent;
  const char *label; /* K=V */
  const char *limit;
  const char *cursor;
  bool json;
} list_options;

/* Checks that arg is KEY=VALUE with a non-empty key.  On error, writes a
 * message naming the option into err. */
int request_check_kv(const char *option, const char *arg, char *err, size_t errlen);

/* Parses --timeout: a positive number of seconds ("30", "1.5") becomes a
 * JSON number, a duration with a unit ("500ms", "5m", "2h", "1d") a
 * string the daemon understands.  Returns NULL and fills err otherwise. */
json_t *request_timeout(const char *arg, char *err, size_t errlen);

/* The request document for POST /v1/executions.  Reads --input and every
 * --file from disk (files travel base64-encoded under their base name,
 * keeping their permission bits).  Returns a new reference, or NULL with a
 * message naming the bad option in err. */
json_t *request_build(const run_options *o, char *err, size_t errlen);

/* The path and query of GET /v1/executions for these options, such as
 * "/v1/executions?state=FAILED&label=team%3Dsearch".  The state is sent
 * upper-case.  Returns a malloc'd string, or NULL with a message in err
 * (a bad --limit). */
char *request_list_path(const list_options *o, char *err, size_t errlen);

/* execctl usage: the time range and the grouping. */
typedef struct usage_options {
  const char *from, *to; /* RFC 3339, or NULL */
  const char *by;        /* "tenant" or "agent", or NULL */
  bool json;
} usage_options;

/* GET /v1/usage with the options as query parameters (escaped); refuses
 * a --by other than tenant or agent.  malloc'd, or NULL with err. */
char *request_usage_path(const usage_options *o, char *err, size_t errlen);

/* The path of one execution, optionally followed by a suffix such as
 * "/logs?follow=1".  Refuses ids that are not UUID-shaped so that a typo
 * cannot turn into another path.  Returns a malloc'd string or NULL with a
 * message in err. */
char *request_execution_path(const char *id, const char *suffix, char *err, size_t errlen);

#endif
