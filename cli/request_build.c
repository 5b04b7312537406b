/* Building API requests from execctl's options (see request_build.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "request_build.h"

#define EXECUTION_ID_LEN 36
#define FILE_MAX_BYTES (1u << 30) /* EVP_EncodeBlock counts in int */

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

int arg_list_push(arg_list *l, const char *item) {
  const char **grown = realloc(l->items, (l->count + 1) * sizeof *grown);
  if (!grown)
    return -1;
  grown[l->count++] = item;
  l->items = grown;
  return 0;
}

void arg_list_clear(arg_list *l) {
  free(l->items);
  l->items = NULL;
  l->count = 0;
}

int request_check_kv(const char *option, const char *arg, char *err, size_t errlen) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg) {
    fail(err, errlen, "%s '%s': expected KEY=VALUE", option, arg);
    return -1;
  }
  return 0;
}

json_t *request_timeout(const char *arg, char *err, size_t errlen) {
  static const char *const units[] = {"ms", "s", "m", "h", "d", NULL};
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  bool numeric = end != arg && isdigit((unsigned char)arg[0]);
  if (numeric && errno == 0 && isfinite(v) && v > 0) {
    if (*end == '\0')
      return v == floor(v) && v < 1e15 ? json_integer((json_int_t)v) : json_real(v);
    for (const char *const *u = units; *u; u++)
      if (strcmp(end, *u) == 0)
        return json_string(arg);
  }
  fail(err, errlen,
       "--timeout '%s': expected a positive number of seconds or a duration such as "
       "500ms, 90s, 5m, 2h",
       arg);
  return NULL;
}

/* Adds KEY=VALUE pairs to obj[key], creating the object. */
static int add_pairs(json_t *obj, const char *key, const arg_list *pairs, const char *option,
                     char *err, size_t errlen) {
  if (pairs->count == 0)
    return 0;
  json_t *map = json_object();
  json_object_set_new(obj, key, map);
  for (size_t i = 0; i < pairs->count; i++) {
    const char *arg = pairs->items[i];
    if (request_check_kv(option, arg, err, errlen))
      return -1;
    const char *eq = strchr(arg, '=');
    char *name = strndup(arg, (size_t)(eq - arg));
    json_t *value = json_string(eq + 1);
    if (!name || !value) {
      free(name);
      json_decref(value);
      fail(err, errlen, "%s '%s': not valid UTF-8 or out of memory", option, arg);
      return -1;
    }
    json_object_set_new(map, name, value);
    free(name);
  }
  return 0;
}

static json_t *load_input(const char *path, char *err, size_t errlen) {
  json_error_t jerr;
  json_t *data = strcmp(path, "-") == 0
                     ? json_loadf(stdin, JSON_DECODE_ANY, &jerr)
                     : json_load_file(path, JSON_DECODE_ANY, &jerr);
  if (!data)
    fail(err, errlen, "--input %s: line %d column %d: %s", path, jerr.line, jerr.column,
         jerr.text);
  return data;
}

/* Reads a whole regular file into a malloc'd buffer. */
static unsigned char *read_file(const char *path, size_t *len, mode_t *mode, char *err,
                                size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(err, errlen, "--file %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fail(err, errlen, "--file %s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    fail(err, errlen, "--file %s: %s", path,
         S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    close(fd);
    return NULL;
  }
  size_t size = (size_t)st.st_size, got = 0;
  unsigned char *buf = malloc(size + 1);
  if (!buf) {
    fail(err, errlen, "--file %s: out of memory", path);
    close(fd);
    return NULL;
  }
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fail(err, errlen, "--file %s: %s", path, strerror(errno));
      free(buf);
      close(fd);
      return NULL;
    }
    if (n == 0) /* the file shrank: send what it holds now */
      break;
    got += (size_t)n;
  }
  close(fd);
  *len = got;
  *mode = st.st_mode & 0777;
  return buf;
}

static json_t *file_entry(const char *path, char *err, size_t errlen) {
  size_t len;
  mode_t mode;
  unsigned char *data = read_file(path, &len, &mode, err, errlen);
  if (!data)
    return NULL;
  if (len > FILE_MAX_BYTES) {
    free(data);
    fail(err, errlen, "--file %s: %zu bytes is too large to send", path, len);
    return NULL;
  }
  /* EVP_EncodeBlock writes 4 bytes per 3 input bytes plus a NUL. */
  char *text = malloc(4 * ((len + 2) / 3) + 1);
  if (!text) {
    free(data);
    fail(err, errlen, "--file %s: out of memory", path);
    return NULL;
  }
  EVP_EncodeBlock((unsigned char *)text, data, (int)len);
  free(data);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char octal[8];
  snprintf(octal, sizeof octal, "%04o", (unsigned)mode);
  json_t *entry = json_pack("{s:s, s:s, s:s, s:s}", "path", base, "content", text,
                            "encoding", "base64", "mode", octal);
  free(text);
  if (!entry)
    fail(err, errlen, "--file %s: the file name is not valid UTF-8", path);
  return entry;
}

static int add_input(json_t *req, const run_options *o, char *err, size_t errlen) {
  if (!o->input_path && o->files.count == 0)
    return 0;
  json_t *input = json_object();
  json_object_set_new(req, "input", input);
  if (o->input_path) {
    json_t *data = load_input(o->input_path, err, errlen);
    if (!data)
      return -1;
    json_object_set_new(input, "data", data);
  }
  if (o->files.count == 0)
    return 0;
  json_t *files = json_array();
  json_object_set_new(input, "files", files);
  for (size_t i = 0; i < o->files.count; i++) {
    json_t *entry = file_entry(o->files.items[i], err, errlen);
    if (!entry)
      return -1;
    json_array_append_new(files, entry);
  }
  return 0;
}

static int add_container(json_t *req, const run_options *o, char *err, size_t errlen) {
  if (!o->image && o->command_count == 0)
    return 0;
  json_t *container = json_object();
  json_object_set_new(req, "container", container);
  if (o->image)
    json_object_set_new(container, "image", json_string(o->image));
  if (o->command_count == 0)
    return 0;
  json_t *argv = json_array();
  json_object_set_new(container, "command", argv);
  for (int i = 0; i < o->command_count; i++) {
    json_t *word = json_string(o->command[i]);
    if (!word) {
      fail(err, errlen, "command argument %d is not valid UTF-8", i + 1);
      return -1;
    }
    json_array_append_new(argv, word);
  }
  return 0;
}

json_t *request_build(const run_options *o, char *err, size_t errlen) {
  if (o->command_count == 0 && !o->agent) {
    fail(err, errlen, "no command given: execctl run [OPTIONS] -- COMMAND [ARGS...]");
    return NULL;
  }
  json_t *req = json_object();
  if (o->backend)
    json_object_set_new(req, "backend", json_string(o->backend));
  if (o->agent)
    json_object_set_new(req, "agent", json_string(o->agent));
  if (o->timeout) {
    json_t *t = request_timeout(o->timeout, err, errlen);
    if (!t)
      goto fail;
    json_object_set_new(req, "resources", json_pack("{s:o}", "timeout", t));
  }
  if (add_container(req, o, err, errlen) ||
      add_pairs(req, "environment", &o->env, "--env", err, errlen) ||
      add_pairs(req, "labels", &o->labels, "--label", err, errlen) ||
      add_input(req, o, err, errlen))
    goto fail;
  return req;
fail:
  json_decref(req);
  return NULL;
}

/* Appends "&name=escaped(value)" (or "?..." first) to *path. */
static int append_param(CURL *curl, char **path, const char *name, const char *value) {
  if (!value)
    return 0;
  char *escaped = curl_easy_escape(curl, value, 0);
  if (!escaped)
    return -1;
  char *longer = NULL;
  int n = asprintf(&longer, "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', name,
                   escaped);
  curl_free(escaped);
  if (n < 0)
    return -1;
  free(*path);
  *path = longer;
  return 0;
}

char *request_list_path(const list_options *o, char *err, size_t errlen) {
  if (o->limit) {
    char *end;
    errno = 0;
    long n = strtol(o->limit, &end, 10);
    if (errno || end == o->limit || *end || n < 1 || n > 1000) {
      fail(err, errlen, "--limit '%s': expected a number from 1 to 1000", o->limit);
      return NULL;
    }
  }
  if (o->label && request_check_kv("--label", o->label, err, errlen))
    return NULL;
  char *state = o->state ? strdup(o->state) : NULL;
  for (char *s = state; s && *s; s++)
    *s = (char)toupper((unsigned char)*s);
  char *path = strdup("/v1/executions");
  CURL *curl = curl_easy_init();
  if (!path || !curl || (o->state && !state) || append_param(curl, &path, "state", state) ||
      append_param(curl, &path, "agent", o->agent) ||
      append_param(curl, &path, "label", o->label) ||
      append_param(curl, &path, "limit", o->limit) ||
      append_param(curl, &path, "cursor", o->cursor)) {
    fail(err, errlen, "out of memory");
    free(path);
    path = NULL;
  }
  curl_easy_cleanup(curl);
  free(state);
  return path;
}

char *request_usage_path(const usage_options *o, char *err, size_t errlen) {
  if (o->by && strcmp(o->by, "tenant") != 0 && strcmp(o->by, "agent") != 0) {
    fail(err, errlen, "--by '%s': expected tenant or agent", o->by);
    return NULL;
  }
  char *path = strdup("/v1/usage");
  CURL *curl = curl_easy_init();
  if (!path || !curl || append_param(curl, &path, "from", o->from) ||
      append_param(curl, &path, "to", o->to) || append_param(curl, &path, "group_by", o->by)) {
    fail(err, errlen, "out of memory");
    free(path);
    path = NULL;
  }
  curl_easy_cleanup(curl);
  return path;
}

char *request_execution_path(const char *id, const char *suffix, char *err, size_t errlen) {
  size_t n = strlen(id);
  bool shaped = n == EXECUTION_ID_LEN;
  for (size_t i = 0; shaped && i < n; i++)
    shaped = isxdigit((unsigned char)id[i]) || id[i] == '-';
  if (!shaped) {
    fail(err, errlen,
         "'%s' is not an execution id (expected a UUID such as "
         "0190a0b0-c0d0-7e00-8f00-000000000001)",
         id);
    return NULL;
  }
  char *path = NULL;
  if (asprintf(&path, "/v1/executions/%s%s", id, suffix ? suffix : "") < 0) {
    fail(err, errlen, "out of memory");
    return NULL;
  }
  return path;
}
