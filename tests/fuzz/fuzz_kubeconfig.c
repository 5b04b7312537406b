/* libFuzzer target: the kubernetes backend's kubeconfig parser
 * (plugins/backend/kubernetes/kube_kubeconfig.c): hostile YAML (deep
 * nesting, aliases, huge scalars, bad base64) must end in a parse or a
 * clear error, nothing leaked, and a parse must say one clear thing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "../../plugins/backend/kubernetes/kube_kubeconfig.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kube_kubeconfig k;
  char err[512];
  if (kube_kubeconfig_parse((const char *)data, size, "/etc/execd", &k, err, sizeof err) == 0) {
    /* What a parse promises: a context and a server; one credential. */
    if (!k.context || !k.server)
      abort();
    int creds = (k.token || k.token_file) + (k.cert_data || k.cert_file);
    if (creds != 1 || (k.ca_data && k.ca_file) || (k.cert_data && k.cert_file) ||
        (k.key_data && k.key_file) || (!!(k.cert_data || k.cert_file) != !!(k.key_data || k.key_file)))
      abort();
    if (k.ca_file && k.ca_file[0] != '/')
      abort(); /* made absolute against the directory */
    kube_kubeconfig_clear(&k);
  } else if (!err[0] || k.server || k.context) {
    abort(); /* a failure says why and leaves nothing */
  }
  return 0;
}
