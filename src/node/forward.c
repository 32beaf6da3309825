/*
 * node/forward.c — send a follower's admitted txs to the leader's
 * POST /v1/txs and read its per-tx answer (see forward.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/codec.h"
#include "node/forward.h"
#include "node/peer_answer.h"

#define FORWARD_TIMEOUT_MS         5000L
#define FORWARD_CONNECT_TIMEOUT_MS 1000L
#define FORWARD_FRAME_BYTES        4 /* u32 big-endian length before each tx */
#define FORWARD_ANSWER_MAX         (16u * 1024 * 1024)

struct cc_forward {
    CURL *curl;
    struct curl_slist *headers;
    bool (*cancelled)(void *ctx);
    void *cancel_ctx;
};

cc_forward *cc_forward_new(bool (*cancelled)(void *ctx), void *ctx)
{
    cc_forward *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->cancelled = cancelled;
    f->cancel_ctx = ctx;
    f->curl = curl_easy_init();
    f->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    if (f->headers) f->headers = curl_slist_append(f->headers, "Expect:");
    if (!f->curl || !f->headers) {
        cc_forward_free(f);
        return NULL;
    }
    return f;
}

void cc_forward_free(cc_forward *f)
{
    if (!f) return;
    if (f->curl) curl_easy_cleanup(f->curl);
    curl_slist_free_all(f->headers);
    free(f);
}

/* "duplicate" -> CC_ERR_DUPLICATE; CC_ERR__COUNT when unknown. */
static cc_err err_from_name(const char *name)
{
    for (int e = 0; e < CC_ERR__COUNT; e++)
        if (strcmp(cc_err_name((cc_err)e), name) == 0) return (cc_err)e;
    return CC_ERR__COUNT;
}

/* The batch body of the unsent txs; *order[k] is the index of the k-th. */
static uint8_t *batch_body(const cc_tx *txs, size_t n, const cc_forward_state *st, size_t *order,
                           size_t *count, size_t *len)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (st[i].outcome == CC_FORWARD_UNSENT)
            total += FORWARD_FRAME_BYTES + txs[i].raw_len + (txs[i].attachment ? txs[i].attachment_len : 0);
    uint8_t *body = malloc(total ? total : 1), *p = body;
    if (!body) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (st[i].outcome != CC_FORWARD_UNSENT) continue;
        uint32_t att = txs[i].attachment ? txs[i].attachment_len : 0;
        cc_put_u32(p, txs[i].raw_len + att);
        memcpy(p + FORWARD_FRAME_BYTES, txs[i].raw, txs[i].raw_len);
        if (att) memcpy(p + FORWARD_FRAME_BYTES + txs[i].raw_len, txs[i].attachment, att);
        p += FORWARD_FRAME_BYTES + txs[i].raw_len + att;
        order[k++] = i;
    }
    *count = k;
    *len = total;
    return body;
}

/* Read {"results": [...]} into the states of the sent txs. */
static cc_err read_answer(const cc_peer_answer *a, const size_t *order, size_t count, cc_forward_state *st,
                          cc_errbuf *eb)
{
    json_t *doc = cc_json_parse((const uint8_t *)a->buf, a->len, NULL);
    const json_t *results = json_object_get(doc, "results");
    cc_err rc = CC_OK;
    if (!json_is_array(results) || json_array_size(results) != count) {
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "the leader's answer has no result per tx");
        goto out;
    }
    for (size_t k = 0; k < count; k++) {
        const json_t *res = json_array_get(results, k);
        const json_t *code = json_object_get(json_object_get(res, "error"), "code");
        cc_forward_state *s = &st[order[k]];
        if (!code) {
            s->outcome = CC_FORWARD_TAKEN;
            continue;
        }
        cc_err e = json_is_string(code) ? err_from_name(json_string_value(code)) : CC_ERR__COUNT;
        if (e == CC_ERR_DUPLICATE) {
            s->outcome = CC_FORWARD_TAKEN; /* queued or committed there already: it commits once */
        } else if (e == CC_ERR_BUSY || e == CC_ERR_UNREACHABLE) {
            s->outcome = CC_FORWARD_UNSENT; /* send again */
        } else {
            s->outcome = CC_FORWARD_REFUSED;
            s->err = e == CC_ERR__COUNT ? CC_ERR_INVALID : e;
        }
    }
out:
    json_decref(doc);
    return rc;
}

cc_err cc_forward_send(cc_forward *f, const char *api, const cc_tx *txs, size_t n, cc_forward_state *st,
                       size_t *sent, cc_errbuf *eb)
{
    char url[192];
    size_t count = 0, len = 0;
    cc_peer_answer a = {.max = FORWARD_ANSWER_MAX, .cancelled = f->cancelled, .cancel_ctx = f->cancel_ctx};
    long status = 0;
    cc_err rc;

    *sent = 0;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    uint8_t *body = order ? batch_body(txs, n, st, order, &count, &len) : NULL;
    if (!body) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "no memory for the forwarded batch");
        goto out;
    }
    if (count == 0) {
        rc = CC_OK;
        goto out;
    }
    cc_peer_url(url, sizeof url, api, "/v1/txs");
    curl_easy_setopt(f->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(f->curl, CURLOPT_POSTFIELDS, (const char *)body);
    curl_easy_setopt(f->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(f->curl, CURLOPT_HTTPHEADER, f->headers);
    CURLcode cr = cc_peer_perform(f->curl, url, FORWARD_TIMEOUT_MS, FORWARD_CONNECT_TIMEOUT_MS, &a, &status);
    if (cr != CURLE_OK) {
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "POST %s: %s", url, curl_easy_strerror(cr));
        goto out;
    }
    if (status != 200 || !a.buf) {
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "POST %s answered %ld", url, status);
        goto out;
    }
    rc = read_answer(&a, order, count, st, eb);
    if (rc == CC_OK) *sent = count;
out:
    free(a.buf);
    free(body);
    free(order);
    return rc;
}
