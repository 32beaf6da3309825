/*
 * node/http_network.c — the network's membership as the applied state
 * records it (network/config, node/<id>, netprop/<txid>; see
 * src/apps/network.c), with this node's view of the raft configuration.
 *
 *   GET /v1/network                   the nodes, the organisation count and the ruleset
 *   GET /v1/network/nodes/{id}        one node's record (also once removed)
 *   GET /v1/network/proposals         the governance proposals, newest first
 *                                     (?status=open, approved, withdrawn or expired)
 *   GET /v1/network/proposals/{txid}  one governance proposal
 *
 * An open proposal past its "expires_ms" takes no approval any more; it is
 * shown as "expired" (by this node's clock: the block time of an approval
 * sent now will be about that), though the record itself stays "open".
 * So is an open upgrade whose height the next block reaches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "carechain/os.h"
#include "node/http.h"

#define PROPOSALS_MAX 1000 /* listed at most; governance proposals are rare */

/* The JSON object stored under key; NULL when absent or not JSON. */
static json_t *state_json(cc_chain *c, const char *key, cc_err *err)
{
    char *val = NULL;
    size_t len = 0;
    *err = cc_chain_state_get(c, key, &val, &len);
    if (*err != CC_OK) return NULL;
    json_t *v = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    if (!json_is_object(v)) {
        json_decref(v);
        *err = CC_ERR_CORRUPT;
        return NULL;
    }
    return v;
}

/* A proposal record as readers see it: "expired" for an open one past
 * its expiry at now_ms (the network's time, cc_clocks_now_ms), or an open
 * upgrade whose height the next block reaches (no approval is taken then). */
static void proposal_view(json_t *p, uint64_t now_ms, uint64_t next_height)
{
    const char *status = json_string_value(json_object_get(p, "status"));
    const char *action = json_string_value(json_object_get(p, "action"));
    const json_t *from = json_object_get(p, "from");
    bool passed = action && strcmp(action, "upgrade") == 0 && json_is_integer(from) &&
                  (uint64_t)json_integer_value(from) <= next_height;
    if (status && strcmp(status, "open") == 0 && (cc_network_proposal_expired(p, now_ms) || passed))
        json_object_set_new(p, "status", json_string("expired"));
}

/* The height the next block will have. */
static uint64_t next_height(cc_chain *c)
{
    cc_head head;
    cc_chain_head(c, &head);
    return head.height + 1;
}

/* A remove proposal names its node by id; readers also get its "name"
 * (from node/<id>, which stays after the removal). */
static void proposal_name_node(cc_chain *c, json_t *p)
{
    const char *action = json_string_value(json_object_get(p, "action"));
    const char *id = json_string_value(json_object_get(p, "id"));
    char key[96];
    cc_err err;
    if (!action || strcmp(action, "remove") != 0 || !id || strlen(id) != 2 * CC_PUBKEY_BYTES) return;
    snprintf(key, sizeof key, "node/%s", id);
    json_t *rec = state_json(c, key, &err);
    const json_t *name = json_object_get(rec, "name");
    if (json_is_string(name)) json_object_set(p, "name", (json_t *)name);
    json_decref(rec);
}

static bool parse_hex32(const char *hex, uint8_t out[CC_HASH_BYTES])
{
    return strlen(hex) == 2 * CC_HASH_BYTES && cc_unhex(hex, out, CC_HASH_BYTES) == CC_OK;
}

/* node/<hex> with "id", and, on raft, "raft_id" and "raft_role" (this
 * node's view of the raft configuration; null when not in it). */
static json_t *node_record(cc_node *node, const char *hex, cc_err *err)
{
    char key[96];
    uint8_t pk[CC_PUBKEY_BYTES];
    snprintf(key, sizeof key, "node/%s", hex);
    json_t *rec = state_json(node->chain, key, err);
    if (!rec) return NULL;
    json_object_set_new(rec, "id", json_string(hex));
    if (node->consensus.raft_role && cc_unhex(hex, pk, sizeof pk) == CC_OK) {
        uint64_t raft_id = 0;
        const char *role = node->consensus.raft_role(&node->consensus, pk, &raft_id);
        json_object_set_new(rec, "raft_id", json_integer((json_int_t)raft_id));
        json_object_set_new(rec, "raft_role", role ? json_string(role) : json_null());
    }
    return rec;
}

json_t *cc_http_ruleset_json(cc_node *node)
{
    cc_chain_rulesets rs;
    if (cc_chain_rulesets_get(node->chain, &rs) != CC_OK) return json_null();
    json_t *out =
        json_pack("{s:I, s:I}", "active", (json_int_t)rs.active, "supported", (json_int_t)CC_RULESET_CURRENT);
    if (out && rs.next) {
        json_object_set_new(out, "next", json_integer((json_int_t)rs.next));
        json_object_set_new(out, "from", json_integer((json_int_t)rs.from));
    }
    return out;
}

static bool listed(const json_t *ids, const char *hex)
{
    size_t i;
    const json_t *v;
    json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), hex) == 0) return true;
    return false;
}

enum MHD_Result cc_http_get_network(cc_http_req *req)
{
    cc_node *node = req->node;
    const cc_genesis *g = cc_chain_genesis(node->chain);
    cc_err err;
    json_t *cfg = state_json(node->chain, "network/config", &err);
    const json_t *ids = json_object_get(cfg, "nodes");
    if (!json_is_array(ids) || !json_is_integer(json_object_get(cfg, "organisations"))) {
        json_decref(cfg);
        return cc_http_send_error(req, CC_ERR_CORRUPT, NULL, "the state has no sound network/config");
    }
    json_t *nodes = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *rec = node_record(node, json_string_value(v), &err);
        if (rec) json_array_append_new(nodes, rec);
    }
    /* genesis nodes removed since: their records say when */
    for (size_t k = 0; k < g->node_count; k++) {
        char hex[CC_HASH_HEX];
        cc_hex(g->nodes[k].pk, CC_PUBKEY_BYTES, hex);
        if (listed(ids, hex)) continue;
        json_t *rec = node_record(node, hex, &err);
        if (rec) json_array_append_new(nodes, rec);
    }
    json_t *out = json_pack("{s:o, s:O, s:I, s:o}", "nodes", nodes, "organisations",
                            json_object_get(cfg, "organisations"), "active", (json_int_t)json_array_size(ids),
                            "ruleset", cc_http_ruleset_json(node));
    if (out && node->consensus.status) {
        cc_consensus_status cs;
        node->consensus.status(&node->consensus, &cs);
        json_object_set_new(out, "raft_voters", json_integer((json_int_t)cs.voters));
        json_object_set_new(out, "raft_servers", json_integer((json_int_t)cs.servers));
    }
    json_decref(cfg);
    return cc_http_send_json(req, MHD_HTTP_OK, out);
}

enum MHD_Result cc_http_get_network_node(cc_http_req *req)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    cc_err err;
    if (!parse_hex32(req->arg, pk))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "a node id is 64 hex digits (its public key)");
    char hex[CC_HASH_HEX];
    json_t *rec = node_record(req->node, cc_hex(pk, CC_PUBKEY_BYTES, hex), &err);
    if (rec) return cc_http_send_json(req, MHD_HTTP_OK, rec);
    if (err == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, err, NULL, "%.12s... is not and never was a node of this network",
                                  hex);
    return cc_http_send_error(req, err, NULL, "cannot read the node record: %s", cc_strerror(err));
}

enum MHD_Result cc_http_get_network_proposal(cc_http_req *req)
{
    uint8_t txid[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], key[96];
    cc_err err;
    if (!parse_hex32(req->arg, txid))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "a proposal is named by its txid (64 hex digits)");
    snprintf(key, sizeof key, "netprop/%s", cc_hex(txid, CC_HASH_BYTES, hex));
    json_t *prop = state_json(req->node->chain, key, &err);
    if (prop) {
        proposal_view(prop, cc_clocks_now_ms(&req->node->clocks), next_height(req->node->chain));
        proposal_name_node(req->node->chain, prop);
        json_object_set_new(prop, "txid", json_string(hex));
        return cc_http_send_json(req, MHD_HTTP_OK, prop);
    }
    if (err == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, err, txid, "no proposal %.12s... (not a committed network.propose)",
                                  hex);
    return cc_http_send_error(req, err, txid, "cannot read the proposal: %s", cc_strerror(err));
}

typedef struct proposal_list {
    json_t *items;
    const char *status;   /* only these; NULL: all */
    uint64_t now_ms;      /* for the expiry */
    uint64_t next_height; /* for an upgrade's */
} proposal_list;

static cc_err add_proposal(void *ctx, const char *key, size_t key_len, const uint8_t *val, size_t val_len)
{
    proposal_list *pl = ctx;
    const size_t prefix = strlen("netprop/");
    json_t *p = cc_json_parse(val, val_len, NULL);
    if (!json_is_object(p) || key_len != prefix + 2 * CC_HASH_BYTES) {
        json_decref(p);
        return CC_ERR_CORRUPT;
    }
    proposal_view(p, pl->now_ms, pl->next_height);
    const char *status = json_string_value(json_object_get(p, "status"));
    if (pl->status && (!status || strcmp(status, pl->status) != 0)) {
        json_decref(p);
        return CC_OK;
    }
    json_object_set_new(p, "txid", json_stringn(key + prefix, key_len - prefix));
    json_array_append_new(pl->items, p);
    return CC_OK;
}

static int newest_first(const void *a, const void *b)
{
    json_int_t ha = json_integer_value(json_object_get(*(json_t *const *)a, "height"));
    json_int_t hb = json_integer_value(json_object_get(*(json_t *const *)b, "height"));
    return ha < hb ? 1 : ha > hb ? -1 : 0;
}

enum MHD_Result cc_http_get_network_proposals(cc_http_req *req)
{
    cc_err err;
    proposal_list pl = {json_array(), cc_http_query(req, "status"), cc_clocks_now_ms(&req->node->clocks),
                        next_height(req->node->chain)};
    static const char *const statuses[] = {"open", "approved", "withdrawn", "expired", NULL};
    bool known = !pl.status;
    for (size_t i = 0; statuses[i] && !known; i++) known = strcmp(pl.status, statuses[i]) == 0;
    if (!known) {
        json_decref(pl.items);
        return cc_http_send_error(req, CC_ERR_USAGE, NULL,
                                  "status is open, approved, withdrawn or expired, not \"%.40s\"", pl.status);
    }
    json_t *cfg = state_json(req->node->chain, "network/config", &err);
    json_int_t orgs = json_integer_value(json_object_get(cfg, "organisations"));
    json_decref(cfg);
    bool more = false;
    err = pl.items ? cc_chain_state_scan(req->node->chain, "netprop/", NULL, PROPOSALS_MAX, add_proposal, &pl,
                                         &more)
                   : CC_ERR_NOMEM;
    if (err != CC_OK) {
        json_decref(pl.items);
        return cc_http_send_error(req, err, NULL, "cannot read the proposals: %s", cc_strerror(err));
    }
    size_t n = json_array_size(pl.items);
    json_t **sorted = malloc((n ? n : 1) * sizeof *sorted);
    json_t *list = json_array();
    if (!sorted || !list) {
        free(sorted);
        json_decref(list);
        json_decref(pl.items);
        return cc_http_send_error(req, CC_ERR_NOMEM, NULL, "no memory for the proposals");
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i] = json_array_get(pl.items, i);
        proposal_name_node(req->node->chain, sorted[i]); /* after the scan, which holds a read txn */
    }
    qsort(sorted, n, sizeof *sorted, newest_first);
    for (size_t i = 0; i < n; i++) json_array_append(list, sorted[i]);
    free(sorted);
    json_decref(pl.items);
    json_t *out = json_pack("{s:o, s:I, s:I, s:b}", "proposals", list, "organisations", orgs, "needed",
                            orgs / 2 + 1, "truncated", more);
    return cc_http_send_json(req, MHD_HTTP_OK, out);
}
