/*
 * ct_store.c — a stopped node's LMDB store, opened by a test (ct_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_store.h"
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
