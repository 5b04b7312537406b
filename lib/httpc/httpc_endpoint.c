/* Server endpoints; see httpc_endpoint.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "httpc_endpoint.h"
#include "httpc_tls.h"

#define PEM_MAX (1u << 20)

int httpc_endpoint_set_unix(httpc_endpoint *ep, const char *path) {
  httpc_endpoint_clear(ep);
  ep->unix_path = strdup(path);
  ep->name = strdup(path);
  if (!ep->unix_path || !ep->name) {
    httpc_endpoint_clear(ep);
    return -1;
  }
  return 0;
}

static bool is_name(const char *s) {
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
      return false;
  return true;
}

int httpc_endpoint_set_tcp(httpc_endpoint *ep, const char *uri, char *err, size_t errlen) {
  httpc_endpoint_clear(ep);
  if (strncmp(uri, "tcp://", 6) != 0) {
    snprintf(err, errlen, "must be tcp://HOST:PORT");
    return -1;
  }
  const char *h = uri + 6, *colon;
  size_t hlen;
  unsigned char addr[16];
  bool bracketed = *h == '[';
  if (bracketed) { /* [IPv6]:PORT */
    const char *close = strchr(h, ']');
    if (!close || close[1] != ':') {
      snprintf(err, errlen, "must be tcp://[IPv6]:PORT for an IPv6 address");
      return -1;
    }
    h++;
    hlen = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(h, ':');
    hlen = colon ? (size_t)(colon - h) : 0;
    if (!colon || memchr(h, ':', hlen)) {
      snprintf(err, errlen, "must be tcp://HOST:PORT (an IPv6 address in brackets)");
      return -1;
    }
  }
  char host[256];
  if (hlen == 0 || hlen >= sizeof host) {
    snprintf(err, errlen, "has no host (tcp://HOST:PORT)");
    return -1;
  }
  memcpy(host, h, hlen);
  host[hlen] = '\0';
  bool v6 = inet_pton(AF_INET6, host, addr) == 1;
  if (bracketed ? !v6 : !is_name(host)) {
    snprintf(err, errlen, "host \"%s\" is neither a name nor an address", host);
    return -1;
  }
  char *end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (!isdigit((unsigned char)colon[1]) || *end || errno || port == 0 || port > 65535) {
    snprintf(err, errlen, "port \"%s\" is not a number from 1 to 65535 (and nothing after it)",
             colon + 1);
    return -1;
  }
  ep->host = strdup(host);
  ep->port = (unsigned)port;
  if (!ep->host || asprintf(&ep->name, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host, ep->port) < 0) {
    ep->name = NULL;
    httpc_endpoint_clear(ep);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

int httpc_endpoint_set_tls(httpc_endpoint *ep, bool verify, httpc_pem *ca, httpc_pem *cert,
                           httpc_pem *key, int *bad, char *err, size_t errlen) {
  ep->ca = *ca;
  ep->cert = *cert;
  ep->key = *key;
  *ca = *cert = *key = (httpc_pem){0};
  ep->tls = true;
  ep->tls_verify = verify;
  /* The system's CAs as one file read now: OpenSSL's CA directory would be
   * read during handshakes, on the loop, and curl's bundle at connects. */
  if (verify && !ep->ca.data) {
    const char *file = getenv(X509_get_default_cert_file_env());
    if (!file || !*file)
      file = X509_get_default_cert_file();
    char why[200];
    if (httpc_pem_read(file, &ep->ca, why, sizeof why) != 0) {
      *bad = HTTPC_TLS_CA;
      snprintf(err, errlen, "the system's CAs, %s: %s", file, why);
      return -1;
    }
  }
  ep->ssl_ctx = httpc_tls_ctx_new(verify, ep->ca.data, ep->ca.len, ep->cert.data, ep->cert.len,
                                  ep->key.data, ep->key.len, bad, err, errlen);
  return ep->ssl_ctx ? 0 : -1;
}

const char *httpc_endpoint_authority(const httpc_endpoint *ep) {
  static const char scheme[] = "tcp://"; /* name is "tcp://" HOST:PORT */
  return ep->unix_path ? "localhost" : ep->name + sizeof scheme - 1;
}

bool httpc_endpoint_is_local(const httpc_endpoint *ep) {
  if (ep->unix_path)
    return true;
  struct in_addr a4;
  struct in6_addr a6;
  if (strcasecmp(ep->host, "localhost") == 0)
    return true;
  if (inet_pton(AF_INET, ep->host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, ep->host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int httpc_endpoint_address(const httpc_endpoint *ep, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (ep->unix_path)
    return -1;
  struct sockaddr_in *s4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, ep->host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)ep->port);
    return 0;
  }
  if (inet_pton(AF_INET6, ep->host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)ep->port);
    return 0;
  }
  return -1;
}

int httpc_pem_read(const char *file, httpc_pem *out, char *err, size_t errlen) {
  *out = (httpc_pem){0};
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, errlen, "%s", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > PEM_MAX) {
    snprintf(err, errlen, "%s", !S_ISREG(st.st_mode) ? "not a regular file"
                                : st.st_size == 0  ? "empty"
                                                   : "larger than 1 MiB: not a PEM file");
    close(fd);
    return -1;
  }
  out->data = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (out->data && got < (size_t)st.st_size) {
    ssize_t n = read(fd, out->data + got, (size_t)st.st_size - got);
    if (n <= 0) {
      snprintf(err, errlen, "%s", n < 0 ? strerror(errno) : "shorter than its size");
      httpc_pem_clear(out);
      close(fd);
      return -1;
    }
    got += (size_t)n;
  }
  close(fd);
  if (!out->data) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  out->data[got] = '\0';
  out->len = got;
  return 0;
}

void httpc_pem_clear(httpc_pem *p) {
  if (p->data)
    memset(p->data, 0, p->len); /* a private key does not linger in freed memory */
  free(p->data);
  *p = (httpc_pem){0};
}

static int pem_copy(httpc_pem *dst, const httpc_pem *src) {
  *dst = (httpc_pem){0};
  if (!src->data)
    return 0;
  dst->data = malloc(src->len + 1);
  if (!dst->data)
    return -1;
  memcpy(dst->data, src->data, src->len + 1);
  dst->len = src->len;
  return 0;
}

int httpc_endpoint_copy(httpc_endpoint *dst, const httpc_endpoint *src) {
  *dst = (httpc_endpoint){.port = src->port, .tls = src->tls, .tls_verify = src->tls_verify};
  int fail = 0;
  if (src->unix_path && !(dst->unix_path = strdup(src->unix_path)))
    fail = 1;
  if (src->host && !(dst->host = strdup(src->host)))
    fail = 1;
  if (src->name && !(dst->name = strdup(src->name)))
    fail = 1;
  if (pem_copy(&dst->ca, &src->ca) || pem_copy(&dst->cert, &src->cert) ||
      pem_copy(&dst->key, &src->key))
    fail = 1;
  if (src->ssl_ctx && SSL_CTX_up_ref(src->ssl_ctx) == 1)
    dst->ssl_ctx = src->ssl_ctx;
  else if (src->ssl_ctx)
    fail = 1;
  if (fail)
    httpc_endpoint_clear(dst);
  return fail ? -1 : 0;
}

void httpc_endpoint_clear(httpc_endpoint *ep) {
  free(ep->unix_path);
  free(ep->host);
  free(ep->name);
  httpc_pem_clear(&ep->ca);
  httpc_pem_clear(&ep->cert);
  httpc_pem_clear(&ep->key);
  SSL_CTX_free(ep->ssl_ctx);
  *ep = (httpc_endpoint){0};
}
