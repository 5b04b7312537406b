/* Where a container engine listens: a unix socket, or HOST:PORT over TCP,
 * in the clear or with TLS.  The backend builds one from its
 * configuration (PEM files read and checked then, never on the loop); the
 * HTTP client keeps a copy of its own, the attach connections read the
 * client's. */
#ifndef EXECD_ENGINE_ENDPOINT_H
#define EXECD_ENGINE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

typedef struct engine_pem {
  char *data; /* malloc'd PEM text, or NULL */
  size_t len;
} engine_pem;

typedef struct engine_endpoint {
  char *unix_path;   /* the engine's unix socket, or NULL for TCP */
  char *host;        /* TCP: a name or an address literal (IPv6 without brackets) */
  unsigned port;
  char *name;        /* how messages name it: the socket path, or "tcp://HOST:PORT" */
  bool tls;          /* TCP only */
  bool tls_verify;   /* the engine's certificate must chain to ca and name host */
  engine_pem ca;     /* the CAs the engine's certificate must chain to */
  engine_pem cert;   /* the client certificate (and chain), or NULL data: none */
  engine_pem key;    /* its private key */
  SSL_CTX *ssl_ctx;  /* from the above, for the attach connections (one reference) */
} engine_endpoint;

/* A unix socket at path.  Returns 0 or -1 (out of memory). */
int engine_endpoint_set_unix(engine_endpoint *ep, const char *path);
/* "tcp://HOST:PORT" (an IPv6 address in brackets), in the clear until
 * engine_endpoint_set_tls.  Returns 0, or -1 with the reason in err. */
int engine_endpoint_set_tcp(engine_endpoint *ep, const char *uri, char *err, size_t errlen);
/* TLS with this material, which ep takes over (NULL data where absent;
 * with verify and no ca, the system's CA bundle is read into ca), checked
 * by building the context.  Returns 0, or -1 with *bad and err as
 * engine_tls_ctx_new sets them. */
int engine_endpoint_set_tls(engine_endpoint *ep, bool verify, engine_pem *ca, engine_pem *cert,
                            engine_pem *key, int *bad, char *err, size_t errlen);
/* True for a unix socket, and for TCP to localhost, 127.0.0.0/8 or ::1:
 * an engine on this machine. */
bool engine_endpoint_is_local(const engine_endpoint *ep);
/* HOST:PORT as URLs and Host headers write it (an IPv6 address in
 * brackets), or "localhost" for a unix socket.  Borrowed from ep. */
const char *engine_endpoint_authority(const engine_endpoint *ep);
/* The TCP address when host is an address literal.  Returns 0 or -1. */
int engine_endpoint_address(const engine_endpoint *ep, struct sockaddr_storage *out);

/* Reads a PEM file (at most 1 MiB) into out.  Returns 0, or -1 with the
 * reason in err. */
int engine_pem_read(const char *file, engine_pem *out, char *err, size_t errlen);
void engine_pem_clear(engine_pem *p);

/* A deep copy (the TLS context is shared, with a reference of its own).
 * Returns 0 or -1 (out of memory, dst left empty). */
int engine_endpoint_copy(engine_endpoint *dst, const engine_endpoint *src);
/* Frees what ep holds and zeroes it. */
void engine_endpoint_clear(engine_endpoint *ep);

#endif
