/*
 * cli/cmd_block.c — `carechain block get HEIGHT`: a block's header and its
 * txs with their results, one line each.
 */
#include <string.h>

#include "cli/cli.h"

static int block_get(int argc, char **argv)
{
    const cc_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const cc_cli_spec spec = {
        "block get", "HEIGHT", "Show a block and the results of its txs.", opts, 1, 1, true, true, NULL};
    cc_cli_ctx ctx;
    json_t *j;
    uint64_t height;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!cc_cli_parse_u64(ctx.pos[0], false, &height) ||
        strspn(ctx.pos[0], "0123456789") != strlen(ctx.pos[0]))
        return cc_cli_usage(ctx.cmd, "HEIGHT must be a number, not '%s'", ctx.pos[0]);

    char path[64], sh[CC_CLI_SHORT_BYTES], sp[CC_CLI_SHORT_BYTES], ss[CC_CLI_SHORT_BYTES], tm[40];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long)height);
    rc = cc_cli_get_json(&ctx, path, &j, NULL);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    json_t *txs = json_object_get(j, "txs");
    size_t count = json_array_size(txs), failed = 0;
    printf("Block %llu (hash %s, after %s) was made %s by %s and holds %zu tx%s.\n",
           (unsigned long long)height, cc_cli_short(cc_cli_jstr(j, "hash", "?"), sh),
           cc_cli_short(cc_cli_jstr(j, "prev_hash", "?"), sp), cc_cli_time(cc_cli_juint(j, "time_ms"), tm),
           cc_cli_short(cc_cli_jstr(j, "proposer", "?"), ss), count, count == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        json_t *t = json_array_get(txs, i);
        json_t *res = json_object_get(t, "result");
        const char *code =
            json_is_object(res) ? cc_cli_jstr(res, "code", "?") : cc_cli_jstr(t, "result", "?");
        const char *msg = json_is_object(res) ? cc_cli_jstr(res, "message", "") : "";
        if (strcmp(code, "ok") != 0) failed++;
        printf("  %3zu. %-18s %s by %s: %s%s%s\n", i, cc_cli_jstr(t, "type", "?"),
               cc_cli_jstr(t, "txid", "?"), cc_cli_short(cc_cli_jstr(t, "signer", "?"), ss), code,
               msg[0] ? " — " : "", msg);
    }
    printf("State root after it: %s.%s\n", cc_cli_jstr(j, "state_root", "?"),
           failed ? " Failed txs changed no state." : "");
    json_decref(j);
    return CC_EXIT_OK;
}

int cc_cmd_block(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"get", block_get, "show a block by height"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("block", subs, argc, argv);
}
