/* The built-in denylist of environment names a request may not set, and
 * the per-backend allowlist (env_policy.h). */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "env_policy.h"

#define LOADER "it changes which code the dynamic loader or libc loads"
#define LIBC "it makes libc read files or run programs the request chooses"
#define SHELL "it makes a shell run code before or around the program"
#define INTERP "it makes an interpreter load or run code the request chooses"
#define LOOKUP "it changes which programs or files the program finds"
#define RUNS "programs run the command it names"

/* Exact names.  The glibc part is sysdeps/generic/unsecvars.h, the list
 * glibc itself drops from the environment of set-user-ID programs. */
static const struct {
  const char *name;
  const char *why;
} denied_names[] = {
    /* glibc's unsecure variables (the LD_ and MALLOC_ ones are prefixes below) */
    {"GCONV_PATH", LOADER},
    {"GETCONF_DIR", LIBC},
    {"GLIBC_TUNABLES", LOADER},
    {"HOSTALIASES", LIBC},
    {"LOCALDOMAIN", LIBC},
    {"LOCPATH", LOADER},
    {"NIS_PATH", LIBC},
    {"NLSPATH", LIBC},
    {"RESOLV_HOST_CONF", LIBC},
    {"RES_OPTIONS", LIBC},
    {"TMPDIR", LIBC},
    {"TZDIR", LIBC},
    /* set by execd itself */
    {"PATH", LOOKUP},
    {"HOME", LOOKUP},
    /* shells */
    {"ENV", SHELL},
    {"BASH_ENV", SHELL},
    {"BASH_XTRACEFD", SHELL},
    {"SHELLOPTS", SHELL},
    {"BASHOPTS", SHELL},
    {"PS4", SHELL},
    {"PROMPT_COMMAND", SHELL},
    {"IFS", SHELL},
    {"CDPATH", LOOKUP},
    {"GLOBIGNORE", SHELL},
    {"SHELL", RUNS},
    {"EDITOR", RUNS},
    {"VISUAL", RUNS},
    {"PAGER", RUNS},
    {"BROWSER", RUNS},
    /* interpreters and runtimes (whole families are prefixes below) */
    {"JAVA_TOOL_OPTIONS", INTERP},
    {"_JAVA_OPTIONS", INTERP},
    {"JDK_JAVA_OPTIONS", INTERP},
    {"CLASSPATH", INTERP},
    {"PHPRC", INTERP},
    {"PHP_INI_SCAN_DIR", INTERP},
    {"TCLLIBPATH", INTERP},
    {"AWKPATH", INTERP},
    {"AWKLIBPATH", INTERP},
    {"R_PROFILE", INTERP},
    {"R_PROFILE_USER", INTERP},
    {"R_ENVIRON", INTERP},
    {"R_ENVIRON_USER", INTERP},
    {"R_LIBS", INTERP},
    {"R_LIBS_USER", INTERP},
    {"R_LIBS_SITE", INTERP},
    {"DOTNET_STARTUP_HOOKS", INTERP},
    {"CORECLR_PROFILER_PATH", INTERP},
    {"GTK_MODULES", LOADER},
    {"GTK_PATH", LOADER},
    {"GIO_EXTRA_MODULES", LOADER},
    {"GST_PLUGIN_PATH", LOADER},
    {"QT_PLUGIN_PATH", LOADER},
    {"XDG_CONFIG_HOME", LOOKUP},
    {"XDG_CONFIG_DIRS", LOOKUP},
    {"XDG_DATA_HOME", LOOKUP},
    {"XDG_DATA_DIRS", LOOKUP},
};

/* Name prefixes: every variable of a family that loads code. */
static const struct {
  const char *prefix;
  const char *why;
} denied_prefixes[] = {
    {"LD_", LOADER},          /* LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ... */
    {"DYLD_", LOADER},
    {"MALLOC_", LOADER},      /* MALLOC_TRACE (glibc), MALLOC_CONF, ... */
    {"PYTHON", INTERP},       /* PYTHONSTARTUP, PYTHONPATH, PYTHONINSPECT, PYTHONWARNINGS, ... */
    {"PERL", INTERP},         /* PERL5OPT, PERL5LIB, PERLLIB, PERL5DB, ... */
    {"RUBY", INTERP},         /* RUBYOPT, RUBYLIB */
    {"GEM_", INTERP},
    {"BUNDLE_", INTERP},
    {"NODE_", INTERP},        /* NODE_OPTIONS, NODE_PATH, ... */
    {"NPM_CONFIG_", INTERP},
    {"LUA_", INTERP},         /* LUA_INIT, LUA_PATH, LUA_CPATH */
    {"OPENSSL_", LOADER},     /* OPENSSL_CONF loads engines and providers */
    {"GIT_", RUNS},           /* GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_* */
    {"BASH_FUNC_", SHELL},    /* exported shell functions */
};

const char *env_policy_denied(const char *name) {
  for (size_t i = 0; i < sizeof denied_names / sizeof denied_names[0]; i++)
    if (strcmp(name, denied_names[i].name) == 0)
      return denied_names[i].why;
  for (size_t i = 0; i < sizeof denied_prefixes / sizeof denied_prefixes[0]; i++)
    if (strncmp(name, denied_prefixes[i].prefix, strlen(denied_prefixes[i].prefix)) == 0)
      return denied_prefixes[i].why;
  return NULL;
}

bool env_policy_allowed(const char *name, const json_t *allowed) {
  if (!allowed)
    return true;
  size_t i;
  const json_t *glob;
  json_array_foreach(allowed, i, glob) {
    const char *g = json_string_value(glob);
    if (g && fnmatch(g, name, 0) == 0)
      return true;
  }
  return false;
}
