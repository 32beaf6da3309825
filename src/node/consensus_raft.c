/*
 * node/consensus_raft.c — consensus for a network of several nodes over
 * canonical raft (libraft 0.15, its libuv backend, TCP transport). The
 * committed raft entries are blocks; only the leader proposes them, and
 * every node (the leader too) commits each one with cc_chain_apply in log
 * order. docs/CONSENSUS.md explains the design; consensus.h the protocol.
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
 *      rule, a block time over 2 s ahead of this node's clock, halts this
 *      node instead of skipping, so it never diverges silently. (A block
 *      past the head + 1 exists only after a restore: invariant 9.)
 *   5. A proposal completes exactly once: whoever takes it out of
 *      `inflight` under the lock calls done().
 *   6. A halted node applies nothing more and keeps serving reads.
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
 *      the loop thread (catch_up).
 *   9. A whole-network restore: raft bootstraps from the node set the
 *      restored chain records; the first leader, before it is ready, takes
 *      the blocks of the furthest node (restore_gate); a node behind the
 *      first block that follows fetches the blocks in between (apply_entry).
 *      Both happen only on chains restored under an empty raft directory:
 *      otherwise no node is ever ahead of a ready leader, and no committed
 *      block leaves a gap.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include <curl/curl.h>
#include <sodium.h>

#include "carechain/os.h"
#include "carechain/records.h"
#include "core/codec.h"
#include "node/consensus.h"
#include "node/log.h"
#include "node/peer_answer.h"
#include "node/raft_auth.h"
#include "node/raft_entry.h"
#include "node/raft_link.h"
#include "node/raft_match.h"

#define RAFT_TICK_MS            20  /* how often the loop publishes its state */
#define RAFT_ELECTION_MS        600 /* libraft randomises it to [1x, 2x) */
#define RAFT_HEARTBEAT_MS       20
#define RAFT_STOP_INFLIGHT_MS   5000 /* at stop, how long the block in flight may take */
#define RAFT_STOP_POLL_MS       10
#define BLOCK_AHEAD_MAX_MS      2000 /* refuse a block this far ahead of the local clock */
#define RAFT_SNAPSHOT_THRESHOLD 512  /* raft entries between two snapshots once the log holds ... */
#define RAFT_SNAPSHOT_BYTES     (64u * 1024 * 1024) /* ... this many bytes of entries; */
#define RAFT_SNAPSHOT_MAX       8192 /* otherwise after this many (config.json may set a fixed number) */
#define RAFT_SNAPSHOT_TRAILING  128  /* entries kept in the log behind a snapshot */
#define RAFT_CONFIG_MAX         (64u * 1024) /* config.json */
#define SNAP_VERSION            1
#define SNAP_BYTES              (8 + 8 + CC_HASH_BYTES + CC_HASH_BYTES) /* a multiple of 8, see CC_RAFT_ENTRY_ALIGN */
#define SNAP_WAIT_MS            20   /* how long the loop may wait for the apply thread to snapshot */
#define SNAP_WAIT_EVERY_MS      1000 /* and how often it may wait */
#define CATCHUP_CONNECT_MS      1000L
#define CATCHUP_TIMEOUT_MS      10000L
#define CATCHUP_RETRY_MS        500   /* pause after every peer failed to give a block */
#define CATCHUP_GIVE_UP_MS      60000 /* then halt: no peer gave a block that applies */
#define CATCHUP_URL_MAX         512
#define CATCHUP_RANGE_BLOCKS    64           /* blocks asked of a peer in one request */
#define RAFT_MEMBERS_MAX        128          /* nodes of network/config this node tracks */
#define RAFT_ID_DERIVED_BIT     (1ULL << 62) /* raft ids of nodes added at runtime */
#define RAFT_CHANGE_RETRY_MS    500          /* pause after a refused or failed configuration change */
#define MEMBER_NAME_MAX         64
#define MEMBER_ADDR_MAX         128
#define ATT_RECORD_MAX          72   /* a record id (32 hex) with room to spare */
#define REPAIR_FIRST_MS         3000 /* after a start, before the first attachment repair pass */
#define REPAIR_FETCH_AT         64   /* missing attachments found before they are fetched */
#define REPAIR_SCAN_CHUNK       256  /* rec/ records read in one snapshot */
#define REPAIR_PAUSE_MS         10   /* between two chunks: the scan takes a small part of a core */
#define LONELY_MS               5000 /* no leader heard this long: ask the peers whether this node was removed */
#define LONELY_RECHECK_MS       5000 /* and ask again after this long, while no leader is heard */
#define PROBE_TIMEOUT_MS        2000L
#define PROBE_ANSWER_MAX        (64u * 1024)
#define PROBE_BLOCK_MAX         (4u * 1024 * 1024) /* GET /v1/blocks/{h} of a 2,000-tx block */
#define PROBE_PROOF_MAX         (4u * 1024 * 1024) /* a proof with its membership steps */
#define PROBE_UNPROVEN_LOG_MS   60000              /* an unproven removal is logged at most this often */
#define HALT_BOUNCE_MS          2000  /* leadership back this soon after a halted node handed it on: */
#define HALT_HOLD_MIN_MS        1000  /* ... every voter may be halted; hold it this long first, */
#define HALT_HOLD_MAX_MS        30000 /* ... doubling up to this, instead of passing it round and round */
#define RESTORE_RETRY_MS        500   /* after a restore: between two rounds of asking the nodes for heads */
#define RESTORE_LOG_MS          60000 /* ... and how often the nodes still awaited are logged */
#define RESTORE_WITHOUT_MAX     16    /* names config.json "restore_without" may list */
#define RESTORE_MARK            "restore-pending" /* in raft/: restore_pending survives a restart */

/* One item of the apply queue. */
typedef struct apply_item {
    struct apply_item *next;
    uint64_t ready_term; /* a marker (entry NULL): the leader is ready in this term */
    uint8_t *entry;      /* a committed command entry, or a snapshot record (owned) */
    size_t len;
    bool restore;        /* entry is a snapshot record to catch up to */
    int pre;             /* PRE_*: the pre-verifier's progress on it (under mu) */
    cc_block *pre_block; /* entry's block as the pre-verifier decoded and checked it, or NULL (owned) */
} apply_item;

enum { PRE_NONE, PRE_BUSY, PRE_DONE };
#define PRE_AHEAD_MAX 4 /* queued entries the pre-verifier may decode ahead of the apply thread */

/* An attachment catch-up could not fetch yet (apply thread only). */
typedef struct late_att {
    uint8_t hash[CC_HASH_BYTES];
    uint32_t len;
    uint64_t height;
    char record[ATT_RECORD_MAX]; /* the record it belongs to, "" when none */
} late_att;

/* A node of network/config, as the applied state (or a peer) describes it. */
typedef struct member {
    uint64_t id; /* raft id (cc_raft_id_of) */
    uint8_t pk[CC_PUBKEY_BYTES];
    char name[MEMBER_NAME_MAX];
    char api[MEMBER_ADDR_MAX];
    char raft[MEMBER_ADDR_MAX];
} member;

/* One server of the raft configuration, as the loop last saw it. */
typedef struct conf_server {
    uint64_t id;
    int role;
} conf_server;

typedef struct rr {
    cc_chain *chain;
    const cc_key *key;
    const cc_genesis *g;
    cc_consensus_hooks hooks;
    uint64_t self_id;                /* raft id (cc_raft_id_of) */
    char self_raft[MEMBER_ADDR_MAX]; /* raft address, announced (and bound, unless raft_bind) */
    bool joining;                    /* its chain does not list it: raft is not bootstrapped */
    char raft_dir[PATH_MAX];
    unsigned snapshot_threshold;     /* raft entries between two snapshots */
    bool snapshot_fixed;             /* config.json set the threshold: no adapting */
    unsigned snapshot_trailing;      /* entries kept behind one */
    char raft_bind[MEMBER_ADDR_MAX]; /* config.json "raft_bind": listen here, not on self_raft ("": there) */

    /* loop thread only */
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    struct raft_uv_transport transport;
    struct raft_io io;
    /* raft_uv's own start and send, wrapped to correct libraft's answers
     * to AppendEntries (raft_match.h) */
    int (*io_start)(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv);
    int (*io_send)(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                   raft_io_send_cb cb);
    raft_io_recv_cb raft_recv; /* libraft's receive callback */
    cc_raft_match match;
    struct raft_fsm fsm;
    struct raft raft;
    uint64_t barrier_term;   /* the term whose barrier was issued */
    uint64_t last_leader_id; /* for the "new leader" log line */
    bool closing;
    bool change_inflight;     /* a raft_add/assign/remove is pending */
    uint64_t change_retry_at; /* uv_now before which no change starts */
    uint64_t change_refused;  /* the raft id last logged as refused */
    uint64_t transfer_term;   /* the term in which handing leadership on was logged */
    uint64_t halt_handed_at;  /* uv_now when this halted node last handed leadership on (0: never) */
    uint64_t halt_hold_ms;    /* how long it holds leadership before handing it on again */
    uint64_t halt_hold_until; /* uv_now before which it holds it (in halt_hold_term) */
    uint64_t halt_hold_term;
    bool transfer_pending;         /* a raft_transfer is in flight */
    unsigned transfer_next;        /* round robin over the candidate voters */
    member want[RAFT_MEMBERS_MAX]; /* scratch: the node set to reach */
    bool notice_wanted;            /* a block of ours committed: tell the followers now */
    bool notice_inflight;          /* the commit-notice barrier not yet applied */
    /* the TCP transport's own listen/connect, wrapped to turn Nagle off */
    int (*tcp_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
    int (*tcp_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                       const char *address, raft_uv_connect_cb cb);
    raft_uv_accept_cb tcp_accepted; /* raft_uv's accept callback */
    void (*tcp_close)(struct raft_uv_transport *t, raft_uv_transport_close_cb cb);
    struct auth_conn *auth_pending; /* connections still proving who they are */
    cc_raft_links links;            /* connections past that: encrypted (raft_link.h) */
    bool auth_stopped;              /* the transport is closing: hand nothing more on */
    uint64_t auth_logged_ms;        /* when a refused connection was last logged */
    uint64_t auth_failed;           /* exchanges that failed, not counting this node stopping (under mu) */

    pthread_t loop_thread, apply_thread, pre_thread;
    bool loop_started, apply_started, pre_started;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* start-up result, apply queue, inflight changes */
    /* start-up handshake */
    bool setup_done;
    cc_err setup_err;
    cc_errbuf setup_eb;
    /* published by the loop */
    int state;
    uint64_t term;
    uint64_t leader_id; /* 0 = unknown */
    uint64_t ready_term;
    uint64_t answers_corrected; /* match.clamped (for /metrics) */
    /* hand-over to the loop */
    uint8_t *pending_buf; /* raft_malloc'd entry to raft_apply */
    size_t pending_len;
    uint64_t pending_term;
    bool stop_requested;
    /* the proposal in flight */
    cc_proposal *inflight;
    uint8_t inflight_hash[CC_HASH_BYTES]; /* zero while its block is being built */
    /* building it (see "Building on the apply thread") */
    cc_proposal *build_req; /* the producer asks the apply thread to build this one */
    bool build_done;
    cc_err build_rc;
    cc_proposal *kept_for; /* apply thread: the proposal whose block the chain keeps, built */
    /* the apply queue */
    apply_item *head, *tail;
    bool apply_stop;
    bool apply_idle;
    uint64_t pushed_seq;               /* items ever queued */
    uint64_t done_seq;                 /* items the apply thread finished (applied, skipped or refused) */
    uint64_t snap_wait_at;             /* loop: no waiting for a snapshot before this cc_now_ms */
    uint64_t snap_bytes;               /* loop: entry bytes applied since the last snapshot */
    bool catchup_abandoned;            /* stopping in the middle of a catch-up: apply nothing more */
    uint64_t blocks_fetched;           /* blocks fetched from peers (catch_up_to) */
    uint64_t attachments_fetched;      /* their attachment bytes fetched from peers */
    uint64_t repair_passes;            /* repair thread: completed passes */
    uint64_t attachments_missing;      /* repair thread: missing after the last completed pass */
    uint64_t block_requests;           /* requests that brought those blocks */
    char catchup_api[MEMBER_ADDR_MAX]; /* apply thread: the peer that gave blocks last */
    late_att *late;                    /* apply thread: attachments no peer gave yet */
    size_t late_count, late_cap;
    /* the attachment repair (repair_main) */
    pthread_t repair_thread;
    bool repair_started;
    bool repair_due;      /* a pass is wanted, from repair_at on */
    bool catching_up;     /* the apply thread is in catch_up (which fetches attachments itself) */
    bool restore_pending; /* raft started afresh on a chain past genesis, and no entry has been
                           * applied since: a leader asks every node for its head before proposing
                           * (restore_gate); raft/RESTORE_MARK says so across restarts */
    char restore_without[RESTORE_WITHOUT_MAX][MEMBER_NAME_MAX]; /* config.json: nodes not to wait for */
    unsigned restore_waiting_count; /* restore_gate waits for the heads of these (under mu; 0: not) */
    char restore_waiting_names[CC_RESTORE_WAITING_MAX][64];
    size_t restore_without_count;
    uint64_t repair_at; /* cc_now_ms */
    /* the membership probe (repair_main too) */
    uint64_t leader_seen_ms;     /* loop: the last tick that knew a leader (cc_now_ms) */
    uint64_t probe_at;           /* no probe before this cc_now_ms */
    uint64_t unproven_logged_ms; /* repair thread: when an unproven removal was last logged */
    /* outcome */
    bool halted;
    char halt_reason[256];
    uint64_t blocks_refused;
    /* membership (the apply thread writes members, the loop conf) */
    member members[RAFT_MEMBERS_MAX]; /* network/config at the applied head */
    size_t member_count;
    bool members_known;             /* network/config was read and is sound */
    bool self_removed;              /* this node was removed from network/config */
    bool removed;                   /* ... and its own node/<id> record says so: it takes no txs */
    uint64_t removed_at;            /* the height of the block that removed it */
    member known[RAFT_MEMBERS_MAX]; /* what a peer said at join, or the consensus nodes vouched for */
    size_t known_count;
    member unvouched; /* the last unknown node refused on the raft port (id, pk) */
    bool unvouched_set;
    conf_server conf[RAFT_MEMBERS_MAX]; /* the raft configuration */
    unsigned conf_count;
} rr;

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
static cc_proposal *take_inflight(rr *r, const uint8_t *hash)
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
static void halt(rr *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void halt(rr *r, const char *fmt, ...)
{
    char why[256];
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

static void count_refused(rr *r)
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
static bool member_fill(member *m, const json_t *rec)
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

static json_t *state_json(cc_chain *c, const char *key)
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
static size_t members_read(rr *r, member *out, size_t cap, bool *sound)
{
    json_t *cfg = state_json(r->chain, "network/config");
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
        json_t *rec = state_json(r->chain, key);
        if (!rec || !member_fill(&m, rec)) {
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
static void members_refresh(rr *r)
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
        json_t *rec = state_json(r->chain, key);
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
static void members_seed_known(rr *r, const json_t *nodes)
{
    size_t i;
    const json_t *v;
    json_array_foreach(nodes, i, v)
    {
        const char *hex = json_string_value(json_object_get(v, "id"));
        member m = {0};
        if (r->known_count == RAFT_MEMBERS_MAX || !hex || cc_unhex(hex, m.pk, CC_PUBKEY_BYTES) != CC_OK ||
            !member_fill(&m, v))
            continue;
        m.id = cc_raft_id_of(r->g, m.pk);
        r->known[r->known_count++] = m;
    }
}

/* The node with raft id id (mu held): network/config first, then what a
 * peer said at join. NULL when unknown. */
static const member *member_by_id_locked(const rr *r, uint64_t id)
{
    for (size_t i = 0; i < r->member_count; i++)
        if (r->members[i].id == id) return &r->members[i];
    for (size_t i = 0; i < r->known_count; i++)
        if (r->known[i].id == id) return &r->known[i];
    return NULL;
}

/* "node4" for raft id id, or its number. out has MEMBER_NAME_MAX bytes. */
static const char *member_name(rr *r, uint64_t id, char *out)
{
    pthread_mutex_lock(&r->mu);
    const member *m = member_by_id_locked(r, id);
    if (m)
        snprintf(out, MEMBER_NAME_MAX, "%s", m->name);
    else
        snprintf(out, MEMBER_NAME_MAX, "raft id %llu", (unsigned long long)id);
    pthread_mutex_unlock(&r->mu);
    return out;
}

/* Did a committed block change the node set? */
static bool touches_network(const cc_tx *txs, size_t n, const cc_result *results)
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

/* A chain head as a raft snapshot records it (see "Snapshots" below), or
 * any head a catch-up must reach. */
typedef struct snap_record {
    uint64_t height;
    uint8_t hash[CC_HASH_BYTES];
    uint8_t state_root[CC_HASH_BYTES];
} snap_record;

static bool catch_up_to(rr *r, const snap_record *s, bool check_root, const char *what, cc_result *results);

/* Commit one entry (invariant 4 says which are skipped). pre, when not
 * NULL, is the entry's block as the pre-verifier decoded it (signatures
 * checked): it is used instead of decoding the entry again, and left
 * empty. */
static void apply_entry(rr *r, const uint8_t *e, size_t len, cc_block *pre, cc_result *results)
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
        halt(r, "a committed raft entry is not a block (%s)", eb.msg);
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
        if (!catch_up_to(r, &parent, false, what, results)) return;
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
    uint64_t now = cc_now_ms();
    if (h.time_ms > now + BLOCK_AHEAD_MAX_MS) {
        count_refused(r);
        halt(r,
             "block %llu (%.16s..., proposer %.16s...) is dated %llu ms ahead of this node's clock (at most "
             "%d)",
             (unsigned long long)h.height, hex, proposer, (unsigned long long)(h.time_ms - now),
             BLOCK_AHEAD_MAX_MS);
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
        if (rc != CC_OK)
            halt(r, "own block %llu (%.16s...) did not commit: %s (%s)", (unsigned long long)h.height, hex,
                 p->eb.msg, cc_err_name(rc));
        else if (touches_network(p->txs, p->tx_count, p->results))
            members_refresh(r);
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
        halt(r, "block %llu (%.16s..., proposer %.16s...) does not decode: %s", (unsigned long long)h.height,
             hex, proposer, eb.msg);
        cc_block_free(&b);
        return;
    }
    rc = cc_chain_apply(r->chain, &b, r->key, results, &eb);
    if (rc == CC_OK) {
        if (touches_network(b.txs, b.tx_count, results)) members_refresh(r);
        if (r->hooks.committed) r->hooks.committed(r->hooks.ctx, &b.h, b.txs, b.tx_count, results);
    } else {
        halt(r, "block %llu (%.16s..., proposer %.16s...) does not apply: %s (%s)",
             (unsigned long long)h.height, hex, proposer, eb.msg, cc_err_name(rc));
    }
    cc_block_free(&b);
}

/* ---- catch-up to a snapshot (apply thread) ---------------------------------------------
 * A snapshot record: u8 version = 1 || 7 zero bytes || u64 height || block hash || state
 * root (80 bytes). The node fetches blocks head+1..height from the peers' GET
 * /v1/blocks/raw?from=..&count=.. (ranges; the peer that answered last first), applies
 * each with cc_chain_apply (linkage, proposer and its signature, tx root, every tx
 * signature, re-execution against the signed roots), fetches the attachment bytes of
 * their txs (GET /v1/attachments/{sha256}), and ends at the record's hash and root. */

static void snap_encode(const cc_head *h, uint8_t out[SNAP_BYTES])
{
    memset(out, 0, SNAP_BYTES);
    out[0] = SNAP_VERSION;
    cc_put_u64(out + 8, h->height);
    memcpy(out + 16, h->hash, CC_HASH_BYTES);
    memcpy(out + 16 + CC_HASH_BYTES, h->state_root, CC_HASH_BYTES);
}

static bool snap_decode(const uint8_t *p, size_t len, snap_record *out)
{
    if (len != SNAP_BYTES || p[0] != SNAP_VERSION) return false;
    for (int i = 1; i < 8; i++)
        if (p[i] != 0) return false;
    out->height = cc_get_u64(p + 8);
    memcpy(out->hash, p + 16, CC_HASH_BYTES);
    memcpy(out->state_root, p + 16 + CC_HASH_BYTES, CC_HASH_BYTES);
    return true;
}

static bool stopping(rr *r)
{
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop_requested;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* cc_peer_answer.cancelled of every catch-up and repair request: a node
 * that is stopping abandons a request to a peer that does not answer
 * within about a second, rather than sitting out CATCHUP_TIMEOUT_MS. */
static bool stop_asked(void *r)
{
    return stopping(r);
}

/* The API addresses of the other nodes (network/config, what a peer said at
 * join, genesis), without repeats; returns the count. */
static size_t peer_apis(rr *r, char (*out)[MEMBER_ADDR_MAX], size_t cap)
{
    size_t count = 0;
    pthread_mutex_lock(&r->mu);
    size_t total = r->member_count + r->known_count + r->g->node_count;
    for (size_t k = 0; k < total && count < cap; k++) {
        const char *api;
        const uint8_t *pk;
        if (k < r->member_count) {
            api = r->members[k].api;
            pk = r->members[k].pk;
        } else if (k < r->member_count + r->known_count) {
            api = r->known[k - r->member_count].api;
            pk = r->known[k - r->member_count].pk;
        } else {
            api = r->g->nodes[k - r->member_count - r->known_count].api;
            pk = r->g->nodes[k - r->member_count - r->known_count].pk;
        }
        bool dup = !*api || memcmp(pk, r->key->pk, CC_PUBKEY_BYTES) == 0;
        for (size_t i = 0; i < count && !dup; i++) dup = strcmp(out[i], api) == 0;
        if (!dup) snprintf(out[count++], MEMBER_ADDR_MAX, "%s", api);
    }
    pthread_mutex_unlock(&r->mu);
    return count;
}

/* GET api/v1/blocks/{height}/raw into *out (caller frees). */
static cc_err fetch_block(rr *r, CURL *c, const char *api, uint64_t height, uint8_t **out, size_t *len,
                          cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = CC_BLOCK_MAX_BYTES, .cancelled = stop_asked, .cancel_ctx = r};
    long status = 0;
    cc_peer_url(url, sizeof url, api, "/v1/blocks/%llu/raw", (unsigned long long)height);
    CURLcode cr = cc_peer_perform(c, url, CATCHUP_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, &status);
    cc_err rc = CC_OK;
    if (cr != CURLE_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "%s: %s", url,
                     a.too_long ? "block too large" : curl_easy_strerror(cr));
    else if (status != 200)
        rc = cc_errf(eb, status == 404 ? CC_ERR_NOT_FOUND : CC_ERR_UNREACHABLE, "%s answered HTTP %ld", url,
                     status);
    if (rc != CC_OK || !a.buf) {
        free(a.buf);
        return rc != CC_OK ? rc : cc_errf(eb, CC_ERR_MALFORMED, "%s answered an empty body", url);
    }
    *out = (uint8_t *)a.buf;
    *len = a.len;
    return CC_OK;
}

/* The record whose ciphertext tx's attachment is (record.put is the one
 * tx type with attachments), into id; false for another type. */
static bool attachment_record(const cc_tx *tx, char id[ATT_RECORD_MAX])
{
    if (strcmp(tx->type, "record.put") != 0) return false;
    json_t *p = cc_json_parse((const uint8_t *)tx->payload, tx->payload_len, NULL);
    const char *v = json_string_value(json_object_get(p, "record"));
    bool ok = v && strlen(v) < ATT_RECORD_MAX;
    if (ok) snprintf(id, ATT_RECORD_MAX, "%s", v);
    json_decref(p);
    return ok;
}

/* Is record id erased on the ledger (at this node's head)? record.erase
 * marks it "erased" (docs/RECORDS.md), and its bytes must not come back. */
static bool record_erased(rr *r, const char *id)
{
    char key[8 + ATT_RECORD_MAX];
    if (!id[0]) return false;
    snprintf(key, sizeof key, "rec/%s", id);
    json_t *rec = state_json(r->chain, key);
    const char *status = json_string_value(json_object_get(rec, "status"));
    bool erased = status && strcmp(status, "erased") == 0;
    json_decref(rec);
    return erased;
}

/* GET api/v1/attachments/{sha256}, a request signed with the node key, into
 * *out (caller frees; at most want bytes). */
static cc_err fetch_attachment(rr *r, CURL *c, const char *api, const uint8_t hash[CC_HASH_BYTES],
                               size_t want, uint8_t **out, size_t *len, cc_errbuf *eb)
{
    char hex[CC_HASH_HEX], path[32 + CC_HASH_HEX], url[CATCHUP_URL_MAX], line[320];
    cc_reqsig_headers sig;
    cc_peer_answer a = {.max = want, .cancelled = stop_asked, .cancel_ctx = r};
    long status = 0;
    struct curl_slist *hdrs = NULL;
    snprintf(path, sizeof path, "/v1/attachments/%s", cc_hex(hash, CC_HASH_BYTES, hex));
    cc_err rc = cc_reqsig_sign(r->key, "GET", path, "", NULL, 0, (int64_t)(cc_now_ms() / 1000), &sig, eb);
    if (rc != CC_OK) return rc;
    snprintf(line, sizeof line, "Content-Digest: %s", sig.content_digest);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "Signature-Input: %s", sig.signature_input);
    if (hdrs) hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof line, "Signature: %s", sig.signature);
    if (hdrs) hdrs = curl_slist_append(hdrs, line);
    if (!hdrs) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    cc_peer_url(url, sizeof url, api, "%s", path);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cr = cc_peer_perform(c, url, CATCHUP_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (cr != CURLE_OK)
        rc =
            cc_errf(eb, CC_ERR_UNREACHABLE, "%s: %s", url, a.too_long ? "too large" : curl_easy_strerror(cr));
    else if (status != 200)
        rc = cc_errf(eb, status == 404 ? CC_ERR_NOT_FOUND : CC_ERR_UNREACHABLE, "%s answered HTTP %ld", url,
                     status);
    else if (!a.buf)
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s answered an empty body", url);
    if (rc != CC_OK) {
        free(a.buf);
        return rc;
    }
    *out = (uint8_t *)a.buf;
    *len = a.len;
    return CC_OK;
}

typedef struct att_wanted {
    rr *r;
    const char *record;
} att_wanted;

/* cc_chain_attachment_restore_if's question: bytes of a record erased
 * since must not come back. */
static bool still_wanted(void *ctx)
{
    const att_wanted *w = ctx;
    return !record_erased(w->r, w->record);
}

/* Fetch one attachment from the peers (apis[first] first), check it
 * against its SHA-256 and store it, unless its record was erased
 * meanwhile; true once stored (or no longer wanted). */
static bool fetch_one_attachment(rr *r, CURL *c, const late_att *att, char (*apis)[MEMBER_ADDR_MAX], size_t n,
                                 size_t first)
{
    const att_wanted wanted = {r, att->record};
    if (cc_chain_attachment_has(r->chain, att->hash)) return true; /* another pass got it meanwhile */
    for (size_t j = 0; j < n && !stopping(r); j++) {
        const char *api = apis[(first + j) % n];
        uint8_t *bytes = NULL;
        size_t len = 0;
        cc_errbuf eb = {{0}};
        cc_err rc = fetch_attachment(r, c, api, att->hash, att->len, &bytes, &len, &eb);
        if (rc == CC_OK) {
            rc = cc_chain_attachment_restore_if(r->chain, att->hash, bytes, len, still_wanted,
                                                (void *)&wanted, &eb);
            if (rc == CC_ERR_NOT_FOUND) { /* erased meanwhile */
                free(bytes);
                return true;
            }
        }
        free(bytes);
        if (rc == CC_OK) {
            pthread_mutex_lock(&r->mu);
            r->attachments_fetched++;
            pthread_mutex_unlock(&r->mu);
            return true;
        }
        if (rc != CC_ERR_NOT_FOUND && rc != CC_ERR_UNREACHABLE) {
            char hex[CC_HASH_HEX];
            cc_node_log(CC_LOG_WARN, "raft", "attachment %.16s... (record %s) from %s refused: %s",
                        cc_hex(att->hash, CC_HASH_BYTES, hex), att->record[0] ? att->record : "none", api,
                        eb.msg);
        }
    }
    return false;
}

/* The attachment bytes of a block applied without them: each tx that
 * committed with an attachment whose record the ledger has not erased is
 * fetched from the peers (apis[first] first: the one that gave the block).
 * What no peer gives is kept in r->late for the end of the catch-up (a
 * peer further ahead may have erased it already). */
static void fetch_attachments(rr *r, CURL *c, const cc_block *b, const cc_result *results,
                              char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t first)
{
    for (size_t k = 0; k < b->tx_count; k++) {
        const cc_tx *tx = &b->txs[k];
        late_att att = {.height = b->h.height, .len = tx->attachment_len};
        if (!tx->has_attachment || tx->attachment || results[k].code != CC_OK) continue;
        memcpy(att.hash, tx->attachment_hash, CC_HASH_BYTES);
        if (!attachment_record(tx, att.record)) att.record[0] = '\0';
        if (record_erased(r, att.record) || fetch_one_attachment(r, c, &att, apis, n, first)) continue;
        if (r->late_count == r->late_cap) {
            size_t cap = r->late_cap ? 2 * r->late_cap : 16;
            late_att *more = realloc(r->late, cap * sizeof *more);
            if (!more) {
                cc_node_log(CC_LOG_WARN, "raft", "no memory to remember a missing attachment of block %llu",
                            (unsigned long long)b->h.height);
                continue;
            }
            r->late = more;
            r->late_cap = cap;
        }
        r->late[r->late_count++] = att;
    }
}

/* At the end of a catch-up: the attachments no peer gave. Those whose
 * record the ledger erased since are dropped; the others are asked for once
 * more, and what is still missing is logged (this node does not hold it). */
static void fetch_late_attachments(rr *r, CURL *c)
{
    size_t erased = 0;
    char(*apis)[MEMBER_ADDR_MAX] = r->late_count ? calloc(RAFT_MEMBERS_MAX, sizeof *apis) : NULL;
    size_t n = apis ? peer_apis(r, apis, RAFT_MEMBERS_MAX) : 0;
    for (size_t i = 0; i < r->late_count; i++) {
        if (record_erased(r, r->late[i].record)) {
            erased++;
        } else if (!fetch_one_attachment(r, c, &r->late[i], apis, n, 0)) {
            char hex[CC_HASH_HEX];
            cc_node_log(
                CC_LOG_WARN, "raft",
                "the attachment %.16s... of block %llu is on no peer and not erased on the ledger: this "
                "node does not hold it",
                cc_hex(r->late[i].hash, CC_HASH_BYTES, hex), (unsigned long long)r->late[i].height);
        }
    }
    if (erased)
        cc_node_log(CC_LOG_INFO, "raft",
                    "%zu attachment(s) not fetched: their records were erased on the ledger", erased);
    free(apis);
    free(r->late);
    r->late = NULL;
    r->late_count = r->late_cap = 0;
}

/* ---- attachments this node lacks ----------------------------------------------------
 * The ledger says which attachment bytes every node must hold: each
 * version's ciphertext of each record not erased (rec/<id>, docs/RECORDS.md).
 * Catch-up fetches the attachments of the blocks it applies, but not what
 * no peer had then, nor what it had no time for when the node stopped. So
 * the repair thread reads the rec/ records some seconds after every start
 * and after every catch-up, and fetches what this node lacks from its peers.
 * It reads REPAIR_SCAN_CHUNK records per snapshot and pauses REPAIR_PAUSE_MS
 * between snapshots: a store of millions of records is read in the
 * background without taking a core, and no read transaction stays open
 * long enough to keep LMDB from reusing freed pages. What it found is
 * fetched every REPAIR_FETCH_AT attachments and at the end. It stores them
 * through cc_chain_attachment_restore_if, which asks record_erased while
 * no block can commit: bytes erased meanwhile do not come back. */

typedef struct repair_scan {
    rr *r;
    late_att *found; /* missing ciphertexts not fetched yet */
    size_t count, cap;
    char last[512]; /* the last rec/ key read, where the next chunk starts (LMDB keys are < 512 bytes) */
} repair_scan;

/* cc_chain_state_scan visit over rec/: note each missing ciphertext. */
static cc_err note_missing(void *ctx, const char *key, size_t key_len, const uint8_t *val, size_t val_len)
{
    repair_scan *s = ctx;
    const size_t prefix = strlen("rec/");
    snprintf(s->last, sizeof s->last, "%.*s", (int)key_len, key);
    if (key_len <= prefix || key_len - prefix >= ATT_RECORD_MAX) return CC_OK;
    json_t *rec = cc_json_parse(val, val_len, NULL), *version;
    const char *status = json_string_value(json_object_get(rec, "status"));
    cc_err rc = CC_OK;
    size_t i;
    if (status && strcmp(status, "erased") != 0) {
        json_array_foreach(json_object_get(rec, "versions"), i, version)
        {
            late_att att = {.len = CC_ATTACHMENT_MAX};
            if (cc_unhex(json_string_value(json_object_get(version, "ciphertext")), att.hash,
                         CC_HASH_BYTES) != CC_OK ||
                cc_chain_attachment_has(s->r->chain, att.hash))
                continue;
            if (s->count == s->cap) {
                size_t cap = s->cap ? 2 * s->cap : REPAIR_FETCH_AT;
                late_att *more = realloc(s->found, cap * sizeof *more);
                if (!more) {
                    rc = CC_ERR_NOMEM;
                    break;
                }
                s->found = more;
                s->cap = cap;
            }
            snprintf(att.record, sizeof att.record, "%.*s", (int)(key_len - prefix), key + prefix);
            s->found[s->count++] = att;
        }
    }
    json_decref(rec);
    return rc;
}

/* Records read per snapshot. The test-only build (CC_TEST_FAULTS) takes
 * CARECHAIN_TEST_REPAIR_CHUNK instead, so a test with a handful of records
 * can make a pass go on across many chunks. */
static size_t repair_chunk(void)
{
#ifdef CC_TEST_FAULTS
    const char *v = getenv("CARECHAIN_TEST_REPAIR_CHUNK");
    if (v && atoi(v) > 0) return (size_t)atoi(v);
#endif
    return REPAIR_SCAN_CHUNK;
}

/* Sleep ms, or less when the node stops. (r->cond is also broadcast after
 * every applied block: those wake-ups do not end the pause.) */
static void repair_pause(rr *r, unsigned ms)
{
    const struct timespec until = cc_time_after_ms(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->stop_requested && !r->apply_stop && pthread_cond_timedwait(&r->cond, &r->mu, &until) == 0)
        continue;
    pthread_mutex_unlock(&r->mu);
}

/* One pass over every rec/ record, in chunks (see the section comment). */
static void repair_pass(rr *r, CURL *c)
{
    repair_scan s = {.r = r};
    char(*apis)[MEMBER_ADDR_MAX] = NULL;
    size_t n = 0, missing = 0, got = 0, chunk = repair_chunk();
    bool more = true;
    cc_err rc = CC_OK;
    while (more && !stopping(r)) {
        rc = cc_chain_state_scan(r->chain, "rec/", s.last[0] ? s.last : NULL, chunk, note_missing, &s, &more);
        if (rc != CC_OK) {
            cc_node_log(CC_LOG_WARN, "raft", "cannot read the records to find missing attachments: %s",
                        cc_strerror(rc));
            more = false; /* fetch what was found, then end the pass */
        }
        if (s.count > 0 && (s.count >= REPAIR_FETCH_AT || !more)) {
            if (!apis && (apis = calloc(RAFT_MEMBERS_MAX, sizeof *apis)))
                n = peer_apis(r, apis, RAFT_MEMBERS_MAX);
            for (size_t i = 0; i < s.count && !stopping(r); i++)
                got += fetch_one_attachment(r, c, &s.found[i], apis, n, 0);
            missing += s.count;
            s.count = 0;
        }
        if (more) repair_pause(r, REPAIR_PAUSE_MS);
    }
    if (rc == CC_OK && !more && !stopping(r)) { /* read and fetched to the end */
        pthread_mutex_lock(&r->mu);
        r->repair_passes++;
        r->attachments_missing = missing - got;
        pthread_mutex_unlock(&r->mu);
    }
    if (missing)
        cc_node_log(
            got == missing ? CC_LOG_INFO : CC_LOG_WARN, "raft",
            "%zu attachment(s) the ledger wants were missing here; %zu fetched from peers%s", missing, got,
            got == missing ? "" : ", the rest no peer gave (asked again after the next catch-up or start)");
    free(apis);
    free(s.found);
}

/* Ask for a repair pass at cc_now_ms() + delay_ms (under r->mu). */
static void repair_soon_locked(rr *r, uint64_t delay_ms)
{
    r->repair_due = true;
    r->repair_at = cc_now_ms() + delay_ms;
    pthread_cond_broadcast(&r->cond);
}

/* ---- the membership probe (repair thread) ------------------------------------------------
 * A node taken out of the raft configuration while it was out of reach (stopped, cut off)
 * never receives the block that removed it: no leader sends it anything again, so its own
 * state still says it is a member. When it has heard no leader for LONELY_MS, it asks its
 * peers for its own record (GET /v1/network/nodes/{id}). A peer's word is not enough: one
 * that says "removed" at height h must also prove it. The node takes a tx of block h from
 * that peer (GET /v1/blocks/{h}) and its proof (GET /v1/tx/{txid}/proof), and checks the
 * proof against its own genesis: a checkpoint past everything this node applied, signed
 * by a majority of the nodes the membership steps lead to from the genesis nodes, whose
 * member list leaves this node out (cc_proof_shows_removal). One such proof is enough,
 * whatever other peers say: it takes that as its removal, says so in its status and log
 * and refuses txs, as if it had applied the block. A peer that lies, or replays a genuine
 * proof from before this node's time, is only logged. */

static bool probe_due_locked(const rr *r, uint64_t now)
{
    return !r->removed && now >= r->leader_seen_ms + LONELY_MS && now >= r->probe_at;
}

/* A peer's JSON answer to GET path, or NULL without a usable one (status 200, at most
 * max bytes). Caller decrefs. */
static json_t *peer_get_json(rr *r, CURL *c, const char *api, const char *path, size_t max)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = max, .cancelled = stop_asked, .cancel_ctx = r};
    cc_peer_url(url, sizeof url, api, "%s", path);
    return cc_peer_get_json(c, url, PROBE_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a);
}

/* Peer api's record of node pk (GET /v1/network/nodes/{id}), or NULL
 * without a usable answer. Caller decrefs. */
static json_t *peer_node_record(rr *r, CURL *c, const char *api, const uint8_t pk[CC_PUBKEY_BYTES])
{
    char path[64 + CC_HASH_HEX], hex[CC_HASH_HEX];
    snprintf(path, sizeof path, "/v1/network/nodes/%s", cc_hex(pk, CC_PUBKEY_BYTES, hex));
    return peer_get_json(r, c, api, path, PROBE_ANSWER_MAX);
}

/* Whether peer api proves that this node was removed at height h: the
 * proof of a tx of block h, anchored at a checkpoint above applied whose
 * members leave this node out. eb says why not. */
static bool peer_proves_removal(rr *r, CURL *c, const char *api, uint64_t h, uint64_t applied, cc_errbuf *eb)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)h);
    json_t *block = peer_get_json(r, c, api, path, PROBE_BLOCK_MAX);
    const char *txid =
        json_string_value(json_object_get(json_array_get(json_object_get(block, "txs"), 0), "txid"));
    bool proven = false;
    if (!txid || strlen(txid) != CC_HASH_HEX - 1 || strspn(txid, "0123456789abcdef") != CC_HASH_HEX - 1) {
        cc_errf(eb, CC_ERR_MALFORMED, "no tx of block %llu to prove it with", (unsigned long long)h);
    } else {
        snprintf(path, sizeof path, "/v1/tx/%s/proof", txid);
        json_t *proof = peer_get_json(r, c, api, path, PROBE_PROOF_MAX);
        cc_proof_report rep;
        if (!proof)
            cc_errf(eb, CC_ERR_UNREACHABLE, "no proof of tx %.12s… of block %llu", txid,
                    (unsigned long long)h);
        else if (cc_proof_shows_removal(proof, r->g, r->key->pk, applied + 1, &rep, eb) == CC_OK) {
            proven = rep.height == h;
            if (!proven)
                cc_errf(eb, CC_ERR_VERIFY, "the proof is of a tx of block %llu, not %llu",
                        (unsigned long long)rep.height, (unsigned long long)h);
        }
        json_decref(proof);
    }
    json_decref(block);
    return proven;
}

/* What peer api says of this node: 1 removed (*at its height) and proven, 0 active, -1 no
 * usable answer, or a claim it did not prove (logged). */
static int probe_peer(rr *r, CURL *c, const char *api, uint64_t applied, uint64_t *at)
{
    json_t *doc = peer_node_record(r, c, api, r->key->pk);
    const char *st = json_string_value(json_object_get(doc, "status"));
    json_int_t h = json_integer_value(json_object_get(doc, "removed_at"));
    int said = !st ? -1 : strcmp(st, "removed") == 0 && h > 0 ? 1 : strcmp(st, "active") == 0 ? 0 : -1;
    json_decref(doc);
    if (said != 1) return said;
    cc_errbuf eb = {""};
    if (!peer_proves_removal(r, c, api, (uint64_t)h, applied, &eb)) {
        uint64_t now = cc_now_ms();
        if (!r->unproven_logged_ms || now - r->unproven_logged_ms >= PROBE_UNPROVEN_LOG_MS) {
            r->unproven_logged_ms = now;
            cc_node_log(CC_LOG_WARN, "raft",
                        "%s says this node was removed from the network at block %lld, but does not prove "
                        "it: %s; not taken (said at most once a minute)",
                        api, (long long)h, eb.msg);
        }
        return -1;
    }
    *at = (uint64_t)h;
    return 1;
}

/* One proven removal settles it: a removed node's key is never added again
 * (network.c: keys are added once), so a peer that still says "active" is
 * only behind. */
static void membership_probe(rr *r, CURL *c)
{
    char(*apis)[MEMBER_ADDR_MAX] = calloc(RAFT_MEMBERS_MAX, sizeof *apis);
    size_t behind = 0;
    uint64_t at = 0;
    cc_head head;
    if (!apis) return;
    cc_chain_head(r->chain, &head);
    size_t n = peer_apis(r, apis, RAFT_MEMBERS_MAX);
    for (size_t i = 0; i < n && !at && !stopping(r); i++) {
        uint64_t h = 0;
        int said = probe_peer(r, c, apis[i], head.height, &h);
        behind += said == 0;
        if (said == 1) at = h;
    }
    free(apis);
    if (!at) return;
    pthread_mutex_lock(&r->mu);
    bool news = !r->removed;
    if (news) {
        r->self_removed = r->removed = true;
        r->removed_at = at;
    }
    pthread_mutex_unlock(&r->mu);
    if (news)
        cc_node_log(CC_LOG_WARN, "raft",
                    "no leader for %d s, and a peer proved with a signed checkpoint that this node was "
                    "removed from the network by governance (block %llu), which it never received%s: it "
                    "refuses txs and serves reads of what it has; stop it",
                    LONELY_MS / 1000, (unsigned long long)at,
                    behind ? " (peers that still say it is active are behind)" : "");
}

/* ---- vouching for a node added while this one was away (repair thread) -------------------
 * The raft port admits only nodes this node's state knows ("Raft connections"). One that
 * missed the block adding a node refuses that node, and while that node leads it never
 * receives the block. So when it has heard no leader for LONELY_MS and has refused a key
 * under the raft id derived from it, it asks the other consensus nodes of its own state
 * (network/config) for that key's record (GET /v1/network/nodes/{id}); when a majority of
 * all of them, itself counted, say "active", the node is admitted as if a peer had named
 * it at join. A minority of the nodes it trusts cannot vouch for a key: the same majority
 * whose signatures make a checkpoint. */

static void vouch_probe(rr *r, CURL *c)
{
    pthread_mutex_lock(&r->mu);
    member want = r->unvouched;
    bool asked = r->unvouched_set;
    r->unvouched_set = false;
    size_t count = r->members_known ? r->member_count : 0;
    member *vouchers = count ? malloc(count * sizeof *vouchers) : NULL;
    if (vouchers) memcpy(vouchers, r->members, count * sizeof *vouchers);
    pthread_mutex_unlock(&r->mu);
    if (!asked || !vouchers) {
        free(vouchers);
        return;
    }

    /* the nodes of this node's own state, itself included in the count (it
     * cannot vouch: it has not applied the addition) */
    size_t yes = 0;
    member said = want;
    for (size_t i = 0; i < count && !stopping(r); i++) {
        if (memcmp(vouchers[i].pk, r->key->pk, CC_PUBKEY_BYTES) == 0 || !vouchers[i].api[0]) continue;
        json_t *doc = peer_node_record(r, c, vouchers[i].api, want.pk);
        const char *st = json_string_value(json_object_get(doc, "status"));
        member m = want;
        if (st && strcmp(st, "active") == 0 && member_fill(&m, doc)) {
            yes++;
            said = m;
        }
        json_decref(doc);
    }
    free(vouchers);
    if (yes < count / 2 + 1) return;
    pthread_mutex_lock(&r->mu);
    bool added = !member_by_id_locked(r, want.id) && r->known_count < RAFT_MEMBERS_MAX;
    if (added) r->known[r->known_count++] = said;
    pthread_mutex_unlock(&r->mu);
    if (added)
        cc_node_log(CC_LOG_INFO, "raft",
                    "%s (raft id %llu), which this node has not applied the block adding yet, is an active "
                    "node for %zu of the %zu nodes this node knows: its raft connections are admitted",
                    said.name, (unsigned long long)want.id, yes, count);
}

static void *repair_main(void *arg)
{
    rr *r = arg;
    CURL *c = NULL;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        /* r->cond is broadcast when a pass is asked for, after every apply
         * item (so also when a catch-up ends) and at stop; the probe's
         * condition is looked at once a second */
        uint64_t now = cc_now_ms();
        while (!r->stop_requested && !r->apply_stop && !probe_due_locked(r, now) &&
               (r->catching_up || !r->repair_due || now < r->repair_at)) {
            uint64_t wake = now + 1000;
            if (!r->catching_up && r->repair_due && r->repair_at < wake) wake = r->repair_at;
            const struct timespec until = cc_time_after_ms(CLOCK_REALTIME, wake - now);
            pthread_cond_timedwait(&r->cond, &r->mu, &until);
            now = cc_now_ms();
        }
        if (r->stop_requested || r->apply_stop) break;
        bool probe = probe_due_locked(r, now);
        if (probe)
            r->probe_at = now + LONELY_RECHECK_MS;
        else
            r->repair_due = false;
        pthread_mutex_unlock(&r->mu);
        if (c || (c = curl_easy_init())) {
            if (probe) {
                membership_probe(r, c);
                vouch_probe(r, c);
            } else
                repair_pass(r, c);
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    if (c) curl_easy_cleanup(c);
    return NULL;
}

/* GET api/v1/blocks/raw?from=..&count=.. into *out (caller frees): frames
 * of u32 n || block bytes, from `from` on. A peer without the range
 * endpoint answers 400 (it takes "raw" for a height): CC_ERR_USAGE. */
static cc_err fetch_range(rr *r, CURL *c, const char *api, uint64_t from, unsigned count, uint8_t **out,
                          size_t *len, cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = CC_BLOCK_RANGE_BYTES + CC_BLOCK_MAX_BYTES + 4u * CC_BLOCK_RANGE_MAX,
                        .cancelled = stop_asked,
                        .cancel_ctx = r};
    long status = 0;
    cc_peer_url(url, sizeof url, api, "/v1/blocks/raw?from=%llu&count=%u", (unsigned long long)from, count);
    CURLcode cr = cc_peer_perform(c, url, CATCHUP_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, &status);
    cc_err rc = CC_OK;
    if (cr != CURLE_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "%s: %s", url,
                     a.too_long ? "answer too large" : curl_easy_strerror(cr));
    else if (status != 200)
        rc = cc_errf(eb,
                     status == 404   ? CC_ERR_NOT_FOUND
                     : status == 400 ? CC_ERR_USAGE
                                     : CC_ERR_UNREACHABLE,
                     "%s answered HTTP %ld", url, status);
    else if (!a.buf)
        rc = cc_errf(eb, CC_ERR_MALFORMED, "%s answered an empty body", url);
    if (rc != CC_OK) {
        free(a.buf);
        return rc;
    }
    *out = (uint8_t *)a.buf;
    *len = a.len;
    return CC_OK;
}

/* Decode and commit one fetched block, which must be at height; then its
 * attachments (apis[from_peer] first). */
static cc_err apply_fetched(rr *r, CURL *c, const uint8_t *raw, size_t len, uint64_t height,
                            char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t from_peer, cc_result *results,
                            cc_errbuf *eb)
{
    cc_block b;
    memset(&b, 0, sizeof b);
    cc_err rc = cc_block_decode(raw, len, &b, eb);
    if (rc == CC_OK && b.h.height != height)
        rc = cc_errf(eb, CC_ERR_VERIFY, "the peer sent block %llu for %llu", (unsigned long long)b.h.height,
                     (unsigned long long)height);
    if (rc == CC_OK) rc = cc_chain_apply(r->chain, &b, r->key, results, eb);
    if (rc == CC_OK) {
        fetch_attachments(r, c, &b, results, apis, n, from_peer);
        if (touches_network(b.txs, b.tx_count, results)) members_refresh(r);
        if (r->hooks.committed) r->hooks.committed(r->hooks.ctx, &b.h, b.txs, b.tx_count, results);
        pthread_mutex_lock(&r->mu);
        r->blocks_fetched++;
        pthread_mutex_unlock(&r->mu);
    }
    cc_block_free(&b);
    return rc;
}

/* Blocks from..to, as many as one peer gives in one request (at most
 * CATCHUP_RANGE_BLOCKS), asking first the peer that answered last
 * (r->catchup_api), then the others. Every block is committed with
 * cc_chain_apply, in order; the first that does not apply ends the range
 * and the next peer is asked for the rest. CC_OK once at least one block
 * committed; otherwise the last peer's failure in eb. */
static cc_err fetch_and_apply(rr *r, CURL *c, uint64_t from, uint64_t to, cc_result *results, cc_errbuf *eb)
{
    char(*apis)[MEMBER_ADDR_MAX] = calloc(RAFT_MEMBERS_MAX, sizeof *apis);
    if (!apis) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    size_t n = peer_apis(r, apis, RAFT_MEMBERS_MAX), start = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(apis[i], r->catchup_api) == 0) start = i;
    unsigned count = to - from + 1 < CATCHUP_RANGE_BLOCKS ? (unsigned)(to - from + 1) : CATCHUP_RANGE_BLOCKS;
    cc_err rc = cc_errf(eb, CC_ERR_UNREACHABLE, "no peer API address is known");
    for (size_t j = 0; j < n && !stopping(r); j++) {
        size_t i = (start + j) % n;
        uint8_t *buf = NULL;
        size_t len = 0, applied = 0;
        bool framed = true;
        cc_errbuf e2 = {{0}};
        rc = fetch_range(r, c, apis[i], from, count, &buf, &len, &e2);
        if (rc == CC_ERR_USAGE) { /* an older peer: one block per request */
            framed = false;
            rc = fetch_block(r, c, apis[i], from, &buf, &len, &e2);
        }
        cc_reader rd = {buf, len};
        while (rc == CC_OK && rd.left > 0 && !stopping(r)) {
            const uint8_t *nb = framed ? cc_take(&rd, 4) : NULL, *raw = buf;
            size_t raw_len = len;
            if (framed) {
                raw_len = nb ? cc_get_u32(nb) : 0;
                raw = nb ? cc_take(&rd, raw_len) : NULL;
                if (!raw) {
                    rc = cc_errf(&e2, CC_ERR_MALFORMED, "the peer's block range is truncated");
                    break;
                }
            } else {
                rd.left = 0;
            }
            rc = apply_fetched(r, c, raw, raw_len, from + applied, apis, n, i, results, &e2);
            if (rc == CC_OK) applied++;
        }
        free(buf);
        if (applied > 0) {
            pthread_mutex_lock(&r->mu);
            r->block_requests++;
            pthread_mutex_unlock(&r->mu);
            snprintf(r->catchup_api, sizeof r->catchup_api, "%s", apis[i]);
            rc = CC_OK;
            break;
        }
        if (rc == CC_OK) rc = cc_errf(&e2, CC_ERR_NOT_FOUND, "%s gave no block", apis[i]);
        cc_errf(eb, rc, "%s", e2.msg);
        if (rc != CC_ERR_NOT_FOUND && rc != CC_ERR_UNREACHABLE)
            cc_node_log(CC_LOG_WARN, "raft", "block %llu from %s refused (%s): %s; trying the next peer",
                        (unsigned long long)(from + applied), apis[i], cc_err_name(rc), e2.msg);
        if (cc_chain_halted(r->chain, NULL, 0)) break; /* evidence recorded: nothing applies any more */
    }
    free(apis);
    return rc;
}

/* Reach the chain head s names (height and block hash; its state root too
 * unless check_root is false): fetch the blocks this node lacks from its
 * peers and commit each with cc_chain_apply, then compare. what names the
 * target in the log ("the raft snapshot"). Returns true when the head is
 * there; otherwise this node halted, or is stopping (catchup_abandoned). */
static bool catch_up_to(rr *r, const snap_record *s, bool check_root, const char *what, cc_result *results)
{
    cc_head head;
    cc_header h;
    uint8_t hash[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    cc_errbuf eb = {{0}};

    cc_hex(s->hash, CC_HASH_BYTES, hex);
    cc_chain_head(r->chain, &head);
    if (head.height < s->height) {
        CURL *c = curl_easy_init();
        if (!c) {
            halt(r, "no memory for libcurl to catch up to %s", what);
            return false;
        }
        uint64_t from = head.height, started = cc_now_ms();
        pthread_mutex_lock(&r->mu);
        r->catching_up = true; /* the repair thread waits for its end */
        pthread_mutex_unlock(&r->mu);
        cc_node_log(CC_LOG_INFO, "raft",
                    "%s is at height %llu (%.16s...): this node is at %llu, fetching the blocks in between "
                    "from its peers",
                    what, (unsigned long long)s->height, hex, (unsigned long long)head.height);
        uint64_t give_up = cc_now_ms() + CATCHUP_GIVE_UP_MS;
        while (head.height < s->height) {
            cc_err rc = fetch_and_apply(r, c, head.height + 1, s->height, results, &eb);
            if (rc == CC_OK) {
                cc_chain_head(r->chain, &head);
                give_up = cc_now_ms() + CATCHUP_GIVE_UP_MS;
                continue;
            }
            if (stopping(r)) break;
            if (cc_chain_halted(r->chain, NULL, 0) || cc_now_ms() > give_up) {
                curl_easy_cleanup(c);
                pthread_mutex_lock(&r->mu);
                r->catching_up = false;
                pthread_mutex_unlock(&r->mu);
                halt(r, "cannot catch up to %s at height %llu: no peer gave block %llu that applies (%s)",
                     what, (unsigned long long)s->height, (unsigned long long)head.height + 1, eb.msg);
                return false;
            }
            for (unsigned waited = 0; waited < CATCHUP_RETRY_MS && !stopping(r);
                 waited += RAFT_STOP_POLL_MS) {
                struct timespec ts = {0, RAFT_STOP_POLL_MS * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        if (head.height >= s->height) {
            fetch_late_attachments(r, c);
            pthread_mutex_lock(&r->mu);
            repair_soon_locked(r, 0); /* and whatever else the ledger wants that is not here */
            pthread_mutex_unlock(&r->mu);
        }
        curl_easy_cleanup(c);
        pthread_mutex_lock(&r->mu);
        r->catching_up = false;
        pthread_mutex_unlock(&r->mu);
        if (head.height < s->height) { /* stopping: a restart goes on */
            pthread_mutex_lock(&r->mu);
            r->catchup_abandoned = true;
            pthread_mutex_unlock(&r->mu);
            cc_node_log(CC_LOG_WARN, "raft",
                        "stopping at height %llu while catching up to %llu; the next start goes on",
                        (unsigned long long)head.height, (unsigned long long)s->height);
            return false;
        }
        cc_node_log(CC_LOG_INFO, "raft",
                    "caught up to height %llu: %llu blocks fetched and verified in %llu ms",
                    (unsigned long long)s->height, (unsigned long long)(s->height - from),
                    (unsigned long long)(cc_now_ms() - started));
    }
    if (s->height == 0) return true; /* before the first block: nothing to compare */
    cc_err rc = cc_chain_header_get(r->chain, s->height, &h);
    if (rc != CC_OK) {
        halt(r, "cannot read block %llu to check it against %s (%s)", (unsigned long long)s->height, what,
             cc_err_name(rc));
        return false;
    }
    cc_header_hash(&h, hash);
    if (memcmp(hash, s->hash, CC_HASH_BYTES) != 0 ||
        (check_root && memcmp(h.state_root, s->state_root, CC_HASH_BYTES) != 0)) {
        char mine[CC_HASH_HEX];
        halt(r, "block %llu here (%.16s...) differs from %s (%.16s...)%s", (unsigned long long)s->height,
             cc_hex(hash, CC_HASH_BYTES, mine), what, hex, check_root ? " or its state root" : "");
        return false;
    }
    return true;
}

/* Reach the chain state a snapshot names (see the section comment). */
static void catch_up(rr *r, const uint8_t *rec, size_t len, cc_result *results)
{
    snap_record s;
    if (!snap_decode(rec, len, &s)) {
        halt(r, "a raft snapshot of %zu bytes is not a chain head record (version %u)", len,
             len ? rec[0] : 0);
        return;
    }
    (void)catch_up_to(r, &s, true, "the raft snapshot", results);
}

/* ---- the first leader after a whole-network restore (apply thread) ----------------------
 *
 * Restored from backups, every node starts raft afresh on the chain its
 * backup holds, and the backups may be of different days. Raft cannot tell
 * which node holds the most of the chain (every log is one bootstrap
 * entry), so a leader elected before any entry was applied asks every node
 * of the set for its head, and waits until each has answered: the newest
 * block a majority signed before the loss may be on one node only, and a
 * chain that went on without it would halt the whole network once that
 * node's checkpoints are seen again. config.json "restore_without" names
 * nodes not to wait for (lost for good). Then the leader takes the blocks
 * the furthest node holds (each verified and committed by cc_chain_apply)
 * and proposes; the nodes behind take what they lack from their peers when
 * its first block arrives (apply_entry). */

/* Is raft/RESTORE_MARK there? */
static bool restore_marked(const rr *r)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", r->raft_dir, RESTORE_MARK);
    return access(path, F_OK) == 0;
}

/* Write (or, when on is false, remove) raft/RESTORE_MARK. */
static void restore_mark(rr *r, bool on)
{
    char path[PATH_MAX + 32];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/%s", r->raft_dir, RESTORE_MARK);
    static const char text[] =
        "raft started afresh on a restored chain; no block has come through raft since "
        "(docs/CONSENSUS.md \"Restoring a whole network\")\n";
    if (on ? cc_file_write(path, text, sizeof text - 1, 0600, &eb) != CC_OK
           : unlink(path) != 0 && errno != ENOENT)
        cc_node_log(CC_LOG_WARN, "raft", "%s %s: %s", on ? "cannot write" : "cannot remove", path,
                    on ? eb.msg : strerror(errno));
}

/* GET api/v1/status: the node's head height and hash. */
static cc_err peer_head(rr *r, CURL *c, const char *api, uint64_t *height, uint8_t hash[CC_HASH_BYTES],
                        cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = PROBE_ANSWER_MAX, .cancelled = stop_asked, .cancel_ctx = r};
    long status = 0;
    cc_peer_url(url, sizeof url, api, "/v1/status");
    CURLcode cr = cc_peer_perform(c, url, PROBE_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, &status);
    json_t *st =
        cr == CURLE_OK && status == 200 && a.buf ? cc_json_parse((uint8_t *)a.buf, a.len, NULL) : NULL;
    free(a.buf);
    json_t *h = json_object_get(st, "height");
    const char *hex = json_string_value(json_object_get(st, "head_hash"));
    cc_err rc = CC_OK;
    if (cr != CURLE_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "%s", curl_easy_strerror(cr));
    else if (!json_is_integer(h) || json_integer_value(h) < 0 || !hex ||
             cc_unhex(hex, hash, CC_HASH_BYTES) != CC_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "HTTP %ld without a chain head", status);
    else
        *height = (uint64_t)json_integer_value(h);
    json_decref(st);
    return rc;
}

/* Is name in config.json "restore_without"? */
static bool restore_skips(const rr *r, const char *name)
{
    for (size_t i = 0; i < r->restore_without_count; i++)
        if (strcmp(r->restore_without[i], name) == 0) return true;
    return false;
}

/* Does this node still lead in term (the loop publishes both)? */
static bool still_leads(rr *r, uint64_t term)
{
    pthread_mutex_lock(&r->mu);
    bool leads = r->state == RAFT_LEADER && r->term == term && !r->stop_requested;
    pthread_mutex_unlock(&r->mu);
    return leads;
}

/* The leader of term, before it proposes (see the section comment). Gives
 * up without a word when this node stops leading: the next leader asks. */
static void restore_gate(rr *r, uint64_t term, cc_result *results)
{
    member *peers = calloc(RAFT_MEMBERS_MAX, sizeof *peers);
    bool *heard = calloc(RAFT_MEMBERS_MAX, sizeof *heard);
    CURL *c = curl_easy_init();
    size_t n = 0, answered = 0, best = SIZE_MAX;
    cc_head head;
    snap_record target = {0};
    char skipped[256] = "";
    if (!peers || !heard || !c) {
        halt(r, "no memory to ask the other nodes for their heads after a restore");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->member_count; i++) {
        if (r->members[i].id == r->self_id) continue;
        if (!restore_skips(r, r->members[i].name))
            peers[n++] = r->members[i];
        else
            snprintf(skipped + strlen(skipped), sizeof skipped - strlen(skipped), "%s%s",
                     *skipped ? ", " : "", r->members[i].name);
    }
    pthread_mutex_unlock(&r->mu);
    cc_chain_head(r->chain, &head);
    target.height = head.height;
    cc_node_log(CC_LOG_WARN, "raft",
                "first leader since raft started afresh at height %llu (a restore from backups): asking the "
                "other %zu nodes for their heads before proposing%s%s%s",
                (unsigned long long)head.height, n, *skipped ? " (not waiting for " : "", skipped,
                *skipped ? ": config.json \"restore_without\")" : "");
    uint64_t log_at = cc_now_ms() + RESTORE_RETRY_MS;
    while (answered < n && still_leads(r, term)) {
        char waiting[512] = "";
        for (size_t i = 0; i < n && !stopping(r); i++) {
            uint64_t height = 0;
            uint8_t hash[CC_HASH_BYTES];
            cc_errbuf eb = {{0}};
            if (heard[i]) continue;
            if (peer_head(r, c, peers[i].api, &height, hash, &eb) != CC_OK) {
                snprintf(waiting + strlen(waiting), sizeof waiting - strlen(waiting), "%s%s (%s)",
                         *waiting ? ", " : "", peers[i].name, eb.msg);
                continue;
            }
            heard[i] = true;
            answered++;
            if (height > target.height) {
                target.height = height;
                memcpy(target.hash, hash, CC_HASH_BYTES);
                best = i;
            }
        }
        if (answered == n || !still_leads(r, term)) break;
        pthread_mutex_lock(&r->mu); /* for GET /v1/status */
        r->restore_waiting_count = 0;
        for (size_t i = 0; i < n && r->restore_waiting_count < CC_RESTORE_WAITING_MAX; i++)
            if (!heard[i])
                snprintf(r->restore_waiting_names[r->restore_waiting_count++],
                         sizeof r->restore_waiting_names[0], "%s", peers[i].name);
        pthread_mutex_unlock(&r->mu);
        if (cc_now_ms() >= log_at) {
            cc_node_log(CC_LOG_WARN, "raft",
                        "waiting for the heads of %s: the chain goes on once every node has said its head, "
                        "or config.json \"restore_without\" names the nodes lost for good",
                        waiting);
            log_at = cc_now_ms() + RESTORE_LOG_MS;
        }
        for (unsigned waited = 0; waited < RESTORE_RETRY_MS && !stopping(r); waited += RAFT_STOP_POLL_MS) {
            struct timespec ts = {0, RAFT_STOP_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (answered < n) goto out; /* no longer the leader, or stopping */
    if (best == SIZE_MAX) {
        cc_node_log(CC_LOG_WARN, "raft", "no node is past height %llu: the chain goes on from here",
                    (unsigned long long)head.height);
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    r->restore_waiting_count = 0; /* the wait is over; the catch-up below may take a while */
    pthread_mutex_unlock(&r->mu);
    char what[MEMBER_NAME_MAX + 32];
    snprintf(what, sizeof what, "the chain %s kept", peers[best].name);
    snprintf(r->catchup_api, sizeof r->catchup_api, "%s", peers[best].api);
    if (catch_up_to(r, &target, false, what, results))
        cc_node_log(CC_LOG_WARN, "raft",
                    "took blocks %llu..%llu from %s: the chain goes on from height %llu, the newest block a "
                    "node kept",
                    (unsigned long long)head.height + 1, (unsigned long long)target.height, peers[best].name,
                    (unsigned long long)target.height);
out:
    pthread_mutex_lock(&r->mu);
    r->restore_waiting_count = 0;
    pthread_mutex_unlock(&r->mu);
    if (c) curl_easy_cleanup(c);
    free(heard);
    free(peers);
}

/* Join the pre-verifier (apply_stop is set). */
static void join_pre(rr *r)
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
 * entry, apply_entry commits the kept transaction instead of running the
 * block again (LMDB ties a write transaction to the thread that began it,
 * hence the apply thread, which commits every block). While it is kept no
 * other thread can write the store, so it never outlives its proposal: it
 * is dropped as soon as the proposal is finished otherwise (raft refused
 * it, leadership moved, the block went stale) or this node halts, and any
 * other block the apply thread commits drops it first. */

static bool build_asked_locked(const rr *r)
{
    return r->build_req && !r->build_done;
}

/* A kept block whose proposal is no longer in flight (or that will not be
 * applied here): drop it. */
static bool kept_stale_locked(const rr *r)
{
    return r->kept_for && (r->kept_for != r->inflight || r->halted || r->catchup_abandoned);
}

static void drop_kept_locked(rr *r)
{
    pthread_mutex_unlock(&r->mu);
    cc_chain_drop_kept(r->chain); /* nothing when none is kept (committed meanwhile) */
    pthread_mutex_lock(&r->mu);
    r->kept_for = NULL;
}

/* Build the asked proposal's block and keep it; tell the producer. */
static void build_locked(rr *r)
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
    if (rc == CC_ERR_CONFLICT) rc = CC_ERR_VERIFY; /* the chain halted (evidence): not a stale block */
    pthread_mutex_lock(&r->mu);
    r->kept_for = rc == CC_OK ? p : NULL;
    r->build_rc = rc;
    r->build_done = true;
    pthread_cond_broadcast(&r->cond);
}

static void *apply_main(void *arg)
{
    rr *r = arg;
    cc_result *results = calloc(CC_BLOCK_MAX_TXS, sizeof *results);
    if (!results) {
        halt(r, "no memory for the apply thread");
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
            restore_gate(r, it->ready_term, results);
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
            catch_up(r, it->entry, it->len, results);
        else if (it->entry && !halted)
            apply_entry(r, it->entry, it->len, it->pre_block, results);
        bool was_entry = it->entry != NULL;
        item_free(it);
        pthread_mutex_lock(&r->mu);
        if (was_entry && r->restore_pending) { /* the network has moved on from the restore */
            r->restore_pending = false;
            pthread_mutex_unlock(&r->mu);
            restore_mark(r, false);
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

static cc_block *preverify_entry(rr *r, const uint8_t *e, size_t len)
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
static apply_item *pre_next(rr *r)
{
    unsigned seen = 0;
    for (apply_item *it = r->head; it && seen < PRE_AHEAD_MAX; it = it->next, seen++)
        if (it->pre == PRE_NONE && it->entry && !it->restore) return it;
    return NULL;
}

static void *pre_main(void *arg)
{
    rr *r = arg;
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

static void queue_push(rr *r, apply_item *it)
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
    rr *r = fsm->data;
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
    rr *r = fsm->data;
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
    snap_encode(&head, b->base);
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
 * apply thread catches up (catch_up). The FSM owns buf->base. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    rr *r = fsm->data;
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
    rr *r;
    uint64_t term;
} barrier_req;

typedef struct apply_req {
    struct raft_apply req;
    rr *r;
} apply_req;

typedef struct notice_req {
    struct raft_barrier req;
    rr *r;
} notice_req;

static void on_notice(struct raft_barrier *req, int status)
{
    notice_req *nr = (notice_req *)req;
    rr *r = nr->r;
    (void)status; /* nothing waits on it: it only carried the commit index */
    r->notice_inflight = false;
    if (r->notice_wanted && !r->closing) uv_async_send(&r->wake); /* a block committed meanwhile */
    free(nr);
}

/* Tell the followers the new commit index at once: a raft barrier is an
 * entry, and appending one makes libraft send AppendEntries to every
 * follower now, with leader_commit. One at a time: a block that commits
 * while one is in flight gets its notice when that one is applied. */
static void send_commit_notice(rr *r)
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
    rr *r = br->r;
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
    rr *r = ar->r;
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
            snprintf(why, sizeof why, "raft did not commit the block: %s", raft_strerror(status));
            finish(p, CC_ERR_UNREACHABLE, why);
        }
    }
    free(ar);
}

/* ---- configuration changes (loop thread; one in flight, as libraft allows) ---------------- */

typedef enum change_kind { CHANGE_ADD, CHANGE_PROMOTE, CHANGE_REMOVE } change_kind;

typedef struct change_req {
    struct raft_change req;
    rr *r;
    change_kind kind;
    uint64_t id;
} change_req;

static const char *const change_done[] = {"joins the raft configuration (spare; promotion next)",
                                          "is a voter now", "left the raft configuration"};

static void on_change(struct raft_change *req, int status)
{
    change_req *cr = (change_req *)req;
    rr *r = cr->r;
    char name[MEMBER_NAME_MAX];
    member_name(r, cr->id, name);
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

static void change_start(rr *r, change_kind kind, const member *m, uint64_t id)
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
                    member_name(r, id, name));
        return;
    }
    free(cr);
    r->change_retry_at = uv_now(&r->loop) + RAFT_CHANGE_RETRY_MS;
    if (r->change_refused != id)
        cc_node_log(CC_LOG_WARN, "raft", "raft refused a configuration change for %s (%s); retrying",
                    member_name(r, id, name), raft_strerror(rv));
    r->change_refused = id;
}

static void on_transferred(struct raft_transfer *req)
{
    rr *r = req->data;
    r->transfer_pending = false; /* done, or timed out: the next tick tries again if still leader */
    free(req);
}

/* Hand leadership to another voter, trying them in turn: one may be down,
 * and raft_transfer gives up on it after an election timeout. The voters
 * are the nodes network/config lists (a removed one until the leader's
 * configuration change drops it; elected, it hands on again). */
static void transfer_leadership(rr *r, uint64_t term, const char *why)
{
    const struct raft_configuration *c = &r->raft.configuration;
    raft_id target = 0;
    if (r->transfer_pending || c->n == 0) return;
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
        cc_node_log(CC_LOG_INFO, "raft", "handing leadership to %s: %s", member_name(r, target, name), why);
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
static void halted_leader_step(rr *r, uint64_t term)
{
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
    transfer_leadership(r, term, "this node halted");
    if (!was_pending && r->transfer_pending) r->halt_handed_at = now;
}

/* The ready leader moves the raft configuration one step towards the node
 * set of network/config: add a missing node (as spare), promote it to
 * voter, remove a node the set no longer lists. */
static void membership_step(rr *r, uint64_t term)
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
            transfer_leadership(r, term, "this node was removed from network/config");
        else
            change_start(r, CHANGE_REMOVE, NULL, c->servers[k].id);
        return;
    }
}

static void on_tick(uv_timer_t *t)
{
    rr *r = t->data;
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
    pthread_mutex_unlock(&r->mu);

    if (leader != 0 && leader != r->last_leader_id) {
        char name[MEMBER_NAME_MAX];
        cc_node_log(CC_LOG_INFO, "raft", "%s leads in term %llu", member_name(r, leader, name),
                    (unsigned long long)term);
    }
    r->last_leader_id = leader;

    if (state == RAFT_LEADER) membership_step(r, term);

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
    rr *r = raft->data;
    raft_uv_close(&r->io);
    raft_uv_tcp_close(&r->transport);
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)&r->wake, NULL);
}

static void on_wake(uv_async_t *a)
{
    rr *r = a->data;
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
    rr *r = raft->data;
    raft_uv_close(&r->io);
    raft_uv_tcp_close(&r->transport);
}

/* ---- the transport: libraft's TCP one, Nagle off, peers authenticated, encrypted ------- */

/* libraft 0.15's TCP transport never sets TCP_NODELAY, and it sends each
 * direction of a pair of servers over its own connection, so the receiver
 * never has data to piggyback its ACKs on: a small message written while
 * an earlier one is unacknowledged waits for the receiver's delayed ACK
 * (up to 40 ms on Linux). Every message here is latency-bound, so wrap the
 * transport's connect and listen and set TCP_NODELAY on each stream it
 * hands to raft_uv.
 *
 * The same wrapper makes every connection prove, before raft_uv sees a
 * byte of it, that both ends are nodes of the network (raft_auth.h):
 * libraft trusts what arrives on its port, and a malformed message from
 * anyone who can reach it crashes the node. After libraft's handshake the
 * accepting side writes a hello with a fresh ephemeral key, the connecting
 * side answers with its own and its node key's signature over both, and
 * the accepting side checks that key is the one of the raft id the
 * handshake claimed (a genesis node or one network/config lists) and
 * writes its admit, signed with its node key, which the connecting side
 * checks the same way. Every read asks for exactly the bytes still
 * missing, and neither side sends a raft byte before that, so none is
 * consumed here. A connection that does not finish within RAFT_AUTH_MS is
 * closed. The stream is then handed to a link (raft_link.h), and raft_uv
 * gets the link's plain end: every raft byte on the wire is encrypted. */

#define RAFT_AUTH_MS     3000  /* the whole exchange, on either side */
#define RAFT_AUTH_LOG_MS 10000 /* at most one "refused" line per this long */

typedef struct auth_conn {
    rr *r;
    struct auth_conn *next; /* r->auth_pending */
    struct uv_stream_s *stream;
    uv_timer_t timer;
    uv_write_t writes[2];          /* a side writes at most twice; a request is not reused */
    unsigned written;              /* writes queued so far */
    bool accepting;                /* this node accepted the connection (else it connected) */
    bool done;                     /* finished: handed on or failed */
    int open;                      /* callbacks still due: timer close, write, stream close */
    raft_id id;                    /* the peer's raft id */
    char address[MEMBER_ADDR_MAX]; /* the address libraft's handshake named ('?' for odd bytes) */
    char peer[64];                 /* accepting: where the connection really comes from */
    uint8_t *into;                 /* the read in progress: into[have..need) */
    size_t have, need;
    void (*on_read)(struct auth_conn *ac); /* called when into is full */
    cc_raft_hs hs;
    uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES];
    uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES];
    uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES];
    struct raft_uv_connect *outer; /* connecting: raft_uv's request and callback */
    raft_uv_connect_cb cb;
} auth_conn;

static rr *rr_of_transport(struct raft_uv_transport *t)
{
    return (rr *)(void *)((char *)t - offsetof(rr, transport));
}

/* ---- libraft's answers to AppendEntries, corrected (raft_match.h) ---- */

static rr *rr_of_io(struct raft_io *io)
{
    return (rr *)(void *)((char *)io - offsetof(rr, io));
}

static void match_recv(struct raft_io *io, struct raft_message *msg)
{
    rr *r = rr_of_io(io);
    cc_raft_match_received(&r->match, msg);
    r->raft_recv(io, msg);
    cc_raft_match_handled(&r->match);
}

static int match_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    rr *r = rr_of_io(io);
    r->raft_recv = recv;
    return r->io_start(io, msecs, tick, match_recv);
}

static int match_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                      raft_io_send_cb cb)
{
    rr *r = rr_of_io(io);
    struct raft_message fixed;
    return cc_raft_match_answer(&r->match, msg, &fixed) ? r->io_send(io, req, &fixed, cb)
                                                        : r->io_send(io, req, msg, cb);
}

static void stream_nodelay(struct uv_stream_s *s)
{
    if (s && s->type == UV_TCP) (void)uv_tcp_nodelay((uv_tcp_t *)s, 1); /* best effort */
}

static void auth_free_if_idle(auth_conn *ac)
{
    if (ac->open > 0) return;
    sodium_memzero(&ac->hs, sizeof ac->hs); /* an exchange that failed still holds its ephemeral secret */
    free(ac);
}

static void auth_timer_closed(uv_handle_t *h)
{
    auth_conn *ac = h->data;
    ac->open--;
    auth_free_if_idle(ac);
}

static void auth_stream_closed(uv_handle_t *h)
{
    auth_conn *ac = h->data;
    raft_free(h); /* libraft's TCP transport allocated it */
    ac->open--;
    auth_free_if_idle(ac);
}

/* Take ac off the pending list and close its timer; the stream stays ours
 * until the caller hands it on or closes it. */
static void auth_finish(auth_conn *ac)
{
    ac->done = true;
    for (auth_conn **p = &ac->r->auth_pending; *p; p = &(*p)->next)
        if (*p == ac) {
            *p = ac->next;
            break;
        }
    uv_timer_stop(&ac->timer);
    uv_close((uv_handle_t *)&ac->timer, auth_timer_closed);
}

/* The node is stopping, or raft_uv closed the transport: hand nothing on. */
static bool auth_stopping(const rr *r)
{
    return r->closing || r->auth_stopped;
}

static void auth_fail(auth_conn *ac, const char *why)
{
    if (ac->done) return;
    rr *r = ac->r;
    ac->open++; /* held until the end of this function */
    auth_finish(ac);
    uint64_t now = cc_now_ms();
    bool stopping = auth_stopping(r);
    if (!stopping) {
        pthread_mutex_lock(&r->mu);
        r->auth_failed++;
        pthread_mutex_unlock(&r->mu);
    }
    if (!stopping && now - r->auth_logged_ms >= RAFT_AUTH_LOG_MS) {
        r->auth_logged_ms = now;
        if (ac->accepting)
            cc_node_log(CC_LOG_WARN, "raft",
                        "refused a raft connection from %s claiming raft id %llu (%s): %s", ac->peer,
                        (unsigned long long)ac->id, ac->address, why);
        else
            cc_node_log(CC_LOG_WARN, "raft", "raft connection to id %llu dropped: %s",
                        (unsigned long long)ac->id, why);
    }
    uv_read_stop(ac->stream);
    ac->stream->data = ac;
    ac->open++;
    uv_close((uv_handle_t *)ac->stream, auth_stream_closed);
    if (!ac->accepting) ac->cb(ac->outer, NULL, stopping ? RAFT_CANCELED : RAFT_NOCONNECTION);
    ac->open--;
    auth_free_if_idle(ac);
}

/* The exchange is over and the peer is who it says: hand the stream on. */
static void auth_succeed(auth_conn *ac)
{
    if (ac->done) return;
    rr *r = ac->r;
    if (auth_stopping(r)) {
        auth_fail(ac, "this node is stopping");
        return;
    }
    cc_raft_cipher send, recv;
    if (!cc_raft_hs_keys(&ac->hs, &send, &recv)) {
        auth_fail(ac, "the peer's session key is unusable");
        return;
    }
    ac->open++;
    auth_finish(ac);
    char who[80];
    if (ac->accepting)
        snprintf(who, sizeof who, "raft id %llu (%s)", (unsigned long long)ac->id, ac->peer);
    else
        snprintf(who, sizeof who, "raft id %llu", (unsigned long long)ac->id);
    uv_stream_t *side;
    int rv =
        cc_raft_link_start(&r->loop, &r->links, ac->stream, &send, &recv, who, &side); /* owns the stream */
    sodium_memzero(&send, sizeof send);
    sodium_memzero(&recv, sizeof recv);
    if (rv != 0) {
        cc_node_log(CC_LOG_WARN, "raft", "raft connection with %s dropped: %s", who, uv_strerror(rv));
        if (!ac->accepting) ac->cb(ac->outer, NULL, RAFT_NOCONNECTION);
    } else if (ac->accepting) {
        r->tcp_accepted(&r->transport, ac->id, ac->address, side);
    } else {
        ac->cb(ac->outer, side, 0);
    }
    ac->open--;
    auth_free_if_idle(ac);
}

static void auth_timeout(uv_timer_t *t)
{
    auth_fail(t->data, "no answer in time");
}

static void auth_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    auth_conn *ac = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)ac->into + ac->have, (unsigned)(ac->need - ac->have)); /* no more */
}

static void auth_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    auth_conn *ac = s->data;
    (void)buf;
    if (ac->done) return;
    if (n < 0) {
        auth_fail(ac, n == UV_EOF ? "the peer closed the connection" : uv_strerror((int)n));
        return;
    }
    ac->have += (size_t)n;
    if (ac->have < ac->need) return;
    uv_read_stop(s);
    ac->on_read(ac);
}

/* Read exactly need bytes into into, then call then. */
static void auth_expect(auth_conn *ac, uint8_t *into, size_t need, void (*then)(auth_conn *))
{
    ac->into = into;
    ac->have = 0;
    ac->need = need;
    ac->on_read = then;
    int rv = uv_read_start(ac->stream, auth_alloc, auth_read);
    if (rv != 0) auth_fail(ac, uv_strerror(rv));
}

static void auth_written(uv_write_t *w, int status)
{
    auth_conn *ac = w->data;
    ac->open--;
    if (status != 0 && !ac->done)
        auth_fail(ac, uv_strerror(status));
    else
        auth_free_if_idle(ac);
}

/* Queue n bytes of buf (which lives in ac) for writing. */
static void auth_send(auth_conn *ac, const uint8_t *buf, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
    uv_write_t *w = &ac->writes[ac->written++]; /* its callback may not have run yet */
    w->data = ac;
    ac->open++;
    int rv = uv_write(w, ac->stream, &b, 1, auth_written);
    if (rv != 0) {
        ac->open--;
        auth_fail(ac, uv_strerror(rv));
    }
}

static auth_conn *auth_start(rr *r, struct uv_stream_s *stream, bool accepting, raft_id id,
                             const char *address)
{
    auth_conn *ac = calloc(1, sizeof *ac);
    if (!ac) return NULL;
    ac->r = r;
    ac->stream = stream;
    ac->accepting = accepting;
    ac->id = id;
    /* both go into the log: no control characters from the wire */
    snprintf(ac->address, sizeof ac->address, "%s", address ? address : "");
    for (char *c = ac->address; *c; c++)
        if (*c < 0x21 || *c > 0x7e) *c = '?';
    snprintf(ac->peer, sizeof ac->peer, "an unknown address");
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (accepting && stream->type == UV_TCP &&
        uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48] = "";
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        if (ip[0]) snprintf(ac->peer, sizeof ac->peer, "%s", ip);
    }
    stream->data = ac;
    uv_timer_init(&r->loop, &ac->timer);
    ac->timer.data = ac;
    ac->open = 1; /* the timer's close */
    uv_timer_start(&ac->timer, auth_timeout, RAFT_AUTH_MS, 0);
    ac->next = r->auth_pending;
    r->auth_pending = ac;
    return ac;
}

/* Is pk the node key of raft id id: a node network/config lists (or a
 * peer named at join, or vouched for), or a genesis node governance has
 * not removed? */
static bool auth_peer_known(rr *r, raft_id id, const uint8_t pk[CC_PUBKEY_BYTES])
{
    pthread_mutex_lock(&r->mu);
    const member *m = member_by_id_locked(r, id);
    bool ok = m && memcmp(m->pk, pk, CC_PUBKEY_BYTES) == 0;
    pthread_mutex_unlock(&r->mu);
    if (!ok && id >= 1 && id <= r->g->node_count) /* a genesis node, unless governance removed it */
        ok = memcmp(r->g->nodes[id - 1].pk, pk, CC_PUBKEY_BYTES) == 0 && !cc_chain_node_removed(r->chain, pk);
    return ok;
}

/* A key this node does not know, under the raft id derived from it, may
 * be a node added while this one was away (it has not applied that block,
 * and cannot while that node leads): keep it for vouch_probe. True when
 * kept. */
static bool auth_note_unknown(rr *r, raft_id id, const uint8_t pk[CC_PUBKEY_BYTES])
{
    if (id <= r->g->node_count || cc_raft_id_of(r->g, pk) != id) return false;
    pthread_mutex_lock(&r->mu);
    bool unknown = !member_by_id_locked(r, id);
    if (unknown) {
        memset(&r->unvouched, 0, sizeof r->unvouched);
        r->unvouched.id = id;
        memcpy(r->unvouched.pk, pk, CC_PUBKEY_BYTES);
        r->unvouched_set = true;
    }
    pthread_mutex_unlock(&r->mu);
    return unknown;
}

/* Is pk the node key of the peer's raft id? If not, the exchange fails,
 * saying why. */
static bool auth_peer_checked(auth_conn *ac, const uint8_t pk[CC_PUBKEY_BYTES])
{
    char hex[CC_HASH_HEX], why[200];
    if (auth_peer_known(ac->r, ac->id, pk)) return true;
    if (auth_note_unknown(ac->r, ac->id, pk))
        snprintf(why, sizeof why,
                 "raft id %llu (key %.16s...) is no node this node knows (yet); the other nodes are "
                 "asked once no leader is heard",
                 (unsigned long long)ac->id, cc_hex(pk, CC_PUBKEY_BYTES, hex));
    else
        snprintf(why, sizeof why, "key %.16s... is not the node key of that raft id",
                 cc_hex(pk, CC_PUBKEY_BYTES, hex));
    auth_fail(ac, why);
    return false;
}

/* accepting: the answer is in */
static void auth_check_answer(auth_conn *ac)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    if (!cc_raft_hs_check_answer(&ac->hs, ac->answer, pk)) {
        auth_fail(ac, "the answer's signature does not verify");
        return;
    }
    if (!auth_peer_checked(ac, pk)) return;
    cc_raft_hs_admit(&ac->hs, ac->r->key, ac->admit);
    auth_send(ac, ac->admit, sizeof ac->admit);
    auth_succeed(ac); /* the admit is queued ahead of every frame */
}

/* connecting: the admit is in; the accepting node must be the raft id
 * this node meant to reach, or the link would be encrypted to a stranger */
static void auth_check_admit(auth_conn *ac)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    if (!cc_raft_hs_check_admit(&ac->hs, ac->admit, pk)) {
        auth_fail(ac, "the peer did not admit this node, or its admit does not verify");
        return;
    }
    if (!auth_peer_checked(ac, pk)) return;
    auth_succeed(ac);
}

/* connecting: the hello is in */
static void auth_answer_hello(auth_conn *ac)
{
    rr *r = ac->r;
    if (!cc_raft_hs_answer(&ac->hs, r->key, r->g->chain_id, ac->id, ac->hello, ac->answer)) {
        auth_fail(ac, "the peer's hello is not a carechain raft2 hello (a node of another version?)");
        return;
    }
    auth_send(ac, ac->answer, sizeof ac->answer);
    if (!ac->done) auth_expect(ac, ac->admit, sizeof ac->admit, auth_check_admit);
}

typedef struct auth_connect {
    struct raft_uv_connect req; /* first: the transport's callback gets &req */
    struct raft_uv_connect *outer;
    raft_uv_connect_cb cb;
    raft_id id;
    rr *r;
} auth_connect;

static void auth_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    auth_connect *c = (auth_connect *)req;
    struct raft_uv_connect *outer = c->outer;
    raft_uv_connect_cb cb = c->cb;
    raft_id id = c->id;
    rr *r = c->r;
    free(c);
    if (status != 0) {
        cb(outer, stream, status);
        return;
    }
    stream_nodelay(stream);
    auth_conn *ac = auth_start(r, stream, false, id, NULL);
    if (!ac) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        cb(outer, NULL, RAFT_NOMEM);
        return;
    }
    ac->outer = outer;
    ac->cb = cb;
    auth_expect(ac, ac->hello, sizeof ac->hello, auth_answer_hello);
}

static int auth_connect_start(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                              const char *address, raft_uv_connect_cb cb)
{
    rr *r = rr_of_transport(t);
    auth_connect *c = calloc(1, sizeof *c);
    if (!c) return RAFT_NOMEM;
    c->r = r;
    c->outer = req;
    c->cb = cb;
    c->id = id;
    int rv = r->tcp_connect(t, &c->req, id, address, auth_connected);
    if (rv != 0) free(c);
    return rv;
}

static void auth_accepted(struct raft_uv_transport *t, raft_id id, const char *address,
                          struct uv_stream_s *stream)
{
    rr *r = rr_of_transport(t);
    stream_nodelay(stream);
    auth_conn *ac = auth_start(r, stream, true, id, address);
    if (!ac) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        return;
    }
    cc_raft_hs_hello(&ac->hs, r->g->chain_id, r->self_id, ac->hello);
    auth_send(ac, ac->hello, sizeof ac->hello);
    if (!ac->done) auth_expect(ac, ac->answer, sizeof ac->answer, auth_check_answer);
}

static int auth_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    rr *r = rr_of_transport(t);
    r->tcp_accepted = cb;
    return r->tcp_listen(t, auth_accepted);
}

/* Closing the transport: every exchange still running ends now (a
 * connecting one tells raft_uv its request was cancelled). */
static void auth_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    rr *r = rr_of_transport(t);
    r->auth_stopped = true;
    while (r->auth_pending) auth_fail(r->auth_pending, "this node is stopping");
    cc_raft_links_close(&r->links);
    r->tcp_close(t, cb);
}

/* The voters of a first start into conf: the node set as the applied
 * state records it, or the genesis nodes when the state's set cannot be
 * read. Returns a libraft error code. */
static int bootstrap_voters(rr *r, struct raft_configuration *conf)
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
static cc_err loop_setup(rr *r, cc_errbuf *eb)
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
    r->tcp_listen = r->transport.listen;
    r->tcp_connect = r->transport.connect;
    r->tcp_close = r->transport.close;
    r->transport.listen = auth_listen;
    r->transport.connect = auth_connect_start;
    r->transport.close = auth_close;
    if ((rv = raft_uv_init(&r->io, &r->loop, r->raft_dir, &r->transport)) != 0) {
        cc_errf(eb, CC_ERR_IO, "raft storage in %s: %s", r->raft_dir, r->io.errmsg);
        raft_uv_tcp_close(&r->transport);
        goto err_loop;
    }
    r->io_start = r->io.start;
    r->io_send = r->io.send;
    r->io.start = match_start;
    r->io.send = match_send;
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
        if (head.height > 0) restore_mark(r, true);
    }
    pthread_mutex_lock(&r->mu);
    r->restore_pending = restore_marked(r);
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
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, RAFT_TICK_MS, RAFT_TICK_MS);
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
    rr *r = arg;
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

static bool ready_locked(const rr *r)
{
    return r->state == RAFT_LEADER && r->ready_term == r->term && r->term != 0 && !r->halted &&
           !r->stop_requested;
}

static cc_err raft_propose(cc_consensus *cs, cc_proposal *p)
{
    rr *r = cs->impl;
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
    rr *r = cs->impl;
    pthread_mutex_lock(&r->mu);
    bool ready = ready_locked(r);
    pthread_mutex_unlock(&r->mu);
    return ready;
}

static uint64_t raft_removed_at(cc_consensus *cs)
{
    rr *r = cs->impl;
    pthread_mutex_lock(&r->mu);
    uint64_t at = r->removed ? r->removed_at : 0;
    pthread_mutex_unlock(&r->mu);
    return at;
}

static void raft_status(cc_consensus *cs, cc_consensus_status *out)
{
    rr *r = cs->impl;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    out->raft_state = state_name(r->state);
    out->term = r->term;
    const member *m = r->leader_id ? member_by_id_locked(r, r->leader_id) : NULL;
    if (m) {
        snprintf(out->leader, sizeof out->leader, "%s", m->name);
        snprintf(out->leader_api, sizeof out->leader_api, "%s", m->api);
    }
    out->leader_self = r->leader_id == r->self_id;
    for (unsigned k = 0; k < r->conf_count; k++) out->voters += r->conf[k].role == RAFT_VOTER;
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
    rr *r = cs->impl;
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
    rr *r = cs->impl;
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
    rr *r = cs->impl;
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
static cc_err read_raft_config(rr *r, const char *node_dir, cc_errbuf *eb)
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
    rr *r = calloc(1, sizeof *r);
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
    members_refresh(r);
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
    repair_soon_locked(r, REPAIR_FIRST_MS);
    r->leader_seen_ms = cc_now_ms(); /* a start gives raft LONELY_MS to find a leader */
    pthread_mutex_unlock(&r->mu);
    /* optional: without it, attachments missed by a catch-up stay missing */
    r->repair_started = pthread_create(&r->repair_thread, NULL, repair_main, r) == 0;
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
