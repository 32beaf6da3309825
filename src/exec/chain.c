/*
 * chain.c — a node's chain: open (with the genesis state), admission, and
 * committing blocks, either produced here (solo) or applied from elsewhere.
 *
 * Commit path (one LMDB write transaction; store.h invariant 1):
 *
 *   exec txs -> tx root, results root, state root, history root -> header
 *   (signed here, or compared with the proposer's) -> put block, results,
 *   history leaf, checkpoint signature, meta head + lthash -> commit
 *
 * A full map aborts the transaction, grows the map and runs the block again;
 * at the growth limit the chain reports CC_ERR_STORE_FULL and stays at h-1.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "core/codec.h"
#include "exec/chain_internal.h"

static const char meta_chain_id[] = "chain_id", meta_head[] = "head", meta_lthash[] = "lthash";

void cc_chain_head_decode(const uint8_t *buf, cc_head *h)
{
    h->height = cc_get_u64(buf);
    memcpy(h->hash, buf + 8, 32);
    h->time_ms = cc_get_u64(buf + 40);
    memcpy(h->state_root, buf + 48, 32);
    h->tx_total = cc_get_u64(buf + 80);
}

static void head_encode(const cc_head *h, uint8_t *buf)
{
    cc_put_u64(buf, h->height);
    memcpy(buf + 8, h->hash, 32);
    cc_put_u64(buf + 40, h->time_ms);
    memcpy(buf + 48, h->state_root, 32);
    cc_put_u64(buf + 80, h->tx_total);
}

cc_err cc_chain_header_at(cc_store *s, MDB_txn *txn, uint64_t height, cc_header *h)
{
    uint8_t key[8];
    MDB_val v;
    cc_put_u64(key, height);
    cc_err rc = cc_store_get(txn, s->blocks, key, sizeof key, &v);
    if (rc != CC_OK) return rc;
    if (v.mv_size < CC_HEADER_BYTES) return CC_ERR_CORRUPT;
    return cc_header_decode(v.mv_data, CC_HEADER_BYTES, h, NULL) == CC_OK ? CC_OK : CC_ERR_CORRUPT;
}

/* Write the genesis state into a new store. */
static cc_err init_genesis(cc_chain *c, cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, true, &txn, eb);
    if (rc != CC_OK) return rc;
    cc_store_ctx sc = {c->s, txn};
    uint8_t leaf[CC_HASH_BYTES], head_buf[CC_META_HEAD_BYTES], acc_buf[CC_LTHASH_BYTES];
    memset(&c->acc, 0, sizeof c->acc);
    rc = cc_exec_genesis(c->s, txn, &c->g, &c->acc, eb);
    if (rc != CC_OK) goto err;
    cc_merkle_leaf(c->g.chain_id, CC_HASH_BYTES, leaf); /* history leaf 0 is the genesis */
    if ((rc = cc_store_history_put(&sc, 0, 0, leaf)) != CC_OK) goto err;
    memset(&c->head, 0, sizeof c->head);
    memcpy(c->head.hash, c->g.chain_id, CC_HASH_BYTES);
    c->head.time_ms = c->g.time_ms;
    cc_lthash_root(&c->acc, c->head.state_root);
    head_encode(&c->head, head_buf);
    cc_lthash_encode(&c->acc, acc_buf);
    if ((rc = cc_store_put(c->s, txn, c->s->meta, meta_chain_id, strlen(meta_chain_id), c->g.chain_id,
                           CC_HASH_BYTES, eb)) ||
        (rc = cc_store_put(c->s, txn, c->s->meta, meta_head, strlen(meta_head), head_buf, sizeof head_buf,
                           eb)) ||
        (rc = cc_store_put(c->s, txn, c->s->meta, meta_lthash, strlen(meta_lthash), acc_buf, sizeof acc_buf,
                           eb)))
        goto err;
    return cc_store_commit(c->s, txn, eb);
err:
    cc_store_abort(c->s, txn);
    return rc;
}

cc_err cc_chain_head_read(cc_store *s, MDB_txn *txn, cc_head *out)
{
    MDB_val v;
    cc_err rc = cc_store_get(txn, s->meta, meta_head, strlen(meta_head), &v);
    if (rc != CC_OK) return rc;
    if (v.mv_size != CC_META_HEAD_BYTES) return CC_ERR_CORRUPT;
    cc_chain_head_decode(v.mv_data, out);
    return CC_OK;
}

/* Load head and accumulator of an existing store; CC_ERR_NOT_FOUND if new. */
static cc_err load_meta(cc_chain *c, cc_errbuf *eb)
{
    MDB_txn *txn;
    MDB_val v;
    cc_err rc = cc_store_begin(c->s, false, &txn, eb);
    if (rc != CC_OK) return rc;
    rc = cc_store_get(txn, c->s->meta, meta_chain_id, strlen(meta_chain_id), &v);
    if (rc != CC_OK) goto done;
    if (v.mv_size != CC_HASH_BYTES || memcmp(v.mv_data, c->g.chain_id, CC_HASH_BYTES) != 0) {
        rc = cc_errf(eb, CC_ERR_CHAIN_ID, "this store belongs to another chain than this genesis.json");
        goto done;
    }
    if (cc_store_get(txn, c->s->meta, meta_head, strlen(meta_head), &v) != CC_OK ||
        v.mv_size != CC_META_HEAD_BYTES) {
        rc = cc_errf(eb, CC_ERR_CORRUPT, "the store has no valid head record");
        goto done;
    }
    cc_chain_head_decode(v.mv_data, &c->head);
    if (cc_store_get(txn, c->s->meta, meta_lthash, strlen(meta_lthash), &v) != CC_OK ||
        v.mv_size != CC_LTHASH_BYTES) {
        rc = cc_errf(eb, CC_ERR_CORRUPT, "the store has no valid state accumulator");
        goto done;
    }
    cc_lthash_decode(v.mv_data, &c->acc);
done:
    cc_store_abort(c->s, txn);
    return rc;
}

#define UPGRADE_BLOCKS_PER_TXN 256 /* keeps an upgrade's dirty pages (held in memory) bounded */

/* Fill "seen" from blocks from..to of a store made before it existed, in
 * one write txn; the last one also drops the old txid index. Until then a
 * crash leaves "txindex" in place, and the next open starts again from
 * block 1 (entries already written are kept: MDB_NOOVERWRITE). */
static cc_err upgrade_txn(cc_chain *c, uint64_t from, uint64_t to, cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_err rc = cc_store_begin(c->s, true, &txn, eb);
    if (rc != CC_OK) return rc;
    for (uint64_t h = from; h <= to && rc == CC_OK; h++) {
        uint8_t key[8];
        MDB_val v;
        cc_block b;
        cc_put_u64(key, h);
        if (cc_store_get(txn, c->s->blocks, key, sizeof key, &v) != CC_OK ||
            cc_block_decode(v.mv_data, v.mv_size, &b, NULL) != CC_OK) {
            rc = cc_errf(eb, CC_ERR_CORRUPT, "upgrading the store: block %llu is unreadable",
                         (unsigned long long)h);
            break;
        }
        for (size_t i = 0; i < b.tx_count && rc == CC_OK; i++) {
            uint8_t seen[CC_SEEN_KEY_BYTES], loc[CC_TX_LOC_BYTES];
            cc_seen_key(&b.txs[i], seen);
            cc_tx_loc_encode(h, (uint32_t)i, loc);
            MDB_val k = {sizeof seen, seen}, val = {sizeof loc, loc};
            int mrc =
                mdb_put(txn, c->s->seen, &k, &val, MDB_NOOVERWRITE); /* a later copy failed as a duplicate */
            if (mrc != 0 && mrc != MDB_KEYEXIST) rc = cc_store_err(mrc, "upgrading the store", eb);
        }
        cc_block_free(&b);
    }
    int mrc = rc == CC_OK && to == c->head.height ? mdb_drop(txn, c->s->old_txindex, 1) : 0;
    if (mrc != 0) rc = cc_store_err(mrc, "upgrading the store", eb);
    if (rc != CC_OK) {
        cc_store_abort(c->s, txn);
        return rc;
    }
    return cc_store_commit(c->s, txn, eb);
}

/* A store made before "seen" (store.h): build it from the blocks, growing
 * the map as needed. */
static cc_err upgrade_store(cc_chain *c, cc_errbuf *eb)
{
    uint64_t from = 1;
    do {
        uint64_t to = c->head.height - from + 1 > UPGRADE_BLOCKS_PER_TXN ? from + UPGRADE_BLOCKS_PER_TXN - 1
                                                                         : c->head.height;
        cc_err rc;
        while ((rc = upgrade_txn(c, from, to, eb)) == CC_ERR_STORE_FULL)
            if (cc_store_grow(c->s, eb) != CC_OK) return rc;
        if (rc != CC_OK) return rc;
        from = to + 1;
    } while (from <= c->head.height);
    c->s->has_old_txindex = false;
    return CC_OK;
}

cc_err cc_chain_open(const char *data_dir, const uint8_t *genesis, size_t genesis_len,
                     const cc_chain_options *opt, cc_chain **out, cc_errbuf *eb)
{
    static const cc_chain_options defaults = {0};
    cc_err rc;
    cc_chain *c = calloc(1, sizeof *c);
    if (!c) return CC_ERR_NOMEM;
    if (!opt) opt = &defaults;
    pthread_mutex_init(&c->writer, NULL);
    pthread_mutex_init(&c->lock, NULL);
    if ((rc = cc_genesis_parse(genesis, genesis_len, &c->g, eb)) != CC_OK) goto err;
    if ((rc = cc_store_open(data_dir, opt->map_size, opt->map_size_max, opt->readonly, &c->s, eb)) != CC_OK)
        goto err;
    rc = load_meta(c, eb);
    if (rc == CC_ERR_NOT_FOUND && !opt->readonly)
        rc = init_genesis(c, eb);
    else if (rc == CC_ERR_NOT_FOUND)
        rc = cc_errf(eb, CC_ERR_NOT_FOUND, "%s holds no chain yet", data_dir);
    if (rc == CC_OK && c->s->has_old_txindex && !opt->readonly) rc = upgrade_store(c, eb);
    if (rc != CC_OK) goto err;
    if ((rc = cc_txids_open(c, data_dir, opt->map_size_max, opt->readonly, !opt->no_txid_index, &c->txids,
                            eb)) != CC_OK)
        goto err;
    *out = c;
    return CC_OK;
err:
    cc_chain_close(c);
    return rc;
}

void cc_chain_close(cc_chain *c)
{
    if (!c) return;
    cc_txids_close(c->txids);
    cc_store_close(c->s);
    cc_genesis_free(&c->g);
    pthread_mutex_destroy(&c->writer);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

cc_err cc_chain_backup(cc_chain *c, const char *to_dir, cc_errbuf *eb)
{
    return cc_store_copy(c->s, to_dir, eb);
}

const cc_genesis *cc_chain_genesis(const cc_chain *c)
{
    return &c->g;
}

void cc_chain_head(cc_chain *c, cc_head *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->head;
    pthread_mutex_unlock(&c->lock);
}

void cc_chain_stats_get(cc_chain *c, cc_chain_stats *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    mdb_env_info(c->s->env, &info);
    mdb_env_stat(c->s->env, &ms);
    st->map_size = info.me_mapsize;
    st->map_used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
    st->map_max = c->s->map_max;
    st->txid_index_height = c->txids ? cc_txids_indexed(c->txids) : 0;
    pthread_mutex_lock(&c->lock);
    st->store_full = c->store_full;
    st->build = c->build;
    st->execute = c->execute;
    st->store_commit = c->store_commit;
    pthread_mutex_unlock(&c->lock);
}

const double cc_chain_timing_bounds_s[CC_CHAIN_TIMING_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
};

/* Count one duration (from_ns..to_ns, cc_mono_ns) in t; c->lock is held. */
static void timing_add_locked(cc_chain_timing *t, uint64_t from_ns, uint64_t to_ns)
{
    double s = (double)(to_ns - from_ns) / 1e9;
    size_t b = 0;
    while (b < CC_CHAIN_TIMING_BUCKETS - 1 && s > cc_chain_timing_bounds_s[b]) b++;
    t->bucket[b]++;
    t->count++;
    t->sum_s += s;
}

/* ---- admission ---------------------------------------------------------------- */

/* The signer's identity for admission: from the cache when it holds the
 * identity as of the current head, else from the store (then cached, unless
 * a block committed meanwhile: a stale entry must never enter the cache). */
static cc_err admit_identity(cc_chain *c, MDB_txn *txn, uint64_t height, const uint8_t pk[CC_PUBKEY_BYTES],
                             cc_identity *out)
{
    pthread_mutex_lock(&c->lock);
    bool hit = c->admit_ids_height == height && cc_identity_cache_get(&c->admit_ids, pk, out);
    pthread_mutex_unlock(&c->lock);
    if (hit) return CC_OK;
    cc_err rc = cc_identity_read(txn, c->s, pk, out);
    if (rc != CC_OK) return rc;
    pthread_mutex_lock(&c->lock);
    if (c->head.height == height && c->admit_ids_height != height) {
        c->admit_ids_height = height;
        cc_identity_cache_clear(&c->admit_ids);
    }
    if (c->admit_ids_height == height) cc_identity_cache_put(&c->admit_ids, out);
    pthread_mutex_unlock(&c->lock);
    return CC_OK;
}

cc_err cc_chain_admit_in(cc_chain *c, cc_admit_view *v, const cc_tx *tx, uint64_t now_ms, cc_errbuf *eb)
{
    cc_err rc;
    if (memcmp(tx->chain_id, c->g.chain_id, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_CHAIN_ID,
                       "the tx is for another chain (chain id differs from this node's genesis)");
    if (tx->expiry_ms < tx->created_ms || tx->expiry_ms - tx->created_ms > CC_TX_MAX_LIFETIME_MS)
        return cc_errf(eb, CC_ERR_LIFETIME, "expiry must be after created and at most 24 h later");
    if (now_ms + CC_TX_PAST_WINDOW_MS < tx->created_ms)
        return cc_errf(eb, CC_ERR_FUTURE, "the tx is dated %llu s in the future; at most 300 s is allowed",
                       (unsigned long long)((tx->created_ms - now_ms) / 1000));
    if (now_ms > tx->expiry_ms)
        return cc_errf(eb, CC_ERR_EXPIRED, "the tx expired %llu s ago",
                       (unsigned long long)((now_ms - tx->expiry_ms) / 1000));
    const cc_tx_type *type = cc_tx_type_find(tx->type);
    if (!type) return cc_errf(eb, CC_ERR_UNKNOWN_TYPE, "no tx type \"%s\"", tx->type);
    rc = tx->json ? type->validate(tx->json, eb)
                  : cc_payload_validate(tx->type, (const uint8_t *)tx->payload, tx->payload_len, eb);
    if (rc != CC_OK) return rc;
    MDB_val val;
    cc_identity who;
    if (!v->txn) {
        pthread_mutex_lock(&c->lock);
        v->height = c->head.height; /* the txn below sees at least this height */
        pthread_mutex_unlock(&c->lock);
        if ((rc = cc_store_begin(c->s, false, &v->txn, eb)) != CC_OK) {
            v->txn = NULL;
            return rc;
        }
    }
    uint8_t seen[CC_SEEN_KEY_BYTES];
    cc_seen_key(tx, seen);
    rc = cc_store_get(v->txn, c->s->seen, seen, sizeof seen, &val);
    if (rc == CC_OK)
        return cc_errf(eb, CC_ERR_DUPLICATE, "this tx was already committed at height %llu",
                       (unsigned long long)cc_get_u64(val.mv_data));
    rc = admit_identity(c, v->txn, v->height, tx->signer, &who);
    if (rc == CC_ERR_NOT_FOUND)
        rc = cc_errf(eb, CC_ERR_UNKNOWN_SIGNER, "the signer is not a registered identity");
    else if (rc != CC_OK)
        rc = cc_errf(eb, rc, "cannot read the signer's identity");
    else if (who.revoked)
        rc = cc_errf(eb, CC_ERR_REVOKED, "the signer's identity was revoked");
    else if (!(who.role & type->roles))
        rc = cc_errf(eb, CC_ERR_FORBIDDEN, "role %s may not send %s", cc_role_name(who.role), tx->type);
    if (rc == CC_OK && tx->has_attachment) { /* last: hashing up to 1 MiB is the dearest check */
        uint8_t h[CC_HASH_BYTES];
        if (!tx->attachment)
            return cc_errf(eb, CC_ERR_ATTACHMENT, "the tx declares an attachment but none was sent");
        cc_sha256(tx->attachment, tx->attachment_len, h);
        if (memcmp(h, tx->attachment_hash, CC_HASH_BYTES) != 0)
            return cc_errf(eb, CC_ERR_ATTACHMENT,
                           "the attachment's SHA-256 differs from the one the tx signs");
    }
    return rc;
}

void cc_chain_admit_view_end(cc_chain *c, cc_admit_view *v)
{
    if (v->txn) cc_store_abort(c->s, v->txn);
    v->txn = NULL;
}

cc_err cc_chain_admit(cc_chain *c, const cc_tx *tx, uint64_t now_ms, cc_errbuf *eb)
{
    cc_admit_view v = {0};
    cc_err rc = cc_chain_admit_in(c, &v, tx, now_ms, eb);
    cc_chain_admit_view_end(c, &v);
    return rc;
}

/* ---- commit ------------------------------------------------------------------- */

#ifdef CC_TEST_FAULTS
/* Test-only fault (compiled into build/carechain-faults alone, never into
 * build/carechain or libcarechain.a): with CARECHAIN_TEST_CORRUPT_FROM=H in
 * the environment, this node writes one state value no other node writes
 * ("test/corrupt") in every block at or above height H that another node
 * proposed, so its state root differs from the rest of the network.
 * tests/integration/test_raft_divergence.c uses it. */
static cc_err test_corrupt_state(cc_chain *c, MDB_txn *txn, const cc_header *given, const cc_key *key,
                                 uint64_t height, cc_lthash *acc, cc_errbuf *eb)
{
    static const char corrupt_key[] = "test/corrupt";
    const char *from = getenv("CARECHAIN_TEST_CORRUPT_FROM");
    if (!from || !given || !key || memcmp(given->proposer, key->pk, CC_PUBKEY_BYTES) == 0 ||
        height < strtoull(from, NULL, 10))
        return CC_OK;
    uint8_t val[8 + 8];
    cc_put_u64(val, height);
    memcpy(val + 8, "corrupt!", 8);
    cc_lthash_add(acc, (const uint8_t *)corrupt_key, strlen(corrupt_key), val, sizeof val);
    return cc_store_put(c->s, txn, c->s->state, corrupt_key, strlen(corrupt_key), val, sizeof val, eb);
}
#endif

/* What commit_block does with the block it ran: commit it, roll it back
 * (a build), or keep its transaction open (cc_chain_build_kept). */
typedef enum block_mode { BLOCK_COMMIT, BLOCK_DRY, BLOCK_KEEP } block_mode;

/* A block committed: the head, the accumulator and the identity caches
 * follow it. */
static void adopt(cc_chain *c, const cc_head *next, const cc_lthash *acc, bool ids_written)
{
    pthread_mutex_lock(&c->lock);
    c->head = *next;
    c->acc = *acc;
    if (ids_written) cc_identity_cache_clear(&c->admit_ids);
    c->admit_ids_height = next->height; /* the entries are as true after the block as before */
    pthread_mutex_unlock(&c->lock);
    if (ids_written) cc_identity_cache_clear(&c->exec_ids);
    c->exec_ids_height = next->height;
}

/* Run txs as the next block inside one write txn. With given == NULL the
 * header is built and signed with key; otherwise every computed root must
 * equal given's. */
static cc_err commit_block(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_header *given,
                           const cc_key *key, block_mode mode, cc_header *out, cc_result *results,
                           cc_errbuf *eb)
{
    MDB_txn *txn;
    cc_head head;
    cc_lthash acc;
    cc_header h;
    uint8_t *block_buf = NULL, *res_buf = NULL;
    size_t block_len = 0, res_len = 0;
    uint8_t(*leaves)[CC_HASH_BYTES] = NULL;
    uint8_t hkey[8], hash[CC_HASH_BYTES], leaf[CC_HASH_BYTES];
    cc_header diverged = {0};
    cc_err rc;
    uint64_t started_ns = cc_mono_ns(), written_ns;

    pthread_mutex_lock(&c->lock);
    head = c->head;
    acc = c->acc;
    pthread_mutex_unlock(&c->lock);
    if (time_ms <= head.time_ms)
        return cc_errf(eb, CC_ERR_INVALID, "block time %llu is not after the previous block's %llu",
                       (unsigned long long)time_ms, (unsigned long long)head.time_ms);

    memset(&h, 0, sizeof h);
    h.version = CC_BLOCK_VERSION;
    memcpy(h.chain_id, c->g.chain_id, CC_HASH_BYTES);
    h.height = head.height + 1;
    memcpy(h.prev_hash, head.hash, CC_HASH_BYTES);
    h.time_ms = time_ms;
    h.tx_count = (uint32_t)n;
    cc_block_tx_root(txs, n, h.tx_root);
    if (given && memcmp(h.tx_root, given->tx_root, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_VERIFY, "block %llu: the tx root does not match its txs",
                       (unsigned long long)h.height);

    if ((rc = cc_store_begin(c->s, true, &txn, eb)) != CC_OK) return rc;
    cc_store_ctx sc = {c->s, txn};
    cc_merkle_source hist = {&sc, cc_store_history_get};
    if (c->exec_ids_height != head.height) { /* kept for another head: start again */
        cc_identity_cache_clear(&c->exec_ids);
        c->exec_ids_height = head.height;
    }
    bool ids_written = false;
    rc = cc_exec_block(c->s, txn, &c->g, txs, n, h.height, time_ms, &acc, &c->exec_ids, &ids_written, results,
                       eb);
#ifdef CC_TEST_FAULTS
    if (rc == CC_OK) rc = test_corrupt_state(c, txn, given, key, h.height, &acc, eb);
#endif
    if (rc != CC_OK) goto err;

    leaves = malloc(n * sizeof *leaves);
    if (!leaves) {
        rc = CC_ERR_NOMEM;
        goto err;
    }
    for (size_t i = 0; i < n; i++) cc_result_leaf(txs[i].txid, &results[i], leaves[i]);
    cc_merkle_root((const uint8_t(*)[CC_HASH_BYTES])leaves, n, h.results_root);
    cc_lthash_root(&acc, h.state_root);
    if ((rc = cc_merkle_root_src(&hist, h.height, h.blocks_root)) != CC_OK) {
        rc = cc_errf(eb, rc, "the block history in the store is incomplete");
        goto err;
    }
    if (given) {
        const char *what = memcmp(h.results_root, given->results_root, 32) != 0 ? "results root"
                           : memcmp(h.state_root, given->state_root, 32) != 0   ? "state root"
                           : memcmp(h.blocks_root, given->blocks_root, 32) != 0 ? "history root"
                                                                                : NULL;
        if (what) {
            rc = cc_errf(eb, CC_ERR_VERIFY, "block %llu: the %s differs from the one re-execution computes",
                         (unsigned long long)h.height, what);
            diverged = h; /* our view, signed when we have a key, kept as evidence below */
            if (key) cc_header_sign(&diverged, key);
            goto err;
        }
        memcpy(h.proposer, given->proposer, CC_PUBKEY_BYTES);
        memcpy(h.sig, given->sig, CC_SIG_BYTES);
    } else {
        cc_header_sign(&h, key);
    }

    cc_block blk = {h, txs, n};
    if ((rc = cc_block_encode(&blk, &block_buf, &block_len)) != CC_OK ||
        (rc = cc_results_encode(results, n, &res_buf, &res_len)) != CC_OK)
        goto err;
    cc_put_u64(hkey, h.height);
    if ((rc = cc_store_put(c->s, txn, c->s->blocks, hkey, 8, block_buf, block_len, eb)) != CC_OK ||
        (rc = cc_store_put(c->s, txn, c->s->results, hkey, 8, res_buf, res_len, eb)) != CC_OK)
        goto err;
    cc_header_hash(&h, hash);
    cc_merkle_leaf(hash, CC_HASH_BYTES, leaf);
    if ((rc = cc_merkle_append(&hist, h.height, leaf, cc_store_history_put, &sc)) != CC_OK) {
        rc = cc_errf(eb, rc, "writing the block history");
        goto err;
    }
    cc_members members;
    if ((rc = cc_members_after_block(c->s, txn, &c->g, h.height, ids_written, &members, eb)) != CC_OK)
        goto err;
    if (key && cc_members_index(&members, key->pk) >= 0) { /* only a consensus node signs */
        cc_checkpoint_sig cs;
        uint8_t ckey[8 + CC_PUBKEY_BYTES];
        cc_checkpoint_sign(&h, members.hash, key, &cs);
        memcpy(ckey, hkey, 8);
        memcpy(ckey + 8, key->pk, CC_PUBKEY_BYTES);
        if ((rc = cc_store_put(c->s, txn, c->s->checkpoints, ckey, sizeof ckey, cs.sig, CC_SIG_BYTES, eb)) !=
            CC_OK)
            goto err;
    }

    cc_head next = {.height = h.height, .time_ms = h.time_ms, .tx_total = head.tx_total + n};
    uint8_t head_buf[CC_META_HEAD_BYTES], acc_buf[CC_LTHASH_BYTES];
    memcpy(next.hash, hash, CC_HASH_BYTES);
    memcpy(next.state_root, h.state_root, CC_HASH_BYTES);
    head_encode(&next, head_buf);
    cc_lthash_encode(&acc, acc_buf);
    if ((rc = cc_store_put(c->s, txn, c->s->meta, meta_head, strlen(meta_head), head_buf, sizeof head_buf,
                           eb)) != CC_OK ||
        (rc = cc_store_put(c->s, txn, c->s->meta, meta_lthash, strlen(meta_lthash), acc_buf, sizeof acc_buf,
                           eb)) != CC_OK)
        goto err;
    written_ns = cc_mono_ns();
    if (mode != BLOCK_COMMIT) { /* built to be proposed: rolled back, or kept until raft commits it */
        pthread_mutex_lock(&c->lock);
        timing_add_locked(&c->build, started_ns, written_ns);
        pthread_mutex_unlock(&c->lock);
        if (out) *out = h;
        if (mode == BLOCK_DRY) {
            cc_store_abort(c->s, txn);
        } else {
            c->kept.txn = txn;
            c->kept.next = next;
            c->kept.acc = acc;
            c->kept.ids_written = ids_written;
        }
        goto done;
    }
    rc = cc_store_commit(c->s, txn, eb);
    if (rc == CC_OK) {
        uint64_t durable_ns = cc_mono_ns();
        pthread_mutex_lock(&c->lock);
        timing_add_locked(&c->execute, started_ns, written_ns);
        timing_add_locked(&c->store_commit, written_ns, durable_ns);
        pthread_mutex_unlock(&c->lock);
        adopt(c, &next, &acc, ids_written);
        if (out) *out = h;
    }
    goto done;
err:
    cc_store_abort(c->s, txn);
    if (diverged.height) { /* the proposer signed roots that re-execution does not give: halt */
        cc_errbuf ignored;
        (void)!cc_chain_evidence_add(c, CC_EVIDENCE_DIVERGENCE, &diverged, given, eb ? eb->msg : "",
                                     &ignored);
    }
done:
    free(leaves);
    free(block_buf);
    free(res_buf);
    return rc;
}

/* Commit with map growth: a full map grows and the block runs again. A
 * block kept by this thread is dropped first; a block kept now leaves the
 * writer lock held (cc_chain_build_kept). */
static cc_err commit_growing(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_header *given,
                             const cc_key *key, block_mode mode, cc_header *out, cc_result *results,
                             cc_errbuf *eb)
{
    cc_err rc;
    cc_chain_drop_kept(c);
    if (n == 0 || n > CC_BLOCK_MAX_TXS)
        return cc_errf(eb, CC_ERR_INVALID, "a block holds 1..%d txs, not %zu", CC_BLOCK_MAX_TXS, n);
    char why[256];
    if (cc_chain_halted(c, why, sizeof why))
        return cc_errf(eb, CC_ERR_CONFLICT, "the chain is halted (%.200s); it takes no more blocks", why);
    pthread_mutex_lock(&c->writer);
    for (;;) {
        rc = commit_block(c, txs, n, time_ms, given, key, mode, out, results, eb);
        if (rc != CC_ERR_STORE_FULL) break;
        if (cc_store_grow(c->s, eb) != CC_OK) {
            pthread_mutex_lock(&c->lock);
            c->store_full = true;
            pthread_mutex_unlock(&c->lock);
            break;
        }
    }
    if (rc == CC_OK && mode == BLOCK_KEEP) {
        pthread_mutex_lock(&c->lock);
        c->kept.owner = pthread_self();
        c->keeping = true;
        pthread_mutex_unlock(&c->lock);
        return rc; /* the writer lock stays held until the kept block is committed or dropped */
    }
    pthread_mutex_unlock(&c->writer);
    return rc;
}

bool cc_chain_keeps(cc_chain *c, const uint8_t *hash)
{
    pthread_mutex_lock(&c->lock);
    bool mine = c->keeping && pthread_equal(c->kept.owner, pthread_self()) &&
                (!hash || memcmp(hash, c->kept.next.hash, CC_HASH_BYTES) == 0);
    pthread_mutex_unlock(&c->lock);
    return mine;
}

/* The kept block is gone (committed or rolled back): others may write. */
static void kept_end(cc_chain *c)
{
    c->kept.txn = NULL;
    pthread_mutex_lock(&c->lock);
    c->keeping = false;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->writer);
}

cc_err cc_chain_commit_kept(cc_chain *c, cc_errbuf *eb)
{
    if (!cc_chain_keeps(c, NULL)) return cc_errf(eb, CC_ERR_INVALID, "this thread keeps no built block");
    uint64_t started_ns = cc_mono_ns(); /* not since the build: the wait for raft is not the store's */
    cc_err rc = cc_store_commit(c->s, c->kept.txn, eb); /* the txn is gone either way */
    if (rc == CC_OK) {
        uint64_t durable_ns = cc_mono_ns();
        pthread_mutex_lock(&c->lock);
        timing_add_locked(&c->store_commit, started_ns, durable_ns);
        pthread_mutex_unlock(&c->lock);
        adopt(c, &c->kept.next, &c->kept.acc, c->kept.ids_written);
    }
    kept_end(c);
    return rc;
}

void cc_chain_drop_kept(cc_chain *c)
{
    if (!cc_chain_keeps(c, NULL)) return;
    cc_store_abort(c->s, c->kept.txn);
    kept_end(c);
}

cc_err cc_chain_produce(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                        cc_header *out, cc_result *results, cc_errbuf *eb)
{
    return commit_growing(c, txs, n, time_ms, NULL, node_key, BLOCK_COMMIT, out, results, eb);
}

/* Is pk a consensus node of the network as of the head? (Genesis nodes, and
 * nodes added by governance, are identities with role node; removal revokes.) */
static bool is_active_node(cc_chain *c, const uint8_t pk[CC_PUBKEY_BYTES])
{
    MDB_txn *txn;
    cc_identity who;
    if (cc_store_begin(c->s, false, &txn, NULL) != CC_OK) return false;
    bool ok = cc_identity_read(txn, c->s, pk, &who) == CC_OK && who.role == CC_ROLE_NODE && !who.revoked;
    cc_store_abort(c->s, txn);
    return ok;
}

cc_err cc_chain_build(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                      cc_header *out, cc_result *results, cc_errbuf *eb)
{
    return commit_growing(c, txs, n, time_ms, NULL, node_key, BLOCK_DRY, out, results, eb);
}

cc_err cc_chain_build_kept(cc_chain *c, cc_tx *txs, size_t n, uint64_t time_ms, const cc_key *node_key,
                           cc_header *out, cc_result *results, cc_errbuf *eb)
{
    return commit_growing(c, txs, n, time_ms, NULL, node_key, BLOCK_KEEP, out, results, eb);
}

cc_err cc_chain_apply(cc_chain *c, const cc_block *b, const cc_key *node_key, cc_result *results,
                      cc_errbuf *eb)
{
    cc_head head;
    cc_chain_head(c, &head);
    const cc_header *h = &b->h;
    if (h->version != CC_BLOCK_VERSION || memcmp(h->chain_id, c->g.chain_id, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_VERIFY, "block %llu is of another chain or version",
                       (unsigned long long)h->height);
    if (h->height != head.height + 1 || memcmp(h->prev_hash, head.hash, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_VERIFY, "block %llu does not extend the head (height %llu)",
                       (unsigned long long)h->height, (unsigned long long)head.height);
    if (h->tx_count != b->tx_count)
        return cc_errf(eb, CC_ERR_VERIFY, "block %llu: header counts %u txs, body holds %zu",
                       (unsigned long long)h->height, h->tx_count, b->tx_count);
    if (!is_active_node(c, h->proposer) || !cc_header_verify_sig(h))
        return cc_errf(eb, CC_ERR_VERIFY,
                       "block %llu: proposer is not a node or its signature does not verify",
                       (unsigned long long)h->height);
    if (h->time_ms <= head.time_ms)
        return cc_errf(eb, CC_ERR_VERIFY, "block %llu: time is not after the previous block's",
                       (unsigned long long)h->height);
    return commit_growing(c, b->txs, b->tx_count, h->time_ms, h, node_key, BLOCK_COMMIT, NULL, results, eb);
}
