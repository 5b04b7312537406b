/* What a failed image pull means: the engine reports both "the image does
 * not exist" and "the registry could not be reached" as one failed call
 * (docker: 404 or 500; podman: an error line in a 200 stream), so the
 * difference is in its message. */
#ifndef EXECD_ENGINE_PULL_H
#define EXECD_ENGINE_PULL_H

#include <stdbool.h>

/* True if the engine's message says the registry was unreachable, timed
 * out, or answered a server error or 429: a later attempt may succeed
 * (image_pull_failed, retryable).  Anything else — the image or tag does
 * not exist, access denied, a bad reference, or a message not recognised —
 * is permanent (image_not_found). */
bool engine_pull_error_is_transient(const char *message);

#endif
