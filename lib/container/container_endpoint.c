/* Where a container backend's engine is: the socket key (a unix socket,
 * as before), or endpoint = "tcp://HOST:PORT" with tls, tls_ca, tls_cert,
 * tls_key and tls_verify.  Every combination that does not say one clear
 * thing is refused here, naming the key; the PEM files are read and
 * checked now, at configuration, so nothing is read on the loop later. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "container_internal.h"
#include "httpc/httpc_tls.h"

static int refuse(container_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(container_backend *b, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  b->host->set_error(b->inst, "%s", msg);
  return EXECD_ECONFIG;
}

static const char *const tls_keys[] = {"tls", "tls_ca", "tls_cert", "tls_key", "tls_verify", NULL};

static int configure_unix(container_backend *b, const json_t *config, const char *socket) {
  for (const char *const *k = tls_keys; *k; k++)
    if (json_object_get(config, *k))
      return refuse(b, "%s needs endpoint = \"tcp://HOST:PORT\": there is no TLS on a unix socket",
                    *k);
  const char *path = socket ? socket : b->flavor->default_socket;
  if (path[0] != '/')
    return refuse(b, "socket \"%s\" must be an absolute path to a unix socket%s", path,
                  strstr(path, "://") ? " (an engine on TCP goes in endpoint)" : "");
  return httpc_endpoint_set_unix(&b->endpoint, path) == 0 ? 0 : EXECD_ENOMEM;
}

/* The PEM files, read into ep with the context built from them. */
static int configure_tls(container_backend *b, bool verify, const char *const files[3]) {
  static const char *const keys[3] = {"tls_ca", "tls_cert", "tls_key"};
  httpc_pem pems[3] = {{0}};
  char why[300];
  for (int i = 0; i < 3; i++) {
    if (files[i] && httpc_pem_read(files[i], &pems[i], why, sizeof why) != 0) {
      for (int j = 0; j < i; j++)
        httpc_pem_clear(&pems[j]);
      return refuse(b, "%s %s: %s", keys[i], files[i], why);
    }
  }
  int bad = 0;
  if (httpc_endpoint_set_tls(&b->endpoint, verify, &pems[0], &pems[1], &pems[2], &bad, why,
                             sizeof why) != 0) {
    if (bad && files[bad - 1])
      return refuse(b, "%s %s: %s", keys[bad - 1], files[bad - 1], why);
    if (bad) /* no tls_ca: the system's bundle */
      return refuse(b, "%s: %s", keys[bad - 1], why);
    return refuse(b, "endpoint %s: %s", b->endpoint.name, why);
  }
  return 0;
}

int container_configure_endpoint(container_backend *b, const json_t *config) {
  const char *socket = json_string_value(json_object_get(config, "socket"));
  const char *uri = json_string_value(json_object_get(config, "endpoint"));
  if (socket && uri)
    return refuse(b, "socket and endpoint are both set: socket is a unix socket, endpoint "
                     "\"tcp://HOST:PORT\"; set one of them");
  if (!uri)
    return configure_unix(b, config, socket);

  char why[300];
  if (httpc_endpoint_set_tcp(&b->endpoint, uri, why, sizeof why) != 0)
    return refuse(b, "endpoint \"%s\" %s%s", uri, why,
                  strncmp(uri, "unix:", 5) == 0 ? " (a unix socket goes in socket)" : "");
  const char *name = b->endpoint.name;
  const char *files[3] = {json_string_value(json_object_get(config, "tls_ca")),
                          json_string_value(json_object_get(config, "tls_cert")),
                          json_string_value(json_object_get(config, "tls_key"))};
  const json_t *tls = json_object_get(config, "tls");
  const json_t *verify = json_object_get(config, "tls_verify");
  const char *first_tls_key = files[0] ? "tls_ca" : files[1] ? "tls_cert" : files[2] ? "tls_key"
                              : verify ? "tls_verify" : NULL;

  if (json_is_false(tls)) {
    if (first_tls_key)
      return refuse(b, "%s is set but tls = false: without TLS it would not be used",
                    first_tls_key);
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "endpoint %s without TLS (tls = false): anyone who can reach that port controls "
                 "the %s engine, and through it this host",
                 name, b->flavor->name);
    return 0;
  }
  if (!tls && !first_tls_key)
    return refuse(b, "endpoint %s: set tls_ca, tls_cert and tls_key for TLS (or tls = true for "
                     "the system's CAs), or tls = false to allow plain TCP, where anyone who can "
                     "reach the port controls the engine",
                  name);
  if (files[1] && !files[2])
    return refuse(b, "tls_cert is set without tls_key, the client certificate's private key");
  if (files[2] && !files[1])
    return refuse(b, "tls_key is set without tls_cert, the client certificate it belongs to");
  bool check = !verify || json_is_true(verify);
  if (!check && files[0])
    return refuse(b, "tls_ca is set but tls_verify = false: the engine's certificate would not "
                     "be checked against it");
  if (!check)
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "tls_verify = false: the certificate of %s is not checked; anyone between execd "
                 "and it can pose as the engine",
                 name);
  if (!files[1])
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "endpoint %s: no client certificate (tls_cert, tls_key): an engine that lets "
                 "execd in without one lets anyone in",
                 name);
  return configure_tls(b, check, files);
}
