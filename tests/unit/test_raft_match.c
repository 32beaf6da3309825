/*
 * test_raft_match.c — the correction of libraft 0.15's answers to
 * AppendEntries (src/node/raft_match.c), fed the messages a follower
 * receives and sends: the case the simulation found (a stale tail of an
 * older term past what the leader sent), requests accepted now and after
 * a write, refusals (whatever the reason), snapshots, a new leader's term,
 * messages it ignores, and the refusal of an entry this node's snapshot
 * replaced (the simulation's seed 52977).
 */
#include "unit_support.h"

#include "node/raft_match.h"

static struct raft_message append(raft_term term, raft_index prev, unsigned n)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_APPEND_ENTRIES;
    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.prev_log_term = term;
    m.append_entries.n_entries = n;
    return m;
}

static struct raft_message snapshot(raft_term term, raft_index last)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_INSTALL_SNAPSHOT;
    m.install_snapshot.term = term;
    m.install_snapshot.last_index = last;
    return m;
}

static struct raft_message answer(raft_term term, raft_index rejected, raft_index last)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_APPEND_ENTRIES_RESULT;
    m.append_entries_result.term = term;
    m.append_entries_result.rejected = rejected;
    m.append_entries_result.last_log_index = last;
    return m;
}

/* libraft handles in while it answers with out (or, with out NULL, answers
 * nothing then): the last_log_index that goes out, or 0 for none. */
static raft_index handle(cc_raft_match *m, struct raft_message in, const struct raft_message *out)
{
    struct raft_message fixed;
    raft_index sent = 0;
    cc_raft_match_received(m, &in);
    if (out)
        sent = cc_raft_match_answer(m, out, 0, &fixed) ? fixed.append_entries_result.last_log_index
                                                       : out->append_entries_result.last_log_index;
    cc_raft_match_handled(m);
    return sent;
}

/* An answer libraft sends later (after a write): what goes out. */
static raft_index later(cc_raft_match *m, struct raft_message out)
{
    struct raft_message fixed;
    return cc_raft_match_answer(m, &out, 0, &fixed) ? fixed.append_entries_result.last_log_index
                                                    : out.append_entries_result.last_log_index;
}

/* The simulation's case: the follower holds 1..5, 4..5 of an older term; a
 * leader of term 3 whose log ends at 3 sends a heartbeat after 3, libraft
 * accepts it and answers 5, the end of its whole log, and the leader would
 * count 4..5 as its own. */
static void test_a_stale_tail_is_not_claimed(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    struct raft_message out = answer(3, 0, 5);
    assert_int_equal(handle(&m, append(3, 3, 0), &out), 3);
    assert_int_equal(m.clamped, 1);
    /* the leader then sends 4..6 of its own, written before the answer: it
     * overwrote the tail, and an answer up to 6 is true */
    assert_int_equal(handle(&m, append(3, 3, 3), NULL), 0);
    assert_int_equal(later(&m, answer(3, 0, 6)), 6);
    assert_int_equal(later(&m, answer(3, 0, 9)), 6);
    assert_int_equal(m.clamped, 2);
}

static void test_true_answers_and_refusals_pass(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    struct raft_message out = answer(2, 0, 4);
    assert_int_equal(handle(&m, append(2, 2, 2), &out), 4); /* entries it already had */
    assert_int_equal(later(&m, answer(2, 0, 3)), 3);        /* less */
    assert_int_equal(later(&m, answer(2, 7, 9)), 9);        /* a refusal says something else */
    assert_int_equal(later(&m, answer(5, 0, 9)), 9);        /* a later term: the leader steps down */
    struct raft_message vote;
    memset(&vote, 0, sizeof vote);
    vote.type = RAFT_IO_REQUEST_VOTE;
    vote.request_vote.term = 6;
    cc_raft_match_received(&m, &vote); /* not a request that extends the log */
    cc_raft_match_handled(&m);
    assert_int_equal(m.term, 2);
    assert_int_equal(m.matched, 4);
    assert_int_equal(m.clamped, 0);
}

/* A request libraft refuses reaches nothing, whatever it names and whatever
 * the reason: a log that does not match, or (the case that mattered in the
 * simulation's seed 11117) a request whose previous entry the follower
 * held, refused after an InstallSnapshot. */
static void test_a_refused_request_claims_nothing(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    struct raft_message out = answer(9, 0, 56);
    assert_int_equal(handle(&m, append(9, 56, 0), &out), 56);
    out = answer(9, 49, 56);
    assert_int_equal(handle(&m, append(9, 49, 9), &out), 56); /* refused: 58 is not reached */
    assert_int_equal(m.matched, 56);
    assert_int_equal(later(&m, answer(9, 0, 58)), 56);
    /* a new leader whose first request does not match: nothing matches yet */
    out = answer(10, 60, 58);
    assert_int_equal(handle(&m, append(10, 60, 0), &out), 58);
    assert_int_equal(m.term, 10);
    assert_int_equal(m.matched, 0);
    assert_int_equal(later(&m, answer(10, 0, 58)), 0);
}

/* A snapshot is installed before it is answered: it reaches its last
 * index, and the answers after it are true. */
static void test_snapshots(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    assert_int_equal(handle(&m, snapshot(3, 20), NULL), 0);
    assert_int_equal(m.matched, 20);
    assert_int_equal(later(&m, answer(3, 0, 20)), 20);
    assert_int_equal(later(&m, answer(3, 0, 22)), 20);
    assert_int_equal(handle(&m, append(3, 20, 2), NULL), 0);
    assert_int_equal(later(&m, answer(3, 0, 22)), 22);
}

/* What a leader of an earlier term matched says nothing about a new one;
 * a late request of an older term changes nothing. */
static void test_a_new_term_starts_over(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    struct raft_message out = answer(2, 0, 6);
    assert_int_equal(handle(&m, append(2, 6, 0), &out), 6);
    out = answer(3, 0, 6);
    assert_int_equal(handle(&m, append(3, 2, 0), &out), 2);
    assert_int_equal(m.term, 3);
    out = answer(3, 7, 6); /* the old leader, late: refused in term 3 */
    assert_int_equal(handle(&m, append(2, 6, 0), &out), 6);
    assert_int_equal(m.term, 3);
    assert_int_equal(m.matched, 2);
    assert_int_equal(later(&m, answer(3, 0, 6)), 2);
}

/* libraft refuses in, answering out, on a node whose snapshot replaces
 * entries through snapshot_index: what goes out. */
static struct raft_message refused(cc_raft_match *m, struct raft_message in, struct raft_message out,
                                   raft_index snapshot_index)
{
    struct raft_message fixed;
    cc_raft_match_received(m, &in);
    bool changed = cc_raft_match_answer(m, &out, snapshot_index, &fixed);
    cc_raft_match_handled(m);
    return changed ? fixed : out;
}

/* The simulation's seed 52977: the leader knows this node only up to 53
 * (its answers were lost) while this node went on to 64 and a snapshot
 * there. libraft refuses prev 54, an entry the snapshot replaced, and the
 * leader never got past it. The refusal goes out as an acceptance up to
 * the snapshot; a refusal that tells of a newer term, of an entry past the
 * snapshot, or on a node with none, goes out as it is. */
static void test_a_refused_entry_the_snapshot_holds_is_accepted(void **state)
{
    (void)state;
    cc_raft_match m = {0};
    struct raft_message out = refused(&m, append(5, 54, 12), answer(5, 54, 64), 64);
    assert_int_equal(out.append_entries_result.rejected, 0);
    assert_int_equal(out.append_entries_result.last_log_index, 64);
    assert_int_equal(out.append_entries_result.term, 5);
    assert_int_equal(m.clamped, 1);
    /* the leader goes on after 64: accepted, and claimed in full */
    struct raft_message next = answer(5, 0, 66);
    assert_int_equal(handle(&m, append(5, 64, 2), &next), 66);
    assert_int_equal(m.clamped, 1);

    cc_raft_match n = {0};
    out = refused(&n, append(5, 54, 12), answer(6, 54, 64), 64); /* a newer term: the leader steps down */
    assert_int_equal(out.append_entries_result.rejected, 54);
    out = refused(&n, append(6, 70, 1), answer(6, 70, 64), 64); /* past the snapshot: a real gap */
    assert_int_equal(out.append_entries_result.rejected, 70);
    out = refused(&n, append(6, 64, 1), answer(6, 64, 64), 64); /* at it: libraft knows its term */
    assert_int_equal(out.append_entries_result.rejected, 64);
    out = refused(&n, append(6, 54, 1), answer(6, 54, 64), 0); /* no snapshot */
    assert_int_equal(out.append_entries_result.rejected, 54);
    assert_int_equal(n.clamped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_stale_tail_is_not_claimed),
        cmocka_unit_test(test_true_answers_and_refusals_pass),
        cmocka_unit_test(test_a_refused_request_claims_nothing),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_a_new_term_starts_over),
        cmocka_unit_test(test_a_refused_entry_the_snapshot_holds_is_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
