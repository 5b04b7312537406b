/* Building responses: JSON documents (always newline-terminated), the
 * error document {"error":{"code","message","field"}}, and the mapping from
 * execd error codes to HTTP statuses.  Every response carries a
 * Content-Type. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

unsigned respond_status_for(int execd_status) {
  switch (execd_status) {
  case EXECD_EINVAL: return MHD_HTTP_BAD_REQUEST;
  case EXECD_EPERM: return MHD_HTTP_FORBIDDEN;
  case EXECD_ENOENT: return MHD_HTTP_NOT_FOUND;
  case EXECD_ECONFLICT: return MHD_HTTP_CONFLICT;
  case EXECD_EEXIST: return MHD_HTTP_CONFLICT;
  case EXECD_ETOOBIG: return HTTP_STATUS_TOO_LARGE;
  case EXECD_EUNPROC: return HTTP_STATUS_UNPROCESSABLE;
  case EXECD_EBUSY: return MHD_HTTP_TOO_MANY_REQUESTS;
  case EXECD_EUNAVAIL: return MHD_HTTP_SERVICE_UNAVAILABLE;
  default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
}

const char *respond_code_for(unsigned http_status) {
  switch (http_status) {
  case MHD_HTTP_BAD_REQUEST: return "invalid_request";
  case MHD_HTTP_UNAUTHORIZED: return "unauthorized";
  case MHD_HTTP_FORBIDDEN: return "forbidden";
  case MHD_HTTP_NOT_FOUND: return "not_found";
  case MHD_HTTP_METHOD_NOT_ALLOWED: return "method_not_allowed";
  case MHD_HTTP_CONFLICT: return "conflict";
  case HTTP_STATUS_TOO_LARGE: return "payload_too_large";
  case MHD_HTTP_UNSUPPORTED_MEDIA_TYPE: return "unsupported_media_type";
  case HTTP_STATUS_UNPROCESSABLE: return "unprocessable";
  case MHD_HTTP_TOO_MANY_REQUESTS: return "busy";
  case MHD_HTTP_SERVICE_UNAVAILABLE: return "unavailable";
  case MHD_HTTP_URI_TOO_LONG: return "uri_too_long";
  case MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE: return "headers_too_large";
  case MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED: return "http_version_not_supported";
  default: return "internal";
  }
}

/* Take ownership of buf (malloc'd) as the response body. */
static void answer_buffer(http_answer *a, unsigned status,
                          const char *content_type, char *buf, size_t len) {
  a->status = status;
  a->response =
      MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
  if (!a->response) {
    free(buf);
    return;
  }
  MHD_add_response_header(a->response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          content_type);
}

void answer_text(http_answer *a, unsigned status, const char *content_type,
                 const char *data, size_t len) {
  char *buf = malloc(len ? len : 1);
  if (!buf) {
    a->status = status;
    a->response = NULL;
    return;
  }
  if (len)
    memcpy(buf, data, len);
  answer_buffer(a, status, content_type, buf, len);
}

void answer_json(http_answer *a, unsigned status, const json_t *doc) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (!text) {
    answer_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                 doc ? "cannot serialise the response" : "empty response",
                 NULL);
    return;
  }
  size_t n = strlen(text);
  char *buf = malloc(n + 2);
  if (!buf) {
    free(text);
    a->status = status;
    a->response = NULL;
    return;
  }
  memcpy(buf, text, n);
  buf[n] = '\n';
  buf[n + 1] = '\0';
  free(text);
  answer_buffer(a, status, "application/json", buf, n + 1);
}

void answer_error(http_answer *a, unsigned status, const char *code,
                  const char *message, const char *field) {
  answer_error_details(a, status, code, message, field, NULL);
}

void answer_error_details(http_answer *a, unsigned status, const char *code,
                          const char *message, const char *field, json_t *details) {
  if (!code)
    code = respond_code_for(status);
  if (!message)
    message = code;
  json_t *doc = json_pack("{s:{s:s, s:s, s:s?, s:O?}}", "error", "code", code,
                          "message", message, "field", field, "details", details);
  if (!doc) {
    static const char fallback[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\","
        "\"field\":null}}\n";
    answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                fallback, sizeof fallback - 1);
    return;
  }
  answer_json(a, status, doc);
  json_decref(doc);
}

void answer_reply_error(http_answer *a, const execd_reply *r) {
  unsigned status = respond_status_for(r->status);
  const char *message = r->message ? r->message : execd_strerror(r->status);
  if (json_is_object(r->body))
    answer_error_details(a, status, r->code, message, r->field, r->body);
  else
    answer_error(a, status, r->code, message, r->field);
  json_t *retry_after = json_object_get(r->body, "retry_after");
  if (status == MHD_HTTP_TOO_MANY_REQUESTS && json_is_integer(retry_after) &&
      json_integer_value(retry_after) > 0) {
    /* The core knows when a retry can succeed (a day's quota). */
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%" JSON_INTEGER_FORMAT, json_integer_value(retry_after));
    answer_header(a, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
  } else if (status == MHD_HTTP_TOO_MANY_REQUESTS)
    answer_header(a, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  else if (r->code && strcmp(r->code, "shutting_down") == 0)
    answer_header(a, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_RETRY_AFTER_SHUTDOWN);
}

void answer_call_error(http_answer *a, int rc) {
  execd_reply r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.status = rc;
  answer_reply_error(a, &r);
}

void answer_header(http_answer *a, const char *name, const char *value) {
  if (a->response)
    MHD_add_response_header(a->response, name, value);
}

void answer_discard(http_answer *a) {
  if (a->response)
    MHD_destroy_response(a->response);
  a->response = NULL;
  a->status = 0;
}
