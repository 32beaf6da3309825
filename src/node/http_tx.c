/*
 * node/http_tx.c — POST /v1/tx and POST /v1/txs: unpack the body (binary or
 * JSON), run the admission path (admission.c) and answer per tx.
 *
 * The batch binary path builds its answer with a string builder, not a JSON
 * tree: one compact entry per tx, nothing else per tx.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/codec.h"
#include "node/admission.h"
#include "node/http.h"
#include "node/strbuf.h"

#define BATCH_FRAME_BYTES 4 /* u32 big-endian length before each tx */

/* ?wait=commit -> true; no wait -> false; anything else is a usage error. */
static bool parse_wait(cc_http_req *req, bool *wait)
{
    const char *w = cc_http_query(req, "wait");
    *wait = false;
    if (!w) return true;
    if (strcmp(w, "commit") != 0) return false;
    *wait = true;
    return true;
}

/* application/json (or, without a usable Content-Type, a body that starts
 * with '{'); everything else is the binary form. */
static bool body_is_json(cc_http_req *req)
{
    const char *ct = cc_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct && strncasecmp(ct, "application/json", 16) == 0) return true;
    if (ct && strncasecmp(ct, "application/octet-stream", 24) == 0) return false;
    for (size_t i = 0; i < req->body_len; i++) {
        uint8_t c = req->body[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        return c == '{';
    }
    return false;
}

/* Point an item at one JSON entry {"tx": b64, "attachment": b64?}; false
 * (with the reason in eb) when the entry has the wrong shape. */
static bool item_from_json(const json_t *entry, cc_admit_item *it)
{
    const json_t *tx = json_object_get(entry, "tx");
    const json_t *att = json_object_get(entry, "attachment");
    if (!json_is_object(entry) || !json_is_string(tx)) {
        it->err = cc_errf(&it->eb, CC_ERR_MALFORMED, "expected an object with a base64 string \"tx\"");
        return false;
    }
    if (att && !json_is_null(att) && !json_is_string(att)) {
        it->err = cc_errf(&it->eb, CC_ERR_MALFORMED, "\"attachment\" must be a base64 string");
        return false;
    }
    it->tx_b64 = json_string_value(tx);
    it->att_b64 = json_is_string(att) ? json_string_value(att) : NULL;
    return true;
}

/* Why an accepted tx will not commit (its waiter failed with e). */
static const char *waiter_message(cc_err e)
{
    switch (e) {
    case CC_ERR_STORE_FULL:
        return "the node's storage is full; the tx was not committed";
    case CC_ERR_IO:
        return "the node could not write the tx's block to its store (its log says why: a full or failing "
               "disk?); the tx was not committed: send it again";
    case CC_ERR_NOMEM:
        return "the node ran out of memory for the tx's block; the tx was not committed: send it again";
    case CC_ERR_UNREACHABLE:
        return "the node stopped before the tx committed";
    case CC_ERR_VERSION:
        return "the network moved to a ruleset this node's build does not know (GET /v1/status says which); "
               "the tx was not committed: send it to a node that runs a newer build";
    case CC_ERR_TIMEOUT: /* raft */
        return "no leader took the tx in time; it was dropped (send it again)";
    default:
        return "the leader refused the tx";
    }
}

/* The committed form, or the pending form, of an accepted tx. */
static void put_accepted(cc_strbuf *sb, const cc_admit_item *it, bool wait)
{
    cc_strbuf_puts(sb, "{\"txid\":");
    cc_strbuf_json_hex(sb, it->txid, CC_HASH_BYTES);
    if (!wait) {
        cc_strbuf_puts(sb, ",\"status\":\"pending\"}");
        return;
    }
    const cc_waiter *w = &it->waiter;
    if (w->state != CC_WAITER_DONE) {
        cc_strbuf_puts(sb, ",\"status\":\"pending\",\"error\":{\"code\":\"timeout\",\"message\":");
        cc_strbuf_json_str(sb, "not committed within the wait limit; it may still commit");
        cc_strbuf_puts(sb, "}}");
    } else if (w->err != CC_OK) {
        cc_strbuf_puts(sb, ",\"error\":{\"code\":");
        cc_strbuf_json_str(sb, cc_err_name(w->err));
        cc_strbuf_puts(sb, ",\"message\":");
        cc_strbuf_json_str(sb, waiter_message(w->err));
        cc_strbuf_puts(sb, "}}");
    } else {
        cc_strbuf_puts(sb, ",\"status\":\"committed\",\"height\":");
        cc_strbuf_u64(sb, w->loc.height);
        cc_strbuf_puts(sb, ",\"index\":");
        cc_strbuf_u64(sb, w->loc.index);
        cc_strbuf_puts(sb, ",\"result\":{\"code\":");
        cc_strbuf_json_str(sb, cc_err_name((cc_err)w->loc.result.code));
        cc_strbuf_puts(sb, ",\"code_num\":");
        cc_strbuf_u64(sb, w->loc.result.code);
        cc_strbuf_puts(sb, ",\"message\":");
        cc_strbuf_json_str(sb, w->loc.result.message);
        cc_strbuf_puts(sb, "}}");
    }
}

static void put_rejected(cc_strbuf *sb, const cc_admit_item *it)
{
    cc_strbuf_puts(sb, "{");
    if (it->has_txid) {
        cc_strbuf_puts(sb, "\"txid\":");
        cc_strbuf_json_hex(sb, it->txid, CC_HASH_BYTES);
        cc_strbuf_puts(sb, ",");
    }
    cc_strbuf_puts(sb, "\"error\":{\"code\":");
    cc_strbuf_json_str(sb, cc_err_name(it->err));
    cc_strbuf_puts(sb, ",\"message\":");
    cc_strbuf_json_str(sb, it->eb.msg[0] ? it->eb.msg : cc_strerror(it->err));
    cc_strbuf_puts(sb, "}}");
}

/* ---- POST /v1/tx ----------------------------------------------------------- */

enum MHD_Result cc_http_post_tx(cc_http_req *req)
{
    cc_admit_item item;
    json_t *doc = NULL;
    cc_errbuf eb = {{0}};
    bool wait;
    enum MHD_Result rc;

    memset(&item, 0, sizeof item);
    if (!parse_wait(req, &wait))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "wait must be \"commit\"");
    if (body_is_json(req)) {
        doc = cc_json_parse(req->body, req->body_len, &eb);
        if (!doc)
            return cc_http_send_error(req, CC_ERR_MALFORMED, NULL, "body is not valid JSON: %s", eb.msg);
        if (!item_from_json(doc, &item)) {
            rc = cc_http_send_error(req, item.err, NULL, "%s", item.eb.msg);
            goto out;
        }
    } else {
        item.bin = req->body ? req->body : (const uint8_t *)"";
        item.bin_len = req->body_len;
    }

    (void)cc_admit_run(req->node, &item, 1, wait);

    if (item.err != CC_OK) {
        rc = cc_http_send_error(req, item.err, item.has_txid ? item.txid : NULL, "%s", item.eb.msg);
    } else if (wait && item.waiter.state != CC_WAITER_DONE) {
        rc =
            cc_http_send_error(req, CC_ERR_TIMEOUT, item.txid,
                               "not committed within %u ms; it may still commit", req->node->wait_timeout_ms);
    } else if (wait && item.waiter.err != CC_OK) {
        rc = cc_http_send_error(req, item.waiter.err, item.txid, "%s", waiter_message(item.waiter.err));
    } else {
        cc_strbuf sb = {0};
        size_t len = 0;
        put_accepted(&sb, &item, wait);
        char *body = cc_strbuf_take(&sb, &len);
        rc = cc_http_send(req, wait ? MHD_HTTP_OK : MHD_HTTP_ACCEPTED, "application/json", body, len);
    }
out:
    json_decref(doc);
    return rc;
}

/* ---- POST /v1/txs ---------------------------------------------------------- */

/* Split the binary batch into items (pointing into the body). */
static cc_err items_from_frames(cc_http_req *req, cc_admit_item **out, size_t *count, cc_errbuf *eb)
{
    size_t n = 0, off = 0;
    cc_admit_item *items = NULL;

    while (off < req->body_len) {
        if (req->body_len - off < BATCH_FRAME_BYTES)
            return cc_errf(eb, CC_ERR_MALFORMED, "batch is truncated in the length of tx %zu", n);
        uint32_t len = cc_get_u32(req->body + off);
        if (req->body_len - off - BATCH_FRAME_BYTES < len)
            return cc_errf(eb, CC_ERR_MALFORMED, "batch is truncated in tx %zu (%u bytes declared)", n, len);
        off += BATCH_FRAME_BYTES + len;
        if (++n > CC_HTTP_BATCH_MAX_TXS)
            return cc_errf(eb, CC_ERR_TOO_LARGE, "a batch holds at most %d txs", CC_HTTP_BATCH_MAX_TXS);
    }
    if (n > 0 && !(items = calloc(n, sizeof *items)))
        return cc_errf(eb, CC_ERR_NOMEM, "no memory for the batch");
    off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = cc_get_u32(req->body + off);
        items[i].bin = req->body + off + BATCH_FRAME_BYTES;
        items[i].bin_len = len;
        off += BATCH_FRAME_BYTES + len;
    }
    *out = items;
    *count = n;
    return CC_OK;
}

/* Point items at the entries of {"txs": [...]} (valid while doc lives). */
static cc_err items_from_json(const json_t *doc, cc_admit_item **out, size_t *count, cc_errbuf *eb)
{
    const json_t *txs = json_object_get(doc, "txs");
    cc_admit_item *items = NULL;
    if (!json_is_array(txs)) return cc_errf(eb, CC_ERR_MALFORMED, "expected {\"txs\": [...]}");
    size_t n = json_array_size(txs);
    if (n > CC_HTTP_BATCH_MAX_TXS)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "a batch holds at most %d txs", CC_HTTP_BATCH_MAX_TXS);
    if (n > 0 && !(items = calloc(n, sizeof *items)))
        return cc_errf(eb, CC_ERR_NOMEM, "no memory for the batch");
    for (size_t i = 0; i < n; i++) (void)item_from_json(json_array_get(txs, i), &items[i]);
    *out = items;
    *count = n;
    return CC_OK;
}

enum MHD_Result cc_http_post_txs(cc_http_req *req)
{
    cc_admit_item *items = NULL;
    size_t n = 0, accepted = 0, len = 0;
    json_t *doc = NULL;
    cc_errbuf eb = {{0}};
    cc_strbuf sb = {0};
    bool wait;
    cc_err err;
    enum MHD_Result rc;

    if (!parse_wait(req, &wait))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "wait must be \"commit\"");
    if (body_is_json(req)) {
        doc = cc_json_parse(req->body, req->body_len, &eb);
        if (!doc)
            return cc_http_send_error(req, CC_ERR_MALFORMED, NULL, "body is not valid JSON: %s", eb.msg);
        err = items_from_json(doc, &items, &n, &eb);
    } else {
        err = items_from_frames(req, &items, &n, &eb);
    }
    if (err != CC_OK) {
        rc = cc_http_send_error(req, err, NULL, "%s", eb.msg);
        goto out;
    }

    /* Entries without the right shape already carry their error; admission
     * leaves them alone. */
    accepted = cc_admit_run(req->node, items, n, wait);

    cc_strbuf_reserve(&sb, 64 + n * (wait ? 160 : 96));
    cc_strbuf_puts(&sb, "{\"accepted\":");
    cc_strbuf_u64(&sb, accepted);
    cc_strbuf_puts(&sb, ",\"rejected\":");
    cc_strbuf_u64(&sb, n - accepted);
    cc_strbuf_puts(&sb, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) cc_strbuf_puts(&sb, ",");
        if (items[i].err == CC_OK)
            put_accepted(&sb, &items[i], wait);
        else
            put_rejected(&sb, &items[i]);
    }
    cc_strbuf_puts(&sb, "]}");
    char *body = cc_strbuf_take(&sb, &len);
    rc = cc_http_send(req, MHD_HTTP_OK, "application/json", body, len);
out:
    free(items);
    json_decref(doc);
    return rc;
}
