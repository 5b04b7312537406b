/* Network namespaces for jobs with network "none".  A namespace is made on
 * a short-lived thread: unshare(CLONE_NEWNET) moves only the calling
 * thread, so the daemon's own network is never touched. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include "local_internal.h"
#include "spawn.h"

typedef struct netns_probe {
  int fd;  /* the new namespace, or -1 */
  int err; /* errno of the failure */
} netns_probe;

static void *make_namespace(void *arg) {
  netns_probe *p = arg;
  p->fd = -1;
  if (unshare(CLONE_NEWNET) < 0) {
    p->err = errno;
    return NULL;
  }
  if (spawn_loopback_up() < 0) {
    p->err = errno;
    return NULL;
  }
  p->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (p->fd < 0)
    p->err = errno;
  return NULL;
}

int local_netns_create(int *err) {
  netns_probe p = {-1, 0};
  pthread_t t;
  int rc = pthread_create(&t, NULL, make_namespace, &p);
  if (rc != 0) {
    *err = rc;
    return -1;
  }
  pthread_join(t, NULL);
  *err = p.err;
  return p.fd;
}
