/* OpenSSL client contexts and memory-BIO sessions; see httpc_tls.h. */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "httpc_tls.h"

struct httpc_tls {
  SSL *ssl;
  BIO *out;        /* what OpenSSL wrote for the network (owned by ssl) */
  char error[256];
};

/* OpenSSL's reason for the last failure ("no start line"), or fallback;
 * the error queue is emptied either way. */
static const char *ssl_reason(char *buf, size_t size, const char *fallback) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  snprintf(buf, size, "%s", r ? r : fallback);
  ERR_clear_error();
  return buf;
}

/* Never prompt on a terminal for an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return 0;
}

static int add_cas(SSL_CTX *ctx, const char *pem, size_t len, char *err, size_t errlen) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, no_passphrase, NULL) : NULL;
  BIO_free(b);
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *info = sk_X509_INFO_value(infos, i);
    if (info->x509 && X509_STORE_add_cert(store, info->x509) == 1)
      added++;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  char why[160];
  if (added == 0)
    snprintf(err, errlen, "no CA certificate in it (%s)",
             ssl_reason(why, sizeof why, "no PEM certificate"));
  ERR_clear_error();
  return added > 0 ? 0 : -1;
}

/* The first certificate is the client's own, any others its chain. */
static int use_cert(SSL_CTX *ctx, const char *pem, size_t len, char *err, size_t errlen) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509 *leaf = b ? PEM_read_bio_X509(b, NULL, no_passphrase, NULL) : NULL;
  int ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  char why[160];
  if (!ok)
    snprintf(err, errlen, "not a PEM certificate (%s)", ssl_reason(why, sizeof why, "unreadable"));
  X509 *extra;
  while (ok && (extra = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1)
      X509_free(extra);
  ERR_clear_error(); /* the read after the last certificate fails: the end */
  BIO_free(b);
  return ok ? 0 : -1;
}

static int use_key(SSL_CTX *ctx, const char *pem, size_t len, char *err, size_t errlen) {
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
  BIO_free(b);
  char why[160];
  if (!key) {
    snprintf(err, errlen, "not an unencrypted PEM private key (%s)",
             ssl_reason(why, sizeof why, "unreadable"));
    return -1;
  }
  int ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
  EVP_PKEY_free(key);
  if (!ok || SSL_CTX_check_private_key(ctx) != 1) {
    snprintf(err, errlen, "does not match the client certificate (%s)",
             ssl_reason(why, sizeof why, "key mismatch"));
    return -1;
  }
  return 0;
}

SSL_CTX *httpc_tls_ctx_new(bool verify, const char *ca_pem, size_t ca_len, const char *cert_pem,
                           size_t cert_len, const char *key_pem, size_t key_len, int *bad,
                           char *err, size_t errlen) {
  *bad = 0;
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    char why[160];
    snprintf(err, errlen, "cannot create a TLS context (%s)",
             ssl_reason(why, sizeof why, "out of memory"));
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  int rc = 0;
  if (ca_pem) {
    rc = add_cas(ctx, ca_pem, ca_len, err, errlen);
    if (rc)
      *bad = HTTPC_TLS_CA;
  } else if (verify) {
    snprintf(err, errlen, "no CA certificate to check the engine's against");
    rc = -1;
    *bad = HTTPC_TLS_CA;
  }
  if (!rc && cert_pem && (rc = use_cert(ctx, cert_pem, cert_len, err, errlen)) != 0)
    *bad = HTTPC_TLS_CERT;
  if (!rc && key_pem && (rc = use_key(ctx, key_pem, key_len, err, errlen)) != 0)
    *bad = HTTPC_TLS_KEY;
  if (rc) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

httpc_tls *httpc_tls_new(SSL_CTX *ctx, const char *host, bool verify) {
  httpc_tls *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->ssl = SSL_new(ctx);
  BIO *in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (!t->ssl || !in || !t->out) {
    BIO_free(in);
    BIO_free(t->out);
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  BIO_set_mem_eof_return(in, -1); /* nothing buffered means "wait", not EOF */
  SSL_set_bio(t->ssl, in, t->out);
  SSL_set_connect_state(t->ssl);
  unsigned char addr[16];
  bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
  int ok = 1;
  if (!literal)
    ok = SSL_set_tlsext_host_name(t->ssl, host) == 1; /* SNI is for names only */
  if (ok && verify)
    ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) == 1
                 : SSL_set1_host(t->ssl, host) == 1;
  if (!ok) {
    httpc_tls_free(t);
    return NULL;
  }
  return t;
}

void httpc_tls_free(httpc_tls *t) {
  if (!t)
    return;
  SSL_free(t->ssl); /* and both BIOs */
  free(t);
}

int httpc_tls_feed(httpc_tls *t, const char *data, size_t len) {
  return len <= INT_MAX && BIO_write(SSL_get_rbio(t->ssl), data, (int)len) == (int)len ? 0 : -1;
}

/* Records why a call failed: a rejected certificate by the verifier's
 * reason, anything else by OpenSSL's (an alert from the server, say). */
static void record_failure(httpc_tls *t, const char *during) {
  long v = SSL_get_verify_result(t->ssl);
  char why[160];
  if (v != X509_V_OK && SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE) {
    snprintf(t->error, sizeof t->error, "TLS: the engine's certificate was refused: %s",
             X509_verify_cert_error_string(v));
    ERR_clear_error();
  } else {
    /* An alert's reason reads "tlsv13 alert certificate required": the
     * server refused us (our certificate, most often). */
    ssl_reason(why, sizeof why, "connection closed");
    snprintf(t->error, sizeof t->error, "TLS %s failed: %s%s", during,
             strstr(why, " alert ") ? "the engine refused the session: " : "", why);
  }
}

int httpc_tls_handshake(httpc_tls *t) {
  ERR_clear_error();
  int rc = SSL_do_handshake(t->ssl);
  if (rc == 1)
    return 1;
  int e = SSL_get_error(t->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  record_failure(t, "handshake");
  return -1;
}

ssize_t httpc_tls_read(httpc_tls *t, char *buf, size_t size) {
  ERR_clear_error();
  int n = SSL_read(t->ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
  if (n > 0)
    return n;
  int e = SSL_get_error(t->ssl, n);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    return HTTPC_TLS_EOF;
  record_failure(t, "read");
  return -1;
}

int httpc_tls_write(httpc_tls *t, const char *data, size_t len) {
  ERR_clear_error();
  while (len > 0) {
    int chunk = len > INT_MAX ? INT_MAX : (int)len;
    int n = SSL_write(t->ssl, data, chunk); /* a memory BIO takes it all */
    if (n <= 0) {
      record_failure(t, "write");
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int httpc_tls_close_notify(httpc_tls *t) {
  ERR_clear_error();
  if (SSL_shutdown(t->ssl) < 0) {
    record_failure(t, "shutdown");
    return -1;
  }
  return 0;
}

char *httpc_tls_take_output(httpc_tls *t, size_t *len) {
  size_t n = BIO_ctrl_pending(t->out);
  *len = 0;
  if (n == 0 || n > INT_MAX)
    return NULL;
  char *buf = malloc(n);
  if (!buf)
    return NULL;
  int got = BIO_read(t->out, buf, (int)n);
  if (got <= 0) {
    free(buf);
    return NULL;
  }
  *len = (size_t)got;
  return buf;
}

const char *httpc_tls_error(const httpc_tls *t) {
  return t->error[0] ? t->error : "TLS failed";
}
