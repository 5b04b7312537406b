/* The kubernetes backend's configuration: where the API server is and how
 * execd proves who it is (a CA, and a bearer token from a file or a client
 * certificate), read and checked at start, never on the loop; and what
 * jobs get.  Every combination that does not say one clear thing is
 * refused, naming the key. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc/httpc_tls.h"
#include "kube_internal.h"
#include "kube_kubeconfig.h"

#define TOKEN_MAX 16384

static int refuse(kube_backend *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(kube_backend *b, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  b->host->set_error(b->inst, "%s", msg);
  return EXECD_ECONFIG;
}

/* A bearer token: printable ASCII, surrounding blanks dropped.  FROM
 * names where it came from, for messages. */
static int set_token(kube_backend *b, const char *from, char *buf, size_t n) {
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    n--;
  buf[n] = '\0';
  if (n == 0)
    return refuse(b, "%s: the token is empty", from);
  if (n > TOKEN_MAX)
    return refuse(b, "%s: the token is longer than %d bytes", from, TOKEN_MAX);
  for (size_t i = 0; i < n; i++)
    if (buf[i] < 0x21 || buf[i] > 0x7e)
      return refuse(b, "%s: the token holds a character that is not printable ASCII", from);
  if (asprintf(&b->auth_header, "Authorization: Bearer %s", buf) < 0) {
    b->auth_header = NULL;
    return EXECD_ENOMEM;
  }
  return 0;
}

/* A bearer token file: one line of printable ASCII. */
static int read_token(kube_backend *b, const char *from, const char *file) {
  char what[700];
  snprintf(what, sizeof what, "%s%s", from, file);
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return refuse(b, "%s: %s", what, strerror(errno));
  char buf[TOKEN_MAX + 2];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0)
    return refuse(b, "%s: %s", what, strerror(errno));
  return set_token(b, what, buf, (size_t)n);
}

/* Where the API server is, from one of: api_url with ca_file and
 * token_file or client_cert/client_key; a kubeconfig file (its current
 * context); the service account of the pod execd runs in (in_cluster).
 * The namespace they name, if any, goes to *ns. */
static int gather(kube_backend *b, const json_t *config, kube_kubeconfig *k, char *from,
                  size_t fromlen) {
  const char *url = json_string_value(json_object_get(config, "api_url"));
  const char *kubeconfig = json_string_value(json_object_get(config, "kubeconfig"));
  bool in_cluster = json_is_true(json_object_get(config, "in_cluster"));
  const char *sa_dir = json_string_value(json_object_get(config, "service_account_dir"));
  static const char *const file_keys[4] = {"ca_file", "token_file", "client_cert", "client_key"};
  const char *files[4];
  for (int i = 0; i < 4; i++)
    files[i] = json_string_value(json_object_get(config, file_keys[i]));
  int ways = !!url + !!kubeconfig + in_cluster;
  if (ways == 0)
    return refuse(b, "set api_url (with ca_file, and token_file or client_cert and client_key), "
                     "kubeconfig, or in_cluster = true: where the API server is");
  if (ways > 1)
    return refuse(b, "api_url, kubeconfig and in_cluster are three ways to reach the API "
                     "server: set one");
  if (sa_dir && !in_cluster)
    return refuse(b, "service_account_dir is set without in_cluster = true");
  char why[600];
  if (kubeconfig || in_cluster) {
    for (int i = 0; i < 4; i++)
      if (files[i])
        return refuse(b, "%s is set with %s: the %s gives the credentials", file_keys[i],
                      kubeconfig ? "kubeconfig" : "in_cluster",
                      kubeconfig ? "kubeconfig" : "service account");
    if (kubeconfig) {
      snprintf(from, fromlen, "kubeconfig %s: ", kubeconfig);
      if (kube_kubeconfig_load(kubeconfig, k, why, sizeof why) != 0)
        return refuse(b, "kubeconfig %s: %s", kubeconfig, why);
    } else {
      if (!sa_dir)
        sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
      snprintf(from, fromlen, "in_cluster (%s): ", sa_dir);
      if (kube_in_cluster_load(sa_dir, k, why, sizeof why) != 0)
        return refuse(b, "in_cluster: %s", why);
    }
    return 0;
  }
  from[0] = '\0';
  if (!files[1] && !files[2])
    return refuse(b, "set token_file (a bearer token) or client_cert and client_key: how execd "
                     "proves who it is to %s",
                  url);
  if (files[1] && files[2])
    return refuse(b, "token_file and client_cert are both set: use one way to authenticate");
  if (!!files[2] != !!files[3])
    return refuse(b, "%s is set without %s", files[2] ? "client_cert" : "client_key",
                  files[2] ? "client_key" : "client_cert");
  k->server = strdup(url);
  char **dst[4] = {&k->ca_file, &k->token_file, &k->cert_file, &k->key_file};
  for (int i = 0; i < 4; i++)
    if (files[i] && !(*dst[i] = strdup(files[i])))
      return EXECD_ENOMEM;
  return k->server ? 0 : EXECD_ENOMEM;
}

/* "https://HOST[:PORT]" (no path): the endpoint, with TLS material. */
static int configure_api(kube_backend *b, const json_t *config, char **ns_found) {
  kube_kubeconfig k = {0};
  char from[600];
  int rc = gather(b, config, &k, from, sizeof from);
  if (rc) {
    kube_kubeconfig_clear(&k);
    return rc;
  }
  *ns_found = k.ns;
  k.ns = NULL;
  const char *url = k.server;
  if (strncmp(url, "https://", 8) != 0) {
    rc = refuse(b, "%sserver \"%s\" must start with https:// (the API server is reached over "
                   "TLS only)",
                from, url);
    goto out;
  }
  const char *hostport = url + 8;
  size_t len = strlen(hostport);
  if (len > 0 && hostport[len - 1] == '/')
    len--;
  if (len == 0 || memchr(hostport, '/', len) || memchr(hostport, '?', len)) {
    rc = refuse(b, "%sserver \"%s\" must be https://HOST[:PORT], without a path", from, url);
    goto out;
  }
  char uri[600];
  /* The default port of https when none is given. */
  const char *colon = memrchr(hostport, ':', len);
  const char *bracket = memrchr(hostport, ']', len);
  bool has_port = colon && (!bracket || colon > bracket);
  snprintf(uri, sizeof uri, "tcp://%.*s%s", (int)len, hostport, has_port ? "" : ":443");
  char why[300];
  if (httpc_endpoint_set_tcp(&b->endpoint, uri, why, sizeof why) != 0) {
    rc = refuse(b, "%sserver \"%s\": %s", from, url, why);
    goto out;
  }
  b->api_url = strdup(url);

  if (k.token)
    rc = set_token(b, from[0] ? from : "token", k.token, strlen(k.token));
  else if (k.token_file)
    rc = read_token(b, from[0] ? from : "token_file ", k.token_file);
  if (rc)
    goto out;
  static const char *const keys[3] = {"ca_file", "client_cert", "client_key"};
  static const char *const kc_keys[3] = {"certificate-authority", "client-certificate",
                                         "client-key"};
  const char *files[3] = {k.ca_file, k.cert_file, k.key_file};
  char *datas[3] = {k.ca_data, k.cert_data, k.key_data};
  size_t lens[3] = {k.ca_len, k.cert_len, k.key_len};
  httpc_pem pems[3] = {{0}};
  for (int i = 0; i < 3; i++) {
    if (datas[i]) { /* handed over: decoded PEM from the kubeconfig */
      pems[i].data = datas[i];
      pems[i].len = lens[i];
      if (i == 0)
        k.ca_data = NULL;
      else if (i == 1)
        k.cert_data = NULL;
      else
        k.key_data = NULL;
    } else if (files[i] && httpc_pem_read(files[i], &pems[i], why, sizeof why) != 0) {
      for (int j = 0; j < i; j++)
        httpc_pem_clear(&pems[j]);
      rc = refuse(b, "%s%s %s: %s", from, from[0] ? kc_keys[i] : keys[i], files[i], why);
      goto out;
    }
  }
  int bad = 0;
  if (httpc_endpoint_set_tls(&b->endpoint, true, &pems[0], &pems[1], &pems[2], &bad, why,
                             sizeof why) != 0) {
    if (bad)
      rc = refuse(b, "%s%s%s%s: %s", from, from[0] ? kc_keys[bad - 1] : keys[bad - 1],
                  files[bad - 1] ? " " : " (data)", files[bad - 1] ? files[bad - 1] : "", why);
    else
      rc = refuse(b, "%sserver %s: %s", from, url, why);
  }
out:
  kube_kubeconfig_clear(&k);
  return rc;
}

/* A DNS-1123 label: what a namespace must be. */
static bool is_dns_label(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

static int64_t int_or(const json_t *config, const char *key, int64_t dflt) {
  const json_t *v = json_object_get(config, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* Label values: at most 63 of [A-Za-z0-9._-], alphanumeric at the ends. */
static void label_value(const char *in, char *out, size_t size) {
  size_t o = 0;
  for (const char *p = in; *p && o + 1 < size && o < 63; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out[o++] = ok ? c : '_';
  }
  while (o > 0 && !((out[o - 1] >= 'a' && out[o - 1] <= 'z') ||
                    (out[o - 1] >= 'A' && out[o - 1] <= 'Z') ||
                    (out[o - 1] >= '0' && out[o - 1] <= '9')))
    o--;
  out[o] = '\0';
  if (o == 0 || !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') ||
                  (out[0] >= '0' && out[0] <= '9'))) {
    if (o + 2 > size || o >= 63)
      o = size - 2 < 62 ? size - 2 : 62;
    memmove(out + 1, out, o);
    out[0] = 'x';
    out[o + 1] = '\0';
  }
}

int kube_configure(kube_backend *b, const json_t *config) {
  char *ns_found = NULL; /* the kubeconfig's context's, or the service account's */
  int rc = configure_api(b, config, &ns_found);
  if (rc) {
    free(ns_found);
    return rc;
  }

  const char *ns = json_string_value(json_object_get(config, "namespace"));
  b->ns = strdup(ns ? ns : ns_found ? ns_found : "default");
  free(ns_found);
  if (!b->ns)
    return EXECD_ENOMEM;
  if (!is_dns_label(b->ns))
    return refuse(b, "namespace \"%s\" is not a DNS label (a-z, 0-9, -, at most 63)", b->ns);

  const json_t *globs = json_object_get(config, "images_allowed");
  size_t n = json_array_size(globs);
  b->images_allowed = calloc(n + 1, sizeof *b->images_allowed);
  if (!b->images_allowed)
    return EXECD_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *g = json_string_value(json_array_get(globs, i));
    if (!g || !*g)
      return refuse(b, "images_allowed[%zu] must be a non-empty string", i);
    b->images_allowed[i] = strdup(g);
  }
  if (n == 0)
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "images_allowed is empty: every execution on this backend will be refused");

  const char *helper = json_string_value(json_object_get(config, "helper_image"));
  b->helper_image = strdup(helper ? helper : "busybox:1.36");
  if (!b->helper_image || !*b->helper_image)
    return refuse(b, "helper_image must not be empty");

  const char *pull = json_string_value(json_object_get(config, "pull"));
  if (!pull || strcmp(pull, "if-not-present") == 0)
    b->pull_policy = strdup("IfNotPresent");
  else if (strcmp(pull, "never") == 0)
    b->pull_policy = strdup("Never");
  else if (strcmp(pull, "always") == 0)
    b->pull_policy = strdup("Always");
  else
    return refuse(b, "pull must be \"never\", \"if-not-present\" or \"always\", not \"%s\"", pull);

  const char *user = json_string_value(json_object_get(config, "user"));
  if (container_parse_user(user ? user : "65534:65534", &b->uid, &b->gid) < 0)
    return refuse(b, "user \"%s\" is not \"uid[:gid]\" (numbers)", user);
  if (b->uid == 0)
    return refuse(b, "user is root: pods run with runAsNonRoot, give a uid other than 0");

  b->memory_bytes = int_or(config, "memory", 512ll << 20);
  const json_t *cpus = json_object_get(config, "cpus");
  b->cpus = json_is_number(cpus) ? json_number_value(cpus) : 0.5;
  b->tmpfs_size = int_or(config, "tmpfs_size", 64ll << 20);
  b->output_max = int_or(config, "output_max", 256ll << 20);
  b->grace_s = (int_or(config, "termination_grace", 30000) + 999) / 1000;
  b->deadline_slack_s = (int_or(config, "deadline_slack", 60000) + 999) / 1000;
  b->api_grace_ms = int_or(config, "api_grace", 30000);
  const json_t *seccomp = json_object_get(config, "seccomp");
  b->seccomp = !json_is_false(seccomp);
  b->host_network = json_is_true(json_object_get(config, "host_network"));
  if (b->host_network)
    b->host->log(b->inst, EXECD_LOG_WARNING,
                 "host_network = true: pods share the node's network namespace, and jobs reach "
                 "whatever listens on the node (its loopback included)");
  if (b->memory_bytes < (6 << 20))
    return refuse(b, "memory must be at least 6M (pods always get a limit)");
  if (b->cpus < 0.001)
    return refuse(b, "cpus must be at least 0.001 (pods always get a limit)");
  if (b->tmpfs_size <= 0 || b->output_max <= 0 || b->grace_s < 1 || b->deadline_slack_s < 0 ||
      b->api_grace_ms < 0)
    return refuse(b, "tmpfs_size, output_max and termination_grace must be above 0, "
                     "deadline_slack and api_grace at least 0");

  /* Labels tell this daemon's Jobs apart from another's on the cluster. */
  const char *state_dir = b->host->state_dir ? b->host->state_dir(b->inst) : NULL;
  uint64_t h = 1469598103934665603ull;
  for (const char *p = state_dir ? state_dir : ""; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  snprintf(b->daemon_label, sizeof b->daemon_label, "%016llx", (unsigned long long)h);
  const char *iname = b->host->instance_name ? b->host->instance_name(b->inst) : NULL;
  label_value(iname ? iname : "kubernetes", b->instance_label, sizeof b->instance_label);
  return 0;
}

void kube_config_free(kube_backend *b) {
  httpc_endpoint_clear(&b->endpoint);
  free(b->api_url);
  free(b->auth_header);
  free(b->ns);
  for (char **p = b->images_allowed; p && *p; p++)
    free(*p);
  free(b->images_allowed);
  free(b->helper_image);
  free(b->pull_policy);
}
