/*
 * node/raft_fetch.c — what a node fetches from its peers' APIs to catch up:
 * blocks up to a raft snapshot's head (or a restored chain's, or across a
 * gap), applied one by one with cc_chain_apply, and their attachments.
 * Runs on the apply thread (consensus_raft.c, invariants 2, 8 and 9).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/records.h"
#include "node/log.h"
#include "node/peer_answer.h"
#include "node/raft_node.h"

#define CATCHUP_TIMEOUT_MS   10000L
#define CATCHUP_RETRY_MS     500   /* pause after every peer failed to give a block */
#define CATCHUP_GIVE_UP_MS   60000 /* then halt: no peer gave a block that applies */
#define CATCHUP_RANGE_BLOCKS 64    /* blocks asked of a peer in one request */

/* ---- catch-up to a snapshot (apply thread) ---------------------------------------------
 * A snapshot record: u8 version = 1 || 7 zero bytes || u64 height || block hash || state
 * root (80 bytes). The node fetches blocks head+1..height from the peers' GET
 * /v1/blocks/raw?from=..&count=.. (ranges; the peer that answered last first), applies
 * each with cc_chain_apply (linkage, proposer and its signature, tx root, every tx
 * signature, re-execution against the signed roots), fetches the attachment bytes of
 * their txs (GET /v1/attachments/{sha256}), and ends at the record's hash and root. */

void cc_raft_snap_encode(const cc_head *h, uint8_t out[SNAP_BYTES])
{
    memset(out, 0, SNAP_BYTES);
    out[0] = SNAP_VERSION;
    cc_put_u64(out + 8, h->height);
    memcpy(out + 16, h->hash, CC_HASH_BYTES);
    memcpy(out + 16 + CC_HASH_BYTES, h->state_root, CC_HASH_BYTES);
}

bool cc_raft_snap_decode(const uint8_t *p, size_t len, snap_record *out)
{
    if (len != SNAP_BYTES || p[0] != SNAP_VERSION) return false;
    for (int i = 1; i < 8; i++)
        if (p[i] != 0) return false;
    out->height = cc_get_u64(p + 8);
    memcpy(out->hash, p + 16, CC_HASH_BYTES);
    memcpy(out->state_root, p + 16 + CC_HASH_BYTES, CC_HASH_BYTES);
    return true;
}

bool cc_raft_stopping(cc_raft_node *r)
{
    pthread_mutex_lock(&r->mu);
    bool stop = r->stop_requested;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* cc_peer_answer.cancelled of every catch-up and repair request: a node
 * that is stopping abandons a request to a peer that does not answer
 * within about a second, rather than sitting out CATCHUP_TIMEOUT_MS. */
bool cc_raft_stop_asked(void *r)
{
    return cc_raft_stopping(r);
}

/* The API addresses of the other nodes (network/config, what a peer said at
 * join, genesis), without repeats; returns the count. */
size_t cc_raft_peer_apis(cc_raft_node *r, char (*out)[MEMBER_ADDR_MAX], size_t cap)
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

/* GET url into *out (caller frees), at most max bytes; hdrs (may be NULL)
 * are extra request headers. CC_ERR_UNREACHABLE when no whole answer came
 * (too_large names what was over max) or the status was not 200 (*status
 * says which; 404 is CC_ERR_NOT_FOUND), CC_ERR_MALFORMED for an empty body.
 * A node that is stopping abandons the request (cc_raft_stop_asked). */
static cc_err peer_get(cc_raft_node *r, CURL *c, const char *url, size_t max, struct curl_slist *hdrs,
                       const char *too_large, long *status, uint8_t **out, size_t *len, cc_errbuf *eb)
{
    cc_peer_answer a = {.max = max, .cancelled = cc_raft_stop_asked, .cancel_ctx = r};
    *status = 0;
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cr = cc_peer_perform(c, url, CATCHUP_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, status);
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    cc_err rc = CC_OK;
    if (cr != CURLE_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "%s: %s", url, a.too_long ? too_large : curl_easy_strerror(cr));
    else if (*status != 200)
        rc = cc_errf(eb, *status == 404 ? CC_ERR_NOT_FOUND : CC_ERR_UNREACHABLE, "%s answered HTTP %ld", url,
                     *status);
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

/* GET api/v1/blocks/{height}/raw into *out (caller frees). */
static cc_err fetch_block(cc_raft_node *r, CURL *c, const char *api, uint64_t height, uint8_t **out,
                          size_t *len, cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    long status;
    cc_peer_url(url, sizeof url, api, "/v1/blocks/%llu/raw", (unsigned long long)height);
    return peer_get(r, c, url, CC_BLOCK_MAX_BYTES, NULL, "block too large", &status, out, len, eb);
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
bool cc_raft_record_erased(cc_raft_node *r, const char *id)
{
    char key[8 + ATT_RECORD_MAX];
    if (!id[0]) return false;
    snprintf(key, sizeof key, "rec/%s", id);
    json_t *rec = cc_raft_state_json(r->chain, key);
    const char *status = json_string_value(json_object_get(rec, "status"));
    bool erased = status && strcmp(status, "erased") == 0;
    json_decref(rec);
    return erased;
}

/* GET api/v1/attachments/{sha256}, a request signed with the node key, into
 * *out (caller frees; at most want bytes). */
static cc_err fetch_attachment(cc_raft_node *r, CURL *c, const char *api, const uint8_t hash[CC_HASH_BYTES],
                               size_t want, uint8_t **out, size_t *len, cc_errbuf *eb)
{
    char hex[CC_HASH_HEX], path[32 + CC_HASH_HEX], url[CATCHUP_URL_MAX], line[320];
    cc_reqsig_headers sig;
    long status;
    struct curl_slist *hdrs = NULL;
    snprintf(path, sizeof path, "/v1/attachments/%s", cc_hex(hash, CC_HASH_BYTES, hex));
    cc_err rc = cc_reqsig_sign(r->key, "GET", path, "", NULL, 0, (int64_t)(cc_now_ms() / 1000), &sig, eb);
    if (rc != CC_OK) return rc;
    const char *const names[] = {"Content-Digest", "Signature-Input", "Signature"};
    const char *const values[] = {sig.content_digest, sig.signature_input, sig.signature};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(line, sizeof line, "%s: %s", names[i], values[i]);
        struct curl_slist *more = curl_slist_append(hdrs, line);
        if (!more) {
            curl_slist_free_all(hdrs);
            return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        }
        hdrs = more;
    }
    cc_peer_url(url, sizeof url, api, "%s", path);
    rc = peer_get(r, c, url, want, hdrs, "too large", &status, out, len, eb);
    curl_slist_free_all(hdrs);
    return rc;
}

typedef struct att_wanted {
    cc_raft_node *r;
    const char *record;
} att_wanted;

/* cc_chain_attachment_restore_if's question: bytes of a record erased
 * since must not come back. */
static bool still_wanted(void *ctx)
{
    const att_wanted *w = ctx;
    return !cc_raft_record_erased(w->r, w->record);
}

/* Fetch one attachment from the peers (apis[first] first), check it
 * against its SHA-256 and store it, unless its record was erased
 * meanwhile; true once stored (or no longer wanted). */
bool cc_raft_fetch_one_attachment(cc_raft_node *r, CURL *c, const late_att *att,
                                  char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t first)
{
    const att_wanted wanted = {r, att->record};
    if (cc_chain_attachment_has(r->chain, att->hash)) return true; /* another pass got it meanwhile */
    for (size_t j = 0; j < n && !cc_raft_stopping(r); j++) {
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
static void fetch_attachments(cc_raft_node *r, CURL *c, const cc_block *b, const cc_result *results,
                              char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t first)
{
    for (size_t k = 0; k < b->tx_count; k++) {
        const cc_tx *tx = &b->txs[k];
        late_att att = {.height = b->h.height, .len = tx->attachment_len};
        if (!tx->has_attachment || tx->attachment || results[k].code != CC_OK) continue;
        memcpy(att.hash, tx->attachment_hash, CC_HASH_BYTES);
        if (!attachment_record(tx, att.record)) att.record[0] = '\0';
        if (cc_raft_record_erased(r, att.record) || cc_raft_fetch_one_attachment(r, c, &att, apis, n, first))
            continue;
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
static void fetch_late_attachments(cc_raft_node *r, CURL *c)
{
    size_t erased = 0;
    char(*apis)[MEMBER_ADDR_MAX] = r->late_count ? calloc(RAFT_MEMBERS_MAX, sizeof *apis) : NULL;
    size_t n = apis ? cc_raft_peer_apis(r, apis, RAFT_MEMBERS_MAX) : 0;
    for (size_t i = 0; i < r->late_count; i++) {
        if (cc_raft_record_erased(r, r->late[i].record)) {
            erased++;
        } else if (!cc_raft_fetch_one_attachment(r, c, &r->late[i], apis, n, 0)) {
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

/* GET api/v1/blocks/raw?from=..&count=.. into *out (caller frees): frames
 * of u32 n || block bytes, from `from` on. A peer without the range
 * endpoint answers 400 (it takes "raw" for a height): CC_ERR_USAGE. */
static cc_err fetch_range(cc_raft_node *r, CURL *c, const char *api, uint64_t from, unsigned count,
                          uint8_t **out, size_t *len, cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    long status;
    cc_peer_url(url, sizeof url, api, "/v1/blocks/raw?from=%llu&count=%u", (unsigned long long)from, count);
    cc_err rc = peer_get(r, c, url, CC_BLOCK_RANGE_BYTES + CC_BLOCK_MAX_BYTES + 4u * CC_BLOCK_RANGE_MAX, NULL,
                         "answer too large", &status, out, len, eb);
    return rc == CC_ERR_UNREACHABLE && status == 400 ? CC_ERR_USAGE : rc;
}

/* Has this node halted (cc_raft_halt)? A catch-up then stops at once. */
static bool node_halted(cc_raft_node *r)
{
    pthread_mutex_lock(&r->mu);
    bool halted = r->halted;
    pthread_mutex_unlock(&r->mu);
    return halted;
}

/* Decode and commit one fetched block, which must be at height; then its
 * attachments (apis[from_peer] first). A block of a ruleset this build
 * does not know halts the node (no peer has one it could execute), and
 * so does a block after which the next one is of such a ruleset
 * (cc_raft_ruleset_check, as after a block from the raft log). */
static cc_err apply_fetched(cc_raft_node *r, CURL *c, const uint8_t *raw, size_t len, uint64_t height,
                            char (*apis)[MEMBER_ADDR_MAX], size_t n, size_t from_peer, cc_result *results,
                            cc_errbuf *eb)
{
    cc_block b;
    memset(&b, 0, sizeof b);
    cc_err rc = cc_block_decode(raw, len, &b, eb);
    if (rc == CC_OK && b.h.height != height)
        rc = cc_errf(eb, CC_ERR_VERIFY, "the peer sent block %llu for %llu", (unsigned long long)b.h.height,
                     (unsigned long long)height);
    if (rc == CC_OK) {
        rc = cc_chain_apply(r->chain, &b, r->key, results, eb);
        if (rc == CC_ERR_VERSION) cc_raft_halt(r, "%s", eb->msg);
    }
    if (rc == CC_OK) {
        fetch_attachments(r, c, &b, results, apis, n, from_peer);
        if (cc_raft_touches_network(b.txs, b.tx_count, results)) cc_raft_members_refresh(r);
        if (r->hooks.committed) r->hooks.committed(r->hooks.ctx, &b.h, b.txs, b.tx_count, results);
        pthread_mutex_lock(&r->mu);
        r->blocks_fetched++;
        pthread_mutex_unlock(&r->mu);
        cc_raft_ruleset_check(r);
    }
    cc_block_free(&b);
    return rc;
}

/* Blocks from..to, as many as one peer gives in one request (at most
 * CATCHUP_RANGE_BLOCKS), asking first the peer that answered last
 * (r->catchup_api), then the others. Every block is committed with
 * cc_chain_apply, in order; the first that does not apply ends the range
 * and the next peer is asked for the rest, unless the node halted
 * (apply_fetched). CC_OK once at least one block committed; otherwise
 * the last peer's failure in eb. */
static cc_err fetch_and_apply(cc_raft_node *r, CURL *c, uint64_t from, uint64_t to, cc_result *results,
                              cc_errbuf *eb)
{
    char(*apis)[MEMBER_ADDR_MAX] = calloc(RAFT_MEMBERS_MAX, sizeof *apis);
    if (!apis) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    size_t n = cc_raft_peer_apis(r, apis, RAFT_MEMBERS_MAX), start = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(apis[i], r->catchup_api) == 0) start = i;
    unsigned count = to - from + 1 < CATCHUP_RANGE_BLOCKS ? (unsigned)(to - from + 1) : CATCHUP_RANGE_BLOCKS;
    cc_err rc = cc_errf(eb, CC_ERR_UNREACHABLE, "no peer API address is known");
    for (size_t j = 0; j < n && !cc_raft_stopping(r); j++) {
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
        while (rc == CC_OK && rd.left > 0 && !cc_raft_stopping(r) && !node_halted(r)) {
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
        if (node_halted(r)) break; /* a ruleset this build lacks (apply_fetched): no peer can help */
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
 * there; otherwise this node halted (no peer gave a block that applies
 * for CATCHUP_GIVE_UP_MS, or at once at a ruleset this build does not
 * know), or is stopping (catchup_abandoned). */
bool cc_raft_catch_up_to(cc_raft_node *r, const snap_record *s, bool check_root, const char *what,
                         cc_result *results)
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
            cc_raft_halt(r, "no memory for libcurl to catch up to %s", what);
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
            cc_chain_head(r->chain, &head);
            if (node_halted(r) || cc_raft_stopping(r)) break;
            if (rc == CC_OK) {
                give_up = cc_now_ms() + CATCHUP_GIVE_UP_MS;
                continue;
            }
            if (cc_chain_halted(r->chain, NULL, 0) || cc_now_ms() > give_up) {
                cc_raft_halt(
                    r, "cannot catch up to %s at height %llu: no peer gave block %llu that applies (%s)",
                    what, (unsigned long long)s->height, (unsigned long long)head.height + 1, eb.msg);
                break;
            }
            for (unsigned waited = 0; waited < CATCHUP_RETRY_MS && !cc_raft_stopping(r);
                 waited += RAFT_STOP_POLL_MS) {
                struct timespec ts = {0, RAFT_STOP_POLL_MS * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
        if (head.height >= s->height) {
            fetch_late_attachments(r, c);
            pthread_mutex_lock(&r->mu);
            cc_raft_repair_soon_locked(r, 0); /* and whatever else the ledger wants that is not here */
            pthread_mutex_unlock(&r->mu);
        }
        curl_easy_cleanup(c);
        pthread_mutex_lock(&r->mu);
        r->catching_up = false;
        pthread_mutex_unlock(&r->mu);
        if (node_halted(r)) return false; /* said why when it halted */
        if (head.height < s->height) {    /* stopping: a restart goes on */
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
        cc_raft_halt(r, "cannot read block %llu to check it against %s (%s)", (unsigned long long)s->height,
                     what, cc_err_name(rc));
        return false;
    }
    cc_header_hash(&h, hash);
    if (memcmp(hash, s->hash, CC_HASH_BYTES) != 0 ||
        (check_root && memcmp(h.state_root, s->state_root, CC_HASH_BYTES) != 0)) {
        char mine[CC_HASH_HEX];
        cc_raft_halt(r, "block %llu here (%.16s...) differs from %s (%.16s...)%s",
                     (unsigned long long)s->height, cc_hex(hash, CC_HASH_BYTES, mine), what, hex,
                     check_root ? " or its state root" : "");
        return false;
    }
    return true;
}

/* Reach the chain state a snapshot names (see the section comment). */
void cc_raft_catch_up(cc_raft_node *r, const uint8_t *rec, size_t len, cc_result *results)
{
    snap_record s;
    if (!cc_raft_snap_decode(rec, len, &s)) {
        cc_raft_halt(r, "a raft snapshot of %zu bytes is not a chain head record (version %u)", len,
                     len ? rec[0] : 0);
        return;
    }
    (void)cc_raft_catch_up_to(r, &s, true, "the raft snapshot", results);
}
