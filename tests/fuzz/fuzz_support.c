/* Shared by the libFuzzer targets: scratch directory and host table. */
#include "config.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <execd/plugin.h>

#include "fuzz_support.h"

static char scratch[4096];

/* nftw callback: removes every entry below the directory walked. */
static int remove_below(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  if (ftw->level > 0)
    remove(path);
  return 0;
}

void fuzz_empty_dir(const char *dir) {
  nftw(dir, remove_below, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void) {
  if (scratch[0]) {
    fuzz_empty_dir(scratch);
    rmdir(scratch);
  }
}

const char *fuzz_scratch(void) {
  if (!scratch[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/execd-fuzz-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(scratch)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(remove_scratch);
  }
  return scratch;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

/* --- host table --------------------------------------------------------- */

static char last_error[1024];
static uv_loop_t loop;
static int loop_ready;

static void host_log(execd_instance *inst, int level, const char *fmt, ...) {
  (void)inst;
  (void)level;
  /* Formatted anyway: the plugin's format strings and arguments are part
   * of what is checked. */
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
}

static void host_set_error(execd_instance *inst, const char *fmt, ...) {
  (void)inst;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

static void host_op_error(execd_instance *inst, void *cb_arg, const char *fmt,
                          ...) {
  (void)inst;
  (void)cb_arg;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
}

uv_loop_t *fuzz_loop(void) {
  if (!loop_ready) {
    if (uv_loop_init(&loop) != 0)
      abort();
    loop_ready = 1;
  }
  return &loop;
}

static uv_loop_t *host_loop(execd_instance *inst) {
  (void)inst;
  return fuzz_loop();
}

static const char *host_instance_name(execd_instance *inst) {
  (void)inst;
  return "fuzz";
}

static const char *host_state_dir(execd_instance *inst) {
  (void)inst;
  return fuzz_scratch();
}

static const execd_host host = {
    .abi_major = EXECD_ABI_MAJOR,
    .abi_minor = EXECD_ABI_MINOR,
    .struct_size = sizeof(execd_host),
    .log = host_log,
    .set_error = host_set_error,
    .loop = host_loop,
    .instance_name = host_instance_name,
    .state_dir = host_state_dir,
    .op_error = host_op_error,
};

const execd_host *fuzz_host(void) { return &host; }

const char *fuzz_host_error(void) { return last_error; }
