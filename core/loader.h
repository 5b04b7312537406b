/* Plugin loader: opens <kind>_<name> with libltdl from the search path and
 * checks its descriptor against the daemon's ABI.  Main thread only. */
#ifndef EXECD_CORE_LOADER_H
#define EXECD_CORE_LOADER_H

#include <stddef.h>

#include <execd/plugin.h>

typedef struct loaded_plugin loaded_plugin;

/* Initialise libltdl.  search_path: ':'-separated directories tried in
 * order (EXECD_PLUGIN_PATH first, then the configured plugin_dir). */
int loader_init(const char *search_path);
void loader_exit(void);

/* Load plugin NAME of KIND (enum execd_plugin_kind).  A plugin whose ops
 * table lacks an op its kind requires (storage: insert, update, get, list,
 * remove, log_append, log_read; backend: start, signal; transport: the
 * descriptor's start and stop), or declares it beyond its struct_size, is
 * refused with the op's name.  On failure returns a negative EXECD_E* and
 * writes one line naming the file and the reason into err.  The loaded
 * plugin stays until loader_close(). */
int loader_open(int kind, const char *name, const execd_host *host,
                loaded_plugin **out, char *err, size_t errlen);
const execd_plugin *loader_descriptor(const loaded_plugin *p);
const char *loader_path(const loaded_plugin *p);
/* The plugin's ops table, or NULL if the plugin declares none. */
const void *loader_ops(const loaded_plugin *p);
void loader_close(loaded_plugin *p);

const char *loader_kind_name(int kind);

#endif
