/* TLS for the byte streams of httpc_conn.h, with OpenSSL: a client context built from
 * PEM bytes, and sessions on memory BIOs, so the bytes move over whatever
 * the caller has (a uv_tcp here) and nothing here touches a socket or
 * blocks.  The caller feeds what it reads in, and sends what
 * httpc_tls_take_output() hands out after every call. */
#ifndef EXECD_HTTPC_TLS_H
#define EXECD_HTTPC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* A client context: TLS 1.2 or later; with verify, the server's
 * certificate must chain to a CA of ca_pem (required then: nothing is
 * looked up on disk later).  The ca/cert/key PEM bytes are only read
 * during the call.  Returns NULL with the reason in err, which starts with the part
 * that is wrong in *bad (HTTPC_TLS_CA, _CERT or _KEY; 0 otherwise). */
enum { HTTPC_TLS_CA = 1, HTTPC_TLS_CERT = 2, HTTPC_TLS_KEY = 3 };
SSL_CTX *httpc_tls_ctx_new(bool verify, const char *ca_pem, size_t ca_len, const char *cert_pem,
                           size_t cert_len, const char *key_pem, size_t key_len, int *bad,
                           char *err, size_t errlen);

typedef struct httpc_tls httpc_tls;

/* A client session on ctx (which it references) to host, a name or an
 * address literal: with verify, the certificate must name it. */
httpc_tls *httpc_tls_new(SSL_CTX *ctx, const char *host, bool verify);
void httpc_tls_free(httpc_tls *t);

/* Bytes read from the network.  Returns 0, or -1 out of memory. */
int httpc_tls_feed(httpc_tls *t, const char *data, size_t len);
/* Advances the handshake: 1 done, 0 needs more input, -1 failed
 * (httpc_tls_error says why: a certificate problem is named as such). */
int httpc_tls_handshake(httpc_tls *t);
/* Decrypted bytes into buf: > 0 their count, 0 none for now,
 * HTTPC_TLS_EOF the server ended the session (close_notify), -1 error. */
#define HTTPC_TLS_EOF (-2)
ssize_t httpc_tls_read(httpc_tls *t, char *buf, size_t size);
/* Encrypts all of data (after the handshake).  Returns 0 or -1. */
int httpc_tls_write(httpc_tls *t, const char *data, size_t len);
/* Sends close_notify: the end of what this side writes; reading goes on. */
int httpc_tls_close_notify(httpc_tls *t);
/* Hands out what must go to the network, as one malloc'd buffer the caller
 * owns (NULL with *len 0 when there is nothing). */
char *httpc_tls_take_output(httpc_tls *t, size_t *len);
/* The last failure, e.g. "TLS: certificate verify failed: ...". */
const char *httpc_tls_error(const httpc_tls *t);

#endif
