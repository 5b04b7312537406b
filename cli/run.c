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

#define RECONNECT_TRIES 10        /* in a row without log progress */
#define RECONNECT_PAUSE_US 1000000 /* between them */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig) {
  if (interrupted)
    _exit(EXECCTL_CANCELLED);
  interrupted = 1;
}

/* No SA_RESTART: a blocking poll in libcurl returns so the flag is seen.
 * An ignored SIGINT (a background job of a script, nohup) stays ignored. */
static void catch_interrupt(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
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
    fprintf(stderr, "execctl: execution %s: cancel requested, state %s\n", id,
            json_string_value(json_object_get(doc, "state")));
  json_decref(doc);
  free(path);
  return EXECCTL_CANCELLED;
}

/* Follows the log from where it left off until the execution has ended,
 * and stores the final document in *final.  A stream that broke, or an
 * execd that cannot be reached (restarting), is tried again at the same
 * offset, so no log is lost or repeated. */
static int follow_to_end(client *c, const char *id, bool echo, json_t **final) {
  log_sink sink = {.echo = echo};
  char *doc_path = request_execution_path(id, NULL, NULL, 0);
  if (!doc_path)
    return EXECCTL_API_ERROR;
  int rc = EXECCTL_API_ERROR;
  int tries = 0;
  uint64_t received_at_last_try = 0;
  *final = NULL;
  while (!interrupted) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, "/logs?follow=1&offset=%" PRIu64, sink.received);
    char *path = request_execution_path(id, suffix, NULL, 0);
    enum client_stream_end end =
        path ? client_stream(c, path, take_log, &sink, &interrupted) : CLIENT_STREAM_ERROR;
    free(path);
    if (end == CLIENT_STREAM_STOPPED || interrupted)
      break;
    if (end == CLIENT_STREAM_ERROR)
      goto done;
    if (end == CLIENT_STREAM_DONE) {
      json_t *doc;
      int got = client_json(c, "GET", doc_path, NULL, &doc);
      if (got == -1)
        goto done;
      if (got == 0 && run_outcome_terminal(json_string_value(json_object_get(doc, "state")))) {
        *final = doc;
        rc = EXECCTL_OK;
        goto done;
      }
      if (got == 0)
        json_decref(doc);
    }
    if (sink.received != received_at_last_try)
      tries = 0; /* it moved on: a new problem */
    received_at_last_try = sink.received;
    if (++tries > RECONNECT_TRIES) {
      fprintf(stderr, "execctl: giving up on execution %s; 'execctl logs -f %s' resumes\n", id,
              id);
      goto done;
    }
    fprintf(stderr, "execctl: reconnecting (%d of %d)\n", tries, RECONNECT_TRIES);
    usleep(RECONNECT_PAUSE_US);
  }
  rc = cancel_after_interrupt(c, id);
done:
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
