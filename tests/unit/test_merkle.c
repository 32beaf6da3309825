/*
 * test_merkle.c — Merkle roots and inclusion proofs for every position of
 * every tree of size 1..300, against an independent reference of RFC 6962
 * section 2.1, through both the in-memory and the append-only node sources.
 */
#include "unit_support.h"

#define MAX_LEAVES 300

static uint8_t leaves[MAX_LEAVES][CC_HASH_BYTES];

/* Reference MTH, written straight from RFC 6962 2.1 (recursive on ranges). */
static void ref_mth(size_t lo, size_t n, uint8_t out[CC_HASH_BYTES])
{
    if (n == 0) {
        cc_sha256(NULL, 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[lo], CC_HASH_BYTES);
        return;
    }
    size_t k = 1;
    while (k * 2 < n) k *= 2;
    uint8_t l[CC_HASH_BYTES], r[CC_HASH_BYTES], buf[65];
    ref_mth(lo, k, l);
    ref_mth(lo + k, n - k, r);
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    cc_sha256(buf, sizeof buf, out);
}

/* The append-only source: perfect subtrees kept in a table by level. */
static uint8_t store_nodes[10][MAX_LEAVES][CC_HASH_BYTES];

static cc_err table_get(void *ctx, unsigned level, uint64_t index, uint8_t out[CC_HASH_BYTES])
{
    (void)ctx;
    memcpy(out, store_nodes[level][index], CC_HASH_BYTES);
    return CC_OK;
}

static cc_err table_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[CC_HASH_BYTES])
{
    (void)ctx;
    memcpy(store_nodes[level][index], h, CC_HASH_BYTES);
    return CC_OK;
}

static int setup(void **state)
{
    (void)state;
    cc_merkle_source src = {NULL, table_get};
    for (int i = 0; i < MAX_LEAVES; i++) {
        uint8_t data[4] = {(uint8_t)(i >> 8), (uint8_t)i, 0xc0, 0xde};
        cc_merkle_leaf(data, sizeof data, leaves[i]);
        assert_int_equal(cc_merkle_append(&src, (uint64_t)i, leaves[i], table_put, NULL), CC_OK);
    }
    return 0;
}

static void test_leaf_and_node_are_domain_separated(void **state)
{
    (void)state;
    uint8_t a[32], b[32], buf[65] = {0};
    cc_merkle_leaf((const uint8_t *)"", 0, a);
    buf[0] = 0x00;
    cc_sha256(buf, 1, b);
    assert_memory_equal(a, b, 32); /* leaf = H(0x00 || data) */
    uint8_t l[32] = {1}, r[32] = {2};
    cc_merkle_node(l, r, a);
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    cc_sha256(buf, 65, b);
    assert_memory_equal(a, b, 32);
    /* empty tree: SHA-256 of nothing */
    cc_merkle_root(NULL, 0, a);
    assert_string_equal(cc_hex(a, 32, (char[65]){0}),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_roots_match_reference(void **state)
{
    (void)state;
    cc_merkle_source src = {NULL, table_get};
    for (size_t n = 1; n <= MAX_LEAVES; n++) {
        uint8_t want[32], got[32], got_src[32];
        ref_mth(0, n, want);
        cc_merkle_root((const uint8_t(*)[CC_HASH_BYTES])leaves, n, got);
        assert_int_equal(cc_merkle_root_src(&src, n, got_src), CC_OK);
        assert_memory_equal(got, want, 32);
        assert_memory_equal(got_src, want, 32);
    }
}

static void test_every_position_of_every_size(void **state)
{
    (void)state;
    cc_merkle_source src = {NULL, table_get};
    uint8_t path[CC_MERKLE_PATH_MAX][CC_HASH_BYTES], path2[CC_MERKLE_PATH_MAX][CC_HASH_BYTES];
    for (size_t n = 1; n <= MAX_LEAVES; n++) {
        uint8_t root[32];
        ref_mth(0, n, root);
        for (size_t i = 0; i < n; i++) {
            size_t len = 0, len2 = 0;
            assert_int_equal(cc_merkle_path((const uint8_t(*)[CC_HASH_BYTES])leaves, n, i, path, &len),
                             CC_OK);
            assert_int_equal(cc_merkle_path_src(&src, n, i, path2, &len2), CC_OK);
            assert_int_equal(len, len2);
            assert_memory_equal(path, path2, len * CC_HASH_BYTES);
            assert_true(cc_merkle_verify(leaves[i], i, n, (const uint8_t(*)[CC_HASH_BYTES])path, len, root));
            /* the same path must not prove another position, size or leaf */
            if (n > 1) {
                assert_false(cc_merkle_verify(leaves[i], (i + 1) % n, n,
                                              (const uint8_t(*)[CC_HASH_BYTES])path, len, root));
                assert_false(cc_merkle_verify(leaves[(i + 1) % n], i, n,
                                              (const uint8_t(*)[CC_HASH_BYTES])path, len, root));
            }
            if (len > 0) {
                path[len - 1][0] ^= 1;
                assert_false(
                    cc_merkle_verify(leaves[i], i, n, (const uint8_t(*)[CC_HASH_BYTES])path, len, root));
                assert_false(
                    cc_merkle_verify(leaves[i], i, n, (const uint8_t(*)[CC_HASH_BYTES])path, len - 1, root));
            }
        }
        assert_int_equal(cc_merkle_path((const uint8_t(*)[CC_HASH_BYTES])leaves, n, n, path, &(size_t){0}),
                         CC_ERR_NOT_FOUND);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_and_node_are_domain_separated),
        cmocka_unit_test(test_roots_match_reference),
        cmocka_unit_test(test_every_position_of_every_size),
    };
    return cmocka_run_group_tests_name("merkle", tests, setup, NULL);
}
