/* Agents' contracts (contract.h): compiled schemas by agent, and the
 * input and output checks of the pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "execd/error.h"
#include "jsonschema/jsonschema.h"
#include "log.h"
#include "request.h"
#include "xalloc.h"

typedef struct contract {
  char *agent;
  json_t *doc[2];        /* schema_in, schema_out as configured (references) */
  jsonschema *schema[2]; /* compiled */
  bool format_assertion;
} contract;

struct contracts {
  contract *v;
  size_t n;
};

enum { SCHEMA_IN, SCHEMA_OUT };
static const char *const schema_names[] = {"schema_in", "schema_out"};

contracts *contracts_new(void) { return xcalloc(1, sizeof(contracts)); }

void contracts_free(contracts *cs) {
  if (!cs)
    return;
  for (size_t i = 0; i < cs->n; i++) {
    free(cs->v[i].agent);
    for (int k = 0; k < 2; k++) {
      json_decref(cs->v[i].doc[k]);
      jsonschema_free(cs->v[i].schema[k]);
    }
  }
  free(cs->v);
  free(cs);
}

static jsonschema *compile(json_t *doc, bool format_assertion, char *err, size_t errlen) {
  jsonschema_options o = {.format_assertion = format_assertion};
  return jsonschema_compile(doc, &o, NULL, err, errlen);
}

int contracts_add(contracts *cs, const char *agent, json_t *schema_in, json_t *schema_out,
                  bool format_assertion, const char **which, char *err, size_t errlen) {
  contract c = {.format_assertion = format_assertion};
  json_t *docs[2] = {schema_in, schema_out};
  for (int k = 0; k < 2; k++) {
    if (!docs[k])
      continue;
    if (!(c.schema[k] = compile(docs[k], format_assertion, err, errlen))) {
      *which = schema_names[k];
      jsonschema_free(c.schema[SCHEMA_IN]); /* schema_in compiled, schema_out not */
      json_decref(c.doc[SCHEMA_IN]);
      return -1;
    }
    c.doc[k] = json_incref(docs[k]);
  }
  c.agent = xstrdup(agent);
  cs->v = xrealloc(cs->v, (cs->n + 1) * sizeof *cs->v);
  cs->v[cs->n++] = c;
  return 0;
}

/* The compiled schema for doc, the k-th schema of agent: the one compiled
 * at config load when doc is still what the agent has (after a restart a
 * record may carry a schema the config no longer has: that one is
 * compiled now, into *own). */
static const jsonschema *schema_for(const contracts *cs, const char *agent, const json_t *doc,
                                    int k, jsonschema **own) {
  *own = NULL;
  bool format_assertion = false;
  for (size_t i = 0; cs && agent && i < cs->n; i++) {
    const contract *c = &cs->v[i];
    if (strcmp(c->agent, agent) != 0)
      continue;
    if (c->doc[k] && (c->doc[k] == doc || json_equal(c->doc[k], (json_t *)doc)))
      return c->schema[k];
    format_assertion = c->format_assertion;
  }
  char err[512];
  *own = compile((json_t *)doc, format_assertion, err, sizeof err);
  if (!*own)
    log_msg(EXECD_LOG_WARNING, "contract", "agent '%s': the %s of an execution does not compile: %s",
            agent ? agent : "(none)", schema_names[k], err);
  return *own;
}

/* "<first error's instance pointer>: <error> (keyword <keyword pointer>)". */
static void describe(const json_t *errors, char *out, size_t outlen) {
  const json_t *first = json_array_get(errors, 0);
  const char *inst = json_string_value(json_object_get(first, "instanceLocation"));
  const char *kw = json_string_value(json_object_get(first, "keywordLocation"));
  const char *why = json_string_value(json_object_get(first, "error"));
  size_t n = json_array_size(errors);
  snprintf(out, outlen, "at '%s': %s (keyword '%s')%s", inst ? inst : "", why ? why : "invalid",
           kw ? kw : "", n > 1 ? "; details.errors lists every error" : "");
}

int contract_check_input(const contracts *cs, const json_t *req, const json_t *spec,
                         request_error *e, json_t **details) {
  *details = NULL;
  const json_t *doc = json_object_get(spec, "schema_in");
  if (!doc)
    return 0;
  jsonschema *own;
  const jsonschema *s = schema_for(cs, json_string_value(json_object_get(req, "agent")), doc,
                                   SCHEMA_IN, &own);
  const json_t *data = json_object_get(json_object_get(req, "input"), "data");
  json_t *errors = NULL;
  int ok = s ? jsonschema_validate(s, data ? data : json_null(), &errors) : 0;
  jsonschema_free(own);
  if (ok)
    return 0;
  char why[400];
  if (errors)
    describe(errors, why, sizeof why);
  else
    snprintf(why, sizeof why, "the agent's schema_in does not compile");
  e->status = EXECD_EUNPROC;
  snprintf(e->code, sizeof e->code, "input_invalid");
  snprintf(e->field, sizeof e->field, "input.data");
  snprintf(e->message, sizeof e->message, "does not match the agent's schema_in: %s", why);
  *details = json_pack("{s:o}", "errors", errors ? errors : json_array());
  return -1;
}

json_t *contract_check_output(const contracts *cs, const json_t *record, const json_t *output) {
  const json_t *doc = json_object_get(json_object_get(record, "spec"), "schema_out");
  if (!doc)
    return NULL;
  jsonschema *own;
  const jsonschema *s = schema_for(cs, json_string_value(json_object_get(record, "agent")), doc,
                                   SCHEMA_OUT, &own);
  json_t *errors = NULL;
  int ok = s ? jsonschema_validate(s, output ? output : json_null(), &errors) : 0;
  jsonschema_free(own);
  if (ok)
    return NULL;
  char why[400], msg[512];
  if (errors)
    describe(errors, why, sizeof why);
  else
    snprintf(why, sizeof why, "the agent's schema_out does not compile");
  snprintf(msg, sizeof msg, "the output document does not match the agent's schema_out: %s", why);
  return json_pack("{s:s, s:s, s:{s:o}}", "code", "output_invalid", "message", msg, "details",
                   "errors", errors ? errors : json_array());
}
