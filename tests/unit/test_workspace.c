/* Workspace layout and output collection on a real directory. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outputs.h"
#include "workspace.h"

/* The defaults of daemon.limits. */
static const json_bounds bounds = {64, 250000};

static char root[64];
static char ws[128];

static void setup(void) {
  snprintf(root, sizeof root, "/tmp/execd-ws-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(root));
  snprintf(ws, sizeof ws, "%s/ws", root);
}

static void teardown(void) {
  workspace_remove(root);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

START_TEST(lays_out_input) {
  json_t *input = json_pack(
      "{s:{s:i}, s:{s:s}, s:{s:{s:[]}}, s:[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}]}", "data",
      "x", 1, "config", "p", "v", "documents", "graph_data", "nodes", "files", "path", "main.py",
      "content", "print(1)", "encoding", "utf-8", "mode", 0644, "path", "sub/dir/b.bin",
      "content", "AAEC", "encoding", "base64", "mode", 0600);
  json_t *cp = json_pack("{s:i}", "step", 2);
  char err[256];
  int rc = workspace_prepare(ws, input, cp, (uid_t)-1, (gid_t)-1, 0, err, sizeof err);
  ck_assert_msg(rc == 0, "%s", err);
  char p[256];
  snprintf(p, sizeof p, "%s/input/input.json", ws);
  ck_assert_str_eq(slurp(p), "{\"x\":1}");
  snprintf(p, sizeof p, "%s/config/config.json", ws);
  ck_assert_str_eq(slurp(p), "{\"p\":\"v\"}");
  snprintf(p, sizeof p, "%s/input/graph_data.json", ws);
  ck_assert_str_eq(slurp(p), "{\"nodes\":[]}");
  snprintf(p, sizeof p, "%s/input/checkpoint.json", ws);
  ck_assert_str_eq(slurp(p), "{\"step\":2}");
  snprintf(p, sizeof p, "%s/input/main.py", ws);
  ck_assert_str_eq(slurp(p), "print(1)");
  struct stat st;
  snprintf(p, sizeof p, "%s/input/sub/dir/b.bin", ws);
  ck_assert_int_eq(stat(p, &st), 0);
  ck_assert_int_eq(st.st_size, 3);
  ck_assert_int_eq(st.st_mode & 0777, 0600);
  snprintf(p, sizeof p, "%s/output", ws);
  ck_assert_int_eq(stat(p, &st), 0);
  ck_assert(S_ISDIR(st.st_mode));
  /* an existing directory is never reused */
  rc = workspace_prepare(ws, input, NULL, (uid_t)-1, (gid_t)-1, 0, err, sizeof err);
  ck_assert_int_ne(rc, 0);
  json_decref(input);
  json_decref(cp);
}
END_TEST

static void put(const char *rel, const char *content) {
  char p[256];
  snprintf(p, sizeof p, "%s/output/%s", ws, rel);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(content, f);
  fclose(f);
}

START_TEST(collects_outputs) {
  json_t *input = json_object();
  char err[256];
  ck_assert_int_eq(workspace_prepare(ws, input, NULL, (uid_t)-1, (gid_t)-1, 0, err, sizeof err), 0);
  json_decref(input);
  put("result.json", "{\"answer\": 42}");
  put("a.csv", "x,y\n");
  put("b.csv", "hello");
  put("notes.txt", "skip me");
  char target[256], link[256];
  snprintf(target, sizeof target, "/etc/hostname");
  snprintf(link, sizeof link, "%s/output/evil.csv", ws);
  ck_assert_int_eq(symlink(target, link), 0);
  json_t *globs = json_pack("[s, s]", "*.csv", "result.json");
  json_t *res = outputs_collect(ws, globs, 20, &bounds);
  ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "output"), "answer")), 42);
  json_t *files = json_object_get(res, "output_files");
  ck_assert_uint_eq(json_array_size(files), 3); /* a.csv b.csv result.json; no symlink */
  json_t *a = json_array_get(files, 0);
  ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "a.csv");
  ck_assert_int_eq(json_integer_value(json_object_get(a, "size")), 4);
  ck_assert_str_eq(json_string_value(json_object_get(a, "content")), "x,y\n");
  /* sha256("hello") */
  json_t *b = json_array_get(files, 1);
  ck_assert_str_eq(json_string_value(json_object_get(b, "sha256")),
                   "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  /* over the 20-byte content budget (4 + 5 + 14): listed, not inlined */
  ck_assert(json_is_true(json_object_get(json_array_get(files, 2), "truncated")));
  json_decref(res);
  json_decref(globs);
  put("result.json", "{not json");
  res = outputs_collect(ws, NULL, 1024, &bounds);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res, "error"), "code")),
                   "output_invalid");
  json_decref(res);
}
END_TEST

/* The end of recovery: the last run's workspaces go, those in use stay. */
START_TEST(sweep_keeps_only_the_named) {
  char path[256];
  const char *names[] = {"a-1", "b-2", "c-1"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", root, names[i]);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/output", root, names[i]);
    ck_assert_int_eq(mkdir(path, 0755), 0);
  }
  snprintf(path, sizeof path, "%s/stray-file", root);
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  ck_assert_int_ge(fd, 0);
  close(fd);
  const char *keep[] = {"b-2", "not-there", NULL};
  ck_assert_int_eq(workspace_sweep(root, keep), 0);
  struct stat st;
  snprintf(path, sizeof path, "%s/b-2/output", root);
  ck_assert_int_eq(stat(path, &st), 0);
  const char *gone[] = {"a-1", "c-1", "stray-file"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", root, gone[i]);
    ck_assert_msg(lstat(path, &st) != 0, "%s was not removed", gone[i]);
  }
  snprintf(path, sizeof path, "%s/missing", root);
  ck_assert_int_eq(workspace_sweep(path, keep), 0);
}
END_TEST

START_TEST(envelope) {
  const char *out = "log line\n{\"ok\": true, \"output\": {\"v\": 1}}\n\n";
  json_t *e = outputs_parse_envelope(out, strlen(out), &bounds, NULL, 0);
  ck_assert_ptr_nonnull(e);
  ck_assert(json_is_true(json_object_get(e, "ok")));
  json_decref(e);
  out = "{\"ok\": true}\nlast words\n";
  ck_assert_ptr_null(outputs_parse_envelope(out, strlen(out), &bounds, NULL, 0));
  ck_assert_ptr_null(outputs_parse_envelope("", 0, &bounds, NULL, 0));
}
END_TEST

int main(void) {
  Suite *s = suite_create("workspace");
  TCase *tc = tcase_create("all");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, lays_out_input);
  tcase_add_test(tc, collects_outputs);
  tcase_add_test(tc, envelope);
  tcase_add_test(tc, sweep_keeps_only_the_named);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
