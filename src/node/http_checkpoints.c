/*
 * node/http_checkpoints.c — the endpoints of checkpoint exchange and of
 * evidence: POST /v1/checkpoint/signatures (a peer hands this node its
 * checkpoint signatures), GET /v1/checkpoint/signatures?height=H (the ones
 * this node holds for H) and GET /v1/evidence (why the chain halted).
 *
 * A posted signature needs no other credential than itself: it is stored
 * only when its signer is a consensus node at its height (genesis nodes
 * until governance changes the set) and it verifies over this node's own
 * block at that height. A request is handled in three passes, so one
 * bogus signature changes nothing:
 *
 *   1. decode every item, without state and without signatures;
 *   2. compare each with this node's block at its height and check the
 *      signatures that matter: none for a height this node lacks (the
 *      answer is "pending", nothing is stored, and the sender sends it
 *      again); the checkpoint signature over the same block; and for a
 *      different block, also its proposer's signature;
 *   3. only then record a different block as equivocation (evidence, chain
 *      halted) and store the rest.
 *
 * Pass 2 spares the verify pool's cores: a leader's senders push every
 * height as soon as it commits, so a follower still applying it used to
 * verify two signatures per height per retry (every 100 ms) for nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "node/checkpoints.h"
#include "node/http.h"
#include "node/log.h"

/* One posted signature, decoded, and how it compares with this node. */
typedef struct posted {
    uint64_t height;
    cc_checkpoint_sig sig;
    cc_header header; /* the block the signer committed at height */
    cc_err mine;      /* this node's block there: CC_OK, or why it has none (NOT_FOUND: not yet) */
    bool differs;     /* this node's block there is another one */
} posted;

static bool hex_field(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && strlen(s) == 2 * n && cc_unhex(s, out, n) == CC_OK;
}

/* Stateless checks of item k into *p (no signature yet); on refusal, the
 * error and eb. */
static cc_err decode_item(cc_chain *c, const json_t *o, size_t k, posted *p, cc_errbuf *eb)
{
    const cc_genesis *g = cc_chain_genesis(c);
    const json_t *h = json_object_get(o, "height");
    uint8_t raw[CC_HEADER_BYTES];
    if (!json_is_object(o) || !json_is_integer(h) || json_integer_value(h) < 1 ||
        !hex_field(o, "node", p->sig.node, CC_PUBKEY_BYTES) ||
        !hex_field(o, "sig", p->sig.sig, CC_SIG_BYTES) || !hex_field(o, "header", raw, sizeof raw))
        return cc_errf(eb, CC_ERR_MALFORMED,
                       "signature %zu: want {\"height\": n >= 1, \"node\": 64 hex, \"sig\": 128 hex, "
                       "\"header\": %d hex}",
                       k, 2 * CC_HEADER_BYTES);
    p->height = (uint64_t)json_integer_value(h);
    if (cc_header_decode(raw, sizeof raw, &p->header, NULL) != CC_OK || p->header.height != p->height)
        return cc_errf(eb, CC_ERR_MALFORMED,
                       "signature %zu: the header does not decode or is not at height %llu", k,
                       (unsigned long long)p->height);
    if (memcmp(p->header.chain_id, g->chain_id, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_CHAIN_ID, "signature %zu: the header is of another chain", k);
    return CC_OK;
}

/* Compare item k with this node's block at its height (p->mine,
 * p->differs) and check the signatures that decide what happens to it; on
 * refusal, the error and eb. The same block was verified when this node
 * applied it, so only the checkpoint signature is checked over it; a
 * different block must also be signed by a genesis node before it can
 * count as equivocation. */
static cc_err check_item(cc_chain *c, size_t k, posted *p, cc_errbuf *eb)
{
    cc_header mine;
    cc_members m;
    uint8_t a[CC_HASH_BYTES], b[CC_HASH_BYTES];
    p->mine = cc_chain_header_get(c, p->height, &mine);
    if (p->mine != CC_OK) return CC_OK; /* not here yet (NOT_FOUND): "pending", checked when sent again */
    cc_header_hash(&mine, a);
    cc_header_hash(&p->header, b);
    p->differs = memcmp(a, b, CC_HASH_BYTES) != 0;
    if (p->differs) {
        if (cc_chain_members(c, p->height - 1, &m) != CC_OK || cc_members_index(&m, p->header.proposer) < 0 ||
            !cc_header_verify_sig(&p->header))
            return cc_errf(eb, CC_ERR_SIGNATURE,
                           "signature %zu: the header is not signed by a node of this chain", k);
    }
    if (cc_chain_members(c, p->height, &m) != CC_OK || cc_members_index(&m, p->sig.node) < 0)
        return cc_errf(eb, CC_ERR_FORBIDDEN,
                       "signature %zu: the signer is not a consensus node at height %llu", k,
                       (unsigned long long)p->height);
    /* over this node's view of the nodes there: a signer that sees another
     * set signed another state, and its header differs too */
    if (!cc_checkpoint_verify(&p->header, m.hash, &p->sig))
        return cc_errf(eb, CC_ERR_SIGNATURE, "signature %zu: it does not verify over the header", k);
    return CC_OK;
}

enum MHD_Result cc_http_post_checkpoint_sigs(cc_http_req *req)
{
    cc_chain *chain = req->node->chain;
    cc_errbuf eb = {{0}}, conflict_eb = {{0}};
    posted *items = NULL;
    uint64_t *heights = NULL;
    cc_checkpoint_sig *sigs = NULL;
    cc_err *outcomes = NULL, rc = CC_OK, conflict = CC_OK;
    size_t n = 0, count = 0;
    json_t *results = NULL;
    enum MHD_Result mr;

    json_t *doc = cc_json_parse(req->body, req->body_len, &eb);
    const json_t *list = json_object_get(doc, "signatures");
    if (!json_is_array(list)) {
        mr = cc_http_send_error(req, CC_ERR_MALFORMED, NULL, "want {\"signatures\": [...]}%s%s",
                                eb.msg[0] ? ": " : "", eb.msg);
        goto out;
    }
    n = json_array_size(list);
    if (n > CC_CHECKPOINT_BATCH_MAX) {
        mr = cc_http_send_error(req, CC_ERR_TOO_LARGE, NULL, "at most %d signatures per request",
                                CC_CHECKPOINT_BATCH_MAX);
        goto out;
    }
    items = calloc(n ? n : 1, sizeof *items);
    heights = calloc(n ? n : 1, sizeof *heights);
    sigs = calloc(n ? n : 1, sizeof *sigs);
    outcomes = calloc(n ? n : 1, sizeof *outcomes);
    results = json_array();
    if (!items || !heights || !sigs || !outcomes || !results) {
        mr = cc_http_send_error(req, CC_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    /* 1. decode; 2. compare and check signatures: nothing is written before both passed */
    for (size_t k = 0; k < n; k++) {
        if ((rc = decode_item(chain, json_array_get(list, k), k, &items[k], &eb)) != CC_OK) {
            mr = cc_http_send_error(req, rc, NULL, "%s", eb.msg);
            goto out;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if ((rc = check_item(chain, k, &items[k], &eb)) != CC_OK) {
            mr = cc_http_send_error(req, rc, NULL, "%s", eb.msg);
            goto out;
        }
    }
    /* 3. a different block is evidence; the same ones are stored together */
    for (size_t k = 0; k < n; k++) {
        cc_err e = items[k].mine;
        outcomes[k] = e;
        if (e == CC_OK && items[k].differs) {
            cc_errbuf ceb = {{0}};
            uint8_t b[CC_HASH_BYTES];
            e = cc_chain_check_header(chain, &items[k].header, &ceb);
            outcomes[k] = e == CC_OK ? CC_ERR_CONFLICT : e;
            if (conflict == CC_OK) {
                conflict = outcomes[k];
                conflict_eb = ceb;
            }
            char hex[CC_HASH_HEX];
            cc_header_hash(&items[k].header, b);
            cc_node_log(CC_LOG_ERROR, "checkpoint",
                        "a node signed block %.16s... at height %llu where this node has another: %s",
                        cc_hex(b, CC_HASH_BYTES, hex), (unsigned long long)items[k].height,
                        ceb.msg[0] ? ceb.msg : cc_err_name(e));
            continue;
        }
        if (e != CC_OK) continue; /* not here yet (NOT_FOUND): the sender tries again */
        heights[count] = items[k].height;
        sigs[count] = items[k].sig;
        count++;
    }
    cc_err *stored = calloc(count ? count : 1, sizeof *stored);
    if (!stored) {
        mr = cc_http_send_error(req, CC_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    rc = cc_chain_checkpoint_add_many(chain, heights, sigs, count, stored, &eb);
    if (rc != CC_OK) {
        free(stored);
        mr = cc_http_send_error(req, rc, NULL, "cannot store the signatures: %s", eb.msg);
        goto out;
    }
    size_t stored_n = 0, pending_n = 0;
    for (size_t k = 0, j = 0; k < n; k++) {
        cc_err e = outcomes[k] == CC_OK ? stored[j++] : outcomes[k];
        char node_hex[CC_HASH_HEX];
        json_t *r = json_pack("{s:I, s:s}", "height", (json_int_t)items[k].height, "node",
                              cc_hex(items[k].sig.node, CC_PUBKEY_BYTES, node_hex));
        if (e == CC_OK) {
            json_object_set_new(r, "status", json_string("stored"));
            stored_n++;
        } else if (e == CC_ERR_NOT_FOUND) {
            json_object_set_new(r, "status", json_string("pending"));
            pending_n++;
        } else {
            json_object_set_new(r, "status", json_string("refused"));
            json_object_set_new(r, "error", json_pack("{s:s}", "code", cc_err_name(e)));
        }
        json_array_append_new(results, r);
    }
    free(stored);
    if (conflict != CC_OK) {
        mr = cc_http_send_error(req, conflict, NULL, "%s",
                                conflict_eb.msg[0] ? conflict_eb.msg
                                                   : "a different block at that height: evidence recorded");
        goto out;
    }
    mr = cc_http_send_json(req, MHD_HTTP_OK,
                           json_pack("{s:I, s:I, s:O}", "stored", (json_int_t)stored_n, "pending",
                                     (json_int_t)pending_n, "results", results));
out:
    json_decref(results);
    free(outcomes);
    free(sigs);
    free(heights);
    free(items);
    json_decref(doc);
    return mr;
}

enum MHD_Result cc_http_get_checkpoint_sigs(cc_http_req *req)
{
    const char *s = cc_http_query(req, "height");
    uint64_t height;
    json_t *v = NULL;
    if (s) {
        if (!cc_http_parse_u64(s, 1, UINT64_MAX, &height))
            return cc_http_send_error(req, CC_ERR_USAGE, NULL, "height must be a positive integer");
    } else {
        cc_head head;
        cc_chain_head(req->node->chain, &head);
        height = head.height;
    }
    cc_err e = cc_chain_checkpoint_sigs_json(req->node->chain, height, &v);
    if (e == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, e, NULL, "no block at height %llu on this node",
                                  (unsigned long long)height);
    if (e != CC_OK) return cc_http_send_error(req, e, NULL, "cannot read the signatures: %s", cc_strerror(e));
    return cc_http_send_json(req, MHD_HTTP_OK, v);
}

enum MHD_Result cc_http_get_evidence(cc_http_req *req)
{
    cc_node *node = req->node;
    char reason[CC_HALT_REASON_BYTES] = "";
    bool halted;
    json_t *list = NULL;
    if (node->consensus.status) {
        cc_consensus_status cs;
        node->consensus.status(&node->consensus, &cs);
        halted = cs.halted;
        snprintf(reason, sizeof reason, "%s", cs.halt_reason);
    } else {
        halted = cc_chain_halted(node->chain, reason, sizeof reason);
    }
    cc_err e = cc_chain_evidence_json(node->chain, &list);
    if (e != CC_OK) return cc_http_send_error(req, e, NULL, "cannot read the evidence: %s", cc_strerror(e));
    return cc_http_send_json(req, MHD_HTTP_OK,
                             json_pack("{s:b, s:o, s:o}", "halted", halted, "reason",
                                       halted ? json_string(reason) : json_null(), "evidence", list));
}
