/* See journal.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include <execd/error.h>

#include "journal.h"

#define FORMAT_NAME "execd-file-journal"

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The CRC covers the type, flags, reserved and length bytes as well as the
 * payload, so a damaged header is caught like a damaged payload. */
static uint32_t record_crc(const unsigned char *hdr, const char *payload,
                           uint32_t len) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, hdr + 4, 8);
  crc = crc32(crc, (const Bytef *)payload, len);
  return (uint32_t)crc;
}

int journal_encode(int type, const char *payload, size_t len, journal_buf *out) {
  out->data = NULL;
  out->len = 0;
  if (len > JOURNAL_MAX_PAYLOAD)
    return -1;
  char *buf = malloc(JOURNAL_HEADER_SIZE + len);
  if (!buf)
    return -1;
  unsigned char *h = (unsigned char *)buf;
  memcpy(h, JOURNAL_MAGIC, 4);
  h[4] = (unsigned char)type;
  h[5] = 0; /* flags */
  h[6] = h[7] = 0; /* reserved */
  put_u32(h + 8, (uint32_t)len);
  memcpy(buf + JOURNAL_HEADER_SIZE, payload, len);
  put_u32(h + 12, record_crc(h, payload, (uint32_t)len));
  out->data = buf;
  out->len = JOURNAL_HEADER_SIZE + len;
  return 0;
}

int journal_decode(const char *buf, uint64_t avail, int *type,
                   const char **payload, uint32_t *payload_len,
                   const char **why) {
  const unsigned char *h = (const unsigned char *)buf;
  if (avail < JOURNAL_HEADER_SIZE) {
    *why = "record header cut short";
    return -1;
  }
  if (memcmp(h, JOURNAL_MAGIC, 4) != 0) {
    *why = "bad record magic";
    return -1;
  }
  if (h[5] != 0 || h[6] != 0 || h[7] != 0) {
    *why = "bad record header";
    return -1;
  }
  uint32_t len = get_u32(h + 8);
  if (len > JOURNAL_MAX_PAYLOAD) {
    *why = "record length out of range";
    return -1;
  }
  if (avail - JOURNAL_HEADER_SIZE < len) {
    *why = "record cut short";
    return -1;
  }
  if (get_u32(h + 12) != record_crc(h, buf + JOURNAL_HEADER_SIZE, len)) {
    *why = "bad record CRC";
    return -1;
  }
  *type = h[4];
  *payload = buf + JOURNAL_HEADER_SIZE;
  *payload_len = len;
  return 0;
}

int journal_pwrite_all(int fd, const char *buf, size_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t n = pwrite(fd, buf, len, (off_t)offset);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
    offset += (uint64_t)n;
  }
  return 0;
}

ssize_t journal_pread_all(int fd, char *buf, size_t len, uint64_t offset) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, (off_t)(offset + got));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return (ssize_t)got;
}

int journal_sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static int sync_parent_dir(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    return journal_sync_dir(".");
  if (slash == dir)
    slash[1] = '\0';
  else
    *slash = '\0';
  return journal_sync_dir(dir);
}

/* Writes the file header record at offset 0 of an empty file. */
static int write_file_header(int fd, uint64_t *header_end) {
  char created[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_t *h = json_pack("{s:s, s:i, s:s}", "format", FORMAT_NAME, "version",
                        JOURNAL_VERSION, "created", created);
  char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
  json_decref(h);
  journal_buf rec;
  int rc = text ? journal_encode(JOURNAL_FILE_HEADER, text, strlen(text), &rec) : -1;
  free(text);
  if (rc != 0) {
    errno = ENOMEM;
    return -1;
  }
  rc = journal_pwrite_all(fd, rec.data, rec.len, 0);
  *header_end = rec.len;
  free(rec.data);
  return rc;
}

int journal_create(const char *path, uint64_t *header_end) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    return -1;
  if (write_file_header(fd, header_end) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

/* Checks the file header record's payload. */
static int check_file_header(const char *path, const char *payload,
                             uint32_t len, char *err, size_t errlen) {
  json_t *h = json_loadb(payload, len, 0, NULL);
  const char *format = json_string_value(json_object_get(h, "format"));
  json_int_t version = json_integer_value(json_object_get(h, "version"));
  int rc = 0;
  if (!format || strcmp(format, FORMAT_NAME) != 0) {
    snprintf(err, errlen, "%s is not an execd journal (its header names no "
             "format \"%s\")", path, FORMAT_NAME);
    rc = EXECD_ECORRUPT;
  } else if (version != JOURNAL_VERSION) {
    snprintf(err, errlen, "%s has journal format version %lld; this execd "
             "reads version %d", path, (long long)version, JOURNAL_VERSION);
    rc = EXECD_ECORRUPT;
  }
  json_decref(h);
  return rc;
}

/* A run of damaged bytes in the middle of the journal. */
typedef struct damaged_range {
  uint64_t at, len;
} damaged_range;

/* Copies dropped or skipped bytes (the ranges of map, one after the other)
 * next to the journal as path.<kind>-<time>, so nothing is destroyed that
 * someone may want to look at. */
static int save_aside(const char *path, const char *kind, const char *map,
                      const damaged_range *ranges, size_t n, char *aside,
                      size_t asidelen) {
  long now = (long)time(NULL);
  for (int k = 0; k < 1000; k++) {
    if (k == 0)
      snprintf(aside, asidelen, "%s.%s-%ld", path, kind, now);
    else
      snprintf(aside, asidelen, "%s.%s-%ld-%d", path, kind, now, k);
    int fd = open(aside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno == EEXIST)
      continue;
    if (fd < 0)
      break;
    int rc = 0;
    uint64_t at = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
      rc = journal_pwrite_all(fd, map + ranges[i].at, (size_t)ranges[i].len, at);
      at += ranges[i].len;
    }
    if (rc == 0)
      rc = fsync(fd);
    close(fd);
    if (rc == 0)
      return 0;
    unlink(aside);
    break;
  }
  aside[0] = '\0';
  return -1;
}

/* Whether a record header could start at p (avail bytes): its magic and
 * its zero flag and reserved bytes. */
static bool header_at(const char *p, uint64_t avail) {
  return avail >= JOURNAL_HEADER_SIZE && memcmp(p, JOURNAL_MAGIC, 4) == 0 &&
         p[5] == 0 && p[6] == 0 && p[7] == 0;
}

/* The next offset after from where a record header could start, or end. */
static uint64_t next_header(const char *map, uint64_t from, uint64_t end) {
  for (uint64_t at = from; at + JOURNAL_HEADER_SIZE <= end; at++) {
    const char *hit = memmem(map + at, (size_t)(end - at), JOURNAL_MAGIC, 4);
    if (!hit)
      break;
    at = (uint64_t)(hit - map);
    if (header_at(hit, end - at))
      return at;
  }
  return end;
}

/* The offset of the first record after off (a record that does not check
 * out) that does, or size if none does: then the damage is the tail. */
static uint64_t resync(const char *map, uint64_t size, uint64_t off) {
  for (uint64_t at = next_header(map, off + 1, size); at < size;
       at = next_header(map, at + 1, size)) {
    int type;
    const char *payload, *why;
    uint32_t plen;
    if (journal_decode(map + at, size - at, &type, &payload, &plen, &why) == 0)
      return at;
  }
  return size;
}

/* The records that began in the damaged run [off, end): followed by their
 * lengths while a header is intact, else to the next header. */
static uint64_t count_lost(const char *map, uint64_t off, uint64_t end) {
  uint64_t lost = 0;
  while (off < end) {
    lost++;
    uint32_t len = header_at(map + off, end - off)
                       ? get_u32((const unsigned char *)map + off + 8)
                       : UINT32_MAX;
    if (len <= JOURNAL_MAX_PAYLOAD && off + JOURNAL_HEADER_SIZE + len <= end)
      off += JOURNAL_HEADER_SIZE + len;
    else
      off = next_header(map, off + 1, end);
  }
  return lost;
}

/* Books a damaged run [at, at + len) that valid records follow. */
static int note_damage(journal_opened *out, damaged_range **ranges, size_t *n,
                       uint64_t at, uint64_t len, uint64_t lost,
                       const char *why) {
  damaged_range *grown = realloc(*ranges, (*n + 1) * sizeof *grown);
  if (!grown)
    return EXECD_ENOMEM;
  *ranges = grown;
  grown[(*n)++] = (damaged_range){at, len};
  out->damaged_ranges++;
  out->damaged_records += lost;
  out->damaged_bytes += len;
  size_t used = strlen(out->damaged_where);
  if (used + 80 < sizeof out->damaged_where)
    snprintf(out->damaged_where + used, sizeof out->damaged_where - used,
             "%soffset %llu (%llu bytes, %s)", used ? ", " : "",
             (unsigned long long)at, (unsigned long long)len, why);
  else if (!strstr(out->damaged_where, ", ..."))
    snprintf(out->damaged_where + used, sizeof out->damaged_where - used,
             ", ...");
  return 0;
}

int journal_open(const char *path, journal_visit_fn visit, void *arg,
                 journal_opened *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->fd = -1;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return EXECD_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
    close(fd);
    return EXECD_EIO;
  }
  uint64_t size = (uint64_t)st.st_size;
  const char *map = NULL;
  if (size > 0) {
    map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
      close(fd);
      return EXECD_EIO;
    }
    madvise((void *)map, (size_t)size, MADV_SEQUENTIAL);
    size_t head = size < 4 ? (size_t)size : 4;
    if (memcmp(map, JOURNAL_MAGIC, head) != 0) {
      snprintf(err, errlen, "%s is not an execd journal (it does not start "
               "with \"%s\"); move it away or set path to another directory",
               path, JOURNAL_MAGIC);
      munmap((void *)map, (size_t)size);
      close(fd);
      return EXECD_ECORRUPT;
    }
  }

  int rc = 0;
  uint64_t off = 0;
  int type;
  const char *payload, *why = NULL;
  uint32_t plen;
  damaged_range *damaged = NULL;
  size_t ndamaged = 0;
  if (size > 0 && journal_decode(map, size, &type, &payload, &plen, &why) == 0) {
    if (type != JOURNAL_FILE_HEADER) {
      snprintf(err, errlen, "%s is not an execd journal (its first record is "
               "not a file header)", path);
      rc = EXECD_ECORRUPT;
    } else {
      rc = check_file_header(path, payload, plen, err, errlen);
    }
    off = JOURNAL_HEADER_SIZE + (uint64_t)plen;
    out->header_end = off;
    while (rc == 0 && off < size) {
      if (journal_decode(map + off, size - off, &type, &payload, &plen, &why) != 0) {
        uint64_t next = resync(map, size, off);
        if (next == size)
          break; /* the tail */
        rc = note_damage(out, &damaged, &ndamaged, off, next - off,
                         count_lost(map, off, next), why);
        if (rc != 0) {
          snprintf(err, errlen, "out of memory reading %s", path);
          break;
        }
        off = next;
        continue;
      }
      uint32_t rec_len = JOURNAL_HEADER_SIZE + plen;
      if (type != JOURNAL_PUT && type != JOURNAL_DELETE) {
        snprintf(err, errlen, "%s: record of unknown type %d at offset %llu "
                 "(written by a newer execd?)", path, type,
                 (unsigned long long)off);
        rc = EXECD_ECORRUPT;
        break;
      }
      rc = visit(arg, type, off, rec_len, payload, plen, err, errlen);
      if (rc == 0)
        off += rec_len;
    }
  }
  if (rc == 0 && ndamaged &&
      save_aside(path, "damaged", map, damaged, ndamaged, out->damaged_aside,
                 sizeof out->damaged_aside) != 0) {
    snprintf(err, errlen, "%s: %llu damaged bytes at offset %llu (%s) could "
             "not be saved aside: %s", path,
             (unsigned long long)out->damaged_bytes,
             (unsigned long long)damaged[0].at, out->damaged_where,
             strerror(errno));
    rc = EXECD_EIO;
  }
  free(damaged);
  if (rc != 0) {
    if (map)
      munmap((void *)map, (size_t)size);
    close(fd);
    return rc;
  }

  if (off < size) {
    /* A record that does not check out, with nothing valid after it, ends
     * the valid data. */
    out->dropped_at = off;
    out->dropped_bytes = size - off;
    out->dropped_why = why;
    damaged_range tail = {off, size - off};
    if (save_aside(path, "torn", map, &tail, 1, out->aside, sizeof out->aside) != 0) {
      snprintf(err, errlen, "%s: %llu damaged bytes at offset %llu (%s) could "
               "not be saved aside: %s", path,
               (unsigned long long)(size - off), (unsigned long long)off, why,
               strerror(errno));
      munmap((void *)map, (size_t)size);
      close(fd);
      return EXECD_EIO;
    }
    if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0 ||
        sync_parent_dir(path) != 0) {
      snprintf(err, errlen, "cannot truncate %s to %llu bytes: %s", path,
               (unsigned long long)off, strerror(errno));
      munmap((void *)map, (size_t)size);
      close(fd);
      return EXECD_EIO;
    }
  }
  if (map)
    munmap((void *)map, (size_t)size);

  if (off == 0) {
    /* New, or nothing valid at all: start with a file header. */
    if (write_file_header(fd, &out->header_end) != 0 || fsync(fd) != 0 ||
        sync_parent_dir(path) != 0) {
      snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
      close(fd);
      return EXECD_EIO;
    }
    off = out->header_end;
    out->created = true;
  }
  out->fd = fd;
  out->end = off;
  return 0;
}
