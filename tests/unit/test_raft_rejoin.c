/*
 * test_raft_rejoin.c — a node whose raft state started empty
 * (src/node/raft_rejoin.c): the bound it learns from a leader elected
 * before it started (its first leader_commit covers what was committed)
 * and from one elected after (its first entry of its term does), which
 * vote requests it drops before and after, a newer term starting over and
 * an older one telling nothing, snapshots, when the state ends, and a node
 * that is elected itself.
 */
#include "unit_support.h"

#include "node/raft_rejoin.h"

static struct raft_message vote(raft_term last_log_term, raft_index last_log_index, bool pre_vote)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_REQUEST_VOTE;
    m.request_vote.term = 12;
    m.request_vote.last_log_index = last_log_index;
    m.request_vote.last_log_term = last_log_term;
    m.request_vote.pre_vote = pre_vote;
    return m;
}

/* Does j let libraft see a vote request from a candidate whose log ends
 * at (last_term, last_index)? */
static bool votes_for(cc_raft_rejoin *j, raft_term last_term, raft_index last_index)
{
    struct raft_message v = vote(last_term, last_index, false);
    return !cc_raft_rejoin_refuse(j, &v);
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
    raft_term t[] = {5};
    struct raft_entry e[1];
    struct raft_message a = append(5, 10, 10, 1, t, e);
    assert_true(votes_for(&j, 3, 40));
    cc_raft_rejoin_heard(&j, &a);
    assert_int_equal(j.bound_index, 0);
    assert_false(cc_raft_rejoin_caught_up(&j, 100));
    assert_false(cc_raft_rejoin_led(&j));
    assert_int_equal(j.refused, 0);
}

static void test_before_a_leader_is_heard_only_a_new_candidate_gets_the_vote(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_message pre = vote(300, 9, true);
    assert_true(votes_for(&j, 1, 1)); /* a new or restored network */
    assert_true(votes_for(&j, 0, 0));
    assert_false(votes_for(&j, 2, 2));
    assert_true(cc_raft_rejoin_refuse(&j, &pre)); /* pre-votes too */
    assert_int_equal(j.refused, 2);
    raft_term t[] = {5};
    struct raft_entry e[1];
    struct raft_message a = append(5, 10, 10, 1, t, e);
    assert_false(cc_raft_rejoin_refuse(&j, &a)); /* only vote requests */
}

/* The leader led when this node lost its data: its entries of its term
 * start early, and its commit index covers what was committed. */
static void test_a_leader_from_before_bounds_it_by_its_commit_index(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    struct raft_message heartbeat = append(7, 80, 50, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &heartbeat); /* refused by libraft: this log ends at 1 */
    assert_int_equal(j.bound_index, 0);   /* no entry of term 7 seen yet */
    assert_false(cc_raft_rejoin_caught_up(&j, 100));
    raft_term t[] = {3, 3, 7};
    struct raft_message a = append(7, 1, 52, 3, t, e);
    cc_raft_rejoin_heard(&j, &a);
    assert_int_equal(j.bound_term, 7);
    assert_int_equal(j.bound_index, 50); /* the first leader_commit of the term, past its entry 4 */
    assert_true(votes_for(&j, 7, 50));
    assert_true(votes_for(&j, 8, 10)); /* a later term's entry */
    assert_false(votes_for(&j, 7, 49));
    assert_false(votes_for(&j, 6, 900));
    assert_false(cc_raft_rejoin_caught_up(&j, 49));
    assert_true(cc_raft_rejoin_caught_up(&j, 50));
    assert_false(j.rejoining);
    assert_false(cc_raft_rejoin_caught_up(&j, 60)); /* once */
    assert_true(votes_for(&j, 6, 900));             /* raft's own rule from now on */
}

/* A leader elected after: its commit index may still be short of what was
 * committed, but its own first entry comes after all of it. */
static void test_a_leader_from_after_bounds_it_by_its_own_first_entry(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    raft_term t[] = {6, 6, 9, 9};
    struct raft_message a = append(9, 27, 10, 4, t, e);
    cc_raft_rejoin_heard(&j, &a);
    assert_int_equal(j.bound_term, 9);
    assert_int_equal(j.bound_index, 30);
    assert_false(votes_for(&j, 9, 29));
    assert_true(votes_for(&j, 9, 30));
    assert_false(cc_raft_rejoin_caught_up(&j, 29));
    assert_true(cc_raft_rejoin_caught_up(&j, 30));
}

static void test_a_newer_term_starts_over_an_older_tells_nothing(void **state)
{
    (void)state;
    cc_raft_rejoin j = {.rejoining = true};
    struct raft_entry e[4];
    struct raft_message a = append(7, 3, 50, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &a); /* term 7: a leader_commit, no entry yet */
    struct raft_message b = append(8, 60, 5, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &b);
    assert_int_equal(j.term, 8);
    assert_int_equal(j.leader_commit, 5);
    raft_term t7[] = {7, 7};
    struct raft_message stale = append(7, 1, 2, 2, t7, e);
    cc_raft_rejoin_heard(&j, &stale);
    assert_int_equal(j.own_entry, 0);
    assert_int_equal(j.bound_index, 0);
    raft_term t8[] = {8};
    struct raft_message c = append(8, 60, 5, 1, t8, e);
    cc_raft_rejoin_heard(&j, &c);
    assert_int_equal(j.bound_term, 8);
    assert_int_equal(j.bound_index, 61);
    raft_term t9[] = {9};
    struct raft_message d = append(9, 70, 100, 1, t9, e);
    cc_raft_rejoin_heard(&j, &d); /* the bound, once known, stays */
    assert_int_equal(j.bound_term, 8);
    assert_int_equal(j.bound_index, 61);
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
    assert_int_equal(j.bound_index, 0); /* no leader_commit yet */
    struct raft_entry e[1];
    struct raft_message heartbeat = append(4, 120, 90, 0, NULL, e);
    cc_raft_rejoin_heard(&j, &heartbeat);
    assert_int_equal(j.bound_index, 120);
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
        cmocka_unit_test(test_before_a_leader_is_heard_only_a_new_candidate_gets_the_vote),
        cmocka_unit_test(test_a_leader_from_before_bounds_it_by_its_commit_index),
        cmocka_unit_test(test_a_leader_from_after_bounds_it_by_its_own_first_entry),
        cmocka_unit_test(test_a_newer_term_starts_over_an_older_tells_nothing),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_a_node_elected_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
