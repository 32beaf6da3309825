/*
 * exec.h — the deterministic state machine, as the application modules see
 * it: the tx type table, the execution context and the state view.
 *
 * Determinism (DESIGN.md invariant 1): a handler may read only the state
 * view, the tx and the block's height and time. No clock, no randomness, no
 * environment, no iteration over anything whose order can differ between
 * processes. Writes go to a per-tx overlay that is merged into the block
 * only when the handler succeeds, so a failed tx changes nothing.
 */
#ifndef CC_EXEC_H
#define CC_EXEC_H

#include "carechain.h"
#include "store/store.h"

/* An identity as the state holds it. */
typedef struct cc_identity {
    uint8_t pk[CC_PUBKEY_BYTES];
    unsigned role; /* one cc_role bit */
    char org[64];
    bool revoked;
} cc_identity;

typedef struct cc_state cc_state;

/* What a handler gets: the tx, its parsed payload, its signer, the block. */
typedef struct cc_exec_ctx {
    cc_state *st;
    const cc_tx *tx;
    const json_t *payload;
    const cc_identity *signer;
    const cc_genesis *genesis;
    uint64_t height;
    uint64_t time_ms; /* the block time: the only clock exec may read */
    uint32_t index;   /* position of the tx in its block */
    uint32_t ruleset; /* the ruleset the block executes under (cc_ruleset_at) */
    cc_errbuf *eb;    /* the reason a handler fails, for the tx result */
} cc_exec_ctx;

/* One entry of the tx type table. validate is stateless (also run at
 * admission and by the payload fuzzer); apply reads and writes state.
 *
 * A type whose stateless rules changed from one ruleset to the next also
 * has validate_as: its rules as the given ruleset makes them. validate is
 * then validate_as at CC_RULESET_CURRENT (what a node admits), and exec
 * runs validate_as at the block's ruleset. NULL for every other type. */
typedef struct cc_tx_type {
    const char *name;
    unsigned roles; /* cc_role bits allowed to send it */
    cc_err (*validate)(const json_t *payload, cc_errbuf *eb);
    cc_err (*apply)(cc_exec_ctx *ctx);
    cc_err (*validate_as)(const json_t *payload, uint32_t ruleset, cc_errbuf *eb);
} cc_tx_type;

/* The ruleset of block `height`. rec is the state's "network/ruleset" as
 * the state before that block holds it (NULL when absent):
 *   {"ruleset": N, "from": H, "before": M, "proposal": txid hex}
 * N from height H on, M below it; with no record, the genesis's ruleset. */
uint32_t cc_ruleset_at(const json_t *rec, const cc_genesis *g, uint64_t height);
/* CC_OK when this build executes ruleset, the ruleset of block height;
 * else CC_ERR_VERSION saying so. */
cc_err cc_ruleset_known(uint32_t ruleset, uint64_t height, cc_errbuf *eb);

/* The type registered under name, or NULL. */
const cc_tx_type *cc_tx_type_find(const char *name);
/* Let every module write its part of the genesis state (apps.c). */
cc_err cc_apps_genesis(cc_exec_ctx *ctx);

/* State access for handlers. Keys are NUL-terminated strings such as
 * "id/<hex>"; values are bytes. get's value is valid until the next write
 * of the same tx or the end of the tx. */
cc_err cc_state_get(cc_exec_ctx *ctx, const char *key, const uint8_t **val, size_t *len);
/* Parse a JSON value; caller decrefs. CC_ERR_NOT_FOUND when absent. */
cc_err cc_state_get_json(cc_exec_ctx *ctx, const char *key, json_t **out);
cc_err cc_state_put(cc_exec_ctx *ctx, const char *key, const void *val, size_t len);
/* Store v in canonical JSON form. */
cc_err cc_state_put_json(cc_exec_ctx *ctx, const char *key, const json_t *v);
cc_err cc_state_del(cc_exec_ctx *ctx, const char *key);

/* Erase the attachment whose SHA-256 is hash from this node's store (a
 * record's ciphertext: crypto-shredding). Like a state write it is kept
 * with the tx and takes effect only if the tx succeeds: then, in the
 * block's write transaction, after every attachment of the block is
 * stored. Erasing bytes this node never held is not an error. Attachments
 * are not part of the state root, so the chain still verifies. */
cc_err cc_exec_erase_attachment(cc_exec_ctx *ctx, const uint8_t hash[CC_HASH_BYTES]);

/* Identities as the state after one committed block holds them, one slot
 * per first byte of the public key (keys are uniformly random, so the
 * slots fill evenly; two signers that share a slot take turns). */
#define CC_IDENTITY_CACHE_SLOTS 256
typedef struct cc_identity_cache {
    cc_identity slot[CC_IDENTITY_CACHE_SLOTS];
    bool used[CC_IDENTITY_CACHE_SLOTS];
} cc_identity_cache;

/* The identity of pk into *out when c holds it (true), else false. */
bool cc_identity_cache_get(const cc_identity_cache *c, const uint8_t pk[CC_PUBKEY_BYTES], cc_identity *out);
/* Remember id (in its key's slot, replacing whichever identity was there). */
void cc_identity_cache_put(cc_identity_cache *c, const cc_identity *id);
/* Forget every identity. */
void cc_identity_cache_clear(cc_identity_cache *c);

/* Read an identity straight from a store txn (admission, queries). */
cc_err cc_identity_read(MDB_txn *txn, const cc_store *s, const uint8_t pk[CC_PUBKEY_BYTES], cc_identity *out);

/* ---- the executor (used by chain.c) ------------------------------------- */

/* Write the genesis state (organisations, nodes, founding identities) into
 * an empty store inside txn, updating acc. */
cc_err cc_exec_genesis(cc_store *s, MDB_txn *txn, const cc_genesis *g, cc_lthash *acc, cc_errbuf *eb) CC_WUR;

/* Execute txs as block `height` at time_ms inside txn: check each tx,
 * run its handler, merge its writes, index it; results[i] receives each
 * result. acc is updated with every state change. Returns an error only
 * when the store fails (then the caller aborts the txn).
 *
 * ids (may be NULL) holds signers' identities as the state before this
 * block has them; exec reads signers from it and adds the ones it reads,
 * until a tx of the block writes an identity. *ids_written says whether
 * one did: then ids no longer describes the state after the block, and
 * the caller empties it before the next one. Either way, whether the block
 * commits or not, ids stays true of the state before it. */
cc_err cc_exec_block(cc_store *s, MDB_txn *txn, const cc_genesis *g, cc_tx *txs, size_t n, uint64_t height,
                     uint64_t time_ms, cc_lthash *acc, cc_identity_cache *ids, bool *ids_written,
                     cc_result *results, cc_errbuf *eb) CC_WUR;

/* A tx's key in the store's "seen" database: u64 expiry_ms || txid (the
 * duplicate rule's index; store.h says why expiry comes first). */
#define CC_SEEN_KEY_BYTES (8 + CC_HASH_BYTES)
void cc_seen_key(const cc_tx *tx, uint8_t key[CC_SEEN_KEY_BYTES]);
/* Where a tx committed, as "seen" and the txid index store it: u64 height
 * || u32 index in its block. */
#define CC_TX_LOC_BYTES (8 + 4)
void cc_tx_loc_encode(uint64_t height, uint32_t index, uint8_t out[CC_TX_LOC_BYTES]);

/* Encode and decode a block's result list (store "results" value). */
cc_err cc_results_encode(const cc_result *results, size_t n, uint8_t **out, size_t *len) CC_WUR;
cc_err cc_results_get(const uint8_t *buf, size_t len, uint32_t index, cc_result *out) CC_WUR;

#endif
