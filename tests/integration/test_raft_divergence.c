/*
 * test_raft_divergence.c — on three real raft nodes, a node whose state
 * differs from the rest of the network finds out by itself: node3 runs the
 * test-only binary (build/carechain-faults) with CARECHAIN_TEST_CORRUPT_FROM,
 * so from that height on it writes a state value no other node writes. It
 * refuses the block whose roots it cannot reproduce, pulls the checkpoint
 * signatures the others hold for that height, finds that a majority signed
 * the block it refused, records that as evidence (its own view, the
 * majority's header and their signatures), halts, keeps serving reads, and
 * says so in GET /v1/evidence and /metrics, while the other two go on
 * committing.
 *
 * Every wait polls with a deadline; nothing depends on tight timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#define NODES          3
#define FAULTY         2 /* node3 */
#define MAJORITY       2
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 15000
#define SYNC_MS        20000
#define EVIDENCE_MS    30000 /* the faulty node halts and records the majority's signatures */
#define POLL_MS        50
#define CLEAN_BLOCKS   2 /* committed before the fault starts */
#define LATER_NOTES    3

typedef struct fixture {
    ct_cluster cl;
    uint64_t nonce;
} fixture;

static fixture fx;

static long get(int i, const char *path, ct_resp *r)
{
    char *url = ct_strf("%s%s", fx.cl.node[i].url, path);
    ct_get(url, r);
    free(url);
    return r->status;
}

/* The value of metric name in node i's /metrics, or -1. */
static long metric(int i, const char *name)
{
    return ct_metric(fx.cl.node[i].url, name);
}

/* The evidence record of kind in node i's GET /v1/evidence (a new
 * reference), or NULL. */
static json_t *evidence_of(int i, const char *kind)
{
    ct_resp r;
    json_t *found = NULL;
    if (get(i, "/v1/evidence", &r) == 200) {
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(r.json, "evidence"), k, e)
        {
            if (strcmp(ct_json_str(e, "kind"), kind) == 0 && !found) found = json_incref(e);
        }
    }
    ct_resp_free(&r);
    return found;
}

/* A note committed through whichever of node1/node2 answers; its height. */
static int64_t commit_note(void)
{
    for (int attempt = 0; attempt < 4; attempt++) {
        int64_t h = ct_cluster_commit_note(&fx.cl, attempt % 2, &fx.nonce, 0, NULL);
        if (h > 0) return h;
        cc_sleep_ms(500);
    }
    return -1;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "diverge", NODES, NODES) != 0) return -1;
    /* node1 and node2 elect a leader first, so node3 joins as a follower */
    for (int i = 0; i < FAULTY; i++)
        if (ct_cluster_start_node(&fx.cl, i, NODE_START_MS) != 0) return -1;
    if (ct_cluster_wait_leader(&fx.cl, LEADER_WAIT_MS) < 0) return -1;
    for (int i = 0; i < CLEAN_BLOCKS; i++)
        if (commit_note() < 0) return -1;
    char from[32];
    snprintf(from, sizeof from, "%d", CLEAN_BLOCKS + 1);
    fx.cl.node[FAULTY].bin = ct_carechain_faults_bin();
    setenv("CARECHAIN_TEST_CORRUPT_FROM", from, 1);
    int rc = ct_cluster_start_node(&fx.cl, FAULTY, NODE_START_MS);
    unsetenv("CARECHAIN_TEST_CORRUPT_FROM");
    if (rc != 0) return -1;
    return ct_wait_height(fx.cl.node[FAULTY].url, CLEAN_BLOCKS, SYNC_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy(&fx.cl);
    return 0;
}

static void test_minority_node_halts_with_the_majority_signatures(void **state)
{
    (void)state;
    ct_resp r;

    /* blocks go on until node3 meets one it computes differently */
    uint64_t deadline = ct_now_ms() + EVIDENCE_MS;
    json_t *minority = NULL;
    while (!(minority = evidence_of(FAULTY, "minority")) && ct_now_ms() < deadline) {
        json_t *refused = evidence_of(FAULTY, "divergence");
        if (!refused) assert_true(commit_note() > 0);
        json_decref(refused);
        cc_sleep_ms(POLL_MS);
    }
    if (!minority) ct_cluster_dump_logs(&fx.cl);
    assert_non_null(minority);
    int64_t height = ct_json_int(minority, "height");
    assert_true(height > CLEAN_BLOCKS);

    /* the evidence: node3's own view against the block a majority signed */
    const json_t *headers = json_object_get(minority, "headers");
    assert_int_equal(json_array_size(headers), 2);
    const json_t *own = json_array_get(headers, 0), *theirs = json_array_get(headers, 1);
    assert_string_not_equal(ct_json_str(own, "state_root"), ct_json_str(theirs, "state_root"));
    char *path = ct_strf("/v1/blocks/%lld", (long long)height);
    assert_int_equal(get(0, path, &r), 200);
    const char *hash = ct_json_str(r.json, "hash");
    if (!*hash) hash = ct_json_str(json_object_get(r.json, "header"), "hash");
    assert_string_equal(ct_json_str(theirs, "hash"), hash);
    ct_resp_free(&r);
    free(path);
    const json_t *sigs = json_object_get(minority, "signatures");
    assert_true(json_array_size(sigs) >= MAJORITY);
    char faulty_hex[CC_HASH_HEX];
    ct_pk_hex(&fx.cl.net.node_keys[FAULTY], faulty_hex);
    size_t k;
    json_t *s;
    json_array_foreach(sigs, k, s)
    {
        assert_string_not_equal(ct_json_str(s, "node"), faulty_hex);
    }
    json_decref(minority);
    json_t *divergence = evidence_of(FAULTY, "divergence");
    assert_non_null(divergence);
    assert_int_equal(ct_json_int(divergence, "height"), height);
    json_decref(divergence);

    /* node3 is halted, says so, and serves reads */
    assert_int_equal(get(FAULTY, "/v1/evidence", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "halted")));
    ct_resp_free(&r);
    assert_int_equal(get(FAULTY, "/v1/status", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "halted")));
    assert_int_equal(ct_json_int(r.json, "height"), height - 1);
    ct_resp_free(&r);
    assert_int_equal(metric(FAULTY, "carechain_halted"), 1);
    assert_true(metric(FAULTY, "carechain_evidence") >= 2);
    assert_int_equal(metric(FAULTY, "carechain_evidence_minority"), 1);
    assert_int_equal(get(FAULTY, "/v1/blocks/1", &r), 200);
    ct_resp_free(&r);

    /* node1 and node2 go on committing and agree; they keep no evidence */
    int64_t last = 0;
    for (int i = 0; i < LATER_NOTES; i++) assert_true((last = commit_note()) > height);
    fx.cl.out[FAULTY] = true;
    assert_true(ct_cluster_wait_converged(&fx.cl, last, NULL, SYNC_MS));
    fx.cl.out[FAULTY] = false;
    for (int i = 0; i < FAULTY; i++) {
        assert_int_equal(metric(i, "carechain_evidence"), 0);
        assert_int_equal(metric(i, "carechain_halted"), 0);
    }
    assert_int_equal(get(FAULTY, "/v1/status", &r), 200);
    assert_int_equal(ct_json_int(r.json, "height"), height - 1);
    ct_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minority_node_halts_with_the_majority_signatures),
    };
    return cmocka_run_group_tests_name("raft_divergence", tests, group_setup, group_teardown);
}
