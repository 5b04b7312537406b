/* The one-request subcommands: get, list, logs, cancel, delete, health,
 * usage, agents. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "execctl.h"
#include "format.h"

/* The path of an execution, or NULL after a usage message. */
static char *execution_path(const char *id, const char *suffix) {
  char err[256];
  char *path = request_execution_path(id, suffix, err, sizeof err);
  if (!path)
    fprintf(stderr, "execctl: %s\n", err);
  return path;
}

/* METHOD on an execution (its path plus SUFFIX): prints the answer as JSON
 * with --json, else with show().  Shared by get, cancel and delete. */
static int execution_call(client *c, const char *method, const char *id, const char *suffix,
                          bool json, void (*show)(const char *id, const json_t *doc)) {
  char *path = execution_path(id, suffix);
  if (!path)
    return EXECCTL_USAGE;
  json_t *doc;
  int rc = client_json(c, method, path, NULL, &doc);
  free(path);
  if (rc)
    return EXECCTL_API_ERROR;
  if (json)
    format_json(stdout, doc);
  else
    show(id, doc);
  json_decref(doc);
  return EXECCTL_OK;
}

static void show_execution(const char *id, const json_t *doc) {
  (void)id;
  format_execution(stdout, doc);
}

int execctl_get(client *c, const char *id, bool json) {
  return execution_call(c, "GET", id, NULL, json, show_execution);
}

int execctl_list(client *c, const list_options *o) {
  char err[256];
  char *path = request_list_path(o, err, sizeof err);
  if (!path) {
    fprintf(stderr, "execctl: %s\n", err);
    return EXECCTL_USAGE;
  }
  json_t *page;
  int rc = client_json(c, "GET", path, NULL, &page);
  free(path);
  if (rc)
    return EXECCTL_API_ERROR;
  if (o->json)
    format_json(stdout, page);
  else
    format_execution_table(stdout, page);
  json_decref(page);
  return EXECCTL_OK;
}

static int write_out(const char *data, size_t len, void *ud) {
  /* Flush at once: a followed log is read by people as it comes. */
  return fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0;
}

int execctl_logs(client *c, const char *id, bool follow, bool timestamps) {
  const char *query = follow ? (timestamps ? "/logs?follow=1&timestamps=true" : "/logs?follow=1")
                             : (timestamps ? "/logs?timestamps=true" : "/logs");
  char *path = execution_path(id, query);
  if (!path)
    return EXECCTL_USAGE;
  enum client_stream_end end = client_stream(c, path, write_out, NULL, NULL);
  free(path);
  return end == CLIENT_STREAM_DONE ? EXECCTL_OK : EXECCTL_API_ERROR;
}

static void show_cancel(const char *id, const json_t *doc) {
  /* A running job is only signalled: CANCELLED comes once it is gone. */
  printf("%s: cancel requested, state %s\n", id,
         json_string_value(json_object_get(doc, "state")));
}

int execctl_cancel(client *c, const char *id, bool json) {
  return execution_call(c, "POST", id, "/cancel", json, show_cancel);
}

static void show_deleted(const char *id, const json_t *doc) {
  (void)doc;
  printf("%s deleted\n", id);
}

int execctl_delete(client *c, const char *id, bool json) {
  return execution_call(c, "DELETE", id, NULL, json, show_deleted);
}

/* /readyz answers 503 with a document when something is down, so any
 * status with a readiness document is an answer here. */
int execctl_health(client *c, bool json) {
  long status;
  json_t *doc;
  if (client_exchange(c, "GET", "/readyz", NULL, &status, &doc))
    return EXECCTL_API_ERROR;
  if (!json_is_object(doc) || !json_object_get(doc, "ready")) {
    fprintf(stderr, "execctl: GET %s/readyz answered %ld without a readiness document\n",
            client_base_url(c), status);
    json_decref(doc);
    return EXECCTL_API_ERROR;
  }
  if (json)
    format_json(stdout, doc);
  else
    format_readiness(stdout, client_base_url(c), doc);
  int ready = json_is_true(json_object_get(doc, "ready"));
  json_decref(doc);
  return ready ? EXECCTL_OK : EXECCTL_API_ERROR;
}

int execctl_usage(client *c, const usage_options *o) {
  char err[256];
  char *path = request_usage_path(o, err, sizeof err);
  if (!path) {
    fprintf(stderr, "execctl: %s\n", err);
    return EXECCTL_USAGE;
  }
  json_t *doc;
  int rc = client_json(c, "GET", path, NULL, &doc);
  free(path);
  if (rc)
    return EXECCTL_API_ERROR;
  if (o->json)
    format_json(stdout, doc);
  else
    format_usage_table(stdout, doc);
  json_decref(doc);
  return EXECCTL_OK;
}

/* Agent names are 1 to 128 of A-Z a-z 0-9 . _ - (execd.conf(5)). */
static bool agent_name_ok(const char *name) {
  size_t n = strlen(name);
  return n > 0 && n <= 128 && name[0] != '.' &&
         strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int execctl_agents(client *c, const char *name, bool json) {
  char path[160] = "/v1/agents";
  if (name) {
    if (!agent_name_ok(name)) {
      fprintf(stderr, "execctl: '%s' is not an agent name (1 to 128 of A-Z a-z 0-9 . _ -)\n",
              name);
      return EXECCTL_USAGE;
    }
    snprintf(path, sizeof path, "/v1/agents/%s", name);
  }
  json_t *doc;
  if (client_json(c, "GET", path, NULL, &doc))
    return EXECCTL_API_ERROR;
  if (json)
    format_json(stdout, doc);
  else if (name)
    format_agent(stdout, doc);
  else
    format_agent_table(stdout, doc);
  json_decref(doc);
  return EXECCTL_OK;
}
