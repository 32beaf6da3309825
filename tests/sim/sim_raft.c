/*
 * sim_raft.c — deterministic simulation of carechain's consensus + exec: the
 * real raft core (libraft's in-memory fixture, raft/fixture.h, driven by one
 * simulated clock) replicating real blocks into one real cc_chain per node.
 *
 * What one seed does. A genesis with 3 or 5 nodes (keys from fixed seeds) and
 * two organisation admins; every node opens its own chain on a tmpfs
 * directory. Any node that raft says is leader (stale leaders in a minority
 * too) "produces": it takes the next txs of a seeded workload (note.put and
 * member.register signed by the admins or by members they registered, plus
 * deliberately bad ones: bad signature, unknown signer, forbidden role,
 * invalid payload, conflict, expired, future, replays of committed txs),
 * builds a block with cc_chain_build_kept on its own fully applied head (as
 * the node does: the write transaction stays open) and raft_apply()s the
 * encoded block. Every node's FSM decodes the committed entry and commits
 * it with cc_chain_apply, verifying every signature, except the proposer,
 * which commits the block it kept when it still keeps it. Raft
 * snapshots carry only (height, block hash, state root); a node restoring one
 * fetches the missing blocks from a peer's store and applies them (the
 * catch-up design of docs/CONSENSUS.md). During a fault phase the seed's
 * PRNG (splitmix64; it makes every decision) kills and revives nodes (a
 * revived node also reopens its store), partitions the network, drops one
 * direction of a link, changes message latency (which reorders messages) and
 * disk latency, cuts one link both ways (the two nodes still reach the
 * others), isolates the leader until it steps down, and transfers
 * leadership. Then everything heals and the
 * simulation runs until every tx was acknowledged and all nodes applied the
 * same last index.
 *
 * What it checks (any violation fails the seed):
 *   1. at most one leader per term (sampled after every fixture step), raft
 *      stays available on every node (no node's raft shuts down), and raft's
 *      commit rule holds (checked after every step from the servers' logs:
 *      an index a leader marks committed is in a majority of them);
 *   2. no height ever holds two different blocks, on any node (checked at
 *      every apply against the first block any node committed there);
 *   3. every committed raft entry applies: cc_chain_apply never rejects a
 *      block that raft committed, and blocks fetched during catch-up end at
 *      the snapshot's hash and state root;
 *   4. exactly once: exec reports `duplicate` for a txid iff that node
 *      committed it before;
 *   5. every acknowledged tx (the leader's raft_apply callback returned after
 *      its own FSM applied the entry, like ?wait=commit) is on every node at
 *      the same height, index and result, and that result is the one its kind
 *      must get (ok, signature, unknown_signer, forbidden, ...);
 *   6. after healing: every tx is acknowledged (liveness), every node has the
 *      same head and byte-identical blocks at every height, and per-height
 *      block hashes and state roots agree with what was recorded at apply.
 *
 * Like the node, every fixture server's raft_io corrects libraft 0.15's
 * answers to AppendEntries (src/node/raft_match.h: a follower claimed its
 * whole stored log, stale entries of an older term included, and the leader
 * counted them, so it could commit an entry only a minority held; in wider
 * sweeps some seeds then ended with two blocks at one height). --uncorrected
 * runs libraft's answers as they are: those commits are then counted and
 * printed, and fail the seed only with --strict.
 *
 * Where the fixture's raft_io differs from raft_uv's, the simulation wraps
 * it to behave as raft_uv does, since a difference shows up as a failure
 * that no node can have:
 *   - election timeouts: the fixture answers io->random with one fixed
 *     value per server; three servers whose values fell in one 100 ms tick
 *     started every election together and split the vote forever (seeds
 *     7555 and 7914). sim_random draws each from the seed's PRNG, in
 *     [election timeout, 2 x election timeout), as raft_uv draws from rand();
 *   - write order: the fixture completes each write disk-latency after it
 *     was submitted, so lowering a node's disk latency let a later write
 *     finish first. libraft 0.15 counts stored entries by adding, one
 *     count per completed write, and a follower then counted one entry
 *     fewer than its log held, forever (seed 2088); in seed 3549 a leader's
 *     commit index stayed one short of an entry every log held (the node
 *     once appended a barrier after a second without a commit for it: no
 *     longer, since 12,000 seeds with writes in order never needed one).
 *     sim_append keeps each node's writes in order;
 *   - truncation: see sim_truncate.
 *
 * Reproduce a seed: build/tests/sim/sim_raft --seed N [--trace] [--strict] [--uncorrected]
 * (--trace prints every fault, election and block). --seeds N runs seeds
 * 1..N (default 200), --first S starts elsewhere. The default run adds the
 * seeds of REGRESSION_SEEDS, each of which once failed outside 1..200.
 * Each seed is one cmocka test, so the runner counts them.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "carechain.h"
#include "carechain/chain.h"
#include "node/raft_match.h"

#define SIM_MAX_NODES       5
#define SIM_GENESIS_MS      1764000000000ULL
#define SIM_BLOCK_TXS_MAX   4
#define SIM_TXS_MIN         60 /* workload size per seed: MIN + rnd(SPAN) */
#define SIM_TXS_SPAN        120
#define SIM_FAULT_MS_MIN    10000 /* length of the fault phase */
#define SIM_FAULT_MS_SPAN   30000
#define SIM_HEAL_MS_MAX     120000 /* convergence must follow healing within this */
#define SIM_TX_LIFETIME_MS  (3600 * 1000)
#define SIM_SNAP_BYTES      (8 + CC_HASH_BYTES + CC_HASH_BYTES)
#define SIM_NET_LATENCY_MS  15 /* the fixture's defaults */
#define SIM_DISK_LATENCY_MS 10
#define SIM_MAP_BYTES       (1u << 20)
#define SIM_MAP_MAX_BYTES   (64u << 20)

/* ---- seeded randomness ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- state ------------------------------------------------------------------- */

enum { TX_QUEUED, TX_INFLIGHT, TX_ACKED };

typedef struct sim_tx {
    cc_tx tx;
    cc_err expect; /* the result its first commit must have */
    int state;
    unsigned proposals;
    cc_tx_location ack;             /* where the leader found it when acknowledging */
    uint8_t commits[SIM_MAX_NODES]; /* non-duplicate commits seen on each node */
} sim_tx;

typedef struct sim_rec {
    uint8_t hash[CC_HASH_BYTES];
    uint8_t root[CC_HASH_BYTES];
} sim_rec;

struct sim;

typedef struct sim_node {
    struct sim *sim;
    unsigned index;
    cc_key key;
    cc_chain *chain;
    char dir[256];
    struct raft_fsm fsm;
    sim_rec *recs; /* recs[h - 1]: what this node committed at height h */
    size_t rec_count, rec_cap;
    bool proposing;       /* a raft_apply or barrier of this node is in flight */
    bool installing;      /* the fixture emptied its log array for a snapshot install */
    raft_index io_offset; /* raft index of the fixture log array's slot 0, minus one */
    unsigned disk_ms;     /* the disk latency a fault set (sim_append) */
    raft_time append_due; /* when the last write this node submitted completes */
    raft_time next_produce_ms;
    raft_index commit_checked;                 /* commits up to here passed check_commits */
    cc_raft_match match;                       /* the correction of libraft's answers, as the node's */
    cc_result kept_res[SIM_BLOCK_TXS_MAX + 1]; /* what the block it keeps gave, built */
} sim_node;

typedef struct sim_stats {
    unsigned long long blocks, txs_committed, txs_failed, txs_acked, replays, proposals, lost_proposals,
        kept_commits;
    unsigned long long unsafe_commits, corrected, kills, partitions, deposals, transfers, snapshots, restores,
        fetched, terms;
    unsigned long long sim_ms;
} sim_stats;

typedef struct sim {
    uint64_t seed, rng;
    unsigned n;
    bool trace, strict, closing, failed;
    char why[512];
    char unsafe[256]; /* the first unsafe commit libraft made in this run, if any */
    char *genesis;
    size_t genesis_len;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_key admin[2];
    char base[200];
    struct raft_fixture f;
    sim_node nodes[SIM_MAX_NODES];

    sim_tx *txs; /* the workload; a tx's nonce is its index here */
    size_t tx_count, tx_cap, tx_budget;
    size_t *queue; /* indices of queued txs, oldest first */
    size_t queue_len;
    size_t *members; /* indices of acknowledged registrations (of clinicians) */
    size_t member_count;
    unsigned next_member;

    sim_rec *canon; /* the first block any node committed at each height */
    size_t canon_count, canon_cap;
    raft_id *term_leader; /* term -> the only id ever leader in it */
    size_t term_cap;
    raft_time isolate_until; /* a deposed leader's isolation ends then */
    sim_stats st;
} sim;

static sim_stats g_total;

static void sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sim_fail(sim *s, const char *fmt, ...)
{
    if (s->failed) return; /* keep the first violation */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    s->failed = true;
}

static void sim_trace(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sim_trace(sim *s, const char *fmt, ...)
{
    if (!s->trace) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[seed %llu t=%6llu] ", (unsigned long long)s->seed,
            (unsigned long long)raft_fixture_time(&s->f));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static unsigned rnd_below(sim *s, unsigned n)
{
    return n ? (unsigned)(splitmix64(&s->rng) % n) : 0;
}

static bool rnd_chance(sim *s, unsigned one_in)
{
    return rnd_below(s, one_in) == 0;
}

static uint64_t now_ms(sim *s)
{
    return SIM_GENESIS_MS + raft_fixture_time(&s->f);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "sim_raft: out of memory\n");
        abort();
    }
    return q;
}

/* Key number i of a family (nodes, admins, members, strangers): fixed seeds. */
static void sim_key(unsigned family, unsigned i, cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    memset(seed, 0, sizeof seed);
    memcpy(seed, "carechain-sim", 13);
    seed[16] = (uint8_t)family;
    seed[17] = (uint8_t)(i >> 8);
    seed[18] = (uint8_t)i;
    cc_key_from_seed(seed, k);
}

enum { KEY_NODE = 1, KEY_ADMIN, KEY_MEMBER, KEY_STRANGER };

/* ---- genesis ------------------------------------------------------------------- */

static char *sim_genesis(unsigned n)
{
    size_t cap = 4096, len = 0;
    char *g = xrealloc(NULL, cap), hex[CC_HASH_HEX];
    cc_key k;
    len += (size_t)snprintf(
        g + len, cap - len,
        "{\"carechain_genesis\":1,\"chain_name\":\"sim\",\"time_ms\":%llu,"
        "\"organisations\":[{\"id\":\"hospital\",\"name\":\"Sim Hospital\",\"kind\":\"hospital\"},"
        "{\"id\":\"payer\",\"name\":\"Sim Plan\",\"kind\":\"payer\"}],\"nodes\":[",
        (unsigned long long)SIM_GENESIS_MS);
    for (unsigned i = 0; i < n; i++) {
        sim_key(KEY_NODE, i, &k);
        len +=
            (size_t)snprintf(g + len, cap - len,
                             "%s{\"name\":\"node%u\",\"id\":\"%s\",\"org\":\"%s\",\"api\":\"127.0.0.1:%u\","
                             "\"raft\":\"127.0.0.1:%u\"}",
                             i ? "," : "", i + 1, cc_hex(k.pk, CC_PUBKEY_BYTES, hex),
                             i % 2 ? "payer" : "hospital", 7800 + i, 7900 + i);
    }
    len += (size_t)snprintf(g + len, cap - len, "],\"identities\":[");
    for (unsigned i = 0; i < 2; i++) {
        sim_key(KEY_ADMIN, i, &k);
        len += (size_t)snprintf(
            g + len, cap - len, "%s{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"%s\",\"name\":\"Admin %u\"}",
            i ? "," : "", cc_hex(k.pk, CC_PUBKEY_BYTES, hex), i ? "payer" : "hospital", i);
    }
    snprintf(g + len, cap - len, "]}");
    return g;
}

/* ---- records and invariants ------------------------------------------------------ */

/* Note what node nd committed at height h and compare with every other
 * commit ever made at h (invariant 2). */
static void record_height(sim_node *nd, const cc_head *head)
{
    sim *s = nd->sim;
    sim_rec r;
    memcpy(r.hash, head->hash, CC_HASH_BYTES);
    memcpy(r.root, head->state_root, CC_HASH_BYTES);
    if (head->height != nd->rec_count + 1) {
        sim_fail(s, "node %u: committed height %llu after height %zu", nd->index,
                 (unsigned long long)head->height, nd->rec_count);
        return;
    }
    if (nd->rec_count == nd->rec_cap) {
        nd->rec_cap = nd->rec_cap ? 2 * nd->rec_cap : 64;
        nd->recs = xrealloc(nd->recs, nd->rec_cap * sizeof *nd->recs);
    }
    nd->recs[nd->rec_count++] = r;
    if (head->height <= s->canon_count) {
        const sim_rec *c = &s->canon[head->height - 1];
        char a[CC_HASH_HEX], b[CC_HASH_HEX];
        if (memcmp(c->hash, r.hash, CC_HASH_BYTES) != 0)
            sim_fail(s, "height %llu holds two blocks: node %u committed %.16s, another node %.16s",
                     (unsigned long long)head->height, nd->index, cc_hex(r.hash, CC_HASH_BYTES, a),
                     cc_hex(c->hash, CC_HASH_BYTES, b));
        else if (memcmp(c->root, r.root, CC_HASH_BYTES) != 0)
            sim_fail(s, "height %llu: node %u has state root %.16s, another node %.16s",
                     (unsigned long long)head->height, nd->index, cc_hex(r.root, CC_HASH_BYTES, a),
                     cc_hex(c->root, CC_HASH_BYTES, b));
        return;
    }
    if (s->canon_count == s->canon_cap) {
        s->canon_cap = s->canon_cap ? 2 * s->canon_cap : 64;
        s->canon = xrealloc(s->canon, s->canon_cap * sizeof *s->canon);
    }
    s->canon[s->canon_count++] = r;
}

/* Apply one block (a committed raft entry, or one fetched from a peer during
 * catch-up) on nd's chain, verifying everything; false on a violation. */
static bool node_apply_block(sim_node *nd, const uint8_t *buf, size_t len, const char *how)
{
    sim *s = nd->sim;
    cc_block b;
    cc_errbuf eb = {""};
    cc_err rc = cc_block_decode(buf, len, &b, &eb);
    if (rc != CC_OK) {
        sim_fail(s, "node %u: a %s block does not decode: %s", nd->index, how, eb.msg);
        return false;
    }
    cc_result *res = calloc(b.tx_count ? b.tx_count : 1, sizeof *res);
    if (!res) abort();
    uint8_t hash[CC_HASH_BYTES];
    cc_header_hash(&b.h, hash);
    rc = CC_ERR_NOT_FOUND;
    if (b.tx_count <= SIM_BLOCK_TXS_MAX + 1 && cc_chain_keeps(nd->chain, hash)) { /* its own block, built */
        rc = cc_chain_commit_kept(nd->chain, &eb);
        if (rc == CC_OK) memcpy(res, nd->kept_res, b.tx_count * sizeof *res);
        s->st.kept_commits += rc == CC_OK;
    }
    if (rc != CC_OK) rc = cc_chain_apply(nd->chain, &b, &nd->key, res, &eb);
    if (rc != CC_OK) {
        sim_fail(s, "node %u: cc_chain_apply rejected %s block %llu: %s (%s)", nd->index, how,
                 (unsigned long long)b.h.height, cc_err_name(rc), eb.msg);
        goto done;
    }
    cc_head head;
    cc_chain_head(nd->chain, &head);
    record_height(nd, &head);
    s->st.blocks += nd->index == 0;
    for (size_t i = 0; i < b.tx_count; i++) { /* invariant 4: exactly once */
        const cc_tx *tx = &b.txs[i];
        if (tx->nonce >= s->tx_count || memcmp(s->txs[tx->nonce].tx.txid, tx->txid, CC_HASH_BYTES) != 0) {
            sim_fail(s, "node %u: block %llu holds a tx the workload never made", nd->index,
                     (unsigned long long)b.h.height);
            break;
        }
        sim_tx *t = &s->txs[tx->nonce];
        if (res[i].code == CC_ERR_DUPLICATE) {
            if (t->commits[nd->index] == 0)
                sim_fail(s, "node %u: tx %llu reported duplicate at height %llu but never committed before",
                         nd->index, (unsigned long long)tx->nonce, (unsigned long long)b.h.height);
            continue;
        }
        if (t->commits[nd->index]++ != 0)
            sim_fail(
                s, "node %u: tx %llu (%s, expected %s) committed a second time at height %llu with result %s",
                nd->index, (unsigned long long)tx->nonce, tx->type, cc_err_name(t->expect),
                (unsigned long long)b.h.height, cc_err_name((cc_err)res[i].code));
        if (nd->index == 0) {
            s->st.txs_committed++;
            s->st.txs_failed += res[i].code != CC_OK;
        }
    }
    sim_trace(s, "node %u applied %s block %llu (%zu txs)", nd->index, how, (unsigned long long)b.h.height,
              b.tx_count);
done:
    free(res);
    cc_block_free(&b);
    return !s->failed;
}

/* ---- the FSM -------------------------------------------------------------------- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    sim_node *nd = fsm->data;
    *result = NULL;
    node_apply_block(nd, buf->base, buf->len, "committed");
    return 0; /* a violation is recorded; raft carries on so the run can stop cleanly */
}

/* A snapshot holds only the head: height, block hash, state root. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    sim_node *nd = fsm->data;
    cc_head head;
    cc_chain_head(nd->chain, &head);
    struct raft_buffer *b = raft_malloc(sizeof *b);
    if (!b) return RAFT_NOMEM;
    b->len = SIM_SNAP_BYTES;
    b->base = raft_malloc(b->len);
    if (!b->base) {
        raft_free(b);
        return RAFT_NOMEM;
    }
    uint8_t *p = b->base;
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(head.height >> (56 - 8 * i));
    memcpy(p + 8, head.hash, CC_HASH_BYTES);
    memcpy(p + 8 + CC_HASH_BYTES, head.state_root, CC_HASH_BYTES);
    *bufs = b;
    *n_bufs = 1;
    nd->sim->st.snapshots++;
    return 0;
}

/* Catch up to a snapshot: fetch each missing block from a peer that holds
 * it, apply it (which verifies it), and end exactly at the snapshot's block
 * hash and state root. The FSM owns buf->base. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    sim_node *nd = fsm->data;
    sim *s = nd->sim;
    uint64_t height = 0;
    const uint8_t *p = buf->base;
    int rv = 0;
    if (buf->len != SIM_SNAP_BYTES) {
        sim_fail(s, "node %u: a snapshot of %zu bytes", nd->index, buf->len);
        goto done;
    }
    for (int i = 0; i < 8; i++) height = height << 8 | p[i];
    s->st.restores++;
    sim_trace(s, "node %u restores a snapshot at height %llu", nd->index, (unsigned long long)height);
    for (;;) {
        cc_head head;
        cc_chain_head(nd->chain, &head);
        if (head.height >= height) break;
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        unsigned from = s->n;
        for (unsigned k = 1; k < s->n && from == s->n; k++) {
            unsigned j = (nd->index + k) % s->n;
            if (cc_chain_block_raw(s->nodes[j].chain, head.height + 1, &raw, &raw_len) == CC_OK) from = j;
        }
        if (from == s->n) {
            sim_fail(s, "node %u: no peer holds block %llu to catch up to a snapshot", nd->index,
                     (unsigned long long)head.height + 1);
            goto done;
        }
        s->st.fetched++;
        bool ok = node_apply_block(nd, raw, raw_len, "fetched");
        free(raw);
        if (!ok) goto done;
    }
    if (height > 0) {
        const sim_rec *r = height <= nd->rec_count ? &nd->recs[height - 1] : NULL;
        if (!r || memcmp(r->hash, p + 8, CC_HASH_BYTES) != 0 ||
            memcmp(r->root, p + 8 + CC_HASH_BYTES, CC_HASH_BYTES) != 0)
            sim_fail(s, "node %u: after catching up, block %llu differs from the snapshot's", nd->index,
                     (unsigned long long)height);
    }
done:
    raft_free(buf->base);
    return rv;
}

/* ---- the workload ------------------------------------------------------------------ */

static void queue_push(sim *s, size_t idx, bool front)
{
    s->queue = xrealloc(s->queue, (s->queue_len + 1) * sizeof *s->queue);
    if (front) {
        memmove(s->queue + 1, s->queue, s->queue_len * sizeof *s->queue);
        s->queue[0] = idx;
    } else {
        s->queue[s->queue_len] = idx;
    }
    s->queue_len++;
    s->txs[idx].state = TX_QUEUED;
}

static size_t queue_pop(sim *s)
{
    size_t idx = s->queue[0];
    memmove(s->queue, s->queue + 1, --s->queue_len * sizeof *s->queue);
    return idx;
}

/* Make and queue the next tx of the workload. */
static void workload_next(sim *s)
{
    if (s->tx_count == s->tx_cap) {
        s->tx_cap = s->tx_cap ? 2 * s->tx_cap : 64;
        s->txs = xrealloc(s->txs, s->tx_cap * sizeof *s->txs);
    }
    size_t idx = s->tx_count;
    sim_tx *t = &s->txs[idx];
    memset(t, 0, sizeof *t);
    char payload[300], hex[CC_HASH_HEX];
    uint8_t doc[CC_HASH_BYTES];
    cc_key signer, k;
    uint64_t created = now_ms(s) - rnd_below(s, 2000), expiry;
    bool bad_sig = false;
    const char *type = "note.put";
    const cc_key *admin = &s->admin[rnd_below(s, 2)];
    for (size_t i = 0; i < sizeof doc; i++) doc[i] = (uint8_t)rnd_below(s, 256);
    snprintf(payload, sizeof payload, "{\"kind\":\"lab-result\",\"sha256\":\"%s\"}",
             cc_hex(doc, CC_HASH_BYTES, hex));
    signer = *admin;
    t->expect = CC_OK;

    unsigned kind = rnd_below(s, 100);
    if (kind < 30) {                           /* note.put by an admin */
    } else if (kind < 45 && s->member_count) { /* note.put by a registered clinician */
        sim_key(KEY_MEMBER, (unsigned)s->txs[s->members[rnd_below(s, (unsigned)s->member_count)]].tx.nonce,
                &signer);
    } else if (kind < 65) { /* register a new clinician (key: the tx's own index) */
        type = "member.register";
        sim_key(KEY_MEMBER, (unsigned)idx, &k);
        snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\",\"name\":\"Dr %zu\"}",
                 cc_hex(k.pk, CC_PUBKEY_BYTES, hex), idx);
    } else if (kind < 70 && s->member_count) { /* register an id again */
        type = "member.register";
        sim_key(KEY_MEMBER, (unsigned)s->txs[s->members[rnd_below(s, (unsigned)s->member_count)]].tx.nonce,
                &k);
        snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\"}",
                 cc_hex(k.pk, CC_PUBKEY_BYTES, hex));
        t->expect = CC_ERR_CONFLICT;
    } else if (kind < 74 && s->member_count) { /* a clinician may not register members */
        type = "member.register";
        sim_key(KEY_MEMBER, (unsigned)s->txs[s->members[rnd_below(s, (unsigned)s->member_count)]].tx.nonce,
                &signer);
        sim_key(KEY_STRANGER, (unsigned)idx, &k);
        snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"role\":\"clinician\"}",
                 cc_hex(k.pk, CC_PUBKEY_BYTES, hex));
        t->expect = CC_ERR_FORBIDDEN;
    } else if (kind < 79) { /* a payload field no rule knows */
        snprintf(payload, sizeof payload, "{\"kind\":\"lab\",\"sha256\":\"%s\",\"extra\":1}",
                 cc_hex(doc, CC_HASH_BYTES, hex));
        t->expect = CC_ERR_INVALID;
    } else if (kind < 84) {
        sim_key(KEY_STRANGER, (unsigned)idx, &signer);
        t->expect = CC_ERR_UNKNOWN_SIGNER;
    } else if (kind < 89) {
        bad_sig = true;
        t->expect = CC_ERR_SIGNATURE;
    } else if (kind < 93) {
        created = now_ms(s) - 2 * (uint64_t)SIM_TX_LIFETIME_MS;
        t->expect = CC_ERR_EXPIRED;
    } else if (kind < 97) {
        created = now_ms(s) + 20 * 60 * 1000;
        t->expect = CC_ERR_FUTURE;
    } /* else (and when no member is known yet): note.put by an admin */
    expiry = created + SIM_TX_LIFETIME_MS;

    cc_tx_params prm = {.chain_id = s->chain_id,
                        .type = type,
                        .payload = payload,
                        .payload_len = strlen(payload),
                        .created_ms = created,
                        .expiry_ms = expiry,
                        .nonce = idx};
    cc_errbuf eb = {""};
    if (cc_tx_create(&prm, &signer, &t->tx, &eb) != CC_OK) {
        sim_fail(s, "cc_tx_create: %s", eb.msg);
        return;
    }
    if (bad_sig) { /* flip a bit of the signature and decode: nobody has checked it */
        cc_tx good = t->tx;
        good.raw[good.raw_len - 1] ^= 1;
        if (cc_tx_decode(good.raw, good.raw_len, &t->tx, &eb) != CC_OK) {
            sim_fail(s, "decoding a tx with a bad signature: %s", eb.msg);
            t->tx = good;
        } else {
            cc_tx_free(&good);
        }
    }
    s->tx_count++;
    queue_push(s, idx, false);
}

/* ---- producing -------------------------------------------------------------------- */

typedef struct sim_prop {
    struct raft_apply req;
    sim_node *node;
    size_t count;
    size_t idx[SIM_BLOCK_TXS_MAX + 1];
    bool replay[SIM_BLOCK_TXS_MAX + 1];
} sim_prop;

typedef struct sim_barrier {
    struct raft_barrier req;
    sim_node *node;
} sim_barrier;

typedef struct sim_transfer {
    struct raft_transfer req;
    sim *sim;
} sim_transfer;

static void barrier_done(struct raft_barrier *req, int status)
{
    sim_barrier *b = req->data;
    (void)status;
    b->node->proposing = false;
    free(b);
}

static void transfer_done(struct raft_transfer *req)
{
    free(req->data);
}

/* The leader's raft_apply callback: the entry committed and this node's FSM
 * applied it (status 0) — the txs are acknowledged — or leadership was lost. */
static void prop_done(struct raft_apply *req, int status, void *result)
{
    sim_prop *p = req->data;
    sim_node *nd = p->node;
    sim *s = nd->sim;
    (void)result;
    nd->proposing = false;
    if (status != 0) {
        s->st.lost_proposals++;
        cc_chain_drop_kept(nd->chain); /* as the node does; a new leader may still commit it (applied anew) */
    }
    for (size_t i = 0; i < p->count && !s->closing; i++) {
        sim_tx *t = &s->txs[p->idx[i]];
        cc_tx_location loc;
        if (status != 0) {
            if (!p->replay[i]) queue_push(s, p->idx[i], true); /* the client retries */
            continue;
        }
        if (cc_chain_tx_find(nd->chain, t->tx.txid, &loc) != CC_OK) {
            sim_fail(s, "node %u acknowledged tx %zu but its chain does not hold it", nd->index, p->idx[i]);
            break;
        }
        if (p->replay[i]) {
            if (loc.height != t->ack.height || loc.index != t->ack.index)
                sim_fail(s, "a replay of tx %zu moved it from height %llu to %llu", p->idx[i],
                         (unsigned long long)t->ack.height, (unsigned long long)loc.height);
            continue;
        }
        if (loc.result.code != t->expect)
            sim_fail(s, "tx %zu (%s) got result %s (%s), expected %s", p->idx[i], t->tx.type,
                     cc_err_name((cc_err)loc.result.code), loc.result.message, cc_err_name(t->expect));
        t->state = TX_ACKED;
        t->ack = loc;
        s->st.txs_acked++;
        if (t->expect == CC_OK && strcmp(t->tx.type, "member.register") == 0) {
            s->members = xrealloc(s->members, (s->member_count + 1) * sizeof *s->members);
            s->members[s->member_count++] = p->idx[i];
        }
    }
    free(p);
}

static void propose(sim *s, sim_node *nd, struct raft *r)
{
    sim_prop *p = calloc(1, sizeof *p);
    cc_tx txs[SIM_BLOCK_TXS_MAX + 1];
    cc_result res[SIM_BLOCK_TXS_MAX + 1];
    cc_header h;
    cc_head head;
    cc_errbuf eb = {""};
    if (!p) abort();
    p->node = nd;
    p->req.data = p;
    unsigned want = 1 + rnd_below(s, SIM_BLOCK_TXS_MAX);
    while (p->count < want) {
        if (s->queue_len == 0 && s->tx_count < s->tx_budget) workload_next(s);
        if (s->queue_len == 0) break;
        p->idx[p->count++] = queue_pop(s);
    }
    if (p->count && s->member_count && rnd_chance(s, 10)) { /* a client replays a committed tx */
        p->idx[p->count] = s->members[rnd_below(s, (unsigned)s->member_count)];
        p->replay[p->count++] = true;
        s->st.replays++;
    }
    if (p->count == 0 || s->failed) goto err;
    for (size_t i = 0; i < p->count; i++)
        txs[i] = s->txs[p->idx[i]].tx; /* shallow: build does not change them */
    cc_chain_head(nd->chain, &head);
    uint64_t t = now_ms(s) > head.time_ms ? now_ms(s) : head.time_ms + 1;
    cc_err rc = cc_chain_build_kept(nd->chain, txs, p->count, t, &nd->key, &h, res, &eb);
    if (rc != CC_OK) {
        sim_fail(s, "node %u: cc_chain_build_kept failed: %s (%s)", nd->index, cc_err_name(rc), eb.msg);
        goto err;
    }
    memcpy(nd->kept_res, res, p->count * sizeof *res);
    cc_block blk = {h, txs, p->count};
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (cc_block_encode(&blk, &enc, &enc_len) != CC_OK) abort();
    struct raft_buffer rb = {raft_malloc(enc_len), enc_len};
    if (!rb.base) abort();
    memcpy(rb.base, enc, enc_len);
    free(enc);
    if (raft_apply(r, &p->req, &rb, 1, prop_done) != 0) {
        raft_free(rb.base);
        cc_chain_drop_kept(nd->chain);
        goto err;
    }
    for (size_t i = 0; i < p->count; i++) {
        if (p->replay[i]) continue;
        s->txs[p->idx[i]].state = TX_INFLIGHT;
        s->txs[p->idx[i]].proposals++;
    }
    nd->proposing = true;
    s->st.proposals++;
    sim_trace(s, "node %u (leader, term %llu) proposes block %llu with %zu txs at index %llu", nd->index,
              (unsigned long long)r->current_term, (unsigned long long)h.height, p->count,
              (unsigned long long)raft_last_index(r));
    return;
err:
    for (size_t i = p->count; i-- > 0;)
        if (!p->replay[i]) queue_push(s, p->idx[i], true);
    free(p);
}

/* Every live leader (a stale one in a minority too) produces when it is due
 * and its chain is at the head of its log; with entries of an earlier term
 * still unapplied it appends a barrier so that they commit. */
static void produce(sim *s)
{
    raft_time now = raft_fixture_time(&s->f);
    for (unsigned i = 0; i < s->n && !s->failed; i++) {
        sim_node *nd = &s->nodes[i];
        struct raft *r = raft_fixture_get(&s->f, i);
        if (!raft_fixture_alive(&s->f, i) || raft_state(r) != RAFT_LEADER || nd->proposing) continue;
        if (raft_last_applied(r) < raft_last_index(r)) {
            sim_barrier *b = calloc(1, sizeof *b);
            if (!b) abort();
            b->node = nd;
            b->req.data = b;
            if (raft_barrier(r, &b->req, barrier_done) == 0)
                nd->proposing = true;
            else
                free(b);
            continue;
        }
        if (now < nd->next_produce_ms) continue;
        nd->next_produce_ms = now + 20 + rnd_below(s, 200);
        propose(s, nd, r);
    }
}

/* ---- a libraft 0.15 fixture bug ----------------------------------------------------
 *
 * The fixture's in-memory log keeps entries in an array it assumes starts at
 * raft index 1. Installing a snapshot on a follower empties that array
 * (truncate(1)); raft then appends from the snapshot's index + 1, and a later
 * truncate(index) (a new leader overwriting uncommitted entries) copies
 * index - 1 entries out of the shorter array: a heap over-read and a corrupt
 * log. We wrap the io's truncate to translate the index by the install's
 * offset. Second, raft may truncate inside entries whose append the fixture
 * has not finished (a new leader's conflicting entry arrives within the disk
 * latency of the write): raft_uv runs a truncation after the writes before
 * it, but the fixture cuts its array at once and copies index - 1 entries
 * out of a shorter one (seed 6476). There the wrapper cuts only what is
 * stored; the writes that land later sit past the cut, where nothing reads
 * them (the fixture's array is read only when raft starts, and the
 * simulation never restarts a raft instance). Single-threaded: the wrapper
 * finds its node through g_sim. */

static sim *g_sim;
static int (*fixture_truncate)(struct raft_io *io, raft_index index);

static int sim_truncate(struct raft_io *io, raft_index index)
{
    sim *s = g_sim;
    for (unsigned i = 0; i < s->n; i++) {
        if (&s->f.servers[i].io != io) continue;
        sim_node *nd = &s->nodes[i];
        if (index == 1) { /* the install's own truncation, or an empty log */
            nd->installing = true;
            nd->io_offset = 0;
            return fixture_truncate(io, 1);
        }
        if (index <= nd->io_offset) {
            sim_fail(s, "node %u: raft truncates its log at %llu, inside its snapshot (%llu)", i,
                     (unsigned long long)index, (unsigned long long)nd->io_offset);
            return RAFT_IOERR;
        }
        raft_index stored = raft_fixture_get(&s->f, i)->last_stored; /* what the array holds */
        if (index > stored + 1) index = stored + 1;
        return fixture_truncate(io, index - nd->io_offset);
    }
    abort();
}

/* After a step: an install finished, so the array now starts after the
 * snapshot raft restarted its log at. */
static void note_installs(sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        if (!nd->installing) continue;
        nd->io_offset = raft_fixture_get(&s->f, i)->log.snapshot.last_index;
        nd->installing = false;
    }
}

/* ---- libraft's answers to AppendEntries, corrected as the node does (raft_match.h) ---- */

static bool g_uncorrected; /* --uncorrected: leave them as libraft sends them */
static raft_io_recv_cb raft_recv;
static int (*fixture_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
static int (*fixture_send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                           raft_io_send_cb cb);

static sim_node *node_of_io(struct raft_io *io)
{
    for (unsigned i = 0; i < g_sim->n; i++)
        if (&g_sim->f.servers[i].io == io) return &g_sim->nodes[i];
    abort();
}

/* raft_io->append: the fixture's, with the disk latency stretched so that a
 * write never completes before one submitted earlier. */
static int (*fixture_append)(struct raft_io *io, struct raft_io_append *req,
                             const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);

static int sim_append(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                      unsigned n, raft_io_append_cb cb)
{
    sim_node *nd = node_of_io(io);
    raft_time now = raft_fixture_time(&g_sim->f), due = now + nd->disk_ms;
    if (due < nd->append_due) due = nd->append_due;
    raft_fixture_set_disk_latency(&g_sim->f, nd->index, (unsigned)(due - now));
    nd->append_due = due;
    int rv = fixture_append(io, req, entries, n, cb);
    raft_fixture_set_disk_latency(&g_sim->f, nd->index, nd->disk_ms); /* for snapshot writes */
    return rv;
}

/* raft_io->random: a fresh election timeout each time, from the seed. */
static int sim_random(struct raft_io *io, int min, int max)
{
    (void)io;
    return max > min ? min + (int)rnd_below(g_sim, (unsigned)(max - min)) : min;
}

static void sim_recv(struct raft_io *io, struct raft_message *msg)
{
    sim_node *nd = node_of_io(io);
    cc_raft_match_received(&nd->match, msg);
    raft_recv(io, msg);
    cc_raft_match_handled(&nd->match);
}

static int sim_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    raft_recv = recv; /* the same function for every server */
    return fixture_start(io, msecs, tick, sim_recv);
}

static int sim_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                    raft_io_send_cb cb)
{
    sim_node *nd = node_of_io(io);
    struct raft_message fixed;
    raft_index snapshot_index = raft_fixture_get(&g_sim->f, nd->index)->log.snapshot.last_index;
    if (!cc_raft_match_answer(&nd->match, msg, snapshot_index, &fixed)) return fixture_send(io, req, msg, cb);
    if (msg->append_entries_result.rejected)
        sim_trace(g_sim,
                  "node %u accepts up to its snapshot, %llu, what libraft refused of node %llu (term %llu)",
                  nd->index, (unsigned long long)snapshot_index, (unsigned long long)msg->server_id - 1,
                  (unsigned long long)msg->append_entries_result.term);
    else
        sim_trace(g_sim, "node %u answers node %llu (term %llu) with last index %llu, not %llu", nd->index,
                  (unsigned long long)msg->server_id - 1, (unsigned long long)msg->append_entries_result.term,
                  (unsigned long long)fixed.append_entries_result.last_log_index,
                  (unsigned long long)msg->append_entries_result.last_log_index);
    return fixture_send(io, req, &fixed, cb);
}

/* ---- stepping, faults ---------------------------------------------------------------- */

/* Invariant 1: at most one leader per term. */
static void check_leaders(sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct raft *r = raft_fixture_get(&s->f, i);
        if (raft_state(r) != RAFT_LEADER) continue;
        raft_term t = r->current_term;
        if (t >= s->term_cap) {
            size_t cap = s->term_cap ? s->term_cap : 64;
            while (cap <= t) cap *= 2;
            s->term_leader = xrealloc(s->term_leader, cap * sizeof *s->term_leader);
            memset(s->term_leader + s->term_cap, 0, (cap - s->term_cap) * sizeof *s->term_leader);
            s->term_cap = cap;
        }
        if (s->term_leader[t] == 0) {
            s->term_leader[t] = r->id;
            s->st.terms++;
            sim_trace(s, "node %u leads term %llu", i, (unsigned long long)t);
        } else if (s->term_leader[t] != r->id) {
            sim_fail(s, "term %llu has two leaders: node %llu and node %llu", (unsigned long long)t,
                     (unsigned long long)s->term_leader[t] - 1, (unsigned long long)r->id - 1);
        }
    }
}

/* The term of the entry at index in r's log: 0 when absent, RAFT_TERM_COMPACTED
 * when a snapshot replaced it (reads libraft 0.15's struct raft_log). */
#define RAFT_TERM_COMPACTED ((raft_term)-1)
static raft_term log_term(const struct raft *r, raft_index index)
{
    const struct raft_log *l = &r->log;
    if (index == 0) return 0;
    if (index <= l->offset)
        return index == l->snapshot.last_index ? l->snapshot.last_term : RAFT_TERM_COMPACTED;
    size_t count = l->back >= l->front ? l->back - l->front : l->size - l->front + l->back;
    size_t pos = (size_t)(index - l->offset - 1);
    if (pos >= count) return 0;
    return l->entries[(l->front + pos) % l->size].term;
}

/* Raft's own commit rule, checked from outside: an index a leader marks
 * committed is in the logs of a majority (same index, same term). */
static void check_commits(sim *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct raft *r = raft_fixture_get(&s->f, i);
        sim_node *nd = &s->nodes[i];
        if (raft_state(r) != RAFT_LEADER || r->commit_index <= nd->commit_checked) continue;
        for (raft_index k = nd->commit_checked + 1; k <= r->commit_index && !s->failed; k++) {
            raft_term want = log_term(r, k);
            unsigned holders = 0;
            if (want == RAFT_TERM_COMPACTED) continue;
            for (unsigned j = 0; j < s->n; j++) {
                raft_term have = log_term(raft_fixture_get(&s->f, j), k);
                holders += have == want || have == RAFT_TERM_COMPACTED;
            }
            if (2 * holders > s->n) continue;
            /* libraft 0.15's answers (raft_match.h), when they are not corrected: counted, fatal
             * with --strict; corrected, a violation */
            s->st.unsafe_commits++;
            if (!s->unsafe[0])
                snprintf(s->unsafe, sizeof s->unsafe,
                         "at t=%llu ms libraft's node %u (leader, term %llu) committed index %llu (term "
                         "%llu) held "
                         "by only %u of %u logs",
                         (unsigned long long)raft_fixture_time(&s->f), i, (unsigned long long)r->current_term,
                         (unsigned long long)k, (unsigned long long)want, holders, s->n);
            if (s->strict || !g_uncorrected) sim_fail(s, "%s", s->unsafe);
        }
        nd->commit_checked = r->commit_index;
    }
}

static void step(sim *s)
{
    raft_fixture_step(&s->f);
    note_installs(s);
    check_leaders(s);
    check_commits(s);
    for (unsigned i = 0; i < s->n; i++) { /* raft gave up on this node: say why */
        struct raft *r = raft_fixture_get(&s->f, i);
        if (raft_state(r) == RAFT_UNAVAILABLE)
            sim_fail(s, "node %u: raft stopped (unavailable) in term %llu, commit %llu%s%s", i,
                     (unsigned long long)r->current_term, (unsigned long long)r->commit_index,
                     *raft_errmsg(r) ? ": " : "", raft_errmsg(r));
    }
    if (s->isolate_until && raft_fixture_time(&s->f) >= s->isolate_until) {
        for (unsigned i = 0; i < s->n; i++)
            for (unsigned j = 0; j < s->n; j++)
                if (i != j) raft_fixture_desaturate(&s->f, i, j);
        s->isolate_until = 0;
        sim_trace(s, "the isolation ends");
    }
    produce(s);
}

static void heal_links(sim *s)
{
    for (unsigned i = 0; i < s->n; i++)
        for (unsigned j = 0; j < s->n; j++)
            if (i != j) raft_fixture_desaturate(&s->f, i, j);
    s->isolate_until = 0;
}

/* A revived node's process restarted: its store is closed and opened again. */
static void revive(sim *s, unsigned i)
{
    sim_node *nd = &s->nodes[i];
    cc_errbuf eb = {""};
    cc_chain_options opt = {.map_size = SIM_MAP_BYTES, .map_size_max = SIM_MAP_MAX_BYTES};
    cc_head before, after;
    cc_chain_head(nd->chain, &before);
    cc_chain_drop_kept(nd->chain); /* the process died: its open transaction with it */
    cc_chain_close(nd->chain);
    nd->chain = NULL;
    if (cc_chain_open(nd->dir, (const uint8_t *)s->genesis, s->genesis_len, &opt, &nd->chain, &eb) != CC_OK) {
        fprintf(stderr, "sim_raft: seed %llu: reopening node %u: %s\n", (unsigned long long)s->seed, i,
                eb.msg);
        abort(); /* nothing else can run without this node's store */
    }
    cc_chain_head(nd->chain, &after);
    if (memcmp(&before, &after, sizeof before) != 0)
        sim_fail(s, "node %u: its head changed across a restart (height %llu -> %llu)", i,
                 (unsigned long long)before.height, (unsigned long long)after.height);
    raft_fixture_revive(&s->f, i);
}

static void fault(sim *s)
{
    unsigned dead = 0, i = rnd_below(s, s->n), leader = raft_fixture_leader_index(&s->f);
    for (unsigned k = 0; k < s->n; k++) dead += !raft_fixture_alive(&s->f, k);
    switch (rnd_below(s, 10)) {
    case 0: /* crash a node (at most a bare majority of the cluster) */
        if (raft_fixture_alive(&s->f, i) && dead < s->n / 2 + 1) {
            raft_fixture_kill(&s->f, i);
            s->st.kills++;
            sim_trace(s, "kill node %u", i);
        }
        break;
    case 1:
        for (unsigned k = 0; k < s->n; k++) {
            unsigned j = (i + k) % s->n;
            if (!raft_fixture_alive(&s->f, j)) {
                revive(s, j);
                sim_trace(s, "revive node %u", j);
                break;
            }
        }
        break;
    case 2: { /* split the cluster in two groups */
        unsigned mask = 1 + rnd_below(s, (1u << s->n) - 2);
        heal_links(s);
        for (unsigned a = 0; a < s->n; a++)
            for (unsigned b = 0; b < s->n; b++)
                if ((mask >> a & 1) != (mask >> b & 1)) raft_fixture_saturate(&s->f, a, b);
        s->st.partitions++;
        sim_trace(s, "partition: group mask 0x%x", mask);
        break;
    }
    case 3:
        heal_links(s);
        sim_trace(s, "heal the network");
        break;
    case 4: { /* lose one direction of one link */
        unsigned j = (i + 1 + rnd_below(s, s->n - 1)) % s->n;
        raft_fixture_saturate(&s->f, i, j);
        sim_trace(s, "drop messages %u -> %u", i, j);
        break;
    }
    case 5: { /* slow (and so reordered) messages from one node */
        unsigned ms = rnd_chance(s, 2) ? 1 + rnd_below(s, 30) : 1 + rnd_below(s, 600);
        raft_fixture_set_network_latency(&s->f, i, ms);
        sim_trace(s, "node %u: message latency %u ms", i, ms);
        break;
    }
    case 6: {
        unsigned ms = 1 + rnd_below(s, 300);
        s->nodes[i].disk_ms = ms; /* for appends from the next one on (sim_append) */
        raft_fixture_set_disk_latency(&s->f, i, ms);
        sim_trace(s, "node %u: disk latency %u ms", i, ms);
        break;
    }
    case 7: /* depose the leader: cut it off until it steps down and a bit longer */
        if (leader < s->n) {
            for (unsigned j = 0; j < s->n; j++) {
                if (j == leader) continue;
                raft_fixture_saturate(&s->f, leader, j);
                raft_fixture_saturate(&s->f, j, leader);
            }
            s->isolate_until = raft_fixture_time(&s->f) + 1500 + rnd_below(s, 2000);
            s->st.deposals++;
            sim_trace(s, "isolate the leader, node %u", leader);
        }
        break;
    case 8: /* leadership transfer to a chosen node, or to the most up-to-date one */
        if (leader < s->n) {
            sim_transfer *t = calloc(1, sizeof *t);
            raft_id to = rnd_chance(s, 2) ? 0 : (raft_id)((leader + 1 + rnd_below(s, s->n - 1)) % s->n) + 1;
            if (!t) abort();
            t->sim = s;
            t->req.data = t;
            if (raft_transfer(raft_fixture_get(&s->f, leader), &t->req, to, transfer_done) == 0) {
                s->st.transfers++;
                sim_trace(s, "transfer leadership from node %u to %s%llu", leader, to ? "node " : "id ",
                          (unsigned long long)(to ? to - 1 : 0));
            } else {
                free(t);
            }
        }
        break;
    default: { /* cut one link both ways: both ends still reach the others */
        unsigned j = (i + 1 + rnd_below(s, s->n - 1)) % s->n;
        raft_fixture_saturate(&s->f, i, j);
        raft_fixture_saturate(&s->f, j, i);
        sim_trace(s, "cut the link between nodes %u and %u", i, j);
        break;
    }
    }
}

/* ---- one seed ------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static bool converged(sim *s)
{
    unsigned l = raft_fixture_leader_index(&s->f);
    if (s->tx_count < s->tx_budget || s->queue_len || l >= s->n || s->nodes[l].proposing) return false;
    for (size_t i = 0; i < s->tx_count; i++)
        if (s->txs[i].state != TX_ACKED) return false;
    struct raft *lr = raft_fixture_get(&s->f, l);
    if (raft_last_applied(lr) != raft_last_index(lr)) return false;
    for (unsigned i = 0; i < s->n; i++)
        if (raft_last_applied(raft_fixture_get(&s->f, i)) != raft_last_applied(lr)) return false;
    return true;
}

/* Invariants 5 and 6, after healing. */
static void final_checks(sim *s)
{
    cc_head h0, h;
    cc_chain_head(s->nodes[0].chain, &h0);
    for (unsigned i = 0; i < s->n && !s->failed; i++) {
        sim_node *nd = &s->nodes[i];
        cc_chain_head(nd->chain, &h);
        if (memcmp(&h, &h0, sizeof h) != 0) {
            sim_fail(s, "node %u's head (height %llu) differs from node 0's (height %llu)", i,
                     (unsigned long long)h.height, (unsigned long long)h0.height);
            break;
        }
        if (nd->rec_count != h.height || h.height != s->canon_count) {
            sim_fail(s, "node %u recorded %zu heights, its head is %llu, %zu were ever committed", i,
                     nd->rec_count, (unsigned long long)h.height, s->canon_count);
            break;
        }
        for (size_t k = 0; k < nd->rec_count; k++)
            if (memcmp(&nd->recs[k], &s->canon[k], sizeof nd->recs[k]) != 0)
                sim_fail(s, "node %u: height %zu differs from the first record of it", i, k + 1);
    }
    for (uint64_t height = 1; height <= h0.height && !s->failed; height++) {
        uint8_t *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        if (cc_chain_block_raw(s->nodes[0].chain, height, &a, &alen) != CC_OK) {
            sim_fail(s, "node 0 lacks block %llu", (unsigned long long)height);
            break;
        }
        for (unsigned i = 1; i < s->n && !s->failed; i++) {
            if (cc_chain_block_raw(s->nodes[i].chain, height, &b, &blen) != CC_OK || alen != blen ||
                memcmp(a, b, alen) != 0)
                sim_fail(s, "block %llu: node %u's bytes differ from node 0's", (unsigned long long)height,
                         i);
            free(b);
            b = NULL;
        }
        free(a);
    }
    for (size_t k = 0; k < s->tx_count && !s->failed; k++) {
        sim_tx *t = &s->txs[k];
        for (unsigned i = 0; i < s->n; i++) {
            cc_tx_location loc;
            if (cc_chain_tx_find(s->nodes[i].chain, t->tx.txid, &loc) != CC_OK ||
                loc.height != t->ack.height || loc.index != t->ack.index ||
                loc.result.code != t->ack.result.code) {
                sim_fail(s, "acknowledged tx %zu (block %llu) is not the same on node %u", k,
                         (unsigned long long)t->ack.height, i);
                break;
            }
        }
    }
}

static void sim_setup(sim *s, uint64_t seed, bool trace, const char *root)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->rng = seed * 0x2545f4914f6cdd1dULL + 1;
    s->trace = trace;
    s->n = rnd_chance(s, 3) ? 5 : 3;
    s->tx_budget = SIM_TXS_MIN + rnd_below(s, SIM_TXS_SPAN);
    s->genesis = sim_genesis(s->n);
    s->genesis_len = strlen(s->genesis);
    cc_sha256((const uint8_t *)s->genesis, s->genesis_len, s->chain_id);
    for (unsigned i = 0; i < 2; i++) sim_key(KEY_ADMIN, i, &s->admin[i]);
    snprintf(s->base, sizeof s->base, "%s/seed-%llu", root, (unsigned long long)seed);
    nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* a crashed earlier run's leftovers */

    if (raft_fixture_initialize(&s->f) != 0) abort();
    unsigned threshold = 8u << rnd_below(s, 4), trailing = 1 + rnd_below(s, 8);
    for (unsigned i = 0; i < s->n; i++) {
        sim_node *nd = &s->nodes[i];
        cc_errbuf eb = {""};
        cc_chain_options opt = {.map_size = SIM_MAP_BYTES, .map_size_max = SIM_MAP_MAX_BYTES};
        nd->sim = s;
        nd->index = i;
        sim_key(KEY_NODE, i, &nd->key);
        snprintf(nd->dir, sizeof nd->dir, "%s/node%u", s->base, i);
        if (cc_chain_open(nd->dir, (const uint8_t *)s->genesis, s->genesis_len, &opt, &nd->chain, &eb) !=
            CC_OK) {
            fprintf(stderr, "sim_raft: opening %s: %s\n", nd->dir, eb.msg);
            abort();
        }
        nd->fsm.version = 1;
        nd->fsm.data = nd;
        nd->fsm.apply = fsm_apply;
        nd->fsm.snapshot = fsm_snapshot;
        nd->fsm.restore = fsm_restore;
        if (raft_fixture_grow(&s->f, &nd->fsm) != 0) abort();
        struct raft *r = raft_fixture_get(&s->f, i);
        raft_set_snapshot_threshold(r, threshold);
        fixture_truncate = s->f.servers[i].io.truncate;
        s->f.servers[i].io.truncate = sim_truncate;
        if (!g_uncorrected) {
            fixture_start = s->f.servers[i].io.start;
            fixture_send = s->f.servers[i].io.send;
            s->f.servers[i].io.start = sim_start;
            s->f.servers[i].io.send = sim_send;
        }
        s->f.servers[i].io.random = sim_random;
        fixture_append = s->f.servers[i].io.append;
        s->f.servers[i].io.append = sim_append;
        nd->disk_ms = SIM_DISK_LATENCY_MS;
        raft_set_snapshot_trailing(r, trailing);
        raft_set_pre_vote(r, true); /* as the node runs it */
    }
    struct raft_configuration conf;
    if (raft_fixture_configuration(&s->f, s->n, &conf) != 0 || raft_fixture_bootstrap(&s->f, &conf) != 0 ||
        raft_fixture_start(&s->f) != 0)
        abort();
    raft_configuration_close(&conf);
    sim_trace(s, "%u nodes, %zu txs, snapshot every %u entries keeping %u", s->n, s->tx_budget, threshold,
              trailing);
}

static void sim_teardown(sim *s)
{
    s->closing = true;
    raft_fixture_close(&s->f); /* fires pending callbacks; they only free */
    for (unsigned i = 0; i < s->n; i++) {
        cc_chain_drop_kept(s->nodes[i].chain);
        cc_chain_close(s->nodes[i].chain);
        free(s->nodes[i].recs);
    }
    nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < s->tx_count; i++) cc_tx_free(&s->txs[i].tx);
    free(s->txs);
    free(s->queue);
    free(s->members);
    free(s->canon);
    free(s->term_leader);
    free(s->genesis);
}

static void stats_add(sim_stats *to, const sim_stats *from)
{
    unsigned long long *a = (unsigned long long *)to;
    const unsigned long long *b = (const unsigned long long *)from;
    for (size_t i = 0; i < sizeof *to / sizeof *a; i++) a[i] += b[i];
}

/* Run one seed; false with why filled on a violation. */
static bool sim_run(uint64_t seed, bool trace, bool strict, const char *root, char *why, size_t why_len)
{
    sim *s = calloc(1, sizeof *s);
    if (!s) abort();
    g_sim = s;
    sim_setup(s, seed, trace, root);
    s->strict = strict;

    raft_time fault_end = raft_fixture_time(&s->f) + SIM_FAULT_MS_MIN + rnd_below(s, SIM_FAULT_MS_SPAN);
    raft_time next_fault = raft_fixture_time(&s->f) + 500 + rnd_below(s, 1500);
    while (!s->failed && raft_fixture_time(&s->f) < fault_end) {
        step(s);
        if (raft_fixture_time(&s->f) >= next_fault) {
            fault(s);
            next_fault = raft_fixture_time(&s->f) + 200 + rnd_below(s, 1500);
        }
    }

    sim_trace(s, "heal everything");
    for (unsigned i = 0; i < s->n; i++) {
        if (!raft_fixture_alive(&s->f, i)) revive(s, i);
        raft_fixture_set_network_latency(&s->f, i, SIM_NET_LATENCY_MS);
        s->nodes[i].disk_ms = SIM_DISK_LATENCY_MS;
        raft_fixture_set_disk_latency(&s->f, i, SIM_DISK_LATENCY_MS);
    }
    heal_links(s);
    raft_time heal_end = raft_fixture_time(&s->f) + SIM_HEAL_MS_MAX;
    while (!s->failed && !converged(s)) {
        if (raft_fixture_time(&s->f) >= heal_end) {
            size_t unacked = 0;
            for (size_t i = 0; i < s->tx_count; i++) unacked += s->txs[i].state != TX_ACKED;
            sim_fail(s, "no convergence %d s after healing: %zu of %zu txs unacknowledged, leader %u",
                     SIM_HEAL_MS_MAX / 1000, unacked, s->tx_count, raft_fixture_leader_index(&s->f));
            break;
        }
        step(s);
    }
    if (!s->failed) final_checks(s);
    s->st.sim_ms = raft_fixture_time(&s->f);
    sim_trace(s, "done: %llu blocks, %llu terms", s->st.blocks, s->st.terms);
    bool ok = !s->failed;
    if (s->unsafe[0] && !strstr(s->why, s->unsafe))
        snprintf(why, why_len, "%s (earlier, %s)", s->why, s->unsafe);
    else
        snprintf(why, why_len, "%s", s->why);
    for (unsigned i = 0; i < s->n; i++) { /* what the raft_io wrappers counted */
        s->st.corrected += s->nodes[i].match.clamped;
    }
    stats_add(&g_total, &s->st);
    sim_teardown(s);
    free(s);
    return ok;
}

/* ---- cmocka ------------------------------------------------------------------------- */

typedef struct seed_case {
    uint64_t seed;
    bool trace, strict;
    const char *root;
    char name[40];
} seed_case;

static void test_seed(void **state)
{
    seed_case *c = *state;
    char why[800]; /* the violation and the first unsafe commit before it */
    if (!sim_run(c->seed, c->trace, c->strict, c->root, why, sizeof why)) {
        print_error("seed %llu failed: %s\n", (unsigned long long)c->seed, why);
        print_error("reproduce: build/tests/sim/sim_raft --seed %llu --trace\n", (unsigned long long)c->seed);
        fail_msg("seed %llu: %s", (unsigned long long)c->seed, why);
    }
}

static int usage(void)
{
    fprintf(stderr,
            "usage: sim_raft [--seeds N] [--first S] [--seed S] [--trace] [--strict] [--uncorrected]\n");
    return 2;
}

/* Seeds that found a fault outside the default range, run by default
 * besides it: 52977 (a follower that libraft left behind for good once its
 * snapshot passed what the leader knew of it; raft_match.h). */
static const uint64_t REGRESSION_SEEDS[] = {52977};
#define N_REGRESSION (sizeof REGRESSION_SEEDS / sizeof *REGRESSION_SEEDS)

int main(int argc, char **argv)
{
    unsigned long long first = 1, count = 200;
    bool by_default = true; /* no --seeds, --first or --seed: add REGRESSION_SEEDS */
    bool trace = false, strict = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = strtoull(argv[++i], NULL, 10);
            by_default = false;
        } else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
            by_default = false;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
            count = 1;
            by_default = false;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = true;
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (strcmp(argv[i], "--uncorrected") == 0) {
            g_uncorrected = true;
        } else {
            return usage();
        }
    }
    if (count == 0) return usage();

    /* The stores live on tmpfs when there is one: the fsyncs cost nothing. */
    char root[128];
    const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(root, sizeof root, "%s/cc-sim-XXXXXX", parent);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }

    unsigned long long total = count + (by_default ? N_REGRESSION : 0);
    seed_case *cases = calloc(total, sizeof *cases);
    struct CMUnitTest *tests = calloc(total, sizeof *tests);
    if (!cases || !tests) return 1;
    for (unsigned long long k = 0; k < total; k++) {
        cases[k].seed = k < count ? first + k : REGRESSION_SEEDS[k - count];
        cases[k].trace = trace;
        cases[k].strict = strict;
        cases[k].root = root;
        snprintf(cases[k].name, sizeof cases[k].name, "seed_%llu", (unsigned long long)cases[k].seed);
        tests[k] = (struct CMUnitTest){cases[k].name, test_seed, NULL, NULL, &cases[k]};
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int failed = _cmocka_run_group_tests("sim_raft", tests, total, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("sim_raft: %llu seeds in %.1f s (%.1f s simulated): %llu blocks, %llu txs committed (%llu failed "
           "by rule), %llu acknowledged, %llu replays; %llu proposals (%llu lost with leadership, %llu "
           "committed as "
           "built); %llu terms, "
           "%llu kills, %llu partitions, %llu deposals, %llu transfers; %llu snapshots, %llu restores "
           "fetching %llu blocks\n"
           "sim_raft: raft's commit rule: %llu commits of an entry a minority held (%s); %llu of libraft "
           "0.15's AppendEntries answers corrected (src/node/raft_match.h)\n",
           total, secs, (double)g_total.sim_ms / 1000, g_total.blocks, g_total.txs_committed,
           g_total.txs_failed, g_total.txs_acked, g_total.replays, g_total.proposals, g_total.lost_proposals,
           g_total.kept_commits, g_total.terms, g_total.kills, g_total.partitions, g_total.deposals,
           g_total.transfers, g_total.snapshots, g_total.restores, g_total.fetched, g_total.unsafe_commits,
           g_uncorrected ? "--uncorrected: counted, --strict fails on them" : "each fails its seed",
           g_total.corrected);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(tests);
    free(cases);
    return failed ? 1 : 0;
}
