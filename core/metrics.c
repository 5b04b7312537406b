#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ids.h"
#include "metrics.h"
#include "usage.h"

char *metrics_render(const pipeline *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  /* Counts of active executions by state, from memory. */
  pipeline_stats st;
  pipeline_get_stats(p, &st);

  fprintf(f, "# HELP execd_executions Executions known to this daemon that have not ended, by state.\n"
             "# TYPE execd_executions gauge\n");
  for (int s = 0; s < STATE__COUNT; s++)
    if (!state_is_terminal((exec_state)s))
      fprintf(f, "execd_executions{state=\"%s\"} %u\n", state_name((exec_state)s), st.active[s]);
  fprintf(f, "# HELP execd_executions_finished_total Executions that ended, by final state.\n"
             "# TYPE execd_executions_finished_total counter\n");
  for (int s = 0; s < STATE__COUNT; s++)
    if (state_is_terminal((exec_state)s))
      fprintf(f, "execd_executions_finished_total{state=\"%s\"} %llu\n",
              state_name((exec_state)s), (unsigned long long)st.finished_total[s]);
  fprintf(f,
          "# HELP execd_executions_accepted_total Requests accepted and stored.\n"
          "# TYPE execd_executions_accepted_total counter\n"
          "execd_executions_accepted_total %llu\n"
          "# HELP execd_executions_rejected_total Requests refused (validation, policy, capacity).\n"
          "# TYPE execd_executions_rejected_total counter\n"
          "execd_executions_rejected_total %llu\n"
          "# HELP execd_attempts_total Attempts started.\n"
          "# TYPE execd_attempts_total counter\n"
          "execd_attempts_total %llu\n"
          "# HELP execd_running Attempts running now.\n"
          "# TYPE execd_running gauge\n"
          "execd_running %d\n"
          "# HELP execd_queue_depth Executions waiting for a slot.\n"
          "# TYPE execd_queue_depth gauge\n"
          "execd_queue_depth %zu\n",
          (unsigned long long)st.accepted_total, (unsigned long long)st.rejected_total,
          (unsigned long long)st.attempts_total, st.running, st.queue_depth);
  fprintf(f, "# HELP execd_backend_running Attempts running now, by backend.\n"
             "# TYPE execd_backend_running gauge\n");
  for (size_t i = 0; i < pipeline_backend_count(p); i++)
    fprintf(f, "execd_backend_running{backend=\"%s\"} %d\n", pipeline_backend_name(p, i),
            pipeline_backend_running(p, i));
  fprintf(f,
          "# HELP execd_uptime_seconds Seconds since execd started.\n"
          "# TYPE execd_uptime_seconds gauge\n"
          "execd_uptime_seconds %.3f\n",
          (double)(ids_now_ms() - st.started_ms) / 1000.0);
  usage_metrics(f);
  fclose(f);
  return text;
}
