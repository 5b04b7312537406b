/* The file storage plugin, execd's embedded default storage: descriptor,
 * configuration, and the store's lifecycle: opening the directory, loading
 * the journal into the index (recovering from a torn tail), closing.  The
 * storage ops are in ops.c; see file_internal.h for the other parts and
 * doc/storage-file.md for the on-disk format. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configcheck/config_check.h"
#include "file_internal.h"

#define DEFAULT_LOG_MAX (1ull << 20)
#define DEFAULT_COMPACT_MIN (64ull << 20)

static const execd_config_key file_config_keys[] = {
    {"path", EXECD_CFG_STRING, NULL,
     "directory of the store (created if missing); a relative path is taken "
     "from daemon.state_dir"},
    {"sync", EXECD_CFG_BOOL, "true",
     "fsync writes before they are acknowledged; false survives a crash of "
     "execd but not of the machine"},
    {"log_max", EXECD_CFG_SIZE, "1M",
     "bytes of log kept per execution; later output is dropped"},
    {"compact_min", EXECD_CFG_SIZE, "64M",
     "the journal is compacted when its dead bytes exceed both its live "
     "bytes and this"},
    {NULL, 0, NULL, NULL}};

/* --- journal files ----------------------------------------------------- */

journal_file *journal_file_new(int fd) {
  journal_file *jf = calloc(1, sizeof *jf);
  if (jf) {
    jf->fd = fd;
    jf->refs = 1;
  }
  return jf;
}

journal_file *journal_file_ref(journal_file *jf) {
  jf->refs++;
  return jf;
}

void journal_file_unref(journal_file *jf) {
  if (!jf || --jf->refs > 0)
    return;
  close(jf->fd);
  free(jf);
}

void store_break(file_store *st, const char *why) {
  if (st->broken)
    return;
  snprintf(st->broken_why, sizeof st->broken_why, "%s", why);
  st->broken = st->broken_why;
  st->host->log(st->inst, EXECD_LOG_ERR,
                "storage writes stopped: %s; restart execd once the cause is "
                "fixed (nothing acknowledged is lost)",
                st->broken);
  /* Nothing queued will be written; reads waiting for log bytes to be
   * written would wait forever. */
  commit_fail_queued(st);
  logs_release_waits(st);
}

void store_op_error(file_store *st, void *cb_arg, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (EXECD_HOST_HAS(st->host, op_error) && st->host->op_error)
    st->host->op_error(st->inst, cb_arg, "%s", text);
  else
    st->host->set_error(st->inst, "%s", text);
}

/* --- configuration ------------------------------------------------------- */

static int cfg_size(file_store *st, const json_t *config, const char *key,
                    uint64_t def, uint64_t min, uint64_t *out) {
  const json_t *v = json_object_get(config, key);
  if (!v) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min) {
    st->host->set_error(st->inst, "%s must be a size of at least %llu bytes",
                        key, (unsigned long long)min);
    return EXECD_ECONFIG;
  }
  *out = (uint64_t)json_integer_value(v);
  return 0;
}

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s/%s", a, b);
  return s;
}

static int configure(file_store *st, const json_t *config) {
  const json_t *path = json_object_get(config, "path");
  if (!path) {
    st->host->set_error(st->inst, "path is missing: set it to the directory "
                        "of the store (e.g. \"/var/lib/execd/store\")");
    return EXECD_ECONFIG;
  }
  if (!json_is_string(path) || !json_string_value(path)[0]) {
    st->host->set_error(st->inst, "path must be a non-empty string");
    return EXECD_ECONFIG;
  }
  const json_t *sync = json_object_get(config, "sync");
  if (sync && !json_is_boolean(sync)) {
    st->host->set_error(st->inst, "sync must be true or false");
    return EXECD_ECONFIG;
  }
  st->sync = !sync || json_is_true(sync);
  int rc;
  if ((rc = cfg_size(st, config, "log_max", DEFAULT_LOG_MAX, 1, &st->log_max)) ||
      (rc = cfg_size(st, config, "compact_min", DEFAULT_COMPACT_MIN, 0,
                     &st->compact_min)))
    return rc;

  const char *p = json_string_value(path);
  if (p[0] == '/') {
    st->dir = strdup(p);
  } else {
    const char *base = st->host->state_dir(st->inst);
    st->dir = join(base ? base : ".", p);
  }
  size_t n = st->dir ? strlen(st->dir) : 0;
  while (n > 1 && st->dir[n - 1] == '/')
    st->dir[--n] = '\0';
  st->journal_path = st->dir ? join(st->dir, "journal") : NULL;
  st->compact_path = st->dir ? join(st->dir, "journal.compact") : NULL;
  st->logs_dir = st->dir ? join(st->dir, "logs") : NULL;
  if (!st->journal_path || !st->compact_path || !st->logs_dir) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  return 0;
}

/* --- opening the directory ---------------------------------------------- */

/* mkdir -p */
static int make_dirs(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return -1;
      *p = c;
      if (!c)
        break;
    }
  }
  struct stat sb;
  if (stat(path, &sb) != 0)
    return -1;
  if (!S_ISDIR(sb.st_mode)) {
    errno = ENOTDIR;
    return -1;
  }
  return 0;
}

static int lock_dir(file_store *st) {
  char *path = join(st->dir, "lock");
  if (!path) {
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  int rc = 0;
  if (st->lock_fd < 0) {
    st->host->set_error(st->inst, "cannot open %s: %s", path, strerror(errno));
    rc = EXECD_EIO;
  } else if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    st->host->set_error(st->inst, "%s is in use by another process (%s is "
                        "locked): two daemons cannot share a file storage",
                        st->dir, path);
    rc = EXECD_EUNAVAIL;
  }
  free(path);
  return rc;
}

typedef struct load_ctx {
  file_store *st;
  size_t skipped;
  uint64_t first_skipped;
} load_ctx;

static void skip(load_ctx *c, uint64_t offset) {
  if (!c->skipped++)
    c->first_skipped = offset;
}

/* Replays one journal record into the index. */
static int load_record(void *arg, int type, uint64_t offset, uint32_t rec_len,
                       const char *payload, uint32_t payload_len, char *err,
                       size_t errlen) {
  load_ctx *c = arg;
  file_store *st = c->st;
  /* A PUT is loaded from its index line only; tombstones are small. */
  size_t meta_len = payload_len, body_len;
  const char *body;
  if (type == JOURNAL_PUT &&
      record_payload_split(payload, payload_len, &meta_len, &body, &body_len) != 0) {
    skip(c, offset);
    return 0;
  }
  json_t *rec = json_loadb(payload, meta_len, 0, NULL);
  if (!rec) {
    skip(c, offset);
    return 0;
  }
  char why[256];
  if (type == JOURNAL_DELETE) {
    const char *id = json_string_value(json_object_get(rec, "id"));
    index_entry *e = id ? index_find(&st->index, id) : NULL;
    if (!id)
      skip(c, offset);
    if (e) {
      st->live_bytes -= e->length;
      index_unlink(&st->index, e);
    }
    json_decref(rec);
    return 0;
  }
  record_fields f;
  if (record_fields_get(rec, &f, why, sizeof why) != 0) {
    skip(c, offset);
    json_decref(rec);
    return 0;
  }
  index_entry *e = index_find(&st->index, f.id);
  if (e) {
    index_entry_ref(e);
    st->live_bytes -= e->length;
    index_unlink(&st->index, e);
  } else if (!(e = index_entry_new())) {
    json_decref(rec);
    snprintf(err, errlen, "out of memory loading the journal");
    return EXECD_ENOMEM;
  }
  int rc = index_entry_set(e, &f);
  json_decref(rec);
  if (rc != 0) {
    index_entry_unref(e);
    snprintf(err, errlen, "out of memory loading the journal");
    return EXECD_ENOMEM;
  }
  e->offset = offset;
  e->length = rec_len;
  st->live_bytes += rec_len;
  index_link(&st->index, e);
  index_entry_unref(e);
  return 0;
}

static int open_store(file_store *st) {
  if (make_dirs(st->dir) != 0 || make_dirs(st->logs_dir) != 0) {
    st->host->set_error(st->inst, "cannot create the directory %s: %s",
                        st->dir, strerror(errno));
    return EXECD_EIO;
  }
  int rc = lock_dir(st);
  if (rc != 0)
    return rc;
  /* Left by a compaction that did not finish: the journal is complete. */
  unlink(st->compact_path);

  load_ctx c = {st, 0, 0};
  journal_opened j;
  char err[1024] = "";
  rc = journal_open(st->journal_path, load_record, &c, &j, err, sizeof err);
  if (rc != 0) {
    st->host->set_error(st->inst, "%s", err);
    return rc;
  }
  st->journal = journal_file_new(j.fd);
  if (!st->journal) {
    close(j.fd);
    st->host->set_error(st->inst, "out of memory");
    return EXECD_ENOMEM;
  }
  st->header_end = j.header_end;
  st->journal_end = j.end;
  if (j.damaged_ranges) {
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "journal %s is damaged in the middle (not a torn tail: "
                  "valid records follow): %llu record%s lost in %llu damaged "
                  "byte%s at %s; "
                  "the records after the damage are loaded; the damaged bytes "
                  "are saved in %s",
                  st->journal_path, (unsigned long long)j.damaged_records,
                  j.damaged_records == 1 ? "" : "s",
                  (unsigned long long)j.damaged_bytes,
                  j.damaged_bytes == 1 ? "" : "s", j.damaged_where,
                  j.damaged_aside);
    /* The damaged bytes stay in the journal as dead bytes until a
     * compaction copies the live records without them: do it now. */
    st->compact_now = true;
  }
  if (j.dropped_bytes)
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "journal %s: dropped %llu bytes at offset %llu (%s: a write "
                  "cut short by a crash); they are saved in %s",
                  st->journal_path, (unsigned long long)j.dropped_bytes,
                  (unsigned long long)j.dropped_at, j.dropped_why, j.aside);
  if (c.skipped)
    st->host->log(st->inst, EXECD_LOG_WARNING,
                  "journal %s: skipped %zu records that are not execution "
                  "records (the first at offset %llu)",
                  st->journal_path, c.skipped,
                  (unsigned long long)c.first_skipped);
  st->host->log(st->inst, EXECD_LOG_INFO,
                "%s: %zu executions, journal %llu bytes (%llu live)%s", st->dir,
                st->index.count, (unsigned long long)st->journal_end,
                (unsigned long long)st->live_bytes,
                st->sync ? "" : ", sync off");
  return 0;
}

/* --- lifecycle ------------------------------------------------------------ */

static void file_destroy(void *self);

/* check_config: create()'s configure() on a scratch store; the directory
 * is neither created nor opened (open_store() does that). */
static int file_check_config(const json_t *config, char *err, size_t errlen) {
  config_check_ctx ck;
  file_store *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return EXECD_ENOMEM;
  }
  st->host = config_check_host();
  st->inst = config_check_begin(&ck, err, errlen);
  st->lock_fd = -1;
  index_init(&st->index);
  STAILQ_INIT(&st->queued);
  RB_INIT(&st->logs);
  STAILQ_INIT(&st->log_waits);
  int rc = configure(st, config);
  file_destroy(st);
  return config_check_end(&ck, rc);
}

static int file_create(const execd_host *host, execd_instance *inst,
                       const json_t *config, void **self) {
  *self = NULL;
  file_store *st = calloc(1, sizeof *st);
  if (!st) {
    host->set_error(inst, "out of memory");
    return EXECD_ENOMEM;
  }
  st->host = host;
  st->inst = inst;
  st->loop = host->loop(inst);
  st->lock_fd = -1;
  index_init(&st->index);
  STAILQ_INIT(&st->queued);
  RB_INIT(&st->logs);
  STAILQ_INIT(&st->log_waits);
  int rc = configure(st, config);
  if (rc == 0)
    rc = open_store(st);
  if (rc != 0) {
    file_destroy(st);
    return rc;
  }
  *self = st;
  return 0;
}

/* Damage found at open is compacted away now, not in create(): work on the
 * thread pool must not start before the instance is started (a store that
 * is created and destroyed at once, as --check-config or a failed start of
 * another plugin does, would be freed under it). */
static int file_start(void *self) {
  file_store *st = self;
  if (st->compact_now)
    commit_kick(st);
  return 0;
}

/* Writes still queued go on to completion while the loop runs; only no new
 * compaction starts. */
static void file_stop(void *self) {
  file_store *st = self;
  st->stopping = true;
  reader_stop(st);
}

static void file_destroy(void *self) {
  file_store *st = self;
  if (!st)
    return;
  reader_destroy(st);
  pending_write *w;
  while ((w = STAILQ_FIRST(&st->queued)) != NULL) {
    STAILQ_REMOVE_HEAD(&st->queued, link);
    pending_write_free(w);
  }
  logs_free_all(st);
  index_clear(&st->index);
  journal_file_unref(st->journal);
  if (st->lock_fd >= 0)
    close(st->lock_fd);
  free(st->dir);
  free(st->journal_path);
  free(st->compact_path);
  free(st->logs_dir);
  free(st);
}

static const execd_plugin file_plugin = {
    EXECD_PLUGIN_HEADER,
    .kind = EXECD_KIND_STORAGE,
    .name = "file",
    .version = PACKAGE_VERSION,
    .description = "embedded storage: a crash-safe journal and log files in "
                   "one directory",
    .config_keys = file_config_keys,
    .create = file_create,
    .start = file_start,
    .stop = file_stop,
    .destroy = file_destroy,
    .reload = NULL,
    .ops = &file_storage_ops,
    .check_config = file_check_config,
};

EXECD_PLUGIN_DEFINE(file_plugin)
