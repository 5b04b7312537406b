/* execd error codes: 0 is success, failures are negative EXECD_E* values.
 * execd_strerror() is inline so that plugins need not link with the daemon.
 */
#ifndef EXECD_ERROR_H
#define EXECD_ERROR_H

enum execd_error {
  EXECD_OK = 0,
  EXECD_EINVAL = -1,     /* invalid argument or request (HTTP 400) */
  EXECD_ENOMEM = -2,     /* out of memory */
  EXECD_ENOENT = -3,     /* no such execution / object (404) */
  EXECD_EEXIST = -4,     /* already exists (idempotency hit) */
  EXECD_ECONFLICT = -5,  /* compare-and-set lost, invalid transition (409) */
  EXECD_EIO = -6,        /* storage or system I/O failure */
  EXECD_EUNAVAIL = -7,   /* a backend, storage or server is unavailable (503) */
  EXECD_ETIMEDOUT = -8,  /* timed out */
  EXECD_ENOTSUP = -9,    /* operation not supported by this plugin */
  EXECD_EPERM = -10,     /* not allowed by policy (403) */
  EXECD_ETOOBIG = -11,   /* payload or field over a configured limit (413) */
  EXECD_ECORRUPT = -12,  /* data on disk or on the wire is corrupt */
  EXECD_ECANCELED = -13, /* operation cancelled */
  EXECD_EBUSY = -14,     /* too many requests / queue full (429) */
  EXECD_EABI = -15,      /* plugin ABI mismatch */
  EXECD_ECONFIG = -16,   /* configuration error */
  EXECD_EUNPROC = -17    /* well-formed but unprocessable (422) */
};

static inline const char *execd_strerror(int err) {
  switch (err) {
  case EXECD_OK: return "success";
  case EXECD_EINVAL: return "invalid argument";
  case EXECD_ENOMEM: return "out of memory";
  case EXECD_ENOENT: return "not found";
  case EXECD_EEXIST: return "already exists";
  case EXECD_ECONFLICT: return "conflict";
  case EXECD_EIO: return "I/O error";
  case EXECD_EUNAVAIL: return "unavailable";
  case EXECD_ETIMEDOUT: return "timed out";
  case EXECD_ENOTSUP: return "not supported";
  case EXECD_EPERM: return "not permitted";
  case EXECD_ETOOBIG: return "too large";
  case EXECD_ECORRUPT: return "corrupt data";
  case EXECD_ECANCELED: return "cancelled";
  case EXECD_EBUSY: return "busy";
  case EXECD_EABI: return "ABI mismatch";
  case EXECD_ECONFIG: return "configuration error";
  case EXECD_EUNPROC: return "unprocessable";
  default: return "unknown error";
  }
}

#endif
