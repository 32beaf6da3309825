/*
 * node/metrics.h — the node's counters and histograms, rendered as
 * Prometheus text for GET /metrics.
 *
 *   carechain_height                         gauge
 *   carechain_blocks_total                   counter
 *   carechain_txs_committed_total{type,result}  counter
 *   carechain_mempool_size                   gauge
 *   carechain_commit_latency_seconds         histogram (admission -> commit)
 *   carechain_block_seconds{phase}           histogram (build, execute, store_commit: per block)
 *   carechain_signature_verifications_total  counter (admission pool)
 *   carechain_http_requests_total{status}    counter
 *   carechain_http_connections_refused_total counter (a client over api_connections_per_client)
 *   carechain_store_full                     gauge (0 | 1)
 *   carechain_txid_index_height              gauge (height)
 *   carechain_evidence                       gauge (evidence records kept)
 *   carechain_evidence_minority              gauge (records of this node against a signed majority)
 *   carechain_halted                         gauge (0 | 1: the chain or its applying stopped)
 * and with raft only:
 *   carechain_raft_term                      gauge
 *   carechain_raft_leader                    gauge (1 on the leader)
 *   carechain_blocks_refused_total           counter (time rule, stale proposals)
 *   carechain_blocks_fetched_total           counter (catch-up to raft snapshots)
 *   carechain_attachments_fetched_total      counter (their attachment bytes, and the repair's)
 *   carechain_attachment_repair_passes_total counter (completed passes over the records)
 *   carechain_attachments_missing            gauge (the last pass's, that no peer gave)
 *   carechain_apply_halted                   gauge (0 | 1)
 *   carechain_txs_forwarded_total            counter (sent to the leader)
 *   carechain_raft_handshakes_failed_total   counter (raft connections refused before raft)
 *   carechain_raft_frames_refused_total      counter (links closed for bytes not the peer's)
 *   carechain_raft_answers_corrected_total   counter (libraft answers that claimed too much)
 *   carechain_raft_votes_refused_total       counter (vote requests dropped while catching up)
 *   carechain_clock_skew_ms                  gauge (this node's clock minus the network's middle one)
 *   carechain_clock_off                      gauge (0 | 1: it will not lead)
 *   carechain_clock_handoffs_total           counter (leaderships handed on for it)
 *
 * Counters that change per request are atomics; the per-block ones are
 * updated once per block under a lock.
 */
#ifndef CC_NODE_METRICS_H
#define CC_NODE_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"
#include "carechain/chain.h"

#define CC_METRICS_TYPE_SLOTS      256 /* distinct (type, result) pairs kept */
#define CC_METRICS_LATENCY_BUCKETS 14
#define CC_METRICS_STATUS_MAX      600

typedef struct cc_metrics_pair {
    char type[CC_TX_TYPE_MAX + 1]; /* "" = free slot */
    uint16_t code;
    uint64_t count;
} cc_metrics_pair;

typedef struct cc_metrics {
    pthread_mutex_t mu;
    cc_metrics_pair pairs[CC_METRICS_TYPE_SLOTS];
    uint64_t other_txs; /* txs whose (type, result) found no free slot */
    uint64_t blocks_total;
    uint64_t latency_le[CC_METRICS_LATENCY_BUCKETS]; /* non-cumulative counts */
    uint64_t latency_inf;
    uint64_t latency_count;
    double latency_sum_s;

    atomic_uint_fast64_t sig_verifications;
    atomic_uint_fast64_t txs_forwarded;
    atomic_uint_fast64_t http_status[CC_METRICS_STATUS_MAX];
    atomic_uint_fast64_t http_conns_refused; /* a client over its share of connections */
} cc_metrics;

/* The gauges the node reads at render time. */
typedef struct cc_metrics_gauges {
    uint64_t height;
    size_t mempool_size;
    bool store_full;
    size_t evidence;          /* records of misbehaviour kept (GET /v1/evidence) */
    size_t evidence_minority; /* of which: this node disagrees with a signed majority */
    bool halted;              /* the chain halted on evidence, or this node stopped applying */
    bool raft;                /* the raft lines below are rendered */
    uint64_t raft_term;
    bool raft_leader;
    uint64_t blocks_refused;
    uint64_t blocks_fetched;
    uint64_t attachments_fetched;
    uint64_t repair_passes;
    uint64_t attachments_missing;
    bool apply_halted;
    uint64_t raft_handshakes_failed;
    uint64_t raft_frames_refused;
    uint64_t raft_answers_corrected;
    uint64_t raft_votes_refused;
    int64_t clock_skew_ms; /* clock_check.h */
    bool clock_off;
    uint64_t clock_handoffs;
    cc_chain_stats chain; /* its timings: carechain_block_seconds */
} cc_metrics_gauges;

cc_err cc_metrics_init(cc_metrics *m) CC_WUR;
void cc_metrics_destroy(cc_metrics *m);

/* A block committed: count it, its txs by (type, result) and each tx's
 * latency from admitted_ns[i] to now_ns (cc_mono_ns clock; 0 = unknown). */
void cc_metrics_block(cc_metrics *m, const cc_tx *txs, const cc_result *results, const uint64_t *admitted_ns,
                      size_t n, uint64_t now_ns);
void cc_metrics_sig_verified(cc_metrics *m, size_t count);
void cc_metrics_forwarded(cc_metrics *m, size_t count);
void cc_metrics_http_status(cc_metrics *m, unsigned status);

/* Prometheus text exposition; caller frees. NULL on OOM. */
char *cc_metrics_render(cc_metrics *m, const cc_metrics_gauges *g, size_t *len);

#endif
