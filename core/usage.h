/* Usage accounting: what each execution used, kept in its record
 * ("usage": CPU seconds, peak memory, wall time and output bytes, summed
 * or maximised over its attempts) so that it is durable in any storage;
 * the sums by tenant or agent over a time range (GET /v1/usage); and the
 * Prometheus counters of what ended since execd started. */
#ifndef EXECD_CORE_USAGE_H
#define EXECD_CORE_USAGE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* An attempt ended: add its CPU time and wall time to record.usage, and
 * keep the larger peak memory. */
void usage_add_attempt(json_t *record, double cpu_seconds, int64_t peak_memory_bytes,
                       int64_t wall_ms);
/* The execution ends: record.usage.output_bytes is the log bytes stored
 * plus the sizes of the output files and of the output document. */
void usage_set_output(json_t *record, uint64_t log_bytes);

/* Sums of records by group_by ("tenant" or "agent"). */
typedef struct usage_report usage_report;
usage_report *usage_report_new(const char *group_by);
/* Add one record (borrowed): an ended one to its group's figures, an
 * unfinished one to its count. */
void usage_report_add(usage_report *r, const json_t *record);
/* {"groups": [...]} sorted by group; new reference.  Frees r. */
json_t *usage_report_finish(usage_report *r);

/* An execution's terminal state is stored: count it for the metrics. */
void usage_count_ended(const json_t *record);
/* The execd_tenant_* Prometheus counters. */
void usage_metrics(FILE *f);
void usage_close(void);

#endif
