/* A private redis-server for tests (see redis_server.h). */
#include "redis_server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define PORT_FIRST 16300
#define PORT_COUNT 100

const char *redis_server_binary(void) {
  static const char *const paths[] = {"/usr/bin/redis-server", "/usr/local/bin/redis-server"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
    if (access(paths[i], X_OK) == 0)
      return paths[i];
  return NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* PING answered (with or without the password); 0, or -1 if the process
 * died or never answered. */
static int wait_ready(redis_server *s) {
  for (int i = 0; i < 100; i++) {
    int status;
    if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
      s->pid = 0;
      return -1;
    }
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    if (c && !c->err) {
      redisReply *r = s->password[0] ? redisCommand(c, "AUTH %s", s->password) : NULL;
      if (r)
        freeReplyObject(r);
      r = redisCommand(c, "PING");
      bool ok = r && r->type == REDIS_REPLY_STATUS;
      if (r)
        freeReplyObject(r);
      redisFree(c);
      if (ok)
        return 0;
    } else if (c) {
      redisFree(c);
    }
    sleep_ms(50);
  }
  return -1;
}

static int spawn(redis_server *s) {
  char port[16], log[300], pidfile[300];
  snprintf(port, sizeof port, "%d", s->port);
  snprintf(log, sizeof log, "%s/redis.log", s->dir);
  snprintf(pidfile, sizeof pidfile, "%s/redis.pid", s->dir);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    const char *argv[32];
    int n = 0;
    argv[n++] = redis_server_binary();
    argv[n++] = "--port", argv[n++] = port;
    argv[n++] = "--bind", argv[n++] = "127.0.0.1";
    argv[n++] = "--dir", argv[n++] = s->dir;
    argv[n++] = "--appendonly", argv[n++] = "yes";
    argv[n++] = "--save", argv[n++] = "";
    argv[n++] = "--daemonize", argv[n++] = "no";
    argv[n++] = "--logfile", argv[n++] = log;
    argv[n++] = "--pidfile", argv[n++] = pidfile;
    if (s->password[0])
      argv[n++] = "--requirepass", argv[n++] = s->password;
    argv[n] = NULL;
    execv(argv[0], (char **)argv);
    _exit(127);
  }
  s->pid = pid;
  return wait_ready(s);
}

int redis_server_start(redis_server *s, const char *password) {
  memset(s, 0, sizeof *s);
  if (!redis_server_binary())
    return -1;
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(s->dir, sizeof s->dir, "%s/execd-redis-XXXXXX", tmp);
  if (!mkdtemp(s->dir)) {
    fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
    return -1;
  }
  if (password)
    snprintf(s->password, sizeof s->password, "%s", password);
  /* Several tests may run at once: start at a port of the pid's, and go
   * on to the next one when that one is taken. */
  int first = (int)(getpid() % PORT_COUNT);
  for (int i = 0; i < PORT_COUNT; i++) {
    s->port = PORT_FIRST + (first + i) % PORT_COUNT;
    if (spawn(s) == 0)
      return 0;
    if (s->pid)
      redis_server_kill(s);
  }
  fprintf(stderr, "redis-server did not start on any port of %d-%d (see %s/redis.log)\n",
          PORT_FIRST, PORT_FIRST + PORT_COUNT - 1, s->dir);
  redis_server_stop(s);
  return -1;
}

int redis_server_restart(redis_server *s) { return spawn(s); }

void redis_server_kill(redis_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
}

/* The server of the pid file: one started again by a forked test is not
 * this process' child, but it is stopped all the same. */
static void stop_by_pidfile(const redis_server *s) {
  char path[300];
  snprintf(path, sizeof path, "%s/redis.pid", s->dir);
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (!f)
    return;
  if (fscanf(f, "%ld", &pid) != 1)
    pid = 0;
  fclose(f);
  if (pid <= 1 || kill((pid_t)pid, SIGTERM) != 0)
    return;
  for (int i = 0; i < 200 && kill((pid_t)pid, 0) == 0; i++)
    sleep_ms(25);
}

void redis_server_stop(redis_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
  if (s->dir[0])
    stop_by_pidfile(s);
  if (s->dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", s->dir);
    s->dir[0] = '\0';
  }
}
