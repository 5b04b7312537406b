/* See harness.h.  The host table here is the minimum a backend or storage
 * plugin needs; transport calls answer EXECD_ENOTSUP. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "loader.h"

struct execd_instance {
  char name[64];
  loaded_plugin *loaded;
};

static uv_loop_t harness_uv;
static int harness_ready;
static char last_error[1024];
/* The state directory a plugin gets from h_state_dir: one per test
 * process, made when first asked for, inside the scratch tree when there is
 * one (harness_scratch_begin), else on its own under /tmp. */
static char scratch_root[64];
static char state_dir[128];
static int state_dir_made;
static pid_t state_dir_pid;

static void h_log(execd_instance *inst, int level, const char *fmt, ...) {
  if (level > EXECD_LOG_INFO && !getenv("HARNESS_DEBUG"))
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[%s] ", inst ? inst->name : "?");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void h_set_error(execd_instance *inst, const char *fmt, ...) {
  (void)inst;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

/* As set_error here: one text, which the suites read with harness_last_error(). */
static void h_op_error(execd_instance *inst, void *cb_arg, const char *fmt, ...) {
  (void)inst, (void)cb_arg;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

static uv_loop_t *h_loop(execd_instance *inst) { return &harness_uv; }
static const char *h_instance_name(execd_instance *inst) { return inst->name; }
static const char *h_state_dir(execd_instance *inst) {
  if (!state_dir_made) {
    if (scratch_root[0])
      snprintf(state_dir, sizeof state_dir, "%s/state-XXXXXX", scratch_root);
    else
      snprintf(state_dir, sizeof state_dir, "/tmp/execd-conformance-XXXXXX");
    if (!mkdtemp(state_dir))
      abort();
    state_dir_made = 1;
    state_dir_pid = getpid();
  }
  return state_dir;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* Decodes the octal escapes (\040 for a blank...) of a mountinfo field in
 * place. */
static void unescape_mount_point(char *s) {
  char *out = s;
  for (const char *in = s; *in;) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' &&
        in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
}

static int deeper_first(const void *a, const void *b) {
  size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

/* What is mounted at or below root (this process's mount namespace, the
 * one the plugins under test mount in), deepest first: a daemon or plugin
 * that crashed leaves its tmpfs workspaces mounted, and remove() cannot
 * take a mount point away. */
static void unmount_under(const char *root) {
  char real[PATH_MAX];
  if (!realpath(root, real))
    return;
  size_t len = strlen(real);
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return;
  char **points = NULL;
  size_t n = 0;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    /* The fifth field is the mount point. */
    char *save = NULL, *field = strtok_r(line, " ", &save);
    for (int i = 1; field && i < 5; i++)
      field = strtok_r(NULL, " ", &save);
    if (!field)
      continue;
    unescape_mount_point(field);
    if (strncmp(field, real, len) != 0 || (field[len] != '\0' && field[len] != '/'))
      continue;
    char **grown = realloc(points, (n + 1) * sizeof *points);
    if (!grown || !(grown[n] = strdup(field)))
      abort();
    points = grown;
    n++;
  }
  free(line);
  fclose(f);
  if (n > 1) /* qsort's array may not be NULL, even for 0 elements */
    qsort(points, n, sizeof *points, deeper_first);
  for (size_t i = 0; i < n; i++) {
    /* Busy (a leftover process works in it): detached, gone once idle. */
    if (umount2(points[i], 0) != 0 && umount2(points[i], MNT_DETACH) != 0)
      fprintf(stderr, "harness: cannot unmount %s: %s\n", points[i], strerror(errno));
    free(points[i]);
  }
  free(points);
}

static void remove_tree(const char *path) {
  unmount_under(path);
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void harness_scratch_begin(void) {
  if (scratch_root[0])
    return;
  snprintf(scratch_root, sizeof scratch_root, "/tmp/execd-conformance-XXXXXX");
  if (!mkdtemp(scratch_root))
    abort();
  /* Workspaces inside it are used by jobs running as other users. */
  chmod(scratch_root, 0755);
}

const char *harness_tmpdir(void) { return scratch_root[0] ? scratch_root : "/tmp"; }

void harness_scratch_end(void) {
  if (!scratch_root[0])
    return;
  remove_tree(scratch_root);
  scratch_root[0] = '\0';
  state_dir_made = 0;
}

static void append(char **buf, size_t *len, const char *data, size_t n) {
  char *grown = realloc(*buf, *len + n + 1);
  if (!grown)
    abort();
  memcpy(grown + *len, data, n);
  *len += n;
  grown[*len] = '\0';
  *buf = grown;
}

static void h_job_output(execd_job *job, int stream, const char *data, size_t len) {
  harness_job *j = (harness_job *)job;
  if (stream == EXECD_STREAM_STDERR)
    append(&j->err, &j->err_len, data, len);
  else
    append(&j->out, &j->out_len, data, len);
}

static void h_job_exited(execd_job *job, const execd_job_exit *exit) {
  harness_job *j = (harness_job *)job;
  j->exited++;
  memset(&j->exit, 0, sizeof j->exit);
  memcpy(&j->exit, exit,
         exit->struct_size && exit->struct_size < sizeof j->exit ? exit->struct_size
                                                                 : sizeof j->exit);
  snprintf(j->error_code, sizeof j->error_code, "%s",
           exit->error_code ? exit->error_code : "");
  snprintf(j->error_message, sizeof j->error_message, "%s",
           exit->error_message ? exit->error_message : "");
  j->exit.error_code = j->error_code[0] ? j->error_code : NULL;
  j->exit.error_message = j->error_message;
}

static int h_submit(execd_instance *i, const char *t, const char *b, size_t l,
                    unsigned w, execd_reply_cb cb, void *a) { return EXECD_ENOTSUP; }
static int h_idcall(execd_instance *i, const char *t, const char *id,
                    execd_reply_cb cb, void *a) { return EXECD_ENOTSUP; }
static int h_list(execd_instance *i, const char *t, const execd_list_query *q,
                  execd_reply_cb cb, void *a) { return EXECD_ENOTSUP; }
static int h_logs(execd_instance *i, const char *t, const char *id, uint64_t o,
                  execd_reply_cb cb, void *a) { return EXECD_ENOTSUP; }
static int h_watch(execd_instance *i, const char *t, const char *id,
                   execd_watch_cb cb, void *a, execd_watch **w) { return EXECD_ENOTSUP; }
static void h_unwatch(execd_watch *w) {}
static int h_nullary(execd_instance *i, execd_reply_cb cb, void *a) { return EXECD_ENOTSUP; }

static const execd_host harness_host_table = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR,
    .struct_size = sizeof(execd_host),
    .log = h_log,
    .set_error = h_set_error,
    .loop = h_loop,
    .instance_name = h_instance_name,
    .state_dir = h_state_dir,
    .job_output = h_job_output,
    .job_exited = h_job_exited,
    .submit = h_submit,
    .get = h_idcall,
    .list = h_list,
    .cancel = h_idcall,
    .remove = h_idcall,
    .logs = h_logs,
    .watch = h_watch,
    .unwatch = h_unwatch,
    .agents = h_nullary,
    .health = h_nullary,
    .metrics = h_nullary,
    .op_error = h_op_error,
};

const execd_host *harness_host(void) { return &harness_host_table; }
uv_loop_t *harness_loop(void) { return &harness_uv; }
const char *harness_last_error(void) { return last_error; }

void harness_init(void) {
  if (harness_ready)
    return;
  if (uv_loop_init(&harness_uv) != 0)
    abort();
  const char *path = getenv("EXECD_PLUGIN_PATH");
  if (loader_init(path) != 0)
    abort();
  harness_ready = 1;
}

void harness_shutdown(void) {
  /* A state directory outside a scratch tree is this process's to remove. */
  if (state_dir_made && !scratch_root[0] && state_dir_pid == getpid()) {
    remove_tree(state_dir);
    state_dir_made = 0;
  }
  if (!harness_ready)
    return;
  uv_run(&harness_uv, UV_RUN_NOWAIT);
  uv_loop_close(&harness_uv);
  loader_exit();
  harness_ready = 0;
}

int harness_load(int kind, const char *name, const char *config_json,
                 harness_plugin *out) {
  harness_init();
  memset(out, 0, sizeof *out);
  last_error[0] = '\0';
  execd_instance *inst = calloc(1, sizeof *inst);
  snprintf(inst->name, sizeof inst->name, "%s", name);
  int rc = loader_open(kind, name, &harness_host_table, &inst->loaded, last_error,
                       sizeof last_error);
  if (rc != 0) {
    free(inst);
    return rc;
  }
  json_error_t jerr;
  json_t *config = json_loads(config_json ? config_json : "{}", 0, &jerr);
  if (!config) {
    snprintf(last_error, sizeof last_error, "bad config JSON: %s", jerr.text);
    loader_close(inst->loaded);
    free(inst);
    return EXECD_EINVAL;
  }
  const execd_plugin *desc = loader_descriptor(inst->loaded);
  rc = desc->create(&harness_host_table, inst, config, &out->self);
  json_decref(config);
  if (rc == 0 && desc->start)
    rc = desc->start(out->self);
  if (rc != 0) {
    if (out->self)
      desc->destroy(out->self);
    loader_close(inst->loaded);
    free(inst);
    out->self = NULL;
    return rc;
  }
  out->plugin = desc;
  out->ops = loader_ops(inst->loaded);
  out->inst = inst;
  return 0;
}

void harness_unload(harness_plugin *p) {
  if (!p->inst)
    return;
  if (p->plugin->stop)
    p->plugin->stop(p->self);
  uv_run(&harness_uv, UV_RUN_DEFAULT);
  p->plugin->destroy(p->self);
  loader_close(p->inst->loaded);
  free(p->inst);
  memset(p, 0, sizeof *p);
}

harness_job *harness_job_new(void) {
  harness_job *j = calloc(1, sizeof *j);
  if (!j)
    abort();
  return j;
}

void harness_job_free(harness_job *job) {
  if (!job)
    return;
  free(job->out);
  free(job->err);
  free(job);
}

typedef struct until_ctx {
  int (*done)(void *);
  void *arg;
  int timed_out;
} until_ctx;

static void until_timeout(uv_timer_t *t) {
  until_ctx *c = t->data;
  c->timed_out = 1;
}

int harness_run_until(int (*done)(void *arg), void *arg, int timeout_ms) {
  until_ctx ctx = {done, arg, 0};
  uv_timer_t timer;
  uv_timer_init(&harness_uv, &timer);
  timer.data = &ctx;
  uv_timer_start(&timer, until_timeout, (uint64_t)timeout_ms, 0);
  while (!done(arg) && !ctx.timed_out)
    uv_run(&harness_uv, UV_RUN_ONCE);
  uv_timer_stop(&timer);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&harness_uv, UV_RUN_NOWAIT);
  return done(arg) ? 1 : 0;
}

static int job_done(void *arg) { return ((harness_job *)arg)->exited > 0; }

int harness_wait_job(harness_job *job, int timeout_ms) {
  return harness_run_until(job_done, job, timeout_ms);
}
