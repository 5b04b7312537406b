/* Benchmark: what one execution does to its storage, without running
 * anything: insert (QUEUED), update to RUNNING, a log line, update to
 * SUCCEEDED, each waiting for the one before, IN_FLIGHT executions at
 * once, through any storage plugin loaded by name (the conformance
 * harness).  bench/storage-postgres runs it on the file and the postgres
 * storage, beside pg-boss's send -> fetch -> complete.  Prints:
 *   storage NAME: N executions in T s = R exec/s
 *
 *   bench/storage_ops NAME CONFIG_JSON N IN_FLIGHT */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_client.h"

typedef struct chain {
  json_t *rec;
  int step; /* 0 inserting, 1 to RUNNING, 2 to SUCCEEDED */
} chain;

static harness_plugin P;
static long total, started, finished, failed;

static void next(chain *c);

static void on_done(void *arg, int status, json_t *record) {
  (void)record;
  chain *c = arg;
  if (status != 0) {
    if (failed++ < 3)
      fprintf(stderr, "storage_ops: step %d: %s (%s)\n", c->step,
              execd_strerror(status), harness_last_error());
    c->step = 3;
  } else {
    c->step++;
  }
  next(c);
}

static void start(chain *c) {
  char id[37];
  sc_new_id(id);
  json_decref(c->rec);
  c->rec = sc_record(id, "bench", "QUEUED", NULL, NULL, NULL, 0);
  c->step = 0;
  started++;
  if (sc_ops()->insert(P.self, c->rec, on_done, c) != 0) {
    fprintf(stderr, "storage_ops: insert refused: %s\n", harness_last_error());
    exit(1);
  }
}

static void next(chain *c) {
  const execd_storage_ops *ops = sc_ops();
  if (c->step == 1) {
    json_object_set_new(c->rec, "state", json_string("RUNNING"));
    ops->update(P.self, c->rec, "QUEUED", on_done, c);
  } else if (c->step == 2) {
    ops->log_append(P.self, json_string_value(json_object_get(c->rec, "id")),
                    "done\n", 5);
    json_object_set_new(c->rec, "state", json_string("SUCCEEDED"));
    ops->update(P.self, c->rec, "RUNNING", on_done, c);
  } else if (c->step == 3) {
    finished++;
    if (started < total)
      start(c);
  }
}

static int all_done(void *arg) {
  (void)arg;
  return finished == total;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s NAME CONFIG_JSON N IN_FLIGHT\n", argv[0]);
    return 2;
  }
  total = atol(argv[3]);
  long in_flight = atol(argv[4]);
  if (total < 1 || in_flight < 1) {
    fprintf(stderr, "storage_ops: N and IN_FLIGHT must be positive\n");
    return 2;
  }
  if (harness_load(EXECD_KIND_STORAGE, argv[1], argv[2], &P) != 0) {
    fprintf(stderr, "storage_ops: loading %s: %s\n", argv[1], harness_last_error());
    return 1;
  }
  sc_use(&P);
  chain *chains = calloc((size_t)in_flight, sizeof *chains);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < in_flight && started < total; i++)
    start(&chains[i]);
  if (!harness_run_until(all_done, NULL, 600000)) {
    fprintf(stderr, "storage_ops: not done after 600 s\n");
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("storage %s: %ld executions in %.2f s = %.0f exec/s%s\n", argv[1], total, s,
         (double)total / s, failed ? ", with failures" : "");
  for (long i = 0; i < in_flight; i++)
    json_decref(chains[i].rec);
  free(chains);
  harness_unload(&P);
  harness_shutdown();
  return failed ? 1 : 0;
}
