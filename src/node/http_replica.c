/*
 * node/http_replica.c — what nodes fetch from each other to catch up
 * (docs/CONSENSUS.md "Snapshots and catch-up"): GET /v1/blocks/raw?from=H&count=N,
 * stored blocks in a row, and GET /v1/attachments/{sha256}, the bytes of an
 * attachment, to nodes only.
 *
 * Attachment bytes are record ciphertext: reading them as a person goes
 * through GET /v1/records/{id}, which is authenticated and audited. Here
 * only a signed request by an active node identity (role node) is served,
 * the way raft entries carry the same bytes between nodes; it leaves no
 * audit event (no person reads anything).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/http.h"
#include "core/codec.h"
#include "node/reqauth.h"

#define RANGE_DEFAULT_COUNT 64

/* ?name as a positive integer into *out (absent: *out unchanged). */
static bool query_u64(cc_http_req *req, const char *name, uint64_t *out)
{
    const char *s = cc_http_query(req, name);
    return !s || cc_http_parse_u64(s, 1, UINT64_MAX, out);
}

enum MHD_Result cc_http_get_blocks_raw(cc_http_req *req)
{
    cc_chain *chain = req->node->chain;
    uint64_t from = 0, count = RANGE_DEFAULT_COUNT;
    cc_head head;
    if (!cc_http_query(req, "from") || !query_u64(req, "from", &from) || !query_u64(req, "count", &count) ||
        count > CC_BLOCK_RANGE_MAX)
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "want ?from=H (>= 1)[&count=1..%d]",
                                  CC_BLOCK_RANGE_MAX);
    cc_chain_head(chain, &head);
    if (from > head.height)
        return cc_http_send_error(req, CC_ERR_NOT_FOUND, NULL,
                                  "no block at height %llu on this node (its head is %llu)",
                                  (unsigned long long)from, (unsigned long long)head.height);
    size_t len = 0, cap = 0;
    uint8_t *body = NULL;
    for (uint64_t h = from; h <= head.height && h < from + count; h++) {
        uint8_t *raw = NULL;
        size_t n = 0;
        cc_err rc = cc_chain_block_raw(chain, h, &raw, &n);
        if (rc != CC_OK) {
            free(body);
            return cc_http_send_error(req, rc, NULL, "cannot read block %llu", (unsigned long long)h);
        }
        if (len > 0 && len + 4 + n > CC_BLOCK_RANGE_BYTES) { /* full: the client asks again from here */
            free(raw);
            break;
        }
        if (len + 4 + n > cap) {
            size_t want = 2 * (len + 4 + n);
            uint8_t *more = realloc(body, want);
            if (!more) {
                free(raw);
                free(body);
                return cc_http_send_error(req, CC_ERR_NOMEM, NULL, "out of memory");
            }
            body = more;
            cap = want;
        }
        cc_put_u32(body + len, (uint32_t)n);
        memcpy(body + len + 4, raw, n);
        len += 4 + n;
        free(raw);
    }
    return cc_http_send(req, MHD_HTTP_OK, "application/octet-stream", (char *)body, len);
}

enum MHD_Result cc_http_get_attachment(cc_http_req *req)
{
    cc_chain *chain = req->node->chain;
    uint8_t hash[CC_HASH_BYTES], *bytes = NULL;
    size_t len = 0;
    cc_chain_view *view = NULL;
    cc_reqauth who;
    cc_errbuf eb = {{0}};

    if (strlen(req->arg) != 2 * CC_HASH_BYTES || cc_unhex(req->arg, hash, sizeof hash) != CC_OK)
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "want /v1/attachments/<64 hex: SHA-256>");
    cc_err rc = cc_chain_view_open(chain, &view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the state");
    rc = cc_reqauth_check(req, view, &who, &eb);
    cc_chain_view_close(view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "%s", eb.msg);
    if (!(who.role & CC_ROLE_NODE))
        return cc_http_send_error(req, CC_ERR_FORBIDDEN, NULL,
                                  "only nodes fetch attachment bytes; people read records through "
                                  "GET /v1/records/{id}");
    rc = cc_chain_attachment(chain, hash, &bytes, &len);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, rc, NULL,
                                  "this node holds no such attachment (never stored, or erased)");
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the attachment");
    return cc_http_send(req, MHD_HTTP_OK, "application/octet-stream", (char *)bytes, len);
}
