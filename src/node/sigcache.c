/*
 * node/sigcache.c — the verified-txid cache (see sigcache.h).
 */
#include <stdlib.h>
#include <string.h>

#include "node/sigcache.h"

cc_err cc_sigcache_init(cc_sigcache *c, unsigned bits)
{
    memset(c, 0, sizeof *c);
    c->slots = calloc((size_t)1 << bits, sizeof *c->slots);
    if (!c->slots) return CC_ERR_NOMEM;
    c->mask = ((size_t)1 << bits) - 1;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->slots);
        c->slots = NULL;
        return CC_ERR_NOMEM;
    }
    return CC_OK;
}

void cc_sigcache_destroy(cc_sigcache *c)
{
    if (!c->slots) return;
    free(c->slots);
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof *c);
}

/* txids are SHA-256 outputs: their first bytes are already uniform. */
static size_t slot_of(const cc_sigcache *c, const uint8_t txid[CC_HASH_BYTES])
{
    uint64_t v;
    memcpy(&v, txid, sizeof v);
    return (size_t)v & c->mask;
}

void cc_sigcache_add(cc_sigcache *c, const uint8_t txid[CC_HASH_BYTES])
{
    if (!c->slots) return;
    pthread_mutex_lock(&c->mu);
    memcpy(c->slots[slot_of(c, txid)], txid, CC_HASH_BYTES);
    pthread_mutex_unlock(&c->mu);
}

static bool all_zero(const uint8_t txid[CC_HASH_BYTES])
{
    uint8_t any = 0;
    for (size_t i = 0; i < CC_HASH_BYTES; i++) any |= txid[i];
    return any == 0;
}

bool cc_sigcache_has(cc_sigcache *c, const uint8_t txid[CC_HASH_BYTES])
{
    if (!c->slots || all_zero(txid)) return false; /* an empty slot is all zero */
    pthread_mutex_lock(&c->mu);
    bool hit = memcmp(c->slots[slot_of(c, txid)], txid, CC_HASH_BYTES) == 0;
    pthread_mutex_unlock(&c->mu);
    return hit;
}
