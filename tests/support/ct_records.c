/*
 * ct_records.c — signed GETs and attached txs for the record endpoint tests
 * (see ct_records.h), over libcurl.
 */
#include "ct_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "carechain/os.h"
#include "carechain/records.h"

#define CT_SIGNED_TIMEOUT_MS 60000

void ct_signed_resp_free(ct_signed_resp *s)
{
    ct_resp_free(&s->r);
    s->audit[0] = '\0';
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

/* Keep the X-Audit-Txid header line. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    ct_signed_resp *s = ctx;
    size_t n = size * nmemb;
    static const char name[] = "X-Audit-Txid:";
    if (n > sizeof name && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        size_t len = n - (sizeof name - 1);
        while (len > 0 && (*v == ' ' || *v == '\t')) v++, len--;
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ')) len--;
        if (len < sizeof s->audit) {
            memcpy(s->audit, v, len);
            s->audit[len] = '\0';
        }
    }
    return n;
}

/* One request on a one-off connection; body is sent when method is POST. */
static int send_with_headers(const char *method, const char *url, const char *const *headers,
                             const void *body, size_t len, ct_signed_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (!c) return -1;
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; headers && headers[i]; i++) hdrs = curl_slist_append(hdrs, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)CT_SIGNED_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, out->r.curl_error);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cr = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->r.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (!out->r.body && !(out->r.body = calloc(1, 1))) abort();
    if (out->r.len > 0 && (out->r.body[0] == '{' || out->r.body[0] == '['))
        out->r.json = json_loadb(out->r.body, out->r.len, 0, NULL);
    if (cr != CURLE_OK && !out->r.curl_error[0])
        snprintf(out->r.curl_error, sizeof out->r.curl_error, "%s", curl_easy_strerror(cr));
    return out->r.status > 0 ? 0 : -1;
}

int ct_get_with_headers(const char *url, const char *const *headers, ct_signed_resp *out)
{
    return send_with_headers("GET", url, headers, NULL, 0, out);
}

/* method base + path + query with the three signature headers of h (any
 * may be empty: left out) and, for a POST, body typed ctype. */
static int send_signed_as(const char *method, const char *base, const char *path, const char *query,
                          const cc_reqsig_headers *h, const char *ctype, const void *body, size_t len,
                          ct_signed_resp *out)
{
    char *url = ct_strf("%s%s%s%s", base, path, query && *query ? "?" : "", query ? query : "");
    char *lines[4] = {NULL, NULL, NULL, NULL};
    const char *headers[5] = {NULL, NULL, NULL, NULL, NULL};
    size_t n = 0;
    if (h && h->content_digest[0]) lines[n++] = ct_strf("Content-Digest: %s", h->content_digest);
    if (h && h->signature_input[0]) lines[n++] = ct_strf("Signature-Input: %s", h->signature_input);
    if (h && h->signature[0]) lines[n++] = ct_strf("Signature: %s", h->signature);
    if (ctype) lines[n++] = ct_strf("Content-Type: %s", ctype);
    for (size_t i = 0; i < n; i++) headers[i] = lines[i];
    int rc = send_with_headers(method, url, headers, body, len, out);
    for (size_t i = 0; i < n; i++) free(lines[i]);
    free(url);
    return rc;
}

int ct_get_signed_as(const char *base, const char *path, const char *query, const cc_reqsig_headers *h,
                     ct_signed_resp *out)
{
    return send_signed_as("GET", base, path, query, h, NULL, NULL, 0, out);
}

int ct_signed_post(const char *base, const cc_key *k, const char *path, const char *ctype, const void *body,
                   size_t len, ct_signed_resp *out)
{
    cc_reqsig_headers h;
    cc_errbuf eb = {{0}};
    memset(out, 0, sizeof *out);
    if (cc_reqsig_sign(k, "POST", path, NULL, body, len, (int64_t)(cc_now_ms() / 1000), &h, &eb) != CC_OK) {
        fprintf(stderr, "cc_reqsig_sign %s: %s\n", path, eb.msg);
        return -1;
    }
    return send_signed_as("POST", base, path, NULL, &h, ctype, body, len, out);
}

int ct_signed_get(const char *base, const cc_key *k, const char *path, const char *query, int64_t created_s,
                  cc_reqsig_headers *headers_out, ct_signed_resp *out)
{
    static char recent[64][sizeof((cc_reqsig_headers *)0)->signature]; /* the last ones signed */
    static size_t next;
    cc_reqsig_headers h;
    cc_errbuf eb = {{0}};
    bool now = created_s == 0;
    memset(out, 0, sizeof *out);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (now) created_s = (int64_t)(cc_now_ms() / 1000);
        if (cc_reqsig_sign(k, "GET", path, query, NULL, 0, created_s, &h, &eb) != CC_OK) {
            fprintf(stderr, "cc_reqsig_sign %s: %s\n", path, eb.msg);
            return -1;
        }
        /* The same request signed in the same second is the same signature
         * (Ed25519 is deterministic), which the node refuses as a replay:
         * sign it again in the next second. */
        bool seen = false;
        for (size_t i = 0; i < sizeof recent / sizeof recent[0]; i++)
            seen = seen || strcmp(h.signature, recent[i]) == 0;
        if (!now || !seen) break;
        cc_sleep_ms((unsigned)(1000 - cc_now_ms() % 1000) + 5);
    }
    snprintf(recent[next], sizeof recent[next], "%s", h.signature);
    next = (next + 1) % (sizeof recent / sizeof recent[0]);
    if (headers_out) *headers_out = h;
    return ct_get_signed_as(base, path, query, &h, out);
}

int ct_commit_attached(const char *base, const cc_tx *tx, const uint8_t *att, size_t att_len)
{
    size_t len = tx->raw_len + att_len;
    uint8_t *body = malloc(len ? len : 1);
    ct_resp r;
    if (!body) return -1;
    memcpy(body, tx->raw, tx->raw_len);
    if (att_len) memcpy(body + tx->raw_len, att, att_len);
    char *url = ct_strf("%s/v1/tx?wait=commit", base);
    int rc = ct_post(url, "application/octet-stream", body, len, &r);
    free(url);
    free(body);
    const char *code = json_string_value(json_object_get(json_object_get(r.json, "result"), "code"));
    if (rc != 0 || r.status != 200 || !code || strcmp(code, "ok") != 0) {
        fprintf(stderr, "commit of %s failed: %ld %s %s\n", tx->type, r.status, r.body ? r.body : "",
                r.curl_error);
        rc = -1;
    }
    ct_resp_free(&r);
    return rc;
}

int ct_commit_tx(const ct_net *net, const char *base, const cc_key *signer, const char *type,
                 const char *payload, const uint8_t *att, size_t att_len, char txid[CC_HASH_HEX])
{
    static uint64_t nonce = 1u << 30; /* apart from ct_tx_make's counter */
    cc_tx tx;
    cc_errbuf eb = {{0}};
    uint64_t now = cc_now_ms();
    cc_tx_params p = {.chain_id = net->chain_id,
                      .type = type,
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = now,
                      .expiry_ms = now + CT_TX_LIFETIME_MS,
                      .nonce = __atomic_fetch_add(&nonce, 1, __ATOMIC_RELAXED),
                      .attachment = att,
                      .attachment_len = att_len};
    if (cc_tx_create(&p, signer, &tx, &eb) != CC_OK) {
        fprintf(stderr, "cc_tx_create %s: %s\n", type, eb.msg);
        return -1;
    }
    if (txid) ct_txid_hex(&tx, txid);
    int rc = ct_commit_attached(base, &tx, att, att_len);
    cc_tx_free(&tx);
    return rc;
}
