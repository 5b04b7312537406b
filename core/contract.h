/* Agents' contracts: their schema_in and schema_out (JSON Schema draft
 * 2020-12, lib/jsonschema), compiled once when the agent is loaded
 * (agent.c, at config load or a reload of the catalog), and the two
 * checks of the pipeline that use them: a request's input.data at submit
 * (refused with 422 input_invalid) and the output document when an
 * attempt ends (FAILED output_invalid, not retried).  Both answer with
 * the validator's errors, {"errors": [{"instanceLocation",
 * "keywordLocation", "error"}, ...]}.  Nothing here blocks: validation is
 * bounded work on values already in memory. */
#ifndef EXECD_CORE_CONTRACT_H
#define EXECD_CORE_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct agent;
struct request_error;

/* Checks req's input.data (null when absent) against spec's schema_in,
 * which is a's (the request's agent, NULL for none): its compiled
 * schema is used.
 * Returns 0 when valid or no schema applies; else -1 with e filled
 * (EXECD_EUNPROC, "input_invalid", field "input.data", a message naming
 * the first error's pointers) and *details a new {"errors": [...]}. */
int contract_check_input(const struct agent *a, const json_t *req, const json_t *spec,
                         struct request_error *e, json_t **details);

/* Checks output (the output document, null when there is none) against
 * the schema_out of record's spec: a's compiled one when it is the
 * same document (a: the one the execution was accepted with, or for
 * an execution recovered after a restart the catalog's agent of that
 * name, or NULL), else the record's, compiled now.  Returns NULL when valid or no schema
 * applies, else a new error object {"code": "output_invalid", "message",
 * "details": {"errors": [...]}} for the record. */
json_t *contract_check_output(const struct agent *a, const json_t *record,
                              const json_t *output);

#endif
