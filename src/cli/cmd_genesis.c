/*
 * cli/cmd_genesis.c — writing and checking the genesis of a consortium's
 * network (docs/OPERATIONS.md "Starting a network"):
 *
 *   genesis member   run by each organisation on the machine that holds its
 *                    keys: a member card (JSON, public keys only) naming the
 *                    organisation, its node and its founding admin;
 *   genesis new      run by whoever assembles the network: merges the cards
 *                    into genesis.json, refusing what a node would refuse and
 *                    what would leave the network unable to govern itself;
 *   genesis check    run by every member: reads a genesis the way a node will
 *                    (docs/PROTOCOL.md "Genesis and chain id") and says what it
 *                    founds, the chain id every member must see, and with
 *                    --key which genesis node that key is.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* An organisation without an admin could never vote, and a change of
 * nodes needs a majority of the organisations: refuse such a genesis. */
static const char *org_without_admin(const cc_genesis *g)
{
    for (size_t i = 0; i < g->org_count; i++) {
        bool admin = false;
        for (size_t j = 0; j < g->identity_count && !admin; j++)
            admin = strcmp(g->identities[j].org, g->orgs[i].id) == 0 &&
                    strcmp(g->identities[j].role, "admin") == 0;
        if (!admin) return g->orgs[i].id;
    }
    return NULL;
}

/* A node of a raft network (more than one node) whose raft address
 * libraft cannot dial, or NULL. The parser leaves addresses alone: a
 * node's own parse of its genesis is a rule of the chain. */
static const cc_genesis_node *raft_undialable(const cc_genesis *g)
{
    for (size_t i = 0; g->node_count > 1 && i < g->node_count; i++)
        if (!cc_raft_addr_ok(g->nodes[i].raft)) return &g->nodes[i];
    return NULL;
}

static void say(const cc_genesis *g, const char *file, const char *key_file, const char *key_node,
                const char *key_id, bool can_start)
{
    char hex[CC_HASH_HEX], tm[40];
    cc_hex(g->chain_id, CC_HASH_BYTES, hex);
    printf("%s is a %s carechain genesis for chain %s, made %s%s.\n", file,
           can_start ? "valid" : "well-formed", g->chain_name, cc_cli_time(g->time_ms, tm),
           can_start ? "" : ", but its network could never start (below)");
    printf("Its blocks execute under ruleset %u until governance moves the network to a later one.\n",
           g->ruleset);
    printf("%zu organisation%s govern it (a change of the nodes or the ruleset needs %zu of them):\n",
           g->org_count, g->org_count == 1 ? "" : "s", g->org_count / 2 + 1);
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
        "or a node's raft address is not IPv4 (a.b.c.d:PORT, all libraft can dial), and the\n"
        "message says why. Every node of a network must hold the same bytes:\n"
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
    const cc_genesis_node *undialable = raft_undialable(&g);
    const char *lacking = org_without_admin(&g); /* valid, but that organisation can never act */
    if (ctx.json) {
        json_t *j = as_json(&g, key_node);
        if (key_file) json_object_set_new(j, "key_id", json_string(key_id));
        if (lacking) json_object_set_new(j, "org_without_admin", json_string(lacking));
        if (undialable) {
            json_object_set_new(j, "valid", json_false());
            json_object_set_new(j, "error",
                                json_sprintf("node %s: raft address %s is not IPv4 a.b.c.d:PORT",
                                             undialable->name, undialable->raft));
        }
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        say(&g, file, key_file, key_node, key_id, !undialable);
        if (lacking)
            printf("Note: organisation %s has no founding admin. Only an organisation's admins register\n"
                   "its people, so it can never act or vote, and a change of nodes still needs %zu of the\n"
                   "%zu organisations.\n",
                   lacking, g.org_count / 2 + 1, g.org_count);
        if (undialable)
            printf("But this network could never start: node %s's raft address %s is not an IPv4 address\n"
                   "and port (a.b.c.d:PORT), and libraft dials IPv4 addresses only.\n",
                   undialable->name, undialable->raft);
    }
    cc_genesis_free(&g);
    return undialable ? CC_EXIT_FAIL : CC_EXIT_OK;
}

/* ---- genesis member ---------------------------------------------------------- */

#define CARD_VERSION   1
#define CARD_MAX_BYTES (64 * 1024)

/* The bytes a genesis field holds, its NUL included (cc_genesis_*). */
#define FIELD_CAP(type, field) sizeof(((type *)0)->field)

/* Text that jansson takes: valid UTF-8 without NUL. */
static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* An organisation id or node name: 1..cap-1 of [A-Za-z0-9._-]. They appear
 * in URLs, log lines and directory names. */
static bool token_ok(const char *s, size_t cap)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= cap) return false;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
            !strchr("._-", s[i]))
            return false;
    return true;
}

/* The public id of key file path, made for role (and org when the file
 * names one): refuses a key made for something else, so an admin key does
 * not end up as a node's. Only the public key is kept. */
static bool card_key(const char *cmd, const char *path, const char *role, const char *org,
                     char id[CC_HASH_HEX])
{
    cc_key k;
    json_t *extra = NULL;
    if (!cc_cli_key_load(cmd, path, &k, &extra)) return false;
    sodium_memzero(k.sk, sizeof k.sk);
    const char *made_for = cc_cli_jstr(extra, "role", NULL), *made_org = cc_cli_jstr(extra, "org", NULL);
    bool ok = true;
    if (made_for && strcmp(made_for, role) != 0) {
        fprintf(stderr, "carechain %s: %s was made for role %s, not %s\n", cmd, path, made_for, role);
        ok = false;
    } else if (made_org && strcmp(made_org, org) != 0) {
        fprintf(stderr, "carechain %s: %s was made for organisation %s, not %s\n", cmd, path, made_org, org);
        ok = false;
    }
    json_decref(extra);
    cc_hex(k.pk, CC_PUBKEY_BYTES, id);
    return ok;
}

static int member(int argc, char **argv)
{
    const char *org = NULL, *org_name = NULL, *kind = NULL, *node_key = NULL, *node_name = NULL, *api = NULL,
               *raft = NULL, *admin_key = NULL, *admin_name = NULL, *out = NULL;
    const cc_cli_opt opts[] = {
        {"org", "ID", "the organisation's id: letters, digits, . _ - (required)", &org},
        {"org-name", "NAME", "its full name (required)", &org_name},
        {"kind", "KIND", "hospital, payer, manufacturer, pharmacy, ... (required)", &kind},
        {"node-key", "FILE", "the key file of its node (carechain keygen --role node)", &node_key},
        {"node-name", "NAME", "the node's name (default ORG-node)", &node_name},
        {"api", "HOST:PORT", "where the others reach the node's API (https://HOST:PORT if it serves HTTPS)",
         &api},
        {"raft", "A.B.C.D:PORT", "where the other nodes reach its raft port (IPv4)", &raft},
        {"admin-key", "FILE", "the key file of its founding admin (--role admin)", &admin_key},
        {"admin-name", "NAME", "the admin's display name (default: ORG-NAME admin)", &admin_name},
        {"out", "FILE", "write the card here (must not exist; default: stdout)", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "genesis member",
        "--org ID --org-name NAME --kind KIND [--node-key FILE --api HOST:PORT --raft A.B.C.D:PORT]\n"
        "       [--admin-key FILE]",
        "Describe this organisation for a new network's genesis: a member card.",
        opts,
        0,
        0,
        false,
        false,
        "Run it where the keys are. The card holds public keys only: send it to whoever\n"
        "assembles the genesis (carechain genesis new). Give each organisation an admin:\n"
        "admins register everyone else and vote on changes to the nodes. An organisation\n"
        "with a second node sends a second card with the same --org, --org-name and --kind.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!org || !org_name || !kind) return cc_cli_usage(ctx.cmd, "--org, --org-name and --kind are required");
    if (!token_ok(org, FIELD_CAP(cc_genesis_org, id)))
        return cc_cli_usage(ctx.cmd, "--org '%s': use letters, digits, '.', '_' and '-' (at most 63)", org);
    if (strlen(org_name) >= FIELD_CAP(cc_genesis_org, name) || !*org_name || !utf8_ok(org_name))
        return cc_cli_usage(ctx.cmd, "--org-name must be 1 to 127 bytes of UTF-8");
    if (!token_ok(kind, FIELD_CAP(cc_genesis_org, kind)))
        return cc_cli_usage(ctx.cmd, "--kind '%s': one word such as hospital or payer (at most 31)", kind);
    if (!node_key && !admin_key) return cc_cli_usage(ctx.cmd, "give --node-key, --admin-key or both");
    if (!node_key && (node_name || api || raft))
        return cc_cli_usage(ctx.cmd, "--node-name, --api and --raft describe the node of --node-key");
    if (!admin_key && admin_name) return cc_cli_usage(ctx.cmd, "--admin-name names the admin of --admin-key");
    if (node_key && (!api || !raft)) return cc_cli_usage(ctx.cmd, "a node needs --api and --raft");
    if (node_key && !cc_api_addr_ok(api))
        return cc_cli_usage(ctx.cmd, "--api is HOST:PORT or https://HOST:PORT, the port 1..65535");
    if (node_key && !cc_raft_addr_ok(raft))
        return cc_cli_usage(ctx.cmd, "--raft is an IPv4 address and port, a.b.c.d:PORT: "
                                     "libraft dials IPv4 addresses only");
    char default_node[FIELD_CAP(cc_genesis_node, name)];
    snprintf(default_node, sizeof default_node, "%.58s-node", org);
    if (!node_name) node_name = default_node;
    if (!token_ok(node_name, FIELD_CAP(cc_genesis_node, name)))
        return cc_cli_usage(ctx.cmd, "--node-name '%s': use letters, digits, '.', '_' and '-' (at most 63)",
                            node_name);
    char default_admin[FIELD_CAP(cc_genesis_identity, name)];
    bool fits = strlen(org_name) + strlen(" admin") < sizeof default_admin;
    snprintf(default_admin, sizeof default_admin, "%s admin",
             fits ? org_name : org); /* never cut a character */
    if (!admin_name) admin_name = default_admin;
    if (strlen(admin_name) >= FIELD_CAP(cc_genesis_identity, name) || !utf8_ok(admin_name))
        return cc_cli_usage(ctx.cmd, "--admin-name is at most 63 bytes of UTF-8");
    if (out && access(out, F_OK) == 0)
        return cc_cli_usage(ctx.cmd, "%s exists; refusing to overwrite it", out);

    char node_id[CC_HASH_HEX], admin_id[CC_HASH_HEX];
    if ((node_key && !card_key(ctx.cmd, node_key, "node", org, node_id)) ||
        (admin_key && !card_key(ctx.cmd, admin_key, "admin", org, admin_id)))
        return CC_EXIT_FAIL;
    if (node_key && admin_key && strcmp(node_id, admin_id) == 0) {
        fprintf(stderr, "carechain %s: the node and the admin need keys of their own\n", ctx.cmd);
        return CC_EXIT_FAIL;
    }
    json_t *nodes = json_array(), *ids = json_array();
    if (node_key)
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s}", "name", node_name, "id", node_id,
                                               "api", api, "raft", raft));
    if (admin_key)
        json_array_append_new(
            ids, json_pack("{s:s, s:s, s:s}", "id", admin_id, "role", "admin", "name", admin_name));
    json_t *card =
        json_pack("{s:i, s:{s:s, s:s, s:s}, s:o, s:o}", "carechain_member", CARD_VERSION, "organisation",
                  "id", org, "name", org_name, "kind", kind, "nodes", nodes, "identities", ids);
    char *text = card ? json_dumps(card, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(card);
    if (!text) {
        fprintf(stderr, "carechain %s: out of memory\n", ctx.cmd);
        return CC_EXIT_FAIL;
    }
    rc = CC_EXIT_OK;
    if (!out) {
        printf("%s\n", text);
    } else {
        cc_errbuf eb = {{0}};
        size_t len = strlen(text);
        text[len] = '\n'; /* json_dumps left room for its NUL */
        if (cc_file_write(out, text, len + 1, 0644, &eb) != CC_OK) {
            fprintf(stderr, "carechain %s: %s\n", ctx.cmd, eb.msg);
            rc = CC_EXIT_FAIL;
        } else {
            printf("Wrote the member card of %s to %s: %s%s%s. It holds public keys only;\n"
                   "send it to whoever assembles the genesis (carechain genesis new).\n",
                   org, out, node_key ? "its node " : "", node_key ? node_name : "",
                   admin_key ? (node_key ? " and its admin" : "its admin") : "");
        }
    }
    free(text);
    return rc;
}

/* ---- genesis new --------------------------------------------------------------- */

/* The entry of list whose field is value, or NULL. */
static json_t *entry_with(const json_t *list, const char *field, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (strcmp(cc_cli_jstr(e, field, ""), value) == 0) return e;
    }
    return NULL;
}

/* Read member card path and merge it into the genesis being built (orgs,
 * nodes, ids). The same organisation may send several cards (one per
 * node); they must describe it alike. */
static bool merge_card(const char *cmd, const char *path, json_t *orgs, json_t *nodes, json_t *ids)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cc_errbuf eb = {{0}};
    json_error_t jerr;
    if (cc_file_read(path, CARD_MAX_BYTES, &buf, &len, &eb) != CC_OK) {
        fprintf(stderr, "carechain %s: %s\n", cmd, eb.msg);
        return false;
    }
    json_t *card = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    const json_t *o = json_object_get(card, "organisation"), *cn = json_object_get(card, "nodes"),
                 *ci = json_object_get(card, "identities");
    const char *org = cc_cli_jstr(o, "id", NULL), *name = cc_cli_jstr(o, "name", NULL),
               *kind = cc_cli_jstr(o, "kind", NULL);
    const char *why = NULL;
    if (!card)
        why = jerr.text;
    else if (json_integer_value(json_object_get(card, "carechain_member")) != CARD_VERSION)
        why = "not a carechain member card (\"carechain_member\": 1)";
    else if (!token_ok(org, FIELD_CAP(cc_genesis_org, id)) || !name || !*name ||
             strlen(name) >= FIELD_CAP(cc_genesis_org, name) ||
             !token_ok(kind, FIELD_CAP(cc_genesis_org, kind)))
        why = "its organisation needs an id (letters, digits, . _ -), a name and a kind";
    else if (!json_is_array(cn) || !json_is_array(ci) || json_array_size(cn) + json_array_size(ci) == 0)
        why = "it names no node and no identity";
    if (why) {
        fprintf(stderr, "carechain %s: %s: %s\n", cmd, path, why);
        json_decref(card);
        return false;
    }
    size_t i;
    json_t *e, *have = entry_with(orgs, "id", org);
    if (have && (strcmp(cc_cli_jstr(have, "name", ""), name) != 0 ||
                 strcmp(cc_cli_jstr(have, "kind", ""), kind) != 0)) {
        fprintf(stderr,
                "carechain %s: %s describes organisation %s otherwise than an earlier card (%s, %s)\n", cmd,
                path, org, cc_cli_jstr(have, "name", ""), cc_cli_jstr(have, "kind", ""));
        json_decref(card);
        return false;
    }
    if (!have)
        json_array_append_new(orgs, json_pack("{s:s, s:s, s:s}", "id", org, "name", name, "kind", kind));
    bool ok = true;
    json_array_foreach(cn, i, e)
    {
        const char *n = cc_cli_jstr(e, "name", NULL), *id = cc_cli_jstr(e, "id", NULL),
                   *api = cc_cli_jstr(e, "api", NULL), *raft = cc_cli_jstr(e, "raft", NULL);
        if (!token_ok(n, FIELD_CAP(cc_genesis_node, name)) || !id || !cc_cli_hex_ok(id, CC_PUBKEY_BYTES) ||
            !cc_api_addr_ok(api) || !cc_raft_addr_ok(raft)) {
            fprintf(stderr,
                    "carechain %s: %s: node %zu needs a name, a 64-digit hex id, api as HOST:PORT and raft "
                    "as a.b.c.d:PORT (IPv4)\n",
                    cmd, path, i + 1);
            ok = false;
            break;
        }
        if (entry_with(nodes, "name", n)) {
            fprintf(stderr, "carechain %s: %s: another card already names a node %s\n", cmd, path, n);
            ok = false;
            break;
        }
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", n, "id", id, "org", org,
                                               "api", api, "raft", raft));
    }
    json_array_foreach(ci, i, e)
    {
        const char *id = cc_cli_jstr(e, "id", NULL), *role = cc_cli_jstr(e, "role", NULL),
                   *n = cc_cli_jstr(e, "name", "");
        if (!ok) break; /* a node was refused */
        if (!id || !cc_cli_hex_ok(id, CC_PUBKEY_BYTES) || !role ||
            strlen(n) >= FIELD_CAP(cc_genesis_identity, name)) {
            fprintf(stderr,
                    "carechain %s: %s: identity %zu needs a 64-digit hex id, a role and a short name\n", cmd,
                    path, i + 1);
            ok = false;
            break;
        }
        json_array_append_new(
            ids, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "role", role, "org", org, "name", n));
    }
    json_decref(card);
    return ok;
}

static int new_genesis(int argc, char **argv)
{
    const char *chain_name = NULL, *out = NULL;
    const cc_cli_opt opts[] = {
        {"chain-name", "NAME", "the network's name, e.g. riverside-health (required)", &chain_name},
        {"out", "FILE", "where to write the genesis (must not exist; required)", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "genesis new",
        "--chain-name NAME --out FILE CARD...",
        "Write a new network's genesis.json from its members' cards (carechain genesis member).",
        opts,
        1,
        CC_CLI_POS_MAX,
        false,
        true,
        "Organisations, nodes and founding identities follow the order of the cards. The\n"
        "file is checked the way a node reads it; every organisation needs an admin, and\n"
        "node names and keys must be unique. Send the file to every member unchanged: the\n"
        "chain id is its SHA-256, and each member checks it with carechain genesis check.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!chain_name || !out) return cc_cli_usage(ctx.cmd, "--chain-name and --out are required");
    if (!*chain_name || strlen(chain_name) >= FIELD_CAP(cc_genesis, chain_name))
        return cc_cli_usage(ctx.cmd, "--chain-name must be 1 to 63 bytes");
    if (access(out, F_OK) == 0) return cc_cli_usage(ctx.cmd, "%s exists; refusing to overwrite it", out);

    json_t *orgs = json_array(), *nodes = json_array(), *ids = json_array(), *doc = NULL;
    char *text = NULL;
    cc_genesis g;
    bool parsed = false;
    cc_errbuf eb = {{0}};
    rc = CC_EXIT_FAIL;
    for (unsigned i = 0; i < ctx.pos_count; i++)
        if (!merge_card(ctx.cmd, ctx.pos[i], orgs, nodes, ids)) goto done;
    if (json_array_size(nodes) == 0) {
        fprintf(stderr, "carechain %s: no card names a node; a network needs at least one\n", ctx.cmd);
        goto done;
    }
    doc = json_pack("{s:i, s:s, s:I, s:i, s:O, s:O, s:O}", "carechain_genesis", 1, "chain_name", chain_name,
                    "time_ms", (json_int_t)cc_now_ms(), "ruleset", CC_RULESET_CURRENT, "organisations", orgs,
                    "nodes", nodes, "identities", ids);
    text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!text) {
        fprintf(stderr, "carechain %s: out of memory\n", ctx.cmd);
        goto done;
    }
    size_t len = strlen(text);
    text[len++] = '\n';
    /* what a node will make of it: the same parser, and the same bytes */
    if (cc_genesis_parse((const uint8_t *)text, len, &g, &eb) != CC_OK) {
        fprintf(stderr, "carechain %s: the cards do not make a valid genesis: %s\n", ctx.cmd, eb.msg);
        goto done;
    }
    parsed = true;
    const char *lacking = org_without_admin(&g);
    if (lacking) {
        fprintf(stderr,
                "carechain %s: organisation %s has no admin in any card; it could never vote on a change "
                "of nodes (add --admin-key to its card)\n",
                ctx.cmd, lacking);
        goto done;
    }
    if (cc_file_write(out, text, len, 0644, &eb) != CC_OK) {
        fprintf(stderr, "carechain %s: %s\n", ctx.cmd, eb.msg);
        goto done;
    }
    if (ctx.json) {
        json_t *j = as_json(&g, NULL);
        json_object_set_new(j, "file", json_string(out));
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        say(&g, out, NULL, NULL, NULL, true); /* new refuses a raft address libraft cannot dial */
        if (g.node_count == 2)
            printf(
                "Note: with 2 nodes both must be up to commit anything, and neither can ever be removed.\n");
        printf("Send %s unchanged to every member; each checks it with\n"
               "carechain genesis check %s --key node.key\n",
               out, out);
    }
    rc = CC_EXIT_OK;
done:
    if (parsed) cc_genesis_free(&g);
    free(text);
    json_decref(doc);
    json_decref(orgs);
    json_decref(nodes);
    json_decref(ids);
    return rc;
}

int cc_cmd_genesis(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"member", member, "describe this organisation for a new network (a member card)"},
        {"new", new_genesis, "write a new network's genesis.json from its members' cards"},
        {"check", check, "check a genesis file and show what it founds"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("genesis", subs, argc, argv);
}
