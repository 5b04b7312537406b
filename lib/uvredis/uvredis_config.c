/* uvredis: the address, the password file, and the blocking start-up probe
 * (see uvredis.h).  Nothing here runs on the loop. */
#include "config.h"

#include "uvredis/uvredis.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSWORD_MAX 512

int uvredis_parse_address(const char *text, uvredis_config *cfg, char *err, size_t errlen) {
  free(cfg->host), cfg->host = NULL;
  free(cfg->unix_path), cfg->unix_path = NULL;
  if (!text || !*text) {
    snprintf(err, errlen, "the address is empty");
    return -1;
  }
  if (strncmp(text, "unix:", 5) == 0) {
    if (text[5] != '/' || strlen(text + 5) >= 108) {
      snprintf(err, errlen, "'%s': a unix socket is unix:/absolute/path (under 108 bytes)", text);
      return -1;
    }
    cfg->unix_path = strdup(text + 5);
    return cfg->unix_path ? 0 : (snprintf(err, errlen, "out of memory"), -1);
  }
  const char *colon, *host = text;
  size_t hostlen;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':') {
      snprintf(err, errlen, "'%s': an IPv6 address is [addr]:port", text);
      return -1;
    }
    host = text + 1;
    hostlen = (size_t)(close - host);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon || strchr(text, ':') != colon) {
      snprintf(err, errlen, "'%s' is not host:port, [v6]:port or unix:/path", text);
      return -1;
    }
    hostlen = (size_t)(colon - text);
  }
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (hostlen == 0 || !colon[1] || *end || errno || port < 1 || port > 65535) {
    snprintf(err, errlen, "'%s': the host is empty or the port is not 1-65535", text);
    return -1;
  }
  cfg->host = strndup(host, hostlen);
  cfg->port = (int)port;
  return cfg->host ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}

int uvredis_read_password(const char *path, char **out, char *err, size_t errlen) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    snprintf(err, errlen, "'%s': %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "'%s' is not a regular file", path);
    close(fd);
    return -1;
  }
  if (st.st_mode & S_IROTH) {
    snprintf(err, errlen, "'%s' is readable by everyone (mode %03o); make it 0600 or 0640", path,
             (unsigned)(st.st_mode & 0777));
    close(fd);
    return -1;
  }
  char buf[PASSWORD_MAX + 2];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) {
    snprintf(err, errlen, "'%s': %s", path, strerror(errno));
    return -1;
  }
  buf[n] = '\0';
  buf[strcspn(buf, "\r\n")] = '\0';
  if (strlen(buf) > PASSWORD_MAX) {
    snprintf(err, errlen, "'%s': the password is longer than %d bytes", path, PASSWORD_MAX);
    return -1;
  }
  if (!buf[0]) {
    snprintf(err, errlen, "'%s': the first line (the password) is empty", path);
    return -1;
  }
  *out = strdup(buf);
  explicit_bzero(buf, sizeof buf);
  return *out ? 0 : (snprintf(err, errlen, "out of memory"), -1);
}

static int dup_or_null(char **dst, const char *src) {
  *dst = src ? strdup(src) : NULL;
  return src && !*dst ? -1 : 0;
}

int uvredis_config_copy(uvredis_config *dst, const uvredis_config *src) {
  *dst = *src;
  dst->host = dst->unix_path = dst->user = dst->password = NULL;
  if (dup_or_null(&dst->host, src->host) || dup_or_null(&dst->unix_path, src->unix_path) ||
      dup_or_null(&dst->user, src->user) || dup_or_null(&dst->password, src->password)) {
    uvredis_config_clear(dst);
    return -1;
  }
  return 0;
}

void uvredis_config_clear(uvredis_config *cfg) {
  if (cfg->password)
    explicit_bzero(cfg->password, strlen(cfg->password));
  free(cfg->host);
  free(cfg->unix_path);
  free(cfg->user);
  free(cfg->password);
  cfg->host = cfg->unix_path = cfg->user = cfg->password = NULL;
}

/* The probe's result for reply r of what (freed here). */
static int reply_result(redisContext *rc, redisReply *r, const char *what, char *err,
                        size_t errlen) {
  if (!r) {
    snprintf(err, errlen, "%s: %s", what, rc->errstr[0] ? rc->errstr : "no reply");
    return UVREDIS_PROBE_UNREACHABLE;
  }
  int result = UVREDIS_PROBE_OK;
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(err, errlen, "%s refused: %s", what, r->str);
    result = UVREDIS_PROBE_REFUSED;
  }
  freeReplyObject(r);
  return result;
}

int uvredis_probe(const uvredis_config *cfg, char *err, size_t errlen) {
  uint64_t ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  redisContext *rc = cfg->unix_path ? redisConnectUnixWithTimeout(cfg->unix_path, tv)
                                    : redisConnectWithTimeout(cfg->host, cfg->port, tv);
  if (!rc || rc->err) {
    if (cfg->unix_path)
      snprintf(err, errlen, "cannot connect to %s: %s", cfg->unix_path,
               rc ? rc->errstr : "out of memory");
    else
      snprintf(err, errlen, "cannot connect to %s:%d: %s", cfg->host, cfg->port,
               rc ? rc->errstr : "out of memory");
    redisFree(rc);
    return UVREDIS_PROBE_UNREACHABLE;
  }
  redisSetTimeout(rc, tv);
  int result = UVREDIS_PROBE_OK;
  if (cfg->password) {
    char what[128];
    snprintf(what, sizeof what, "AUTH%s%s", cfg->user ? " as " : "", cfg->user ? cfg->user : "");
    redisReply *r = cfg->user ? redisCommand(rc, "AUTH %s %s", cfg->user, cfg->password)
                              : redisCommand(rc, "AUTH %s", cfg->password);
    result = reply_result(rc, r, what, err, errlen);
  }
  if (result == UVREDIS_PROBE_OK && cfg->db)
    result = reply_result(rc, redisCommand(rc, "SELECT %d", cfg->db), "SELECT", err, errlen);
  if (result == UVREDIS_PROBE_OK)
    result = reply_result(rc, redisCommand(rc, "PING"), "PING", err, errlen);
  redisFree(rc);
  return result;
}
