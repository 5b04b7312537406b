/* Plugin instances as the core knows them, and the host table handed to
 * every plugin. */
#ifndef EXECD_CORE_INSTANCE_H
#define EXECD_CORE_INSTANCE_H

#include <execd/plugin.h>

#include "conf.h"
#include "loader.h"

struct pipeline;

struct execd_instance {
  char *name;                  /* instance name from the config */
  int kind;                    /* enum execd_plugin_kind */
  const plugin_block *block;   /* its config block */
  loaded_plugin *loaded;
  const execd_plugin *plugin;  /* zero-padded descriptor */
  const void *ops;             /* zero-padded ops table */
  void *self;                  /* what create() returned */
  struct pipeline *pipeline;   /* the core that owns it */
  int started;
  char last_error[1024];       /* set_error() */
};

/* The host table (static, one per process). */
const execd_host *host_table(void);
/* The instance's last error, or the fallback text. */
const char *instance_error(execd_instance *inst, const char *fallback);
/* Forget the last error, before an op whose error detail is wanted. */
void instance_clear_error(execd_instance *inst);
/* Log prefix for an instance: "backend docker". */
void instance_label(const execd_instance *inst, char *out, size_t len);

#endif
