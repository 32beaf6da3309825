/*
 * test_raft_clock.c — a node whose clock is wrong never dates a block.
 *
 * Three nodes; node3 runs the test-only binary (build/carechain-faults)
 * with CARECHAIN_TEST_CLOCK_OFFSET_MS, so its wall clock reads 5 s ahead
 * of the others', as a node with a broken time source. Without the clock
 * check, the first block it proposed as leader was dated 5 s ahead of the
 * other two nodes' clocks, and both halted on it (a follower refuses a
 * block dated more than 2 s ahead: docs/CONSENSUS.md "The apply path").
 *
 * Each node reads its peers' clocks (clock_check.h): node3's status must
 * say its clock is ~5 s ahead and off, node1's that its own is fine. Then
 * the leader is paused (SIGSTOP) round after round, so that node3 is
 * elected in some of them (it is, in about half): it must hand leadership
 * on at once. Through every round notes sent to node3 commit; at the end
 * no block was proposed by node3, none is dated after the test's own
 * clock, no node halted or refused a block, and all agree. The same with
 * node3's clock 5 s behind, where it used to halt on every block a right
 * clock dated (more than 2 s ahead of its own): it judges them by the
 * network's time, from the block it applies right after its start on.
 * Started again with a right clock, node3 is no longer off.
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

#define NODES         3
#define SKEWED        2    /* node3 */
#define OFFSET_MS     5000 /* node3's clock this far ahead */
#define READ_ERROR_MS 500  /* what a reading of the offset may be off by on a busy machine */
#define NODE_START_MS 20000
#define LEADER_MS     20000
#define CLOCK_MS      15000 /* the peers' clocks are read within this */
#define PAUSE_MS      20000 /* a paused leader is replaced within this */
#define HANDOFF_MS    15000 /* node3, elected, hands leadership on within this */
#define SYNC_MS       30000
#define STOP_MS       20000
#define VERIFY_MS     60000
#define REQUEST_MS    30000
#define MAX_ROUNDS    14 /* 1 in ~16,000 that node3 is never elected */
#define MIN_ROUNDS    3
#define POLL_MS       50
#define STATUS_MS     3000

typedef struct fixture {
    ct_cluster cl;
    uint64_t nonce;
    char skewed_id[CC_HASH_HEX];
} fixture;

static fixture fx;

/* Node i's status "clock" object (a new reference), or NULL. */
static json_t *clock_of(int i)
{
    json_t *st = ct_cluster_status(&fx.cl, i);
    json_t *c = json_incref(json_object_get(st, "clock"));
    json_decref(st);
    return c;
}

/* Wait until node i's clock check knows its clock and says it is off or
 * not (off), with a skew within READ_ERROR_MS of skew_ms. */
static bool wait_clock(int i, bool off, int64_t skew_ms)
{
    uint64_t deadline = ct_now_ms() + CLOCK_MS;
    json_t *c = NULL;
    do {
        json_decref(c);
        c = clock_of(i);
        int64_t skew = ct_json_int(c, "skew_ms");
        if (json_is_true(json_object_get(c, "known")) && json_is_boolean(json_object_get(c, "off")) &&
            json_is_true(json_object_get(c, "off")) == off && skew > skew_ms - READ_ERROR_MS &&
            skew < skew_ms + READ_ERROR_MS) {
            json_decref(c);
            return true;
        }
        usleep(POLL_MS * 1000);
    } while (ct_now_ms() < deadline);
    char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
    fprintf(stderr, "node%d's clock check: %s (want off=%d, skew ~%lld ms)\n", i + 1, s ? s : "no answer",
            off, (long long)skew_ms);
    free(s);
    json_decref(c);
    return false;
}

/* A leader other than node3 agreed by every node not left out, within
 * timeout_ms; -1 otherwise. node3 may lead for a moment between. */
static int wait_other_leader(unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        int l = ct_cluster_leader_now(&fx.cl);
        if (l >= 0 && l != SKEWED) return l;
        usleep(POLL_MS * 1000);
    } while (ct_now_ms() < deadline);
    ct_cluster_print_status(&fx.cl);
    return -1;
}

/* The nodes not left out that say they halted (each named on stderr). */
static int halted_nodes(void)
{
    int halted = 0;
    for (int i = 0; i < NODES; i++) {
        if (fx.cl.out[i]) continue;
        json_t *st = ct_cluster_status(&fx.cl, i);
        if (json_is_true(json_object_get(st, "halted"))) {
            fprintf(stderr, "node%d halted: %s\n", i + 1, ct_json_str(st, "halt_reason"));
            halted++;
        }
        json_decref(st);
    }
    return halted;
}

/* Every block of node i: none proposed by node3, none dated after now_ms.
 * The number of blocks read, or -1. */
static int64_t check_blocks(int i, uint64_t now_ms)
{
    json_t *st = ct_cluster_status(&fx.cl, i);
    int64_t height = ct_json_int(st, "height"), bad = 0;
    json_decref(st);
    for (int64_t h = 1; h <= height; h++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/blocks/%lld", (long long)h);
        json_t *b = ct_cluster_get_json(&fx.cl, i, path, REQUEST_MS);
        const json_t *hdr = json_object_get(b, "header") ? json_object_get(b, "header") : b;
        if (!b) return -1;
        if (strcmp(ct_json_str(hdr, "proposer"), fx.skewed_id) == 0) {
            fprintf(stderr, "block %lld was proposed by node3\n", (long long)h);
            bad++;
        }
        if ((uint64_t)ct_json_int(hdr, "time_ms") > now_ms) {
            fprintf(stderr, "block %lld is dated %lld ms after the test's clock\n", (long long)h,
                    (long long)((uint64_t)ct_json_int(hdr, "time_ms") - now_ms));
            bad++;
        }
        json_decref(b);
    }
    return bad ? -1 : height;
}

/* (Re)start node3 with its clock offset_ms off the machine's, or right
 * for 0. */
static int start_skewed(int offset_ms)
{
    return ct_cluster_restart_clocked(&fx.cl, SKEWED, offset_ms, STOP_MS, NODE_START_MS);
}

/* `carechain status` of node3 says its clock is off by `says`. */
static void assert_status_says(const char *says)
{
    char *out = NULL;
    assert_int_equal(ct_cli(&out, REQUEST_MS, "status", "--node", fx.cl.node[SKEWED].url, NULL), 0);
    if (!strstr(out, says)) fprintf(stderr, "%s", out);
    assert_non_null(strstr(out, says));
    free(out);
}

/* Pause the leader round after round (at least MIN_ROUNDS) until node3
 * has been elected and handed leadership on; notes sent to node3 commit
 * in every round, and no node halts. */
static void elect_node3(void)
{
    int rounds = 0;
    for (; rounds < MAX_ROUNDS; rounds++) {
        if (rounds >= MIN_ROUNDS && ct_metric(fx.cl.node[SKEWED].url, "carechain_clock_handoffs_total") > 0)
            break;
        int leader = wait_other_leader(HANDOFF_MS);
        assert_true(leader >= 0);
        assert_true(ct_cluster_commit_note(&fx.cl, SKEWED, &fx.nonce, REQUEST_MS, NULL) > 0);
        /* pause the leader until another is elected: node3 or the third node */
        fx.cl.out[leader] = true;
        assert_int_equal(kill(fx.cl.node[leader].pid, SIGSTOP), 0);
        int next = ct_cluster_wait_any_leader(&fx.cl, NODES, PAUSE_MS);
        assert_true(next >= 0);
        /* at once, whoever leads: node3 must not date the block */
        assert_true(ct_cluster_commit_note(&fx.cl, SKEWED, &fx.nonce, REQUEST_MS, NULL) > 0);
        assert_int_equal(halted_nodes(), 0);
        int other = wait_other_leader(HANDOFF_MS); /* node3, elected, has handed leadership on */
        assert_true(other >= 0);
        assert_int_equal(kill(fx.cl.node[leader].pid, SIGCONT), 0);
        fx.cl.out[leader] = false;
    }
    long handoffs = ct_metric(fx.cl.node[SKEWED].url, "carechain_clock_handoffs_total");
    fprintf(stderr, "node3 handed leadership on %ld times in %d rounds\n", handoffs, rounds);
    assert_true(handoffs > 0);
}

/* Every node agrees, none halted or refused a block, and no block was
 * proposed by node3 or dated after the test's clock. */
static void assert_all_well(void)
{
    assert_true(ct_cluster_commit_note(&fx.cl, SKEWED, &fx.nonce, REQUEST_MS, NULL) > 0);
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, NULL, SYNC_MS));
    uint64_t now = ct_now_ms();
    for (int i = 0; i < NODES; i++) {
        json_t *st = ct_cluster_status(&fx.cl, i);
        assert_false(json_is_true(json_object_get(st, "halted")));
        assert_int_equal(ct_json_int(st, "blocks_refused"), 0);
        json_decref(st);
        assert_true(check_blocks(i, now) > 0);
    }
}

static void test_a_clock_ahead_never_dates_a_block(void **state)
{
    (void)state;
    assert_true(wait_clock(SKEWED, true, OFFSET_MS));
    assert_true(wait_clock(0, false, 0));
    assert_true(wait_clock(1, false, 0));
    assert_status_says("clock is 5.0 s ahead of the other nodes'");
    elect_node3();
    assert_all_well();
}

/* Behind, node3 would halt on every block dated by a right clock (over
 * 2 s ahead of its own); it judges them by the network's time instead,
 * from the first block after its start on. */
static void test_a_clock_behind_follows_without_halting(void **state)
{
    (void)state;
    assert_int_equal(start_skewed(-OFFSET_MS), 0);
    assert_true(ct_cluster_commit_note(&fx.cl, 0, &fx.nonce, REQUEST_MS, NULL) > 0);
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, NULL, SYNC_MS));
    assert_int_equal(halted_nodes(), 0);
    assert_true(wait_clock(SKEWED, true, -OFFSET_MS));
    assert_status_says("clock is 5.0 s behind the other nodes'");
    elect_node3();
    assert_all_well();
}

static void test_a_clock_set_right_is_no_longer_off(void **state)
{
    (void)state;
    assert_int_equal(start_skewed(0), 0);
    assert_true(wait_clock(SKEWED, false, 0));
    assert_true(ct_cluster_commit_note(&fx.cl, SKEWED, &fx.nonce, REQUEST_MS, NULL) > 0);
    assert_true(ct_cluster_wait_converged(&fx.cl, 1, NULL, SYNC_MS));
    assert_int_equal(ct_cluster_stop_all(&fx.cl, SIGTERM, STOP_MS), 0);
    assert_int_equal(ct_cluster_verify_chains(&fx.cl, VERIFY_MS), 0);
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "clock", NODES, NODES) != 0) return -1;
    fx.cl.status_timeout_ms = STATUS_MS; /* a paused node's status is not waited for long */
    for (int i = 0; i < NODES; i++)
        if ((i == SKEWED ? start_skewed(OFFSET_MS) : ct_cluster_start_node(&fx.cl, i, NODE_START_MS)) != 0)
            return -1;
    json_t *st = ct_cluster_status(&fx.cl, SKEWED);
    snprintf(fx.skewed_id, sizeof fx.skewed_id, "%s", ct_json_str(json_object_get(st, "node"), "id"));
    json_decref(st);
    return strlen(fx.skewed_id) == 2 * CC_PUBKEY_BYTES &&
                   ct_cluster_wait_any_leader(&fx.cl, NODES, LEADER_MS) >= 0
               ? 0
               : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy(&fx.cl);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_clock_ahead_never_dates_a_block),
        cmocka_unit_test(test_a_clock_behind_follows_without_halting),
        cmocka_unit_test(test_a_clock_set_right_is_no_longer_off),
    };
    return cmocka_run_group_tests_name("raft_clock", tests, group_setup, group_teardown);
}
