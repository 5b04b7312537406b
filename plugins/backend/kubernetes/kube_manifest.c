/* The batch/v1 Job of one attempt (doc/backend-kubernetes.md, "What a pod
 * gets").  Its pod has three containers sharing an emptyDir at /workspace:
 *   execd-init    (helper image) copies its static busybox into
 *                 /workspace/.execd, so the job's image needs no shell;
 *   job           the request's image and command, behind a wrapper run by
 *                 that busybox: it unpacks the workspace tar execd writes
 *                 on its stdin (attach), then runs the command with the
 *                 request's stdin from a file, forwarding SIGTERM/SIGINT,
 *                 waits for execd to read the outputs (exec, tar) and
 *                 exits with the command's status.
 * (Not an init container: a cluster whose pods get no IP, as kube-local's
 * loopback-only node, recreates the sandbox once an init container ended.)
 * Hardened: non-root uid, read-only root, no privilege escalation, no
 * capabilities, seccomp RuntimeDefault, no service account token, limits
 * equal to requests, activeDeadlineSeconds as a backstop. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"

#define HELPER_MEMORY "32Mi"
#define HELPER_CPU "50m"
#define BUSYBOX "/workspace/.execd/busybox"

/* $1.. are the command.  The workspace tar arrives on stdin after a line
 * with its size (busybox tar reads to EOF, and the attach's stdin stays
 * open, kube_job.c).  The command runs in a session of its own; when it
 * ends, what it left running in it is killed (as an init would), its
 * status goes to .execd/rc, and the container stays up until execd has
 * read the outputs (.execd/collected) or SIGTERM came: then it exits with
 * the command's status, which the pod status shows. */
static const char wrapper[] =
    "B=" BUSYBOX "; X=/workspace/.execd\n"
    "IFS= read -r n && $B head -c \"$n\" | $B tar -x -C /workspace && [ -d /workspace/input ] ||\n"
    "  { echo 'execd: the workspace did not arrive' >&2; exit 125; }\n"
    "$B touch $X/started\n"
    "in=/dev/null; [ -e /workspace/.execd-stdin ] && in=/workspace/.execd-stdin\n"
    "t=\n"
    "trap 't=1; kill -TERM -$p 2>/dev/null' TERM\n"
    "trap 't=1; kill -INT -$p 2>/dev/null' INT\n"
    "$B setsid \"$@\" <\"$in\" &\n"
    "p=$!\n"
    "while :; do wait $p; r=$?; kill -0 $p 2>/dev/null || break; done\n"
    "kill -9 -$p 2>/dev/null\n"
    "[ -n \"$t\" ] && exit $r\n"
    "echo $r > $X/rc\n"
    "while [ ! -e $X/collected ] && [ -z \"$t\" ]; do $B sleep 0.1; done\n"
    "exit $r\n";

void kube_job_name(const char *execution_id, unsigned attempt, char *buf, size_t size) {
  size_t o = (size_t)snprintf(buf, size, "execd-");
  for (const char *p = execution_id; *p && o + 12 < size; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    buf[o++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '-';
  }
  snprintf(buf + o, size - o, "-%u", attempt);
}

static json_t *labels(const kube_backend *b, const execd_job_spec *spec) {
  char attempt[16];
  snprintf(attempt, sizeof attempt, "%u", spec->attempt);
  char exec_id[64];
  snprintf(exec_id, sizeof exec_id, "%s", spec->execution_id);
  for (char *p = exec_id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '-' || *p == '.' || *p == '_'))
      *p = '_';
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "app.kubernetes.io/managed-by", "execd",
                   "execd.execution", exec_id, "execd.attempt", attempt, "execd.instance",
                   b->instance_label, "execd.daemon", b->daemon_label);
}

static json_t *security_context(void) {
  return json_pack("{s:b, s:b, s:b, s:{s:[s]}}", "allowPrivilegeEscalation", 0,
                   "readOnlyRootFilesystem", 1, "privileged", 0, "capabilities", "drop", "ALL");
}

static json_t *resources(const char *cpu, const char *memory) {
  return json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "requests", "cpu", cpu, "memory", memory,
                   "limits", "cpu", cpu, "memory", memory);
}

static json_t *helper_container(const kube_backend *b) {
  return json_pack(
      "{s:s, s:s, s:s, s:[s, s, s, s], s:{s:{s:{s:[s, s, s, s]}}}, s:o, s:o, s:[{s:s, s:s}]}",
      "name", KUBE_C_HELPER, "image", b->helper_image, "imagePullPolicy", b->pull_policy,
      "command", "/bin/busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done",
      "lifecycle", "postStart", "exec", "command", "/bin/busybox", "sh", "-c",
      "mkdir -p /workspace/.execd && cp /bin/busybox " BUSYBOX, "resources",
      resources(HELPER_CPU, HELPER_MEMORY), "securityContext", security_context(), "volumeMounts",
      "name", "workspace", "mountPath", "/workspace");
}

json_t *kube_manifest_job(const kube_backend *b, const execd_job_spec *spec, const char *name) {
  const execd_limits *lim = spec->limits;
  int64_t memory = b->memory_bytes;
  if (lim && lim->memory_bytes > 0 && lim->memory_bytes < memory)
    memory = lim->memory_bytes;
  double cpus = b->cpus;
  if (lim && lim->cpus > 0 && lim->cpus < cpus)
    cpus = lim->cpus;
  char cpu_q[32], mem_q[32], tmp_q[32];
  long milli = (long)ceil(cpus * 1000);
  snprintf(cpu_q, sizeof cpu_q, "%ldm", milli < 1 ? 1 : milli);
  snprintf(mem_q, sizeof mem_q, "%lld", (long long)memory);
  snprintf(tmp_q, sizeof tmp_q, "%lld", (long long)b->tmpfs_size);

  uid_t uid = b->uid;
  gid_t gid = b->gid;
  if (spec->user)
    container_parse_user(spec->user, &uid, &gid); /* checked by check() */

  int64_t timeout_s = lim && lim->timeout_ms > 0 ? (lim->timeout_ms + 999) / 1000 : 86400;
  int64_t deadline = timeout_s + b->deadline_slack_s;

  json_t *command = json_pack("[s, s, s, s, s]", BUSYBOX, "sh", "-c", wrapper, "execd-job");
  for (const char *const *a = spec->argv; a && *a; a++)
    json_array_append_new(command, json_string(*a));
  json_t *env = json_array();
  for (const char *const *e = spec->env; e && *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq || eq == *e)
      continue;
    json_t *n = json_stringn(*e, (size_t)(eq - *e));
    json_array_append_new(env, json_pack("{s:o, s:s}", "name", n, "value", eq + 1));
  }

  json_t *job = json_pack(
      "{s:s, s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}]}", "name",
      KUBE_C_JOB, "image", spec->image, "imagePullPolicy", b->pull_policy, "command", command,
      "env", env, "resources", resources(cpu_q, mem_q), "stdin", 1, "stdinOnce", 1,
      "securityContext", security_context(), "terminationMessagePolicy",
      json_string("FallbackToLogsOnError"), "volumeMounts", "name", "workspace", "mountPath",
      "/workspace", "name", "tmp", "mountPath", "/tmp");
  if (spec->working_dir && *spec->working_dir)
    json_object_set_new(job, "workingDir", json_string(spec->working_dir));

  json_t *pod_security = json_pack("{s:b, s:I, s:I}", "runAsNonRoot", 1, "runAsUser",
                                   (json_int_t)uid, "runAsGroup", (json_int_t)gid);
  if (b->seccomp)
    json_object_set_new(pod_security, "seccompProfile", json_pack("{s:s}", "type", "RuntimeDefault"));

  json_t *pod_spec = json_pack(
      "{s:s, s:b, s:b, s:I, s:o, s:[{s:s, s:{}}, {s:s, s:{s:s, s:s}}], s:[o, o]}",
      "restartPolicy", "Never", "automountServiceAccountToken", 0, "enableServiceLinks", 0,
      "terminationGracePeriodSeconds", (json_int_t)b->grace_s, "securityContext", pod_security,
      "volumes", "name", "workspace", "emptyDir", "name", "tmp", "emptyDir", "medium", "Memory",
      "sizeLimit", tmp_q, "containers", helper_container(b), job);

  if (b->host_network)
    json_object_set_new(pod_spec, "hostNetwork", json_true());
  return json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:i, s:i, s:i, s:I, s:{s:{s:o}, s:o}}}",
                   "apiVersion", "batch/v1", "kind", "Job", "metadata", "name", name, "labels",
                   labels(b, spec), "spec", "backoffLimit", 0, "completions", 1, "parallelism",
                   1, "activeDeadlineSeconds", (json_int_t)deadline, "template", "metadata",
                   "labels", labels(b, spec), "spec", pod_spec);
}
