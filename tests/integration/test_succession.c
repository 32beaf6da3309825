/*
 * test_succession.c — the founding nodes hand the network over, and proofs
 * stay checkable with nothing but the genesis file.
 *
 * Three genesis nodes (organisations hospital and payer: a change needs
 * both admins) add node4 and node5 by governance, then remove node1 and
 * node2, so no majority of the genesis nodes signs checkpoints any more.
 * node3's raft port refuses the removed nodes' keys from then on. The
 * three nodes left go on committing; node3's checkpoint is signed by a
 * majority of {node3, node4, node5}; and `carechain proof` + `carechain
 * verify-proof --genesis` check a tx from before the changes and one from
 * after, through the membership steps the proofs carry. node5 then loses
 * its data, joins again, and pulls the old sets' signatures it needs to
 * prove the tx from before the changes. Last, verify-chain
 * passes on every node's directory, the removed ones included.
 *
 * Tests run in order on one network started by the group setup. Every wait
 * polls with a deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "node/consensus.h"
#include "support/support.h"

#define GENESIS_NODES  3
#define SLOTS          5 /* and node4, node5 */
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 10000
#define CHANGE_MS      60000 /* a raft configuration change: the joiner starts, catches up, is promoted */
#define CONVERGE_MS    30000
#define CLI_MS         30000
#define POLL_MS        50

typedef struct fixture {
    ct_cluster cl;  /* node1..3 (genesis), node4, node5 */
    ct_joiner j[2]; /* node4, node5 */
    char *admin_key, *payer_key, *genesis_path;
    char early[CC_HASH_HEX], late[CC_HASH_HEX]; /* txids before and after the changes */
    int64_t late_height;
    uint64_t nonce;
} fixture;

static fixture fx;

/* ---- helpers -------------------------------------------------------------- */

static json_t *get_json(int i, const char *path)
{
    ct_resp r;
    char *url = ct_strf("%s%s", fx.cl.node[i].url, path);
    json_t *v = NULL;
    if (ct_get(url, &r) == 0 && r.status == 200 && r.json) v = json_incref(r.json);
    ct_resp_free(&r);
    free(url);
    return v;
}

/* Wait until node i reports raft_voters == voters. */
static bool wait_voters(int i, int64_t voters, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        json_t *st = ct_cluster_status(&fx.cl, i);
        bool ok = st && ct_json_int(st, "raft_voters") == voters;
        json_decref(st);
        if (ok) return true;
        cc_sleep_ms(POLL_MS);
    } while (ct_now_ms() < deadline);
    ct_cluster_print_status(&fx.cl);
    return false;
}

/* Node i's newest majority-signed checkpoint, once it is at height h or
 * above (caller decrefs); NULL after CONVERGE_MS. */
static json_t *wait_checkpoint(int i, int64_t h)
{
    uint64_t deadline = ct_now_ms() + CONVERGE_MS;
    for (;;) {
        json_t *cp = get_json(i, "/v1/checkpoint");
        if (cp && ct_json_int(cp, "height") >= h) return cp;
        json_decref(cp);
        if (ct_now_ms() >= deadline) break;
        cc_sleep_ms(POLL_MS);
    }
    ct_cluster_dump_logs(&fx.cl);
    return NULL;
}

/* A `network propose-*` run (rc, out) succeeded: its proposal's txid. */
static void proposed(const char *what, int rc, char *out, char txid[CC_HASH_HEX])
{
    if (rc != 0 || !ct_proposal_of(out, txid)) fail_msg("%s: %s", what, out ? out : "");
    free(out);
}

/* The second organisation approves txid, through node i. */
static void approve(const char *key, const char *txid, int i)
{
    char *out = NULL;
    int rc = ct_cli(&out, CLI_MS, "network", "approve", "--key", key, "--proposal", txid, "--node",
                    fx.cl.node[i].url, (char *)NULL);
    if (rc != 0) fail_msg("approve: %s", out ? out : "");
    free(out);
}

/* The hex key of genesis node i. */
static const char *genesis_hex(int i, char out[CC_HASH_HEX])
{
    return ct_pk_hex(&fx.cl.net.node_keys[i], out);
}

/* The proof of txid from node i into file, asked again for up to
 * CONVERGE_MS (ct_cli_proof): the signatures of a later node set reach a
 * node a little after the blocks. Fails the test with the logs otherwise. */
static void fetch_proof(int i, const char *txid, const char *file)
{
    char *out = NULL;
    if (ct_cli_proof(&out, CONVERGE_MS, fx.cl.node[i].url, txid, file) != 0) {
        ct_cluster_dump_logs(&fx.cl);
        fail_msg("%s cannot prove %s: %s", fx.cl.node[i].url, txid, out ? out : "");
    }
    free(out);
}

/* The proof of txid from node i (fetch_proof), then `verify-proof
 * --genesis` of it; the verifier's JSON report (caller decrefs). */
static json_t *prove_offline(int i, const char *txid)
{
    char *file = ct_strf("%s/proof-%.16s.json", fx.cl.net.dir, txid);
    char *out = NULL;
    fetch_proof(i, txid, file);
    int rc = ct_cli(&out, CLI_MS, "verify-proof", file, "--genesis", fx.genesis_path, "--json", (char *)NULL);
    if (rc != 0) fail_msg("carechain verify-proof: %s", out ? out : "");
    json_t *rep = json_loads(out ? out : "", 0, NULL); /* not canonical: it has verify_ms, a real */
    if (!rep) fail_msg("verify-proof --json said: %s", out ? out : "");
    free(out);
    free(file);
    return rep;
}

/* ---- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "succession", GENESIS_NODES, SLOTS) != 0) return -1;
    fx.cl.poll_ms = POLL_MS;
    fx.admin_key = ct_strf("%s/admin-hospital.key", fx.cl.net.dir);
    fx.payer_key = ct_strf("%s/admin-payer.key", fx.cl.net.dir);
    fx.genesis_path = ct_strf("%s/genesis-copy.json", fx.cl.net.dir);
    if (ct_key_save(fx.admin_key, &fx.cl.net.admin) != 0 ||
        ct_key_save(fx.payer_key, &fx.cl.net.payer_admin) != 0 ||
        ct_write_file(fx.genesis_path, fx.cl.net.genesis, fx.cl.net.genesis_len) != 0)
        return -1;
    /* node4 and node5 ask node3, the genesis node that stays to the end */
    char *peers = ct_strf("[\"http://127.0.0.1:%d\"]", fx.cl.net.api_ports[2]);
    int rc = ct_joiner_prepare(&fx.cl.net, "node4", &fx.j[0]) || ct_joiner_config(&fx.j[0], peers) ||
             ct_joiner_prepare(&fx.cl.net, "node5", &fx.j[1]) || ct_joiner_config(&fx.j[1], peers);
    free(peers);
    if (rc != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) ct_joiner_free(&fx.j[k]);
    free(fx.admin_key);
    free(fx.payer_key);
    free(fx.genesis_path);
    ct_cluster_destroy(&fx.cl);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_two_nodes_join(void **state)
{
    (void)state;
    assert_true(ct_cluster_commit_note(&fx.cl, 0, &fx.nonce, 0, fx.early) > 0);
    for (int k = 0; k < 2; k++) {
        ct_joiner *j = &fx.j[k];
        int slot = GENESIS_NODES + k;
        char api[32], raft[32], *out = NULL, txid[CC_HASH_HEX];
        snprintf(api, sizeof api, "127.0.0.1:%d", j->api);
        snprintf(raft, sizeof raft, "127.0.0.1:%d", j->raft);
        int rc = ct_cli(&out, CLI_MS, "network", "propose-add", "--key", fx.admin_key, "--name", j->name,
                        "--keyfile", j->key_path, "--org", "payer", "--api", api, "--raft", raft, "--node",
                        fx.cl.node[2].url, (char *)NULL);
        proposed("propose-add", rc, out, txid);
        approve(fx.payer_key, txid, 2);
        if (ct_node_start(&fx.cl.node[slot], j->dir, j->api, 0, 0, NODE_START_MS) != 0)
            ct_cluster_dump_logs(&fx.cl);
        fx.cl.out[slot] = false;
        bool ok = wait_voters(2, slot + 1, CHANGE_MS);
        if (!ok) ct_cluster_dump_logs(&fx.cl);
        assert_true(ok);
    }
    assert_true(ct_cluster_commit_note(&fx.cl, 4, &fx.nonce, 0, NULL) > 0);
}

static void test_genesis_majority_leaves(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) { /* node1, then node2 */
        char id[CC_HASH_HEX], txid[CC_HASH_HEX], *out = NULL;
        int rc = ct_cli(&out, CLI_MS, "network", "propose-remove", "--key", fx.payer_key, "--id",
                        genesis_hex(i, id), "--node", fx.cl.node[2].url, (char *)NULL);
        proposed("propose-remove", rc, out, txid);
        approve(fx.admin_key, txid, 2);
        bool ok = wait_voters(2, SLOTS - 1 - i, CHANGE_MS);
        if (!ok) ct_cluster_dump_logs(&fx.cl);
        assert_true(ok);
        assert_int_equal(ct_cluster_stop_node(&fx.cl, i, SIGTERM, 20000), 0);
    }
    /* node3's raft port no longer admits the removed genesis nodes' keys
     * under their raft ids; it still admits node4's */
    for (int i = 0; i < 2; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", fx.cl.net.raft_ports[i]);
        assert_int_equal(ct_raft_knock(fx.cl.net.raft_ports[2], fx.cl.net.chain_id, (uint64_t)i + 1, 3, addr,
                                       &fx.cl.net.node_keys[i]),
                         0);
    }
    cc_genesis g;
    char addr[32];
    assert_int_equal(cc_genesis_parse(fx.cl.net.genesis, fx.cl.net.genesis_len, &g, NULL), CC_OK);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", fx.j[0].raft);
    assert_int_equal(ct_raft_knock(fx.cl.net.raft_ports[2], fx.cl.net.chain_id,
                                   cc_raft_id_of(&g, fx.j[0].key.pk), 3, addr, &fx.j[0].key),
                     1);
    cc_genesis_free(&g);
}

static void test_the_three_left_sign_checkpoints(void **state)
{
    (void)state;
    int64_t h = ct_cluster_commit_note(&fx.cl, 2, &fx.nonce, 0, fx.late);
    assert_true(h > 0);
    fx.late_height = h;
    assert_true(ct_cluster_wait_converged(&fx.cl, h, NULL, CONVERGE_MS));

    /* node3's newest checkpoint covers the tx, signed by 2 of node3..5 */
    json_t *cp = wait_checkpoint(2, h);
    assert_non_null(cp);
    assert_int_equal(ct_json_int(cp, "nodes"), 3);
    assert_int_equal(ct_json_int(cp, "required"), 2);
    const json_t *members = json_object_get(cp, "members"), *v;
    char node3[CC_HASH_HEX];
    genesis_hex(2, node3);
    size_t k;
    int found = 0;
    json_array_foreach(members, k, v)
    {
        const char *hex = json_string_value(v);
        found += strcmp(hex, node3) == 0 || strcmp(hex, fx.j[0].hex) == 0 || strcmp(hex, fx.j[1].hex) == 0;
    }
    assert_int_equal(json_array_size(members), 3);
    assert_int_equal(found, 3);
    assert_true(json_array_size(json_object_get(cp, "signatures")) >= 2);
    json_decref(cp);
}

static void test_proofs_verify_with_the_genesis_alone(void **state)
{
    (void)state;
    const char *txids[] = {fx.early, fx.late};
    for (int k = 0; k < 2; k++) {
        json_t *rep = prove_offline(2, txids[k]);
        assert_true(json_is_true(json_object_get(rep, "verified")));
        if (ct_json_int(rep, "membership_steps") < 1)
            fail_msg("no membership steps: the genesis nodes still sign?");
        assert_true(ct_json_int(rep, "signatures") * 2 > ct_json_int(rep, "signers_trusted"));
        json_decref(rep);
    }
    /* and node4, added at runtime, proves them too once its own newest
     * checkpoint covers the later one */
    json_t *cp = wait_checkpoint(3, fx.late_height);
    assert_non_null(cp);
    json_decref(cp);
    for (int k = 0; k < 2; k++) {
        json_t *rep = prove_offline(3, txids[k]);
        assert_true(json_is_true(json_object_get(rep, "verified")));
        json_decref(rep);
    }
}

/* node5 loses its data and joins again after 20 more blocks: it replays
 * the chain but holds none of the old sets' checkpoint signatures (the
 * others push only their newest heights). Its auditor pulls them from the
 * nodes that kept them, and node5 proves the tx from before the changes. */
static void test_rejoined_node_pulls_what_its_proofs_need(void **state)
{
    (void)state;
    enum { NODE5 = 4 };
    int64_t h = 0;
    for (int k = 0; k < 20; k++) h = ct_cluster_commit_note(&fx.cl, 2, &fx.nonce, 0, NULL);
    assert_true(h > 0);
    assert_int_equal(ct_cluster_stop_node(&fx.cl, NODE5, SIGTERM, 20000), 0);
    char *data = ct_strf("%s/data", fx.j[1].dir), *raft = ct_strf("%s/raft", fx.j[1].dir);
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    free(data);
    free(raft);
    if (ct_node_start(&fx.cl.node[NODE5], fx.j[1].dir, fx.j[1].api, 0, 0, NODE_START_MS) != 0)
        ct_cluster_dump_logs(&fx.cl);
    fx.cl.out[NODE5] = false;
    bool ok = ct_cluster_wait_converged(&fx.cl, h, NULL, CHANGE_MS);
    if (!ok) ct_cluster_dump_logs(&fx.cl);
    assert_true(ok);

    json_t *rep = prove_offline(NODE5, fx.early);
    assert_true(json_is_true(json_object_get(rep, "verified")));
    assert_true(ct_json_int(rep, "membership_steps") >= 1);
    json_decref(rep);
}

static void test_verify_chain_on_every_node(void **state)
{
    (void)state;
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, 20000), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, 60000), 0); /* node1..3, the removed ones included */
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        int rc = ct_cli(&out, 60000, "verify-chain", "--dir", fx.j[k].dir, (char *)NULL);
        if (rc != 0) fail_msg("verify-chain %s: %s", fx.j[k].dir, out ? out : "");
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_join),
        cmocka_unit_test(test_genesis_majority_leaves),
        cmocka_unit_test(test_the_three_left_sign_checkpoints),
        cmocka_unit_test(test_proofs_verify_with_the_genesis_alone),
        cmocka_unit_test(test_rejoined_node_pulls_what_its_proofs_need),
        cmocka_unit_test(test_verify_chain_on_every_node),
    };
    return cmocka_run_group_tests_name("succession", tests, group_setup, group_teardown);
}
