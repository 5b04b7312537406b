/* libFuzzer target: a request body through request_parse() (decoding and
 * validation, request.c) and, when accepted, request_effective_spec() (the
 * merge with agent and backend defaults, request_policy.c) against a
 * configuration with two backends and an agent, loaded once by the real
 * config_load().  Checked besides memory safety: a refusal has a status,
 * a code and a message; an accepted request gives an object that
 * serialises. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz_support.h"
#include "log.h"
#include "request.h"

static execd_config *cfg;

/* Small limits, so that the fuzzer reaches every limit's refusal. */
static const char config_text[] =
    "daemon: { state_dir = \"/nonexistent\";\n"
    "  limits = { request_max = \"256K\"; files_max = 4; file_max = \"1K\";\n"
    "             env_max = \"1K\"; output_max = \"1M\"; logs_max = \"64K\";\n"
    "             attempts_max = 5; }; };\n"
    "storage: { plugin = \"file\"; path = \"/nonexistent\"; };\n"
    "backends: (\n"
    "  { name = \"local\"; plugin = \"local\"; max_running = 2;\n"
    "    defaults = { memory = \"512M\"; pids = 256; timeout = \"5m\";\n"
    "                 cpu_time = \"5m\"; nofile = 1024; fsize = \"1G\";\n"
    "                 network = \"none\"; }; },\n"
    "  { name = \"docker\"; plugin = \"docker\";\n"
    "    defaults = { memory = \"1G\"; timeout = \"1h\"; }; }\n"
    ");\n"
    "transports: ( { plugin = \"http\"; listen = \"127.0.0.1:0\"; } );\n"
    "routing: { default_backend = \"local\"; };\n"
    "agents = (\n"
    "  { name = \"echo\"; backend = \"local\"; command = [ \"/bin/echo\", \"hi\" ];\n"
    "    resources = { timeout = \"10s\"; }; },\n"
    "  { name = \"img\"; backend = \"docker\"; image = \"registry.example/jobs/x:1\";\n"
    "    command = [ \"/run\" ]; }\n"
    ");\n";

static void free_config(void) { config_free(cfg); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  log_set_level(0); /* the parsers' log lines are not what is looked at */
  char path[4200];
  snprintf(path, sizeof path, "%s/execd.conf", fuzz_scratch());
  fuzz_write_file(path, (const uint8_t *)config_text, sizeof config_text - 1);
  char err[1024];
  if (config_load(path, &cfg, err, sizeof err) != 0) {
    fprintf(stderr, "fuzz_request: the built-in configuration: %s\n", err);
    abort();
  }
  remove(path);
  atexit(free_config);
  return 0;
}

static void check_refusal(const request_error *e) {
  if (e->status >= 0 || !e->code[0] || !e->message[0])
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  request_error e;
  memset(&e, 0, sizeof e);
  json_t *req = request_parse((const char *)data, size, &cfg->limits, &e);
  if (!req) {
    check_refusal(&e);
    return 0;
  }
  if (!json_is_object(req))
    abort();
  char *text = json_dumps(req, JSON_COMPACT);
  if (!text)
    abort();
  free(text);
  memset(&e, 0, sizeof e);
  json_t *spec = request_effective_spec(req, cfg, &e);
  if (!spec)
    check_refusal(&e);
  else if (!json_is_object(spec) || !json_is_string(json_object_get(spec, "backend")))
    abort();
  json_decref(spec);
  json_decref(req);
  return 0;
}
