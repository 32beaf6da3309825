/*
 * peer_answer.c — one request to a peer node, its answer bounded
 * (peer_answer.h).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/peer_answer.h"

size_t cc_peer_answer_write(char *data, size_t size, size_t nmemb, void *answer)
{
    cc_peer_answer *a = answer;
    size_t n = size * nmemb;
    if (a->len + n > a->max) {
        a->too_long = true;
        return 0; /* libcurl stops the transfer */
    }
    char *p = realloc(a->buf, a->len + n + 1);
    if (!p) return 0;
    memcpy(p + a->len, data, n);
    a->buf = p;
    a->len += n;
    a->buf[a->len] = '\0';
    return n;
}

void cc_peer_url(char *url, size_t cap, const char *api, const char *fmt, ...)
{
    int n = snprintf(url, cap, "%s%s", strstr(api, "://") ? "" : "http://", api);
    if (n < 0 || (size_t)n >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(url + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
}

/* CURLOPT_XFERINFOFUNCTION: non-zero makes libcurl abandon the transfer. */
static int answer_progress(void *answer, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow)
{
    const cc_peer_answer *a = answer;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return a->cancelled(a->cancel_ctx) ? 1 : 0;
}

static char peer_ca[PATH_MAX]; /* cc_peer_set_ca; "" = the system's bundle */

void cc_peer_set_ca(const char *path)
{
    snprintf(peer_ca, sizeof peer_ca, "%s", path ? path : "");
}

static char peer_cert[PATH_MAX], peer_key[PATH_MAX]; /* cc_peer_set_client_cert; "" = none */

void cc_peer_set_client_cert(const char *cert, const char *key)
{
    snprintf(peer_cert, sizeof peer_cert, "%s", cert ? cert : "");
    snprintf(peer_key, sizeof peer_key, "%s", key ? key : "");
}

CURLcode cc_peer_perform(CURL *c, const char *url, long timeout_ms, long connect_ms, cc_peer_answer *a,
                         long *status)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (peer_ca[0]) curl_easy_setopt(c, CURLOPT_CAINFO, peer_ca);
    if (peer_cert[0]) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, peer_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, peer_key);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cc_peer_answer_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* set or cleared each time: the handle is reused across requests */
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, a->cancelled ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, a->cancelled ? answer_progress : NULL);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, a->cancelled ? (void *)a : NULL);
    CURLcode cr = curl_easy_perform(c);
    *status = 0;
    if (cr == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return cr;
}

json_t *cc_peer_get_json(CURL *c, const char *url, long timeout_ms, long connect_ms, cc_peer_answer *a)
{
    long status = 0;
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    CURLcode cr = cc_peer_perform(c, url, timeout_ms, connect_ms, a, &status);
    json_t *doc = cr == CURLE_OK && status == 200 && a->buf
                      ? cc_json_parse((const uint8_t *)a->buf, a->len, NULL)
                      : NULL;
    free(a->buf);
    a->buf = NULL;
    return doc;
}
