/*
 * node/mempool.h — the bounded queue of admitted txs waiting for a block:
 * a FIFO ring of txs (held by value, so queueing costs no allocation) and a
 * hash set of txids for dedupe.
 *
 * Invariants:
 *  1. The txid set holds every queued tx AND every tx taken for the block in
 *     flight, until cc_mempool_release; so a tx cannot be queued twice, nor
 *     queued again while its block is being committed.
 *  2. count <= max and bytes <= max_bytes; the ring grows on demand
 *     (doubling) up to max.
 *  3. Once refused (store full, stopping), pushes fail with the refusal code
 *     and the queue is empty.
 *
 * Thread safety: every function takes the mempool's lock, except the
 * *_locked ones, which require cc_mempool_lock to be held.
 */
#ifndef CC_NODE_MEMPOOL_H
#define CC_NODE_MEMPOOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"

typedef struct cc_mempool_slot {
    cc_tx tx;
    uint64_t admitted_ns; /* cc_mono_ns() at admission, for the latency histogram */
} cc_mempool_slot;

typedef struct cc_mempool {
    pthread_mutex_t mu;
    pthread_cond_t nonempty; /* the producer waits here */
    cc_mempool_slot *ring;   /* cap slots; [head, head + count) are queued */
    size_t cap, head, count, max;
    size_t bytes, max_bytes; /* sum of cc_mempool_tx_bytes over queued txs, and its bound */

    uint8_t (*set)[CC_HASH_BYTES]; /* open addressing, linear probing */
    uint8_t *set_used;             /* set_used[i]: slot i holds a txid */
    size_t set_mask;               /* set capacity - 1 (a power of two) */
    size_t set_count;              /* queued + in flight */
    uint8_t set_key[16];           /* SipHash key: txids cannot be ground to collide */

    cc_err refusal; /* CC_OK while open */
    bool closed;    /* cc_mempool_take returns 0 */
} cc_mempool;

/* Set up an empty mempool for at most max txs and max_bytes bytes (see
 * cc_mempool_tx_bytes). CC_ERR_NOMEM. */
cc_err cc_mempool_init(cc_mempool *mp, size_t max, size_t max_bytes) CC_WUR;
/* Free the mempool and every tx still queued. */
void cc_mempool_destroy(cc_mempool *mp);

/* Bytes a tx adds to a block's write: its encoding, frame and attachment. */
size_t cc_mempool_tx_bytes(const cc_tx *tx);

void cc_mempool_lock(cc_mempool *mp);
void cc_mempool_unlock(cc_mempool *mp);
/* Whether txid is queued or in the block in flight. */
bool cc_mempool_has_locked(const cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES]);
/* Queue tx, moving it: on CC_OK the mempool owns what *tx owned and *tx is
 * zeroed; on error *tx is untouched. Errors: CC_ERR_DUPLICATE (queued or in
 * flight), CC_ERR_BUSY (full: count or bytes), the refusal code once refused. The caller
 * signals the producer with cc_mempool_signal_locked after its pushes. */
cc_err cc_mempool_push_locked(cc_mempool *mp, cc_tx *tx, uint64_t admitted_ns) CC_WUR;
void cc_mempool_signal_locked(cc_mempool *mp);

/* Whether txid is queued or in flight (takes the lock). */
bool cc_mempool_has(cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES]);
/* Number of queued txs. */
size_t cc_mempool_count(cc_mempool *mp);

/* The producer: wait until txs are queued (or the mempool closes), then move
 * the oldest txs, at most max_txs and max_bytes (but at least one), into
 * txs[] and admitted_ns[]; the caller owns them. Their txids stay in the set
 * until cc_mempool_release. Returns the count, 0 once closed. *waited (may
 * be NULL) says whether no tx was queued when it was called. */
size_t cc_mempool_take(cc_mempool *mp, cc_tx *txs, uint64_t *admitted_ns, size_t max_txs, size_t max_bytes,
                       bool *waited);
/* Wait until at least `want` txs are queued, the mempool closes or the
 * monotonic clock (cc_mono_ns) reaches deadline_ns, then take like
 * cc_mempool_take without waiting any more: the count may be 0, and
 * max_bytes holds even for the first tx. */
size_t cc_mempool_take_more(cc_mempool *mp, cc_tx *txs, uint64_t *admitted_ns, size_t max_txs,
                            size_t max_bytes, size_t want, uint64_t deadline_ns);
/* Forget the txids of a block that committed or failed. */
void cc_mempool_release(cc_mempool *mp, const cc_tx *txs, size_t n);

/* Refuse further txs with code (CC_ERR_STORE_FULL, CC_ERR_UNREACHABLE) and
 * move every queued tx out into *out (malloc'd array, caller frees each tx
 * and the array; NULL when none). Their txids leave the set. Returns the
 * count. A later refusal keeps the first code. */
size_t cc_mempool_refuse(cc_mempool *mp, cc_err code, cc_tx **out);
/* Close: refuse with CC_ERR_UNREACHABLE and wake the producer, whose next
 * cc_mempool_take returns 0. Returns the drained txs like cc_mempool_refuse. */
size_t cc_mempool_close(cc_mempool *mp, cc_tx **out);

#endif
