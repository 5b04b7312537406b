/* Benchmark: how many executions of a trivial command (/bin/true) execd
 * runs per second through HTTP, the local backend and the file storage,
 * compared with a bare posix_spawn+waitpid loop on the same machine.
 *
 * Phase 1 keeps --in-flight requests open with libcurl multi.  Each is a
 * POST /v1/executions?wait=60, whose answer comes once the execution has
 * ended, so its round trip is the submit->terminal latency.
 * Phase 2 spawns the same command N times, --raw-in-flight at a time.
 *
 * bench/local-throughput starts a private daemon and runs this program;
 * see bench/README.md. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#define WAIT_SECONDS 60
#define POLL_MS 1000
#define ERRORS_SHOWN 3

extern char **environ;

typedef struct {
  const char *url;
  const char *command;
  long count;
  long in_flight;
  long raw_in_flight;
  long daemon_pid; /* 0: peak RSS not reported */
} bench_options;

/* One request slot of phase 1. */
typedef struct {
  CURL *easy;
  double started;
  char *body;
  size_t len;
} slot;

typedef struct {
  double seconds;
  double *latencies; /* per execution, seconds; count entries */
  long succeeded;
  long failed;
} http_result;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *ud) {
  slot *s = ud;
  size_t n = size * nmemb;
  char *grown = realloc(s->body, s->len + n + 1);
  if (!grown)
    return 0;
  memcpy(grown + s->len, data, n);
  s->body = grown;
  s->len += n;
  s->body[s->len] = '\0';
  return n;
}

static void start_request(CURLM *multi, slot *s, const char *url, const char *payload,
                          struct curl_slist *headers) {
  curl_easy_reset(s->easy);
  s->len = 0;
  if (s->body)
    s->body[0] = '\0';
  curl_easy_setopt(s->easy, CURLOPT_URL, url);
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, payload);
  curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
  curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(s->easy, CURLOPT_TIMEOUT, (long)WAIT_SECONDS + 30);
  s->started = now_seconds();
  curl_multi_add_handle(multi, s->easy);
}

/* Whether a finished request ran its execution to SUCCEEDED; if not,
 * shows why (the first few times). */
static bool request_succeeded(slot *s, CURLcode rc, long failed_so_far) {
  long status = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
  json_t *doc = rc == CURLE_OK && s->body ? json_loads(s->body, 0, NULL) : NULL;
  const char *state = json_string_value(json_object_get(doc, "state"));
  bool ok = status == 201 && state && strcmp(state, "SUCCEEDED") == 0;
  if (!ok && failed_so_far < ERRORS_SHOWN)
    fprintf(stderr, "local-throughput: request failed: %s, HTTP %ld, state %s: %.300s\n",
            rc == CURLE_OK ? "ok" : curl_easy_strerror(rc), status, state ? state : "-",
            s->body ? s->body : "");
  json_decref(doc);
  return ok;
}

static int run_http(const bench_options *o, http_result *r) {
  char *url = NULL;
  if (asprintf(&url, "%s/v1/executions?wait=%d", o->url, WAIT_SECONDS) < 0)
    return -1;
  json_t *req = json_pack("{s:{s:[s]}}", "container", "command", o->command);
  char *payload = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  CURLM *multi = curl_multi_init();
  long slots_n = o->in_flight < o->count ? o->in_flight : o->count;
  slot *slots = calloc((size_t)slots_n, sizeof *slots);
  r->latencies = calloc((size_t)o->count, sizeof *r->latencies);
  if (!payload || !headers || !multi || !slots || !r->latencies) {
    fprintf(stderr, "local-throughput: out of memory\n");
    return -1;
  }
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, slots_n);

  long submitted = 0, finished = 0;
  double t0 = now_seconds();
  for (long i = 0; i < slots_n; i++) {
    slots[i].easy = curl_easy_init();
    start_request(multi, &slots[i], url, payload, headers);
    submitted++;
  }
  while (finished < o->count) {
    int running = 0;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      slot *s;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(multi, s->easy);
      r->latencies[finished++] = now_seconds() - s->started;
      if (request_succeeded(s, rc, r->failed))
        r->succeeded++;
      else
        r->failed++;
      if (submitted < o->count) {
        start_request(multi, s, url, payload, headers);
        submitted++;
      }
    }
    if (finished < o->count)
      curl_multi_poll(multi, NULL, 0, POLL_MS, NULL);
  }
  r->seconds = now_seconds() - t0;

  for (long i = 0; i < slots_n; i++) {
    curl_easy_cleanup(slots[i].easy);
    free(slots[i].body);
  }
  free(slots);
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  free(payload);
  free(url);
  return 0;
}

/* Phase 2: the command spawned count times, in_flight at a time. */
static int run_raw(const bench_options *o, double *seconds) {
  char *argv[] = {(char *)o->command, NULL};
  long started = 0, reaped = 0;
  double t0 = now_seconds();
  while (reaped < o->count) {
    while (started < o->count && started - reaped < o->raw_in_flight) {
      pid_t pid;
      int err = posix_spawn(&pid, o->command, NULL, NULL, argv, environ);
      if (err) {
        fprintf(stderr, "local-throughput: posix_spawn %s: %s\n", o->command, strerror(err));
        return -1;
      }
      started++;
    }
    int status;
    if (waitpid(-1, &status, 0) < 0) {
      if (errno == EINTR)
        continue;
      perror("local-throughput: waitpid");
      return -1;
    }
    reaped++;
  }
  *seconds = now_seconds() - t0;
  return 0;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, long n, double p) {
  long rank = (long)ceil(p * (double)n);
  return sorted[rank < 1 ? 0 : rank - 1];
}

/* CPU seconds (user + system) a process used, with the children it
 * reaped (the jobs, and the helpers it forks), from /proc/PID/stat; -1
 * if unreadable. */
static double process_cpu_seconds(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char buf[1024];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  unsigned long long utime, stime;
  long long cutime, cstime;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
                   &utime, &stime, &cutime, &cstime) != 4)
    return -1;
  return (double)(utime + stime + (unsigned long long)cutime + (unsigned long long)cstime) /
         (double)sysconf(_SC_CLK_TCK);
}

static double own_children_cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* VmHWM of a process in MiB, or -1. */
static double peak_rss_mib(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  char line[256];
  double mib = -1;
  long kib;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      mib = (double)kib / 1024;
  fclose(f);
  return mib;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: local_throughput --url URL [-n N] [-c IN_FLIGHT] [--raw-in-flight R]\n"
          "                        [--daemon-pid PID] [--command PATH]\n"
          "Runs N (2000) executions of PATH (/bin/true) through execd at URL with\n"
          "IN_FLIGHT (4) requests open, then N spawns of PATH, R (2) at a time, and\n"
          "prints both rates and their ratio.  With --daemon-pid, also execd's peak\n"
          "RSS.  Usually started by bench/local-throughput.\n");
}

static bool parse_count(const char *arg, long min, long *out) {
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (errno || end == arg || *end || v < min)
    return false;
  *out = v;
  return true;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {{"url", required_argument, NULL, 'u'},
                                           {"count", required_argument, NULL, 'n'},
                                           {"in-flight", required_argument, NULL, 'c'},
                                           {"raw-in-flight", required_argument, NULL, 'r'},
                                           {"daemon-pid", required_argument, NULL, 'p'},
                                           {"command", required_argument, NULL, 'x'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  bench_options o = {.command = "/bin/true", .count = 2000, .in_flight = 4, .raw_in_flight = 2};
  int c;
  while ((c = getopt_long(argc, argv, "u:n:c:r:p:x:h", longopts, NULL)) != -1) {
    bool ok = true;
    switch (c) {
    case 'u': o.url = optarg; break;
    case 'n': ok = parse_count(optarg, 1, &o.count); break;
    case 'c': ok = parse_count(optarg, 1, &o.in_flight); break;
    case 'r': ok = parse_count(optarg, 1, &o.raw_in_flight); break;
    case 'p': ok = parse_count(optarg, 1, &o.daemon_pid); break;
    case 'x': o.command = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
    if (!ok) {
      fprintf(stderr, "local-throughput: -%c '%s': expected a positive number\n", c, optarg);
      return 2;
    }
  }
  if (!o.url || optind < argc) {
    usage(stderr);
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  http_result http = {0};
  double cpu0 = o.daemon_pid ? process_cpu_seconds(o.daemon_pid) : -1;
  if (run_http(&o, &http))
    return 1;
  double cpu1 = o.daemon_pid ? process_cpu_seconds(o.daemon_pid) : -1;
  curl_global_cleanup();
  double rss = o.daemon_pid ? peak_rss_mib(o.daemon_pid) : -1;
  qsort(http.latencies, (size_t)o.count, sizeof *http.latencies, by_value);
  double http_rate = (double)o.count / http.seconds;
  printf("execd:  %ld executions in %.2f s = %.0f exec/s, latency p50 %.1f ms p99 %.1f ms",
         o.count, http.seconds, http_rate, percentile(http.latencies, o.count, 0.50) * 1e3,
         percentile(http.latencies, o.count, 0.99) * 1e3);
  if (rss >= 0)
    printf(", peak RSS %.1f MiB", rss);
  if (cpu0 >= 0 && cpu1 >= 0)
    printf(", CPU %.2f ms/exec", (cpu1 - cpu0) * 1e3 / (double)o.count);
  if (http.failed)
    printf(", %ld FAILED", http.failed);
  printf("\n");
  free(http.latencies);
  fflush(stdout);

  double raw_seconds;
  double raw_cpu0 = own_children_cpu_seconds();
  if (run_raw(&o, &raw_seconds))
    return 1;
  double raw_cpu = own_children_cpu_seconds() - raw_cpu0;
  double raw_rate = (double)o.count / raw_seconds;
  printf("raw posix_spawn (%ld in flight): %ld in %.2f s = %.0f /s, CPU %.2f ms/spawn\n",
         o.raw_in_flight, o.count, raw_seconds, raw_rate, raw_cpu * 1e3 / (double)o.count);
  printf("ratio: %.2f\n", http_rate / raw_rate);
  /* CPU time is steadier than wall time on a machine others share. */
  if (cpu0 >= 0 && cpu1 >= 0 && cpu1 > cpu0)
    printf("CPU ratio (raw spawn / execd, per execution): %.2f\n",
           raw_cpu / (cpu1 - cpu0));
  return http.failed ? 1 : 0;
}
