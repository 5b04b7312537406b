/* The API transports call through the host table: submit, get, list,
 * cancel, remove, logs, watch, agents, health, metrics. */
#ifndef EXECD_CORE_API_H
#define EXECD_CORE_API_H

#include <execd/host.h>
#include <execd/storage.h>

#include "pipeline.h"

void api_init(pipeline *p);
void api_close(void);

int api_submit(execd_instance *inst, const char *tenant, const char *body, size_t len,
               unsigned wait_s, execd_reply_cb cb, void *arg);
int api_get(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
            void *arg);
int api_list(execd_instance *inst, const char *tenant, const execd_list_query *query,
             execd_reply_cb cb, void *arg);
int api_cancel(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
               void *arg);
int api_remove(execd_instance *inst, const char *tenant, const char *id, execd_reply_cb cb,
               void *arg);
int api_logs(execd_instance *inst, const char *tenant, const char *id, uint64_t offset,
             execd_reply_cb cb, void *arg);
/* api_logs with the page's time marks ("times"); 400 timestamps_unsupported
 * when the storage keeps none. */
int api_logs_timed(execd_instance *inst, const char *tenant, const char *id, uint64_t offset,
                   execd_reply_cb cb, void *arg);
int api_watch(execd_instance *inst, const char *tenant, const char *id, execd_watch_cb cb,
              void *arg, execd_watch **out);
void api_unwatch(execd_watch *w);
/* Several nodes: this node claimed execution id; waiting submits of it
 * answer from here when it ends (claims.c). */
void api_stored_wait_attach(execution *ex, const char *id);
int api_agents(execd_instance *inst, execd_reply_cb cb, void *arg);
int api_health(execd_instance *inst, execd_reply_cb cb, void *arg);
int api_metrics(execd_instance *inst, execd_reply_cb cb, void *arg);
/* The tenant's usage over [from, to) by group_by (usage.h). */
int api_usage(execd_instance *inst, const char *tenant, const char *from, const char *to,
              const char *group_by, execd_reply_cb cb, void *arg);

#endif
