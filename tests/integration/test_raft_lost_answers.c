/*
 * test_raft_lost_answers.c — a follower whose answers to the leader are
 * lost while the leader's messages still reach it (one direction of a link
 * down), long enough that it takes snapshots past what the leader knows of
 * it, catches up once the link heals, on the leader's chain. Three real
 * nodes; raft traffic through the loopback proxy (one link per ordered pair
 * of nodes); the follower snapshots every 2 entries, the others every 16.
 *
 * This is where a real network reaches the second correction of
 * src/node/raft_match.h (simulation seed 52977): libraft 0.15 refuses an
 * AppendEntries whose previous entry the follower's snapshot replaced, and
 * the follower sends that refusal as an acceptance up to its snapshot. The
 * test repeats the round until the follower's corrected answers show it
 * happened (within 4 rounds in 19 of 20 runs; a CI run got through 4
 * without it, so it now tries 8) and skips, saying so, if it never does.
 * Here libraft also got past the refusal without the correction (8 runs,
 * 32 rounds, of a build without it), unlike in the simulation, so the
 * simulation's seed is what fails without it; this test checks the
 * correction on real nodes: the follower catches up and agrees.
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

#include "support/support.h"

#define NODES              3
#define NODE_START_MS      20000
#define LEADER_WAIT_MS     10000
#define STATUS_HTTP_MS     1500
#define COMMIT_HTTP_MS     20000
#define CATCH_UP_MS        15000 /* well past the leader's snapshot retries */
#define SNAP_THRESHOLD     16    /* raft entries between two snapshots, in this test */
#define SNAP_TRAILING      2     /* entries kept behind one */
#define FOLLOWER_THRESHOLD 2     /* and on the follower whose answers are lost */
#define FOLLOWER_TRAILING  1
#define ROUNDS             8
#define LOST_NOTES         24   /* blocks committed while the follower's answers are lost */
#define SEND_FAIL_MS       1000 /* the leader->follower link cut this long: its sends fail */

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
    if (ct_cluster_create_meshed(&fx.cl, &fx.mesh, "raft-lost", NODES, STATUS_HTTP_MS) != 0) return -1;
    for (unsigned i = 0; i < NODES; i++)
        if (ct_node_config_snapshots(fx.cl.net.node_dirs[i], SNAP_THRESHOLD, SNAP_TRAILING) != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy_meshed(&fx.cl, &fx.mesh);
    return 0;
}

/* One round: the follower's answers are lost while the leader's messages
 * still arrive, and it commits and snapshots on past what the leader knows
 * of it; then the leader's sends to it fail for a while, so that the leader
 * goes back to probing it from the last answer it heard; then every link
 * heals and the follower must catch up. */
static void lose_answers(int leader, int follower)
{
    ct_proxy_set_cut(fx.mesh.proxy, fx.mesh.link[follower][leader], true);
    int64_t top = 0;
    for (int k = 0; k < LOST_NOTES; k++)
        top = ct_cluster_commit_note(&fx.cl, leader, &fx.nonce, COMMIT_HTTP_MS, NULL);
    assert_true(top > 0);
    if (ct_wait_height(fx.cl.node[follower].url, (uint64_t)top, CATCH_UP_MS) != 0) {
        ct_cluster_dump_logs(&fx.cl);
        fail_msg("node%d did not receive height %lld while only its answers were lost", follower + 1,
                 (long long)top);
    }

    ct_proxy_set_cut(fx.mesh.proxy, fx.mesh.link[leader][follower], true);
    cc_sleep_ms(SEND_FAIL_MS);
    for (int k = 0; k < 2; k++) top = ct_cluster_commit_note(&fx.cl, leader, &fx.nonce, COMMIT_HTTP_MS, NULL);
    assert_true(top > 0);

    ct_proxy_set_cut(fx.mesh.proxy, fx.mesh.link[leader][follower], false);
    ct_proxy_set_cut(fx.mesh.proxy, fx.mesh.link[follower][leader], false);
    top = ct_cluster_commit_note(&fx.cl, leader, &fx.nonce, COMMIT_HTTP_MS, NULL);
    assert_true(top > 0);
    if (ct_wait_height(fx.cl.node[follower].url, (uint64_t)top, CATCH_UP_MS) != 0) {
        ct_cluster_print_status(&fx.cl);
        ct_cluster_dump_logs(&fx.cl);
        fail_msg("node%d stayed at height %lld after the links healed; the leader is at %lld", follower + 1,
                 (long long)ct_status_height(fx.cl.node[follower].url), (long long)top);
    }
}

static void test_a_follower_whose_answers_were_lost_catches_up(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int follower = ct_cluster_follower(&fx.cl, leader);
    /* the follower snapshots far more often than the leader, so that its
     * snapshot passes the leader's */
    assert_int_equal(ct_cluster_stop_node(&fx.cl, follower, SIGTERM, NODE_START_MS), 0);
    assert_int_equal(
        ct_node_config_snapshots(fx.cl.net.node_dirs[follower], FOLLOWER_THRESHOLD, FOLLOWER_TRAILING), 0);
    assert_int_equal(ct_cluster_start_node(&fx.cl, follower, NODE_START_MS), 0);
    assert_true(ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS) == leader);
    assert_true(ct_cluster_commit_note(&fx.cl, leader, &fx.nonce, COMMIT_HTTP_MS, NULL) > 0);
    long before = ct_metric(fx.cl.node[follower].url, "carechain_raft_answers_corrected_total");
    assert_true(before >= 0);

    /* Whether the leader's last snapshot falls far enough behind the
     * follower's depends on where each stood when the links healed: a
     * round does not always get there, and the case is counted by the
     * follower's corrected answers. */
    long after = before;
    int round = 0;
    while (after == before && round < ROUNDS) {
        round++;
        lose_answers(leader, follower);
        after = ct_metric(fx.cl.node[follower].url, "carechain_raft_answers_corrected_total");
    }
    fprintf(stderr, "node%d caught up after each of %d rounds; answers corrected %ld -> %ld\n", follower + 1,
            round, before, after);
    assert_true(ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS) == leader);
    json_t *a = ct_cluster_status(&fx.cl, leader), *b = ct_cluster_status(&fx.cl, follower);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ct_json_int(a, "height"), ct_json_int(b, "height"));
    assert_string_equal(ct_json_str(a, "head_hash"), ct_json_str(b, "head_hash"));
    json_decref(a);
    json_decref(b);
    if (after == before) {
        fprintf(stderr,
                "[  SKIPPED ] in %d rounds the leader's snapshot never fell behind the follower's "
                "far enough for libraft to refuse it, so the correction was not reached\n",
                ROUNDS);
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_follower_whose_answers_were_lost_catches_up),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
