/*
 * cli/client.c — the CLI's HTTP client over libcurl: one easy handle per
 * client (so keep-alive reuses the connection), JSON answers parsed, and a
 * "no answer at all" kept apart from HTTP errors (exit code 3 vs 1).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "carechain/os.h"
#include "carechain/records.h"
#include "cli/cli.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 3000L

struct cc_cli_http {
    CURL *curl;
    char *base; /* owned, without a trailing slash */
    long timeout_ms;
    bool raw; /* leave answers unparsed (cc_cli_http_raw) */
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct body_buf {
    char *data;
    size_t len, cap;
    bool oom;
} body_buf;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    body_buf *b = user;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->oom = true;
            return 0;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

bool cc_cli_node_url_ok(const char *url, char *why, size_t why_cap)
{
    char *scheme = NULL;
    CURLU *u = curl_url();
    if (!u) {
        snprintf(why, why_cap, "out of memory");
        return false;
    }
    /* a URL without a scheme is http, as libcurl takes it for a request */
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME);
    if (uc == CURLUE_OK) uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    bool ok = uc == CURLUE_OK && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    if (uc != CURLUE_OK)
        snprintf(why, why_cap, "%s", curl_url_strerror(uc));
    else if (!ok)
        snprintf(why, why_cap, "a node answers http or https, not %s", scheme);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

cc_cli_http *cc_cli_http_new(const char *base)
{
    pthread_once(&curl_once, curl_init_once);
    cc_cli_http *h = calloc(1, sizeof *h);
    if (!h) goto err;
    h->base = strdup(base);
    if (!h->base) goto err_after_alloc;
    size_t n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/') h->base[--n] = '\0';
    h->curl = curl_easy_init();
    if (!h->curl) goto err_after_base;
    h->timeout_ms = DEFAULT_TIMEOUT_MS;
    return h;

err_after_base:
    free(h->base);
err_after_alloc:
    free(h);
err:
    return NULL;
}

void cc_cli_http_free(cc_cli_http *h)
{
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h->base);
    free(h);
}

void cc_cli_http_timeout(cc_cli_http *h, long timeout_ms)
{
    h->timeout_ms = timeout_ms;
}

void cc_cli_http_raw(cc_cli_http *h, bool raw)
{
    h->raw = raw;
}

/* One request; extra (may be NULL) holds more header lines. */
static cc_err request(cc_cli_http *h, const char *path, const char *content_type, const void *body,
                      size_t len, struct curl_slist *extra, cc_cli_resp *resp, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    body_buf b = {0};
    struct curl_slist *hdrs = NULL;
    char header[128];
    size_t url_len = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(url_len);

    memset(resp, 0, sizeof *resp);
    if (!url) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    snprintf(url, url_len, "%s%s", h->base, path);

    curl_easy_reset(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "carechain-cli/1");
    /* a node whose HTTPS certificate comes from the consortium's own CA */
    const char *ca = getenv(CC_CLI_CACERT_ENV);
    if (ca && *ca) curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca);
    /* a node that answers only clients with a certificate of its CA */
    const char *cert = getenv(CC_CLI_CERT_ENV), *key = getenv(CC_CLI_KEY_ENV);
    if (cert && *cert) {
        curl_easy_setopt(h->curl, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(h->curl, CURLOPT_SSLKEY, key && *key ? key : cert);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    for (const struct curl_slist *e = extra; e; e = e->next) hdrs = curl_slist_append(hdrs, e->data);
    if (body) {
        snprintf(header, sizeof header, "Content-Type: %s", content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, header);
        curl_easy_setopt(h->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
    h->errbuf[0] = '\0';

    CURLcode cr = curl_easy_perform(h->curl);
    if (b.oom) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory reading the answer of %s", url);
        goto out;
    }
    if (cr != CURLE_OK) {
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "cannot reach the node at %s: %s", h->base,
                     h->errbuf[0] ? h->errbuf : curl_easy_strerror(cr));
        goto out;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->body = b.data ? b.data : strdup("");
    resp->len = b.len;
    b.data = NULL;
    if (!resp->body) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!h->raw && resp->len > 0 && (resp->body[0] == '{' || resp->body[0] == '['))
        resp->json = json_loadb(resp->body, resp->len, 0, NULL);
out:
    free(b.data);
    curl_slist_free_all(hdrs);
    free(url);
    return rc;
}

cc_err cc_cli_http_request(cc_cli_http *h, const char *path, const char *content_type, const void *body,
                           size_t len, cc_cli_resp *resp, cc_errbuf *eb)
{
    return request(h, path, content_type, body, len, NULL, resp, eb);
}

cc_err cc_cli_http_signed(cc_cli_http *h, const cc_key *key, const char *path, const char *content_type,
                          const void *body, size_t len, cc_cli_resp *resp, cc_errbuf *eb)
{
    char bare[CC_CLI_PATH_MAX], line[320];
    const char *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);
    memset(resp, 0, sizeof *resp);
    if (n >= sizeof bare) return cc_errf(eb, CC_ERR_USAGE, "request path is too long");
    memcpy(bare, path, n);
    bare[n] = '\0';

    cc_reqsig_headers sig;
    cc_err rc = cc_reqsig_sign(key, body ? "POST" : "GET", bare, q ? q + 1 : "", body, body ? len : 0,
                               (int64_t)(cc_now_ms() / 1000), &sig, eb);
    if (rc != CC_OK) return rc;
    struct curl_slist *extra = NULL;
    snprintf(line, sizeof line, "Content-Digest: %s", sig.content_digest);
    extra = curl_slist_append(extra, line);
    snprintf(line, sizeof line, "Signature-Input: %s", sig.signature_input);
    extra = curl_slist_append(extra, line);
    snprintf(line, sizeof line, "Signature: %s", sig.signature);
    extra = curl_slist_append(extra, line);
    rc = extra ? request(h, path, content_type, body, len, extra, resp, eb)
               : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    curl_slist_free_all(extra);
    return rc;
}

cc_err cc_cli_http_signed_get(cc_cli_http *h, const cc_key *key, const char *path, cc_cli_resp *resp,
                              cc_errbuf *eb)
{
    return cc_cli_http_signed(h, key, path, NULL, NULL, 0, resp, eb);
}

void cc_cli_resp_free(cc_cli_resp *r)
{
    if (!r) return;
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *cc_cli_resp_code(const cc_cli_resp *r)
{
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    if (c) return c;
    /* a FHIR endpoint's OperationOutcome: the node's own code is its
     * issue's details (urn:carechain:error), else the issue's FHIR type */
    const json_t *issue = json_array_get(json_object_get(r->json, "issue"), 0);
    const json_t *coding = json_array_get(json_object_get(json_object_get(issue, "details"), "coding"), 0);
    c = json_string_value(json_object_get(coding, "code"));
    if (c) return c;
    c = json_string_value(json_object_get(issue, "code"));
    if (c) return c;
    return r->status ? "http_error" : "unreachable";
}

const char *cc_cli_resp_message(const cc_cli_resp *r)
{
    const char *m = json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    if (m) return m;
    /* a FHIR endpoint's OperationOutcome */
    m = json_string_value(
        json_object_get(json_array_get(json_object_get(r->json, "issue"), 0), "diagnostics"));
    if (m) return m;
    if (r->body && *r->body && !r->json) return r->body;
    return "the node gave no reason";
}

static void print_unreachable(const cc_cli_ctx *ctx, const cc_errbuf *eb)
{
    if (ctx->json) {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", "unreachable", "message", eb->msg);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        fprintf(stderr, "carechain %s: %s\n", ctx->cmd, eb->msg);
    }
}

int cc_cli_get_json(const cc_cli_ctx *ctx, const char *path, json_t **out, long *status)
{
    return cc_cli_get_signed_json(ctx, NULL, path, out, status);
}

int cc_cli_get_json_as(const cc_cli_ctx *ctx, const char *keyfile, const char *path, json_t **out)
{
    *out = NULL;
    if (!keyfile) return cc_cli_get_signed_json(ctx, NULL, path, out, NULL);
    cc_key k;
    if (!cc_cli_key_load(ctx->cmd, keyfile, &k, NULL)) return CC_EXIT_FAIL;
    int rc = cc_cli_get_signed_json(ctx, &k, path, out, NULL);
    cc_key_wipe(&k);
    return rc;
}

int cc_cli_get_signed_json(const cc_cli_ctx *ctx, const cc_key *key, const char *path, json_t **out,
                           long *status)
{
    int rc = CC_EXIT_FAIL;
    cc_errbuf eb = {{0}};
    cc_cli_resp r;
    cc_cli_http *h = cc_cli_http_new(ctx->node);

    *out = NULL;
    if (!h) {
        fprintf(stderr, "carechain %s: out of memory\n", ctx->cmd);
        return CC_EXIT_FAIL;
    }
    cc_err e = key ? cc_cli_http_signed_get(h, key, path, &r, &eb)
                   : cc_cli_http_request(h, path, NULL, NULL, 0, &r, &eb);
    if (e == CC_ERR_UNREACHABLE) {
        print_unreachable(ctx, &eb);
        rc = CC_EXIT_UNREACHABLE;
        goto out;
    }
    if (e != CC_OK) {
        fprintf(stderr, "carechain %s: %s\n", ctx->cmd, eb.msg);
        goto out;
    }
    if (status) *status = r.status;
    if (r.status >= 200 && r.status < 300 && r.json) {
        *out = json_incref(r.json);
        rc = -1;
    } else if (ctx->json && r.json) {
        cc_cli_print_json(r.json);
    } else if (r.status >= 200 && r.status < 300) {
        fprintf(stderr, "carechain %s: the node answered %s with something that is not JSON\n", ctx->cmd,
                path);
    } else if (!ctx->json && r.status == 404) {
        fprintf(stderr, "carechain %s: not found: %s\n", ctx->cmd, cc_cli_resp_message(&r));
    } else if (!ctx->json) {
        fprintf(stderr, "carechain %s: the node refused (HTTP %ld, %s): %s\n", ctx->cmd, r.status,
                cc_cli_resp_code(&r), cc_cli_resp_message(&r));
    } else {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", cc_cli_resp_code(&r), "message",
                              cc_cli_resp_message(&r));
        cc_cli_print_json(j);
        json_decref(j);
    }
    cc_cli_resp_free(&r);
out:
    cc_cli_http_free(h);
    return rc;
}
