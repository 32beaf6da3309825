/*
 * store.h — the LMDB environment of one node and its named databases.
 * Internal to the library: exec and the chain API use it.
 *
 * Databases (keys and values in docs/PROTOCOL.md "Store"):
 *   blocks       u64 height               -> block encoding
 *   results      u64 height               -> (u16 code, u16 n, msg)* per tx
 *   seen         u64 expiry_ms || txid    -> u64 height, u32 index: every txid
 *                                            committed, for the duplicate rule
 *                                            (keyed by expiry so that a block's
 *                                            inserts land together at the end of
 *                                            the tree, not on random leaves)
 *   state        key bytes                -> u64 height of last write || value
 *   attachments  sha256                   -> bytes (erasable)
 *   history      u8 level || u64 index    -> perfect-subtree hash over block hashes
 *   checkpoints  u64 height || node pk    -> checkpoint signature
 *   evidence     u64 height || u8 kind    -> JSON: two conflicting signed headers
 *   members      u64 height               -> the consensus node keys (32 bytes each,
 *                                            ascending) from that height on, written
 *                                            where the set changes (none: the genesis nodes)
 *   meta         name                     -> "chain_id", "head", "lthash", "halted"
 *
 * The txid query index (txid -> u64 height, u32 index, for lookups by txid
 * alone) is derived from the blocks and kept in a second environment,
 * data/txids, with databases "txids" and "meta" (exec/txids.c). A store made
 * before "seen" existed has "txindex" (txid -> location) instead, which
 * cc_chain_open replaces when it opens the store for writing.
 *
 * Invariants:
 *  1. Everything a block causes is written in ONE write transaction, so a
 *     crash leaves the store at height h-1 or h.
 *  2. meta "head" and meta "lthash" always describe the newest block in
 *     "blocks"; history holds leaf i for every height i <= head (leaf 0 is
 *     the chain id).
 *  3. The map only grows, under an exclusive lock that no transaction holds.
 */
#ifndef CC_STORE_H
#define CC_STORE_H

#include <pthread.h>

#include <lmdb.h>

#include "carechain.h"

typedef struct cc_store {
    MDB_env *env;
    MDB_dbi blocks, results, seen, state, attachments, history, checkpoints, evidence, members, meta;
    MDB_dbi txids;        /* the txid query index's store only */
    MDB_dbi old_txindex;  /* a store made before "seen": its txid index */
    bool has_old_txindex; /* ... which this store still has */
    size_t map_size;
    size_t map_max;
    bool readonly;
    pthread_rwlock_t resize_lock; /* shared by every txn; exclusive to grow */
    unsigned fault_countdown;     /* tests only: fail the Nth write from now; 0 = never */
} cc_store;

/* Open or create the environment in dir (created 0700 when missing). */
cc_err cc_store_open(const char *dir, size_t map_size, size_t map_max, bool readonly, cc_store **out,
                     cc_errbuf *eb) CC_WUR;
/* Open or create the txid query index's environment in dir (map grows up to
 * map_max; 0 = 64 GiB). */
cc_err cc_store_open_index(const char *dir, size_t map_max, bool readonly, cc_store **out,
                           cc_errbuf *eb) CC_WUR;
void cc_store_close(cc_store *s);
/* A compacted copy of the whole environment as of one read snapshot, in
 * dir/data.mdb (dir is created, mode 0700; the file gets mode 0600). Safe
 * while another process writes: LMDB copies one consistent snapshot. */
cc_err cc_store_copy(cc_store *s, const char *dir, cc_errbuf *eb) CC_WUR;

/* Begin a transaction (holding the resize lock shared until end/abort). */
cc_err cc_store_begin(cc_store *s, bool write, MDB_txn **txn, cc_errbuf *eb) CC_WUR;
/* Commit; CC_ERR_STORE_FULL when the map is full (the txn is gone either way). */
cc_err cc_store_commit(cc_store *s, MDB_txn *txn, cc_errbuf *eb) CC_WUR;
void cc_store_abort(cc_store *s, MDB_txn *txn);
/* Double the map, up to map_max. CC_ERR_STORE_FULL when it is at the limit.
 * Call with no transaction open in this thread. */
cc_err cc_store_grow(cc_store *s, cc_errbuf *eb) CC_WUR;

/* Map an LMDB return code to cc_err (MDB_NOTFOUND -> CC_ERR_NOT_FOUND,
 * MDB_MAP_FULL -> CC_ERR_STORE_FULL) with a message. */
cc_err cc_store_err(int mdb_rc, const char *what, cc_errbuf *eb);

/* Get/put helpers; get's value is valid until the txn ends. */
cc_err cc_store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val);
cc_err cc_store_put(cc_store *s, MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                    size_t vlen, cc_errbuf *eb) CC_WUR;

/* Every write goes through here first: CC_ERR_IO when a test armed
 * fault_countdown and this is the write it names (a fault loop proves that a
 * write failing anywhere in a block leaves the store at h-1). */
cc_err cc_store_write_check(cc_store *s, cc_errbuf *eb) CC_WUR;
/* Arm the fault: the nth write from now fails (0 disarms). */
void cc_store_fault_after(cc_store *s, unsigned n);

/* The history tree's node source over a txn (ctx is the txn's cc_store_ctx). */
typedef struct cc_store_ctx {
    cc_store *s;
    MDB_txn *txn;
} cc_store_ctx;
cc_err cc_store_history_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES]);
cc_err cc_store_history_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[CC_HASH_BYTES]);

#endif
