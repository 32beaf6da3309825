/*
 * carechain/chain.h — one node's copy of the chain: the LMDB store plus the
 * deterministic executor, as the node and the CLI see it.
 *
 * Thread safety: a cc_chain may be shared by many threads. Queries run in
 * LMDB read transactions and may run concurrently with each other and with
 * one writer (produce/apply), which must be called from one thread at a time.
 */
#ifndef CARECHAIN_CHAIN_H
#define CARECHAIN_CHAIN_H

#include "carechain.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cc_chain cc_chain;

typedef struct cc_chain_options {
    size_t map_size;     /* initial LMDB map size in bytes; 0 = 64 MiB */
    size_t map_size_max; /* the map grows up to this; 0 = 64 GiB */
    bool readonly;       /* open for queries only (verify-chain, tools) */
    bool no_txid_index;  /* keep no txid query index: lookups by txid read the blocks
                            (a scratch chain, such as verify-chain's replay) */
} cc_chain_options;

/* Open (creating when needed) the store in data_dir for the chain whose
 * genesis document is genesis (the file's exact bytes). A new store gets the
 * genesis state. Errors: CC_ERR_IO, CC_ERR_MALFORMED (genesis),
 * CC_ERR_CHAIN_ID (the store belongs to another chain), CC_ERR_CORRUPT. */
cc_err cc_chain_open(const char *data_dir, const uint8_t *genesis, size_t genesis_len,
                     const cc_chain_options *opt, cc_chain **out, cc_errbuf *eb) CC_WUR;
void cc_chain_close(cc_chain *c);

/* A backup: a compacted copy of the whole store as of one snapshot, in
 * to_dir/data.mdb (to_dir is created with mode 0700). Safe while a node
 * process keeps committing to the same store; c may be readonly. */
cc_err cc_chain_backup(cc_chain *c, const char *to_dir, cc_errbuf *eb) CC_WUR;

/* The parsed genesis; valid until cc_chain_close. */
const cc_genesis *cc_chain_genesis(const cc_chain *c);

typedef struct cc_head {
    uint64_t height; /* 0 before the first block */
    uint8_t hash[CC_HASH_BYTES];
    uint64_t time_ms;
    uint8_t state_root[CC_HASH_BYTES];
    uint64_t tx_total; /* txs committed in all blocks */
} cc_head;

/* The newest committed block (cached; cheap). */
void cc_chain_head(cc_chain *c, cc_head *out);

/* Admission: what a node checks before a tx enters its mempool — chain id,
 * lifetime (against now_ms, with the same windows exec applies), known type,
 * payload rules, attachment presence and hash, signer registered and not
 * revoked with a role allowed to send the type, txid not committed before.
 * Does not verify the signature (the verify pool does). */
cc_err cc_chain_admit(cc_chain *c, const cc_tx *tx, uint64_t now_ms, cc_errbuf *eb) CC_WUR;

/* The same checks for many txs against one snapshot of the store, which
 * saves a store transaction per tx: start from a zeroed view, call
 * cc_chain_admit_in per tx, then cc_chain_admit_view_end. Keep a view for
 * a batch, not longer: an open snapshot holds on to pages the writer
 * would otherwise reuse. */
struct MDB_txn;
typedef struct cc_admit_view {
    struct MDB_txn *txn; /* opened by the first tx that reads the store */
    uint64_t height;     /* the snapshot holds at least this height */
} cc_admit_view;
cc_err cc_chain_admit_in(cc_chain *c, cc_admit_view *v, const cc_tx *tx, uint64_t now_ms,
                         cc_errbuf *eb) CC_WUR;
void cc_chain_admit_view_end(cc_chain *c, cc_admit_view *v);

/* Solo block production: execute txs (in order) on top of the head at
 * time_ms, build and sign the header with node_key, and commit the block,
 * its tx index, attachments, state writes and this node's checkpoint
 * signature in ONE LMDB write transaction. results[n] receives each tx's
 * result. CC_ERR_STORE_FULL when the map cannot grow: nothing changed.
 * time_ms must exceed the head's time (the caller bumps it). */
cc_err cc_chain_produce(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                        cc_header *out, cc_result *results, cc_errbuf *eb) CC_WUR;

/* Build the next block without writing it (for consensus: the leader
 * proposes it, and every node, the leader too, then commits it with
 * cc_chain_apply). Executes txs on top of the head at time_ms in a
 * transaction that is rolled back, and fills the signed header and
 * results. The txs are not changed. */
cc_err cc_chain_build(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                      cc_header *out, cc_result *results, cc_errbuf *eb) CC_WUR;

/* cc_chain_build, but the block is kept instead of rolled back: its write
 * transaction stays open, and the chain's writer lock held, until the same
 * thread commits it (cc_chain_commit_kept) or drops it (cc_chain_drop_kept).
 * A raft leader builds its block once this way, proposes it and commits it
 * as built when raft has committed it. Meanwhile no other thread can write
 * the store (they wait), so the thread keeping it must not wait for long;
 * any block that thread commits or builds first drops what it kept. */
cc_err cc_chain_build_kept(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                           cc_header *out, cc_result *results, cc_errbuf *eb) CC_WUR;
/* Does the calling thread keep a built block, and with this header hash
 * (NULL: any)? */
bool cc_chain_keeps(cc_chain *c, const uint8_t *hash);
/* Commit the kept block: the head moves to it. On failure it is dropped. */
cc_err cc_chain_commit_kept(cc_chain *c, cc_errbuf *eb) CC_WUR;
/* Roll the kept block back (nothing when the caller keeps none). */
void cc_chain_drop_kept(cc_chain *c);

/* Apply a block made elsewhere: checks linkage, time, proposer, signature,
 * tx root, re-executes every tx (verifying signatures not yet checked here)
 * and compares results and state roots with the header before committing
 * atomically. CC_ERR_VERIFY names the mismatch; CC_ERR_VERSION says the
 * block executes under a ruleset this build does not know (carechain.h
 * "Rulesets"): no copy of it applies here. node_key (may be NULL) adds
 * this node's checkpoint signature. */
cc_err cc_chain_apply(cc_chain *c, const cc_block *b, const cc_key *node_key, cc_result *results,
                      cc_errbuf *eb) CC_WUR;

/* Stateless payload check of a tx type (the same rules exec applies before
 * it looks at state): CC_ERR_UNKNOWN_TYPE, CC_ERR_MALFORMED, CC_ERR_INVALID
 * with the reason in eb. payload need not be canonical. */
cc_err cc_payload_validate(const char *type, const uint8_t *payload, size_t len, cc_errbuf *eb) CC_WUR;

/* ---- queries (each in its own read transaction) --------------------------- */

/* The stored block bytes; caller frees *out with free(). CC_ERR_NOT_FOUND. */
cc_err cc_chain_block_raw(cc_chain *c, uint64_t height, uint8_t **out, size_t *len) CC_WUR;
/* A block as JSON: header fields in hex, txs with txid, type, signer and
 * result. Caller decrefs. */
cc_err cc_chain_block_json(cc_chain *c, uint64_t height, json_t **out) CC_WUR;

typedef struct cc_tx_location {
    uint64_t height;
    uint32_t index;
    cc_result result;
} cc_tx_location;

/* Where a committed tx is. CC_ERR_NOT_FOUND when it never committed. */
cc_err cc_chain_tx_find(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], cc_tx_location *loc) CC_WUR;
/* The same for a tx in hand, from the index the duplicate rule reads (by
 * expiry and txid): cheaper than cc_chain_tx_find and always up to date. */
cc_err cc_chain_tx_committed(cc_chain *c, const cc_tx *tx, cc_tx_location *loc) CC_WUR;
/* A committed tx as JSON (fields, payload, location, result). */
cc_err cc_chain_tx_json(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], json_t **out) CC_WUR;
/* The proof document for a tx, anchored at the newest checkpoint signed by a
 * majority of nodes. Caller decrefs. */
cc_err cc_chain_proof(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], json_t **out, cc_errbuf *eb) CC_WUR;
/* The newest checkpoint signed by a majority of the consensus nodes at its
 * height: {height, block_hash, state_root, header (hex), members (the
 * nodes' keys), signatures: [{node, sig}], nodes, required}.
 * CC_ERR_NOT_FOUND before block 1. */
cc_err cc_chain_checkpoint_json(cc_chain *c, json_t **out) CC_WUR;
/* Record n checkpoint signatures of nodes (sigs[i] for heights[i]) in ONE
 * write transaction, each checked first; outcomes[i] (n entries, caller's)
 * gets each one's result: CC_OK (stored, or known already),
 * CC_ERR_NOT_FOUND (no block at that height here yet), CC_ERR_FORBIDDEN
 * (the signer is not a consensus node at that height), CC_ERR_SIGNATURE
 * (does not verify over this node's block there and the nodes after it).
 * Returns CC_OK unless the store failed (then nothing was written). */
cc_err cc_chain_checkpoint_add_many(cc_chain *c, const uint64_t *heights, const cc_checkpoint_sig *sigs,
                                    size_t n, cc_err *outcomes, cc_errbuf *eb) CC_WUR;
/* The newest height a majority of its consensus nodes signed (as
 * cc_chain_checkpoint_json finds it) into *height. CC_ERR_NOT_FOUND when
 * none is known. */
cc_err cc_chain_checkpoint_height(cc_chain *c, uint64_t *height) CC_WUR;
/* Every checkpoint signature stored for height: {height, block_hash,
 * header (hex), signatures: [{node, sig}]}. Caller decrefs.
 * CC_ERR_NOT_FOUND when there is no block at height. */
cc_err cc_chain_checkpoint_sigs_json(cc_chain *c, uint64_t height, json_t **out) CC_WUR;
/* The heights whose checkpoint signatures this node lacks to trace its
 * newest checkpoint back to the genesis nodes (the membership steps of
 * cc_chain_proof): *from..*to, where the next step is searched. A node
 * that caught up after changes of the set holds few signatures of those
 * heights; the checkpoint auditor pulls them. CC_ERR_NOT_FOUND when
 * nothing is missing or there is no checkpoint yet. */
cc_err cc_chain_membership_gap(cc_chain *c, uint64_t *from, uint64_t *to) CC_WUR;
/* The header of the block at height. CC_ERR_NOT_FOUND when there is none. */
cc_err cc_chain_header_get(cc_chain *c, uint64_t height, cc_header *out) CC_WUR;
/* The consensus nodes after the block at height: the genesis nodes until
 * governance adds or removes one. Checkpoints at that height are theirs. */
cc_err cc_chain_members(cc_chain *c, uint64_t height, cc_members *out) CC_WUR;
/* Whether governance removed the node of key pk, as of the head (its
 * node/<hex> record says "removed"). */
bool cc_chain_node_removed(cc_chain *c, const uint8_t pk[CC_PUBKEY_BYTES]);

/* The state value under key (without its height prefix); caller frees. */
cc_err cc_chain_state_get(cc_chain *c, const char *key, char **val, size_t *len) CC_WUR;
/* The rulesets as of the head: the next block's (active), and the one an
 * approved upgrade moves the network to from a later height (next and
 * from; 0 when none waits). */
typedef struct cc_chain_rulesets {
    uint64_t height; /* of the next block */
    uint32_t active;
    uint32_t next;
    uint64_t from;
} cc_chain_rulesets;
cc_err cc_chain_rulesets_get(cc_chain *c, cc_chain_rulesets *out) CC_WUR;
/* Whether this build can execute the next block (the head's height + 1):
 * CC_OK, or CC_ERR_VERSION saying in eb which ruleset the network moved
 * to (carechain.h "Rulesets"); other errors when the state cannot be read.
 * Call on the thread that commits blocks, or before any is committed. */
cc_err cc_chain_next_ruleset_known(cc_chain *c, cc_errbuf *eb) CC_WUR;
/* The state entries whose key starts with prefix, in key order, one
 * snapshot: visit gets each key and value (without its height prefix),
 * valid during the call only. With after (NULL: from the start) only the
 * keys that sort after it, so a long scan can go on in chunks of limit,
 * each its own snapshot, from the last key it saw. At most limit entries;
 * *more tells whether there were others. A visit that returns anything
 * but CC_OK stops the scan, which returns that code. */
typedef cc_err (*cc_state_visit_fn)(void *ctx, const char *key, size_t key_len, const uint8_t *val,
                                    size_t val_len);
cc_err cc_chain_state_scan(cc_chain *c, const char *prefix, const char *after, size_t limit,
                           cc_state_visit_fn visit, void *ctx, bool *more) CC_WUR;
/* An identity: {id, role, org, name, status, registered_height}. */
cc_err cc_chain_identity_json(cc_chain *c, const uint8_t pk[CC_PUBKEY_BYTES], json_t **out) CC_WUR;
/* Attachment bytes by SHA-256; caller frees. CC_ERR_NOT_FOUND once erased. */
cc_err cc_chain_attachment(cc_chain *c, const uint8_t hash[CC_HASH_BYTES], uint8_t **out, size_t *len) CC_WUR;

/* Whether this node holds the attachment bytes with this SHA-256. */
bool cc_chain_attachment_has(cc_chain *c, const uint8_t hash[CC_HASH_BYTES]);
/* Store attachment bytes fetched from another node (catch-up: blocks do not
 * carry them), from any thread. The bytes must hash to hash
 * (CC_ERR_ATTACHMENT otherwise); bytes already held are not written again.
 * wanted(ctx) decides whether the ledger still wants them (an erased
 * record's bytes must not come back), asked while no block can commit, and
 * the bytes are written before one can; so a block that erases them cannot
 * slip in between. wanted may read the chain (cc_chain_state_get), not
 * write it. CC_ERR_NOT_FOUND when it answers no. */
cc_err cc_chain_attachment_restore_if(cc_chain *c, const uint8_t hash[CC_HASH_BYTES], const uint8_t *bytes,
                                      size_t len, bool (*wanted)(void *ctx), void *ctx, cc_errbuf *eb) CC_WUR;

/* A consistent read of the state at one height: every get sees the same
 * committed block. Opened views hold an LMDB read txn; close them soon. */
typedef struct cc_chain_view cc_chain_view;
cc_err cc_chain_view_open(cc_chain *c, cc_chain_view **out) CC_WUR;
void cc_chain_view_close(cc_chain_view *v);
/* The height and block time the view reads at. */
uint64_t cc_chain_view_height(const cc_chain_view *v);
uint64_t cc_chain_view_time(const cc_chain_view *v);
/* The JSON state value under key; CC_ERR_NOT_FOUND when absent. Caller
 * decrefs. (Matches cc_state_reader of src/apps/records.h with v as ctx.) */
cc_err cc_chain_view_get_json(void *v, const char *key, json_t **out) CC_WUR;

/* How long one kind of block work took, every time since the chain was
 * opened: counts per bucket (not cumulative), the bucket i holding the
 * durations up to cc_chain_timing_bounds_s[i] and the last one the
 * longer ones. */
#define CC_CHAIN_TIMING_BUCKETS 12
extern const double cc_chain_timing_bounds_s[CC_CHAIN_TIMING_BUCKETS - 1];
typedef struct cc_chain_timing {
    uint64_t bucket[CC_CHAIN_TIMING_BUCKETS];
    uint64_t count;
    double sum_s;
} cc_chain_timing;

typedef struct cc_chain_stats {
    size_t map_size;            /* current LMDB map size */
    size_t map_used;            /* bytes of pages in use */
    size_t map_max;             /* growth limit */
    bool store_full;            /* a commit failed for lack of space */
    uint64_t txid_index_height; /* the newest block in the txid query index (lookups by txid
                                   read the blocks after it) */
    /* Per block, the ones that succeeded: */
    cc_chain_timing build;   /* built to be proposed (cc_chain_build, cc_chain_build_kept) */
    cc_chain_timing execute; /* committed: its txs run, roots computed, block written (not yet durable) */
    cc_chain_timing store_commit; /* then its LMDB commit: the page writes and the fsync */
} cc_chain_stats;
void cc_chain_stats_get(cc_chain *c, cc_chain_stats *st);

/* ---- evidence ------------------------------------------------------------- */

typedef enum cc_evidence_kind {
    CC_EVIDENCE_EQUIVOCATION = 1, /* two different signed blocks for one height */
    CC_EVIDENCE_DIVERGENCE = 2,   /* re-execution disagrees with signed roots */
    CC_EVIDENCE_MINORITY = 3,     /* a majority of nodes signed another checkpoint than ours */
} cc_evidence_kind;

/* Record evidence (both signed headers, a = ours, b = theirs) and halt the
 * chain: cc_chain_produce and cc_chain_apply then refuse with CC_ERR_CONFLICT
 * until the store is repaired; queries go on. Survives restarts. */
cc_err cc_chain_evidence_add(cc_chain *c, cc_evidence_kind kind, const cc_header *a, const cc_header *b,
                             const char *detail, cc_errbuf *eb) CC_WUR;
/* The same, with the checkpoint signatures over b that make the case
 * (sigs: a JSON array of {node, sig}, borrowed; NULL for none), kept in the
 * record as "signatures". */
cc_err cc_chain_evidence_add_signed(cc_chain *c, cc_evidence_kind kind, const cc_header *a,
                                    const cc_header *b, const char *detail, const json_t *sigs,
                                    cc_errbuf *eb) CC_WUR;
/* Is evidence of kind kept for height? */
bool cc_chain_evidence_has(cc_chain *c, uint64_t height, cc_evidence_kind kind);
/* Compare a header a peer sent with ours at its height: a validly signed
 * node header that differs from our block there is equivocation, recorded
 * (and CC_ERR_CONFLICT returned). CC_OK when consistent or unknown. */
cc_err cc_chain_check_header(cc_chain *c, const cc_header *h, cc_errbuf *eb) CC_WUR;
/* Is the chain halted? reason (may be NULL) gets why. */
bool cc_chain_halted(cc_chain *c, char *reason, size_t cap);
/* All evidence, oldest height first: [{kind, height, headers: [{header,
 * hash, proposer, state_root}, ...], detail, signatures?}]. Caller decrefs. */
cc_err cc_chain_evidence_json(cc_chain *c, json_t **out) CC_WUR;

/* ---- verification ---------------------------------------------------------- */

typedef struct cc_verify_report {
    uint64_t blocks;         /* blocks checked */
    uint64_t txs;            /* txs re-executed */
    uint64_t bad_height;     /* first bad height, 0 when sound */
    uint64_t unchecked_from; /* first block of a ruleset this build does not know, 0 when none */
    char what[256];          /* what is wrong there, or why it cannot be checked */
} cc_verify_report;

/* verify-chain: re-read every block in data_dir, recompute every hash,
 * Merkle root and signature, replay all txs into a scratch store under
 * scratch_dir, compare every root, then compare the stored state with the
 * replayed one. CC_OK on a sound chain; CC_ERR_VERIFY with report filled on
 * tampering; CC_ERR_VERSION when the chain moved (by governance) to a
 * ruleset this build does not know: blocks 1 .. unchecked_from - 1 are
 * sound (report->blocks of them), the rest is left for a newer build, and
 * what says which ruleset; other errors when the directory cannot be read. */
cc_err cc_chain_verify(const char *data_dir, const uint8_t *genesis, size_t genesis_len,
                       const char *scratch_dir, cc_verify_report *report, cc_errbuf *eb) CC_WUR;

#ifdef __cplusplus
}
#endif
#endif
