/*
 * node/metrics.c — counters, the commit latency histogram and their
 * Prometheus text form (see metrics.h).
 */
#include <stdlib.h>
#include <string.h>

#include "node/metrics.h"
#include "node/strbuf.h"

/* Upper bounds of the latency buckets, in seconds. */
static const double latency_bounds_s[CC_METRICS_LATENCY_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
};
static const char *const latency_bound_labels[CC_METRICS_LATENCY_BUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
};

cc_err cc_metrics_init(cc_metrics *m)
{
    memset(m, 0, sizeof *m);
    if (pthread_mutex_init(&m->mu, NULL) != 0) return CC_ERR_NOMEM;
    return CC_OK;
}

void cc_metrics_destroy(cc_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

/* FNV-1a over the type name and the code: the home slot of a pair. */
static size_t pair_home(const char *type, uint16_t code)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)type; *p; p++) h = (h ^ *p) * 1099511628211ull;
    h = (h ^ code) * 1099511628211ull;
    return (size_t)(h % CC_METRICS_TYPE_SLOTS);
}

/* Add count to the (type, code) pair; the lock is held. */
static void count_pair_locked(cc_metrics *m, const char *type, uint16_t code, uint64_t count)
{
    size_t i = pair_home(type, code);
    for (size_t probes = 0; probes < CC_METRICS_TYPE_SLOTS; probes++, i = (i + 1) % CC_METRICS_TYPE_SLOTS) {
        cc_metrics_pair *p = &m->pairs[i];
        if (p->type[0] == '\0') {
            strcpy(p->type, type);
            p->code = code;
            p->count = count;
            return;
        }
        if (p->code == code && strcmp(p->type, type) == 0) {
            p->count += count;
            return;
        }
    }
    m->other_txs += count;
}

void cc_metrics_block(cc_metrics *m, const cc_tx *txs, const cc_result *results, const uint64_t *admitted_ns,
                      size_t n, uint64_t now_ns)
{
    pthread_mutex_lock(&m->mu);
    m->blocks_total++;
    /* Runs of equal (type, code) are common (batches of one kind): count
     * each run with one lookup. */
    size_t run = 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && results[i].code == results[run].code && strcmp(txs[i].type, txs[run].type) == 0)
            continue;
        count_pair_locked(m, txs[run].type, results[run].code, i - run);
        run = i;
    }
    for (size_t i = 0; i < n; i++) {
        if (admitted_ns[i] == 0 || admitted_ns[i] > now_ns) continue;
        double s = (double)(now_ns - admitted_ns[i]) / 1e9;
        size_t b = 0;
        while (b < CC_METRICS_LATENCY_BUCKETS && s > latency_bounds_s[b]) b++;
        if (b < CC_METRICS_LATENCY_BUCKETS)
            m->latency_le[b]++;
        else
            m->latency_inf++;
        m->latency_count++;
        m->latency_sum_s += s;
    }
    pthread_mutex_unlock(&m->mu);
}

void cc_metrics_sig_verified(cc_metrics *m, size_t count)
{
    atomic_fetch_add_explicit(&m->sig_verifications, count, memory_order_relaxed);
}

void cc_metrics_forwarded(cc_metrics *m, size_t count)
{
    atomic_fetch_add_explicit(&m->txs_forwarded, count, memory_order_relaxed);
}

void cc_metrics_http_status(cc_metrics *m, unsigned status)
{
    if (status < CC_METRICS_STATUS_MAX)
        atomic_fetch_add_explicit(&m->http_status[status], 1, memory_order_relaxed);
}

/* carechain_block_seconds: one histogram per phase of a block's work. */
static void render_block_timings(cc_strbuf *sb, const cc_chain_stats *st)
{
    const struct {
        const char *phase;
        const cc_chain_timing *t;
    } phases[] = {{"build", &st->build}, {"execute", &st->execute}, {"store_commit", &st->store_commit}};
    cc_strbuf_puts(sb,
                   "# HELP carechain_block_seconds Time per block, by phase: build (a raft leader's block "
                   "run to be proposed, then committed as built), execute (a block run and written as it is "
                   "committed), "
                   "store_commit (then its LMDB commit: page writes and fsync).\n"
                   "# TYPE carechain_block_seconds histogram\n");
    for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
        const cc_chain_timing *t = phases[i].t;
        uint64_t cumulative = 0;
        for (size_t b = 0; b + 1 < CC_CHAIN_TIMING_BUCKETS; b++) {
            cumulative += t->bucket[b];
            cc_strbuf_printf(sb, "carechain_block_seconds_bucket{phase=\"%s\",le=\"%g\"} %llu\n",
                             phases[i].phase, cc_chain_timing_bounds_s[b], (unsigned long long)cumulative);
        }
        cc_strbuf_printf(sb, "carechain_block_seconds_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n",
                         phases[i].phase, (unsigned long long)t->count);
        cc_strbuf_printf(sb, "carechain_block_seconds_sum{phase=\"%s\"} %.6f\n", phases[i].phase, t->sum_s);
        cc_strbuf_printf(sb, "carechain_block_seconds_count{phase=\"%s\"} %llu\n", phases[i].phase,
                         (unsigned long long)t->count);
    }
}

char *cc_metrics_render(cc_metrics *m, const cc_metrics_gauges *g, size_t *len)
{
    cc_strbuf sb = {0};

    cc_strbuf_printf(&sb,
                     "# HELP carechain_height Height of the newest committed block.\n"
                     "# TYPE carechain_height gauge\n"
                     "carechain_height %llu\n",
                     (unsigned long long)g->height);
    cc_strbuf_printf(&sb,
                     "# HELP carechain_mempool_size Admitted txs waiting for a block.\n"
                     "# TYPE carechain_mempool_size gauge\n"
                     "carechain_mempool_size %zu\n",
                     g->mempool_size);
    cc_strbuf_printf(&sb,
                     "# HELP carechain_store_full 1 once a commit failed because the store cannot grow.\n"
                     "# TYPE carechain_store_full gauge\n"
                     "carechain_store_full %d\n",
                     g->store_full ? 1 : 0);
    cc_strbuf_printf(&sb,
                     "# HELP carechain_txid_index_height Newest block in the txid query index (filled in the "
                     "background a few blocks behind; lookups by txid read the blocks after it).\n"
                     "# TYPE carechain_txid_index_height gauge\n"
                     "carechain_txid_index_height %llu\n",
                     (unsigned long long)g->chain.txid_index_height);
    cc_strbuf_printf(
        &sb,
        "# HELP carechain_evidence Records of misbehaviour kept (equivocation, divergence, minority).\n"
        "# TYPE carechain_evidence gauge\n"
        "carechain_evidence %zu\n"
        "# HELP carechain_evidence_minority Heights where a majority of nodes signed another "
        "checkpoint than this node's.\n"
        "# TYPE carechain_evidence_minority gauge\n"
        "carechain_evidence_minority %zu\n"
        "# HELP carechain_halted 1 once the chain halted or this node stopped applying blocks.\n"
        "# TYPE carechain_halted gauge\n"
        "carechain_halted %d\n",
        g->evidence, g->evidence_minority, g->halted ? 1 : 0);
    cc_strbuf_printf(&sb,
                     "# HELP carechain_signature_verifications_total Tx signatures verified at admission.\n"
                     "# TYPE carechain_signature_verifications_total counter\n"
                     "carechain_signature_verifications_total %llu\n",
                     (unsigned long long)atomic_load(&m->sig_verifications));
    if (g->raft) {
        cc_strbuf_printf(
            &sb,
            "# HELP carechain_raft_term The raft term this node is in.\n"
            "# TYPE carechain_raft_term gauge\n"
            "carechain_raft_term %llu\n"
            "# HELP carechain_raft_leader 1 while this node is the raft leader.\n"
            "# TYPE carechain_raft_leader gauge\n"
            "carechain_raft_leader %d\n"
            "# HELP carechain_blocks_refused_total Committed blocks refused here (time rule, stale).\n"
            "# TYPE carechain_blocks_refused_total counter\n"
            "carechain_blocks_refused_total %llu\n"
            "# HELP carechain_blocks_fetched_total Blocks fetched from peers to catch up (to a raft "
            "snapshot, or after a restore).\n"
            "# TYPE carechain_blocks_fetched_total counter\n"
            "carechain_blocks_fetched_total %llu\n"
            "# HELP carechain_attachments_fetched_total Attachment bytes fetched from peers (catch-up "
            "and repair).\n"
            "# TYPE carechain_attachments_fetched_total counter\n"
            "carechain_attachments_fetched_total %llu\n"
            "# HELP carechain_attachment_repair_passes_total Completed passes over the records for "
            "attachments this node lacks.\n"
            "# TYPE carechain_attachment_repair_passes_total counter\n"
            "carechain_attachment_repair_passes_total %llu\n"
            "# HELP carechain_attachments_missing Attachments the ledger wants that the last repair pass "
            "found missing here and no peer gave.\n"
            "# TYPE carechain_attachments_missing gauge\n"
            "carechain_attachments_missing %llu\n"
            "# HELP carechain_apply_halted 1 once this node stopped applying blocks (see its log).\n"
            "# TYPE carechain_apply_halted gauge\n"
            "carechain_apply_halted %d\n"
            "# HELP carechain_txs_forwarded_total Txs this node sent to the leader.\n"
            "# TYPE carechain_txs_forwarded_total counter\n"
            "carechain_txs_forwarded_total %llu\n"
            "# HELP carechain_raft_handshakes_failed_total Raft connections refused or dropped before "
            "raft saw a byte (unknown keys, bad signatures, time-outs, other versions).\n"
            "# TYPE carechain_raft_handshakes_failed_total counter\n"
            "carechain_raft_handshakes_failed_total %llu\n"
            "# HELP carechain_raft_frames_refused_total Raft links closed because bytes arrived that "
            "the peer did not seal (changed or injected on the way).\n"
            "# TYPE carechain_raft_frames_refused_total counter\n"
            "carechain_raft_frames_refused_total %llu\n"
            "# HELP carechain_raft_answers_corrected_total AppendEntries answers this node corrected: "
            "claiming only the log the leader's request matched, where libraft 0.15 claimed its whole log, "
            "or accepting up to its snapshot an entry that snapshot replaced, which libraft 0.15 refused.\n"
            "# TYPE carechain_raft_answers_corrected_total counter\n"
            "carechain_raft_answers_corrected_total %llu\n"
            "# HELP carechain_raft_votes_refused_total Vote and pre-vote requests this node dropped while "
            "rejoining: its raft state started empty, and until it holds everything committed before, it "
            "votes only for candidates whose log does.\n"
            "# TYPE carechain_raft_votes_refused_total counter\n"
            "carechain_raft_votes_refused_total %llu\n"
            "# HELP carechain_clock_skew_ms This node's clock minus the middle of the clocks it read "
            "(its own and its peers').\n"
            "# TYPE carechain_clock_skew_ms gauge\n"
            "carechain_clock_skew_ms %lld\n"
            "# HELP carechain_clock_off 1 while a majority of the nodes read this node's clock more than "
            "1 s away, one side: it does not lead.\n"
            "# TYPE carechain_clock_off gauge\n"
            "carechain_clock_off %d\n"
            "# HELP carechain_clock_handoffs_total Leaderships this node handed on because its clock was "
            "off.\n"
            "# TYPE carechain_clock_handoffs_total counter\n"
            "carechain_clock_handoffs_total %llu\n",
            (unsigned long long)g->raft_term, g->raft_leader ? 1 : 0, (unsigned long long)g->blocks_refused,
            (unsigned long long)g->blocks_fetched, (unsigned long long)g->attachments_fetched,
            (unsigned long long)g->repair_passes, (unsigned long long)g->attachments_missing,
            g->apply_halted ? 1 : 0, (unsigned long long)atomic_load(&m->txs_forwarded),
            (unsigned long long)g->raft_handshakes_failed, (unsigned long long)g->raft_frames_refused,
            (unsigned long long)g->raft_answers_corrected, (unsigned long long)g->raft_votes_refused,
            (long long)g->clock_skew_ms, g->clock_off ? 1 : 0, (unsigned long long)g->clock_handoffs);
    }

    pthread_mutex_lock(&m->mu);
    cc_strbuf_printf(&sb,
                     "# HELP carechain_blocks_total Blocks committed by this node since it started.\n"
                     "# TYPE carechain_blocks_total counter\n"
                     "carechain_blocks_total %llu\n",
                     (unsigned long long)m->blocks_total);
    cc_strbuf_puts(&sb,
                   "# HELP carechain_txs_committed_total Txs committed since start, by type and result.\n"
                   "# TYPE carechain_txs_committed_total counter\n");
    for (size_t i = 0; i < CC_METRICS_TYPE_SLOTS; i++) {
        const cc_metrics_pair *p = &m->pairs[i];
        if (p->type[0] == '\0') continue;
        /* type names are [a-z0-9._-]: no label escaping needed */
        cc_strbuf_printf(&sb, "carechain_txs_committed_total{type=\"%s\",result=\"%s\"} %llu\n", p->type,
                         cc_err_name((cc_err)p->code), (unsigned long long)p->count);
    }
    if (m->other_txs)
        cc_strbuf_printf(&sb, "carechain_txs_committed_total{type=\"other\",result=\"other\"} %llu\n",
                         (unsigned long long)m->other_txs);

    cc_strbuf_puts(&sb, "# HELP carechain_commit_latency_seconds Time from admission to commit.\n"
                        "# TYPE carechain_commit_latency_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < CC_METRICS_LATENCY_BUCKETS; b++) {
        cumulative += m->latency_le[b];
        cc_strbuf_printf(&sb, "carechain_commit_latency_seconds_bucket{le=\"%s\"} %llu\n",
                         latency_bound_labels[b], (unsigned long long)cumulative);
    }
    cc_strbuf_printf(&sb, "carechain_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                     (unsigned long long)m->latency_count);
    cc_strbuf_printf(&sb, "carechain_commit_latency_seconds_sum %.6f\n", m->latency_sum_s);
    cc_strbuf_printf(&sb, "carechain_commit_latency_seconds_count %llu\n",
                     (unsigned long long)m->latency_count);
    pthread_mutex_unlock(&m->mu);
    render_block_timings(&sb, &g->chain);

    cc_strbuf_puts(&sb, "# HELP carechain_http_requests_total HTTP answers by status.\n"
                        "# TYPE carechain_http_requests_total counter\n");
    for (unsigned s = 100; s < CC_METRICS_STATUS_MAX; s++) {
        uint64_t v = atomic_load_explicit(&m->http_status[s], memory_order_relaxed);
        if (v)
            cc_strbuf_printf(&sb, "carechain_http_requests_total{status=\"%u\"} %llu\n", s,
                             (unsigned long long)v);
    }
    cc_strbuf_printf(&sb,
                     "# HELP carechain_http_connections_refused_total Connections refused because their "
                     "client address held its share (api_connections_per_client).\n"
                     "# TYPE carechain_http_connections_refused_total counter\n"
                     "carechain_http_connections_refused_total %llu\n",
                     (unsigned long long)atomic_load_explicit(&m->http_conns_refused, memory_order_relaxed));
    return cc_strbuf_take(&sb, len);
}
