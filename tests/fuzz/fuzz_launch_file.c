/* libFuzzer target: the launch file of a warm container
 * (lib/container/launch_file.c), which execd-warm-launch parses inside the
 * container.  Whatever the bytes, the parser answers without reading
 * outside them; what it accepts has an absolute directory, argv[0] and
 * NAME=value entries, and formatting it again gives the same bytes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/launch_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A copy of exactly size bytes: a read past them is ASan's to see. */
  char *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  launch_spec s;
  char err[256];
  if (launch_parse(buf, size, &s, err, sizeof err) == 0) {
    if (s.cwd[0] != '/' || s.argc == 0 || !s.argv[0][0] || s.argv[s.argc] || s.env[s.envc])
      abort();
    for (size_t i = 0; i < s.envc; i++)
      if (!strchr(s.env[i], '=') || s.env[i][0] == '=')
        abort();
    size_t len = 0;
    char *again = launch_format(s.cwd, (const char *const *)s.argv,
                                (const char *const *)s.env, &len);
    /* Counts written without leading zeros: the same bytes unless the
     * input padded its counts with zeros. */
    if (!again || (len == size && memcmp(again, buf, len) != 0))
      abort();
    launch_spec t;
    if (launch_parse(again, len, &t, err, sizeof err) != 0 || t.argc != s.argc ||
        t.envc != s.envc)
      abort();
    launch_spec_free(&t);
    free(again);
    launch_spec_free(&s);
  } else if (!err[0]) {
    abort(); /* a refusal says why */
  }
  free(buf);
  return 0;
}
