/*
 * test_genesis.h — the genesis document the unit tests and the proof fuzz
 * target share: one node (key seed 1), organisations "hospital" (admin key
 * seed 2) and "payer" (admin key seed 3). Key seed i is 32 bytes of i.
 * Ruleset 2, as `carechain init` writes today.
 */
#ifndef CC_TEST_GENESIS_H
#define CC_TEST_GENESIS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"

static inline void tg_key(int i, cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    memset(seed, i, sizeof seed);
    cc_key_from_seed(seed, k);
}

/* The genesis bytes; caller frees. NULL on OOM. */
static inline char *tg_genesis(void)
{
    cc_key node, admin, payer;
    char n[CC_HASH_HEX], a[CC_HASH_HEX], p[CC_HASH_HEX];
    tg_key(1, &node);
    tg_key(2, &admin);
    tg_key(3, &payer);
    char *out = NULL;
    if (asprintf(
            &out,
            "{\"carechain_genesis\":1,\"chain_name\":\"unit\",\"time_ms\":1764000000000,\"ruleset\":2,"
            "\"organisations\":[{\"id\":\"hospital\",\"name\":\"St Example\",\"kind\":\"hospital\"},"
            "{\"id\":\"payer\",\"name\":\"Example Plan\",\"kind\":\"payer\"}],"
            "\"nodes\":[{\"name\":\"node1\",\"id\":\"%s\",\"org\":\"hospital\",\"api\":\"127.0.0.1:7800\","
            "\"raft\":\"127.0.0.1:7900\"}],"
            "\"identities\":[{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"hospital\",\"name\":\"Admin\"},"
            "{\"id\":\"%s\",\"role\":\"admin\",\"org\":\"payer\",\"name\":\"Payer admin\"}]}",
            cc_hex(node.pk, 32, n), cc_hex(admin.pk, 32, a), cc_hex(payer.pk, 32, p)) < 0)
        return NULL;
    return out;
}

#endif
