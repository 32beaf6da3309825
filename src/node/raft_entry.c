/*
 * raft_entry.c — the raft command entry: one block and its txs'
 * attachment bytes (raft_entry.h has the layout).
 */
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "node/raft_entry.h"

#define HEAD_BYTES     (1 + 4) /* version, block length */
#define ATT_HEAD_BYTES (4 + 4) /* tx index, length */

cc_err cc_raft_entry_encode(const cc_header *h, cc_tx *txs, size_t n, uint8_t **out, size_t *len)
{
    cc_block b = {*h, txs, n};
    uint8_t *blk = NULL, *buf, *p;
    size_t blk_len = 0, total, atts = 0;
    cc_err rc = cc_block_encode(&b, &blk, &blk_len);
    if (rc != CC_OK) return rc;
    total = HEAD_BYTES + blk_len + 4;
    for (size_t i = 0; i < n; i++) {
        if (!txs[i].attachment) continue;
        total += ATT_HEAD_BYTES + txs[i].attachment_len;
        atts++;
    }
    total = (total + CC_RAFT_ENTRY_ALIGN - 1) / CC_RAFT_ENTRY_ALIGN * CC_RAFT_ENTRY_ALIGN;
    buf = raft_malloc(total);
    if (!buf) {
        free(blk);
        return CC_ERR_NOMEM;
    }
    memset(buf, 0, total);
    p = buf;
    *p++ = CC_RAFT_ENTRY_VERSION;
    cc_put_u32(p, (uint32_t)blk_len);
    memcpy(p + 4, blk, blk_len);
    p += 4 + blk_len;
    cc_put_u32(p, (uint32_t)atts);
    p += 4;
    for (size_t i = 0; i < n; i++) {
        if (!txs[i].attachment) continue;
        cc_put_u32(p, (uint32_t)i);
        cc_put_u32(p + 4, txs[i].attachment_len);
        memcpy(p + 8, txs[i].attachment, txs[i].attachment_len);
        p += ATT_HEAD_BYTES + txs[i].attachment_len;
    }
    free(blk);
    *out = buf;
    *len = total;
    return CC_OK;
}

cc_err cc_raft_entry_split(const uint8_t *e, size_t len, const uint8_t **blk, size_t *blk_len,
                           cc_reader *atts, cc_errbuf *eb)
{
    cc_reader r = {e, len};
    const uint8_t *v = cc_take(&r, HEAD_BYTES);
    if (!v) return cc_errf(eb, CC_ERR_MALFORMED, "entry of %zu bytes is too short", len);
    if (v[0] != CC_RAFT_ENTRY_VERSION)
        return cc_errf(eb, CC_ERR_VERSION, "entry version %u is unknown", v[0]);
    *blk_len = cc_get_u32(v + 1);
    *blk = cc_take(&r, *blk_len);
    if (!*blk || *blk_len < CC_HEADER_BYTES)
        return cc_errf(eb, CC_ERR_MALFORMED, "entry's block is truncated or too short");
    *atts = r;
    return CC_OK;
}

cc_err cc_raft_entry_attach(cc_reader *r, cc_block *b, cc_errbuf *eb)
{
    const uint8_t *c = cc_take(r, 4);
    if (!c) return cc_errf(eb, CC_ERR_MALFORMED, "entry has no attachment count");
    uint32_t count = cc_get_u32(c);
    for (uint32_t k = 0; k < count; k++) {
        const uint8_t *h = cc_take(r, ATT_HEAD_BYTES), *bytes;
        if (!h) return cc_errf(eb, CC_ERR_MALFORMED, "entry's attachment %u is truncated", k);
        uint32_t i = cc_get_u32(h), n = cc_get_u32(h + 4);
        if (!(bytes = cc_take(r, n)))
            return cc_errf(eb, CC_ERR_MALFORMED, "entry's attachment %u is truncated", k);
        if (i >= b->tx_count || !b->txs[i].has_attachment || b->txs[i].attachment ||
            n != b->txs[i].attachment_len)
            return cc_errf(eb, CC_ERR_MALFORMED, "entry's attachment %u does not belong to tx %u", k, i);
        uint8_t sum[CC_HASH_BYTES];
        cc_sha256(bytes, n, sum);
        if (memcmp(sum, b->txs[i].attachment_hash, CC_HASH_BYTES) != 0)
            return cc_errf(eb, CC_ERR_ATTACHMENT, "entry's attachment of tx %u does not match its hash", i);
        if (!(b->txs[i].attachment = malloc(n ? n : 1))) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        memcpy(b->txs[i].attachment, bytes, n);
    }
    if (r->left >= CC_RAFT_ENTRY_ALIGN)
        return cc_errf(eb, CC_ERR_MALFORMED, "entry has %zu trailing bytes", r->left);
    for (size_t i = 0; i < r->left; i++)
        if (r->p[i] != 0) return cc_errf(eb, CC_ERR_MALFORMED, "entry's padding is not zero");
    return CC_OK;
}
