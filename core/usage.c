/* What executions used: per record (kept in the record, so any storage
 * keeps it), summed per group for GET /v1/usage, and counted since start
 * for /metrics.  Groups are kept in jansson objects keyed by name: their
 * number is bounded by the tenants and agents that exist. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "usage.h"
#include "xalloc.h"

static json_t *usage_of(json_t *record) {
  json_t *u = json_object_get(record, "usage");
  if (!json_is_object(u)) {
    u = json_pack("{s:f, s:I, s:I, s:I, s:i}", "cpu_seconds", 0.0, "peak_memory_bytes",
                  (json_int_t)0, "wall_ms", (json_int_t)0, "output_bytes", (json_int_t)0,
                  "attempts", 0);
    if (!u)
      xalloc_failed("usage");
    json_object_set_new(record, "usage", u);
  }
  return u;
}

static double num(const json_t *o, const char *k) {
  return json_number_value(json_object_get(o, k));
}

static int64_t integer(const json_t *o, const char *k) {
  return (int64_t)json_integer_value(json_object_get(o, k));
}

void usage_add_attempt(json_t *record, double cpu_seconds, int64_t peak_memory_bytes,
                       int64_t wall_ms) {
  json_t *u = usage_of(record);
  if (!(cpu_seconds >= 0) || !isfinite(cpu_seconds))
    cpu_seconds = 0;
  /* Microsecond resolution, as rusage and cgroups give it. */
  double cpu = round((num(u, "cpu_seconds") + cpu_seconds) * 1e6) / 1e6;
  json_object_set_new(u, "cpu_seconds", json_real(cpu));
  if (peak_memory_bytes > integer(u, "peak_memory_bytes"))
    json_object_set_new(u, "peak_memory_bytes", json_integer(peak_memory_bytes));
  if (wall_ms > 0)
    json_object_set_new(u, "wall_ms", json_integer(integer(u, "wall_ms") + wall_ms));
  json_object_set_new(u, "attempts", json_integer(integer(u, "attempts") + 1));
}

void usage_set_output(json_t *record, uint64_t log_bytes) {
  json_t *u = usage_of(record);
  int64_t bytes = (int64_t)log_bytes;
  json_t *result = json_object_get(record, "result");
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(result, "output_files"), i, f)
    bytes += integer(f, "size");
  json_t *output = json_object_get(result, "output");
  if (output && !json_is_null(output)) {
    char *text = json_dumps(output, JSON_COMPACT | JSON_ENCODE_ANY);
    bytes += text ? (int64_t)strlen(text) : 0;
    free(text);
  }
  json_object_set_new(u, "output_bytes", json_integer(bytes));
}

static int strcmp_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* --- sums by group ----------------------------------------------------------- */

struct usage_report {
  int by_agent;
  json_t *groups; /* key -> group object */
};

usage_report *usage_report_new(const char *group_by) {
  usage_report *r = xcalloc(1, sizeof *r);
  r->by_agent = group_by && strcmp(group_by, "agent") == 0;
  r->groups = json_object();
  if (!r->groups)
    xalloc_failed("usage report");
  return r;
}

static json_t *group_for(usage_report *r, const json_t *record) {
  const char *tenant = json_string_value(json_object_get(record, "tenant"));
  const char *agent = json_string_value(json_object_get(record, "agent"));
  const char *key = r->by_agent ? (agent ? agent : "") : (tenant ? tenant : "");
  json_t *g = json_object_get(r->groups, key);
  if (g)
    return g;
  g = json_pack("{s:s?, s:{}, s:I, s:I, s:f, s:I, s:f, s:I}", "tenant", tenant,
                "executions", "executions_total", (json_int_t)0, "unfinished", (json_int_t)0,
                "cpu_seconds", 0.0, "peak_memory_bytes", (json_int_t)0, "wall_seconds", 0.0,
                "output_bytes", (json_int_t)0);
  if (!g)
    xalloc_failed("usage group");
  if (r->by_agent) {
    json_object_set_new(g, "agent", agent ? json_string(agent) : json_null());
    json_object_del(g, "tenant");
    json_object_set_new(g, "tenant", json_string(tenant ? tenant : ""));
  }
  json_object_set_new(r->groups, key, g);
  return g;
}

static void add_int(json_t *o, const char *k, int64_t v) {
  json_object_set_new(o, k, json_integer(integer(o, k) + v));
}

void usage_report_add(usage_report *r, const json_t *record) {
  const char *state = json_string_value(json_object_get(record, "state"));
  int s = state_from_name(state);
  json_t *g = group_for(r, record);
  if (s < 0 || !state_is_terminal((exec_state)s)) {
    add_int(g, "unfinished", 1);
    return;
  }
  add_int(json_object_get(g, "executions"), state, 1);
  add_int(g, "executions_total", 1);
  const json_t *u = json_object_get(record, "usage");
  json_object_set_new(g, "cpu_seconds",
                      json_real(round((num(g, "cpu_seconds") + num(u, "cpu_seconds")) * 1e6) / 1e6));
  if (integer(u, "peak_memory_bytes") > integer(g, "peak_memory_bytes"))
    json_object_set_new(g, "peak_memory_bytes", json_integer(integer(u, "peak_memory_bytes")));
  json_object_set_new(g, "wall_seconds",
                      json_real((double)llround((num(g, "wall_seconds") * 1000 +
                                                 (double)integer(u, "wall_ms"))) / 1000));
  add_int(g, "output_bytes", integer(u, "output_bytes"));
}

json_t *usage_report_finish(usage_report *r) {
  json_t *list = json_array();
  if (!list)
    xalloc_failed("usage report");
  const char *key;
  json_t *g;
  /* jansson keeps insertion order; sorted keys give a stable answer. */
  size_t n = json_object_size(r->groups), i = 0;
  const char **keys = xcalloc(n ? n : 1, sizeof *keys);
  json_object_foreach(r->groups, key, g)
    keys[i++] = key;
  qsort(keys, n, sizeof *keys, strcmp_ptr);
  for (i = 0; i < n; i++)
    json_array_append(list, json_object_get(r->groups, keys[i]));
  free(keys);
  json_decref(r->groups);
  free(r);
  return list;
}

/* --- counters since start, for /metrics ------------------------------------- */

static json_t *counters; /* "tenant\x1fagent" -> {tenant, agent, states, ...} */

void usage_count_ended(const json_t *record) {
  const char *tenant = json_string_value(json_object_get(record, "tenant"));
  const char *agent = json_string_value(json_object_get(record, "agent"));
  const char *state = json_string_value(json_object_get(record, "state"));
  if (!tenant || !state)
    return;
  if (!counters && !(counters = json_object()))
    xalloc_failed("usage counters");
  char *key = xasprintf("%s\x1f%s", tenant, agent ? agent : "");
  json_t *c = json_object_get(counters, key);
  if (!c) {
    c = json_pack("{s:s, s:s, s:{}, s:f, s:f, s:I, s:I}", "tenant", tenant, "agent",
                  agent ? agent : "", "states", "cpu_seconds", 0.0, "wall_seconds", 0.0,
                  "output_bytes", (json_int_t)0, "peak_memory_bytes", (json_int_t)0);
    if (!c)
      xalloc_failed("usage counters");
    json_object_set_new(counters, key, c);
  }
  free(key);
  const json_t *u = json_object_get(record, "usage");
  add_int(json_object_get(c, "states"), state, 1);
  json_object_set_new(c, "cpu_seconds", json_real(num(c, "cpu_seconds") + num(u, "cpu_seconds")));
  json_object_set_new(c, "wall_seconds",
                      json_real(num(c, "wall_seconds") + (double)integer(u, "wall_ms") / 1000));
  add_int(c, "output_bytes", integer(u, "output_bytes"));
  if (integer(u, "peak_memory_bytes") > integer(c, "peak_memory_bytes"))
    json_object_set_new(c, "peak_memory_bytes", json_integer(integer(u, "peak_memory_bytes")));
}

/* A label value with \, " and newline escaped (the text exposition format). */
static void label(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      fputc('\\', f), fputc(*s, f);
    else if (*s == '\n')
      fputs("\\n", f);
    else
      fputc(*s, f);
  }
}

static void labels(FILE *f, const json_t *c) {
  fputs("{tenant=\"", f);
  label(f, json_string_value(json_object_get(c, "tenant")));
  fputs("\",agent=\"", f);
  label(f, json_string_value(json_object_get(c, "agent")));
  fputc('"', f);
}

void usage_metrics(FILE *f) {
  size_t n = counters ? json_object_size(counters) : 0, i = 0;
  const char **keys = xcalloc(n ? n : 1, sizeof *keys);
  const char *key;
  json_t *c;
  if (counters)
    json_object_foreach(counters, key, c)
      keys[i++] = key;
  qsort(keys, n, sizeof *keys, strcmp_ptr);
  fprintf(f, "# HELP execd_tenant_executions_total Executions that ended since execd started, "
             "by tenant, agent and final state.\n"
             "# TYPE execd_tenant_executions_total counter\n");
  for (i = 0; i < n; i++) {
    c = json_object_get(counters, keys[i]);
    const char *state;
    json_t *v;
    json_object_foreach(json_object_get(c, "states"), state, v) {
      fputs("execd_tenant_executions_total", f);
      labels(f, c);
      fprintf(f, ",state=\"%s\"} %lld\n", state, (long long)json_integer_value(v));
    }
  }
  static const struct {
    const char *name, *member, *type, *help;
  } series[] = {
      {"execd_tenant_cpu_seconds_total", "cpu_seconds", "counter",
       "CPU seconds (user and system) of the executions that ended, by tenant and agent."},
      {"execd_tenant_wall_seconds_total", "wall_seconds", "counter",
       "Seconds the attempts of the executions that ended ran, by tenant and agent."},
      {"execd_tenant_output_bytes_total", "output_bytes", "counter",
       "Log, output file and output document bytes of the executions that ended."},
      {"execd_tenant_peak_memory_bytes", "peak_memory_bytes", "gauge",
       "The largest peak memory of one execution that ended, by tenant and agent."},
  };
  for (size_t k = 0; k < sizeof series / sizeof series[0]; k++) {
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", series[k].name, series[k].help, series[k].name,
            series[k].type);
    for (i = 0; i < n; i++) {
      c = json_object_get(counters, keys[i]);
      fputs(series[k].name, f);
      labels(f, c);
      json_t *v = json_object_get(c, series[k].member);
      if (json_is_integer(v))
        fprintf(f, "} %lld\n", (long long)json_integer_value(v));
      else
        fprintf(f, "} %.6f\n", json_number_value(v));
    }
  }
  free(keys);
}

void usage_close(void) {
  json_decref(counters);
  counters = NULL;
}
