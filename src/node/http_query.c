/*
 * node/http_query.c — the read-only endpoints: status, txs, proofs, blocks,
 * the checkpoint, identities and /metrics. They read the chain through the
 * query functions of carechain/chain.h (each in its own LMDB read
 * transaction) and keep working when the store is full.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/http.h"

#define BLOCKS_DEFAULT_LIMIT 20
#define BLOCKS_MAX_LIMIT     100

/* 64 hex digits -> 32 bytes. */
static bool parse_hash(const char *hex, uint8_t out[CC_HASH_BYTES])
{
    return strlen(hex) == 2 * CC_HASH_BYTES && cc_unhex(hex, out, CC_HASH_BYTES) == CC_OK;
}

/* Answer a failed chain query with its fitting status. */
static enum MHD_Result send_query_error(cc_http_req *req, cc_err e, const char *what, const cc_errbuf *eb)
{
    if (eb && eb->msg[0]) return cc_http_send_error(req, e, NULL, "%s", eb->msg);
    if (e == CC_ERR_NOT_FOUND) return cc_http_send_error(req, e, NULL, "no such %s", what);
    return cc_http_send_error(req, e, NULL, "cannot read the %s: %s", what, cc_strerror(e));
}

/* This node's clock against its peers' (clock_check.h). */
static json_t *clock_json(cc_node *node, const cc_consensus_status *cs)
{
    cc_clock_verdict c = cc_clocks_verdict(&node->clocks, cs->voters, cc_mono_ns() / 1000000u);
    return json_pack("{s:b, s:I, s:b, s:I, s:I, s:I}", "known", c.known, "skew_ms", (json_int_t)c.skew_ms,
                     "off", c.off, "peers_read", (json_int_t)c.fresh, "skew_max_ms",
                     (json_int_t)CC_CLOCK_SKEW_MAX_MS, "handoffs", (json_int_t)cs->clock_handoffs);
}

/* The node's clock, for its peers' clock check (clock_check.h). */
enum MHD_Result cc_http_get_time(cc_http_req *req)
{
    return cc_http_send_json(req, MHD_HTTP_OK, json_pack("{s:I}", "time_ms", (json_int_t)cc_now_ms()));
}

enum MHD_Result cc_http_get_status(cc_http_req *req)
{
    cc_node *node = req->node;
    const cc_genesis *g = cc_chain_genesis(node->chain);
    cc_head head;
    char head_hash[CC_HASH_HEX], state_root[CC_HASH_HEX], leader[CC_NODE_NAME_MAX];

    cc_chain_head(node->chain, &head);
    node->consensus.leader(&node->consensus, leader, sizeof leader);
    json_t *v = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:I, s:b, s:s,"
        " s:s, s:I, s:I, s:I}",
        "chain_id", node->chain_id_hex, "chain_name", g->chain_name, "node", "name", node->name, "id",
        node->node_id_hex, "mode", node->consensus.mode, "leader", leader, "height", (json_int_t)head.height,
        "head_hash", cc_hex(head.hash, CC_HASH_BYTES, head_hash), "head_time_ms", (json_int_t)head.time_ms,
        "state_root", cc_hex(head.state_root, CC_HASH_BYTES, state_root), "tx_total",
        (json_int_t)head.tx_total, "mempool", (json_int_t)cc_mempool_count(&node->mempool), "store_full",
        atomic_load(&node->store_full) ? 1 : 0, "version", CC_VERSION, "api", node->api, "mempool_max",
        (json_int_t)node->mempool_max, "verify_threads", (json_int_t)cc_verify_pool_threads(node->pool),
        "wait_timeout_ms", (json_int_t)node->wait_timeout_ms);
    if (v) json_object_set_new(v, "time_ms", json_integer((json_int_t)cc_now_ms()));
    if (v) json_object_set_new(v, "ruleset", cc_http_ruleset_json(node));
    char halt[CC_HALT_REASON_BYTES];
    if (v && !node->consensus.status && node->consensus.halted(&node->consensus, halt, sizeof halt)) {
        json_object_set_new(v, "halted", json_true()); /* solo: raft's status says it below */
        json_object_set_new(v, "halt_reason", json_string(halt));
    }
    if (v && node->consensus.status) {
        cc_consensus_status cs;
        node->consensus.status(&node->consensus, &cs);
        json_object_set_new(v, "term", json_integer((json_int_t)cs.term));
        json_object_set_new(v, "raft_state", json_string(cs.raft_state));
        json_object_set_new(v, "blocks_refused", json_integer((json_int_t)cs.blocks_refused));
        json_object_set_new(v, "blocks_fetched", json_integer((json_int_t)cs.blocks_fetched));
        json_object_set_new(v, "attachments_fetched", json_integer((json_int_t)cs.attachments_fetched));
        json_object_set_new(v, "repair_passes", json_integer((json_int_t)cs.repair_passes));
        json_object_set_new(v, "attachments_missing", json_integer((json_int_t)cs.attachments_missing));
        json_object_set_new(v, "block_requests", json_integer((json_int_t)cs.block_requests));
        json_object_set_new(v, "raft_voters", json_integer((json_int_t)cs.voters));
        json_object_set_new(v, "raft_servers", json_integer((json_int_t)cs.servers));
        json_object_set_new(v, "halted", json_boolean(cs.halted));
        json_object_set_new(v, "raft_rejoining", json_boolean(cs.raft_rejoining));
        json_object_set_new(v, "removed", json_boolean(cs.removed));
        if (cs.removed) json_object_set_new(v, "removed_at", json_integer((json_int_t)cs.removed_at));
        if (cs.halted) json_object_set_new(v, "halt_reason", json_string(cs.halt_reason));
        json_object_set_new(v, "clock", clock_json(node, &cs));
        if (cs.restore_waiting_count) {
            json_t *names = json_array();
            for (unsigned i = 0; i < cs.restore_waiting_count; i++)
                json_array_append_new(names, json_string(cs.restore_waiting_names[i]));
            json_object_set_new(v, "restore_waiting", names);
        }
    }
    return cc_http_send_json(req, MHD_HTTP_OK, v);
}

enum MHD_Result cc_http_get_tx(cc_http_req *req)
{
    uint8_t txid[CC_HASH_BYTES];
    json_t *v = NULL;
    if (!parse_hash(req->arg, txid))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "txid must be 64 hex digits");

    cc_err e = cc_chain_tx_json(req->node->chain, txid, &v);
    if (e == CC_OK) return cc_http_send_json(req, MHD_HTTP_OK, v);
    if (e == CC_ERR_NOT_FOUND && cc_mempool_has(&req->node->mempool, txid)) {
        char hex[CC_HASH_HEX];
        v = json_pack("{s:s, s:s}", "txid", cc_hex(txid, CC_HASH_BYTES, hex), "status", "pending");
        return cc_http_send_json(req, MHD_HTTP_OK, v);
    }
    if (e == CC_ERR_NOT_FOUND) return cc_http_send_error(req, e, txid, "no such tx on this node");
    return send_query_error(req, e, "tx", NULL);
}

enum MHD_Result cc_http_get_proof(cc_http_req *req)
{
    uint8_t txid[CC_HASH_BYTES];
    json_t *v = NULL;
    cc_errbuf eb = {{0}};
    if (!parse_hash(req->arg, txid))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "txid must be 64 hex digits");

    cc_err e = cc_chain_proof(req->node->chain, txid, &v, &eb);
    if (e == CC_OK) return cc_http_send_json(req, MHD_HTTP_OK, v);
    if (e == CC_ERR_NOT_FOUND && cc_mempool_has(&req->node->mempool, txid))
        return cc_http_send_error(req, e, txid, "the tx is not committed yet; no proof exists");
    return send_query_error(req, e, "tx", &eb);
}

enum MHD_Result cc_http_get_block(cc_http_req *req)
{
    uint64_t height;
    json_t *v = NULL;
    if (!cc_http_parse_u64(req->arg, 0, UINT64_MAX, &height))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "height must be a non-negative integer");
    cc_err e = cc_chain_block_json(req->node->chain, height, &v);
    if (e == CC_OK) return cc_http_send_json(req, MHD_HTTP_OK, v);
    return send_query_error(req, e, "block", NULL);
}

/* The stored block bytes (cc_block_encode), for a node catching up to a
 * raft snapshot (docs/CONSENSUS.md "Snapshots and catch-up"). */
enum MHD_Result cc_http_get_block_raw(cc_http_req *req)
{
    uint64_t height;
    uint8_t *raw = NULL;
    size_t len = 0;
    if (!cc_http_parse_u64(req->arg, 0, UINT64_MAX, &height))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "height must be a non-negative integer");
    cc_err e = cc_chain_block_raw(req->node->chain, height, &raw, &len);
    if (e == CC_OK) return cc_http_send(req, MHD_HTTP_OK, "application/octet-stream", (char *)raw, len);
    return send_query_error(req, e, "block", NULL);
}

enum MHD_Result cc_http_get_blocks(cc_http_req *req)
{
    cc_head head;
    uint64_t from, limit = BLOCKS_DEFAULT_LIMIT;
    const char *from_s = cc_http_query(req, "from"), *limit_s = cc_http_query(req, "limit");
    cc_err e = CC_OK;

    cc_chain_head(req->node->chain, &head);
    from = head.height;
    if (from_s && !cc_http_parse_u64(from_s, 0, UINT64_MAX, &from))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "from must be a non-negative integer");
    if (limit_s && !cc_http_parse_u64(limit_s, 1, BLOCKS_MAX_LIMIT, &limit))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "limit must be 1..%d", BLOCKS_MAX_LIMIT);
    if (from > head.height) from = head.height;

    json_t *blocks = json_array();
    for (uint64_t h = from; h >= 1 && limit > 0 && blocks; h--, limit--) {
        json_t *b = NULL;
        e = cc_chain_block_json(req->node->chain, h, &b);
        if (e != CC_OK) break;
        json_object_del(b, "txs");
        json_array_append_new(blocks, b);
    }
    if (e != CC_OK) {
        json_decref(blocks);
        return send_query_error(req, e, "block", NULL);
    }
    return cc_http_send_json(req, MHD_HTTP_OK,
                             json_pack("{s:I, s:o}", "height", (json_int_t)head.height, "blocks", blocks));
}

enum MHD_Result cc_http_get_checkpoint(cc_http_req *req)
{
    json_t *v = NULL;
    cc_err e = cc_chain_checkpoint_json(req->node->chain, &v);
    if (e == CC_ERR_NOT_FOUND)
        return cc_http_send_error(req, e, NULL, "no checkpoint yet: no block has committed");
    if (e != CC_OK) return send_query_error(req, e, "checkpoint", NULL);
    return cc_http_send_json(req, MHD_HTTP_OK, v);
}

enum MHD_Result cc_http_get_identity(cc_http_req *req)
{
    uint8_t pk[CC_PUBKEY_BYTES];
    json_t *v = NULL;
    if (!parse_hash(req->arg, pk))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL,
                                  "an identity id is 64 hex digits (its public key)");
    cc_err e = cc_chain_identity_json(req->node->chain, pk, &v);
    if (e == CC_OK) return cc_http_send_json(req, MHD_HTTP_OK, v);
    return send_query_error(req, e, "identity", NULL);
}

enum MHD_Result cc_http_get_metrics(cc_http_req *req)
{
    cc_node *node = req->node;
    cc_head head;
    size_t len = 0;
    cc_chain_head(node->chain, &head);
    cc_metrics_gauges g = {
        .height = head.height,
        .mempool_size = cc_mempool_count(&node->mempool),
        .store_full = atomic_load(&node->store_full),
    };
    if (node->consensus.status) {
        cc_consensus_status cs;
        node->consensus.status(&node->consensus, &cs);
        g.raft = true;
        g.raft_term = cs.term;
        g.raft_leader = cs.leader_self;
        g.blocks_refused = cs.blocks_refused;
        g.blocks_fetched = cs.blocks_fetched;
        g.attachments_fetched = cs.attachments_fetched;
        g.repair_passes = cs.repair_passes;
        g.attachments_missing = cs.attachments_missing;
        g.apply_halted = cs.halted;
        g.raft_handshakes_failed = cs.raft_handshakes_failed;
        g.raft_frames_refused = cs.raft_frames_refused;
        g.raft_answers_corrected = cs.raft_answers_corrected;
        g.raft_votes_refused = cs.raft_votes_refused;
        cc_clock_verdict c = cc_clocks_verdict(&node->clocks, cs.voters, cc_mono_ns() / 1000000u);
        g.clock_skew_ms = c.skew_ms;
        g.clock_off = c.off;
        g.clock_handoffs = cs.clock_handoffs;
    }
    json_t *evidence = NULL;
    if (cc_chain_evidence_json(node->chain, &evidence) == CC_OK) g.evidence = json_array_size(evidence);
    size_t k;
    const json_t *e;
    json_array_foreach(evidence, k, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        g.evidence_minority += kind && strcmp(kind, "minority") == 0;
    }
    json_decref(evidence);
    char halt[CC_HALT_REASON_BYTES];
    bool solo_halted = !node->consensus.status && node->consensus.halted(&node->consensus, halt, sizeof halt);
    g.halted = g.apply_halted || solo_halted || cc_chain_halted(node->chain, NULL, 0);
    cc_chain_stats_get(node->chain, &g.chain);
    char *body = cc_metrics_render(&node->metrics, &g, &len);
    return cc_http_send(req, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
}
