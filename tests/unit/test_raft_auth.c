/*
 * test_raft_auth.c — the challenge and answer that open a raft connection
 * (src/node/raft_auth.c): an answer checks for its own hello and chain and
 * names its signer; a changed challenge, chain, key or signature does not
 * check; a hello without the magic gets no answer; two hellos differ.
 */
#include "unit_support.h"

#include "node/raft_auth.h"

static void key_of(uint8_t fill, cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    memset(seed, fill, sizeof seed);
    cc_key_from_seed(seed, k);
}

static void test_answer_checks_and_names_its_signer(void **state)
{
    (void)state;
    cc_key k;
    uint8_t chain[CC_HASH_BYTES], hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES],
        pk[CC_PUBKEY_BYTES];
    key_of(7, &k);
    memset(chain, 0xc4, sizeof chain);
    cc_raft_auth_hello(hello);
    assert_true(cc_raft_auth_answer(&k, chain, hello, answer));
    assert_true(cc_raft_auth_check(chain, hello, answer, pk));
    assert_memory_equal(pk, k.pk, CC_PUBKEY_BYTES);
}

static void test_nothing_else_checks(void **state)
{
    (void)state;
    cc_key k, other;
    uint8_t chain[CC_HASH_BYTES], hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES],
        bad[CC_RAFT_AUTH_ANSWER_BYTES], pk[CC_PUBKEY_BYTES];
    key_of(7, &k);
    key_of(8, &other);
    memset(chain, 0xc4, sizeof chain);
    cc_raft_auth_hello(hello);
    assert_true(cc_raft_auth_answer(&k, chain, hello, answer));

    /* another challenge: an answer is not replayable */
    uint8_t hello2[CC_RAFT_AUTH_HELLO_BYTES];
    cc_raft_auth_hello(hello2);
    assert_memory_not_equal(hello, hello2, sizeof hello);
    assert_false(cc_raft_auth_check(chain, hello2, answer, pk));
    /* another chain */
    uint8_t chain2[CC_HASH_BYTES];
    memset(chain2, 0xc5, sizeof chain2);
    assert_false(cc_raft_auth_check(chain2, hello, answer, pk));
    /* another node's key in front of this signature */
    memcpy(bad, answer, sizeof bad);
    memcpy(bad, other.pk, CC_PUBKEY_BYTES);
    assert_false(cc_raft_auth_check(chain, hello, bad, pk));
    /* one bit of the signature */
    memcpy(bad, answer, sizeof bad);
    bad[CC_PUBKEY_BYTES + 5] ^= 0x10;
    assert_false(cc_raft_auth_check(chain, hello, bad, pk));
}

static void test_a_hello_without_the_magic_gets_no_answer(void **state)
{
    (void)state;
    cc_key k;
    uint8_t chain[CC_HASH_BYTES] = {0}, hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES];
    key_of(7, &k);
    cc_raft_auth_hello(hello);
    hello[0] ^= 1;
    assert_false(cc_raft_auth_answer(&k, chain, hello, answer));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_checks_and_names_its_signer),
        cmocka_unit_test(test_nothing_else_checks),
        cmocka_unit_test(test_a_hello_without_the_magic_gets_no_answer),
    };
    return cmocka_run_group_tests_name("raft_auth", tests, NULL, NULL);
}
