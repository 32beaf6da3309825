/*
 * node/admission.c — decode, admission checks, signature verification and
 * mempool insertion for submitted txs (see admission.h).
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/admission.h"
#include "node/log.h"

typedef struct admit_batch {
    cc_node *node;
    cc_admit_item *items;
    uint64_t now_ms;
} admit_batch;

/* Attach att_len bytes of attachment to a decoded tx (copied). */
static cc_err attach(cc_tx *tx, const uint8_t *att, size_t att_len, cc_errbuf *eb)
{
    if (att_len == 0) return CC_OK; /* none sent: admission says whether one is needed */
    if (!tx->has_attachment)
        return cc_errf(eb, CC_ERR_ATTACHMENT,
                       "%zu attachment bytes were sent but the tx declares no attachment", att_len);
    if (att_len != tx->attachment_len)
        return cc_errf(eb, CC_ERR_ATTACHMENT, "the tx declares a %u-byte attachment but %zu bytes were sent",
                       tx->attachment_len, att_len);
    tx->attachment = malloc(att_len);
    if (!tx->attachment) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the attachment");
    memcpy(tx->attachment, att, att_len);
    return CC_OK;
}

/* Decode an octet-stream item: the tx encoding, then its attachment (when
 * the length fields cannot be read, the decoder says what is wrong). */
static cc_err decode_binary(cc_admit_item *it)
{
    size_t tx_len = it->bin_len;
    if (!cc_tx_encoded_len(it->bin, it->bin_len, &tx_len)) tx_len = it->bin_len;
    cc_err rc = cc_tx_decode(it->bin, tx_len, &it->tx, &it->eb);
    if (rc != CC_OK) return rc;
    return attach(&it->tx, it->bin + tx_len, it->bin_len - tx_len, &it->eb);
}

/* Decode a JSON item: base64 tx and optional base64 attachment. */
static cc_err decode_base64(cc_admit_item *it)
{
    uint8_t *raw = NULL, *att = NULL;
    size_t raw_len = 0, att_len = 0;
    cc_err rc;

    if (cc_unbase64(it->tx_b64, &raw, &raw_len) != CC_OK) {
        rc = cc_errf(&it->eb, CC_ERR_MALFORMED, "\"tx\" is not valid base64");
        goto out;
    }
    rc = cc_tx_decode(raw, raw_len, &it->tx, &it->eb);
    if (rc != CC_OK) goto out_after_raw;
    if (it->att_b64) {
        if (cc_unbase64(it->att_b64, &att, &att_len) != CC_OK) {
            rc = cc_errf(&it->eb, CC_ERR_MALFORMED, "\"attachment\" is not valid base64");
            goto out_after_raw;
        }
        if (att_len == 0) {
            rc = cc_errf(&it->eb, CC_ERR_ATTACHMENT, "\"attachment\" is empty");
            goto out_after_att;
        }
        rc = attach(&it->tx, att, att_len, &it->eb);
    }
out_after_att:
    free(att);
out_after_raw:
    free(raw);
out:
    return rc;
}

/* Verify-pool work on items [begin, end): everything per tx that does not
 * need the mempool's order. */
static void admit_chunk(void *ctx, size_t begin, size_t end)
{
    admit_batch *b = ctx;
    cc_node *node = b->node;
    cc_admit_view view = {0};
    size_t verified = 0;

    for (size_t i = begin; i < end; i++) {
        cc_admit_item *it = &b->items[i];
        if (it->err != CC_OK) continue; /* rejected before admission */
        it->err = it->bin ? decode_binary(it) : decode_base64(it);
        if (it->tx.raw) {
            memcpy(it->txid, it->tx.txid, CC_HASH_BYTES);
            it->has_txid = true;
        }
    }

    /* Already queued? Asked before the store is: the mempool lets a txid go
     * only once its block has committed here (or failed; on a raft follower,
     * once the leader took it, and the leader refuses the copy), so a tx no
     * longer queued is in the store snapshot taken next. Asked the other way
     * round, a tx whose block committed in between was in neither, and its
     * copy was accepted (to fail as a duplicate in a later block). (Checked
     * again on insertion; this saves the verify.) */
    cc_mempool_lock(&node->mempool);
    for (size_t i = begin; i < end; i++) {
        cc_admit_item *it = &b->items[i];
        if (it->err == CC_OK && cc_mempool_has_locked(&node->mempool, it->txid))
            it->err = cc_errf(&it->eb, CC_ERR_DUPLICATE, "the tx is already queued for the next block");
    }
    cc_mempool_unlock(&node->mempool);

    for (size_t i = begin; i < end; i++) {
        cc_admit_item *it = &b->items[i];
        if (it->err != CC_OK) continue;
        it->err = cc_chain_admit_in(node->chain, &view, &it->tx, b->now_ms, &it->eb);
        if (it->err == CC_OK) it->tx.payload_checked = true; /* exec need not run the rules again */
    }
    cc_chain_admit_view_end(node->chain, &view);

    for (size_t i = begin; i < end; i++) {
        cc_admit_item *it = &b->items[i];
        if (it->err != CC_OK) continue;
        verified++;
        if (cc_tx_verify_sig(&it->tx)) {
            it->tx.sig_checked = true;
            cc_sigcache_add(&node->sigcache, it->txid);
        } else
            it->err = cc_errf(&it->eb, CC_ERR_SIGNATURE, "the tx signature does not verify for its signer");
    }
    cc_metrics_sig_verified(&node->metrics, verified);
}

static const char *refusal_message(cc_err e)
{
    switch (e) {
    case CC_ERR_DUPLICATE:
        return "the tx is already queued for the next block";
    case CC_ERR_BUSY:
        return "the mempool is full; retry later";
    case CC_ERR_STORE_FULL:
        return "the node's storage is full; it accepts no new txs";
    case CC_ERR_UNREACHABLE:
        return "the node is stopping";
    default:
        return cc_strerror(e);
    }
}

size_t cc_admit_run(cc_node *node, cc_admit_item *items, size_t n, bool wait)
{
    admit_batch b = {node, items, cc_clocks_now_ms(&node->clocks)};
    uint64_t admitted_ns = cc_mono_ns();
    cc_waiter **waiting = NULL;
    size_t waiting_count = 0, accepted = 0;
    cc_wait_group group;

    cc_verify_pool_run(node->pool, admit_chunk, &b, n);

    /* Register waiters before the txs become visible to the producer. */
    if (wait) {
        waiting = malloc(n * sizeof *waiting);
        if (!waiting) wait = false; /* answer "pending" rather than fail the batch */
    }
    if (wait) {
        cc_wait_group_init(&group);
        for (size_t i = 0; i < n; i++) {
            if (items[i].err != CC_OK) continue;
            memcpy(items[i].waiter.txid, items[i].txid, CC_HASH_BYTES);
            waiting[waiting_count++] = &items[i].waiter;
        }
        cc_waiters_add(&node->waiters, &group, waiting, waiting_count);
        /* With several nodes a block holding one of these txs may have been
         * applied between admission's check and the registration above (it
         * came from another node): its waiter would never be woken. */
        for (size_t i = 0; i < n; i++) {
            cc_tx_location loc;
            if (items[i].err != CC_OK || cc_chain_tx_committed(node->chain, &items[i].tx, &loc) != CC_OK)
                continue;
            cc_waiters_commit_one(&node->waiters, items[i].txid, &loc);
            items[i].committed_already = true;
        }
    }

    cc_mempool_lock(&node->mempool);
    for (size_t i = 0; i < n; i++) {
        cc_admit_item *it = &items[i];
        if (it->err != CC_OK) continue;
        if (it->committed_already) { /* answered from the chain: nothing left to do */
            accepted++;
            continue;
        }
        it->err = cc_mempool_push_locked(&node->mempool, &it->tx, admitted_ns);
        if (it->err == CC_OK)
            accepted++;
        else
            cc_errf(&it->eb, it->err, "%s", refusal_message(it->err));
    }
    cc_mempool_signal_locked(&node->mempool);
    cc_mempool_unlock(&node->mempool);

    for (size_t i = 0; i < n; i++)
        if (items[i].err != CC_OK || items[i].committed_already) cc_tx_free(&items[i].tx);

    if (wait) {
        for (size_t i = 0; i < n; i++)
            if (items[i].err != CC_OK && items[i].waiter.group)
                cc_waiters_cancel(&node->waiters, &items[i].waiter);
        if (accepted > 0) (void)cc_waiters_wait(&node->waiters, &group, cc_now_ms() + node->wait_timeout_ms);
        cc_wait_group_destroy(&group);
    }
    free(waiting);
    return accepted;
}

/* ---- a block's signatures, before raft applies it (consensus hook) ---------------- */

typedef struct block_verify {
    cc_node *node;
    cc_tx *txs;
    const size_t *todo; /* indexes of the txs to verify */
} block_verify;

static void block_chunk(void *ctx, size_t begin, size_t end)
{
    block_verify *bv = ctx;
    for (size_t k = begin; k < end; k++) {
        cc_tx *tx = &bv->txs[bv->todo[k]];
        if (cc_tx_verify_sig(tx)) {
            tx->sig_checked = true;
            cc_sigcache_add(&bv->node->sigcache, tx->txid); /* pre-verified, applied later */
        } /* else left unchecked: cc_chain_apply verifies it again and refuses it */
    }
}

void cc_admit_verify_block(void *ctx, cc_tx *txs, size_t n)
{
    cc_node *node = ctx;
    size_t *todo = malloc((n ? n : 1) * sizeof *todo), count = 0;
    for (size_t i = 0; i < n; i++) {
        if (txs[i].sig_checked) continue;
        if (cc_sigcache_has(&node->sigcache, txs[i].txid))
            txs[i].sig_checked = true; /* these very bytes verified at admission here */
        else if (todo)
            todo[count++] = i;
    }
    if (todo && count && node->pool) {
        block_verify bv = {node, txs, todo};
        cc_verify_pool_run(node->pool, block_chunk, &bv, count);
    }
    free(todo); /* without memory, cc_chain_apply verifies what is left, one by one */
}
