/*
 * test_store_full.c — a node whose LMDB map is too small to grow: it ends
 * up answering 503 store_full, stays up and says so in /v1/status, still
 * serves what it committed, stops cleanly, passes verify-chain, and takes
 * txs again once restarted with room.
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

#define TINY_MAP      (1024 * 1024)
#define BATCH_TXS     100
#define MAX_BATCHES   200 /* 20,000 txs: several MiB, far over the map */
#define NODE_START_MS 20000

static bool is_store_full(const json_t *err)
{
    const char *code = json_string_value(json_object_get(err, "code"));
    return code && strcmp(code, "store_full") == 0;
}

static void test_tiny_map_gets_503_and_stays_consistent(void **state)
{
    (void)state;
    ct_net net;
    ct_node node;
    memset(&node, 0, sizeof node);
    assert_int_equal(ct_net_create(&net, "full"), 0);
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, TINY_MAP, TINY_MAP, NODE_START_MS), 0);

    ct_http *h = ct_http_new();
    char *batch_url = ct_strf("%s/v1/txs?wait=commit", node.url);
    cc_tx committed_tx;
    bool have_committed = false, full = false;
    uint64_t n = 0;
    for (int b = 0; b < MAX_BATCHES && !full; b++) {
        cc_tx txs[BATCH_TXS];
        for (int i = 0; i < BATCH_TXS; i++) assert_int_equal(ct_tx_note(&net, &net.admin, n++, &txs[i]), 0);
        size_t len;
        uint8_t *body = ct_batch_body(txs, BATCH_TXS, &len);
        ct_resp r;
        assert_int_equal(ct_http_do(h, "POST", batch_url, "application/octet-stream", body, len, 60000, &r),
                         0);
        free(body);
        if (r.status == 503) {
            if (strcmp(ct_resp_error_code(&r), "store_full") != 0)
                fail_msg("503 but not store_full: %s", r.body);
            full = true;
        } else {
            if (r.status != 200) fail_msg("batch %d: %ld %s", b, r.status, r.body);
            json_t *results = json_object_get(r.json, "results");
            assert_int_equal(json_array_size(results), BATCH_TXS);
            for (int i = 0; i < BATCH_TXS; i++) {
                json_t *e = json_array_get(results, (size_t)i);
                const char *st = json_string_value(json_object_get(e, "status"));
                json_t *err = json_object_get(e, "error");
                if (st && strcmp(st, "committed") == 0) {
                    if (!have_committed) {
                        assert_int_equal(cc_tx_copy(&committed_tx, &txs[i]), CC_OK);
                        have_committed = true;
                    }
                } else if (err && is_store_full(err)) {
                    full = true;
                } else {
                    char *s = json_dumps(e, JSON_COMPACT);
                    fail_msg("batch %d entry %d: %s", b, i, s);
                }
            }
        }
        ct_resp_free(&r);
        for (int i = 0; i < BATCH_TXS; i++) cc_tx_free(&txs[i]);
        if (!ct_node_alive(&node)) {
            ct_node_dump_log(&node);
            fail_msg("the node died after %llu txs", (unsigned long long)n);
        }
    }
    free(batch_url);
    if (!full) fail_msg("no store_full after %llu txs into a %d-byte map", (unsigned long long)n, TINY_MAP);
    assert_true(have_committed);

    /* still up; a new tx is refused with 503 store_full */
    cc_tx one;
    assert_int_equal(ct_tx_note(&net, &net.admin, n++, &one), 0);
    ct_resp r;
    assert_int_equal(ct_submit(h, node.url, &one, true, &r), 0);
    if (r.status != 503 || strcmp(ct_resp_error_code(&r), "store_full") != 0)
        fail_msg("tx into a full store: %ld %s", r.status, r.body);
    assert_true(strlen(ct_resp_error_message(&r)) > 0);
    ct_resp_free(&r);

    char *u = ct_strf("%s/v1/status", node.url);
    assert_int_equal(ct_http_do(h, "GET", u, NULL, NULL, 0, 0, &r), 0);
    free(u);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "store_full")));
    json_int_t height = json_integer_value(json_object_get(r.json, "height"));
    assert_true(height >= 1);
    ct_resp_free(&r);

    /* what committed is still served */
    char hex[CC_HASH_HEX];
    u = ct_strf("%s/v1/tx/%s", node.url, ct_txid_hex(&committed_tx, hex));
    assert_int_equal(ct_http_do(h, "GET", u, NULL, NULL, 0, 0, &r), 0);
    free(u);
    assert_int_equal(r.status, 200);
    ct_resp_free(&r);
    u = ct_strf("%s/v1/blocks/%lld", node.url, (long long)height);
    assert_int_equal(ct_http_do(h, "GET", u, NULL, NULL, 0, 0, &r), 0);
    free(u);
    assert_int_equal(r.status, 200);
    ct_resp_free(&r);

    /* a clean stop and a sound chain */
    assert_int_equal(ct_node_stop(&node, SIGTERM, 20000), 0);
    char *out = NULL;
    int code = ct_cli(&out, 60000, "verify-chain", "--dir", net.node_dir, NULL);
    if (code != 0) fail_msg("verify-chain of the full store exited %d: %s", code, out);
    free(out);

    /* with room again, the same node takes txs again */
    assert_int_equal(ct_node_start(&node, net.node_dir, net.api_port, 0, 0, NODE_START_MS), 0);
    assert_int_equal(ct_status_height(node.url), height);
    assert_int_equal(ct_submit(h, node.url, &one, true, &r), 0);
    if (r.status != 200) fail_msg("after growing the map: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    assert_int_equal(ct_node_stop(&node, SIGTERM, 20000), 0);

    cc_tx_free(&one);
    cc_tx_free(&committed_tx);
    ct_http_free(h);
    ct_node_free(&node);
    ct_net_destroy(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_map_gets_503_and_stays_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
