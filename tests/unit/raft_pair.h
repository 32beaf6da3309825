/*
 * raft_pair.h — both sides of one raft connection's exchange
 * (src/node/raft_auth.c), run in memory for the tests of the exchange and
 * of the link: node a (raft id 1, accepting, key 7) and node c (key 8).
 */
#ifndef CC_UNIT_RAFT_PAIR_H
#define CC_UNIT_RAFT_PAIR_H

#include "unit_support.h"

#include "node/raft_auth.h"

typedef struct ut_raft_pair {
    cc_key a, c;
    uint8_t chain[CC_HASH_BYTES];
    cc_raft_hs hs_a, hs_c;
    uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES], answer[CC_RAFT_AUTH_ANSWER_BYTES],
        admit[CC_RAFT_AUTH_ADMIT_BYTES];
    cc_raft_cipher a_send, a_recv, c_send, c_recv;
} ut_raft_pair;

/* Run the exchange; each side must name the other, and both get keys. */
static inline void ut_raft_exchange(ut_raft_pair *p)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    ut_key(7, &p->a);
    ut_key(8, &p->c);
    memset(p->chain, 0xc4, sizeof p->chain);
    cc_raft_hs_hello(&p->hs_a, p->chain, 1, p->hello);
    assert_true(cc_raft_hs_answer(&p->hs_c, &p->c, p->chain, 1, p->hello, p->answer));
    assert_true(cc_raft_hs_check_answer(&p->hs_a, p->answer, pk));
    assert_memory_equal(pk, p->c.pk, CC_PUBKEY_BYTES);
    cc_raft_hs_admit(&p->hs_a, &p->a, p->admit);
    assert_true(cc_raft_hs_check_admit(&p->hs_c, p->admit, pk));
    assert_memory_equal(pk, p->a.pk, CC_PUBKEY_BYTES);
    assert_true(cc_raft_hs_keys(&p->hs_a, &p->a_send, &p->a_recv));
    assert_true(cc_raft_hs_keys(&p->hs_c, &p->c_send, &p->c_recv));
}

#endif
