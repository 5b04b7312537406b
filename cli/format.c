/* Text output of execctl (see format.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define LABEL_WIDTH 13 /* "output files:" */

void format_json(FILE *out, const json_t *doc) {
  json_dumpf(doc, out, JSON_INDENT(2) | JSON_ENCODE_ANY);
  fputc('\n', out);
}

void format_duration(char *buf, size_t len, long long ms) {
  if (ms < 1000)
    snprintf(buf, len, "%lld ms", ms);
  else if (ms < 60 * 1000)
    snprintf(buf, len, "%.2f s", (double)ms / 1000);
  else if (ms < 3600 * 1000)
    snprintf(buf, len, "%lld min %02lld s", ms / 60000, ms / 1000 % 60);
  else
    snprintf(buf, len, "%lld h %02lld min", ms / 3600000, ms / 60000 % 60);
}

static void field(FILE *out, const char *name, const char *value) {
  fprintf(out, "%-*s %s\n", LABEL_WIDTH, name, value);
}

/* Prints a string member, skipping null and missing ones. */
static void string_field(FILE *out, const char *name, const json_t *obj, const char *key) {
  const char *v = json_string_value(json_object_get(obj, key));
  if (v)
    field(out, name, v);
}

/* "k=v, k2=v2" of a labels object into a malloc'd string ("" if none). */
static char *labels_text(const json_t *labels) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  const char *k;
  json_t *v;
  const char *sep = "";
  json_object_foreach((json_t *)labels, k, v) {
    fprintf(f, "%s%s=%s", sep, k, json_is_string(v) ? json_string_value(v) : "?");
    sep = ",";
  }
  fclose(f);
  return text;
}

static void error_field(FILE *out, const json_t *err) {
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *message = json_string_value(json_object_get(err, "message"));
  if (!code && !message)
    return;
  char buf[1024];
  snprintf(buf, sizeof buf, "%s%s%s", code ? code : "", code && message ? ": " : "",
           message ? message : "");
  field(out, "error:", buf);
}

static void output_fields(FILE *out, const json_t *result) {
  json_t *output = json_object_get(result, "output");
  if (output && !json_is_null(output)) {
    char *text = json_dumps(output, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
      field(out, "output:", text);
    free(text);
  }
  json_t *files = json_object_get(result, "output_files");
  if (json_array_size(files) == 0)
    return;
  fprintf(out, "output files:\n");
  size_t i;
  json_t *f;
  json_array_foreach(files, i, f) {
    const char *sha = json_string_value(json_object_get(f, "sha256"));
    fprintf(out, "  %s  %lld bytes%s%s\n", json_string_value(json_object_get(f, "name")),
            (long long)json_integer_value(json_object_get(f, "size")), sha ? "  sha256 " : "",
            sha ? sha : "");
  }
}

static void history_lines(FILE *out, const json_t *history) {
  if (json_array_size(history) == 0)
    return;
  fprintf(out, "history:\n");
  size_t i;
  json_t *h;
  json_array_foreach(history, i, h) {
    const char *at = json_string_value(json_object_get(h, "at"));
    const char *to = json_string_value(json_object_get(h, "to"));
    const char *reason = json_string_value(json_object_get(h, "reason"));
    fprintf(out, "  %-24s %-10s %s\n", at ? at : "", to ? to : "", reason ? reason : "");
  }
}

void format_execution(FILE *out, const json_t *doc) {
  char buf[256];
  json_t *result = json_object_get(doc, "result");
  string_field(out, "id:", doc, "execution_id");
  string_field(out, "state:", doc, "state");
  json_t *code = json_object_get(result, "exit_code");
  if (json_is_integer(code) && json_integer_value(code) >= 0) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(code));
    field(out, "exit code:", buf);
  }
  error_field(out, json_object_get(doc, "error"));
  string_field(out, "backend:", doc, "backend");
  string_field(out, "agent:", doc, "agent");
  string_field(out, "correlation:", doc, "correlation_id");
  json_t *attempts = json_object_get(doc, "attempts");
  if (json_is_integer(attempts)) {
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(attempts));
    field(out, "attempts:", buf);
  }
  json_t *labels = json_object_get(doc, "labels");
  if (json_object_size(labels) > 0) {
    char *text = labels_text(labels);
    if (text)
      field(out, "labels:", text);
    free(text);
  }
  json_t *progress = json_object_get(doc, "progress");
  if (json_is_object(progress)) {
    const char *message = json_string_value(json_object_get(progress, "message"));
    snprintf(buf, sizeof buf, "%g%%%s%s", json_number_value(json_object_get(progress, "percent")),
             message ? " " : "", message ? message : "");
    field(out, "progress:", buf);
  }
  json_t *ts = json_object_get(doc, "timestamps");
  string_field(out, "created:", ts, "created");
  string_field(out, "started:", ts, "started");
  string_field(out, "finished:", ts, "finished");
  string_field(out, "retry at:", doc, "retry_at");
  json_t *duration = json_object_get(doc, "duration_ms");
  if (json_is_integer(duration)) {
    format_duration(buf, sizeof buf, (long long)json_integer_value(duration));
    field(out, "duration:", buf);
  }
  output_fields(out, result);
  history_lines(out, json_object_get(doc, "history"));
}

void format_execution_table(FILE *out, const json_t *page) {
  json_t *list = json_object_get(page, "executions");
  if (json_array_size(list) == 0) {
    fprintf(out, "no executions\n");
  } else {
    int backend_width = 7;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      const char *b = json_string_value(json_object_get(e, "backend"));
      if (b && (int)strlen(b) > backend_width)
        backend_width = (int)strlen(b);
    }
    fprintf(out, "%-36s  %-10s  %4s  %-*s  %-24s  %s\n", "ID", "STATE", "EXIT", backend_width,
            "BACKEND", "CREATED", "LABELS");
    json_array_foreach(list, i, e) {
      const char *id = json_string_value(json_object_get(e, "execution_id"));
      const char *state = json_string_value(json_object_get(e, "state"));
      const char *backend = json_string_value(json_object_get(e, "backend"));
      const char *created =
          json_string_value(json_object_get(json_object_get(e, "timestamps"), "created"));
      json_t *code = json_object_get(json_object_get(e, "result"), "exit_code");
      char exit_text[16] = "-";
      if (json_is_integer(code) && json_integer_value(code) >= 0)
        snprintf(exit_text, sizeof exit_text, "%lld", (long long)json_integer_value(code));
      char *labels = labels_text(json_object_get(e, "labels"));
      fprintf(out, "%-36s  %-10s  %4s  %-*s  %-24s  %s\n", id ? id : "?", state ? state : "?",
              exit_text, backend_width, backend ? backend : "-", created ? created : "-",
              labels ? labels : "");
      free(labels);
    }
  }
  const char *next = json_string_value(json_object_get(page, "next_cursor"));
  if (next)
    fprintf(out, "next page: add --cursor %s\n", next);
}

void format_readiness(FILE *out, const char *url, const json_t *ready) {
  fprintf(out, "execd at %s: %s\n", url,
          json_is_true(json_object_get(ready, "ready")) ? "ready" : "not ready");
  const char *name;
  json_t *status;
  json_object_foreach(json_object_get(ready, "components"), name, status) {
    fprintf(out, "  %-24s %s\n", name, json_is_string(status) ? json_string_value(status) : "?");
  }
}

/* Bytes as B, KiB, MiB or GiB with one decimal. */
static void format_bytes(char *buf, size_t len, long long n) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4)
    v /= 1024, u++;
  if (u == 0)
    snprintf(buf, len, "%lld B", n);
  else
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

void format_usage_table(FILE *out, const json_t *doc) {
  const char *by = json_string_value(json_object_get(doc, "group_by"));
  int by_agent = by && strcmp(by, "agent") == 0;
  json_t *groups = json_object_get(doc, "groups");
  const char *from = json_string_value(json_object_get(doc, "from"));
  const char *to = json_string_value(json_object_get(doc, "to"));
  fprintf(out, "executions created from %s to %s\n", from ? from : "the first",
          to ? to : "now");
  if (json_array_size(groups) == 0) {
    fprintf(out, "no executions\n");
    return;
  }
  fprintf(out, "%-24s  %5s  %5s  %6s  %6s  %5s  %10s  %10s  %10s  %10s\n",
          by_agent ? "AGENT" : "TENANT", "ENDED", "OK", "FAILED", "OTHER", "OPEN", "CPU S",
          "WALL S", "PEAK MEM", "OUTPUT");
  size_t i;
  json_t *g;
  json_array_foreach(groups, i, g) {
    const char *name = json_string_value(json_object_get(g, by_agent ? "agent" : "tenant"));
    const json_t *states = json_object_get(g, "executions");
    long long total = (long long)json_integer_value(json_object_get(g, "executions_total"));
    long long ok = (long long)json_integer_value(json_object_get(states, "SUCCEEDED"));
    long long failed = (long long)json_integer_value(json_object_get(states, "FAILED"));
    char peak[32], output[32];
    format_bytes(peak, sizeof peak,
                 (long long)json_integer_value(json_object_get(g, "peak_memory_bytes")));
    format_bytes(output, sizeof output,
                 (long long)json_integer_value(json_object_get(g, "output_bytes")));
    fprintf(out, "%-24s  %5lld  %5lld  %6lld  %6lld  %5lld  %10.3f  %10.3f  %10s  %10s\n",
            name ? name : "-", total, ok, failed, total - ok - failed,
            (long long)json_integer_value(json_object_get(g, "unfinished")),
            json_number_value(json_object_get(g, "cpu_seconds")),
            json_number_value(json_object_get(g, "wall_seconds")), peak, output);
  }
}
/* A column of the agent table: the string, or "-". */
static const char *cell(const json_t *obj, const char *key) {
  const char *v = json_string_value(json_object_get(obj, key));
  return v && *v ? v : "-";
}

void format_agent_table(FILE *out, const json_t *list) {
  json_t *agents = json_object_get(list, "agents");
  if (json_array_size(agents) == 0) {
    fprintf(out, "no agents\n");
    return;
  }
  int name_width = 4, version_width = 7, backend_width = 7;
  size_t i;
  json_t *a;
  json_array_foreach(agents, i, a) {
    int n = (int)strlen(cell(a, "name")), v = (int)strlen(cell(a, "version")),
        b = (int)strlen(cell(a, "backend"));
    name_width = n > name_width ? n : name_width;
    version_width = v > version_width ? v : version_width;
    backend_width = b > backend_width ? b : backend_width;
  }
  fprintf(out, "%-*s  %-*s  %-6s  %-*s  %-7s  %s\n", name_width, "NAME", version_width,
          "VERSION", "SOURCE", backend_width, "BACKEND", "SCHEMAS", "DESCRIPTION");
  json_array_foreach(agents, i, a) {
    bool in = json_object_get(a, "schema_in") != NULL;
    bool outs = json_object_get(a, "schema_out") != NULL;
    fprintf(out, "%-*s  %-*s  %-6s  %-*s  %-7s  %s\n", name_width, cell(a, "name"),
            version_width, cell(a, "version"), cell(a, "source"), backend_width,
            cell(a, "backend"), in && outs ? "in,out" : in ? "in" : outs ? "out" : "-",
            cell(a, "description"));
  }
}

/* A JSON value on one line ("-" when absent). */
static void json_field(FILE *out, const char *name, const json_t *v) {
  if (!v)
    return;
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text)
    field(out, name, text);
  free(text);
}

/* A schema, indented under its label. */
static void schema_lines(FILE *out, const char *name, const json_t *schema) {
  if (!schema)
    return;
  char *text = json_dumps(schema, JSON_INDENT(2) | JSON_ENCODE_ANY);
  if (!text)
    return;
  fprintf(out, "%s\n", name);
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
    fprintf(out, "  %s\n", line);
  free(text);
}

void format_agent(FILE *out, const json_t *a) {
  string_field(out, "name:", a, "name");
  string_field(out, "version:", a, "version");
  string_field(out, "description:", a, "description");
  char source[600];
  const char *file = json_string_value(json_object_get(a, "file"));
  snprintf(source, sizeof source, "%s%s%s", cell(a, "source"), file ? " " : "",
           file ? file : "");
  field(out, "source:", source);
  string_field(out, "backend:", a, "backend");
  string_field(out, "image:", a, "image");
  json_field(out, "command:", json_object_get(a, "command"));
  string_field(out, "io:", a, "io");
  string_field(out, "working dir:", a, "working_dir");
  string_field(out, "user:", a, "user");
  json_field(out, "environment:", json_object_get(a, "environment"));
  json_field(out, "resources:", json_object_get(a, "resources"));
  if (json_is_true(json_object_get(a, "format_assertion")))
    field(out, "formats:", "asserted");
  schema_lines(out, "schema_in:", json_object_get(a, "schema_in"));
  schema_lines(out, "schema_out:", json_object_get(a, "schema_out"));
}
