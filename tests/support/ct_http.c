/*
 * ct_http.c — HTTP for tests over libcurl: one request in, status and body
 * out (parsed as JSON when it is JSON), plus tx submission helpers.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#define CT_HTTP_TIMEOUT_MS 60000

struct ct_http {
    CURL *curl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_cleanup(void)
{
    curl_global_cleanup();
}

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    atexit(curl_cleanup);
}

ct_http *ct_http_new(void)
{
    pthread_once(&curl_once, curl_init);
    ct_http *h = calloc(1, sizeof *h);
    if (!h) abort();
    h->curl = curl_easy_init();
    if (!h->curl) abort();
    return h;
}

void ct_http_free(ct_http *h)
{
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void ct_resp_free(ct_resp *r)
{
    free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static const char *error_field(const ct_resp *r, const char *field)
{
    json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    const char *s = e ? json_string_value(json_object_get(e, field)) : NULL;
    return s ? s : "";
}

const char *ct_resp_error_code(const ct_resp *r)
{
    return error_field(r, "code");
}

const char *ct_resp_error_message(const ct_resp *r)
{
    return error_field(r, "message");
}

const char *ct_json_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

int64_t ct_json_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    ct_resp *r = ctx;
    size_t n = size * nmemb;
    char *b = realloc(r->body, r->len + n + 1);
    if (!b) return 0;
    memcpy(b + r->len, data, n);
    r->body = b;
    r->len += n;
    b[r->len] = 0;
    return n;
}

int ct_http_do(ct_http *h, const char *method, const char *url, const char *ctype, const void *body,
               size_t len, unsigned timeout_ms, ct_resp *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : CT_HTTP_TIMEOUT_MS));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curl_error);
    const char *ca = getenv("CARECHAIN_CACERT"); /* the CLI's variable: nodes serving HTTPS */
    if (ca && *ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    const char *cert = getenv("CARECHAIN_CLIENT_CERT"),
               *key = getenv("CARECHAIN_CLIENT_KEY"); /* the CLI's too */
    if (cert && *cert) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key && *key ? key : cert);
    }
    struct curl_slist *hdrs = NULL;
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (ctype) {
        char *hdr = ct_strf("Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, hdr);
        free(hdr);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    CURLcode cr = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    if (!r->body) {
        r->body = calloc(1, 1);
        if (!r->body) abort();
    }
    if (r->len > 0 && (r->body[0] == '{' || r->body[0] == '['))
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (cr != CURLE_OK) {
        if (!r->curl_error[0]) snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(cr));
        return r->status > 0 ? 0 : -1;
    }
    return 0;
}

int ct_get(const char *url, ct_resp *r)
{
    ct_http *h = ct_http_new();
    int rc = ct_http_do(h, "GET", url, NULL, NULL, 0, 0, r);
    ct_http_free(h);
    return rc;
}

long ct_metric(const char *base, const char *name)
{
    char *url = ct_strf("%s/metrics", base);
    ct_resp r;
    long v = -1;
    if (ct_get(url, &r) == 0 && r.status == 200 && r.body) {
        char *want = ct_strf("\n%s ", name);
        const char *p = strstr(r.body, want);
        if (p) v = strtol(p + strlen(want), NULL, 10);
        free(want);
    }
    ct_resp_free(&r);
    free(url);
    return v;
}

int ct_post(const char *url, const char *ctype, const void *body, size_t len, ct_resp *r)
{
    ct_http *h = ct_http_new();
    int rc = ct_http_do(h, "POST", url, ctype, body, len, 0, r);
    ct_http_free(h);
    return rc;
}

int ct_submit(ct_http *h, const char *base, const cc_tx *tx, bool wait_commit, ct_resp *r)
{
    char *url = ct_strf("%s/v1/tx%s", base, wait_commit ? "?wait=commit" : "");
    ct_http *own = h ? NULL : ct_http_new();
    int rc = ct_http_do(h ? h : own, "POST", url, "application/octet-stream", tx->raw, tx->raw_len, 0, r);
    ct_http_free(own);
    free(url);
    return rc;
}

uint8_t *ct_batch_body(const cc_tx *txs, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += 4 + txs[i].raw_len;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) abort();
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = txs[i].raw_len;
        buf[off++] = (uint8_t)(l >> 24);
        buf[off++] = (uint8_t)(l >> 16);
        buf[off++] = (uint8_t)(l >> 8);
        buf[off++] = (uint8_t)l;
        memcpy(buf + off, txs[i].raw, l);
        off += l;
    }
    *len = total;
    return buf;
}

int64_t ct_status_height(const char *base)
{
    char *url = ct_strf("%s/v1/status", base);
    ct_resp r;
    int64_t h = -1;
    if (ct_get(url, &r) == 0 && r.status == 200 && r.json) {
        json_t *v = json_object_get(r.json, "height");
        if (json_is_integer(v)) h = json_integer_value(v);
    }
    ct_resp_free(&r);
    free(url);
    return h;
}

int ct_wait_height(const char *base, uint64_t height, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        int64_t h = ct_status_height(base);
        if (h >= 0 && (uint64_t)h >= height) return 0;
        cc_sleep_ms(20);
    } while (ct_now_ms() < deadline);
    return -1;
}
