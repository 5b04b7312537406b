/* The listen address: parsed from the config, bound by execd itself (so a
 * failure names the address and the system error) and then handed to
 * libmicrohttpd with MHD_OPTION_LISTEN_SOCKET. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"

#define LISTEN_BACKLOG 128

static int parse_port(const char *s, unsigned *port) {
  if (!*s || strlen(s) > 5)
    return -1;
  unsigned v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9')
      return -1;
    v = v * 10 + (unsigned)(*c - '0');
  }
  if (v > 65535)
    return -1;
  *port = v;
  return 0;
}

int listen_parse(const char *text, http_listen_addr *out, char *err,
                 size_t errlen) {
  memset(out, 0, sizeof *out);
  char host[64];
  const char *port_s;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof host)
      goto bad;
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    port_s = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host ||
        memchr(text, ':', (size_t)(colon - text)))
      goto bad;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    port_s = colon + 1;
  }
  unsigned port;
  if (parse_port(port_s, &port) != 0) {
    snprintf(err, errlen, "listen '%s': the port must be a number 0-65535",
             text);
    return EXECD_ECONFIG;
  }
  if (strcmp(host, "localhost") == 0)
    snprintf(host, sizeof host, "127.0.0.1");

  struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
  if (text[0] != '[' && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    out->len = sizeof *in4;
    out->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    return 0;
  }
  if (text[0] == '[' && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    out->len = sizeof *in6;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    return 0;
  }
bad:
  snprintf(err, errlen,
           "listen '%s': expected ADDRESS:PORT with a numeric IPv4 address, "
           "[IPv6] address or localhost (e.g. \"127.0.0.1:8080\", "
           "\"[::1]:8080\")",
           text);
  return EXECD_ECONFIG;
}

void listen_format(const http_listen_addr *addr, unsigned port, char *buf,
                   size_t buflen) {
  char host[INET6_ADDRSTRLEN];
  if (addr->ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr->ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    snprintf(buf, buflen, "[%s]:%u", host, port);
  } else {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&addr->ss;
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
    snprintf(buf, buflen, "%s:%u", host, port);
  }
}

int listen_open(const http_listen_addr *addr, unsigned *port, char *err,
                size_t errlen) {
  char where[80];
  unsigned want = ntohs(addr->ss.ss_family == AF_INET6
                            ? ((const struct sockaddr_in6 *)&addr->ss)->sin6_port
                            : ((const struct sockaddr_in *)&addr->ss)->sin_port);
  listen_format(addr, want, where, sizeof where);

  int fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "listen %s: socket: %s", where, strerror(errno));
    return -1;
  }
  int one = 1;
  /* Restarts must not wait for TIME_WAIT connections to expire. */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->ss.ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) != 0) {
    snprintf(err, errlen, "listen %s: bind: %s", where, strerror(errno));
    close(fd);
    return -1;
  }
  if (listen(fd, LISTEN_BACKLOG) != 0) {
    snprintf(err, errlen, "listen %s: listen: %s", where, strerror(errno));
    close(fd);
    return -1;
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
    snprintf(err, errlen, "listen %s: getsockname: %s", where, strerror(errno));
    close(fd);
    return -1;
  }
  *port = ntohs(bound.ss_family == AF_INET6
                    ? ((struct sockaddr_in6 *)&bound)->sin6_port
                    : ((struct sockaddr_in *)&bound)->sin_port);
  return fd;
}
