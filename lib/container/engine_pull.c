/* See engine_pull.h. */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "engine_pull.h"

/* Phrases of docker's and podman's pull errors (Go's net and net/http,
 * containers/image, distribution) when no answer about the image came:
 * the connection failed or the registry answered a 5xx or 429. */
static const char *const transient[] = {
    "connection refused", "connection reset", "no route to host", "network is unreachable",
    "i/o timeout", "timeout exceeded", "deadline exceeded", "timed out", "tls handshake timeout",
    "temporary failure in name resolution", "server misbehaving", "unexpected eof",
    "status: 500", "status: 502", "status: 503", "status: 504", "status: 429",
    "status code 500", "status code 502", "status code 503", "status code 504",
    "status code 429", "internal server error", "bad gateway", "service unavailable",
    "gateway timeout", "too many requests", "toomanyrequests",
};

/* Answers about the image itself, which outrank a transient phrase that
 * happens to appear in the same message. */
static const char *const permanent[] = {
    "manifest unknown", "not found", "does not exist", "name unknown", "unauthorized",
    "authentication required", "denied", "no basic auth credentials", "invalid reference",
};

static bool contains_any(const char *s, const char *const *phrases, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (strcasestr(s, phrases[i]))
      return true;
  return false;
}

bool engine_pull_error_is_transient(const char *message) {
  if (!message)
    return false;
  if (contains_any(message, permanent, sizeof permanent / sizeof *permanent))
    return false;
  return contains_any(message, transient, sizeof transient / sizeof *transient);
}
