/* The redis transport plugin: descriptor, configuration, lifecycle,
 * health, and the publish op (see redis_internal.h for the files). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "configcheck/config_check.h"
#include "redis_internal.h"

#define DEFAULT_ADDRESS "127.0.0.1:6379"

static const execd_config_key redis_config_keys[] = {
    {"address", EXECD_CFG_STRING, DEFAULT_ADDRESS,
     "the Redis server: \"host:port\", \"[v6]:port\" or \"unix:/path\""},
    {"db", EXECD_CFG_INT, "0", "database number (SELECT)"},
    {"user", EXECD_CFG_STRING, NULL, "ACL user for AUTH (with password_file)"},
    {"password_file", EXECD_CFG_STRING, NULL,
     "file whose first line is the password for AUTH (not readable by others)"},
    {"connect_timeout", EXECD_CFG_DURATION, "5s", "connect, AUTH and SELECT must be done within it"},
    {"command_timeout", EXECD_CFG_DURATION, "10s",
     "a command unanswered this long drops the connection (which is made again)"},
    {"consumer", EXECD_CFG_STRING, NULL,
     "this node's consumer name in the group (default: the host name)"},
    {"group", EXECD_CFG_STRING, "execd", "the consumer group on the requests stream"},
    {"requests_stream", EXECD_CFG_STRING, "exec-requests", "stream of requests (XADD)"},
    {"requests_channel", EXECD_CFG_STRING, "exec-requests",
     "channel of at-most-once requests (PUBLISH); \"\" turns that style off"},
    {"events_stream", EXECD_CFG_STRING, "exec-responses", "stream of events and errors"},
    {"events_channel", EXECD_CFG_STRING, "exec-responses",
     "channel events and errors are also published on; \"\" turns it off"},
    {"events_per_tenant", EXECD_CFG_BOOL, "false",
     "events go to <events_stream>:<tenant> and <events_channel>:<tenant>"},
    {"events_maxlen", EXECD_CFG_INT, "10000", "the events stream is capped near this (MAXLEN ~)"},
    {"dead_letter_stream", EXECD_CFG_STRING, "exec-requests-dead",
     "where messages delivered max_deliveries times go, with the reason"},
    {"max_deliveries", EXECD_CFG_INT, "5", "deliveries of a message before it is dead-lettered"},
    {"claim_idle", EXECD_CFG_DURATION, "60s",
     "a message pending this long with its consumer is claimed (XAUTOCLAIM)"},
    {"read_batch", EXECD_CFG_INT, "64", "messages read at once and held unacknowledged at most"},
    {"max_message", EXECD_CFG_SIZE, "1M", "largest message (all fields together)"},
    {"json_depth_max", EXECD_CFG_INT, "64", "nesting a message's JSON may have"},
    {"json_elements_max", EXECD_CFG_INT, "250000", "JSON values a message may hold"},
    {NULL, 0, NULL, NULL}};

/* ---- config ------------------------------------------------------------------ */

static int cfg_string(rt *t, const json_t *config, const char *key, const char *def, bool empty_ok,
                      char **out) {
  const json_t *v = json_object_get(config, key);
  if (v && !json_is_string(v)) {
    t->host->set_error(t->inst, "%s must be a string", key);
    return EXECD_ECONFIG;
  }
  const char *s = v ? json_string_value(v) : def;
  if (s && !*s && !empty_ok) {
    t->host->set_error(t->inst, "%s must not be empty", key);
    return EXECD_ECONFIG;
  }
  if (s && strlen(s) > 200) {
    t->host->set_error(t->inst, "%s is longer than 200 bytes", key);
    return EXECD_ECONFIG;
  }
  *out = s && *s ? strdup(s) : NULL;
  return 0;
}

static int cfg_uint(rt *t, const json_t *config, const char *key, uint64_t def, uint64_t min,
                    uint64_t max, uint64_t *out) {
  const json_t *v = json_object_get(config, key);
  if (!v) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
      (uint64_t)json_integer_value(v) > max) {
    t->host->set_error(t->inst, "%s must be an integer %llu-%llu", key, (unsigned long long)min,
                       (unsigned long long)max);
    return EXECD_ECONFIG;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static int configure(rt *t, const json_t *config) {
  uint64_t db, connect_ms, command_ms, max_message, depth, elements;
  char *password_file = NULL;
  int rc;
  char host_name[256] = "execd";
  gethostname(host_name, sizeof host_name - 1);
  if ((rc = cfg_string(t, config, "address", DEFAULT_ADDRESS, false, &t->address)) ||
      (rc = cfg_uint(t, config, "db", 0, 0, 10000, &db)) ||
      (rc = cfg_string(t, config, "user", NULL, false, &t->redis.user)) ||
      (rc = cfg_string(t, config, "password_file", NULL, false, &password_file)) ||
      (rc = cfg_uint(t, config, "connect_timeout", 5000, 100, 600000, &connect_ms)) ||
      (rc = cfg_uint(t, config, "command_timeout", 10000, 100, 600000, &command_ms)) ||
      (rc = cfg_string(t, config, "consumer", host_name, false, &t->consumer)) ||
      (rc = cfg_string(t, config, "group", "execd", false, &t->group)) ||
      (rc = cfg_string(t, config, "requests_stream", "exec-requests", false,
                       &t->requests_stream)) ||
      (rc = cfg_string(t, config, "requests_channel", "exec-requests", true,
                       &t->requests_channel)) ||
      (rc = cfg_string(t, config, "events_stream", "exec-responses", false, &t->events_stream)) ||
      (rc = cfg_string(t, config, "events_channel", "exec-responses", true,
                       &t->events_channel)) ||
      (rc = cfg_uint(t, config, "events_maxlen", 10000, 1, 1000000000, &t->events_maxlen)) ||
      (rc = cfg_string(t, config, "dead_letter_stream", "exec-requests-dead", false,
                       &t->dead_letter_stream)) ||
      (rc = cfg_uint(t, config, "max_deliveries", 5, 1, 1000, &t->max_deliveries)) ||
      (rc = cfg_uint(t, config, "claim_idle", 60000, 1000, 86400000, &t->claim_idle_ms)) ||
      (rc = cfg_uint(t, config, "read_batch", 64, 1, 10000, &t->read_batch)) ||
      (rc = cfg_uint(t, config, "max_message", 1 << 20, 1024, 512ull << 20, &max_message)) ||
      (rc = cfg_uint(t, config, "json_depth_max", 64, 2, 1000, &depth)) ||
      (rc = cfg_uint(t, config, "json_elements_max", 250000, 1, 100000000, &elements))) {
    free(password_file);
    return rc;
  }
  const json_t *pt = json_object_get(config, "events_per_tenant");
  if (pt && !json_is_boolean(pt)) {
    free(password_file);
    t->host->set_error(t->inst, "events_per_tenant must be true or false");
    return EXECD_ECONFIG;
  }
  t->events_per_tenant = json_is_true(pt);
  t->redis.db = (int)db;
  t->redis.connect_timeout_ms = connect_ms;
  t->redis.command_timeout_ms = command_ms;
  t->redis.backoff_min_ms = 100;
  t->redis.backoff_max_ms = 5000;
  t->limits.message_max = (size_t)max_message;
  t->limits.depth_max = (size_t)depth;
  t->limits.elements_max = (size_t)elements;
  char err[512];
  if (uvredis_parse_address(t->address, &t->redis, err, sizeof err) != 0) {
    free(password_file);
    t->host->set_error(t->inst, "address %s", err);
    return EXECD_ECONFIG;
  }
  if (t->redis.user && !password_file) {
    t->host->set_error(t->inst, "user '%s' needs password_file", t->redis.user);
    return EXECD_ECONFIG;
  }
  if (password_file) {
    rc = uvredis_read_password(password_file, &t->redis.password, err, sizeof err);
    free(password_file);
    if (rc != 0) {
      t->host->set_error(t->inst, "password_file %s", err);
      return EXECD_ECONFIG;
    }
  }
  if (t->requests_channel && t->events_channel &&
      strcmp(t->requests_channel, t->events_channel) == 0) {
    t->host->set_error(t->inst, "requests_channel and events_channel are both '%s'",
                       t->events_channel);
    return EXECD_ECONFIG;
  }
  if (strcmp(t->requests_stream, t->events_stream) == 0 ||
      strcmp(t->requests_stream, t->dead_letter_stream) == 0) {
    t->host->set_error(t->inst, "requests_stream '%s' is also the events or dead-letter stream",
                       t->requests_stream);
    return EXECD_ECONFIG;
  }
  return 0;
}

static void rt_destroy(void *self);

static int rt_create(const execd_host *host, execd_instance *inst, const json_t *config,
                     void **self) {
  *self = NULL;
  rt *t = calloc(1, sizeof *t);
  if (!t) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  t->host = host;
  t->inst = inst;
  t->loop = host->loop(inst);
  if (!EXECD_HOST_HAS(host, authenticate)) {
    host->set_error(inst, "execd is older than ABI 1.5: it cannot authenticate tokens");
    rt_destroy(t);
    return EXECD_EABI;
  }
  int rc = configure(t, config);
  if (rc != 0) {
    rt_destroy(t);
    return rc;
  }
  *self = t;
  return 0;
}

/* check_config: create()'s configure() on a scratch instance (the password
 * file is read, as create() reads it; nothing connects). */
static int rt_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  rt *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  t->host = config_check_host();
  t->inst = config_check_begin(&ck, err, errlen);
  int rc = configure(t, config);
  rt_destroy(t);
  return config_check_end(&ck, rc);
}

static void on_cmd_state(void *arg, bool up, const char *why) {
  rt *t = arg;
  if (up) {
    t->host->log(t->inst, EXECD_LOG_NOTICE, "connected to redis at %s", t->address);
    events_flush(t);
    intake_cmd_up(t);
  } else {
    t->host->log(t->inst, EXECD_LOG_WARNING, "redis at %s: %s", t->address, why);
  }
}

static int rt_start(void *self) {
  rt *t = self;
  char err[512];
  /* A refused AUTH or SELECT is a configuration error: say so now rather
   * than retry forever.  A server that is away is waited for. */
  int probe = uvredis_probe(&t->redis, err, sizeof err);
  if (probe == UVREDIS_PROBE_REFUSED) {
    t->host->set_error(t->inst, "redis at %s: %s", t->address, err);
    return EXECD_ECONFIG;
  }
  if (probe == UVREDIS_PROBE_UNREACHABLE)
    t->host->log(t->inst, EXECD_LOG_WARNING, "redis at %s: %s; retrying in the background",
                 t->address, err);
  intake_init(t);
  t->cmd = uvredis_conn_new(t->loop, &t->redis, "redis commands", on_cmd_state, t);
  t->reader = uvredis_conn_new(t->loop, &t->redis, "redis reads", intake_reader_state, t);
  if (t->requests_channel)
    t->sub = uvredis_conn_new(t->loop, &t->redis, "redis subscription", plain_state, t);
  if (!t->cmd || !t->reader || (t->requests_channel && !t->sub)) {
    t->host->set_error(t->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  reclaim_start(t);
  char tenant[RT_TENANT_MAX + 1];
  if (t->host->authenticate(t->inst, NULL, 0, tenant, sizeof tenant) == 0)
    t->host->log(t->inst, EXECD_LOG_WARNING,
                 "no daemon.tokens_file: every message is tenant \"%s\", whoever can write to "
                 "'%s'%s%s can run executions",
                 tenant, t->requests_stream, t->requests_channel ? " or publish on " : "",
                 t->requests_channel ? t->requests_channel : "");
  t->host->log(t->inst, EXECD_LOG_INFO,
               "consumer '%s' of group '%s' on stream '%s'%s%s; events on '%s'", t->consumer,
               t->group, t->requests_stream, t->requests_channel ? ", channel " : "",
               t->requests_channel ? t->requests_channel : "", t->events_stream);
  return 0;
}

static void rt_stop(void *self) {
  rt *t = self;
  t->stopping = true;
  reclaim_stop(t);
  intake_stop(t);
  uvredis_conn_close(t->cmd);
  uvredis_conn_close(t->reader);
  uvredis_conn_close(t->sub);
  t->cmd = t->reader = t->sub = NULL;
}

static void rt_destroy(void *self) {
  rt *t = self;
  if (!t)
    return;
  intake_free(t);
  events_clear(t);
  uvredis_config_clear(&t->redis);
  free(t->address);
  free(t->consumer);
  free(t->group);
  free(t->requests_stream);
  free(t->requests_channel);
  free(t->events_stream);
  free(t->events_channel);
  free(t->dead_letter_stream);
  free(t);
}

static int rt_health(void *self) {
  rt *t = self;
  uvredis_conn *down = !t->cmd                    ? NULL
                       : !uvredis_conn_up(t->cmd)    ? t->cmd
                       : !uvredis_conn_up(t->reader) ? t->reader
                       : t->sub && !uvredis_conn_up(t->sub) ? t->sub
                                                            : NULL;
  if (!t->cmd) {
    t->host->set_error(t->inst, "not started");
    return EXECD_EUNAVAIL;
  }
  if (down) {
    t->host->set_error(t->inst, "redis at %s: %s", t->address, uvredis_conn_error(down));
    return EXECD_EUNAVAIL;
  }
  return 0;
}

int rt_command(rt *t, uvredis_reply_cb cb, void *arg, int argc, const char **argv,
               const size_t *lens) {
  if (!t->cmd)
    return -1;
  return uvredis_command(t->cmd, 0, cb, arg, argc, argv, lens);
}

int rt_authenticate(entry *e) {
  /* The daemon decides (daemon.tokens_file); without a tokens file every
   * message is tenant "anonymous", token or not. */
  rt *t = e->t;
  const char *token = e->msg.token;
  if (t->host->authenticate(t->inst, token, token ? strlen(token) : 0, e->tenant,
                            sizeof e->tenant) == 0)
    return 0;
  e->tenant[0] = '\0';
  intake_reject(e, "unauthorized", "token",
                token ? "the token is not valid"
                      : "a token is required (the message's token field)");
  return -1;
}

/* Every execution event, whichever transport submitted it. */
static void rt_publish(void *self, const char *type, const json_t *event) {
  rt *t = self;
  if (t->stopping)
    return;
  events_send(t, json_string_value(json_object_get(event, "tenant")), type, event, NULL, NULL);
}

/* ---- descriptor ---------------------------------------------------------------- */

static const execd_transport_ops rt_ops = {
    .struct_size = sizeof(execd_transport_ops),
    .publish = rt_publish,
    .health = rt_health,
};

static const execd_plugin rt_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_TRANSPORT,
    .name = "redis",
    .version = PACKAGE_VERSION,
    .description = "Redis streams and pub/sub: requests in, events out (hiredis on the execd loop)",
    .config_keys = redis_config_keys,
    .create = rt_create,
    .start = rt_start,
    .stop = rt_stop,
    .destroy = rt_destroy,
    .reload = NULL,
    .ops = &rt_ops,
    .check_config = rt_check_config,
};

EXECD_PLUGIN_DEFINE(rt_plugin)
