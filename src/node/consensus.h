/*
 * node/consensus.h — the interface between the block producer and the way
 * this node agrees on blocks with the others: a small vtable, like canonical
 * raft's struct raft_io. `solo` (one node, consensus_solo.c) commits a block
 * as soon as it is proposed; `raft` (a later issue) replicates it first.
 *
 * Protocol between producer and implementation:
 *   1. The producer fills a cc_proposal (txs, time_ms, done, data) and calls
 *      propose(). The txs stay owned by the producer and unchanged until
 *      done() runs.
 *   2. The implementation commits the block through the cc_chain (solo:
 *      cc_chain_produce on the calling thread) and calls done(p) exactly
 *      once — possibly before propose() returns — with p->err and, on
 *      CC_OK, p->header and p->results filled.
 *   3. The producer proposes the next block only after done().
 *   If propose() itself returns an error, done() is not called.
 *
 * Invariants: a block is committed to the store at most once; on
 * CC_ERR_STORE_FULL nothing was written.
 */
#ifndef CC_NODE_CONSENSUS_H
#define CC_NODE_CONSENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"
#include "carechain/chain.h"

typedef struct cc_proposal cc_proposal;

struct cc_proposal {
    /* in */
    cc_tx *txs; /* the block's txs, in order (sig_checked set by admission) */
    size_t tx_count;
    uint64_t time_ms; /* > head time */
    void (*done)(cc_proposal *p);
    void *data; /* the producer's */
    /* out, valid in done() */
    cc_err err;
    cc_errbuf eb;
    cc_header header;   /* the committed header */
    cc_result *results; /* tx_count entries, supplied by the producer */
};

typedef struct cc_consensus {
    const char *mode; /* "solo" | "raft" */
    void *impl;
    /* Propose a block (protocol above). */
    cc_err (*propose)(struct cc_consensus *cs, cc_proposal *p);
    /* Whether this node cuts blocks now (solo: always). */
    bool (*is_leader)(struct cc_consensus *cs);
    /* The current leader's node name into out (n bytes); "" when unknown. */
    void (*leader)(struct cc_consensus *cs, char *out, size_t n);
    /* Release the implementation (no proposal may be in flight). */
    void (*close)(struct cc_consensus *cs);
} cc_consensus;

/* Solo: this node alone commits blocks on chain, signing them with key
 * (both must outlive cs). name is this node's name, copied. */
cc_err cc_consensus_solo_init(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *name,
                              cc_errbuf *eb) CC_WUR;

#endif
