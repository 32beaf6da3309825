/*
 * test_raft_auth.c — the handshake and frames of a raft link
 * (src/node/raft_auth.c): the two sides of an exchange name each other and
 * agree on keys that open each other's frames, in order; an answer checks
 * only for its own hello, chain and accepting node, an admit only for its
 * own exchange; a frame changed anywhere, opened twice, out of order or in
 * the wrong direction does not open; lengths outside one frame are refused.
 */
#include "raft_pair.h"

#include <sodium.h>

/* Seal text as one frame into frame; its length. */
static size_t seal(cc_raft_cipher *c, const char *text, uint8_t *frame)
{
    memcpy(frame + CC_RAFT_FRAME_HEAD_BYTES, text, strlen(text));
    return cc_raft_frame_seal(c, frame, strlen(text));
}

static void test_an_exchange_names_both_sides_and_agrees_on_keys(void **state)
{
    (void)state;
    ut_raft_pair p;
    uint8_t frame[256], copy[256], zero[32] = {0};
    size_t n;
    ut_raft_exchange(&p);
    assert_memory_equal(p.a_send.key, p.c_recv.key, 32);
    assert_memory_equal(p.c_send.key, p.a_recv.key, 32);
    assert_memory_not_equal(p.a_send.key, p.a_recv.key, 32);
    assert_memory_equal(p.hs_a.eph_sk, zero, 32); /* wiped */
    assert_memory_equal(p.hs_c.eph_sk, zero, 32);

    /* frames both ways, in order; the bytes on the wire are not the text */
    for (int i = 0; i < 3; i++) {
        size_t len = seal(&p.a_send, "AppendEntries with a block", frame);
        assert_int_equal(len, CC_RAFT_FRAME_HEAD_BYTES + 26 + CC_RAFT_FRAME_TAG_BYTES);
        assert_int_equal(cc_raft_frame_len(frame), len);
        assert_null(memmem(frame, len, "block", 5));
        memcpy(copy, frame, len);
        assert_true(cc_raft_frame_open(&p.c_recv, frame, len, &n));
        assert_int_equal(n, 26);
        assert_memory_equal(frame + CC_RAFT_FRAME_HEAD_BYTES, "AppendEntries with a block", 26);
        /* opened twice: a repeated frame does not open */
        assert_false(cc_raft_frame_open(&p.c_recv, copy, len, &n));

        len = seal(&p.c_send, "result", frame);
        assert_true(cc_raft_frame_open(&p.a_recv, frame, len, &n));
        assert_memory_equal(frame + CC_RAFT_FRAME_HEAD_BYTES, "result", 6);
    }

    /* a new exchange between the same nodes: other keys */
    ut_raft_pair q;
    ut_raft_exchange(&q);
    assert_memory_not_equal(p.a_send.key, q.a_send.key, 32);
}

static void test_an_answer_checks_only_for_its_own_exchange(void **state)
{
    (void)state;
    ut_raft_pair p;
    cc_key other;
    uint8_t pk[CC_PUBKEY_BYTES], bad[CC_RAFT_AUTH_ANSWER_BYTES], chain2[CC_HASH_BYTES];
    cc_raft_hs hs, hs2;
    ut_raft_exchange(&p);
    ut_key(9, &other);

    /* another hello (a replayed answer) */
    uint8_t hello2[CC_RAFT_AUTH_HELLO_BYTES];
    cc_raft_hs_hello(&hs, p.chain, 1, hello2);
    assert_memory_not_equal(p.hello, hello2, sizeof hello2);
    assert_false(cc_raft_hs_check_answer(&hs, p.answer, pk));
    /* another chain */
    memset(chain2, 0xc5, sizeof chain2);
    cc_raft_hs_hello(&hs, chain2, 1, hello2);
    assert_true(cc_raft_hs_answer(&hs2, &p.c, p.chain, 1, hello2, bad));
    assert_false(cc_raft_hs_check_answer(&hs, bad, pk));
    /* meant for another node (raft id 2) */
    cc_raft_hs_hello(&hs, p.chain, 1, hello2);
    assert_true(cc_raft_hs_answer(&hs2, &p.c, p.chain, 2, hello2, bad));
    assert_false(cc_raft_hs_check_answer(&hs, bad, pk));
    /* another node's key in front of the signature, one bit of the
     * ephemeral key, one bit of the signature */
    cc_raft_hs_hello(&hs, p.chain, 1, hello2);
    assert_true(cc_raft_hs_answer(&hs2, &p.c, p.chain, 1, hello2, bad));
    uint8_t good[CC_RAFT_AUTH_ANSWER_BYTES];
    memcpy(good, bad, sizeof good);
    memcpy(bad, other.pk, CC_PUBKEY_BYTES);
    assert_false(cc_raft_hs_check_answer(&hs, bad, pk));
    memcpy(bad, good, sizeof bad);
    bad[CC_PUBKEY_BYTES + 3] ^= 0x01;
    assert_false(cc_raft_hs_check_answer(&hs, bad, pk));
    memcpy(bad, good, sizeof bad);
    bad[CC_RAFT_AUTH_ANSWER_BYTES - 1] ^= 0x10;
    assert_false(cc_raft_hs_check_answer(&hs, bad, pk));
    assert_true(cc_raft_hs_check_answer(&hs, good, pk)); /* the control */
}

static void test_an_admit_checks_only_for_its_own_exchange(void **state)
{
    (void)state;
    ut_raft_pair p, q;
    cc_key other;
    uint8_t pk[CC_PUBKEY_BYTES], bad[CC_RAFT_AUTH_ADMIT_BYTES];
    ut_raft_exchange(&p);
    ut_raft_exchange(&q);
    ut_key(9, &other);
    /* q's admit does not admit p's connection */
    assert_false(cc_raft_hs_check_admit(&p.hs_c, q.admit, pk));
    /* an admit naming another connecting node: the accepting side signed
     * node c's key, so the same exchange admitting another key differs */
    cc_raft_hs hs = p.hs_a;
    hs.connecting_pk[0] ^= 0x01;
    cc_raft_hs_admit(&hs, &p.a, bad);
    assert_false(cc_raft_hs_check_admit(&p.hs_c, bad, pk));
    /* another node's key in front, a bit of the signature */
    memcpy(bad, p.admit, sizeof bad);
    memcpy(bad, other.pk, CC_PUBKEY_BYTES);
    assert_false(cc_raft_hs_check_admit(&p.hs_c, bad, pk));
    memcpy(bad, p.admit, sizeof bad);
    bad[CC_PUBKEY_BYTES + 9] ^= 0x04;
    assert_false(cc_raft_hs_check_admit(&p.hs_c, bad, pk));
}

static void test_a_frame_opens_only_as_sealed_in_order_and_direction(void **state)
{
    (void)state;
    ut_raft_pair p;
    uint8_t f1[128], f2[128], bad[128];
    size_t n;
    ut_raft_exchange(&p);
    size_t l1 = seal(&p.a_send, "first", f1), l2 = seal(&p.a_send, "second", f2);

    /* one bit anywhere: head, body or tag */
    size_t spots[] = {3, CC_RAFT_FRAME_HEAD_BYTES, l1 - 1};
    for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
        memcpy(bad, f1, l1);
        bad[spots[i]] ^= 0x20;
        cc_raft_cipher c = p.c_recv;
        assert_false(cc_raft_frame_open(&c, bad, l1, &n));
        assert_int_equal(c.counter, p.c_recv.counter); /* a failed frame moves nothing */
    }
    /* out of order (on a copy: a frame that fails is wiped) */
    memcpy(bad, f2, l2);
    cc_raft_cipher c = p.c_recv;
    assert_false(cc_raft_frame_open(&c, bad, l2, &n));
    /* in the wrong direction: sealed by a, opened with a's own receive key */
    memcpy(bad, f1, l1);
    c = p.a_recv;
    assert_false(cc_raft_frame_open(&c, bad, l1, &n));
    /* a length that is not the head's */
    memcpy(bad, f1, l1);
    c = p.c_recv;
    assert_false(cc_raft_frame_open(&c, bad, l1 - 1, &n));
    /* the controls, in order */
    assert_true(cc_raft_frame_open(&p.c_recv, f1, l1, &n));
    assert_true(cc_raft_frame_open(&p.c_recv, f2, l2, &n));
    assert_memory_equal(f2 + CC_RAFT_FRAME_HEAD_BYTES, "second", 6);
}

static void test_frame_lengths(void **state)
{
    (void)state;
    uint8_t head[CC_RAFT_FRAME_HEAD_BYTES];
    uint32_t body[] = {0, CC_RAFT_FRAME_TAG_BYTES, CC_RAFT_FRAME_PLAIN_MAX + CC_RAFT_FRAME_TAG_BYTES + 1,
                       UINT32_MAX};
    for (size_t i = 0; i < sizeof body / sizeof *body; i++) {
        head[0] = (uint8_t)(body[i] >> 24);
        head[1] = (uint8_t)(body[i] >> 16);
        head[2] = (uint8_t)(body[i] >> 8);
        head[3] = (uint8_t)body[i];
        assert_int_equal(cc_raft_frame_len(head), 0);
    }
    /* the largest frame seals and opens */
    ut_raft_pair p;
    ut_raft_exchange(&p);
    uint8_t *frame = malloc(CC_RAFT_FRAME_MAX);
    assert_non_null(frame);
    randombytes_buf(frame + CC_RAFT_FRAME_HEAD_BYTES, CC_RAFT_FRAME_PLAIN_MAX);
    size_t len = cc_raft_frame_seal(&p.c_send, frame, CC_RAFT_FRAME_PLAIN_MAX), n;
    assert_int_equal(len, CC_RAFT_FRAME_MAX);
    assert_int_equal(cc_raft_frame_len(frame), CC_RAFT_FRAME_MAX);
    assert_true(cc_raft_frame_open(&p.a_recv, frame, len, &n));
    assert_int_equal(n, CC_RAFT_FRAME_PLAIN_MAX);
    free(frame);
}

static void test_a_hello_without_the_magic_gets_no_answer(void **state)
{
    (void)state;
    cc_key k;
    cc_raft_hs hs;
    uint8_t chain[CC_HASH_BYTES] = {0}, hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES];
    ut_key(7, &k);
    cc_raft_hs_hello(&hs, chain, 1, hello);
    hello[0] ^= 1;
    assert_false(cc_raft_hs_answer(&hs, &k, chain, 1, hello, answer));
    /* the magic of the previous, unencrypted exchange */
    memcpy(hello, "carechain raft1", 16);
    assert_false(cc_raft_hs_answer(&hs, &k, chain, 1, hello, answer));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_exchange_names_both_sides_and_agrees_on_keys),
        cmocka_unit_test(test_an_answer_checks_only_for_its_own_exchange),
        cmocka_unit_test(test_an_admit_checks_only_for_its_own_exchange),
        cmocka_unit_test(test_a_frame_opens_only_as_sealed_in_order_and_direction),
        cmocka_unit_test(test_frame_lengths),
        cmocka_unit_test(test_a_hello_without_the_magic_gets_no_answer),
    };
    return cmocka_run_group_tests_name("raft_auth", tests, NULL, NULL);
}
