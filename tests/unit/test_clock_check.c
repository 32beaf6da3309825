/*
 * test_clock_check.c — the check of this node's clock against its peers'
 * (src/node/clock_check.c): off only when a majority of the voters, this
 * node apart, read beyond the limit on one side (ahead or behind, the
 * reading's error allowed for); stale readings and networks of two decide
 * nothing; the skew is against the middle clock; the peer a leader hands on
 * to; how a reading is recorded; and the network's time a node whose clock
 * is off reads instead of its own.
 */
#include "unit_support.h"

#include "carechain/os.h"
#include "node/clock_check.h"

#define NOW 1000000u /* monotonic ms of the checks */

/* A reading of peer `name` with offset and round trip, age ms old. */
static cc_clock_reading reading(const char *name, int64_t offset, uint64_t rtt, uint64_t age)
{
    cc_clock_reading r = {.offset_ms = offset, .rtt_ms = rtt, .at_ms = NOW - age};
    snprintf(r.peer, sizeof r.peer, "%s", name);
    return r;
}

static void test_a_clock_a_majority_reads_far_off_is_off(void **state)
{
    (void)state;
    /* both peers read 5 s behind this node: its clock is ahead */
    cc_clock_reading ahead[] = {reading("a", -5000, 2, 100), reading("b", -4990, 2, 300)};
    cc_clock_verdict v = cc_clock_judge(ahead, 2, 3, NOW);
    assert_true(v.known);
    assert_true(v.off);
    assert_int_equal(v.fresh, 2);
    assert_int_equal(v.skew_ms, 4990); /* against the middle of {0, -5000, -4990} */

    /* both read ahead: this node's clock is behind */
    cc_clock_reading behind[] = {reading("a", 3000, 2, 100), reading("b", 2000, 2, 100)};
    v = cc_clock_judge(behind, 2, 3, NOW);
    assert_true(v.off);
    assert_int_equal(v.skew_ms, -2000);

    /* five voters: three of four peers suffice, two do not */
    cc_clock_reading five[] = {reading("a", -5000, 2, 100), reading("b", -5000, 2, 100),
                               reading("c", -5000, 2, 100), reading("d", 0, 2, 100)};
    assert_true(cc_clock_judge(five, 4, 5, NOW).off);
    five[2].offset_ms = 0;
    v = cc_clock_judge(five, 4, 5, NOW);
    assert_false(v.off);
    assert_int_equal(v.skew_ms, 0); /* the middle of {-5000, -5000, 0, 0, 0} */
}

static void test_one_outlier_or_a_split_is_not_this_node(void **state)
{
    (void)state;
    /* one peer's clock is wrong: the other agrees with this node */
    cc_clock_reading one[] = {reading("a", -5000, 2, 100), reading("b", 20, 2, 100)};
    cc_clock_verdict v = cc_clock_judge(one, 2, 3, NOW);
    assert_true(v.known);
    assert_false(v.off);
    assert_int_equal(v.skew_ms, 0);
    assert_string_equal(v.prefer, "");

    /* one reads ahead, one behind: this node is the middle clock */
    cc_clock_reading split[] = {reading("a", -5000, 2, 100), reading("b", 5000, 2, 100)};
    v = cc_clock_judge(split, 2, 3, NOW);
    assert_false(v.off);
    assert_int_equal(v.skew_ms, 0);

    /* within the limit either way */
    cc_clock_reading near[] = {reading("a", -900, 2, 100), reading("b", -999, 2, 100)};
    assert_false(cc_clock_judge(near, 2, 3, NOW).off);
}

static void test_the_reading_error_is_allowed_for(void **state)
{
    (void)state;
    /* 1,100 ms behind, read in a 300 ms round trip: perhaps only 950 */
    cc_clock_reading slow[] = {reading("a", -1100, 300, 100), reading("b", -1100, 300, 100)};
    assert_false(cc_clock_judge(slow, 2, 3, NOW).off);
    slow[0].rtt_ms = slow[1].rtt_ms = 100; /* at least 1,050 */
    assert_true(cc_clock_judge(slow, 2, 3, NOW).off);
}

static void test_too_few_readings_decide_nothing(void **state)
{
    (void)state;
    cc_clock_verdict v = cc_clock_judge(NULL, 0, 3, NOW);
    assert_false(v.known);
    assert_false(v.off);
    assert_int_equal(v.skew_ms, 0);

    /* one peer's reading is too old: the one left cannot outvote this node */
    cc_clock_reading stale[] = {reading("a", -5000, 2, 100), reading("b", -5000, 2, CC_CLOCK_FRESH_MS + 1)};
    v = cc_clock_judge(stale, 2, 3, NOW);
    assert_int_equal(v.fresh, 1);
    assert_false(v.off);

    /* two nodes: neither can tell which clock is wrong */
    cc_clock_reading pair[] = {reading("a", -60000, 2, 100)};
    v = cc_clock_judge(pair, 1, 2, NOW);
    assert_false(v.off);
    assert_int_equal(v.skew_ms, 30000); /* the middle of two clocks is between them */

    /* a solo node has nothing to compare */
    assert_false(cc_clock_judge(NULL, 0, 1, NOW).known);
}

static void test_the_peer_to_hand_leadership_to(void **state)
{
    (void)state;
    /* four peers of five voters read this node 5 s ahead: c's clock is
     * off too; of a and b, near the middle, b was read last; d answered
     * too long ago to count as up */
    cc_clock_reading r[] = {reading("a", -5000, 2, 900), reading("b", -5010, 2, 200),
                            reading("c", -9000, 2, 10), reading("d", -5000, 2, CC_CLOCK_LIVE_MS + 1)};
    cc_clock_verdict v = cc_clock_judge(r, 4, 5, NOW);
    assert_true(v.off);
    assert_string_equal(v.prefer, "b");

    /* none near the middle answers: the nearest that does */
    r[1].at_ms = NOW - CC_CLOCK_LIVE_MS - 1;
    r[0].at_ms = NOW - CC_CLOCK_LIVE_MS - 1;
    v = cc_clock_judge(r, 4, 5, NOW);
    assert_true(v.off);
    assert_string_equal(v.prefer, "c");

    /* none answers lately: no preference */
    r[2].at_ms = NOW - CC_CLOCK_LIVE_MS - 1;
    v = cc_clock_judge(r, 4, 5, NOW);
    assert_true(v.off);
    assert_string_equal(v.prefer, "");
}

static void test_recording_a_reading(void **state)
{
    (void)state;
    cc_clocks c;
    cc_clocks_init(&c);
    /* asked at 10,000, answered at 10,040: the peer read its clock at ~10,020 */
    cc_clocks_record(&c, "a", 15020, 10000, 10040, NOW);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.r[0].offset_ms, 5000);
    assert_int_equal(c.r[0].rtt_ms, 40);
    assert_int_equal(c.r[0].at_ms, NOW);

    /* a newer reading of the same peer replaces it */
    cc_clocks_record(&c, "a", 9000, 10000, 10000, NOW + 1000);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.r[0].offset_ms, -1000);
    assert_int_equal(c.r[0].at_ms, NOW + 1000);

    /* too slow, or this node's clock went back meanwhile: dropped */
    cc_clocks_record(&c, "b", 10000, 10000, 10000 + CC_CLOCK_RTT_MAX_MS + 1, NOW);
    cc_clocks_record(&c, "b", 10000, 10000, 9999, NOW);
    assert_int_equal(c.count, 1);

    cc_clocks_record(&c, "b", 10000, 10000, 10000, NOW);
    cc_clock_verdict v = cc_clocks_verdict(&c, 3, NOW + 1000);
    assert_int_equal(v.fresh, 2);
    assert_false(v.off);

    /* a full table keeps what it has */
    for (int i = 0; i < CC_CLOCK_PEERS_MAX + 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        cc_clocks_record(&c, name, 10000, 10000, 10000, NOW);
    }
    assert_int_equal(c.count, CC_CLOCK_PEERS_MAX);
    assert_string_equal(c.r[0].peer, "a");
    cc_clocks_destroy(&c);
}

static void test_the_network_time(void **state)
{
    (void)state;
    cc_clocks c;
    cc_clocks_init(&c);
    uint64_t mono = cc_mono_ns() / 1000000u;
    /* nothing read, nor the voters known: this node's own clock */
    uint64_t before = cc_now_ms(), t = cc_clocks_now_ms(&c), after = cc_now_ms();
    assert_true(t >= before && t <= after);

    /* both peers read 5 s ahead of this node: the network's time is 5 s on */
    uint64_t now = cc_now_ms();
    cc_clocks_record(&c, "a", now + 5000, now, now, mono);
    cc_clocks_record(&c, "b", now + 5000, now, now, mono);
    cc_clock_verdict v = cc_clocks_verdict(&c, 3, mono);
    assert_true(v.off);
    assert_int_equal(cc_clock_correction(&v), 5000);
    before = cc_now_ms(), t = cc_clocks_now_ms(&c), after = cc_now_ms();
    assert_true(t >= before + 5000 && t <= after + 5000);

    /* one peer within the limit: not off, no correction */
    cc_clocks_record(&c, "b", now + 300, now, now, mono);
    v = cc_clocks_verdict(&c, 3, mono);
    assert_false(v.off);
    assert_int_equal(cc_clock_correction(&v), 0);
    before = cc_now_ms(), t = cc_clocks_now_ms(&c), after = cc_now_ms();
    assert_true(t >= before && t <= after);
    cc_clocks_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_clock_a_majority_reads_far_off_is_off),
        cmocka_unit_test(test_one_outlier_or_a_split_is_not_this_node),
        cmocka_unit_test(test_the_reading_error_is_allowed_for),
        cmocka_unit_test(test_too_few_readings_decide_nothing),
        cmocka_unit_test(test_the_peer_to_hand_leadership_to),
        cmocka_unit_test(test_recording_a_reading),
        cmocka_unit_test(test_the_network_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
