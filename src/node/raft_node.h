/*
 * node/raft_node.h — the raft node object (cc_raft_node) that
 * consensus_raft.c and its companions share: raft_fetch.c (catch-up from
 * peers), raft_repair.c (the repair thread: missing attachments, the
 * membership probe, vouching), raft_restore.c (the first leader after a
 * whole-network restore) and raft_transport.c (raft's TCP transport,
 * authenticated and encrypted). consensus_raft.c's top comment gives the
 * threads, the states and the invariants; every function here keeps them.
 * Only those five files include this header.
 */
#ifndef CC_NODE_RAFT_NODE_H
#define CC_NODE_RAFT_NODE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#include <curl/curl.h>
#include <jansson.h>

#include "carechain/os.h"
#include "node/consensus.h"
#include "node/raft_auth.h"
#include "node/raft_entry.h"
#include "node/raft_link.h"
#include "node/raft_match.h"
#include "node/raft_rejoin.h"

#define RAFT_STOP_POLL_MS   10
#define SNAP_VERSION        1
#define SNAP_BYTES          (8 + 8 + CC_HASH_BYTES + CC_HASH_BYTES) /* a multiple of 8, see CC_RAFT_ENTRY_ALIGN */
#define CATCHUP_CONNECT_MS  1000L
#define CATCHUP_URL_MAX     512
#define RAFT_MEMBERS_MAX    128 /* nodes of network/config this node tracks */
#define MEMBER_NAME_MAX     64
#define MEMBER_ADDR_MAX     128
#define ATT_RECORD_MAX      72   /* a record id (32 hex) with room to spare */
#define LONELY_MS           5000 /* no leader heard this long: ask the peers whether this node was removed */
#define PROBE_TIMEOUT_MS    2000L
#define PROBE_ANSWER_MAX    (64u * 1024)
#define RESTORE_WITHOUT_MAX 16 /* names config.json "restore_without" may list */

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

typedef struct cc_raft_node {
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
    /* and its append, wrapped to halt on a failed write of the raft log */
    int (*io_append)(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                     unsigned n, raft_io_append_cb cb);
    /* and its snapshot load, store and read, wrapped so that libraft never
     * reads a snapshot raft_uv did not fill (raft_transport.c) */
    int (*io_load)(struct raft_io *io, raft_term *term, raft_id *voted_for, struct raft_snapshot **snapshot,
                   raft_index *start_index, struct raft_entry *entries[], size_t *n_entries);
    int (*io_snapshot_put)(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                           const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb);
    int (*io_snapshot_get)(struct raft_io *io, struct raft_io_snapshot_get *req, raft_io_snapshot_get_cb cb);
    /* and its writes of the term and the vote, watched as the log's are */
    int (*io_set_term)(struct raft_io *io, raft_term term);
    int (*io_set_vote)(struct raft_io *io, raft_id server_id);
    bool out_of_raft;      /* a write of the raft log, term or vote failed: the node halted and left raft */
    bool snapshot_stored;  /* raft_uv holds a snapshot on disk: loaded at start or stored since */
    bool snapshot_refused; /* a read of a snapshot it has not was refused (logged once) */
    raft_io_recv_cb raft_recv; /* libraft's receive callback */
    cc_raft_match match;
    cc_raft_rejoin rejoin; /* a raft log that started empty: which votes to drop (raft_rejoin.h) */
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
    uint64_t clock_wait_until;     /* uv_now until which a leader waits for the peers' clocks */
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
    uint64_t votes_refused;     /* rejoin.refused (for /metrics) */
    bool rejoining;             /* rejoin.rejoining (for /v1/status) */
    bool clock_off;             /* this node's clock is off the others' (clock_check.h): it does not lead */
    bool clock_unread;          /* just started, the others' clocks not read yet: it does not propose */
    uint64_t clock_handoffs;    /* leaderships handed on for it (for /metrics) */
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
    uint64_t blocks_fetched;           /* blocks fetched from peers (cc_raft_catch_up_to) */
    uint64_t attachments_fetched;      /* their attachment bytes fetched from peers */
    uint64_t repair_passes;            /* repair thread: completed passes */
    uint64_t attachments_missing;      /* repair thread: missing after the last completed pass */
    uint64_t block_requests;           /* requests that brought those blocks */
    char catchup_api[MEMBER_ADDR_MAX]; /* apply thread: the peer that gave blocks last */
    late_att *late;                    /* apply thread: attachments no peer gave yet */
    size_t late_count, late_cap;
    /* the attachment repair (cc_raft_repair_main) */
    pthread_t repair_thread;
    bool repair_started;
    bool repair_due;      /* a pass is wanted, from repair_at on */
    bool catching_up;     /* the apply thread is in cc_raft_catch_up (which fetches attachments itself) */
    bool restore_pending; /* raft started afresh on a chain past genesis, and no entry has been
                           * applied since: a leader asks every node for its head before proposing
                           * (cc_raft_restore_gate); raft/RESTORE_MARK says so across restarts */
    char restore_without[RESTORE_WITHOUT_MAX][MEMBER_NAME_MAX]; /* config.json: nodes not to wait for */
    unsigned restore_waiting_count; /* cc_raft_restore_gate waits for the heads of these (under mu; 0: not) */
    char restore_waiting_names[CC_RESTORE_WAITING_MAX][64];
    size_t restore_without_count;
    uint64_t repair_at; /* cc_now_ms */
    /* the membership probe (cc_raft_repair_main too) */
    uint64_t leader_seen_ms;     /* loop: the last tick that knew a leader (cc_now_ms) */
    uint64_t probe_at;           /* no probe before this cc_now_ms */
    uint64_t unproven_logged_ms; /* repair thread: when an unproven removal was last logged */
    /* outcome */
    bool halted;
    char halt_reason[CC_HALT_REASON_BYTES];
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
} cc_raft_node;

/* A chain head as a raft snapshot records it (see "Snapshots" below), or
 * any head a catch-up must reach. */
typedef struct snap_record {
    uint64_t height;
    uint8_t hash[CC_HASH_BYTES];
    uint8_t state_root[CC_HASH_BYTES];
} snap_record;

/* ---- consensus_raft.c ---- */

/* Stop applying for good (invariant 6); the node keeps serving reads. */
void cc_raft_halt(cc_raft_node *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Halt, saying why, when this build does not know the ruleset of the
 * block after the head (invariant 6; apply thread). */
void cc_raft_ruleset_check(cc_raft_node *r);
/* Fill m from a node record {"id"?, "name", "api", "raft"}; false when a field is missing. */
bool cc_raft_member_fill(member *m, const json_t *rec);
/* The state value at key, at this node's head, as JSON; NULL when absent or
 * not JSON. The caller decrefs it. */
json_t *cc_raft_state_json(cc_chain *c, const char *key);
/* Re-read the node set after a block that changed it (apply thread, or
 * init before the threads run). */
void cc_raft_members_refresh(cc_raft_node *r);
/* The node with raft id id (mu held): network/config first, then what a
 * peer said at join. NULL when unknown. */
const member *cc_raft_member_by_id_locked(const cc_raft_node *r, uint64_t id);
/* "node4" for raft id id, or its number. out has MEMBER_NAME_MAX bytes. */
const char *cc_raft_member_name(cc_raft_node *r, uint64_t id, char *out);
/* Did a committed block change the node set (a successful network.* tx)? */
bool cc_raft_touches_network(const cc_tx *txs, size_t n, const cc_result *results);
/* Commit one entry (invariant 4 says which are skipped). pre, when not
 * NULL, is the entry's block as the pre-verifier decoded it (signatures
 * checked): it is used instead of decoding the entry again, and left empty. */
void cc_raft_apply_entry(cc_raft_node *r, const uint8_t *e, size_t len, cc_block *pre, cc_result *results);

/* ---- raft_fetch.c (apply thread, except where it says) ---- */

/* The snapshot record of a head, and back (false when p is not one). */
void cc_raft_snap_encode(const cc_head *h, uint8_t out[SNAP_BYTES]);
bool cc_raft_snap_decode(const uint8_t *p, size_t len, snap_record *out) CC_WUR;
/* Whether the node was asked to stop (any thread). */
bool cc_raft_stopping(cc_raft_node *r);
/* cc_peer_answer.cancelled for a request to a peer (ctx: the node). */
bool cc_raft_stop_asked(void *r);
/* The other nodes' API addresses, without repeats; returns the count (any thread). */
size_t cc_raft_peer_apis(cc_raft_node *r, char (*out)[MEMBER_ADDR_MAX], size_t cap);
/* Is record id erased on the ledger (at this node's head)? Its bytes must not come back. */
bool cc_raft_record_erased(cc_raft_node *r, const char *id);
/* Fetch one attachment from the peers (apis[first] first), check it
 * against its SHA-256 and store it, unless its record was erased
 * meanwhile; true once stored (or no longer wanted). */
bool cc_raft_fetch_one_attachment(cc_raft_node *r, CURL *c, const late_att *att,
                                  char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t first);
/* Reach the chain head s names: fetch the blocks this node lacks from its
 * peers, commit each with cc_chain_apply, then compare the hash (and the
 * state root when check_root). what names the target in the log. False when
 * this node halted, or is stopping (catchup_abandoned). */
bool cc_raft_catch_up_to(cc_raft_node *r, const snap_record *s, bool check_root, const char *what,
                         cc_result *results);
/* Reach the chain head a raft snapshot record names (an apply item with restore set). */
void cc_raft_catch_up(cc_raft_node *r, const uint8_t *rec, size_t len, cc_result *results);

/* ---- raft_repair.c ---- */

/* Ask for a repair pass at cc_now_ms() + delay_ms (under r->mu). */
void cc_raft_repair_soon_locked(cc_raft_node *r, uint64_t delay_ms);
/* The repair thread (arg: the node). */
void *cc_raft_repair_main(void *arg);

/* ---- raft_restore.c (apply thread, but for the marks) ---- */

/* Is there a file raft/<name>? cc_raft_mark writes raft/<name> (text: one
 * line saying what it means), a state that survives a restart, or removes
 * it when on is false; a failure is logged. Any thread. */
bool cc_raft_dir_has(const cc_raft_node *r, const char *name);
void cc_raft_mark(cc_raft_node *r, const char *name, const char *text, bool on);
/* Is raft/RESTORE_MARK there? Write it (on) or remove it (!on). */
bool cc_raft_restore_marked(const cc_raft_node *r);
void cc_raft_restore_mark(cc_raft_node *r, bool on);
/* The leader of term, before it proposes: take the blocks of the furthest
 * node. Gives up when this node stops leading: the next leader asks. */
void cc_raft_restore_gate(cc_raft_node *r, uint64_t term, cc_result *results);

/* ---- raft_transport.c (loop thread) ---- */

/* Wrap r->transport (TCP_NODELAY, authentication, encryption) and r->io
 * (answers to AppendEntries corrected, raft_match.h; a failed write of the
 * log, term or vote halts the node and takes it out of raft; no read of a
 * snapshot raft_uv does not have). Call each once, after raft_uv_tcp_init
 * and raft_uv_init respectively. */
void cc_raft_transport_wrap(cc_raft_node *r);
void cc_raft_io_wrap(cc_raft_node *r);
/* The node left the rejoining state (raft_rejoin.h): remove the mark, say
 * so. */
void cc_raft_rejoined(cc_raft_node *r);

#endif
