/* Request validation: every member is checked for type, range and size,
 * unknown members are refused, and every error names its field. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <execd/error.h>

#include "request.h"
#include "request_internal.h"
#include "units.h"
#include "workspace.h"

json_t *request_refuse(request_error *e, int status, const char *code, const char *field,
                       const char *fmt, ...) {
  e->status = status;
  snprintf(e->code, sizeof e->code, "%s", code);
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  return NULL;
}

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* Refuses members of obj not in the NULL-terminated list. */
static int only_known(const json_t *obj, const char *prefix, const char *const *known,
                      request_error *e) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    int ok = 0;
    for (const char *const *k = known; *k; k++)
      if (strcmp(key, *k) == 0)
        ok = 1;
    if (!ok) {
      char field[160];
      snprintf(field, sizeof field, "%s%s%.100s", prefix, *prefix ? "." : "", key);
      char list[400] = "";
      size_t used = 0;
      for (const char *const *k = known; *k && used < sizeof list - 40; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 used ? ", " : "", *k);
      INVALID(e, field, "unknown field '%.100s' (allowed: %s)", key, list);
      return -1;
    }
  }
  return 0;
}

static int has_control_chars(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return 1;
  return 0;
}

/* An optional string of at most max bytes with no control characters. */
static int opt_string(const json_t *obj, const char *key, const char *field,
                      size_t max, json_t *out, request_error *e) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    INVALID(e, field, "must be a string, not %s", json_type_name(v));
    return -1;
  }
  if (json_string_length(v) > max || json_string_length(v) == 0) {
    INVALID(e, field, "must be 1 to %zu bytes long", max);
    return -1;
  }
  if (strlen(json_string_value(v)) != json_string_length(v) ||
      has_control_chars(json_string_value(v))) {
    INVALID(e, field, "must not contain NUL or control characters");
    return -1;
  }
  json_object_set(out, key, v);
  return 0;
}

int request_safe_relative_path(const char *path) {
  size_t len = strlen(path);
  if (len == 0 || len > 1024 || path[0] == '/')
    return 0;
  const char *seg = path;
  for (;;) {
    const char *slash = strchr(seg, '/');
    size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
    if (n == 0 || n > 255)
      return 0;
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
      return 0;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f || seg[i] == '\\')
        return 0;
    if (!slash)
      break;
    seg = slash + 1;
  }
  return 1;
}

/* Size of base64 text once decoded, or -1 if it is not valid base64. */
static long long base64_decoded_size(const char *s, size_t len) {
  if (len % 4)
    return -1;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    int ok = isalnum((unsigned char)c) || c == '+' || c == '/' ||
             (c == '=' && i >= len - 2);
    if (!ok)
      return -1;
  }
  if (len >= 2 && s[len - 2] == '=' && s[len - 1] != '=')
    return -1;
  long long n = (long long)(len / 4) * 3;
  if (len && s[len - 1] == '=')
    n--;
  if (len > 1 && s[len - 2] == '=')
    n--;
  return n;
}

static int check_files(const json_t *files, const request_limits *lim, json_t *out,
                       long long *input_bytes, request_error *e) {
  char field[160];
  if (!json_is_array(files)) {
    INVALID(e, "input.files", "must be an array, not %s", json_type_name(files));
    return -1;
  }
  if ((long long)json_array_size(files) > lim->max_files) {
    request_refuse(e, EXECD_ETOOBIG, "payload_too_large", "input.files",
                   "%zu files is over the limit of %lld", json_array_size(files),
                   (long long)lim->max_files);
    return -1;
  }
  static const char *const known[] = {"path", "content", "encoding", "mode", NULL};
  json_t *norm = json_array();
  json_object_set_new(out, "files", norm);
  size_t i;
  json_t *f;
  json_array_foreach(files, i, f) {
    snprintf(field, sizeof field, "input.files[%zu]", i);
    if (!json_is_object(f)) {
      INVALID(e, field, "must be an object, not %s", json_type_name(f));
      return -1;
    }
    if (only_known(f, field, known, e))
      return -1;
    json_t *path = json_object_get(f, "path");
    snprintf(field, sizeof field, "input.files[%zu].path", i);
    if (!json_is_string(path)) {
      INVALID(e, field, path ? "must be a string" : "is required");
      return -1;
    }
    const char *p = json_string_value(path);
    if (strlen(p) != json_string_length(path) || !request_safe_relative_path(p)) {
      INVALID(e, field,
              "'%.200s' is not a safe relative path (no '..', no leading '/', no "
              "empty components, no control characters)",
              p);
      return -1;
    }
    if (strcmp(p, "input.json") == 0 || strcmp(p, "checkpoint.json") == 0) {
      INVALID(e, field, "'%s' is reserved for execd", p);
      return -1;
    }
    /* Two entries must not name the same file, or a file and a
     * directory on its path. */
    for (size_t j = 0; j < i; j++) {
      const char *q = json_string_value(
          json_object_get(json_array_get(norm, j), "path"));
      size_t lp = strlen(p), lq = strlen(q);
      if (strcmp(p, q) == 0 || (lp < lq && strncmp(p, q, lp) == 0 && q[lp] == '/') ||
          (lq < lp && strncmp(p, q, lq) == 0 && p[lq] == '/')) {
        INVALID(e, field, "'%.200s' clashes with input.files[%zu] '%.200s'", p, j, q);
        return -1;
      }
    }
    json_t *content = json_object_get(f, "content");
    snprintf(field, sizeof field, "input.files[%zu].content", i);
    if (!json_is_string(content)) {
      INVALID(e, field, content ? "must be a string" : "is required");
      return -1;
    }
    const char *encoding = "utf-8";
    json_t *enc = json_object_get(f, "encoding");
    snprintf(field, sizeof field, "input.files[%zu].encoding", i);
    if (enc) {
      if (!json_is_string(enc) || (strcmp(json_string_value(enc), "utf-8") &&
                                   strcmp(json_string_value(enc), "base64"))) {
        INVALID(e, field, "must be \"utf-8\" or \"base64\"");
        return -1;
      }
      encoding = json_string_value(enc);
    }
    long long size = (long long)json_string_length(content);
    if (strcmp(encoding, "base64") == 0) {
      size = base64_decoded_size(json_string_value(content), json_string_length(content));
      if (size < 0) {
        snprintf(field, sizeof field, "input.files[%zu].content", i);
        INVALID(e, field, "is not valid base64");
        return -1;
      }
    }
    if (size > lim->max_file_bytes) {
      snprintf(field, sizeof field, "input.files[%zu].content", i);
      request_refuse(e, EXECD_ETOOBIG, "payload_too_large", field,
                     "%lld bytes is over the per-file limit of %lld", size,
                     (long long)lim->max_file_bytes);
      return -1;
    }
    *input_bytes += size;
    int mode = 0644;
    json_t *m = json_object_get(f, "mode");
    snprintf(field, sizeof field, "input.files[%zu].mode", i);
    if (m) {
      char *end = NULL;
      long v = -1;
      if (json_is_string(m) && json_string_length(m) > 0 && json_string_length(m) <= 4)
        v = strtol(json_string_value(m), &end, 8);
      else if (json_is_integer(m))
        v = (long)json_integer_value(m);
      if (v < 0 || v > 0777 || (end && *end)) {
        INVALID(e, field, "must be an octal permission string such as \"0644\" (no setuid, setgid or sticky bits)");
        return -1;
      }
      mode = (int)v;
    }
    json_array_append_new(norm, json_pack("{s:O, s:O, s:s, s:i}", "path", path,
                                          "content", content, "encoding", encoding,
                                          "mode", mode));
  }
  return 0;
}

static int valid_name(const char *s, size_t max, int allow_dot) {
  size_t n = strlen(s);
  if (n == 0 || n > max || s[0] == '.' || s[0] == '-')
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && !(allow_dot && *s == '.'))
      return 0;
  return 1;
}

static int check_input(const json_t *in, const request_limits *lim, json_t *out,
                       request_error *e) {
  static const char *const known[] = {"data", "files", "documents", "config", NULL};
  if (!json_is_object(in)) {
    INVALID(e, "input", "must be an object, not %s", json_type_name(in));
    return -1;
  }
  if (only_known(in, "input", known, e))
    return -1;
  json_t *norm = json_object();
  json_object_set_new(out, "input", norm);
  long long bytes = 0;
  json_t *v;
  if ((v = json_object_get(in, "data")))
    json_object_set(norm, "data", v);
  if ((v = json_object_get(in, "files")) && check_files(v, lim, norm, &bytes, e))
    return -1;
  if ((v = json_object_get(in, "documents"))) {
    if (!json_is_object(v)) {
      INVALID(e, "input.documents", "must be an object, not %s", json_type_name(v));
      return -1;
    }
    const char *name;
    json_t *doc;
    json_object_foreach(v, name, doc) {
      char field[160];
      snprintf(field, sizeof field, "input.documents.%.100s", name);
      if (!valid_name(name, 100, 1) || strcmp(name, "input") == 0 ||
          strcmp(name, "checkpoint") == 0) {
        INVALID(e, field,
                "'%.100s' is not a valid document name (letters, digits, '_', '-', "
                "'.'; not 'input' or 'checkpoint')",
                name);
        return -1;
      }
      char fname[128];
      snprintf(fname, sizeof fname, "%s.json", name);
      json_t *files = json_object_get(norm, "files");
      size_t i;
      json_t *f;
      json_array_foreach(files, i, f) if (strcmp(json_string_value(json_object_get(f, "path")),
                                                 fname) == 0) {
        INVALID(e, field, "clashes with input.files[%zu] '%s'", i, fname);
        return -1;
      }
    }
    json_object_set(norm, "documents", v);
  }
  if ((v = json_object_get(in, "config"))) {
    if (!json_is_object(v) && !json_is_null(v)) {
      INVALID(e, "input.config", "must be an object, not %s", json_type_name(v));
      return -1;
    }
    json_object_set(norm, "config", v);
  }
  /* Documents and data count towards the input limit too. */
  for (const char *const *k = (const char *const[]){"data", "documents", "config", NULL}; *k; k++)
    if ((v = json_object_get(norm, *k))) {
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      bytes += text ? (long long)strlen(text) : 0;
      free(text);
    }
  if (bytes > lim->max_input_bytes) {
    request_refuse(e, EXECD_ETOOBIG, "payload_too_large", "input",
                   "%lld bytes of input is over the limit of %lld", bytes,
                   (long long)lim->max_input_bytes);
    return -1;
  }
  return 0;
}

static int check_container(const json_t *c, json_t *out, request_error *e) {
  static const char *const known[] = {"image", "command", "working_dir", "user", NULL};
  if (!json_is_object(c)) {
    INVALID(e, "container", "must be an object, not %s", json_type_name(c));
    return -1;
  }
  if (only_known(c, "container", known, e))
    return -1;
  json_t *norm = json_object();
  json_object_set_new(out, "container", norm);
  if (opt_string(c, "image", "container.image", 512, norm, e))
    return -1;
  json_t *cmd = json_object_get(c, "command");
  if (cmd && !json_is_null(cmd)) {
    if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 4096) {
      INVALID(e, "container.command",
              "must be a non-empty array of strings (argv, no shell)");
      return -1;
    }
    size_t i;
    json_t *a;
    size_t total = 0;
    json_array_foreach(cmd, i, a) {
      char field[64];
      snprintf(field, sizeof field, "container.command[%zu]", i);
      if (!json_is_string(a) || strlen(json_string_value(a)) != json_string_length(a)) {
        INVALID(e, field, "must be a string without NUL bytes");
        return -1;
      }
      total += json_string_length(a);
    }
    if (total > 1 << 20) {
      request_refuse(e, EXECD_ETOOBIG, "payload_too_large", "container.command",
                     "the command line is over 1 MiB");
      return -1;
    }
    if (json_string_length(json_array_get(cmd, 0)) == 0) {
      INVALID(e, "container.command[0]", "must not be empty");
      return -1;
    }
    json_object_set(norm, "command", cmd);
  }
  if (opt_string(c, "working_dir", "container.working_dir", 1024, norm, e))
    return -1;
  json_t *wd = json_object_get(norm, "working_dir");
  if (wd && json_string_value(wd)[0] != '/') {
    INVALID(e, "container.working_dir", "must be an absolute path");
    return -1;
  }
  if (opt_string(c, "user", "container.user", 64, norm, e))
    return -1;
  json_t *user = json_object_get(norm, "user");
  if (user) {
    unsigned uid, gid;
    char extra;
    const char *u = json_string_value(user);
    if (sscanf(u, "%u:%u%c", &uid, &gid, &extra) != 2 &&
        sscanf(u, "%u%c", &uid, &extra) != 1) {
      INVALID(e, "container.user", "must be \"uid\" or \"uid:gid\" (numbers)");
      return -1;
    }
  }
  return 0;
}

static int check_resources(const json_t *r, json_t *out, request_error *e) {
  static const char *const known[] = {"memory", "cpus", "pids", "timeout", "cpu_time",
                                      "nofile", "fsize", "workspace_max", NULL};
  if (!json_is_object(r)) {
    INVALID(e, "resources", "must be an object, not %s", json_type_name(r));
    return -1;
  }
  if (only_known(r, "resources", known, e))
    return -1;
  json_t *norm = json_object_get(out, "resources");
  json_t *v;
  int64_t n;
  if ((v = json_object_get(r, "memory"))) {
    if (units_json_size(v, &n) || n < (4 << 20)) {
      INVALID(e, "resources.memory", "must be a size of at least 4M, such as \"512M\"");
      return -1;
    }
    json_object_set_new(norm, "memory", json_integer(n));
  }
  if ((v = json_object_get(r, "fsize"))) {
    if (units_json_size(v, &n) || n == 0) {
      INVALID(e, "resources.fsize", "must be a positive size such as \"100M\"");
      return -1;
    }
    json_object_set_new(norm, "fsize", json_integer(n));
  }
  if ((v = json_object_get(r, "workspace_max"))) {
    if (units_json_size(v, &n) || n < WORKSPACE_MAX_MIN) {
      INVALID(e, "resources.workspace_max", "must be a size of at least 1M, such as \"64M\"");
      return -1;
    }
    json_object_set_new(norm, "workspace_max", json_integer(n));
  }
  if ((v = json_object_get(r, "timeout"))) {
    if (units_json_duration_ms(v, &n) || n <= 0) {
      INVALID(e, "resources.timeout", "must be a positive number of seconds or a duration such as \"5m\"");
      return -1;
    }
    json_object_set_new(norm, "timeout_ms", json_integer(n));
  }
  if ((v = json_object_get(r, "cpu_time"))) {
    if (units_json_duration_ms(v, &n) || n <= 0) {
      INVALID(e, "resources.cpu_time", "must be a positive number of seconds");
      return -1;
    }
    json_object_set_new(norm, "cpu_seconds", json_integer((n + 999) / 1000));
  }
  if ((v = json_object_get(r, "cpus"))) {
    if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1024) {
      INVALID(e, "resources.cpus", "must be a positive number such as 0.5");
      return -1;
    }
    json_object_set_new(norm, "cpus", json_real(json_number_value(v)));
  }
  for (const char *const *k = (const char *const[]){"pids", "nofile", NULL}; *k; k++)
    if ((v = json_object_get(r, *k))) {
      if (!json_is_integer(v) || json_integer_value(v) < 1 ||
          json_integer_value(v) > (1 << 22)) {
        char field[32];
        snprintf(field, sizeof field, "resources.%s", *k);
        INVALID(e, field, "must be a positive integer");
        return -1;
      }
      json_object_set(norm, *k, v);
    }
  return 0;
}

static const char *const reserved_env[] = {
    "EXECUTION_ID", "ATTEMPT", "WORKSPACE_INPUT", "WORKSPACE_OUTPUT",
    "WORKSPACE_CONFIG", "INPUT_DATA", "CHECKPOINT_TOKEN", NULL};

static int check_environment(const json_t *env, const request_limits *lim, json_t *out,
                             request_error *e) {
  if (!json_is_object(env)) {
    INVALID(e, "environment", "must be an object of strings, not %s", json_type_name(env));
    return -1;
  }
  long long total = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)env, k, v) {
    char field[160];
    snprintf(field, sizeof field, "environment.%.100s", k);
    if (!(isalpha((unsigned char)k[0]) || k[0] == '_') || strlen(k) > 256) {
      INVALID(e, field, "'%.100s' is not a valid variable name", k);
      return -1;
    }
    for (const char *c = k; *c; c++)
      if (!isalnum((unsigned char)*c) && *c != '_') {
        INVALID(e, field, "'%.100s' is not a valid variable name", k);
        return -1;
      }
    for (const char *const *r = reserved_env; *r; r++)
      if (strcmp(k, *r) == 0) {
        INVALID(e, field, "%s is set by execd and cannot be overridden", k);
        return -1;
      }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
      INVALID(e, field, "must be a string without NUL bytes");
      return -1;
    }
    total += (long long)(strlen(k) + json_string_length(v) + 2);
  }
  if (total > lim->max_env_bytes) {
    request_refuse(e, EXECD_ETOOBIG, "payload_too_large", "environment",
                   "%lld bytes is over the limit of %lld", total, (long long)lim->max_env_bytes);
    return -1;
  }
  json_object_set(out, "environment", (json_t *)env);
  return 0;
}

static int check_output(const json_t *o, const request_limits *lim, json_t *out,
                        request_error *e) {
  static const char *const known[] = {"files", "logs", "max_bytes", NULL};
  if (!json_is_object(o)) {
    INVALID(e, "output", "must be an object, not %s", json_type_name(o));
    return -1;
  }
  if (only_known(o, "output", known, e))
    return -1;
  json_t *norm = json_object_get(out, "output");
  json_t *v;
  if ((v = json_object_get(o, "files"))) {
    if (!json_is_array(v) || json_array_size(v) > 256) {
      INVALID(e, "output.files", "must be an array of at most 256 glob patterns");
      return -1;
    }
    size_t i;
    json_t *g;
    json_array_foreach(v, i, g) {
      char field[64];
      snprintf(field, sizeof field, "output.files[%zu]", i);
      if (!json_is_string(g) || !request_safe_relative_path(json_string_value(g))) {
        INVALID(e, field, "must be a relative glob pattern inside the output directory");
        return -1;
      }
    }
    json_object_set(norm, "files", v);
  }
  if ((v = json_object_get(o, "logs"))) {
    if (!json_is_boolean(v)) {
      INVALID(e, "output.logs", "must be true or false");
      return -1;
    }
    json_object_set(norm, "logs", v);
  }
  if ((v = json_object_get(o, "max_bytes"))) {
    int64_t n;
    if (units_json_size(v, &n)) {
      INVALID(e, "output.max_bytes", "must be a size such as 10485760 or \"10M\"");
      return -1;
    }
    if (n > lim->max_output_bytes) {
      request_refuse(e, EXECD_EUNPROC, "limit_exceeded", "output.max_bytes",
                     "%lld is over the daemon's limit of %lld", (long long)n,
                     (long long)lim->max_output_bytes);
      return -1;
    }
    json_object_set_new(norm, "max_bytes", json_integer(n));
  }
  return 0;
}

static int check_retry(const json_t *r, const request_limits *lim, json_t *out,
                       request_error *e) {
  static const char *const known[] = {"max_attempts", "backoff_ms", "max_backoff_ms", NULL};
  if (!json_is_object(r)) {
    INVALID(e, "retry", "must be an object, not %s", json_type_name(r));
    return -1;
  }
  if (only_known(r, "retry", known, e))
    return -1;
  json_t *norm = json_object_get(out, "retry");
  json_t *v;
  if ((v = json_object_get(r, "max_attempts"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > lim->max_attempts) {
      char field[] = "retry.max_attempts";
      INVALID(e, field, "must be an integer from 1 to %lld", (long long)lim->max_attempts);
      return -1;
    }
    json_object_set(norm, "max_attempts", v);
  }
  for (const char *const *k = (const char *const[]){"backoff_ms", "max_backoff_ms", NULL}; *k; k++)
    if ((v = json_object_get(r, *k))) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 ||
          json_integer_value(v) > 86400000) {
        char field[32];
        snprintf(field, sizeof field, "retry.%s", *k);
        INVALID(e, field, "must be an integer of milliseconds from 0 to 86400000");
        return -1;
      }
      json_object_set(norm, *k, v);
    }
  return 0;
}

json_t *request_parse(const char *body, size_t len, const request_limits *lim,
                      request_error *e) {
  memset(e, 0, sizeof *e);
  if ((long long)len > lim->max_body_bytes)
    return request_refuse(e, EXECD_ETOOBIG, "payload_too_large", NULL,
                          "the request is %zu bytes, over the limit of %lld", len,
                          (long long)lim->max_body_bytes);
  json_bounds bounds = limits_json_bounds(lim);
  json_bounds_error je;
  json_t *req = json_bounds_load(body, len, JSON_REJECT_DUPLICATES, &bounds, &je);
  if (!req && je.fault == JSON_BOUNDS_TOO_DEEP)
    return INVALID(e, NULL, "the request is %s; the limit is daemon.limits.json_depth_max",
                   je.message);
  if (!req && je.fault == JSON_BOUNDS_TOO_MANY)
    return request_refuse(e, EXECD_ETOOBIG, "payload_too_large", NULL,
                          "the request holds %s; the limit is daemon.limits.json_elements_max",
                          je.message);
  if (!req)
    return INVALID(e, NULL, "%s", je.message);
  json_t *out = NULL;
  if (!json_is_object(req)) {
    INVALID(e, NULL, "the request must be a JSON object, not %s", json_type_name(req));
    goto done;
  }
  static const char *const known[] = {
      "correlation_id", "idempotency_key", "agent", "backend", "container", "input",
      "io", "output", "environment", "resources", "network", "retry", "priority",
      "labels", NULL};
  if (only_known(req, "", known, e))
    goto done;
  out = json_pack("{s:o, s:o, s:{s:[], s:b, s:I}, s:{}, s:{}, s:{s:i, s:i, s:i}, s:i}",
                  "container", json_object(), "input", json_object(), "output",
                  "files", "logs", 1, "max_bytes", (json_int_t)lim->max_output_bytes,
                  "environment", "resources", "retry", "max_attempts", 1, "backoff_ms",
                  1000, "max_backoff_ms", 300000, "priority", 5);
  if (opt_string(req, "correlation_id", "correlation_id", 256, out, e) ||
      opt_string(req, "idempotency_key", "idempotency_key", 256, out, e) ||
      opt_string(req, "agent", "agent", 128, out, e) ||
      opt_string(req, "backend", "backend", 128, out, e))
    goto fail;
  json_t *v;
  if ((v = json_object_get(req, "container")) && check_container(v, out, e))
    goto fail;
  if ((v = json_object_get(req, "input")) && check_input(v, lim, out, e))
    goto fail;
  if ((v = json_object_get(req, "io"))) {
    if (!json_is_string(v) || (strcmp(json_string_value(v), "raw") &&
                               strcmp(json_string_value(v), "json"))) {
      INVALID(e, "io", "must be \"raw\" or \"json\"");
      goto fail;
    }
    json_object_set(out, "io", v);
  }
  if ((v = json_object_get(req, "output")) && check_output(v, lim, out, e))
    goto fail;
  if ((v = json_object_get(req, "environment")) && check_environment(v, lim, out, e))
    goto fail;
  if ((v = json_object_get(req, "resources")) && check_resources(v, out, e))
    goto fail;
  if ((v = json_object_get(req, "network"))) {
    if (!json_is_string(v) || !valid_name(json_string_value(v), 64, 0)) {
      INVALID(e, "network", "must be a network mode such as \"none\"");
      goto fail;
    }
    json_object_set(json_object_get(out, "resources"), "network", v);
  }
  if ((v = json_object_get(req, "retry")) && check_retry(v, lim, out, e))
    goto fail;
  if ((v = json_object_get(req, "priority"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 9) {
      INVALID(e, "priority", "must be an integer from 0 (lowest) to 9 (highest)");
      goto fail;
    }
    json_object_set(out, "priority", v);
  }
  if ((v = json_object_get(req, "labels"))) {
    if (!json_is_object(v) || json_object_size(v) > 64) {
      INVALID(e, "labels", "must be an object of at most 64 string labels");
      goto fail;
    }
    const char *k;
    json_t *lv;
    json_object_foreach(v, k, lv) {
      char field[160];
      snprintf(field, sizeof field, "labels.%.100s", k);
      if (!valid_name(k, 63, 1) && !(strchr(k, '/') && strlen(k) < 128)) {
        INVALID(e, field, "'%.100s' is not a valid label name", k);
        goto fail;
      }
      if (!json_is_string(lv) || json_string_length(lv) > 256 ||
          has_control_chars(json_string_value(lv))) {
        INVALID(e, field, "must be a string of at most 256 characters");
        goto fail;
      }
    }
    json_object_set(out, "labels", v);
  } else {
    json_object_set_new(out, "labels", json_object());
  }
  goto done;
fail:
  json_decref(out);
  out = NULL;
done:
  json_decref(req);
  return out;
}
