/* One agent file of daemon.agents_dir: JSON ("<name>.json") or libconfig
 * ("<name>.conf"), holding the settings of one agent, the same as an
 * inline agent of execd.conf (execd.conf(5), "AGENT FILES").  Parsed
 * from memory; reading the file is catalog_dir.c's.  Pure: no I/O. */
#ifndef EXECD_CORE_AGENT_FILE_H
#define EXECD_CORE_AGENT_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

/* A larger agent file is refused. */
#define AGENT_FILE_MAX (1024 * 1024)
/* Nesting and values of a JSON agent file (its schemas included). */
#define AGENT_FILE_JSON_DEPTH_MAX 64
#define AGENT_FILE_JSON_ELEMENTS_MAX 100000

enum agent_file_format { AGENT_FILE_NONE, AGENT_FILE_JSON, AGENT_FILE_LIBCONFIG };

/* The format of a file by its name: ".json" or ".conf" after at least one
 * character, not starting with '.' (editors' and hidden files are not
 * agent files); else AGENT_FILE_NONE. */
enum agent_file_format agent_file_format(const char *file);

/* Parses text (len bytes, NUL at text[len]) of the agent file file (its
 * name within agents_dir, which sets its format) into a new agent; path
 * names the file in errors ("path:line: setting: message", the line where
 * the parser knows one).  Returns 0 or EXECD_ECONFIG. */
int agent_file_parse(const char *path, const char *file, const char *text, size_t len,
                     agent **out, char *err, size_t errlen);

#endif
