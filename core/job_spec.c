/* Building an attempt's execd_job_spec from its record: see job_spec.h. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "job_spec.h"
#include "xalloc.h"

#define INPUT_DATA_ENV_MAX (64 * 1024)

struct job_spec_storage {
  const char **argv; /* strings borrowed from the record */
  char **env;        /* owned strings */
  char *stdin_text;
  execd_limits limits;
  char in[4200], out[4200], conf[4200];
};

/* Builds NULL-terminated string arrays from JSON. */
static const char **argv_of(const json_t *cmd) {
  size_t n = json_array_size(cmd);
  const char **argv = xcalloc(n + 1, sizeof *argv);
  for (size_t i = 0; argv && i < n; i++)
    argv[i] = json_string_value(json_array_get(cmd, i));
  return argv;
}

static char **env_of(const json_t *record, unsigned attempt, const char *workspace,
                     const char *ws_in, const char *ws_out, const char *ws_conf) {
  const json_t *spec = json_object_get(record, "spec");
  const json_t *env = json_object_get(spec, "environment");
  size_t n = json_object_size(env) + 10;
  char **list = xcalloc(n + 1, sizeof *list);
  if (!list)
    return NULL;
  size_t i = 0;
  list[i++] = xasprintf("EXECUTION_ID=%s", json_string_value(json_object_get(record, "id")));
  list[i++] = xasprintf("ATTEMPT=%u", attempt);
  list[i++] = xasprintf("WORKSPACE_INPUT=%s", ws_in);
  list[i++] = xasprintf("WORKSPACE_OUTPUT=%s", ws_out);
  list[i++] = xasprintf("WORKSPACE_CONFIG=%s", ws_conf);
  json_t *data = json_object_get(json_object_get(json_object_get(record, "request"), "input"), "data");
  if (data) {
    char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text && strlen(text) <= INPUT_DATA_ENV_MAX)
      list[i++] = xasprintf("INPUT_DATA=%s", text);
    free(text);
  }
  json_t *cp = json_object_get(record, "checkpoint");
  if (json_is_object(cp))
    list[i++] = xasprintf("CHECKPOINT_TOKEN=%s", json_string_value(json_object_get(cp, "token")));
  bool container = json_object_get(spec, "image") != NULL;
  bool have_path = json_object_get(env, "PATH") != NULL;
  if (!container && !have_path)
    list[i++] = xstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!container && !json_object_get(env, "HOME"))
    list[i++] = xasprintf("HOME=%s", workspace);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)env, k, v) list[i++] = xasprintf("%s=%s", k, json_string_value(v));
  list[i] = NULL;
  return list;
}

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

void job_spec_free(job_spec_storage *s) {
  if (!s)
    return;
  free(s->argv);
  free_strv(s->env);
  free(s->stdin_text);
  free(s);
}

int job_spec_build(const json_t *record, unsigned attempt, const char *workspace,
                   execd_job_spec *js, job_spec_storage **storage) {
  const json_t *spec = json_object_get(record, "spec");
  const json_t *res = json_object_get(spec, "resources");
  bool container = json_object_get(spec, "image") != NULL;
  job_spec_storage *s = xcalloc(1, sizeof *s);
  if (!s)
    return EXECD_ENOMEM;
  /* Inside a container the workspace is mounted at /workspace. */
  if (container) {
    snprintf(s->in, sizeof s->in, "/workspace/input");
    snprintf(s->out, sizeof s->out, "/workspace/output");
    snprintf(s->conf, sizeof s->conf, "/workspace/config");
  } else {
    snprintf(s->in, sizeof s->in, "%s/input", workspace);
    snprintf(s->out, sizeof s->out, "%s/output", workspace);
    snprintf(s->conf, sizeof s->conf, "%s/config", workspace);
  }
  s->argv = argv_of(json_object_get(spec, "command"));
  s->env = env_of(record, attempt, workspace, s->in, s->out, s->conf);
  if (!s->argv || !s->env) {
    job_spec_free(s);
    return EXECD_ENOMEM;
  }
  s->limits = (execd_limits){
      .memory_bytes = json_integer_value(json_object_get(res, "memory")),
      .cpus = json_number_value(json_object_get(res, "cpus")),
      .pids = json_integer_value(json_object_get(res, "pids")),
      .cpu_seconds = json_integer_value(json_object_get(res, "cpu_seconds")),
      .nofile = json_integer_value(json_object_get(res, "nofile")),
      .fsize_bytes = json_integer_value(json_object_get(res, "fsize")),
      .timeout_ms = json_integer_value(json_object_get(res, "timeout_ms")),
      .network = json_string_value(json_object_get(res, "network")),
  };
  if (strcmp(json_string_value(json_object_get(spec, "io")), "json") == 0) {
    json_t *data = json_object_get(json_object_get(json_object_get(record, "request"), "input"), "data");
    json_t *env_doc = json_pack("{s:O, s:O, s:O}", "input", data ? data : json_null(),
                                "schema_in", json_object_get(spec, "schema_in") ? json_object_get(spec, "schema_in") : json_null(),
                                "schema_out", json_object_get(spec, "schema_out") ? json_object_get(spec, "schema_out") : json_null());
    s->stdin_text = json_dumps(env_doc, JSON_COMPACT);
    json_decref(env_doc);
  }
  *js = (execd_job_spec){
      .struct_size = sizeof *js,
      .execution_id = json_string_value(json_object_get(record, "id")),
      .attempt = attempt,
      .argv = s->argv,
      .image = json_string_value(json_object_get(spec, "image")),
      .working_dir = json_string_value(json_object_get(spec, "working_dir")),
      .user = json_string_value(json_object_get(spec, "user")),
      .env = (const char *const *)s->env,
      .workspace = workspace,
      .stdin_data = s->stdin_text,
      .stdin_len = s->stdin_text ? strlen(s->stdin_text) : 0,
      .limits = &s->limits,
      .labels = json_object_get(record, "labels"),
  };
  *storage = s;
  return 0;
}
