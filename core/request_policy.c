/* The policy step of a request: the agent's and the backend's defaults
 * and ceilings merged into the effective spec it runs with. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <execd/error.h>

#include "agent.h"
#include "catalog.h"
#include "env_policy.h"
#include "request.h"
#include "request_internal.h"
#include "units.h"

/* The tighter of two optional integer ceilings (0/absent = none). */
static int64_t tighter(const json_t *a, const json_t *b, const char *key) {
  int64_t x = json_integer_value(json_object_get(a, key));
  int64_t y = json_integer_value(json_object_get(b, key));
  if (!x)
    return y;
  if (!y)
    return x;
  return x < y ? x : y;
}

/* agent_defaults: what the agent gives a request that does not ask (each
 * at most its agent_res, checked at load); else the ceiling applies. */
static json_t *effective_resources(const json_t *req_res, const json_t *agent_res,
                                   const json_t *agent_defaults, const json_t *backend_res,
                                   request_error *e) {
  json_t *res = json_object();
  static const char *const ints[] = {"memory", "pids", "timeout_ms", "cpu_seconds",
                                     "nofile", "fsize", "workspace_max", NULL};
  for (const char *const *k = ints; *k; k++) {
    int64_t ceiling = tighter(agent_res, backend_res, *k);
    int64_t dflt = json_integer_value(json_object_get(agent_defaults, *k));
    if (dflt && ceiling && dflt > ceiling)
      dflt = ceiling; /* a backend tighter than the agent's default */
    json_t *asked = json_object_get(req_res, *k);
    int64_t v = asked ? json_integer_value(asked) : dflt ? dflt : ceiling;
    if (asked && ceiling && v > ceiling) {
      const char *name = strcmp(*k, "timeout_ms") == 0    ? "timeout"
                         : strcmp(*k, "cpu_seconds") == 0 ? "cpu_time"
                                                          : *k;
      char field[64];
      snprintf(field, sizeof field, "resources.%s", name);
      request_refuse(e, EXECD_EUNPROC, "limit_exceeded", field,
                     "%lld is over what the agent and backend allow (%lld)", (long long)v,
                     (long long)ceiling);
      json_decref(res);
      return NULL;
    }
    if (v)
      json_object_set_new(res, *k, json_integer(v));
  }
  double ca = json_number_value(json_object_get(agent_res, "cpus"));
  double cb = json_number_value(json_object_get(backend_res, "cpus"));
  double ceiling = ca && cb ? (ca < cb ? ca : cb) : (ca ? ca : cb);
  double dflt = json_number_value(json_object_get(agent_defaults, "cpus"));
  if (dflt && ceiling && dflt > ceiling)
    dflt = ceiling;
  json_t *asked = json_object_get(req_res, "cpus");
  double cpus = asked ? json_number_value(asked) : dflt ? dflt : ceiling;
  if (asked && ceiling && cpus > ceiling) {
    request_refuse(e, EXECD_EUNPROC, "limit_exceeded", "resources.cpus",
                   "%g is over what the agent and backend allow (%g)", cpus, ceiling);
    json_decref(res);
    return NULL;
  }
  if (cpus > 0)
    json_object_set_new(res, "cpus", json_real(cpus));
  /* Network: "none" unless the backend allows another mode and nobody
   * tightened it. */
  const char *allowed = json_string_value(json_object_get(backend_res, "network"));
  const char *agent_net = json_string_value(json_object_get(agent_res, "network"));
  const char *net = json_string_value(json_object_get(req_res, "network"));
  if (!allowed)
    allowed = "none";
  if (agent_net && strcmp(agent_net, "none") == 0)
    allowed = "none";
  if (net && strcmp(net, "none") != 0 && strcmp(net, allowed) != 0) {
    request_refuse(e, EXECD_EUNPROC, "limit_exceeded", "network",
                   "network \"%s\" is not allowed here (allowed: \"none\"%s%s%s)", net,
                   strcmp(allowed, "none") ? ", \"" : "", strcmp(allowed, "none") ? allowed : "",
                   strcmp(allowed, "none") ? "\"" : "");
    json_decref(res);
    return NULL;
  }
  json_object_set_new(res, "network", json_string(net ? net : allowed));
  return res;
}

/* The request's environment names against the built-in denylist, then the
 * backend's environment_allowed (the agent's environment is the operator's
 * and not checked). */
static int check_environment_names(const json_t *env, const plugin_block *b,
                                   request_error *e) {
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)env, name, v) {
    char field[160];
    snprintf(field, sizeof field, "environment.%.100s", name);
    const char *why = env_policy_denied(name);
    if (why) {
      request_refuse(e, EXECD_EINVAL, "environment_not_allowed", field,
                     "%.100s cannot be set by a request: %s", name, why);
      return -1;
    }
    if (!env_policy_allowed(name, b->environment_allowed)) {
      request_refuse(e, EXECD_EINVAL, "environment_not_allowed", field,
                     "%.100s is not in backend '%s' environment_allowed", name, b->name);
      return -1;
    }
  }
  return 0;
}

json_t *request_effective_spec(const json_t *req, const execd_config *cfg,
                               request_error *e) {
  memset(e, 0, sizeof *e);
  const json_t *adef = NULL; /* the agent's definition */
  const char *agent_name = json_string_value(json_object_get(req, "agent"));
  const struct agent *found = agent_name ? catalog_find(cfg->catalog, agent_name) : NULL;
  if (agent_name && !found)
    return request_refuse(e, EXECD_EINVAL, "unknown_agent", "agent",
                          "no agent is named '%.128s' (GET /v1/agents lists them)", agent_name);
  if (found)
    adef = agent_def(found);
  const char *backend = json_string_value(json_object_get(req, "backend"));
  if (!backend && adef)
    backend = json_string_value(json_object_get(adef, "backend"));
  if (!backend)
    backend = cfg->default_backend;
  const plugin_block *b = config_find_backend(cfg, backend);
  if (!b)
    return request_refuse(e, EXECD_EINVAL, "unknown_backend", "backend",
                          "no backend is named '%.128s'", backend);
  const char *agent_backend = adef ? json_string_value(json_object_get(adef, "backend")) : NULL;
  if (agent_backend && strcmp(agent_backend, backend) != 0)
    return request_refuse(e, EXECD_EUNPROC, "limit_exceeded", "backend",
                          "agent '%s' runs on backend '%s' only", agent_name, agent_backend);

  if (check_environment_names(json_object_get(req, "environment"), b, e))
    return NULL;

  const json_t *c = json_object_get(req, "container");
  json_t *spec = json_pack("{s:s}", "backend", backend);
  /* Agent-fixed members: the request may repeat them but not change them. */
  static const char *const fixed[] = {"image", "command", "working_dir", "user", NULL};
  for (const char *const *k = fixed; *k; k++) {
    json_t *a = adef ? json_object_get(adef, *k) : NULL;
    json_t *r = json_object_get(c, *k);
    if (a && r && !json_equal(a, r)) {
      char field[64];
      snprintf(field, sizeof field, "container.%s", *k);
      json_decref(spec);
      return request_refuse(e, EXECD_EUNPROC, "limit_exceeded", field,
                            "agent '%s' fixes %s; leave it out or repeat the agent's value",
                            agent_name, *k);
    }
    if (r || a)
      json_object_set(spec, *k, r ? r : a);
  }
  if (!json_object_get(spec, "command")) {
    json_decref(spec);
    return INVALID(e, "container.command", "is required (no agent provides one)");
  }
  const char *io = json_string_value(json_object_get(req, "io"));
  const char *agent_io = adef ? json_string_value(json_object_get(adef, "io")) : NULL;
  if (io && agent_io && strcmp(io, agent_io) != 0) {
    json_decref(spec);
    return request_refuse(e, EXECD_EUNPROC, "limit_exceeded", "io",
                          "agent '%s' speaks io \"%s\"; leave io out or repeat it", agent_name,
                          agent_io);
  }
  if (!io)
    io = agent_io ? agent_io : "raw";
  json_object_set_new(spec, "io", json_string(io));
  /* The request adds names to the agent's environment; it may not change
   * what the agent sets. */
  json_t *env = json_object();
  const json_t *agent_env = adef ? json_object_get(adef, "environment") : NULL;
  const char *name;
  json_t *value;
  json_object_foreach(json_object_get(req, "environment"), name, value) {
    const json_t *fixed_value = json_object_get(agent_env, name);
    if (fixed_value && !json_equal((json_t *)fixed_value, value)) {
      char field[160];
      snprintf(field, sizeof field, "environment.%.100s", name);
      json_decref(env);
      json_decref(spec);
      return request_refuse(e, EXECD_EUNPROC, "limit_exceeded", field,
                            "agent '%s' sets %.100s; leave it out or repeat the agent's value",
                            agent_name, name);
    }
  }
  if (agent_env)
    json_object_update(env, (json_t *)agent_env);
  json_object_update(env, json_object_get(req, "environment"));
  json_object_set_new(spec, "environment", env);
  json_t *res = effective_resources(json_object_get(req, "resources"),
                                    adef ? json_object_get(adef, "resources") : NULL,
                                    adef ? json_object_get(adef, "defaults") : NULL,
                                    b->defaults, e);
  if (!res) {
    json_decref(spec);
    return NULL;
  }
  json_object_set_new(spec, "resources", res);
  json_object_set(spec, "retry", json_object_get(req, "retry"));
  json_object_set(spec, "output", json_object_get(req, "output"));
  if (adef && json_object_get(adef, "schema_in"))
    json_object_set(spec, "schema_in", json_object_get(adef, "schema_in"));
  if (adef && json_object_get(adef, "schema_out"))
    json_object_set(spec, "schema_out", json_object_get(adef, "schema_out"));
  return spec;
}
