/*
 * test_mempool.c — the producer's side of the mempool (src/node/mempool.c):
 * cc_mempool_take says whether it had to wait, and cc_mempool_take_more
 * (a raft leader lingering for a fuller block) takes what is queued once
 * enough is, or at its deadline, and never blocks past it.
 */
#include "unit_support.h"

#include "carechain/os.h"
#include "node/mempool.h"

#define MS 1000000ull

static void push(cc_mempool *mp, const cc_key *k, uint64_t nonce)
{
    uint8_t chain_id[CC_HASH_BYTES] = {7};
    cc_tx tx;
    ut_tx(&tx, chain_id, k, "note.put",
          "{\"kind\":\"x\",\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
          1000, nonce);
    cc_mempool_lock(mp);
    assert_int_equal(cc_mempool_push_locked(mp, &tx, 0), CC_OK);
    cc_mempool_signal_locked(mp);
    cc_mempool_unlock(mp);
}

static void release_and_free(cc_mempool *mp, cc_tx *txs, size_t n)
{
    cc_mempool_release(mp, txs, n);
    for (size_t i = 0; i < n; i++) cc_tx_free(&txs[i]);
}

static void test_take_says_whether_it_waited(void **state)
{
    (void)state;
    cc_mempool mp;
    cc_key k;
    cc_tx txs[4];
    uint64_t at[4];
    bool waited = true;
    ut_key(2, &k);
    assert_int_equal(cc_mempool_init(&mp, 100, 1 << 20), CC_OK);
    push(&mp, &k, 1);
    push(&mp, &k, 2);
    assert_int_equal(cc_mempool_take(&mp, txs, at, 4, 1 << 20, &waited), 2);
    assert_false(waited); /* both were queued already */
    release_and_free(&mp, txs, 2);
    cc_mempool_destroy(&mp);
}

static void test_take_more_times_out_empty(void **state)
{
    (void)state;
    cc_mempool mp;
    cc_tx txs[4];
    uint64_t at[4];
    assert_int_equal(cc_mempool_init(&mp, 100, 1 << 20), CC_OK);
    uint64_t t0 = cc_mono_ns();
    assert_int_equal(cc_mempool_take_more(&mp, txs, at, 4, 1 << 20, 8, t0 + 20 * MS), 0);
    uint64_t took = cc_mono_ns() - t0;
    assert_true(took >= 20 * MS);  /* it waited for its deadline */
    assert_true(took < 2000 * MS); /* and not for ever */
    cc_mempool_destroy(&mp);
}

static void test_take_more_takes_what_is_queued(void **state)
{
    (void)state;
    cc_mempool mp;
    cc_key k;
    cc_tx txs[8];
    uint64_t at[8];
    ut_key(2, &k);
    assert_int_equal(cc_mempool_init(&mp, 100, 1 << 20), CC_OK);
    for (uint64_t i = 1; i <= 3; i++) push(&mp, &k, i);
    /* fewer than wanted: the deadline passes, and the three are taken */
    assert_int_equal(cc_mempool_take_more(&mp, txs, at, 8, 1 << 20, 5, cc_mono_ns() + 10 * MS), 3);
    release_and_free(&mp, txs, 3);
    /* enough already: no wait at all, however far the deadline */
    for (uint64_t i = 4; i <= 9; i++) push(&mp, &k, i);
    uint64_t t0 = cc_mono_ns();
    assert_int_equal(cc_mempool_take_more(&mp, txs, at, 8, 1 << 20, 5, t0 + 60000 * MS), 6);
    assert_true(cc_mono_ns() - t0 < 1000 * MS);
    release_and_free(&mp, txs, 6);
    /* its byte bound holds even for the first tx */
    push(&mp, &k, 10);
    assert_int_equal(cc_mempool_take_more(&mp, txs, at, 8, 10, 1, cc_mono_ns()), 0);
    assert_int_equal(cc_mempool_count(&mp), 1);
    cc_mempool_destroy(&mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_says_whether_it_waited),
        cmocka_unit_test(test_take_more_times_out_empty),
        cmocka_unit_test(test_take_more_takes_what_is_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
