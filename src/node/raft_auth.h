/*
 * raft_auth.h — the handshake that opens every raft TCP connection after
 * libraft's own, and the cipher of the bytes that follow it
 * (docs/CONSENSUS.md "Raft connections").
 *
 * libraft 0.15 decodes whatever arrives on its port and trusts it; a
 * malformed message crashes the node, and its TCP transport neither
 * encrypts nor protects what it sends. So each side proves it holds the
 * node key of the raft id it claims, both agree on fresh session keys
 * (X25519 ephemeral keys that both node keys sign, libsodium's crypto_kx),
 * and every raft byte then travels in authenticated, encrypted frames:
 *
 *   accepting -> connecting  hello:  magic (16) || ephemeral key A (32)
 *   connecting -> accepting  answer: node key C (32) || ephemeral key C (32)
 *                                    || sig_C (64)
 *   accepting -> connecting  admit:  node key A (32) || sig_A (64)
 *   then, each way:          frames: u32 length (big-endian) || ciphertext
 *
 * Pure code: the transport in consensus_raft.c and the pump in raft_link.c
 * move the bytes.
 */
#ifndef CC_NODE_RAFT_AUTH_H
#define CC_NODE_RAFT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carechain.h"

#define CC_RAFT_AUTH_MAGIC_BYTES  16 /* "carechain raft2" and a NUL */
#define CC_RAFT_AUTH_EPH_BYTES    32 /* an X25519 public key */
#define CC_RAFT_AUTH_HELLO_BYTES  (CC_RAFT_AUTH_MAGIC_BYTES + CC_RAFT_AUTH_EPH_BYTES)
#define CC_RAFT_AUTH_ANSWER_BYTES (CC_PUBKEY_BYTES + CC_RAFT_AUTH_EPH_BYTES + CC_SIG_BYTES)
#define CC_RAFT_AUTH_ADMIT_BYTES  (CC_PUBKEY_BYTES + CC_SIG_BYTES)

#define CC_RAFT_FRAME_HEAD_BYTES 4            /* the ciphertext's length, big-endian */
#define CC_RAFT_FRAME_TAG_BYTES  16           /* ChaCha20-Poly1305's tag */
#define CC_RAFT_FRAME_PLAIN_MAX  (64u * 1024) /* raft bytes per frame */
#define CC_RAFT_FRAME_MAX        (CC_RAFT_FRAME_HEAD_BYTES + CC_RAFT_FRAME_PLAIN_MAX + CC_RAFT_FRAME_TAG_BYTES)

/* One side's handshake, from the hello to the session keys. */
typedef struct cc_raft_hs {
    uint8_t chain_id[CC_HASH_BYTES];
    uint64_t target;                        /* the accepting node's raft id */
    uint8_t eph_sk[32];                     /* this side's ephemeral secret */
    uint8_t eph_a[CC_RAFT_AUTH_EPH_BYTES];  /* the accepting side's ephemeral key */
    uint8_t eph_c[CC_RAFT_AUTH_EPH_BYTES];  /* the connecting side's */
    uint8_t connecting_pk[CC_PUBKEY_BYTES]; /* the connecting node's key, once known */
    bool accepting;
} cc_raft_hs;

/* One direction of a link: its key and the number of the next frame (the
 * nonce), so a frame that is dropped, repeated or moved does not open. */
typedef struct cc_raft_cipher {
    uint8_t key[32];
    uint64_t counter;
} cc_raft_cipher;

/* Accepting node self_id: start hs and write the hello. */
void cc_raft_hs_hello(cc_raft_hs *hs, const uint8_t chain_id[CC_HASH_BYTES], uint64_t self_id,
                      uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES]);

/* Connecting to raft id target with key: the answer to hello. false when
 * hello does not start with the magic (not a carechain node, or another
 * version of the exchange) or its key is unusable. */
bool cc_raft_hs_answer(cc_raft_hs *hs, const cc_key *key, const uint8_t chain_id[CC_HASH_BYTES],
                       uint64_t target, const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                       uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES]);

/* Accepting: does answer sign this hello, chain and raft id? pk receives
 * the signer's key (whether it is a node of the network is the caller's
 * question). */
bool cc_raft_hs_check_answer(cc_raft_hs *hs, const uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES],
                             uint8_t pk[CC_PUBKEY_BYTES]);

/* Accepting, the answer checked: the admit, signed with this node's key. */
void cc_raft_hs_admit(const cc_raft_hs *hs, const cc_key *key, uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES]);

/* Connecting: does admit sign this exchange? pk receives the signer's key. */
bool cc_raft_hs_check_admit(const cc_raft_hs *hs, const uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES],
                            uint8_t pk[CC_PUBKEY_BYTES]);

/* Both sides, the exchange done: the keys of the two directions. Wipes
 * the ephemeral secret. false when the peer's ephemeral key is unusable. */
bool cc_raft_hs_keys(cc_raft_hs *hs, cc_raft_cipher *send, cc_raft_cipher *recv);

/* Seal n (1..CC_RAFT_FRAME_PLAIN_MAX) bytes as one frame. The plain bytes
 * must already lie at frame + CC_RAFT_FRAME_HEAD_BYTES (sealed in place);
 * returns the frame's length. */
size_t cc_raft_frame_seal(cc_raft_cipher *c, uint8_t *frame, size_t n);

/* The length of the frame whose head is head, or 0 when no frame is that
 * long (a peer that sends one is not following the protocol). */
size_t cc_raft_frame_len(const uint8_t head[CC_RAFT_FRAME_HEAD_BYTES]);

/* Open the whole frame (len bytes, as cc_raft_frame_len said) in place:
 * the plain bytes are at frame + CC_RAFT_FRAME_HEAD_BYTES, *n of them.
 * false when it was not sealed by the peer as its next frame (its bytes
 * are then wiped, and the link is to be closed). */
bool cc_raft_frame_open(cc_raft_cipher *c, uint8_t *frame, size_t len, size_t *n);

#endif
