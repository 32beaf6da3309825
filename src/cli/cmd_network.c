/*
 * cli/cmd_network.c — `carechain network propose-add|propose-remove|
 * propose-upgrade|approve|withdraw|members|proposals`: network governance.
 * An organisation admin proposes to add or remove a consensus node, or to
 * move the network to a later ruleset from a given height
 * (network.propose); admins of other organisations approve
 * (network.approve); once more than half of the organisations approved,
 * the change takes effect: the node set changes and the raft leader turns
 * it into a raft configuration change (docs/CONSENSUS.md "Membership"), or
 * blocks from the height on execute the new ruleset (docs/OPERATIONS.md
 * "Upgrading carechain"). The proposing organisation can withdraw an open proposal
 * (network.withdraw); one not approved within 30 days expires.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

#define PATH_BYTES 160

/* What a proposal proposes, as words after "to": "add node4", "remove
 * node4", "move the network to ruleset 3 from height 1200". */
static const char *proposal_what(const json_t *p, char *buf, size_t cap)
{
    char sh[CC_CLI_SHORT_BYTES];
    const char *action = cc_cli_jstr(p, "action", "?");
    const json_t *node = json_object_get(p, "node");
    if (strcmp(action, "upgrade") == 0)
        snprintf(buf, cap, "move the network to ruleset %llu from height %llu",
                 (unsigned long long)cc_cli_juint(p, "ruleset"), (unsigned long long)cc_cli_juint(p, "from"));
    else if (node)
        snprintf(buf, cap, "%s %s", action, cc_cli_jstr(node, "name", "?"));
    else if (json_is_string(json_object_get(p, "name")))
        snprintf(buf, cap, "%s %s (%s)", action, cc_cli_jstr(p, "name", "?"),
                 cc_cli_short(cc_cli_jstr(p, "id", "?"), sh));
    else
        snprintf(buf, cap, "%s node %s", action, cc_cli_short(cc_cli_jstr(p, "id", "?"), sh));
    return buf;
}

/* One sentence about a proposal record (GET /v1/network/proposals/{txid}). */
static void say_proposal(const json_t *p, const char *txid)
{
    char what[160];
    const char *status = cc_cli_jstr(p, "status", "?");
    size_t approvals = json_array_size(json_object_get(p, "approvals"));
    proposal_what(p, what, sizeof what);
    if (strcmp(status, "approved") == 0 && strcmp(cc_cli_jstr(p, "action", ""), "upgrade") == 0)
        printf(
            "The proposal to %s is approved (%zu organisations, at height %llu): blocks from height %llu on "
            "execute ruleset %llu.\n",
            what, approvals, (unsigned long long)cc_cli_juint(p, "approved_at"),
            (unsigned long long)cc_cli_juint(p, "from"), (unsigned long long)cc_cli_juint(p, "ruleset"));
    else if (strcmp(status, "approved") == 0)
        printf("The proposal to %s is approved (%zu organisations) and took effect at height %llu.\n", what,
               approvals, (unsigned long long)cc_cli_juint(p, "approved_at"));
    else if (strcmp(status, "withdrawn") == 0)
        printf("The proposal to %s was withdrawn at height %llu; it takes no more approvals.\n", what,
               (unsigned long long)cc_cli_juint(p, "withdrawn_at"));
    else if (strcmp(status, "expired") == 0)
        printf("The proposal to %s expired with %zu organisation approval%s (%s); propose it again.\n", what,
               approvals, approvals == 1 ? "" : "s",
               strcmp(cc_cli_jstr(p, "action", ""), "upgrade") == 0 ? "30 days passed, or its height came"
                                                                    : "30 days passed");
    else
        printf("The proposal to %s is %s with %zu organisation approval%s so far; more than half of the "
               "organisations must approve.\n",
               what, status, approvals, approvals == 1 ? "" : "s");
    printf("proposal %s\n", txid);
}

void cc_cli_print_ruleset(const json_t *rs)
{
    if (!json_is_object(rs)) return; /* an older node, or one whose state cannot be read */
    uint64_t active = cc_cli_juint(rs, "active"), supported = cc_cli_juint(rs, "supported");
    uint64_t next = cc_cli_juint(rs, "next"), from = cc_cli_juint(rs, "from");
    if (active > supported)
        printf(
            "The next block executes under ruleset %llu, which this node's build does NOT know (it knows 1 "
            "to %llu): the node applies no more blocks and takes no txs. Install a build that knows it and "
            "restart the node; it goes on from where it stopped.\n",
            (unsigned long long)active, (unsigned long long)supported);
    else
        printf("Blocks execute under ruleset %llu; this node's build knows rulesets 1 to %llu.\n",
               (unsigned long long)active, (unsigned long long)supported);
    if (!next) return;
    printf("The network moves to ruleset %llu at height %llu (approved by governance).",
           (unsigned long long)next, (unsigned long long)from);
    if (next > supported)
        printf(" This node's build does NOT know it: install a newer build before then, or the node stops at "
               "that height.");
    printf("\n");
}

/* Sign and send one governance tx (payload taken); when it committed, show
 * the proposal (propose: this tx's own id; approve: the proposal approved). */
static int send_governance(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type, json_t *payload,
                           const char *proposal)
{
    cc_cli_sent sent;
    char *text = cc_cli_json_text(payload);
    if (!text) return CC_EXIT_FAIL;
    int rc = cc_cli_send(ctx, w, type, text, NULL, 0, &sent);
    free(text);
    if (rc >= 0) return rc;
    if (ctx->json || !sent.committed || !cc_cli_sent_ok(&sent)) {
        rc = cc_cli_sent_report(ctx, &sent, type);
    } else {
        char path[PATH_BYTES];
        const char *id = proposal ? proposal : sent.txid;
        json_t *p = NULL;
        long status = 0;
        printf("Committed %s in block %llu.\n", type, (unsigned long long)sent.height);
        snprintf(path, sizeof path, "/v1/network/proposals/%s", id);
        rc = cc_cli_get_json(ctx, path, &p, &status);
        if (rc < 0) {
            say_proposal(p, id);
            json_decref(p);
            rc = CC_EXIT_OK;
        }
    }
    cc_cli_sent_free(&sent);
    return rc;
}

static int propose_add(int argc, char **argv)
{
    const char *name = NULL, *id = NULL, *keyfile = NULL, *org = NULL, *api = NULL, *raft = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an organisation admin (the proposer's organisation approves)",
         &w.key},
        {"name", "NAME", "the new node's name", &name},
        {"id", "HEX", "the new node's public key (hex)", &id},
        {"keyfile", "NODEKEY", "take the id from the node's key file instead", &keyfile},
        {"org", "ORG", "the organisation that runs the node", &org},
        {"api", "HOST:PORT", "the node's API address", &api},
        {"raft", "A.B.C.D:PORT", "the node's raft address, IPv4 (the others connect there)", &raft},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "network propose-add",
        "--key ADMINKEY --name N (--id HEX | --keyfile NODEKEY) --org ORG --api HOST:PORT --raft "
        "A.B.C.D:PORT",
        "Propose a new consensus node (a network.propose tx).",
        opts,
        0,
        0,
        true,
        true,
        "The proposer's organisation approves at once; admins of other organisations approve with\n"
        "`carechain network approve --proposal TXID` until more than half of the organisations have.\n"
        "Then start the node with a config.json that lists \"peers\" (docs/CONSENSUS.md).\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!name || !org || !api || !raft)
        return cc_cli_usage(ctx.cmd, "--name, --org, --api and --raft are needed");
    if (!id == !keyfile) return cc_cli_usage(ctx.cmd, "give exactly one of --id and --keyfile");
    if (id && !cc_cli_hex_ok(id, CC_PUBKEY_BYTES)) return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    if (!cc_api_addr_ok(api))
        return cc_cli_usage(ctx.cmd, "--api is HOST:PORT or https://HOST:PORT, the port 1..65535");
    if (!cc_raft_addr_ok(raft))
        return cc_cli_usage(ctx.cmd, "--raft is an IPv4 address and port, a.b.c.d:PORT: "
                                     "libraft dials IPv4 addresses only");

    char hex[CC_HASH_HEX];
    if (keyfile) {
        cc_key k;
        if (!cc_cli_key_load(ctx.cmd, keyfile, &k, NULL)) return CC_EXIT_FAIL;
        sodium_memzero(k.sk, sizeof k.sk); /* only the public key is used */
        id = cc_hex(k.pk, CC_PUBKEY_BYTES, hex);
    }
    json_t *p = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "action", "add", "node", "name", name, "id",
                          id, "org", org, "api", api, "raft", raft);
    return send_governance(&ctx, &w, "network.propose", p, NULL);
}

static int propose_upgrade(int argc, char **argv)
{
    const char *ruleset_s = NULL, *from_s = NULL;
    uint64_t ruleset, from;
    bool force = false;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an organisation admin", &w.key},
        {"ruleset", "N",
         "the ruleset to move to (later than the network's; the network's own calls off an "
         "upgrade still waiting)",
         &ruleset_s},
        {"from", "HEIGHT", "the first block to execute under it (ahead of the chain's height)", &from_s},
        {"force", NULL, "propose a ruleset this build does not know", &force},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "network propose-upgrade",
        "--key ADMINKEY --ruleset N --from HEIGHT",
        "Propose that blocks from HEIGHT on execute ruleset N (a network.propose tx).",
        opts,
        0,
        0,
        true,
        true,
        "Install a build that knows ruleset N on every node first: `carechain status` names the\n"
        "rulesets a node knows, and this command refuses one its own build does not know unless\n"
        "given --force. Once more than half of the organisations approved, blocks from HEIGHT on\n"
        "execute ruleset N; a node whose build does not know it stops applying blocks there. An\n"
        "approved upgrade replaces one still waiting for its height; the network's own ruleset\n"
        "calls that one off (docs/OPERATIONS.md \"Upgrading carechain\").\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!ruleset_s || !from_s) return cc_cli_usage(ctx.cmd, "--ruleset and --from are needed");
    if (!cc_cli_parse_u64(ruleset_s, false, &ruleset) || ruleset < 1 || ruleset > CC_RULESET_MAX)
        return cc_cli_usage(ctx.cmd, "--ruleset is a whole number from 1 to %d", CC_RULESET_MAX);
    if (!cc_cli_parse_u64(from_s, false, &from) || from < 2 || from > (1ULL << 53))
        return cc_cli_usage(ctx.cmd, "--from is a block height (2 or more)");
    if (ruleset > CC_RULESET_CURRENT && !force)
        return cc_cli_usage(ctx.cmd,
                            "this build knows rulesets 1 to %d, not %llu: every node that does not know it "
                            "stops at height %llu (install a build that knows it, or give --force)",
                            CC_RULESET_CURRENT, (unsigned long long)ruleset, (unsigned long long)from);
    if (ruleset > CC_RULESET_CURRENT)
        fprintf(stderr,
                "carechain %s: note: this build knows rulesets 1 to %d; every node must run a build that "
                "knows ruleset %llu before height %llu\n",
                ctx.cmd, CC_RULESET_CURRENT, (unsigned long long)ruleset, (unsigned long long)from);
    json_t *p = json_pack("{s:s, s:I, s:I}", "action", "upgrade", "ruleset", (json_int_t)ruleset, "from",
                          (json_int_t)from);
    return send_governance(&ctx, &w, "network.propose", p, NULL);
}

static int propose_remove(int argc, char **argv)
{
    const char *id = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", "key file of an organisation admin", &w.key},
        {"id", "HEX", "the node to remove (hex public key)", &id},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"network propose-remove",
                              "--key ADMINKEY --id HEX",
                              "Propose to remove a consensus node (a network.propose tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Once more than half of the organisations approved, the node leaves the raft\n"
                              "configuration and its node identity is revoked.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!id) return cc_cli_usage(ctx.cmd, "missing --id");
    if (!cc_cli_hex_ok(id, CC_PUBKEY_BYTES)) return cc_cli_usage(ctx.cmd, "--id must be 64 hex digits");
    json_t *p = json_pack("{s:s, s:s}", "action", "remove", "id", id);
    return send_governance(&ctx, &w, "network.propose", p, NULL);
}

/* `network approve` and `network withdraw`: a tx of type that names one
 * proposal. */
static int about_proposal(int argc, char **argv, const char *name, const char *type, const char *key_help,
                          const char *what)
{
    const char *proposal = NULL;
    cc_cli_write w = {0};
    const cc_cli_opt opts[] = {
        {"key", "ADMINKEY", key_help, &w.key},
        {"proposal", "TXID", "the proposal (the txid of its network.propose)", &proposal},
        CC_CLI_OPT_NO_WAIT(&w),
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {name, "--key ADMINKEY --proposal TXID", what, opts, 0, 0, true, true, NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!proposal) return cc_cli_usage(ctx.cmd, "missing --proposal");
    if (!cc_cli_hex_ok(proposal, CC_HASH_BYTES))
        return cc_cli_usage(ctx.cmd, "--proposal must be a txid (64 hex digits)");
    json_t *p = json_pack("{s:s}", "proposal", proposal);
    return send_governance(&ctx, &w, type, p, proposal);
}

static int approve(int argc, char **argv)
{
    return about_proposal(argc, argv, "network approve", "network.approve",
                          "key file of an admin of an organisation that has not approved yet",
                          "Approve a governance proposal for your organisation (a network.approve tx).");
}

static int withdraw(int argc, char **argv)
{
    return about_proposal(argc, argv, "network withdraw", "network.withdraw",
                          "key file of an admin of the organisation that made the proposal",
                          "Withdraw your organisation's open governance proposal (a network.withdraw tx).");
}

static int members(int argc, char **argv)
{
    const cc_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const cc_cli_spec spec = {"network members",
                              NULL,
                              "List the network's consensus nodes (GET /v1/network).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    json_t *j = NULL;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    rc = cc_cli_get_json(&ctx, "/v1/network", &j, NULL);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    const json_t *nodes = json_object_get(j, "nodes"), *n;
    size_t i;
    printf(
        "The network has %llu active node%s; %llu organisations govern it (a change needs more than half).\n",
        (unsigned long long)cc_cli_juint(j, "active"), cc_cli_juint(j, "active") == 1 ? "" : "s",
        (unsigned long long)cc_cli_juint(j, "organisations"));
    json_array_foreach(nodes, i, n)
    {
        char sh[CC_CLI_SHORT_BYTES];
        const char *status = cc_cli_jstr(n, "status", "?");
        const char *role = cc_cli_jstr(n, "raft_role", NULL);
        printf("%s (%s) of %s: API %s, raft %s, %s since height %llu", cc_cli_jstr(n, "name", "?"),
               cc_cli_short(cc_cli_jstr(n, "id", "?"), sh), cc_cli_jstr(n, "org", "?"),
               cc_cli_jstr(n, "api", "?"), cc_cli_jstr(n, "raft", "?"), status,
               (unsigned long long)cc_cli_juint(n, "since"));
        if (strcmp(status, "removed") == 0)
            printf(", removed at height %llu", (unsigned long long)cc_cli_juint(n, "removed_at"));
        if (json_object_get(n, "raft_role"))
            printf("; %s", role ? role : "not in this node's raft configuration");
        printf(".\n");
    }
    cc_cli_print_ruleset(json_object_get(j, "ruleset"));
    json_decref(j);
    return CC_EXIT_OK;
}

/* One proposal in a sentence: what, and how far it got. */
static void print_proposal(const json_t *p, json_int_t needed)
{
    char id_sh[CC_CLI_SHORT_BYTES], what[160];
    const char *action = cc_cli_jstr(p, "action", "?"), *status = cc_cli_jstr(p, "status", "?");
    const json_t *node = json_object_get(p, "node"), *approvals = json_object_get(p, "approvals"), *org;
    printf("%s: ", cc_cli_jstr(p, "txid", "?"));
    if (strcmp(action, "add") == 0)
        printf("add %s (%s) of %s, API %s, raft %s", cc_cli_jstr(node, "name", "?"),
               cc_cli_short(cc_cli_jstr(node, "id", "?"), id_sh), cc_cli_jstr(node, "org", "?"),
               cc_cli_jstr(node, "api", "?"), cc_cli_jstr(node, "raft", "?"));
    else
        printf("%s", proposal_what(p, what, sizeof what));
    printf("; proposed at height %llu, %s", (unsigned long long)cc_cli_juint(p, "height"), status);
    if (strcmp(status, "approved") == 0)
        printf(" at height %llu", (unsigned long long)cc_cli_juint(p, "approved_at"));
    else if (strcmp(status, "withdrawn") == 0)
        printf(" at height %llu", (unsigned long long)cc_cli_juint(p, "withdrawn_at"));
    else
        printf(" with %zu of the %lld approvals it needs", json_array_size(approvals), (long long)needed);
    size_t i;
    printf(" (");
    json_array_foreach(approvals, i, org)
    {
        printf("%s%s", i ? ", " : "", json_string_value(org));
    }
    printf(")");
    if (strcmp(status, "open") == 0 && json_is_integer(json_object_get(p, "expires_ms"))) {
        char tm[40];
        printf("; approvals until %s", cc_cli_time(cc_cli_juint(p, "expires_ms"), tm));
    }
    printf(".\n");
}

static int proposals(int argc, char **argv)
{
    bool all = false;
    const cc_cli_opt opts[] = {
        {"all", NULL, "also the approved, withdrawn and expired ones", &all},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"network proposals",
                              "[--all]",
                              "List the open governance proposals, newest first (GET /v1/network/proposals).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "An admin of an organisation that has not approved one yet approves it with\n"
                              "carechain network approve --key ADMINKEY --proposal TXID.\n"};
    cc_cli_ctx ctx;
    json_t *j = NULL;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    rc = cc_cli_get_json(&ctx, all ? "/v1/network/proposals" : "/v1/network/proposals?status=open", &j, NULL);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    const json_t *list = json_object_get(j, "proposals"), *p;
    json_int_t needed = json_integer_value(json_object_get(j, "needed"));
    size_t i, n = json_array_size(list);
    if (n == 0)
        printf("No %sproposals.\n", all ? "" : "open ");
    else
        printf("%zu %sproposal%s (a change needs %lld of %lld organisations):\n", n, all ? "" : "open ",
               n == 1 ? "" : "s", (long long)needed,
               (long long)json_integer_value(json_object_get(j, "organisations")));
    json_array_foreach(list, i, p)
    {
        print_proposal(p, needed);
    }
    if (json_is_true(json_object_get(j, "truncated")))
        printf("(The node's list was cut short: there are more proposals than these.)\n");
    json_decref(j);
    return CC_EXIT_OK;
}

int cc_cmd_network(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"propose-add", propose_add, "propose a new consensus node"},
        {"propose-remove", propose_remove, "propose to remove a consensus node"},
        {"propose-upgrade", propose_upgrade, "propose a later ruleset from a given height"},
        {"approve", approve, "approve a proposal for your organisation"},
        {"withdraw", withdraw, "withdraw your organisation's open proposal"},
        {"members", members, "list the consensus nodes"},
        {"proposals", proposals, "list the open governance proposals"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("network", subs, argc, argv);
}
