/* httpc endpoints and TLS sessions, with no server: the
 * tcp://HOST:PORT forms and which hosts are this machine; then a client
 * session (httpc_tls) against an OpenSSL server in memory, with
 * certificates made here: the handshake with client certificates, data
 * both ways, close_notify as the end of what the client writes while the
 * server's answer still arrives, a certificate from another CA, another
 * host name and a missing client certificate refused with messages that
 * say so, and bad PEM material named by its part. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../lib/httpc/httpc_endpoint.h"
#include "../../lib/httpc/httpc_tls.h"

/* ---- endpoints --------------------------------------------------------- */

START_TEST(tcp_endpoints_are_parsed) {
  static const struct {
    const char *uri, *host, *name;
    unsigned port;
    int local;
  } good[] = {
      {"tcp://127.0.0.1:2376", "127.0.0.1", "tcp://127.0.0.1:2376", 2376, 1},
      {"tcp://127.3.2.1:1", "127.3.2.1", "tcp://127.3.2.1:1", 1, 1},
      {"tcp://localhost:65535", "localhost", "tcp://localhost:65535", 65535, 1},
      {"tcp://[::1]:2376", "::1", "tcp://[::1]:2376", 2376, 1},
      {"tcp://engine.example:2376", "engine.example", "tcp://engine.example:2376", 2376, 0},
      {"tcp://10.1.2.3:2375", "10.1.2.3", "tcp://10.1.2.3:2375", 2375, 0},
      {"tcp://[2001:db8::1]:2376", "2001:db8::1", "tcp://[2001:db8::1]:2376", 2376, 0},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    httpc_endpoint ep = {0};
    char err[200] = "";
    ck_assert_msg(httpc_endpoint_set_tcp(&ep, good[i].uri, err, sizeof err) == 0, "%s: %s",
                  good[i].uri, err);
    ck_assert_ptr_null(ep.unix_path);
    ck_assert_str_eq(ep.host, good[i].host);
    ck_assert_uint_eq(ep.port, good[i].port);
    ck_assert_str_eq(ep.name, good[i].name);
    ck_assert_msg(httpc_endpoint_is_local(&ep) == good[i].local, "%s local?", good[i].uri);
    httpc_endpoint copy;
    ck_assert_int_eq(httpc_endpoint_copy(&copy, &ep), 0);
    ck_assert_str_eq(copy.name, ep.name);
    httpc_endpoint_clear(&copy);
    httpc_endpoint_clear(&ep);
  }
  static const char *const bad[] = {
      "tcp://127.0.0.1",     "tcp://127.0.0.1:",     "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536",
      "tcp://127.0.0.1:23x", "tcp://127.0.0.1:23/",  "tcp://:2376",       "tcp://::1:2376",
      "tcp://[nope]:2376",   "http://127.0.0.1:2376", "unix:///run/d.sock", "tcp://a b:1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    httpc_endpoint ep = {0};
    char err[200] = "";
    ck_assert_msg(httpc_endpoint_set_tcp(&ep, bad[i], err, sizeof err) == -1, "%s accepted",
                  bad[i]);
    ck_assert_msg(err[0], "%s: no reason", bad[i]);
    ck_assert_ptr_null(ep.host);
  }
}
END_TEST

START_TEST(unix_endpoints_are_local_and_have_no_address) {
  httpc_endpoint ep = {0};
  ck_assert_int_eq(httpc_endpoint_set_unix(&ep, "/run/d.sock"), 0);
  ck_assert_str_eq(ep.name, "/run/d.sock");
  ck_assert(httpc_endpoint_is_local(&ep));
  struct sockaddr_storage ss;
  ck_assert_int_eq(httpc_endpoint_address(&ep, &ss), -1);
  httpc_endpoint_clear(&ep);
  char err[100];
  ck_assert_int_eq(httpc_endpoint_set_tcp(&ep, "tcp://[::1]:9", err, sizeof err), 0);
  ck_assert_int_eq(httpc_endpoint_address(&ep, &ss), 0);
  ck_assert_int_eq(ss.ss_family, AF_INET6);
  httpc_endpoint_clear(&ep);
  ck_assert_int_eq(httpc_endpoint_set_tcp(&ep, "tcp://localhost:9", err, sizeof err), 0);
  ck_assert_int_eq(httpc_endpoint_address(&ep, &ss), -1); /* a name: curl finds it */
  httpc_endpoint_clear(&ep);
}
END_TEST

/* ---- certificates made here ---------------------------------------------- */

typedef struct pem {
  char *data;
  size_t len;
} pem;

typedef struct identity {
  EVP_PKEY *key;
  X509 *cert;
  pem key_pem, cert_pem;
} identity;

static identity ca, other_ca, server, client, stranger;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  ck_assert_ptr_nonnull(e);
  X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
}

static pem to_pem(int (*write)(BIO *, void *), void *obj) {
  BIO *b = BIO_new(BIO_s_mem());
  ck_assert_int_eq(write(b, obj), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  pem p = {malloc((size_t)n + 1), (size_t)n};
  memcpy(p.data, data, (size_t)n);
  p.data[n] = '\0';
  BIO_free(b);
  return p;
}

static int write_cert(BIO *b, void *x) { return PEM_write_bio_X509(b, x); }
static int write_key(BIO *b, void *k) {
  return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

/* A certificate for cn signed by issuer (itself when NULL: a CA). */
static identity make(const char *cn, const identity *issuer, const char *san, const char *eku) {
  static long serial = 1;
  identity id = {.key = EVP_EC_gen("P-256"), .cert = X509_new()};
  ck_assert_ptr_nonnull(id.key);
  X509 *x = id.cert;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, id.key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509 *signer = issuer ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  add_ext(x, signer, NID_basic_constraints, issuer ? "CA:FALSE" : "critical,CA:TRUE");
  if (!issuer)
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san)
    add_ext(x, signer, NID_subject_alt_name, san);
  if (eku)
    add_ext(x, signer, NID_ext_key_usage, eku);
  ck_assert_int_gt(X509_sign(x, issuer ? issuer->key : id.key, EVP_sha256()), 0);
  id.cert_pem = to_pem(write_cert, x);
  id.key_pem = to_pem(write_key, id.key);
  return id;
}

static void drop(identity *id) {
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  free(id->key_pem.data);
  free(id->cert_pem.data);
}

static void make_all(void) {
  ca = make("test CA", NULL, NULL, NULL);
  other_ca = make("another CA", NULL, NULL, NULL);
  server = make("engine", &ca, "IP:127.0.0.1,DNS:localhost", "serverAuth");
  client = make("execd", &ca, NULL, "clientAuth");
  stranger = make("execd elsewhere", &other_ca, NULL, "clientAuth");
}

static void drop_all(void) {
  drop(&ca);
  drop(&other_ca);
  drop(&server);
  drop(&client);
  drop(&stranger);
}

/* ---- a server in memory ---------------------------------------------------- */

typedef struct server_end {
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *in, *out; /* owned by ssl */
} server_end;

static server_end server_new(bool want_client_cert) {
  server_end s = {.ctx = SSL_CTX_new(TLS_server_method())};
  ck_assert_int_eq(SSL_CTX_use_certificate(s.ctx, server.cert), 1);
  ck_assert_int_eq(SSL_CTX_use_PrivateKey(s.ctx, server.key), 1);
  if (want_client_cert) {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(s.ctx), ca.cert);
    SSL_CTX_set_verify(s.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  s.ssl = SSL_new(s.ctx);
  s.in = BIO_new(BIO_s_mem());
  s.out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(s.in, -1);
  BIO_set_mem_eof_return(s.out, -1);
  SSL_set_bio(s.ssl, s.in, s.out);
  SSL_set_accept_state(s.ssl);
  return s;
}

static void server_free(server_end *s) {
  SSL_free(s->ssl);
  SSL_CTX_free(s->ctx);
}

/* Moves bytes both ways until neither side has more to say; the server
 * reads into got (NUL-terminated) and records how its last read ended. */
static void pump(httpc_tls *c, server_end *s, char *got, size_t got_size, int *server_err) {
  for (int round = 0; round < 20; round++) {
    if (httpc_tls_handshake(c) < 0)
      return;
    size_t len;
    char *out = httpc_tls_take_output(c, &len);
    int moved = out != NULL;
    if (out)
      BIO_write(s->in, out, (int)len);
    free(out);
    if (!SSL_is_init_finished(s->ssl)) {
      int rc = SSL_do_handshake(s->ssl);
      *server_err = rc == 1 ? 0 : SSL_get_error(s->ssl, rc);
    }
    if (SSL_is_init_finished(s->ssl)) {
      char buf[512];
      int n;
      while ((n = SSL_read(s->ssl, buf, sizeof buf - 1)) > 0) {
        size_t room = got ? got_size - strlen(got) - 1 : 0;
        if (got)
          strncat(got, buf, (size_t)n < room ? (size_t)n : room);
      }
      *server_err = SSL_get_error(s->ssl, n);
    }
    char buf[4096];
    int n;
    while ((n = BIO_read(s->out, buf, sizeof buf)) > 0) {
      ck_assert_int_eq(httpc_tls_feed(c, buf, (size_t)n), 0);
      moved = 1;
    }
    if (!moved)
      return;
  }
}

static SSL_CTX *client_ctx(const identity *trust, const identity *me) {
  int bad = -1;
  char err[300] = "";
  SSL_CTX *ctx = httpc_tls_ctx_new(true, trust->cert_pem.data, trust->cert_pem.len,
                                   me ? me->cert_pem.data : NULL, me ? me->cert_pem.len : 0,
                                   me ? me->key_pem.data : NULL, me ? me->key_pem.len : 0, &bad,
                                   err, sizeof err);
  ck_assert_msg(ctx != NULL, "context: %s", err);
  ck_assert_int_eq(bad, 0);
  return ctx;
}

START_TEST(handshake_data_and_half_close) {
  make_all();
  SSL_CTX *ctx = client_ctx(&ca, &client);
  httpc_tls *c = httpc_tls_new(ctx, "127.0.0.1", true);
  SSL_CTX_free(ctx); /* the session holds its own reference */
  server_end s = server_new(true);
  char got[256] = "";
  int server_err = 0;
  pump(c, &s, got, sizeof got, &server_err);
  ck_assert_int_eq(httpc_tls_handshake(c), 1);
  ck_assert(SSL_is_init_finished(s.ssl));

  ck_assert_int_eq(httpc_tls_write(c, "{\"input\": 1}\n", 13), 0);
  ck_assert_int_eq(httpc_tls_close_notify(c), 0);
  pump(c, &s, got, sizeof got, &server_err);
  ck_assert_str_eq(got, "{\"input\": 1}\n");
  ck_assert_int_eq(server_err, SSL_ERROR_ZERO_RETURN); /* EOF of the job's stdin */
  ck_assert_int_eq(httpc_tls_write(c, "more", 4), -1); /* nothing after the end */

  /* The output goes on after the client's close_notify. */
  ck_assert_int_eq(SSL_write(s.ssl, "output", 6), 6);
  ck_assert_int_eq(SSL_shutdown(s.ssl), 1);
  pump(c, &s, NULL, 0, &server_err);
  char buf[64];
  ssize_t n = httpc_tls_read(c, buf, sizeof buf);
  ck_assert_int_eq(n, 6);
  ck_assert_int_eq(memcmp(buf, "output", 6), 0);
  ck_assert_int_eq(httpc_tls_read(c, buf, sizeof buf), HTTPC_TLS_EOF);
  size_t len;
  free(httpc_tls_take_output(c, &len));
  httpc_tls_free(c);
  server_free(&s);
  drop_all();
}
END_TEST

/* Handshake against a server with trust and me: the client's error. */
static const char *refused(const identity *trust, const identity *me, const char *host,
                           bool want_client_cert, char *msg, size_t size) {
  SSL_CTX *ctx = client_ctx(trust, me);
  httpc_tls *c = httpc_tls_new(ctx, host, true);
  SSL_CTX_free(ctx);
  server_end s = server_new(want_client_cert);
  int server_err = 0;
  pump(c, &s, NULL, 0, &server_err);
  int hs = httpc_tls_handshake(c);
  if (hs == 1) { /* TLS 1.3: the server's refusal comes with the first read */
    ck_assert_int_eq(httpc_tls_write(c, "x", 1), 0);
    pump(c, &s, NULL, 0, &server_err);
    char buf[16];
    ck_assert_int_eq(httpc_tls_read(c, buf, sizeof buf), -1);
  } else {
    ck_assert_int_eq(hs, -1);
  }
  snprintf(msg, size, "%s", httpc_tls_error(c));
  httpc_tls_free(c);
  server_free(&s);
  return msg;
}

START_TEST(wrong_ca_name_or_client_certificate_are_refused) {
  make_all();
  char msg[300];
  refused(&other_ca, &client, "127.0.0.1", true, msg, sizeof msg);
  ck_assert_msg(strstr(msg, "TLS") && strstr(msg, "certificate was refused"), "another CA: %s",
                msg);
  refused(&ca, &client, "10.9.8.7", true, msg, sizeof msg);
  ck_assert_msg(strstr(msg, "TLS") && strstr(msg, "certificate") && strstr(msg, "mismatch"),
                "another address: %s", msg);
  refused(&ca, &client, "engine.example", true, msg, sizeof msg);
  ck_assert_msg(strstr(msg, "certificate") && strstr(msg, "mismatch"), "another name: %s", msg);
  refused(&ca, NULL, "localhost", true, msg, sizeof msg);
  ck_assert_msg(strstr(msg, "TLS") && strstr(msg, "certificate"), "no client certificate: %s",
                msg);
  refused(&ca, &stranger, "127.0.0.1", true, msg, sizeof msg);
  ck_assert_msg(strstr(msg, "TLS") && strstr(msg, "the engine refused the session") &&
                    strstr(msg, "unknown ca"),
                "a client certificate of another CA: %s", msg);
  drop_all();
}
END_TEST

START_TEST(without_verification_any_certificate_does) {
  make_all();
  int bad;
  char err[200];
  SSL_CTX *ctx = httpc_tls_ctx_new(false, NULL, 0, client.cert_pem.data, client.cert_pem.len,
                                   client.key_pem.data, client.key_pem.len, &bad, err, sizeof err);
  ck_assert_ptr_nonnull(ctx);
  httpc_tls *c = httpc_tls_new(ctx, "engine.example", false);
  SSL_CTX_free(ctx);
  server_end s = server_new(true);
  int server_err = 0;
  pump(c, &s, NULL, 0, &server_err);
  ck_assert_int_eq(httpc_tls_handshake(c), 1);
  httpc_tls_free(c);
  server_free(&s);
  drop_all();
}
END_TEST

START_TEST(bad_material_is_named_by_its_part) {
  make_all();
  static const char junk[] = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                             "-----END CERTIFICATE-----\n";
  const pem text = {(char *)"just text\n", 10};
  const pem garbled = {(char *)junk, sizeof junk - 1};
  const struct {
    const pem *ca, *cert, *key;
    int part;
  } cases[] = {
      {&text, NULL, NULL, HTTPC_TLS_CA},
      {&garbled, NULL, NULL, HTTPC_TLS_CA},
      {&ca.cert_pem, &text, &client.key_pem, HTTPC_TLS_CERT},
      {&ca.cert_pem, &client.cert_pem, &text, HTTPC_TLS_KEY},
      {&ca.cert_pem, &client.cert_pem, &server.key_pem, HTTPC_TLS_KEY}, /* another's key */
      {&ca.cert_pem, &client.cert_pem, &client.cert_pem, HTTPC_TLS_KEY},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int bad = 0;
    char err[300] = "";
    SSL_CTX *ctx = httpc_tls_ctx_new(
        true, cases[i].ca->data, cases[i].ca->len, cases[i].cert ? cases[i].cert->data : NULL,
        cases[i].cert ? cases[i].cert->len : 0, cases[i].key ? cases[i].key->data : NULL,
        cases[i].key ? cases[i].key->len : 0, &bad, err, sizeof err);
    ck_assert_msg(ctx == NULL, "case %zu accepted", i);
    ck_assert_msg(bad == cases[i].part, "case %zu: part %d, not %d (%s)", i, bad, cases[i].part,
                  err);
    ck_assert_msg(err[0], "case %zu: no reason", i);
  }
  int bad = 0;
  char err[300] = "";
  ck_assert_ptr_null(httpc_tls_ctx_new(true, NULL, 0, NULL, 0, NULL, 0, &bad, err, sizeof err));
  ck_assert_int_eq(bad, HTTPC_TLS_CA); /* verifying needs CAs, given in memory */
  ck_assert_uint_eq(ERR_peek_error(), 0); /* nothing left for the next caller */
  drop_all();
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine tls");
  TCase *tc = tcase_create("endpoints");
  tcase_add_test(tc, tcp_endpoints_are_parsed);
  tcase_add_test(tc, unix_endpoints_are_local_and_have_no_address);
  suite_add_tcase(s, tc);
  tc = tcase_create("sessions");
  tcase_add_test(tc, handshake_data_and_half_close);
  tcase_add_test(tc, wrong_ca_name_or_client_certificate_are_refused);
  tcase_add_test(tc, without_verification_any_certificate_does);
  tcase_add_test(tc, bad_material_is_named_by_its_part);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
