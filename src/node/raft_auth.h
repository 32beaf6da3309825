/*
 * raft_auth.h — who may speak raft to this node: the challenge and answer
 * that open every raft TCP connection after libraft's own handshake
 * (docs/CONSENSUS.md "Raft connections").
 *
 * libraft 0.15 decodes whatever arrives on its port and trusts it; a
 * malformed message crashes the node. So the accepting node sends a fresh
 * challenge, and the connecting node answers with its node key's signature
 * over it and the chain id; only a node of the network gets its bytes to
 * libraft. Pure code: the transport in consensus_raft.c moves the bytes.
 */
#ifndef CC_NODE_RAFT_AUTH_H
#define CC_NODE_RAFT_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "carechain.h"

#define CC_RAFT_AUTH_MAGIC_BYTES  16                               /* "carechain raft1" and a NUL */
#define CC_RAFT_AUTH_HELLO_BYTES  (CC_RAFT_AUTH_MAGIC_BYTES + 32)  /* magic || challenge */
#define CC_RAFT_AUTH_ANSWER_BYTES (CC_PUBKEY_BYTES + CC_SIG_BYTES) /* pk || signature */
#define CC_RAFT_AUTH_OK           0x01                             /* the one byte of "admitted" */

/* The accepting side's hello: the magic and 32 fresh random bytes. */
void cc_raft_auth_hello(uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES]);

/* The connecting side's answer to hello: key's public key and its
 * signature over (domain, chain_id, challenge). false when hello does not
 * start with the magic (not a carechain node, or another version). */
bool cc_raft_auth_answer(const cc_key *key, const uint8_t chain_id[CC_HASH_BYTES],
                         const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                         uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES]);

/* Does answer sign hello's challenge for chain_id? pk receives the signer's
 * key (whether it is a node of the network is the caller's question). */
bool cc_raft_auth_check(const uint8_t chain_id[CC_HASH_BYTES], const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                        const uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES], uint8_t pk[CC_PUBKEY_BYTES]);

#endif
