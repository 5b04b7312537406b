/* execd-warm-launch CONTROL_DIR: the command of a warm container
 * (container_warm.c), started ahead with the container's hardening and
 * left waiting.  It blocks opening CONTROL_DIR/go, a FIFO, for reading;
 * execd opens it for writing once it has written CONTROL_DIR/launch, the
 * execution's working directory, argv and environment (launch_file.h).
 * The launcher reads that file (a regular file, bounded), adds the
 * environment to the one the engine gave the container, changes to the
 * directory and execve()s the program, found on the new PATH as the
 * engine would.  It runs as the job's user, under the container's init;
 * once it has exec'd nothing of it is left.  Exit 127 (126: not
 * executable) with a message on stderr when it cannot launch.  Built
 * statically: it is bind-mounted into images that may have no libc. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch_file.h"

extern char **environ;

static void die(int code, const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "execd-warm-launch: ");
  fprintf(stderr, fmt, a, b);
  fputc('\n', stderr);
  exit(code);
}

/* The whole launch file, checked to be a regular file of bounded size. */
static char *read_launch(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    die(127, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    die(127, "%s: %s", path, "not a regular file");
  if ((unsigned long long)st.st_size > LAUNCH_MAX_BYTES)
    die(127, "%s: %s", path, "larger than the launch file's limit (4 MiB)");
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    die(127, "%s: %s", path, "out of memory");
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      die(127, "%s: %s", path, strerror(errno));
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > (size_t)st.st_size)
      die(127, "%s: %s", path, "grew while being read");
  }
  close(fd);
  *len = got;
  return buf;
}

/* The container's environment with the launch file's entries added, a
 * name given there replacing the container's. */
static char **merged_env(const launch_spec *s) {
  size_t n = 0;
  while (environ[n])
    n++;
  char **env = calloc(n + s->envc + 1, sizeof *env);
  if (!env)
    die(127, "%s%s", "out of memory", "");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    size_t name = strcspn(environ[i], "=");
    int replaced = 0;
    for (size_t e = 0; e < s->envc && !replaced; e++)
      replaced = strncmp(s->env[e], environ[i], name + 1) == 0;
    if (!replaced)
      env[k++] = environ[i];
  }
  for (size_t e = 0; e < s->envc; e++)
    env[k++] = s->env[e];
  return env;
}

static const char *env_get(char **env, const char *name) {
  size_t len = strlen(name);
  for (; *env; env++)
    if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
      return *env + len + 1;
  return NULL;
}

/* execve, with argv[0] looked up on PATH unless it has a '/'. */
static void exec_job(char **argv, char **env) {
  if (strchr(argv[0], '/')) {
    execve(argv[0], argv, env);
    die(errno == EACCES ? 126 : 127, "%s: %s", argv[0], strerror(errno));
  }
  const char *path = env_get(env, "PATH");
  if (!path)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int saw_eacces = 0;
  size_t name = strlen(argv[0]);
  while (*path) {
    size_t dir = strcspn(path, ":");
    char *full = malloc(dir + name + 2);
    if (!full)
      die(127, "%s%s", "out of memory", "");
    memcpy(full, dir ? path : ".", dir ? dir : 1);
    size_t at = dir ? dir : 1;
    full[at] = '/';
    memcpy(full + at + 1, argv[0], name + 1);
    execve(full, argv, env);
    if (errno == EACCES)
      saw_eacces = 1;
    free(full);
    path += dir;
    if (*path == ':')
      path++;
  }
  die(saw_eacces ? 126 : 127, "%s: %s", argv[0],
      saw_eacces ? strerror(EACCES) : "executable file not found in $PATH");
}

int main(int argc, char **argv) {
  if (argc != 2)
    die(127, "%s%s", "usage: execd-warm-launch CONTROL_DIR", "");
  char go[4096], launch[4096];
  if (snprintf(go, sizeof go, "%s/go", argv[1]) >= (int)sizeof go ||
      snprintf(launch, sizeof launch, "%s/launch", argv[1]) >= (int)sizeof launch)
    die(127, "%s: %s", argv[1], "path too long");
  /* Blocks until execd opens the FIFO for writing: the go. */
  int fd;
  do
    fd = open(go, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    die(127, "%s: %s", go, strerror(errno));
  close(fd);
  size_t len;
  char *buf = read_launch(launch, &len);
  launch_spec s;
  char err[256];
  if (launch_parse(buf, len, &s, err, sizeof err) < 0)
    die(127, "%s: %s", launch, err);
  char **env = merged_env(&s);
  if (chdir(s.cwd) != 0)
    die(127, "working directory %s: %s", s.cwd, strerror(errno));
  exec_job(s.argv, env);
  return 127;
}
