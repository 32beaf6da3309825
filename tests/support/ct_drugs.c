/*
 * ct_drugs.c — the drug supply chain test network (ct_drugs.h).
 */
#include "ct_drugs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/os.h"
#include <signal.h>

#define START_MS 20000

static int commit(ct_drugnet *n, const char *key_name, const char *type, json_t *payload)
{
    cc_key k;
    cc_errbuf eb = {{0}};
    if (ct_drugnet_load(n, key_name, &k) != 0) {
        json_decref(payload);
        return -1;
    }
    cc_err e = cc_cli_commit_json(n->h, n->chain_id, &k, type, payload, NULL, &eb);
    cc_key_wipe(&k);
    if (e == CC_OK) return 0;
    fprintf(stderr, "%s by %s: %s\n", type, key_name, eb.msg);
    return -1;
}

int ct_drugnet_start(ct_drugnet *n, const char *tag)
{
    memset(n, 0, sizeof *n);
    cc_errbuf eb = {{0}};
    char *top = ct_tmpdir(tag);
    if (!top) return -1;
    n->dir = ct_strf("%s/net", top);
    free(top);
    int port = ct_free_port(), raft = ct_free_port();
    if (port <= 0 || raft <= 0) return -1;
    if (cc_cli_net_init_ports(n->dir, 1, tag, (unsigned)port, (unsigned)raft, &eb) != CC_OK) {
        fprintf(stderr, "init %s: %s\n", n->dir, eb.msg);
        return -1;
    }
    char *node_dir = ct_strf("%s/node1", n->dir);
    int rc = ct_node_start(&n->node, node_dir, port, 0, 0, START_MS);
    free(node_dir);
    if (rc != 0) return -1;
    n->h = cc_cli_http_new(n->node.url);
    json_t *answer = NULL;
    if (!n->h || cc_cli_chain_id(n->h, NULL, n->chain_id, &eb) != CC_OK ||
        cc_cli_keyring_register(n->h, n->dir, n->chain_id, &answer, &eb) != CC_OK) {
        fprintf(stderr, "keyring: %s\n", eb.msg);
        return -1;
    }
    json_decref(answer);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(n->exp, sizeof n->exp, "%02u%02u00", (unsigned)(tm.tm_year + 2) % 100u,
             (unsigned)(tm.tm_mon + 1) % 100u);
    const char *prefixes[][2] = {{CT_PREFIX_PHARMA, "pharma"},
                                 {CT_PREFIX_WHOLESALE, "distributor"},
                                 {CT_PREFIX_PHARMACY, "pharmacy"},
                                 {CT_PREFIX_DRUGSTORE, "drugstore"}};
    for (size_t i = 0; i < 4; i++)
        if (commit(n, "regulator", "drug.prefix",
                   json_pack("{s:s,s:s}", "prefix", prefixes[i][0], "org", prefixes[i][1])) != 0)
            return -1;
    return commit(n, "manufacturer", "drug.product",
                  json_pack("{s:s,s:s,s:s,s:s,s:s}", "gtin", CT_GTIN, "ndc", "12345-6789-01", "name",
                            "Testomycin", "strength", "250 mg", "form", "capsule"));
}

void ct_drugnet_stop(ct_drugnet *n)
{
    cc_cli_http_free(n->h);
    if (n->node.pid > 0) ct_node_stop(&n->node, SIGTERM, 15000);
    ct_node_free(&n->node);
    if (n->dir) {
        char *top = strdup(n->dir);
        char *slash = top ? strrchr(top, '/') : NULL;
        if (slash) {
            *slash = '\0';
            ct_rmtree(top);
        }
        free(top);
    }
    free(n->dir);
    memset(n, 0, sizeof *n);
}

char *ct_drugnet_key(const ct_drugnet *n, const char *name)
{
    return ct_strf("%s/keys/%s.key", n->dir, name);
}

int ct_drugnet_load(const ct_drugnet *n, const char *name, cc_key *k)
{
    char *path = ct_drugnet_key(n, name);
    cc_errbuf eb = {{0}};
    cc_err e = cc_key_load(path, k, NULL, &eb);
    if (e != CC_OK) fprintf(stderr, "%s: %s\n", path, eb.msg);
    free(path);
    return e == CC_OK ? 0 : -1;
}

int ct_drugnet_signed(const ct_drugnet *n, const char *key_name, const char *path, const char *ctype,
                      const void *body, size_t len, cc_cli_resp *r)
{
    cc_key k;
    cc_errbuf eb = {{0}};
    memset(r, 0, sizeof *r);
    if (ct_drugnet_load(n, key_name, &k) != 0) return -1;
    cc_err e = cc_cli_http_signed(n->h, &k, path, ctype, body, len, r, &eb);
    cc_key_wipe(&k);
    if (e != CC_OK) fprintf(stderr, "%s: %s\n", path, eb.msg);
    return e == CC_OK ? 0 : -1;
}

const char *ct_error_message(const cc_cli_resp *r)
{
    const json_t *err = json_object_get(r->json, "error");
    const char *m = json_string_value(json_object_get(r->json, "message"));
    if (!m) m = json_string_value(json_object_get(err, "message"));
    return m ? m : "";
}
