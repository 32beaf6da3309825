/*
 * cli/cmd_init.c — `carechain init`: a fresh network directory with the
 * genesis document, one directory and key per node, and the demo keyring
 * (founding admins in genesis; one key per other role, registered later).
 *
 * Layout written:
 *   D/.carechain-net            marker: demo may wipe and re-create D
 *   D/genesis.json
 *   D/nodeI/{genesis.json, node.key, config.json}
 *   D/keys/admin-<org>.key, D/keys/admin.key (= hospital), D/keys/<role>.key
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define API_PORT_BASE  7800
#define RAFT_PORT_BASE 7900
#define NODES_MAX      100
#define PATH_BYTES     4096

const cc_cli_org cc_cli_orgs[] = {
    {"hospital", "St Example Hospital", "hospital"},    {"payer", "Example Health Plan", "payer"},
    {"pharma", "Example Pharma", "manufacturer"},       {"distributor", "Example Wholesale", "distributor"},
    {"pharmacy", "Corner Pharmacy", "pharmacy"},        {"research", "Example Research Sponsor", "sponsor"},
    {"regulator", "Example Regulator", "regulator"},    {"clinic", "Riverside Clinic", "clinic"},
    {"drugstore", "Main Street Drugstore", "pharmacy"},
};
const size_t cc_cli_org_count = sizeof cc_cli_orgs / sizeof cc_cli_orgs[0];

const cc_cli_member cc_cli_members[] = {
    {"clinician", "hospital", "Dr Ada Example", NULL},
    {"patient", "hospital", "Demo patient", NULL},
    {"payer", "payer", "Claims officer", NULL},
    {"manufacturer", "pharma", "Batch release manager", NULL},
    {"distributor", "distributor", "Warehouse lead", NULL},
    {"pharmacy", "pharmacy", "Pharmacist", NULL},
    {"sponsor", "research", "Trial sponsor", NULL},
    {"researcher", "research", "Study researcher", NULL},
    {"regulator", "regulator", "Inspector", NULL},
    {"auditor", "regulator", "Auditor", NULL},
    /* a second pharmacy, where the supply chain demo's clone turns up */
    {"pharmacy", "drugstore", "Drugstore pharmacist", "pharmacy2"},
};
const size_t cc_cli_member_count = sizeof cc_cli_members / sizeof cc_cli_members[0];

const char *cc_cli_member_key(const cc_cli_member *m)
{
    return m->key ? m->key : m->role;
}

char *cc_cli_member_payload(const cc_key *k, const char *role, const char *name)
{
    char id[2 * CC_PUBKEY_BYTES + 1];
    cc_hex(k->pk, CC_PUBKEY_BYTES, id);
    json_t *p = json_pack("{s:s,s:s}", "id", id, "role", role);
    if (!p) return NULL;
    /* patients are pseudonymous: their payload never carries a name */
    if (name && strcmp(role, "patient") != 0) json_object_set_new(p, "name", json_string(name));
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    return s;
}

/* CC_OK when dir is absent or an empty directory. */
static cc_err check_empty(const char *dir, cc_errbuf *eb)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return CC_OK;
        return cc_errf(eb, CC_ERR_CONFLICT, "%s is not a usable directory: %s", dir, strerror(errno));
    }
    cc_err rc = CC_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        rc = cc_errf(eb, CC_ERR_CONFLICT, "%s is not empty; refusing to initialise a network there", dir);
        break;
    }
    closedir(d);
    return rc;
}

static cc_err save_key(const char *path, const cc_key *k, const char *name, const char *role, const char *org,
                       cc_errbuf *eb)
{
    json_t *extra = json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "org", org);
    if (!extra) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    cc_err rc = cc_key_save(path, k, extra, eb);
    json_decref(extra);
    return rc;
}

static cc_err write_json(const char *path, const json_t *j, unsigned mode, cc_errbuf *eb)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    size_t n = strlen(s);
    s[n] = '\n'; /* replace the NUL: write text with a final newline */
    cc_err rc = cc_file_write(path, s, n + 1, mode, eb);
    free(s);
    return rc;
}

static json_t *org_array(void)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < cc_cli_org_count; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "id", cc_cli_orgs[i].id, "name",
                                           cc_cli_orgs[i].name, "kind", cc_cli_orgs[i].kind));
    return a;
}

static void admin_name(const char *org, char *out, size_t n)
{
    snprintf(out, n, "%s admin", org);
    if (out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
}

cc_err cc_cli_net_init(const char *dir, unsigned nodes, const char *chain_name, cc_errbuf *eb)
{
    return cc_cli_net_init_ports(dir, nodes, chain_name, API_PORT_BASE, RAFT_PORT_BASE, eb);
}

cc_err cc_cli_net_init_ports(const char *dir, unsigned nodes, const char *chain_name, unsigned api_base,
                             unsigned raft_base, cc_errbuf *eb)
{
    cc_err rc;
    char path[PATH_BYTES], hex[2 * CC_PUBKEY_BYTES + 1], name[64], addr[64], raft[64];
    cc_key k;
    json_t *g = NULL, *jnodes = NULL, *ids = NULL;
    char *gtext = NULL;

    if (nodes < 1 || nodes > NODES_MAX) return cc_errf(eb, CC_ERR_USAGE, "--nodes must be 1..%d", NODES_MAX);
    if (api_base < 1 || api_base + nodes - 1 > 65535 || raft_base < 1 || raft_base + nodes - 1 > 65535)
        return cc_errf(eb, CC_ERR_USAGE, "the ports of %u nodes do not fit below 65536", nodes);
    rc = check_empty(dir, eb);
    if (rc != CC_OK) return rc;
    snprintf(path, sizeof path, "%s/keys", dir);
    rc = cc_mkdirs(path, eb);
    if (rc != CC_OK) return rc;
    snprintf(path, sizeof path, "%s/" CC_CLI_NET_MARKER, dir);
    static const char marker[] = "carechain network directory; `carechain demo` may wipe it\n";
    rc = cc_file_write(path, marker, sizeof marker - 1, 0644, eb);
    if (rc != CC_OK) return rc;

    jnodes = json_array();
    ids = json_array();
    if (!jnodes || !ids) goto err_nomem;

    /* founding admins, one per organisation */
    for (size_t i = 0; i < cc_cli_org_count; i++) {
        const char *org = cc_cli_orgs[i].id;
        admin_name(org, name, sizeof name);
        cc_key_generate(&k);
        snprintf(path, sizeof path, "%s/keys/admin-%s.key", dir, org);
        rc = save_key(path, &k, name, "admin", org, eb);
        if (rc == CC_OK && i == 0) {
            snprintf(path, sizeof path, "%s/keys/admin.key", dir);
            rc = save_key(path, &k, name, "admin", org, eb);
        }
        cc_hex(k.pk, CC_PUBKEY_BYTES, hex);
        cc_key_wipe(&k);
        if (rc != CC_OK) goto err;
        json_array_append_new(
            ids, json_pack("{s:s,s:s,s:s,s:s}", "id", hex, "role", "admin", "org", org, "name", name));
    }
    /* the rest of the keyring: registered by the demo, not in genesis */
    for (size_t i = 0; i < cc_cli_member_count; i++) {
        const cc_cli_member *m = &cc_cli_members[i];
        cc_key_generate(&k);
        snprintf(path, sizeof path, "%s/keys/%s.key", dir, cc_cli_member_key(m));
        rc = save_key(path, &k, m->name, m->role, m->org, eb);
        cc_key_wipe(&k);
        if (rc != CC_OK) goto err;
    }
    /* nodes, spread over the organisations in order */
    for (unsigned i = 1; i <= nodes; i++) {
        const char *org = cc_cli_orgs[(i - 1) % cc_cli_org_count].id;
        snprintf(name, sizeof name, "node%u", i);
        snprintf(addr, sizeof addr, "127.0.0.1:%u", api_base + i - 1);
        snprintf(raft, sizeof raft, "127.0.0.1:%u", raft_base + i - 1);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        rc = cc_mkdirs(path, eb);
        if (rc != CC_OK) goto err;
        cc_key_generate(&k);
        snprintf(path, sizeof path, "%s/%s/node.key", dir, name);
        rc = save_key(path, &k, name, "node", org, eb);
        cc_hex(k.pk, CC_PUBKEY_BYTES, hex);
        cc_key_wipe(&k);
        if (rc != CC_OK) goto err;
        json_t *cfg = json_pack("{s:s,s:s,s:s}", "name", name, "api", addr, "raft", raft);
        if (!cfg) goto err_nomem;
        snprintf(path, sizeof path, "%s/%s/config.json", dir, name);
        rc = write_json(path, cfg, 0644, eb);
        json_decref(cfg);
        if (rc != CC_OK) goto err;
        json_array_append_new(jnodes, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", name, "id", hex, "org", org,
                                                "api", addr, "raft", raft));
    }

    g = json_pack("{s:i,s:s,s:I,s:i,s:o,s:O,s:O}", "carechain_genesis", 1, "chain_name",
                  chain_name ? chain_name : "carechain-demo", "time_ms", (json_int_t)cc_now_ms(), "ruleset",
                  CC_RULESET_CURRENT, "organisations", org_array(), "nodes", jnodes, "identities", ids);
    if (!g) goto err_nomem;
    gtext = json_dumps(g, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!gtext) goto err_nomem;
    size_t glen = strlen(gtext);
    gtext[glen++] = '\n';
    /* the same bytes everywhere: the chain id is their hash */
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    rc = cc_file_write(path, gtext, glen, 0644, eb);
    for (unsigned i = 1; rc == CC_OK && i <= nodes; i++) {
        snprintf(path, sizeof path, "%s/node%u/genesis.json", dir, i);
        rc = cc_file_write(path, gtext, glen, 0644, eb);
    }
    if (rc == CC_OK) {
        /* parse it the way every node will, so a bad genesis fails here */
        cc_genesis parsed;
        rc = cc_genesis_parse((const uint8_t *)gtext, glen, &parsed, eb);
        if (rc == CC_OK) cc_genesis_free(&parsed);
    }
    goto out;

err_nomem:
    rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
err:
out:
    free(gtext);
    json_decref(g);
    json_decref(jnodes);
    json_decref(ids);
    return rc;
}

int cc_cmd_init(int argc, char **argv)
{
    const char *dir = NULL, *nodes_s = NULL, *chain = NULL;
    const cc_cli_opt opts[] = {
        {"dir", "DIR", "where to create the network (absent or empty)", &dir},
        {"nodes", "N", "number of nodes (default 1)", &nodes_s},
        {"chain-id", "NAME", "chain name in genesis (default carechain-demo)", &chain},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "init",
        "--dir D [--nodes N] [--chain-id NAME]",
        "Create a new network: genesis.json, a directory and key per node, and a demo keyring.",
        opts,
        0,
        0,
        false,
        true,
        "Node I gets API port 7800+I-1 and raft port 7900+I-1. D/keys holds one founding admin per\n"
        "organisation (in genesis; keys/admin.key is the hospital's) and one key per other role,\n"
        "which `carechain member register` (or the demo) adds to the chain.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir) return cc_cli_usage(ctx.cmd, "missing --dir");
    uint64_t nodes = 1;
    if (nodes_s && (!cc_cli_parse_u64(nodes_s, false, &nodes) || nodes < 1 || nodes > NODES_MAX))
        return cc_cli_usage(ctx.cmd, "--nodes must be a number from 1 to %d", NODES_MAX);
    if (chain && (!*chain || strlen(chain) >= 64))
        return cc_cli_usage(ctx.cmd, "--chain-id must be 1..63 bytes");

    cc_errbuf eb = {{0}};
    cc_err e = cc_cli_net_init(dir, (unsigned)nodes, chain, &eb);
    if (e != CC_OK) {
        fprintf(stderr, "carechain init: %s\n", eb.msg);
        return e == CC_ERR_CONFLICT || e == CC_ERR_USAGE ? CC_EXIT_USAGE : CC_EXIT_FAIL;
    }
    if (ctx.json) {
        json_t *j =
            json_pack("{s:s,s:I,s:s}", "dir", dir, "nodes", (json_int_t)nodes, "genesis", "genesis.json");
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        char range[32] = "node1";
        if (nodes > 1) snprintf(range, sizeof range, "node1..node%llu", (unsigned long long)nodes);
        printf("Created a %llu-node network in %s: genesis.json, %s and %zu demo keys in %s/keys.\n",
               (unsigned long long)nodes, dir, range, cc_cli_org_count + 1 + cc_cli_member_count, dir);
        printf("Start the first node with: carechain node --dir %s/node1\n", dir);
    }
    return CC_EXIT_OK;
}
