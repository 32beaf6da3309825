/*
 * test_tamper.c — `carechain verify-chain` catches tampering done directly
 * in LMDB behind the node's back: a byte flipped inside a stored block (in
 * its txs, and separately in its header) and a byte flipped inside a state
 * value. Each is done on its own copy of a stopped node's directory; each
 * makes verify-chain exit 1 naming a height, and cc_chain_verify agree.
 *
 * The store layout (src/store/store.h): one LMDB environment in NODE/data;
 * "blocks" maps u64 big-endian height -> block bytes; "state" maps a key
 * string -> u64 big-endian height || value.
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

#include "carechain/chain.h"
#include "support/ct_store.h"
#include "support/support.h"

#define NODE_START_MS      20000
#define BLOCKS             5
#define TAMPERED_HEIGHT    3
#define STATE_PREFIX_BYTES 8

typedef struct fixture {
    ct_net net;
    cc_key clinician;
    uint64_t head;
} fixture;

static fixture fx;

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_net_create(&fx.net, "tamper") != 0) return -1;
    ct_node node;
    memset(&node, 0, sizeof node);
    if (ct_node_start(&node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    ct_key("tamper-clinician", &fx.clinician);
    int rc = 0;
    /* one tx per block: a registration, then notes */
    for (int i = 0; i < BLOCKS && rc == 0; i++) {
        cc_tx tx;
        if (i == 0)
            rc = ct_tx_register(&fx.net, &fx.net.admin, fx.clinician.pk, "clinician", &tx);
        else
            rc = ct_tx_note(&fx.net, &fx.clinician, (uint64_t)i, &tx);
        ct_resp r;
        if (rc == 0 && (ct_submit(NULL, node.url, &tx, true, &r) != 0 || r.status != 200)) {
            fprintf(stderr, "setup tx %d: %ld %s\n", i, r.status, r.body);
            rc = -1;
        }
        ct_resp_free(&r);
        cc_tx_free(&tx);
    }
    int64_t head = ct_status_height(node.url);
    fx.head = head > 0 ? (uint64_t)head : 0;
    if (ct_node_stop(&node, SIGTERM, 20000) != 0) rc = -1;
    ct_node_free(&node);
    if (fx.head < TAMPERED_HEIGHT) {
        fprintf(stderr, "setup: only %llu blocks\n", (unsigned long long)fx.head);
        rc = -1;
    }
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    ct_net_destroy(&fx.net);
    return 0;
}

/* A copy of the node directory, named after the test. Caller frees. */
static char *copy_node(const char *name)
{
    char *dst = ct_strf("%s/%s", fx.net.dir, name);
    assert_int_equal(ct_copytree(fx.net.node_dir, dst), 0);
    return dst;
}

typedef void (*tamper_fn)(uint8_t *val, size_t len, void *arg);

/* Open NODE/data, find key in database db, let fn alter a copy of the
 * value, write it back. */
static void tamper(const char *node_dir, const char *db, const void *key, size_t klen, tamper_fn fn,
                   void *arg)
{
    ct_store st = {0};
    assert_int_equal(ct_store_open(&st, node_dir, db), 0);
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(st.txn, st.dbi, &k, &v);
    if (rc != 0) fail_msg("mdb_get in %s: %s", db, mdb_strerror(rc));
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    fn(copy, v.mv_size, arg);
    assert_memory_not_equal(copy, v.mv_data, v.mv_size);
    MDB_val nv = {v.mv_size, copy};
    assert_int_equal(mdb_put(st.txn, st.dbi, &k, &nv, 0), 0);
    assert_int_equal(ct_store_commit(&st), 0);
    free(copy);
}

static void flip_at(uint8_t *val, size_t len, void *arg)
{
    size_t off = *(size_t *)arg;
    assert_true(off < len);
    val[off] ^= 0x20;
}

/* verify-chain (CLI and library) must fail naming a height; returns it. */
static uint64_t expect_caught(const char *node_dir)
{
    char *out = NULL;
    int code = ct_cli(&out, 60000, "verify-chain", "--dir", node_dir, NULL);
    if (code != 1) fail_msg("verify-chain of a tampered chain exited %d: %s", code, out);

    char *data = ct_strf("%s/data", node_dir);
    char *scratch = ct_tmpdir("tamper-scratch");
    cc_verify_report rep;
    cc_errbuf eb = {{0}};
    memset(&rep, 0, sizeof rep);
    cc_err e = cc_chain_verify(data, fx.net.genesis, fx.net.genesis_len, scratch, &rep, &eb);
    if (e != CC_ERR_VERIFY) fail_msg("cc_chain_verify: %s (%s)", cc_err_name(e), eb.msg);
    assert_true(rep.bad_height >= 1 && rep.bad_height <= fx.head);
    assert_true(strlen(rep.what) > 0);

    /* the CLI names the same height as a word of its output */
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)rep.bad_height);
    bool named = false;
    for (const char *p = out; (p = strstr(p, num)) != NULL; p++) {
        bool left = p == out || !(p[-1] >= '0' && p[-1] <= '9');
        bool right = !(p[strlen(num)] >= '0' && p[strlen(num)] <= '9');
        if (left && right) named = true;
    }
    if (!named) fail_msg("verify-chain output does not name height %s: %s", num, out);
    ct_rmtree(scratch);
    free(scratch);
    free(data);
    free(out);
    return rep.bad_height;
}

static void test_sound_chain_verifies(void **state)
{
    (void)state;
    char *out = NULL;
    int code = ct_cli(&out, 60000, "verify-chain", "--dir", fx.net.node_dir, NULL);
    if (code != 0) fail_msg("verify-chain of a sound chain exited %d: %s", code, out);
    free(out);
    char *data = ct_strf("%s/data", fx.net.node_dir);
    char *scratch = ct_tmpdir("tamper-scratch");
    cc_verify_report rep;
    memset(&rep, 0, sizeof rep);
    cc_errbuf eb = {{0}};
    cc_err e = cc_chain_verify(data, fx.net.genesis, fx.net.genesis_len, scratch, &rep, &eb);
    if (e != CC_OK) fail_msg("cc_chain_verify: %s (%s)", cc_err_name(e), eb.msg);
    assert_int_equal(rep.blocks, fx.head);
    assert_int_equal(rep.bad_height, 0);
    ct_rmtree(scratch);
    free(scratch);
    free(data);
}

static void be64(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static void test_flipped_byte_in_block_txs(void **state)
{
    (void)state;
    char *dir = copy_node("block-txs");
    uint8_t key[8];
    be64(TAMPERED_HEIGHT, key);
    /* a byte in the middle of the block's one tx (its payload) */
    size_t len = 0;
    {
        char *data = ct_strf("%s/data", dir);
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
        assert_int_equal(mdb_env_open(env, data, MDB_RDONLY, 0600), 0);
        assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "blocks", 0, &dbi), 0);
        MDB_val k = {8, key}, v;
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        len = v.mv_size;
        mdb_txn_abort(txn);
        mdb_env_close(env);
        free(data);
    }
    assert_true(len > CC_HEADER_BYTES + 8);
    size_t off = CC_HEADER_BYTES + (len - CC_HEADER_BYTES) / 2;
    tamper(dir, "blocks", key, sizeof key, flip_at, &off);
    assert_int_equal(expect_caught(dir), TAMPERED_HEIGHT);
    free(dir);
}

static void test_flipped_byte_in_block_header(void **state)
{
    (void)state;
    char *dir = copy_node("block-header");
    uint8_t key[8];
    be64(TAMPERED_HEIGHT, key);
    size_t off = CC_HEADER_BYTES / 2; /* inside the roots */
    tamper(dir, "blocks", key, sizeof key, flip_at, &off);
    assert_int_equal(expect_caught(dir), TAMPERED_HEIGHT);
    free(dir);
}

static void test_flipped_byte_in_state_value(void **state)
{
    (void)state;
    char *dir = copy_node("state");
    char hex[CC_HASH_HEX];
    char *key = ct_strf("id/%s", ct_pk_hex(&fx.clinician, hex));
    size_t off = STATE_PREFIX_BYTES + 2; /* inside the value, past its height */
    tamper(dir, "state", key, strlen(key), flip_at, &off);
    expect_caught(dir);
    free(key);
    free(dir);
}

static void test_flipped_state_height_prefix(void **state)
{
    (void)state;
    char *dir = copy_node("state-height");
    char hex[CC_HASH_HEX];
    char *key = ct_strf("id/%s", ct_pk_hex(&fx.clinician, hex));
    size_t off = STATE_PREFIX_BYTES - 1; /* the height of the last write */
    tamper(dir, "state", key, strlen(key), flip_at, &off);
    expect_caught(dir);
    free(key);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sound_chain_verifies),
        cmocka_unit_test(test_flipped_byte_in_block_txs),
        cmocka_unit_test(test_flipped_byte_in_block_header),
        cmocka_unit_test(test_flipped_byte_in_state_value),
        cmocka_unit_test(test_flipped_state_height_prefix),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
