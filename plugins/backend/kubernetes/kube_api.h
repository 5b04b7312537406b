/* What the kubernetes backend reads from the API server, parsed with
 * bounds: JSON replies (size and nesting checked before jansson sees
 * them), the newline-delimited events of a watch, a pod's status, a
 * Status object (errors, and the end of an exec).  Pure functions: no
 * loop, no I/O (tests/fuzz/fuzz_kube_api.c feeds them hostile bytes). */
#ifndef EXECD_KUBE_API_H
#define EXECD_KUBE_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define KUBE_JSON_MAX (4u << 20) /* the largest reply or watch event parsed */
#define KUBE_JSON_DEPTH 64       /* objects and arrays nested */
#define KUBE_JSON_ELEMENTS 200000

/* Parses one JSON document of at most KUBE_JSON_MAX bytes and
 * KUBE_JSON_DEPTH levels.  Returns a new reference, or NULL with the
 * reason in err. */
json_t *kube_json_parse(const char *data, size_t len, char *err, size_t errlen);

/* Splits a byte stream into lines of at most max bytes (a watch sends one
 * event per line).  feed() calls on_line for each complete line (without
 * the newline); returns 0, the first non-zero on_line returned, or -1 when
 * a line is longer than max (the rest of the stream cannot be trusted). */
typedef struct kube_lines {
  char *buf;
  size_t len, cap, max;
} kube_lines;
int kube_lines_feed(kube_lines *l, const char *data, size_t len,
                    int (*on_line)(void *arg, const char *line, size_t len), void *arg);
void kube_lines_reset(kube_lines *l);

/* One container's state in a pod status. */
enum { KUBE_CS_NONE = 0, KUBE_CS_WAITING, KUBE_CS_RUNNING, KUBE_CS_TERMINATED };
typedef struct kube_container_state {
  int state;
  int exit_code;   /* terminated */
  int signal;      /* terminated: the signal when the runtime names one */
  char reason[64]; /* waiting or terminated: "ErrImageNeverPull", "OOMKilled" ... */
  char message[512];
} kube_container_state;

/* The parts of a pod execd acts on.  Containers are found by name. */
typedef struct kube_pod_status {
  char name[254];
  char resource_version[64];
  char phase[32];   /* Pending, Running, Succeeded, Failed, Unknown */
  char reason[64];  /* the pod's: "DeadlineExceeded", "Evicted" ... */
  char message[512];
  bool deleting;    /* metadata.deletionTimestamp is set */
  kube_container_state init, job, helper;
} kube_pod_status;

/* Fills out from a Pod object, finding the containers named init_name,
 * job_name and helper_name.  Returns 0, or -1 when pod is not a Pod with
 * a name (out names the missing part in reason). */
int kube_pod_status_parse(const json_t *pod, const char *init_name, const char *job_name,
                          const char *helper_name, kube_pod_status *out);

/* A watch event {"type", "object"}: *type is ADDED, MODIFIED, DELETED,
 * BOOKMARK or ERROR (borrowed), *object its object.  Returns 0 or -1. */
int kube_watch_event(const json_t *ev, const char **type, const json_t **object);

/* A Status object (an error answer, an ERROR event's object, the end of
 * an exec): its code (0 if absent), status ("Success"/"Failure"),
 * reason, message, and for an exec that ended with a non-zero exit, the
 * exit code (details.causes[reason=ExitCode].message), else -1.
 * Returns 0, or -1 when obj is not a Status. */
typedef struct kube_status {
  long code;
  bool success;
  char reason[64];
  char message[512];
  int exit_code;
} kube_status;
int kube_status_parse(const json_t *obj, kube_status *out);

/* metadata.resourceVersion of any object or list, or NULL (borrowed). */
const char *kube_resource_version(const json_t *obj);

#endif
