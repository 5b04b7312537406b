/* See runners.h.  The list is of programs whose documented purpose or
 * option runs another program or code given on the command line; it cannot
 * be complete, which is why the allow-list should name the job programs
 * themselves. */
#include "config.h"

#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runners.h"

/* fnmatch(3) patterns of file names. */
static const char *const runner_names[] = {
    /* run the rest of their argv */
    "env", "nice", "nohup", "timeout", "xargs", "setsid", "chroot", "stdbuf", "time", "strace",
    "ltrace", "gdb", "valgrind", "sudo", "su", "runuser", "doas", "pkexec", "unshare",
    "nsenter", "ionice", "taskset", "chrt", "flock", "script", "watch", "parallel", "setpriv",
    "capsh", "prlimit", "numactl", "cgexec", "systemd-run", "firejail", "bwrap",
    "start-stop-daemon", "run-parts", "ld.so", "ld-linux*", "ld64.so*", "catchsegv",
    /* run a command given in an option or script */
    "find", "make", "gmake", "cmake", "expect", "socat", "ssh", "sort", "tar", "rsync", "zip",
    "git", "vi", "vim", "nvim", "emacs", "less", "more", "man", "ed", "sed", "m4", "dc",
    "sqlite3", "npm", "npx", "pip", "pip3*", "uv", "uvx",
    /* shells */
    "sh", "bash", "rbash", "dash", "zsh", "ksh*", "mksh", "ash", "csh", "tcsh", "fish",
    "busybox", "toybox", "pwsh",
    /* interpreters */
    "python*", "pypy*", "perl*", "ruby*", "irb", "node", "nodejs", "deno", "bun", "php*", "lua*",
    "luajit", "tclsh*", "wish*", "awk", "gawk", "mawk", "nawk", "R", "Rscript", "java",
    "jshell", "guile*", "sbcl", "clisp", "racket", "ocaml*", "ghc*", "runghc", "scala",
    "kotlin*", "dotnet", "mono", "julia", "erl", "escript", "elixir", "iex", "groovy",
    "octave*", "gnuplot", "swipl", NULL};

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static bool runner_name(const char *file) {
  for (const char *const *p = runner_names; *p; p++)
    if (fnmatch(*p, file, 0) == 0)
      return true;
  return false;
}

bool local_runs_arguments(const char *path, char *name, size_t len) {
  const char *file = base_name(path);
  if (runner_name(file)) {
    snprintf(name, len, "%s", file);
    return true;
  }
  char resolved[PATH_MAX];
  if (realpath(path, resolved) && runner_name(base_name(resolved))) {
    snprintf(name, len, "%s (%s)", file, base_name(resolved));
    return true;
  }
  return false;
}

#define RUNNERS_NAMED 6      /* names listed in one warning */
#define RUNNERS_SCANNED 20000 /* programs of one glob looked at */

unsigned local_runners_in_entry(const char *entry, char *names, size_t len) {
  names[0] = '\0';
  glob_t g;
  memset(&g, 0, sizeof g);
  if (glob(entry, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g) != 0) {
    globfree(&g);
    /* A literal path that does not exist (yet) is judged by its name. */
    char one[128];
    if (!strpbrk(entry, "*?[") && local_runs_arguments(entry, one, sizeof one)) {
      snprintf(names, len, "%s", one);
      return 1;
    }
    return 0;
  }
  unsigned found = 0;
  size_t used = 0;
  for (size_t i = 0; i < g.gl_pathc && i < RUNNERS_SCANNED; i++) {
    char one[128];
    if (!local_runs_arguments(g.gl_pathv[i], one, sizeof one))
      continue;
    if (found < RUNNERS_NAMED && used < len) {
      int n = snprintf(names + used, len - used, "%s%s", found ? ", " : "", one);
      used += n > 0 ? (size_t)n : 0;
    }
    found++;
  }
  if (used >= len && len > 4)
    memcpy(names + len - 4, "...", 4);
  globfree(&g);
  return found;
}
