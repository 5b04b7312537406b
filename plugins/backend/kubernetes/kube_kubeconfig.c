/* kubeconfig files and the in-cluster service account; see
 * kube_kubeconfig.h.  The YAML is checked event by event first (size,
 * nesting, count), then loaded as a libyaml document and walked along the
 * few paths a kubeconfig has: aliases are never followed further than one
 * lookup, so no document costs more than its size. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "kube_kubeconfig.h"

#define SMALL_FILE_MAX 4096 /* the in-cluster namespace file */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void kube_kubeconfig_clear(kube_kubeconfig *k) {
  free(k->context);
  free(k->server);
  free(k->ca_data);
  free(k->ca_file);
  free(k->token);
  free(k->token_file);
  free(k->cert_data);
  free(k->key_data);
  free(k->cert_file);
  free(k->key_file);
  free(k->ns);
  memset(k, 0, sizeof *k);
}

/* Nesting and size, from the events, before a document is built. */
static int check_events(const char *text, size_t len, char *err, size_t errlen) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return fail(err, errlen, "out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int depth = 0, rc = 0;
  for (unsigned n = 0;; n++) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) {
      rc = fail(err, errlen, "not YAML: %s at line %zu column %zu",
                p.problem ? p.problem : "error", p.problem_mark.line + 1,
                p.problem_mark.column + 1);
      break;
    }
    yaml_event_type_t t = ev.type;
    yaml_event_delete(&ev);
    if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
      if (++depth > KUBECONFIG_DEPTH) {
        rc = fail(err, errlen, "nested deeper than %d levels", KUBECONFIG_DEPTH);
        break;
      }
    } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    if (n > KUBECONFIG_EVENTS) {
      rc = fail(err, errlen, "more than %d YAML nodes", KUBECONFIG_EVENTS);
      break;
    }
    if (t == YAML_STREAM_END_EVENT)
      break;
  }
  yaml_parser_delete(&p);
  return rc;
}

/* ---- walking the document ----------------------------------------------------- */

static yaml_node_t *node(yaml_document_t *d, int id) {
  return id ? yaml_document_get_node(d, id) : NULL;
}

/* A scalar's text, or NULL when n is not a scalar. */
static const char *scalar(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of KEY in mapping M, or NULL. */
static yaml_node_t *get(yaml_document_t *d, const yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE)
    return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(node(d, p->key));
    if (k && strcmp(k, key) == 0)
      return node(d, p->value);
  }
  return NULL;
}

/* The entry of sequence LIST (clusters, users, contexts) whose name is
 * NAME: its member WHAT (cluster, user, context), a mapping. */
static yaml_node_t *named(yaml_document_t *d, const yaml_node_t *root, const char *list,
                          const char *name, const char *what, char *err, size_t errlen) {
  yaml_node_t *seq = get(d, root, list);
  if (!seq || seq->type != YAML_SEQUENCE_NODE) {
    fail(err, errlen, "%s is missing or not a list", list);
    return NULL;
  }
  for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
       i++) {
    yaml_node_t *entry = node(d, *i);
    const char *n = scalar(get(d, entry, "name"));
    if (n && strcmp(n, name) == 0) {
      yaml_node_t *v = get(d, entry, what);
      if (!v || v->type != YAML_MAPPING_NODE) {
        fail(err, errlen, "%s \"%s\" has no %s mapping", list, name, what);
        return NULL;
      }
      return v;
    }
  }
  fail(err, errlen, "\"%s\" is not in %s", name, list);
  return NULL;
}

/* A member that must be a string when present: 0 with *out set (NULL when
 * absent), or -1. */
static int opt_string(yaml_document_t *d, const yaml_node_t *m, const char *key,
                      const char *where, const char **out, char *err, size_t errlen) {
  yaml_node_t *v = get(d, m, key);
  *out = NULL;
  if (!v)
    return 0;
  if (!scalar(v))
    return fail(err, errlen, "%s: %s is not a string", where, key);
  *out = scalar(v);
  return 0;
}

/* Base64 (standard alphabet, padding optional) into a new buffer. */
static int decode_b64(const char *in, char **out, size_t *outlen, const char *what, char *err,
                      size_t errlen) {
  size_t n = strlen(in);
  char *clean = malloc(n + 4);
  if (!clean)
    return fail(err, errlen, "out of memory");
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ')
      clean[c++] = in[i];
  while (c % 4)
    clean[c++] = '=';
  clean[c] = '\0';
  unsigned char *buf = malloc(c / 4 * 3 + 1);
  int got = buf ? EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)c) : -1;
  size_t pad = 0;
  for (size_t i = c; i > 0 && clean[i - 1] == '=' && pad < 2; i--)
    pad++;
  free(clean);
  if (got < 0 || (size_t)got < pad) {
    free(buf);
    return fail(err, errlen, "%s is not base64", what);
  }
  buf[got - (int)pad] = '\0';
  *out = (char *)buf;
  *outlen = (size_t)got - pad;
  return 0;
}

/* A file name from the kubeconfig, relative ones made relative to dir. */
static char *path_in(const char *dir, const char *name) {
  char *p = NULL;
  if (name[0] == '/' || !dir || !*dir)
    return strdup(name);
  if (asprintf(&p, "%s/%s", dir, name) < 0)
    return NULL;
  return p;
}

/* DATA_KEY (base64) or FILE_KEY (a file name) of mapping M, one at most. */
static int data_or_file(yaml_document_t *d, const yaml_node_t *m, const char *where,
                        const char *data_key, const char *file_key, const char *dir, char **data,
                        size_t *len, char **file, char *err, size_t errlen) {
  const char *dv, *fv;
  if (opt_string(d, m, data_key, where, &dv, err, errlen) ||
      opt_string(d, m, file_key, where, &fv, err, errlen))
    return -1;
  if (dv && fv)
    return fail(err, errlen, "%s: %s and %s are both set", where, data_key, file_key);
  if (dv) {
    char what[200];
    snprintf(what, sizeof what, "%s: %s", where, data_key);
    return decode_b64(dv, data, len, what, err, errlen);
  }
  if (fv) {
    if (!*fv)
      return fail(err, errlen, "%s: %s is empty", where, file_key);
    *file = path_in(dir, fv);
    if (!*file)
      return fail(err, errlen, "out of memory");
  }
  return 0;
}

static int walk(yaml_document_t *d, const char *dir, kube_kubeconfig *k, char *err,
                size_t errlen) {
  yaml_node_t *root = yaml_document_get_root_node(d);
  if (!root || root->type != YAML_MAPPING_NODE)
    return fail(err, errlen, "not a kubeconfig: the document is not a mapping");
  const char *cur;
  if (opt_string(d, root, "current-context", "the document", &cur, err, errlen))
    return -1;
  if (!cur || !*cur)
    return fail(err, errlen, "current-context is not set: name the context to use");
  k->context = strdup(cur);
  yaml_node_t *ctx = named(d, root, "contexts", cur, "context", err, errlen);
  if (!ctx)
    return -1;
  char where[300];
  snprintf(where, sizeof where, "context \"%.200s\"", cur);
  const char *cluster, *user, *ns;
  if (opt_string(d, ctx, "cluster", where, &cluster, err, errlen) ||
      opt_string(d, ctx, "user", where, &user, err, errlen) ||
      opt_string(d, ctx, "namespace", where, &ns, err, errlen))
    return -1;
  if (!cluster || !user)
    return fail(err, errlen, "%s: cluster and user must both be set", where);
  if (ns && *ns && !(k->ns = strdup(ns)))
    return fail(err, errlen, "out of memory");

  yaml_node_t *cl = named(d, root, "clusters", cluster, "cluster", err, errlen);
  if (!cl)
    return -1;
  snprintf(where, sizeof where, "cluster \"%.200s\"", cluster);
  const char *server, *insecure;
  if (opt_string(d, cl, "server", where, &server, err, errlen) ||
      opt_string(d, cl, "insecure-skip-tls-verify", where, &insecure, err, errlen))
    return -1;
  if (!server || !*server)
    return fail(err, errlen, "%s: server is not set", where);
  if (insecure && strcmp(insecure, "true") == 0)
    return fail(err, errlen, "%s: insecure-skip-tls-verify is true: execd always verifies the "
                "API server's certificate; give certificate-authority(-data)", where);
  if (get(d, cl, "proxy-url") || get(d, cl, "tls-server-name"))
    return fail(err, errlen, "%s: proxy-url and tls-server-name are not supported", where);
  k->server = strdup(server);
  if (data_or_file(d, cl, where, "certificate-authority-data", "certificate-authority", dir,
                   &k->ca_data, &k->ca_len, &k->ca_file, err, errlen))
    return -1;

  yaml_node_t *u = named(d, root, "users", user, "user", err, errlen);
  if (!u)
    return -1;
  snprintf(where, sizeof where, "user \"%.200s\"", user);
  static const char *const unsupported[] = {"exec", "auth-provider", "username", "password",
                                            "as", "as-groups"};
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (get(d, u, unsupported[i]))
      return fail(err, errlen, "%s: %s is not supported: give a token, a tokenFile or a client "
                  "certificate and key", where, unsupported[i]);
  const char *token, *token_file;
  if (opt_string(d, u, "token", where, &token, err, errlen) ||
      opt_string(d, u, "tokenFile", where, &token_file, err, errlen))
    return -1;
  if (token && token_file)
    return fail(err, errlen, "%s: token and tokenFile are both set", where);
  if (token && !(k->token = strdup(token)))
    return fail(err, errlen, "out of memory");
  if (token_file && !(k->token_file = path_in(dir, token_file)))
    return fail(err, errlen, "out of memory");
  if (data_or_file(d, u, where, "client-certificate-data", "client-certificate", dir,
                   &k->cert_data, &k->cert_len, &k->cert_file, err, errlen) ||
      data_or_file(d, u, where, "client-key-data", "client-key", dir, &k->key_data, &k->key_len,
                   &k->key_file, err, errlen))
    return -1;
  bool has_cert = k->cert_data || k->cert_file, has_key = k->key_data || k->key_file;
  if (has_cert != has_key)
    return fail(err, errlen, "%s: a client certificate needs its key, and a key its certificate",
                where);
  if ((k->token || k->token_file) && has_cert)
    return fail(err, errlen, "%s: a token and a client certificate are both set: use one",
                where);
  if (!k->token && !k->token_file && !has_cert)
    return fail(err, errlen, "%s: no credentials: give a token, a tokenFile or a client "
                "certificate and key", where);
  if (!k->context || !k->server)
    return fail(err, errlen, "out of memory");
  return 0;
}

int kube_kubeconfig_parse(const char *text, size_t len, const char *dir, kube_kubeconfig *out,
                          char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (len > KUBECONFIG_MAX)
    return fail(err, errlen, "larger than %u bytes", KUBECONFIG_MAX);
  if (check_events(text, len, err, errlen) != 0)
    return -1;
  yaml_parser_t p;
  yaml_document_t d;
  if (!yaml_parser_initialize(&p))
    return fail(err, errlen, "out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int rc;
  if (!yaml_parser_load(&p, &d)) {
    rc = fail(err, errlen, "not YAML: %s", p.problem ? p.problem : "error");
  } else {
    rc = walk(&d, dir, out, err, errlen);
    yaml_document_delete(&d);
  }
  yaml_parser_delete(&p);
  if (rc)
    kube_kubeconfig_clear(out);
  return rc;
}

/* A regular file of at most max bytes into a new NUL-terminated buffer. */
static char *read_small(const char *file, size_t max, size_t *len, char *err, size_t errlen) {
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fail(err, errlen, "%s", strerror(errno));
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
    fail(err, errlen, S_ISREG(st.st_mode) ? "larger than %zu bytes" : "not a regular file", max);
    close(fd);
    return NULL;
  }
  char *buf = malloc((size_t)st.st_size + 1);
  size_t off = 0;
  while (buf && off < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += (size_t)n;
  }
  close(fd);
  if (!buf || off != (size_t)st.st_size) {
    free(buf);
    fail(err, errlen, buf ? "short read" : "out of memory");
    return NULL;
  }
  buf[off] = '\0';
  *len = off;
  return buf;
}

int kube_kubeconfig_load(const char *file, kube_kubeconfig *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t len;
  char *text = read_small(file, KUBECONFIG_MAX, &len, err, errlen);
  if (!text)
    return -1;
  char *dir = strdup(file);
  char *slash = dir ? strrchr(dir, '/') : NULL;
  if (slash)
    *slash = '\0';
  int rc = kube_kubeconfig_parse(text, len, slash ? dir : ".", out, err, errlen);
  free(dir);
  free(text);
  return rc;
}

int kube_in_cluster_load(const char *dir, kube_kubeconfig *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return fail(err, errlen, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both "
                "set: execd does not run in a pod");
  if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
      strpbrk(host, "/?#@ []"))
    return fail(err, errlen, "KUBERNETES_SERVICE_HOST \"%.100s\" / KUBERNETES_SERVICE_PORT "
                "\"%.20s\" do not make an address", host, port);
  bool v6 = strchr(host, ':') != NULL;
  if (asprintf(&out->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0 ||
      asprintf(&out->token_file, "%s/token", dir) < 0 ||
      asprintf(&out->ca_file, "%s/ca.crt", dir) < 0) {
    kube_kubeconfig_clear(out);
    return fail(err, errlen, "out of memory");
  }
  char *nsfile = NULL;
  if (asprintf(&nsfile, "%s/namespace", dir) >= 0 && access(nsfile, F_OK) == 0) {
    size_t len;
    char why[200];
    char *ns = read_small(nsfile, SMALL_FILE_MAX, &len, why, sizeof why);
    if (!ns) {
      fail(err, errlen, "%s: %s", nsfile, why);
      free(nsfile);
      kube_kubeconfig_clear(out);
      return -1;
    }
    while (len > 0 && (ns[len - 1] == '\n' || ns[len - 1] == '\r' || ns[len - 1] == ' '))
      ns[--len] = '\0';
    if (len)
      out->ns = ns;
    else
      free(ns);
  }
  free(nsfile);
  return 0;
}
