/* The catalog of agents: the inline agents of execd.conf and the agent
 * files of daemon.agents_dir (catalog_dir.c), by name.  One catalog is in
 * force at a time (execd_config.catalog); a SIGHUP builds a new one and
 * swaps it in only if all of it loaded (main.c).  The catalog holds one
 * reference to each agent; whoever keeps an agent beyond the current call
 * takes its own (agent_ref), as an accepted execution does. */
#ifndef EXECD_CORE_CATALOG_H
#define EXECD_CORE_CATALOG_H

#include <stddef.h>

#include <jansson.h>

#include "agent.h"

typedef struct catalog catalog;
struct execd_config;

catalog *catalog_new(void);
void catalog_free(catalog *c);

/* Adds a (its reference is stolen).  A name already in the catalog is
 * refused: returns -1 with err naming where both are defined, and drops
 * a. */
int catalog_add(catalog *c, agent *a, char *err, size_t errlen);

/* The agent called name, borrowed (agent_ref to keep it); NULL if none
 * (or c is NULL). */
agent *catalog_find(const catalog *c, const char *name);

size_t catalog_count(const catalog *c);
/* The i-th agent in name order, borrowed. */
const agent *catalog_at(const catalog *c, size_t i);

/* Every agent names a backend of cfg (or none): else -1 with err naming
 * the agent, where it is defined and the backend. */
int catalog_check_backends(const catalog *c, const struct execd_config *cfg, char *err,
                           size_t errlen);

/* {"agents": [agent_view(), ...]} in name order, a new reference. */
json_t *catalog_list(const catalog *c);

/* Where a is defined, for messages: "inline in the config file", or its
 * file ("DIR/x.json", or "x.json" when dir is NULL). */
void catalog_describe_origin(const agent *a, const char *dir, char *out, size_t outlen);

#endif
