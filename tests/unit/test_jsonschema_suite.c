/* The official JSON-Schema-Test-Suite, draft 2020-12, against
 * lib/jsonschema: every file of tests/draft2020-12 (the required tests;
 * those of optional/format too, with format as an assertion, when present), with
 * the suite's remotes/ served from memory as http://localhost:1234/ and
 * the draft 2020-12 metaschemas of python3-jsonschema.  Prints passed,
 * failed and skipped counts per file and in total; fails if any test
 * fails.
 *
 * Where: $EXECD_JSON_SCHEMA_SUITE, else <srcdir>/../shared/testdata/
 * json-schema-test-suite or <srcdir>/../../shared/... ; the metaschemas in
 * $EXECD_JSON_SCHEMA_METASCHEMAS, else python3-jsonschema's directory.
 * Without either the test is skipped (exit 77), saying why.
 *
 * Skipped tests, each with its reason: none. */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "jsonschema/jsonschema.h"

#define DEFAULT_METASCHEMAS "/usr/lib/python3/dist-packages/jsonschema/schemas"

/* "file" "description of a group" "description of a test" -> reason. */
static const struct {
  const char *file, *group, *test, *reason;
} skips[] = {
    {NULL, NULL, NULL, NULL},
};

static const char *skip_reason(const char *file, const char *group, const char *test) {
  for (size_t i = 0; skips[i].file; i++)
    if (!strcmp(skips[i].file, file) && !strcmp(skips[i].group, group) &&
        (!skips[i].test || !strcmp(skips[i].test, test)))
      return skips[i].reason;
  return NULL;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int load_remotes(jsonschema_registry *reg, const char *dir, const char *uri_prefix) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char *path, *uri;
    if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 ||
        asprintf(&uri, "%s%s", uri_prefix, e->d_name) < 0)
      abort();
    if (is_dir(path)) {
      char *sub;
      if (asprintf(&sub, "%s/", uri) < 0) abort();
      n += load_remotes(reg, path, sub);
      free(sub);
    } else if (strlen(e->d_name) > 5 && !strcmp(e->d_name + strlen(e->d_name) - 5, ".json")) {
      json_error_t je;
      json_t *doc = json_load_file(path, 0, &je);
      if (!doc) {
        fprintf(stderr, "%s: %s\n", path, je.text);
      } else {
        jsonschema_registry_add(reg, uri, doc);
        json_decref(doc);
        n++;
      }
    }
    free(path);
    free(uri);
  }
  closedir(d);
  return n;
}

static int load_metaschemas(jsonschema_registry *reg, const char *dir) {
  char *p;
  json_error_t je;
  if (asprintf(&p, "%s/draft2020-12.json", dir) < 0) abort();
  json_t *meta = json_load_file(p, 0, &je);
  free(p);
  if (asprintf(&p, "%s/vocabularies.json", dir) < 0) abort();
  json_t *vocab = json_load_file(p, 0, &je);
  free(p);
  if (!meta || !json_is_object(vocab)) {
    json_decref(meta);
    json_decref(vocab);
    return -1;
  }
  jsonschema_registry_add(reg, JSONSCHEMA_DRAFT2020_12, meta);
  const char *uri;
  json_t *doc;
  json_object_foreach(vocab, uri, doc) if (strstr(uri, "/2020-12/")) jsonschema_registry_add(reg, uri, doc);
  json_decref(meta);
  json_decref(vocab);
  return 0;
}

typedef struct totals {
  int passed, failed, skipped;
} totals;

static void run_file(const char *path, const char *name, const jsonschema_registry *reg,
                     int format_assertion, totals *all) {
  json_error_t je;
  json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &je);
  totals t = {0};
  if (!json_is_array(groups)) {
    printf("%-40s cannot be read: %s\n", name, je.text);
    all->failed++;
    json_decref(groups);
    return;
  }
  size_t gi;
  json_t *g;
  jsonschema_options opt = {.format_assertion = format_assertion};
  json_array_foreach(groups, gi, g) {
    const char *gdesc = json_string_value(json_object_get(g, "description"));
    char err[512];
    jsonschema *s = jsonschema_compile(json_object_get(g, "schema"), &opt, reg, err, sizeof err);
    size_t ti;
    json_t *t1;
    json_array_foreach(json_object_get(g, "tests"), ti, t1) {
      const char *tdesc = json_string_value(json_object_get(t1, "description"));
      const char *why = skip_reason(name, gdesc, tdesc);
      if (why) {
        printf("  SKIP %s: %s / %s: %s\n", name, gdesc, tdesc, why);
        t.skipped++;
        continue;
      }
      if (!s) {
        printf("  FAIL %s: %s / %s: the schema does not compile: %s\n", name, gdesc, tdesc, err);
        t.failed++;
        continue;
      }
      int want = json_is_true(json_object_get(t1, "valid"));
      json_t *errors = NULL;
      int got = jsonschema_validate(s, json_object_get(t1, "data"), &errors);
      if (got == want && (got || json_array_size(errors) > 0)) {
        t.passed++;
      } else {
        char *e = errors ? json_dumps(errors, JSON_COMPACT) : NULL;
        printf("  FAIL %s: %s / %s: expected %s, got %s %s\n", name, gdesc, tdesc,
               want ? "valid" : "invalid", got ? "valid" : "invalid", e ? e : "");
        free(e);
        t.failed++;
      }
      json_decref(errors);
    }
    jsonschema_free(s);
  }
  json_decref(groups);
  printf("%-40s passed %3d  failed %3d  skipped %3d\n", name, t.passed, t.failed, t.skipped);
  all->passed += t.passed, all->failed += t.failed, all->skipped += t.skipped;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_dir(const char *dir, const char *prefix, const jsonschema_registry *reg,
                    int format_assertion, totals *all) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, by_name);
  for (int i = 0; i < n; i++) {
    const char *f = names[i]->d_name;
    size_t len = strlen(f);
    if (len > 5 && !strcmp(f + len - 5, ".json")) {
      char *path, *name;
      if (asprintf(&path, "%s/%s", dir, f) < 0 || asprintf(&name, "%s%s", prefix, f) < 0) abort();
      run_file(path, name, reg, format_assertion, all);
      free(path);
      free(name);
    }
    free(names[i]);
  }
  free(names);
}

static char *find_suite(void) {
  const char *env = getenv("EXECD_JSON_SCHEMA_SUITE");
  if (env && *env) return strdup(env);
  const char *src = getenv("EXECD_SRCDIR");
  if (!src) src = ".";
  static const char *rel[] = {"../shared/testdata/json-schema-test-suite",
                              "../../shared/testdata/json-schema-test-suite", NULL};
  for (const char **r = rel; *r; r++) {
    char *p;
    if (asprintf(&p, "%s/%s", src, *r) < 0) abort();
    char *real = realpath(p, NULL);
    free(p);
    if (real && is_dir(real)) return real;
    free(real);
  }
  return NULL;
}

int main(void) {
  char *suite = find_suite();
  const char *metadir = getenv("EXECD_JSON_SCHEMA_METASCHEMAS");
  if (!metadir || !*metadir) metadir = DEFAULT_METASCHEMAS;
  char *tests = NULL, *remotes = NULL;
  if (suite && (asprintf(&tests, "%s/tests/draft2020-12", suite) < 0 ||
                asprintf(&remotes, "%s/remotes", suite) < 0))
    abort();
  if (!suite || !is_dir(tests)) {
    printf("SKIP: the JSON-Schema-Test-Suite is not here (%s); set EXECD_JSON_SCHEMA_SUITE to "
           "its directory\n", suite ? suite : "looked in $EXECD_SRCDIR/../shared/testdata and ../../shared/testdata");
    return 77;
  }
  jsonschema_registry *reg = jsonschema_registry_new();
  if (load_metaschemas(reg, metadir)) {
    printf("SKIP: the draft 2020-12 metaschemas are not in %s (install python3-jsonschema or set "
           "EXECD_JSON_SCHEMA_METASCHEMAS)\n", metadir);
    return 77;
  }
  int nremotes = load_remotes(reg, remotes, "http://localhost:1234/");
  printf("suite %s, %d remote documents\n", suite, nremotes);
  totals all = {0};
  run_dir(tests, "", reg, 0, &all);
  char *fmt;
  if (asprintf(&fmt, "%s/optional/format", tests) < 0) abort();
  if (is_dir(fmt)) {
    totals opt = {0};
    run_dir(fmt, "optional/format/", reg, 1, &opt);
    printf("optional/format (format as an assertion, informative): passed %d, failed %d\n",
           opt.passed, opt.failed);
  }
  printf("draft2020-12 required: passed %d, failed %d, skipped %d\n", all.passed, all.failed,
         all.skipped);
  jsonschema_registry_free(reg);
  free(fmt);
  free(tests);
  free(remotes);
  free(suite);
  return all.failed ? 1 : 0;
}
