/* Prometheus text exposition of the pipeline's counters and gauges. */
#ifndef EXECD_CORE_METRICS_H
#define EXECD_CORE_METRICS_H

#include "pipeline.h"

/* malloc'd text; the caller frees it. */
char *metrics_render(const pipeline *p);

#endif
