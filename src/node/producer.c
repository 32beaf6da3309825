/*
 * node/producer.c — the block producer: whenever the previous block has
 * committed and txs are waiting, cut the next block from the mempool (at
 * most CC_BLOCK_MAX_TXS txs and CC_BLOCK_MAX_BYTES bytes, never empty),
 * propose it to consensus, then let everyone know (waiters, SSE, metrics).
 *
 * States of the producer thread:
 *
 *   IDLE --txs queued--> PROPOSING --done(CC_OK)--> COMMITTED --> IDLE
 *     |                      |
 *     |                      +--done(STORE_FULL)--> FULL: the node refuses
 *     |                      |                      txs; reads go on (IDLE,
 *     |                      |                      but nothing is queued)
 *     |                      +--done(other)--> block's txs failed --> IDLE
 *     +--mempool closed (SIGTERM)--> exit (a block in flight finishes first)
 *
 * Invariant: the producer is the only thread that writes to the chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/log.h"
#include "node/node_internal.h"
#include "node/strbuf.h"

typedef struct producer_done {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool finished;
} producer_done;

static void proposal_done(cc_proposal *p)
{
    producer_done *d = p->data;
    pthread_mutex_lock(&d->mu);
    d->finished = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->mu);
}

/* The SSE frame announcing a committed block; caller frees. */
static char *block_event_frame(const cc_header *h, size_t ok, size_t failed, size_t *len)
{
    uint8_t hash[CC_HASH_BYTES];
    cc_strbuf sb = {0};
    cc_header_hash(h, hash);
    cc_strbuf_puts(&sb, "event: block\ndata: {\"height\":");
    cc_strbuf_u64(&sb, h->height);
    cc_strbuf_puts(&sb, ",\"hash\":");
    cc_strbuf_json_hex(&sb, hash, CC_HASH_BYTES);
    cc_strbuf_puts(&sb, ",\"time_ms\":");
    cc_strbuf_u64(&sb, h->time_ms);
    cc_strbuf_puts(&sb, ",\"tx_count\":");
    cc_strbuf_u64(&sb, h->tx_count);
    cc_strbuf_puts(&sb, ",\"ok\":");
    cc_strbuf_u64(&sb, ok);
    cc_strbuf_puts(&sb, ",\"failed\":");
    cc_strbuf_u64(&sb, failed);
    cc_strbuf_puts(&sb, "}\n\n");
    return cc_strbuf_take(&sb, len);
}

static void block_committed(cc_node *node, const cc_proposal *p, const uint64_t *admitted_ns,
                            uint64_t started_ns)
{
    size_t ok = 0, len = 0;
    uint64_t now_ns = cc_mono_ns();
    for (size_t i = 0; i < p->tx_count; i++) ok += p->results[i].code == CC_OK;

    cc_waiters_commit(&node->waiters, p->txs, p->tx_count, p->header.height, p->results);
    char *frame = block_event_frame(&p->header, ok, p->tx_count - ok, &len);
    if (frame) cc_events_publish(&node->events, frame, len);
    cc_metrics_block(&node->metrics, p->txs, p->results, admitted_ns, p->tx_count, now_ns);
    cc_node_log(CC_LOG_INFO, "block", "height %llu committed: %zu txs (%zu ok, %zu failed) in %.1f ms",
                (unsigned long long)p->header.height, p->tx_count, ok, p->tx_count - ok,
                (double)(now_ns - started_ns) / 1e6);
}

/* The store cannot grow: fail this block and everything queued, and make
 * the mempool refuse new txs. Reads keep working. */
static void enter_store_full(cc_node *node, const cc_proposal *p, uint64_t height)
{
    cc_tx *drained = NULL;
    atomic_store(&node->store_full, true);
    size_t n = cc_mempool_refuse(&node->mempool, CC_ERR_STORE_FULL, &drained);
    cc_waiters_fail(&node->waiters, p->txs, p->tx_count, CC_ERR_STORE_FULL);
    cc_waiters_fail(&node->waiters, drained, n, CC_ERR_STORE_FULL);
    for (size_t i = 0; i < n; i++) cc_tx_free(&drained[i]);
    free(drained);
    cc_node_log(CC_LOG_ERROR, "block",
                "store full: block %llu not written (%s); %zu txs in it and %zu queued were failed; "
                "the node now refuses txs but still serves reads",
                (unsigned long long)height, p->eb.msg, p->tx_count, n);
}

static void *producer_main(void *arg)
{
    cc_node *node = arg;
    cc_tx *txs = calloc(CC_BLOCK_MAX_TXS, sizeof *txs);
    uint64_t *admitted_ns = calloc(CC_BLOCK_MAX_TXS, sizeof *admitted_ns);
    cc_result *results = calloc(CC_BLOCK_MAX_TXS, sizeof *results);
    producer_done done;

    if (!txs || !admitted_ns || !results) {
        cc_node_log(CC_LOG_ERROR, "block", "no memory for the block producer; no blocks will be made");
        goto out;
    }
    pthread_mutex_init(&done.mu, NULL);
    pthread_cond_init(&done.cond, NULL);

    for (;;) {
        size_t n = cc_mempool_take(&node->mempool, txs, admitted_ns, CC_BLOCK_MAX_TXS, CC_BLOCK_MAX_BYTES);
        if (n == 0) break; /* closed */

        uint64_t started_ns = cc_mono_ns();
        cc_head head;
        cc_chain_head(node->chain, &head);
        uint64_t now_ms = cc_now_ms();
        cc_proposal p = {
            .txs = txs,
            .tx_count = n,
            .time_ms = now_ms > head.time_ms ? now_ms : head.time_ms + 1,
            .done = proposal_done,
            .data = &done,
            .results = results,
        };
        done.finished = false;
        cc_err rc = node->consensus.propose(&node->consensus, &p);
        if (rc == CC_OK) {
            pthread_mutex_lock(&done.mu);
            while (!done.finished) pthread_cond_wait(&done.cond, &done.mu);
            pthread_mutex_unlock(&done.mu);
        } else {
            p.err = rc;
        }

        if (p.err == CC_OK) {
            block_committed(node, &p, admitted_ns, started_ns);
        } else if (p.err == CC_ERR_STORE_FULL) {
            enter_store_full(node, &p, head.height + 1);
        } else {
            cc_waiters_fail(&node->waiters, txs, n, p.err);
            cc_node_log(CC_LOG_ERROR, "block",
                        "block at height %llu failed (%s: %s); its %zu txs were dropped",
                        (unsigned long long)head.height + 1, cc_err_name(p.err), p.eb.msg, n);
        }
        cc_mempool_release(&node->mempool, txs, n);
        for (size_t i = 0; i < n; i++) cc_tx_free(&txs[i]);
    }
    pthread_cond_destroy(&done.cond);
    pthread_mutex_destroy(&done.mu);
out:
    free(results);
    free(admitted_ns);
    free(txs);
    return NULL;
}

cc_err cc_producer_start(cc_node *node, cc_errbuf *eb)
{
    if (pthread_create(&node->producer, NULL, producer_main, node) != 0)
        return cc_errf(eb, CC_ERR_IO, "cannot start the block producer thread");
    return CC_OK;
}

void cc_producer_join(cc_node *node)
{
    pthread_join(node->producer, NULL);
}
