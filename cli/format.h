/* execctl's output: documents as JSON (--json) or as text for people. */
#ifndef EXECCTL_FORMAT_H
#define EXECCTL_FORMAT_H

#include <stdio.h>

#include <jansson.h>

/* The document as indented JSON and a newline. */
void format_json(FILE *out, const json_t *doc);

/* One execution document as "name: value" lines, then its history. */
void format_execution(FILE *out, const json_t *doc);

/* A page of GET /v1/executions as a table, one execution per line, and the
 * cursor of the next page if there is one. */
void format_execution_table(FILE *out, const json_t *page);

/* The answer of GET /readyz: "ready" or "not ready", then each component. */
void format_readiness(FILE *out, const char *url, const json_t *ready);
/* GET /v1/usage's groups, one line each. */
void format_usage_table(FILE *out, const json_t *doc);

/* The answer of GET /v1/agents as a table, one agent per line. */
void format_agent_table(FILE *out, const json_t *list);

/* One agent of GET /v1/agents/NAME: its settings, then its schemas. */
void format_agent(FILE *out, const json_t *agent);

/* "5.20 s", "320 ms" or "2 h 05 min" for a duration in milliseconds. */
void format_duration(char *buf, size_t len, long long ms);

#endif
