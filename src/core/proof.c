/*
 * proof.c — offline verification of a tx inclusion proof.
 *
 * A proof (docs/PROTOCOL.md "Proofs") carries the tx, its result, its
 * block's header with the tx's and result's audit paths, a signed
 * checkpoint header, and the audit path of the block's hash in the history
 * tree whose root the checkpoint carries. Nothing but the proof and the
 * genesis file is needed to check it.
 *
 * Whose signatures count: the verifier starts by trusting the genesis
 * nodes. Each membership step in the proof is a checkpoint that a majority
 * of the trusted set signed, naming the consensus nodes after its block;
 * from then on that set is trusted. The checkpoint itself must be signed
 * by a majority of the set trusted last. A step is only ever a signed
 * statement of the nodes trusted before it, so a prover can leave steps
 * out (the set it stops at must still sign the checkpoint) but cannot make
 * the verifier trust a key no trusted majority named.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain.h"

static cc_err hex_field(const json_t *o, const char *k, uint8_t *out, size_t n, cc_errbuf *eb)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s || cc_unhex(s, out, n) != CC_OK)
        return cc_errf(eb, CC_ERR_MALFORMED, "proof field \"%s\" must be %zu bytes of hex", k, n);
    return CC_OK;
}

static cc_err path_field(const json_t *o, const char *k, uint8_t path[][CC_HASH_BYTES], size_t *n,
                         cc_errbuf *eb)
{
    json_t *a = json_object_get(o, k);
    size_t i;
    json_t *x;
    if (!json_is_array(a) || json_array_size(a) > CC_MERKLE_PATH_MAX)
        return cc_errf(eb, CC_ERR_MALFORMED, "proof field \"%s\" must be a list of at most %d hashes", k,
                       CC_MERKLE_PATH_MAX);
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x) || cc_unhex(json_string_value(x), path[i], CC_HASH_BYTES) != CC_OK)
            return cc_errf(eb, CC_ERR_MALFORMED, "proof field \"%s\"[%zu] is not a hash", k, i);
    }
    *n = json_array_size(a);
    return CC_OK;
}

static cc_err header_field(const json_t *o, cc_header *h, const char *what, cc_errbuf *eb)
{
    uint8_t buf[CC_HEADER_BYTES];
    if (hex_field(o, "header", buf, sizeof buf, eb) != CC_OK)
        return cc_errf(eb, CC_ERR_MALFORMED, "%s header must be %d bytes of hex", what, CC_HEADER_BYTES);
    return cc_header_decode(buf, sizeof buf, h, eb);
}

#define PROOF_STEPS_MAX 1024 /* membership steps in one proof */

/* A list of node keys as the proof carries it: 1..CC_MEMBERS_MAX hex
 * keys in ascending order. */
static cc_err members_field(const json_t *o, const char *what, cc_members *m, cc_errbuf *eb)
{
    const json_t *a = json_object_get(o, "members"), *x;
    uint8_t keys[CC_MEMBERS_MAX][CC_PUBKEY_BYTES];
    size_t i, n = json_array_size(a);
    if (!json_is_array(a) || n == 0 || n > CC_MEMBERS_MAX)
        return cc_errf(eb, CC_ERR_MALFORMED, "%s needs \"members\": 1 to %d node keys", what, CC_MEMBERS_MAX);
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x) || cc_unhex(json_string_value(x), keys[i], CC_PUBKEY_BYTES) != CC_OK ||
            (i > 0 && memcmp(keys[i - 1], keys[i], CC_PUBKEY_BYTES) >= 0))
            return cc_errf(eb, CC_ERR_MALFORMED, "%s members[%zu] is not a node key in ascending order", what,
                           i);
    }
    return cc_members_set(m, (const uint8_t(*)[CC_PUBKEY_BYTES])keys, n);
}

/* One signed checkpoint of the proof (a membership step, or the checkpoint
 * itself): its header, of this chain and above min_height; the members it
 * names; and valid signatures of more than half of trusted over both.
 * *good gets the number of those signatures. A format-1 checkpoint names
 * no members and its signatures are of the v1 message (*named is then
 * trusted). */
static cc_err signed_checkpoint(const json_t *o, const char *what, int format, const cc_genesis *g,
                                const cc_members *trusted, uint64_t min_height, cc_header *h,
                                cc_members *named, size_t *good, cc_errbuf *eb)
{
    bool seen[CC_MEMBERS_MAX] = {false};
    size_t i;
    const json_t *s;
    cc_err rc;
    if (!json_is_object(o)) return cc_errf(eb, CC_ERR_MALFORMED, "%s is not an object", what);
    if ((rc = header_field(o, h, what, eb)) != CC_OK) return rc;
    if (memcmp(h->chain_id, g->chain_id, CC_HASH_BYTES) != 0 || h->height < min_height)
        return cc_errf(eb, CC_ERR_VERIFY, "%s at height %llu is of another chain or out of order", what,
                       (unsigned long long)h->height);
    if (format == 1)
        *named = *trusted;
    else if ((rc = members_field(o, what, named, eb)) != CC_OK)
        return rc;
    *good = 0;
    json_array_foreach(json_object_get(o, "signatures"), i, s)
    {
        cc_checkpoint_sig cs;
        if (hex_field(s, "node", cs.node, sizeof cs.node, NULL) != CC_OK ||
            hex_field(s, "sig", cs.sig, sizeof cs.sig, NULL) != CC_OK)
            continue;
        int n = cc_members_index(trusted, cs.node);
        if (n < 0 || seen[n] ||
            !(format == 1 ? cc_checkpoint_verify_v1(h, &cs) : cc_checkpoint_verify(h, named->hash, &cs)))
            continue;
        seen[n] = true;
        (*good)++;
    }
    if (*good * 2 <= trusted->count)
        return cc_errf(
            eb, CC_ERR_VERIFY,
            "%s at height %llu has %zu valid signatures of the %zu nodes trusted there; a majority "
            "is needed",
            what, (unsigned long long)h->height, *good, trusted->count);
    return CC_OK;
}

/* cc_proof_verify against the parsed genesis g; *anchor gets the members
 * the checkpoint names (signed with it). */
static cc_err verify_proof(const json_t *proof, const cc_genesis *g, cc_proof_report *rep, cc_members *anchor,
                           cc_errbuf *eb)
{
    cc_tx tx = {0};
    cc_header bh, ch;
    uint8_t chain_id[CC_HASH_BYTES], leaf[CC_HASH_BYTES], bhash[CC_HASH_BYTES];
    uint8_t path[CC_MERKLE_PATH_MAX][CC_HASH_BYTES];
    size_t plen = 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cc_err rc;

    memset(rep, 0, sizeof *rep);
    json_t *block = json_object_get(proof, "block");
    json_t *cp = json_object_get(proof, "checkpoint");
    json_t *res = json_object_get(proof, "result");
    json_t *ver = json_object_get(proof, "carechain_proof");
    const char *tx_b64 = json_string_value(json_object_get(proof, "tx"));
    int format = json_is_integer(ver) ? (int)json_integer_value(ver) : 0;
    if (!json_is_object(proof) || (format != 1 && format != 2) || !json_is_object(block) ||
        !json_is_object(cp) || !json_is_object(res) || !tx_b64) {
        rc = cc_errf(eb, CC_ERR_MALFORMED,
                     "not a carechain proof (needs carechain_proof 2, or 1 from before checkpoints named "
                     "their nodes; txid, tx, result, block, checkpoint)");
        goto done;
    }
    if ((rc = hex_field(proof, "chain_id", chain_id, sizeof chain_id, eb)) != CC_OK) goto done;
    if (memcmp(chain_id, g->chain_id, CC_HASH_BYTES) != 0) {
        rc = cc_errf(eb, CC_ERR_CHAIN_ID, "the proof is for another chain than this genesis file");
        goto done;
    }

    /* 1. The tx itself: well formed, of this chain, signed by its signer. */
    if (cc_unbase64(tx_b64, &raw, &raw_len) != CC_OK) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "proof tx is not base64");
        goto done;
    }
    cc_errbuf txe = {{0}};
    if ((rc = cc_tx_decode(raw, raw_len, &tx, &txe)) != CC_OK) {
        rc = cc_errf(eb, rc, "proof tx does not decode: %s", txe.msg);
        goto done;
    }
    uint8_t claimed[CC_HASH_BYTES];
    if ((rc = hex_field(proof, "txid", claimed, sizeof claimed, eb)) != CC_OK) goto done;
    if (memcmp(claimed, tx.txid, CC_HASH_BYTES) != 0) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the proof's txid is not the id of the tx it carries");
        goto done;
    }
    if (memcmp(tx.chain_id, g->chain_id, CC_HASH_BYTES) != 0 || !cc_tx_verify_sig(&tx)) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the tx's signature or chain id is wrong");
        goto done;
    }

    /* 2. The tx and its result are in the block. */
    if ((rc = header_field(block, &bh, "block", eb)) != CC_OK) goto done;
    json_t *idx = json_object_get(block, "index");
    json_t *code = json_object_get(res, "code_num");
    const char *code_name = json_string_value(json_object_get(res, "code"));
    const char *msg = json_string_value(json_object_get(res, "message"));
    if (!json_is_integer(idx) || json_integer_value(idx) < 0 || !json_is_integer(code) ||
        json_integer_value(code) < 0 || json_integer_value(code) >= CC_ERR__COUNT || !msg ||
        strlen(msg) > CC_RESULT_MSG_MAX || !code_name ||
        strcmp(code_name, cc_err_name((cc_err)json_integer_value(code))) != 0) {
        rc = cc_errf(eb, CC_ERR_MALFORMED,
                     "proof needs block.index and a result {code, code_num, message} that agree");
        goto done;
    }
    uint64_t index = (uint64_t)json_integer_value(idx);
    if (memcmp(bh.chain_id, g->chain_id, CC_HASH_BYTES) != 0) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the block header belongs to another chain");
        goto done;
    }
    if ((rc = path_field(block, "tx_path", path, &plen, eb)) != CC_OK) goto done;
    cc_merkle_leaf(tx.txid, CC_HASH_BYTES, leaf);
    if (!cc_merkle_verify(leaf, index, bh.tx_count, (const uint8_t(*)[CC_HASH_BYTES])path, plen,
                          bh.tx_root)) {
        rc = cc_errf(eb, CC_ERR_VERIFY,
                     "the tx is not in block %llu: its audit path does not lead to the tx root",
                     (unsigned long long)bh.height);
        goto done;
    }
    rep->result.code = (uint16_t)json_integer_value(code);
    snprintf(rep->result.message, sizeof rep->result.message, "%s", msg);
    if ((rc = path_field(block, "result_path", path, &plen, eb)) != CC_OK) goto done;
    cc_result_leaf(tx.txid, &rep->result, leaf);
    if (!cc_merkle_verify(leaf, index, bh.tx_count, (const uint8_t(*)[CC_HASH_BYTES])path, plen,
                          bh.results_root)) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the stated result is not the one block %llu committed",
                     (unsigned long long)bh.height);
        goto done;
    }

    /* 3. The checkpoint is signed by a majority of the nodes the genesis,
     *    and the membership steps after it, lead the verifier to trust. */
    const json_t *steps = json_object_get(proof, "membership"), *step;
    cc_members trusted, named;
    uint64_t after = 0;
    size_t good = 0, i;
    cc_genesis_members(g, &trusted);
    if (format == 1 ? steps != NULL : !json_is_array(steps) || json_array_size(steps) > PROOF_STEPS_MAX) {
        rc = cc_errf(eb, CC_ERR_MALFORMED,
                     format == 1
                         ? "a format-1 proof has no \"membership\": its checkpoint is the genesis nodes'"
                         : "proof needs \"membership\": a list of at most %d steps",
                     PROOF_STEPS_MAX);
        goto done;
    }
    json_array_foreach(steps, i, step)
    {
        char what[48];
        snprintf(what, sizeof what, "membership step %zu", i);
        if ((rc = signed_checkpoint(step, what, format, g, &trusted, after + 1, &ch, &named, &good, eb)) !=
            CC_OK)
            goto done;
        trusted = named;
        after = ch.height;
    }
    if ((rc = signed_checkpoint(cp, "the checkpoint", format, g, &trusted, after, &ch, &named, &good, eb)) !=
        CC_OK)
        goto done;
    if (ch.height < bh.height) {
        rc = cc_errf(eb, CC_ERR_VERIFY, "the checkpoint is older than the block");
        goto done;
    }

    /* 4. The block is in the history the checkpoint commits to. */
    cc_header_hash(&bh, bhash);
    if ((rc = path_field(proof, "history_path", path, &plen, eb)) != CC_OK) goto done;
    if (ch.height == bh.height) {
        uint8_t chash[CC_HASH_BYTES];
        cc_header_hash(&ch, chash);
        if (memcmp(chash, bhash, CC_HASH_BYTES) != 0 || plen != 0) {
            rc = cc_errf(eb, CC_ERR_VERIFY, "the checkpoint is at the block's height but is another block");
            goto done;
        }
    } else {
        cc_merkle_leaf(bhash, CC_HASH_BYTES, leaf);
        if (!cc_merkle_verify(leaf, bh.height, ch.height, (const uint8_t(*)[CC_HASH_BYTES])path, plen,
                              ch.blocks_root)) {
            rc = cc_errf(eb, CC_ERR_VERIFY, "block %llu is not in the history of checkpoint %llu",
                         (unsigned long long)bh.height, (unsigned long long)ch.height);
            goto done;
        }
    }

    rep->height = bh.height;
    rep->checkpoint_height = ch.height;
    memcpy(rep->txid, tx.txid, CC_HASH_BYTES);
    snprintf(rep->type, sizeof rep->type, "%s", tx.type);
    rep->block_time_ms = bh.time_ms;
    rep->signatures = good;
    rep->trusted = trusted.count;
    rep->steps = json_array_size(steps);
    rep->format = format;
    *anchor = named;
    rc = CC_OK;
done:
    free(raw);
    cc_tx_free(&tx);
    return rc;
}

cc_err cc_proof_verify(const json_t *proof, const uint8_t *genesis, size_t genesis_len, cc_proof_report *rep,
                       cc_errbuf *eb)
{
    cc_genesis g;
    cc_members anchor;
    memset(rep, 0, sizeof *rep);
    cc_err rc = cc_genesis_parse(genesis, genesis_len, &g, eb);
    if (rc != CC_OK) return rc;
    rc = verify_proof(proof, &g, rep, &anchor, eb);
    cc_genesis_free(&g);
    return rc;
}

cc_err cc_proof_shows_removal(const json_t *proof, const cc_genesis *g, const uint8_t pk[CC_PUBKEY_BYTES],
                              uint64_t min_height, cc_proof_report *rep, cc_errbuf *eb)
{
    cc_members anchor;
    cc_err rc = verify_proof(proof, g, rep, &anchor, eb);
    if (rc != CC_OK) return rc;
    if (rep->format == 1)
        return cc_errf(eb, CC_ERR_VERIFY,
                       "a format-1 proof's checkpoint names no nodes, so it shows no removal");
    if (rep->checkpoint_height < min_height)
        return cc_errf(eb, CC_ERR_VERIFY, "the proof's checkpoint, at height %llu, is older than height %llu",
                       (unsigned long long)rep->checkpoint_height, (unsigned long long)min_height);
    if (cc_members_index(&anchor, pk) >= 0)
        return cc_errf(eb, CC_ERR_VERIFY, "the proof's checkpoint, at height %llu, names this key a node",
                       (unsigned long long)rep->checkpoint_height);
    return CC_OK;
}
