/*
 * node/reqauth.c — who is asking (signed requests, the identity check, the
 * replay cache) and the audit event each authenticated read leaves on the
 * ledger before it is answered (see reqauth.h).
 *
 * The replay cache is two generations of open-addressed hash sets of the
 * first CC_REPLAY_ENTRY_BYTES bytes of SHA-256(signature), indexed by a
 * keyed SipHash so that nobody can aim entries at one probe chain:
 *
 *     insert at now:  now - started >= 2 TTL  ->  clear both, started = now
 *                     now - started >= TTL    ->  drop the older generation,
 *                                                 the current one becomes it
 *                     seen in either          ->  replay
 *                     else into the current one (busy when it is full)
 *
 * Invariant: an entry inserted at t stays until at least t + TTL (a
 * generation is dropped only TTL after the newer one started, and every
 * entry of it is older than that start).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain/os.h"
#include "carechain/records.h"
#include "node/admission.h"
#include "node/http.h"
#include "node/reqauth.h"

#define CC_REPLAY_ENTRY_BYTES 16                           /* of SHA-256(sig): collisions need 2^64 work */
#define REPLAY_SLOTS          (2u * CC_REQAUTH_REPLAY_MAX) /* load at most one half */

typedef uint8_t replay_entry[CC_REPLAY_ENTRY_BYTES];

static struct {
    pthread_mutex_t mu;
    replay_entry *gen[2]; /* NULL until cc_reqauth_start */
    size_t count[2];
    unsigned cur; /* gen[cur] takes new entries; gen[1 - cur] is the older one */
    uint64_t started_ms;
    uint8_t key[crypto_shorthash_KEYBYTES];
} replay = {.mu = PTHREAD_MUTEX_INITIALIZER};

cc_err cc_reqauth_start(cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    pthread_mutex_lock(&replay.mu);
    if (!replay.gen[0]) {
        replay.gen[0] = calloc(REPLAY_SLOTS, sizeof(replay_entry));
        replay.gen[1] = calloc(REPLAY_SLOTS, sizeof(replay_entry));
        if (!replay.gen[0] || !replay.gen[1]) {
            free(replay.gen[0]);
            free(replay.gen[1]);
            replay.gen[0] = replay.gen[1] = NULL;
            rc = cc_errf(eb, CC_ERR_NOMEM, "no memory for the signed-request replay cache");
        } else {
            replay.count[0] = replay.count[1] = 0;
            replay.cur = 0;
            replay.started_ms = cc_now_ms();
            crypto_shorthash_keygen(replay.key);
        }
    }
    pthread_mutex_unlock(&replay.mu);
    return rc;
}

void cc_reqauth_stop(void)
{
    pthread_mutex_lock(&replay.mu);
    free(replay.gen[0]);
    free(replay.gen[1]);
    replay.gen[0] = replay.gen[1] = NULL;
    pthread_mutex_unlock(&replay.mu);
}

static size_t replay_slot(const replay_entry e)
{
    uint8_t h[crypto_shorthash_BYTES];
    uint64_t v = 0;
    crypto_shorthash(h, e, CC_REPLAY_ENTRY_BYTES, replay.key);
    for (size_t i = 0; i < sizeof v; i++) v = (v << 8) | h[i];
    return (size_t)(v & (REPLAY_SLOTS - 1));
}

static bool entry_empty(const replay_entry e)
{
    static const replay_entry zero;
    return memcmp(e, zero, sizeof zero) == 0;
}

/* Find e in table g from slot i on: true when present; *at is where the
 * probe ended (e's slot, or the empty slot that ends its chain). */
static bool replay_find(replay_entry *g, const replay_entry e, size_t i, size_t *at)
{
    for (;; i = (i + 1) & (REPLAY_SLOTS - 1)) {
        if (entry_empty(g[i])) break;
        if (memcmp(g[i], e, CC_REPLAY_ENTRY_BYTES) == 0) {
            *at = i;
            return true;
        }
    }
    *at = i;
    return false;
}

/* Remember digest (SHA-256 of a signature) at now_ms. CC_ERR_DUPLICATE when
 * it was seen before; CC_ERR_BUSY when the cache is full. */
static cc_err replay_insert(const uint8_t digest[CC_HASH_BYTES], uint64_t now_ms)
{
    replay_entry e;
    size_t at;
    cc_err rc = CC_OK;

    memcpy(e, digest, sizeof e);
    if (entry_empty(e)) e[0] = 1; /* all-zero marks an empty slot */
    pthread_mutex_lock(&replay.mu);
    if (!replay.gen[0]) {
        rc = CC_ERR_UNREACHABLE; /* not started, or stopping */
        goto out;
    }
    if (now_ms >= replay.started_ms + 2ull * CC_REQAUTH_REPLAY_MS) {
        for (unsigned g = 0; g < 2; g++) {
            memset(replay.gen[g], 0, REPLAY_SLOTS * sizeof(replay_entry));
            replay.count[g] = 0;
        }
        replay.started_ms = now_ms;
    } else if (now_ms >= replay.started_ms + CC_REQAUTH_REPLAY_MS) {
        unsigned old = 1 - replay.cur;
        memset(replay.gen[old], 0, REPLAY_SLOTS * sizeof(replay_entry));
        replay.count[old] = 0;
        replay.cur = old;
        replay.started_ms = now_ms;
    }
    size_t slot = replay_slot(e);
    if (replay_find(replay.gen[1 - replay.cur], e, slot, &at) ||
        replay_find(replay.gen[replay.cur], e, slot, &at)) {
        rc = CC_ERR_DUPLICATE;
    } else if (replay.count[replay.cur] >= CC_REQAUTH_REPLAY_MAX) {
        rc = CC_ERR_BUSY;
    } else {
        memcpy(replay.gen[replay.cur][at], e, sizeof e);
        replay.count[replay.cur]++;
    }
out:
    pthread_mutex_unlock(&replay.mu);
    return rc;
}

/* ---- authentication --------------------------------------------------------------- */

/* The raw request target split into path and query (without '?'), copied
 * into one buffer the caller frees. */
static char *split_target(const char *uri, const char **path, const char **query)
{
    char *t = strdup(uri);
    if (!t) return NULL;
    char *q = strchr(t, '?');
    if (q) *q++ = '\0';
    *path = t;
    *query = q ? q : "";
    return t;
}

cc_err cc_reqauth_check(cc_http_req *req, cc_chain_view *view, cc_reqauth *out, cc_errbuf *eb)
{
    cc_reqsig_verified v;
    const char *path = NULL, *query = NULL;
    uint8_t digest[CC_HASH_BYTES];
    char key[3 + CC_HASH_HEX];
    json_t *id = NULL;
    cc_err rc;

    memset(out, 0, sizeof *out);
    if (!req->uri) return cc_errf(eb, CC_ERR_NOMEM, "the request target was not captured (out of memory)");
    char *target = split_target(req->uri, &path, &query);
    if (!target) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the request target");
    rc = cc_reqsig_verify(req->method, path, query, req->body, req->body_len,
                          cc_http_header(req, "Content-Digest"), cc_http_header(req, "Signature-Input"),
                          cc_http_header(req, "Signature"),
                          (int64_t)(cc_clocks_now_ms(&req->node->clocks) / 1000), &v, eb);
    free(target);
    if (rc != CC_OK) return rc;

    /* who: checked before the replay cache, so that only identities can
     * fill it */
    memcpy(out->requester, v.keyid, CC_PUBKEY_BYTES);
    cc_hex(v.keyid, CC_PUBKEY_BYTES, out->requester_hex);
    snprintf(key, sizeof key, "id/%s", out->requester_hex);
    rc = cc_chain_view_get_json(view, key, &id);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "key %.16s... is not a registered identity",
                       out->requester_hex);
    if (rc != CC_OK) return cc_errf(eb, rc, "cannot read the requester's identity: %s", cc_strerror(rc));
    const char *status = json_string_value(json_object_get(id, "status"));
    const char *role = json_string_value(json_object_get(id, "role"));
    const char *org = json_string_value(json_object_get(id, "org"));
    out->role = role ? cc_role_parse(role) : 0;
    snprintf(out->org, sizeof out->org, "%s", org ? org : "");
    if (!status || strcmp(status, "active") != 0)
        rc = cc_errf(eb, CC_ERR_UNAUTHENTICATED, "identity %.16s... is %s", out->requester_hex,
                     status ? status : "not active");
    else if (!out->role)
        rc = cc_errf(eb, CC_ERR_CORRUPT, "identity %.16s... has no known role", out->requester_hex);
    json_decref(id);
    if (rc != CC_OK) return rc;

    /* once only */
    cc_sha256(v.sig, CC_SIG_BYTES, digest);
    cc_hex(digest, CC_HASH_BYTES, out->request_hex);
    rc = replay_insert(digest, cc_now_ms());
    if (rc == CC_ERR_DUPLICATE)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "this signature was used before: a signed request is accepted once (sign it again)");
    if (rc == CC_ERR_BUSY)
        return cc_errf(eb, CC_ERR_BUSY, "too many signed requests in the last %u s; retry later",
                       CC_REQAUTH_REPLAY_MS / 1000);
    if (rc != CC_OK) return cc_errf(eb, rc, "the node is stopping");
    return CC_OK;
}

/* ---- the audit event ------------------------------------------------------------------ */

/* The audit.access payload (canonical JSON text; caller frees). */
static char *audit_payload(const cc_reqauth *who, const cc_reqauth_event *ev, uint64_t now_ms)
{
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:s}", "requester", who->requester_hex, "patient",
                  ev->patient, "endpoint", ev->endpoint, "outcome", ev->granted ? "granted" : "denied",
                  "reason", ev->reason && *ev->reason ? ev->reason : (ev->granted ? "granted" : "denied"),
                  "emergency", ev->emergency, "time", (json_int_t)now_ms, "request", who->request_hex);
    if (!p) return NULL;
    if (ev->record) json_object_set_new(p, "record", json_string(ev->record));
    if (ev->purpose) json_object_set_new(p, "purpose", json_string(ev->purpose));
    char *text = cc_json_dump(p);
    json_decref(p);
    return text;
}

cc_err cc_reqauth_submit(cc_node *node, const char *type, const char *payload, uint8_t txid[CC_HASH_BYTES],
                         cc_result *result, cc_errbuf *eb)
{
    uint64_t now_ms = cc_clocks_now_ms(&node->clocks);
    cc_admit_item item;
    cc_tx tx;
    cc_tx_params p = {.chain_id = cc_chain_genesis(node->chain)->chain_id,
                      .type = type,
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = now_ms,
                      .expiry_ms = now_ms + CC_REQAUTH_AUDIT_TTL_MS,
                      .nonce = cc_random_u64()};
    cc_err rc = cc_tx_create(&p, &node->key, &tx, eb);
    if (rc != CC_OK) return rc;

    memset(&item, 0, sizeof item);
    item.bin = tx.raw;
    item.bin_len = tx.raw_len;
    (void)cc_admit_run(node, &item, 1, true);
    memcpy(txid, tx.txid, CC_HASH_BYTES);
    cc_tx_free(&tx);

    if (item.err != CC_OK)
        return cc_errf(eb, item.err, "%s", item.eb.msg[0] ? item.eb.msg : cc_strerror(item.err));
    if (item.waiter.state != CC_WAITER_DONE)
        return cc_errf(eb, CC_ERR_TIMEOUT, "the %s tx did not commit within %u ms", type,
                       node->wait_timeout_ms);
    if (item.waiter.err != CC_OK)
        return cc_errf(eb, item.waiter.err, "the %s tx could not commit: %s", type,
                       cc_strerror(item.waiter.err));
    *result = item.waiter.loc.result;
    return CC_OK;
}

cc_err cc_reqauth_audit(cc_node *node, const cc_reqauth *who, const cc_reqauth_event *ev,
                        uint8_t txid[CC_HASH_BYTES], cc_errbuf *eb)
{
    cc_result result;
    char *payload = audit_payload(who, ev, cc_clocks_now_ms(&node->clocks));
    if (!payload) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the audit event");
    cc_err rc = cc_reqauth_submit(node, "audit.access", payload, txid, &result, eb);
    free(payload);
    if (rc != CC_OK) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        return cc_errf(eb, rc, "the audit event was not committed: %s", why);
    }
    if (result.code == CC_ERR_DUPLICATE) /* audit.access: the request hash was seen */
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "this signed request was already served (by this or another node): a replay");
    if (result.code != CC_OK)
        return cc_errf(eb, (cc_err)result.code, "the ledger refused the audit event: %s", result.message);
    return CC_OK;
}
