/*
 * cli/cmd_proof.c — `carechain proof TXID` fetches a tx's inclusion proof;
 * `carechain verify-proof FILE --genesis G` checks one offline, with
 * nothing but the proof and the genesis file.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define PROOF_MAX (4u * 1024 * 1024)

int cc_cmd_proof(int argc, char **argv)
{
    const char *out = NULL;
    const cc_cli_opt opts[] = {
        {"out", "FILE", "save the proof here (default: print it)", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"proof",
                              "TXID [--out F]",
                              "Fetch the proof that a tx and its result are in the chain.",
                              opts,
                              1,
                              1,
                              true,
                              true,
                              "Check it later, offline: carechain verify-proof F --genesis genesis.json\n"};
    cc_cli_ctx ctx;
    json_t *j;
    uint8_t txid[CC_HASH_BYTES];
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (strlen(ctx.pos[0]) != 2 * CC_HASH_BYTES || cc_unhex(ctx.pos[0], txid, CC_HASH_BYTES) != CC_OK)
        return cc_cli_usage(ctx.cmd, "TXID must be 64 hex digits");

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
