/*
 * node/checkpoints.c — the senders of checkpoint signature exchange: one
 * thread per peer (every other genesis node, and each node governance adds,
 * started by the auditor once it appears in network/config) pushes this
 * node's checkpoint signatures to the peer's POST /v1/checkpoint/signatures
 * (see checkpoints.h; the receiving side is http_checkpoints.c). Once a
 * second each sender also reads its peer's clock (GET /v1/time) for the
 * clock check (clock_check.h).
 *
 * A sender's state is `taken`: the highest height the peer has stored
 * this node's signature for, with every lower height of the window. Each
 * round it sends the heights (max(taken + 1, head - WINDOW + 1) .. head]:
 *
 *   IDLE --head moved--> SEND --all stored--> IDLE (taken = head)
 *                          |--peer lacks a block ("pending")--> wait RETRY, SEND
 *                          |--no answer--> wait back-off (RETRY .. BACKOFF_MAX), SEND
 *                          +--refused (4xx)--> log, taken = head, IDLE
 *
 * Invariants:
 *   1. A sender only signs headers of blocks in this node's own store
 *      (cc_checkpoint_sign is deterministic: the signature is the one
 *      cc_chain_apply stored at commit).
 *   2. At most CC_CHECKPOINT_WINDOW heights per request; a peer that is
 *      further behind gets the newest ones once it catches up (only the
 *      newest majority-signed height matters for proofs).
 *   3. Senders never write to the chain and hold no lock while they talk.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "carechain/os.h"
#include "node/checkpoints.h"
#include "node/log.h"
#include "node/peer_answer.h"
#include "node/node_internal.h"

#define CKPT_POLL_MS            25   /* how often an idle sender looks at the head */
#define CKPT_RETRY_MS           100  /* a peer lacked a block, or failed: try again after */
#define CKPT_BACKOFF_MAX_MS     2000 /* the longest pause before trying an unreachable peer */
#define CKPT_TIMEOUT_MS         2000L
#define CKPT_CONNECT_TIMEOUT_MS 500L
#define CKPT_ANSWER_MAX         (256u * 1024)
#define CKPT_WARN_EVERY         50   /* log every Nth consecutive failure */
#define CKPT_PULL_MS            500  /* how often the auditor looks for heights without a majority */
#define CKPT_PULL_HALTED_MS     2000 /* and how often once the chain is halted */
#define CKPT_PULL_HEIGHTS       8    /* heights pulled per round at most */
#define CKPT_PULL_FOREIGN       4    /* other checkpoints tallied per height */
#define CKPT_PEERS_MAX          128  /* API addresses the auditor asks */
#define CKPT_ADDR_MAX           128
#define CKPT_KEY_MAX            96
#define CLOCK_TIMEOUT_MS        1000L /* a reading slower than CC_CLOCK_RTT_MAX_MS counts for nothing anyway */
#define CLOCK_ANSWER_MAX        256

typedef struct peer {
    cc_checkpoints *cp;
    char id[CC_HASH_HEX]; /* its node key */
    char name[64];
    char api[CKPT_ADDR_MAX];
    pthread_t thread;
    bool started;
    uint64_t taken;
    unsigned failures;     /* consecutive rounds without a usable answer */
    uint64_t clock_due_ms; /* monotonic: when to read the peer's clock next */
    CURL *curl;
    struct curl_slist *headers;
} peer;

struct cc_checkpoints {
    cc_node *node;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* the stop */
    bool stop;
    size_t peer_count; /* senders started (under mu: the auditor adds them) */
    peer *peers;       /* CKPT_PEERS_MAX, never moved: each sender holds its own */
    pthread_t auditor;
    bool auditor_started;
    uint64_t audited_head; /* the auditor's view of the head one round ago */
    uint64_t gap_next;     /* the next height audit_gap pulls */
};

/* Sleep up to ms or until the stop; true when stopping. */
static bool pause_ms(cc_checkpoints *cp, unsigned ms)
{
    const struct timespec until = cc_time_after_ms(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&cp->mu);
    while (!cp->stop && pthread_cond_timedwait(&cp->cond, &cp->mu, &until) == 0) continue;
    bool stop = cp->stop;
    pthread_mutex_unlock(&cp->mu);
    return stop;
}

static bool stopping(cc_checkpoints *cp)
{
    pthread_mutex_lock(&cp->mu);
    bool stop = cp->stop;
    pthread_mutex_unlock(&cp->mu);
    return stop;
}

/* cc_peer_answer.cancelled: at the stop a request to a peer that does not
 * answer is abandoned. */
static bool stop_asked(void *cp)
{
    return stopping(cp);
}

/* {"signatures": [{height, node, sig, header}, ...]} for the heights of
 * from..to where this node is a consensus node (*count of them; the
 * others it has no signature for); NULL on OOM or when a block cannot be
 * read. Caller frees. */
static char *batch_body(cc_node *node, uint64_t from, uint64_t to, size_t *count)
{
    json_t *list = json_array();
    char *body = NULL;
    cc_members *m = malloc(sizeof *m);
    *count = 0;
    for (uint64_t h = from; h <= to && list && m; h++) {
        cc_header hdr;
        cc_checkpoint_sig s;
        uint8_t raw[CC_HEADER_BYTES];
        char raw_hex[2 * CC_HEADER_BYTES + 1], sig_hex[2 * CC_SIG_BYTES + 1];
        if (cc_chain_header_get(node->chain, h, &hdr) != CC_OK ||
            cc_chain_members(node->chain, h, m) != CC_OK)
            goto out;
        if (cc_members_index(m, node->key.pk) < 0) continue;
        cc_checkpoint_sign(&hdr, m->hash, &node->key, &s);
        cc_header_encode(&hdr, raw);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s}", "height", (json_int_t)h, "node",
                                              node->node_id_hex, "sig", cc_hex(s.sig, CC_SIG_BYTES, sig_hex),
                                              "header", cc_hex(raw, sizeof raw, raw_hex)));
        (*count)++;
    }
    if (list && m) {
        json_t *doc = json_pack("{s:O}", "signatures", list);
        body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
out:
    free(m);
    json_decref(list);
    return body;
}

/* Read the peer's per-signature answer: the new `taken`, and whether the
 * peer still lacks some block. */
static void read_results(peer *p, const json_t *doc, uint64_t from, uint64_t to, bool *pending)
{
    const json_t *results = json_object_get(doc, "results");
    uint64_t taken = p->taken < from - 1 ? from - 1 : p->taken;
    *pending = false;
    for (size_t k = 0; k < json_array_size(results); k++) {
        const json_t *r = json_array_get(results, k);
        const char *st = json_string_value(json_object_get(r, "status"));
        json_int_t h = json_integer_value(json_object_get(r, "height"));
        if (!st || h != (json_int_t)(taken + 1) || (uint64_t)h > to) break;
        if (strcmp(st, "stored") != 0) {
            *pending = true;
            break;
        }
        taken = (uint64_t)h;
    }
    if (taken < to) *pending = true;
    p->taken = taken;
}

/* One round for peer p; returns how long to pause before the next. */
static unsigned send_round(peer *p)
{
    cc_node *node = p->cp->node;
    cc_head head;
    cc_peer_answer a = {.max = CKPT_ANSWER_MAX, .cancelled = stop_asked, .cancel_ctx = p->cp};
    long status = 0;
    unsigned pause = CKPT_POLL_MS;
    char url[192];

    cc_chain_head(node->chain, &head);
    uint64_t from = p->taken + 1;
    if (head.height >= CC_CHECKPOINT_WINDOW && from < head.height - CC_CHECKPOINT_WINDOW + 1)
        from = head.height - CC_CHECKPOINT_WINDOW + 1;
    if (head.height == 0 || from > head.height) return CKPT_POLL_MS;

    size_t count = 0;
    char *body = batch_body(node, from, head.height, &count);
    if (!body) return CKPT_RETRY_MS;
    if (count == 0) { /* not a consensus node at any of these heights: nothing to give */
        p->taken = head.height;
        free(body);
        return CKPT_POLL_MS;
    }
    cc_peer_url(url, sizeof url, p->api, "/v1/checkpoint/signatures");
    curl_easy_setopt(p->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
    CURLcode cr = cc_peer_perform(p->curl, url, CKPT_TIMEOUT_MS, CKPT_CONNECT_TIMEOUT_MS, &a, &status);
    json_t *doc = a.buf ? cc_json_parse((const uint8_t *)a.buf, a.len, NULL) : NULL;

    if (cr != CURLE_OK || status >= 500 || !doc) {
        /* unreachable, stopping, or busy: back off (quietly when the stop cut the request) */
        if (p->failures++ % CKPT_WARN_EVERY == 0 && cr != CURLE_ABORTED_BY_CALLBACK)
            cc_node_log(CC_LOG_WARN, "checkpoint", "cannot give %s checkpoint signatures: %s", p->name,
                        cr != CURLE_OK ? curl_easy_strerror(cr) : "no usable answer");
        unsigned shift = p->failures < 5 ? p->failures : 5;
        pause = CKPT_RETRY_MS << shift;
        if (pause > CKPT_BACKOFF_MAX_MS) pause = CKPT_BACKOFF_MAX_MS;
    } else if (status == 200) {
        bool pending = false;
        p->failures = 0;
        read_results(p, doc, from, head.height, &pending);
        pause = pending ? CKPT_RETRY_MS : CKPT_POLL_MS;
    } else {
        /* refused for good (409: the peer holds a different block here and
         * recorded the evidence); sending these heights again changes nothing */
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        p->failures = 0;
        cc_node_log(status == 409 ? CC_LOG_ERROR : CC_LOG_WARN, "checkpoint",
                    "%s refused this node's checkpoint signatures for heights %llu..%llu (%ld): %s", p->name,
                    (unsigned long long)from, (unsigned long long)head.height, status, msg ? msg : "");
        p->taken = head.height;
        pause = CKPT_RETRY_MS;
    }
    json_decref(doc);
    free(a.buf);
    free(body);
    return pause;
}

/* Has governance removed the peer (this node's state says so)? A removed
 * node needs no more signatures, and is usually stopped. */
static bool peer_removed(peer *p)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    return cc_unhex(p->id, pk, sizeof pk) == CC_OK && cc_chain_node_removed(p->cp->node->chain, pk);
}

/* Read the peer's clock into the node's table (clock_check.h): what it
 * says, between this node's clock before and after asking. */
static void read_clock(peer *p)
{
    cc_node *node = p->cp->node;
    cc_peer_answer a = {.max = CLOCK_ANSWER_MAX, .cancelled = stop_asked, .cancel_ctx = p->cp};
    char url[192];
    cc_peer_url(url, sizeof url, p->api, "/v1/time");
    uint64_t sent = cc_now_ms();
    json_t *doc = cc_peer_get_json(p->curl, url, CLOCK_TIMEOUT_MS, CKPT_CONNECT_TIMEOUT_MS, &a);
    uint64_t got = cc_now_ms();
    const json_t *t = json_object_get(doc, "time_ms");
    if (json_is_integer(t) && json_integer_value(t) > 0)
        cc_clocks_record(&node->clocks, p->id, (uint64_t)json_integer_value(t), sent, got,
                         cc_mono_ns() / 1000000u);
    json_decref(doc);
}

static void *sender_main(void *arg)
{
    peer *p = arg;
    unsigned pause = 0;
    while (!pause_ms(p->cp, pause)) {
        pause = send_round(p);
        uint64_t now = cc_mono_ns() / 1000000u;
        if (now >= p->clock_due_ms && p->failures == 0) {
            read_clock(p);
            p->clock_due_ms = now + CC_CLOCK_PROBE_MS;
        }
        if (p->failures > 0 && peer_removed(p)) { /* checked when it does not answer */
            cc_node_log(CC_LOG_INFO, "checkpoint",
                        "no more checkpoint signatures for %s: governance removed it", p->name);
            break;
        }
    }
    return NULL;
}

/* ---- the auditor: pull signatures, compare with a majority ------------------
 *
 * Every CKPT_PULL_MS the auditor looks for heights this node committed a
 * round ago that still lack a majority-signed checkpoint (the pushes did not
 * bring them: a peer was down, restarted, or is behind) and pulls the
 * signatures the peers hold for them (GET /v1/checkpoint/signatures?height=H
 * on every node it knows: genesis, then network/config). Each pulled
 * signature is verified over the header the peer sent. Signatures over this
 * node's own block are stored (cc_chain_checkpoint_add_many checks them
 * again); signatures over another header are tallied per header, and once
 * a majority of the genesis nodes signed one that is not this node's, this
 * node is the odd one out: it records CC_EVIDENCE_MINORITY (its own header,
 * the majority's, and the majority's signatures), which halts the chain.
 *
 * A halted node keeps auditing the heights of its evidence (every
 * CKPT_PULL_HALTED_MS): a node that refused a block because re-execution
 * gave other roots than its proposer signed compares its own view with
 * what the others signed, and records the minority evidence once a
 * majority signed the block it refused. */

typedef struct tally {
    cc_header header;
    uint8_t hash[CC_HASH_BYTES];
    bool signed_by[CC_MEMBERS_MAX]; /* by position in the consensus nodes at the height */
    size_t count;
    json_t *sigs; /* [{node, sig}] */
} tally;

/* A node this one talks to about checkpoints. */
typedef struct addr {
    char id[CC_HASH_HEX];
    char name[64];
    char api[CKPT_ADDR_MAX];
} addr;

/* The other nodes this node knows, each once: the genesis nodes, then the
 * nodes of network/config (with their API addresses from node/<id>). */
static size_t known_nodes(cc_node *node, addr *out, size_t cap)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    size_t count = 0;
    char *val = NULL;
    size_t len = 0;
    json_t *cfg = NULL;
    for (size_t i = 0; i < g->node_count && count < cap; i++) {
        if (memcmp(g->nodes[i].pk, node->key.pk, CC_PUBKEY_BYTES) == 0 || !g->nodes[i].api[0]) continue;
        addr *a = &out[count++];
        cc_hex(g->nodes[i].pk, CC_PUBKEY_BYTES, a->id);
        snprintf(a->name, sizeof a->name, "%s", g->nodes[i].name);
        snprintf(a->api, sizeof a->api, "%s", g->nodes[i].api);
    }
    if (cc_chain_state_get(node->chain, "network/config", &val, &len) == CC_OK)
        cfg = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    const json_t *nodes = json_object_get(cfg, "nodes"), *v;
    size_t i;
    json_array_foreach(nodes, i, v)
    {
        const char *hex = json_string_value(v);
        char key[CKPT_KEY_MAX];
        bool dup = !hex || strlen(hex) != 2 * CC_PUBKEY_BYTES || strcmp(hex, node->node_id_hex) == 0;
        for (size_t k = 0; k < count && !dup; k++) dup = strcmp(out[k].id, hex) == 0;
        if (dup || count == cap) continue;
        snprintf(key, sizeof key, "node/%s", hex);
        val = NULL;
        if (cc_chain_state_get(node->chain, key, &val, &len) != CC_OK) continue;
        json_t *rec = cc_json_parse((const uint8_t *)val, len, NULL);
        free(val);
        const char *api = json_string_value(json_object_get(rec, "api"));
        const char *name = json_string_value(json_object_get(rec, "name"));
        if (api && *api) {
            addr *a = &out[count++];
            snprintf(a->id, sizeof a->id, "%s", hex);
            snprintf(a->name, sizeof a->name, "%s", name ? name : hex);
            snprintf(a->api, sizeof a->api, "%s", api);
        }
        json_decref(rec);
    }
    json_decref(cfg);
    return count;
}

/* Start a sender to node a in the next free slot. */
static cc_err start_sender(cc_checkpoints *cp, const addr *a, cc_errbuf *eb)
{
    peer *p = &cp->peers[cp->peer_count];
    memset(p, 0, sizeof *p);
    p->cp = cp;
    memcpy(p->id, a->id, sizeof p->id);
    memcpy(p->name, a->name, sizeof p->name);
    memcpy(p->api, a->api, sizeof p->api);
    p->curl = curl_easy_init();
    p->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (p->headers) p->headers = curl_slist_append(p->headers, "Expect:");
    cc_err rc = !p->curl || !p->headers ? cc_errf(eb, CC_ERR_NOMEM, "no memory for a checkpoint sender")
                : pthread_create(&p->thread, NULL, sender_main, p) != 0
                    ? cc_errf(eb, CC_ERR_IO, "cannot start a checkpoint sender thread")
                    : CC_OK;
    if (rc != CC_OK) {
        if (p->curl) curl_easy_cleanup(p->curl);
        curl_slist_free_all(p->headers);
        return rc;
    }
    p->started = true;
    pthread_mutex_lock(&cp->mu);
    cp->peer_count++;
    pthread_mutex_unlock(&cp->mu);
    return CC_OK;
}

/* Start a sender for every node this node knows that has none yet: the
 * genesis nodes at start, and each node governance adds, within one round
 * of the auditor (which calls this). Only this thread adds senders. */
static cc_err add_senders(cc_checkpoints *cp, cc_errbuf *eb)
{
    addr *known = calloc(CKPT_PEERS_MAX, sizeof *known);
    if (!known) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the checkpoint senders");
    size_t n = known_nodes(cp->node, known, CKPT_PEERS_MAX);
    cc_err rc = CC_OK;
    for (size_t i = 0; i < n && rc == CC_OK && cp->peer_count < CKPT_PEERS_MAX && !stopping(cp); i++) {
        bool have = false;
        for (size_t k = 0; k < cp->peer_count && !have; k++) have = strcmp(cp->peers[k].id, known[i].id) == 0;
        if (!have) rc = start_sender(cp, &known[i], eb);
    }
    free(known);
    return rc;
}

/* GET api/v1/checkpoint/signatures?height=h; the parsed answer or NULL. */
static json_t *pull_sigs(cc_checkpoints *cp, CURL *c, const char *api, uint64_t height)
{
    char url[CKPT_ADDR_MAX + 64];
    cc_peer_answer a = {.max = CKPT_ANSWER_MAX, .cancelled = stop_asked, .cancel_ctx = cp};
    cc_peer_url(url, sizeof url, api, "/v1/checkpoint/signatures?height=%llu", (unsigned long long)height);
    return cc_peer_get_json(c, url, CKPT_TIMEOUT_MS, CKPT_CONNECT_TIMEOUT_MS, &a);
}

/* Sort one peer's answer for height into same (signatures over own) and
 * the tallies of other headers. */
static void audit_answer(cc_node *node, const json_t *doc, uint64_t height, const cc_members *m,
                         const uint8_t own_hash[CC_HASH_BYTES], cc_checkpoint_sig *same, size_t *same_n,
                         tally *t, size_t *t_n)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    const char *hdr_hex = json_string_value(json_object_get(doc, "header"));
    uint8_t raw[CC_HEADER_BYTES], hash[CC_HASH_BYTES];
    cc_header h;
    if (!hdr_hex || strlen(hdr_hex) != 2 * CC_HEADER_BYTES || cc_unhex(hdr_hex, raw, sizeof raw) != CC_OK ||
        cc_header_decode(raw, sizeof raw, &h, NULL) != CC_OK || h.height != height ||
        memcmp(h.chain_id, g->chain_id, CC_HASH_BYTES) != 0)
        return;
    cc_header_hash(&h, hash);
    bool mine = memcmp(hash, own_hash, CC_HASH_BYTES) == 0;
    tally *to = NULL;
    for (size_t k = 0; k < *t_n && !mine && !to; k++)
        if (memcmp(t[k].hash, hash, CC_HASH_BYTES) == 0) to = &t[k];
    if (!mine && !to) {
        if (*t_n == CKPT_PULL_FOREIGN) return;
        to = &t[*t_n];
        memset(to, 0, sizeof *to);
        if (!(to->sigs = json_array())) return;
        to->header = h;
        memcpy(to->hash, hash, CC_HASH_BYTES);
        (*t_n)++;
    }
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(doc, "signatures"), i, v)
    {
        cc_checkpoint_sig sig;
        const char *n_hex = json_string_value(json_object_get(v, "node"));
        const char *s_hex = json_string_value(json_object_get(v, "sig"));
        if (!n_hex || !s_hex || strlen(n_hex) != 2 * CC_PUBKEY_BYTES || strlen(s_hex) != 2 * CC_SIG_BYTES ||
            cc_unhex(n_hex, sig.node, CC_PUBKEY_BYTES) != CC_OK ||
            cc_unhex(s_hex, sig.sig, CC_SIG_BYTES) != CC_OK)
            continue;
        int mi = cc_members_index(m, sig.node); /* this node's view of the set: see audit_height */
        if (mi < 0 || !cc_checkpoint_verify(&h, m->hash, &sig)) continue;
        if (mine) {
            if (*same_n < CC_CHECKPOINT_BATCH_MAX) same[(*same_n)++] = sig;
        } else if (!to->signed_by[mi]) {
            to->signed_by[mi] = true;
            to->count++;
            json_array_append_new(to->sigs, json_pack("{s:s, s:s}", "node", n_hex, "sig", s_hex));
        }
    }
}

/* Pull every peer's signatures for height and compare them with own (this
 * node's header there, or its own view of a block it refused). */
static void audit_height(cc_checkpoints *cp, CURL *c, uint64_t height, const cc_header *own)
{
    cc_node *node = cp->node;
    size_t need, same_n = 0, t_n = 0;
    uint8_t own_hash[CC_HASH_BYTES];
    tally *t = calloc(CKPT_PULL_FOREIGN, sizeof *t);
    addr *peers = calloc(CKPT_PEERS_MAX, sizeof *peers);
    cc_checkpoint_sig *same = calloc(CC_CHECKPOINT_BATCH_MAX, sizeof *same);
    /* The signers are counted against this node's own view of the nodes at
     * height (a set the others claim could be made up by one of them); a
     * node whose state diverged before a change of the set sees signatures
     * over the others' set fail, and halts on its own evidence instead. */
    cc_members *m = malloc(sizeof *m);
    if (!t || !peers || !same || !m || cc_chain_members(node->chain, height, m) != CC_OK) goto out;
    need = m->count / 2 + 1;
    cc_header_hash(own, own_hash);
    size_t n = known_nodes(node, peers, CKPT_PEERS_MAX);
    for (size_t i = 0; i < n && !stopping(cp); i++) {
        json_t *doc = pull_sigs(cp, c, peers[i].api, height);
        if (doc) audit_answer(node, doc, height, m, own_hash, same, &same_n, t, &t_n);
        json_decref(doc);
    }
    if (same_n > 0) {
        uint64_t heights[CC_CHECKPOINT_BATCH_MAX];
        cc_err outcomes[CC_CHECKPOINT_BATCH_MAX];
        cc_errbuf eb = {{0}};
        for (size_t k = 0; k < same_n; k++) heights[k] = height;
        if (cc_chain_checkpoint_add_many(node->chain, heights, same, same_n, outcomes, &eb) != CC_OK)
            cc_node_log(CC_LOG_WARN, "checkpoint", "cannot store pulled signatures for height %llu: %s",
                        (unsigned long long)height, eb.msg);
    }
    for (size_t k = 0; k < t_n; k++) {
        if (t[k].count < need || cc_chain_evidence_has(node->chain, height, CC_EVIDENCE_MINORITY)) continue;
        char detail[256], mine[CC_HASH_HEX], theirs[CC_HASH_HEX], mr[CC_HASH_HEX], tr[CC_HASH_HEX];
        cc_errbuf eb = {{0}};
        snprintf(detail, sizeof detail,
                 "%zu of %zu nodes signed block %.16s... (state root %.16s...) at height %llu; this node has "
                 "%.16s... (state root %.16s...)",
                 t[k].count, m->count, cc_hex(t[k].hash, CC_HASH_BYTES, theirs),
                 cc_hex(t[k].header.state_root, CC_HASH_BYTES, tr), (unsigned long long)height,
                 cc_hex(own_hash, CC_HASH_BYTES, mine), cc_hex(own->state_root, CC_HASH_BYTES, mr));
        cc_err rc = cc_chain_evidence_add_signed(node->chain, CC_EVIDENCE_MINORITY, own, &t[k].header, detail,
                                                 t[k].sigs, &eb);
        if (rc == CC_OK)
            cc_node_log(
                CC_LOG_ERROR, "checkpoint",
                "this node disagrees with a signed majority: %s; evidence recorded, the chain is halted",
                detail);
        else
            cc_node_log(CC_LOG_ERROR, "checkpoint", "cannot record evidence against the majority: %s",
                        eb.msg);
        break;
    }
out:
    for (size_t k = 0; k < t_n; k++) json_decref(t[k].sigs);
    free(m);
    free(t);
    free(same);
    free(peers);
}

/* A halted node: compare the heights of its evidence with the majority. */
static void audit_evidence(cc_checkpoints *cp, CURL *c)
{
    cc_node *node = cp->node;
    json_t *list = NULL;
    size_t i;
    const json_t *v;
    if (cc_chain_evidence_json(node->chain, &list) != CC_OK) return;
    json_array_foreach(list, i, v)
    {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        json_int_t height = json_integer_value(json_object_get(v, "height"));
        const char *hdr_hex =
            json_string_value(json_object_get(json_array_get(json_object_get(v, "headers"), 0), "header"));
        uint8_t raw[CC_HEADER_BYTES];
        cc_header own;
        if (!kind || strcmp(kind, "minority") == 0 || height < 1 ||
            cc_chain_evidence_has(node->chain, (uint64_t)height, CC_EVIDENCE_MINORITY) || !hdr_hex ||
            strlen(hdr_hex) != 2 * CC_HEADER_BYTES || cc_unhex(hdr_hex, raw, sizeof raw) != CC_OK ||
            cc_header_decode(raw, sizeof raw, &own, NULL) != CC_OK)
            continue;
        audit_height(cp, c, (uint64_t)height, &own);
    }
    json_decref(list);
}

/* One round; returns how long to pause before the next. */
/* The heights whose signatures the membership steps of this node's proofs
 * lack (cc_chain_membership_gap): a node that caught up after the set of
 * nodes changed holds few signatures of the sets before. Pulled
 * CKPT_PULL_HEIGHTS a round from the start of the range on, from the nodes
 * that kept them; once a step is found the range moves on or closes. */
static void audit_gap(cc_checkpoints *cp, CURL *c)
{
    cc_node *node = cp->node;
    uint64_t from, to;
    if (cc_chain_membership_gap(node->chain, &from, &to) != CC_OK) return;
    if (cp->gap_next < from || cp->gap_next > to) cp->gap_next = from;
    for (unsigned k = 0; k < CKPT_PULL_HEIGHTS && cp->gap_next <= to && !stopping(cp); k++, cp->gap_next++) {
        cc_header own;
        if (cc_chain_header_get(node->chain, cp->gap_next, &own) != CC_OK) break;
        audit_height(cp, c, cp->gap_next, &own);
        if (cc_chain_halted(node->chain, NULL, 0)) break;
    }
}

static unsigned audit_round(cc_checkpoints *cp, CURL *c)
{
    cc_node *node = cp->node;
    cc_head head;
    uint64_t signed_to = 0;
    cc_errbuf eb = {{0}};
    if (add_senders(cp, &eb) != CC_OK)
        cc_node_log(CC_LOG_WARN, "checkpoint", "cannot start a checkpoint sender: %s", eb.msg);
    if (cc_chain_halted(node->chain, NULL, 0)) {
        audit_evidence(cp, c);
        return CKPT_PULL_HALTED_MS;
    }
    cc_chain_head(node->chain, &head);
    uint64_t upto = cp->audited_head < head.height ? cp->audited_head : head.height;
    cp->audited_head = head.height;
    if (cc_chain_checkpoint_height(node->chain, &signed_to) != CC_OK) signed_to = 0;
    uint64_t from = signed_to + 1;
    if (upto >= CC_CHECKPOINT_WINDOW && from < upto - CC_CHECKPOINT_WINDOW + 1)
        from = upto - CC_CHECKPOINT_WINDOW + 1;
    for (uint64_t h = from, pulled = 0; h <= upto && pulled < CKPT_PULL_HEIGHTS; h++, pulled++) {
        cc_header own;
        uint64_t now_signed = 0;
        if (cc_chain_checkpoint_height(node->chain, &now_signed) == CC_OK && now_signed >= h) continue;
        if (cc_chain_header_get(node->chain, h, &own) != CC_OK) break;
        audit_height(cp, c, h, &own);
        if (cc_chain_halted(node->chain, NULL, 0)) break;
    }
    if (!cc_chain_halted(node->chain, NULL, 0)) audit_gap(cp, c);
    return CKPT_PULL_MS;
}

static void *auditor_main(void *arg)
{
    cc_checkpoints *cp = arg;
    CURL *c = curl_easy_init();
    unsigned pause = CKPT_PULL_MS;
    if (!c) {
        cc_node_log(CC_LOG_WARN, "checkpoint", "no memory for libcurl: checkpoint signatures are not pulled");
        return NULL;
    }
    while (!pause_ms(cp, pause)) pause = audit_round(cp, c);
    curl_easy_cleanup(c);
    return NULL;
}

cc_err cc_checkpoints_start(cc_node *node, cc_checkpoints **out, cc_errbuf *eb)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    pthread_condattr_t attr;
    cc_err rc = CC_OK;

    *out = NULL;
    if (g->node_count <= 1) return CC_OK;
    cc_checkpoints *cp = calloc(1, sizeof *cp);
    if (!cp || !(cp->peers = calloc(CKPT_PEERS_MAX, sizeof *cp->peers))) {
        free(cp);
        return cc_errf(eb, CC_ERR_NOMEM, "no memory for the checkpoint senders");
    }
    cp->node = node;
    pthread_mutex_init(&cp->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cp->cond, &attr);
    pthread_condattr_destroy(&attr);

    /* A sender gives only the heights at which this node is a consensus
     * node, so a node gone from the set (or not yet in it) sends nothing. */
    if ((rc = add_senders(cp, eb)) != CC_OK) goto err;
    if (pthread_create(&cp->auditor, NULL, auditor_main, cp) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot start the checkpoint auditor thread");
        goto err;
    }
    cp->auditor_started = true;
    *out = cp;
    return CC_OK;
err:
    cc_checkpoints_stop(cp);
    return rc;
}

void cc_checkpoints_stop(cc_checkpoints *cp)
{
    if (!cp) return;
    pthread_mutex_lock(&cp->mu);
    cp->stop = true;
    pthread_cond_broadcast(&cp->cond);
    pthread_mutex_unlock(&cp->mu);
    if (cp->auditor_started) pthread_join(cp->auditor, NULL);
    for (size_t i = 0; i < cp->peer_count; i++) {
        peer *p = &cp->peers[i];
        if (p->started) pthread_join(p->thread, NULL);
        if (p->curl) curl_easy_cleanup(p->curl);
        curl_slist_free_all(p->headers);
    }
    pthread_cond_destroy(&cp->cond);
    pthread_mutex_destroy(&cp->mu);
    free(cp->peers);
    free(cp);
}
