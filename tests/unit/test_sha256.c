/*
 * test_sha256.c — cc_sha256 and cc_sha256_parts (libcrypto) against the
 * FIPS 180-2 examples and against libsodium's independent implementation,
 * for every length and split that the codec, the Merkle trees and the
 * state root use, and from several threads at once (each keeps its own
 * digest context).
 */
#include <pthread.h>

#include <sodium.h>

#include "unit_support.h"

#define MAX_LEN       300
#define THREADS       4
#define THREAD_HASHES 5000

static uint8_t input[1000000];

static void expect_hex(const uint8_t digest[CC_HASH_BYTES], const char *hex)
{
    char got[CC_HASH_HEX];
    assert_string_equal(cc_hex(digest, CC_HASH_BYTES, got), hex);
}

static void test_fips_examples(void **state)
{
    (void)state;
    uint8_t d[CC_HASH_BYTES];
    cc_sha256(NULL, 0, d);
    expect_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cc_sha256((const uint8_t *)"abc", 3, d);
    expect_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cc_sha256((const uint8_t *)two_blocks, strlen(two_blocks), d);
    expect_hex(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    memset(input, 'a', sizeof input);
    cc_sha256(input, sizeof input, d);
    expect_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void fill_input(void)
{
    for (size_t i = 0; i < MAX_LEN; i++) input[i] = (uint8_t)(i * 131 + 7);
}

static void test_every_length_matches_libsodium(void **state)
{
    (void)state;
    uint8_t want[CC_HASH_BYTES], got[CC_HASH_BYTES];
    fill_input();
    for (size_t len = 0; len <= MAX_LEN; len++) {
        crypto_hash_sha256(want, input, len);
        cc_sha256(input, len, got);
        assert_memory_equal(got, want, CC_HASH_BYTES);
    }
}

static void test_every_split_matches_libsodium(void **state)
{
    (void)state;
    uint8_t want[CC_HASH_BYTES], got[CC_HASH_BYTES];
    fill_input();
    for (size_t len = 0; len <= 130; len++) {
        crypto_hash_sha256(want, input, len);
        for (size_t a = 0; a <= len; a++) {
            const cc_span two[] = {{input, a}, {input + a, len - a}};
            cc_sha256_parts(two, 2, got);
            assert_memory_equal(got, want, CC_HASH_BYTES);
            size_t b = a + (len - a) / 2;
            const cc_span three[] = {{input, a}, {input + a, b - a}, {input + b, len - b}};
            cc_sha256_parts(three, 3, got);
            assert_memory_equal(got, want, CC_HASH_BYTES);
        }
    }
    cc_sha256_parts(NULL, 0, got);
    expect_hex(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

typedef struct thread_job {
    unsigned seed;
    size_t mismatches;
} thread_job;

static void *hash_many(void *arg)
{
    thread_job *job = arg;
    uint8_t buf[MAX_LEN], want[CC_HASH_BYTES], got[CC_HASH_BYTES];
    for (size_t i = 0; i < THREAD_HASHES; i++) {
        size_t len = (job->seed + i * 7) % MAX_LEN;
        for (size_t j = 0; j < len; j++) buf[j] = (uint8_t)(job->seed + i + j);
        crypto_hash_sha256(want, buf, len);
        cc_sha256(buf, len, got);
        job->mismatches += memcmp(got, want, CC_HASH_BYTES) != 0;
    }
    return NULL;
}

static void test_threads_hash_at_once(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    thread_job jobs[THREADS];
    /* Twice: the second round's threads start after the first round's
     * contexts were freed at their threads' exit. */
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < THREADS; i++) {
            jobs[i] = (thread_job){.seed = 1000u * (unsigned)round + i};
            assert_int_equal(pthread_create(&t[i], NULL, hash_many, &jobs[i]), 0);
        }
        for (unsigned i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            assert_int_equal(jobs[i].mismatches, 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_examples),
        cmocka_unit_test(test_every_length_matches_libsodium),
        cmocka_unit_test(test_every_split_matches_libsodium),
        cmocka_unit_test(test_threads_hash_at_once),
    };
    return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
