/*
 * test_sigcache.c — the verified-txid cache (src/node/sigcache.c): a txid
 * is remembered exactly, a txid that shares its slot replaces it (and the
 * replaced one is simply not remembered any more), and nothing else is
 * ever reported as verified.
 */
#include "unit_support.h"

#include "node/sigcache.h"

static void txid_of(uint64_t slot, uint8_t tag, uint8_t out[CC_HASH_BYTES])
{
    memset(out, tag, CC_HASH_BYTES);
    memcpy(out, &slot, sizeof slot); /* the cache indexes by the first 8 bytes */
}

static void test_remembers_exact_txids(void **state)
{
    (void)state;
    cc_sigcache c;
    uint8_t a[CC_HASH_BYTES], b[CC_HASH_BYTES], zero[CC_HASH_BYTES] = {0};
    assert_int_equal(cc_sigcache_init(&c, 4), CC_OK);
    txid_of(3, 0xaa, a);
    assert_false(cc_sigcache_has(&c, a));
    cc_sigcache_add(&c, a);
    assert_true(cc_sigcache_has(&c, a));
    /* same slot, one byte different: not the bytes that verified */
    memcpy(b, a, CC_HASH_BYTES);
    b[CC_HASH_BYTES - 1] ^= 1;
    assert_false(cc_sigcache_has(&c, b));
    /* another slot */
    txid_of(4, 0xaa, b);
    assert_false(cc_sigcache_has(&c, b));
    /* an empty slot never answers for an all-zero id (an unset txid) */
    assert_false(cc_sigcache_has(&c, zero));
    cc_sigcache_destroy(&c);
}

static void test_a_newer_txid_replaces_an_older_one_in_its_slot(void **state)
{
    (void)state;
    cc_sigcache c;
    uint8_t a[CC_HASH_BYTES], b[CC_HASH_BYTES];
    assert_int_equal(cc_sigcache_init(&c, 4), CC_OK);
    txid_of(5, 0x11, a);
    txid_of(5 + 16, 0x22, b); /* 16 slots: the same one */
    cc_sigcache_add(&c, a);
    cc_sigcache_add(&c, b);
    assert_true(cc_sigcache_has(&c, b));
    assert_false(cc_sigcache_has(&c, a)); /* forgotten: verified again if it shows up */
    cc_sigcache_destroy(&c);
}

static void test_many_txids(void **state)
{
    (void)state;
    cc_sigcache c;
    uint8_t id[CC_HASH_BYTES];
    assert_int_equal(cc_sigcache_init(&c, 10), CC_OK);
    for (uint64_t i = 0; i < 1024; i++) {
        txid_of(i, (uint8_t)(i % 200 + 1), id);
        cc_sigcache_add(&c, id);
    }
    for (uint64_t i = 0; i < 1024; i++) {
        txid_of(i, (uint8_t)(i % 200 + 1), id);
        assert_true(cc_sigcache_has(&c, id));
        txid_of(i, (uint8_t)(i % 200 + 2), id);
        assert_false(cc_sigcache_has(&c, id));
    }
    cc_sigcache_destroy(&c);
    cc_sigcache_destroy(&c); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remembers_exact_txids),
        cmocka_unit_test(test_a_newer_txid_replaces_an_older_one_in_its_slot),
        cmocka_unit_test(test_many_txids),
    };
    return cmocka_run_group_tests_name("sigcache", tests, NULL, NULL);
}
