/*
 * node/raft_repair.c — the repair thread: finds the attachments the ledger
 * commits to that this node lacks and fetches them from peers; when no
 * leader is heard, asks the peers whether this node was removed (the
 * membership probe) and vouches for nodes added while it was away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/log.h"
#include "node/peer_answer.h"
#include "node/raft_node.h"

#define REPAIR_FETCH_AT       64   /* missing attachments found before they are fetched */
#define REPAIR_SCAN_CHUNK     256  /* rec/ records read in one snapshot */
#define REPAIR_PAUSE_MS       10   /* between two chunks: the scan takes a small part of a core */
#define LONELY_RECHECK_MS     5000 /* and ask again after this long, while no leader is heard */
#define PROBE_BLOCK_MAX       (4u * 1024 * 1024) /* GET /v1/blocks/{h} of a 2,000-tx block */
#define PROBE_PROOF_MAX       (4u * 1024 * 1024) /* a proof with its membership steps */
#define PROBE_UNPROVEN_LOG_MS 60000              /* an unproven removal is logged at most this often */

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
 * through cc_chain_attachment_restore_if, which asks cc_raft_record_erased while
 * no block can commit: bytes erased meanwhile do not come back. */

typedef struct repair_scan {
    cc_raft_node *r;
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
static void repair_pause(cc_raft_node *r, unsigned ms)
{
    const struct timespec until = cc_time_after_ms(CLOCK_REALTIME, ms);
    pthread_mutex_lock(&r->mu);
    while (!r->stop_requested && !r->apply_stop && pthread_cond_timedwait(&r->cond, &r->mu, &until) == 0)
        continue;
    pthread_mutex_unlock(&r->mu);
}

/* One pass over every rec/ record, in chunks (see the section comment). */
static void repair_pass(cc_raft_node *r, CURL *c)
{
    repair_scan s = {.r = r};
    char(*apis)[MEMBER_ADDR_MAX] = NULL;
    size_t n = 0, missing = 0, got = 0, chunk = repair_chunk();
    bool more = true;
    cc_err rc = CC_OK;
    while (more && !cc_raft_stopping(r)) {
        rc = cc_chain_state_scan(r->chain, "rec/", s.last[0] ? s.last : NULL, chunk, note_missing, &s, &more);
        if (rc != CC_OK) {
            cc_node_log(CC_LOG_WARN, "raft", "cannot read the records to find missing attachments: %s",
                        cc_strerror(rc));
            more = false; /* fetch what was found, then end the pass */
        }
        if (s.count > 0 && (s.count >= REPAIR_FETCH_AT || !more)) {
            if (!apis && (apis = calloc(RAFT_MEMBERS_MAX, sizeof *apis)))
                n = cc_raft_peer_apis(r, apis, RAFT_MEMBERS_MAX);
            for (size_t i = 0; i < s.count && !cc_raft_stopping(r); i++)
                got += cc_raft_fetch_one_attachment(r, c, &s.found[i], apis, n, 0);
            missing += s.count;
            s.count = 0;
        }
        if (more) repair_pause(r, REPAIR_PAUSE_MS);
    }
    if (rc == CC_OK && !more && !cc_raft_stopping(r)) { /* read and fetched to the end */
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
void cc_raft_repair_soon_locked(cc_raft_node *r, uint64_t delay_ms)
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

static bool probe_due_locked(const cc_raft_node *r, uint64_t now)
{
    return !r->removed && now >= r->leader_seen_ms + LONELY_MS && now >= r->probe_at;
}

/* A peer's JSON answer to GET path, or NULL without a usable one (status 200, at most
 * max bytes). Caller decrefs. */
static json_t *peer_get_json(cc_raft_node *r, CURL *c, const char *api, const char *path, size_t max)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = max, .cancelled = cc_raft_stop_asked, .cancel_ctx = r};
    cc_peer_url(url, sizeof url, api, "%s", path);
    return cc_peer_get_json(c, url, PROBE_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a);
}

/* Peer api's record of node pk (GET /v1/network/nodes/{id}), or NULL
 * without a usable answer. Caller decrefs. */
static json_t *peer_node_record(cc_raft_node *r, CURL *c, const char *api, const uint8_t pk[CC_PUBKEY_BYTES])
{
    char path[64 + CC_HASH_HEX], hex[CC_HASH_HEX];
    snprintf(path, sizeof path, "/v1/network/nodes/%s", cc_hex(pk, CC_PUBKEY_BYTES, hex));
    return peer_get_json(r, c, api, path, PROBE_ANSWER_MAX);
}

/* Whether peer api proves that this node was removed at height h: the
 * proof of a tx of block h, anchored at a checkpoint above applied whose
 * members leave this node out. eb says why not. */
static bool peer_proves_removal(cc_raft_node *r, CURL *c, const char *api, uint64_t h, uint64_t applied,
                                cc_errbuf *eb)
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
static int probe_peer(cc_raft_node *r, CURL *c, const char *api, uint64_t applied, uint64_t *at)
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
static void membership_probe(cc_raft_node *r, CURL *c)
{
    char(*apis)[MEMBER_ADDR_MAX] = calloc(RAFT_MEMBERS_MAX, sizeof *apis);
    size_t behind = 0;
    uint64_t at = 0;
    cc_head head;
    if (!apis) return;
    cc_chain_head(r->chain, &head);
    size_t n = cc_raft_peer_apis(r, apis, RAFT_MEMBERS_MAX);
    for (size_t i = 0; i < n && !at && !cc_raft_stopping(r); i++) {
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

static void vouch_probe(cc_raft_node *r, CURL *c)
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
    for (size_t i = 0; i < count && !cc_raft_stopping(r); i++) {
        if (memcmp(vouchers[i].pk, r->key->pk, CC_PUBKEY_BYTES) == 0 || !vouchers[i].api[0]) continue;
        json_t *doc = peer_node_record(r, c, vouchers[i].api, want.pk);
        const char *st = json_string_value(json_object_get(doc, "status"));
        member m = want;
        if (st && strcmp(st, "active") == 0 && cc_raft_member_fill(&m, doc)) {
            yes++;
            said = m;
        }
        json_decref(doc);
    }
    free(vouchers);
    if (yes < count / 2 + 1) return;
    pthread_mutex_lock(&r->mu);
    bool added = !cc_raft_member_by_id_locked(r, want.id) && r->known_count < RAFT_MEMBERS_MAX;
    if (added) r->known[r->known_count++] = said;
    pthread_mutex_unlock(&r->mu);
    if (added)
        cc_node_log(CC_LOG_INFO, "raft",
                    "%s (raft id %llu), which this node has not applied the block adding yet, is an active "
                    "node for %zu of the %zu nodes this node knows: its raft connections are admitted",
                    said.name, (unsigned long long)want.id, yes, count);
}

void *cc_raft_repair_main(void *arg)
{
    cc_raft_node *r = arg;
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
