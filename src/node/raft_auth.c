/*
 * raft_auth.c — the challenge and answer that open a raft connection (see
 * raft_auth.h). The signed message is
 *
 *   "carechain raft connection v1" || chain id (32) || challenge (32)
 *
 * so an answer is good for one challenge of one chain only.
 */
#include "node/raft_auth.h"

#include <string.h>

#include <sodium.h>

static const char MAGIC[CC_RAFT_AUTH_MAGIC_BYTES] = "carechain raft1";
static const char DOMAIN[] = "carechain raft connection v1";

#define SIGNED_BYTES (sizeof DOMAIN - 1 + CC_HASH_BYTES + 32)

static void signed_message(const uint8_t chain_id[CC_HASH_BYTES],
                           const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES], uint8_t out[SIGNED_BYTES])
{
    memcpy(out, DOMAIN, sizeof DOMAIN - 1);
    memcpy(out + sizeof DOMAIN - 1, chain_id, CC_HASH_BYTES);
    memcpy(out + sizeof DOMAIN - 1 + CC_HASH_BYTES, hello + CC_RAFT_AUTH_MAGIC_BYTES, 32);
}

void cc_raft_auth_hello(uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES])
{
    memcpy(hello, MAGIC, CC_RAFT_AUTH_MAGIC_BYTES);
    randombytes_buf(hello + CC_RAFT_AUTH_MAGIC_BYTES, 32);
}

bool cc_raft_auth_answer(const cc_key *key, const uint8_t chain_id[CC_HASH_BYTES],
                         const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                         uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES])
{
    uint8_t msg[SIGNED_BYTES];
    if (memcmp(hello, MAGIC, CC_RAFT_AUTH_MAGIC_BYTES) != 0) return false;
    signed_message(chain_id, hello, msg);
    memcpy(answer, key->pk, CC_PUBKEY_BYTES);
    crypto_sign_detached(answer + CC_PUBKEY_BYTES, NULL, msg, sizeof msg, key->sk);
    return true;
}

bool cc_raft_auth_check(const uint8_t chain_id[CC_HASH_BYTES], const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                        const uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES], uint8_t pk[CC_PUBKEY_BYTES])
{
    uint8_t msg[SIGNED_BYTES];
    signed_message(chain_id, hello, msg);
    memcpy(pk, answer, CC_PUBKEY_BYTES);
    return crypto_sign_verify_detached(answer + CC_PUBKEY_BYTES, msg, sizeof msg, pk) == 0;
}
