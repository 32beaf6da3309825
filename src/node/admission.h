/*
 * node/admission.h — the path of a submitted tx into the mempool, shared by
 * POST /v1/tx and POST /v1/txs:
 *
 *   on the verify pool, per tx:  decode -> attach attachment bytes ->
 *       cc_chain_admit -> not already queued -> Ed25519 (sig_checked = true)
 *   on the calling thread, per request:  register ?wait=commit waiters ->
 *       push into the mempool (one lock for the whole batch) -> wait
 *
 * The calling (HTTP) thread never verifies a signature itself.
 */
#ifndef CC_NODE_ADMISSION_H
#define CC_NODE_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"
#include "node/node_internal.h"
#include "node/waiters.h"

typedef struct cc_admit_item {
    /* in: one of the two forms */
    const uint8_t *bin; /* octet-stream: tx encoding || attachment bytes */
    size_t bin_len;
    const char *tx_b64;  /* JSON: base64 tx (NUL-terminated) */
    const char *att_b64; /* JSON: base64 attachment, or NULL */

    /* out */
    cc_err err;    /* CC_OK: accepted into the mempool */
    cc_errbuf eb;  /* why, when err != CC_OK */
    bool has_txid; /* the tx decoded (txid is known) */
    uint8_t txid[CC_HASH_BYTES];
    cc_waiter waiter; /* with wait: DONE (outcome) or IDLE (timed out) */

    cc_tx tx;               /* private: the decoded tx until it moves into the mempool */
    bool committed_already; /* private: a block with it was applied after admission checked */
} cc_admit_item;

/* Admit items[0..n) (zero-initialised apart from the inputs; an item whose
 * err is already set is left as it is). With wait,
 * also wait (up to the node's wait limit) for the accepted ones to commit.
 * Every item ends with err set; accepted txs belong to the mempool, the
 * rest are freed. Returns the number accepted. */
size_t cc_admit_run(cc_node *node, cc_admit_item *items, size_t n, bool wait);

/* The consensus hook for a block to be applied (ctx: the cc_node): mark
 * sig_checked the txs whose signature this node verified already (at
 * admission, or in an earlier call: sigcache.h), verify the others on the
 * verify pool and remember those that verify. A tx that does not verify is
 * left unchecked, for cc_chain_apply to refuse as before. */
void cc_admit_verify_block(void *ctx, cc_tx *txs, size_t n);

#endif
