/*
 * node/join.c — a node added at runtime learns its raft address and the
 * network from the applied state or from a peer's GET /v1/network (see
 * join.h and docs/CONSENSUS.md "Membership").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "node/join.h"
#include "node/log.h"
#include "node/peer_answer.h"

#define JOIN_ANSWER_MAX     (4u * 1024 * 1024)
#define JOIN_TIMEOUT_MS     5000L
#define JOIN_CONNECT_MS     1000L
#define JOIN_URL_MAX        512
#define JOIN_RECORD_KEY_MAX 96

/* GET base/v1/network; the parsed answer or NULL (why in eb). */
static json_t *fetch_network(const char *base, cc_errbuf *eb)
{
    char url[JOIN_URL_MAX];
    cc_peer_answer a = {.max = JOIN_ANSWER_MAX};
    long status = 0;
    json_t *v = NULL;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') n--;
    snprintf(url, sizeof url, "%s%.*s/v1/network", strstr(base, "://") ? "" : "http://", (int)n, base);
    CURL *c = curl_easy_init();
    if (!c) {
        cc_errf(eb, CC_ERR_NOMEM, "no memory for libcurl");
        return NULL;
    }
    CURLcode cr = cc_peer_perform(c, url, JOIN_TIMEOUT_MS, JOIN_CONNECT_MS, &a, &status);
    curl_easy_cleanup(c);
    if (cr != CURLE_OK)
        cc_errf(eb, CC_ERR_UNREACHABLE, "%s: %s", url, curl_easy_strerror(cr));
    else if (status != 200)
        cc_errf(eb, CC_ERR_UNREACHABLE, "%s answered HTTP %ld", url, status);
    else if (!(v = cc_json_parse((const uint8_t *)a.buf, a.len, NULL)) ||
             !json_is_array(json_object_get(v, "nodes"))) {
        cc_errf(eb, CC_ERR_UNREACHABLE, "%s did not answer a network description", url);
        json_decref(v);
        v = NULL;
    }
    free(a.buf);
    return v;
}

/* This node's record in nodes, or NULL. */
static const json_t *find_self(const json_t *nodes, const char *self_hex)
{
    size_t i;
    const json_t *v;
    json_array_foreach(nodes, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id && strcmp(id, self_hex) == 0) return v;
    }
    return NULL;
}

/* Active -> CC_OK with raft copied; removed -> CC_ERR_USAGE. */
static cc_err take_record(const json_t *rec, const char *where, char *raft, size_t cap, cc_errbuf *eb)
{
    const char *status = json_string_value(json_object_get(rec, "status"));
    const char *addr = json_string_value(json_object_get(rec, "raft"));
    if (!status || strcmp(status, "active") != 0)
        return cc_errf(eb, CC_ERR_USAGE, "%s says this node was removed from the network (at height %lld)",
                       where, (long long)json_integer_value(json_object_get(rec, "removed_at")));
    if (!addr || !*addr || strlen(addr) >= cap)
        return cc_errf(eb, CC_ERR_USAGE, "%s holds no usable raft address for this node", where);
    snprintf(raft, cap, "%s", addr);
    return CC_OK;
}

/* This node's record in its own applied state (a restart): true with *rc
 * set when there is one. The state may lag the network (a node removed
 * from raft never receives the block that removed it), so peers are asked
 * first. */
static bool from_state(cc_chain *chain, const char *self_hex, char *raft, size_t cap, cc_errbuf *eb,
                       cc_err *rc)
{
    char rkey[JOIN_RECORD_KEY_MAX], *val = NULL;
    size_t len = 0;
    snprintf(rkey, sizeof rkey, "node/%s", self_hex);
    if (cc_chain_state_get(chain, rkey, &val, &len) != CC_OK) return false;
    json_t *rec = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    *rc = rec ? take_record(rec, "this node's chain", raft, cap, eb)
              : cc_errf(eb, CC_ERR_CORRUPT, "this node's record in the state is not JSON");
    json_decref(rec);
    return true;
}

cc_err cc_join_resolve(cc_chain *chain, const cc_key *key, const char *dir, const json_t *peers,
                       json_t **nodes, char *raft, size_t cap, cc_errbuf *eb)
{
    char self_hex[CC_HASH_HEX];
    cc_err rc;

    *nodes = NULL;
    cc_hex(key->pk, CC_PUBKEY_BYTES, self_hex);
    if (json_array_size(peers) == 0 && from_state(chain, self_hex, raft, cap, eb, &rc)) return rc;
    if (json_array_size(peers) == 0) {
        return cc_errf(eb, CC_ERR_USAGE,
                       "node.key (%.16s...) is not a node of this genesis; a node added to the network "
                       "later needs \"peers\" (API URLs of running nodes) in %s/config.json",
                       self_hex, dir);
    }
    rc = CC_ERR_UNREACHABLE;
    cc_errbuf why = {{0}};
    size_t i;
    const json_t *v;
    json_array_foreach(peers, i, v)
    {
        const char *url = json_string_value(v);
        json_t *net = fetch_network(url, &why);
        if (!net) {
            cc_node_log(CC_LOG_WARN, "join", "peer %s: %s", url, why.msg);
            continue;
        }
        const json_t *rec = find_self(json_object_get(net, "nodes"), self_hex);
        if (!rec) {
            rc =
                cc_errf(eb, CC_ERR_USAGE,
                        "peer %s does not list this node (%.16s...) as a member (not approved yet, or "
                        "removed): an admin proposes it with `carechain network propose-add` and admins of a "
                        "majority of organisations approve it",
                        url, self_hex);
            json_decref(net);
            continue;
        }
        char where[JOIN_URL_MAX];
        snprintf(where, sizeof where, "peer %s", url);
        rc = take_record(rec, where, raft, cap, eb);
        if (rc == CC_OK) {
            *nodes = json_incref(json_object_get(net, "nodes"));
            cc_node_log(CC_LOG_INFO, "join", "peer %s lists this node as a member; raft address %s", url,
                        raft);
        }
        json_decref(net);
        break;
    }
    if (rc == CC_ERR_UNREACHABLE && !from_state(chain, self_hex, raft, cap, eb, &rc))
        cc_errf(eb, rc, "no peer in %s/config.json answered (%s)", dir, why.msg);
    return rc;
}
