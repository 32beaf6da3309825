/*
 * cli/cmd_genesis.c — `carechain genesis check FILE [--key NODEKEY]`: read
 * a genesis.json the way a node will (docs/PROTOCOL.md "Genesis and chain
 * id") and say what it founds: the chain id every member must see, the
 * organisations, the nodes with their addresses, the founding identities.
 * A consortium writes its genesis by hand from the public ids its members
 * send (docs/OPERATIONS.md); each member checks it before starting a node,
 * and with --key learns which genesis node its key is.
 */
#include <string.h>

#include <sodium.h>

#include "carechain/os.h"
#include "cli/cli.h"

/* How many identities of g have role. */
static size_t with_role(const cc_genesis *g, const char *role)
{
    size_t n = 0;
    for (size_t i = 0; i < g->identity_count; i++) n += strcmp(g->identities[i].role, role) == 0;
    return n;
}

static json_t *as_json(const cc_genesis *g, const char *key_node)
{
    char hex[CC_HASH_HEX];
    json_t *orgs = json_array(), *nodes = json_array(), *roles = json_object();
    for (size_t i = 0; i < g->org_count; i++)
        json_array_append_new(orgs, json_pack("{s:s, s:s, s:s}", "id", g->orgs[i].id, "name", g->orgs[i].name,
                                              "kind", g->orgs[i].kind));
    for (size_t i = 0; i < g->node_count; i++)
        json_array_append_new(nodes,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", g->nodes[i].name, "id",
                                        cc_hex(g->nodes[i].pk, CC_PUBKEY_BYTES, hex), "org", g->nodes[i].org,
                                        "api", g->nodes[i].api, "raft", g->nodes[i].raft));
    for (size_t i = 0; i < g->identity_count; i++)
        json_object_set_new(roles, g->identities[i].role,
                            json_integer((json_int_t)with_role(g, g->identities[i].role)));
    return json_pack("{s:b, s:s, s:s, s:I, s:o, s:o, s:o, s:s?}", "valid", 1, "chain_id",
                     cc_hex(g->chain_id, CC_HASH_BYTES, hex), "chain_name", g->chain_name, "time_ms",
                     (json_int_t)g->time_ms, "organisations", orgs, "nodes", nodes, "identities", roles,
                     "key_node", key_node);
}

static void say(const cc_genesis *g, const char *file, const char *key_file, const char *key_node,
                const char *key_id)
{
    char hex[CC_HASH_HEX], tm[40];
    cc_hex(g->chain_id, CC_HASH_BYTES, hex);
    printf("%s is a valid carechain genesis for chain %s, made %s.\n", file, g->chain_name,
           cc_cli_time(g->time_ms, tm));
    printf("%zu organisation%s govern it (a change of nodes needs %zu of them):\n", g->org_count,
           g->org_count == 1 ? "" : "s", g->org_count / 2 + 1);
    for (size_t i = 0; i < g->org_count; i++)
        printf("  %s: %s (%s)\n", g->orgs[i].id, g->orgs[i].name, g->orgs[i].kind);
    if (g->node_count == 1)
        printf("1 node, so the network runs solo (one node cannot grow into several later):\n");
    else
        printf("%zu nodes, agreeing through raft (a checkpoint needs %zu of their signatures):\n",
               g->node_count, g->node_count / 2 + 1);
    for (size_t i = 0; i < g->node_count; i++) {
        char id[CC_HASH_HEX], sh[CC_CLI_SHORT_BYTES];
        cc_hex(g->nodes[i].pk, CC_PUBKEY_BYTES, id);
        printf("  %s of %s: key %s, API %s, raft %s\n", g->nodes[i].name, g->nodes[i].org,
               cc_cli_short(id, sh), g->nodes[i].api, g->nodes[i].raft);
    }
    printf("%zu founding identit%s:", g->identity_count, g->identity_count == 1 ? "y" : "ies");
    for (size_t i = 0; i < g->identity_count; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = strcmp(g->identities[j].role, g->identities[i].role) != 0;
        if (first)
            printf("%s %zu %s", i ? "," : "", with_role(g, g->identities[i].role), g->identities[i].role);
    }
    printf(".\n");
    if (key_file) {
        char sh[CC_CLI_SHORT_BYTES];
        if (key_node)
            printf("%s is the key of %s: a node started with it runs as %s.\n", key_file, key_node, key_node);
        else
            printf("%s (key %s) is none of these nodes: a node added later joins by governance "
                   "(carechain network propose-add).\n",
                   key_file, cc_cli_short(key_id, sh));
    }
    printf("Every member must hold these exact bytes: chain id (the file's SHA-256)\n%s\n", hex);
}

static int check(int argc, char **argv)
{
    const char *key_file = NULL;
    const cc_cli_opt opts[] = {
        {"key", "NODEKEY", "also say which genesis node this key file is", &key_file},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "genesis check",
        "FILE [--key NODEKEY]",
        "Check a genesis file the way a node reads it, and show what it founds.",
        opts,
        1,
        1,
        false,
        true,
        "Exit 0: the file is a valid genesis (its chain id is printed last); 1: it is not,\n"
        "and the message says why. Every node of a network must hold the same bytes:\n"
        "compare the chain id with the other members before starting a node.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    const char *file = ctx.pos[0];
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    cc_genesis g;
    if (cc_file_read(file, CC_GENESIS_MAX_BYTES, &buf, &len, &eb) != CC_OK) {
        fprintf(stderr, "carechain genesis check: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    if (cc_genesis_parse(buf, len, &g, &eb) != CC_OK) {
        free(buf);
        if (ctx.json) {
            json_t *j = json_pack("{s:b, s:s}", "valid", 0, "error", eb.msg);
            cc_cli_print_json(j);
            json_decref(j);
        } else {
            printf("%s is NOT a valid carechain genesis: %s\n", file, eb.msg);
        }
        return CC_EXIT_FAIL;
    }
    free(buf);
    const char *key_node = NULL;
    char key_id[CC_HASH_HEX] = "";
    if (key_file) {
        cc_key k;
        if (!cc_cli_key_load(ctx.cmd, key_file, &k, NULL)) {
            cc_genesis_free(&g);
            return CC_EXIT_FAIL;
        }
        sodium_memzero(k.sk, sizeof k.sk); /* only the public key is used */
        cc_hex(k.pk, CC_PUBKEY_BYTES, key_id);
        int i = cc_genesis_node_index(&g, k.pk);
        if (i >= 0) key_node = g.nodes[i].name;
    }
    if (ctx.json) {
        json_t *j = as_json(&g, key_node);
        if (key_file) json_object_set_new(j, "key_id", json_string(key_id));
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        say(&g, file, key_file, key_node, key_id);
    }
    cc_genesis_free(&g);
    return CC_EXIT_OK;
}

int cc_cmd_genesis(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"check", check, "check a genesis file and show what it founds"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("genesis", subs, argc, argv);
}
