/*
 * node/mempool.c — bounded FIFO of admitted txs plus a txid set (see
 * mempool.h for the invariants).
 *
 * The set uses linear probing with backward-shift deletion (no tombstones),
 * sized to at most half full, keyed by SipHash-2-4 of the txid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "node/mempool.h"

#define RING_MIN_CAP   4096
#define TX_FRAME_BYTES 4 /* u32 length before each tx in a block */

size_t cc_mempool_tx_bytes(const cc_tx *tx)
{
    return (size_t)tx->raw_len + TX_FRAME_BYTES + (tx->has_attachment ? tx->attachment_len : 0);
}

static size_t set_home(const cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES])
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, txid, CC_HASH_BYTES, mp->set_key);
    memcpy(&v, h, sizeof v);
    return (size_t)v & mp->set_mask;
}

/* Slot holding txid, or the empty slot where it would go. */
static size_t set_find(const cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES], bool *found)
{
    size_t i = set_home(mp, txid);
    while (mp->set_used[i]) {
        if (memcmp(mp->set[i], txid, CC_HASH_BYTES) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mp->set_mask;
    }
    *found = false;
    return i;
}

static void set_remove(cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES])
{
    bool found;
    size_t hole = set_find(mp, txid, &found);
    if (!found) return;
    /* Backward shift: pull later members of the probe run into the hole
     * when their home position does not lie cyclically in (hole, j]. */
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mp->set_mask;
        if (!mp->set_used[j]) break;
        size_t home = set_home(mp, mp->set[j]);
        bool home_in_gap = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (home_in_gap) continue;
        memcpy(mp->set[hole], mp->set[j], CC_HASH_BYTES);
        hole = j;
    }
    mp->set_used[hole] = 0;
    mp->set_count--;
}

cc_err cc_mempool_init(cc_mempool *mp, size_t max, size_t max_bytes)
{
    size_t set_cap = 1;
    memset(mp, 0, sizeof *mp);
    mp->max = max;
    mp->max_bytes = max_bytes;
    /* Room for the queue plus a block in flight, at most half full. */
    while (set_cap < 2 * (max + CC_BLOCK_MAX_TXS)) set_cap *= 2;
    mp->set_mask = set_cap - 1;
    crypto_shorthash_keygen(mp->set_key);

    mp->set = calloc(set_cap, sizeof *mp->set);
    if (!mp->set) goto err;
    mp->set_used = calloc(set_cap, 1);
    if (!mp->set_used) goto err_after_set;
    if (pthread_mutex_init(&mp->mu, NULL) != 0) goto err_after_used;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) goto err_after_mutex;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* cc_mempool_take_more's deadline */
    int crc = pthread_cond_init(&mp->nonempty, &attr);
    pthread_condattr_destroy(&attr);
    if (crc != 0) goto err_after_mutex;
    return CC_OK;

err_after_mutex:
    pthread_mutex_destroy(&mp->mu);
err_after_used:
    free(mp->set_used);
err_after_set:
    free(mp->set);
err:
    memset(mp, 0, sizeof *mp);
    return CC_ERR_NOMEM;
}

void cc_mempool_destroy(cc_mempool *mp)
{
    for (size_t i = 0; i < mp->count; i++) cc_tx_free(&mp->ring[(mp->head + i) % mp->cap].tx);
    free(mp->ring);
    free(mp->set);
    free(mp->set_used);
    pthread_cond_destroy(&mp->nonempty);
    pthread_mutex_destroy(&mp->mu);
    memset(mp, 0, sizeof *mp);
}

void cc_mempool_lock(cc_mempool *mp)
{
    pthread_mutex_lock(&mp->mu);
}

void cc_mempool_unlock(cc_mempool *mp)
{
    pthread_mutex_unlock(&mp->mu);
}

bool cc_mempool_has_locked(const cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES])
{
    bool found;
    (void)set_find(mp, txid, &found);
    return found;
}

/* Double the ring (up to max), unrolling it so head becomes 0. */
static bool ring_grow(cc_mempool *mp)
{
    size_t cap = mp->cap ? mp->cap * 2 : RING_MIN_CAP;
    if (cap > mp->max) cap = mp->max;
    cc_mempool_slot *ring = malloc(cap * sizeof *ring);
    if (!ring) return false;
    for (size_t i = 0; i < mp->count; i++) ring[i] = mp->ring[(mp->head + i) % mp->cap];
    free(mp->ring);
    mp->ring = ring;
    mp->cap = cap;
    mp->head = 0;
    return true;
}

cc_err cc_mempool_push_locked(cc_mempool *mp, cc_tx *tx, uint64_t admitted_ns)
{
    bool found;
    if (mp->refusal != CC_OK) return mp->refusal;
    size_t at = set_find(mp, tx->txid, &found);
    if (found) return CC_ERR_DUPLICATE;
    size_t b = cc_mempool_tx_bytes(tx);
    if (mp->count >= mp->max || mp->bytes + b > mp->max_bytes) return CC_ERR_BUSY;
    if (mp->count == mp->cap && !ring_grow(mp)) return CC_ERR_BUSY;

    memcpy(mp->set[at], tx->txid, CC_HASH_BYTES);
    mp->set_used[at] = 1;
    mp->set_count++;

    cc_mempool_slot *slot = &mp->ring[(mp->head + mp->count) % mp->cap];
    slot->tx = *tx;
    slot->admitted_ns = admitted_ns;
    mp->count++;
    mp->bytes += b;
    memset(tx, 0, sizeof *tx);
    return CC_OK;
}

void cc_mempool_signal_locked(cc_mempool *mp)
{
    if (mp->count > 0) pthread_cond_signal(&mp->nonempty);
}

bool cc_mempool_has(cc_mempool *mp, const uint8_t txid[CC_HASH_BYTES])
{
    pthread_mutex_lock(&mp->mu);
    bool found = cc_mempool_has_locked(mp, txid);
    pthread_mutex_unlock(&mp->mu);
    return found;
}

size_t cc_mempool_count(cc_mempool *mp)
{
    pthread_mutex_lock(&mp->mu);
    size_t n = mp->count;
    pthread_mutex_unlock(&mp->mu);
    return n;
}

/* Move the oldest queued txs out (see cc_mempool_take), the first even
 * past max_bytes when first_always; mu is held. */
static size_t take_locked(cc_mempool *mp, cc_tx *txs, uint64_t *admitted_ns, size_t max_txs, size_t max_bytes,
                          bool first_always)
{
    size_t n = 0, bytes = 0;
    while (n < max_txs && mp->count > 0) {
        cc_mempool_slot *slot = &mp->ring[mp->head];
        size_t b = cc_mempool_tx_bytes(&slot->tx);
        if ((n > 0 || !first_always) && bytes + b > max_bytes) break;
        txs[n] = slot->tx;
        admitted_ns[n] = slot->admitted_ns;
        memset(&slot->tx, 0, sizeof slot->tx);
        bytes += b;
        mp->bytes -= b;
        mp->head = (mp->head + 1) % mp->cap;
        mp->count--;
        n++;
    }
    return n;
}

size_t cc_mempool_take(cc_mempool *mp, cc_tx *txs, uint64_t *admitted_ns, size_t max_txs, size_t max_bytes,
                       bool *waited)
{
    size_t n = 0;
    pthread_mutex_lock(&mp->mu);
    if (waited) *waited = mp->count == 0;
    while (!mp->closed && mp->count == 0) pthread_cond_wait(&mp->nonempty, &mp->mu);
    if (!mp->closed) n = take_locked(mp, txs, admitted_ns, max_txs, max_bytes, true);
    pthread_mutex_unlock(&mp->mu);
    return n;
}

size_t cc_mempool_take_more(cc_mempool *mp, cc_tx *txs, uint64_t *admitted_ns, size_t max_txs,
                            size_t max_bytes, size_t want, uint64_t deadline_ns)
{
    struct timespec until = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    size_t n = 0;
    pthread_mutex_lock(&mp->mu);
    while (!mp->closed && mp->count < want)
        if (pthread_cond_timedwait(&mp->nonempty, &mp->mu, &until) == ETIMEDOUT) break;
    if (!mp->closed) n = take_locked(mp, txs, admitted_ns, max_txs, max_bytes, false);
    pthread_mutex_unlock(&mp->mu);
    return n;
}

void cc_mempool_release(cc_mempool *mp, const cc_tx *txs, size_t n)
{
    pthread_mutex_lock(&mp->mu);
    for (size_t i = 0; i < n; i++) set_remove(mp, txs[i].txid);
    pthread_mutex_unlock(&mp->mu);
}

/* Move every queued tx into a fresh array; the lock is held. */
static size_t drain_locked(cc_mempool *mp, cc_tx **out)
{
    size_t n = mp->count;
    cc_tx *txs = NULL;
    *out = NULL;
    if (n == 0) return 0;
    txs = malloc(n * sizeof *txs);
    for (size_t i = 0; i < n; i++) {
        cc_mempool_slot *slot = &mp->ring[(mp->head + i) % mp->cap];
        set_remove(mp, slot->tx.txid);
        if (txs)
            txs[i] = slot->tx;
        else
            cc_tx_free(&slot->tx); /* no memory to report them: just drop */
        memset(&slot->tx, 0, sizeof slot->tx);
    }
    mp->head = 0;
    mp->count = 0;
    mp->bytes = 0;
    *out = txs;
    return txs ? n : 0;
}

size_t cc_mempool_refuse(cc_mempool *mp, cc_err code, cc_tx **out)
{
    pthread_mutex_lock(&mp->mu);
    if (mp->refusal == CC_OK) mp->refusal = code;
    size_t n = drain_locked(mp, out);
    pthread_mutex_unlock(&mp->mu);
    return n;
}

size_t cc_mempool_close(cc_mempool *mp, cc_tx **out)
{
    pthread_mutex_lock(&mp->mu);
    if (mp->refusal == CC_OK) mp->refusal = CC_ERR_UNREACHABLE;
    mp->closed = true;
    size_t n = drain_locked(mp, out);
    pthread_cond_broadcast(&mp->nonempty);
    pthread_mutex_unlock(&mp->mu);
    return n;
}
