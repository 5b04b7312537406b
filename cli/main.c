/* execctl: the command-line client of execd's HTTP API.
 *
 * This file parses the command line (getopt_long: global options, then the
 * subcommand's own), prints the help texts and dispatches to the
 * subcommands in run.c and commands.c.  Usage errors exit with 2. */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "execctl.h"

#define URL_OPTION 0x100
#define JSON_OPTION 0x101
#define BACKEND_OPTION 0x102
#define IMAGE_OPTION 0x103
#define AGENT_OPTION 0x104
#define TIMEOUT_OPTION 0x105
#define INPUT_OPTION 0x106
#define FILE_OPTION 0x107
#define STATE_OPTION 0x108
#define LIMIT_OPTION 0x109
#define CURSOR_OPTION 0x10a
#define FROM_OPTION 0x10b
#define TO_OPTION 0x10c
#define BY_OPTION 0x10d

typedef struct command command;
struct command {
  const char *name;
  const char *summary; /* one line for the command list */
  const char *help;    /* the whole `execctl help NAME` text */
  int (*main)(const command *cmd, int argc, char **argv, const char *url);
};

static const char main_help[] =
    "Usage: execctl [--url URL] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "execctl talks to execd over its HTTP API: it submits executions, follows\n"
    "their logs and shows, lists, cancels and deletes them.\n"
    "\n"
    "Commands:\n"
    "%s"
    "\n"
    "Options:\n"
    "  --url URL       base URL of the API (default: $EXECD_URL, else\n"
    "                  " EXECCTL_DEFAULT_URL ")\n"
    "  -h, --help      show this help\n"
    "  -V, --version   show the version\n"
    "\n"
    "Environment:\n"
    "  EXECD_URL       base URL of the API\n"
    "  EXECD_TOKEN     bearer token sent with every request\n"
    "\n"
    "Exit status: 0 success, 1 API or network error, 2 usage error.\n"
    "`execctl run` exits with the job's exit code instead (124 timed out,\n"
    "130 cancelled).  Run 'execctl help COMMAND' for a command's options.\n";

static const char run_help[] =
    "Usage: execctl run [OPTIONS] -- COMMAND [ARGS...]\n"
    "\n"
    "Submits an execution of COMMAND, writes its log (the job's stdout and\n"
    "stderr) to stdout as it comes, and exits with the job's exit code: 124 if\n"
    "it timed out, 130 if it was cancelled, 128+N if signal N killed it, 1 if\n"
    "it failed without an exit code (the error is printed on stderr).\n"
    "Ctrl-C cancels the execution and exits with 130; a second Ctrl-C quits\n"
    "at once.\n"
    "\n"
    "Options:\n"
    "  --backend NAME    run on this backend (default: execd's routing)\n"
    "  --image IMAGE     container image (container backends only)\n"
    "  --agent NAME      start from this catalog agent; COMMAND may be left out\n"
    "  --timeout T       wall-clock limit: seconds, or 500ms, 90s, 5m, 2h, 1d\n"
    "  --input FILE      JSON document to send as input.data (- reads stdin)\n"
    "  --file PATH       put PATH into the job's input directory under its base\n"
    "                    name, keeping its permission bits (repeatable)\n"
    "  -e, --env K=V     environment variable of the job (repeatable)\n"
    "  -l, --label K=V   label of the execution (repeatable)\n"
    "  -d, --detach      print the execution id and exit without waiting\n"
    "  --json            print the final execution document as JSON instead of\n"
    "                    the log (with --detach: the submitted document)\n"
    "  --url URL         base URL of the API\n"
    "  -h, --help        show this help\n"
    "\n"
    "Put -- before COMMAND so that its own options are not taken as execctl's.\n";

static const char get_help[] =
    "Usage: execctl get [--json] ID\n"
    "\n"
    "Shows one execution: state, exit code, error, timestamps, output and\n"
    "state history.  --json prints the execution document as execd sends it.\n";

static const char list_help[] =
    "Usage: execctl list [OPTIONS]\n"
    "\n"
    "Lists executions, newest first, one page at a time.\n"
    "\n"
    "Options:\n"
    "  --state STATE     only this state (QUEUED, RUNNING, FAILED, ...)\n"
    "  --agent NAME      only executions of this agent\n"
    "  -l, --label K=V   only executions with this label\n"
    "  --limit N         page size, 1 to 1000 (default: execd's, 100)\n"
    "  --cursor C        the page after the one that printed this cursor\n"
    "  --json            print the page as JSON ({\"executions\", \"next_cursor\"})\n"
    "  --url URL         base URL of the API\n";

static const char usage_help[] =
    "Usage: execctl usage [--from TIME] [--to TIME] [--by tenant|agent] [--json]\n"
    "\n"
    "Shows what your executions created in the range used: executions by final\n"
    "state, those not ended yet, CPU seconds, wall seconds of their attempts,\n"
    "the largest peak memory of one execution and output bytes (logs, output\n"
    "files and output document), summed by tenant or by agent.\n"
    "\n"
    "Options:\n"
    "  --from TIME       executions created at or after TIME (RFC 3339 UTC,\n"
    "                    e.g. 2027-01-01T00:00:00Z; default: the first)\n"
    "  --to TIME         executions created before TIME (default: now)\n"
    "  --by WHAT         tenant (default) or agent\n"
    "  --json            print the document as execd sends it\n"
    "  --url URL         base URL of the API\n";

static const char logs_help[] =
    "Usage: execctl logs [-f] [-t] ID\n"
    "\n"
    "Writes the log of an execution (its stdout and stderr lines, in order) to\n"
    "stdout.  With -f (--follow), keeps writing new lines until the execution\n"
    "ends.  With -t (--timestamps), each line starts with the time execd\n"
    "received it (RFC 3339 UTC with microseconds) and a space.\n";

static const char cancel_help[] =
    "Usage: execctl cancel [--json] ID\n"
    "\n"
    "Cancels a queued, running or retry-waiting execution and prints its state\n"
    "after the request.  A running job gets SIGTERM, then SIGKILL after execd's\n"
    "kill grace; it stays RUNNING until it has gone, then becomes CANCELLED.\n"
    "Cancelling a finished execution is an error (409 already_finished).\n";

static const char delete_help[] =
    "Usage: execctl delete [--json] ID\n"
    "\n"
    "Deletes a finished execution and its log.  An execution that has not ended\n"
    "must be cancelled first (409 not_finished).\n";

static const char health_help[] =
    "Usage: execctl health [--json]\n"
    "\n"
    "Asks execd whether its storage, backends and transports are usable\n"
    "(GET /readyz) and prints each of them.  Exits with 0 when all are ready,\n"
    "1 otherwise.\n";

static const char agents_help[] =
    "Usage: execctl agents [--json] [NAME]\n"
    "\n"
    "Lists the agents execd knows (GET /v1/agents): the inline agents of its\n"
    "configuration and the agent files of its agents_dir, one a line with\n"
    "version, source, backend, which schemas it has and its description.\n"
    "With NAME shows that agent (GET /v1/agents/NAME): its settings, defaults\n"
    "and ceilings, and its schema_in and schema_out.  --json prints the API's\n"
    "document.\n";

static int usage_error(const command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const command *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "execctl: %s%s", cmd ? cmd->name : "", cmd ? ": " : "");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'execctl help%s%s'.\n", cmd ? " " : "", cmd ? cmd->name : "");
  return EXECCTL_USAGE;
}

/* The message for getopt's '?' and ':' answers (opterr is off). */
static int bad_option(const command *cmd, int c, char **argv) {
  const char *opt = argv[optind - 1];
  if (c == ':')
    return usage_error(cmd, "option '%s' needs a value", opt);
  if (optopt && strncmp(opt, "--", 2) != 0) {
    char shortopt[3] = {'-', (char)optopt, '\0'};
    return usage_error(cmd, "unknown option '%s'", shortopt);
  }
  return usage_error(cmd, "unknown option '%s'", opt);
}

/* The one ID argument of get, logs, cancel and delete. */
static const char *single_id(const command *cmd, int argc, char **argv) {
  if (optind >= argc) {
    usage_error(cmd, "missing execution id");
    return NULL;
  }
  if (optind + 1 < argc) {
    usage_error(cmd, "unexpected argument '%s' after the execution id", argv[optind + 1]);
    return NULL;
  }
  return argv[optind];
}

static int run_main(const command *cmd, int argc, char **argv, const char *url) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, BACKEND_OPTION},
      {"image", required_argument, NULL, IMAGE_OPTION},
      {"agent", required_argument, NULL, AGENT_OPTION},
      {"timeout", required_argument, NULL, TIMEOUT_OPTION},
      {"input", required_argument, NULL, INPUT_OPTION},
      {"file", required_argument, NULL, FILE_OPTION},
      {"env", required_argument, NULL, 'e'},
      {"label", required_argument, NULL, 'l'},
      {"detach", no_argument, NULL, 'd'},
      {"json", no_argument, NULL, JSON_OPTION},
      {"url", required_argument, NULL, URL_OPTION},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  run_options o = {0};
  int rc = -1;
  int c;
  /* "+": the first word that is not an option starts the job's command. */
  while (rc < 0 && (c = getopt_long(argc, argv, "+:e:l:dh", longopts, NULL)) != -1) {
    switch (c) {
    case BACKEND_OPTION: o.backend = optarg; break;
    case IMAGE_OPTION: o.image = optarg; break;
    case AGENT_OPTION: o.agent = optarg; break;
    case TIMEOUT_OPTION: o.timeout = optarg; break;
    case INPUT_OPTION: o.input_path = optarg; break;
    case FILE_OPTION: rc = arg_list_push(&o.files, optarg) ? EXECCTL_USAGE : -1; break;
    case 'e': rc = arg_list_push(&o.env, optarg) ? EXECCTL_USAGE : -1; break;
    case 'l': rc = arg_list_push(&o.labels, optarg) ? EXECCTL_USAGE : -1; break;
    case 'd': o.detach = true; break;
    case JSON_OPTION: o.json = true; break;
    case URL_OPTION: url = optarg; break;
    case 'h': fputs(cmd->help, stdout); rc = EXECCTL_OK; break;
    default: rc = bad_option(cmd, c, argv); break;
    }
  }
  if (rc < 0) {
    o.command = argv + optind;
    o.command_count = argc - optind;
    client *cl = client_new(url);
    rc = cl ? execctl_run(cl, &o) : EXECCTL_API_ERROR;
    client_free(cl);
  }
  arg_list_clear(&o.files);
  arg_list_clear(&o.env);
  arg_list_clear(&o.labels);
  return rc;
}

static int list_main(const command *cmd, int argc, char **argv, const char *url) {
  static const struct option longopts[] = {
      {"state", required_argument, NULL, STATE_OPTION},
      {"agent", required_argument, NULL, AGENT_OPTION},
      {"label", required_argument, NULL, 'l'},
      {"limit", required_argument, NULL, LIMIT_OPTION},
      {"cursor", required_argument, NULL, CURSOR_OPTION},
      {"json", no_argument, NULL, JSON_OPTION},
      {"url", required_argument, NULL, URL_OPTION},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  list_options o = {0};
  int c;
  while ((c = getopt_long(argc, argv, ":l:h", longopts, NULL)) != -1) {
    switch (c) {
    case STATE_OPTION: o.state = optarg; break;
    case AGENT_OPTION: o.agent = optarg; break;
    case 'l':
      if (o.label)
        return usage_error(cmd, "--label can be given once");
      o.label = optarg;
      break;
    case LIMIT_OPTION: o.limit = optarg; break;
    case CURSOR_OPTION: o.cursor = optarg; break;
    case JSON_OPTION: o.json = true; break;
    case URL_OPTION: url = optarg; break;
    case 'h': fputs(cmd->help, stdout); return EXECCTL_OK;
    default: return bad_option(cmd, c, argv);
    }
  }
  if (optind < argc)
    return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  client *cl = client_new(url);
  int rc = cl ? execctl_list(cl, &o) : EXECCTL_API_ERROR;
  client_free(cl);
  return rc;
}

static int usage_main(const command *cmd, int argc, char **argv, const char *url) {
  static const struct option longopts[] = {
      {"from", required_argument, NULL, FROM_OPTION},
      {"to", required_argument, NULL, TO_OPTION},
      {"by", required_argument, NULL, BY_OPTION},
      {"json", no_argument, NULL, JSON_OPTION},
      {"url", required_argument, NULL, URL_OPTION},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  usage_options o = {0};
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case FROM_OPTION: o.from = optarg; break;
    case TO_OPTION: o.to = optarg; break;
    case BY_OPTION: o.by = optarg; break;
    case JSON_OPTION: o.json = true; break;
    case URL_OPTION: url = optarg; break;
    case 'h': fputs(cmd->help, stdout); return EXECCTL_OK;
    default: return bad_option(cmd, c, argv);
    }
  }
  if (optind < argc)
    return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  client *cl = client_new(url);
  int rc = cl ? execctl_usage(cl, &o) : EXECCTL_API_ERROR;
  client_free(cl);
  return rc;
}

static int agents_main(const command *cmd, int argc, char **argv, const char *url) {
  static const struct option longopts[] = {{"json", no_argument, NULL, JSON_OPTION},
                                            {"url", required_argument, NULL, URL_OPTION},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
  bool json = false;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    switch (c) {
    case JSON_OPTION: json = true; break;
    case URL_OPTION: url = optarg; break;
    case 'h': fputs(cmd->help, stdout); return EXECCTL_OK;
    default: return bad_option(cmd, c, argv);
    }
  }
  if (optind + 1 < argc)
    return usage_error(cmd, "unexpected argument '%s' after the agent's name", argv[optind + 1]);
  client *cl = client_new(url);
  int rc = cl ? execctl_agents(cl, optind < argc ? argv[optind] : NULL, json) : EXECCTL_API_ERROR;
  client_free(cl);
  return rc;
}

/* get, logs, cancel, delete and health: a flag or two and at most an id. */
static int simple_main(const command *cmd, int argc, char **argv, const char *url) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, JSON_OPTION},
      {"follow", no_argument, NULL, 'f'},
      {"timestamps", no_argument, NULL, 't'},
      {"url", required_argument, NULL, URL_OPTION},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  bool is_logs = strcmp(cmd->name, "logs") == 0;
  bool is_health = strcmp(cmd->name, "health") == 0;
  bool json = false, follow = false, timestamps = false;
  int c;
  while ((c = getopt_long(argc, argv, ":fth", longopts, NULL)) != -1) {
    switch (c) {
    case JSON_OPTION:
      if (is_logs)
        return usage_error(cmd, "--json is not an option of logs (the log is text)");
      json = true;
      break;
    case 'f':
      if (!is_logs)
        return usage_error(cmd, "unknown option '-f'");
      follow = true;
      break;
    case 't':
      if (!is_logs)
        return usage_error(cmd, "unknown option '-t'");
      timestamps = true;
      break;
    case URL_OPTION: url = optarg; break;
    case 'h': fputs(cmd->help, stdout); return EXECCTL_OK;
    default: return bad_option(cmd, c, argv);
    }
  }
  const char *id = NULL;
  if (is_health) {
    if (optind < argc)
      return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  } else if (!(id = single_id(cmd, argc, argv))) {
    return EXECCTL_USAGE;
  }
  client *cl = client_new(url);
  if (!cl)
    return EXECCTL_API_ERROR;
  int rc;
  if (is_health)
    rc = execctl_health(cl, json);
  else if (is_logs)
    rc = execctl_logs(cl, id, follow, timestamps);
  else if (strcmp(cmd->name, "get") == 0)
    rc = execctl_get(cl, id, json);
  else if (strcmp(cmd->name, "cancel") == 0)
    rc = execctl_cancel(cl, id, json);
  else
    rc = execctl_delete(cl, id, json);
  client_free(cl);
  return rc;
}

static const command commands[] = {
    {"run", "submit an execution, stream its log, exit with its exit code", run_help, run_main},
    {"get", "show one execution", get_help, simple_main},
    {"list", "list executions, newest first", list_help, list_main},
    {"logs", "print or follow the log of an execution", logs_help, simple_main},
    {"cancel", "cancel a queued or running execution", cancel_help, simple_main},
    {"delete", "delete a finished execution and its log", delete_help, simple_main},
    {"health", "show whether execd and its plugins are ready", health_help, simple_main},
    {"usage", "show what executions used, by tenant or agent", usage_help, usage_main},
    {"agents", "list the agents, or show one with its schemas", agents_help, agents_main},
    {NULL, NULL, NULL, NULL}};

static const command *find_command(const char *name) {
  for (const command *c = commands; c->name; c++)
    if (strcmp(c->name, name) == 0)
      return c;
  return NULL;
}

static void print_main_help(FILE *out) {
  char list[1024] = "";
  size_t used = 0;
  for (const command *c = commands; c->name; c++)
    used += (size_t)snprintf(list + used, sizeof list - used, "  %-8s %s\n", c->name,
                             c->summary);
  used += (size_t)snprintf(list + used, sizeof list - used, "  %-8s %s\n", "help",
                           "show the help of a command");
  fprintf(out, main_help, list);
}

/* execctl help [COMMAND] */
static int help_main(int argc, char **argv) {
  if (argc < 2) {
    print_main_help(stdout);
    return EXECCTL_OK;
  }
  const command *cmd = find_command(argv[1]);
  if (!cmd)
    return usage_error(NULL, "no command '%s'", argv[1]);
  fputs(cmd->help, stdout);
  return EXECCTL_OK;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {{"url", required_argument, NULL, URL_OPTION},
                                           {"help", no_argument, NULL, 'h'},
                                           {"version", no_argument, NULL, 'V'},
                                           {NULL, 0, NULL, 0}};
  const char *url = NULL;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
    switch (c) {
    case URL_OPTION: url = optarg; break;
    case 'h': print_main_help(stdout); return EXECCTL_OK;
    case 'V': printf("execctl %s\n", PACKAGE_VERSION); return EXECCTL_OK;
    default: return bad_option(NULL, c, argv);
    }
  }
  if (optind >= argc) {
    print_main_help(stderr);
    return EXECCTL_USAGE;
  }
  int sub_argc = argc - optind;
  char **sub_argv = argv + optind;
  if (strcmp(sub_argv[0], "help") == 0)
    return help_main(sub_argc, sub_argv);
  const command *cmd = find_command(sub_argv[0]);
  if (!cmd)
    return usage_error(NULL, "no command '%s'", sub_argv[0]);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "execctl: cannot initialise libcurl\n");
    return EXECCTL_API_ERROR;
  }
  optind = 0; /* glibc: start the subcommand's parse afresh */
  int rc = cmd->main(cmd, sub_argc, sub_argv, url);
  curl_global_cleanup();
  return rc;
}
