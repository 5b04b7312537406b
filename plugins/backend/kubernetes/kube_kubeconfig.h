/* Where the API server is and how execd proves who it is, from a
 * kubeconfig file (YAML, read with libyaml) or from the service account of
 * the pod execd runs in.  The parser is pure (no file is opened by
 * kube_kubeconfig_parse: tests/fuzz/fuzz_kubeconfig.c feeds it hostile
 * bytes); kube_kubeconfig_resolve reads the files a kubeconfig names.
 * Errors name what is wrong ("current-context \"x\" is not in contexts");
 * the caller prefixes the file. */
#ifndef EXECD_KUBE_KUBECONFIG_H
#define EXECD_KUBE_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define KUBECONFIG_MAX (1u << 20) /* the largest kubeconfig read */
#define KUBECONFIG_DEPTH 32       /* mappings and sequences nested */
#define KUBECONFIG_EVENTS 100000  /* YAML events (nodes, keys, values) */

/* What the current context of a kubeconfig says.  Each credential is
 * data (decoded from *-data) or a file name (relative names made relative
 * to the kubeconfig's directory), never both.  All malloc'd or NULL. */
typedef struct kube_kubeconfig {
  char *context;    /* the current context's name */
  char *server;     /* clusters[].cluster.server */
  char *ca_data;    /* certificate-authority-data, decoded PEM */
  size_t ca_len;
  char *ca_file;    /* certificate-authority */
  char *token;      /* users[].user.token */
  char *token_file; /* users[].user.tokenFile */
  char *cert_data, *key_data; /* client-certificate-data, client-key-data, decoded */
  size_t cert_len, key_len;
  char *cert_file, *key_file;
  char *ns;         /* contexts[].context.namespace */
} kube_kubeconfig;

/* Parses TEXT (LEN bytes) as a kubeconfig; dir is the kubeconfig's
 * directory for relative file names.  Returns 0, or -1 with the reason in
 * err (out cleared). */
int kube_kubeconfig_parse(const char *text, size_t len, const char *dir, kube_kubeconfig *out,
                          char *err, size_t errlen);
void kube_kubeconfig_clear(kube_kubeconfig *k);

/* Reads FILE (at most KUBECONFIG_MAX bytes) and parses it. */
int kube_kubeconfig_load(const char *file, kube_kubeconfig *out, char *err, size_t errlen);

/* The in-cluster service account: KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, and DIR's token, ca.crt and namespace, as a
 * kube_kubeconfig (server, token, ca_file, ns).  Returns 0 or -1. */
int kube_in_cluster_load(const char *dir, kube_kubeconfig *out, char *err, size_t errlen);

#endif
