/* Agents' contracts: their schema_in and schema_out (JSON Schema draft
 * 2020-12, lib/jsonschema) compiled once at config load, and the two
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

typedef struct contracts contracts;
struct request_error;

contracts *contracts_new(void);
void contracts_free(contracts *cs);

/* Compiles an agent's schemas (either may be NULL); with format_assertion
 * "format" is checked, not only annotated.  Returns 0, or -1 with *which
 * set to "schema_in" or "schema_out" and err to what is wrong (a JSON
 * Pointer into that schema and the reason). */
int contracts_add(contracts *cs, const char *agent, json_t *schema_in, json_t *schema_out,
                  bool format_assertion, const char **which, char *err, size_t errlen);

/* Checks req's input.data (null when absent) against spec's schema_in.
 * Returns 0 when valid or no schema applies; else -1 with e filled
 * (EXECD_EUNPROC, "input_invalid", field "input.data", a message naming
 * the first error's pointers) and *details a new {"errors": [...]}. */
int contract_check_input(const contracts *cs, const json_t *req, const json_t *spec,
                         struct request_error *e, json_t **details);

/* Checks output (the output document, null when there is none) against
 * the schema_out of record's spec.  Returns NULL when valid or no schema
 * applies, else a new error object {"code": "output_invalid", "message",
 * "details": {"errors": [...]}} for the record. */
json_t *contract_check_output(const contracts *cs, const json_t *record, const json_t *output);

#endif
