/* libFuzzer target: an agent file of daemon.agents_dir, agent_file_parse()
 * (core/agent_file.c, on jansson and libconfig, then the agent checker of
 * core/conf.c and the schema compiler of lib/jsonschema).  The first byte
 * picks the format (even: "<name>.json", odd: "<name>.conf"), the rest is
 * the file.  Checked besides memory safety: a refusal names the file; an
 * accepted file gives an agent with a valid name, its definition holding
 * that name and a compiled schema for each schema it has. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_file.h"
#include "fuzz_support.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  log_set_level(0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  const char *file = data[0] & 1 ? "agent.conf" : "agent.json";
  char path[64];
  snprintf(path, sizeof path, "agents.d/%s", file);
  size_t len = size - 1;
  char *text = malloc(len + 1);
  if (!text)
    return 0;
  memcpy(text, data + 1, len);
  text[len] = '\0';
  agent *a = NULL;
  char err[2048] = "";
  int rc = agent_file_parse(path, file, text, len, &a, err, sizeof err);
  free(text);
  if (rc != 0) {
    if (a || strncmp(err, path, strlen(path)) != 0)
      abort();
    return 0;
  }
  if (!a || !agent_name_valid(agent_name(a)) || strcmp(agent_file(a), file) != 0)
    abort();
  const json_t *def = agent_def(a);
  if (strcmp(json_string_value(json_object_get(def, "name")), agent_name(a)) != 0)
    abort();
  if (!json_object_get(def, "schema_in") != !agent_schema(a, AGENT_SCHEMA_IN) ||
      !json_object_get(def, "schema_out") != !agent_schema(a, AGENT_SCHEMA_OUT))
    abort();
  json_t *view = agent_view(a);
  if (!json_is_object(view) || strcmp(json_string_value(json_object_get(view, "source")), "file"))
    abort();
  json_decref(view);
  agent_unref(a);
  return 0;
}
