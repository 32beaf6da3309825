/*
 * ct_store.c — a stopped node's LMDB store, opened by a test (ct_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codec.h"
#include "ct_store.h"
#include "exec/chain_internal.h"
#include "support.h"

int ct_store_open(ct_store *s, const char *node_dir, const char *db)
{
    char *path = ct_strf("%s/data", node_dir);
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&s->env);
    if (rc == 0 && (rc = mdb_env_set_maxdbs(s->env, 16)) != 0) what = "mdb_env_set_maxdbs";
    if (rc == 0 && (rc = mdb_env_open(s->env, path, 0, 0600)) != 0) what = "mdb_env_open";
    if (rc == 0 && (rc = mdb_txn_begin(s->env, NULL, 0, &s->txn)) != 0) what = "mdb_txn_begin";
    if (rc == 0 && (rc = mdb_dbi_open(s->txn, db, 0, &s->dbi)) != 0) {
        what = "mdb_dbi_open";
        mdb_txn_abort(s->txn);
    }
    if (rc != 0) {
        fprintf(stderr, "%s (%s, %s): %s\n", what, path, db, mdb_strerror(rc));
        if (s->env) mdb_env_close(s->env);
        s->env = NULL;
    }
    free(path);
    return rc == 0 ? 0 : -1;
}

int ct_store_commit(ct_store *s)
{
    int rc = mdb_txn_commit(s->txn);
    if (rc != 0) fprintf(stderr, "mdb_txn_commit: %s\n", mdb_strerror(rc));
    mdb_env_close(s->env);
    s->env = NULL;
    s->txn = NULL;
    return rc == 0 ? 0 : -1;
}

int ct_block_beyond(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *proposer,
                    uint8_t **raw, size_t *len)
{
    cc_head head;
    cc_block b;
    memset(&b, 0, sizeof b);
    cc_chain_head(c, &head);
    b.h.version = CC_BLOCK_VERSION;
    memcpy(b.h.chain_id, cc_chain_genesis(c)->chain_id, CC_HASH_BYTES);
    b.h.height = head.height + 1;
    memcpy(b.h.prev_hash, head.hash, CC_HASH_BYTES);
    b.h.time_ms = time_ms;
    b.h.tx_count = (uint32_t)n;
    cc_block_tx_root(txs, n, b.h.tx_root);
    cc_header_sign(&b.h, proposer);
    b.txs = txs;
    b.tx_count = n;
    if (cc_block_encode(&b, raw, len) != CC_OK) {
        fprintf(stderr, "cc_block_encode of block %llu failed\n", (unsigned long long)b.h.height);
        return -1;
    }
    return 0;
}

int ct_store_put_head_block(const char *data_dir, const uint8_t *raw, size_t len)
{
    cc_block b;
    cc_head head;
    cc_errbuf eb = {{0}};
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi blocks, meta;
    MDB_val hk = {4, "head"}, hv;
    uint8_t key[8], rec[CC_META_HEAD_BYTES];
    const char *what = "mdb_env_create";
    int ok = -1;
    memset(&b, 0, sizeof b);
    if (cc_block_decode(raw, len, &b, &eb) != CC_OK) {
        fprintf(stderr, "the block does not decode: %s\n", eb.msg);
        return -1;
    }
    int rc = mdb_env_create(&env);
    if (rc == 0 && (rc = mdb_env_set_maxdbs(env, 16)) != 0) what = "mdb_env_set_maxdbs";
    if (rc == 0 && (rc = mdb_env_open(env, data_dir, 0, 0600)) != 0) what = "mdb_env_open";
    if (rc == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0) what = "mdb_txn_begin";
    if (rc == 0 && ((rc = mdb_dbi_open(txn, "blocks", 0, &blocks)) != 0 ||
                    (rc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0))
        what = "mdb_dbi_open";
    if (rc == 0 && (rc = mdb_get(txn, meta, &hk, &hv)) != 0) what = "mdb_get head";
    if (rc != 0) {
        fprintf(stderr, "%s (%s): %s\n", what, data_dir, mdb_strerror(rc));
        goto done;
    }
    if (hv.mv_size != CC_META_HEAD_BYTES) {
        fprintf(stderr, "%s: the head record is %zu bytes\n", data_dir, hv.mv_size);
        goto done;
    }
    cc_chain_head_decode(hv.mv_data, &head);
    if (b.h.height != head.height + 1) {
        fprintf(stderr, "block %llu does not extend the head %llu\n", (unsigned long long)b.h.height,
                (unsigned long long)head.height);
        goto done;
    }
    /* the head record as src/exec/chain.c writes it */
    cc_put_u64(rec, b.h.height);
    cc_header_hash(&b.h, rec + 8);
    cc_put_u64(rec + 40, b.h.time_ms);
    memcpy(rec + 48, b.h.state_root, CC_HASH_BYTES);
    cc_put_u64(rec + 80, head.tx_total + b.tx_count);
    cc_put_u64(key, b.h.height);
    MDB_val bk = {sizeof key, key}, bv = {len, (void *)raw}, nv = {sizeof rec, rec};
    if ((rc = mdb_put(txn, blocks, &bk, &bv, 0)) == 0 && (rc = mdb_put(txn, meta, &hk, &nv, 0)) == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL; /* freed, committed or not */
    }
    if (rc != 0)
        fprintf(stderr, "writing block %llu (%s): %s\n", (unsigned long long)b.h.height, data_dir,
                mdb_strerror(rc));
    ok = rc == 0 ? 0 : -1;
done:
    if (txn) mdb_txn_abort(txn);
    if (env) mdb_env_close(env);
    cc_block_free(&b);
    return ok;
}
