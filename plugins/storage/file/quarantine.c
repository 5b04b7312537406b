/* Quarantine: a record whose newest version is in the journal but cannot
 * be read back (its CRC no longer checks out, or its JSON does not parse,
 * e.g. nested deeper than jansson reads) is set aside instead of failing
 * every list and every start that reaches it.  Its bytes are saved under
 * <dir>/quarantine/, its log file is linked there, and the record leaves
 * the store with a tombstone: one warning names it, and gets, lists and
 * recovery carry on without it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_internal.h"

int quarantine_save(const char *dir, const char *logs_dir, const char *id,
                    uint64_t offset, const char *bytes, size_t len, char *path,
                    size_t pathlen) {
  char qdir[4096];
  snprintf(qdir, sizeof qdir, "%s/quarantine", dir);
  if (mkdir(qdir, 0750) != 0 && errno != EEXIST)
    return -1;
  snprintf(path, pathlen, "%s/%s-%llu.record", qdir, id,
           (unsigned long long)offset);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0 && errno == EEXIST)
    return 0; /* another read of the same version saved it */
  if (fd < 0)
    return -1;
  int rc = journal_pwrite_all(fd, bytes, len, 0);
  if (rc == 0)
    rc = fsync(fd);
  int saved = errno;
  close(fd);
  if (rc != 0) {
    unlink(path);
    errno = saved;
    return -1;
  }
  /* The log is deleted with the record; a second name keeps its bytes. */
  char log[4096], qlog[4200];
  logs_path(logs_dir, id, log, sizeof log);
  snprintf(qlog, sizeof qlog, "%s/%s-%llu.log", qdir, id,
           (unsigned long long)offset);
  if (link(log, qlog) != 0 && errno != ENOENT && errno != EEXIST)
    return -1;
  return journal_sync_dir(qdir);
}

void quarantine_set_aside(file_store *st, index_entry *e, uint64_t offset,
                          const char *why, const char *path) {
  /* A newer version (written meanwhile) is readable: it stays. */
  if (!e->linked || e->pending || e->offset != offset ||
      index_find(&st->index, e->id) != e)
    return;
  char id[RECORD_ID_MAX + 1];
  snprintf(id, sizeof id, "%s", e->id);
  int rc = store_remove_entry(st, e, NULL, NULL);
  st->host->log(st->inst, EXECD_LOG_WARNING,
                "the record of execution %s (journal offset %llu) cannot be "
                "read: %s; it is set aside in %s%s",
                id, (unsigned long long)offset, why, path,
                rc == 0 ? " and removed from the store"
                        : " and hidden until execd restarts (storage writes "
                          "are stopped)");
  if (rc != 0) {
    /* No tombstone can be written: hide it from this run at least. */
    st->live_bytes -= e->length;
    logs_forget(st, e->id);
    index_unlink(&st->index, e);
  }
}
