/* backend_echo: a sample third-party execd backend.  It runs nothing: each
 * job "prints" its arguments (argv[1..], joined by spaces, after the
 * configured prefix) on stdout and exits 0 once the configured delay has
 * passed.  SIGTERM or SIGKILL ends a job early, as a killed process would.
 *
 * Everything happens on execd's libuv loop, without blocking it: start()
 * only arms a timer, and the job's output and exit are reported from that
 * timer's callback, never from inside start(). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <execd/plugin.h>

/* One configured instance. */
typedef struct echo_backend {
  const execd_host *host;
  execd_instance *inst;
  char *prefix;      /* "prefix" key: written before the arguments */
  uint64_t delay_ms; /* "delay" key: how long each job "runs" */
  LIST_HEAD(, echo_job) jobs; /* started and not yet reported */
} echo_backend;

/* One attempt, from start() until its job_exited(). */
typedef struct echo_job {
  echo_backend *backend;
  execd_job *job; /* execd's token for the attempt */
  uv_timer_t timer;
  char *text;     /* what the job prints */
  LIST_ENTRY(echo_job) link;
} echo_job;

/* Declared keys: execd rejects any other key, and normalises "delay" to
 * integer milliseconds, before create() sees the config. */
static const execd_config_key echo_config_keys[] = {
    {"prefix", EXECD_CFG_STRING, "\"\"", "text printed before the arguments"},
    {"delay", EXECD_CFG_DURATION, "0s", "how long each job runs before it exits"},
    {NULL, 0, NULL, NULL},
};

static void echo_destroy(void *self);

static int echo_create(const execd_host *host, execd_instance *inst,
                       const json_t *config, void **self) {
  echo_backend *b = calloc(1, sizeof *b);
  if (!b) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  b->host = host;
  b->inst = inst;
  LIST_INIT(&b->jobs);
  const char *prefix = json_string_value(json_object_get(config, "prefix"));
  b->prefix = strdup(prefix ? prefix : "");
  json_int_t delay = json_integer_value(json_object_get(config, "delay"));
  b->delay_ms = delay > 0 ? (uint64_t)delay : 0;
  if (!b->prefix) {
    echo_destroy(b);
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  *self = b;
  return 0;
}

static void echo_destroy(void *self) {
  echo_backend *b = self;
  free(b->prefix);
  free(b);
}

/* The job and its timer are freed once libuv has closed the handle. */
static void job_closed(uv_handle_t *h) {
  echo_job *j = h->data;
  free(j->text);
  free(j);
}

/* Reports the end of the attempt (exactly once) and forgets the job. */
static void job_finish(echo_job *j, int exit_code, int term_signal) {
  execd_job_exit exit = {
      .struct_size = sizeof exit,
      .exit_code = exit_code,
      .term_signal = term_signal,
  };
  LIST_REMOVE(j, link);
  uv_timer_stop(&j->timer);
  j->backend->host->job_exited(j->job, &exit);
  uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void job_due(uv_timer_t *t) {
  echo_job *j = t->data;
  j->backend->host->job_output(j->job, EXECD_STREAM_STDOUT, j->text, strlen(j->text));
  job_finish(j, 0, 0);
}

/* Refuse what this backend will never run, before execd persists it. */
static int echo_check(void *self, const execd_job_spec *spec) {
  echo_backend *b = self;
  if (spec->image) {
    b->host->set_error(b->inst, "the echo backend runs no images (got '%s')", spec->image);
    return EXECD_EINVAL;
  }
  if (!spec->argv || !spec->argv[0]) {
    b->host->set_error(b->inst, "the echo backend needs a command");
    return EXECD_EINVAL;
  }
  return 0;
}

/* prefix + argv[1..] joined by spaces + "\n", in a malloc'd string. */
static char *job_text(const char *prefix, const char *const *argv) {
  size_t len = strlen(prefix) + 2;
  for (size_t i = 1; argv[i]; i++)
    len += strlen(argv[i]) + 1;
  char *text = malloc(len);
  if (!text)
    return NULL;
  strcpy(text, prefix);
  for (size_t i = 1; argv[i]; i++) {
    if (i > 1 || *prefix)
      strcat(text, " ");
    strcat(text, argv[i]);
  }
  strcat(text, "\n");
  return text;
}

static int echo_start(void *self, const execd_job_spec *spec, execd_job *job,
                      void **handle) {
  echo_backend *b = self;
  int rc = echo_check(self, spec);
  if (rc)
    return rc;
  echo_job *j = calloc(1, sizeof *j);
  char *text = job_text(b->prefix, spec->argv);
  if (!j || !text) {
    free(j);
    free(text);
    b->host->set_error(b->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  j->backend = b;
  j->job = job;
  j->text = text;
  uv_timer_init(b->host->loop(b->inst), &j->timer);
  j->timer.data = j;
  uv_timer_start(&j->timer, job_due, b->delay_ms, 0);
  LIST_INSERT_HEAD(&b->jobs, j, link);
  *handle = j;
  return 0;
}

static int echo_signal(void *self, void *handle, int signum) {
  (void)self;
  if (signum == SIGTERM || signum == SIGKILL)
    job_finish(handle, -1, signum);
  return 0;
}

/* execd is stopping: close the timers of jobs still "running".  They are
 * not reported; execd recovers them at its next start. */
static void echo_stop(void *self) {
  echo_backend *b = self;
  while (!LIST_EMPTY(&b->jobs)) {
    echo_job *j = LIST_FIRST(&b->jobs);
    LIST_REMOVE(j, link);
    uv_close((uv_handle_t *)&j->timer, job_closed);
  }
}

static const execd_backend_ops echo_ops = {
    .struct_size = sizeof(execd_backend_ops),
    .check = echo_check,
    .start = echo_start,
    .signal = echo_signal,
    .health = NULL, /* always ready */
};

static const execd_plugin echo_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_BACKEND,
    .name = "echo", /* the file is backend_echo.so */
    .version = PACKAGE_VERSION,
    .description = "sample backend: prints its arguments, runs nothing",
    .config_keys = echo_config_keys,
    .create = echo_create,
    .stop = echo_stop,
    .destroy = echo_destroy,
    .ops = &echo_ops,
};

EXECD_PLUGIN_DEFINE(echo_plugin)
