/* Agents' contracts (contract.h): the input and output checks of the
 * pipeline, with the schemas the agent compiled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "contract.h"
#include "execd/error.h"
#include "jsonschema/jsonschema.h"
#include "log.h"
#include "request.h"
#include "xalloc.h"

static const char *const schema_names[] = {"schema_in", "schema_out"};

/* The compiled schema for doc, the k-th schema of the execution: the
 * agent's, compiled when it was loaded, when doc is still what the agent
 * has (after a restart a record may carry a schema the catalog no longer
 * has: that one is compiled now, into *own). */
static const jsonschema *schema_for(const agent *a, const json_t *doc, enum agent_schema_kind k,
                                    jsonschema **own) {
  *own = NULL;
  const json_t *mine = a ? json_object_get(agent_def(a), schema_names[k]) : NULL;
  if (mine && (mine == doc || json_equal((json_t *)mine, (json_t *)doc)))
    return agent_schema(a, k);
  char err[512];
  jsonschema_options o = {.format_assertion = agent_format_assertion(a)};
  *own = jsonschema_compile((json_t *)doc, &o, NULL, err, sizeof err);
  if (!*own)
    log_msg(EXECD_LOG_WARNING, "contract", "agent '%s': the %s of an execution does not compile: %s",
            a ? agent_name(a) : "(none)", schema_names[k], err);
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

int contract_check_input(const agent *a, const json_t *req, const json_t *spec,
                         request_error *e, json_t **details) {
  *details = NULL;
  const json_t *doc = json_object_get(spec, "schema_in");
  if (!doc)
    return 0;
  jsonschema *own;
  const jsonschema *s = schema_for(a, doc, AGENT_SCHEMA_IN, &own);
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

json_t *contract_check_output(const agent *a, const json_t *record, const json_t *output) {
  const json_t *doc = json_object_get(json_object_get(record, "spec"), "schema_out");
  if (!doc)
    return NULL;
  jsonschema *own;
  const jsonschema *s = schema_for(a, doc, AGENT_SCHEMA_OUT, &own);
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
