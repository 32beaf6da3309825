/*
 * node/consensus.h — the interface between the block producer and the way
 * this node agrees on blocks with the others: a small vtable, like canonical
 * raft's struct raft_io. `solo` (one node, consensus_solo.c) commits a block
 * as soon as it is proposed; `raft` (several nodes, consensus_raft.c)
 * replicates it first and commits it on every node in log order.
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
 *   raft only: propose() and done() may also report CC_ERR_UNREACHABLE (this
 *   node is not, or no longer, the leader: the block did not commit here,
 *   though after a lost leadership it may still commit through the next
 *   leader) and CC_ERR_CONFLICT (the block was stale and every node skipped
 *   it); the txs are intact and may be proposed or forwarded again.
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
#include "node/clock_check.h"

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

#define CC_RESTORE_WAITING_MAX 16
#define CC_HALT_REASON_BYTES   384
/* What a replicating implementation reports (GET /v1/status, metrics). */
typedef struct cc_consensus_status {
    const char *raft_state; /* "leader" | "follower" | "candidate" | "unavailable" */
    uint64_t term;
    char leader[64];      /* the leader's node name; "" when unknown */
    char leader_api[128]; /* its API host:port from genesis; "" when unknown */
    bool leader_self;     /* this node is the raft leader */
    bool ready;           /* ... and caught up: it proposes blocks now */
    bool halted;          /* applying stopped (see halt_reason) */
    bool removed;         /* governance removed this node (at removed_at): it takes no txs, serves reads */
    uint64_t removed_at;
    char halt_reason[CC_HALT_REASON_BYTES];
    uint64_t blocks_refused;         /* committed entries refused here (time rule, stale) */
    uint64_t blocks_fetched;         /* blocks fetched from peers to catch up (snapshots, restores) */
    uint64_t attachments_fetched;    /* their attachment bytes fetched from peers */
    uint64_t repair_passes;          /* completed passes over the records for missing attachments */
    uint64_t attachments_missing;    /* what the last completed pass found missing and no peer gave */
    uint64_t block_requests;         /* requests that brought the fetched blocks (ranges) */
    uint64_t raft_handshakes_failed; /* raft connections refused or dropped before raft saw a byte */
    uint64_t raft_frames_refused;    /* raft links closed for bytes that were not the peer's frames */
    uint64_t raft_answers_corrected; /* AppendEntries answers that claimed more than matched (raft_match.h) */
    uint64_t raft_votes_refused;     /* vote requests dropped while rejoining (raft_rejoin.h) */
    bool raft_rejoining;             /* raft state started empty, not caught up yet (raft_rejoin.h) */
    uint64_t clock_handoffs;         /* leaderships handed on because this node's clock was off */
    unsigned voters;                 /* voters in this node's raft configuration */
    unsigned servers;                /* servers in it (voters, standbys, spares) */
    /* after a whole-network restore, the leader's wait for the other nodes'
     * heads (docs/CONSENSUS.md "Restoring a whole network"): the names of
     * those it still waits for (at most CC_RESTORE_WAITING_MAX listed;
     * none while it does not wait) */
    unsigned restore_waiting_count;
    char restore_waiting_names[CC_RESTORE_WAITING_MAX][64];
} cc_consensus_status;

/* What a replicating implementation tells the node. Called on its apply
 * thread, one block at a time, in chain order. */
typedef struct cc_consensus_hooks {
    void *ctx;
    /* A block committed that no local proposal waits for (every block on a
     * follower; replays and blocks of earlier leaderships on a leader). */
    void (*committed)(void *ctx, const cc_header *h, const cc_tx *txs, size_t n, const cc_result *results);
    /* Optional: verify the signatures of a block's txs before the block is
     * applied (in parallel, skipping txs this node verified already),
     * setting sig_checked on each that verifies and remembering it, so a
     * second call for the same txs is cheap (raft pre-verifies a block when
     * it is committed and calls it again when it applies it). Those left
     * unchecked are verified by cc_chain_apply as usual. */
    void (*verify)(void *ctx, cc_tx *txs, size_t n);
    /* Optional: the check of this node's clock against its peers' in a
     * network of `voters` voters (clock_check.h). Raft asks it on every
     * tick of its loop; a leader whose clock is off proposes nothing and
     * hands leadership on. */
    cc_clock_verdict (*clock)(void *ctx, size_t voters);
} cc_consensus_hooks;

typedef struct cc_consensus {
    const char *mode; /* "solo" | "raft" */
    void *impl;
    /* Propose a block (protocol above). */
    cc_err (*propose)(struct cc_consensus *cs, cc_proposal *p);
    /* Whether this node cuts blocks now (solo: always). */
    bool (*is_leader)(struct cc_consensus *cs);
    /* The current leader's node name into out (n bytes); "" when unknown. */
    void (*leader)(struct cc_consensus *cs, char *out, size_t n);
    /* Replication state; NULL for solo (which has none to report). */
    void (*status)(struct cc_consensus *cs, cc_consensus_status *out);
    /* The height of the block by which governance removed this node, 0
     * while it is a member (status's removed_at, without the rest, for the
     * check on every tx submission). NULL for solo. */
    uint64_t (*removed_at)(struct cc_consensus *cs);
    /* Whether this node stopped applying blocks (status's halted, without
     * the rest, for the same check; the chain's own halt on evidence is
     * cc_chain_halted), with the reason into reason (cap bytes). Solo
     * stops only at a block of a ruleset its build does not know. */
    bool (*halted)(struct cc_consensus *cs, char *reason, size_t cap);
    /* Stop replicating (NULL for solo): the proposal in flight finishes or
     * fails (done() runs), blocks already committed are applied, and no
     * hook runs afterwards. Called once, before close. */
    void (*stop)(struct cc_consensus *cs);
    /* Release the implementation (no proposal may be in flight). */
    void (*close)(struct cc_consensus *cs);
    /* This node's view of the raft configuration: the role ("voter",
     * "standby", "spare") of the node with public key pk, or NULL when it
     * is not in the configuration; *raft_id gets its raft id either way.
     * NULL for solo. */
    const char *(*raft_role)(struct cc_consensus *cs, const uint8_t pk[CC_PUBKEY_BYTES], uint64_t *raft_id);
} cc_consensus;

/* The raft id of the node with public key pk: 1 + its index in genesis
 * "nodes", or for a node added at runtime (not in genesis) 2^62 | the low
 * 62 bits of the first 8 bytes of pk read big-endian (docs/CONSENSUS.md
 * "Membership"); always below 2^63, so it fits a JSON integer. */
uint64_t cc_raft_id_of(const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES]);

/* Solo: this node alone commits blocks on chain, signing them with key
 * (both must outlive cs). name is this node's name, copied. */
cc_err cc_consensus_solo_init(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *name,
                              cc_errbuf *eb) CC_WUR;

/* Raft: this node (its key must be a node of chain's genesis) runs a raft
 * server with id 1 + its genesis index on its genesis "raft" address, state
 * under node_dir/raft, and on first start (an empty raft directory)
 * bootstraps the configuration from the node set of network/config in the
 * applied state, every node a voter: the genesis nodes on a new chain, the
 * set a restored backup's chain records after governance changed it.
 * Whoever leads then moves the raft
 * configuration towards the node set of network/config in the applied
 * state (docs/CONSENSUS.md "Membership"). chain and key must outlive cs;
 * hooks is copied.
 * Errors: CC_ERR_USAGE (key not in genesis), CC_ERR_IO (raft would not
 * start; eb says why), CC_ERR_NOMEM. */
cc_err cc_consensus_raft_init(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *node_dir,
                              const cc_consensus_hooks *hooks, cc_errbuf *eb) CC_WUR;

/* How a node that genesis does not list takes part (it was added by an
 * approved network.propose): its raft address, and what a peer's
 * GET /v1/network said (its "nodes" array, so that leader names and API
 * addresses are known before this node's chain has caught up; may be NULL;
 * read during init only). */
typedef struct cc_raft_join {
    const char *raft; /* this node's raft host:port (copied) */
    const json_t *nodes;
} cc_raft_join;

/* Raft for a node added at runtime: as cc_consensus_raft_init, but with raft
 * id cc_raft_id_of(key) on join->raft. While its chain does not list it,
 * raft is NOT bootstrapped: the leader brings the node in (raft_add, then
 * raft_assign voter) and sends it the log; once its chain lists it (a
 * restart, or a restore from a backup) it starts like any other node.
 * join NULL is cc_consensus_raft_init. */
cc_err cc_consensus_raft_init_join(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *node_dir,
                                   const cc_consensus_hooks *hooks, const cc_raft_join *join,
                                   cc_errbuf *eb) CC_WUR;

#endif
