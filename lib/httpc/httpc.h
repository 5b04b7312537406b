/* HTTP client of a container engine's REST API (Docker Engine API and the
 * compatible endpoints of Podman): libcurl multi_socket driven by the libuv
 * loop, over the engine's unix socket or TCP, with TLS or without
 * (engine_endpoint.h).  Nothing here blocks the loop.
 *
 * Requests are relative to the client's API prefix ("/v1.41"), so one
 * client serves any engine that speaks that dialect. */
#ifndef EXECD_ENGINE_HTTP_H
#define EXECD_ENGINE_HTTP_H

#include <stddef.h>

#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "httpc_endpoint.h"

typedef struct engine_client engine_client;
typedef struct engine_request engine_request;

/* How a request ended.  Borrowed, valid only during the done callback. */
typedef struct engine_response {
  long status;       /* HTTP status, or 0 if no response came */
  int transport_err; /* non-zero: the engine could not be reached or the
                        connection broke (error holds curl's reason) */
  const char *error; /* transport error text, or NULL */
  const char *body;  /* the buffered body (NUL-terminated), "" when streamed */
  size_t body_len;
  int truncated;     /* the body was longer than the buffer cap */
} engine_response;

/* Streamed body bytes (chunked encoding already removed).  Return 0 to go
 * on, non-zero to abort the transfer (done then reports transport_err). */
typedef int (*engine_data_cb)(void *arg, const char *data, size_t len);
/* The response headers are complete (status known); the body follows. */
typedef void (*engine_headers_cb)(void *arg, long status);
typedef void (*engine_done_cb)(void *arg, const engine_response *r);

typedef struct engine_request_opts {
  const char *method;       /* "GET", "POST", "PUT", "DELETE", "HEAD" */
  const char *path;         /* after the prefix, with its query: "/containers/create" */
  const char *body;         /* copied; or NULL */
  size_t body_len;
  char *body_owned;         /* alternatively: a malloc'd body the request takes over */
  const char *content_type; /* of the body ("application/json" when NULL) */
  const char *extra_header; /* one more "Name: value" header, or NULL */
  long timeout_ms;          /* whole request; 0 = none (streams, waits) */
  size_t body_max;          /* cap on a buffered body; 0 = 1 MiB */
  engine_data_cb on_data;   /* stream the body instead of buffering it */
  engine_headers_cb on_headers;
  engine_done_cb on_done;   /* required */
  void *arg;
} engine_request_opts;

/* A client for the engine at ep (copied), API paths under prefix.  name
 * is the engine's name for messages ("docker"). */
engine_client *engine_client_new(uv_loop_t *loop, const engine_endpoint *ep, const char *prefix,
                                 const char *name);
/* Cancels every request (their callbacks are not called) and closes the
 * libuv handles; the client is freed once they are closed. */
void engine_client_close(engine_client *c);
uv_loop_t *engine_client_loop(const engine_client *c);
const engine_endpoint *engine_client_endpoint(const engine_client *c);
const char *engine_client_name(const engine_client *c);
/* TCP: the engine's address, as the last request that reached it
 * connected to (or the endpoint's own, when it is an address literal), so
 * a connection of another kind needs no name lookup.  0, or -1 while none
 * is known (and always for a unix socket). */
int engine_client_peer(const engine_client *c, struct sockaddr_storage *out);

/* Starts a request.  Returns NULL only when out of memory.  on_done runs
 * exactly once, later, unless the request is cancelled first. */
engine_request *engine_request_start(engine_client *c, const engine_request_opts *o);
/* Convenience: JSON body (borrowed), buffered response. */
engine_request *engine_request_json(engine_client *c, const char *method, const char *path,
                                    const json_t *body, long timeout_ms, engine_done_cb done,
                                    void *arg);
/* Cancels a request that has not completed: no callback runs after this.
 * Safe to call from inside this client's callbacks. */
void engine_request_cancel(engine_request *r);

/* The "message" member of an engine's JSON error body, or the body itself
 * (trimmed) into buf. */
const char *engine_error_message(const engine_response *r, char *buf, size_t size);

/* Percent-encodes s for a query string into a new string. */
char *engine_url_escape(const char *s);

#endif
