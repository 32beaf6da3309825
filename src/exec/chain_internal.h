/*
 * chain_internal.h — the cc_chain object shared by chain.c (open, admit,
 * produce, apply), query.c (read-only views) and verify.c.
 */
#ifndef CC_CHAIN_INTERNAL_H
#define CC_CHAIN_INTERNAL_H

#include <pthread.h>

#include "carechain/chain.h"
#include "exec/exec.h"
#include "store/store.h"

#define CC_META_HEAD_BYTES (8 + 32 + 8 + 32 + 8)

typedef struct cc_txids cc_txids;

struct cc_chain {
    cc_store *s;
    cc_txids *txids; /* the txid query index (txids.c) */
    cc_genesis g;
    pthread_mutex_t writer; /* one produce/apply at a time */
    pthread_mutex_t lock;   /* guards head, acc, store_full and the timings */
    cc_head head;
    cc_lthash acc; /* the state accumulator after head */
    bool store_full;
    cc_chain_timing build, execute, store_commit; /* cc_chain_stats */
    /* A block built and kept (cc_chain_build_kept): its open write txn,
     * what the head becomes when it commits, and the thread keeping it,
     * which holds writer meanwhile. keeping and owner are set and read
     * under lock; the rest only by the owner. */
    struct {
        MDB_txn *txn;
        cc_head next;
        cc_lthash acc;
        bool ids_written;
        pthread_t owner;
    } kept;
    bool keeping;
    /* Identities admission looked up, true of the state at head height
     * admit_ids_height; emptied when a committed block wrote an identity,
     * so it never outlives its state. */
    cc_identity_cache admit_ids;
    uint64_t admit_ids_height;
    /* Signers exec read, true of the state at height exec_ids_height (only
     * the writer touches them; cc_exec_block says how they stay true). */
    cc_identity_cache exec_ids;
    uint64_t exec_ids_height;
};

/* ---- the txid query index (txids.c) ---- */

/* Open data_dir/txids for c. Writable with build: created or checked, and a
 * thread keeps it filled from the committed blocks. Writable without build
 * (a scratch chain) or readonly without an index: lookups read the blocks. */
cc_err cc_txids_open(cc_chain *c, const char *data_dir, size_t map_max, bool readonly, bool build,
                     cc_txids **out, cc_errbuf *eb) CC_WUR;
/* Stop the thread and close the index. */
void cc_txids_close(cc_txids *x);
/* The newest block indexed. */
uint64_t cc_txids_indexed(cc_txids *x);
/* Index every committed block now (tests). */
cc_err cc_txids_catch_up(cc_txids *x, cc_errbuf *eb) CC_WUR;
/* Where txid first committed, as of main's snapshot of c's store: from the
 * index, then from the blocks it has not reached. CC_ERR_NOT_FOUND when
 * it never committed. */
cc_err cc_txids_find(cc_txids *x, cc_chain *c, MDB_txn *main, const uint8_t txid[CC_HASH_BYTES],
                     uint64_t *height, uint32_t *index) CC_WUR;
/* verify-chain: every entry of the index against a replay of the chain
 * (replayed_seen in txn replayed). CC_ERR_VERIFY with what and *bad_height. */
cc_err cc_txids_check(cc_txids *x, MDB_txn *main, MDB_txn *replayed, MDB_dbi replayed_seen,
                      uint64_t *bad_height, char *what, size_t cap) CC_WUR;

/* Decode meta "head". */
void cc_chain_head_decode(const uint8_t *buf, cc_head *h);
/* The head as txn sees the store (meta "head"). */
cc_err cc_chain_head_read(cc_store *s, MDB_txn *txn, cc_head *out) CC_WUR;
/* Read block `height`'s header from the store inside txn. */
cc_err cc_chain_header_at(cc_store *s, MDB_txn *txn, uint64_t height, cc_header *h);

/* The consensus nodes after block `height` (members.c). */
cc_err cc_members_at(cc_store *s, MDB_txn *txn, const cc_genesis *g, uint64_t height, cc_members *out);
/* Inside block `height`'s write txn: the set after it, recorded in the
 * members table when the block changed it (only possible when it wrote an
 * identity). */
cc_err cc_members_after_block(cc_store *s, MDB_txn *txn, const cc_genesis *g, uint64_t height,
                              bool ids_written, cc_members *out, cc_errbuf *eb);

#endif
