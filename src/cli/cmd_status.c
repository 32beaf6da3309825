/*
 * cli/cmd_status.c — `carechain status`: what the node says about itself
 * and its chain, in a few sentences.
 */
#include <string.h>

#include "cli/cli.h"

/* The raft node's part: its role, and what an operator must act on. */
static void print_raft(const json_t *j)
{
    printf("Raft term %llu: this node is %s, with %llu voters in its view of the configuration.\n",
           (unsigned long long)cc_cli_juint(j, "term"), cc_cli_jstr(j, "raft_state", "?"),
           (unsigned long long)cc_cli_juint(j, "raft_voters"));
    if (json_is_true(json_object_get(j, "removed")))
        printf("This node was REMOVED from the network by governance (block %llu): it refuses txs and serves "
               "reads of a chain that no longer grows here.\n",
               (unsigned long long)cc_cli_juint(j, "removed_at"));
    if (json_is_true(json_object_get(j, "halted")))
        printf("This node STOPPED applying blocks: %s. It still serves reads (GET /v1/evidence says more).\n",
               cc_cli_jstr(j, "halt_reason", "no reason given"));
    if (json_is_true(json_object_get(j, "raft_rejoining")))
        printf(
            "This node is rejoining: its raft log started empty, and until it holds everything the network "
            "committed it votes only for candidates whose log does.\n");
    const json_t *clock = json_object_get(j, "clock");
    if (json_is_true(json_object_get(clock, "off"))) {
        int64_t skew = json_integer_value(json_object_get(clock, "skew_ms"));
        printf("This node's clock is %.1f s %s the other nodes': it will not lead (so that no block is dated "
               "wrong) until its time source is fixed.\n",
               (double)(skew < 0 ? -skew : skew) / 1000.0, skew < 0 ? "behind" : "ahead of");
    }
    const json_t *waiting = json_object_get(j, "restore_waiting");
    if (json_is_array(waiting)) {
        printf(
            "The network was restored from backups: this leader commits nothing until it has the heads of");
        for (size_t i = 0; i < json_array_size(waiting); i++)
            printf("%s %s", i ? "," : "", json_string_value(json_array_get(waiting, i)));
        printf(" (or config.json \"restore_without\" names the nodes lost for good).\n");
    }
    uint64_t missing = cc_cli_juint(j, "attachments_missing");
    if (missing)
        printf("%llu attachment(s) the ledger wants are missing here and no peer gave them.\n",
               (unsigned long long)missing);
}

int cc_cmd_status(int argc, char **argv)
{
    const cc_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const cc_cli_spec spec = {"status", NULL, "Show the node's chain, height and mempool.", opts, 0, 0, true,
                              true,     NULL};
    cc_cli_ctx ctx;
    json_t *j;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    rc = cc_cli_get_json(&ctx, "/v1/status", &j, NULL);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    char sc[CC_CLI_SHORT_BYTES], sh[CC_CLI_SHORT_BYTES], tm[40];
    json_t *node = json_object_get(j, "node");
    uint64_t height = cc_cli_juint(j, "height");
    const char *leader = cc_cli_jstr(j, "leader", "");
    printf("Node %s at %s is in %s mode (%s%s) on chain %s (id %s).\n", cc_cli_jstr(node, "name", "?"),
           ctx.node, cc_cli_jstr(j, "mode", "?"), leader[0] ? "leader " : "no leader known", leader,
           cc_cli_jstr(j, "chain_name", "?"), cc_cli_short(cc_cli_jstr(j, "chain_id", "?"), sc));
    if (height == 0)
        printf("No blocks yet: the chain holds only its genesis state.\n");
    else
        printf("Height %llu, head block %s made %s; %llu txs committed in all.\n", (unsigned long long)height,
               cc_cli_short(cc_cli_jstr(j, "head_hash", "?"), sh),
               cc_cli_time(cc_cli_juint(j, "head_time_ms"), tm),
               (unsigned long long)cc_cli_juint(j, "tx_total"));
    printf("%llu txs wait in the mempool.%s\n", (unsigned long long)cc_cli_juint(j, "mempool"),
           json_is_true(json_object_get(j, "store_full")) ? " The node's store is FULL: it refuses new txs."
                                                          : "");
    cc_cli_print_ruleset(json_object_get(j, "ruleset"));
    if (strcmp(cc_cli_jstr(j, "mode", ""), "raft") == 0) print_raft(j);
    json_decref(j);
    return CC_EXIT_OK;
}
