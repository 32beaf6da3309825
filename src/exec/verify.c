/*
 * verify.c — verify-chain: rebuild the chain from a node's stored blocks and
 * compare everything the node stored with what re-execution produces.
 *
 * For each height: decode the stored block, check linkage, proposer
 * signature, tx root, every tx signature, re-execute, and compare results,
 * state and history roots (cc_chain_apply on a scratch store does all of
 * it), then compare the stored results. At the end compare the head, the
 * whole state, the index of committed txs ("seen"; and every entry of the
 * txid query index, txids.c), the history tree and the consensus node sets
 * key by key, and check every checkpoint signature and the hash of every attachment still
 * stored. The first difference names the height at fault.
 *
 * A block of a ruleset this build does not know (the blocks before it
 * moved the chain there by governance) ends the replay without a verdict
 * on it: the blocks before it are sound, and the rest, the stored state
 * included, is for a build that knows the ruleset (CC_ERR_VERSION).
 *
 * Attachments: blocks commit to an attachment's SHA-256, never to its
 * bytes, and the bytes are not part of the state, so erased attachments
 * (record.erase) leave nothing to compare. The replay runs on blocks read
 * from the store, which carry no attachment bytes at all: tx handlers
 * check the hash the tx signs, not the bytes, so results and state roots
 * are the same with or without them.
 *
 * The tx signatures, most of the work, are checked on every core before
 * each block is replayed (verify_sigs); a tx whose signature fails there is
 * left for exec, which refuses it as it would anyway.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/codec.h"
#include "exec/chain_internal.h"

static cc_err bad(cc_verify_report *rep, uint64_t height, const char *fmt, const char *detail)
{
    rep->bad_height = height;
    snprintf(rep->what, sizeof rep->what, fmt, detail);
    return CC_ERR_VERIFY;
}

/* Compare two databases key by key. On the first difference, *key_out gets
 * a printable copy of the key and the stored/replayed values' height
 * prefix (for state) names the height. */
static cc_err compare_db(MDB_txn *ta, MDB_dbi da, MDB_txn *tb, MDB_dbi db, char *key_out, size_t cap,
                         uint64_t *height, bool height_prefixed)
{
    MDB_cursor *ca, *cb;
    MDB_val ka, va, kb, vb;
    if (mdb_cursor_open(ta, da, &ca) != 0) return CC_ERR_IO;
    if (mdb_cursor_open(tb, db, &cb) != 0) {
        mdb_cursor_close(ca);
        return CC_ERR_IO;
    }
    int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST), rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
    cc_err rc = CC_OK;
    while (ra == 0 || rb == 0) {
        bool same_key =
            ra == 0 && rb == 0 && ka.mv_size == kb.mv_size && memcmp(ka.mv_data, kb.mv_data, ka.mv_size) == 0;
        if (!same_key || va.mv_size != vb.mv_size || memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0) {
            const MDB_val *k = ra == 0 ? &ka : &kb;
            const MDB_val *v = rb == 0 && same_key ? &vb : ra == 0 ? &va : &vb;
            size_t n = k->mv_size < cap - 1 ? k->mv_size : cap - 1;
            for (size_t i = 0; i < n; i++) {
                char ch = ((const char *)k->mv_data)[i];
                key_out[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
            }
            key_out[n] = '\0';
            *height = height_prefixed && v->mv_size >= 8 ? cc_get_u64(v->mv_data) : 0;
            rc = CC_ERR_VERIFY;
            break;
        }
        ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
    }
    mdb_cursor_close(ca);
    mdb_cursor_close(cb);
    return rc;
}

/* Every stored checkpoint signature is by a consensus node of its height
 * and verifies over the block there and that set of nodes. */
static cc_err check_checkpoints(cc_store *s, MDB_txn *txn, const cc_genesis *g, cc_verify_report *rep)
{
    MDB_cursor *cur;
    MDB_val k, v;
    cc_err rc = CC_OK;
    cc_members *m = malloc(sizeof *m);
    uint64_t m_height = UINT64_MAX;
    if (!m) return CC_ERR_NOMEM;
    if (mdb_cursor_open(txn, s->checkpoints, &cur) != 0) {
        free(m);
        return CC_ERR_IO;
    }
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == CC_OK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        cc_checkpoint_sig cs;
        cc_header h;
        uint64_t height = k.mv_size >= 8 ? cc_get_u64(k.mv_data) : 0;
        if (k.mv_size != 8 + CC_PUBKEY_BYTES || v.mv_size != CC_SIG_BYTES ||
            cc_chain_header_at(s, txn, height, &h) != CC_OK) {
            rc = bad(rep, height, "%s", "a checkpoint record is malformed or names a missing block");
            break;
        }
        if (height != m_height && cc_members_at(s, txn, g, height, m) != CC_OK) {
            rc = bad(rep, height, "%s", "the members table is damaged");
            break;
        }
        m_height = height;
        memcpy(cs.node, (const uint8_t *)k.mv_data + 8, CC_PUBKEY_BYTES);
        memcpy(cs.sig, v.mv_data, CC_SIG_BYTES);
        if (cc_members_index(m, cs.node) < 0 || !cc_checkpoint_verify(&h, m->hash, &cs))
            rc = bad(rep, height, "%s", "a checkpoint signature does not verify");
    }
    mdb_cursor_close(cur);
    free(m);
    return rc;
}

/* Every attachment still stored matches its key (erased ones are gone). */
static cc_err check_attachments(cc_store *s, MDB_txn *txn, cc_verify_report *rep)
{
    uint64_t n;
    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    cc_err rc = cc_store_attach_check(s, txn, &n, h);
    if (rc == CC_ERR_CORRUPT)
        return bad(rep, 0, "the stored attachment %s does not match its SHA-256, or its bytes are gone",
                   cc_hex(h, CC_HASH_BYTES, hex));
    return rc;
}

#define SIG_THREADS_MAX 16

/* One thread's share of a block's txs: [from, to). */
typedef struct sig_share {
    cc_tx *txs;
    size_t from, to;
} sig_share;

static void *verify_share(void *arg)
{
    sig_share *sh = arg;
    for (size_t i = sh->from; i < sh->to; i++) sh->txs[i].sig_checked = cc_tx_verify_sig(&sh->txs[i]);
    return NULL;
}

/* Check the signatures of b's txs on up to threads cores (this thread
 * included); each tx's sig_checked says whether its signature holds. */
static void verify_sigs(cc_block *b, unsigned threads)
{
    pthread_t t[SIG_THREADS_MAX];
    sig_share sh[SIG_THREADS_MAX];
    bool started[SIG_THREADS_MAX] = {false};
    size_t n = threads < b->tx_count ? threads : b->tx_count;
    if (n == 0) return;
    size_t per = (b->tx_count + n - 1) / n;
    for (size_t k = 0; k < n; k++) {
        size_t from = k * per, to = from + per < b->tx_count ? from + per : b->tx_count;
        sh[k] = (sig_share){b->txs, from < to ? from : to, to};
        if (k > 0) started[k] = pthread_create(&t[k], NULL, verify_share, &sh[k]) == 0;
    }
    verify_share(&sh[0]);
    for (size_t k = 1; k < n; k++) {
        if (started[k])
            pthread_join(t[k], NULL);
        else
            verify_share(&sh[k]); /* no thread: this one does it */
    }
}

cc_err cc_chain_verify(const char *data_dir, const uint8_t *genesis, size_t genesis_len,
                       const char *scratch_dir, cc_verify_report *rep, cc_errbuf *eb)
{
    cc_chain *src = NULL, *re = NULL;
    MDB_txn *ts = NULL, *tr = NULL;
    cc_result *results = NULL, *stored = NULL;
    cc_chain_options ro = {.readonly = true}, scratch = {.no_txid_index = true};
    cc_err rc;
    memset(rep, 0, sizeof *rep);

    if ((rc = cc_chain_open(data_dir, genesis, genesis_len, &ro, &src, eb)) != CC_OK) return rc;
    if ((rc = cc_chain_open(scratch_dir, genesis, genesis_len, &scratch, &re, eb)) != CC_OK) goto done;
    results = calloc(CC_BLOCK_MAX_TXS, sizeof *results);
    stored = calloc(CC_BLOCK_MAX_TXS, sizeof *stored);
    if (!results || !stored) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if ((rc = cc_store_begin(src->s, false, &ts, eb)) != CC_OK) goto done;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cores < 1 ? 1 : cores > SIG_THREADS_MAX ? SIG_THREADS_MAX : (unsigned)cores;
    cc_head head = src->head;
    for (uint64_t h = 1; h <= head.height; h++) {
        uint8_t key[8];
        MDB_val v, res;
        cc_block b;
        cc_errbuf why = {{0}};
        cc_put_u64(key, h);
        if (cc_store_get(ts, src->s->blocks, key, sizeof key, &v) != CC_OK) {
            rc = bad(rep, h, "%s", "the block is missing");
            goto done;
        }
        if (cc_block_decode(v.mv_data, v.mv_size, &b, &why) != CC_OK) {
            rc = bad(rep, h, "the block does not decode: %.200s", why.msg);
            goto done;
        }
        if (b.h.height != h) {
            cc_block_free(&b);
            rc = bad(rep, h, "%s", "the block stored at this height says another height");
            goto done;
        }
        verify_sigs(&b, threads); /* every signature, whatever the block says */
        rc = cc_chain_apply(re, &b, NULL, results, &why);
        size_t n = b.tx_count;
        cc_block_free(&b);
        if (rc == CC_ERR_VERSION) { /* the verified blocks moved the chain to a ruleset this build lacks */
            rep->unchecked_from = h;
            snprintf(rep->what, sizeof rep->what, "%s", why.msg);
            goto done;
        }
        if (rc != CC_OK) {
            rc = bad(rep, h, "%s", why.msg);
            goto done;
        }
        if (cc_store_get(ts, src->s->results, key, sizeof key, &res) != CC_OK) {
            rc = bad(rep, h, "%s", "the block's results are missing");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if (cc_results_get(res.mv_data, res.mv_size, (uint32_t)i, &stored[i]) != CC_OK ||
                stored[i].code != results[i].code || strcmp(stored[i].message, results[i].message) != 0) {
                rc = bad(rep, h, "%s", "a stored tx result differs from the one re-execution computes");
                goto done;
            }
        }
        rep->blocks++;
        rep->txs += n;
    }

    if (memcmp(re->head.hash, head.hash, CC_HASH_BYTES) != 0 ||
        memcmp(re->head.state_root, head.state_root, CC_HASH_BYTES) != 0 ||
        re->head.tx_total != head.tx_total) {
        rc = bad(rep, head.height, "%s", "the stored head record differs from the replayed chain");
        goto done;
    }
    if (memcmp(&re->acc, &src->acc, sizeof re->acc) != 0) {
        rc = bad(rep, head.height, "%s", "the stored state accumulator differs from the replayed one");
        goto done;
    }
    if ((rc = cc_store_begin(re->s, false, &tr, eb)) != CC_OK) goto done;
    char k[96];
    uint64_t at = 0;
    if (compare_db(ts, src->s->state, tr, re->s->state, k, sizeof k, &at, true) != CC_OK) {
        rc = bad(rep, at, "the state under key \"%.90s\" differs from the replayed state", k);
        goto done;
    }
    if (compare_db(ts, src->s->seen, tr, re->s->seen, k, sizeof k, &at, false) != CC_OK) {
        rc = bad(rep, head.height, "%s", "the index of committed txs differs from the replayed one");
        goto done;
    }
    if (cc_txids_check(src->txids, ts, tr, re->s->seen, &at, rep->what, sizeof rep->what) != CC_OK) {
        rep->bad_height = at;
        rc = CC_ERR_VERIFY;
        goto done;
    }
    if (compare_db(ts, src->s->history, tr, re->s->history, k, sizeof k, &at, false) != CC_OK) {
        rc = bad(rep, head.height, "%s", "the stored block history differs from the replayed one");
        goto done;
    }
    if (compare_db(ts, src->s->members, tr, re->s->members, k, sizeof k, &at, false) != CC_OK) {
        rc = bad(rep, head.height, "%s", "the stored consensus node sets differ from the replayed ones");
        goto done;
    }
    if ((rc = check_checkpoints(src->s, ts, &src->g, rep)) != CC_OK) goto done;
    rc = check_attachments(src->s, ts, rep);
done:
    if (rc == CC_ERR_VERIFY)
        cc_errf(eb, rc, "height %llu: %s", (unsigned long long)rep->bad_height, rep->what);
    else if (rc == CC_ERR_VERSION && rep->unchecked_from)
        cc_errf(eb, rc, "blocks 1 to %llu are sound; block %llu on cannot be checked: %s",
                (unsigned long long)rep->blocks, (unsigned long long)rep->unchecked_from, rep->what);
    if (tr) cc_store_abort(re->s, tr);
    if (ts) cc_store_abort(src->s, ts);
    free(results);
    free(stored);
    cc_chain_close(re);
    cc_chain_close(src);
    return rc;
}
