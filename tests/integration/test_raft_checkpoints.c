/*
 * test_raft_checkpoints.c — on three real raft nodes, checkpoint signatures
 * are exchanged and misbehaviour is visible: every node reports a height
 * signed by a majority, a proof fetched from a follower verifies offline
 * (and a tampered one does not), bogus signatures are refused and change
 * nothing, a healthy network has no evidence, and a node shown a second
 * block signed by another node for a height it has records equivocation,
 * halts, says so, and keeps serving reads.
 *
 * Tests run in order on one network started by the group setup (the last
 * one halts a node). Every wait polls with a deadline.
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

#define FAR_AHEAD      1000000 /* a height no node reaches in these tests */
#define NODES          3
#define MAJORITY       2
#define NODE_START_MS  20000
#define LEADER_WAIT_MS 10000
#define CHECKPOINT_MS  10000 /* a committed block is majority-signed within this */
#define POLL_MS        20
#define NOTES          6
#define CLI_MS         20000

typedef struct fixture {
    ct_cluster cl;
    uint64_t nonce;
    char txid[CC_HASH_HEX]; /* a committed note */
    int64_t tx_height;
} fixture;

static fixture fx;

/* ---- helpers -------------------------------------------------------------- */

/* GET base+path into r; the status (0 when no answer). */
static long get(int i, const char *path, ct_resp *r)
{
    char *url = ct_strf("%s%s", fx.cl.node[i].url, path);
    ct_get(url, r);
    free(url);
    return r->status;
}

static long post_json(int i, const char *path, const char *body, ct_resp *r)
{
    char *url = ct_strf("%s%s", fx.cl.node[i].url, path);
    ct_post(url, "application/json", body, strlen(body), r);
    free(url);
    return r->status;
}

/* Commit a new note through node i (?wait=commit); its height. */
static int64_t commit_note_via(int i, char txid[CC_HASH_HEX])
{
    int64_t height = ct_cluster_commit_note(&fx.cl, i, &fx.nonce, 0, txid);
    assert_true(height > 0);
    return height;
}

/* Poll node i's GET /v1/checkpoint until it names a height >= min_height
 * signed by >= MAJORITY nodes; that height, or -1 after timeout_ms. */
static int64_t wait_checkpoint(int i, int64_t min_height, unsigned timeout_ms)
{
    uint64_t deadline = ct_now_ms() + timeout_ms;
    do {
        ct_resp r;
        int64_t h = -1;
        if (get(i, "/v1/checkpoint", &r) == 200 && ct_json_int(r.json, "height") >= min_height &&
            json_array_size(json_object_get(r.json, "signatures")) >= MAJORITY)
            h = ct_json_int(r.json, "height");
        ct_resp_free(&r);
        if (h >= 0) return h;
        cc_sleep_ms(POLL_MS);
    } while (ct_now_ms() < deadline);
    return -1;
}

/* The value of metric name in node i's /metrics, or -1. */
static long metric(int i, const char *name)
{
    return ct_metric(fx.cl.node[i].url, name);
}

/* One signature as the POST body: {"signatures": [{height, node, sig, header}]}. */
static char *one_signature_body(uint64_t height, const cc_header *h, const cc_checkpoint_sig *s)
{
    uint8_t raw[CC_HEADER_BYTES];
    char node[CC_HASH_HEX], sig[2 * CC_SIG_BYTES + 1], hdr[2 * CC_HEADER_BYTES + 1];
    cc_header_encode(h, raw);
    return ct_strf("{\"signatures\":[{\"height\":%llu,\"node\":\"%s\",\"sig\":\"%s\",\"header\":\"%s\"}]}",
                   (unsigned long long)height, cc_hex(s->node, CC_PUBKEY_BYTES, node),
                   cc_hex(s->sig, CC_SIG_BYTES, sig), cc_hex(raw, sizeof raw, hdr));
}

static char *two_signatures_body(const cc_header h[2], const cc_checkpoint_sig s[2])
{
    char *one = one_signature_body(h[0].height, &h[0], &s[0]),
         *two = one_signature_body(h[1].height, &h[1], &s[1]);
    /* {"signatures":[A]} + {"signatures":[B]} -> {"signatures":[A,B]} */
    one[strlen(one) - 2] = '\0';
    char *both = ct_strf("%s,%s", one, two + strlen("{\"signatures\":["));
    free(one);
    free(two);
    return both;
}

/* Node i's header at height (from GET /v1/checkpoint/signatures). */
static void header_at(int i, uint64_t height, cc_header *out)
{
    ct_resp r;
    char *path = ct_strf("/v1/checkpoint/signatures?height=%llu", (unsigned long long)height);
    assert_int_equal(get(i, path, &r), 200);
    uint8_t raw[CC_HEADER_BYTES];
    const char *hex = ct_json_str(r.json, "header");
    assert_int_equal(strlen(hex), 2 * CC_HEADER_BYTES);
    assert_int_equal(cc_unhex(hex, raw, sizeof raw), CC_OK);
    assert_int_equal(cc_header_decode(raw, sizeof raw, out, NULL), CC_OK);
    ct_resp_free(&r);
    free(path);
}

/* ---- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_cluster_create(&fx.cl, "ckpt", NODES, NODES) != 0) return -1;
    return ct_cluster_start(&fx.cl, NODE_START_MS, LEADER_WAIT_MS);
}

static int group_teardown(void **state)
{
    (void)state;
    ct_cluster_destroy(&fx.cl);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_every_node_has_a_majority_checkpoint(void **state)
{
    (void)state;
    int64_t last = 0;
    for (int k = 0; k < NOTES; k++) last = commit_note_via(k % NODES, fx.txid);
    fx.tx_height = last;
    for (int i = 0; i < NODES; i++) {
        int64_t h = wait_checkpoint(i, last, CHECKPOINT_MS);
        if (h < 0) ct_cluster_dump_logs(&fx.cl);
        assert_true(h >= last);
        /* each signature is a distinct node */
        ct_resp r;
        assert_int_equal(get(i, "/v1/checkpoint", &r), 200);
        const json_t *sigs = json_object_get(r.json, "signatures");
        for (size_t a = 0; a < json_array_size(sigs); a++)
            for (size_t b = a + 1; b < json_array_size(sigs); b++)
                assert_string_not_equal(ct_json_str(json_array_get(sigs, a), "node"),
                                        ct_json_str(json_array_get(sigs, b), "node"));
        assert_int_equal(ct_json_int(r.json, "required"), MAJORITY);
        ct_resp_free(&r);
    }
}

static void test_proof_from_a_follower_verifies_offline(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_any_leader(&fx.cl, NODES, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int follower = (leader + 1) % NODES;
    assert_true(wait_checkpoint(follower, fx.tx_height, CHECKPOINT_MS) >= fx.tx_height);

    ct_resp r;
    char *path = ct_strf("/v1/tx/%s/proof", fx.txid);
    if (get(follower, path, &r) != 200) fprintf(stderr, "proof: %ld %s\n", r.status, r.body);
    assert_int_equal(r.status, 200);
    char *dir = ct_tmpdir("ckpt-proof");
    char *good = ct_strf("%s/proof.json", dir), *bad = ct_strf("%s/tampered.json", dir);
    assert_int_equal(ct_write_file(good, r.body, r.len), 0);

    /* tamper: one hex digit of the block header */
    json_t *doc = json_deep_copy(r.json);
    json_t *block = json_object_get(doc, "block");
    char *hdr = strdup(ct_json_str(block, "header"));
    assert_true(strlen(hdr) > 100);
    hdr[100] = hdr[100] == '0' ? '1' : '0';
    json_object_set_new(block, "header", json_string(hdr));
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(ct_write_file(bad, text, strlen(text)), 0);

    char *out = NULL;
    int rc = ct_cli(&out, CLI_MS, "verify-proof", good, "--genesis", fx.cl.net.genesis_path, (char *)NULL);
    if (rc != 0) fprintf(stderr, "verify-proof: %s\n", out ? out : "");
    assert_int_equal(rc, 0);
    free(out);
    out = NULL;
    rc = ct_cli(&out, CLI_MS, "verify-proof", bad, "--genesis", fx.cl.net.genesis_path, (char *)NULL);
    if (rc != 1) fprintf(stderr, "verify-proof (tampered): %s\n", out ? out : "");
    assert_int_equal(rc, 1);
    free(out);

    free(text);
    free(hdr);
    json_decref(doc);
    free(good);
    free(bad);
    ct_rmtree(dir);
    free(dir);
    free(path);
    ct_resp_free(&r);
}

/* The hash of the genesis nodes, the consensus nodes at every height here
 * (the checkpoint message names them). */
static const uint8_t *nodes_hash(void)
{
    static cc_members m;
    uint8_t keys[NODES][CC_PUBKEY_BYTES];
    for (int i = 0; i < NODES; i++) memcpy(keys[i], fx.cl.net.node_keys[i].pk, CC_PUBKEY_BYTES);
    assert_int_equal(cc_members_set(&m, (const uint8_t(*)[CC_PUBKEY_BYTES])keys, NODES), CC_OK);
    return m.hash;
}

static void test_bogus_signatures_are_refused(void **state)
{
    (void)state;
    const uint64_t height = 1;
    cc_header h;
    cc_checkpoint_sig s;
    ct_resp before, after, r;
    header_at(0, height, &h);
    assert_int_equal(get(0, "/v1/checkpoint/signatures?height=1", &before), 200);

    /* a genesis node's name on a signature it did not make */
    cc_key stranger;
    ct_key("not-a-node", &stranger);
    cc_checkpoint_sign(&h, nodes_hash(), &stranger, &s);
    memcpy(s.node, fx.cl.net.node_keys[1].pk, CC_PUBKEY_BYTES);
    char *body = one_signature_body(height, &h, &s);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", body, &r), 401);
    assert_string_equal(ct_resp_error_code(&r), "signature");
    ct_resp_free(&r);
    free(body);

    /* a valid signature by a key that is not a node */
    cc_checkpoint_sign(&h, nodes_hash(), &stranger, &s);
    body = one_signature_body(height, &h, &s);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", body, &r), 403);
    ct_resp_free(&r);
    free(body);

    /* the same forgery at a height the node does not have yet: "pending",
     * unchecked and not stored (its signatures are checked once the node
     * has the block, when the sender tries again) */
    cc_header ahead = h;
    ahead.height = FAR_AHEAD;
    cc_checkpoint_sign(&ahead, nodes_hash(), &stranger, &s);
    memcpy(s.node, fx.cl.net.node_keys[1].pk, CC_PUBKEY_BYTES);
    body = one_signature_body(FAR_AHEAD, &ahead, &s);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", body, &r), 200);
    assert_int_equal(ct_json_int(r.json, "stored"), 0);
    assert_int_equal(ct_json_int(r.json, "pending"), 1);
    ct_resp_free(&r);
    free(body);
    /* and next to it, a forgery at a height the node has refuses the whole request */
    cc_header mixed[2] = {ahead, h};
    cc_checkpoint_sig mixed_sig[2] = {s, s};
    cc_checkpoint_sign(&h, nodes_hash(), &stranger, &mixed_sig[1]);
    memcpy(mixed_sig[1].node, fx.cl.net.node_keys[1].pk, CC_PUBKEY_BYTES);
    body = two_signatures_body(mixed, mixed_sig);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", body, &r), 401);
    ct_resp_free(&r);
    free(body);

    /* garbage */
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", "{\"signatures\":[{\"height\":1}]}", &r), 400);
    ct_resp_free(&r);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", "[1,2", &r), 400);
    ct_resp_free(&r);

    /* nothing changed */
    assert_int_equal(get(0, "/v1/checkpoint/signatures?height=1", &after), 200);
    assert_true(
        json_equal(json_object_get(before.json, "signatures"), json_object_get(after.json, "signatures")));
    ct_resp_free(&before);
    ct_resp_free(&after);

    /* a genuine one is taken (again: idempotent) */
    cc_checkpoint_sign(&h, nodes_hash(), &fx.cl.net.node_keys[1], &s);
    body = one_signature_body(height, &h, &s);
    assert_int_equal(post_json(0, "/v1/checkpoint/signatures", body, &r), 200);
    assert_string_equal(ct_json_str(json_array_get(json_object_get(r.json, "results"), 0), "status"),
                        "stored");
    ct_resp_free(&r);
    free(body);
}

static void test_healthy_network_has_no_evidence(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++) {
        ct_resp r;
        assert_int_equal(get(i, "/v1/evidence", &r), 200);
        assert_true(json_is_false(json_object_get(r.json, "halted")));
        assert_true(json_is_null(json_object_get(r.json, "reason")));
        assert_int_equal(json_array_size(json_object_get(r.json, "evidence")), 0);
        ct_resp_free(&r);
        assert_int_equal(metric(i, "carechain_evidence"), 0);
        assert_int_equal(metric(i, "carechain_halted"), 0);
    }
}

static void test_equivocation_halts_the_node(void **state)
{
    (void)state;
    int leader = ct_cluster_wait_any_leader(&fx.cl, NODES, LEADER_WAIT_MS);
    assert_true(leader >= 0);
    int victim = (leader + 1) % NODES, liar = (leader + 2) % NODES;
    const uint64_t height = 1;

    /* the liar signs a second block for height 1 and its checkpoint */
    cc_header h;
    cc_checkpoint_sig s;
    header_at(victim, height, &h);
    h.time_ms += 1;
    cc_header_sign(&h, &fx.cl.net.node_keys[liar]);
    cc_checkpoint_sign(&h, nodes_hash(), &fx.cl.net.node_keys[liar], &s);
    char *body = one_signature_body(height, &h, &s);
    ct_resp r;
    if (post_json(victim, "/v1/checkpoint/signatures", body, &r) != 409) fprintf(stderr, "%s\n", r.body);
    assert_int_equal(r.status, 409);
    assert_string_equal(ct_resp_error_code(&r), "conflict");
    ct_resp_free(&r);
    free(body);

    /* the victim shows the evidence and that it halted */
    assert_int_equal(get(victim, "/v1/evidence", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "halted")));
    assert_true(json_is_string(json_object_get(r.json, "reason")));
    const json_t *ev = json_object_get(r.json, "evidence");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(ct_json_str(json_array_get(ev, 0), "kind"), "equivocation");
    assert_int_equal(ct_json_int(json_array_get(ev, 0), "height"), height);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ev, 0), "headers")), 2);
    ct_resp_free(&r);
    assert_int_equal(get(victim, "/v1/status", &r), 200);
    assert_true(json_is_true(json_object_get(r.json, "halted")));
    int64_t halted_height = ct_json_int(r.json, "height");
    ct_resp_free(&r);
    assert_int_equal(metric(victim, "carechain_evidence"), 1);
    assert_int_equal(metric(victim, "carechain_halted"), 1);

    /* the others go on; the victim applies nothing more but serves reads */
    int64_t later = commit_note_via(leader, NULL);
    assert_true(later > halted_height);
    char *path = ct_strf("/v1/tx/%s", fx.txid);
    assert_int_equal(get(victim, path, &r), 200);
    ct_resp_free(&r);
    free(path);
    assert_int_equal(get(victim, "/v1/blocks/1", &r), 200);
    ct_resp_free(&r);
    /* the victim got that block too: its apply path refuses it and stops */
    assert_int_equal(ct_wait_height(fx.cl.node[liar].url, (uint64_t)later, CHECKPOINT_MS), 0);
    uint64_t deadline = ct_now_ms() + CHECKPOINT_MS;
    while (metric(victim, "carechain_apply_halted") != 1 && ct_now_ms() < deadline) cc_sleep_ms(POLL_MS);
    assert_int_equal(metric(victim, "carechain_apply_halted"), 1);
    assert_int_equal(get(victim, "/v1/status", &r), 200);
    assert_int_equal(ct_json_int(r.json, "height"), halted_height);
    assert_true(json_is_true(json_object_get(r.json, "halted")));
    ct_resp_free(&r);
    assert_int_equal(get(leader, "/v1/evidence", &r), 200);
    assert_true(json_is_false(json_object_get(r.json, "halted")));
    ct_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_node_has_a_majority_checkpoint),
        cmocka_unit_test(test_proof_from_a_follower_verifies_offline),
        cmocka_unit_test(test_bogus_signatures_are_refused),
        cmocka_unit_test(test_healthy_network_has_no_evidence),
        cmocka_unit_test(test_equivocation_halts_the_node),
    };
    return cmocka_run_group_tests_name("raft_checkpoints", tests, group_setup, group_teardown);
}
