/*
 * merkle.c — Merkle tree hashes, audit paths and their verification, in the
 * shape of RFC 6962 / RFC 9162 (domain-separated leaves and nodes, left-
 * balanced trees of any size).
 *
 * The tree code reads perfect subtrees through a cc_merkle_source, so the
 * same functions serve a block's txs (an array in memory) and the history of
 * block hashes (perfect subtrees stored in LMDB, O(log n) reads per path).
 */
#include <string.h>

#include <sodium.h>

#include "carechain.h"

void cc_merkle_leaf(const uint8_t *data, size_t len, uint8_t out[CC_HASH_BYTES])
{
    static const uint8_t prefix = 0x00;
    const cc_span parts[] = {{&prefix, 1}, {data, len}};
    cc_sha256_parts(parts, 2, out);
}

void cc_merkle_node(const uint8_t left[CC_HASH_BYTES], const uint8_t right[CC_HASH_BYTES],
                    uint8_t out[CC_HASH_BYTES])
{
    uint8_t buf[1 + 2 * CC_HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, left, CC_HASH_BYTES);
    memcpy(buf + 1 + CC_HASH_BYTES, right, CC_HASH_BYTES);
    cc_sha256(buf, sizeof buf, out);
}

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k << 1 < n) k <<= 1;
    return k;
}

static bool is_pow2(uint64_t n)
{
    return n && !(n & (n - 1));
}

static unsigned log2_u64(uint64_t n)
{
    unsigned l = 0;
    while (n >>= 1) l++;
    return l;
}

/* MTH of leaves [lo, lo + size); every call site keeps lo aligned so that
 * perfect ranges are whole subtrees of the source. */
static cc_err subtree_hash(const cc_merkle_source *src, uint64_t lo, uint64_t size,
                           uint8_t out[CC_HASH_BYTES])
{
    if (size == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return CC_OK;
    }
    if (is_pow2(size)) {
        unsigned level = log2_u64(size);
        return src->get(src->ctx, level, lo >> level, out);
    }
    uint64_t k = split_point(size);
    uint8_t l[CC_HASH_BYTES], r[CC_HASH_BYTES];
    cc_err rc = subtree_hash(src, lo, k, l);
    if (rc == CC_OK) rc = subtree_hash(src, lo + k, size - k, r);
    if (rc == CC_OK) cc_merkle_node(l, r, out);
    return rc;
}

cc_err cc_merkle_root_src(const cc_merkle_source *src, uint64_t size, uint8_t out[CC_HASH_BYTES])
{
    return subtree_hash(src, 0, size, out);
}

/* PATH(m, D[lo:lo+size]) of RFC 6962 2.1.1, appended deepest first. */
static cc_err path_rec(const cc_merkle_source *src, uint64_t m, uint64_t lo, uint64_t size,
                       uint8_t path[][CC_HASH_BYTES], size_t *len)
{
    if (size <= 1) return CC_OK;
    uint64_t k = split_point(size);
    cc_err rc;
    if (m < lo + k) {
        rc = path_rec(src, m, lo, k, path, len);
        if (rc == CC_OK) rc = subtree_hash(src, lo + k, size - k, path[(*len)++]);
    } else {
        rc = path_rec(src, m, lo + k, size - k, path, len);
        if (rc == CC_OK) rc = subtree_hash(src, lo, k, path[(*len)++]);
    }
    return rc;
}

cc_err cc_merkle_path_src(const cc_merkle_source *src, uint64_t size, uint64_t index,
                          uint8_t path[][CC_HASH_BYTES], size_t *path_len)
{
    *path_len = 0;
    if (index >= size) return CC_ERR_NOT_FOUND;
    return path_rec(src, index, 0, size, path, path_len);
}

/* In-memory source: leaves is an array of leaf hashes. */
static cc_err array_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES])
{
    const uint8_t(*leaves)[CC_HASH_BYTES] = ctx;
    if (level == 0) {
        memcpy(out, leaves[index], CC_HASH_BYTES);
        return CC_OK;
    }
    uint8_t l[CC_HASH_BYTES], r[CC_HASH_BYTES];
    array_get(ctx, level - 1, 2 * index, l);
    array_get(ctx, level - 1, 2 * index + 1, r);
    cc_merkle_node(l, r, out);
    return CC_OK;
}

void cc_merkle_root(const uint8_t (*leaves)[CC_HASH_BYTES], size_t n, uint8_t out[CC_HASH_BYTES])
{
    cc_merkle_source src = {(void *)leaves, array_get};
    (void)cc_merkle_root_src(&src, n, out); /* the array source cannot fail */
}

cc_err cc_merkle_path(const uint8_t (*leaves)[CC_HASH_BYTES], size_t n, size_t index,
                      uint8_t path[][CC_HASH_BYTES], size_t *path_len)
{
    cc_merkle_source src = {(void *)leaves, array_get};
    return cc_merkle_path_src(&src, n, index, path, path_len);
}

bool cc_merkle_verify(const uint8_t leaf[CC_HASH_BYTES], uint64_t index, uint64_t size,
                      const uint8_t path[][CC_HASH_BYTES], size_t path_len, const uint8_t root[CC_HASH_BYTES])
{
    if (index >= size || path_len > CC_MERKLE_PATH_MAX) return false;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[CC_HASH_BYTES];
    memcpy(r, leaf, CC_HASH_BYTES);
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0) return false;
        if ((fn & 1) || fn == sn) {
            cc_merkle_node(path[i], r, r);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) fn >>= 1, sn >>= 1;
        } else {
            cc_merkle_node(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, CC_HASH_BYTES) == 0;
}

cc_err cc_merkle_append(const cc_merkle_source *src, uint64_t index, const uint8_t leaf[CC_HASH_BYTES],
                        cc_err (*put)(void *ctx, unsigned level, uint64_t index,
                                      const uint8_t h[CC_HASH_BYTES]),
                        void *put_ctx)
{
    uint8_t h[CC_HASH_BYTES], sibling[CC_HASH_BYTES];
    unsigned level = 0;
    cc_err rc = put(put_ctx, 0, index, leaf);
    memcpy(h, leaf, CC_HASH_BYTES);
    while (rc == CC_OK && (index & 1)) {
        rc = src->get(src->ctx, level, index - 1, sibling);
        if (rc != CC_OK) break;
        cc_merkle_node(sibling, h, h);
        level++;
        index >>= 1;
        rc = put(put_ctx, level, index, h);
    }
    return rc;
}
