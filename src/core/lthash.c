/*
 * lthash.c — the state commitment: a lattice multiset hash (LtHash16).
 *
 * Each (key, value) pair expands to 1024 lanes of 16 bits: the ChaCha20
 * keystream under key BLAKE2b-256("carechain/state-entry/v1" || u32 klen ||
 * key || u32 vlen || value) with a zero nonce. (BLAKE2b rather than SHA-256
 * because it is about three times faster here and no outside verifier needs
 * to recompute entry seeds.) The state's accumulator is the
 * lane-wise sum (mod 2^16) over every pair, so adding, removing or changing
 * one entry costs one expansion, and the result does not depend on the order
 * of writes. state root = SHA-256("carechain/state/v1" || lanes, LE).
 */
#include <string.h>

#include <sodium.h>

#include "carechain.h"
#include "core/codec.h"

#define LANES (CC_LTHASH_BYTES / 2)
static const char entry_domain[] = "carechain/state-entry/v1";
static const char root_domain[] = "carechain/state/v1";

static void expand(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen, uint16_t lanes[LANES])
{
    crypto_generichash_state st;
    uint8_t seed[crypto_stream_chacha20_KEYBYTES], n4[4];
    static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint8_t bytes[CC_LTHASH_BYTES];

    crypto_generichash_init(&st, NULL, 0, sizeof seed);
    crypto_generichash_update(&st, (const uint8_t *)entry_domain, sizeof entry_domain - 1);
    cc_put_u32(n4, (uint32_t)klen);
    crypto_generichash_update(&st, n4, 4);
    crypto_generichash_update(&st, key, klen);
    cc_put_u32(n4, (uint32_t)vlen);
    crypto_generichash_update(&st, n4, 4);
    crypto_generichash_update(&st, val, vlen);
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_stream_chacha20(bytes, sizeof bytes, nonce, seed);
    for (size_t i = 0; i < LANES; i++) lanes[i] = (uint16_t)(bytes[2 * i] | (bytes[2 * i + 1] << 8));
}

void cc_lthash_add(cc_lthash *acc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    uint16_t e[LANES];
    expand(key, klen, val, vlen, e);
    for (size_t i = 0; i < LANES; i++) acc->lane[i] = (uint16_t)(acc->lane[i] + e[i]);
}

void cc_lthash_sub(cc_lthash *acc, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    uint16_t e[LANES];
    expand(key, klen, val, vlen, e);
    for (size_t i = 0; i < LANES; i++) acc->lane[i] = (uint16_t)(acc->lane[i] - e[i]);
}

void cc_lthash_encode(const cc_lthash *acc, uint8_t out[CC_LTHASH_BYTES])
{
    for (size_t i = 0; i < LANES; i++) {
        out[2 * i] = (uint8_t)acc->lane[i];
        out[2 * i + 1] = (uint8_t)(acc->lane[i] >> 8);
    }
}

void cc_lthash_decode(const uint8_t in[CC_LTHASH_BYTES], cc_lthash *acc)
{
    for (size_t i = 0; i < LANES; i++) acc->lane[i] = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
}

void cc_lthash_root(const cc_lthash *acc, uint8_t out[CC_HASH_BYTES])
{
    uint8_t bytes[CC_LTHASH_BYTES];
    cc_lthash_encode(acc, bytes);
    const cc_span parts[] = {{(const uint8_t *)root_domain, sizeof root_domain - 1}, {bytes, sizeof bytes}};
    cc_sha256_parts(parts, 2, out);
}
