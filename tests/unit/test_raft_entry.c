/*
 * test_raft_entry.c — the raft command entry (src/node/raft_entry.h): a
 * block and its attachments round-trip, and every malformed entry a peer
 * could send is refused without reading past its end.
 */
#include <raft.h>

#include "node/raft_entry.h"
#include "unit_support.h"

#define TXS 3

typedef struct entry_case {
    cc_tx txs[TXS];
    cc_header h;
    uint8_t *e; /* raft_malloc'd */
    size_t len;
} entry_case;

/* Three txs, the second with a 100-byte attachment, as one entry. */
static void entry_make(entry_case *c)
{
    static const uint8_t chain[CC_HASH_BYTES] = {1};
    uint8_t att[100];
    cc_key k;
    cc_errbuf eb = {""};
    memset(c, 0, sizeof *c);
    memset(att, 0xa5, sizeof att);
    ut_key(4, &k);
    for (int i = 0; i < TXS; i++) {
        char payload[96];
        snprintf(payload, sizeof payload, "{\"kind\":\"doc\",\"sha256\":\"%064d\"}", i);
        cc_tx_params p = {.chain_id = chain,
                          .type = "note.put",
                          .payload = payload,
                          .payload_len = strlen(payload),
                          .created_ms = 1764000000000ULL,
                          .expiry_ms = 1764000060000ULL,
                          .nonce = (uint64_t)i,
                          .attachment = i == 1 ? att : NULL,
                          .attachment_len = i == 1 ? sizeof att : 0};
        if (cc_tx_create(&p, &k, &c->txs[i], &eb) != CC_OK) fail_msg("cc_tx_create: %s", eb.msg);
    }
    c->h.version = CC_BLOCK_VERSION;
    c->h.height = 12;
    c->h.time_ms = 1764000000500ULL;
    c->h.tx_count = TXS;
    ut_key(1, &k);
    cc_header_sign(&c->h, &k);
    assert_int_equal(cc_raft_entry_encode(&c->h, c->txs, TXS, &c->e, &c->len), CC_OK);
}

static void entry_free(entry_case *c)
{
    for (int i = 0; i < TXS; i++) cc_tx_free(&c->txs[i]);
    raft_free(c->e);
}

/* Split, decode and attach e[0..len); the first error, or CC_OK with *b
 * filled (the caller frees it). */
static cc_err entry_read(const uint8_t *e, size_t len, cc_block *b)
{
    const uint8_t *blk;
    size_t blk_len;
    cc_reader atts;
    cc_errbuf eb = {""};
    memset(b, 0, sizeof *b);
    cc_err rc = cc_raft_entry_split(e, len, &blk, &blk_len, &atts, &eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_block_decode(blk, blk_len, b, &eb)) != CC_OK) return rc;
    if ((rc = cc_raft_entry_attach(&atts, b, &eb)) != CC_OK) cc_block_free(b);
    return rc;
}

static void test_round_trip(void **state)
{
    (void)state;
    entry_case c;
    cc_block b;
    entry_make(&c);
    assert_int_equal(c.len % CC_RAFT_ENTRY_ALIGN, 0);
    assert_int_equal(entry_read(c.e, c.len, &b), CC_OK);
    assert_int_equal(b.tx_count, TXS);
    for (int i = 0; i < TXS; i++) {
        assert_memory_equal(b.txs[i].txid, c.txs[i].txid, CC_HASH_BYTES);
        assert_int_equal(b.txs[i].attachment != NULL, i == 1);
    }
    assert_memory_equal(b.txs[1].attachment, c.txs[1].attachment, c.txs[1].attachment_len);
    uint8_t h1[CC_HASH_BYTES], h2[CC_HASH_BYTES];
    cc_header_hash(&c.h, h1);
    cc_header_hash(&b.h, h2);
    assert_memory_equal(h1, h2, CC_HASH_BYTES);
    cc_block_free(&b);

    /* a tx whose bytes this node does not hold travels without them */
    free(c.txs[1].attachment);
    c.txs[1].attachment = NULL;
    raft_free(c.e);
    assert_int_equal(cc_raft_entry_encode(&c.h, c.txs, TXS, &c.e, &c.len), CC_OK);
    assert_int_equal(entry_read(c.e, c.len, &b), CC_OK);
    assert_true(b.txs[1].has_attachment && !b.txs[1].attachment);
    cc_block_free(&b);
    entry_free(&c);
}

/* Every proper prefix of an entry is refused (the padding alone aside). */
static void test_truncations(void **state)
{
    (void)state;
    entry_case c;
    cc_block b;
    entry_make(&c);
    size_t unpadded = c.len;
    while (c.e[unpadded - 1] == 0) unpadded--; /* the last attachment byte is 0xa5 */
    for (size_t n = 0; n < c.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees any over-read */
        memcpy(copy, c.e, n);
        cc_err rc = entry_read(copy, n, &b);
        if (n >= unpadded) {
            assert_int_equal(rc, CC_OK);
            cc_block_free(&b);
        } else if (rc == CC_OK) {
            fail_msg("a prefix of %zu of %zu bytes was read as an entry", n, c.len);
        }
        free(copy);
    }
    entry_free(&c);
}

/* Where an entry's attachment section starts, and its first record. */
static size_t atts_at(const entry_case *c)
{
    return 1 + 4 + cc_get_u32(c->e + 1);
}

static void test_refusals(void **state)
{
    (void)state;
    entry_case c;
    cc_block b;
    entry_make(&c);
    size_t at = atts_at(&c), rec = at + 4;
    uint8_t *e = malloc(c.len + CC_RAFT_ENTRY_ALIGN);

#define REFUSED(want, what)                                                                                  \
    do {                                                                                                     \
        cc_err rc_ = entry_read(e, len, &b);                                                                 \
        if (rc_ == CC_OK) cc_block_free(&b);                                                                 \
        if (rc_ != (want)) fail_msg("%s: %s, want %s", what, cc_err_name(rc_), cc_err_name(want));           \
        memcpy(e, c.e, c.len);                                                                               \
        len = c.len;                                                                                         \
    } while (0)

    size_t len = c.len;
    memcpy(e, c.e, c.len);
    e[0] = 2;
    REFUSED(CC_ERR_VERSION, "version 2");
    cc_put_u32(e + 1, CC_HEADER_BYTES - 1);
    REFUSED(CC_ERR_MALFORMED, "a block shorter than a header");
    cc_put_u32(e + 1, UINT32_MAX);
    REFUSED(CC_ERR_MALFORMED, "a block longer than the entry");
    cc_put_u32(e + at, 2);
    REFUSED(CC_ERR_MALFORMED, "two attachments counted, one there");
    cc_put_u32(e + rec, 0);
    REFUSED(CC_ERR_MALFORMED, "the attachment given to a tx without one");
    cc_put_u32(e + rec, TXS);
    REFUSED(CC_ERR_MALFORMED, "the attachment given to no tx");
    cc_put_u32(e + rec + 4, cc_get_u32(e + rec + 4) - 1);
    REFUSED(CC_ERR_MALFORMED, "an attachment one byte short");
    e[rec + 8] ^= 1;
    REFUSED(CC_ERR_ATTACHMENT, "an attachment that does not match its hash");
    e[c.len - 1] = 1;
    REFUSED(CC_ERR_MALFORMED, "padding that is not zero");
    memset(e + c.len, 0, CC_RAFT_ENTRY_ALIGN);
    len = c.len + CC_RAFT_ENTRY_ALIGN;
    REFUSED(CC_ERR_MALFORMED, "a whole padding block more");
#undef REFUSED

    /* the same attachment twice */
    size_t rec_len = 8 + c.txs[1].attachment_len, twice = at + 4 + 2 * rec_len;
    uint8_t *d = calloc(1, twice + CC_RAFT_ENTRY_ALIGN);
    memcpy(d, c.e, at);
    cc_put_u32(d + at, 2);
    memcpy(d + rec, c.e + rec, rec_len);
    memcpy(d + rec + rec_len, c.e + rec, rec_len);
    assert_int_equal(entry_read(d, twice, &b), CC_ERR_MALFORMED);
    free(d);
    free(e);
    entry_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("raft_entry", tests, NULL, NULL);
}
