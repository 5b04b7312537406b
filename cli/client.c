/* execctl's HTTP client on libcurl (see client.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"

#define CONNECT_TIMEOUT_S 10L
#define REQUEST_TIMEOUT_S 300L /* plain requests; streams have no limit */
#define SHOWN_BODY_MAX 200     /* bytes of a non-JSON error body to show */

struct client {
  CURL *curl;
  char *base;  /* the base URL without trailing slashes */
  char *token; /* NULL without $EXECD_TOKEN */
  char errbuf[CURL_ERROR_SIZE];
};

/* One transfer: where its body goes. */
typedef struct {
  client *c;
  char *body; /* the whole body, unless it streams to a sink */
  size_t len, cap;
  client_sink sink; /* NULL: collect the body */
  void *ud;
  int sink_aborted;
  volatile sig_atomic_t *stop;
} transfer;

client *client_new(const char *url) {
  if (!url || !*url)
    url = getenv("EXECD_URL");
  if (!url || !*url)
    url = EXECCTL_DEFAULT_URL;
  client *c = calloc(1, sizeof *c);
  if (!c || !(c->curl = curl_easy_init()) || !(c->base = strdup(url))) {
    fprintf(stderr, "execctl: cannot set up libcurl\n");
    client_free(c);
    return NULL;
  }
  size_t n = strlen(c->base);
  while (n > 0 && c->base[n - 1] == '/')
    c->base[--n] = '\0';
  const char *token = getenv("EXECD_TOKEN");
  if (token && *token && !(c->token = strdup(token))) {
    client_free(c);
    return NULL;
  }
  return c;
}

void client_free(client *c) {
  if (!c)
    return;
  if (c->curl)
    curl_easy_cleanup(c->curl);
  free(c->base);
  free(c->token);
  free(c);
}

const char *client_base_url(const client *c) { return c->base; }

static long response_status(transfer *t) {
  long status = 0;
  curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

static int collect(transfer *t, const char *data, size_t len) {
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + len + 1)
      cap *= 2;
    char *grown = realloc(t->body, cap);
    if (!grown)
      return -1;
    t->body = grown;
    t->cap = cap;
  }
  memcpy(t->body + t->len, data, len);
  t->len += len;
  t->body[t->len] = '\0';
  return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *ud) {
  transfer *t = ud;
  size_t len = size * nmemb;
  if (t->stop && *t->stop)
    return 0;
  /* Only a successful body goes to the sink; an error document is kept
   * so that it can be reported. */
  long status = response_status(t);
  if (t->sink && status >= 200 && status < 300) {
    if (t->sink(data, len, t->ud)) {
      t->sink_aborted = 1;
      return 0;
    }
    return len;
  }
  return collect(t, data, len) ? 0 : len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  transfer *t = ud;
  return t->stop && *t->stop;
}

/* Sets up the handle for one request; returns the header list to free. */
static struct curl_slist *prepare(transfer *t, const char *method, const char *path,
                                  const char *payload, bool streaming) {
  client *c = t->c;
  CURL *h = c->curl;
  curl_easy_reset(h); /* keeps the connection for the next request */
  c->errbuf[0] = '\0';

  char *url = NULL;
  if (asprintf(&url, "%s%s", c->base, path) < 0)
    return NULL;
  curl_easy_setopt(h, CURLOPT_URL, url);
  free(url); /* libcurl keeps its own copy */

  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
  if (c->token) {
    char *auth = NULL;
    if (asprintf(&auth, "Authorization: Bearer %s", c->token) >= 0) {
      headers = curl_slist_append(headers, auth);
      free(auth);
    }
  }
  if (payload || strcmp(method, "POST") == 0) {
    /* Also for an empty POST: libcurl would call it a form otherwise. */
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload ? payload : "");
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "execctl/" PACKAGE_VERSION);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, streaming ? 0L : REQUEST_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
  if (t->stop) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
  }
  return headers;
}

static void report_network(client *c, const char *method, const char *path, CURLcode rc) {
  const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
      rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
    fprintf(stderr, "execctl: cannot connect to execd at %s (set EXECD_URL or --url): %s\n",
            c->base, detail);
  else
    fprintf(stderr, "execctl: %s %s%s failed: %s\n", method, c->base, path, detail);
}

/* Reports a non-2xx answer: the error document if there is one. */
static void report_status(client *c, const char *method, const char *path, long status,
                          const char *body) {
  json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
  json_t *err = json_object_get(doc, "error");
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *message = json_string_value(json_object_get(err, "message"));
  const char *field = json_string_value(json_object_get(err, "field"));
  if (code && message) {
    fprintf(stderr, "execctl: %ld %s: %s", status, code, message);
    if (field && !strstr(message, field))
      fprintf(stderr, " (field %s)", field);
    if (status == 401 && !c->token)
      fprintf(stderr, " (set EXECD_TOKEN)");
    fputc('\n', stderr);
  } else {
    int shown = 0;
    while (body && body[shown] && body[shown] != '\n' && shown < SHOWN_BODY_MAX)
      shown++;
    fprintf(stderr, "execctl: %s %s%s answered %ld%s%.*s\n", method, c->base, path, status,
            shown ? ": " : "", shown, body ? body : "");
  }
  json_decref(doc);
}

/* Runs one request; the outcome is in the transfer. */
static CURLcode perform(transfer *t, const char *method, const char *path, const json_t *body,
                        bool streaming) {
  char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (body && !payload)
    return CURLE_OUT_OF_MEMORY;
  struct curl_slist *headers = prepare(t, method, path, payload, streaming);
  CURLcode rc = headers ? curl_easy_perform(t->c->curl) : CURLE_OUT_OF_MEMORY;
  curl_slist_free_all(headers);
  free(payload);
  return rc;
}

int client_exchange(client *c, const char *method, const char *path, const json_t *body,
                    long *status, json_t **reply) {
  transfer t = {.c = c};
  CURLcode rc = perform(&t, method, path, body, false);
  *reply = NULL;
  if (rc != CURLE_OK) {
    report_network(c, method, path, rc);
    free(t.body);
    return -1;
  }
  *status = response_status(&t);
  if (t.body)
    *reply = json_loads(t.body, 0, NULL);
  free(t.body);
  return 0;
}

int client_json(client *c, const char *method, const char *path, const json_t *body,
                json_t **reply) {
  transfer t = {.c = c};
  CURLcode rc = perform(&t, method, path, body, false);
  *reply = NULL;
  if (rc != CURLE_OK) {
    report_network(c, method, path, rc);
    free(t.body);
    return CLIENT_UNREACHABLE;
  }
  long status = response_status(&t);
  if (status < 200 || status >= 300) {
    report_status(c, method, path, status, t.body);
    free(t.body);
    return -1;
  }
  json_error_t jerr;
  *reply = t.body ? json_loads(t.body, 0, &jerr) : NULL;
  if (!*reply)
    fprintf(stderr, "execctl: %s %s%s answered %ld without a JSON document: %s\n", method,
            c->base, path, status, t.body ? jerr.text : "empty body");
  free(t.body);
  return *reply ? 0 : -1;
}

enum client_stream_end client_stream(client *c, const char *path, client_sink sink, void *ud,
                                     volatile sig_atomic_t *stop) {
  transfer t = {.c = c, .sink = sink, .ud = ud, .stop = stop};
  CURLcode rc = perform(&t, "GET", path, NULL, true);
  enum client_stream_end end = CLIENT_STREAM_DONE;
  long status = response_status(&t);
  if (stop && *stop) {
    end = CLIENT_STREAM_STOPPED;
  } else if (rc != CURLE_OK && status >= 200 && status < 300 && !t.sink_aborted) {
    fprintf(stderr, "execctl: the stream from %s%s broke: %s\n", c->base, path,
            c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    end = CLIENT_STREAM_BROKEN;
  } else if (rc != CURLE_OK && !t.sink_aborted) {
    report_network(c, "GET", path, rc);
    end = CLIENT_STREAM_BROKEN;
  } else if (t.sink_aborted) {
    end = CLIENT_STREAM_ERROR;
  } else if (status < 200 || status >= 300) {
    report_status(c, "GET", path, status, t.body);
    end = CLIENT_STREAM_ERROR;
  }
  free(t.body);
  return end;
}
