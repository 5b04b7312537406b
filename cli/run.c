/* execctl run: submit an execution, stream its log to stdout until it ends,
 * then exit with the job's status (run_outcome.c).  Ctrl-C cancels the
 * execution; a second Ctrl-C leaves at once. */
#include "config.h"

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "execctl.h"
#include "format.h"
#include "run_outcome.h"

#define STREAM_RETRIES 5     /* reconnections of a broken log stream in a row */
#define RETRY_PAUSE_US 500000 /* between them */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
  if (interrupted)
    _exit(EXECCTL_CANCELLED);
  interrupted = 1;
}

/* No SA_RESTART: a blocking poll in libcurl returns so the flag is seen. */
static void catch_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
}

typedef struct {
  uint64_t received; /* bytes of log so far: the offset to resume from */
  bool echo;         /* write them to stdout */
} log_sink;

static int take_log(const char *data, size_t len, void *ud) {
  log_sink *s = ud;
  s->received += len;
  if (!s->echo)
    return 0;
  return fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0;
}

static int cancel_after_interrupt(client *c, const char *id) {
  fprintf(stderr, "execctl: interrupted, cancelling execution %s\n", id);
  char *path = request_execution_path(id, "/cancel", NULL, 0);
  json_t *doc = NULL;
  if (path && client_json(c, "POST", path, NULL, &doc) == 0)
    fprintf(stderr, "execctl: execution %s %s\n", id,
            json_string_value(json_object_get(doc, "state")));
  json_decref(doc);
  free(path);
  return EXECCTL_CANCELLED;
}

/* Follows the log from where it left off until the execution has ended,
 * and stores the final document in *final. */
static int follow_to_end(client *c, const char *id, bool echo, json_t **final) {
  log_sink sink = {.echo = echo};
  int broken = 0;
  char *doc_path = request_execution_path(id, NULL, NULL, 0);
  if (!doc_path)
    return EXECCTL_API_ERROR;
  int rc = EXECCTL_API_ERROR;
  *final = NULL;
  for (;;) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, "/logs?follow=1&offset=%" PRIu64, sink.received);
    char *path = request_execution_path(id, suffix, NULL, 0);
    enum client_stream_end end =
        path ? client_stream(c, path, take_log, &sink, &interrupted) : CLIENT_STREAM_ERROR;
    free(path);
    if (end == CLIENT_STREAM_STOPPED || interrupted) {
      rc = cancel_after_interrupt(c, id);
      break;
    }
    if (end == CLIENT_STREAM_ERROR)
      break;
    json_t *doc;
    if (client_json(c, "GET", doc_path, NULL, &doc))
      break;
    if (run_outcome_terminal(json_string_value(json_object_get(doc, "state")))) {
      *final = doc;
      rc = EXECCTL_OK;
      break;
    }
    json_decref(doc);
    /* A stream that ended before the execution did was cut (execd
     * restarting, a proxy): pick it up again at the same offset. */
    broken = end == CLIENT_STREAM_BROKEN ? broken + 1 : 0;
    if (broken > STREAM_RETRIES) {
      fprintf(stderr, "execctl: giving up on the log of execution %s\n", id);
      break;
    }
    usleep(RETRY_PAUSE_US);
  }
  free(doc_path);
  return rc;
}

int execctl_run(client *c, const run_options *o) {
  char err[512];
  json_t *req = request_build(o, err, sizeof err);
  if (!req) {
    fprintf(stderr, "execctl: run: %s\n", err);
    return EXECCTL_USAGE;
  }
  if (!o->detach)
    catch_interrupt();
  json_t *doc;
  int rc = client_json(c, "POST", "/v1/executions", req, &doc);
  json_decref(req);
  if (rc)
    return EXECCTL_API_ERROR;
  const char *submitted = json_string_value(json_object_get(doc, "execution_id"));
  if (!submitted) {
    fprintf(stderr, "execctl: the submit answer has no execution_id\n");
    json_decref(doc);
    return EXECCTL_API_ERROR;
  }
  if (o->detach) {
    if (o->json)
      format_json(stdout, doc);
    else
      printf("%s\n", submitted);
    json_decref(doc);
    return EXECCTL_OK;
  }
  char *id = strdup(submitted);
  json_decref(doc);
  if (!id)
    return EXECCTL_API_ERROR;

  json_t *final;
  rc = interrupted ? cancel_after_interrupt(c, id) : follow_to_end(c, id, !o->json, &final);
  free(id);
  if (rc != EXECCTL_OK)
    return rc;
  char why[1024];
  rc = run_outcome(final, why, sizeof why);
  if (o->json)
    format_json(stdout, final);
  if (why[0])
    fprintf(stderr, "execctl: %s\n", why);
  json_decref(final);
  return rc;
}
