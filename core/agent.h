/* One agent: its normalised definition (what GET /v1/agents shows), where
 * it was defined (inline in execd.conf or a file of daemon.agents_dir) and
 * its schema_in and schema_out compiled (lib/jsonschema).  Reference
 * counted: the catalog holds one reference, and so does every execution
 * accepted with the agent, so that a reload of the catalog never changes
 * nor frees what a queued or running execution was accepted with.  The
 * object never changes after agent_new(); its references are taken and
 * dropped on the loop only. */
#ifndef EXECD_CORE_AGENT_H
#define EXECD_CORE_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "jsonschema/jsonschema.h"

typedef struct agent agent;

enum agent_schema_kind { AGENT_SCHEMA_IN, AGENT_SCHEMA_OUT };

/* Longest agent name; names are [A-Za-z0-9._-] (agent_name_valid). */
#define AGENT_NAME_MAX 128

/* 1 if name is 1..AGENT_NAME_MAX characters of A-Z a-z 0-9 . _ - and does
 * not start with '.'. */
bool agent_name_valid(const char *name);

/* A new agent (one reference) from def, a normalised definition holding at
 * least "name" (stolen); file is the agent file's name within agents_dir,
 * or NULL for an inline agent.  The schemas are compiled here, with
 * "format" an assertion when def has format_assertion true.  On a schema
 * that does not compile returns NULL with *which set to "schema_in" or
 * "schema_out" and err to "<JSON Pointer>: <reason>"; def is freed. */
agent *agent_new(json_t *def, const char *file, const char **which, char *err, size_t errlen);

agent *agent_ref(agent *a);
void agent_unref(agent *a);

const char *agent_name(const agent *a);
/* "inline" or "file". */
const char *agent_source(const agent *a);
/* The file's name within agents_dir; NULL for an inline agent. */
const char *agent_file(const agent *a);
/* The definition, borrowed: name, description, version, backend, image,
 * command, working_dir, user, io, environment, resources, schema_in,
 * schema_out, format_assertion (members the agent does not set absent). */
const json_t *agent_def(const agent *a);
/* The compiled schema, or NULL when the agent has none. */
const jsonschema *agent_schema(const agent *a, enum agent_schema_kind k);
bool agent_format_assertion(const agent *a);
/* A new object for the API: the definition with "source" (and "file"). */
json_t *agent_view(const agent *a);

#endif
