/*
 * evidence.c — what a node keeps when the network misbehaves: two different
 * signed blocks for one height (equivocation), a block whose re-execution
 * disagrees with what its signers claim (divergence), or a checkpoint a
 * majority of nodes signed that differs from this node's (minority: this
 * node is the odd one out, kept with the majority's signatures). Recording evidence
 * halts the chain: produce and apply are refused from then on (reads go on),
 * and the halt survives a restart, until an operator investigates.
 *
 *   running --cc_chain_evidence_add--> halted (meta "halted" = the reason)
 */
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "exec/chain_internal.h"

static const char meta_halted[] = "halted";

static const char *kind_name(cc_evidence_kind k)
{
    return k == CC_EVIDENCE_EQUIVOCATION ? "equivocation"
           : k == CC_EVIDENCE_MINORITY   ? "minority"
                                         : "divergence";
}

static json_t *header_hex(const cc_header *h)
{
    uint8_t raw[CC_HEADER_BYTES], hash[CC_HASH_BYTES];
    char hex[2 * CC_HEADER_BYTES + 1], hh[CC_HASH_HEX], who[CC_HASH_HEX], root[CC_HASH_HEX];
    cc_header_encode(h, raw);
    cc_header_hash(h, hash);
    return json_pack("{s:s, s:s, s:s, s:s}", "header", cc_hex(raw, sizeof raw, hex), "hash",
                     cc_hex(hash, 32, hh), "proposer", cc_hex(h->proposer, 32, who), "state_root",
                     cc_hex(h->state_root, 32, root));
}

cc_err cc_chain_evidence_add(cc_chain *c, cc_evidence_kind kind, const cc_header *a, const cc_header *b,
                             const char *detail, cc_errbuf *eb)
{
    return cc_chain_evidence_add_signed(c, kind, a, b, detail, NULL, eb);
}

bool cc_chain_evidence_has(cc_chain *c, uint64_t height, cc_evidence_kind kind)
{
    MDB_txn *txn;
    MDB_val v;
    uint8_t key[9];
    bool has = false;
    cc_put_u64(key, height);
    key[8] = (uint8_t)kind;
    if (cc_store_begin(c->s, false, &txn, NULL) != CC_OK) return false;
    has = cc_store_get(txn, c->s->evidence, key, sizeof key, &v) == CC_OK;
    cc_store_abort(c->s, txn);
    return has;
}

cc_err cc_chain_evidence_add_signed(cc_chain *c, cc_evidence_kind kind, const cc_header *a,
                                    const cc_header *b, const char *detail, const json_t *sigs, cc_errbuf *eb)
{
    MDB_txn *txn;
    uint8_t key[9];
    char reason[300];
    json_t *o =
        json_pack("{s:s, s:I, s:[o,o], s:s}", "kind", kind_name(kind), "height", (json_int_t)a->height,
                  "headers", header_hex(a), header_hex(b), "detail", detail ? detail : "");
    if (o && sigs) json_object_set(o, "signatures", (json_t *)sigs);
    char *text = o ? cc_json_dump(o) : NULL;
    json_decref(o);
    if (!text) return cc_errf(eb, CC_ERR_NOMEM, "out of memory recording evidence");
    snprintf(reason, sizeof reason, "%s at height %llu: %s", kind_name(kind), (unsigned long long)a->height,
             detail ? detail : "");
    cc_put_u64(key, a->height);
    key[8] = (uint8_t)kind;
    cc_chain_drop_kept(c); /* a block this thread keeps holds the store's write lock */
    cc_err rc = cc_store_begin(c->s, true, &txn, eb);
    if (rc != CC_OK) goto out;
    if ((rc = cc_store_put(c->s, txn, c->s->evidence, key, sizeof key, text, strlen(text), eb)) != CC_OK ||
        (rc = cc_store_put(c->s, txn, c->s->meta, meta_halted, strlen(meta_halted), reason, strlen(reason),
                           eb)) != CC_OK) {
        cc_store_abort(c->s, txn);
        goto out;
    }
    rc = cc_store_commit(c->s, txn, eb);
out:
    free(text);
    return rc;
}

cc_err cc_chain_check_header(cc_chain *c, const cc_header *h, cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_header mine;
    cc_members proposers;
    uint8_t a[CC_HASH_BYTES], b[CC_HASH_BYTES];
    if (memcmp(h->chain_id, c->g.chain_id, CC_HASH_BYTES) != 0 || h->height == 0 || !cc_header_verify_sig(h))
        return CC_OK; /* not a header of this chain: no evidence of anything */
    cc_err rc = cc_store_begin(c->s, false, &txn, eb);
    if (rc != CC_OK) return rc;
    rc = cc_chain_header_at(c->s, txn, h->height, &mine);
    /* only a consensus node at the parent height may propose the block */
    if (rc == CC_OK && (cc_members_at(c->s, txn, &c->g, h->height - 1, &proposers) != CC_OK ||
                        cc_members_index(&proposers, h->proposer) < 0))
        rc = CC_ERR_NOT_FOUND;
    cc_store_abort(c->s, txn);
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    cc_header_hash(&mine, a);
    cc_header_hash(h, b);
    if (memcmp(a, b, CC_HASH_BYTES) == 0) return CC_OK;
    rc = cc_chain_evidence_add(c, CC_EVIDENCE_EQUIVOCATION, &mine, h,
                               "two different signed blocks for one height", eb);
    return rc == CC_OK ? cc_errf(eb, CC_ERR_CONFLICT, "equivocation at height %llu: the chain is halted",
                                 (unsigned long long)h->height)
                       : rc;
}

bool cc_chain_halted(cc_chain *c, char *reason, size_t cap)
{
    MDB_txn *txn;
    MDB_val v;
    bool halted = false;
    if (cc_store_begin(c->s, false, &txn, NULL) != CC_OK) return false;
    if (cc_store_get(txn, c->s->meta, meta_halted, strlen(meta_halted), &v) == CC_OK) {
        halted = true;
        if (reason && cap) snprintf(reason, cap, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
    }
    cc_store_abort(c->s, txn);
    return halted;
}

cc_err cc_chain_evidence_json(cc_chain *c, json_t **out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    json_t *list = json_array();
    cc_err rc = list ? cc_store_begin(c->s, false, &txn, NULL) : CC_ERR_NOMEM;
    if (rc != CC_OK) {
        json_decref(list);
        return rc;
    }
    if (mdb_cursor_open(txn, c->s->evidence, &cur) == 0) {
        for (int m = mdb_cursor_get(cur, &k, &v, MDB_FIRST); m == 0;
             m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            json_t *e = cc_json_parse(v.mv_data, v.mv_size, NULL);
            if (e) json_array_append_new(list, e);
        }
        mdb_cursor_close(cur);
    }
    cc_store_abort(c->s, txn);
    *out = list;
    return CC_OK;
}
