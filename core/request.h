/* Decoding and validation of execution requests (request.c), and the
 * policy step that merges agent and backend defaults into the effective
 * spec a request runs with (request_policy.c); doc/architecture.md,
 * "Requests".  Nothing here touches disk or the loop. */
#ifndef EXECD_CORE_REQUEST_H
#define EXECD_CORE_REQUEST_H

#include <stddef.h>

#include <jansson.h>

#include "conf.h"

/* Why a request was refused. */
typedef struct request_error {
  int status;        /* negative EXECD_E* (EINVAL, ETOOBIG, EUNPROC, EPERM) */
  char code[48];     /* "invalid_request", "payload_too_large", ... */
  char field[160];   /* "input.files[2].path", or "" */
  char message[512];
} request_error;

/* Parse and validate a request body.  Returns the normalised request (new
 * reference; sizes in bytes, durations as *_ms) or NULL with err filled. */
json_t *request_parse(const char *body, size_t len, const request_limits *limits,
                      request_error *err);

/* Merge the agent (if any) and the backend's defaults into the effective
 * spec: {"backend","image","command","working_dir","user","io",
 * "environment","resources","retry","output","schema_in","schema_out"}.
 * A request may only tighten what its agent and backend allow. */
json_t *request_effective_spec(const json_t *request, const execd_config *cfg,
                               request_error *err);

/* 1 if path is a safe relative path (no "..", no absolute, no empty or
 * "." components, no NUL or control characters, bounded lengths). */
int request_safe_relative_path(const char *path);

#endif
