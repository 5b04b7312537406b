/* Loads plugins with libltdl (lt_dlopenadvise + ext + local), checks the
 * ABI, and keeps zero-padded copies of the descriptor and ops table so the
 * core can read every field it knows even from a plugin built against an
 * older ABI minor. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ltdl.h>

#include "loader.h"
#include "xalloc.h"

struct loaded_plugin {
  lt_dlhandle handle;
  char *path;
  execd_plugin desc; /* zero-padded copy */
  void *ops;         /* zero-padded copy of the per-kind ops table */
};

const char *loader_kind_name(int kind) {
  switch (kind) {
  case EXECD_KIND_BACKEND: return "backend";
  case EXECD_KIND_STORAGE: return "storage";
  case EXECD_KIND_TRANSPORT: return "transport";
  default: return "unknown";
  }
}

static size_t ops_size_for_kind(int kind) {
  switch (kind) {
  case EXECD_KIND_BACKEND: return sizeof(execd_backend_ops);
  case EXECD_KIND_STORAGE: return sizeof(execd_storage_ops);
  case EXECD_KIND_TRANSPORT: return sizeof(execd_transport_ops);
  default: return 0;
  }
}

/* The ops a kind cannot work without, checked at load so that a plugin
 * built without one is refused by name instead of crashing on first use.
 * An op beyond the ops table's declared struct_size counts as missing. */
typedef struct required_op {
  const char *name;
  size_t offset;
} required_op;

#define REQUIRED(type, member) {#member, offsetof(type, member)}

static const required_op storage_required[] = {
    REQUIRED(execd_storage_ops, insert),     REQUIRED(execd_storage_ops, update),
    REQUIRED(execd_storage_ops, get),        REQUIRED(execd_storage_ops, list),
    REQUIRED(execd_storage_ops, remove),     REQUIRED(execd_storage_ops, log_append),
    REQUIRED(execd_storage_ops, log_read),   {NULL, 0}};
static const required_op backend_required[] = {
    REQUIRED(execd_backend_ops, start), REQUIRED(execd_backend_ops, signal), {NULL, 0}};
/* A transport's ops are both optional; it serves from the descriptor's
 * start() and must close its handles in stop() (<execd/transport.h>). */
static const required_op transport_required[] = {{NULL, 0}};
static const required_op transport_required_desc[] = {
    REQUIRED(execd_plugin, start), REQUIRED(execd_plugin, stop), {NULL, 0}};

static const required_op *required_ops(int kind) {
  switch (kind) {
  case EXECD_KIND_BACKEND: return backend_required;
  case EXECD_KIND_STORAGE: return storage_required;
  default: return transport_required;
  }
}

/* The first required member of TABLE (declared size SIZE) that is NULL or
 * lies beyond SIZE, or NULL if none is missing. */
static const char *first_missing(const void *table, uint32_t size, const required_op *req) {
  for (; req->name; req++) {
    void *fn = NULL;
    if (req->offset + sizeof fn <= size)
      memcpy(&fn, (const char *)table + req->offset, sizeof fn);
    if (!fn)
      return req->name;
  }
  return NULL;
}

int loader_init(const char *search_path) {
  if (lt_dlinit() != 0)
    return EXECD_EIO;
  if (search_path && *search_path && lt_dlsetsearchpath(search_path) != 0)
    return EXECD_EIO;
  return 0;
}

void loader_exit(void) { lt_dlexit(); }

/* Only plain names: a plugin name from the config must not walk the disk. */
static int valid_plugin_name(const char *name) {
  if (!name || !*name || strlen(name) > 64)
    return 0;
  for (const char *c = name; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '-'))
      return 0;
  return 1;
}

int loader_open(int kind, const char *name, const execd_host *host,
                loaded_plugin **out, char *err, size_t errlen) {
  char module[128];
  *out = NULL;
  if (!valid_plugin_name(name)) {
    snprintf(err, errlen, "plugin name '%s' is not valid (use a-z, 0-9, _ and -)",
             name ? name : "");
    return EXECD_EINVAL;
  }
  snprintf(module, sizeof module, "%s_%s", loader_kind_name(kind), name);

  lt_dladvise advise;
  if (lt_dladvise_init(&advise) || lt_dladvise_ext(&advise) ||
      lt_dladvise_local(&advise)) {
    snprintf(err, errlen, "%s: cannot initialise libltdl: %s", module,
             lt_dlerror());
    return EXECD_EIO;
  }
  lt_dlhandle handle = lt_dlopenadvise(module, advise);
  lt_dladvise_destroy(&advise);
  if (!handle) {
    const char *why = lt_dlerror();
    snprintf(err, errlen,
             "%s: cannot load plugin '%s' (%s); searched %s (EXECD_PLUGIN_PATH, "
             "then plugin_dir)",
             module, name, why ? why : "not found",
             lt_dlgetsearchpath() ? lt_dlgetsearchpath() : "");
    return EXECD_ENOENT;
  }
  const lt_dlinfo *info = lt_dlgetinfo(handle);
  const char *path = info && info->filename ? info->filename : module;

  int rc = EXECD_EABI;
  execd_plugin_entry_fn entry =
      (execd_plugin_entry_fn)(uintptr_t)lt_dlsym(handle, EXECD_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    snprintf(err, errlen, "%s: refused: no '%s' symbol (not an execd plugin)",
             path, EXECD_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  const execd_plugin *desc = entry(host);
  if (!desc) {
    snprintf(err, errlen, "%s: refused: the plugin declined to load with core ABI %d.%d",
             path, EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
    goto fail;
  }
  if (desc->abi_major != EXECD_ABI_MAJOR || desc->abi_minor > EXECD_ABI_MINOR) {
    snprintf(err, errlen,
             "%s: refused: plugin ABI %u.%u is not compatible with core ABI %d.%d "
             "(major must match, minor must not be newer)",
             path, desc->abi_major, desc->abi_minor, EXECD_ABI_MAJOR,
             EXECD_ABI_MINOR);
    goto fail;
  }
  if (desc->struct_size < offsetof(execd_plugin, ops) + sizeof(void *)) {
    snprintf(err, errlen, "%s: refused: descriptor size %u is too small for ABI %u.%u",
             path, desc->struct_size, desc->abi_major, desc->abi_minor);
    goto fail;
  }
  if ((int)desc->kind != kind) {
    snprintf(err, errlen, "%s: refused: it is a %s plugin, the config asks for a %s",
             path, loader_kind_name((int)desc->kind), loader_kind_name(kind));
    goto fail;
  }
  if (!desc->name || strcmp(desc->name, name) != 0) {
    snprintf(err, errlen, "%s: refused: it calls itself '%s', not '%s'", path,
             desc->name ? desc->name : "(null)", name);
    goto fail;
  }
  if (!desc->create || !desc->destroy || !desc->ops) {
    snprintf(err, errlen, "%s: refused: descriptor lacks create, destroy or ops",
             path);
    goto fail;
  }
  uint32_t ops_size = *(const uint32_t *)desc->ops;
  if (ops_size < sizeof(uint32_t)) {
    snprintf(err, errlen, "%s: refused: ops table size %u is invalid", path,
             ops_size);
    goto fail;
  }

  const char *missing = first_missing(desc->ops, ops_size, required_ops(kind));
  if (!missing && kind == EXECD_KIND_TRANSPORT)
    missing = first_missing(desc, desc->struct_size, transport_required_desc);
  if (missing) {
    snprintf(err, errlen, "%s: refused: %s plugin '%s': required op '%s' is missing", path,
             loader_kind_name(kind), name, missing);
    goto fail;
  }

  loaded_plugin *p = xcalloc(1, sizeof *p);
  size_t full = ops_size_for_kind(kind);
  p->ops = xcalloc(1, full);
  p->path = xstrdup(path);
  /* Read only what the plugin declared; the rest stays zero (NULL). */
  memcpy(&p->desc, desc,
         desc->struct_size < sizeof p->desc ? desc->struct_size : sizeof p->desc);
  memcpy(p->ops, desc->ops, ops_size < full ? ops_size : full);
  p->handle = handle;
  *out = p;
  return 0;

fail:
  lt_dlclose(handle);
  return rc;
}

const execd_plugin *loader_descriptor(const loaded_plugin *p) { return &p->desc; }
const char *loader_path(const loaded_plugin *p) { return p->path; }
const void *loader_ops(const loaded_plugin *p) { return p->ops; }

void loader_close(loaded_plugin *p) {
  if (!p)
    return;
  lt_dlclose(p->handle);
  free(p->ops);
  free(p->path);
  free(p);
}
