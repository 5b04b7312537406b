/* URL routing and the handlers of the HTTP API (doc/api.md).  Each handler
 * validates what it can (id, query parameters) and calls the host; the
 * reply functions below turn host replies into responses. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

#define WAIT_MAX_S 3600   /* ?wait= upper bound */
#define LIST_LIMIT_MAX 1000

typedef void (*handler_fn)(http_request *req);

struct http_route {
  const char *pattern; /* "{id}" matches one path segment */
  const char *method;
  handler_fn handler;
  int auth;            /* needs a tenant (bearer token when configured) */
  int body;            /* keeps the request body */
  const char *const *params; /* allowed query parameters, NULL-terminated */
};

/* ---- reply functions ------------------------------------------------------ */

static void reply_document(http_request *req, const execd_reply *r) {
  http_answer a = {0, NULL};
  if (r->status != 0)
    answer_reply_error(&a, r);
  else if (r->body)
    answer_json(&a, MHD_HTTP_OK, r->body);
  else
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                 "the core returned no document", NULL);
  request_answer(req, &a);
}

static void add_location(http_answer *a, const json_t *doc) {
  const char *id = json_string_value(json_object_get(doc, "execution_id"));
  if (!id)
    id = json_string_value(json_object_get(doc, "id"));
  if (!id || strlen(id) > 128)
    return;
  char loc[160];
  snprintf(loc, sizeof loc, "/v1/executions/%s", id);
  answer_header(a, MHD_HTTP_HEADER_LOCATION, loc);
}

static void reply_submit(http_request *req, const execd_reply *r) {
  http_answer a = {0, NULL};
  int replay = r->code && strcmp(r->code, "idempotent_replay") == 0;
  if (r->status == 0 && r->body && !replay) {
    answer_json(&a, MHD_HTTP_CREATED, r->body);
    add_location(&a, r->body);
  } else if ((r->status == 0 || r->status == EXECD_EEXIST) && r->body) {
    /* Idempotency hit: the execution created earlier with the same key. */
    answer_json(&a, MHD_HTTP_OK, r->body);
    add_location(&a, r->body);
  } else if (r->status == 0) {
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                 "the core returned no document", NULL);
  } else {
    answer_reply_error(&a, r);
  }
  request_answer(req, &a);
}

static void reply_remove(http_request *req, const execd_reply *r) {
  if (r->status != 0 || r->body) {
    reply_document(req, r);
    return;
  }
  http_answer a = {0, NULL};
  json_t *doc = json_pack("{s:s, s:b}", "execution_id", req->id, "deleted", 1);
  answer_json(&a, MHD_HTTP_OK, doc);
  json_decref(doc);
  request_answer(req, &a);
}

static void reply_readyz(http_request *req, const execd_reply *r) {
  http_answer a = {0, NULL};
  if (r->status != 0) {
    answer_error(&a, MHD_HTTP_SERVICE_UNAVAILABLE, r->code,
                 r->message ? r->message : execd_strerror(r->status), NULL);
  } else if (!json_is_object(r->body)) {
    answer_error(&a, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                 "the core returned no health document", NULL);
  } else {
    int ready = json_is_true(json_object_get(r->body, "ready"));
    answer_json(&a, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, r->body);
  }
  request_answer(req, &a);
}

static void reply_metrics(http_request *req, const execd_reply *r) {
  http_answer a = {0, NULL};
  if (r->status != 0)
    answer_reply_error(&a, r);
  else if (!json_is_string(r->body))
    answer_error(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                 "the core returned no metrics text", NULL);
  else
    answer_text(&a, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                json_string_value(r->body), json_string_length(r->body));
  request_answer(req, &a);
}

/* Non-follow events: the state history of the execution document. */
static void reply_events(http_request *req, const execd_reply *r) {
  if (r->status != 0 || !json_is_object(r->body)) {
    reply_document(req, r);
    return;
  }
  json_t *history = json_object_get(r->body, "history");
  if (!json_is_array(history))
    history = json_object_get(r->body, "state_history");
  json_t *events = json_is_array(history) ? json_incref(history) : json_array();
  json_t *doc = json_pack("{s:s, s:O?, s:o}", "execution_id", req->id, "state",
                          json_object_get(r->body, "state"), "events", events);
  http_answer a = {0, NULL};
  answer_json(&a, MHD_HTTP_OK, doc);
  json_decref(doc);
  request_answer(req, &a);
}

/* ---- helpers ---------------------------------------------------------------- */

static const execd_host *H(http_request *req) { return req->srv->host; }

static void call_begin(http_request *req, http_reply_fn fn) {
  req->on_reply = fn;
  request_ref(req); /* for request_on_reply */
}

static void fail(http_request *req, unsigned status, const char *message,
                 const char *field) {
  http_answer a = {0, NULL};
  answer_error(&a, status, NULL, message, field);
  request_answer(req, &a);
}

/* Query argument; *present tells "?follow" (no value) from absent. */
static const char *arg(http_request *req, const char *name, int *present) {
  const char *v = NULL;
  size_t vlen = 0;
  enum MHD_Result found = MHD_lookup_connection_value_n(
      req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, &vlen);
  if (present)
    *present = found == MHD_YES;
  return found == MHD_YES ? v : NULL;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20)
    return -1;
  uint64_t v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9')
      return -1;
    uint64_t d = (uint64_t)(*c - '0');
    if (v > (max - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* Parse a boolean query flag; returns -1 if malformed. */
static int arg_flag(http_request *req, const char *name) {
  int present = 0;
  const char *v = arg(req, name, &present);
  if (!present)
    return 0;
  if (!v || !*v || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
      strcasecmp(v, "yes") == 0)
    return 1;
  if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 ||
      strcasecmp(v, "no") == 0)
    return 0;
  return -1;
}

static int bad_flag(http_request *req, const char *name) {
  char msg[96];
  snprintf(msg, sizeof msg, "'%s' must be 1/true or 0/false", name);
  fail(req, MHD_HTTP_BAD_REQUEST, msg, name);
  return 1;
}

/* ---- handlers ------------------------------------------------------------- */

static void h_healthz(http_request *req) {
  http_answer a = {0, NULL};
  json_t *doc = json_pack("{s:s}", "status", "ok");
  answer_json(&a, MHD_HTTP_OK, doc);
  json_decref(doc);
  request_answer(req, &a);
}

static void h_readyz(http_request *req) {
  call_begin(req, reply_readyz);
  request_after_call(req, H(req)->health(req->srv->inst, request_on_reply, req));
}

static void h_metrics(http_request *req) {
  call_begin(req, reply_metrics);
  request_after_call(req,
                     H(req)->metrics(req->srv->inst, request_on_reply, req));
}

static void h_agents(http_request *req) {
  call_begin(req, reply_document);
  request_after_call(req, H(req)->agents(req->srv->inst, request_on_reply, req));
}

/* One agent: its entry of the host's list, or 404 unknown_agent. */
static void reply_agent(http_request *req, const execd_reply *r) {
  if (r->status != 0 || !r->body) {
    reply_document(req, r);
    return;
  }
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(r->body, "agents"), i, a) {
    if (json_is_string(json_object_get(a, "name")) &&
        strcmp(json_string_value(json_object_get(a, "name")), req->agent) == 0) {
      http_answer ans = {0, NULL};
      answer_json(&ans, MHD_HTTP_OK, a);
      request_answer(req, &ans);
      return;
    }
  }
  char msg[200];
  snprintf(msg, sizeof msg, "no agent is named '%s' (GET /v1/agents lists them)", req->agent);
  http_answer ans = {0, NULL};
  answer_error(&ans, MHD_HTTP_NOT_FOUND, "unknown_agent", msg, "name");
  request_answer(req, &ans);
}

static void h_agent(http_request *req) {
  call_begin(req, reply_agent);
  request_after_call(req, H(req)->agents(req->srv->inst, request_on_reply, req));
}

static void h_submit(http_request *req) {
  uint64_t wait = 0;
  int present = 0;
  const char *w = arg(req, "wait", &present);
  if (present && parse_u64(w, WAIT_MAX_S, &wait) != 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "'wait' must be a number of seconds 0-%d",
             WAIT_MAX_S);
    fail(req, MHD_HTTP_BAD_REQUEST, msg, "wait");
    return;
  }
  if (req->body_len == 0) {
    fail(req, MHD_HTTP_BAD_REQUEST, "the request body is empty", NULL);
    return;
  }
  call_begin(req, reply_submit);
  request_after_call(req, H(req)->submit(req->srv->inst, req->tenant,
                                         req->body, req->body_len,
                                         (unsigned)wait, request_on_reply,
                                         req));
}

static void h_list(http_request *req) {
  execd_list_query q;
  memset(&q, 0, sizeof q);
  q.struct_size = sizeof q;
  q.tenant = req->tenant;
  q.state = arg(req, "state", NULL);
  q.agent = arg(req, "agent", NULL);
  q.cursor = arg(req, "cursor", NULL);
  q.created_after = arg(req, "created_after", NULL);
  q.created_before = arg(req, "created_before", NULL);
  int present = 0;
  const char *limit = arg(req, "limit", &present);
  if (present) {
    uint64_t v;
    if (parse_u64(limit, LIST_LIMIT_MAX, &v) != 0 || v == 0) {
      char msg[96];
      snprintf(msg, sizeof msg, "'limit' must be a number 1-%d",
               LIST_LIMIT_MAX);
      fail(req, MHD_HTTP_BAD_REQUEST, msg, "limit");
      return;
    }
    q.limit = (unsigned)v;
  }
  const char *label = arg(req, "label", &present);
  if (present) {
    size_t k = label ? strcspn(label, ":=") : 0;
    if (!label || k == 0 || label[k] == '\0') {
      fail(req, MHD_HTTP_BAD_REQUEST,
           "'label' must be KEY:VALUE or KEY=VALUE", "label");
      return;
    }
    req->label_key = strndup(label, k);
    req->label_value = strdup(label + k + 1);
    if (!req->label_key || !req->label_value) {
      fail(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
      return;
    }
    q.label_key = req->label_key;
    q.label_value = req->label_value;
  }
  static const char *const strings[] = {"state", "agent", "cursor",
                                        "created_after", "created_before"};
  for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
    const char *v = arg(req, strings[i], &present);
    if (present && (!v || !*v)) {
      char msg[96];
      snprintf(msg, sizeof msg, "'%s' must not be empty", strings[i]);
      fail(req, MHD_HTTP_BAD_REQUEST, msg, strings[i]);
      return;
    }
  }
  call_begin(req, reply_document);
  request_after_call(req, H(req)->list(req->srv->inst, req->tenant, &q,
                                       request_on_reply, req));
}

/* GET /v1/usage?from=&to=&group_by=tenant|agent (ABI 1.5). */
static void h_usage(http_request *req) {
  static const char *const strings[] = {"from", "to", "group_by"};
  int present = 0;
  for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
    const char *v = arg(req, strings[i], &present);
    if (present && (!v || !*v)) {
      char msg[96];
      snprintf(msg, sizeof msg, "'%s' must not be empty", strings[i]);
      fail(req, MHD_HTTP_BAD_REQUEST, msg, strings[i]);
      return;
    }
  }
  if (!EXECD_HOST_HAS(H(req), usage) || !H(req)->usage) {
    fail(req, MHD_HTTP_NOT_FOUND, "this execd keeps no usage (ABI older than 1.5)", NULL);
    return;
  }
  call_begin(req, reply_document);
  request_after_call(req, H(req)->usage(req->srv->inst, req->tenant, arg(req, "from", NULL),
                                        arg(req, "to", NULL), arg(req, "group_by", NULL),
                                        request_on_reply, req));
}

static void h_get(http_request *req) {
  call_begin(req, reply_document);
  request_after_call(req, H(req)->get(req->srv->inst, req->tenant, req->id,
                                      request_on_reply, req));
}

static void h_remove(http_request *req) {
  call_begin(req, reply_remove);
  request_after_call(req, H(req)->remove(req->srv->inst, req->tenant, req->id,
                                         request_on_reply, req));
}

static void h_cancel(http_request *req) {
  call_begin(req, reply_document);
  request_after_call(req, H(req)->cancel(req->srv->inst, req->tenant, req->id,
                                         request_on_reply, req));
}

static void h_logs(http_request *req) {
  int follow = arg_flag(req, "follow");
  if (follow < 0 && bad_flag(req, "follow"))
    return;
  int timestamps = arg_flag(req, "timestamps");
  if (timestamps < 0 && bad_flag(req, "timestamps"))
    return;
  uint64_t offset = 0;
  int present = 0;
  const char *o = arg(req, "offset", &present);
  if (present && parse_u64(o, UINT64_MAX, &offset) != 0) {
    fail(req, MHD_HTTP_BAD_REQUEST, "'offset' must be a byte offset (0, 1, ...)",
         "offset");
    return;
  }
  /* A HEAD request gets the headers of the plain listing. */
  if (strcmp(req->method, MHD_HTTP_METHOD_HEAD) == 0)
    follow = 0;
  stream_logs_begin(req, offset, follow, timestamps);
}

static void h_events(http_request *req) {
  int follow = arg_flag(req, "follow");
  if (follow < 0 && bad_flag(req, "follow"))
    return;
  if (follow && strcmp(req->method, MHD_HTTP_METHOD_HEAD) != 0) {
    stream_events_begin(req);
    return;
  }
  call_begin(req, reply_events);
  request_after_call(req, H(req)->get(req->srv->inst, req->tenant, req->id,
                                      request_on_reply, req));
}

/* ---- the route table ------------------------------------------------------ */

static const char *const no_params[] = {NULL};
static const char *const submit_params[] = {"wait", NULL};
static const char *const list_params[] = {
    "state", "agent", "label", "cursor", "limit", "created_after",
    "created_before", NULL};
static const char *const logs_params[] = {"offset", "follow", "timestamps", NULL};
static const char *const events_params[] = {"follow", NULL};
static const char *const usage_params[] = {"from", "to", "group_by", NULL};

static const struct http_route routes[] = {
    {"/healthz", "GET", h_healthz, 0, 0, no_params},
    {"/readyz", "GET", h_readyz, 0, 0, no_params},
    {"/metrics", "GET", h_metrics, 0, 0, no_params},
    {"/v1/agents", "GET", h_agents, 1, 0, no_params},
    {"/v1/usage", "GET", h_usage, 1, 0, usage_params},
    {"/v1/agents/{name}", "GET", h_agent, 1, 0, no_params},
    {"/v1/executions", "GET", h_list, 1, 0, list_params},
    {"/v1/executions", "POST", h_submit, 1, 1, submit_params},
    {"/v1/executions/{id}", "GET", h_get, 1, 0, no_params},
    {"/v1/executions/{id}", "DELETE", h_remove, 1, 0, no_params},
    {"/v1/executions/{id}/logs", "GET", h_logs, 1, 0, logs_params},
    {"/v1/executions/{id}/events", "GET", h_events, 1, 0, events_params},
    {"/v1/executions/{id}/cancel", "POST", h_cancel, 1, 0, no_params},
};
#define N_ROUTES (sizeof routes / sizeof *routes)

/* Match path against pattern; the {id} or {name} segment is copied into
 * id (emptied when longer than idlen - 1: never valid). */
static int path_matches(const char *pattern, const char *path, char *id,
                        size_t idlen) {
  const char *p = pattern, *u = path;
  while (*p) {
    size_t token = strncmp(p, "{id}", 4) == 0 ? 4 : strncmp(p, "{name}", 6) == 0 ? 6 : 0;
    if (token) {
      size_t n = strcspn(u, "/");
      if (n == 0)
        return 0;
      snprintf(id, idlen, "%.*s", (int)(n < idlen ? n : idlen - 1), u);
      if (n >= idlen)
        id[0] = '\0'; /* too long: invalid id */
      u += n;
      p += token;
      continue;
    }
    if (*p != *u)
      return 0;
    p++;
    u++;
  }
  /* One trailing slash is tolerated. */
  return *u == '\0' || (u[0] == '/' && u[1] == '\0');
}

/* What the core allows in an agent's name (agent.h). */
static int valid_agent_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > HTTP_AGENT_NAME_MAX || name[0] == '.')
    return 0;
  return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int valid_id(const char *id) {
  if (strlen(id) != HTTP_ID_LEN)
    return 0;
  for (const char *c = id; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || *c == '-'))
      return 0;
  return 1;
}

typedef struct param_check {
  const char *const *allowed;
  char unknown[64];
} param_check;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value) {
  param_check *pc = cls;
  (void)kind;
  (void)value;
  for (const char *const *a = pc->allowed; *a; a++)
    if (strcmp(*a, key) == 0)
      return MHD_YES;
  snprintf(pc->unknown, sizeof pc->unknown, "%s", key);
  return MHD_NO;
}

static int authenticate(http_request *req) {
  http_server *srv = req->srv;
  const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);
  const char *token = NULL;
  if (h && strncasecmp(h, "Bearer ", 7) == 0) {
    token = h + 7;
    while (*token == ' ')
      token++;
  }
  size_t len = token ? strcspn(token, " \t") : 0;
  /* RFC 6750: "Bearer" SP token, nothing after it but white space.  A
   * malformed header is a token no tenant has. */
  if (token && token[len + strspn(token + len, " \t")] != '\0')
    len = 0;
  /* The daemon decides (without a tokens file everyone is anonymous). */
  if (srv->host->authenticate(srv->inst, token, len, req->tenant,
                              sizeof req->tenant) == 0)
    return 0;
  http_answer a = {0, NULL};
  answer_error(&a, MHD_HTTP_UNAUTHORIZED, NULL,
               token ? "the bearer token is not valid"
                     : "a bearer token is required (Authorization: Bearer TOKEN)",
               NULL);
  answer_header(&a, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                token ? "Bearer realm=\"execd\", error=\"invalid_token\""
                      : "Bearer realm=\"execd\"");
  request_answer(req, &a);
  return 1;
}

/* Content types accepted for a JSON body: application/json and
 * application/<anything>+json; a missing Content-Type is accepted. */
static int json_content_type(const char *ct) {
  if (!ct)
    return 1;
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
    n--;
  if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
    return 1;
  if (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
      strncasecmp(ct + n - 5, "+json", 5) == 0)
    return 1;
  return 0;
}

int routes_begin(http_request *req, const char *url, const char *method) {
  http_server *srv = req->srv;
  char id[HTTP_AGENT_NAME_MAX + 2] = ""; /* {id} or {name} */
  const char *head_as = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0 ? "GET" : method;
  int path_found = 0;
  char allow[64] = "";
  for (size_t i = 0; i < N_ROUTES; i++) {
    if (!path_matches(routes[i].pattern, url, id, sizeof id))
      continue;
    path_found = 1;
    if (strcmp(routes[i].method, head_as) == 0) {
      req->route = &routes[i];
      break;
    }
    if (!strstr(allow, routes[i].method)) {
      size_t n = strlen(allow);
      snprintf(allow + n, sizeof allow - n, "%s%s%s", n ? ", " : "",
               routes[i].method,
               strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
    }
  }
  if (!req->route) {
    http_answer a = {0, NULL};
    if (!path_found) {
      char msg[160];
      snprintf(msg, sizeof msg, "no such endpoint: %.120s", url);
      answer_error(&a, MHD_HTTP_NOT_FOUND, NULL, msg, NULL);
    } else {
      char msg[128];
      snprintf(msg, sizeof msg, "method %.16s is not allowed here (allowed: %s)",
               method, allow);
      answer_error(&a, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, msg, NULL);
      answer_header(&a, MHD_HTTP_HEADER_ALLOW, allow);
    }
    request_answer(req, &a);
    return 1;
  }
  const struct http_route *r = req->route;
  if (r->auth && authenticate(req))
    return 1;
  if (strstr(r->pattern, "{id}")) {
    if (!valid_id(id)) {
      /* The same code as the core's for an id it cannot parse. */
      http_answer a = {0, NULL};
      answer_error(&a, MHD_HTTP_BAD_REQUEST, "invalid_id",
                   "the execution id must be 36 characters of 0-9, a-f and '-'",
                   "id");
      request_answer(req, &a);
      return 1;
    }
    memcpy(req->id, id, HTTP_ID_LEN);
    req->id[HTTP_ID_LEN] = '\0';
  }
  if (strstr(r->pattern, "{name}")) {
    if (!valid_agent_name(id)) {
      http_answer a = {0, NULL};
      answer_error(&a, MHD_HTTP_NOT_FOUND, "unknown_agent",
                   "no agent has that name (names are 1 to 128 of A-Z a-z 0-9 . _ -)", "name");
      request_answer(req, &a);
      return 1;
    }
    memcpy(req->agent, id, strlen(id) + 1); /* valid: at most HTTP_AGENT_NAME_MAX */
  }
  param_check pc = {r->params, ""};
  MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
  if (pc.unknown[0]) {
    char msg[128];
    snprintf(msg, sizeof msg, "unknown query parameter '%s'", pc.unknown);
    fail(req, MHD_HTTP_BAD_REQUEST, msg, pc.unknown);
    return 1;
  }
  if (r->body) {
    const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!json_content_type(ct)) {
      char msg[256];
      /* curl -d sends this type unless told otherwise. */
      int form = strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
      snprintf(msg, sizeof msg,
               "the request body must be application/json, not %.100s%s", ct,
               form ? " (with curl -d, add -H 'Content-Type: application/json')"
                    : "");
      fail(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, msg, NULL);
      return 1;
    }
  }
  const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  uint64_t declared;
  if (cl && parse_u64(cl, UINT64_MAX, &declared) == 0 &&
      declared > srv->max_body) {
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than %llu bytes",
             (unsigned long long)srv->max_body);
    fail(req, HTTP_STATUS_TOO_LARGE, msg, NULL);
    return 1;
  }
  return 0;
}

int routes_wants_body(const http_request *req) {
  return req->route && req->route->body;
}

void routes_dispatch(http_request *req) { req->route->handler(req); }
