/*
 * txids.c — the txid query index: txid -> (height, index) of the tx's
 * commit, for lookups by txid alone (GET /v1/tx/{txid}, proofs, the apps'
 * event histories).
 *
 * Why it is not written in the block's transaction: txids are uniformly
 * random, so every tx inserted into a tree keyed by txid dirties a random
 * leaf page, and the tree grows with the chain; those pages were written
 * and fsynced inside the commit that every waiting client waits for
 * (bench/README.md: 5-13 % of the throughput on a store of 200,000 txs,
 * and a p50 at half of peak about twice what it is without). The
 * duplicate rule does not need it: it reads "seen" in the main store,
 * keyed by (expiry, txid).
 *
 * So the index is derived from the committed blocks and kept in its own
 * LMDB environment, data/txids (store.h). A thread of the node fills it a
 * few blocks behind the head: every INDEX_PERIOD_MS, one write transaction
 * for all the blocks committed since, so a leaf page is written once for
 * all the txs that land on it, at a lower CPU priority than the threads
 * that commit. Its meta "indexed" = u64 height || block
 * hash of the newest block indexed.
 *
 * A lookup reads the index, then the blocks it has not reached yet
 * (normally none to a few): it never misses a committed tx, and it finds
 * a txid's first commit, as the index holds it (a later copy of the same
 * tx failed as a duplicate and is not indexed).
 *
 * The index is only ever rebuilt, never trusted over the blocks: when its
 * newest block is not the store's block at that height (the store was
 * restored, or replaced), it is emptied and built again from height 1.
 * verify-chain checks every entry against the replayed chain.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "carechain/os.h"
#include "core/codec.h"
#include "exec/chain_internal.h"

#define INDEX_PERIOD_MS 250 /* how far behind the head the index may lag */
#define INDEX_NICE      10  /* below the producer (0) and the verify workers (+5) */
#define PASS_MAX_BLOCKS 256 /* blocks per write transaction while catching up */
#define INDEXED_BYTES   (8 + CC_HASH_BYTES)

static const char meta_indexed[] = "indexed";

struct cc_txids {
    cc_store *s; /* NULL: no index (a readonly open found none); lookups read the blocks */
    cc_chain *c;
    pthread_mutex_t pass; /* one index pass at a time (the thread, cc_txids_catch_up) */
    pthread_mutex_t lock; /* guards stop and indexed */
    pthread_cond_t wake;
    bool stop, running;
    uint64_t indexed;
    pthread_t thread;
};

/* The index's newest block: *height (0 when empty) and its hash. */
static cc_err read_indexed(cc_store *s, MDB_txn *txn, uint64_t *height, uint8_t hash[CC_HASH_BYTES])
{
    MDB_val v;
    cc_err rc = cc_store_get(txn, s->meta, meta_indexed, strlen(meta_indexed), &v);
    *height = 0;
    if (rc == CC_ERR_NOT_FOUND) return CC_OK;
    if (rc != CC_OK) return rc;
    if (v.mv_size != INDEXED_BYTES) return CC_ERR_CORRUPT;
    *height = cc_get_u64(v.mv_data);
    memcpy(hash, (const uint8_t *)v.mv_data + 8, CC_HASH_BYTES);
    return CC_OK;
}

/* Is (height, hash) a block of the main store as txn sees it? */
static bool is_our_block(cc_chain *c, MDB_txn *txn, uint64_t height, const uint8_t hash[CC_HASH_BYTES])
{
    cc_header h;
    uint8_t mine[CC_HASH_BYTES];
    if (height == 0) return true;
    if (cc_chain_header_at(c->s, txn, height, &h) != CC_OK) return false;
    cc_header_hash(&h, mine);
    return memcmp(mine, hash, CC_HASH_BYTES) == 0;
}

/* The txids of block height, from the main store's txn. */
static cc_err block_txids(cc_chain *c, MDB_txn *txn, uint64_t height, uint8_t (**ids)[CC_HASH_BYTES],
                          size_t *n)
{
    uint8_t key[8];
    MDB_val v;
    cc_put_u64(key, height);
    cc_err rc = cc_store_get(txn, c->s->blocks, key, sizeof key, &v);
    if (rc != CC_OK) return rc == CC_ERR_NOT_FOUND ? CC_ERR_CORRUPT : rc;
    return cc_block_txids(v.mv_data, v.mv_size, ids, n);
}

/* The main store's head height in txn. */
static cc_err head_in(cc_chain *c, MDB_txn *txn, uint64_t *height)
{
    cc_head head;
    cc_err rc = cc_chain_head_read(c->s, txn, &head);
    if (rc == CC_OK) *height = head.height;
    return rc;
}

/* Index blocks from+1 .. to of the main store (txn) in one write
 * transaction of the index. */
static cc_err index_blocks(cc_txids *x, MDB_txn *main, uint64_t from, uint64_t to, cc_errbuf *eb)
{
    MDB_txn *w;
    cc_err rc = cc_store_begin(x->s, true, &w, eb);
    if (rc != CC_OK) return rc;
    for (uint64_t h = from + 1; h <= to && rc == CC_OK; h++) {
        uint8_t(*ids)[CC_HASH_BYTES] = NULL;
        size_t n = 0;
        if ((rc = block_txids(x->c, main, h, &ids, &n)) != CC_OK) {
            rc = cc_errf(eb, rc, "reading block %llu", (unsigned long long)h);
            break;
        }
        for (size_t i = 0; i < n && rc == CC_OK; i++) {
            uint8_t loc[CC_TX_LOC_BYTES];
            cc_tx_loc_encode(h, (uint32_t)i, loc);
            MDB_val k = {CC_HASH_BYTES, ids[i]}, v = {sizeof loc, loc};
            int mrc = mdb_put(w, x->s->txids, &k, &v, MDB_NOOVERWRITE); /* the first commit stays */
            if (mrc != 0 && mrc != MDB_KEYEXIST) rc = cc_store_err(mrc, "writing the txid index", eb);
        }
        free(ids);
    }
    if (rc == CC_OK) {
        cc_header hd;
        uint8_t val[INDEXED_BYTES];
        if ((rc = cc_chain_header_at(x->c->s, main, to, &hd)) != CC_OK) {
            rc = cc_errf(eb, rc, "reading block %llu", (unsigned long long)to);
        } else {
            cc_put_u64(val, to);
            cc_header_hash(&hd, val + 8);
            rc = cc_store_put(x->s, w, x->s->meta, meta_indexed, strlen(meta_indexed), val, sizeof val, eb);
        }
    }
    if (rc != CC_OK) {
        cc_store_abort(x->s, w);
        return rc;
    }
    return cc_store_commit(x->s, w, eb);
}

/* One pass: index what the main store has committed beyond x->indexed, at
 * most PASS_MAX_BLOCKS. Sets *more when blocks remain. */
static cc_err index_pass(cc_txids *x, bool *more, cc_errbuf *eb)
{
    MDB_txn *main;
    uint64_t head = 0, from, to;
    *more = false;
    pthread_mutex_lock(&x->pass);
    cc_err rc = cc_store_begin(x->c->s, false, &main, eb);
    if (rc != CC_OK) {
        pthread_mutex_unlock(&x->pass);
        return rc;
    }
    if ((rc = head_in(x->c, main, &head)) != CC_OK) goto done;
    pthread_mutex_lock(&x->lock);
    from = x->indexed;
    pthread_mutex_unlock(&x->lock);
    if (head <= from) goto done;
    to = head - from > PASS_MAX_BLOCKS ? from + PASS_MAX_BLOCKS : head;
    for (;;) {
        rc = index_blocks(x, main, from, to, eb);
        if (rc != CC_ERR_STORE_FULL || cc_store_grow(x->s, eb) != CC_OK) break;
    }
    if (rc == CC_OK) {
        pthread_mutex_lock(&x->lock);
        x->indexed = to;
        pthread_mutex_unlock(&x->lock);
        *more = to < head;
    }
done:
    cc_store_abort(x->c->s, main);
    pthread_mutex_unlock(&x->pass);
    return rc;
}

static void *index_thread(void *arg)
{
    cc_txids *x = arg;
    unsigned failures = 0;
    /* The index is for later lookups, not for the commit clients wait on:
     * it takes the CPU the producer and the verify workers leave (Linux:
     * PRIO_PROCESS with a thread id sets that thread's nice value). */
    id_t self = (id_t)gettid();
    (void)setpriority(PRIO_PROCESS, self, getpriority(PRIO_PROCESS, self) + INDEX_NICE);
    pthread_mutex_lock(&x->lock);
    while (!x->stop) {
        pthread_mutex_unlock(&x->lock);
        bool more = false;
        cc_errbuf eb = {""};
        if (index_pass(x, &more, &eb) == CC_OK) {
            failures = 0;
        } else { /* lookups read the blocks meanwhile; try again later */
            failures++;
            more = false;
        }
        pthread_mutex_lock(&x->lock);
        if (more || x->stop) continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)INDEX_PERIOD_MS * 1000000u * (failures ? 8 : 1);
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&x->wake, &x->lock, &until);
    }
    pthread_mutex_unlock(&x->lock);
    return NULL;
}

/* Empty the index (its newest block is not ours). */
static cc_err index_clear(cc_store *s, cc_errbuf *eb)
{
    MDB_txn *w;
    cc_err rc = cc_store_begin(s, true, &w, eb);
    if (rc != CC_OK) return rc;
    int mrc = mdb_drop(w, s->txids, 0);
    if (mrc == 0) mrc = mdb_drop(w, s->meta, 0);
    if (mrc != 0) {
        cc_store_abort(s, w);
        return cc_store_err(mrc, "emptying the txid index", eb);
    }
    return cc_store_commit(s, w, eb);
}

cc_err cc_txids_open(cc_chain *c, const char *data_dir, size_t map_max, bool readonly, bool build,
                     cc_txids **out, cc_errbuf *eb)
{
    char dir[4096];
    cc_err rc;
    if (snprintf(dir, sizeof dir, "%s/txids", data_dir) >= (int)sizeof dir)
        return cc_errf(eb, CC_ERR_USAGE, "the path %s is too long", data_dir);
    cc_txids *x = calloc(1, sizeof *x);
    if (!x) return CC_ERR_NOMEM;
    x->c = c;
    pthread_mutex_init(&x->pass, NULL);
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->wake, NULL);
    *out = x;
    if (readonly) { /* use the index when there is one and it is ours; lookups check that */
        if (cc_store_open_index(dir, map_max, true, &x->s, NULL) != CC_OK) x->s = NULL;
        return CC_OK;
    }
    if (!build) return CC_OK; /* a scratch chain: lookups read the blocks */
    if ((rc = cc_store_open_index(dir, map_max, false, &x->s, eb)) != CC_OK) goto err;

    MDB_txn *main, *r;
    uint8_t hash[CC_HASH_BYTES];
    uint64_t height = 0;
    bool ours = false;
    if ((rc = cc_store_begin(x->s, false, &r, eb)) != CC_OK) goto err;
    rc = read_indexed(x->s, r, &height, hash);
    cc_store_abort(x->s, r);
    if (rc == CC_OK && (rc = cc_store_begin(c->s, false, &main, eb)) == CC_OK) {
        ours = is_our_block(c, main, height, hash);
        cc_store_abort(c->s, main);
    }
    if (rc != CC_OK || !ours) { /* a foreign or unreadable index: start again */
        if ((rc = index_clear(x->s, eb)) != CC_OK) goto err;
        height = 0;
    }
    x->indexed = height;
    if (pthread_create(&x->thread, NULL, index_thread, x) != 0) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "cannot start the txid index's thread");
        goto err;
    }
    x->running = true;
    return CC_OK;
err:
    cc_txids_close(x);
    *out = NULL;
    return rc;
}

void cc_txids_close(cc_txids *x)
{
    if (!x) return;
    if (x->running) {
        pthread_mutex_lock(&x->lock);
        x->stop = true;
        pthread_cond_signal(&x->wake);
        pthread_mutex_unlock(&x->lock);
        pthread_join(x->thread, NULL);
    }
    cc_store_close(x->s);
    pthread_cond_destroy(&x->wake);
    pthread_mutex_destroy(&x->lock);
    pthread_mutex_destroy(&x->pass);
    free(x);
}

uint64_t cc_txids_indexed(cc_txids *x)
{
    pthread_mutex_lock(&x->lock);
    uint64_t h = x->indexed;
    pthread_mutex_unlock(&x->lock);
    return h;
}

cc_err cc_txids_catch_up(cc_txids *x, cc_errbuf *eb)
{
    bool more = true;
    cc_err rc = CC_OK;
    if (!x->s || x->s->readonly) return cc_errf(eb, CC_ERR_INVALID, "this chain keeps no txid index");
    while (more && rc == CC_OK) rc = index_pass(x, &more, eb);
    return rc;
}

/* How far the index covers main's snapshot, whose head is head: blocks
 * 1..*covered (0 when it has no index that main's store agrees with). */
static void covered_by(cc_txids *x, MDB_txn *r, MDB_txn *main, uint64_t head, uint64_t *covered)
{
    uint8_t hash[CC_HASH_BYTES];
    uint64_t indexed = 0;
    *covered = 0;
    if (read_indexed(x->s, r, &indexed, hash) != CC_OK) return;
    /* An index ahead of main's snapshot was filled by the node from this
     * store after the snapshot began (a foreign one is emptied when the
     * node opens the store): it covers all of the snapshot. */
    if (indexed > head) {
        *covered = head;
    } else if (is_our_block(x->c, main, indexed, hash)) {
        *covered = indexed;
    }
}

/* Look for txid in the index, as of main's snapshot (head: its head);
 * *covered gets the blocks the index answered for. An entry is used only
 * when block and position hold that txid. */
static cc_err find_indexed(cc_txids *x, MDB_txn *main, uint64_t head, const uint8_t txid[CC_HASH_BYTES],
                           uint64_t *height, uint32_t *index, uint64_t *covered)
{
    MDB_txn *r;
    MDB_val v, blk;
    uint8_t key[8], check[CC_HASH_BYTES];
    *covered = 0;
    if (!x || !x->s) return CC_ERR_NOT_FOUND;
    if (cc_store_begin(x->s, false, &r, NULL) != CC_OK) return CC_ERR_NOT_FOUND; /* read the blocks instead */
    covered_by(x, r, main, head, covered);
    cc_err rc = *covered ? cc_store_get(r, x->s->txids, txid, CC_HASH_BYTES, &v) : CC_ERR_NOT_FOUND;
    if (rc == CC_OK && v.mv_size == CC_TX_LOC_BYTES) {
        *height = cc_get_u64(v.mv_data);
        *index = cc_get_u32((const uint8_t *)v.mv_data + 8);
        cc_put_u64(key, *height);
        if (*height > head) {
            rc = CC_ERR_NOT_FOUND; /* committed after main's snapshot */
        } else if (cc_store_get(main, x->c->s->blocks, key, sizeof key, &blk) != CC_OK ||
                   cc_block_txid_at(blk.mv_data, blk.mv_size, *index, check) != CC_OK ||
                   memcmp(check, txid, CC_HASH_BYTES) != 0) {
            *covered = 0; /* a wrong entry: trust none of it, read the blocks */
            rc = CC_ERR_NOT_FOUND;
        }
    } else if (rc == CC_OK) {
        *covered = 0;
        rc = CC_ERR_NOT_FOUND;
    } else if (rc != CC_ERR_NOT_FOUND) {
        *covered = 0;
    }
    cc_store_abort(x->s, r);
    return rc == CC_OK ? CC_OK : CC_ERR_NOT_FOUND;
}

cc_err cc_txids_find(cc_txids *x, cc_chain *c, MDB_txn *main, const uint8_t txid[CC_HASH_BYTES],
                     uint64_t *height, uint32_t *index)
{
    uint64_t covered = 0, head = 0;
    cc_err rc = head_in(c, main, &head);
    if (rc != CC_OK) return rc;
    if (find_indexed(x, main, head, txid, height, index, &covered) == CC_OK) return CC_OK;
    for (uint64_t h = covered + 1; h <= head; h++) { /* the blocks the index has not reached */
        uint8_t(*ids)[CC_HASH_BYTES] = NULL;
        size_t n = 0;
        if ((rc = block_txids(c, main, h, &ids, &n)) != CC_OK) return rc;
        for (size_t i = 0; i < n; i++) {
            if (memcmp(ids[i], txid, CC_HASH_BYTES) != 0) continue;
            *height = h;
            *index = (uint32_t)i;
            free(ids);
            return CC_OK;
        }
        free(ids);
    }
    return CC_ERR_NOT_FOUND;
}

cc_err cc_txids_check(cc_txids *x, MDB_txn *main, MDB_txn *replayed, MDB_dbi replayed_seen,
                      uint64_t *bad_height, char *what, size_t cap)
{
    MDB_txn *r;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint64_t head = 0, covered = 0, expected = 0, entries = 0;
    *bad_height = 0;
    if (!x || !x->s) return CC_OK; /* no index: lookups read the blocks */
    if (head_in(x->c, main, &head) != CC_OK || cc_store_begin(x->s, false, &r, NULL) != CC_OK) return CC_OK;
    covered_by(x, r, main, head, &covered); /* a foreign index is ignored, and the node rebuilds it */
    cc_err rc = CC_OK;
    /* Every tx of blocks 1..covered: the index holds its first commit, as
     * the replayed "seen" names it. */
    for (uint64_t h = 1; h <= covered && rc == CC_OK; h++) {
        uint8_t key[8];
        MDB_val blk;
        cc_block b;
        cc_put_u64(key, h);
        if (cc_store_get(main, x->c->s->blocks, key, sizeof key, &blk) != CC_OK ||
            cc_block_decode(blk.mv_data, blk.mv_size, &b, NULL) != CC_OK) {
            snprintf(what, cap, "the block is unreadable");
            *bad_height = h;
            rc = CC_ERR_VERIFY;
            break;
        }
        for (size_t i = 0; i < b.tx_count; i++) {
            uint8_t seen[CC_SEEN_KEY_BYTES];
            MDB_val first, got;
            cc_seen_key(&b.txs[i], seen);
            if (cc_store_get(replayed, replayed_seen, seen, sizeof seen, &first) != CC_OK ||
                first.mv_size != CC_TX_LOC_BYTES) {
                snprintf(what, cap, "a tx of the block is missing from the replayed index of committed txs");
            } else if (cc_store_get(r, x->s->txids, b.txs[i].txid, CC_HASH_BYTES, &got) != CC_OK ||
                       got.mv_size != CC_TX_LOC_BYTES ||
                       memcmp(got.mv_data, first.mv_data, CC_TX_LOC_BYTES) != 0) {
                snprintf(what, cap,
                         "the txid index (data/txids) does not say where a tx of this block "
                         "committed; stop the node, delete data/txids and start it to rebuild it");
            } else {
                if (cc_get_u64(first.mv_data) == h && cc_get_u32((uint8_t *)first.mv_data + 8) == i)
                    expected++;
                continue;
            }
            *bad_height = h;
            rc = CC_ERR_VERIFY;
            break;
        }
        cc_block_free(&b);
    }
    /* ... and nothing else at those heights. */
    if (rc == CC_OK && mdb_cursor_open(r, x->s->txids, &cur) == 0) {
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            if (v.mv_size != CC_TX_LOC_BYTES || cc_get_u64(v.mv_data) <= covered) entries++;
        mdb_cursor_close(cur);
        if (entries != expected) {
            snprintf(what, cap,
                     "the txid index (data/txids) holds %llu entries for blocks 1..%llu, which commit "
                     "%llu txids; stop the node, delete data/txids and start it to rebuild it",
                     (unsigned long long)entries, (unsigned long long)covered, (unsigned long long)expected);
            *bad_height = covered;
            rc = CC_ERR_VERIFY;
        }
    }
    cc_store_abort(x->s, r);
    return rc;
}
