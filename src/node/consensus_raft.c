/*
 * node/consensus_raft.c — consensus for a network of several nodes over
 * canonical raft (libraft 0.15, its libuv backend, TCP transport). The
 * committed raft entries are blocks; only the leader proposes them, and
 * every node (the leader too) commits each one with cc_chain_apply in log
 * order. docs/CONSENSUS.md explains the design; consensus.h the protocol.
 *
 * This file holds the apply thread, the pre-verifier, the FSM, the loop,
 * configuration changes and the cc_consensus vtable. Its companions share
 * the node object (raft_node.h): raft_fetch.c catches up from peers,
 * raft_repair.c runs the repair thread, raft_restore.c the first leader
 * after a restore, raft_transport.c the authenticated, encrypted transport.
 *
 * Threads:
 *   loop      runs the libuv loop: raft, its TCP transport and disk I/O, a
 *             tick timer that publishes the raft state, and an async handle
 *             through which the other threads hand it work (a proposal, the
 *             stop). Only this thread calls raft.
 *   apply     takes committed entries, in log order, from the apply queue
 *             and commits them with cc_chain_apply (which verifies every
 *             signature not verified in this process), so that neither exec
 *             nor LMDB ever holds up heartbeats. libraft 0.15's FSM apply
 *             is synchronous: it only copies the entry onto the queue.
 *   producer  (producer.c) calls propose: builds and signs the block with
 *             cc_chain_build, encodes it, hands it to the loop and later
 *             receives done().
 *
 * States of this node (published by the loop on every tick):
 *
 *   follower/candidate --elected--> leader, not ready --barrier applied and
 *        ^                               |             the queue drained
 *        |                               |                    v
 *        +--------- leadership lost -----+------------ leader, ready: proposes
 *
 * Invariants:
 *   1. Only the loop thread touches struct raft and the libuv handles
 *      (other threads use uv_async_send only).
 *   2. Entries are applied one at a time, in log order, on the apply
 *      thread; the chain's head moves nowhere else while raft runs.
 *   3. The leader proposes only when ready (every entry before its term's
 *      barrier is applied), and at most one proposal is in flight.
 *   4. Every decision to apply or skip an entry depends only on the entry
 *      and the chain state the log prefix produced, so every node decides
 *      alike: an entry that does not extend the head (a stale proposal of a
 *      deposed leader, or one already applied before a restart — raft
 *      replays its log from its last snapshot) is skipped. The one local
 *      rule, a block time over 2 s ahead of this node's clock (corrected by
 *      the clock check while that says it is off), halts this
 *      node instead of skipping, so it never diverges silently. (A block
 *      past the head + 1 exists only after a restore: invariant 9.)
 *   5. A proposal completes exactly once: whoever takes it out of
 *      `inflight` under the lock calls done().
 *   6. A halted node applies nothing more and keeps serving reads. A node
 *      halts, after a block (a fetched one too) and at start, when the
 *      next block's ruleset is one its build does not know
 *      (cc_raft_ruleset_check).
 *   7. Membership: the apply thread re-reads network/config after each
 *      block with a successful network.* tx; only the ready leader changes
 *      the raft configuration, one change at a time, towards that set
 *      (add as spare -> promote to voter; remove). Any active node may
 *      propose (src/exec/chain.c checks the proposer against the parent
 *      state); a removed or halted leader hands leadership on.
 *   8. Snapshots: a raft snapshot is only the record (height, block hash,
 *      state root) of a chain head that includes every entry up to the
 *      snapshot's raft index (fsm_snapshot says how). Restoring one
 *      queues it like an entry; the apply thread then fetches the missing
 *      blocks from peers' APIs and applies each with cc_chain_apply, never
 *      the loop thread (cc_raft_catch_up).
 *   9. A whole-network restore: raft bootstraps from the node set the
 *      restored chain records; the first leader, before it is ready, takes
 *      the blocks of the furthest node (cc_raft_restore_gate); a node behind the
 *      first block that follows fetches the blocks in between (cc_raft_apply_entry).
 *      Both happen only on chains restored under an empty raft directory:
 *      otherwise no node is ever ahead of a ready leader, and no committed
 *      block leaves a gap.
 */
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/log.h"
#include "node/raft_node.h"

#define RAFT_TICK_MS             20  /* how often the loop publishes its state */
#define RAFT_ELECTION_MS         600 /* libraft randomises it to [1x, 2x) */
#define RAFT_HEARTBEAT_MS        20
#define RAFT_INSTALL_SNAPSHOT_MS 2000 /* an InstallSnapshot unanswered this long is sent again */
#define RAFT_STOP_INFLIGHT_MS    5000 /* at stop, how long the block in flight may take */
#define BLOCK_AHEAD_MAX_MS       2000 /* refuse a block this far ahead of the local clock */
#define CLOCK_WAIT_MS            5000 /* after a start: how long proposing, and a block that looks ahead, */
#define CLOCK_WAIT_POLL_MS       100  /* wait for the peers' clocks (polled this often) */
#define RAFT_SNAPSHOT_THRESHOLD  512  /* raft entries between two snapshots once the log holds ... */
#define RAFT_SNAPSHOT_BYTES      (64u * 1024 * 1024) /* ... this many bytes of entries; */
#define RAFT_SNAPSHOT_MAX        8192 /* otherwise after this many (config.json may set a fixed number) */
#define RAFT_SNAPSHOT_TRAILING   128  /* entries kept in the log behind a snapshot */
#define RAFT_CONFIG_MAX          (64u * 1024) /* config.json */
#define SNAP_WAIT_MS             20   /* how long the loop may wait for the apply thread to snapshot */
#define SNAP_WAIT_EVERY_MS       1000 /* and how often it may wait */
#define RAFT_ID_DERIVED_BIT      (1ULL << 62) /* raft ids of nodes added at runtime */
#define RAFT_CHANGE_RETRY_MS     500          /* pause after a refused or failed configuration change */
#define REPAIR_FIRST_MS          3000         /* after a start, before the first attachment repair pass */
#define HALT_BOUNCE_MS           2000  /* leadership back this soon after a halted node handed it on: */
#define HALT_HOLD_MIN_MS         1000  /* ... every voter may be halted; hold it this long first, */
#define HALT_HOLD_MAX_MS         30000 /* ... doubling up to this, instead of passing it round and round */

/* ---- small helpers -------------------------------------------------------------- */

static const char *state_name(int state)
{
    switch (state) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_CANDIDATE:
        return "candidate";
    default:
        return "unavailable";
    }
}

/* Take the proposal in flight when it is the one hashing to hash (NULL:
 * whichever it is). Returns it, or NULL when none matches. */
static cc_proposal *take_inflight(cc_raft_node *r, const uint8_t *hash)
{
    cc_proposal *p = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->inflight && (!hash || memcmp(hash, r->inflight_hash, CC_HASH_BYTES) == 0)) {
        p = r->inflight;
        r->inflight = NULL;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
    return p;
}

static void finish(cc_proposal *p, cc_err err, const char *why)
{
    p->err = err;
    if (why) snprintf(p->eb.msg, sizeof p->eb.msg, "%s", why);
    p->done(p);
}

/* Stop applying for good; the node keeps serving reads. */
void cc_raft_halt(cc_raft_node *r, const char *fmt, ...)
{
    char why[sizeof r->halt_reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&r->mu);
    if (!r->halted) {
        r->halted = true;
        snprintf(r->halt_reason, sizeof r->halt_reason, "%s", why);
    }
    pthread_cond_broadcast(&r->cond); /* the apply thread drops a block it keeps */
    pthread_mutex_unlock(&r->mu);
    cc_node_log(CC_LOG_ERROR, "raft",
                "applying stopped: %s; the node serves reads but applies no more blocks", why);
}

/* A block this node could not commit for a fault of its own (its disk
 * failed or is full, the store's map cannot grow, no memory), not of the
 * block: the other nodes apply it. */
static bool own_fault(cc_err rc)
{
    return rc == CC_ERR_IO || rc == CC_ERR_STORE_FULL || rc == CC_ERR_NOMEM;
}

#define OWN_FAULT_HELP                                                                                       \
    "it is a fault of this node, not of the block: repair or free its disk (or raise --map-size-max), then " \
    "restart the node; it catches up from its peers"

static void count_refused(cc_raft_node *r)
{
    pthread_mutex_lock(&r->mu);
    r->blocks_refused++;
    pthread_mutex_unlock(&r->mu);
}

/* ---- membership: network/config as the applied state says ------------------------------ */

uint64_t cc_raft_id_of(const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES])
{
    int i = g ? cc_genesis_node_index(g, pk) : -1;
    if (i >= 0) return (uint64_t)i + 1;
    return RAFT_ID_DERIVED_BIT | (cc_get_u64(pk) & (RAFT_ID_DERIVED_BIT - 1));
}

/* Fill m from a node record {"id"?, "name", "api", "raft"}; false when a
 * field is missing. */
bool cc_raft_member_fill(member *m, const json_t *rec)
{
    const char *name = json_string_value(json_object_get(rec, "name"));
    const char *api = json_string_value(json_object_get(rec, "api"));
    const char *raft = json_string_value(json_object_get(rec, "raft"));
    if (!name || !api || !raft) return false;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->api, sizeof m->api, "%s", api);
    snprintf(m->raft, sizeof m->raft, "%s", raft);
    return true;
}

/* The state value at key, at this node's head, as JSON (caller decrefs); NULL when absent. */
json_t *cc_raft_state_json(cc_chain *c, const char *key)
{
    char *val = NULL;
    size_t len = 0;
    if (cc_chain_state_get(c, key, &val, &len) != CC_OK) return NULL;
    json_t *v = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    return v;
}

/* Read network/config and every node/<id> it lists into out (cap
 * entries). Returns the count; *sound is false when anything was missing. */
static size_t members_read(cc_raft_node *r, member *out, size_t cap, bool *sound)
{
    json_t *cfg = cc_raft_state_json(r->chain, "network/config");
    const json_t *nodes = json_object_get(cfg, "nodes"), *v;
    size_t i, count = 0;
    *sound = json_is_array(nodes);
    json_array_foreach(nodes, i, v)
    {
        const char *hex = json_string_value(v);
        char key[96];
        member m = {0};
        if (!hex || count == cap || cc_unhex(hex, m.pk, CC_PUBKEY_BYTES) != CC_OK) {
            *sound = false;
            continue;
        }
        snprintf(key, sizeof key, "node/%s", hex);
        json_t *rec = cc_raft_state_json(r->chain, key);
        if (!rec || !cc_raft_member_fill(&m, rec)) {
            *sound = false;
        } else {
            m.id = cc_raft_id_of(r->g, m.pk);
            out[count++] = m;
        }
        json_decref(rec);
    }
    json_decref(cfg);
    return count;
}

/* Re-read the node set after a block that changed it (apply thread, or
 * init before the threads run). */
void cc_raft_members_refresh(cc_raft_node *r)
{
    member *fresh = calloc(RAFT_MEMBERS_MAX, sizeof *fresh);
    bool sound = false, in = false;
    if (!fresh) return;
    size_t n = members_read(r, fresh, RAFT_MEMBERS_MAX, &sound);
    for (size_t i = 0; i < n; i++) in = in || fresh[i].id == r->self_id;
    uint64_t removed_at = 0;
    if (sound && !in) { /* when: this node's own record says */
        char key[96], hex[CC_HASH_HEX];
        snprintf(key, sizeof key, "node/%s", cc_hex(r->key->pk, CC_PUBKEY_BYTES, hex));
        json_t *rec = cc_raft_state_json(r->chain, key);
        json_int_t at = json_integer_value(json_object_get(rec, "removed_at"));
        removed_at = at > 0 ? (uint64_t)at : 0;
        json_decref(rec);
    }
    /* a node named at join or vouched for, since removed, is known no more */
    pthread_mutex_lock(&r->mu);
    size_t known_n = r->known_count;
    member *known = known_n ? malloc(known_n * sizeof *known) : NULL;
    if (known) memcpy(known, r->known, known_n * sizeof *known);
    pthread_mutex_unlock(&r->mu);
    bool gone[RAFT_MEMBERS_MAX] = {false};
    for (size_t i = 0; known && i < known_n; i++) gone[i] = cc_chain_node_removed(r->chain, known[i].pk);
    free(known);
    pthread_mutex_lock(&r->mu);
    if (r->known_count == known_n) { /* entries are only appended: unchanged meanwhile */
        size_t kept = 0;
        for (size_t i = 0; i < known_n; i++)
            if (!gone[i]) r->known[kept++] = r->known[i];
        r->known_count = kept;
    }
    memcpy(r->members, fresh, n * sizeof *fresh);
    r->member_count = n;
    r->members_known = sound && n > 0;
    bool was_removed = r->self_removed, was_told = r->removed;
    r->self_removed = sound && !in;
    r->removed = r->self_removed && removed_at > 0; /* not merely a node still joining */
    r->removed_at = removed_at;
    pthread_mutex_unlock(&r->mu);
    free(fresh);
    if (r->removed && !was_told)
        cc_node_log(CC_LOG_WARN, "raft",
                    "this node was removed from the network by governance (block %llu): it leaves the raft "
                    "configuration, refuses txs and serves reads",
                    (unsigned long long)removed_at);
    else if (r->self_removed && !was_removed && !r->joining)
        cc_node_log(CC_LOG_WARN, "raft",
                    "this node is not in network/config; it leaves the raft configuration and serves reads");
}

/* Seed the names and API addresses a peer reported (join). */
static void members_seed_known(cc_raft_node *r, const json_t *nodes)
{
    size_t i;
    const json_t *v;
    json_array_foreach(nodes, i, v)
    {
        const char *hex = json_string_value(json_object_get(v, "id"));
        member m = {0};
        if (r->known_count == RAFT_MEMBERS_MAX || !hex || cc_unhex(hex, m.pk, CC_PUBKEY_BYTES) != CC_OK ||
            !cc_raft_member_fill(&m, v))
            continue;
        m.id = cc_raft_id_of(r->g, m.pk);
        r->known[r->known_count++] = m;
    }
}

/* The node with raft id id (mu held): network/config first, then what a
 * peer said at join. NULL when unknown. */
const member *cc_raft_member_by_id_locked(const cc_raft_node *r, uint64_t id)
{
    for (size_t i = 0; i < r->member_count; i++)
        if (r->members[i].id == id) return &r->members[i];
    for (size_t i = 0; i < r->known_count; i++)
        if (r->known[i].id == id) return &r->known[i];
    return NULL;
}

/* "node4" for raft id id, or its number. out has MEMBER_NAME_MAX bytes. */
const char *cc_raft_member_name(cc_raft_node *r, uint64_t id, char *out)
{
    pthread_mutex_lock(&r->mu);
    const member *m = cc_raft_member_by_id_locked(r, id);
    if (m)
        snprintf(out, MEMBER_NAME_MAX, "%s", m->name);
    else
        snprintf(out, MEMBER_NAME_MAX, "raft id %llu", (unsigned long long)id);
    pthread_mutex_unlock(&r->mu);
    return out;
}

/* Did a committed block change the node set? */
bool cc_raft_touches_network(const cc_tx *txs, size_t n, const cc_result *results)
{
    for (size_t i = 0; i < n; i++)
        if (results[i].code == CC_OK && strncmp(txs[i].type, "network.", strlen("network.")) == 0)
            return true;
    return false;
}

/* ---- the apply thread ------------------------------------------------------------ */

/* Free a queue item and what it owns. */
static void item_free(apply_item *it)
{
    if (it->pre_block) {
        cc_block_free(it->pre_block);
        free(it->pre_block);
    }
    free(it->entry);
    free(it);
}

/* The voters of the configuration the loop last published (under r->mu). */
static size_t voters_locked(const cc_raft_node *r)
{
    size_t voters = 0;
    for (unsigned k = 0; k < r->conf_count; k++) voters += r->conf[k].role == RAFT_VOTER;
    return voters;
}

/* Stop when this build does not know the ruleset of the next block (the
 * network moved to it by governance): at start and after each block, so
 * that every node of the build stops at the same height, followers too
 * (a leader of the build would never make that block, so a follower would
 * wait for it forever). */
void cc_raft_ruleset_check(cc_raft_node *r)
{
    cc_errbuf eb = {""};
    if (cc_chain_next_ruleset_known(r->chain, &eb) == CC_ERR_VERSION) cc_raft_halt(r, "%s", eb.msg);
}

/* The clock the time rule reads (rule 6 of docs/CONSENSUS.md "The apply
 * path"): this node's, corrected by the clock check while that says it is
 * off (clock_check.h), so that a node whose own clock is wrong judges
 * blocks by the network's time (*correction gets what was added). A block
 * dated ahead before a majority's clocks were read (just after a start)
 * waits for the readings, CLOCK_WAIT_MS at most. */
static uint64_t time_rule_now(cc_raft_node *r, uint64_t block_ms, int64_t *correction)
{
    uint64_t give_up = cc_mono_ns() / 1000000u + CLOCK_WAIT_MS;
    *correction = 0;
    for (;;) {
        uint64_t now = cc_now_ms();
        if (!r->hooks.clock) return now;
        pthread_mutex_lock(&r->mu);
        size_t voters = voters_locked(r);
        bool stopping = r->stop_requested || r->apply_stop;
        pthread_mutex_unlock(&r->mu);
        cc_clock_verdict v = r->hooks.clock(r->hooks.ctx, voters);
        if (v.known) {
            *correction = cc_clock_correction(&v);
            return now + (uint64_t)*correction; /* wraps back for a clock ahead */
        }
        if (block_ms <= now + BLOCK_AHEAD_MAX_MS || stopping || cc_mono_ns() / 1000000u >= give_up)
            return now;
        cc_sleep_ms(CLOCK_WAIT_POLL_MS);
    }
}

/* Commit one entry (invariant 4 says which are skipped). pre, when not
 * NULL, is the entry's block as the pre-verifier decoded it (signatures
 * checked): it is used instead of decoding the entry again, and left
 * empty. */
void cc_raft_apply_entry(cc_raft_node *r, const uint8_t *e, size_t len, cc_block *pre, cc_result *results)
{
    const uint8_t *blk = NULL;
    size_t blk_len = 0;
    cc_reader atts = {NULL, 0};
    cc_header h;
    cc_head head;
    uint8_t hash[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], proposer[CC_HASH_HEX];
    cc_errbuf eb = {{0}};
    cc_block b;
    cc_err rc;

    if (cc_raft_entry_split(e, len, &blk, &blk_len, &atts, &eb) != CC_OK ||
        cc_header_decode(blk, CC_HEADER_BYTES, &h, &eb) != CC_OK) {
        cc_raft_halt(r, "a committed raft entry is not a block (%s)", eb.msg);
        return;
    }
    cc_header_hash(&h, hash);
    cc_hex(hash, CC_HASH_BYTES, hex);
    cc_hex(h.proposer, CC_PUBKEY_BYTES, proposer);
    cc_chain_head(r->chain, &head);

    const char *skip = NULL;
    if (h.height > head.height + 1) {
        /* Only after a whole-network restore: this node came back from an
         * older backup than the leader's (docs/CONSENSUS.md "Restoring a
         * whole network"). The blocks in between are committed history;
         * take them from the peers, up to the parent this block names. */
        snap_record parent = {.height = h.height - 1};
        memcpy(parent.hash, h.prev_hash, CC_HASH_BYTES);
        char what[64];
        snprintf(what, sizeof what, "the parent of block %llu", (unsigned long long)h.height);
        if (!cc_raft_catch_up_to(r, &parent, false, what, results)) return;
        cc_chain_head(r->chain, &head);
    }
    if (h.height <= head.height) {
        skip = ""; /* applied before a restart, or a stale proposal: quietly */
    } else if (memcmp(h.prev_hash, head.hash, CC_HASH_BYTES) != 0) {
        skip = "it does not extend the head (a stale proposal)";
    } else if (h.time_ms <= head.time_ms) {
        skip = "its time is not after the previous block's";
    }
    if (skip) {
        cc_proposal *p = take_inflight(r, hash);
        if (*skip) {
            count_refused(r);
            cc_node_log(CC_LOG_WARN, "raft", "block %llu (%.16s..., proposer %.16s...) refused: %s",
                        (unsigned long long)h.height, hex, proposer, skip);
        }
        if (p) finish(p, CC_ERR_CONFLICT, "the block was stale; every node skipped it");
        return;
    }
    int64_t correction = 0;
    uint64_t now = time_rule_now(r, h.time_ms, &correction);
    if (h.time_ms > now + BLOCK_AHEAD_MAX_MS) {
        count_refused(r);
        cc_raft_halt(
            r,
            "block %llu (%.16s..., proposer %.16s...) is dated %llu ms ahead of this node's clock%s (at "
            "most %d)",
            (unsigned long long)h.height, hex, proposer, (unsigned long long)(h.time_ms - now),
            correction ? " as corrected by the peers' clocks" : "", BLOCK_AHEAD_MAX_MS);
        cc_proposal *p = take_inflight(r, hash);
        if (p) finish(p, CC_ERR_VERIFY, "this node refused its own block's time");
        return;
    }

    cc_proposal *p = take_inflight(r, hash);
    if (p) {
        /* our own block: its txs were verified at admission here, and it
         * was built on this thread and kept, unless something was written
         * since (then it runs again) */
        b.h = h;
        b.txs = p->txs;
        b.tx_count = p->tx_count;
        p->eb.msg[0] = '\0';
        rc = cc_chain_keeps(r->chain, hash) ? cc_chain_commit_kept(r->chain, &p->eb) : CC_ERR_NOT_FOUND;
        if (rc != CC_OK) rc = cc_chain_apply(r->chain, &b, r->key, p->results, &p->eb);
        if (rc != CC_OK && own_fault(rc))
            cc_raft_halt(
                r,
                "this node cannot write its own block %llu (%.16s...) to its store: %s (%s); " OWN_FAULT_HELP,
                (unsigned long long)h.height, hex, p->eb.msg, cc_err_name(rc));
        else if (rc != CC_OK)
            cc_raft_halt(r, "own block %llu (%.16s...) did not commit: %s (%s)", (unsigned long long)h.height,
                         hex, p->eb.msg, cc_err_name(rc));
        else if (cc_raft_touches_network(p->txs, p->tx_count, p->results))
            cc_raft_members_refresh(r);
        if (rc == CC_OK) cc_raft_ruleset_check(r);
        p->header = h;
        p->err = rc;
        p->done(p);
        return;
    }

    memset(&b, 0, sizeof b);
    if (pre && memcmp(pre->h.prev_hash, h.prev_hash, CC_HASH_BYTES) == 0 && pre->h.height == h.height) {
        b = *pre; /* the very bytes of this entry, decoded once */
        memset(pre, 0, sizeof *pre);
        rc = CC_OK;
    } else {
        rc = cc_block_decode(blk, blk_len, &b, &eb);
    }
    if (rc == CC_OK) rc = cc_raft_entry_attach(&atts, &b, &eb);
    if (rc == CC_OK && r->hooks.verify) r->hooks.verify(r->hooks.ctx, b.txs, b.tx_count);
    if (rc != CC_OK) {
        cc_raft_halt(r, "block %llu (%.16s..., proposer %.16s...) does not decode: %s",
                     (unsigned long long)h.height, hex, proposer, eb.msg);
        cc_block_free(&b);
        return;
    }
    rc = cc_chain_apply(r->chain, &b, r->key, results, &eb);
    if (rc == CC_OK) {
        if (cc_raft_touches_network(b.txs, b.tx_count, results)) cc_raft_members_refresh(r);
        if (r->hooks.committed) r->hooks.committed(r->hooks.ctx, &b.h, b.txs, b.tx_count, results);
        cc_raft_ruleset_check(r);
    } else if (own_fault(rc)) {
        cc_raft_halt(r, "this node cannot write block %llu (%.16s...) to its store: %s (%s); " OWN_FAULT_HELP,
                     (unsigned long long)h.height, hex, eb.msg, cc_err_name(rc));
    } else {
        cc_raft_halt(r, "block %llu (%.16s..., proposer %.16s...) does not apply: %s (%s)",
                     (unsigned long long)h.height, hex, proposer, eb.msg, cc_err_name(rc));
    }
    cc_block_free(&b);
}

/* Join the pre-verifier (apply_stop is set). */
static void join_pre(cc_raft_node *r)
{
    if (!r->pre_started) return;
    pthread_join(r->pre_thread, NULL);
    r->pre_started = false;
}

/* ---- building on the apply thread ----------------------------------------------------
 * The leader's block is built once. The producer hands its proposal to the
 * apply thread (raft_propose), which runs the block on top of the head with
 * cc_chain_build_kept and keeps its LMDB write transaction open: the
 * producer proposes the signed header, and when raft has committed the
 * entry, cc_raft_apply_entry commits the kept transaction instead of running the
 * block again (LMDB ties a write transaction to the thread that began it,
 * hence the apply thread, which commits every block). While it is kept no
 * other thread can write the store, so it never outlives its proposal: it
 * is dropped as soon as the proposal is finished otherwise (raft refused
 * it, leadership moved, the block went stale) or this node halts, and any
 * other block the apply thread commits drops it first. */

static bool build_asked_locked(const cc_raft_node *r)
{
    return r->build_req && !r->build_done;
}

/* A kept block whose proposal is no longer in flight (or that will not be
 * applied here): drop it. */
static bool kept_stale_locked(const cc_raft_node *r)
{
    return r->kept_for && (r->kept_for != r->inflight || r->halted || r->catchup_abandoned);
}

static void drop_kept_locked(cc_raft_node *r)
{
    pthread_mutex_unlock(&r->mu);
    cc_chain_drop_kept(r->chain); /* nothing when none is kept (committed meanwhile) */
    pthread_mutex_lock(&r->mu);
    r->kept_for = NULL;
}

/* Build the asked proposal's block and keep it; tell the producer. */
static void build_locked(cc_raft_node *r)
{
    cc_proposal *p = r->build_req;
    bool halted = r->halted || r->catchup_abandoned;
    if (r->kept_for) drop_kept_locked(r);
    pthread_mutex_unlock(&r->mu);
    cc_err rc;
    p->eb.msg[0] = '\0';
    if (halted)
        rc = cc_errf(&p->eb, CC_ERR_VERIFY, "this node stopped applying blocks");
    else
        rc = cc_chain_build_kept(r->chain, p->txs, p->tx_count, p->time_ms, r->key, &p->header, p->results,
                                 &p->eb);
    if (rc == CC_ERR_VERSION) /* the network moved to a ruleset this build does not know */
        cc_raft_halt(r, "%s", p->eb.msg);
    if (rc == CC_ERR_CONFLICT) rc = CC_ERR_VERIFY; /* the chain halted (evidence): not a stale block */
    pthread_mutex_lock(&r->mu);
    r->kept_for = rc == CC_OK ? p : NULL;
    r->build_rc = rc;
    r->build_done = true;
    pthread_cond_broadcast(&r->cond);
}

static void *apply_main(void *arg)
{
    cc_raft_node *r = arg;
    cc_raft_ruleset_check(r);
    cc_result *results = calloc(CC_BLOCK_MAX_TXS, sizeof *results);
    if (!results) {
        cc_raft_halt(r, "no memory for the apply thread");
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->head && !build_asked_locked(r) && !kept_stale_locked(r) && !r->apply_stop) {
            r->apply_idle = true;
            pthread_cond_broadcast(&r->cond);
            pthread_cond_wait(&r->cond, &r->mu);
        }
        if (kept_stale_locked(r)) {
            drop_kept_locked(r);
            continue;
        }
        if (!r->head && build_asked_locked(r)) { /* committed entries first: the block builds on them */
            build_locked(r);
            continue;
        }
        if (!r->head) break; /* stopping, and everything committed is applied */
        apply_item *it = r->head;
        r->head = it->next;
        if (!r->head) r->tail = NULL;
        r->apply_idle = false;
        while (it->pre == PRE_BUSY) pthread_cond_wait(&r->cond, &r->mu); /* its signatures, nearly done */
        it->pre = PRE_DONE;
        bool halted = r->halted || r->catchup_abandoned;
        if (!it->entry && r->restore_pending && !halted) {
            pthread_mutex_unlock(&r->mu);
            cc_raft_restore_gate(r, it->ready_term, results);
            pthread_mutex_lock(&r->mu);
            halted = r->halted || r->catchup_abandoned;
        }
        if (!it->entry) {
            r->ready_term = it->ready_term; /* every entry before the barrier is applied */
            cc_node_log(CC_LOG_INFO, "raft",
                        "this node leads in term %llu and is caught up; it proposes blocks",
                        (unsigned long long)it->ready_term);
        }
        pthread_mutex_unlock(&r->mu);
        if (it->entry && !halted && it->restore)
            cc_raft_catch_up(r, it->entry, it->len, results);
        else if (it->entry && !halted)
            cc_raft_apply_entry(r, it->entry, it->len, it->pre_block, results);
        bool was_entry = it->entry != NULL;
        item_free(it);
        pthread_mutex_lock(&r->mu);
        if (was_entry && r->restore_pending) { /* the network has moved on from the restore */
            r->restore_pending = false;
            pthread_mutex_unlock(&r->mu);
            cc_raft_restore_mark(r, false);
            pthread_mutex_lock(&r->mu);
        }
        r->done_seq++;
        pthread_cond_broadcast(&r->cond);
    }
    drop_kept_locked(r);
    if (build_asked_locked(r)) { /* the producer waits on it: the node is stopping */
        r->build_rc = cc_errf(&r->build_req->eb, CC_ERR_UNREACHABLE, "the node is stopping");
        r->build_done = true;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
    free(results);
    return NULL;
}

/* ---- the pre-verifier ----------------------------------------------------------------
 * A follower applies blocks one at a time, and verifying their signatures
 * used to be part of that serial work. The pre-verifier takes the queued
 * entries ahead of the apply thread and verifies their txs' signatures
 * through hooks.verify (on the node's verify pool), which remembers the
 * txids that verified; when the apply thread reaches the block, the same
 * hook finds them remembered. So signature checks overlap the previous
 * block's execution and LMDB commit instead of adding to them. Nothing is
 * decided here: a tx that does not verify is simply not remembered, and
 * cc_chain_apply refuses it as before. Skipped: the node's own blocks
 * (their txs are in memory, verified at admission) and heights already
 * applied. The decoded block goes to the apply thread with the entry, so
 * the block is decoded (and its payloads parsed) once. */

static cc_block *preverify_entry(cc_raft_node *r, const uint8_t *e, size_t len)
{
    const uint8_t *blk = NULL;
    size_t blk_len = 0;
    cc_reader atts = {NULL, 0};
    cc_header h;
    cc_head head;
    cc_block b;
    cc_errbuf eb = {{0}};

    if (cc_raft_entry_split(e, len, &blk, &blk_len, &atts, &eb) != CC_OK ||
        cc_header_decode(blk, CC_HEADER_BYTES, &h, &eb) != CC_OK)
        return NULL; /* the apply thread says why */
    if (memcmp(h.proposer, r->key->pk, CC_PUBKEY_BYTES) == 0) return NULL;
    cc_chain_head(r->chain, &head);
    if (h.height <= head.height) return NULL;
    memset(&b, 0, sizeof b);
    if (cc_block_decode(blk, blk_len, &b, &eb) != CC_OK) return NULL; /* the apply thread says why */
    r->hooks.verify(r->hooks.ctx, b.txs, b.tx_count);
    cc_block *out = malloc(sizeof *out);
    if (out)
        *out = b;
    else
        cc_block_free(&b); /* the apply thread decodes it again */
    return out;
}

/* The next entry to pre-verify, among the first PRE_AHEAD_MAX queued: a
 * decoded block holds its parsed payloads (several times the entry's
 * bytes), so a node far behind must not decode its whole backlog ahead of
 * the apply thread; a few blocks ahead keep the apply thread fed. */
static apply_item *pre_next(cc_raft_node *r)
{
    unsigned seen = 0;
    for (apply_item *it = r->head; it && seen < PRE_AHEAD_MAX; it = it->next, seen++)
        if (it->pre == PRE_NONE && it->entry && !it->restore) return it;
    return NULL;
}

static void *pre_main(void *arg)
{
    cc_raft_node *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        apply_item *it;
        while (!(it = pre_next(r)) && !r->apply_stop) pthread_cond_wait(&r->cond, &r->mu);
        if (!it || r->apply_stop) break;
        it->pre = PRE_BUSY; /* the apply thread does not free it before PRE_DONE */
        bool halted = r->halted;
        cc_block *decoded = NULL;
        pthread_mutex_unlock(&r->mu);
        if (!halted) decoded = preverify_entry(r, it->entry, it->len);
        pthread_mutex_lock(&r->mu);
        it->pre_block = decoded;
        it->pre = PRE_DONE;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void queue_push(cc_raft_node *r, apply_item *it)
{
    pthread_mutex_lock(&r->mu);
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->pushed_seq++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

/* ---- the FSM (called by raft on the loop thread) ------------------------------------ */

/* A queue item holding a copy of buf (the apply thread frees both); NULL
 * when out of memory. */
static apply_item *item_copy(const struct raft_buffer *buf)
{
    apply_item *it = calloc(1, sizeof *it);
    uint8_t *copy = malloc(buf->len ? buf->len : 1);
    if (!it || !copy) {
        free(it);
        free(copy);
        return NULL;
    }
    memcpy(copy, buf->base, buf->len);
    it->entry = copy;
    it->len = buf->len;
    return it;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    cc_raft_node *r = fsm->data;
    r->snap_bytes += buf->len;
    if (!r->snapshot_fixed && r->snap_bytes >= RAFT_SNAPSHOT_BYTES)
        raft_set_snapshot_threshold(&r->raft, RAFT_SNAPSHOT_THRESHOLD); /* big entries: snapshot soon */
    apply_item *it = item_copy(buf);
    *result = NULL;
    if (!it) return RAFT_NOMEM;
    queue_push(r, it);
    return 0;
}

/* Snapshots. libraft 0.15's snapshot is synchronous (its asynchronous
 * variant needs an io->async_work that raft_uv 0.15 lacks) and is taken at
 * raft's last applied index N, right after fsm_apply queued the entries up
 * to N. "Applied" only means queued here: a record of the head while the
 * apply thread still works on entries <= N would miss blocks that raft then
 * drops from its log. So a snapshot is taken only when the apply thread has
 * finished every queued item (done_seq == pushed_seq; nothing after N is
 * queued yet, since this runs on the loop thread inside raft's apply): the
 * head is then exactly the chain the entries up to N produced. Otherwise
 * the loop waits for the apply thread, at most SNAP_WAIT_MS and at most
 * once per SNAP_WAIT_EVERY_MS (a missed heartbeat or two, far below the
 * election timeout), and else answers RAFT_BUSY: raft tries again after
 * the next entry. A halted node (or one that stopped mid catch-up) never
 * snapshots. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    cc_raft_node *r = fsm->data;
    uint64_t now = cc_now_ms();
    pthread_mutex_lock(&r->mu);
    if (r->done_seq != r->pushed_seq && now >= r->snap_wait_at) {
        const struct timespec until = cc_time_after_ms(CLOCK_REALTIME, SNAP_WAIT_MS);
        int wrc = 0;
        while (r->done_seq != r->pushed_seq && !r->halted && wrc != ETIMEDOUT)
            wrc = pthread_cond_timedwait(&r->cond, &r->mu, &until);
        if (r->done_seq != r->pushed_seq) r->snap_wait_at = now + SNAP_WAIT_EVERY_MS;
    }
    bool ok = r->done_seq == r->pushed_seq && !r->halted && !r->catchup_abandoned;
    pthread_mutex_unlock(&r->mu);
    if (!ok) return RAFT_BUSY;

    cc_head head;
    cc_chain_head(r->chain, &head);
    struct raft_buffer *b = raft_malloc(sizeof *b);
    if (!b) return RAFT_NOMEM;
    if (!(b->base = raft_malloc(SNAP_BYTES))) {
        raft_free(b);
        return RAFT_NOMEM;
    }
    b->len = SNAP_BYTES;
    cc_raft_snap_encode(&head, b->base);
    *bufs = b; /* raft frees both (fsm version 1) */
    *n_bufs = 1;
    r->snap_bytes = 0;
    if (!r->snapshot_fixed) raft_set_snapshot_threshold(&r->raft, RAFT_SNAPSHOT_MAX);
    char hex[CC_HASH_HEX];
    cc_node_log(CC_LOG_INFO, "raft", "raft snapshot at index %llu: height %llu (%.16s...)",
                (unsigned long long)r->raft.last_applied, (unsigned long long)head.height,
                cc_hex(head.hash, CC_HASH_BYTES, hex));
    return 0;
}

/* A snapshot to reach: installed from the leader (this node is far
 * behind) or reloaded at start. Queued behind the entries before it; the
 * apply thread catches up (cc_raft_catch_up). The FSM owns buf->base. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    cc_raft_node *r = fsm->data;
    apply_item *it = item_copy(buf);
    if (!it) return RAFT_NOMEM;
    it->restore = true;
    raft_free(buf->base);
    buf->base = NULL;
    queue_push(r, it);
    return 0;
}

/* ---- the loop thread ---------------------------------------------------------------- */

typedef struct barrier_req {
    struct raft_barrier req;
    cc_raft_node *r;
    uint64_t term;
} barrier_req;

typedef struct apply_req {
    struct raft_apply req;
    cc_raft_node *r;
} apply_req;

typedef struct notice_req {
    struct raft_barrier req;
    cc_raft_node *r;
} notice_req;

static void on_notice(struct raft_barrier *req, int status)
{
    notice_req *nr = (notice_req *)req;
    cc_raft_node *r = nr->r;
    (void)status; /* nothing waits on it: it only carried the commit index */
    r->notice_inflight = false;
    if (r->notice_wanted && !r->closing) uv_async_send(&r->wake); /* a block committed meanwhile */
    free(nr);
}

/* Tell the followers the new commit index at once: a raft barrier is an
 * entry, and appending one makes libraft send AppendEntries to every
 * follower now, with leader_commit. One at a time: a block that commits
 * while one is in flight gets its notice when that one is applied. */
static void send_commit_notice(cc_raft_node *r)
{
    if (r->notice_inflight) return; /* on_notice sends it */
    r->notice_wanted = false;
    if (r->closing || raft_state(&r->raft) != RAFT_LEADER) return;
    notice_req *nr = calloc(1, sizeof *nr);
    if (!nr) return;
    nr->r = r;
    if (raft_barrier(&r->raft, &nr->req, on_notice) == 0)
        r->notice_inflight = true;
    else
        free(nr);
}

static void on_barrier(struct raft_barrier *req, int status)
{
    barrier_req *br = (barrier_req *)req;
    cc_raft_node *r = br->r;
    if (status == 0 && cc_raft_rejoin_led(&r->rejoin)) cc_raft_rejoined(r); /* its term's first entry */
    if (status == 0) {
        apply_item *it = calloc(1, sizeof *it);
        if (it) {
            it->ready_term = br->term;
            queue_push(r, it);
        }
    } else if (r->barrier_term == br->term) {
        r->barrier_term = 0; /* try again on the next tick, if still leader */
    }
    free(br);
}

static void on_applied(struct raft_apply *req, int status, void *result)
{
    apply_req *ar = (apply_req *)req;
    cc_raft_node *r = ar->r;
    (void)result;
    if (status == 0) {
        /* committed: the followers learn it from the next AppendEntries,
         * which libraft 0.15 does not send on its own: with nothing queued
         * that is a heartbeat 20-40 ms away, and under load the next
         * block's, which the leader proposes only after applying this one
         * and building the next (under half of peak load on 2 cores, ~8 ms
         * of a follower's p50). So send one now, a barrier, appended from
         * on_wake (not from inside raft's apply loop, which runs this
         * callback): the followers apply the block while the leader does.
         * A barrier is a raft entry (an fsync on every node, and snapshots
         * come sooner); at most one is in flight (send_commit_notice). */
        r->notice_wanted = true;
        uv_async_send(&r->wake);
    } else {
        /* not committed (yet): a new leader may still commit it, and then
         * the apply thread commits it as anyone's block */
        cc_proposal *p = take_inflight(r, NULL);
        if (p) {
            char why[128];
            snprintf(why, sizeof why, "raft did not commit the block: %s",
                     r->out_of_raft ? "this node cannot write its raft state" : raft_strerror(status));
            finish(p, CC_ERR_UNREACHABLE, why);
        }
    }
    free(ar);
}

/* ---- configuration changes (loop thread; one in flight, as libraft allows) ---------------- */

typedef enum change_kind { CHANGE_ADD, CHANGE_PROMOTE, CHANGE_REMOVE } change_kind;

typedef struct change_req {
    struct raft_change req;
    cc_raft_node *r;
    change_kind kind;
    uint64_t id;
} change_req;

static const char *const change_done[] = {"joins the raft configuration (spare; promotion next)",
                                          "is a voter now", "left the raft configuration"};

static void on_change(struct raft_change *req, int status)
{
    change_req *cr = (change_req *)req;
    cc_raft_node *r = cr->r;
    char name[MEMBER_NAME_MAX];
    cc_raft_member_name(r, cr->id, name);
    r->change_inflight = false;
    if (status == 0) {
        cc_node_log(CC_LOG_INFO, "raft", "%s %s", name, change_done[cr->kind]);
        r->change_refused = 0;
    } else {
        cc_node_log(CC_LOG_WARN, "raft", "configuration change for %s failed (%s); retrying", name,
                    raft_strerror(status));
        if (!r->closing) r->change_retry_at = uv_now(&r->loop) + RAFT_CHANGE_RETRY_MS;
    }
    free(cr);
}

static void change_start(cc_raft_node *r, change_kind kind, const member *m, uint64_t id)
{
    change_req *cr = calloc(1, sizeof *cr);
    char name[MEMBER_NAME_MAX];
    int rv = RAFT_NOMEM;
    if (cr) {
        cr->r = r;
        cr->kind = kind;
        cr->id = id;
        rv = kind == CHANGE_ADD       ? raft_add(&r->raft, &cr->req, id, m->raft, on_change)
             : kind == CHANGE_PROMOTE ? raft_assign(&r->raft, &cr->req, id, RAFT_VOTER, on_change)
                                      : raft_remove(&r->raft, &cr->req, id, on_change);
    }
    if (rv == 0) {
        r->change_inflight = true;
        cc_node_log(CC_LOG_INFO, "raft", "network/config changed: %s %s",
                    kind == CHANGE_ADD       ? "adding"
                    : kind == CHANGE_PROMOTE ? "promoting to voter"
                                             : "removing",
                    cc_raft_member_name(r, id, name));
        return;
    }
    free(cr);
    r->change_retry_at = uv_now(&r->loop) + RAFT_CHANGE_RETRY_MS;
    if (r->change_refused != id)
        cc_node_log(CC_LOG_WARN, "raft", "raft refused a configuration change for %s (%s); retrying",
                    cc_raft_member_name(r, id, name), raft_strerror(rv));
    r->change_refused = id;
}

static void on_transferred(struct raft_transfer *req)
{
    cc_raft_node *r = req->data;
    r->transfer_pending = false; /* done, or timed out: the next tick tries again if still leader */
    free(req);
}

/* Hand leadership to another voter: to prefer when it is one, else trying
 * them in turn: one may be down, and raft_transfer gives up on it after an
 * election timeout. The voters are the nodes network/config lists (a
 * removed one until the leader's configuration change drops it; elected,
 * it hands on again). */
static void transfer_leadership(cc_raft_node *r, uint64_t term, raft_id prefer, const char *why)
{
    const struct raft_configuration *c = &r->raft.configuration;
    raft_id target = 0;
    if (r->transfer_pending || c->n == 0) return;
    for (unsigned k = 0; k < c->n && prefer != r->self_id && !target; k++)
        if (c->servers[k].id == prefer && c->servers[k].role == RAFT_VOTER) target = prefer;
    for (unsigned k = 0; k < c->n && !target; k++) {
        const struct raft_server *s = &c->servers[(r->transfer_next + k) % c->n];
        if (s->id != r->self_id && s->role == RAFT_VOTER) target = s->id;
    }
    r->transfer_next++;
    if (!target) return;
    struct raft_transfer *req = calloc(1, sizeof *req);
    if (!req) return;
    req->data = r;
    int rv = raft_transfer(&r->raft, req, target, on_transferred);
    if (rv != 0) {
        free(req);
        if (r->transfer_term != term)
            cc_node_log(CC_LOG_WARN, "raft", "cannot hand leadership on (%s): %s", why, raft_strerror(rv));
        r->transfer_term = term;
        return;
    }
    r->transfer_pending = true;
    if (r->transfer_term != term) {
        char name[MEMBER_NAME_MAX];
        cc_node_log(CC_LOG_WARN, "raft", "handing leadership to %s: %s", cc_raft_member_name(r, target, name),
                    why);
    }
    r->transfer_term = term;
}

/* This node leads in term but is halted: hand leadership on, so that the
 * others go on committing. When it comes back soon after the last hand-on
 * (HALT_BOUNCE_MS), the other voters are probably halted too (a network
 * that halted as a whole commits nothing whoever leads), so it holds it a
 * while first, doubling the while each time it comes back that soon:
 * otherwise leadership goes round at every election (test_backup: the
 * term climbed ~70 a second with three halted nodes). */
static void halted_leader_step(cc_raft_node *r, uint64_t term)
{
    /* A node that left raft (its raft log, term or vote could not be
     * written) sends nothing, so a handover could not reach anyone; libraft
     * steps it down once no majority has answered it for an election
     * timeout. */
    if (r->out_of_raft) return;
    uint64_t now = uv_now(&r->loop);
    if (r->halt_hold_term != term) { /* a new term led: decide how long to hold it */
        bool bounced = r->halt_handed_at && now - r->halt_handed_at < HALT_BOUNCE_MS;
        uint64_t hold = !bounced                             ? 0
                        : r->halt_hold_ms < HALT_HOLD_MIN_MS ? HALT_HOLD_MIN_MS
                                                             : r->halt_hold_ms * 2;
        r->halt_hold_ms = hold < HALT_HOLD_MAX_MS ? hold : HALT_HOLD_MAX_MS;
        r->halt_hold_term = term;
        r->halt_hold_until = now + r->halt_hold_ms;
        if (r->halt_hold_ms)
            cc_node_log(CC_LOG_WARN, "raft",
                        "leadership came back %llu ms after this halted node handed it on: the other nodes "
                        "may be halted too; holding it %llu ms before handing it on again",
                        (unsigned long long)(now - r->halt_handed_at), (unsigned long long)r->halt_hold_ms);
    }
    if (now < r->halt_hold_until) return;
    bool was_pending = r->transfer_pending;
    transfer_leadership(r, term, 0, "this node halted");
    if (!was_pending && r->transfer_pending) r->halt_handed_at = now;
}

/* Check this node's clock against its peers' (clock_check.h), as any
 * node, so that one elected finds the answer waiting; a leader whose
 * clock is off proposes nothing (ready_locked) and hands leadership to
 * the peer the check prefers. In its first CLOCK_WAIT_MS a node whose
 * check does not know yet proposes nothing either: elected at once after
 * a start, it would date blocks before it could tell its clock is off;
 * after that it goes on without (the peers' APIs may be unreachable). */
static void clock_step(cc_raft_node *r, int state, uint64_t term)
{
    const struct raft_configuration *c = &r->raft.configuration;
    size_t voters = 0;
    if (!r->hooks.clock) return;
    for (unsigned k = 0; k < c->n; k++) voters += c->servers[k].role == RAFT_VOTER;
    cc_clock_verdict v = r->hooks.clock(r->hooks.ctx, voters);
    pthread_mutex_lock(&r->mu);
    bool was_off = r->clock_off;
    r->clock_off = v.off;
    r->clock_unread = !v.known && voters > 1 && uv_now(&r->loop) < r->clock_wait_until;
    pthread_mutex_unlock(&r->mu);
    if (was_off != v.off)
        cc_node_log(
            v.off ? CC_LOG_ERROR : CC_LOG_INFO, "clock",
            v.off ? "this node's clock is %+lld ms off the middle of the network's clocks (at most %d): "
                    "it will not lead until its time source is fixed"
                  : "this node's clock is %+lld ms off the middle of the network's clocks (at most %d) "
                    "again: it may lead",
            (long long)v.skew_ms, CC_CLOCK_SKEW_MAX_MS);
    if (!v.off || state != RAFT_LEADER || r->out_of_raft) return; /* out of raft: libraft steps it down */

    uint8_t pk[CC_PUBKEY_BYTES];
    raft_id prefer = 0;
    if (v.prefer[0] && cc_unhex(v.prefer, pk, sizeof pk) == CC_OK) prefer = cc_raft_id_of(r->g, pk);
    bool was_pending = r->transfer_pending;
    transfer_leadership(r, term, prefer, "this node's clock is off the others'");
    if (!was_pending && r->transfer_pending) {
        pthread_mutex_lock(&r->mu);
        r->clock_handoffs++;
        pthread_mutex_unlock(&r->mu);
    }
}

/* The ready leader moves the raft configuration one step towards the node
 * set of network/config: add a missing node (as spare), promote it to
 * voter, remove a node the set no longer lists. */
static void membership_step(cc_raft_node *r, uint64_t term)
{
    const struct raft_configuration *c = &r->raft.configuration;
    pthread_mutex_lock(&r->mu);
    bool go = r->members_known && r->ready_term == term && !r->halted && !r->stop_requested;
    size_t n = go ? r->member_count : 0;
    memcpy(r->want, r->members, n * sizeof *r->want);
    pthread_mutex_unlock(&r->mu);
    if (!go || n == 0 || r->change_inflight || uv_now(&r->loop) < r->change_retry_at) return;

    for (size_t i = 0; i < n; i++) {
        const struct raft_server *s = NULL;
        for (unsigned k = 0; k < c->n && !s; k++)
            if (c->servers[k].id == r->want[i].id) s = &c->servers[k];
        if (!s || s->role != RAFT_VOTER) {
            change_start(r, s ? CHANGE_PROMOTE : CHANGE_ADD, &r->want[i], r->want[i].id);
            return;
        }
    }
    for (unsigned k = 0; k < c->n; k++) {
        bool wanted = false;
        for (size_t i = 0; i < n && !wanted; i++) wanted = c->servers[k].id == r->want[i].id;
        if (wanted) continue;
        if (c->servers[k].id == r->self_id)
            transfer_leadership(r, term, 0, "this node was removed from network/config");
        else
            change_start(r, CHANGE_REMOVE, NULL, c->servers[k].id);
        return;
    }
}

static void on_tick(uv_timer_t *t)
{
    cc_raft_node *r = t->data;
    if (r->closing) return;
    int state = raft_state(&r->raft);
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&r->raft, &leader, &address);
    uint64_t term = r->raft.current_term;

    const struct raft_configuration *c = &r->raft.configuration;

    pthread_mutex_lock(&r->mu);
    r->state = state;
    r->term = term;
    r->leader_id = leader;
    if (leader != 0) r->leader_seen_ms = cc_now_ms();
    r->conf_count = c->n < RAFT_MEMBERS_MAX ? c->n : RAFT_MEMBERS_MAX;
    for (unsigned k = 0; k < r->conf_count; k++)
        r->conf[k] = (conf_server){c->servers[k].id, c->servers[k].role};
    r->answers_corrected = r->match.clamped;
    r->votes_refused = r->rejoin.refused;
    r->rejoining = r->rejoin.rejoining;
    pthread_mutex_unlock(&r->mu);

    if (leader != 0 && leader != r->last_leader_id) {
        char name[MEMBER_NAME_MAX];
        cc_node_log(CC_LOG_INFO, "raft", "%s leads in term %llu", cc_raft_member_name(r, leader, name),
                    (unsigned long long)term);
    }
    r->last_leader_id = leader;

    if (state == RAFT_LEADER) membership_step(r, term);
    clock_step(r, state, term);

    /* a halted node proposes nothing: leading, it would stop the network */
    if (state == RAFT_LEADER) {
        pthread_mutex_lock(&r->mu);
        bool halted = r->halted;
        pthread_mutex_unlock(&r->mu);
        if (halted || cc_chain_halted(r->chain, NULL, 0)) halted_leader_step(r, term);
    }

    if (state == RAFT_LEADER && r->barrier_term != term) {
        barrier_req *br = calloc(1, sizeof *br);
        if (!br) return;
        br->r = r;
        br->term = term;
        if (raft_barrier(&r->raft, &br->req, on_barrier) == 0)
            r->barrier_term = term;
        else
            free(br);
    }
}

static void on_raft_closed(struct raft *raft)
{
    cc_raft_node *r = raft->data;
    raft_uv_close(&r->io);
    raft_uv_tcp_close(&r->transport);
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)&r->wake, NULL);
}

static void on_wake(uv_async_t *a)
{
    cc_raft_node *r = a->data;
    uint8_t *buf;
    size_t len;
    uint64_t term;
    bool stop;

    pthread_mutex_lock(&r->mu);
    buf = r->pending_buf;
    len = r->pending_len;
    term = r->pending_term;
    stop = r->stop_requested;
    r->pending_buf = NULL;
    pthread_mutex_unlock(&r->mu);

    if (buf) {
        int rv = RAFT_NOTLEADER;
        apply_req *ar = NULL;
        /* the block was built on the head of term `term`'s leadership */
        if (!r->closing && raft_state(&r->raft) == RAFT_LEADER && r->raft.current_term == term) {
            struct raft_buffer rb = {buf, len};
            rv = RAFT_NOMEM;
            if ((ar = calloc(1, sizeof *ar))) {
                ar->r = r;
                rv = raft_apply(&r->raft, &ar->req, &rb, 1, on_applied);
            }
        }
        if (rv != 0) {
            free(ar);
            raft_free(buf);
            cc_proposal *p = take_inflight(r, NULL);
            if (p) {
                char why[128];
                snprintf(why, sizeof why, "raft refused the block: %s", raft_strerror(rv));
                finish(p, CC_ERR_UNREACHABLE, why);
            }
        }
    }
    if (r->notice_wanted) send_commit_notice(r);
    if (stop && !r->closing) {
        r->closing = true;
        uv_timer_stop(&r->tick);
        raft_close(&r->raft, on_raft_closed);
    }
}

static void on_setup_raft_closed(struct raft *raft)
{
    cc_raft_node *r = raft->data;
    raft_uv_close(&r->io);
    raft_uv_tcp_close(&r->transport);
}

/* The voters of a first start into conf: the node set as the applied
 * state records it, or the genesis nodes when the state's set cannot be
 * read. Returns a libraft error code. */
static int bootstrap_voters(cc_raft_node *r, struct raft_configuration *conf)
{
    int rv = 0;
    pthread_mutex_lock(&r->mu);
    if (r->members_known) {
        for (size_t i = 0; i < r->member_count && rv == 0; i++)
            rv = raft_configuration_add(conf, r->members[i].id, r->members[i].raft, RAFT_VOTER);
    } else {
        for (size_t i = 0; i < r->g->node_count && rv == 0; i++)
            rv = raft_configuration_add(conf, (raft_id)i + 1, r->g->nodes[i].raft, RAFT_VOTER);
    }
    pthread_mutex_unlock(&r->mu);
    return rv;
}

/* Everything raft needs, on the loop thread before the loop runs. */
static cc_err loop_setup(cc_raft_node *r, cc_errbuf *eb)
{
    struct raft_configuration conf;
    int rv;

    if (uv_loop_init(&r->loop) != 0) return cc_errf(eb, CC_ERR_IO, "cannot start a libuv loop");
    if ((rv = raft_uv_tcp_init(&r->transport, &r->loop)) != 0) {
        cc_errf(eb, CC_ERR_IO, "raft TCP transport: %s", raft_strerror(rv));
        goto err_loop;
    }
    if (r->raft_bind[0] && (rv = raft_uv_tcp_set_bind_address(&r->transport, r->raft_bind)) != 0) {
        cc_errf(eb, CC_ERR_USAGE, "config.json \"raft_bind\" %s: %s", r->raft_bind, raft_strerror(rv));
        raft_uv_tcp_close(&r->transport);
        goto err_loop;
    }
    cc_raft_transport_wrap(r);
    if ((rv = raft_uv_init(&r->io, &r->loop, r->raft_dir, &r->transport)) != 0) {
        cc_errf(eb, CC_ERR_IO, "raft storage in %s: %s", r->raft_dir, r->io.errmsg);
        raft_uv_tcp_close(&r->transport);
        goto err_loop;
    }
    cc_raft_io_wrap(r);
    r->fsm.version = 1;
    r->fsm.data = r;
    r->fsm.apply = fsm_apply;
    r->fsm.snapshot = fsm_snapshot;
    r->fsm.restore = fsm_restore;
    if ((rv = raft_init(&r->raft, &r->io, &r->fsm, r->self_id, r->self_raft)) != 0) {
        cc_errf(eb, CC_ERR_IO, "raft: %s", raft_errmsg(&r->raft));
        raft_uv_close(&r->io);
        raft_uv_tcp_close(&r->transport);
        goto err_loop;
    }
    r->raft.data = r;
    raft_set_election_timeout(&r->raft, RAFT_ELECTION_MS);
    raft_set_heartbeat_timeout(&r->raft, RAFT_HEARTBEAT_MS);
    /* Pre-vote (Raft thesis 9.6): a node asks whether it could win before
     * it raises its term. A node cut off from the others (a partition, a cut
     * link) then stays in its term instead of climbing one per election
     * timeout, and when it comes back its answers no longer carry a higher
     * term that forces a healthy leader to step down (docs/CONSENSUS.md,
     * "A node cut off"). */
    raft_set_pre_vote(&r->raft, true);
    /* A follower that is taking a snapshot of its own when the leader's
     * InstallSnapshot arrives refuses it without an answer (libraft 0.15:
     * "already taking or installing snapshot"), and the leader waits this
     * long before it sends another, sending the follower nothing else
     * meanwhile. carechain's snapshots are a few hundred bytes (height,
     * block hash, state root; "Snapshots and catch-up" in CONSENSUS.md), so
     * a short wait costs nothing; libraft's default kept a follower behind
     * for the rest of a 15 s test. */
    raft_set_install_snapshot_timeout(&r->raft, RAFT_INSTALL_SNAPSHOT_MS);
    raft_set_snapshot_threshold(&r->raft, r->snapshot_threshold);
    raft_set_snapshot_trailing(&r->raft, r->snapshot_trailing);

    /* first start: every node of the chain's node set is a voter (the
     * genesis nodes on a new chain; after a restore from a backup, the set
     * the backup's chain records); later starts keep the configuration raft
     * stored (RAFT_CANTBOOTSTRAP). A node its chain does not list yet never
     * bootstraps: the leader adds it and sends it the log. */
    raft_configuration_init(&conf);
    rv = r->joining ? 0 : bootstrap_voters(r, &conf);
    if (rv == 0 && !r->joining) rv = raft_bootstrap(&r->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == 0 && !r->joining) { /* a first start: on a restored chain? */
        cc_head head;
        cc_chain_head(r->chain, &head);
        if (head.height > 0) cc_raft_restore_mark(r, true);
    }
    pthread_mutex_lock(&r->mu);
    r->restore_pending = cc_raft_restore_marked(r);
    pthread_mutex_unlock(&r->mu);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
        cc_errf(eb, CC_ERR_IO, "raft bootstrap: %s", raft_strerror(rv));
        goto err_raft;
    }
    if ((rv = raft_start(&r->raft)) != 0) {
        cc_errf(eb, CC_ERR_IO, "raft on %s: %s", r->raft_bind[0] ? r->raft_bind : r->self_raft,
                raft_errmsg(&r->raft));
        goto err_raft;
    }
    /* a node whose raft log holds nothing past the bootstrap entry (a
     * new network, this node's data lost, a node added at runtime) is
     * rejoining: until it holds everything committed before, it votes only
     * for candidates whose log does (raft_rejoin.h); the mark keeps that
     * across a restart until then. Nothing is received before the loop
     * runs. */
    bool empty = raft_last_index(&r->raft) <= 1;
    if (empty && !cc_raft_dir_has(r, CC_RAFT_REJOIN_MARK))
        cc_raft_mark(
            r, CC_RAFT_REJOIN_MARK,
            "raft started with an empty log; until this node holds everything committed before, it votes "
            "only for candidates whose log does (docs/CONSENSUS.md \"A node that lost its data\")\n",
            true);
    r->rejoin = (cc_raft_rejoin){.rejoining = empty || cc_raft_dir_has(r, CC_RAFT_REJOIN_MARK)};
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, RAFT_TICK_MS, RAFT_TICK_MS);
    r->clock_wait_until = uv_now(&r->loop) + CLOCK_WAIT_MS;
    uv_async_init(&r->loop, &r->wake, on_wake);
    r->wake.data = r;
    return CC_OK;

err_raft:
    raft_close(&r->raft, on_setup_raft_closed);
err_loop:
    uv_run(&r->loop, UV_RUN_DEFAULT); /* finish the closes */
    uv_loop_close(&r->loop);
    return CC_ERR_IO;
}

static void *loop_main(void *arg)
{
    cc_raft_node *r = arg;
    cc_errbuf eb = {{0}};
    cc_err rc = loop_setup(r, &eb);

    pthread_mutex_lock(&r->mu);
    r->setup_done = true;
    r->setup_err = rc;
    r->setup_eb = eb;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    if (rc != CC_OK) return NULL;

    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    return NULL;
}

/* ---- the vtable ---------------------------------------------------------------------- */

static bool ready_locked(const cc_raft_node *r)
{
    return r->state == RAFT_LEADER && r->ready_term == r->term && r->term != 0 && !r->halted &&
           !r->clock_off && !r->clock_unread && !r->stop_requested;
}

static cc_err raft_propose(cc_consensus *cs, cc_proposal *p)
{
    cc_raft_node *r = cs->impl;
    uint64_t term;
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_err rc;

    pthread_mutex_lock(&r->mu);
    bool ready = ready_locked(r) && !r->inflight;
    term = r->term;
    if (ready) { /* in flight from now on (no other proposal starts); built on the apply thread */
        r->inflight = p;
        memset(r->inflight_hash, 0, CC_HASH_BYTES);
        r->build_req = p;
        r->build_done = false;
        pthread_cond_broadcast(&r->cond);
        while (!r->build_done) pthread_cond_wait(&r->cond, &r->mu);
        r->build_req = NULL;
        rc = r->build_rc;
    }
    pthread_mutex_unlock(&r->mu);
    if (!ready) return cc_errf(&p->eb, CC_ERR_UNREACHABLE, "this node is not the leader (or not caught up)");

    if (rc == CC_OK && (rc = cc_raft_entry_encode(&p->header, p->txs, p->tx_count, &buf, &len)) != CC_OK)
        cc_errf(&p->eb, rc, "cannot encode the block");
    pthread_mutex_lock(&r->mu);
    if (rc != CC_OK || r->inflight != p) { /* not proposed (the apply thread drops what it kept) */
        if (r->inflight == p) r->inflight = NULL;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        if (buf) raft_free(buf);
        return rc; /* CC_OK: finished meanwhile (the node stops), and told so */
    }
    cc_header_hash(&p->header, r->inflight_hash);
    r->pending_buf = buf;
    r->pending_len = len;
    r->pending_term = term;
    pthread_mutex_unlock(&r->mu);
    uv_async_send(&r->wake);
    return CC_OK;
}

static bool raft_is_leader(cc_consensus *cs)
{
    cc_raft_node *r = cs->impl;
    pthread_mutex_lock(&r->mu);
    bool ready = ready_locked(r);
    pthread_mutex_unlock(&r->mu);
    return ready;
}

static uint64_t raft_removed_at(cc_consensus *cs)
{
    cc_raft_node *r = cs->impl;
    pthread_mutex_lock(&r->mu);
    uint64_t at = r->removed ? r->removed_at : 0;
    pthread_mutex_unlock(&r->mu);
    return at;
}

static bool raft_halted(cc_consensus *cs, char *reason, size_t cap)
{
    cc_raft_node *r = cs->impl;
    pthread_mutex_lock(&r->mu);
    bool halted = r->halted;
    if (halted && cap) snprintf(reason, cap, "%s", r->halt_reason);
    pthread_mutex_unlock(&r->mu);
    return halted;
}

static void raft_status(cc_consensus *cs, cc_consensus_status *out)
{
    cc_raft_node *r = cs->impl;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    out->raft_state = state_name(r->state);
    out->term = r->term;
    const member *m = r->leader_id ? cc_raft_member_by_id_locked(r, r->leader_id) : NULL;
    if (m) {
        snprintf(out->leader, sizeof out->leader, "%s", m->name);
        snprintf(out->leader_api, sizeof out->leader_api, "%s", m->api);
    }
    out->leader_self = r->leader_id == r->self_id;
    out->voters = (unsigned)voters_locked(r);
    out->servers = r->conf_count;
    out->ready = ready_locked(r);
    out->halted = r->halted;
    out->removed = r->removed;
    out->removed_at = r->removed_at;
    snprintf(out->halt_reason, sizeof out->halt_reason, "%s", r->halt_reason);
    out->blocks_refused = r->blocks_refused;
    out->blocks_fetched = r->blocks_fetched;
    out->attachments_fetched = r->attachments_fetched;
    out->repair_passes = r->repair_passes;
    out->attachments_missing = r->attachments_missing;
    out->block_requests = r->block_requests;
    out->raft_handshakes_failed = r->auth_failed;
    out->raft_answers_corrected = r->answers_corrected;
    out->raft_votes_refused = r->votes_refused;
    out->raft_rejoining = r->rejoining;
    out->clock_handoffs = r->clock_handoffs;
    out->restore_waiting_count = r->restore_waiting_count;
    memcpy(out->restore_waiting_names, r->restore_waiting_names, sizeof out->restore_waiting_names);
    pthread_mutex_unlock(&r->mu);
    out->raft_frames_refused = atomic_load(&r->links.frames_refused);
    /* the chain itself halts on recorded evidence (a store read: not under
     * r->mu, which the apply thread takes while it keeps a write txn) */
    if (!out->halted) out->halted = cc_chain_halted(r->chain, out->halt_reason, sizeof out->halt_reason);
}

static const char *raft_role_of(cc_consensus *cs, const uint8_t pk[CC_PUBKEY_BYTES], uint64_t *raft_id)
{
    cc_raft_node *r = cs->impl;
    uint64_t id = cc_raft_id_of(r->g, pk);
    const char *role = NULL;
    if (raft_id) *raft_id = id;
    pthread_mutex_lock(&r->mu);
    for (unsigned k = 0; k < r->conf_count && !role; k++) {
        if (r->conf[k].id != id) continue;
        role = r->conf[k].role == RAFT_VOTER     ? "voter"
               : r->conf[k].role == RAFT_STANDBY ? "standby"
                                                 : "spare";
    }
    pthread_mutex_unlock(&r->mu);
    return role;
}

static void raft_leader_name(cc_consensus *cs, char *out, size_t n)
{
    cc_consensus_status st;
    raft_status(cs, &st);
    snprintf(out, n, "%s", st.leader);
}

static void raft_stop(cc_consensus *cs)
{
    cc_raft_node *r = cs->impl;
    if (!r || !r->loop_started) return;

    /* the block in flight may finish (bounded) */
    pthread_mutex_lock(&r->mu);
    for (unsigned waited = 0; r->inflight && waited < RAFT_STOP_INFLIGHT_MS; waited += RAFT_STOP_POLL_MS) {
        pthread_mutex_unlock(&r->mu);
        struct timespec ts = {0, RAFT_STOP_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&r->mu);
    }
    r->stop_requested = true;
    pthread_mutex_unlock(&r->mu);
    uv_async_send(&r->wake);
    pthread_join(r->loop_thread, NULL);
    r->loop_started = false;

    /* what raft committed is applied; then the apply thread ends */
    pthread_mutex_lock(&r->mu);
    r->apply_stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->apply_thread, NULL);
    join_pre(r);
    r->apply_started = false;
    if (r->repair_started) pthread_join(r->repair_thread, NULL); /* it saw stop_requested */
    r->repair_started = false;

    cc_proposal *p = take_inflight(r, NULL);
    if (p) finish(p, CC_ERR_UNREACHABLE, "the node stopped before the block committed");
    pthread_mutex_lock(&r->mu);
    if (r->pending_buf) raft_free(r->pending_buf);
    r->pending_buf = NULL;
    pthread_mutex_unlock(&r->mu);
}

static void raft_close_impl(cc_consensus *cs)
{
    cc_raft_node *r = cs->impl;
    if (!r) return;
    raft_stop(cs);
    if (r->apply_started) {
        pthread_mutex_lock(&r->mu);
        r->apply_stop = true;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->apply_thread, NULL);
        join_pre(r);
    }
    while (r->head) {
        apply_item *it = r->head;
        r->head = it->next;
        item_free(it);
    }
    free(r->late);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
    cs->impl = NULL;
}

/* The raft settings of config.json, all optional: "raft_snapshot_threshold"
 * and "raft_snapshot_trailing" (positive integers; tests lower them to
 * snapshot often), "raft_bind" (host:port to listen on when it is not the
 * announced raft address, e.g. 0.0.0.0:7900 behind NAT). */
static cc_err read_raft_config(cc_raft_node *r, const char *node_dir, cc_errbuf *eb)
{
    char path[PATH_MAX + 32];
    uint8_t *buf = NULL;
    size_t len = 0;
    r->snapshot_threshold = RAFT_SNAPSHOT_MAX;
    r->snapshot_fixed = false;
    r->snapshot_trailing = RAFT_SNAPSHOT_TRAILING;
    r->raft_bind[0] = '\0';
    snprintf(path, sizeof path, "%s/config.json", node_dir);
    if (access(path, F_OK) != 0) return CC_OK;
    cc_err rc = cc_file_read(path, RAFT_CONFIG_MAX, &buf, &len, eb);
    if (rc != CC_OK) return rc;
    json_t *doc = cc_json_parse(buf, len, NULL);
    free(buf);
    static const char *const keys[] = {"raft_snapshot_threshold", "raft_snapshot_trailing"};
    unsigned *vals[] = {&r->snapshot_threshold, &r->snapshot_trailing};
    for (size_t k = 0; k < 2 && rc == CC_OK; k++) {
        const json_t *v = json_object_get(doc, keys[k]);
        if (!v) continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT_MAX)
            rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: \"%s\" must be a positive integer", path, keys[k]);
        else
            *vals[k] = (unsigned)json_integer_value(v);
    }
    r->snapshot_fixed = json_object_get(doc, keys[0]) != NULL;
    const json_t *bind = json_object_get(doc, "raft_bind");
    if (rc == CC_OK && bind) {
        const char *b = json_string_value(bind);
        if (!b || !cc_raft_addr_ok(b) || strlen(b) >= sizeof r->raft_bind)
            rc = cc_errf(eb, CC_ERR_MALFORMED,
                         "%s: \"raft_bind\" must be an IPv4 address and port, a.b.c.d:PORT (libraft "
                         "binds IPv4 addresses only)",
                         path);
        else
            snprintf(r->raft_bind, sizeof r->raft_bind, "%s", b);
    }
    const json_t *without = json_object_get(doc, "restore_without"), *v;
    size_t k;
    if (rc == CC_OK && without && (!json_is_array(without) || json_array_size(without) > RESTORE_WITHOUT_MAX))
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s: \"restore_without\" must be a list of at most %d node names",
                     path, RESTORE_WITHOUT_MAX);
    json_array_foreach(without, k, v)
    {
        const char *name = json_string_value(v);
        if (rc != CC_OK) break;
        if (!name || !*name || strlen(name) >= MEMBER_NAME_MAX)
            rc = cc_errf(eb, CC_ERR_MALFORMED,
                         "%s: \"restore_without\" lists something that is not a node name", path);
        else
            snprintf(r->restore_without[r->restore_without_count++], MEMBER_NAME_MAX, "%s", name);
    }
    json_decref(doc);
    return rc;
}

cc_err cc_consensus_raft_init(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *node_dir,
                              const cc_consensus_hooks *hooks, cc_errbuf *eb)
{
    return cc_consensus_raft_init_join(cs, chain, key, node_dir, hooks, NULL, eb);
}

cc_err cc_consensus_raft_init_join(cc_consensus *cs, cc_chain *chain, const cc_key *key, const char *node_dir,
                                   const cc_consensus_hooks *hooks, const cc_raft_join *join, cc_errbuf *eb)
{
    const cc_genesis *g = cc_chain_genesis(chain);
    int self = cc_genesis_node_index(g, key->pk);
    cc_err rc;

    if (self < 0 && (!join || !join->raft || !*join->raft))
        return cc_errf(eb, CC_ERR_USAGE, "this node's key is not a node of the genesis");
    cc_raft_node *r = calloc(1, sizeof *r);
    if (!r) return cc_errf(eb, CC_ERR_NOMEM, "no memory for raft consensus");
    r->chain = chain;
    r->key = key;
    r->g = g;
    r->self_id = cc_raft_id_of(g, key->pk);
    snprintf(r->self_raft, sizeof r->self_raft, "%s",
             self >= 0 ? g->nodes[self].raft
             : join    ? join->raft
                       : "");
    if (hooks) r->hooks = *hooks;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->joining = self < 0; /* until the state says (below) */
    if (join && join->nodes) members_seed_known(r, join->nodes);
    cc_raft_members_refresh(r);
    /* joining: the chain this node holds does not list it (yet), so raft
     * must not start with it as a voter. Read from the state, not the
     * genesis: a node added by governance and restored from a backup is a
     * node of its chain, and a genesis node removed by governance is not. */
    pthread_mutex_lock(&r->mu);
    r->joining = r->members_known ? r->self_removed : self < 0;
    pthread_mutex_unlock(&r->mu);
    if ((size_t)snprintf(r->raft_dir, sizeof r->raft_dir, "%s/raft", node_dir) >= sizeof r->raft_dir) {
        rc = cc_errf(eb, CC_ERR_USAGE, "node directory path is too long");
        goto err;
    }
    if ((rc = cc_mkdirs(r->raft_dir, eb)) != CC_OK) goto err;
    if ((rc = read_raft_config(r, node_dir, eb)) != CC_OK) goto err;
    if (!r->raft_bind[0] && !cc_raft_addr_ok(r->self_raft)) {
        rc = cc_errf(eb, CC_ERR_USAGE,
                     "this node's raft address %s is not an IPv4 address and port (a.b.c.d:PORT): libraft "
                     "binds and dials IPv4 addresses only",
                     r->self_raft);
        goto err;
    }

    cs->mode = "raft";
    cs->impl = r;
    cs->propose = raft_propose;
    cs->is_leader = raft_is_leader;
    cs->leader = raft_leader_name;
    cs->status = raft_status;
    cs->removed_at = raft_removed_at;
    cs->halted = raft_halted;
    cs->stop = raft_stop;
    cs->close = raft_close_impl;
    cs->raft_role = raft_role_of;

    if (pthread_create(&r->apply_thread, NULL, apply_main, r) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot start the raft apply thread");
        goto err;
    }
    r->apply_started = true;
    /* optional: without it the apply thread verifies everything itself */
    if (r->hooks.verify) r->pre_started = pthread_create(&r->pre_thread, NULL, pre_main, r) == 0;
    if (pthread_create(&r->loop_thread, NULL, loop_main, r) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot start the raft loop thread");
        goto err_after_apply;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->setup_done) pthread_cond_wait(&r->cond, &r->mu);
    rc = r->setup_err;
    if (rc != CC_OK) cc_errf(eb, rc, "%s", r->setup_eb.msg);
    pthread_mutex_unlock(&r->mu);
    if (rc != CC_OK) {
        pthread_join(r->loop_thread, NULL);
        goto err_after_apply;
    }
    r->loop_started = true;
    pthread_mutex_lock(&r->mu);
    cc_raft_repair_soon_locked(r, REPAIR_FIRST_MS);
    r->leader_seen_ms = cc_now_ms(); /* a start gives raft LONELY_MS to find a leader */
    pthread_mutex_unlock(&r->mu);
    /* optional: without it, attachments missed by a catch-up stay missing */
    r->repair_started = pthread_create(&r->repair_thread, NULL, cc_raft_repair_main, r) == 0;
    char listen[MEMBER_ADDR_MAX + 32] = "";
    if (r->raft_bind[0]) snprintf(listen, sizeof listen, " (listening on %s)", r->raft_bind);
    if (r->removed)
        cc_node_log(CC_LOG_INFO, "raft", "raft id %llu on %s%s: removed from the network, state in %s",
                    (unsigned long long)r->self_id, r->self_raft, listen, r->raft_dir);
    else if (r->joining)
        cc_node_log(
            CC_LOG_INFO, "raft",
            "raft id %llu on %s%s, joining (its chain does not list it yet): waiting for the leader to add "
            "this node; state in %s",
            (unsigned long long)r->self_id, r->self_raft, listen, r->raft_dir);
    else
        cc_node_log(CC_LOG_INFO, "raft",
                    "raft id %llu on %s%s, %zu nodes in the chain's node set, state in %s",
                    (unsigned long long)r->self_id, r->self_raft, listen,
                    r->members_known ? r->member_count : g->node_count, r->raft_dir);
    return CC_OK;

err_after_apply:
    pthread_mutex_lock(&r->mu);
    r->apply_stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->apply_thread, NULL);
    join_pre(r);
err:
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
    free(r);
    memset(cs, 0, sizeof *cs);
    return rc;
}
