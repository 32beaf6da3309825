/*
 * cli/cmd_verify_chain.c — `carechain verify-chain --dir D`: recompute every
 * hash, root and signature of a node's chain and replay its state in a
 * scratch store; name the first bad height on tampering, or the first
 * block this build cannot check (a ruleset it does not know).
 */
#include <stdlib.h>
#include <string.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096

/* Verify the node directory dir (genesis.json, data/); fills rep. */
cc_err cc_cli_verify_dir(const char *dir, cc_verify_report *rep, cc_errbuf *eb)
{
    cc_err rc;
    char gpath[PATH_BYTES], dpath[PATH_BYTES], scratch[PATH_BYTES];
    uint8_t *genesis;
    size_t glen;
    const char *tmp = getenv("TMPDIR");

    snprintf(gpath, sizeof gpath, "%s/genesis.json", dir);
    snprintf(dpath, sizeof dpath, "%s/data", dir);
    rc = cc_file_read(gpath, CC_GENESIS_MAX_BYTES, &genesis, &glen, eb);
    if (rc != CC_OK) return rc;
    snprintf(scratch, sizeof scratch, "%s/carechain-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot make a scratch directory in %s", tmp && *tmp ? tmp : "/tmp");
        goto out;
    }
    rc = cc_chain_verify(dpath, genesis, glen, scratch, rep, eb);
    cc_errbuf rm_eb;
    if (cc_cli_rmtree(scratch, &rm_eb) != CC_OK) fprintf(stderr, "carechain: %s\n", rm_eb.msg);
out:
    free(genesis);
    return rc;
}

int cc_cmd_verify_chain(int argc, char **argv)
{
    const char *dir = NULL;
    const cc_cli_opt opts[] = {
        {"dir", "DIR", "a node directory (genesis.json and data/)", &dir},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "verify-chain",
        "--dir D",
        "Re-check a node's whole chain: hashes, Merkle roots, signatures, replayed state.",
        opts,
        0,
        0,
        false,
        true,
        "Run it on a stopped node (or a copy of its directory).\n"
        "A chain that moved to a ruleset this build does not know is checked up to the block\n"
        "before it; a newer build checks the rest.\n"
        "Exit status: 0 sound, 1 tampered, unreadable or not checked to its end, 2 usage.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir) return cc_cli_usage(ctx.cmd, "missing --dir");

    cc_errbuf eb = {{0}};
    cc_verify_report rep;
    memset(&rep, 0, sizeof rep);
    uint64_t t0 = cc_mono_ns();
    cc_err e = cc_cli_verify_dir(dir, &rep, &eb);
    double secs = (double)(cc_mono_ns() - t0) / 1e9;
    if (ctx.json) {
        json_t *j = json_pack("{s:b,s:I,s:I,s:f}", "sound", e == CC_OK, "blocks", (json_int_t)rep.blocks,
                              "txs", (json_int_t)rep.txs, "seconds", secs);
        if (e != CC_OK) {
            json_object_set_new(j, "error", json_string(cc_err_name(e)));
            if (rep.bad_height)
                json_object_set_new(j, "bad_height", json_integer((json_int_t)rep.bad_height));
            if (rep.unchecked_from)
                json_object_set_new(j, "unchecked_from", json_integer((json_int_t)rep.unchecked_from));
            json_object_set_new(j, "what", json_string(rep.what[0] ? rep.what : eb.msg));
        }
        cc_cli_print_json(j);
        json_decref(j);
    } else if (e == CC_OK) {
        printf("The chain in %s is sound: %llu block%s and %llu tx%s re-checked; every hash, root, signature "
               "and "
               "state root matches (%.2f s).\n",
               dir, (unsigned long long)rep.blocks, rep.blocks == 1 ? "" : "s", (unsigned long long)rep.txs,
               rep.txs == 1 ? "" : "s", secs);
    } else if (e == CC_ERR_VERSION && rep.unchecked_from) {
        printf(
            "The chain in %s is sound up to block %llu: %llu block%s and %llu tx%s re-checked; every hash, "
            "root, signature and state root matches. This build cannot check the blocks after it: %s.\n",
            dir, (unsigned long long)rep.blocks, (unsigned long long)rep.blocks, rep.blocks == 1 ? "" : "s",
            (unsigned long long)rep.txs, rep.txs == 1 ? "" : "s", rep.what);
    } else if (e == CC_ERR_VERIFY && rep.bad_height) {
        printf("The chain in %s is NOT sound: block %llu is bad: %s.\n", dir,
               (unsigned long long)rep.bad_height, rep.what[0] ? rep.what : eb.msg);
    } else if (e == CC_ERR_VERIFY || e == CC_ERR_CORRUPT) {
        printf("The chain in %s is NOT sound: %s.\n", dir, rep.what[0] ? rep.what : eb.msg);
    } else {
        fprintf(stderr, "carechain verify-chain: cannot check %s: %s\n", dir,
                eb.msg[0] ? eb.msg : cc_strerror(e));
    }
    return e == CC_OK ? CC_EXIT_OK : CC_EXIT_FAIL;
}
