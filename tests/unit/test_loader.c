/* Loader refusals: a plugin with another ABI major or a newer minor, no
 * entry symbol, the wrong kind, that declines, or that lacks an op its
 * kind requires, is refused with one
 * message naming the file and the reason; a config with a duplicate
 * instance name or a mistyped plugin key is refused with file:line.  Checked
 * through the loader API and through the daemon binary, which must exit
 * non-zero without starting anything.  The plugins are in tests/plugins/. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <execd/plugin.h>

#include "instance.h"
#include "loader.h"

/* --- the loader API ------------------------------------------------------ */

static void loader_setup(void) {
  const char *path = getenv("EXECD_PLUGIN_PATH");
  ck_assert_msg(path && *path, "EXECD_PLUGIN_PATH is not set (run through make check)");
  ck_assert_int_eq(loader_init(path), 0);
}

static void loader_teardown(void) { loader_exit(); }

/* Opens plugin NAME of KIND, expecting refusal with EXPECT_RC; returns the
 * message. */
static const char *refusal_of(int kind, const char *name, int expect_rc) {
  static char err[2048];
  loaded_plugin *p = NULL;
  err[0] = '\0';
  int rc = loader_open(kind, name, host_table(), &p, err, sizeof err);
  ck_assert_msg(rc == expect_rc, "%s %s: rc %d (%s), expected %d", loader_kind_name(kind),
                name, rc, err, expect_rc);
  ck_assert_ptr_null(p);
  ck_assert_msg(strchr(err, '\n') == NULL, "not one line: '%s'", err);
  return err;
}

static const char *refusal(const char *name, int expect_rc) {
  return refusal_of(EXECD_KIND_BACKEND, name, expect_rc);
}

static void assert_has(const char *text, const char *needle) {
  ck_assert_msg(strstr(text, needle) != NULL, "'%s' not in '%s'", needle, text);
}

START_TEST(loads_good_backend) {
  char err[2048] = "";
  loaded_plugin *p = NULL;
  int rc = loader_open(EXECD_KIND_BACKEND, "good", host_table(), &p, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  const execd_plugin *d = loader_descriptor(p);
  ck_assert_str_eq(d->name, "good");
  ck_assert_int_eq(d->kind, EXECD_KIND_BACKEND);
  ck_assert_ptr_nonnull(strstr(loader_path(p), "backend_good"));
  const execd_backend_ops *ops = loader_ops(p);
  ck_assert_ptr_nonnull(ops->start);
  ck_assert_ptr_nonnull(ops->signal);
  ck_assert_ptr_null(ops->health); /* not declared: zero in the padded copy */
  loader_close(p);
}
END_TEST

/* A plugin of an older minor (1.2) has no check_config: the loader reads
 * nothing past its struct_size, whatever follows in its memory. */
START_TEST(loads_older_minor_without_check_config) {
  char err[2048] = "";
  loaded_plugin *p = NULL;
  int rc = loader_open(EXECD_KIND_BACKEND, "oldminor", host_table(), &p, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  const execd_plugin *d = loader_descriptor(p);
  ck_assert_int_eq(d->abi_minor, 2);
  ck_assert_ptr_null(d->check_config);
  loader_close(p);
}
END_TEST

START_TEST(refuses_other_abi_major) {
  const char *err = refusal("abimajor", EXECD_EABI);
  char plugin_abi[64], core_abi[64];
  snprintf(plugin_abi, sizeof plugin_abi, "plugin ABI %d.0", EXECD_ABI_MAJOR + 1);
  snprintf(core_abi, sizeof core_abi, "core ABI %d.%d", EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
  assert_has(err, "backend_abimajor");
  assert_has(err, "refused");
  assert_has(err, plugin_abi);
  assert_has(err, core_abi);
}
END_TEST

START_TEST(refuses_newer_abi_minor) {
  const char *err = refusal("abiminor", EXECD_EABI);
  char plugin_abi[64], core_abi[64];
  snprintf(plugin_abi, sizeof plugin_abi, "plugin ABI %d.%d", EXECD_ABI_MAJOR,
           EXECD_ABI_MINOR + 1);
  snprintf(core_abi, sizeof core_abi, "core ABI %d.%d", EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
  assert_has(err, "backend_abiminor");
  assert_has(err, plugin_abi);
  assert_has(err, core_abi);
}
END_TEST

START_TEST(refuses_missing_entry_symbol) {
  const char *err = refusal("noentry", EXECD_EABI);
  assert_has(err, "backend_noentry");
  assert_has(err, "no '" EXECD_PLUGIN_ENTRY_SYMBOL "' symbol");
}
END_TEST

START_TEST(refuses_wrong_kind) {
  const char *err = refusal("wrongkind", EXECD_EABI);
  assert_has(err, "backend_wrongkind");
  assert_has(err, "it is a storage plugin");
  assert_has(err, "asks for a backend");
}
END_TEST

START_TEST(refuses_plugin_that_declines) {
  const char *err = refusal("declines", EXECD_EABI);
  assert_has(err, "backend_declines");
  assert_has(err, "declined");
}
END_TEST

START_TEST(refuses_storage_without_update) {
  const char *err = refusal_of(EXECD_KIND_STORAGE, "noupdate", EXECD_EABI);
  assert_has(err, "storage_noupdate");
  assert_has(err, "refused");
  assert_has(err, "storage plugin 'noupdate'");
  assert_has(err, "required op 'update' is missing");
}
END_TEST

START_TEST(refuses_backend_without_signal) {
  const char *err = refusal("nosignal", EXECD_EABI);
  assert_has(err, "backend_nosignal");
  assert_has(err, "backend plugin 'nosignal'");
  assert_has(err, "required op 'signal' is missing");
}
END_TEST

START_TEST(refuses_op_beyond_declared_ops_size) {
  /* signal is set, but past the struct_size the plugin declared. */
  const char *err = refusal("shortops", EXECD_EABI);
  assert_has(err, "backend_shortops");
  assert_has(err, "required op 'signal' is missing");
}
END_TEST

START_TEST(refuses_transport_without_stop) {
  const char *err = refusal_of(EXECD_KIND_TRANSPORT, "nostop", EXECD_EABI);
  assert_has(err, "transport_nostop");
  assert_has(err, "transport plugin 'nostop'");
  assert_has(err, "required op 'stop' is missing");
}
END_TEST

START_TEST(reports_missing_plugin) {
  const char *err = refusal("nosuch", EXECD_ENOENT);
  assert_has(err, "backend_nosuch");
  assert_has(err, "cannot load plugin 'nosuch'");
}
END_TEST

START_TEST(refuses_name_with_path) {
  const char *err = refusal("../good", EXECD_EINVAL);
  assert_has(err, "'../good' is not valid");
}
END_TEST

/* A storage ops table of ABI 1.3 ends before log_marks: execd reads it as
 * NULL (log timestamps are then refused), whatever follows in memory. */
START_TEST(loads_older_storage_ops_without_log_marks) {
  char err[2048] = "";
  loaded_plugin *p = NULL;
  int rc = loader_open(EXECD_KIND_STORAGE, "good", host_table(), &p, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  const execd_storage_ops *ops = loader_ops(p);
  ck_assert_ptr_nonnull(ops->log_read);
  ck_assert_ptr_null(ops->log_marks);
  loader_close(p);
}
END_TEST

START_TEST(kind_is_part_of_the_file_name) {
  /* storage_good exists, transport_good does not: kinds never mix. */
  char err[2048] = "";
  loaded_plugin *p = NULL;
  ck_assert_int_eq(loader_open(EXECD_KIND_STORAGE, "good", host_table(), &p, err, sizeof err),
                   0);
  loader_close(p);
  ck_assert_int_eq(loader_open(EXECD_KIND_TRANSPORT, "good", host_table(), &p, err, sizeof err),
                   EXECD_ENOENT);
  assert_has(err, "transport_good");
}
END_TEST

/* --- the daemon binary --------------------------------------------------- */

static char tmpdir[256];
static char conf_path[512];
static char state_dir[512];

typedef struct run_result {
  int status;      /* from waitpid */
  char out[16384]; /* stdout */
  char err[16384]; /* stderr */
} run_result;

static void rm_rf(const char *path) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  ck_assert_int_eq(system(cmd), 0);
}

static void daemon_setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/execd-loader-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  snprintf(conf_path, sizeof conf_path, "%s/execd.conf", tmpdir);
  snprintf(state_dir, sizeof state_dir, "%s/state", tmpdir);
}

static void daemon_teardown(void) { rm_rf(tmpdir); }

static const char *execd_binary(void) {
  static char path[1024];
  const char *builddir = getenv("EXECD_BUILDDIR");
  ck_assert_msg(builddir && *builddir, "EXECD_BUILDDIR is not set (run through make check)");
  snprintf(path, sizeof path, "%s/core/execd", builddir);
  ck_assert_msg(access(path, X_OK) == 0, "%s: %s", path, strerror(errno));
  return path;
}

/* Writes execd.conf: six fixed lines (state_dir in the temp dir, no
 * installed plugin_dir, the test storage), then BLOCKS from line 7 on. */
static void write_conf(const char *blocks) {
  FILE *f = fopen(conf_path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "# written by test_loader\n"
          "daemon: {\n"
          "  state_dir = \"%s\";\n"
          "  plugin_dir = \"%s/no-plugins-here\";\n"
          "};\n"
          "storage: { plugin = \"good\"; };\n"
          "%s",
          state_dir, tmpdir, blocks);
  ck_assert_int_eq(fclose(f), 0);
}

static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

/* Runs execd -c execd.conf [--check-config] to its exit. */
static void run_execd(int check_only, run_result *r) {
  const char *execd = execd_binary();
  char out_path[512], err_path[512];
  snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
  snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
      _exit(127);
    if (check_only)
      execl(execd, "execd", "-c", conf_path, "--check-config", (char *)NULL);
    else
      execl(execd, "execd", "-c", conf_path, (char *)NULL);
    _exit(127);
  }
  ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
  slurp(out_path, r->out, sizeof r->out);
  slurp(err_path, r->err, sizeof r->err);
}

/* Number of lines of TEXT containing NEEDLE; the first is copied to LINE. */
static int lines_with(const char *text, const char *needle, char *line, size_t len) {
  int count = 0;
  for (const char *p = text; *p;) {
    const char *end = strchr(p, '\n');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)n, p);
    if (strstr(buf, needle)) {
      if (count++ == 0)
        snprintf(line, len, "%s", buf);
    }
    p += n + (end ? 1 : 0);
  }
  return count;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Nothing started: non-zero exit, no state directory, no start-up lines. */
static void assert_refused_start(const run_result *r) {
  ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0,
                "execd did not exit non-zero (status %d); stderr:\n%s", r->status, r->err);
  ck_assert_msg(!exists(state_dir), "state_dir %s was created", state_dir);
  ck_assert_msg(strstr(r->err, "starting") == NULL && strstr(r->err, "ready") == NULL,
                "execd started something:\n%s", r->err);
}

/* One log line names the module file and carries each of the reasons. */
static void assert_one_line(const run_result *r, const char *file, const char *reason1,
                            const char *reason2) {
  char line[4096] = "";
  int n = lines_with(r->err, file, line, sizeof line);
  ck_assert_msg(n == 1, "%d lines name %s; stderr:\n%s", n, file, r->err);
  assert_has(line, reason1);
  if (reason2)
    assert_has(line, reason2);
}

/* The refused backend, both with --check-config and as a normal start. */
static void check_refused_backend(const char *plugin, const char *reason1,
                                  const char *reason2) {
  char blocks[256], file[128];
  snprintf(blocks, sizeof blocks, "backends: ( { plugin = \"%s\"; } );\n", plugin);
  snprintf(file, sizeof file, "backend_%s", plugin);
  write_conf(blocks);
  for (int check_only = 1; check_only >= 0; check_only--) {
    run_result r;
    run_execd(check_only, &r);
    assert_refused_start(&r);
    assert_one_line(&r, file, reason1, reason2);
    ck_assert_msg(strstr(r.out, "configuration OK") == NULL, "accepted:\n%s", r.out);
  }
}

START_TEST(daemon_refuses_other_abi_major) {
  char plugin_abi[64], core_abi[64];
  snprintf(plugin_abi, sizeof plugin_abi, "plugin ABI %d.0", EXECD_ABI_MAJOR + 1);
  snprintf(core_abi, sizeof core_abi, "core ABI %d.%d", EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
  check_refused_backend("abimajor", plugin_abi, core_abi);
}
END_TEST

START_TEST(daemon_refuses_newer_abi_minor) {
  char plugin_abi[64], core_abi[64];
  snprintf(plugin_abi, sizeof plugin_abi, "plugin ABI %d.%d", EXECD_ABI_MAJOR,
           EXECD_ABI_MINOR + 1);
  snprintf(core_abi, sizeof core_abi, "core ABI %d.%d", EXECD_ABI_MAJOR, EXECD_ABI_MINOR);
  check_refused_backend("abiminor", plugin_abi, core_abi);
}
END_TEST

START_TEST(daemon_refuses_missing_entry_symbol) {
  check_refused_backend("noentry", "refused", "no 'execd_plugin_entry' symbol");
}
END_TEST

START_TEST(daemon_refuses_wrong_kind) {
  check_refused_backend("wrongkind", "refused", "it is a storage plugin");
}
END_TEST

START_TEST(daemon_refuses_plugin_that_declines) {
  check_refused_backend("declines", "refused", "declined");
}
END_TEST

START_TEST(daemon_refuses_backend_without_signal) {
  check_refused_backend("nosignal", "refused", "required op 'signal' is missing");
}
END_TEST

START_TEST(daemon_reports_missing_plugin) {
  check_refused_backend("nosuch", "cannot load plugin 'nosuch'", NULL);
}
END_TEST

START_TEST(daemon_refuses_duplicate_instance_name) {
  write_conf("backends: (\n"
             "  { plugin = \"good\"; },\n"
             "  { plugin = \"good\"; } );\n");
  for (int check_only = 1; check_only >= 0; check_only--) {
    run_result r;
    run_execd(check_only, &r);
    assert_refused_start(&r);
    assert_one_line(&r, "execd.conf:9:", "backends[1]",
                    "duplicate instance name 'good' (also at line 8)");
  }
}
END_TEST

START_TEST(daemon_accepts_same_plugin_twice_by_name) {
  /* The positive control of the duplicate test: distinct names load. */
  write_conf("backends: (\n"
             "  { name = \"first\"; plugin = \"good\"; },\n"
             "  { name = \"second\"; plugin = \"good\"; } );\n");
  run_result r;
  run_execd(1, &r);
  ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d:\n%s",
                r.status, r.err);
  assert_has(r.out, "configuration OK (2 backends, 0 transports, storage good)");
  ck_assert_msg(!exists(state_dir), "--check-config created %s", state_dir);
}
END_TEST

START_TEST(daemon_check_config_names_mistyped_plugin_key) {
  write_conf("backends: ( { plugin = \"good\"; comands_allowed = [ \"/bin/true\" ]; } );\n");
  run_result r;
  run_execd(1, &r);
  assert_refused_start(&r);
  assert_one_line(&r, "execd.conf:7:", "comands_allowed: unknown setting",
                  "(known: commands_allowed)");
}
END_TEST

START_TEST(daemon_check_config_names_mistyped_plugin_value) {
  write_conf("backends: ( { plugin = \"good\";\n"
             "  commands_allowed = \"/bin/true\"; } );\n");
  run_result r;
  run_execd(1, &r);
  assert_refused_start(&r);
  assert_one_line(&r, "execd.conf:8:", "commands_allowed",
                  "expected a list of strings");
}
END_TEST

/* The plugin's check_config (ABI 1.3) refuses a value: --check-config and
 * a start both name the file, the key's line and the instance. */
START_TEST(daemon_check_config_runs_the_plugin_value_check) {
  write_conf("backends: ( { plugin = \"good\";\n"
             "  commands_allowed = [ \"true\" ]; } );\n");
  for (int check_only = 1; check_only >= 0; check_only--) {
    run_result r;
    run_execd(check_only, &r);
    assert_refused_start(&r);
    assert_one_line(&r, "execd.conf:8:", "backend 'good'",
                    "commands_allowed[0] \"true\" is not an absolute path");
    ck_assert_msg(strstr(r.out, "configuration OK") == NULL, "%s", r.out);
  }
}
END_TEST

/* An older plugin without check_config: --check-config still works. */
START_TEST(daemon_check_config_with_older_minor_plugin) {
  write_conf("backends: ( { plugin = \"good\"; }, { name = \"old\"; plugin = \"oldminor\"; } );\n");
  run_result r;
  run_execd(1, &r);
  ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d: %s", r.status,
                r.err);
  ck_assert_msg(strstr(r.out, "configuration OK") != NULL, "%s", r.out);
}
END_TEST

/* The positive control of "nothing started": with loadable plugins the
 * same kind of config starts, creates state_dir and stops on SIGTERM. */
START_TEST(daemon_starts_with_good_plugins) {
  write_conf("backends: ( { plugin = \"good\"; commands_allowed = [ \"/bin/true\" ]; } );\n");
  const char *execd = execd_binary();
  int errpipe[2];
  ck_assert_int_eq(pipe(errpipe), 0);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(errpipe[1], 2);
    close(errpipe[0]);
    close(errpipe[1]);
    execl(execd, "execd", "-c", conf_path, (char *)NULL);
    _exit(127);
  }
  close(errpipe[1]);
  FILE *err = fdopen(errpipe[0], "r");
  ck_assert_ptr_nonnull(err);
  char line[4096];
  int ready = 0;
  /* Read until the ready line (or until execd exits and closes stderr). */
  while (!ready && fgets(line, sizeof line, err))
    ready = strstr(line, "ready:") != NULL;
  ck_assert_msg(ready, "execd never became ready");
  ck_assert_msg(exists(state_dir), "a started execd did not create %s", state_dir);
  ck_assert_int_eq(kill(pid, SIGTERM), 0);
  int stopped = 0;
  while (fgets(line, sizeof line, err))
    stopped |= strstr(line, "stopped") != NULL;
  fclose(err);
  int status;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
  ck_assert(stopped);
}
END_TEST

static Suite *loader_suite(void) {
  Suite *s = suite_create("loader");
  TCase *api = tcase_create("api");
  tcase_add_checked_fixture(api, loader_setup, loader_teardown);
  tcase_add_test(api, loads_good_backend);
  tcase_add_test(api, loads_older_minor_without_check_config);
  tcase_add_test(api, refuses_other_abi_major);
  tcase_add_test(api, refuses_newer_abi_minor);
  tcase_add_test(api, loads_older_storage_ops_without_log_marks);
  tcase_add_test(api, refuses_missing_entry_symbol);
  tcase_add_test(api, refuses_wrong_kind);
  tcase_add_test(api, refuses_plugin_that_declines);
  tcase_add_test(api, refuses_storage_without_update);
  tcase_add_test(api, refuses_backend_without_signal);
  tcase_add_test(api, refuses_op_beyond_declared_ops_size);
  tcase_add_test(api, refuses_transport_without_stop);
  tcase_add_test(api, reports_missing_plugin);
  tcase_add_test(api, refuses_name_with_path);
  tcase_add_test(api, kind_is_part_of_the_file_name);
  suite_add_tcase(s, api);

  TCase *daemon = tcase_create("daemon");
  tcase_add_checked_fixture(daemon, daemon_setup, daemon_teardown);
  /* Generous: the machine is shared and may run under sanitizers. */
  tcase_set_timeout(daemon, 120);
  tcase_add_test(daemon, daemon_refuses_other_abi_major);
  tcase_add_test(daemon, daemon_refuses_newer_abi_minor);
  tcase_add_test(daemon, daemon_refuses_missing_entry_symbol);
  tcase_add_test(daemon, daemon_refuses_wrong_kind);
  tcase_add_test(daemon, daemon_refuses_plugin_that_declines);
  tcase_add_test(daemon, daemon_refuses_backend_without_signal);
  tcase_add_test(daemon, daemon_reports_missing_plugin);
  tcase_add_test(daemon, daemon_refuses_duplicate_instance_name);
  tcase_add_test(daemon, daemon_accepts_same_plugin_twice_by_name);
  tcase_add_test(daemon, daemon_check_config_names_mistyped_plugin_key);
  tcase_add_test(daemon, daemon_check_config_names_mistyped_plugin_value);
  tcase_add_test(daemon, daemon_check_config_runs_the_plugin_value_check);
  tcase_add_test(daemon, daemon_check_config_with_older_minor_plugin);
  tcase_add_test(daemon, daemon_starts_with_good_plugins);
  suite_add_tcase(s, daemon);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(loader_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
