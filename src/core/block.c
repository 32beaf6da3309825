/*
 * block.c — block headers, block encoding, tx and result Merkle leaves, and
 * checkpoint signatures.
 *
 * Header layout (CC_HEADER_BYTES = 341; integers big-endian):
 *   u8 version | 32 chain id | u64 height | 32 prev hash | u64 time_ms |
 *   u32 tx_count | 32 tx root | 32 results root | 32 state root |
 *   32 blocks root | 32 proposer | 64 signature
 * Block hash = SHA-256(header without the signature). The proposer signs
 * "carechain/block/v1" || block hash. A block is the header, u32 count, and
 * count times (u32 len || tx encoding).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain.h"
#include "core/codec.h"

#define HEADER_UNSIGNED_BYTES (CC_HEADER_BYTES - CC_SIG_BYTES)
static const char block_domain[] = "carechain/block/v1";
static const char checkpoint_domain[] = "carechain/checkpoint/v2";
static const char members_domain[] = "carechain/members/v1";

void cc_header_encode(const cc_header *h, uint8_t out[CC_HEADER_BYTES])
{
    uint8_t *p = out;
    *p++ = h->version;
    memcpy(p, h->chain_id, 32), p += 32;
    cc_put_u64(p, h->height), p += 8;
    memcpy(p, h->prev_hash, 32), p += 32;
    cc_put_u64(p, h->time_ms), p += 8;
    cc_put_u32(p, h->tx_count), p += 4;
    memcpy(p, h->tx_root, 32), p += 32;
    memcpy(p, h->results_root, 32), p += 32;
    memcpy(p, h->state_root, 32), p += 32;
    memcpy(p, h->blocks_root, 32), p += 32;
    memcpy(p, h->proposer, 32), p += 32;
    memcpy(p, h->sig, 64);
}

cc_err cc_header_decode(const uint8_t *buf, size_t len, cc_header *h, cc_errbuf *eb)
{
    cc_reader r = {buf, len};
    memset(h, 0, sizeof *h);
    if (len < CC_HEADER_BYTES)
        return cc_errf(eb, CC_ERR_MALFORMED, "block header is truncated (%zu bytes)", len);
    cc_take_u8(&r, &h->version);
    if (h->version != CC_BLOCK_VERSION)
        return cc_errf(eb, CC_ERR_VERSION, "block version %u is not supported", h->version);
    cc_take_copy(&r, h->chain_id, 32);
    cc_take_u64(&r, &h->height);
    cc_take_copy(&r, h->prev_hash, 32);
    cc_take_u64(&r, &h->time_ms);
    cc_take_u32(&r, &h->tx_count);
    cc_take_copy(&r, h->tx_root, 32);
    cc_take_copy(&r, h->results_root, 32);
    cc_take_copy(&r, h->state_root, 32);
    cc_take_copy(&r, h->blocks_root, 32);
    cc_take_copy(&r, h->proposer, 32);
    cc_take_copy(&r, h->sig, 64);
    if (len != CC_HEADER_BYTES)
        return cc_errf(eb, CC_ERR_MALFORMED, "%zu trailing bytes after the header", len - CC_HEADER_BYTES);
    return CC_OK;
}

void cc_header_hash(const cc_header *h, uint8_t out[CC_HASH_BYTES])
{
    uint8_t buf[CC_HEADER_BYTES];
    cc_header_encode(h, buf);
    cc_sha256(buf, HEADER_UNSIGNED_BYTES, out);
}

static void block_message(const cc_header *h, uint8_t msg[sizeof block_domain - 1 + CC_HASH_BYTES])
{
    memcpy(msg, block_domain, sizeof block_domain - 1);
    cc_header_hash(h, msg + sizeof block_domain - 1);
}

void cc_header_sign(cc_header *h, const cc_key *key)
{
    uint8_t msg[sizeof block_domain - 1 + CC_HASH_BYTES];
    memcpy(h->proposer, key->pk, CC_PUBKEY_BYTES);
    block_message(h, msg);
    crypto_sign_detached(h->sig, NULL, msg, sizeof msg, key->sk);
}

bool cc_header_verify_sig(const cc_header *h)
{
    uint8_t msg[sizeof block_domain - 1 + CC_HASH_BYTES];
    block_message(h, msg);
    return crypto_sign_verify_detached(h->sig, msg, sizeof msg, h->proposer) == 0;
}

cc_err cc_block_encode(const cc_block *b, uint8_t **out, size_t *len)
{
    size_t n = CC_HEADER_BYTES + 4;
    for (size_t i = 0; i < b->tx_count; i++) n += 4 + b->txs[i].raw_len;
    uint8_t *buf = malloc(n), *p = buf;
    if (!buf) return CC_ERR_NOMEM;
    cc_header_encode(&b->h, p), p += CC_HEADER_BYTES;
    cc_put_u32(p, (uint32_t)b->tx_count), p += 4;
    for (size_t i = 0; i < b->tx_count; i++) {
        cc_put_u32(p, b->txs[i].raw_len), p += 4;
        memcpy(p, b->txs[i].raw, b->txs[i].raw_len), p += b->txs[i].raw_len;
    }
    *out = buf;
    *len = n;
    return CC_OK;
}

void cc_block_free(cc_block *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->tx_count; i++) cc_tx_free(&b->txs[i]);
    free(b->txs);
    memset(b, 0, sizeof *b);
}

cc_err cc_block_decode(const uint8_t *buf, size_t len, cc_block *b, cc_errbuf *eb)
{
    cc_reader r = {buf, len};
    uint32_t count = 0;
    cc_err rc;
    memset(b, 0, sizeof *b);
    if (len < CC_HEADER_BYTES + 4)
        return cc_errf(eb, CC_ERR_MALFORMED, "block is truncated (%zu bytes)", len);
    rc = cc_header_decode(buf, CC_HEADER_BYTES, &b->h, eb);
    if (rc != CC_OK) return rc;
    cc_take(&r, CC_HEADER_BYTES);
    cc_take_u32(&r, &count);
    if (count != b->h.tx_count || count == 0 || count > CC_BLOCK_MAX_TXS)
        return cc_errf(eb, CC_ERR_MALFORMED, "block holds %u txs but its header says %u (1..%d allowed)",
                       count, b->h.tx_count, CC_BLOCK_MAX_TXS);
    b->txs = calloc(count, sizeof *b->txs);
    if (!b->txs) return cc_errf(eb, CC_ERR_NOMEM, "out of memory for the block's %u txs", count);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = 0;
        const uint8_t *p;
        if (!cc_take_u32(&r, &n) || !(p = cc_take(&r, n))) {
            rc = cc_errf(eb, CC_ERR_MALFORMED, "block is truncated in tx %u", i);
            goto err;
        }
        cc_errbuf txe = {{0}};
        rc = cc_tx_decode(p, n, &b->txs[i], &txe);
        if (rc != CC_OK) {
            cc_errf(eb, rc, "tx %u of the block: %s", i, txe.msg);
            goto err;
        }
        b->tx_count = i + 1;
    }
    if (r.left != 0) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%zu trailing bytes after the block", r.left);
        goto err;
    }
    return CC_OK;
err:
    cc_block_free(b);
    return rc;
}

/* The tx count an encoded block declares, with r left at its first tx. */
static bool take_tx_count(cc_reader *r, uint32_t *count)
{
    return cc_take(r, CC_HEADER_BYTES) && cc_take_u32(r, count) && *count <= CC_BLOCK_MAX_TXS;
}

/* Walk an encoded block's framing: each tx's bytes go to fn (which stops
 * the walk by returning false). CC_ERR_MALFORMED when the framing is broken. */
static cc_err walk_txs(const uint8_t *buf, size_t len, uint32_t *count,
                       bool (*fn)(void *ctx, uint32_t i, const uint8_t *tx, uint32_t tx_len), void *ctx)
{
    cc_reader r = {buf, len};
    if (!take_tx_count(&r, count)) return CC_ERR_MALFORMED;
    for (uint32_t i = 0; i < *count; i++) {
        uint32_t tx_len = 0;
        const uint8_t *tx;
        if (!cc_take_u32(&r, &tx_len) || !(tx = cc_take(&r, tx_len))) return CC_ERR_MALFORMED;
        if (!fn(ctx, i, tx, tx_len)) break;
    }
    return CC_OK;
}

static bool hash_each(void *ctx, uint32_t i, const uint8_t *tx, uint32_t tx_len)
{
    uint8_t(*ids)[CC_HASH_BYTES] = ctx;
    cc_sha256(tx, tx_len, ids[i]); /* the txid: SHA-256 of the tx as signed and stored */
    return true;
}

cc_err cc_block_txids(const uint8_t *buf, size_t len, uint8_t (**out)[CC_HASH_BYTES], size_t *n)
{
    uint32_t count = 0;
    *out = NULL;
    *n = 0;
    cc_reader r = {buf, len};
    if (!take_tx_count(&r, &count)) return CC_ERR_MALFORMED; /* to size ids */
    uint8_t(*ids)[CC_HASH_BYTES] = malloc((count ? count : 1) * sizeof *ids);
    if (!ids) return CC_ERR_NOMEM;
    cc_err rc = walk_txs(buf, len, &count, hash_each, ids);
    if (rc != CC_OK) {
        free(ids);
        return rc;
    }
    *out = ids;
    *n = count;
    return CC_OK;
}

typedef struct one_txid {
    uint32_t index;
    bool found;
    uint8_t *out;
} one_txid;

static bool hash_one(void *ctx, uint32_t i, const uint8_t *tx, uint32_t tx_len)
{
    one_txid *o = ctx;
    if (i != o->index) return true;
    cc_sha256(tx, tx_len, o->out);
    o->found = true;
    return false;
}

cc_err cc_block_txid_at(const uint8_t *buf, size_t len, uint32_t index, uint8_t out[CC_HASH_BYTES])
{
    uint32_t count = 0;
    one_txid o = {index, false, out};
    cc_err rc = walk_txs(buf, len, &count, hash_one, &o);
    if (rc != CC_OK) return rc;
    return o.found ? CC_OK : CC_ERR_NOT_FOUND;
}

void cc_block_tx_root(const cc_tx *txs, size_t n, uint8_t out[CC_HASH_BYTES])
{
    uint8_t(*leaves)[CC_HASH_BYTES] = malloc((n ? n : 1) * CC_HASH_BYTES);
    if (!leaves) abort(); /* at most CC_BLOCK_MAX_TXS * 32 bytes */
    for (size_t i = 0; i < n; i++) cc_merkle_leaf(txs[i].txid, CC_HASH_BYTES, leaves[i]);
    cc_merkle_root((const uint8_t(*)[CC_HASH_BYTES])leaves, n, out);
    free(leaves);
}

void cc_result_leaf(const uint8_t txid[CC_HASH_BYTES], const cc_result *r, uint8_t out[CC_HASH_BYTES])
{
    uint8_t buf[1 + CC_HASH_BYTES + 2 + 2 + CC_RESULT_MSG_MAX];
    size_t mlen = strnlen(r->message, CC_RESULT_MSG_MAX);
    buf[0] = 0x00;
    memcpy(buf + 1, txid, CC_HASH_BYTES);
    cc_put_u16(buf + 1 + CC_HASH_BYTES, r->code);
    cc_put_u16(buf + 3 + CC_HASH_BYTES, (uint16_t)mlen);
    memcpy(buf + 5 + CC_HASH_BYTES, r->message, mlen);
    cc_sha256(buf, 5 + CC_HASH_BYTES + mlen, out);
}

void cc_members_hash(const uint8_t (*keys)[CC_PUBKEY_BYTES], size_t n, uint8_t out[CC_HASH_BYTES])
{
    uint8_t head[sizeof members_domain - 1 + 4];
    memcpy(head, members_domain, sizeof members_domain - 1);
    cc_put_u32(head + sizeof members_domain - 1, (uint32_t)n);
    cc_span parts[] = {{head, sizeof head}, {(const uint8_t *)keys, n * CC_PUBKEY_BYTES}};
    cc_sha256_parts(parts, 2, out);
}

/* Format 1 named no nodes, and only the genesis nodes signed it. Nodes
 * sign v2 only; proofs saved before it still carry v1 signatures. */
static const char checkpoint_v1_domain[] = "carechain/checkpoint/v1";

#define CHECKPOINT_MSG_BYTES (sizeof checkpoint_domain - 1 + 32 + 8 + 32 + 32 + 32)

/* The message into msg (CHECKPOINT_MSG_BYTES): domain || chain id || u64
 * height || block hash || state root, then the members hash unless members
 * is NULL (v1). Returns its length. */
static size_t checkpoint_message(const char *domain, const cc_header *h, const uint8_t *members, uint8_t *msg)
{
    uint8_t *p = msg;
    size_t n = strlen(domain);
    memcpy(p, domain, n), p += n;
    memcpy(p, h->chain_id, 32), p += 32;
    cc_put_u64(p, h->height), p += 8;
    cc_header_hash(h, p), p += 32;
    memcpy(p, h->state_root, 32), p += 32;
    if (members) memcpy(p, members, 32), p += 32;
    return (size_t)(p - msg);
}

void cc_checkpoint_sign(const cc_header *h, const uint8_t members[CC_HASH_BYTES], const cc_key *node_key,
                        cc_checkpoint_sig *out)
{
    uint8_t msg[CHECKPOINT_MSG_BYTES];
    size_t n = checkpoint_message(checkpoint_domain, h, members, msg);
    memcpy(out->node, node_key->pk, CC_PUBKEY_BYTES);
    crypto_sign_detached(out->sig, NULL, msg, n, node_key->sk);
}

bool cc_checkpoint_verify(const cc_header *h, const uint8_t members[CC_HASH_BYTES],
                          const cc_checkpoint_sig *s)
{
    uint8_t msg[CHECKPOINT_MSG_BYTES];
    size_t n = checkpoint_message(checkpoint_domain, h, members, msg);
    return crypto_sign_verify_detached(s->sig, msg, n, s->node) == 0;
}

bool cc_checkpoint_verify_v1(const cc_header *h, const cc_checkpoint_sig *s)
{
    uint8_t msg[CHECKPOINT_MSG_BYTES];
    size_t n = checkpoint_message(checkpoint_v1_domain, h, NULL, msg);
    return crypto_sign_verify_detached(s->sig, msg, n, s->node) == 0;
}
