/*
 * bytes.c — hex and base64 over libsodium (SHA-256 is in sha256.c).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain.h"

char *cc_hex(const uint8_t *bin, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, bin, n);
    return out;
}

cc_err cc_unhex(const char *hex, uint8_t *bin, size_t n)
{
    size_t got = 0;
    if (!hex || strlen(hex) != 2 * n) return CC_ERR_MALFORMED;
    if (sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, NULL) != 0 || got != n) return CC_ERR_MALFORMED;
    return CC_OK;
}

char *cc_base64(const uint8_t *bin, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    if (out) sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

cc_err cc_unbase64(const char *b64, uint8_t **out, size_t *n)
{
    size_t len = strlen(b64);
    size_t cap = len / 4 * 3 + 3;
    uint8_t *buf = malloc(cap ? cap : 1);
    const char *end = NULL;
    if (!buf) return CC_ERR_NOMEM;
    if (sodium_base642bin(buf, cap, b64, len, NULL, n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + len) {
        free(buf);
        return CC_ERR_MALFORMED;
    }
    *out = buf;
    return CC_OK;
}

/* libsodium must be initialised once per process before its randomness and
 * its CPU-specific implementations are used; every program that links the
 * library links this file, so this runs before main. */
__attribute__((constructor)) static void init_sodium(void)
{
    if (sodium_init() < 0) abort();
}
