/*
 * fuzz_block.c — libFuzzer target for the block decoder. A node decodes
 * blocks that reach it from peers (raft entries, catch-up ranges, the
 * blocks a restoring leader fetches) and from backups before it checks a
 * signature, so on arbitrary bytes:
 *   - cc_block_decode, cc_block_txids and cc_block_txid_at must not crash,
 *     and a refusal says why;
 *   - an accepted block has exactly one encoding: encoding it again gives
 *     the input, byte for byte;
 *   - the framing-only readers agree with the full decode: the same txids
 *     in the same order, and CC_ERR_NOT_FOUND past the last tx;
 *   - the header alone decodes to the block's header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_block b;
    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    memset(&b, 0, sizeof b);

    /* The framing readers run on every input: they read stored blocks
     * without decoding the txs. */
    uint8_t(*ids)[CC_HASH_BYTES] = NULL;
    size_t nids = 0;
    cc_err framing = cc_block_txids(data, size, &ids, &nids);
    uint8_t one[CC_HASH_BYTES];
    cc_err first = cc_block_txid_at(data, size, 0, one);
    if (framing == CC_OK && nids > 0) CHECK(first == CC_OK && memcmp(one, ids[0], CC_HASH_BYTES) == 0);

    cc_err rc = cc_block_decode(data, size, &b, &eb);
    if (rc != CC_OK) {
        CHECK(eb.msg[0] != '\0' && memchr(eb.msg, 0, sizeof eb.msg) != NULL);
        free(ids);
        return 0;
    }

    uint8_t *again = NULL;
    size_t again_len = 0;
    CHECK(cc_block_encode(&b, &again, &again_len) == CC_OK);
    CHECK(again_len == size && memcmp(again, data, size) == 0);
    free(again);

    CHECK(b.tx_count == b.h.tx_count);
    CHECK(framing == CC_OK && nids == b.tx_count);
    for (size_t i = 0; i < b.tx_count; i++) {
        CHECK(memcmp(ids[i], b.txs[i].txid, CC_HASH_BYTES) == 0);
        CHECK(cc_block_txid_at(data, size, (uint32_t)i, one) == CC_OK);
        CHECK(memcmp(one, b.txs[i].txid, CC_HASH_BYTES) == 0);
    }
    CHECK(cc_block_txid_at(data, size, (uint32_t)b.tx_count, one) == CC_ERR_NOT_FOUND);

    cc_header h;
    CHECK(cc_header_decode(data, CC_HEADER_BYTES, &h, NULL) == CC_OK);
    uint8_t hash_a[CC_HASH_BYTES], hash_b[CC_HASH_BYTES];
    cc_header_hash(&h, hash_a);
    cc_header_hash(&b.h, hash_b);
    CHECK(memcmp(hash_a, hash_b, CC_HASH_BYTES) == 0 && memcmp(h.sig, b.h.sig, CC_SIG_BYTES) == 0);

    free(ids);
    cc_block_free(&b);
    return 0;
}
