/* libFuzzer target: the configuration loader, config_load() (core/conf.c,
 * on libconfig), reading the input from a file in the private scratch
 * directory, as the daemon reads its configuration file.  Checked besides
 * memory safety: a refusal names what is wrong; a configuration that loads
 * has its storage block and a default backend that exists, if one is set. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz_support.h"
#include "log.h"

static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  log_set_level(0);
  snprintf(path, sizeof path, "%s/execd.conf", fuzz_scratch());
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_write_file(path, data, size);
  execd_config *cfg = NULL;
  char err[2048] = "";
  int rc = config_load(path, &cfg, err, sizeof err);
  if (rc != 0) {
    if (cfg || !err[0])
      abort();
    return 0;
  }
  if (!cfg || !cfg->storage.plugin || !json_is_object(cfg->storage.config))
    abort();
  if (cfg->default_backend && cfg->n_backends &&
      !config_find_backend(cfg, cfg->default_backend))
    abort();
  config_free(cfg);
  return 0;
}
