/*
 * test_raft_netns.c — issue 3's partition test on a network: three node
 * processes, each in its own network namespace (ct_netns: veth pairs to a
 * bridge, one address per node, as three machines on a LAN). The leader is
 * cut off by routing every packet between it and the other two into a
 * gateway nobody answers for, so its raft connections neither fail nor
 * deliver, as when a real link goes down; raft_partition.h then checks that
 * the isolated minority commits nothing and, once the link is back,
 * converges on the majority's chain, and verify-chain passes on every
 * node. Runs as root (CI does); otherwise it is skipped, saying so, and
 * test_raft_faults covers the partition through its loopback proxy.
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

#include "raft_partition.h"
#include "support/support.h"

#define NODES          3
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 10000
#define STATUS_HTTP_MS 1500 /* a cut-off node must not stall a poll */
#define STOP_MS        20000
#define VERIFY_MS      60000

static struct {
    ct_cluster cl;
    ct_netns ns;
    uint64_t nonce;
    char skip_why[160]; /* "" when the namespaces were made */
} fx;

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "raft-netns", NODES, NODES) != 0) return -1;
    fx.cl.status_timeout_ms = STATUS_HTTP_MS;
    if (ct_netns_create(&fx.ns, NODES, fx.cl.net.dir, fx.skip_why, sizeof fx.skip_why) != 0) {
        if (!fx.skip_why[0]) snprintf(fx.skip_why, sizeof fx.skip_why, "no network namespaces");
        return 0;
    }
    if (ct_net_use_hosts(&fx.cl.net, (const char(*)[16])fx.ns.host) != 0) return -1;
    for (int i = 0; i < NODES; i++) {
        fx.cl.node[i].host = fx.ns.host[i];
        fx.cl.node[i].bin = fx.ns.wrapper[i];
    }
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy(&fx.cl); /* the nodes first: they run inside the namespaces */
    ct_netns_destroy(&fx.ns);
    return 0;
}

static void skip_unless_made(void)
{
    if (!fx.skip_why[0]) return;
    print_message("skipped: %s (test_raft_faults cuts the links in a loopback proxy instead)\n", fx.skip_why);
    skip();
}

static void netns_isolate(void *ctx, int node, bool cut)
{
    assert_int_equal(ct_netns_isolate(ctx, (unsigned)node, cut), 0);
}

/* Every node serves its API at its own address, and names the others at theirs. */
static void test_nodes_live_at_their_own_addresses(void **state)
{
    (void)state;
    skip_unless_made();
    for (int i = 0; i < NODES; i++) {
        assert_non_null(strstr(fx.cl.node[i].url, fx.ns.host[i]));
        json_t *net = ct_cluster_get_json(&fx.cl, i, "/v1/network", STATUS_HTTP_MS);
        assert_non_null(net);
        char *dump = json_dumps(net, 0);
        for (int j = 0; j < NODES; j++) assert_non_null(strstr(dump, fx.ns.host[j]));
        free(dump);
        json_decref(net);
    }
    assert_true(ct_cluster_commit_note(&fx.cl, 0, &fx.nonce, RP_COMMIT_MS, NULL) > 0);
}

static void test_partition_minority_commits_nothing(void **state)
{
    (void)state;
    skip_unless_made();
    const rp_net n = {&fx.cl, &fx.nonce, netns_isolate, &fx.ns};
    rp_partition_minority_commits_nothing(&n);
}

static void test_verify_chain_on_every_node(void **state)
{
    (void)state;
    skip_unless_made();
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nodes_live_at_their_own_addresses),
        cmocka_unit_test(test_partition_minority_commits_nothing),
        cmocka_unit_test(test_verify_chain_on_every_node),
    };
    return cmocka_run_group_tests_name("raft-netns", tests, group_setup, group_teardown);
}
