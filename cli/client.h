/* The HTTP side of execctl: one libcurl handle talking to execd's API.
 *
 * The base URL is --url, else $EXECD_URL, else http://127.0.0.1:8080; the
 * bearer token is $EXECD_TOKEN (never a command-line argument, where other
 * users could read it).  Every failure is reported on stderr as one line
 * starting with "execctl: ": an API error document becomes
 * "execctl: 404 not_found: MESSAGE", a network error names the URL. */
#ifndef EXECCTL_CLIENT_H
#define EXECCTL_CLIENT_H

#include <signal.h>
#include <stddef.h>

#include <jansson.h>

#define EXECCTL_DEFAULT_URL "http://127.0.0.1:8080"

typedef struct client client;

/* url may be NULL (then $EXECD_URL or the default).  NULL on failure,
 * with a message printed. */
client *client_new(const char *url);
void client_free(client *c);
const char *client_base_url(const client *c);

/* What client_json returns when execd could not be reached or the
 * connection broke, as opposed to -1 for an answer that was an error. */
#define CLIENT_UNREACHABLE (-2)

/* One request with an optional JSON body.  Returns 0 when a JSON answer
 * with a 2xx status came back and stores it in *reply (a new reference);
 * otherwise prints the error and returns -1 (an API error) or
 * CLIENT_UNREACHABLE (a network error). */
int client_json(client *c, const char *method, const char *path, const json_t *body,
                json_t **reply);

/* Like client_json, but any HTTP status counts as an answer: returns 0 with
 * the status and the parsed body (NULL if it was not JSON), or -1 after
 * printing a network error. */
int client_exchange(client *c, const char *method, const char *path, const json_t *body,
                    long *status, json_t **reply);

/* Receives the bytes of a streamed 2xx body.  Returns 0 to go on, non-zero
 * to abort the transfer. */
typedef int (*client_sink)(const char *data, size_t len, void *ud);

enum client_stream_end {
  CLIENT_STREAM_DONE = 0,    /* the server ended the body normally */
  CLIENT_STREAM_ERROR = -1,  /* an API error, or the sink refused; printed */
  CLIENT_STREAM_STOPPED = 1, /* *stop became non-zero (e.g. Ctrl-C) */
  CLIENT_STREAM_BROKEN = 2,  /* no connection, or it broke mid-body; printed */
};

/* GET path, passing the body to sink as it arrives.  stop, if not NULL, is
 * checked while waiting so that a signal handler can end the transfer. */
enum client_stream_end client_stream(client *c, const char *path, client_sink sink, void *ud,
                                     volatile sig_atomic_t *stop);

#endif
