/*
 * test_raft_match.c — the correction of libraft 0.15's answers to
 * AppendEntries (src/node/raft_match.c) on a follower whose log is built by
 * hand: the case the simulation found (a stale tail of an older term past
 * what the leader sent), answers that need nothing, refusals, snapshots,
 * requests that do not match, and a new leader's term.
 */
#include "unit_support.h"

#include "node/raft_match.h"

/* A follower whose log holds entries 1..n of the given terms after a
 * snapshot ending at offset (term snap_term). */
typedef struct follower {
    struct raft r;
    struct raft_entry entries[16];
} follower;

static void follower_init(follower *f, raft_index offset, raft_term snap_term, const raft_term *terms,
                          size_t n)
{
    memset(f, 0, sizeof *f);
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) f->entries[i].term = terms[i];
    f->r.log.entries = f->entries;
    f->r.log.size = 16;
    f->r.log.front = 0;
    f->r.log.back = n;
    f->r.log.offset = offset;
    f->r.log.snapshot.last_index = offset;
    f->r.log.snapshot.last_term = snap_term;
}

static struct raft_message append(raft_term term, raft_index prev, raft_term prev_term, unsigned n)
{
    struct raft_message m;
    memset(&m, 0, sizeof m);
    m.type = RAFT_IO_APPEND_ENTRIES;
    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.prev_log_term = prev_term;
    m.append_entries.n_entries = n;
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

static void test_log_terms(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {2, 2, 3};
    follower_init(&f, 10, 1, terms, 3);
    assert_int_equal(cc_raft_log_term(&f.r, 0), 0);
    assert_true(cc_raft_log_term(&f.r, 9) == CC_RAFT_TERM_COMPACTED);
    assert_int_equal(cc_raft_log_term(&f.r, 10), 1); /* the snapshot's own last entry */
    assert_int_equal(cc_raft_log_term(&f.r, 11), 2);
    assert_int_equal(cc_raft_log_term(&f.r, 13), 3);
    assert_int_equal(cc_raft_log_term(&f.r, 14), 0);
}

/* The simulation's case: entries 4..5 are from term 2, a leader of term 3
 * whose log ends at 3 sends a heartbeat after 3; libraft answers with 5,
 * the end of its whole log, and the leader would count 4..5 as its own. */
static void test_a_stale_tail_is_not_claimed(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {1, 1, 1, 2, 2};
    follower_init(&f, 0, 0, terms, 5);
    cc_raft_match m = {0};
    struct raft_message in = append(3, 3, 1, 0), out = answer(3, 0, 5), fixed;
    cc_raft_match_received(&m, &f.r, &in);
    assert_true(cc_raft_match_answer(&m, &out, &fixed));
    assert_int_equal(fixed.append_entries_result.last_log_index, 3);
    assert_int_equal(fixed.append_entries_result.term, 3);
    assert_int_equal(fixed.append_entries_result.rejected, 0);
    assert_int_equal(m.clamped, 1);

    /* the leader then sends 4..6 of its own: they overwrite the tail, and
     * an answer up to 6 is true */
    in = append(3, 3, 1, 3);
    cc_raft_match_received(&m, &f.r, &in);
    out = answer(3, 0, 6);
    assert_false(cc_raft_match_answer(&m, &out, &fixed));
    assert_int_equal(m.clamped, 1);
}

static void test_true_answers_and_refusals_pass(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {1, 1, 2, 2};
    follower_init(&f, 0, 0, terms, 4);
    cc_raft_match m = {0};
    struct raft_message in = append(2, 2, 1, 2), out, fixed;
    cc_raft_match_received(&m, &f.r, &in);
    out = answer(2, 0, 4); /* exactly what matched */
    assert_false(cc_raft_match_answer(&m, &out, &fixed));
    out = answer(2, 0, 3); /* less */
    assert_false(cc_raft_match_answer(&m, &out, &fixed));
    out = answer(2, 7, 4); /* a refusal says something else */
    assert_false(cc_raft_match_answer(&m, &out, &fixed));
    out = answer(5, 0, 9); /* a later term than any request: the leader steps down on it */
    assert_false(cc_raft_match_answer(&m, &out, &fixed));
    struct raft_message vote;
    memset(&vote, 0, sizeof vote);
    vote.type = RAFT_IO_REQUEST_VOTE_RESULT;
    assert_false(cc_raft_match_answer(&m, &vote, &fixed));
    assert_int_equal(m.clamped, 0);
}

/* A request whose previous entry the follower does not hold is refused by
 * raft: it says nothing about what matches, even in a new term. */
static void test_a_request_that_does_not_match_claims_nothing(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {1, 1, 2, 2, 2};
    follower_init(&f, 0, 0, terms, 5);
    cc_raft_match m = {0};
    struct raft_message in = append(4, 4, 3, 0), out = answer(4, 0, 5), fixed;
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.term, 4);
    assert_int_equal(m.matched, 0);
    assert_true(cc_raft_match_answer(&m, &out, &fixed));
    assert_int_equal(fixed.append_entries_result.last_log_index, 0);
    /* beyond the log */
    in = append(4, 9, 2, 1);
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 0);
    /* then one that matches */
    in = append(4, 2, 1, 0);
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 2);
}

/* A snapshot reaches its last index; an entry inside the follower's own
 * snapshot was committed, so a request after it matches. */
static void test_snapshots(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {3, 3};
    follower_init(&f, 20, 2, terms, 2);
    cc_raft_match m = {0};
    struct raft_message in, out, fixed;
    memset(&in, 0, sizeof in);
    in.type = RAFT_IO_INSTALL_SNAPSHOT;
    in.install_snapshot.term = 3;
    in.install_snapshot.last_index = 20;
    in.install_snapshot.last_term = 2;
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 20);
    out = answer(3, 0, 22);
    assert_true(cc_raft_match_answer(&m, &out, &fixed));
    assert_int_equal(fixed.append_entries_result.last_log_index, 20);
    in = append(3, 15, 1, 6); /* prev inside the snapshot: its term is not kept */
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 21);
    in = append(3, 20, 2, 2); /* the snapshot's own last entry */
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 22);
}

/* What matched a leader of an earlier term says nothing about a new one;
 * a request of an older term changes nothing. */
static void test_a_new_term_starts_over(void **state)
{
    (void)state;
    follower f;
    const raft_term terms[] = {1, 1, 1, 1, 1, 1};
    follower_init(&f, 0, 0, terms, 6);
    cc_raft_match m = {0};
    struct raft_message in = append(2, 6, 1, 0), out, fixed;
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.matched, 6);
    in = append(3, 2, 1, 0);
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.term, 3);
    assert_int_equal(m.matched, 2);
    in = append(2, 6, 1, 0); /* the old leader, late */
    cc_raft_match_received(&m, &f.r, &in);
    assert_int_equal(m.term, 3);
    assert_int_equal(m.matched, 2);
    out = answer(3, 0, 6);
    assert_true(cc_raft_match_answer(&m, &out, &fixed));
    assert_int_equal(fixed.append_entries_result.last_log_index, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_terms),
        cmocka_unit_test(test_a_stale_tail_is_not_claimed),
        cmocka_unit_test(test_true_answers_and_refusals_pass),
        cmocka_unit_test(test_a_request_that_does_not_match_claims_nothing),
        cmocka_unit_test(test_snapshots),
        cmocka_unit_test(test_a_new_term_starts_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
