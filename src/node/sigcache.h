/*
 * node/sigcache.h — the txids whose signatures this node has verified at
 * admission, so that applying a block that carries them does not verify
 * the same bytes a second time on the same node.
 *
 * Sound because txid = SHA-256 of the tx's whole encoding, signature
 * included: a txid in the cache names exactly the bytes that verified here.
 * Direct-mapped on the txid's first bytes: a newer txid replaces an older
 * one in its slot, and an evicted tx is simply verified again. Thread safe.
 */
#ifndef CC_NODE_SIGCACHE_H
#define CC_NODE_SIGCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "carechain.h"

typedef struct cc_sigcache {
    pthread_mutex_t mu;
    uint8_t (*slots)[CC_HASH_BYTES]; /* all zero = empty */
    size_t mask;
} cc_sigcache;

/* 2^bits slots of 32 bytes. CC_ERR_NOMEM. */
cc_err cc_sigcache_init(cc_sigcache *c, unsigned bits) CC_WUR;
void cc_sigcache_destroy(cc_sigcache *c);
/* Remember that the tx named txid verified. */
void cc_sigcache_add(cc_sigcache *c, const uint8_t txid[CC_HASH_BYTES]);
/* Whether the tx named txid verified here (and is still remembered). */
bool cc_sigcache_has(cc_sigcache *c, const uint8_t txid[CC_HASH_BYTES]);

#endif
