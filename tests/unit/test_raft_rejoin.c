/*
 * test_raft_rejoin.c — a node whose raft state started empty
 * (src/node/raft_rejoin.c): which vote requests it drops, and when it has
 * caught up: a leader elected before it started (its first leader_commit
 * covers what was committed), one elected after (its first entry of its
 * term does), a newer term starting over, an older one telling nothing,
 * snapshots, and a node that is elected itself.
 */
#include "unit_support.h"

#include "node/raft_rejoin.h"

static struct raft_message vote(raft_index last_log_index, bool pre_vote)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_REQUEST_VOTE;
    m.request_vote.term = 9;
    m.request_vote.last_log_index = last_log_index;
    m.request_vote.last_log_term = 3;
    m.request_vote.pre_vote = pre_vote;
    return m;
}

/* An AppendEntries of leader term `term` after prev, its entries of the
 * terms given (n of them, at most 4). */
static struct raft_message append(raft_term term, raft_index prev, raft_index leader_commit, unsigned n,
                                  const raft_term *terms, struct raft_entry *store)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_APPEND_ENTRIES;
    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.leader_commit = leader_commit;
    memset(store, 0, sizeof *store * n);
    for (unsigned i = 0; i < n; i++) store[i].term = terms[i];
    m.append_entries.entries = n ? store : NULL;
    m.append_entries.n_entries = n;
    return m;
}

static struct raft_message snapshot(raft_term term, raft_index last_index, raft_term last_term)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_INSTALL_SNAPSHOT;
    m.install_snapshot.term = term;
    m.install_snapshot.last_index = last_index;
    m.install_snapshot.last_term = last_term;
    return m;
}

static void test_a_settled_node_drops_nothing(void **state)
{
    (void)state;
    cc_raft_rejoin j = {0};
    struct raft_message v = vote(40, false);
    raft_term t[] = {5};
    struct raft_entry e[1];
    struct raft_message a = append(5, 10, 10, 1, t, e);
    assert_false(cc_raft_rejoin_refuse(&j, &v));
    cc_raft_rejoin_heard(&j, &a);
    assert_false(cc_raft_rejoin_caught_up(&j, 100));
    assert_false(cc_raft_rejoin_led(&j));
    assert_int_equal(j.refused, 0);
}

static void test_it_votes_only_for_a_candidate_as_new_as_itself(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_message fresh = vote(1, false), empty = vote(0, true), history = vote(2, false),
                        history_pre = vote(300, true);
    assert_false(cc_raft_rejoin_refuse(&j, &fresh)); /* a new or restored network */
    assert_false(cc_raft_rejoin_refuse(&j, &empty));
    assert_true(cc_raft_rejoin_refuse(&j, &history));
    assert_true(cc_raft_rejoin_refuse(&j, &history_pre));
    assert_int_equal(j.refused, 2);
    raft_term t[] = {5};
    struct raft_entry e[1];
    struct raft_message a = append(5, 10, 10, 1, t, e);
    assert_false(cc_raft_rejoin_refuse(&j, &a)); /* only vote requests */
}

/* The leader led when this node lost its data: its entries of its term
 * start early, and its commit index covers what was committed. */
static void test_a_leader_from_before_needs_its_commit_index(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    struct raft_message heartbeat = append(7, 80, 50, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &heartbeat);            /* refused by libraft: this log ends at 1 */
    assert_false(cc_raft_rejoin_caught_up(&j, 100)); /* no entry of term 7 seen yet */
    raft_term t[] = {3, 3, 7};
    struct raft_message a = append(7, 1, 52, 3, t, e);
    cc_raft_rejoin_heard(&j, &a);
    assert_int_equal(j.own_entry, 4);
    assert_int_equal(j.leader_commit, 50); /* the first one of the term */
    assert_false(cc_raft_rejoin_caught_up(&j, 4));
    assert_false(cc_raft_rejoin_caught_up(&j, 49));
    assert_true(cc_raft_rejoin_caught_up(&j, 50));
    assert_false(j.rejoining);
    assert_false(cc_raft_rejoin_caught_up(&j, 60)); /* once */
    struct raft_message v = vote(90, false);
    assert_false(cc_raft_rejoin_refuse(&j, &v));
}

/* A leader elected after: its commit index may still be short of what was
 * committed, but its own first entry comes after all of it. */
static void test_a_leader_from_after_needs_its_own_first_entry(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    raft_term t[] = {6, 6, 9, 9};
    struct raft_message a = append(9, 27, 10, 4, t, e);
    cc_raft_rejoin_heard(&j, &a);
    assert_int_equal(j.own_entry, 30);
    assert_false(cc_raft_rejoin_caught_up(&j, 29));
    assert_true(cc_raft_rejoin_caught_up(&j, 30));
}

static void test_a_newer_term_starts_over_an_older_tells_nothing(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    raft_term t7[] = {7};
    struct raft_message a = append(7, 3, 50, 1, t7, e);
    cc_raft_rejoin_heard(&j, &a); /* needs 50 */
    raft_term t8[] = {8};
    struct raft_message b = append(8, 60, 5, 1, t8, e);
    cc_raft_rejoin_heard(&j, &b); /* needs 61 */
    assert_int_equal(j.term, 8);
    assert_int_equal(j.leader_commit, 5);
    assert_int_equal(j.own_entry, 61);
    raft_term t7b[] = {7, 7};
    struct raft_message stale = append(7, 1, 2, 2, t7b, e);
    cc_raft_rejoin_heard(&j, &stale);
    assert_int_equal(j.term, 8);
    assert_int_equal(j.own_entry, 61);
    assert_false(cc_raft_rejoin_caught_up(&j, 55)); /* enough for term 7, not for 8 */
    assert_true(cc_raft_rejoin_caught_up(&j, 61));
}

static void test_snapshots(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_message older = snapshot(4, 100, 3); /* ends before the leader's term: tells nothing */
    cc_raft_rejoin_heard(&j, &older);
    assert_int_equal(j.own_entry, 0);
    struct raft_message own = snapshot(4, 120, 4); /* holds the leader's first entry of term 4 */
    cc_raft_rejoin_heard(&j, &own);
    assert_int_equal(j.own_entry, 120);
    assert_false(cc_raft_rejoin_caught_up(&j, 120)); /* no leader_commit yet */
    struct raft_entry e[1];
    struct raft_message heartbeat = append(4, 120, 90, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &heartbeat);
    assert_false(cc_raft_rejoin_caught_up(&j, 119));
    assert_true(cc_raft_rejoin_caught_up(&j, 120));
}

static void test_a_node_elected_itself(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    assert_true(cc_raft_rejoin_led(&j));
    assert_false(j.rejoining);
    assert_false(cc_raft_rejoin_led(&j));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_settled_node_drops_nothing),
        cmocka_unit_test(test_it_votes_only_for_a_candidate_as_new_as_itself),
        cmocka_unit_test(test_a_leader_from_before_needs_its_commit_index),
        cmocka_unit_test(test_a_leader_from_after_needs_its_own_first_entry),
        cmocka_unit_test(test_a_newer_term_starts_over_an_older_tells_nothing),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_a_node_elected_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
