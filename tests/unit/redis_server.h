/* A private redis-server for tests: loopback, a port of 16300-16399, its
 * own directory (removed at the end), AOF on. */
#ifndef EXECD_TESTS_REDIS_SERVER_H
#define EXECD_TESTS_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct redis_server {
  pid_t pid;
  int port;
  char dir[256];
  char password[64]; /* requirepass, or "" */
} redis_server;

/* The redis-server binary, or NULL when it is not installed. */
const char *redis_server_binary(void);

/* Starts one (requirepass password unless NULL) and waits until it answers
 * PING.  0, or -1 with a message on stderr. */
int redis_server_start(redis_server *s, const char *password);
/* Starts it again on the same port and directory (after a stop or kill). */
int redis_server_restart(redis_server *s);
/* kill -9, without removing the directory. */
void redis_server_kill(redis_server *s);
/* Stops it (SIGTERM, waits) and removes its directory. */
void redis_server_stop(redis_server *s);

#endif
