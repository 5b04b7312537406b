/* libFuzzer target: the file storage opening its directory, whose journal
 * is the input: the journal reader (journal.c: header, records, CRCs, a
 * damaged tail set aside) and the replay of every record into the index
 * (file.c, record.c, index.c), through the plugin's own create().  The
 * directory is in the private scratch directory and emptied each run.
 * Checked besides memory safety: opening the store a second time, after
 * the first open repaired what it had to, finds the same executions, and
 * the same end of valid data unless the first open rewrote the journal
 * (damage in the middle is compacted away at once). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file_internal.h"
#include "fuzz_support.h"

static char dir[4200], journal[4300];
static json_t *config;
static const execd_plugin *plugin;

static void free_config(void) { json_decref(config); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "%s/store", fuzz_scratch());
  snprintf(journal, sizeof journal, "%s/journal", dir);
  /* sync off: the scratch directory need not survive a power cut. */
  config = json_pack("{s:s, s:b}", "path", dir, "sync", 0);
  if (!config)
    abort();
  atexit(free_config);
  plugin = execd_plugin_entry(fuzz_host());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_empty_dir(dir);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    abort();
  fuzz_write_file(journal, data, size);
  void *self = NULL;
  if (plugin->create(fuzz_host(), NULL, config, &self) != 0) {
    if (self || !fuzz_host_error()[0])
      abort();
    return 0;
  }
  file_store *st = self;
  size_t count = st->index.count;
  uint64_t end = st->journal_end;
  plugin->destroy(self);
  struct stat sb;
  bool rewritten = stat(journal, &sb) != 0 || (uint64_t)sb.st_size != end;

  self = NULL;
  if (plugin->create(fuzz_host(), NULL, config, &self) != 0) {
    fprintf(stderr, "the repaired journal does not open: %s\n", fuzz_host_error());
    abort();
  }
  st = self;
  if (st->index.count != count || (!rewritten && st->journal_end != end)) {
    fprintf(stderr, "reopened: %zu executions, end %llu; first open: %zu, end %llu\n",
            st->index.count, (unsigned long long)st->journal_end, count,
            (unsigned long long)end);
    abort();
  }
  plugin->destroy(self);
  return 0;
}
