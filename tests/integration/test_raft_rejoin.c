/*
 * test_raft_rejoin.c — a node whose data was wiped rejoins without taking
 * part in an election it could decide wrongly.
 *
 * Raft's safety rests on every node keeping what it stored. A node whose
 * data and raft directories were wiped has forgotten the entries it held
 * and the votes it cast, yet it starts as a voter again. Three real nodes:
 * the leader B and a follower A hold every committed block while the
 * follower C is cut off from B's messages and falls behind; then A is
 * wiped and restarted and B cut off. Granting C's vote request would make
 * C leader on a chain without the blocks B and A committed, and the notes
 * acknowledged there would be gone. The rejoined node keeps
 * raft/rejoining until it holds everything committed, and until then
 * votes only for candidates whose log reaches what a leader told it was
 * committed, and, before any leader told it, for none with a history
 * (src/node/raft_rejoin.h): no leader arises among A and C, and once B is
 * back every node holds every acknowledged note. Then A, caught up, votes
 * again: with the leader stopped the other two elect one between them.
 * Raft traffic goes through the loopback proxy (one link per ordered pair
 * of nodes). Last, the rule's other side: in new networks (every node
 * rejoining, its log started empty) whose first leader is killed the
 * moment the nodes agree on it, the two others elect one of themselves;
 * the first version of the rule, which gave no vote to any candidate with
 * a history, left them refusing each other for good.
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

#include "support/support.h"

#define NODES          3
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 10000
#define STATUS_HTTP_MS 1500
#define COMMIT_HTTP_MS 20000
#define CONVERGE_MS    20000
#define STOP_MS        20000
#define VERIFY_MS      60000
#define LAG_MS         1500 /* C hears nothing from B this long before the notes */
#define NOTES          12   /* committed by B and A while C lags */
#define NO_LEADER_MS   6000 /* ten election timeouts: A and C elect nobody */
#define CATCH_UP_MS    15000
#define NEW_NETWORKS   6 /* new networks whose first leader is killed at once */

typedef struct fixture {
    ct_cluster cl;
    ct_raft_mesh mesh;
    uint64_t nonce;
} fixture;

static fixture fx;

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create_meshed(&fx.cl, &fx.mesh, "raft-rejoin", NODES, STATUS_HTTP_MS) != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy_meshed(&fx.cl, &fx.mesh);
    return 0;
}

/* Is node i's raft/rejoining there, or does its status say it rejoins? */
static bool rejoining(int i)
{
    char *path = ct_strf("%s/raft/rejoining", fx.cl.net.node_dirs[i]);
    bool there = access(path, F_OK) == 0;
    free(path);
    return there || ct_cluster_rejoining(&fx.cl, i);
}

/* Wait until node i is no longer rejoining, by both signs. */
static bool wait_rejoined(int i, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    while (rejoining(i) && ct_now_ms() < deadline) cc_sleep_ms(50);
    return !rejoining(i);
}

static void test_a_wiped_node_elects_no_leader_without_the_committed_blocks(void **state)
{
    (void)state;
    int b = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(b >= 0);
    int a = (b + 1) % NODES, c = (b + 2) % NODES;
    for (int i = 0; i < NODES; i++)
        assert_true(wait_rejoined(i, CATCH_UP_MS)); /* the first leader's entries are in */

    /* C hears nothing from B: it falls behind, and A, which follows B, refuses its pre-votes */
    ct_proxy_set_cut(fx.mesh.proxy, fx.mesh.link[b][c], true);
    cc_sleep_ms(LAG_MS);
    char txids[NOTES][CC_HASH_HEX];
    for (int k = 0; k < NOTES; k++)
        assert_true(ct_cluster_commit_note(&fx.cl, b, &fx.nonce, COMMIT_HTTP_MS, txids[k]) > 0);
    int64_t height = ct_status_height(fx.cl.node[b].url);
    int64_t c_height = ct_status_height(fx.cl.node[c].url);
    fprintf(stderr, "leader node%d at height %lld; node%d, cut off from it, at %lld\n", b + 1,
            (long long)height, c + 1, (long long)c_height);
    assert_true(c_height >= 0 && c_height < height);

    /* A loses everything; B is cut off; A comes back beside C */
    assert_int_equal(ct_cluster_stop_node(&fx.cl, a, SIGKILL, STOP_MS), 128 + SIGKILL);
    char *data = ct_strf("%s/data", fx.cl.net.node_dirs[a]);
    char *raft = ct_strf("%s/raft", fx.cl.net.node_dirs[a]);
    assert_int_equal(ct_rmtree(data), 0);
    assert_int_equal(ct_rmtree(raft), 0);
    free(data);
    free(raft);
    assert_int_equal(ct_raft_mesh_bootstrap(&fx.mesh, &fx.cl.net, (unsigned)a), 0);
    ct_raft_mesh_isolate(&fx.mesh, (unsigned)b, true);
    fx.cl.out[b] = true;
    assert_int_equal(ct_cluster_start_node(&fx.cl, a, NODE_START_MS), 0);
    assert_true(rejoining(a));
    bool said = false; /* the status follows the raft loop's next tick */
    for (uint64_t until = ct_now_ms() + STATUS_HTTP_MS; !said && ct_now_ms() < until; cc_sleep_ms(20)) {
        json_t *st = ct_cluster_status(&fx.cl, a);
        said = json_is_true(json_object_get(st, "raft_rejoining"));
        json_decref(st);
    }
    assert_true(said);
    char *out = NULL;
    assert_int_equal(ct_cli(&out, 10000, "status", "--node", fx.cl.node[a].url, NULL), 0);
    assert_non_null(strstr(out, "This node is rejoining"));
    free(out);

    int rogue = ct_cluster_wait_any_leader(&fx.cl, NODES, NO_LEADER_MS);
    long refused = ct_metric(fx.cl.node[a].url, "carechain_raft_votes_refused_total");
    fprintf(stderr, "node%d refused %ld vote requests while rejoining\n", a + 1, refused);
    if (rogue >= 0) {
        fprintf(stderr, "node%d leads with the votes of node%d (wiped) and node%d (behind)\n", rogue + 1,
                a + 1, c + 1);
        ct_cluster_print_status(&fx.cl);
    }

    /* B comes back: it leads (C votes for it), and every node catches up */
    ct_raft_mesh_isolate(&fx.mesh, (unsigned)b, false);
    fx.cl.out[b] = false;
    json_t *head = NULL;
    bool converged = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS) >= 0 &&
                     ct_cluster_wait_converged(&fx.cl, height, &head, CONVERGE_MS);
    if (!converged) ct_cluster_dump_logs(&fx.cl);
    json_decref(head);
    assert_int_equal(rogue, -1);
    assert_true(refused > 0); /* C asked it, again and again */
    assert_true(converged);
    for (int i = 0; i < NODES; i++)
        for (int k = 0; k < NOTES; k++) {
            bool there = ct_cluster_committed(&fx.cl, i, txids[k], STATUS_HTTP_MS);
            if (!there) fprintf(stderr, "acknowledged note %s is not on node%d\n", txids[k], i + 1);
            assert_true(there);
        }
    assert_true(wait_rejoined(a, CATCH_UP_MS));
}

/* Caught up, the rejoined node votes again: stop the leader and the other
 * two elect one of themselves. */
static void test_the_rejoined_node_votes_once_caught_up(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    for (int i = 0; i < NODES; i++) assert_true(wait_rejoined(i, CATCH_UP_MS));
    assert_int_equal(ct_cluster_stop_node(&fx.cl, leader, SIGTERM, STOP_MS), 0);
    int next = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(next >= 0 && next != leader);
    assert_true(ct_cluster_commit_note(&fx.cl, next, &fx.nonce, COMMIT_HTTP_MS, NULL) > 0);
    assert_int_equal(ct_cluster_start_node(&fx.cl, leader, NODE_START_MS), 0);
    json_t *head = NULL;
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, &head, CONVERGE_MS));
    assert_int_equal(ct_cluster_double_commits(&fx.cl, 0, ct_json_int(head, "height")), 0);
    json_decref(head);
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
}

/* A new network whose first leader stops the moment the nodes agree on
 * it: its followers, rejoining (their logs started empty) and perhaps not
 * yet holding its first entry, elect one of themselves. Each of several
 * new networks is killed that way; a follower still rejoining when the
 * leader went is counted. */
static void test_a_new_network_whose_first_leader_stops_at_once_elects_another(void **state)
{
    (void)state;
    unsigned still_rejoining = 0;
    for (int round = 0; round < NEW_NETWORKS; round++) {
        ct_cluster cl;
        assert_int_equal(ct_cluster_create(&cl, "raft-rejoin-new", NODES, NODES), 0);
        cl.status_timeout_ms = STATUS_HTTP_MS;
        for (int i = 0; i < NODES; i++) assert_int_equal(ct_cluster_start_node(&cl, i, NODE_START_MS), 0);
        int first = ct_cluster_wait_leader(&cl, LEADER_WAIT_MS);
        assert_true(first >= 0);
        assert_int_equal(ct_cluster_stop_node(&cl, first, SIGKILL, STOP_MS), 128 + SIGKILL);
        for (int i = 0; i < NODES; i++) {
            if (i == first) continue;
            json_t *st = ct_cluster_status(&cl, i);
            still_rejoining += json_is_true(json_object_get(st, "raft_rejoining"));
            json_decref(st);
        }
        int next = ct_cluster_wait_leader(&cl, LEADER_WAIT_MS);
        if (next < 0) ct_cluster_dump_logs(&cl);
        assert_true(next >= 0 && next != first);
        assert_true(ct_cluster_commit_note(&cl, next, &fx.nonce, COMMIT_HTTP_MS, NULL) > 0);
        ct_cluster_destroy(&cl);
    }
    fprintf(stderr,
            "%d new networks lost their first leader at once; %u followers were still rejoining then\n",
            NEW_NETWORKS, still_rejoining);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_wiped_node_elects_no_leader_without_the_committed_blocks),
        cmocka_unit_test(test_the_rejoined_node_votes_once_caught_up),
        cmocka_unit_test(test_a_new_network_whose_first_leader_stops_at_once_elects_another),
    };
    return cmocka_run_group_tests_name("raft_rejoin", tests, group_setup, group_teardown);
}
