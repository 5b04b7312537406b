/* execd plugin ABI: the descriptor every plugin returns from its one
 * exported symbol, and the config-key declarations execd validates.
 *
 * A plugin is a libtool module named <kind>_<name>.so that exports exactly
 *
 *   EXECD_EXPORT const execd_plugin *execd_plugin_entry(const execd_host *host);
 *
 * It may inspect host->abi_major/abi_minor and return NULL to decline.
 * Everything else in the module is static.  See execd-plugin(7).
 */
#ifndef EXECD_PLUGIN_H
#define EXECD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <execd/version.h>
#include <execd/error.h>
#include <execd/host.h>
#include <execd/backend.h>
#include <execd/storage.h>
#include <execd/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

enum execd_plugin_kind {
  EXECD_KIND_BACKEND = 1,
  EXECD_KIND_STORAGE = 2,
  EXECD_KIND_TRANSPORT = 3
};

/* Types of plugin config keys.  execd checks each key of an instance's
 * config block against the plugin's declaration before create() runs, and
 * normalises SIZE values ("512M", 1024) to integer bytes and DURATION
 * values ("30s", "5m", 10) to integer milliseconds (a bare number of a
 * DURATION is seconds). */
enum execd_config_type {
  EXECD_CFG_STRING = 1,
  EXECD_CFG_INT = 2,
  EXECD_CFG_FLOAT = 3,    /* accepts integers too */
  EXECD_CFG_BOOL = 4,
  EXECD_CFG_SIZE = 5,     /* -> integer bytes */
  EXECD_CFG_DURATION = 6, /* -> integer milliseconds */
  EXECD_CFG_LIST = 7,     /* array of strings */
  EXECD_CFG_GROUP = 8     /* nested group, passed through as an object */
};

/* One declared config key; arrays end with an entry whose name is NULL.
 * default_value is documentation (execd.conf(5), doc/); the
 * plugin applies its own defaults. */
typedef struct execd_config_key {
  const char *name;
  int type; /* enum execd_config_type */
  const char *default_value;
  const char *doc;
} execd_config_key;

/* The plugin descriptor.  The first three fields are frozen forever. */
typedef struct execd_plugin {
  uint16_t abi_major;   /* EXECD_ABI_MAJOR the plugin was built against */
  uint16_t abi_minor;   /* EXECD_ABI_MINOR the plugin was built against */
  uint32_t struct_size; /* sizeof(execd_plugin) as the plugin knows it */

  uint32_t kind;           /* enum execd_plugin_kind */
  const char *name;        /* "local", "file", "http": matches the file name */
  const char *version;     /* the plugin's own version string */
  const char *description; /* one line */
  const execd_config_key *config_keys; /* keys besides "name" and "plugin" */

  /* Create one instance from its config block (an object; borrowed, valid
   * only during the call).  Runs on the main thread before the loop runs.
   * On failure return a negative EXECD_E* and describe it with
   * host->set_error(inst, ...). */
  int (*create)(const execd_host *host, execd_instance *inst,
                const json_t *config, void **self);
  /* Called once every instance exists, just before the loop runs:
   * transports start listening here.  May be NULL. */
  int (*start)(void *self);
  /* Stop: close every libuv handle the instance owns.  The loop then runs
   * until the close callbacks are done.  May be NULL. */
  void (*stop)(void *self);
  /* Free the instance.  The loop is no longer running. */
  void (*destroy)(void *self);
  /* SIGHUP: re-read what can change live (tokens, ...).  May be NULL. */
  int (*reload)(void *self, const json_t *config);

  /* The per-kind ops table: execd_backend_ops, execd_storage_ops or
   * execd_transport_ops.  Each starts with its own struct_size. */
  const void *ops;

  /* ---- since ABI 1.3 (execd reads it only when struct_size covers it) -- */

  /* Validate a config block exactly as create() would, with no side
   * effects: no sockets, no files or directories created, no threads, no
   * connections (reading a file the config names is fine).  Share the
   * validation with create() so that the two cannot disagree.  Return 0,
   * or a negative EXECD_E* with one line in err (errlen bytes, always
   * NUL-terminated); start the line with the name of the config key at
   * fault ("listen '...': ...") so that execd can add its file:line.
   * execd --check-config calls it for every instance, and execd calls it
   * before create().  May be NULL. */
  int (*check_config)(const json_t *config, char *err, size_t errlen);
} execd_plugin;

/* True if descriptor d (as the plugin declared it) has member m. */
#define EXECD_PLUGIN_HAS(d, m)                                              \
  ((d)->struct_size >= offsetof(execd_plugin, m) + sizeof((d)->m))

/* Name of the one exported symbol, and its type. */
#define EXECD_PLUGIN_ENTRY_SYMBOL "execd_plugin_entry"
typedef const execd_plugin *(*execd_plugin_entry_fn)(const execd_host *host);

/* Fills the frozen header of a descriptor:
 *   static const execd_plugin plugin = {
 *     EXECD_PLUGIN_HEADER, .kind = EXECD_KIND_BACKEND, .name = "local", ... }; */
#define EXECD_PLUGIN_HEADER                                                 \
  .abi_major = EXECD_ABI_MAJOR, .abi_minor = EXECD_ABI_MINOR,               \
  .struct_size = sizeof(execd_plugin)

/* Defines the entry symbol returning DESC (a static execd_plugin). */
#define EXECD_PLUGIN_DEFINE(desc)                                           \
  EXECD_EXPORT const execd_plugin *execd_plugin_entry(const execd_host *h); \
  EXECD_EXPORT const execd_plugin *execd_plugin_entry(const execd_host *h) \
  {                                                                         \
    (void)h;                                                                \
    return &(desc);                                                         \
  }

#ifdef __cplusplus
}
#endif

#endif
