/* Where a server (a container engine, say) listens: a unix socket, or
 * HOST:PORT over TCP, in the clear or with TLS.  The plugin builds one from
 * its configuration (PEM files read and checked then, never on the loop);
 * the HTTP client keeps a copy of its own, the byte streams of httpc_conn.h
 * read the client's. */
#ifndef EXECD_HTTPC_ENDPOINT_H
#define EXECD_HTTPC_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

typedef struct httpc_pem {
  char *data; /* malloc'd PEM text, or NULL */
  size_t len;
} httpc_pem;

typedef struct httpc_endpoint {
  char *unix_path;   /* the server's unix socket, or NULL for TCP */
  char *host;        /* TCP: a name or an address literal (IPv6 without brackets) */
  unsigned port;
  char *name;        /* how messages name it: the socket path, or "tcp://HOST:PORT" */
  bool tls;          /* TCP only */
  bool tls_verify;   /* the server's certificate must chain to ca and name host */
  httpc_pem ca;      /* the CAs the server's certificate must chain to */
  httpc_pem cert;    /* the client certificate (and chain), or NULL data: none */
  httpc_pem key;     /* its private key */
  SSL_CTX *ssl_ctx;  /* from the above, for httpc_conn's TLS (one reference) */
} httpc_endpoint;

/* A unix socket at path.  Returns 0 or -1 (out of memory). */
int httpc_endpoint_set_unix(httpc_endpoint *ep, const char *path);
/* "tcp://HOST:PORT" (an IPv6 address in brackets), in the clear until
 * httpc_endpoint_set_tls.  Returns 0, or -1 with the reason in err. */
int httpc_endpoint_set_tcp(httpc_endpoint *ep, const char *uri, char *err, size_t errlen);
/* TLS with this material, which ep takes over (NULL data where absent;
 * with verify and no ca, the system's CA bundle is read into ca), checked
 * by building the context.  Returns 0, or -1 with *bad and err as
 * httpc_tls_ctx_new sets them. */
int httpc_endpoint_set_tls(httpc_endpoint *ep, bool verify, httpc_pem *ca, httpc_pem *cert,
                           httpc_pem *key, int *bad, char *err, size_t errlen);
/* True for a unix socket, and for TCP to localhost, 127.0.0.0/8 or ::1:
 * a server on this machine. */
bool httpc_endpoint_is_local(const httpc_endpoint *ep);
/* HOST:PORT as URLs and Host headers write it (an IPv6 address in
 * brackets), or "localhost" for a unix socket.  Borrowed from ep. */
const char *httpc_endpoint_authority(const httpc_endpoint *ep);
/* The TCP address when host is an address literal.  Returns 0 or -1. */
int httpc_endpoint_address(const httpc_endpoint *ep, struct sockaddr_storage *out);

/* Reads a PEM file (at most 1 MiB) into out.  Returns 0, or -1 with the
 * reason in err. */
int httpc_pem_read(const char *file, httpc_pem *out, char *err, size_t errlen);
void httpc_pem_clear(httpc_pem *p);

/* A deep copy (the TLS context is shared, with a reference of its own).
 * Returns 0 or -1 (out of memory, dst left empty). */
int httpc_endpoint_copy(httpc_endpoint *dst, const httpc_endpoint *src);
/* Frees what ep holds and zeroes it. */
void httpc_endpoint_clear(httpc_endpoint *ep);

#endif
