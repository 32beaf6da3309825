/*
 * cli/cmd_proof.c — `carechain proof TXID` fetches a tx's inclusion proof;
 * `carechain verify-proof FILE --genesis G` checks one offline, with
 * nothing but the proof and the genesis file.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define PROOF_MAX        (4u * 1024 * 1024)
#define PROOF_WAIT_S     10 /* default --wait */
#define PROOF_WAIT_MAX_S 600
#define PROOF_RETRY_MS   200

/* Whether the node holds txid as committed (GET /v1/tx/{txid} has a
 * height). */
static bool committed(cc_cli_http *h, const char *txid)
{
    char path[128];
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "/v1/tx/%s", txid);
    bool yes = cc_cli_http_request(h, path, NULL, NULL, 0, &r, &eb) == CC_OK && r.status == 200 &&
               json_is_integer(json_object_get(r.json, "height"));
    cc_cli_resp_free(&r);
    return yes;
}

/* On a raft network a node can prove a tx only once a majority's
 * checkpoint signatures covering it (and every membership step before it)
 * have reached it, a little after the block. While the node answers 404
 * for a tx it says is committed, ask again, until wait_s pass. The caller
 * then asks once more and reports whatever the answer is. */
static void wait_provable(const cc_cli_ctx *ctx, const char *txid, unsigned wait_s)
{
    cc_cli_http *h = cc_cli_http_new(ctx->node);
    char path[128];
    snprintf(path, sizeof path, "/v1/tx/%s/proof", txid);
    uint64_t deadline = cc_mono_ns() / 1000000 + (uint64_t)wait_s * 1000;
    while (h) {
        cc_cli_resp r;
        cc_errbuf eb = {{0}};
        bool retry = cc_cli_http_request(h, path, NULL, NULL, 0, &r, &eb) == CC_OK && r.status == 404;
        cc_cli_resp_free(&r);
        if (!retry || cc_mono_ns() / 1000000 >= deadline || !committed(h, txid)) break;
        cc_sleep_ms(PROOF_RETRY_MS);
    }
    cc_cli_http_free(h);
}

int cc_cmd_proof(int argc, char **argv)
{
    const char *out = NULL, *wait_s = NULL;
    const cc_cli_opt opts[] = {
        {"out", "FILE", "save the proof here (default: print it)", &out},
        {"wait", "SECONDS", "how long to wait for a committed tx to become provable (default 10)", &wait_s},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "proof",
        "TXID [--out F] [--wait SECONDS]",
        "Fetch the proof that a tx and its result are in the chain.",
        opts,
        1,
        1,
        true,
        true,
        "Check it later, offline: carechain verify-proof F --genesis genesis.json\n"
        "On a raft network a node proves a tx once a majority of the nodes signed a\n"
        "checkpoint covering it, a moment after the block: until then the command waits.\n"};
    cc_cli_ctx ctx;
    json_t *j;
    uint8_t txid[CC_HASH_BYTES];
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (strlen(ctx.pos[0]) != 2 * CC_HASH_BYTES || cc_unhex(ctx.pos[0], txid, CC_HASH_BYTES) != CC_OK)
        return cc_cli_usage(ctx.cmd, "TXID must be 64 hex digits");
    uint64_t wait = PROOF_WAIT_S;
    if (wait_s && (!cc_cli_parse_u64(wait_s, false, &wait) || wait > PROOF_WAIT_MAX_S))
        return cc_cli_usage(ctx.cmd, "--wait takes 0 to %d seconds", PROOF_WAIT_MAX_S);
    if (wait > 0) wait_provable(&ctx, ctx.pos[0], (unsigned)wait);

    char path[128], sh[CC_CLI_SHORT_BYTES];
    snprintf(path, sizeof path, "/v1/tx/%s/proof", ctx.pos[0]);
    rc = cc_cli_get_json(&ctx, path, &j, NULL);
    if (rc >= 0) return rc;
    if (!out) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    rc = CC_EXIT_OK;
    cc_errbuf eb = {{0}};
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text || cc_file_write(out, text, strlen(text), 0644, &eb) != CC_OK) {
        fprintf(stderr, "carechain proof: cannot save %s: %s\n", out, text ? eb.msg : "out of memory");
        rc = CC_EXIT_FAIL;
    } else if (ctx.json) {
        json_t *r = json_pack("{s:s,s:s}", "txid", ctx.pos[0], "file", out);
        cc_cli_print_json(r);
        json_decref(r);
    } else {
        printf("Saved the proof of tx %s to %s.\nCheck it offline with: carechain verify-proof %s --genesis "
               "genesis.json\n",
               cc_cli_short(ctx.pos[0], sh), out, out);
    }
    free(text);
    json_decref(j);
    return rc;
}

int cc_cmd_verify_proof(int argc, char **argv)
{
    const char *genesis = NULL;
    const cc_cli_opt opts[] = {
        {"genesis", "FILE", "the chain's genesis.json (its hash is the chain id)", &genesis},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "verify-proof",
        "FILE --genesis G",
        "Check a proof offline: the tx, its result, its block, and the signed checkpoint with the changes of "
        "the node set since the genesis.",
        opts,
        1,
        1,
        false,
        true,
        "Exit status: 0 verified, 1 not verified, 2 usage.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!genesis) return cc_cli_usage(ctx.cmd, "missing --genesis");

    cc_errbuf eb = {{0}};
    uint8_t *pbuf = NULL, *gbuf = NULL;
    size_t plen, glen;
    json_t *proof = NULL;
    cc_proof_report rep;
    char txid[CC_HASH_HEX], tm[40], sh[CC_CLI_SHORT_BYTES];

    rc = CC_EXIT_FAIL;
    if (cc_file_read(ctx.pos[0], PROOF_MAX, &pbuf, &plen, &eb) != CC_OK) {
        fprintf(stderr, "carechain verify-proof: cannot read the proof: %s\n", eb.msg);
        goto out;
    }
    if (cc_file_read(genesis, CC_GENESIS_MAX_BYTES, &gbuf, &glen, &eb) != CC_OK) {
        fprintf(stderr, "carechain verify-proof: cannot read the genesis file: %s\n", eb.msg);
        goto out;
    }
    uint64_t t0 = cc_mono_ns();
    proof = cc_json_parse(pbuf, plen, &eb);
    cc_err e = proof ? cc_proof_verify(proof, gbuf, glen, &rep, &eb) : CC_ERR_MALFORMED;
    uint64_t dt_ns = cc_mono_ns() - t0;
    if (e != CC_OK) {
        if (ctx.json) {
            json_t *j = json_pack("{s:b,s:s,s:s}", "verified", 0, "error", cc_err_name(e), "reason", eb.msg);
            cc_cli_print_json(j);
            json_decref(j);
        } else {
            printf("NOT verified: %s.\n", eb.msg[0] ? eb.msg : cc_strerror(e));
        }
        goto out;
    }
    rc = CC_EXIT_OK;
    cc_hex(rep.txid, CC_HASH_BYTES, txid);
    if (ctx.json) {
        json_t *j =
            json_pack("{s:b,s:s,s:s,s:I,s:I,s:{s:s,s:s},s:I,s:I,s:f}", "verified", 1, "txid", txid, "type",
                      rep.type, "height", (json_int_t)rep.height, "block_time_ms",
                      (json_int_t)rep.block_time_ms, "result", "code", cc_err_name((cc_err)rep.result.code),
                      "message", rep.result.message, "checkpoint_height", (json_int_t)rep.checkpoint_height,
                      "signatures", (json_int_t)rep.signatures, "verify_ms", (double)dt_ns / 1e6);
        json_object_set_new(j, "signers_trusted", json_integer((json_int_t)rep.trusted));
        json_object_set_new(j, "membership_steps", json_integer((json_int_t)rep.steps));
        json_object_set_new(j, "format", json_integer(rep.format));
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        printf("Verified: tx %s (%s) is in block %llu, made %s, with result %s%s%s.\n",
               cc_cli_short(txid, sh), rep.type, (unsigned long long)rep.height,
               cc_cli_time(rep.block_time_ms, tm),
               rep.result.code == CC_OK ? "ok" : cc_err_name((cc_err)rep.result.code),
               rep.result.message[0] ? ": " : "", rep.result.message);
        printf("Block %llu is in the history of the checkpoint at height %llu, signed by %zu of ",
               (unsigned long long)rep.height, (unsigned long long)rep.checkpoint_height, rep.signatures);
        if (rep.steps == 0)
            printf("the %zu genesis node%s", rep.trusted, rep.trusted == 1 ? "" : "s");
        else
            printf("the %zu nodes that %zu membership change%s, each signed by a majority of the nodes "
                   "before it, lead to from the genesis nodes",
                   rep.trusted, rep.steps, rep.steps == 1 ? "" : "s");
        printf(" (checked in %.3f ms).\n", (double)dt_ns / 1e6);
        if (rep.format == 1)
            printf("A format-1 proof, made before checkpoints named their nodes: the genesis nodes signed "
                   "it.\n");
        printf("txid %s\n", txid);
    }
out:
    json_decref(proof);
    free(pbuf);
    free(gbuf);
    return rc;
}
