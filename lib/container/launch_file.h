/* The launch file of a warm container (container_warm.c): what execd
 * hands the launcher waiting in a pre-started container, execd-warm-launch
 * (warm_launch.c), for one execution: the working directory, the argv and
 * the environment to add.  Format, all of it bytes:
 *   "execd-launch 1\n"
 *   cwd '\0'  argc '\0'  argv[0] '\0' ... argv[argc-1] '\0'
 *   envc '\0'  env[0] '\0' ... env[envc-1] '\0'
 * argc and envc in decimal; nothing after the last '\0'.  The parser is
 * the launcher's, which runs inside the container: it trusts nothing of
 * the file (fuzzed: tests/fuzz/fuzz_launch_file.c).  Plain C, no
 * library: the launcher is linked statically. */
#ifndef EXECD_LAUNCH_FILE_H
#define EXECD_LAUNCH_FILE_H

#include <stddef.h>

#define LAUNCH_MAGIC "execd-launch 1\n"
#define LAUNCH_MAX_BYTES (4u << 20) /* the whole file */
#define LAUNCH_MAX_ARGS 65536u      /* argc, and envc */

typedef struct launch_spec {
  const char *cwd;   /* absolute */
  char **argv;       /* argc entries and NULL; strings point into the buffer */
  size_t argc;
  char **env;        /* envc "NAME=value" entries and NULL */
  size_t envc;
} launch_spec;

/* Parses buf[0..len) (which must stay alive: the strings point into it)
 * into out, whose arrays it allocates (launch_spec_free).  Returns 0, or -1
 * with what is wrong in err. */
int launch_parse(const char *buf, size_t len, launch_spec *out, char *err, size_t errlen);
void launch_spec_free(launch_spec *s);

/* The file's bytes for cwd, argv and env (NULL-terminated lists; env may
 * be NULL), malloc'ed, in *len bytes; NULL when out of memory, too large
 * or a string is unusable (cwd not absolute, argv empty, an environment
 * entry without '=' or with an empty name). */
char *launch_format(const char *cwd, const char *const *argv, const char *const *env,
                    size_t *len);

#endif
