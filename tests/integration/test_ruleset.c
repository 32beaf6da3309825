/*
 * test_ruleset.c — moving a network to a later ruleset, end to end on one
 * node: `carechain network propose-upgrade` and `approve` schedule it,
 * `status` and GET /v1/status say what is coming and whether this build
 * knows it; at the agreed height a build that does not know the ruleset
 * stops applying (it serves reads, refuses txs with 503 and the reason),
 * stays stopped across a restart, and its chain passes verify-chain; once
 * a newer build has gone on from there, verify-chain on this build says
 * how far the chain is sound and that it cannot check the rest (not that
 * it is tampered). On a raft network every node stops at the same block,
 * the leader too.
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
#include <unistd.h>

#include "carechain/chain.h"
#include "support/ct_cli.h"
#include "support/ct_store.h"
#include "support/support.h"

#define NODE_START_MS 20000
#define LEADER_MS     20000
#define CLI_MS        30000
#define UNKNOWN       (CC_RULESET_CURRENT + 1) /* a ruleset this build does not know */

static json_t *status_json(const char *url)
{
    ct_resp r;
    char *u = ct_strf("%s/v1/status", url);
    assert_int_equal(ct_get(u, &r), 0);
    free(u);
    assert_int_equal(r.status, 200);
    json_t *j = json_incref(r.json);
    ct_resp_free(&r);
    return j;
}

/* The proposal's txid from the CLI's last line about it ("proposal <hex>"). */
static void proposal_of(const char *said, char out[CC_HASH_HEX])
{
    const char *at = strstr(said, "\nproposal ");
    if (!at || strspn(at + 10, "0123456789abcdef") != 64) fail_msg("no proposal txid in: %s", said);
    memcpy(out, at + 10, 64);
    out[64] = '\0';
}

static void test_upgrade_to_a_ruleset_this_build_lacks(void **state)
{
    (void)state;
    ct_net net;
    ct_node node;
    char *out = NULL, prop[CC_HASH_HEX], from_s[24], ruleset_s[16];
    memset(&node, 0, sizeof node);
    assert_int_equal(ct_net_create(&net, "ruleset"), 0);
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, 0, 0, NODE_START_MS), 0);
    char *hosp = ct_key_file(net.dir, "hospital-admin", &net.admin);
    char *payer = ct_key_file(net.dir, "payer-admin", &net.payer_admin);
    assert_non_null(hosp);
    assert_non_null(payer);

    /* usage: a ruleset, a height, and --force for a ruleset this build does not know */
    assert_int_equal(ct_cli(NULL, CLI_MS, "network", "propose-upgrade", "--key", hosp, "--ruleset", "0",
                            "--from", "10", "--node", node.url, (char *)NULL),
                     2);
    assert_int_equal(ct_cli(&out, CLI_MS, "network", "propose-upgrade", "--key", hosp, "--ruleset", "3",
                            "--from", "10", "--node", node.url, (char *)NULL),
                     2);
    if (!strstr(out, "give --force")) fail_msg("propose-upgrade of an unknown ruleset said: %s", out);
    free(out);
    assert_int_equal(ct_cli(NULL, CLI_MS, "network", "propose-upgrade", "--key", hosp, "--ruleset", "3",
                            "--node", node.url, (char *)NULL),
                     2);

    /* proposed by the hospital, approved by the payer: 2 of 2 organisations */
    int64_t h = ct_status_height(node.url);
    assert_true(h >= 0);
    uint64_t from = (uint64_t)h + 4;
    snprintf(from_s, sizeof from_s, "%llu", (unsigned long long)from);
    snprintf(ruleset_s, sizeof ruleset_s, "%d", UNKNOWN);
    assert_int_equal(ct_cli(&out, CLI_MS, "network", "propose-upgrade", "--key", hosp, "--ruleset", ruleset_s,
                            "--from", from_s, "--force", "--node", node.url, (char *)NULL),
                     0);
    if (!strstr(out, "is open with 1 organisation approval") ||
        !strstr(out, "this build knows rulesets 1 to"))
        fail_msg("propose-upgrade said: %s", out);
    proposal_of(out, prop);
    free(out);
    assert_int_equal(ct_cli(&out, CLI_MS, "network", "approve", "--key", payer, "--proposal", prop, "--node",
                            node.url, (char *)NULL),
                     0);
    char *want = ct_strf("blocks from height %s on execute ruleset %d", from_s, UNKNOWN);
    if (!strstr(out, want)) fail_msg("approve said: %s", out);
    free(want);
    free(out);

    /* what is coming, by the CLI and the API */
    assert_int_equal(ct_cli(&out, CLI_MS, "status", "--node", node.url, (char *)NULL), 0);
    want = ct_strf("moves to ruleset %d at height %s", UNKNOWN, from_s);
    if (!strstr(out, want) || !strstr(out, "does NOT know it")) fail_msg("status said: %s", out);
    free(want);
    free(out);
    json_t *st = status_json(node.url), *rs = json_object_get(st, "ruleset");
    assert_int_equal(ct_json_int(rs, "active"), CC_RULESET_CURRENT);
    assert_int_equal(ct_json_int(rs, "supported"), CC_RULESET_CURRENT);
    assert_int_equal(ct_json_int(rs, "next"), UNKNOWN);
    assert_int_equal(ct_json_int(rs, "from"), (int64_t)from);
    json_decref(st);

    /* blocks up to from - 1 commit; block `from` is not made */
    ct_http *http = ct_http_new();
    cc_tx tx;
    ct_resp r;
    uint64_t n = 0;
    while (ct_status_height(node.url) < (int64_t)from - 1) {
        assert_int_equal(ct_tx_note(&net, &net.admin, n++, &tx), 0);
        assert_int_equal(ct_submit(http, node.url, &tx, true, &r), 0);
        cc_tx_free(&tx);
        if (r.status != 200) fail_msg("note %llu: %ld %s", (unsigned long long)n, r.status, r.body);
        ct_resp_free(&r);
    }
    /* the tx for block `from`: not committed, and the answer says why */
    assert_int_equal(ct_tx_note(&net, &net.admin, n++, &tx), 0);
    assert_int_equal(ct_submit(http, node.url, &tx, true, &r), 0);
    cc_tx_free(&tx);
    if (r.status == 200 || !strstr(r.body, "ruleset"))
        fail_msg("the tx for block %llu: %ld %s", (unsigned long long)from, r.status, r.body);
    ct_resp_free(&r);
    assert_int_equal(ct_status_height(node.url), (int64_t)from - 1);
    st = status_json(node.url);
    assert_true(json_is_true(json_object_get(st, "halted")));
    want = ct_strf("ruleset %d", UNKNOWN);
    if (!strstr(ct_json_str(st, "halt_reason"), want))
        fail_msg("halt_reason: %s", ct_json_str(st, "halt_reason"));
    assert_int_equal(ct_json_int(json_object_get(st, "ruleset"), "active"), UNKNOWN);
    json_decref(st);
    assert_int_equal(ct_metric(node.url, "carechain_halted"), 1);
    assert_int_equal(ct_tx_note(&net, &net.admin, n++, &tx), 0);
    assert_int_equal(ct_submit(http, node.url, &tx, false, &r), 0);
    assert_int_equal(r.status, 503);
    if (!strstr(ct_resp_error_message(&r), want)) fail_msg("503: %s", r.body);
    ct_resp_free(&r);

    /* restarted on the same build: stopped from the start, reads still served */
    assert_int_equal(ct_node_stop(&node, SIGTERM, 20000), 0);
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, 0, 0, NODE_START_MS), 0);
    assert_int_equal(ct_submit(http, node.url, &tx, false, &r), 0);
    assert_int_equal(r.status, 503);
    ct_resp_free(&r);
    cc_tx_free(&tx);
    assert_int_equal(ct_cli(&out, CLI_MS, "status", "--node", node.url, (char *)NULL), 0);
    if (!strstr(out, "applies no more blocks")) fail_msg("status after the restart: %s", out);
    free(out);
    free(want);
    ct_http_free(http);

    /* the chain it kept is sound */
    assert_int_equal(ct_node_stop(&node, SIGTERM, 20000), 0);
    assert_int_equal(ct_cli(&out, 120000, "verify-chain", "--dir", net.node_dir, (char *)NULL), 0);
    free(out);

    /* a newer build went on from there (block `from`, as it would make it,
     * ct_block_beyond): this build checks the blocks before and says it
     * cannot check the rest, with the exit status of an unfinished check */
    char *data = ct_strf("%s/data", net.node_dir);
    cc_chain_options ro = {.readonly = true};
    cc_chain *c = NULL;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal(cc_chain_open(data, net.genesis, net.genesis_len, &ro, &c, NULL), CC_OK);
    assert_int_equal(ct_tx_note(&net, &net.admin, n++, &tx), 0);
    assert_int_equal(ct_block_beyond(c, &tx, 1, ct_now_ms(), &net.node_key, &raw, &raw_len), 0);
    cc_tx_free(&tx);
    cc_chain_close(c);
    assert_int_equal(ct_store_put_head_block(data, raw, raw_len), 0);
    free(raw);
    free(data);
    assert_int_equal(ct_cli(&out, 120000, "verify-chain", "--dir", net.node_dir, (char *)NULL), 1);
    want = ct_strf("is sound up to block %llu: %llu blocks", (unsigned long long)from - 1,
                   (unsigned long long)from - 1);
    char *cannot =
        ct_strf("cannot check the blocks after it: from block %s on, the network executes ruleset %d", from_s,
                UNKNOWN);
    if (!strstr(out, want) || !strstr(out, cannot) || strstr(out, "NOT sound"))
        fail_msg("verify-chain said: %s", out);
    free(cannot);
    free(want);
    free(out);
    assert_int_equal(ct_cli(&out, 120000, "verify-chain", "--dir", net.node_dir, "--json", (char *)NULL), 1);
    json_t *verdict = json_loads(out, 0, NULL);
    if (!verdict) fail_msg("verify-chain --json said: %s", out);
    assert_false(json_is_true(json_object_get(verdict, "sound")));
    assert_string_equal(ct_json_str(verdict, "error"), "version");
    assert_int_equal(ct_json_int(verdict, "unchecked_from"), (int64_t)from);
    assert_int_equal(ct_json_int(verdict, "blocks"), (int64_t)from - 1);
    assert_null(json_object_get(verdict, "bad_height"));
    json_decref(verdict);
    free(out);
    ct_node_free(&node);
    free(hosp);
    free(payer);
    ct_net_destroy(&net);
}

/* Three raft nodes of one build: at the agreed height the leader does not
 * build the block, every follower would refuse it, and all of them stop
 * with the same head, saying why. */
static void test_raft_network_stops_together(void **state)
{
    (void)state;
    ct_cluster cl;
    char *out = NULL, prop[CC_HASH_HEX], from_s[24], ruleset_s[16];
    assert_int_equal(ct_cluster_create(&cl, "ruleset-raft", 3, 3), 0);
    assert_int_equal(ct_cluster_start(&cl, NODE_START_MS, LEADER_MS), 0);
    char *hosp = ct_key_file(cl.net.dir, "hospital-admin", &cl.net.admin);
    char *payer = ct_key_file(cl.net.dir, "payer-admin", &cl.net.payer_admin);
    assert_non_null(hosp);
    assert_non_null(payer);
    const char *url = cl.node[1].url; /* whoever leads: a node forwards */
    uint64_t from = (uint64_t)ct_status_height(url) + 4;
    snprintf(from_s, sizeof from_s, "%llu", (unsigned long long)from);
    snprintf(ruleset_s, sizeof ruleset_s, "%d", UNKNOWN);
    assert_int_equal(ct_cli(&out, CLI_MS, "network", "propose-upgrade", "--key", hosp, "--ruleset", ruleset_s,
                            "--from", from_s, "--force", "--node", url, (char *)NULL),
                     0);
    proposal_of(out, prop);
    free(out);
    assert_int_equal(ct_cli(&out, CLI_MS, "network", "approve", "--key", payer, "--proposal", prop, "--node",
                            url, (char *)NULL),
                     0);
    free(out);
    ct_http *http = ct_http_new();
    uint64_t n = 0;
    while (ct_status_height(url) < (int64_t)from - 1) {
        cc_tx tx;
        ct_resp r;
        assert_int_equal(ct_tx_note(&cl.net, &cl.net.admin, n++, &tx), 0);
        assert_int_equal(ct_submit(http, url, &tx, true, &r), 0);
        cc_tx_free(&tx);
        if (r.status != 200) fail_msg("note %llu: %ld %s", (unsigned long long)n, r.status, r.body);
        ct_resp_free(&r);
    }
    /* one more tx: no block `from` anywhere; every node stops */
    cc_tx tx;
    ct_resp r;
    assert_int_equal(ct_tx_note(&cl.net, &cl.net.admin, n++, &tx), 0);
    assert_int_equal(ct_submit(http, url, &tx, false, &r), 0);
    ct_resp_free(&r);
    cc_tx_free(&tx);
    char *want = ct_strf("ruleset %d", UNKNOWN);
    uint64_t deadline = ct_now_ms() + 20000;
    for (int i = 0; i < 3; i++) {
        json_t *st = NULL;
        while (true) {
            st = ct_cluster_status(&cl, i);
            if (st && json_is_true(json_object_get(st, "halted"))) break;
            json_decref(st);
            if (ct_now_ms() > deadline) fail_msg("node%d did not stop", i + 1);
            usleep(100 * 1000);
        }
        if (!strstr(ct_json_str(st, "halt_reason"), want))
            fail_msg("node%d: %s", i + 1, ct_json_str(st, "halt_reason"));
        assert_int_equal(ct_json_int(st, "height"), (int64_t)from - 1);
        json_decref(st);
    }
    ct_http_free(http);
    free(want);
    free(hosp);
    free(payer);
    ct_cluster_destroy(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_to_a_ruleset_this_build_lacks),
        cmocka_unit_test(test_raft_network_stops_together),
    };
    return cmocka_run_group_tests_name("rulesets", tests, NULL, NULL);
}
