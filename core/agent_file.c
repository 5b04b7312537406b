/* Agent files (agent_file.h).  A libconfig file is parsed as the main
 * config is; a JSON file's members become libconfig settings, so that one
 * checker (config_parse_agent, conf.c) reads both and an agent means the
 * same wherever it is written. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include <execd/error.h>

#include "agent_file.h"
#include "conf.h"
#include "json_bounds.h"

enum agent_file_format agent_file_format(const char *file) {
  size_t n = strlen(file);
  if (n == 0 || file[0] == '.')
    return AGENT_FILE_NONE;
  if (n > 5 && strcmp(file + n - 5, ".json") == 0)
    return AGENT_FILE_JSON;
  if (n > 5 && strcmp(file + n - 5, ".conf") == 0)
    return AGENT_FILE_LIBCONFIG;
  return AGENT_FILE_NONE;
}

/* The line of the first byte that is a NUL or starts an @include, else 0:
 * an agent file is one file, and never makes execd read another. */
static int refused_line(const char *text, size_t len, const char **what) {
  int line = 1;
  bool line_start = true;
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (ch == '\0') {
      *what = "a NUL byte";
      return line;
    }
    if (line_start && ch == '@') {
      *what = "@include (an agent file is read alone)";
      return line;
    }
    if (ch == '\n') {
      line++;
      line_start = true;
    } else if (ch != ' ' && ch != '\t' && ch != '\r') {
      line_start = false;
    }
  }
  return 0;
}

static int parse_libconfig(const char *path, const char *file, const char *text, size_t len,
                           agent **out, char *err, size_t errlen) {
  const char *what;
  int line = refused_line(text, len, &what);
  if (line) {
    snprintf(err, errlen, "%s:%d: syntax error: %s", path, line, what);
    return EXECD_ECONFIG;
  }
  config_t lc;
  config_init(&lc);
  if (!config_read_string(&lc, text)) {
    snprintf(err, errlen, "%s:%d: syntax error: %s", path, config_error_line(&lc),
             config_error_text(&lc));
    config_destroy(&lc);
    return EXECD_ECONFIG;
  }
  int rc = config_parse_agent(path, file, config_root_setting(&lc), out, err, errlen);
  config_destroy(&lc);
  return rc;
}

static int add_json(config_setting_t *parent, const char *key, json_t *v, bool top,
                    const char *path, char *err, size_t errlen);

/* Adds v's members (an object) or elements (an array) to s. */
static int add_children(config_setting_t *s, json_t *v, const char *path, char *err,
                        size_t errlen) {
  if (json_is_object(v)) {
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m) {
      if (add_json(s, k, m, false, path, err, errlen))
        return -1;
    }
    return 0;
  }
  size_t i;
  json_t *m;
  json_array_foreach(v, i, m) {
    if (add_json(s, NULL, m, false, path, err, errlen))
      return -1;
  }
  return 0;
}

static int add_json(config_setting_t *parent, const char *key, json_t *v, bool top,
                    const char *path, char *err, size_t errlen) {
  int type;
  /* A schema is a JSON document, which the checker takes as text. */
  bool schema = top && (strcmp(key, "schema_in") == 0 || strcmp(key, "schema_out") == 0) &&
                !json_is_string(v);
  switch (schema ? JSON_STRING : json_typeof(v)) {
  case JSON_STRING: type = CONFIG_TYPE_STRING; break;
  case JSON_INTEGER: type = CONFIG_TYPE_INT64; break;
  case JSON_REAL: type = CONFIG_TYPE_FLOAT; break;
  case JSON_TRUE:
  case JSON_FALSE: type = CONFIG_TYPE_BOOL; break;
  case JSON_OBJECT: type = CONFIG_TYPE_GROUP; break;
  case JSON_ARRAY: type = CONFIG_TYPE_LIST; break;
  default:
    snprintf(err, errlen, "%s: %s: null is not a value here (leave the member out)", path,
             key ? key : "(an element)");
    return -1;
  }
  config_setting_t *s = config_setting_add(parent, key, type);
  if (!s) {
    snprintf(err, errlen,
             "%s: %.200s: not a setting name (a letter or '*' first, then letters, digits, "
             "'_', '-' or '*')",
             path, key ? key : "(an element)");
    return -1;
  }
  int ok;
  switch (type) {
  case CONFIG_TYPE_STRING:
    if (schema) {
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      ok = text && config_setting_set_string(s, text);
      free(text);
    } else {
      ok = config_setting_set_string(s, json_string_value(v));
    }
    break;
  case CONFIG_TYPE_INT64: ok = config_setting_set_int64(s, json_integer_value(v)); break;
  case CONFIG_TYPE_FLOAT: ok = config_setting_set_float(s, json_real_value(v)); break;
  case CONFIG_TYPE_BOOL: ok = config_setting_set_bool(s, json_is_true(v)); break;
  default: return add_children(s, v, path, err, errlen);
  }
  if (!ok)
    snprintf(err, errlen, "%s: %.200s: cannot be read", path, key ? key : "(an element)");
  return ok ? 0 : -1;
}

static int parse_json(const char *path, const char *file, const char *text, size_t len,
                      agent **out, char *err, size_t errlen) {
  json_bounds b = {AGENT_FILE_JSON_DEPTH_MAX, AGENT_FILE_JSON_ELEMENTS_MAX};
  json_bounds_error je;
  json_t *doc = json_bounds_load(text, len, JSON_REJECT_DUPLICATES, &b, &je);
  if (!doc) {
    if (je.fault == JSON_BOUNDS_INVALID)
      snprintf(err, errlen, "%s:%d: not valid JSON: %s (column %d)", path, je.json.line,
               je.json.text, je.json.column);
    else
      snprintf(err, errlen, "%s: %s", path, je.message);
    return EXECD_ECONFIG;
  }
  if (!json_is_object(doc)) {
    snprintf(err, errlen, "%s: expected one JSON object holding the agent's settings", path);
    json_decref(doc);
    return EXECD_ECONFIG;
  }
  config_t lc;
  config_init(&lc);
  int rc = 0;
  const char *k;
  json_t *m;
  json_object_foreach(doc, k, m) {
    if (add_json(config_root_setting(&lc), k, m, true, path, err, errlen)) {
      rc = EXECD_ECONFIG;
      break;
    }
  }
  json_decref(doc);
  if (rc == 0)
    rc = config_parse_agent(path, file, config_root_setting(&lc), out, err, errlen);
  config_destroy(&lc);
  return rc;
}

int agent_file_parse(const char *path, const char *file, const char *text, size_t len,
                     agent **out, char *err, size_t errlen) {
  *out = NULL;
  if (len > AGENT_FILE_MAX) {
    snprintf(err, errlen, "%s: the agent file has %zu bytes, more than %d", path, len,
             AGENT_FILE_MAX);
    return EXECD_ECONFIG;
  }
  switch (agent_file_format(file)) {
  case AGENT_FILE_JSON: return parse_json(path, file, text, len, out, err, errlen);
  case AGENT_FILE_LIBCONFIG: return parse_libconfig(path, file, text, len, out, err, errlen);
  default:
    snprintf(err, errlen, "%s: not an agent file (its name must end in .json or .conf)", path);
    return EXECD_ECONFIG;
  }
}
