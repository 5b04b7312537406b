/* The http transport plugin: descriptor, configuration and lifecycle.  The
 * server itself is in server.c, the API in routes.c and stream.c (see
 * http_internal.h).  Bearer tokens are the daemon's (host->authenticate,
 * ABI 1.5): execd reads the tokens file, also when it is named here as the
 * key tokens_file of old configurations. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configcheck/config_check.h"
#include "http_internal.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_BODY (16ull << 20)
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_KEEPALIVE_MS 15000

static const execd_config_key http_config_keys[] = {
    {"listen", EXECD_CFG_STRING, DEFAULT_LISTEN,
     "address and port to serve on: \"127.0.0.1:8080\", \"[::1]:8080\"; port 0 "
     "picks a free port"},
    {"max_body", EXECD_CFG_SIZE, "16M", "largest request body accepted"},
    {"connection_timeout", EXECD_CFG_DURATION, "30s",
     "idle time after which a client connection is closed (0: never)"},
    {"max_connections", EXECD_CFG_INT, "1024",
     "simultaneous client connections"},
    {"stream_keepalive", EXECD_CFG_DURATION, "15s",
     "how often idle log/event streams are checked for dead clients and sent "
     "keep-alives"},
    {NULL, 0, NULL, NULL}};

/* ---- config ------------------------------------------------------------------ */

static int cfg_string(http_server *srv, const json_t *config, const char *key,
                      const char *def, char **out) {
  const json_t *v = json_object_get(config, key);
  if (v && !json_is_string(v)) {
    srv->host->set_error(srv->inst, "%s must be a string", key);
    return EXECD_ECONFIG;
  }
  const char *s = v ? json_string_value(v) : def;
  *out = s && *s ? strdup(s) : NULL;
  return 0;
}

static int cfg_uint(http_server *srv, const json_t *config, const char *key,
                    uint64_t def, uint64_t max, uint64_t *out) {
  const json_t *v = json_object_get(config, key);
  if (!v) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) > max) {
    srv->host->set_error(srv->inst, "%s must be an integer 0-%llu", key,
                         (unsigned long long)max);
    return EXECD_ECONFIG;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int configure(http_server *srv, const json_t *config) {
  const execd_host *host = srv->host;
  execd_instance *inst = srv->inst;
  uint64_t timeout_ms, max_conn;
  int rc;
  if ((rc = cfg_string(srv, config, "listen", DEFAULT_LISTEN, &srv->listen_text)) ||
      (rc = cfg_uint(srv, config, "max_body", DEFAULT_MAX_BODY, UINT64_MAX / 4,
                     &srv->max_body)) ||
      (rc = cfg_uint(srv, config, "connection_timeout", DEFAULT_TIMEOUT_MS,
                     86400000ull, &timeout_ms)) ||
      (rc = cfg_uint(srv, config, "max_connections", DEFAULT_MAX_CONNECTIONS,
                     1000000, &max_conn)) ||
      (rc = cfg_uint(srv, config, "stream_keepalive", DEFAULT_KEEPALIVE_MS,
                     3600000, &srv->keepalive_ms)))
    return rc;
  if (!srv->listen_text) {
    host->set_error(inst, "listen must not be empty");
    return EXECD_ECONFIG;
  }
  if (max_conn == 0) {
    host->set_error(inst, "max_connections must be at least 1");
    return EXECD_ECONFIG;
  }
  if (srv->keepalive_ms == 0)
    srv->keepalive_ms = DEFAULT_KEEPALIVE_MS;
  srv->timeout_s = (unsigned)((timeout_ms + 999) / 1000);
  srv->max_connections = (unsigned)max_conn;

  char err[512];
  rc = listen_parse(srv->listen_text, &srv->addr, err, sizeof err);
  if (rc != 0) {
    host->set_error(inst, "%s", err);
    return rc;
  }
  return 0;
}

static void http_destroy(void *self);

static int http_create(const execd_host *host, execd_instance *inst,
                       const json_t *config, void **self) {
  *self = NULL;
  http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  srv->host = host;
  srv->inst = inst;
  srv->loop = host->loop(inst);
  if (!EXECD_HOST_HAS(host, authenticate)) {
    host->set_error(inst, "execd is older than ABI 1.5: it cannot authenticate bearer tokens");
    http_destroy(srv);
    return EXECD_EABI;
  }
  int rc = configure(srv, config);
  if (rc != 0) {
    http_destroy(srv);
    return rc;
  }
  *self = srv;
  return 0;
}

/* check_config: create()'s configure() on a scratch server (the address
 * is parsed, not bound). */
static int http_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  srv->host = config_check_host();
  srv->inst = config_check_begin(&ck, err, errlen);
  int rc = configure(srv, config);
  http_destroy(srv);
  return config_check_end(&ck, rc);
}

static int http_start(void *self) {
  http_server *srv = self;
  int rc = server_start(srv);
  if (rc != 0)
    return rc;
  char tenant[EXECD_TENANT_MAX + 1];
  if (srv->host->authenticate(srv->inst, NULL, 0, tenant, sizeof tenant) == 0 &&
      !srv->addr.loopback)
    srv->host->log(srv->inst, EXECD_LOG_WARNING,
                   "no tokens_file: every request on %s is tenant \"%s\", and "
                   "%s is not a loopback address: anyone who can reach it can "
                   "run executions",
                   srv->bound, tenant, srv->listen_text);
  return 0;
}

static void http_stop(void *self) { server_stop(self); }

static void http_destroy(void *self) {
  http_server *srv = self;
  if (!srv)
    return;
  free(srv->listen_text);
  free(srv);
}

static int http_health(void *self) {
  http_server *srv = self;
  if (srv->mhd)
    return 0;
  srv->host->set_error(srv->inst, "not listening");
  return EXECD_EUNAVAIL;
}

/* ---- descriptor ---------------------------------------------------------------- */

static const execd_transport_ops http_ops = {
    .struct_size = sizeof(execd_transport_ops),
    .publish = NULL, /* clients pull events with GET .../events */
    .health = http_health,
};

static const execd_plugin http_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_TRANSPORT,
    .name = "http",
    .version = PACKAGE_VERSION,
    .description = "HTTP/JSON API (libmicrohttpd on the execd loop)",
    .config_keys = http_config_keys,
    .create = http_create,
    .start = http_start,
    .stop = http_stop,
    .destroy = http_destroy,
    .ops = &http_ops,
    .check_config = http_check_config,
};

EXECD_PLUGIN_DEFINE(http_plugin)
