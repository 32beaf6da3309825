/*
 * node/checkpoints.h — checkpoint signature exchange on a raft network.
 * Every consensus node signs (height, block hash, state root, the consensus
 * nodes after the block) when it commits a block (cc_chain_apply with the
 * node key); this module hands those signatures to the other nodes, so
 * that a height signed by a majority of its consensus nodes exists
 * (GET /v1/checkpoint) and proofs can be anchored to it. docs/CONSENSUS.md
 * "Checkpoints" describes the protocol.
 *
 * Sending: one thread per peer pushes this node's signatures for the newest
 * CC_CHECKPOINT_WINDOW heights it has not yet had taken, with the headers
 * they sign, to the peer's POST /v1/checkpoint/signatures. The peers are
 * the other genesis nodes and every node governance adds (the auditor
 * starts a sender for each as it appears in network/config), at the "api"
 * address the genesis or the node's record gives. A height the peer has
 * not committed yet is sent again later; a peer that is unreachable is
 * retried with a back-off.
 *
 * Pulling: one auditor thread pulls GET /v1/checkpoint/signatures?height=H
 * from the other nodes for recent heights that still lack a majority, stores
 * the signatures over this node's own block, and records minority evidence
 * (halting the chain) when a majority of the consensus nodes signed another
 * header at a height (see checkpoints.c, "the auditor").
 *
 * Receiving (http_checkpoints.c): each signature is checked before
 * anything is stored (the signer is a consensus node at that height, the
 * header is a block of this chain signed by a consensus node, the
 * signature verifies over it);
 * a header that differs from this node's block at that height is evidence
 * of equivocation (cc_chain_check_header records it and halts the chain).
 */
#ifndef CC_NODE_CHECKPOINTS_H
#define CC_NODE_CHECKPOINTS_H

#include "carechain.h"

#define CC_CHECKPOINT_WINDOW    16 /* newest heights a sender pushes (and retries) */
#define CC_CHECKPOINT_BATCH_MAX 64 /* signatures one POST may carry */
#define CC_CHECKPOINT_BODY_MAX  (128u * 1024)

typedef struct cc_checkpoints cc_checkpoints;
struct cc_node;

/* Start one sender thread per other node known so far and the auditor (none on
 * a one-node network: *out is then NULL). The node (chain, key, genesis) must outlive
 * the senders. CC_ERR_NOMEM, CC_ERR_IO (a thread would not start). */
cc_err cc_checkpoints_start(struct cc_node *node, cc_checkpoints **out, cc_errbuf *eb) CC_WUR;
/* Stop and join the senders and the auditor (each finishes its request in flight, bounded
 * by its timeout) and free cp. NULL is fine. */
void cc_checkpoints_stop(cc_checkpoints *cp);

#endif
