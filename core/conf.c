/* Config loading: libconfig parses, this file checks every section
 * against the keys it knows and converts plugin blocks to JSON. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>

#include "agent.h"
#include "bounded_file.h"
#include "catalog.h"
#include "catalog_dir.h"
#include "conf.h"
#include "loader.h"
#include "log.h"
#include "units.h"
#include "workspace.h"
#include "xalloc.h"

/* Error context: the file name, for "file:line: setting: message". */
typedef struct cfg_ctx {
  const char *file;
  char *err;
  size_t errlen;
} cfg_ctx;

static int fail(cfg_ctx *c, int line, const char *setting, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(cfg_ctx *c, int line, const char *setting, const char *fmt, ...) {
  /* Line 0: a setting no text gave (a JSON agent file's member). */
  int n = line > 0 ? snprintf(c->err, c->errlen, "%s:%d: %s: ", c->file, line,
                              setting && *setting ? setting : "(top level)")
                   : snprintf(c->err, c->errlen, "%s: %s: ", c->file,
                              setting && *setting ? setting : "(top level)");
  if (n < 0 || (size_t)n >= c->errlen)
    return EXECD_ECONFIG;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
  va_end(ap);
  return EXECD_ECONFIG;
}

static const char *type_name(int type) {
  switch (type) {
  case CONFIG_TYPE_GROUP: return "a group";
  case CONFIG_TYPE_INT:
  case CONFIG_TYPE_INT64: return "an integer";
  case CONFIG_TYPE_FLOAT: return "a number";
  case CONFIG_TYPE_STRING: return "a string";
  case CONFIG_TYPE_BOOL: return "a boolean";
  case CONFIG_TYPE_ARRAY: return "an array";
  case CONFIG_TYPE_LIST: return "a list";
  default: return "unknown";
  }
}

/* Generic conversion of a libconfig setting to JSON. */
static json_t *setting_to_json(const config_setting_t *s) {
  switch (config_setting_type(s)) {
  case CONFIG_TYPE_INT: return json_integer(config_setting_get_int(s));
  case CONFIG_TYPE_INT64: return json_integer(config_setting_get_int64(s));
  case CONFIG_TYPE_FLOAT: return json_real(config_setting_get_float(s));
  case CONFIG_TYPE_BOOL: return json_boolean(config_setting_get_bool(s));
  case CONFIG_TYPE_STRING: return json_string(config_setting_get_string(s));
  case CONFIG_TYPE_GROUP: {
    json_t *o = json_object();
    for (int i = 0; i < config_setting_length(s); i++) {
      config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
      json_object_set_new(o, config_setting_name(m), setting_to_json(m));
    }
    return o;
  }
  case CONFIG_TYPE_ARRAY:
  case CONFIG_TYPE_LIST: {
    json_t *a = json_array();
    for (int i = 0; i < config_setting_length(s); i++)
      json_array_append_new(a, setting_to_json(config_setting_get_elem(s, (unsigned)i)));
    return a;
  }
  default: return json_null();
  }
}

static int is_int(const config_setting_t *s) {
  int t = config_setting_type(s);
  return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static long long get_int(const config_setting_t *s) {
  return config_setting_type(s) == CONFIG_TYPE_INT64 ? config_setting_get_int64(s)
                                                      : config_setting_get_int(s);
}

/* Reads a size: "512M" or an integer of bytes. */
static int get_size(cfg_ctx *c, const config_setting_t *s, const char *path,
                    int64_t *out) {
  if (config_setting_type(s) == CONFIG_TYPE_STRING) {
    if (units_parse_size(config_setting_get_string(s), out) == 0)
      return 0;
    return fail(c, config_setting_source_line(s), path,
                "'%s' is not a size (examples: 512M, 1G, 65536)",
                config_setting_get_string(s));
  }
  if (is_int(s) && get_int(s) >= 0) {
    *out = get_int(s);
    return 0;
  }
  return fail(c, config_setting_source_line(s), path,
              "expected a size such as \"512M\", got %s",
              type_name(config_setting_type(s)));
}

/* Reads a duration: "30s", "5m", "250ms", or a number of seconds. */
static int get_duration(cfg_ctx *c, const config_setting_t *s, const char *path,
                        int64_t *out) {
  if (config_setting_type(s) == CONFIG_TYPE_STRING) {
    if (units_parse_duration_ms(config_setting_get_string(s), out) == 0)
      return 0;
    return fail(c, config_setting_source_line(s), path,
                "'%s' is not a duration (examples: 30s, 5m, 250ms, 1h)",
                config_setting_get_string(s));
  }
  if (is_int(s) && get_int(s) >= 0) {
    *out = get_int(s) * 1000;
    return 0;
  }
  if (config_setting_type(s) == CONFIG_TYPE_FLOAT && config_setting_get_float(s) >= 0) {
    *out = (int64_t)(config_setting_get_float(s) * 1000);
    return 0;
  }
  return fail(c, config_setting_source_line(s), path,
              "expected a duration such as \"30s\", got %s",
              type_name(config_setting_type(s)));
}

static int get_string(cfg_ctx *c, const config_setting_t *s, const char *path,
                      char **out) {
  if (config_setting_type(s) != CONFIG_TYPE_STRING)
    return fail(c, config_setting_source_line(s), path, "expected a string, got %s",
                type_name(config_setting_type(s)));
  free(*out);
  *out = xstrdup(config_setting_get_string(s));
  return 0;
}

static int get_bool(cfg_ctx *c, const config_setting_t *s, const char *path,
                    bool *out) {
  if (config_setting_type(s) != CONFIG_TYPE_BOOL)
    return fail(c, config_setting_source_line(s), path,
                "expected true or false, got %s", type_name(config_setting_type(s)));
  *out = config_setting_get_bool(s);
  return 0;
}

static int get_count(cfg_ctx *c, const config_setting_t *s, const char *path,
                     long long min, long long max, long long *out) {
  if (!is_int(s))
    return fail(c, config_setting_source_line(s), path, "expected an integer, got %s",
                type_name(config_setting_type(s)));
  long long v = get_int(s);
  if (v < min || v > max)
    return fail(c, config_setting_source_line(s), path,
                "%lld is out of range (%lld to %lld)", v, min, max);
  *out = v;
  return 0;
}

static void join_path(char *buf, size_t len, const char *parent, const char *name) {
  int n = parent && *parent ? snprintf(buf, len, "%s.%s", parent, name)
                            : snprintf(buf, len, "%s", name);
  if (n < 0 || (size_t)n >= len) /* setting paths are short; cut if not */
    buf[len - 1] = '\0';
}

/* Resource defaults/ceilings ("defaults" of a backend, "resources" of an
 * agent), normalised to the JSON shape requests use after validation:
 * memory (bytes), cpus, pids, timeout_ms, cpu_seconds, nofile, fsize,
 * workspace_max (bytes), network. */
static int parse_resources(cfg_ctx *c, const config_setting_t *g, const char *path,
                           json_t **out) {
  char p[256];
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(c, config_setting_source_line(g), path, "expected a group { ... }");
  json_t *r = json_object();
  for (int i = 0; i < config_setting_length(g); i++) {
    config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(m);
    int64_t v;
    long long n;
    int rc = 0;
    join_path(p, sizeof p, path, name);
    if (strcmp(name, "memory") == 0 || strcmp(name, "fsize") == 0) {
      rc = get_size(c, m, p, &v);
      if (!rc)
        json_object_set_new(r, name, json_integer(v));
    } else if (strcmp(name, "workspace_max") == 0) {
      /* The size of each attempt's workspace tmpfs; its input must fit. */
      rc = get_size(c, m, p, &v);
      if (!rc && v < WORKSPACE_MAX_MIN)
        rc = fail(c, config_setting_source_line(m), p,
                  "expected a size of at least 1M, such as \"256M\"");
      if (!rc)
        json_object_set_new(r, name, json_integer(v));
    } else if (strcmp(name, "timeout") == 0) {
      rc = get_duration(c, m, p, &v);
      if (!rc)
        json_object_set_new(r, "timeout_ms", json_integer(v));
    } else if (strcmp(name, "cpu_time") == 0) {
      rc = get_duration(c, m, p, &v);
      if (!rc)
        json_object_set_new(r, "cpu_seconds", json_integer((v + 999) / 1000));
    } else if (strcmp(name, "cpus") == 0) {
      int t = config_setting_type(m);
      double d = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(m)
                 : is_int(m)            ? (double)get_int(m)
                                        : -1;
      if (d <= 0 || d > 1024)
        rc = fail(c, config_setting_source_line(m), p,
                  "expected a positive number of CPUs such as 0.5");
      else
        json_object_set_new(r, "cpus", json_real(d));
    } else if (strcmp(name, "pids") == 0 || strcmp(name, "nofile") == 0) {
      rc = get_count(c, m, p, 1, 1 << 22, &n);
      if (!rc)
        json_object_set_new(r, name, json_integer(n));
    } else if (strcmp(name, "network") == 0) {
      char *s = NULL;
      rc = get_string(c, m, p, &s);
      if (!rc)
        json_object_set_new(r, "network", json_string(s));
      free(s);
    } else {
      rc = fail(c, config_setting_source_line(m), p,
                "unknown setting (known: memory, cpus, pids, timeout, cpu_time, "
                "nofile, fsize, workspace_max, network)");
    }
    if (rc) {
      json_decref(r);
      return rc;
    }
  }
  *out = r;
  return 0;
}

static bool node_name_valid(const char *s);

static int parse_daemon(cfg_ctx *c, execd_config *cfg, const config_setting_t *g) {
  char p[256];
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(c, config_setting_source_line(g), "daemon", "expected a group { ... }");
  for (int i = 0; i < config_setting_length(g); i++) {
    config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(m);
    long long n;
    int rc;
    join_path(p, sizeof p, "daemon", name);
    if (strcmp(name, "state_dir") == 0) {
      rc = get_string(c, m, p, &cfg->state_dir);
    } else if (strcmp(name, "plugin_dir") == 0) {
      rc = get_string(c, m, p, &cfg->plugin_dir);
    } else if (strcmp(name, "agents_dir") == 0) {
      rc = get_string(c, m, p, &cfg->agents_dir);
      if (!rc && !cfg->agents_dir[0])
        rc = fail(c, config_setting_source_line(m), p, "expected a directory, not \"\"");
    } else if (strcmp(name, "max_running") == 0) {
      rc = get_count(c, m, p, 1, 100000, &n);
      cfg->max_running = (int)n;
    } else if (strcmp(name, "max_queued") == 0) {
      rc = get_count(c, m, p, 1, 10000000, &n);
      cfg->max_queued = (int)n;
    } else if (strcmp(name, "log_level") == 0) {
      char *s = NULL;
      rc = get_string(c, m, p, &s);
      if (!rc && (cfg->log_level = log_level_from_name(s)) < 0)
        rc = fail(c, config_setting_source_line(m), p,
                  "'%s' is not a log level (err, warning, notice, info, debug)", s);
      free(s);
    } else if (strcmp(name, "kill_grace") == 0) {
      rc = get_duration(c, m, p, &cfg->kill_grace_ms);
    } else if (strcmp(name, "shutdown_grace") == 0) {
      rc = get_duration(c, m, p, &cfg->shutdown_grace_ms);
    } else if (strcmp(name, "keep_failed_workspaces") == 0) {
      rc = get_bool(c, m, p, &cfg->keep_failed_workspaces);
    } else if (strcmp(name, "tokens_file") == 0) {
      rc = get_string(c, m, p, &cfg->tokens_file);
    } else if (strcmp(name, "node") == 0) {
      free(cfg->node);
      cfg->node = NULL;
      rc = get_string(c, m, p, &cfg->node);
      if (!rc && !node_name_valid(cfg->node))
        rc = fail(c, config_setting_source_line(m), p,
                  "expected 1 to 63 letters, digits, '.', '_' or '-'");
    } else if (strcmp(name, "lease") == 0) {
      rc = get_duration(c, m, p, &cfg->lease_ms);
      if (!rc && (cfg->lease_ms < 500 || cfg->lease_ms > 3600000))
        rc = fail(c, config_setting_source_line(m), p, "expected from 500ms to 1h");
    } else if (strcmp(name, "claim_poll") == 0) {
      rc = get_duration(c, m, p, &cfg->claim_poll_ms);
      if (!rc && (cfg->claim_poll_ms < 50 || cfg->claim_poll_ms > 3600000))
        rc = fail(c, config_setting_source_line(m), p, "expected from 50ms to 1h");
    } else if (strcmp(name, "limits") == 0) {
      request_limits *l = &cfg->limits;
      if (config_setting_type(m) != CONFIG_TYPE_GROUP)
        return fail(c, config_setting_source_line(m), p, "expected a group { ... }");
      rc = 0;
      for (int j = 0; j < config_setting_length(m) && !rc; j++) {
        config_setting_t *k = config_setting_get_elem(m, (unsigned)j);
        const char *kn = config_setting_name(k);
        char kp[256];
        join_path(kp, sizeof kp, p, kn);
        if (strcmp(kn, "request_max") == 0)
          rc = get_size(c, k, kp, &l->max_body_bytes);
        else if (strcmp(kn, "file_max") == 0)
          rc = get_size(c, k, kp, &l->max_file_bytes);
        else if (strcmp(kn, "input_max") == 0)
          rc = get_size(c, k, kp, &l->max_input_bytes);
        else if (strcmp(kn, "env_max") == 0)
          rc = get_size(c, k, kp, &l->max_env_bytes);
        else if (strcmp(kn, "output_max") == 0)
          rc = get_size(c, k, kp, &l->max_output_bytes);
        else if (strcmp(kn, "logs_max") == 0)
          rc = get_size(c, k, kp, &l->max_log_bytes);
        else if (strcmp(kn, "files_max") == 0) {
          rc = get_count(c, k, kp, 0, 100000, &n);
          l->max_files = n;
        } else if (strcmp(kn, "attempts_max") == 0) {
          rc = get_count(c, k, kp, 1, 100, &n);
          l->max_attempts = n;
        } else if (strcmp(kn, "json_depth_max") == 0) {
          /* A stored record nests a request's or job's document a few
           * levels down; jansson reads back at most 2048. */
          rc = get_count(c, k, kp, 2, 1000, &n);
          l->max_json_depth = n;
        } else if (strcmp(kn, "json_elements_max") == 0) {
          rc = get_count(c, k, kp, 1, 100000000, &n);
          l->max_json_elements = n;
        } else
          rc = fail(c, config_setting_source_line(k), kp,
                    "unknown setting (known: request_max, files_max, file_max, "
                    "input_max, env_max, output_max, logs_max, attempts_max, "
                    "json_depth_max, json_elements_max)");
      }
    } else {
      rc = fail(c, config_setting_source_line(m), p,
                "unknown setting (known: state_dir, plugin_dir, agents_dir, max_running, "
                "max_queued, log_level, kill_grace, shutdown_grace, "
                "keep_failed_workspaces, limits, tokens_file, node, lease, claim_poll)");
    }
    if (rc)
      return rc;
  }
  return 0;
}

/* A list of non-empty strings (globs) as a JSON array. */
static int parse_globs(cfg_ctx *c, const config_setting_t *m, const char *path, json_t **out) {
  int t = config_setting_type(m);
  if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
    return fail(c, config_setting_source_line(m), path,
                "expected an array of globs [\"NAME\", \"PREFIX_*\"]");
  for (int e = 0; e < config_setting_length(m); e++) {
    const char *g = config_setting_get_string_elem(m, e);
    if (!g || !*g)
      return fail(c, config_setting_source_line(m), path,
                  "element %d is not a non-empty string", e);
  }
  json_decref(*out);
  *out = setting_to_json(m);
  return 0;
}

/* A plugin block: core keys are read here, the rest goes to the plugin. */
static int parse_block(cfg_ctx *c, const config_setting_t *g, const char *path,
                       int kind, plugin_block *b) {
  char p[256];
  b->kind = kind;
  b->line = config_setting_source_line(g);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(c, b->line, path, "expected a group { plugin = \"...\"; ... }");
  b->config = json_object();
  b->lines = json_object();
  for (int i = 0; i < config_setting_length(g); i++) {
    config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
    const char *name = config_setting_name(m);
    int rc = 0;
    join_path(p, sizeof p, path, name);
    if (strcmp(name, "plugin") == 0) {
      rc = get_string(c, m, p, &b->plugin);
    } else if (strcmp(name, "name") == 0) {
      rc = get_string(c, m, p, &b->name);
    } else if (kind == EXECD_KIND_BACKEND && strcmp(name, "max_running") == 0) {
      long long n;
      rc = get_count(c, m, p, 1, 100000, &n);
      b->max_running = (int)n;
    } else if (kind == EXECD_KIND_BACKEND && strcmp(name, "defaults") == 0) {
      rc = parse_resources(c, m, p, &b->defaults);
    } else if (kind == EXECD_KIND_BACKEND && strcmp(name, "environment_allowed") == 0) {
      rc = parse_globs(c, m, p, &b->environment_allowed);
    } else {
      json_object_set_new(b->config, name, setting_to_json(m));
      json_object_set_new(b->lines, name, json_integer(config_setting_source_line(m)));
    }
    if (rc)
      return rc;
  }
  if (!b->plugin)
    return fail(c, b->line, path, "missing 'plugin = \"<name>\";'");
  if (!b->name)
    b->name = xstrdup(b->plugin);
  if (kind == EXECD_KIND_BACKEND && !b->defaults)
    b->defaults = json_object();
  return 0;
}

/* A transport block's tokens_file (the http transport's key before the
 * core owned tenants) is read as daemon.tokens_file: one tokens file
 * serves every transport, so a second, different path is an error.  The
 * key leaves the block: no plugin sees it. */
static int take_transport_tokens_files(cfg_ctx *c, execd_config *cfg) {
  for (size_t i = 0; i < cfg->n_transports; i++) {
    plugin_block *b = &cfg->transports[i];
    json_t *v = json_object_get(b->config, "tokens_file");
    if (!v)
      continue;
    int line = (int)json_integer_value(json_object_get(b->lines, "tokens_file"));
    char p[256];
    snprintf(p, sizeof p, "transports[%zu].tokens_file", i);
    if (!json_is_string(v))
      return fail(c, line, p, "expected a string");
    const char *path = json_string_value(v);
    if (cfg->tokens_file && strcmp(cfg->tokens_file, path) != 0)
      return fail(c, line, p,
                  "'%s' is not the tokens file already named ('%s'): one tokens file "
                  "(daemon.tokens_file) serves every transport",
                  path, cfg->tokens_file);
    if (!cfg->tokens_file)
      cfg->tokens_file = xstrdup(path);
    json_object_del(b->config, "tokens_file");
    json_object_del(b->lines, "tokens_file");
  }
  if (cfg->tokens_file && !*cfg->tokens_file) {
    free(cfg->tokens_file); /* "": no tokens file, as before */
    cfg->tokens_file = NULL;
  }
  return 0;
}

static int parse_block_list(cfg_ctx *c, const config_setting_t *l, const char *section,
                            int kind, plugin_block **out, size_t *n_out) {
  char p[256];
  int t = config_setting_type(l);
  if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_GROUP)
    return fail(c, config_setting_source_line(l), section,
                "expected a list ( { plugin = \"...\"; }, ... )");
  /* A single group is accepted as a list of one. */
  size_t n = t == CONFIG_TYPE_GROUP ? 1 : (size_t)config_setting_length(l);
  plugin_block *blocks = xcalloc(n ? n : 1, sizeof *blocks);
  *out = blocks;
  *n_out = n;
  for (size_t i = 0; i < n; i++) {
    const config_setting_t *g =
        t == CONFIG_TYPE_GROUP ? l : config_setting_get_elem(l, (unsigned)i);
    snprintf(p, sizeof p, "%s[%zu]", section, i);
    int rc = parse_block(c, g, p, kind, &blocks[i]);
    if (rc)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (strcmp(blocks[j].name, blocks[i].name) == 0)
        return fail(c, blocks[i].line, p,
                    "duplicate instance name '%s' (also at line %d); set name = "
                    "\"...\" to tell them apart",
                    blocks[i].name, blocks[j].line);
  }
  return 0;
}

/* The agent's schemas are compiled once, here; a schema that is not a
 * valid JSON Schema is a config error naming the agent and its line. */
static int compile_agent(cfg_ctx *c, json_t *def, const char *name, const char *path,
                         const int line[2], const char *file, agent **out) {
  const char *which = NULL;
  char why[600], kp[256];
  if ((*out = agent_new(def, file, &which, why, sizeof why)))
    return 0;
  join_path(kp, sizeof kp, path, which);
  return fail(c, line[strcmp(which, "schema_out") == 0], kp,
              "agent '%s': not a valid JSON Schema (draft 2020-12): %s", name, why);
}

/* An agent's defaults (what a request that asks for nothing gets) within
 * its resources (the most a request may ask for). */
static int check_agent_defaults(cfg_ctx *c, const json_t *def, const char *path, int line) {
  const json_t *d = json_object_get(def, "defaults");
  const json_t *r = json_object_get(def, "resources");
  char dp[256], kp[300];
  const char *k;
  json_t *v;
  join_path(dp, sizeof dp, path, "defaults");
  json_object_foreach((json_t *)d, k, v) {
    const json_t *ceiling = json_object_get(r, k);
    const char *shown = strcmp(k, "timeout_ms") == 0    ? "timeout"
                        : strcmp(k, "cpu_seconds") == 0 ? "cpu_time"
                                                        : k;
    join_path(kp, sizeof kp, dp, shown);
    if (strcmp(k, "network") == 0)
      return fail(c, line, kp, "set the network in resources (defaults hold limits only)");
    const char *unit = strcmp(k, "timeout_ms") == 0    ? " ms"
                       : strcmp(k, "cpu_seconds") == 0 ? " s"
                       : strcmp(k, "memory") == 0 || strcmp(k, "fsize") == 0 ||
                               strcmp(k, "workspace_max") == 0
                           ? " bytes"
                           : "";
    if (ceiling && json_number_value(v) > json_number_value(ceiling))
      return fail(c, line, kp, "%g%s is over the agent's resources.%s (%g%s)",
                  json_number_value(v), unit, shown, json_number_value(ceiling), unit);
  }
  return 0;
}

/* One agent's group (inline, or the root of an agent file), checked and
 * normalised, its schemas compiled; path prefixes the settings in errors. */
static int parse_agent(cfg_ctx *c, const config_setting_t *g, const char *p, const char *file,
                       agent **out) {
  json_t *def = json_object();
  char *name = NULL;
  int rc = 0;
  int schema_line[2] = {0, 0}; /* schema_in, schema_out */
  int defaults_line = 0;
  for (int j = 0; j < config_setting_length(g) && !rc; j++) {
    config_setting_t *m = config_setting_get_elem(g, (unsigned)j);
    const char *k = config_setting_name(m);
    char kp[256];
    join_path(kp, sizeof kp, p, k);
    if (strcmp(k, "name") == 0) {
      rc = get_string(c, m, kp, &name);
      if (!rc && !agent_name_valid(name))
        rc = fail(c, config_setting_source_line(m), kp,
                  "'%.200s' is not an agent name (1 to %d of A-Z a-z 0-9 . _ -, "
                  "not starting with '.')",
                  name, AGENT_NAME_MAX);
    } else if (strcmp(k, "resources") == 0 || strcmp(k, "defaults") == 0) {
      json_t *r = NULL;
      rc = parse_resources(c, m, kp, &r);
      if (!rc)
        json_object_set_new(def, k, r);
      if (strcmp(k, "defaults") == 0)
        defaults_line = config_setting_source_line(m);
    } else if (strcmp(k, "description") == 0 || strcmp(k, "version") == 0 ||
               strcmp(k, "backend") == 0 || strcmp(k, "image") == 0 ||
               strcmp(k, "working_dir") == 0 || strcmp(k, "user") == 0 ||
               strcmp(k, "io") == 0) {
      char *s = NULL;
      rc = get_string(c, m, kp, &s);
      if (!rc && strcmp(k, "io") == 0 && strcmp(s, "raw") && strcmp(s, "json"))
        rc = fail(c, config_setting_source_line(m), kp,
                  "'%s' is not an io protocol (raw, json)", s);
      if (!rc)
        json_object_set_new(def, k, json_string(s));
      free(s);
    } else if (strcmp(k, "command") == 0) {
      int t = config_setting_type(m);
      if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
        rc = fail(c, config_setting_source_line(m), kp,
                  "expected an array of strings [\"prog\", \"arg\"]");
      for (int e = 0; !rc && e < config_setting_length(m); e++)
        if (config_setting_type(config_setting_get_elem(m, (unsigned)e)) != CONFIG_TYPE_STRING)
          rc = fail(c, config_setting_source_line(m), kp, "expected an array of strings");
      if (!rc)
        json_object_set_new(def, k, setting_to_json(m));
    } else if (strcmp(k, "environment") == 0) {
      if (config_setting_type(m) != CONFIG_TYPE_GROUP)
        rc = fail(c, config_setting_source_line(m), kp, "expected a group of strings");
      for (int e = 0; !rc && e < config_setting_length(m); e++)
        if (config_setting_type(config_setting_get_elem(m, (unsigned)e)) != CONFIG_TYPE_STRING)
          rc = fail(c, config_setting_source_line(m), kp, "expected a group of strings");
      if (!rc)
        json_object_set_new(def, k, setting_to_json(m));
    } else if (strcmp(k, "schema_in") == 0 || strcmp(k, "schema_out") == 0) {
      /* JSON Schema documents, passed to io:json jobs as a string. */
      char *s = NULL;
      rc = get_string(c, m, kp, &s);
      if (!rc) {
        json_error_t je;
        json_t *doc = json_loads(s, 0, &je);
        if (!doc)
          rc = fail(c, config_setting_source_line(m), kp, "not valid JSON: %s (column %d)",
                    je.text, je.column);
        else
          json_object_set_new(def, k, doc);
        schema_line[strcmp(k, "schema_out") == 0] = config_setting_source_line(m);
      }
      free(s);
    } else if (strcmp(k, "format_assertion") == 0) {
      if (config_setting_type(m) != CONFIG_TYPE_BOOL)
        rc = fail(c, config_setting_source_line(m), kp, "expected true or false");
      else
        json_object_set_new(def, k, json_boolean(config_setting_get_bool(m)));
    } else {
      rc = fail(c, config_setting_source_line(m), kp,
                "unknown setting (known: name, description, version, backend, image, "
                "command, working_dir, user, io, environment, resources, defaults, "
                "schema_in, schema_out, format_assertion)");
    }
  }
  if (!rc)
    rc = check_agent_defaults(c, def, p, defaults_line);
  if (!rc && !name)
    rc = fail(c, config_setting_source_line(g), p, "missing 'name = \"...\";'");
  if (rc) {
    free(name);
    json_decref(def);
    return rc;
  }
  json_object_set_new(def, "name", json_string(name));
  rc = compile_agent(c, def, name, p, schema_line, file, out);
  free(name);
  return rc;
}

int config_parse_agent(const char *file_path, const char *file, const config_setting_t *g,
                       agent **out, char *err, size_t errlen) {
  cfg_ctx c = {file_path, err, errlen};
  *out = NULL;
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return fail(&c, config_setting_source_line(g), "", "expected the settings of one agent");
  return parse_agent(&c, g, "", file, out);
}

static int parse_agents(cfg_ctx *c, execd_config *cfg, const config_setting_t *l) {
  char p[256];
  if (config_setting_type(l) != CONFIG_TYPE_LIST)
    return fail(c, config_setting_source_line(l), "agents",
                "expected a list ( { name = \"...\"; ... }, ... )");
  for (int i = 0; i < config_setting_length(l); i++) {
    config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
    snprintf(p, sizeof p, "agents[%d]", i);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP)
      return fail(c, config_setting_source_line(g), p, "expected a group");
    agent *a = NULL;
    int rc = parse_agent(c, g, p, NULL, &a);
    if (rc)
      return rc;
    if (catalog_find(cfg->catalog, agent_name(a))) {
      rc = fail(c, config_setting_source_line(g), p, "duplicate agent name '%s'", agent_name(a));
      agent_unref(a);
      return rc;
    }
    catalog_add(cfg->catalog, a, c->err, c->errlen);
  }
  return 0;
}

/* A node's name: short, and safe in logs, documents and SQL values. */
static bool node_name_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 63)
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
      return false;
  return true;
}

static void set_defaults(execd_config *cfg) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !node_name_valid(host))
    snprintf(host, sizeof host, "execd");
  cfg->node = xstrdup(host);
  cfg->lease_ms = 30000;
  cfg->claim_poll_ms = 5000;
  cfg->state_dir = xstrdup(LOCALSTATEDIR "/lib/execd");
  cfg->plugin_dir = xstrdup(PLUGINDIR);
  cfg->max_running = 16;
  cfg->max_queued = 100000;
  cfg->log_level = EXECD_LOG_INFO;
  cfg->kill_grace_ms = 5000;
  cfg->shutdown_grace_ms = 30000;
  cfg->limits.max_body_bytes = 16 << 20;
  cfg->limits.max_files = 1000;
  cfg->limits.max_file_bytes = 10 << 20;
  cfg->limits.max_input_bytes = 12 << 20;
  cfg->limits.max_env_bytes = 64 << 10;
  cfg->limits.max_output_bytes = 10 << 20;
  cfg->limits.max_log_bytes = 1 << 20;
  cfg->limits.max_attempts = 10;
  cfg->limits.max_json_depth = LIMITS_JSON_DEPTH_DEFAULT;
  cfg->limits.max_json_elements = LIMITS_JSON_ELEMENTS_DEFAULT;
  cfg->catalog = catalog_new();
}

/* The whole file in memory (NUL-terminated, caller frees), read without
 * blocking on anything but a regular file. */
static int read_config_file(const char *path, char **text, size_t *len, char *err,
                            size_t errlen) {
  bounded_file f;
  switch (bounded_file_read(AT_FDCWD, path, CONFIG_FILE_MAX, 0, &f)) {
  case BOUNDED_FILE_OK:
    *text = f.data;
    *len = f.len;
    return 0;
  case BOUNDED_FILE_OPEN_FAILED:
  case BOUNDED_FILE_READ_FAILED:
    snprintf(err, errlen, "%s: cannot read the config file: %s", path, strerror(f.errno_value));
    return EXECD_ECONFIG;
  case BOUNDED_FILE_STAT_FAILED:
  case BOUNDED_FILE_NOT_REGULAR:
    snprintf(err, errlen, "%s: the config file is not a regular file", path);
    return EXECD_ECONFIG;
  case BOUNDED_FILE_TOO_LARGE:
    snprintf(err, errlen, "%s: the config file has %lld bytes, more than %d", path, f.size,
             CONFIG_FILE_MAX);
    return EXECD_ECONFIG;
  }
  return EXECD_ECONFIG;
}

/* The agent files of daemon.agents_dir (relative to the config file's
 * directory unless absolute) join the inline agents. */
static int load_agents_dir(execd_config *cfg, char *err, size_t errlen) {
  if (cfg->agents_dir[0] != '/') {
    const char *slash = strrchr(cfg->path, '/');
    char *abs = slash ? xasprintf("%.*s/%s", (int)(slash - cfg->path), cfg->path, cfg->agents_dir)
                      : xstrdup(cfg->agents_dir);
    free(cfg->agents_dir);
    cfg->agents_dir = abs;
  }
  if (catalog_load_dir(cfg->catalog, cfg->agents_dir, err, errlen) != 0)
    return EXECD_ECONFIG;
  if (catalog_check_backends(cfg->catalog, cfg, err, errlen) != 0)
    return EXECD_ECONFIG;
  return 0;
}

int config_load(const char *path, execd_config **out, char *err, size_t errlen) {
  char *text;
  size_t len;
  *out = NULL;
  int rc = read_config_file(path, &text, &len, err, errlen);
  if (rc != 0)
    return rc;
  rc = config_parse_text(path, text, len, out, err, errlen);
  free(text);
  if (rc == 0 && (*out)->agents_dir)
    rc = load_agents_dir(*out, err, errlen);
  if (rc != 0) {
    config_free(*out);
    *out = NULL;
  }
  return rc;
}

int config_parse_text(const char *path, const char *text, size_t len, execd_config **out,
                      char *err, size_t errlen) {
  cfg_ctx c = {path, err, errlen};
  config_t lc;
  int rc = 0;
  *out = NULL;
  const char *nul = memchr(text, '\0', len);
  if (nul) {
    int line = 1;
    for (const char *p = text; p < nul; p++)
      line += *p == '\n';
    snprintf(err, errlen, "%s:%d: syntax error: a NUL byte", path, line);
    return EXECD_ECONFIG;
  }
  config_init(&lc);
  /* From memory, not from a FILE: libconfig's scanner, fed a stream, rescans
   * a token from its start at every refill of its 8 KiB buffer, which makes
   * a long string quadratic; with the whole text in one buffer it is read
   * once. */
  if (!config_read_string(&lc, text)) {
    snprintf(err, errlen, "%s:%d: syntax error: %s",
             config_error_file(&lc) ? config_error_file(&lc) : path,
             config_error_line(&lc), config_error_text(&lc));
    config_destroy(&lc);
    return EXECD_ECONFIG;
  }
  execd_config *cfg = xcalloc(1, sizeof *cfg);
  cfg->path = xstrdup(path);
  set_defaults(cfg);

  config_setting_t *root = config_root_setting(&lc);
  bool have_storage = false;
  for (int i = 0; i < config_setting_length(root) && !rc; i++) {
    config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
    const char *name = config_setting_name(s);
    if (strcmp(name, "daemon") == 0) {
      rc = parse_daemon(&c, cfg, s);
    } else if (strcmp(name, "storage") == 0) {
      rc = parse_block(&c, s, "storage", EXECD_KIND_STORAGE, &cfg->storage);
      have_storage = true;
    } else if (strcmp(name, "backends") == 0) {
      rc = parse_block_list(&c, s, "backends", EXECD_KIND_BACKEND, &cfg->backends,
                            &cfg->n_backends);
    } else if (strcmp(name, "transports") == 0) {
      rc = parse_block_list(&c, s, "transports", EXECD_KIND_TRANSPORT,
                            &cfg->transports, &cfg->n_transports);
    } else if (strcmp(name, "routing") == 0) {
      if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        rc = fail(&c, config_setting_source_line(s), "routing", "expected a group");
        break;
      }
      for (int j = 0; j < config_setting_length(s) && !rc; j++) {
        config_setting_t *m = config_setting_get_elem(s, (unsigned)j);
        if (strcmp(config_setting_name(m), "default_backend") == 0)
          rc = get_string(&c, m, "routing.default_backend", &cfg->default_backend);
        else
          rc = fail(&c, config_setting_source_line(m), config_setting_name(m),
                    "unknown setting in routing (known: default_backend)");
      }
    } else if (strcmp(name, "agents") == 0) {
      rc = parse_agents(&c, cfg, s);
    } else {
      rc = fail(&c, config_setting_source_line(s), name,
                "unknown section (known: daemon, storage, backends, transports, "
                "routing, agents)");
    }
  }
  if (!rc && !have_storage) {
    /* The embedded default: file storage under the state directory. */
    plugin_block *b = &cfg->storage;
    b->kind = EXECD_KIND_STORAGE;
    b->plugin = xstrdup("file");
    b->name = xstrdup("file");
    b->config = json_object();
    b->lines = json_object();
    char store[4096];
    snprintf(store, sizeof store, "%s/store", cfg->state_dir);
    json_object_set_new(b->config, "path", json_string(store));
  }
  if (!rc)
    rc = take_transport_tokens_files(&c, cfg);
  if (!rc && cfg->n_backends == 0)
    rc = fail(&c, 0, "backends", "at least one backend must be configured");
  if (!rc) {
    if (!cfg->default_backend)
      cfg->default_backend = xstrdup(cfg->backends[0].name);
    else if (!config_find_backend(cfg, cfg->default_backend))
      rc = fail(&c, 0, "routing.default_backend", "no backend is named '%s'",
                cfg->default_backend);
  }
  for (size_t i = 0; !rc && i < catalog_count(cfg->catalog); i++) {
    const agent *a = catalog_at(cfg->catalog, i);
    const char *b = json_string_value(json_object_get(agent_def(a), "backend"));
    if (b && !config_find_backend(cfg, b))
      rc = fail(&c, 0, "agents", "agent '%s' names backend '%s', which is not configured",
                agent_name(a), b);
  }
  config_destroy(&lc);
  if (rc) {
    config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

static const char *cfg_type_name(int type) {
  switch (type) {
  case EXECD_CFG_STRING: return "a string";
  case EXECD_CFG_INT: return "an integer";
  case EXECD_CFG_FLOAT: return "a number";
  case EXECD_CFG_BOOL: return "true or false";
  case EXECD_CFG_SIZE: return "a size such as \"512M\"";
  case EXECD_CFG_DURATION: return "a duration such as \"30s\"";
  case EXECD_CFG_LIST: return "a list of strings [\"a\", \"b\"]";
  case EXECD_CFG_GROUP: return "a group { ... }";
  default: return "?";
  }
}

int config_check_plugin_keys(const execd_config *cfg, plugin_block *block,
                             const execd_config_key *keys, char *err, size_t errlen) {
  cfg_ctx c = {cfg->path, err, errlen};
  const char *name;
  json_t *value;
  void *tmp;
  json_object_foreach_safe(block->config, tmp, name, value) {
    int line = (int)json_integer_value(json_object_get(block->lines, name));
    char path[256];
    snprintf(path, sizeof path, "%s '%s': %s", loader_kind_name(block->kind),
             block->name, name);
    const execd_config_key *k = keys;
    while (k && k->name && strcmp(k->name, name) != 0)
      k++;
    if (!k || !k->name) {
      char known[1024] = "";
      size_t used = 0;
      for (const execd_config_key *e = keys; e && e->name; e++) {
        int n = snprintf(known + used, sizeof known - used, "%s%s",
                         used ? ", " : "", e->name);
        if (n < 0 || (size_t)n >= sizeof known - used)
          break;
        used += (size_t)n;
      }
      return fail(&c, line, path, "unknown setting for plugin '%s' (known: %s)",
                  block->plugin, used ? known : "none");
    }
    int ok = 1;
    int64_t v;
    switch (k->type) {
    case EXECD_CFG_STRING: ok = json_is_string(value); break;
    case EXECD_CFG_INT: ok = json_is_integer(value); break;
    case EXECD_CFG_FLOAT: ok = json_is_number(value); break;
    case EXECD_CFG_BOOL: ok = json_is_boolean(value); break;
    case EXECD_CFG_GROUP: ok = json_is_object(value); break;
    case EXECD_CFG_LIST:
      ok = json_is_array(value);
      for (size_t i = 0; ok && i < json_array_size(value); i++)
        ok = json_is_string(json_array_get(value, i));
      break;
    case EXECD_CFG_SIZE:
      ok = units_json_size(value, &v) == 0;
      if (ok)
        json_object_set_new(block->config, name, json_integer(v));
      break;
    case EXECD_CFG_DURATION:
      ok = units_json_duration_ms(value, &v) == 0;
      if (ok)
        json_object_set_new(block->config, name, json_integer(v));
      break;
    default: ok = 0;
    }
    if (!ok)
      return fail(&c, line, path, "expected %s", cfg_type_name(k->type));
  }
  return 0;
}

json_bounds limits_json_bounds(const request_limits *lim) {
  json_bounds b = {LIMITS_JSON_DEPTH_DEFAULT, LIMITS_JSON_ELEMENTS_DEFAULT};
  if (lim && lim->max_json_depth > 0)
    b.depth_max = (size_t)lim->max_json_depth;
  if (lim && lim->max_json_elements > 0)
    b.elements_max = (size_t)lim->max_json_elements;
  return b;
}

const plugin_block *config_find_backend(const execd_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_backends; i++)
    if (strcmp(cfg->backends[i].name, name) == 0)
      return &cfg->backends[i];
  return NULL;
}

static void block_free(plugin_block *b) {
  free(b->name);
  free(b->plugin);
  json_decref(b->config);
  json_decref(b->lines);
  json_decref(b->defaults);
  json_decref(b->environment_allowed);
}

void config_free(execd_config *cfg) {
  if (!cfg)
    return;
  block_free(&cfg->storage);
  for (size_t i = 0; i < cfg->n_backends; i++)
    block_free(&cfg->backends[i]);
  for (size_t i = 0; i < cfg->n_transports; i++)
    block_free(&cfg->transports[i]);
  free(cfg->backends);
  free(cfg->transports);
  free(cfg->path);
  free(cfg->state_dir);
  free(cfg->plugin_dir);
  free(cfg->tokens_file);
  free(cfg->node);
  free(cfg->default_backend);
  free(cfg->agents_dir);
  catalog_free(cfg->catalog);
  free(cfg);
}

int config_plugin_value_error(const execd_config *cfg, const plugin_block *block,
                              const char *message, char *err, size_t errlen) {
  cfg_ctx c = {cfg->path, err, errlen};
  /* The line of the key the message starts with (the longest that does). */
  int line = block->line;
  size_t best = 0;
  const char *key;
  json_t *at;
  json_object_foreach(block->lines, key, at) {
    size_t n = strlen(key);
    char next = message[n];
    if (n > best && strncmp(message, key, n) == 0 &&
        !(next == '_' || (next >= 'a' && next <= 'z') || (next >= '0' && next <= '9'))) {
      best = n;
      line = (int)json_integer_value(at);
    }
  }
  char setting[256];
  snprintf(setting, sizeof setting, "%s '%s'", loader_kind_name(block->kind), block->name);
  return fail(&c, line, setting, "%s", message);
}
