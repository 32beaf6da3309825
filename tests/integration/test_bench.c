/*
 * test_bench.c — `carechain bench` runs end to end, small: on one node and
 * on three raft nodes, every pre-signed tx commits and none is rejected,
 * the latency phases lose nothing, and the report's figures agree with each
 * other (the raw rate it divides by is the faster of its two measurements,
 * the ratio is what it says). Speed is not judged here: that is what the
 * benchmark itself prints (bench/README.md). Bad options exit 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#define BENCH_TIMEOUT_MS 300000
#define BENCH_TXS        "4000"
#define BENCH_TXS_N      4000

/* Run `carechain bench ARGS --json`; the report it printed (caller
 * decrefs). Progress goes to stderr, which ct_cli mixes in before the
 * report: the report is the last line that starts with '{'. */
static json_t *bench_json(const char *nodes)
{
    char *out = NULL;
    int code = ct_cli(&out, BENCH_TIMEOUT_MS, "bench", "--nodes", nodes, "--txs", BENCH_TXS,
                      "--latency-seconds", "1", "--json", (char *)NULL);
    if (code != 0) fail_msg("bench --nodes %s exited %d:\n%s", nodes, code, out ? out : "");
    const char *start = out && out[0] == '{' ? out : NULL;
    for (const char *p = out; p && (p = strstr(p, "\n{")) != NULL; p++) start = p + 1;
    json_error_t err;
    json_t *j = start ? json_loads(start, 0, &err) : NULL;
    if (!j) fail_msg("no JSON report in:\n%s", out ? out : "");
    free(out);
    return j;
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
}

static void assert_close(double got, double want)
{
    if (fabs(got - want) > 1e-6 * fabs(want) + 1e-9) fail_msg("%.9g, expected %.9g", got, want);
}

/* What every report must say, whatever the machine's speed. */
static void check_report(const json_t *j, int64_t nodes)
{
    const json_t *ed = json_object_get(j, "ed25519"), *tp = json_object_get(j, "throughput");
    const json_t *ratio = json_object_get(j, "ratio");
    assert_non_null(ed);
    assert_non_null(tp);
    assert_non_null(ratio);
    assert_int_equal(ct_json_int(j, "txs"), BENCH_TXS_N);
    int64_t cores = ct_json_int(j, "cores");
    assert_true(cores >= 1);

    /* the raw rate: two measurements, and the faster one is used */
    for (int k = 0; k < 2; k++) {
        const char *key = k == 0 ? "one_core_measured" : "all_cores_measured";
        const char *used = k == 0 ? "verify_per_s_one_core" : "verify_per_s_all_cores";
        const json_t *m = json_object_get(ed, key);
        assert_int_equal(json_array_size(m), 2);
        double first = json_number_value(json_array_get(m, 0)),
               again = json_number_value(json_array_get(m, 1));
        assert_true(first > 0);
        assert_true(again > 0);
        assert_close(num(ed, used), first > again ? first : again);
    }
    assert_close(num(ed, "verify_per_s_x_cores"), num(ed, "verify_per_s_one_core") * (double)cores);

    /* throughput: every tx committed, none refused, and the ratio is what it divides */
    assert_int_equal(ct_json_int(tp, "committed"), BENCH_TXS_N);
    assert_int_equal(ct_json_int(tp, "rejected"), 0);
    assert_true(num(tp, "tx_per_s") > 0);
    assert_close(num(tp, "tx_per_s") * num(tp, "seconds"), (double)BENCH_TXS_N);
    assert_close(num(ratio, "vs_one_core_x_cores"), num(tp, "tx_per_s") / num(ed, "verify_per_s_x_cores"));
    const json_t *by_node = json_object_get(tp, "blocks_by_node");
    assert_int_equal(json_object_size(by_node), (size_t)nodes);

    /* latency: the open loop sent its schedule and every tx committed */
    const json_t *lat = json_object_get(j, "latency"), *one = json_object_get(j, "closed_loop");
    assert_non_null(lat);
    assert_true(ct_json_int(lat, "sent") > 0);
    assert_int_equal(ct_json_int(lat, "failed"), 0);
    assert_true(num(lat, "p50_ms") <= num(lat, "p99_ms"));
    assert_true(num(lat, "p99_ms") <= num(lat, "max_ms"));
    assert_non_null(one);
    assert_true(ct_json_int(one, "txs") > 0);
    assert_int_equal(ct_json_int(one, "failed"), 0);
}

static void test_one_node(void **state)
{
    (void)state;
    json_t *j = bench_json("1");
    check_report(j, 1);
    assert_null(json_object_get(j, "raft"));
    const json_t *ratio = json_object_get(j, "ratio");
    assert_close(num(ratio, "target"), 0.7);
    assert_true(json_is_boolean(json_object_get(j, "met")));
    json_decref(j);
}

/* Three raft nodes: every node has every tx; the leader is named, and the
 * closed loop ran against a follower and against the leader. */
static void test_three_nodes(void **state)
{
    (void)state;
    json_t *j = bench_json("3");
    check_report(j, 3);
    assert_int_equal(ct_json_int(j, "nodes"), 3);
    const json_t *tp = json_object_get(j, "throughput"), *raft = json_object_get(j, "raft");
    assert_non_null(raft);
    assert_true(num(tp, "tx_per_s_leader") >= num(tp, "tx_per_s"));
    assert_int_equal(json_object_size(json_object_get(tp, "seconds_by_node")), 3);
    /* the single-node ratio target is not this report's; the ceiling of
     * three nodes verifying every signature is */
    const json_t *ratio = json_object_get(j, "ratio"), *ed = json_object_get(j, "ed25519");
    assert_null(json_object_get(ratio, "target"));
    assert_null(json_object_get(j, "met"));
    assert_close(num(ratio, "ceiling_tx_per_s"), num(ed, "verify_per_s_x_cores") / 3);
    assert_close(num(ratio, "vs_ceiling"), num(tp, "tx_per_s") / num(ratio, "ceiling_tx_per_s"));
    const char *leader = json_string_value(json_object_get(raft, "leader"));
    assert_non_null(leader);
    const json_t *at_leader = json_object_get(j, "closed_loop_leader"),
                 *one = json_object_get(j, "closed_loop");
    assert_non_null(at_leader);
    assert_string_equal(json_string_value(json_object_get(at_leader, "node")), leader);
    assert_string_not_equal(json_string_value(json_object_get(one, "node")), leader);
    assert_int_equal(ct_json_int(at_leader, "failed"), 0);
    json_decref(j);
}

static void test_bad_options_exit_2(void **state)
{
    (void)state;
    const char *const bad[][2] = {{"--txs", "0"},   {"--txs", "abc"},   {"--nodes", "99"},
                                  {"--batch", "0"}, {"--clients", "0"}, {"--latency-seconds", "-1"},
                                  {"--bogus", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        int code = ct_cli(&out, BENCH_TIMEOUT_MS, "bench", bad[i][0], bad[i][1], (char *)NULL);
        if (code != 2) fail_msg("bench %s %s exited %d:\n%s", bad[i][0], bad[i][1], code, out ? out : "");
        assert_non_null(strstr(out, "carechain bench:"));
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options_exit_2),
        cmocka_unit_test(test_one_node),
        cmocka_unit_test(test_three_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
