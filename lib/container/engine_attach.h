/* A hijacked attach: a connection of its own to the engine
 * (httpc_conn.h: unix socket, TCP or TLS), the attach request written by
 * hand, then the container's output stream as it is written (complete up
 * to the exit, unlike a log follow, which can end before the last bytes
 * reach the log file), and optionally the job's stdin bytes and a
 * half-close, which the engine turns into EOF on the job's stdin.
 * libcurl cannot half-close a hijacked connection, hence this separate
 * piece. */
#ifndef EXECD_ENGINE_ATTACH_H
#define EXECD_ENGINE_ATTACH_H

#include <stddef.h>

#include "httpc/httpc.h"

typedef struct engine_attach engine_attach;

/* The attach is established (status 0), or failed (status < 0, error says
 * why).  Called once. */
typedef void (*engine_attach_cb)(void *arg, int status, const char *error);
/* Bytes of the output stream (multiplexed frames unless the container has
 * a TTY), in order. */
typedef void (*engine_attach_data_cb)(void *arg, const char *data, size_t len);
/* The stream ended: the engine closed it (status 0) or it broke (< 0). */
typedef void (*engine_attach_end_cb)(void *arg, int status);

/* Connects to client's engine (over TCP, at the address its requests
 * reached) and sends POST <path> with the upgrade headers; path is the
 * whole request path ("/v1.41/containers/ID/attach?...").  Returns NULL
 * when out of memory, or over TCP when no request has reached the engine
 * yet (so its address is not known). */
engine_attach *engine_attach_open(httpc_client *client, const char *path, engine_attach_cb cb,
                                  engine_attach_data_cb on_data, engine_attach_end_cb on_end,
                                  void *arg);
/* Writes data (copied), then half-closes.  Only after a successful open. */
int engine_attach_send_eof(engine_attach *a, const char *data, size_t len);
/* Closes the connection; no callback runs after this. */
void engine_attach_close(engine_attach *a);

#endif
