/* uvredis: hiredis (0.14) connections driven by a libuv loop.
 *
 * execd's own adapter rather than hiredis' adapters/libuv.h, which in 0.14
 * drops poll errors (the connection then hangs instead of failing) and has
 * no timeouts.  Here:
 *   - a poll error is handed to hiredis as a read/write, so the socket's
 *     error surfaces and the connection fails;
 *   - connect has a timeout, and so has every command (a reply overdue
 *     drops the connection: hiredis 0.14 cannot abandon one command);
 *   - the address is resolved with uv_getaddrinfo (never on the loop);
 *   - AUTH (password, or ACL user and password) runs before the connection
 *     is called up;
 *   - a lost connection is reconnected with exponential backoff.
 * One uvredis_conn is one TCP (or unix) connection: callers give blocking
 * reads and subscriptions a connection each.  Everything runs on the loop
 * thread. */
#ifndef EXECD_LIB_UVREDIS_H
#define EXECD_LIB_UVREDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

/* Where and how to connect.  Strings are owned (uvredis_config_clear). */
typedef struct uvredis_config {
  char *host;       /* name or address; NULL with unix_path */
  int port;
  char *unix_path;  /* a unix socket instead of host:port, or NULL */
  char *user;       /* ACL user for AUTH, or NULL (AUTH <password>) */
  char *password;   /* NULL: no AUTH */
  int db;           /* SELECT after AUTH when not 0 */
  uint64_t connect_timeout_ms;
  uint64_t command_timeout_ms;
  uint64_t backoff_min_ms; /* first reconnect delay, doubled up to max */
  uint64_t backoff_max_ms;
} uvredis_config;

/* Parses "host:port", "[v6]:port" or "unix:/path" into cfg (host/port or
 * unix_path).  0, or -1 with a sentence in err. */
int uvredis_parse_address(const char *text, uvredis_config *cfg, char *err, size_t errlen);

/* Reads the password from file: its first line (no trailing newline), at
 * most 512 bytes; the file must not be readable by others than its owner
 * and group.  0, or -1 with a sentence in err naming the file. */
int uvredis_read_password(const char *path, char **out, char *err, size_t errlen);

/* Copies src into dst (deep); 0 or -1 when out of memory. */
int uvredis_config_copy(uvredis_config *dst, const uvredis_config *src);
void uvredis_config_clear(uvredis_config *cfg);

/* Outcome of uvredis_probe. */
enum uvredis_probe_result {
  UVREDIS_PROBE_OK = 0,
  UVREDIS_PROBE_UNREACHABLE = 1, /* no connection (retry later) */
  UVREDIS_PROBE_REFUSED = 2      /* connected, but AUTH/SELECT refused */
};

/* A blocking check of cfg (connect, AUTH, SELECT, PING) within the connect
 * timeout, for a daemon's start-up before its loop runs.  err says what
 * failed. */
int uvredis_probe(const uvredis_config *cfg, char *err, size_t errlen);

typedef struct uvredis_conn uvredis_conn;

/* The connection came up (up: AUTH done, commands may be sent) or went
 * down (why: what happened).  Called from the loop, never from inside a
 * uvredis call. */
typedef void (*uvredis_state_cb)(void *arg, bool up, const char *why);

/* A command's reply (borrowed, valid during the call; may be a
 * REDIS_REPLY_ERROR), or NULL when the command failed (err says why: the
 * connection was lost, timed out or closed). */
typedef void (*uvredis_reply_cb)(void *arg, redisReply *reply, const char *err);

/* A connection named name (in messages); it connects at once and keeps
 * reconnecting until uvredis_conn_close.  NULL when out of memory. */
uvredis_conn *uvredis_conn_new(uv_loop_t *loop, const uvredis_config *cfg, const char *name,
                               uvredis_state_cb state_cb, void *arg);

/* True between the "up" and the next "down" state callback. */
bool uvredis_conn_up(const uvredis_conn *c);
/* Why the connection is not up ("connecting", the last failure). */
const char *uvredis_conn_error(const uvredis_conn *c);

/* Timeouts of uvredis_command: the connection's command timeout, or none
 * (SUBSCRIBE, whose callback runs for every message). */
#define UVREDIS_TIMEOUT_DEFAULT 0
#define UVREDIS_TIMEOUT_NONE UINT64_MAX

/* Sends a command; cb runs exactly once with its reply (for SUBSCRIBE:
 * once per message and confirmation, then once with NULL when the
 * connection ends).  extra_ms is added to the command timeout (a blocking
 * read's own wait), or UVREDIS_TIMEOUT_NONE.  Returns 0, or -1 when the
 * connection is not up (cb is not called). */
int uvredis_command(uvredis_conn *c, uint64_t extra_ms, uvredis_reply_cb cb, void *arg, int argc,
                    const char **argv, const size_t *argvlen);

/* Stops for good: pending commands get their callback with NULL ("closed"),
 * then the handles are closed; the object is freed once they are (the loop
 * must run).  No state callback afterwards. */
void uvredis_conn_close(uvredis_conn *c);

/* The text of a reply for messages: the error string, or the type. */
const char *uvredis_reply_text(const redisReply *r);

#endif
