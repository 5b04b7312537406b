/* The catalog of agents (catalog.h): a sorted array of references. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "conf.h"
#include "xalloc.h"

struct catalog {
  agent **v; /* sorted by name */
  size_t n;
};

catalog *catalog_new(void) { return xcalloc(1, sizeof(catalog)); }

void catalog_free(catalog *c) {
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++)
    agent_unref(c->v[i]);
  free(c->v);
  free(c);
}

/* The index of name, or where it would go (*found 0). */
static size_t position(const catalog *c, const char *name, int *found) {
  size_t lo = 0, hi = c->n;
  *found = 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int cmp = strcmp(agent_name(c->v[mid]), name);
    if (cmp == 0) {
      *found = 1;
      return mid;
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void catalog_describe_origin(const agent *a, const char *dir, char *out, size_t outlen) {
  if (!agent_file(a))
    snprintf(out, outlen, "inline in the config file");
  else if (dir)
    snprintf(out, outlen, "%s/%s", dir, agent_file(a));
  else
    snprintf(out, outlen, "%s", agent_file(a));
}

int catalog_add(catalog *c, agent *a, char *err, size_t errlen) {
  int found;
  size_t at = position(c, agent_name(a), &found);
  if (found) {
    char first[512], second[512];
    catalog_describe_origin(c->v[at], NULL, first, sizeof first);
    catalog_describe_origin(a, NULL, second, sizeof second);
    snprintf(err, errlen, "duplicate agent name '%s': defined %s%s and %s%s", agent_name(a),
             agent_file(c->v[at]) ? "in " : "", first, agent_file(a) ? "in " : "", second);
    agent_unref(a);
    return -1;
  }
  c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
  memmove(c->v + at + 1, c->v + at, (c->n - at) * sizeof *c->v);
  c->v[at] = a;
  c->n++;
  return 0;
}

agent *catalog_find(const catalog *c, const char *name) {
  int found;
  if (!c || !name)
    return NULL;
  size_t at = position(c, name, &found);
  return found ? c->v[at] : NULL;
}

size_t catalog_count(const catalog *c) { return c ? c->n : 0; }

const agent *catalog_at(const catalog *c, size_t i) { return i < c->n ? c->v[i] : NULL; }

int catalog_check_backends(const catalog *c, const execd_config *cfg, char *err,
                           size_t errlen) {
  for (size_t i = 0; i < c->n; i++) {
    const char *b = json_string_value(json_object_get(agent_def(c->v[i]), "backend"));
    if (b && !config_find_backend(cfg, b)) {
      char origin[4200];
      if (agent_file(c->v[i]))
        catalog_describe_origin(c->v[i], cfg->agents_dir, origin, sizeof origin);
      else
        snprintf(origin, sizeof origin, "%s: agents", cfg->path);
      snprintf(err, errlen, "%s: agent '%s' names backend '%s', which is not configured",
               origin, agent_name(c->v[i]), b);
      return -1;
    }
  }
  return 0;
}

json_t *catalog_list(const catalog *c) {
  json_t *list = json_array();
  for (size_t i = 0; c && i < c->n; i++)
    json_array_append_new(list, agent_view(c->v[i]));
  return json_pack("{s:o}", "agents", list);
}
