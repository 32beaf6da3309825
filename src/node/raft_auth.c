/*
 * raft_auth.c — the handshake and the frames of a raft link (see
 * raft_auth.h). The two signed messages are
 *
 *   connecting: "carechain raft link v2: connect" || chain id (32)
 *               || accepting raft id (u64, big-endian) || eph A || eph C
 *   accepting:  "carechain raft link v2: accept"  || chain id (32)
 *               || accepting raft id || eph A || eph C || node key C
 *
 * Each side's ephemeral key is fresh per connection, so a signature is good
 * for one connection of one chain only, and the accepting side's names the
 * node it admitted. The session keys are crypto_kx's over the two ephemeral
 * keys (the connecting side is the client); frames are
 * ChaCha20-Poly1305-IETF with the frame's number as nonce and its head as
 * associated data.
 */
#include "node/raft_auth.h"

#include <string.h>

#include <sodium.h>

#include "core/codec.h"

_Static_assert(CC_RAFT_FRAME_TAG_BYTES == crypto_aead_chacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CC_RAFT_AUTH_EPH_BYTES == crypto_kx_PUBLICKEYBYTES, "kx key size");
_Static_assert(sizeof(((cc_raft_hs *)0)->eph_sk) == crypto_kx_SECRETKEYBYTES, "kx secret size");
_Static_assert(sizeof(((cc_raft_cipher *)0)->key) == crypto_kx_SESSIONKEYBYTES, "session key size");

static const char MAGIC[CC_RAFT_AUTH_MAGIC_BYTES] = "carechain raft2";
static const char CONNECT[] = "carechain raft link v2: connect";
static const char ACCEPT[] = "carechain raft link v2: accept";

#define CONNECT_BYTES (sizeof CONNECT - 1 + CC_HASH_BYTES + 8 + 2 * CC_RAFT_AUTH_EPH_BYTES)
#define ACCEPT_BYTES  (sizeof ACCEPT - 1 + CC_HASH_BYTES + 8 + 2 * CC_RAFT_AUTH_EPH_BYTES + CC_PUBKEY_BYTES)

/* domain || chain id || target || eph A || eph C; returns the end. */
static uint8_t *exchange(const cc_raft_hs *hs, const char *domain, size_t domain_len, uint8_t *out)
{
    uint8_t *p = out;
    memcpy(p, domain, domain_len);
    p += domain_len;
    memcpy(p, hs->chain_id, CC_HASH_BYTES);
    p += CC_HASH_BYTES;
    cc_put_u64(p, hs->target);
    p += 8;
    memcpy(p, hs->eph_a, CC_RAFT_AUTH_EPH_BYTES);
    p += CC_RAFT_AUTH_EPH_BYTES;
    memcpy(p, hs->eph_c, CC_RAFT_AUTH_EPH_BYTES);
    return p + CC_RAFT_AUTH_EPH_BYTES;
}

static void connect_message(const cc_raft_hs *hs, uint8_t out[CONNECT_BYTES])
{
    exchange(hs, CONNECT, sizeof CONNECT - 1, out);
}

static void accept_message(const cc_raft_hs *hs, uint8_t out[ACCEPT_BYTES])
{
    memcpy(exchange(hs, ACCEPT, sizeof ACCEPT - 1, out), hs->connecting_pk, CC_PUBKEY_BYTES);
}

void cc_raft_hs_hello(cc_raft_hs *hs, const uint8_t chain_id[CC_HASH_BYTES], uint64_t self_id,
                      uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES])
{
    memset(hs, 0, sizeof *hs);
    hs->accepting = true;
    hs->target = self_id;
    memcpy(hs->chain_id, chain_id, CC_HASH_BYTES);
    crypto_kx_keypair(hs->eph_a, hs->eph_sk);
    memcpy(hello, MAGIC, CC_RAFT_AUTH_MAGIC_BYTES);
    memcpy(hello + CC_RAFT_AUTH_MAGIC_BYTES, hs->eph_a, CC_RAFT_AUTH_EPH_BYTES);
}

bool cc_raft_hs_answer(cc_raft_hs *hs, const cc_key *key, const uint8_t chain_id[CC_HASH_BYTES],
                       uint64_t target, const uint8_t hello[CC_RAFT_AUTH_HELLO_BYTES],
                       uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES])
{
    uint8_t msg[CONNECT_BYTES];
    if (memcmp(hello, MAGIC, CC_RAFT_AUTH_MAGIC_BYTES) != 0) return false;
    memset(hs, 0, sizeof *hs);
    hs->target = target;
    memcpy(hs->chain_id, chain_id, CC_HASH_BYTES);
    memcpy(hs->eph_a, hello + CC_RAFT_AUTH_MAGIC_BYTES, CC_RAFT_AUTH_EPH_BYTES);
    crypto_kx_keypair(hs->eph_c, hs->eph_sk);
    memcpy(hs->connecting_pk, key->pk, CC_PUBKEY_BYTES);
    connect_message(hs, msg);
    memcpy(answer, key->pk, CC_PUBKEY_BYTES);
    memcpy(answer + CC_PUBKEY_BYTES, hs->eph_c, CC_RAFT_AUTH_EPH_BYTES);
    crypto_sign_detached(answer + CC_PUBKEY_BYTES + CC_RAFT_AUTH_EPH_BYTES, NULL, msg, sizeof msg, key->sk);
    return true;
}

bool cc_raft_hs_check_answer(cc_raft_hs *hs, const uint8_t answer[CC_RAFT_AUTH_ANSWER_BYTES],
                             uint8_t pk[CC_PUBKEY_BYTES])
{
    uint8_t msg[CONNECT_BYTES];
    memcpy(hs->connecting_pk, answer, CC_PUBKEY_BYTES);
    memcpy(hs->eph_c, answer + CC_PUBKEY_BYTES, CC_RAFT_AUTH_EPH_BYTES);
    connect_message(hs, msg);
    memcpy(pk, answer, CC_PUBKEY_BYTES);
    return crypto_sign_verify_detached(answer + CC_PUBKEY_BYTES + CC_RAFT_AUTH_EPH_BYTES, msg, sizeof msg,
                                       hs->connecting_pk) == 0;
}

void cc_raft_hs_admit(const cc_raft_hs *hs, const cc_key *key, uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES])
{
    uint8_t msg[ACCEPT_BYTES];
    accept_message(hs, msg);
    memcpy(admit, key->pk, CC_PUBKEY_BYTES);
    crypto_sign_detached(admit + CC_PUBKEY_BYTES, NULL, msg, sizeof msg, key->sk);
}

bool cc_raft_hs_check_admit(const cc_raft_hs *hs, const uint8_t admit[CC_RAFT_AUTH_ADMIT_BYTES],
                            uint8_t pk[CC_PUBKEY_BYTES])
{
    uint8_t msg[ACCEPT_BYTES];
    accept_message(hs, msg);
    memcpy(pk, admit, CC_PUBKEY_BYTES);
    return crypto_sign_verify_detached(admit + CC_PUBKEY_BYTES, msg, sizeof msg, admit) == 0;
}

bool cc_raft_hs_keys(cc_raft_hs *hs, cc_raft_cipher *send, cc_raft_cipher *recv)
{
    int rv = hs->accepting
                 ? crypto_kx_server_session_keys(recv->key, send->key, hs->eph_a, hs->eph_sk, hs->eph_c)
                 : crypto_kx_client_session_keys(recv->key, send->key, hs->eph_c, hs->eph_sk, hs->eph_a);
    sodium_memzero(hs->eph_sk, sizeof hs->eph_sk);
    send->counter = recv->counter = 0;
    return rv == 0;
}

static void frame_nonce(uint64_t counter, uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES])
{
    memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
    cc_put_u64(nonce, counter);
}

size_t cc_raft_frame_seal(cc_raft_cipher *c, uint8_t *frame, size_t n)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long clen;
    uint8_t *body = frame + CC_RAFT_FRAME_HEAD_BYTES;
    cc_put_u32(frame, (uint32_t)(n + CC_RAFT_FRAME_TAG_BYTES));
    frame_nonce(c->counter++, nonce);
    crypto_aead_chacha20poly1305_ietf_encrypt(body, &clen, body, n, frame, CC_RAFT_FRAME_HEAD_BYTES, NULL,
                                              nonce, c->key);
    return CC_RAFT_FRAME_HEAD_BYTES + (size_t)clen;
}

size_t cc_raft_frame_len(const uint8_t head[CC_RAFT_FRAME_HEAD_BYTES])
{
    uint32_t body = cc_get_u32(head);
    if (body <= CC_RAFT_FRAME_TAG_BYTES || body > CC_RAFT_FRAME_PLAIN_MAX + CC_RAFT_FRAME_TAG_BYTES) return 0;
    return CC_RAFT_FRAME_HEAD_BYTES + body;
}

bool cc_raft_frame_open(cc_raft_cipher *c, uint8_t *frame, size_t len, size_t *n)
{
    uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
    unsigned long long mlen;
    uint8_t *body = frame + CC_RAFT_FRAME_HEAD_BYTES;
    if (len != cc_raft_frame_len(frame)) return false;
    frame_nonce(c->counter, nonce);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(body, &mlen, NULL, body, len - CC_RAFT_FRAME_HEAD_BYTES,
                                                  frame, CC_RAFT_FRAME_HEAD_BYTES, nonce, c->key) != 0)
        return false;
    c->counter++;
    *n = (size_t)mlen;
    return true;
}
