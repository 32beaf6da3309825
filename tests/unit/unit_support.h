/*
 * unit_support.h — small fixtures shared by the unit tests: deterministic
 * keys, a genesis document, a scratch directory, and tx construction.
 */
#ifndef CC_UNIT_SUPPORT_H
#define CC_UNIT_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "carechain.h"
#include "../test_genesis.h"

/* Key number i (a fixed seed: 32 bytes of i). */
static inline void ut_key(int i, cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    memset(seed, i, sizeof seed);
    cc_key_from_seed(seed, k);
}

/* A genesis with one node (key 1), an org "hospital" with admin key 2 and
 * an org "payer" with admin key 3. Caller frees the returned string. */
static inline char *ut_genesis(void)
{
    return tg_genesis();
}

/* Make and sign a tx; asserts success. */
static inline void ut_tx(cc_tx *tx, const uint8_t *chain_id, const cc_key *k, const char *type,
                         const char *payload, uint64_t created_ms, uint64_t nonce)
{
    cc_tx_params p = {.chain_id = chain_id,
                      .type = type,
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = created_ms,
                      .expiry_ms = created_ms + 3600 * 1000,
                      .nonce = nonce};
    cc_errbuf eb = {""};
    cc_err rc = cc_tx_create(&p, k, tx, &eb);
    if (rc != CC_OK) fail_msg("cc_tx_create: %s", eb.msg);
}

/* A fresh scratch directory; caller removes it with ut_rmdir. */
static inline char *ut_tmpdir(void)
{
    char *d = strdup("/tmp/cc-unit-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void ut_rmdir(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

#endif
