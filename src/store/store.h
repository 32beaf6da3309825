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
 *   attachment_at sha256                  -> u32 segment, u64 offset, u32 length:
 *                                            where the bytes are in data/attachments/
 *                                            (attach.c; erasable: overwritten on disk)
 *   shred        u32 segment || u64 offset -> u32 length: erased bytes not yet
 *                                            overwritten (attach.c)
 *   history      u8 level || u64 index    -> perfect-subtree hash over block hashes
 *   checkpoints  u64 height || node pk    -> checkpoint signature
 *   evidence     u64 height || u8 kind    -> JSON: two conflicting signed headers
 *   members      u64 height               -> the consensus node keys (32 bytes each,
 *                                            ascending) from that height on, written
 *                                            where the set changes (none: the genesis nodes)
 *   meta         name                     -> "chain_id", "head", "lthash", "halted",
 *                                            "attachments_end"
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
#include <stdatomic.h>

#include <lmdb.h>

#include "carechain.h"

/* Attachments are appended to segment files of up to this many bytes. */
#define CC_ATTACH_SEGMENT_BYTES ((uint64_t)256 << 20)

typedef struct cc_attach_files cc_attach_files;

typedef struct cc_store {
    MDB_env *env;
    MDB_dbi blocks, results, seen, state, history, checkpoints, evidence, members, meta;
    MDB_dbi attachment_at, shred; /* the main store's (attach.c) */
    bool has_attachment_at;       /* false: a read-only open of a store made before it */
    MDB_dbi old_attachments;      /* a store made before attachment_at: sha256 -> bytes */
    bool has_old_attachments;     /* ... which this store still has */
    cc_attach_files *att;         /* the segment files; NULL in the txid index's store */
    MDB_dbi txids;                /* the txid query index's store only */
    MDB_dbi old_txindex;          /* a store made before "seen": its txid index */
    bool has_old_txindex;         /* ... which this store still has */
    size_t map_size;
    size_t map_max;
    bool readonly;
    pthread_rwlock_t resize_lock; /* shared by every txn; exclusive to grow */
    unsigned fault_countdown;     /* tests only: fail the Nth write from now; 0 = never */
    pthread_mutex_t write_lock;   /* held from a write txn's begin to after its commit or abort */
    _Atomic(MDB_txn *) write_txn; /* the write txn open now, if any */
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
 * dir/data.mdb (dir is created, mode 0700; the file gets mode 0600), with
 * the attachments its entries name in dir/attachments/. Safe while another
 * process writes: LMDB copies one consistent snapshot, and bytes erased
 * after it are left out of the copy. */
cc_err cc_store_copy(cc_store *s, const char *dir, cc_errbuf *eb) CC_WUR;

/* Begin a transaction (holding the resize lock shared until end/abort;
 * a write txn also holds write_lock, taken after it, until after the
 * attachments' work that follows its commit or abort). */
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

/* ---- attachments (attach.c) ---------------------------------------------------
 * Bytes by SHA-256, in segment files beside data.mdb. Put and erase write
 * in the txn like any put; the store's commit makes the bytes durable
 * first and overwrites erased bytes after. */
/* Store the bytes unless this hash is held already. */
cc_err cc_store_attach_put(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], const uint8_t *bytes,
                           size_t len, cc_errbuf *eb) CC_WUR;
bool cc_store_attach_has(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES]);
/* A copy of the bytes (malloc'd); CC_ERR_NOT_FOUND when they are not held,
 * or no longer hash to hash (overwritten since the txn began). */
cc_err cc_store_attach_get(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES], uint8_t **out,
                           size_t *len) CC_WUR;
/* Forget the bytes; they are overwritten once the txn has committed. Not
 * held: CC_OK. */
cc_err cc_store_attach_erase(cc_store *s, MDB_txn *txn, const uint8_t hash[CC_HASH_BYTES],
                             cc_errbuf *eb) CC_WUR;
/* Read every attachment held and check its SHA-256: CC_OK and *count, or
 * CC_ERR_CORRUPT with the first bad one's hash in bad. */
cc_err cc_store_attach_check(cc_store *s, MDB_txn *txn, uint64_t *count, uint8_t bad[CC_HASH_BYTES]) CC_WUR;
/* Tests: start a new segment once one would pass this many bytes. */
void cc_store_attach_segment_limit(cc_store *s, uint64_t bytes);
/* store.c's part: open the files of the store in dir (a writable open
 * brings them in line with the last commit, and moves the bytes of a
 * store made before attachment_at into them; copy_of: dir holds a fresh
 * copy of that store's LMDB, whose attachments are copied from its files),
 * and close them; a write txn's commit calls precommit before LMDB's
 * commit, then committed or aborted. */
cc_err cc_attach_open(cc_store *s, const char *dir, cc_store *copy_of, cc_errbuf *eb) CC_WUR;
void cc_attach_close(cc_store *s);
cc_err cc_attach_precommit(cc_store *s, MDB_txn *txn, cc_errbuf *eb) CC_WUR;
void cc_attach_committed(cc_store *s);
void cc_attach_aborted(cc_store *s);

/* The history tree's node source over a txn (ctx is the txn's cc_store_ctx). */
typedef struct cc_store_ctx {
    cc_store *s;
    MDB_txn *txn;
} cc_store_ctx;
cc_err cc_store_history_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES]);
cc_err cc_store_history_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[CC_HASH_BYTES]);

#endif
