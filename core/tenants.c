/* The daemon's table of tenants: loaded once at start, replaced whole by a
 * SIGHUP reload that loaded without error, consulted by authenticate().
 * Everything here runs on the loop thread except tenants_load() in a
 * reload's work function, which touches only its work struct. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <execd/error.h>

#include "ids.h"
#include "log.h"
#include "tenants.h"
#include "tenants_file.h"
#include "xalloc.h"

static tenants_table *current; /* NULL: no tokens file, all anonymous */
static char *current_path;
static int reloading; /* a reload's work is queued */

int tenants_init(const char *path, char *err, size_t errlen) {
  if (!path || !*path)
    return 0;
  char warn[512];
  tenants_table *t = NULL;
  int rc = tenants_load(path, &t, err, errlen, warn, sizeof warn);
  if (rc != 0)
    return rc;
  if (warn[0])
    log_warn("%s", warn);
  log_info("%zu bearer tokens, %zu tenants with entitlements or quotas, from %s",
           tenants_token_count(t), tenants_count(t), path);
  current = t;
  current_path = xstrdup(path);
  return 0;
}

void tenants_close(void) {
  tenants_free(current);
  current = NULL;
  free(current_path);
  current_path = NULL;
}

typedef struct reload_work {
  uv_work_t req;
  char *path;
  tenants_table *table;
  int rc;
  char err[512];
  char warn[512];
} reload_work;

static void reload_run(uv_work_t *req) {
  reload_work *w = req->data;
  w->rc = tenants_load(w->path, &w->table, w->err, sizeof w->err, w->warn, sizeof w->warn);
}

static void reload_done(uv_work_t *req, int status) {
  reload_work *w = req->data;
  reloading = 0;
  if (status != 0) {
    tenants_free(w->table);
  } else if (w->rc != 0) {
    log_err("reload: %s; keeping the %zu tokens loaded before", w->err,
            tenants_token_count(current));
  } else {
    if (w->warn[0])
      log_warn("%s", w->warn);
    tenants_free(current);
    current = w->table;
    log_notice("reloaded %zu bearer tokens, %zu tenants with entitlements or quotas, from %s",
               tenants_token_count(current), tenants_count(current), w->path);
  }
  free(w->path);
  free(w);
}

void tenants_reload(uv_loop_t *loop, const char *path) {
  if (path && !*path)
    path = NULL;
  if (!current_path && !path)
    return; /* anonymous: nothing to re-read */
  if (!path) {
    log_err("reload: tokens_file cannot be removed by a reload (that would open the API to "
            "anyone); restart execd");
    return;
  }
  if (!current_path) {
    log_err("reload: tokens_file cannot be added by a reload; restart execd");
    return;
  }
  if (reloading) {
    log_err("reload: a reload of the tokens file is running; try again");
    return;
  }
  reload_work *w = xcalloc(1, sizeof *w);
  w->path = xstrdup(path);
  w->req.data = w;
  int rc = uv_queue_work(loop, &w->req, reload_run, reload_done);
  if (rc != 0) {
    log_err("reload of the tokens file: uv_queue_work: %s", uv_strerror(rc));
    free(w->path);
    free(w);
    return;
  }
  reloading = 1;
  if (strcmp(path, current_path) != 0) {
    free(current_path);
    current_path = xstrdup(path);
  }
}

int tenants_authenticate(execd_instance *inst, const char *token, size_t len, char *tenant,
                         size_t size) {
  (void)inst;
  const char *who = current ? tenants_lookup(current, token, len) : EXECD_TENANT_ANONYMOUS;
  if (!who)
    return EXECD_EPERM;
  size_t n = strlen(who);
  if (!tenant || n >= size)
    return EXECD_EINVAL;
  memcpy(tenant, who, n + 1);
  return 0;
}

int tenants_check_entitled(const char *tenant, const char *agent, char *why, size_t whylen) {
  return tenants_entitled(current, tenant, agent, ids_now_ms(), why, whylen);
}

tenant_quota tenants_current_quota(const char *tenant) { return tenants_quota(current, tenant); }
