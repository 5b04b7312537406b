/* Tar in and out of containers: the workspace packed with the job's owner,
 * outputs unpacked only below the destination. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/container/engine_tar.h"

static char dir[64];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/execd-tartest-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* A tar in memory built from (name, type, content-or-link-target) triples. */
typedef struct entry {
  const char *name;
  int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK */
  const char *data;
} entry;

static size_t make_tar(const entry *e, size_t n, char *buf, size_t size) {
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  size_t used = 0;
  ck_assert_int_eq(archive_write_open_memory(a, buf, size, &used), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, e[i].name);
    archive_entry_set_filetype(ae, (unsigned)e[i].type);
    archive_entry_set_perm(ae, 0644);
    if (e[i].type == AE_IFLNK)
      archive_entry_set_symlink(ae, e[i].data);
    if (e[i].type == AE_IFREG)
      archive_entry_set_size(ae, (la_int64_t)strlen(e[i].data));
    ck_assert_int_eq(archive_write_header(a, ae), ARCHIVE_OK);
    if (e[i].type == AE_IFREG)
      archive_write_data(a, e[i].data, strlen(e[i].data));
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return used;
}

static int unpack(const entry *e, size_t n, uint64_t max, unsigned *skipped, char *err) {
  static char buf[1 << 16];
  size_t len = make_tar(e, n, buf, sizeof buf);
  char dest[128];
  snprintf(dest, sizeof dest, "%s/out", dir);
  mkdir(dest, 0755);
  return engine_tar_unpack(buf, len, "output", dest, max, skipped, err, 512);
}

static char *read_file(const char *rel) {
  static char text[256];
  char path[256];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  return text;
}

START_TEST(outputs_land_below_the_destination) {
  entry e[] = {{"output", AE_IFDIR, NULL},
               {"output/result.json", AE_IFREG, "{\"ok\": true}\n"},
               {"output/sub", AE_IFDIR, NULL},
               {"output/sub/b.txt", AE_IFREG, "b"}};
  unsigned skipped = 9;
  char err[512] = "";
  ck_assert_msg(unpack(e, 4, 1 << 20, &skipped, err) == 0, "%s", err);
  ck_assert_uint_eq(skipped, 0);
  ck_assert_str_eq(read_file("out/result.json"), "{\"ok\": true}\n");
  ck_assert_str_eq(read_file("out/sub/b.txt"), "b");
}
END_TEST

START_TEST(dot_dot_is_refused) {
  entry e[] = {{"output/../evil", AE_IFREG, "x"}};
  unsigned skipped;
  char err[512] = "";
  ck_assert_int_eq(unpack(e, 1, 1 << 20, &skipped, err), -1);
  ck_assert_ptr_nonnull(strstr(err, "output/../evil"));
  ck_assert_ptr_null(read_file("evil"));
}
END_TEST

START_TEST(absolute_and_foreign_names_are_refused) {
  char path[128];
  snprintf(path, sizeof path, "%s/abs", dir);
  entry abs[] = {{path, AE_IFREG, "x"}};
  unsigned skipped;
  char err[512] = "";
  ck_assert_int_eq(unpack(abs, 1, 1 << 20, &skipped, err), -1);
  ck_assert_ptr_null(read_file("abs"));
  entry other[] = {{"outputx/a", AE_IFREG, "x"}};
  ck_assert_int_eq(unpack(other, 1, 1 << 20, &skipped, err), -1);
  ck_assert_ptr_nonnull(strstr(err, "outside output/"));
}
END_TEST

START_TEST(symlinks_are_skipped_not_followed) {
  entry e[] = {{"output/link", AE_IFLNK, "/etc"},
               {"output/link/passwd-copy", AE_IFREG, "x"}};
  unsigned skipped = 0;
  char err[512] = "";
  int rc = unpack(e, 2, 1 << 20, &skipped, err);
  ck_assert_uint_eq(skipped, 1);
  struct stat st;
  char link[128];
  snprintf(link, sizeof link, "%s/out/link", dir);
  /* Either refused or written as a plain directory: never through /etc. */
  ck_assert(rc == -1 || (lstat(link, &st) == 0 && S_ISDIR(st.st_mode)));
  ck_assert_int_ne(access("/etc/passwd-copy", F_OK), 0);
}
END_TEST

START_TEST(size_cap_is_enforced) {
  entry e[] = {{"output/a", AE_IFREG, "0123456789"}, {"output/b", AE_IFREG, "0123456789"}};
  unsigned skipped;
  char err[512] = "";
  ck_assert_int_eq(unpack(e, 2, 15, &skipped, err), -1);
  ck_assert_ptr_nonnull(strstr(err, "larger than 15 bytes"));
}
END_TEST

START_TEST(pack_names_entries_relative_with_the_owner) {
  char p[256];
  snprintf(p, sizeof p, "%s/input", dir);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof p, "%s/output", dir);
  ck_assert_int_eq(mkdir(p, 0700), 0);
  snprintf(p, sizeof p, "%s/input/input.json", dir);
  FILE *f = fopen(p, "w");
  fputs("{\"x\": 1}\n", f);
  fclose(f);
  snprintf(p, sizeof p, "%s/input/link", dir);
  ck_assert_int_eq(symlink("/etc/passwd", p), 0);

  char *tar = NULL, err[512] = "";
  size_t len = 0;
  ck_assert_msg(engine_tar_pack(dir, 65534, 65533, &tar, &len, err, sizeof err) == 0, "%s", err);
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  ck_assert_int_eq(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
  struct archive_entry *e;
  int seen_json = 0, seen_output = 0, seen_link = 0;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(e);
    ck_assert_int_ne(name[0], '/');
    ck_assert_int_eq(archive_entry_uid(e), 65534);
    ck_assert_int_eq(archive_entry_gid(e), 65533);
    if (strcmp(name, "input/input.json") == 0) {
      char text[32] = "";
      archive_read_data(a, text, sizeof text - 1);
      ck_assert_str_eq(text, "{\"x\": 1}\n");
      seen_json = 1;
    }
    if (strcmp(name, "output") == 0 || strcmp(name, "output/") == 0) {
      ck_assert_int_eq(archive_entry_filetype(e), AE_IFDIR);
      seen_output = 1;
    }
    if (strstr(name, "link"))
      seen_link = 1;
  }
  archive_read_free(a);
  free(tar);
  ck_assert(seen_json);
  ck_assert(seen_output);
  ck_assert_msg(!seen_link, "a symlink was packed");
}
END_TEST

START_TEST(safe_names) {
  ck_assert(engine_tar_name_is_safe("a/b.txt"));
  ck_assert(engine_tar_name_is_safe("dir/"));
  ck_assert(!engine_tar_name_is_safe("/etc/passwd"));
  ck_assert(!engine_tar_name_is_safe("a/../b"));
  ck_assert(!engine_tar_name_is_safe(".."));
  ck_assert(!engine_tar_name_is_safe("a//b"));
  ck_assert(!engine_tar_name_is_safe("./a"));
  ck_assert(!engine_tar_name_is_safe(""));
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine tar");
  TCase *tc = tcase_create("tar");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, outputs_land_below_the_destination);
  tcase_add_test(tc, dot_dot_is_refused);
  tcase_add_test(tc, absolute_and_foreign_names_are_refused);
  tcase_add_test(tc, symlinks_are_skipped_not_followed);
  tcase_add_test(tc, size_cap_is_enforced);
  tcase_add_test(tc, pack_names_entries_relative_with_the_owner);
  tcase_add_test(tc, safe_names);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
