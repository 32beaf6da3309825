/*
 * query.c — read-only views of the chain: blocks, txs, identities, state,
 * attachments, checkpoints and inclusion proofs. Each call runs in its own
 * LMDB read transaction, concurrently with the writer; a cc_chain_view
 * keeps one read transaction open so that many reads see one height.
 */
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "exec/chain_internal.h"

#define CHECKPOINT_SCAN_MAX 4096 /* heights searched back for a majority */
#define STEP_SCAN_MAX       4096 /* heights searched for one membership step */

static char *hex32(const uint8_t *b, char out[CC_HASH_HEX])
{
    return cc_hex(b, CC_HASH_BYTES, out);
}

static json_t *result_json(const cc_result *r)
{
    return json_pack("{s:s, s:i, s:s}", "code", cc_err_name((cc_err)r->code), "code_num", (int)r->code,
                     "message", r->message);
}

/* A malloc'd copy of the value under key in dbi, in its own read txn. */
static cc_err copy_value(cc_chain *c, MDB_dbi dbi, const void *key, size_t klen, uint8_t **out, size_t *len)
{
    MDB_txn *txn;
    MDB_val v;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = cc_store_get(txn, dbi, key, klen, &v);
    if (rc == CC_OK) {
        *out = malloc(v.mv_size ? v.mv_size : 1);
        if (*out) {
            memcpy(*out, v.mv_data, v.mv_size);
            *len = v.mv_size;
        } else {
            rc = CC_ERR_NOMEM;
        }
    }
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_block_raw(cc_chain *c, uint64_t height, uint8_t **out, size_t *len)
{
    uint8_t key[8];
    cc_put_u64(key, height);
    return copy_value(c, c->s->blocks, key, sizeof key, out, len);
}

static json_t *header_json(const cc_header *h)
{
    char a[CC_HASH_HEX], b[CC_HASH_HEX], d[CC_HASH_HEX], e[CC_HASH_HEX], f[CC_HASH_HEX], g[CC_HASH_HEX],
        p[CC_HASH_HEX], s[2 * CC_SIG_BYTES + 1];
    uint8_t hash[CC_HASH_BYTES];
    cc_header_hash(h, hash);
    return json_pack("{s:I, s:s, s:s, s:I, s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "height",
                     (json_int_t)h->height, "hash", hex32(hash, a), "prev_hash", hex32(h->prev_hash, b),
                     "time_ms", (json_int_t)h->time_ms, "tx_count", (int)h->tx_count, "tx_root",
                     hex32(h->tx_root, d), "results_root", hex32(h->results_root, e), "state_root",
                     hex32(h->state_root, f), "blocks_root", hex32(h->blocks_root, g), "proposer",
                     hex32(h->proposer, p), "signature", cc_hex(h->sig, CC_SIG_BYTES, s));
}

/* Read and decode block `height` and its results within txn. */
static cc_err read_block(cc_chain *c, MDB_txn *txn, uint64_t height, cc_block *b, MDB_val *results)
{
    uint8_t key[8];
    MDB_val v;
    cc_put_u64(key, height);
    cc_err rc = cc_store_get(txn, c->s->blocks, key, sizeof key, &v);
    if (rc != CC_OK) return rc;
    if (cc_block_decode(v.mv_data, v.mv_size, b, NULL) != CC_OK) return CC_ERR_CORRUPT;
    if (results && cc_store_get(txn, c->s->results, key, sizeof key, results) != CC_OK) {
        cc_block_free(b);
        return CC_ERR_CORRUPT;
    }
    return CC_OK;
}

cc_err cc_chain_block_json(cc_chain *c, uint64_t height, json_t **out)
{
    MDB_txn *txn;
    MDB_val res;
    cc_block b;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = read_block(c, txn, height, &b, &res);
    if (rc != CC_OK) goto done;
    json_t *o = header_json(&b.h), *txs = json_array();
    for (size_t i = 0; i < b.tx_count && o && txs; i++) {
        char id[CC_HASH_HEX], signer[CC_HASH_HEX];
        cc_result r = {0};
        if (cc_results_get(res.mv_data, res.mv_size, (uint32_t)i, &r) != CC_OK) rc = CC_ERR_CORRUPT;
        json_array_append_new(txs, json_pack("{s:s, s:s, s:s, s:o}", "txid", hex32(b.txs[i].txid, id), "type",
                                             b.txs[i].type, "signer", hex32(b.txs[i].signer, signer),
                                             "result", result_json(&r)));
    }
    if (!o || !txs) rc = CC_ERR_NOMEM;
    if (rc == CC_OK) {
        json_object_set_new(o, "txs", txs);
        *out = o;
    } else {
        json_decref(o);
        json_decref(txs);
    }
    cc_block_free(&b);
done:
    cc_store_abort(c->s, txn);
    return rc;
}

/* loc->result from the results of block loc->height, inside txn. */
static cc_err read_result(cc_chain *c, MDB_txn *txn, cc_tx_location *loc)
{
    MDB_val res;
    uint8_t key[8];
    cc_put_u64(key, loc->height);
    if (cc_store_get(txn, c->s->results, key, sizeof key, &res) != CC_OK) return CC_ERR_CORRUPT;
    return cc_results_get(res.mv_data, res.mv_size, loc->index, &loc->result);
}

/* Where txid is, with its result, inside txn. */
static cc_err find_tx(cc_chain *c, MDB_txn *txn, const uint8_t txid[CC_HASH_BYTES], cc_tx_location *loc)
{
    cc_err rc = cc_txids_find(c->txids, c, txn, txid, &loc->height, &loc->index);
    return rc == CC_OK ? read_result(c, txn, loc) : rc;
}

cc_err cc_chain_tx_find(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], cc_tx_location *loc)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = find_tx(c, txn, txid, loc);
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_tx_committed(cc_chain *c, const cc_tx *tx, cc_tx_location *loc)
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t seen[CC_SEEN_KEY_BYTES];
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    cc_seen_key(tx, seen);
    if ((rc = cc_store_get(txn, c->s->seen, seen, sizeof seen, &v)) != CC_OK) goto done;
    if (v.mv_size != CC_TX_LOC_BYTES) {
        rc = CC_ERR_CORRUPT;
        goto done;
    }
    loc->height = cc_get_u64(v.mv_data);
    loc->index = cc_get_u32((const uint8_t *)v.mv_data + 8);
    rc = read_result(c, txn, loc);
done:
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_tx_json(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], json_t **out)
{
    MDB_txn *txn;
    cc_tx_location loc;
    cc_block b;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    if ((rc = find_tx(c, txn, txid, &loc)) != CC_OK) goto done;
    if ((rc = read_block(c, txn, loc.height, &b, NULL)) != CC_OK) goto done;
    if (loc.index >= b.tx_count) {
        rc = CC_ERR_CORRUPT;
        goto free_block;
    }
    const cc_tx *tx = &b.txs[loc.index];
    char id[CC_HASH_HEX], signer[CC_HASH_HEX], chain[CC_HASH_HEX], att[CC_HASH_HEX];
    json_t *payload = cc_json_parse((const uint8_t *)tx->payload, tx->payload_len, NULL);
    json_t *attachment = tx->has_attachment
                             ? json_pack("{s:s, s:i}", "sha256", hex32(tx->attachment_hash, att), "bytes",
                                         (int)tx->attachment_len)
                             : json_null();
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:I, s:i, s:I, s:o}", "txid",
                          hex32(tx->txid, id), "status", "committed", "type", tx->type, "signer",
                          hex32(tx->signer, signer), "chain_id", hex32(tx->chain_id, chain), "created_ms",
                          (json_int_t)tx->created_ms, "expiry_ms", (json_int_t)tx->expiry_ms, "payload",
                          payload ? payload : json_null(), "attachment", attachment, "height",
                          (json_int_t)loc.height, "index", (int)loc.index, "block_time_ms",
                          (json_int_t)b.h.time_ms, "result", result_json(&loc.result));
    if (o) { /* a u64 does not fit a JSON integer (int64): give it as a decimal string */
        char nonce[24];
        snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)tx->nonce);
        json_object_set_new(o, "nonce", json_string(nonce));
    }
    if (!o)
        rc = CC_ERR_NOMEM;
    else
        *out = o;
free_block:
    cc_block_free(&b);
done:
    cc_store_abort(c->s, txn);
    return rc;
}

/* The signatures stored for height by nodes of set `of` (at most
 * CC_MEMBERS_MAX, each node once: it is part of the key) into out. */
static size_t sigs_at(cc_chain *c, MDB_txn *txn, uint64_t height, const cc_members *of,
                      cc_checkpoint_sig *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t start[8];
    size_t n = 0;
    if (mdb_cursor_open(txn, c->s->checkpoints, &cur) != 0) return 0;
    cc_put_u64(start, height);
    k.mv_data = start;
    k.mv_size = sizeof start;
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && n < CC_MEMBERS_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 + CC_PUBKEY_BYTES || cc_get_u64(k.mv_data) != height) break;
        const uint8_t *node = (const uint8_t *)k.mv_data + 8;
        if (v.mv_size != CC_SIG_BYTES || cc_members_index(of, node) < 0) continue;
        memcpy(out[n].node, node, CC_PUBKEY_BYTES);
        memcpy(out[n].sig, v.mv_data, CC_SIG_BYTES);
        n++;
    }
    mdb_cursor_close(cur);
    return n;
}

/* A found checkpoint: its height, the consensus nodes there, and the
 * signatures of more than half of them. */
typedef struct checkpoint {
    uint64_t height;
    cc_members members;
    cc_checkpoint_sig sigs[CC_MEMBERS_MAX];
    size_t n;
} checkpoint;

/* The newest height (of the newest CHECKPOINT_SCAN_MAX that hold any
 * signature) whose checkpoint more than half of its consensus nodes signed. */
static cc_err find_checkpoint(cc_chain *c, MDB_txn *txn, checkpoint *out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t at[8];
    cc_err rc = CC_ERR_NOT_FOUND;
    if (mdb_cursor_open(txn, c->s->checkpoints, &cur) != 0) return CC_ERR_IO;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    for (unsigned scanned = 0; mrc == 0 && scanned < CHECKPOINT_SCAN_MAX; scanned++) {
        if (k.mv_size < 8) break;
        uint64_t h = cc_get_u64(k.mv_data);
        if (cc_members_at(c->s, txn, &c->g, h, &out->members) != CC_OK) {
            rc = CC_ERR_CORRUPT;
            break;
        }
        out->n = sigs_at(c, txn, h, &out->members, out->sigs);
        if (out->n * 2 > out->members.count) {
            out->height = h;
            rc = CC_OK;
            break;
        }
        cc_put_u64(at, h); /* on to the newest entry of a lower height */
        k.mv_data = at;
        k.mv_size = sizeof at;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == 0) mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close(cur);
    return rc;
}

static json_t *sigs_json(const cc_checkpoint_sig *sigs, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && a; i++) {
        char node[CC_HASH_HEX], sig[2 * CC_SIG_BYTES + 1];
        json_array_append_new(a, json_pack("{s:s, s:s}", "node", hex32(sigs[i].node, node), "sig",
                                           cc_hex(sigs[i].sig, CC_SIG_BYTES, sig)));
    }
    return a;
}

static json_t *members_json(const cc_members *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->count && a; i++) {
        char hex[CC_HASH_HEX];
        json_array_append_new(a, json_string(hex32(m->key[i], hex)));
    }
    return a;
}

/* {height, header, members, signatures} of a signed checkpoint, as proofs
 * carry it. */
static json_t *signed_json(const cc_header *h, const cc_members *m, const cc_checkpoint_sig *sigs, size_t n)
{
    uint8_t raw[CC_HEADER_BYTES];
    char hex[2 * CC_HEADER_BYTES + 1];
    cc_header_encode(h, raw);
    return json_pack("{s:I, s:s, s:o, s:o}", "height", (json_int_t)h->height, "header",
                     cc_hex(raw, sizeof raw, hex), "members", members_json(m), "signatures",
                     sigs_json(sigs, n));
}

cc_err cc_chain_checkpoint_height(cc_chain *c, uint64_t *height)
{
    MDB_txn *txn;
    checkpoint *cp = malloc(sizeof *cp);
    cc_err rc = cp ? cc_store_begin(c->s, false, &txn, NULL) : CC_ERR_NOMEM;
    if (rc != CC_OK) {
        free(cp);
        return rc;
    }
    if ((rc = find_checkpoint(c, txn, cp)) == CC_OK) *height = cp->height;
    cc_store_abort(c->s, txn);
    free(cp);
    return rc;
}

cc_err cc_chain_checkpoint_json(cc_chain *c, json_t **out)
{
    MDB_txn *txn;
    cc_header h;
    checkpoint *cp = malloc(sizeof *cp);
    cc_err rc = cp ? cc_store_begin(c->s, false, &txn, NULL) : CC_ERR_NOMEM;
    if (rc != CC_OK) {
        free(cp);
        return rc;
    }
    if ((rc = find_checkpoint(c, txn, cp)) != CC_OK) goto done;
    if ((rc = cc_chain_header_at(c->s, txn, cp->height, &h)) != CC_OK) goto done;
    uint8_t raw[CC_HEADER_BYTES], hash[CC_HASH_BYTES];
    char hh[CC_HASH_HEX], sr[CC_HASH_HEX], hdr[2 * CC_HEADER_BYTES + 1];
    cc_header_encode(&h, raw);
    cc_header_hash(&h, hash);
    *out = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:i, s:i}", "height", (json_int_t)cp->height,
                     "block_hash", hex32(hash, hh), "state_root", hex32(h.state_root, sr), "header",
                     cc_hex(raw, sizeof raw, hdr), "members", members_json(&cp->members), "signatures",
                     sigs_json(cp->sigs, cp->n), "nodes", (int)cp->members.count, "required",
                     (int)(cp->members.count / 2 + 1));
    if (!*out) rc = CC_ERR_NOMEM;
done:
    cc_store_abort(c->s, txn);
    free(cp);
    return rc;
}

cc_err cc_chain_checkpoint_add_many(cc_chain *c, const uint64_t *heights, const cc_checkpoint_sig *sigs,
                                    size_t n, cc_err *outcomes, cc_errbuf *eb)
{
    MDB_txn *txn;
    size_t writes = 0;
    cc_members *m = malloc(sizeof *m);
    uint64_t m_height = UINT64_MAX; /* the height m is the set of */
    if (!m) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    cc_chain_drop_kept(c); /* a block this thread keeps holds the store's write lock */
    cc_err rc = cc_store_begin(c->s, true, &txn, eb);
    if (rc != CC_OK) {
        free(m);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        cc_header h;
        MDB_val old;
        uint8_t key[8 + CC_PUBKEY_BYTES];
        if ((outcomes[i] = cc_chain_header_at(c->s, txn, heights[i], &h)) != CC_OK) continue;
        if (m_height != heights[i]) {
            if ((rc = cc_members_at(c->s, txn, &c->g, heights[i], m)) != CC_OK) {
                rc = cc_errf(eb, rc, "the store's members table is damaged");
                goto err;
            }
            m_height = heights[i];
        }
        if (cc_members_index(m, sigs[i].node) < 0) {
            outcomes[i] = CC_ERR_FORBIDDEN;
            continue;
        }
        if (!cc_checkpoint_verify(&h, m->hash, &sigs[i])) {
            outcomes[i] = CC_ERR_SIGNATURE;
            continue;
        }
        cc_put_u64(key, heights[i]);
        memcpy(key + 8, sigs[i].node, CC_PUBKEY_BYTES);
        if (cc_store_get(txn, c->s->checkpoints, key, sizeof key, &old) == CC_OK &&
            old.mv_size == CC_SIG_BYTES && memcmp(old.mv_data, sigs[i].sig, CC_SIG_BYTES) == 0)
            continue; /* already known: no write */
        if ((rc = cc_store_put(c->s, txn, c->s->checkpoints, key, sizeof key, sigs[i].sig, CC_SIG_BYTES,
                               eb)) != CC_OK)
            goto err;
        writes++;
    }
    free(m);
    if (writes == 0) {
        cc_store_abort(c->s, txn);
        return CC_OK;
    }
    return cc_store_commit(c->s, txn, eb);
err:
    free(m);
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_header_get(cc_chain *c, uint64_t height, cc_header *out)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = cc_chain_header_at(c->s, txn, height, out);
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_checkpoint_sigs_json(cc_chain *c, uint64_t height, json_t **out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    cc_header h;
    uint8_t start[8], raw[CC_HEADER_BYTES], hash[CC_HASH_BYTES];
    char hh[CC_HASH_HEX], hdr[2 * CC_HEADER_BYTES + 1];
    json_t *list = NULL;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    if ((rc = cc_chain_header_at(c->s, txn, height, &h)) != CC_OK) goto done;
    if (mdb_cursor_open(txn, c->s->checkpoints, &cur) != 0) {
        rc = CC_ERR_IO;
        goto done;
    }
    list = json_array();
    cc_put_u64(start, height);
    k.mv_data = start;
    k.mv_size = sizeof start;
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && list;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 + CC_PUBKEY_BYTES || cc_get_u64(k.mv_data) != height) break;
        if (v.mv_size != CC_SIG_BYTES) continue;
        char n[CC_HASH_HEX], s[2 * CC_SIG_BYTES + 1];
        json_array_append_new(list, json_pack("{s:s, s:s}", "node", hex32((const uint8_t *)k.mv_data + 8, n),
                                              "sig", cc_hex(v.mv_data, CC_SIG_BYTES, s)));
    }
    mdb_cursor_close(cur);
    cc_header_encode(&h, raw);
    cc_header_hash(&h, hash);
    *out = list ? json_pack("{s:I, s:s, s:s, s:O}", "height", (json_int_t)height, "block_hash",
                            hex32(hash, hh), "header", cc_hex(raw, sizeof raw, hdr), "signatures", list)
                : NULL;
    if (!*out) rc = CC_ERR_NOMEM;
done:
    json_decref(list);
    cc_store_abort(c->s, txn);
    return rc;
}

static json_t *path_json(uint8_t path[][CC_HASH_BYTES], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && a; i++) {
        char h[CC_HASH_HEX];
        json_array_append_new(a, json_string(hex32(path[i], h)));
    }
    return a;
}

/* The lowest height above after where the members table records a change. */
static bool next_change(cc_chain *c, MDB_txn *txn, uint64_t after, uint64_t *height)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[8];
    if (mdb_cursor_open(txn, c->s->members, &cur) != 0) return false;
    cc_put_u64(key, after + 1);
    k.mv_data = key;
    k.mv_size = sizeof key;
    bool found = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size == 8;
    if (found) *height = cc_get_u64(k.mv_data);
    mdb_cursor_close(cur);
    return found;
}

static size_t count_in(const cc_checkpoint_sig *sigs, size_t n, const cc_members *m)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += cc_members_index(m, sigs[i].node) >= 0;
    return k;
}

/* The membership steps of a proof anchored at cp (see proof.c): starting
 * from the genesis nodes, as long as the set trusted so far is not a
 * majority of cp's signers, the lowest height after the next change of
 * the set that a majority of the trusted set signed; the set there is
 * trusted next. Heights of every change are in the members table. Appends
 * each step to steps (NULL: only looks). When a step is missing,
 * CC_ERR_NOT_FOUND and gap[0..1] (may be NULL) get the heights it was
 * searched in. */
static cc_err membership_steps(cc_chain *c, MDB_txn *txn, const checkpoint *cp, json_t *steps,
                               uint64_t gap[2], cc_errbuf *eb)
{
    cc_members trusted;
    uint64_t after = 0;
    checkpoint *st = malloc(sizeof *st);
    cc_err rc = st ? CC_OK : CC_ERR_NOMEM;
    cc_genesis_members(&c->g, &trusted);
    while (rc == CC_OK && count_in(cp->sigs, cp->n, &trusted) * 2 <= trusted.count) {
        uint64_t change = after + 1, h;
        bool found = false;
        if (next_change(c, txn, after, &change) && change <= cp->height)
            for (h = change; h <= cp->height && h - change < STEP_SCAN_MAX && !found; h++) {
                st->n = sigs_at(c, txn, h, &trusted, st->sigs);
                found = st->n * 2 > trusted.count;
            }
        if (!found) {
            if (gap) {
                uint64_t lo = change <= cp->height ? change : cp->height;
                gap[0] = lo;
                gap[1] = cp->height - lo < STEP_SCAN_MAX ? cp->height : lo + STEP_SCAN_MAX - 1;
            }
            rc = cc_errf(
                eb, CC_ERR_NOT_FOUND,
                "no majority of the nodes trusted after height %llu signed a later checkpoint yet, so "
                "the nodes that signed checkpoint %llu cannot be traced back to the genesis nodes",
                (unsigned long long)after, (unsigned long long)cp->height);
            break;
        }
        cc_header hdr;
        h--; /* the loop stepped past it */
        if ((rc = cc_members_at(c->s, txn, &c->g, h, &st->members)) != CC_OK ||
            (rc = cc_chain_header_at(c->s, txn, h, &hdr)) != CC_OK)
            break;
        if (steps && json_array_append_new(steps, signed_json(&hdr, &st->members, st->sigs, st->n)) != 0)
            rc = CC_ERR_NOMEM;
        trusted = st->members;
        after = h;
    }
    free(st);
    return rc;
}

cc_err cc_chain_membership_gap(cc_chain *c, uint64_t *from, uint64_t *to)
{
    MDB_txn *txn;
    uint64_t gap[2] = {0, 0}; /* set only when the steps stop at a gap (its heights start at 1) */
    checkpoint *cp = malloc(sizeof *cp);
    cc_err rc = cp ? cc_store_begin(c->s, false, &txn, NULL) : CC_ERR_NOMEM;
    if (rc != CC_OK) {
        free(cp);
        return rc;
    }
    rc = find_checkpoint(c, txn, cp);
    if (rc == CC_OK) {
        rc = membership_steps(c, txn, cp, NULL, gap, NULL);
        if (rc == CC_ERR_NOT_FOUND && gap[0] > 0) {
            *from = gap[0];
            *to = gap[1];
            rc = CC_OK;
        } else if (rc == CC_OK) {
            rc = CC_ERR_NOT_FOUND; /* no gap */
        }
    }
    cc_store_abort(c->s, txn);
    free(cp);
    return rc;
}

cc_err cc_chain_proof(cc_chain *c, const uint8_t txid[CC_HASH_BYTES], json_t **out, cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_tx_location loc;
    cc_block b = {0};
    cc_header ch;
    checkpoint *cp = malloc(sizeof *cp);
    json_t *steps = json_array();
    uint8_t(*leaves)[CC_HASH_BYTES] = NULL;
    uint8_t tx_path[CC_MERKLE_PATH_MAX][CC_HASH_BYTES], res_path[CC_MERKLE_PATH_MAX][CC_HASH_BYTES],
        hist_path[CC_MERKLE_PATH_MAX][CC_HASH_BYTES];
    size_t tx_n = 0, res_n = 0, hist_n = 0;
    MDB_val res;
    if (!cp || !steps) {
        free(cp);
        json_decref(steps);
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    }
    cc_err rc = cc_store_begin(c->s, false, &txn, eb);
    if (rc != CC_OK) {
        free(cp);
        json_decref(steps);
        return rc;
    }
    cc_store_ctx sc = {c->s, txn};
    cc_merkle_source hist = {&sc, cc_store_history_get};

    if ((rc = find_tx(c, txn, txid, &loc)) != CC_OK) {
        rc = cc_errf(eb, rc,
                     rc == CC_ERR_NOT_FOUND ? "no committed tx has this id" : "cannot read the tx index");
        goto done;
    }
    if ((rc = read_block(c, txn, loc.height, &b, &res)) != CC_OK) goto done;
    if ((rc = find_checkpoint(c, txn, cp)) != CC_OK || cp->height < loc.height) {
        rc = cc_errf(eb, CC_ERR_NOT_FOUND, "no majority-signed checkpoint covers height %llu yet",
                     (unsigned long long)loc.height);
        goto done;
    }
    if ((rc = cc_chain_header_at(c->s, txn, cp->height, &ch)) != CC_OK) goto done;
    if ((rc = membership_steps(c, txn, cp, steps, NULL, eb)) != CC_OK) goto done;

    leaves = malloc(b.tx_count * sizeof *leaves);
    if (!leaves) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < b.tx_count; i++) cc_merkle_leaf(b.txs[i].txid, CC_HASH_BYTES, leaves[i]);
    if ((rc = cc_merkle_path((const uint8_t(*)[CC_HASH_BYTES])leaves, b.tx_count, loc.index, tx_path,
                             &tx_n)) != CC_OK)
        goto done;
    for (size_t i = 0; i < b.tx_count; i++) {
        cc_result r;
        if ((rc = cc_results_get(res.mv_data, res.mv_size, (uint32_t)i, &r)) != CC_OK) goto done;
        cc_result_leaf(b.txs[i].txid, &r, leaves[i]);
    }
    if ((rc = cc_merkle_path((const uint8_t(*)[CC_HASH_BYTES])leaves, b.tx_count, loc.index, res_path,
                             &res_n)) != CC_OK)
        goto done;
    if (cp->height > loc.height &&
        (rc = cc_merkle_path_src(&hist, cp->height, loc.height, hist_path, &hist_n)) != CC_OK)
        goto done;

    uint8_t bh[CC_HEADER_BYTES];
    char bhex[2 * CC_HEADER_BYTES + 1], chain[CC_HASH_HEX], id[CC_HASH_HEX];
    cc_header_encode(&b.h, bh);
    const cc_tx *tx = &b.txs[loc.index];
    char *tx_b64 = cc_base64(tx->raw, tx->raw_len);
    *out = json_pack(
        "{s:i, s:s, s:s, s:s, s:o, s:{s:I, s:s, s:i, s:o, s:o}, s:O, s:o, s:o}", "carechain_proof", 2,
        "chain_id", hex32(c->g.chain_id, chain), "txid", hex32(tx->txid, id), "tx", tx_b64 ? tx_b64 : "",
        "result", result_json(&loc.result), "block", "height", (json_int_t)loc.height, "header",
        cc_hex(bh, sizeof bh, bhex), "index", (int)loc.index, "tx_path", path_json(tx_path, tx_n),
        "result_path", path_json(res_path, res_n), "membership", steps, "checkpoint",
        signed_json(&ch, &cp->members, cp->sigs, cp->n), "history_path", path_json(hist_path, hist_n));
    free(tx_b64);
    if (!*out) rc = CC_ERR_NOMEM;
done:
    free(leaves);
    free(cp);
    json_decref(steps);
    cc_block_free(&b);
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_state_get(cc_chain *c, const char *key, char **val, size_t *len)
{
    MDB_txn *txn;
    MDB_val v;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = cc_store_get(txn, c->s->state, key, strlen(key), &v);
    if (rc == CC_OK && v.mv_size < 8) rc = CC_ERR_CORRUPT;
    if (rc == CC_OK) {
        *len = v.mv_size - 8;
        *val = malloc(*len + 1);
        if (*val) {
            memcpy(*val, (const char *)v.mv_data + 8, *len);
            (*val)[*len] = '\0';
        } else {
            rc = CC_ERR_NOMEM;
        }
    }
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_rulesets_get(cc_chain *c, cc_chain_rulesets *out)
{
    cc_head head;
    char *val = NULL;
    size_t len = 0;
    json_t *rec = NULL;
    memset(out, 0, sizeof *out);
    cc_chain_head(c, &head);
    cc_err rc = cc_chain_state_get(c, "network/ruleset", &val, &len);
    if (rc == CC_OK && !(rec = cc_json_parse((const uint8_t *)val, len, NULL))) rc = CC_ERR_CORRUPT;
    free(val);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return rc;
    out->height = head.height + 1;
    out->active = cc_ruleset_at(rec, &c->g, out->height);
    const json_t *from = json_object_get(rec, "from");
    if (json_is_integer(from) && (uint64_t)json_integer_value(from) > out->height &&
        cc_ruleset_at(rec, &c->g, (uint64_t)json_integer_value(from)) != out->active) {
        out->from = (uint64_t)json_integer_value(from);
        out->next = cc_ruleset_at(rec, &c->g, out->from);
    }
    json_decref(rec);
    return CC_OK;
}

cc_err cc_chain_next_ruleset_known(cc_chain *c, cc_errbuf *eb)
{
    cc_chain_rulesets rs;
    cc_err rc = cc_chain_rulesets_get(c, &rs);
    if (rc != CC_OK) return cc_errf(eb, rc, "reading network/ruleset");
    return cc_ruleset_known(rs.active, rs.height, eb);
}

/* memcmp order of two byte strings, as LMDB orders keys. */
static int key_order(const char *a, size_t alen, const char *b, size_t blen)
{
    int d = memcmp(a, b, alen < blen ? alen : blen);
    return d ? d : (alen > blen) - (alen < blen);
}

cc_err cc_chain_state_scan(cc_chain *c, const char *prefix, const char *after, size_t limit,
                           cc_state_visit_fn visit, void *ctx, bool *more)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    size_t plen = strlen(prefix), alen = after ? strlen(after) : 0, seen = 0;
    bool resume = after && key_order(after, alen, prefix, plen) >= 0;
    MDB_val k = resume ? (MDB_val){alen, (void *)after} : (MDB_val){plen, (void *)prefix}, v;
    *more = false;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    if (mdb_cursor_open(txn, c->s->state, &cur) != 0) {
        cc_store_abort(c->s, txn);
        return CC_ERR_IO;
    }
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (mrc == 0 && resume && key_order(k.mv_data, k.mv_size, after, alen) == 0)
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after */
    for (; mrc == 0 && rc == CC_OK; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) break;
        if (seen == limit) {
            *more = true;
            break;
        }
        seen++;
        if (v.mv_size < 8)
            rc = CC_ERR_CORRUPT;
        else
            rc = visit(ctx, k.mv_data, k.mv_size, (const uint8_t *)v.mv_data + 8, v.mv_size - 8);
    }
    mdb_cursor_close(cur);
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_identity_json(cc_chain *c, const uint8_t pk[CC_PUBKEY_BYTES], json_t **out)
{
    char key[3 + CC_HASH_HEX], *val = NULL;
    size_t len;
    memcpy(key, "id/", 3);
    cc_hex(pk, CC_PUBKEY_BYTES, key + 3);
    cc_err rc = cc_chain_state_get(c, key, &val, &len);
    if (rc != CC_OK) return rc;
    json_t *o = cc_json_parse((const uint8_t *)val, len, NULL);
    free(val);
    if (!o) return CC_ERR_CORRUPT;
    json_object_set_new(o, "id", json_string(key + 3));
    json_t *since = json_object_get(o, "since");
    if (since) json_object_set(o, "registered_height", since);
    if (!json_object_get(o, "name")) json_object_set_new(o, "name", json_null());
    *out = o;
    return CC_OK;
}

cc_err cc_chain_attachment(cc_chain *c, const uint8_t hash[CC_HASH_BYTES], uint8_t **out, size_t *len)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, false, &txn, NULL);
    if (rc != CC_OK) return rc;
    rc = cc_store_attach_get(c->s, txn, hash, out, len);
    cc_store_abort(c->s, txn);
    return rc;
}

/* Store the bytes unless held already; the caller holds c->writer. */
static cc_err attachment_restore(cc_chain *c, const uint8_t hash[CC_HASH_BYTES], const uint8_t *bytes,
                                 size_t len, cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, true, &txn, eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_store_attach_put(c->s, txn, hash, bytes, len, eb)) != CC_OK) {
        cc_store_abort(c->s, txn);
        return rc;
    }
    return cc_store_commit(c->s, txn, eb);
}

bool cc_chain_attachment_has(cc_chain *c, const uint8_t hash[CC_HASH_BYTES])
{
    MDB_txn *txn;
    if (cc_store_begin(c->s, false, &txn, NULL) != CC_OK) return false;
    bool has = cc_store_attach_has(c->s, txn, hash);
    cc_store_abort(c->s, txn);
    return has;
}

cc_err cc_chain_attachment_restore_if(cc_chain *c, const uint8_t hash[CC_HASH_BYTES], const uint8_t *bytes,
                                      size_t len, bool (*wanted)(void *ctx), void *ctx, cc_errbuf *eb)
{
    uint8_t sum[CC_HASH_BYTES];
    cc_sha256(bytes, len, sum); /* up to 1 MiB: before blocks are held off */
    if (memcmp(sum, hash, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_ATTACHMENT, "the bytes do not hash to the attachment's SHA-256");
    cc_chain_drop_kept(c);          /* a block this thread keeps holds the writer lock */
    pthread_mutex_lock(&c->writer); /* what commits blocks holds it (commit_growing) */
    cc_err rc = wanted(ctx) ? attachment_restore(c, hash, bytes, len, eb)
                            : cc_errf(eb, CC_ERR_NOT_FOUND, "the ledger no longer wants these bytes");
    pthread_mutex_unlock(&c->writer);
    return rc;
}

/* ---- consistent views ---------------------------------------------------------- */

struct cc_chain_view {
    cc_chain *c;
    MDB_txn *txn; /* one read txn for the view's lifetime */
    uint64_t height, time_ms;
};

cc_err cc_chain_view_open(cc_chain *c, cc_chain_view **out)
{
    cc_chain_view *v = calloc(1, sizeof *v);
    MDB_val head;
    cc_head h;
    if (!v) return CC_ERR_NOMEM;
    cc_err rc = cc_store_begin(c->s, false, &v->txn, NULL);
    if (rc != CC_OK) {
        free(v);
        return rc;
    }
    /* the head as of this txn, not the cached one: a block may commit meanwhile */
    rc = cc_store_get(v->txn, c->s->meta, "head", 4, &head);
    if (rc == CC_OK && head.mv_size != CC_META_HEAD_BYTES) rc = CC_ERR_CORRUPT;
    if (rc != CC_OK) {
        cc_store_abort(c->s, v->txn);
        free(v);
        return rc == CC_ERR_NOT_FOUND ? CC_ERR_CORRUPT : rc;
    }
    cc_chain_head_decode(head.mv_data, &h);
    v->c = c;
    v->height = h.height;
    v->time_ms = h.time_ms;
    *out = v;
    return CC_OK;
}

void cc_chain_view_close(cc_chain_view *v)
{
    if (!v) return;
    cc_store_abort(v->c->s, v->txn);
    free(v);
}

uint64_t cc_chain_view_height(const cc_chain_view *v)
{
    return v->height;
}

uint64_t cc_chain_view_time(const cc_chain_view *v)
{
    return v->time_ms;
}

cc_err cc_chain_view_get_json(void *view, const char *key, json_t **out)
{
    cc_chain_view *v = view;
    MDB_val val;
    cc_err rc = cc_store_get(v->txn, v->c->s->state, key, strlen(key), &val);
    if (rc != CC_OK) return rc;
    if (val.mv_size < 8) return CC_ERR_CORRUPT; /* u64 height of the last write || value */
    *out = cc_json_parse((const uint8_t *)val.mv_data + 8, val.mv_size - 8, NULL);
    return *out ? CC_OK : CC_ERR_CORRUPT;
}
