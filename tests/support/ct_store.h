/*
 * ct_store.h — open a stopped node's LMDB store from a test, to damage it
 * on purpose (a flipped byte, a deleted attachment) and see the node cope;
 * and give a store a block only a newer build could have made.
 */
#ifndef CT_STORE_H
#define CT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "carechain/chain.h"

typedef struct ct_store {
    MDB_env *env;
    MDB_txn *txn; /* a write txn */
    MDB_dbi dbi;
} ct_store;

/* A write txn on database db of <node_dir>/data. 0, or -1 after saying
 * why on stderr (nothing is left open). */
int ct_store_open(ct_store *s, const char *node_dir, const char *db);
/* Commit the txn and close the store: 0, or -1 (said on stderr). */
int ct_store_commit(ct_store *s);

/* The bytes of a block extending the head of chain c with txs[0..n), dated
 * time_ms and signed by proposer, as a build that knows the ruleset of
 * that height makes it where this build cannot: linkage, tx root and
 * signatures hold; the results, state and history roots are zero, since
 * this build cannot execute the block (cc_chain_apply and verify-chain
 * stop at its ruleset before they compare them). *raw is the caller's
 * (free). 0, or -1 (said on stderr). */
int ct_block_beyond(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *proposer,
                    uint8_t **raw, size_t *len);
/* Write block raw, which extends the head, into the closed store in
 * data_dir (the directory of data.mdb) and make it the head record, as
 * the build that made it would have committed it; nothing else is
 * written (this build cannot know the state it leads to). 0, or -1. */
int ct_store_put_head_block(const char *data_dir, const uint8_t *raw, size_t len);

#endif
