/* The launch file of a warm container: see launch_file.h. */
#include "launch_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* The next '\0'-terminated string at *pos, or NULL at the end of the buffer. */
static const char *next_string(const char *buf, size_t len, size_t *pos) {
  if (*pos >= len)
    return NULL;
  const char *s = buf + *pos;
  const char *nul = memchr(s, '\0', len - *pos);
  if (!nul)
    return NULL;
  *pos += (size_t)(nul - s) + 1;
  return s;
}

static int read_count(const char *buf, size_t len, size_t *pos, const char *what, size_t *out,
                      char *err, size_t errlen) {
  const char *s = next_string(buf, len, pos);
  if (!s)
    return fail(err, errlen, "ends before the count of %s", what);
  size_t n = 0, digits = strlen(s);
  if (digits == 0 || digits > 6)
    return fail(err, errlen, "the count of %s is not a number of at most 6 digits", what);
  for (size_t i = 0; i < digits; i++) {
    if (s[i] < '0' || s[i] > '9')
      return fail(err, errlen, "the count of %s is not a number", what);
    n = n * 10 + (size_t)(s[i] - '0');
  }
  if (n > LAUNCH_MAX_ARGS)
    return fail(err, errlen, "%zu %s: more than %u", n, what, LAUNCH_MAX_ARGS);
  *out = n;
  return 0;
}

static int read_list(const char *buf, size_t len, size_t *pos, size_t n, const char *what,
                     char ***out, char *err, size_t errlen) {
  /* Each entry takes at least its '\0': a count beyond the bytes left is
   * refused before anything is allocated for it. */
  if (n > len - *pos)
    return fail(err, errlen, "%zu %s announced, more than the file holds", n, what);
  char **v = calloc(n + 1, sizeof *v);
  if (!v)
    return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *s = next_string(buf, len, pos);
    if (!s) {
      free(v);
      return fail(err, errlen, "ends within %s (%zu of %zu)", what, i, n);
    }
    v[i] = (char *)s;
  }
  *out = v;
  return 0;
}

int launch_parse(const char *buf, size_t len, launch_spec *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t magic = sizeof LAUNCH_MAGIC - 1;
  if (len > LAUNCH_MAX_BYTES)
    return fail(err, errlen, "%zu bytes, more than %u", len, LAUNCH_MAX_BYTES);
  if (len < magic || memcmp(buf, LAUNCH_MAGIC, magic) != 0)
    return fail(err, errlen, "does not start with \"execd-launch 1\"");
  size_t pos = magic;
  out->cwd = next_string(buf, len, &pos);
  if (!out->cwd || out->cwd[0] != '/')
    return fail(err, errlen, "no absolute working directory");
  if (read_count(buf, len, &pos, "arguments", &out->argc, err, errlen) < 0)
    return -1;
  if (out->argc == 0)
    return fail(err, errlen, "no arguments: the program is argv[0]");
  if (read_list(buf, len, &pos, out->argc, "arguments", &out->argv, err, errlen) < 0)
    return -1;
  if (out->argv[0][0] == '\0') {
    launch_spec_free(out);
    return fail(err, errlen, "argv[0] is empty");
  }
  if (read_count(buf, len, &pos, "environment entries", &out->envc, err, errlen) < 0 ||
      read_list(buf, len, &pos, out->envc, "environment entries", &out->env, err, errlen) < 0) {
    launch_spec_free(out);
    return -1;
  }
  for (size_t i = 0; i < out->envc; i++) {
    const char *eq = strchr(out->env[i], '=');
    if (!eq || eq == out->env[i]) {
      launch_spec_free(out);
      return fail(err, errlen, "environment entry %zu is not NAME=value", i);
    }
  }
  if (pos != len) {
    launch_spec_free(out);
    return fail(err, errlen, "%zu bytes after the last environment entry", len - pos);
  }
  return 0;
}

void launch_spec_free(launch_spec *s) {
  free(s->argv);
  free(s->env);
  s->argv = s->env = NULL;
}

static size_t count(const char *const *v) {
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char *launch_format(const char *cwd, const char *const *argv, const char *const *env,
                    size_t *len) {
  size_t argc = count(argv), envc = count(env);
  if (!cwd || cwd[0] != '/' || argc == 0 || !argv[0][0] || argc > LAUNCH_MAX_ARGS ||
      envc > LAUNCH_MAX_ARGS)
    return NULL;
  size_t total = sizeof LAUNCH_MAGIC - 1 + strlen(cwd) + 1 + 2 * 8;
  for (size_t i = 0; i < argc; i++)
    total += strlen(argv[i]) + 1;
  for (size_t i = 0; i < envc; i++) {
    const char *eq = strchr(env[i], '=');
    if (!eq || eq == env[i])
      return NULL;
    total += strlen(env[i]) + 1;
  }
  if (total > LAUNCH_MAX_BYTES)
    return NULL;
  char *buf = malloc(total), *p = buf;
  if (!buf)
    return NULL;
  p += sprintf(p, "%s%s%c%zu%c", LAUNCH_MAGIC, cwd, '\0', argc, '\0');
  for (size_t i = 0; i < argc; i++)
    p = stpcpy(p, argv[i]) + 1;
  p += sprintf(p, "%zu%c", envc, '\0');
  for (size_t i = 0; i < envc; i++)
    p = stpcpy(p, env[i]) + 1;
  *len = (size_t)(p - buf);
  return buf;
}
