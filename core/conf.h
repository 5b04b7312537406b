/* The daemon's configuration (libconfig syntax, execd.conf(5)), loaded and
 * validated in one pass.  Every error names file, line and setting. */
#ifndef EXECD_CORE_CONF_H
#define EXECD_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <execd/plugin.h>

#include "json_bounds.h"

/* One plugin instance block (storage, a backend or a transport). */
typedef struct plugin_block {
  char *name;     /* instance name; defaults to the plugin name */
  char *plugin;   /* plugin name: file <kind>_<plugin>.so */
  int kind;       /* enum execd_plugin_kind */
  int line;       /* where the block starts */
  json_t *config; /* the plugin's own keys (core keys removed) */
  json_t *lines;  /* key -> line number, for errors */
  /* backends only */
  int max_running;   /* 0: only the global limit applies */
  json_t *defaults;  /* resource defaults and ceilings, normalised */
  json_t *environment_allowed; /* globs of the names a request may set, or NULL: any
                                * name the built-in denylist allows (env_policy.h) */
} plugin_block;

/* Limits on what a request may carry. */
typedef struct request_limits {
  int64_t max_body_bytes;   /* whole request JSON */
  int64_t max_files;        /* input.files entries */
  int64_t max_file_bytes;   /* one decoded input file */
  int64_t max_input_bytes;  /* all decoded input files + documents */
  int64_t max_env_bytes;    /* environment names + values */
  int64_t max_output_bytes; /* ceiling for output.max_bytes */
  int64_t max_log_bytes;    /* logs kept in the result */
  int64_t max_attempts;     /* ceiling for retry.max_attempts */
  /* Every JSON text that enters (request, result.json, stdout envelope,
   * workflow commands): nesting and values (json_bounds.h). */
  int64_t max_json_depth;
  int64_t max_json_elements;
} request_limits;

#define LIMITS_JSON_DEPTH_DEFAULT 64
#define LIMITS_JSON_ELEMENTS_DEFAULT 250000

/* The JSON bounds of lim; a member left 0 takes its default. */
json_bounds limits_json_bounds(const request_limits *lim);

typedef struct execd_config {
  char *path;
  /* daemon */
  char *state_dir;
  char *plugin_dir;
  int max_running;
  int max_queued;
  int log_level;
  int64_t kill_grace_ms;     /* SIGTERM -> SIGKILL */
  int64_t shutdown_grace_ms; /* SIGTERM of execd: wait for running jobs */
  bool keep_failed_workspaces;
  request_limits limits;
  char *tokens_file; /* bearer tokens and tenants (tenants.h), or NULL: anonymous */
  /* several nodes on one store (claims.h): this node's name (default the
   * host name), its leases' length and the fallback poll's interval */
  char *node;
  int64_t lease_ms;
  int64_t claim_poll_ms;
  /* plugins */
  plugin_block storage;
  plugin_block *backends;
  size_t n_backends;
  plugin_block *transports;
  size_t n_transports;
  /* routing */
  char *default_backend;
  /* daemon.agents_dir: a directory of agent files (catalog_dir.h), made
   * absolute; NULL when not set */
  char *agents_dir;
  /* the agents, inline and from agents_dir, with their schemas compiled */
  struct catalog *catalog;
} execd_config;

/* A config file larger than this is refused (it is read into memory). */
#define CONFIG_FILE_MAX (64 * 1024 * 1024)

/* Parse and validate everything that needs no plugin, and load the agent
 * files of daemon.agents_dir.  On error returns EXECD_ECONFIG with
 * "file:line: setting: message" in err (every agent file's error, one a
 * line).  Only a regular file of at most CONFIG_FILE_MAX bytes is read.
 * Blocking: called before the loop runs, or on the thread pool. */
int config_load(const char *path, execd_config **out, char *err, size_t errlen);
/* The same from text already in memory (len bytes, NUL-terminated at
 * text[len]); path only names it in messages.  No global state: callable
 * on its own (fuzzing). */
int config_parse_text(const char *path, const char *text, size_t len, execd_config **out,
                      char *err, size_t errlen);
/* Check a block's keys against the plugin's declarations, normalising
 * SIZE and DURATION values in place.  Error text as above. */
int config_check_plugin_keys(const execd_config *cfg, plugin_block *block,
                             const execd_config_key *keys, char *err,
                             size_t errlen);
/* A plugin's check_config refused the block with message: the error text
 * as above, at the line of the key the message starts with (else the
 * block's). */
int config_plugin_value_error(const execd_config *cfg, const plugin_block *block,
                              const char *message, char *err, size_t errlen);
struct agent;
struct config_setting_t;
/* One agent from the settings of g (the root of an agent file, libconfig,
 * or what agent_file.c made of a JSON one): checked and normalised as an
 * inline agent is, schemas compiled.  file_path names the file in errors
 * ("file_path:line: setting: message"; no line for line 0); file is its
 * name within agents_dir, kept by the agent.  Returns 0 or EXECD_ECONFIG. */
int config_parse_agent(const char *file_path, const char *file,
                       const struct config_setting_t *g, struct agent **out, char *err,
                       size_t errlen);
const plugin_block *config_find_backend(const execd_config *cfg, const char *name);
void config_free(execd_config *cfg);

#endif
