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
 * With raft (consensus.status set) the producer is a leader's block cutter
 * or a follower's forwarder, whichever this node is when a batch is taken:
 *
 *   taken --leader--> PROPOSING --done(OK/STORE_FULL/other)--> as above
 *     |                   +--done(UNREACHABLE: deposed | CONFLICT: stale)--+
 *     +--follower, leader known--> FORWARDING --leader took or refused all--> IDLE
 *     |                   ^            +--busy / no answer--+              |
 *     +--no leader yet----+<---------------- retry ----------+-------------+
 *   (given up, waiters failed, after CC_NODE_PLACE_GIVEUP_MS or at stop)
 *
 * Invariant: the producer is the only thread that writes to the chain in
 * solo; with raft the consensus apply thread is, and the producer only
 * builds blocks (cc_chain_build, rolled back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/os.h"
#include "node/forward.h"
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

/* Tell everyone a block committed: waiters, the event stream, metrics,
 * the log. admitted_ns may be NULL (latency unknown: a block this node did
 * not cut). */
static void announce(cc_node *node, const cc_header *h, const cc_tx *txs, size_t n, const cc_result *results,
                     const uint64_t *admitted_ns, uint64_t started_ns)
{
    size_t ok = 0, len = 0;
    uint64_t now_ns = cc_mono_ns();
    for (size_t i = 0; i < n; i++) ok += results[i].code == CC_OK;

    cc_waiters_commit(&node->waiters, txs, n, h->height, results);
    char *frame = block_event_frame(h, ok, n - ok, &len);
    if (frame) cc_events_publish(&node->events, frame, len);
    if (admitted_ns) {
        cc_metrics_block(&node->metrics, txs, results, admitted_ns, n, now_ns);
    } else {
        uint64_t *unknown = calloc(n ? n : 1, sizeof *unknown);
        if (unknown) cc_metrics_block(&node->metrics, txs, results, unknown, n, now_ns);
        free(unknown);
    }
    if (started_ns)
        cc_node_log(CC_LOG_INFO, "block", "height %llu committed: %zu txs (%zu ok, %zu failed) in %.1f ms",
                    (unsigned long long)h->height, n, ok, n - ok, (double)(now_ns - started_ns) / 1e6);
    else
        cc_node_log(CC_LOG_INFO, "block", "height %llu committed: %zu txs (%zu ok, %zu failed)",
                    (unsigned long long)h->height, n, ok, n - ok);
}

static void block_committed(cc_node *node, const cc_proposal *p, const uint64_t *admitted_ns,
                            uint64_t started_ns)
{
    announce(node, &p->header, p->txs, p->tx_count, p->results, admitted_ns, started_ns);
}

void cc_producer_committed(void *ctx, const cc_header *h, const cc_tx *txs, size_t n,
                           const cc_result *results)
{
    announce(ctx, h, txs, n, results, NULL, 0);
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

#define FORWARD_WARN_EVERY_NS 1000000000ull /* rate of "forwarding failed" log lines */

/* Propose p and wait until consensus calls done. Returns p->err. */
static cc_err propose_and_wait(cc_node *node, cc_proposal *p, producer_done *done)
{
    done->finished = false;
    cc_err rc = node->consensus.propose(&node->consensus, p);
    if (rc == CC_OK) {
        pthread_mutex_lock(&done->mu);
        while (!done->finished) pthread_cond_wait(&done->cond, &done->mu);
        pthread_mutex_unlock(&done->mu);
    } else {
        p->err = rc;
    }
    return p->err;
}

/* The outcome of a proposal that will not be retried. */
static void settle(cc_node *node, cc_proposal *p, const uint64_t *admitted_ns, uint64_t started_ns,
                   uint64_t height)
{
    if (p->err == CC_OK) {
        block_committed(node, p, admitted_ns, started_ns);
    } else if (p->err == CC_ERR_STORE_FULL) {
        enter_store_full(node, p, height);
    } else {
        cc_waiters_fail(&node->waiters, p->txs, p->tx_count, p->err);
        cc_node_log(CC_LOG_ERROR, "block", "block at height %llu failed (%s: %s); its %zu txs were dropped",
                    (unsigned long long)height, cc_err_name(p->err), p->eb.msg, p->tx_count);
    }
}

static cc_proposal make_proposal(cc_node *node, cc_tx *txs, size_t n, cc_result *results, producer_done *done,
                                 uint64_t *height)
{
    cc_head head;
    cc_chain_head(node->chain, &head);
    uint64_t now_ms = cc_now_ms();
    cc_proposal p = {
        .txs = txs,
        .tx_count = n,
        .time_ms = now_ms > head.time_ms ? now_ms : head.time_ms + 1,
        .done = proposal_done,
        .data = done,
        .results = results,
    };
    *height = head.height + 1;
    return p;
}

/* Move the txs still to place to the front (keeping their order and their
 * admission times); returns how many there are. */
static size_t compact_unsent(cc_tx *txs, uint64_t *admitted_ns, cc_forward_state *st, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (st[i].outcome != CC_FORWARD_UNSENT) continue;
        if (i != k) {
            cc_tx t = txs[k];
            uint64_t a = admitted_ns[k];
            cc_forward_state s = st[k];
            txs[k] = txs[i], admitted_ns[k] = admitted_ns[i], st[k] = st[i];
            txs[i] = t, admitted_ns[i] = a, st[i] = s;
        }
        k++;
    }
    return k;
}

/* cc_forward's cancelled: a stopping node abandons a forward the leader
 * does not answer (its txs are failed as unreachable, below). */
static bool node_stopping(void *node)
{
    return atomic_load(&((cc_node *)node)->stopping);
}

/* raft: commit the block's txs if this node leads, else hand them to the
 * leader; when leadership moves meanwhile, try again the other way. Gives
 * up (failing the waiters) after CC_NODE_PLACE_GIVEUP_MS without a leader
 * that takes them, or when the node stops. */
static void place_raft(cc_node *node, cc_tx *txs, uint64_t *admitted_ns, size_t n, cc_result *results,
                       producer_done *done, cc_forward **fwd)
{
    cc_forward_state *st = calloc(n, sizeof *st);
    uint64_t deadline = cc_mono_ns() + (uint64_t)CC_NODE_PLACE_GIVEUP_MS * 1000000ull;
    uint64_t started_ns = cc_mono_ns();
    uint64_t last_warn_ns = 0;
    cc_errbuf eb = {{0}};
    const char *why = "no leader took them";

    if (!st) {
        cc_waiters_fail(&node->waiters, txs, n, CC_ERR_NOMEM);
        return;
    }
    for (;;) {
        size_t left = compact_unsent(txs, admitted_ns, st, n);
        if (left == 0) break;
        if (atomic_load(&node->stopping)) {
            why = "the node is stopping";
            goto give_up;
        }
        cc_consensus_status cs;
        node->consensus.status(&node->consensus, &cs);
        if (cs.halted) {
            why = "this node stopped applying blocks";
            goto give_up;
        }
        if (cs.removed) {
            why = "this node was removed from the network";
            goto give_up;
        }
        if (node->consensus.is_leader(&node->consensus)) {
            uint64_t height;
            cc_proposal p = make_proposal(node, txs, left, results, done, &height);
            cc_err rc = propose_and_wait(node, &p, done);
            if (rc != CC_ERR_UNREACHABLE && rc != CC_ERR_CONFLICT) {
                settle(node, &p, admitted_ns, started_ns, height);
                break;
            }
            cc_node_log(CC_LOG_WARN, "block",
                        "block at height %llu not committed (%s); placing its %zu txs again",
                        (unsigned long long)height, p.eb.msg, left);
        } else if (cs.leader_api[0] && !cs.leader_self) {
            size_t sent = 0;
            if (!*fwd) *fwd = cc_forward_new(node_stopping, node);
            cc_err rc = *fwd ? cc_forward_send(*fwd, cs.leader_api, txs, left, st, &sent, &eb)
                             : cc_errf(&eb, CC_ERR_NOMEM, "no memory for forwarding");
            if (rc == CC_OK) {
                cc_metrics_forwarded(&node->metrics, sent);
                for (size_t i = 0; i < left; i++) {
                    if (st[i].outcome != CC_FORWARD_REFUSED) continue;
                    cc_waiters_fail(&node->waiters, &txs[i], 1, st[i].err);
                    cc_node_log(CC_LOG_WARN, "forward", "the leader %s refused a forwarded tx: %s", cs.leader,
                                cc_err_name(st[i].err));
                }
            } else if (!atomic_load(&node->stopping) &&
                       cc_mono_ns() - last_warn_ns >= FORWARD_WARN_EVERY_NS) {
                /* once a second at most while the leader is away (a stop abandons it quietly) */
                last_warn_ns = cc_mono_ns();
                cc_node_log(CC_LOG_WARN, "forward", "forwarding %zu txs to %s failed (retrying): %s", left,
                            cs.leader, eb.msg);
            }
            if (compact_unsent(txs, admitted_ns, st, n) == 0) break;
        }
        if (cc_mono_ns() > deadline) goto give_up;
        cc_sleep_ms(CC_NODE_PLACE_RETRY_MS);
    }
    free(st);
    return;
give_up : {
    size_t left = compact_unsent(txs, admitted_ns, st, n);
    cc_waiters_fail(&node->waiters, txs, left,
                    atomic_load(&node->stopping) ? CC_ERR_UNREACHABLE : CC_ERR_TIMEOUT);
    cc_node_log(CC_LOG_ERROR, "forward", "%zu txs were dropped: %s", left, why);
    free(st);
}
}

/* ---- freeing a block's txs beside the producer ----------------------------------------------- */

/* A committed block's txs are freed by a helper thread while the producer
 * cuts the next block: a claim's parsed payload alone is a few hundred
 * allocations, and under load freeing them took ~5 % of the producer's
 * time, which bounds the node's throughput. Two tx arrays alternate: the
 * producer fills one while the reaper empties the other, and handing a
 * block over waits for the reaper to finish the one before, so the array
 * the producer takes next is always empty. */
typedef struct reaper {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    cc_tx *txs; /* handed over and not yet freed (NULL: idle) */
    size_t n;
    bool stopping, running;
    pthread_t thread;
} reaper;

static void *reaper_main(void *arg)
{
    reaper *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->txs && !r->stopping) pthread_cond_wait(&r->cond, &r->mu);
        if (!r->txs) break; /* stopping, nothing left */
        cc_tx *txs = r->txs;
        size_t n = r->n;
        pthread_mutex_unlock(&r->mu);
        for (size_t i = 0; i < n; i++) cc_tx_free(&txs[i]);
        pthread_mutex_lock(&r->mu);
        r->txs = NULL;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void reaper_start(reaper *r)
{
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->txs = NULL;
    r->stopping = false;
    r->running = pthread_create(&r->thread, NULL, reaper_main, r) == 0;
}

/* Free txs[0..n) (now or on the reaper), after whatever was handed before. */
static void reaper_hand(reaper *r, cc_tx *txs, size_t n)
{
    if (!r->running) { /* no helper thread: free here */
        for (size_t i = 0; i < n; i++) cc_tx_free(&txs[i]);
        return;
    }
    pthread_mutex_lock(&r->mu);
    while (r->txs) pthread_cond_wait(&r->cond, &r->mu);
    r->txs = txs;
    r->n = n;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

/* Wait for what was handed over to be freed, then stop the helper. */
static void reaper_stop(reaper *r)
{
    if (r->running) {
        pthread_mutex_lock(&r->mu);
        r->stopping = true;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
}

/* ---- lingering for a fuller block (a raft leader under load) --------------------------------
 *
 * Each block costs every node a fixed amount besides its txs (a raft entry
 * and its fsync, an LMDB commit, the header's signature and checks, the
 * checkpoint exchange), and a raft leader cuts the next block as soon as
 * the last one committed, which under moderate load is every few ms (one
 * 3-node bench run on 2 cores committed 42,186 txs in 2,800 blocks). So
 * when txs were already waiting as the leader came back for its next
 * block (a sign that more are arriving), and fewer than LINGER_TXS of
 * them, it waits up to LINGER_NS for that many. A client alone sending one
 * tx at a time never finds one waiting, so its latency is untouched; a
 * full block never waits; at a light but steady load a tx can wait up to
 * LINGER_NS more. One node (solo) commits a block without that fixed cost
 * on the other nodes, and does not linger. */
#define LINGER_TXS 64
#define LINGER_NS  3000000ull /* 3 ms */

static size_t take_block(cc_node *node, cc_tx *txs, uint64_t *admitted_ns)
{
    bool waited = true;
    size_t n =
        cc_mempool_take(&node->mempool, txs, admitted_ns, CC_BLOCK_MAX_TXS, CC_BLOCK_MAX_BYTES, &waited);
    if (n == 0 || waited || n >= LINGER_TXS || !node->consensus.status ||
        !node->consensus.is_leader(&node->consensus))
        return n;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += cc_mempool_tx_bytes(&txs[i]);
    if (bytes >= CC_BLOCK_MAX_BYTES) return n;
    return n + cc_mempool_take_more(&node->mempool, txs + n, admitted_ns + n, CC_BLOCK_MAX_TXS - n,
                                    CC_BLOCK_MAX_BYTES - bytes, LINGER_TXS - n, cc_mono_ns() + LINGER_NS);
}

static void *producer_main(void *arg)
{
    cc_node *node = arg;
    cc_tx *arrays[2] = {calloc(CC_BLOCK_MAX_TXS, sizeof(cc_tx)), calloc(CC_BLOCK_MAX_TXS, sizeof(cc_tx))};
    uint64_t *admitted_ns = calloc(CC_BLOCK_MAX_TXS, sizeof *admitted_ns);
    cc_result *results = calloc(CC_BLOCK_MAX_TXS, sizeof *results);
    cc_forward *fwd = NULL;
    producer_done done;
    reaper freer;
    unsigned turn = 0;

    if (!arrays[0] || !arrays[1] || !admitted_ns || !results) {
        cc_node_log(CC_LOG_ERROR, "block", "no memory for the block producer; no blocks will be made");
        goto out;
    }
    pthread_mutex_init(&done.mu, NULL);
    pthread_cond_init(&done.cond, NULL);
    reaper_start(&freer);

    for (;;) {
        cc_tx *txs = arrays[turn];
        size_t n = take_block(node, txs, admitted_ns);
        if (n == 0) break; /* closed */

        if (node->consensus.status) {
            place_raft(node, txs, admitted_ns, n, results, &done, &fwd);
        } else {
            uint64_t started_ns = cc_mono_ns(), height;
            cc_proposal p = make_proposal(node, txs, n, results, &done, &height);
            (void)propose_and_wait(node, &p, &done);
            settle(node, &p, admitted_ns, started_ns, height);
        }
        cc_mempool_release(&node->mempool, txs, n);
        reaper_hand(&freer, txs, n);
        turn ^= 1;
    }
    reaper_stop(&freer);
    pthread_cond_destroy(&done.cond);
    pthread_mutex_destroy(&done.mu);
out:
    cc_forward_free(fwd);
    free(results);
    free(admitted_ns);
    free(arrays[0]);
    free(arrays[1]);
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
