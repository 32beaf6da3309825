/*
 * test_state.c — the state commitment is deterministic: independent of the
 * order of writes, equal on two independent stores that run the same
 * blocks, and sensitive to any change of any key or value.
 */
#include "unit_support.h"

#include "carechain/chain.h"

static void test_lthash_order_independent(void **state)
{
    (void)state;
    cc_lthash a, b, c;
    uint8_t ra[32], rb[32], rc[32];
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    const char *keys[] = {"id/1", "id/2", "note/x", "org/hospital", "z"};
    const char *vals[] = {"one", "two", "three", "four", ""};
    for (int i = 0; i < 5; i++)
        cc_lthash_add(&a, (const uint8_t *)keys[i], strlen(keys[i]), (const uint8_t *)vals[i],
                      strlen(vals[i]));
    for (int i = 4; i >= 0; i--)
        cc_lthash_add(&b, (const uint8_t *)keys[i], strlen(keys[i]), (const uint8_t *)vals[i],
                      strlen(vals[i]));
    cc_lthash_root(&a, ra);
    cc_lthash_root(&b, rb);
    assert_memory_equal(ra, rb, 32);

    /* removing every entry returns to the empty state */
    for (int i = 0; i < 5; i++)
        cc_lthash_sub(&a, (const uint8_t *)keys[i], strlen(keys[i]), (const uint8_t *)vals[i],
                      strlen(vals[i]));
    cc_lthash_root(&a, ra);
    cc_lthash_root(&c, rc);
    assert_memory_equal(ra, rc, 32);

    /* the key/value boundary matters: ("ab","c") differs from ("a","bc") */
    cc_lthash_add(&a, (const uint8_t *)"ab", 2, (const uint8_t *)"c", 1);
    cc_lthash_add(&c, (const uint8_t *)"a", 1, (const uint8_t *)"bc", 2);
    cc_lthash_root(&a, ra);
    cc_lthash_root(&c, rc);
    assert_memory_not_equal(ra, rc, 32);

    /* encode/decode round trip */
    uint8_t enc[CC_LTHASH_BYTES];
    cc_lthash d;
    cc_lthash_encode(&b, enc);
    cc_lthash_decode(enc, &d);
    assert_memory_equal(&d, &b, sizeof d);
}

/* Two stores, same genesis: blocks produced on A and applied on B give the
 * same state root at every height, and B refuses a block whose state root
 * was altered. */
static void test_two_stores_agree(void **state)
{
    (void)state;
    char *da = ut_tmpdir(), *db = ut_tmpdir(), *genesis = ut_genesis();
    cc_chain *a, *b;
    cc_key node, admin;
    cc_errbuf eb = {""};
    ut_key(1, &node);
    ut_key(2, &admin);
    assert_int_equal(cc_chain_open(da, (uint8_t *)genesis, strlen(genesis), NULL, &a, &eb), CC_OK);
    assert_int_equal(cc_chain_open(db, (uint8_t *)genesis, strlen(genesis), NULL, &b, &eb), CC_OK);
    const uint8_t *chain_id = cc_chain_genesis(a)->chain_id;
    for (int h = 1; h <= 5; h++) {
        cc_tx txs[4];
        cc_result ra[4], rb[4];
        cc_header hdr;
        for (int i = 0; i < 4; i++) {
            char payload[200];
            cc_key k;
            char hex[65];
            ut_key(20 + h * 4 + i, &k);
            if (i % 2)
                snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"researcher\"}",
                         cc_hex(k.pk, 32, hex));
            else
                snprintf(payload, sizeof payload, "{\"kind\":\"k\",\"sha256\":\"%064d\"}", h * 10 + i);
            ut_tx(&txs[i], chain_id, &admin, i % 2 ? "member.register" : "note.put", payload,
                  1764000000000ULL, (uint64_t)(h * 10 + i));
        }
        uint64_t t = 1764000000000ULL + (uint64_t)h;
        assert_int_equal(cc_chain_produce(a, txs, 4, t, &node, &hdr, ra, &eb), CC_OK);
        uint8_t *raw;
        size_t len;
        cc_block blk;
        assert_int_equal(cc_chain_block_raw(a, (uint64_t)h, &raw, &len), CC_OK);
        assert_int_equal(cc_block_decode(raw, len, &blk, NULL), CC_OK);
        if (h == 3) { /* a forged state root is refused, changes nothing, and halts the chain */
            cc_chain *x;
            char *dx = ut_tmpdir();
            assert_int_equal(cc_chain_open(dx, (uint8_t *)genesis, strlen(genesis), NULL, &x, &eb), CC_OK);
            for (uint64_t k = 1; k < 3; k++) {
                uint8_t *r2;
                size_t l2;
                cc_block b2;
                assert_int_equal(cc_chain_block_raw(a, k, &r2, &l2), CC_OK);
                assert_int_equal(cc_block_decode(r2, l2, &b2, NULL), CC_OK);
                assert_int_equal(cc_chain_apply(x, &b2, NULL, rb, &eb), CC_OK);
                cc_block_free(&b2);
                free(r2);
            }
            cc_block forged = blk;
            forged.h.state_root[0] ^= 1;
            cc_header_sign(&forged.h, &node);
            assert_int_equal(cc_chain_apply(x, &forged, NULL, rb, &eb), CC_ERR_VERIFY);
            assert_non_null(strstr(eb.msg, "state root"));
            cc_head hx;
            cc_chain_head(x, &hx);
            assert_int_equal(hx.height, 2);
            assert_true(cc_chain_halted(x, NULL, 0));
            json_t *ev = NULL;
            assert_int_equal(cc_chain_evidence_json(x, &ev), CC_OK);
            assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "kind")),
                                "divergence");
            json_decref(ev);
            assert_int_equal(cc_chain_apply(x, &blk, NULL, rb, &eb), CC_ERR_CONFLICT); /* halted */
            cc_chain_close(x);
            ut_rmdir(dx);
        }
        assert_int_equal(cc_chain_apply(b, &blk, NULL, rb, &eb), CC_OK);
        assert_memory_equal(ra, rb, sizeof ra);
        cc_head ha, hb;
        cc_chain_head(a, &ha);
        cc_chain_head(b, &hb);
        assert_int_equal(hb.height, (uint64_t)h);
        assert_memory_equal(ha.state_root, hb.state_root, 32);
        assert_memory_equal(ha.hash, hb.hash, 32);
        cc_block_free(&blk);
        free(raw);
        for (int i = 0; i < 4; i++) cc_tx_free(&txs[i]);
    }
    cc_chain_close(a);
    cc_chain_close(b);
    ut_rmdir(da);
    ut_rmdir(db);
    free(genesis);
}

/* A block built (not written) on one store applies on another and on
 * itself, with the same roots. */
static void test_build_then_apply(void **state)
{
    (void)state;
    char *da = ut_tmpdir(), *genesis = ut_genesis();
    cc_chain *a;
    cc_key node, admin;
    cc_errbuf eb = {""};
    cc_tx txs[3];
    cc_result built[3], applied[3];
    cc_header h;
    ut_key(1, &node);
    ut_key(2, &admin);
    assert_int_equal(cc_chain_open(da, (uint8_t *)genesis, strlen(genesis), NULL, &a, &eb), CC_OK);
    for (int i = 0; i < 3; i++) {
        char payload[160];
        snprintf(payload, sizeof payload, "{\"kind\":\"k\",\"sha256\":\"%064d\"}", i);
        ut_tx(&txs[i], cc_chain_genesis(a)->chain_id, &admin, "note.put", payload, 1764000000000ULL,
              (uint64_t)i);
    }
    assert_int_equal(cc_chain_build(a, txs, 3, 1764000000001ULL, &node, &h, built, &eb), CC_OK);
    cc_head head;
    cc_chain_head(a, &head);
    assert_int_equal(head.height, 0); /* nothing written */
    cc_block b = {h, txs, 3};
    assert_int_equal(cc_chain_apply(a, &b, &node, applied, &eb), CC_OK);
    assert_memory_equal(built, applied, sizeof built);
    cc_chain_head(a, &head);
    assert_int_equal(head.height, 1);
    assert_memory_equal(head.state_root, h.state_root, 32);
    for (int i = 0; i < 3; i++) cc_tx_free(&txs[i]);
    cc_chain_close(a);
    ut_rmdir(da);
    free(genesis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lthash_order_independent),
        cmocka_unit_test(test_two_stores_agree),
        cmocka_unit_test(test_build_then_apply),
    };
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
