/*
 * node/waiters.c — the txid -> waiter map behind ?wait=commit (see
 * waiters.h for the states and the invariant).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "carechain/os.h"
#include "node/waiters.h"

#define WAITERS_BUCKETS (1u << 16)

static size_t bucket_of(const cc_waiters *ws, const uint8_t txid[CC_HASH_BYTES])
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, txid, CC_HASH_BYTES, ws->key);
    memcpy(&v, h, sizeof v);
    return (size_t)v & ws->mask;
}

cc_err cc_waiters_init(cc_waiters *ws)
{
    memset(ws, 0, sizeof *ws);
    ws->buckets = calloc(WAITERS_BUCKETS, sizeof *ws->buckets);
    if (!ws->buckets) return CC_ERR_NOMEM;
    ws->mask = WAITERS_BUCKETS - 1;
    crypto_shorthash_keygen(ws->key);
    if (pthread_mutex_init(&ws->mu, NULL) != 0) {
        free(ws->buckets);
        ws->buckets = NULL;
        return CC_ERR_NOMEM;
    }
    return CC_OK;
}

void cc_waiters_destroy(cc_waiters *ws)
{
    free(ws->buckets);
    pthread_mutex_destroy(&ws->mu);
    memset(ws, 0, sizeof *ws);
}

void cc_wait_group_init(cc_wait_group *g)
{
    /* The monotonic clock: a wall-clock step must not cut a wait short. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->done, &attr);
    pthread_condattr_destroy(&attr);
    g->remaining = 0;
    g->first = NULL;
}

void cc_wait_group_destroy(cc_wait_group *g)
{
    pthread_cond_destroy(&g->done);
}

/* Unlink w from its bucket; the lock is held and w is PENDING. */
static void unlink_locked(cc_waiters *ws, cc_waiter *w)
{
    cc_waiter **pp = &ws->buckets[bucket_of(ws, w->txid)];
    while (*pp && *pp != w) pp = &(*pp)->next;
    if (*pp) *pp = w->next;
    w->next = NULL;
    ws->pending--;
}

/* Move a PENDING waiter to DONE with an outcome; the lock is held and w is
 * already out of the map. */
static void finish_locked(cc_waiter *w, cc_err err)
{
    w->state = CC_WAITER_DONE;
    w->err = err;
    if (--w->group->remaining == 0) pthread_cond_signal(&w->group->done);
}

void cc_waiters_add(cc_waiters *ws, cc_wait_group *g, cc_waiter **w, size_t n)
{
    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < n; i++) {
        cc_waiter *x = w[i];
        x->group = g;
        x->group_next = g->first;
        g->first = x;
        if (ws->closed) {
            x->state = CC_WAITER_DONE;
            x->err = CC_ERR_UNREACHABLE;
            continue;
        }
        size_t b = bucket_of(ws, x->txid);
        x->next = ws->buckets[b];
        ws->buckets[b] = x;
        x->state = CC_WAITER_PENDING;
        ws->pending++;
        g->remaining++;
    }
    pthread_mutex_unlock(&ws->mu);
}

void cc_waiters_cancel(cc_waiters *ws, cc_waiter *w)
{
    pthread_mutex_lock(&ws->mu);
    if (w->state == CC_WAITER_PENDING) {
        unlink_locked(ws, w);
        w->state = CC_WAITER_IDLE;
        w->group->remaining--;
    }
    pthread_mutex_unlock(&ws->mu);
}

bool cc_waiters_wait(cc_waiters *ws, cc_wait_group *g, uint64_t deadline_ms)
{
    /* deadline_ms is on the cc_now_ms clock; convert to a monotonic one. */
    uint64_t now_ms = cc_now_ms();
    const struct timespec until =
        cc_time_after_ms(CLOCK_MONOTONIC, deadline_ms > now_ms ? deadline_ms - now_ms : 0);

    pthread_mutex_lock(&ws->mu);
    while (g->remaining > 0) {
        if (pthread_cond_timedwait(&g->done, &ws->mu, &until) == ETIMEDOUT) break;
    }
    bool all = g->remaining == 0;
    for (cc_waiter *w = g->first; w; w = w->group_next) {
        if (w->state != CC_WAITER_PENDING) continue;
        unlink_locked(ws, w);
        w->state = CC_WAITER_IDLE;
    }
    g->remaining = 0;
    pthread_mutex_unlock(&ws->mu);
    return all;
}

/* Complete every waiter of txid: committed at (height, index) with result
 * when result is not NULL, else failed with err. The lock is held. */
static void complete_locked(cc_waiters *ws, const uint8_t txid[CC_HASH_BYTES], cc_err err, uint64_t height,
                            uint32_t index, const cc_result *result)
{
    cc_waiter **pp = &ws->buckets[bucket_of(ws, txid)];
    while (*pp) {
        cc_waiter *w = *pp;
        if (memcmp(w->txid, txid, CC_HASH_BYTES) != 0) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->next = NULL;
        ws->pending--;
        if (result) {
            w->loc.height = height;
            w->loc.index = index;
            w->loc.result = *result;
        }
        finish_locked(w, err);
    }
}

void cc_waiters_commit(cc_waiters *ws, const cc_tx *txs, size_t n, uint64_t height, const cc_result *results)
{
    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < n && ws->pending > 0; i++)
        complete_locked(ws, txs[i].txid, CC_OK, height, (uint32_t)i, &results[i]);
    pthread_mutex_unlock(&ws->mu);
}

void cc_waiters_commit_one(cc_waiters *ws, const uint8_t txid[CC_HASH_BYTES], const cc_tx_location *loc)
{
    pthread_mutex_lock(&ws->mu);
    if (ws->pending > 0) complete_locked(ws, txid, CC_OK, loc->height, loc->index, &loc->result);
    pthread_mutex_unlock(&ws->mu);
}

void cc_waiters_fail(cc_waiters *ws, const cc_tx *txs, size_t n, cc_err err)
{
    pthread_mutex_lock(&ws->mu);
    for (size_t i = 0; i < n && ws->pending > 0; i++) complete_locked(ws, txs[i].txid, err, 0, 0, NULL);
    pthread_mutex_unlock(&ws->mu);
}

void cc_waiters_close(cc_waiters *ws)
{
    pthread_mutex_lock(&ws->mu);
    ws->closed = true;
    for (size_t b = 0; b <= ws->mask && ws->pending > 0; b++) {
        while (ws->buckets[b]) {
            cc_waiter *w = ws->buckets[b];
            ws->buckets[b] = w->next;
            w->next = NULL;
            ws->pending--;
            finish_locked(w, CC_ERR_UNREACHABLE);
        }
    }
    pthread_mutex_unlock(&ws->mu);
}
