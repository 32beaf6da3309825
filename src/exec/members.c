/*
 * members.c — which nodes are the consensus nodes at each height: the set
 * whose signatures make a checkpoint (docs/CONSENSUS.md "Checkpoints").
 *
 * The set after block h is the node list of "network/config" in the state
 * after h. The store's members table keeps it where it changes: an entry
 * at height h holds the set from h on; with no entry at or below h, the set
 * is the genesis nodes. Only a block that wrote an identity can change it
 * (adding or removing a node writes the node's identity), so the other
 * blocks cost one cursor lookup here.
 *
 * Invariant: the table is written in the block's own write transaction, so
 * it always agrees with the state (verify-chain compares it with a replay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "exec/chain_internal.h"

cc_err cc_members_at(cc_store *s, MDB_txn *txn, const cc_genesis *g, uint64_t height, cc_members *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[8];
    if (mdb_cursor_open(txn, s->members, &cur) != 0) return CC_ERR_IO;
    cc_put_u64(key, height);
    k.mv_data = key;
    k.mv_size = sizeof key;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0 && cc_get_u64(k.mv_data) != height)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    cc_err rc = CC_OK;
    if (mrc == MDB_NOTFOUND) {
        cc_genesis_members(g, out);
    } else if (mrc != 0 || k.mv_size != 8 || v.mv_size % CC_PUBKEY_BYTES != 0 ||
               cc_members_set(out, (const uint8_t(*)[CC_PUBKEY_BYTES])v.mv_data,
                              v.mv_size / CC_PUBKEY_BYTES) != CC_OK) {
        rc = CC_ERR_CORRUPT;
    }
    mdb_cursor_close(cur);
    return rc;
}

/* The node list of network/config in the state txn sees. */
static cc_err members_of_state(cc_store *s, MDB_txn *txn, cc_members *out)
{
    static const char cfg_key[] = "network/config";
    uint8_t keys[CC_MEMBERS_MAX][CC_PUBKEY_BYTES];
    MDB_val v;
    if (cc_store_get(txn, s->state, cfg_key, sizeof cfg_key - 1, &v) != CC_OK || v.mv_size < 8)
        return CC_ERR_CORRUPT;
    json_t *cfg = cc_json_parse((const uint8_t *)v.mv_data + 8, v.mv_size - 8, NULL);
    const json_t *nodes = json_object_get(cfg, "nodes"), *x;
    size_t i, n = json_array_size(nodes);
    cc_err rc = n > 0 && n <= CC_MEMBERS_MAX ? CC_OK : CC_ERR_CORRUPT;
    json_array_foreach(nodes, i, x)
    {
        if (rc == CC_OK &&
            (!json_is_string(x) || cc_unhex(json_string_value(x), keys[i], CC_PUBKEY_BYTES) != CC_OK))
            rc = CC_ERR_CORRUPT;
    }
    if (rc == CC_OK) rc = cc_members_set(out, (const uint8_t(*)[CC_PUBKEY_BYTES])keys, n);
    json_decref(cfg);
    return rc == CC_OK ? CC_OK : CC_ERR_CORRUPT;
}

cc_err cc_members_after_block(cc_store *s, MDB_txn *txn, const cc_genesis *g, uint64_t height,
                              bool ids_written, cc_members *out, cc_errbuf *eb)
{
    cc_members before;
    cc_err rc = cc_members_at(s, txn, g, height - 1, &before);
    if (rc != CC_OK) return cc_errf(eb, rc, "the store's members table is damaged");
    if (!ids_written) {
        *out = before;
        return CC_OK;
    }
    if ((rc = members_of_state(s, txn, out)) != CC_OK)
        return cc_errf(eb, rc, "block %llu: the state's network/config is not a list of nodes",
                       (unsigned long long)height);
    if (memcmp(out->hash, before.hash, CC_HASH_BYTES) == 0) return CC_OK;
    uint8_t key[8];
    cc_put_u64(key, height);
    return cc_store_put(s, txn, s->members, key, sizeof key, out->key, out->count * CC_PUBKEY_BYTES, eb);
}

cc_err cc_chain_members(cc_chain *c, uint64_t height, cc_members *out)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = cc_members_at(c->s, txn, &c->g, height, out);
    cc_store_abort(c->s, txn);
    return rc;
}

bool cc_chain_node_removed(cc_chain *c, const uint8_t pk[CC_PUBKEY_BYTES])
{
    char key[8 + CC_HASH_HEX], hex[CC_HASH_HEX], *val = NULL;
    size_t len = 0;
    snprintf(key, sizeof key, "node/%s", cc_hex(pk, CC_PUBKEY_BYTES, hex));
    if (cc_chain_state_get(c, key, &val, &len) != CC_OK) return false;
    json_t *rec = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    const char *st = json_string_value(json_object_get(rec, "status"));
    bool removed = st && strcmp(st, "removed") == 0;
    json_decref(rec);
    return removed;
}
