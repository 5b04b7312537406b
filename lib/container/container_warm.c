/* The warm pool of a container backend: for each image in warm_images,
 * `warm` containers created AND started ahead, hardened exactly as a cold
 * attempt's (the same create body: user, capabilities, seccomp,
 * read-only root, no-new-privileges, network, limits, init), each with a
 * fresh workspace directory of its own bind-mounted at /workspace and a
 * private control directory bind-mounted read-only at /.execd.  Their
 * command is execd-warm-launch (warm_launch.c), which waits on the
 * control directory's FIFO.  An attempt whose create body would be the
 * same but for what each execution sets (argv, environment, working
 * directory, labels, the workspace's source) takes a started slot
 * (container_job.c, slot_take): its workspace's entries are moved into
 * the slot's, the launch file written, the FIFO opened (the go); stdout,
 * stderr and stdin ride the attach made when the slot was, and its exit
 * the wait made then.  A slot serves one execution, then is removed with
 * its directories; the pool is refilled in the background (engine calls
 * are asynchronous), after an execution ends, so refills do not compete
 * with it.  Slots are labelled execd.warm=<this run's token>: the sweep of
 * a later start removes what a killed daemon left (container_sweep.c), and
 * stop() removes them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container_internal.h"

#define WARM_MAX 16
#define WARM_RETRY_MS 2000   /* refill after a slot that ended unused, doubling */
#define WARM_RETRY_MAX_MS 60000

#ifndef EXECD_WARM_LAUNCHER
#define EXECD_WARM_LAUNCHER "/usr/libexec/execd/execd-warm-launch"
#endif

/* ---- configuration -------------------------------------------------------------- */

int container_warm_configure(container_backend *b, const json_t *config) {
  const json_t *warm = json_object_get(config, "warm");
  const json_t *images = json_object_get(config, "warm_images");
  b->warm = json_is_integer(warm) ? json_integer_value(warm) : 0;
  size_t n = json_array_size(images);
  if (b->warm < 0 || b->warm > WARM_MAX) {
    b->host->set_error(b->inst, "warm must be between 0 and %d, not %lld", WARM_MAX,
                       (long long)b->warm);
    return EXECD_ECONFIG;
  }
  if (b->warm == 0 && n > 0) {
    b->host->set_error(b->inst, "warm_images is set but warm is 0: set warm to the number of "
                                "containers kept ahead per image");
    return EXECD_ECONFIG;
  }
  if (b->warm == 0)
    return 0;
  if (n == 0 || n > 16) {
    b->host->set_error(b->inst, "warm = %lld needs warm_images: 1 to 16 images the containers "
                                "are made ahead for", (long long)b->warm);
    return EXECD_ECONFIG;
  }
  if (!b->bind_workspace) {
    b->host->set_error(b->inst, "warm containers need workspace_mount = \"bind\": a volume "
                                "is filled before its container starts");
    return EXECD_ECONFIG;
  }
  b->warm_images = calloc(n + 1, sizeof *b->warm_images);
  if (!b->warm_images)
    return EXECD_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *img = json_string_value(json_array_get(images, i));
    if (!img || !*img || strlen(img) > 512) {
      b->host->set_error(b->inst, "warm_images[%zu] must be an image name", i);
      return EXECD_ECONFIG;
    }
    bool allowed = false;
    for (char **g = b->images_allowed; g && *g && !allowed; g++)
      allowed = fnmatch(*g, img, 0) == 0;
    if (!allowed) {
      b->host->set_error(b->inst, "warm_images[%zu] \"%s\" is not in images_allowed", i, img);
      return EXECD_ECONFIG;
    }
    b->warm_images[i] = strdup(img);
    if (!b->warm_images[i])
      return EXECD_ENOMEM;
  }
  const char *launcher = json_string_value(json_object_get(config, "warm_launcher"));
  b->warm_launcher = strdup(launcher ? launcher : EXECD_WARM_LAUNCHER);
  if (!b->warm_launcher)
    return EXECD_ENOMEM;
  struct stat st;
  const char *why = NULL;
  if (b->warm_launcher[0] != '/')
    why = "not an absolute path";
  else if (stat(b->warm_launcher, &st) != 0)
    why = strerror(errno);
  else if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXOTH))
    why = "not a file everyone may execute";
  if (why) {
    b->host->set_error(b->inst, "warm_launcher %s: %s (the launcher of warm containers)",
                       b->warm_launcher, why);
    return EXECD_ECONFIG;
  }
  return 0;
}

void container_warm_free(container_backend *b) {
  for (char **p = b->warm_images; p && *p; p++)
    free(*p);
  free(b->warm_images);
  free(b->warm_launcher);
  free(b->warm_dir);
}

/* ---- matching -------------------------------------------------------------------- */

char *container_warm_key(const json_t *create_body) {
  json_t *c = json_deep_copy(create_body);
  if (!c)
    return NULL;
  static const char *const per_execution[] = {"Cmd", "Entrypoint", "Env", "WorkingDir", "Labels",
                                              "AttachStdin", "OpenStdin", "StdinOnce", NULL};
  for (const char *const *k = per_execution; *k; k++)
    json_object_del(c, *k);
  /* The workspace's source is per slot; the launcher's mounts are the
   * slots' alone. */
  json_object_del(json_object_get(c, "HostConfig"), "Mounts");
  char *key = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(c);
  return key;
}

container_job *container_warm_find(container_backend *b, const char *image,
                                   const json_t *create_body) {
  if (b->warm <= 0 || !b->warm_ready || b->stopped)
    return NULL;
  bool warm_image = false;
  for (char **p = b->warm_images; *p && !warm_image; p++)
    warm_image = strcmp(*p, image) == 0;
  if (!warm_image)
    return NULL;
  char *key = container_warm_key(create_body);
  if (!key)
    return NULL;
  container_job *found = container_slot_find(b, image, key);
  if (!found)
    b->host->log(b->inst, EXECD_LOG_DEBUG, "no warm container ready for %s with these "
                 "settings: the cold way", image);
  free(key);
  return found;
}

bool container_warm_owns(const container_backend *b, const char *token) {
  return b->warm > 0 && token && strcmp(token, b->warm_token) == 0;
}

/* ---- the pool ------------------------------------------------------------------- */

static void refill(container_backend *b) {
  if (b->warm <= 0 || !b->warm_ready || b->stopped || !b->client)
    return;
  for (char **img = b->warm_images; *img; img++) {
    int64_t have = (int64_t)container_slots_spare(b, *img);
    for (; have < b->warm; have++)
      if (!container_slot_new(b, *img, ++b->warm_seq))
        return;
  }
}

static void on_warm_timer(uv_timer_t *t) {
  refill(t->data);
}

static void on_warm_timer_closed(uv_handle_t *h) {
  free(h);
}

void container_warm_slot_gone(container_backend *b, bool failed) {
  if (b->warm <= 0 || b->stopped)
    return;
  if (!failed) {
    b->warm_failures = 0;
    refill(b);
    return;
  }
  /* An image that cannot run, an engine that is away: not a loop of creates. */
  uint64_t delay = WARM_RETRY_MS;
  for (unsigned i = 0; i < b->warm_failures && delay < WARM_RETRY_MAX_MS; i++)
    delay *= 2;
  b->warm_failures++;
  if (b->warm_timer && !uv_is_active((uv_handle_t *)b->warm_timer))
    uv_timer_start(b->warm_timer, on_warm_timer,
                   delay < WARM_RETRY_MAX_MS ? delay : WARM_RETRY_MAX_MS, 0);
}

/* ---- directories (thread pool) ------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  if (flag == FTW_DP || flag == FTW_D)
    rmdir(path);
  else
    unlink(path);
  return 0;
}

static void remove_tree(const char *dir) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

typedef struct dir_work {
  uv_work_t work;
  container_backend *b; /* NULL: just remove */
  char *dir;
  int rc;
} dir_work;

static void remove_dir_work(uv_work_t *w) {
  dir_work *d = w->data;
  remove_tree(d->dir);
}

static void remove_dir_done(uv_work_t *w, int status) {
  (void)status;
  dir_work *d = w->data;
  free(d->dir);
  free(d);
}

void container_warm_remove_dir_later(container_backend *b, const char *dir) {
  dir_work *d = calloc(1, sizeof *d);
  if (!d || !(d->dir = strdup(dir))) {
    free(d);
    return;
  }
  d->work.data = d;
  uv_queue_work(b->loop, &d->work, remove_dir_work, remove_dir_done);
}

/* An earlier run's directory goes; this run's is made, 0700. */
static void clear_work(uv_work_t *w) {
  dir_work *d = w->data;
  remove_tree(d->dir);
  char *parent = strdup(d->dir);
  char *slash = parent ? strrchr(parent, '/') : NULL;
  if (slash) {
    *slash = '\0';
    mkdir(parent, 0700);
  }
  free(parent);
  d->rc = mkdir(d->dir, 0700) == 0 || errno == EEXIST ? 0 : errno;
}

static void clear_done(uv_work_t *w, int status) {
  dir_work *d = w->data;
  container_backend *b = d->b;
  b->warm_clearing = false;
  if (status == 0 && d->rc == 0) {
    b->warm_ready = true;
    refill(b);
  } else {
    b->host->log(b->inst, EXECD_LOG_ERR, "warm containers: cannot make %s: %s", d->dir,
                 strerror(d->rc ? d->rc : ECANCELED));
  }
  free(d->dir);
  free(d);
}

void container_warm_begin(container_backend *b) {
  if (b->warm <= 0 || b->warm_ready || b->warm_clearing || b->stopped)
    return;
  if (!b->warm_dir) {
    /* <state_dir>/warm/<instance, as a file name> */
    const char *inst = b->host->instance_name(b->inst);
    char name[128];
    size_t i;
    for (i = 0; inst[i] && i < sizeof name - 1; i++)
      name[i] = (char)(strchr("/.", inst[i]) || inst[i] < ' ' ? '_' : inst[i]);
    name[i] = '\0';
    if (asprintf(&b->warm_dir, "%s/warm/%s", b->daemon_label, name) < 0) {
      b->warm_dir = NULL;
      return;
    }
    unsigned char r[8];
    if (uv_random(NULL, NULL, r, sizeof r, 0, NULL) != 0)
      memset(r, 0, sizeof r);
    snprintf(b->warm_token, sizeof b->warm_token, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7]);
    b->warm_timer = malloc(sizeof *b->warm_timer);
    if (b->warm_timer) {
      uv_timer_init(b->loop, b->warm_timer);
      b->warm_timer->data = b;
      uv_unref((uv_handle_t *)b->warm_timer);
    }
  }
  dir_work *d = calloc(1, sizeof *d);
  if (!d || !(d->dir = strdup(b->warm_dir))) {
    free(d);
    return;
  }
  d->b = b;
  d->work.data = d;
  b->warm_clearing = true;
  uv_queue_work(b->loop, &d->work, clear_work, clear_done);
}

void container_warm_stop(container_backend *b) {
  if (b->warm_timer) {
    uv_timer_stop(b->warm_timer);
    uv_close((uv_handle_t *)b->warm_timer, on_warm_timer_closed);
    b->warm_timer = NULL;
  }
  /* The slots' containers are removed by container_jobs_abandon; their
   * directories go with the pool's. */
  if (b->warm_dir && b->warm_ready)
    container_warm_remove_dir_later(b, b->warm_dir);
}

bool container_warm_same_device(const char *slot_dir, const char *workspace) {
  struct stat a, w;
  return stat(slot_dir, &a) == 0 && stat(workspace, &w) == 0 && a.st_dev == w.st_dev;
}

int container_warm_prepare_dir(const char *slot_dir, char *err, size_t errlen) {
  char path[4200];
  if (mkdir(slot_dir, 0700) != 0) {
    snprintf(err, errlen, "mkdir %.300s: %s", slot_dir, strerror(errno));
    return -1;
  }
  /* /workspace stays root's, as a cold attempt's: the job writes output/. */
  static const char *const subdirs[] = {"workspace", "control", NULL};
  for (const char *const *d = subdirs; *d; d++) {
    snprintf(path, sizeof path, "%s/%s", slot_dir, *d);
    if (mkdir(path, 0755) != 0 || chmod(path, 0755) != 0) {
      snprintf(err, errlen, "mkdir %.300s: %s", path, strerror(errno));
      return -1;
    }
  }
  /* Readable by the job's user, who opens it to wait; only execd writes. */
  snprintf(path, sizeof path, "%s/control/go", slot_dir);
  if (mkfifo(path, 0644) != 0 || chmod(path, 0644) != 0) {
    snprintf(err, errlen, "mkfifo %.300s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

static const char *const moved[] = {"input", "config", "output", NULL};

int container_warm_hand_over(const char *workspace, const char *slot_dir, const char *launch,
                             size_t launch_len, char *err, size_t errlen) {
  char from[4200], to[4200];
  for (const char *const *m = moved; *m; m++) {
    snprintf(from, sizeof from, "%s/%s", workspace, *m);
    snprintf(to, sizeof to, "%s/workspace/%s", slot_dir, *m);
    if (rename(from, to) != 0 && errno != ENOENT) {
      snprintf(err, errlen, "moving %.300s to %.300s: %s", from, to, strerror(errno));
      return -1;
    }
  }
  snprintf(from, sizeof from, "%s/control/launch.part", slot_dir);
  snprintf(to, sizeof to, "%s/control/launch", slot_dir);
  int fd = open(from, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "creating %.300s: %s", from, strerror(errno));
    return -1;
  }
  size_t off = 0;
  while (off < launch_len) {
    ssize_t n = write(fd, launch + off, launch_len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errlen, "writing %.300s: %s", from, strerror(errno));
      close(fd);
      return -1;
    }
    off += (size_t)n;
  }
  /* The umask may have taken bits: the job's user reads it. */
  if (fchmod(fd, 0644) != 0 || close(fd) != 0 || rename(from, to) != 0) {
    snprintf(err, errlen, "writing %.300s: %s", to, strerror(errno));
    return -1;
  }
  return 0;
}

int container_warm_take_back(const char *slot_dir, const char *workspace, char *err,
                             size_t errlen) {
  char from[4200], to[4200];
  snprintf(from, sizeof from, "%s/workspace/output", slot_dir);
  snprintf(to, sizeof to, "%s/output", workspace);
  if (rename(from, to) != 0 && errno != ENOENT) {
    snprintf(err, errlen, "moving %.300s back to %.300s: %s", from, to, strerror(errno));
    return -1;
  }
  return 0;
}
