/* What request.c (parsing and validation) and request_policy.c (the
 * effective spec) share. */
#ifndef EXECD_CORE_REQUEST_INTERNAL_H
#define EXECD_CORE_REQUEST_INTERNAL_H

#include <jansson.h>

#include "request.h"

/* Fills e and returns NULL, so that a check can `return request_refuse(...)`. */
json_t *request_refuse(request_error *e, int status, const char *code, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define INVALID(e, field, ...) \
  request_refuse(e, EXECD_EINVAL, "invalid_request", field, __VA_ARGS__)

#endif
