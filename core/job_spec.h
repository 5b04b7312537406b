/* The job spec a backend gets for an attempt of a record: the one builder
 * behind check() at submit and start()/adopt() of each attempt, so that
 * check() sees what start() will get. */
#ifndef EXECD_CORE_JOB_SPEC_H
#define EXECD_CORE_JOB_SPEC_H

#include <execd/backend.h>
#include <jansson.h>

/* What the spec's pointers point into (argv, env, stdin, limits). */
typedef struct job_spec_storage job_spec_storage;

/* Fills *spec for attempt number `attempt` of record (its "spec",
 * "request", "checkpoint" and "labels"), with workspace the attempt's
 * host directory.  record must outlive the spec; *storage must be freed
 * with job_spec_free() once the backend call has returned.  Returns 0 or
 * EXECD_ENOMEM (then nothing is to be freed). */
int job_spec_build(const json_t *record, unsigned attempt, const char *workspace,
                   execd_job_spec *spec, job_spec_storage **storage);
void job_spec_free(job_spec_storage *storage);

#endif
