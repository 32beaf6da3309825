/*
 * ct_net.c — a carechain network directory of one or more nodes made without the CLI
 * (deterministic keys, genesis.json, node.key, config.json) and signed test
 * txs built with cc_tx_create.
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "carechain/os.h"

#define GENESIS_TIME_MS 1764000000000ull

static uint64_t nonce_counter = 1;

void ct_key(const char *label, cc_key *k)
{
    char *s = ct_strf("carechain-test/%s", label);
    uint8_t seed[CC_SEED_BYTES];
    cc_sha256((const uint8_t *)s, strlen(s), seed);
    free(s);
    cc_key_from_seed(seed, k);
}

char *ct_pk_hex(const cc_key *k, char out[CC_HASH_HEX])
{
    return cc_hex(k->pk, CC_PUBKEY_BYTES, out);
}

char *ct_txid_hex(const cc_tx *tx, char out[CC_HASH_HEX])
{
    return cc_hex(tx->txid, CC_HASH_BYTES, out);
}

int ct_net_create(ct_net *net, const char *tag)
{
    return ct_net_create_nodes(net, tag, 1);
}

/* Write nodeI's directory: genesis.json (the network's bytes), node.key,
 * config.json. */
/* Node i's copy of the genesis, and config as its config.json. 0 on success. */
static int write_node_config(const ct_net *net, unsigned i, const char *config)
{
    char *gpath = ct_strf("%s/genesis.json", net->node_dirs[i]),
         *cpath = ct_strf("%s/config.json", net->node_dirs[i]);
    int rc =
        ct_write_file(gpath, net->genesis, net->genesis_len) | ct_write_file(cpath, config, strlen(config));
    free(gpath);
    free(cpath);
    return rc != 0 ? -1 : 0;
}

static int write_node_dir(const ct_net *net, unsigned i)
{
    char *key_path = ct_strf("%s/node.key", net->node_dirs[i]);
    char *config = ct_strf("{\"name\":\"node%u\",\"api\":\"127.0.0.1:%d\",\"raft\":\"127.0.0.1:%d\"}\n",
                           i + 1, net->api_ports[i], net->raft_ports[i]);
    int rc = write_node_config(net, i, config);
    if (rc == 0) rc = ct_key_save(key_path, &net->node_keys[i]);
    free(key_path);
    free(config);
    return rc;
}

int ct_net_use_https(ct_net *net, const char *cert, const char *key, const char *ca, const char *client_ca)
{
    /* every "api":"127.0.0.1:... of the genesis gets the scheme */
    static const char from[] = "\"api\":\"127.0.0.1:", to[] = "\"api\":\"https://127.0.0.1:";
    size_t n = 0, cap = net->genesis_len + net->node_count * (sizeof to - sizeof from) + 1;
    char *g = calloc(1, cap);
    const char *p = (const char *)net->genesis, *end = p + net->genesis_len, *hit;
    if (!g) return -1;
    while ((hit = strstr(p, from)) && hit < end) {
        memcpy(g + n, p, (size_t)(hit - p));
        n += (size_t)(hit - p);
        memcpy(g + n, to, sizeof to - 1);
        n += sizeof to - 1;
        p = hit + sizeof from - 1;
    }
    memcpy(g + n, p, (size_t)(end - p));
    n += (size_t)(end - p);
    free(net->genesis);
    net->genesis = (uint8_t *)g;
    net->genesis_len = n;
    cc_sha256(net->genesis, net->genesis_len, net->chain_id);
    snprintf(net->url, sizeof net->url, "https://127.0.0.1:%d", net->api_port);
    if (ct_write_file(net->genesis_path, net->genesis, net->genesis_len) != 0) return -1;
    for (unsigned i = 0; i < net->node_count; i++) {
        char *client = client_ca ? ct_strf(",\"tls_client_ca\":\"%s\"", client_ca) : ct_strf("%s", "");
        char *config = ct_strf("{\"name\":\"node%u\",\"api\":\"127.0.0.1:%d\",\"raft\":\"127.0.0.1:%d\","
                               "\"tls_cert\":\"%s\",\"tls_key\":\"%s\",\"tls_ca\":\"%s\"%s}\n",
                               i + 1, net->api_ports[i], net->raft_ports[i], cert, key, ca, client);
        free(client);
        int rc = write_node_config(net, i, config);
        free(config);
        if (rc != 0) return -1;
    }
    return 0;
}

/* s with its one occurrence of from replaced by to (caller frees), or NULL
 * when from is not in s exactly once. */
static char *replace_once(const char *s, const char *from, const char *to)
{
    const char *hit = strstr(s, from);
    if (!hit || strstr(hit + 1, from)) return NULL;
    return ct_strf("%.*s%s%s", (int)(hit - s), s, to, hit + strlen(from));
}

int ct_net_use_hosts(ct_net *net, const char (*hosts)[16])
{
    char *g = ct_strf("%.*s", (int)net->genesis_len, (const char *)net->genesis);
    for (unsigned i = 0; i < net->node_count && g; i++) {
        char *from = ct_strf("\"api\":\"127.0.0.1:%d\",\"raft\":\"127.0.0.1:%d\"", net->api_ports[i],
                             net->raft_ports[i]);
        char *to = ct_strf("\"api\":\"%s:%d\",\"raft\":\"%s:%d\"", hosts[i], net->api_ports[i], hosts[i],
                           net->raft_ports[i]);
        char *next = replace_once(g, from, to);
        free(g);
        free(from);
        free(to);
        g = next;
    }
    if (!g) return -1;
    free(net->genesis);
    net->genesis = (uint8_t *)g;
    net->genesis_len = strlen(g);
    cc_sha256(net->genesis, net->genesis_len, net->chain_id);
    snprintf(net->url, sizeof net->url, "http://%s:%d", hosts[0], net->api_port);
    if (ct_write_file(net->genesis_path, net->genesis, net->genesis_len) != 0) return -1;
    for (unsigned i = 0; i < net->node_count; i++) {
        char *config = ct_strf("{\"name\":\"node%u\",\"api\":\"%s:%d\",\"raft\":\"%s:%d\"}\n", i + 1,
                               hosts[i], net->api_ports[i], hosts[i], net->raft_ports[i]);
        int rc = write_node_config(net, i, config);
        free(config);
        if (rc != 0) return -1;
    }
    return 0;
}

int ct_net_create_nodes(ct_net *net, const char *tag, unsigned nodes)
{
    memset(net, 0, sizeof *net);
    if (nodes < 1 || nodes > CT_NET_NODES_MAX) return -1;
    net->dir = ct_tmpdir(tag);
    if (!net->dir) return -1;
    net->genesis_path = ct_strf("%s/genesis.json", net->dir);
    ct_key("hospital-admin", &net->admin);
    ct_key("payer-admin", &net->payer_admin);

    size_t cap = 256 * nodes, len = 0;
    char *jnodes = calloc(1, cap);
    if (!jnodes) return -1;
    net->node_count = nodes;
    for (unsigned i = 0; i < nodes; i++) {
        char label[16], hex[CC_HASH_HEX];
        snprintf(label, sizeof label, "node%u", i + 1);
        net->node_dirs[i] = ct_strf("%s/node%u", net->dir, i + 1);
        if (mkdir(net->node_dirs[i], 0700) != 0) return -1;
        ct_key(label, &net->node_keys[i]);
        net->api_ports[i] = ct_free_port();
        net->raft_ports[i] = ct_free_port();
        if (net->api_ports[i] <= 0 || net->raft_ports[i] <= 0) return -1;
        len += (size_t)snprintf(jnodes + len, cap - len,
                                "%s{\"name\":\"node%u\",\"id\":\"%s\",\"org\":\"hospital\","
                                "\"api\":\"127.0.0.1:%d\",\"raft\":\"127.0.0.1:%d\"}",
                                i ? "," : "", i + 1, ct_pk_hex(&net->node_keys[i], hex), net->api_ports[i],
                                net->raft_ports[i]);
    }
    net->node_dir = strdup(net->node_dirs[0]);
    net->node_key = net->node_keys[0];
    net->api_port = net->api_ports[0];
    net->raft_port = net->raft_ports[0];
    snprintf(net->url, sizeof net->url, "http://127.0.0.1:%d", net->api_port);

    char admin_hex[CC_HASH_HEX], payer_hex[CC_HASH_HEX];
    ct_pk_hex(&net->admin, admin_hex);
    ct_pk_hex(&net->payer_admin, payer_hex);
    char *genesis =
        ct_strf("{\"carechain_genesis\":1,\"chain_name\":\"test\",\"time_ms\":%llu,\"ruleset\":2,"
                "\"organisations\":["
                "{\"id\":\"hospital\",\"name\":\"St Example Hospital\",\"kind\":\"hospital\"},"
                "{\"id\":\"payer\",\"name\":\"Example Health Plan\",\"kind\":\"payer\"}],"
                "\"nodes\":[%s],"
                "\"identities\":["
                "{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"hospital\",\"name\":\"Hospital admin\"},"
                "{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"payer\",\"name\":\"Payer admin\"}]}\n",
                (unsigned long long)GENESIS_TIME_MS, jnodes, admin_hex, payer_hex);
    free(jnodes);
    net->genesis = (uint8_t *)genesis;
    net->genesis_len = strlen(genesis);
    cc_sha256(net->genesis, net->genesis_len, net->chain_id);

    cc_genesis g;
    cc_errbuf eb = {{0}};
    memset(&g, 0, sizeof g);
    if (cc_genesis_parse(net->genesis, net->genesis_len, &g, &eb) != CC_OK) {
        fprintf(stderr, "test genesis does not parse: %s\n", eb.msg);
        return -1;
    }
    bool same_id = memcmp(g.chain_id, net->chain_id, CC_HASH_BYTES) == 0;
    cc_genesis_free(&g);
    if (!same_id) {
        fprintf(stderr, "cc_genesis_parse chain id is not SHA-256 of the file\n");
        return -1;
    }

    if (ct_write_file(net->genesis_path, net->genesis, net->genesis_len) != 0) return -1;
    for (unsigned i = 0; i < nodes; i++)
        if (write_node_dir(net, i) != 0) return -1;
    return 0;
}

int ct_node_config_set(const char *node_dir, const char *key, json_t *value)
{
    char *path = ct_strf("%s/config.json", node_dir);
    json_t *cfg = json_load_file(path, 0, NULL);
    int rc = -1;
    if (cfg && json_object_set_new(cfg, key, value) == 0) {
        value = NULL; /* the object has it */
        rc = json_dump_file(cfg, path, JSON_COMPACT);
    }
    json_decref(value);
    json_decref(cfg);
    free(path);
    return rc;
}

int ct_node_config_snapshots(const char *node_dir, int threshold, int trailing)
{
    if (ct_node_config_set(node_dir, "raft_snapshot_threshold", json_integer(threshold)) != 0) return -1;
    return ct_node_config_set(node_dir, "raft_snapshot_trailing", json_integer(trailing));
}

void ct_net_destroy(ct_net *net)
{
    if (net->dir && !getenv("CT_KEEP")) ct_rmtree(net->dir); /* else the exit hook says where it is */
    free(net->dir);
    free(net->node_dir);
    free(net->genesis_path);
    free(net->genesis);
    for (unsigned i = 0; i < CT_NET_NODES_MAX; i++) {
        free(net->node_dirs[i]);
        cc_key_wipe(&net->node_keys[i]);
    }
    cc_key_wipe(&net->admin);
    cc_key_wipe(&net->payer_admin);
    cc_key_wipe(&net->node_key);
    memset(net, 0, sizeof *net);
}

int ct_tx_make(const ct_net *net, const uint8_t *chain_id, const cc_key *signer, const char *type,
               const char *payload, uint64_t created_ms, uint64_t lifetime_ms, cc_tx *out)
{
    cc_tx_params p = {0};
    p.chain_id = chain_id ? chain_id : net->chain_id;
    p.type = type;
    p.payload = payload;
    p.payload_len = strlen(payload);
    p.created_ms = created_ms ? created_ms : ct_now_ms();
    p.expiry_ms = p.created_ms + (lifetime_ms ? lifetime_ms : CT_TX_LIFETIME_MS);
    p.nonce = __atomic_fetch_add(&nonce_counter, 1, __ATOMIC_RELAXED);
    cc_errbuf eb = {{0}};
    memset(out, 0, sizeof *out);
    if (cc_tx_create(&p, signer, out, &eb) != CC_OK) {
        fprintf(stderr, "cc_tx_create %s: %s\n", type, eb.msg);
        return -1;
    }
    return 0;
}

int ct_tx_note(const ct_net *net, const cc_key *signer, uint64_t n, cc_tx *out)
{
    char *doc = ct_strf("test document %llu", (unsigned long long)n);
    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    cc_sha256((const uint8_t *)doc, strlen(doc), h);
    free(doc);
    char *payload = ct_strf("{\"kind\":\"doc\",\"sha256\":\"%s\"}", cc_hex(h, CC_HASH_BYTES, hex));
    int rc = ct_tx_make(net, NULL, signer, "note.put", payload, 0, 0, out);
    free(payload);
    return rc;
}

int ct_tx_register(const ct_net *net, const cc_key *admin, const uint8_t pk[CC_PUBKEY_BYTES],
                   const char *role, cc_tx *out)
{
    char hex[CC_HASH_HEX];
    char *payload = ct_strf("{\"id\":\"%s\",\"role\":\"%s\"}", cc_hex(pk, CC_PUBKEY_BYTES, hex), role);
    int rc = ct_tx_make(net, NULL, admin, "member.register", payload, 0, 0, out);
    free(payload);
    return rc;
}

int ct_tx_revoke(const ct_net *net, const cc_key *admin, const uint8_t pk[CC_PUBKEY_BYTES], cc_tx *out)
{
    char hex[CC_HASH_HEX];
    char *payload = ct_strf("{\"id\":\"%s\"}", cc_hex(pk, CC_PUBKEY_BYTES, hex));
    int rc = ct_tx_make(net, NULL, admin, "member.revoke", payload, 0, 0, out);
    free(payload);
    return rc;
}
