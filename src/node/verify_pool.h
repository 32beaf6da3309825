/*
 * node/verify_pool.h — the worker threads that verify signatures (and do the
 * rest of per-tx admission) so that neither HTTP threads nor the block
 * producer ever spend time in Ed25519.
 *
 * A caller hands over n items and a function; the pool splits [0, n) into
 * chunks, the workers run fn(ctx, begin, end) on them in FIFO order across
 * callers, and the caller sleeps on a condition variable until its last
 * chunk is done.
 */
#ifndef CC_NODE_VERIFY_POOL_H
#define CC_NODE_VERIFY_POOL_H

#include <stddef.h>

#include "carechain.h"

typedef struct cc_verify_pool cc_verify_pool;

/* Work on items [begin, end) of the caller's batch. */
typedef void (*cc_verify_fn)(void *ctx, size_t begin, size_t end);

/* Start threads workers (at least 1). CC_ERR_NOMEM, CC_ERR_IO (no thread). */
cc_err cc_verify_pool_start(unsigned threads, cc_verify_pool **out, cc_errbuf *eb) CC_WUR;
/* Number of worker threads. */
unsigned cc_verify_pool_threads(const cc_verify_pool *p);
/* Run fn over [0, n) on the workers and return when every chunk is done.
 * Safe to call from many threads at once. */
void cc_verify_pool_run(cc_verify_pool *p, cc_verify_fn fn, void *ctx, size_t n);
/* Finish queued chunks, join the workers and free the pool. No caller may
 * be inside cc_verify_pool_run. */
void cc_verify_pool_stop(cc_verify_pool *p);

#endif
