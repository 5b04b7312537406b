/* Benchmark of the file storage at scale: inserts N executions (100000 by
 * default) with 256 in flight, then measures get by id, list pages (first
 * and deep, by tenant+state and by label), reload time and memory.  Prints
 * figures only; nothing is asserted.
 *
 *   bench/storage-file [N] [sync: 1|0]     (run from the build tree, or set
 *                                            EXECD_PLUGIN_PATH) */
#include "config.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage_client.h"

#define IN_FLIGHT 256
#define SAMPLES 2000

static const char *states[] = {"SUCCEEDED", "FAILED", "QUEUED", "RUNNING"};
static harness_plugin P;
static char dir[64];
static char config[256];

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0)
      kb = atol(line + n + 1);
  if (f)
    fclose(f);
  return kb;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void print_percentiles(const char *what, double *us, int n) {
  qsort(us, (size_t)n, sizeof *us, cmp_double);
  printf("%-34s p50 %8.1f us   p99 %8.1f us   (%d samples)\n", what,
         us[n / 2], us[n * 99 / 100], n);
}

static void load(void) {
  int rc = harness_load(EXECD_KIND_STORAGE, "file", config, &P);
  if (rc != 0) {
    fprintf(stderr, "storage-file: cannot load the file storage: %s (%s)\n",
            execd_strerror(rc), harness_last_error());
    exit(1);
  }
  sc_use(&P);
}

typedef struct inserter {
  int in_flight, done, failed;
} inserter;

static void on_inserted(void *arg, int status, json_t *record) {
  (void)record;
  inserter *ins = arg;
  ins->in_flight--;
  ins->done++;
  if (status)
    ins->failed++;
}

static int has_room(void *arg) { return ((inserter *)arg)->in_flight < IN_FLIGHT; }
static int all_done(void *arg) { return ((inserter *)arg)->in_flight == 0; }

static json_t *bench_record(const char *id, int i) {
  char tenant[16], agent[16], key[32];
  snprintf(tenant, sizeof tenant, "tenant-%d", i % 10);
  snprintf(agent, sizeof agent, "agent-%d", i % 7);
  snprintf(key, sizeof key, "key-%d", i);
  json_t *labels = json_pack("{s:s, s:s}", "team", i % 3 ? "blue" : "red",
                             "batch", i % 1000 == 0 ? "rare" : "common");
  return sc_record(id, tenant, states[i % 4], agent, i % 2 ? key : NULL,
                   labels, 0);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Callbacks that only note the answer: the figures are the storage's. */
typedef struct answer {
  int done, status;
  size_t rows;
} answer;

static void on_record(void *arg, int status, json_t *record) {
  (void)record;
  answer *a = arg;
  a->done = 1;
  a->status = status;
}

static void on_page(void *arg, int status, json_t *records, const char *next) {
  (void)next;
  answer *a = arg;
  a->done = 1;
  a->status = status;
  a->rows = json_array_size(records);
}

static int answered(void *arg) { return ((answer *)arg)->done; }

static double cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Times a list query n times: wall-clock percentiles, and the CPU time of
 * all threads per query (steadier on a busy machine). */
static void time_list(const char *what, execd_list_query q, int n) {
  double *us = malloc(sizeof(double) * (size_t)n);
  size_t rows = 0;
  double cpu0 = cpu_us();
  for (int i = 0; i < n; i++) {
    answer a = {0};
    double t0 = now_us();
    if (sc_ops()->list(P.self, &q, on_page, &a) != 0 ||
        !harness_run_until(answered, &a, SC_WAIT_MS) || a.status != 0) {
      fprintf(stderr, "storage-file: list failed\n");
      exit(1);
    }
    us[i] = now_us() - t0;
    rows = a.rows;
  }
  double cpu = (cpu_us() - cpu0) / n;
  char label[96];
  snprintf(label, sizeof label, "%s (%zu rows)", what, rows);
  print_percentiles(label, us, n);
  printf("%-34s %8.1f us CPU per query\n", "", cpu);
  free(us);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  int sync = argc > 2 ? atoi(argv[2]) : 1;
  if (n < 1000) {
    fprintf(stderr, "usage: storage-file [N >= 1000] [sync 1|0]\n");
    return 2;
  }
  if (!getenv("EXECD_PLUGIN_PATH"))
    setenv("EXECD_PLUGIN_PATH", "plugins/storage/file", 1);
  snprintf(dir, sizeof dir, "/tmp/execd-bench-storage-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(config, sizeof config, "{\"path\": \"%s\", \"sync\": %s}", dir,
           sync ? "true" : "false");
  load();
  long rss_empty = status_kb("VmRSS:");

  /* Inserts, IN_FLIGHT at a time: the group commit batches them. */
  char(*ids)[37] = malloc((size_t)n * 37);
  inserter ins = {0};
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    if (!has_room(&ins))
      harness_run_until(has_room, &ins, SC_WAIT_MS);
    sc_new_id(ids[i]);
    json_t *rec = bench_record(ids[i], i);
    if (sc_ops()->insert(P.self, rec, on_inserted, &ins) != 0) {
      fprintf(stderr, "storage-file: insert refused: %s\n", harness_last_error());
      return 1;
    }
    ins.in_flight++;
    json_decref(rec);
  }
  harness_run_until(all_done, &ins, SC_WAIT_MS);
  double secs = (now_us() - t0) / 1e6;
  printf("file storage, %d executions, sync %s, %d in flight\n", n,
         sync ? "on" : "off", IN_FLIGHT);
  printf("%-34s %8.0f /s   (%.2f s, %d failed)\n", "insert", ins.done / secs,
         secs, ins.failed);

  /* Get by id: random ids, one at a time. */
  double *us = malloc(sizeof(double) * SAMPLES);
  srand(42);
  double cpu0 = cpu_us();
  for (int i = 0; i < SAMPLES; i++) {
    answer a = {0};
    double s = now_us();
    if (sc_ops()->get(P.self, ids[rand() % n], on_record, &a) != 0 ||
        !harness_run_until(answered, &a, SC_WAIT_MS) || a.status != 0) {
      fprintf(stderr, "storage-file: get failed\n");
      return 1;
    }
    us[i] = now_us() - s;
  }
  double get_cpu = (cpu_us() - cpu0) / SAMPLES;
  print_percentiles("get by id", us, SAMPLES);
  printf("%-34s %8.1f us CPU per get\n", "", get_cpu);
  free(us);

  /* Lists: the first page and a page deep down the same filter. */
  execd_list_query q = {.struct_size = sizeof q, .tenant = "tenant-2",
                        .state = "QUEUED", .limit = 100};
  time_list("list tenant+state, first page", q, 200);
  /* ids[i] with i % 10 == 2 and i % 4 == 2 are tenant-2 QUEUED; 10% from
   * the oldest end is about 90% of the way down. */
  int deep = n / 10;
  while (!(deep % 10 == 2 && deep % 4 == 2))
    deep++;
  q.cursor = ids[deep];
  time_list("list tenant+state, page at 90%", q, 200);
  q.cursor = NULL;
  q.state = NULL;
  q.tenant = "tenant-0"; /* i % 1000 == 0: all in tenant-0 */
  q.label_key = "batch";
  q.label_value = "rare";
  time_list("list tenant+rare label (scan)", q, 50);
  execd_list_query all = {.struct_size = sizeof all, .limit = 100};
  time_list("list everything, first page", all, 200);

  long rss_full = status_kb("VmRSS:");
  struct stat sb;
  char journal[128];
  snprintf(journal, sizeof journal, "%s/journal", dir);
  stat(journal, &sb);

  harness_unload(&P);
  t0 = now_us();
  load();
  double reload_ms = (now_us() - t0) / 1e3;
  long rss_reloaded = status_kb("VmRSS:");
  printf("%-34s %8.1f ms\n", "reload (open + index rebuild)", reload_ms);
  printf("%-34s %8.1f MiB\n", "journal size", sb.st_size / 1048576.0);
  printf("%-34s %8ld KiB empty, %ld KiB after inserts, %ld KiB after reload "
         "(peak %ld KiB)\n", "RSS", rss_empty, rss_full, rss_reloaded,
         status_kb("VmHWM:"));
  printf("%-34s %8.0f bytes per execution (after reload)\n", "index memory",
         (rss_reloaded - rss_empty) * 1024.0 / n);

  harness_unload(&P);
  harness_shutdown();
  free(ids);
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
