/*
 * fuzz_entry.c — libFuzzer target for the raft command entry
 * (src/node/raft_entry.h). Every node reads the entries raft replicates to
 * it (a block and its txs' attachments) before it checks a signature, so
 * on arbitrary bytes:
 *   - splitting, decoding the block and attaching must not crash, and a
 *     refusal says why;
 *   - an accepted entry's attachments each belong to a tx that names one,
 *     with the bytes whose hash it signs;
 *   - encoding what was read gives an entry that reads back to the same
 *     txids and attachments, and encoding that again gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "fuzz/fuzz.h"
#include "node/raft_entry.h"

/* Split, decode, attach; CC_OK with *b filled (caller frees). */
static cc_err entry_read(const uint8_t *e, size_t len, cc_block *b, cc_errbuf *eb)
{
    const uint8_t *blk;
    size_t blk_len;
    cc_reader atts;
    memset(b, 0, sizeof *b);
    cc_err rc = cc_raft_entry_split(e, len, &blk, &blk_len, &atts, eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_block_decode(blk, blk_len, b, eb)) != CC_OK) return rc;
    if ((rc = cc_raft_entry_attach(&atts, b, eb)) != CC_OK) cc_block_free(b);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cc_block b, again;
    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    if (entry_read(data, size, &b, &eb) != CC_OK) {
        CHECK(eb.msg[0] != '\0' && memchr(eb.msg, 0, sizeof eb.msg) != NULL);
        return 0;
    }
    for (size_t i = 0; i < b.tx_count; i++) {
        const cc_tx *t = &b.txs[i];
        if (!t->attachment) continue;
        uint8_t sum[CC_HASH_BYTES];
        cc_sha256(t->attachment, t->attachment_len, sum);
        CHECK(t->has_attachment && memcmp(sum, t->attachment_hash, CC_HASH_BYTES) == 0);
    }

    uint8_t *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    CHECK(cc_raft_entry_encode(&b.h, b.txs, b.tx_count, &e1, &l1) == CC_OK);
    CHECK(l1 % CC_RAFT_ENTRY_ALIGN == 0);
    CHECK(entry_read(e1, l1, &again, &eb) == CC_OK);
    CHECK(again.tx_count == b.tx_count);
    for (size_t i = 0; i < b.tx_count; i++) {
        const cc_tx *x = &b.txs[i], *y = &again.txs[i];
        CHECK(memcmp(x->txid, y->txid, CC_HASH_BYTES) == 0);
        CHECK((x->attachment == NULL) == (y->attachment == NULL));
        if (x->attachment) CHECK(memcmp(x->attachment, y->attachment, x->attachment_len) == 0);
    }
    CHECK(cc_raft_entry_encode(&again.h, again.txs, again.tx_count, &e2, &l2) == CC_OK);
    CHECK(l2 == l1 && memcmp(e1, e2, l1) == 0);
    raft_free(e1);
    raft_free(e2);
    cc_block_free(&again);
    cc_block_free(&b);
    return 0;
}
