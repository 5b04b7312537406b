/* Plugin instances as the core knows them, and the host table handed to
 * every plugin. */
#ifndef EXECD_CORE_INSTANCE_H
#define EXECD_CORE_INSTANCE_H

#include <execd/plugin.h>

#include "conf.h"
#include "loader.h"

struct pipeline;

/* The error details of async ops an instance reported with op_error,
 * until the core's callback of each op takes its own.  Bounded: when all
 * are in use, the oldest (a detail no callback took) is dropped. */
#define INSTANCE_OP_ERRORS 8

typedef struct op_error_slot {
  void *cb_arg;     /* the op's callback argument; meaningful if used */
  unsigned long seq; /* 0: free; else the order the detail came in */
  char text[1024];
} op_error_slot;

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
  op_error_slot op_errors[INSTANCE_OP_ERRORS]; /* op_error() */
  unsigned long op_error_seq;
  char taken_error[1024];      /* what instance_take_error() returned last */
};

/* The host table (static, one per process). */
const execd_host *host_table(void);
/* The instance's last error, or the fallback text. */
const char *instance_error(execd_instance *inst, const char *fallback);
/* Forget the last error, before an op whose error detail is wanted. */
void instance_clear_error(execd_instance *inst);

/* In the callback of an async op whose callback argument is cb_arg: the
 * detail the plugin gave for that op with op_error (removed from the
 * instance), else, from plugins older than ABI 1.2, the instance's last
 * error, else the fallback text.  Valid until the next call for inst. */
const char *instance_take_error(execd_instance *inst, void *cb_arg, const char *fallback);
/* Log prefix for an instance: "backend docker". */
void instance_label(const execd_instance *inst, char *out, size_t len);

#endif
