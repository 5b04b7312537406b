/* The local backend's pool of network namespaces made ahead: every
 * namespace it hands out is a new one, never handed twice, not the
 * daemon's, with only loopback (up) and no member; stopping it leaves no
 * descriptor open.  Needs root (CAP_SYS_ADMIN): skipped (77) without it. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns_pool.h"

#define TAKES (3 * NETNS_POOL_SIZE)

static ino_t ns_inode(int fd) {
  struct stat st;
  ck_assert_int_eq(fstat(fd, &st), 0);
  return st.st_ino;
}

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  ck_assert_ptr_nonnull(d);
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

/* Waits for the pool's thread to make one (the take itself never waits). */
static int take_one(netns_pool *pool) {
  for (int i = 0; i < 6000; i++) {
    int fd = netns_pool_take(pool);
    if (fd >= 0)
      return fd;
    usleep(10000);
  }
  ck_abort_msg("the pool made no namespace in 60 s");
  return -1;
}

/* Whether any thread of this process is a member of the namespace ino. */
static bool member_of(ino_t ino) {
  char want[64];
  snprintf(want, sizeof want, "net:[%lu]", (unsigned long)ino);
  DIR *d = opendir("/proc/self/task");
  ck_assert_ptr_nonnull(d);
  struct dirent *e;
  bool found = false;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char path[300], link[64];
    snprintf(path, sizeof path, "/proc/self/task/%s/ns/net", e->d_name);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
      continue; /* the thread ended meanwhile */
    link[n] = '\0';
    if (strcmp(link, want) == 0)
      found = true;
  }
  closedir(d);
  return found;
}

/* What a thread that joins the namespace sees: the interfaces' names and
 * whether loopback is up. */
typedef struct inside {
  int fd;
  int n_interfaces;
  char first[IF_NAMESIZE];
  bool lo_up;
  int err;
} inside;

static void *look_inside(void *arg) {
  inside *in = arg;
  if (setns(in->fd, CLONE_NEWNET) < 0) {
    in->err = errno;
    return NULL;
  }
  struct if_nameindex *ifs = if_nameindex();
  if (ifs) {
    for (struct if_nameindex *i = ifs; i->if_index; i++) {
      if (in->n_interfaces++ == 0)
        snprintf(in->first, sizeof in->first, "%s", i->if_name);
    }
    if_freenameindex(ifs);
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  in->lo_up = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
  if (s >= 0)
    close(s);
  return NULL;
}

START_TEST(every_namespace_is_new_once_and_empty) {
  int fds_before = open_fds();
  int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  ck_assert_int_ge(home, 0);
  ino_t home_ino = ns_inode(home);
  close(home);

  int err = 0;
  netns_pool *pool = netns_pool_start(&err);
  ck_assert_msg(pool != NULL, "netns_pool_start: %s", strerror(err));

  int fds[TAKES];
  ino_t inos[TAKES];
  for (int i = 0; i < TAKES; i++) {
    fds[i] = take_one(pool);
    inos[i] = ns_inode(fds[i]);
    ck_assert_msg(inos[i] != home_ino, "take %d handed out the daemon's own namespace", i);
    /* All kept open, so that no inode number can be reused meanwhile. */
    for (int k = 0; k < i; k++)
      ck_assert_msg(inos[k] != inos[i], "takes %d and %d handed out the same namespace", k, i);
    ck_assert_msg(!member_of(inos[i]), "a thread of the process is still in namespace %d", i);

    inside in = {.fd = fds[i]};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, look_inside, &in), 0);
    pthread_join(t, NULL);
    ck_assert_msg(in.err == 0, "setns: %s", strerror(in.err));
    ck_assert_msg(in.n_interfaces == 1 && strcmp(in.first, "lo") == 0,
                  "namespace %d has %d interfaces (first %s), not only lo", i, in.n_interfaces,
                  in.first);
    ck_assert_msg(in.lo_up, "loopback of namespace %d is down", i);
  }
  for (int i = 0; i < TAKES; i++)
    close(fds[i]);
  netns_pool_stop(pool);
  ck_assert_int_eq(open_fds(), fds_before);
}
END_TEST

START_TEST(a_full_pool_has_no_member_and_stops_clean) {
  int fds_before = open_fds();
  int err = 0;
  netns_pool *pool = netns_pool_start(&err);
  ck_assert_msg(pool != NULL, "netns_pool_start: %s", strerror(err));
  /* Full: the thread waits, and must not wait inside one of them. */
  for (int i = 0; i < 6000 && netns_pool_ready(pool) < NETNS_POOL_SIZE; i++)
    usleep(10000);
  ck_assert_int_eq(netns_pool_ready(pool), NETNS_POOL_SIZE);
  int fds[NETNS_POOL_SIZE];
  for (int i = 0; i < NETNS_POOL_SIZE; i++) {
    fds[i] = netns_pool_take(pool);
    ck_assert_int_ge(fds[i], 0);
    ck_assert_msg(!member_of(ns_inode(fds[i])), "the pool's thread is in namespace %d", i);
  }
  for (int i = 0; i < NETNS_POOL_SIZE; i++)
    close(fds[i]);
  /* Stopped while it refills. */
  netns_pool_stop(pool);
  ck_assert_int_eq(open_fds(), fds_before);
  netns_pool_stop(NULL);
}
END_TEST

static void *try_unshare(void *arg) {
  *(int *)arg = unshare(CLONE_NEWNET) == 0 ? 0 : errno;
  return NULL;
}

int main(void) {
  /* unshare() moves the calling thread: try it on one of its own. */
  int err = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, try_unshare, &err) != 0)
    return 99;
  pthread_join(t, NULL);
  if (err) {
    fprintf(stderr, "test_netns_pool: SKIP: cannot make network namespaces here (%s)\n",
            strerror(err));
    return 77;
  }
  Suite *s = suite_create("netns_pool");
  TCase *tc = tcase_create("pool");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, every_namespace_is_new_once_and_empty);
  tcase_add_test(tc, a_full_pool_has_no_member_and_stops_clean);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
