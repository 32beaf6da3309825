/*
 * node/waiters.h — requests waiting for their txs to commit (?wait=commit).
 *
 * A request owns a cc_wait_group and one cc_waiter per tx it waits for
 * (usually inside its own per-tx records). Waiters are indexed by txid in a
 * hash map; the block producer completes them after each commit, or fails
 * them (store full, node stopping). Waiter states:
 *
 *     IDLE --cc_waiters_add--> PENDING --complete/fail--> DONE
 *                                 |
 *                                 +--cc_waiters_cancel--> IDLE (timed out,
 *                                                         or the tx was refused)
 *
 * Invariant: a waiter is in the map exactly while PENDING; a group's
 * `remaining` counts its PENDING waiters. All state is guarded by one lock.
 */
#ifndef CC_NODE_WAITERS_H
#define CC_NODE_WAITERS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"
#include "carechain/chain.h"

typedef enum cc_waiter_state {
    CC_WAITER_IDLE = 0,
    CC_WAITER_PENDING,
    CC_WAITER_DONE,
} cc_waiter_state;

typedef struct cc_wait_group cc_wait_group;

typedef struct cc_waiter {
    struct cc_waiter *next;       /* hash bucket chain */
    struct cc_waiter *group_next; /* the group's list */
    cc_wait_group *group;
    uint8_t txid[CC_HASH_BYTES];
    cc_waiter_state state;
    /* Outcome once DONE: err == CC_OK with loc filled when the tx committed
     * (loc.result says whether exec accepted it); otherwise the node could
     * not commit it and err says why (store_full, unreachable). */
    cc_err err;
    cc_tx_location loc;
} cc_waiter;

struct cc_wait_group {
    pthread_cond_t done;
    size_t remaining;
    cc_waiter *first;
};

typedef struct cc_waiters {
    pthread_mutex_t mu;
    cc_waiter **buckets;
    size_t mask;
    size_t pending; /* waiters in the map */
    uint8_t key[16];
    bool closed;
} cc_waiters;

cc_err cc_waiters_init(cc_waiters *ws) CC_WUR;
void cc_waiters_destroy(cc_waiters *ws);

void cc_wait_group_init(cc_wait_group *g);
void cc_wait_group_destroy(cc_wait_group *g);

/* Register n waiters (txid already set in each) under g. After
 * cc_waiters_close they complete at once with CC_ERR_UNREACHABLE. */
void cc_waiters_add(cc_waiters *ws, cc_wait_group *g, cc_waiter **w, size_t n);
/* Withdraw one waiter that is still PENDING (its tx was refused). */
void cc_waiters_cancel(cc_waiters *ws, cc_waiter *w);
/* Sleep until every waiter of g is DONE or deadline_ms (cc_now_ms clock)
 * passes; then withdraw the ones still PENDING (they go back to IDLE).
 * Returns true when all completed. */
bool cc_waiters_wait(cc_waiters *ws, cc_wait_group *g, uint64_t deadline_ms);

/* A block committed: complete the waiters of its txs. */
void cc_waiters_commit(cc_waiters *ws, const cc_tx *txs, size_t n, uint64_t height, const cc_result *results);
/* These txs will not commit: complete their waiters with err. */
void cc_waiters_fail(cc_waiters *ws, const cc_tx *txs, size_t n, cc_err err);
/* The tx committed before its waiter was registered (a block from another
 * node applied meanwhile): complete the waiter with where it is. */
void cc_waiters_commit_one(cc_waiters *ws, const uint8_t txid[CC_HASH_BYTES], const cc_tx_location *loc);
/* Stop: fail every pending waiter with CC_ERR_UNREACHABLE and refuse new ones. */
void cc_waiters_close(cc_waiters *ws);

#endif
