/*
 * carechain/records.h — the client-side cryptography of health records and
 * the signed-request scheme (docs/RECORDS.md has the byte layouts).
 *
 * Records are encrypted on the client with a random data key
 * (XChaCha20-Poly1305); the data key is wrapped for each reader with a
 * libsodium sealed box to the X25519 form of the reader's Ed25519 key. Reads
 * of protected data are HTTP requests signed in the manner of RFC 9421
 * (HTTP Message Signatures) with an RFC 9530 Content-Digest.
 *
 * Pure code: no I/O, no clock (callers pass the time).
 */
#ifndef CARECHAIN_RECORDS_H
#define CARECHAIN_RECORDS_H

#include "carechain.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CC_RECORD_ID_BYTES    16 /* record ids are 32 hex digits */
#define CC_DATA_KEY_BYTES     32
#define CC_WRAPPED_KEY_BYTES  80 /* sealed box of a data key: 32 + 48 */
#define CC_RECORD_NONCE_BYTES 24
#define CC_RECORD_TAG_BYTES   16
/* Ciphertext = nonce || XChaCha20-Poly1305(plaintext) || tag. */
#define CC_RECORD_OVERHEAD (CC_RECORD_NONCE_BYTES + CC_RECORD_TAG_BYTES)

/* ---- record envelope ---------------------------------------------------- */

/* Encrypt plain under a fresh random data key (written to key). The
 * associated data binds the ciphertext to "carechain/record/v1", the record
 * id and the version, so it cannot be replayed as another record or
 * version. *ct is malloc'd (len + CC_RECORD_OVERHEAD bytes). */
cc_err cc_record_encrypt(const uint8_t *plain, size_t len, const uint8_t id[CC_RECORD_ID_BYTES],
                         uint32_t version, uint8_t key[CC_DATA_KEY_BYTES], uint8_t **ct, size_t *ct_len,
                         cc_errbuf *eb) CC_WUR;
/* Decrypt; CC_ERR_VERIFY when the tag, id or version does not match.
 * *plain is malloc'd (NUL-terminated for convenience, not counted). */
cc_err cc_record_decrypt(const uint8_t *ct, size_t ct_len, const uint8_t id[CC_RECORD_ID_BYTES],
                         uint32_t version, const uint8_t key[CC_DATA_KEY_BYTES], uint8_t **plain, size_t *len,
                         cc_errbuf *eb) CC_WUR;

/* Wrap a data key for the holder of the Ed25519 public key reader (sealed
 * box to its X25519 form). CC_ERR_INVALID when reader is not a valid point. */
cc_err cc_data_key_wrap(const uint8_t key[CC_DATA_KEY_BYTES], const uint8_t reader[CC_PUBKEY_BYTES],
                        uint8_t out[CC_WRAPPED_KEY_BYTES], cc_errbuf *eb) CC_WUR;
/* Unwrap with the reader's key pair; CC_ERR_VERIFY when it is not for them. */
cc_err cc_data_key_unwrap(const uint8_t wrapped[CC_WRAPPED_KEY_BYTES], const cc_key *reader,
                          uint8_t key[CC_DATA_KEY_BYTES], cc_errbuf *eb) CC_WUR;

/* ---- signed requests (RFC 9421 profile) ------------------------------------ */

#define CC_REQSIG_SKEW_S 60 /* created may differ from the server clock by this */
#define CC_REQSIG_LABEL  "cc"

/* The three headers a signed request carries. */
typedef struct cc_reqsig_headers {
    char content_digest[64];   /* Content-Digest: sha-256=:<base64>: */
    char signature_input[256]; /* Signature-Input: cc=(...);created=..;keyid="..";alg="ed25519" */
    char signature[100];       /* Signature: cc=:<base64>: */
} cc_reqsig_headers;

#define CC_REQSIG_NONCE_BYTES 16 /* cc_reqsig_sign's random nonce (32 hex digits) */

/* Sign a request. path is the request path without the query ("/v1/records/
 * ab12"); query is the raw query string without '?' as it will be sent
 * ("purpose=TREAT"), "" or NULL for none; body may be NULL when len is 0.
 * created_s is the signer's clock in seconds since the epoch. */
cc_err cc_reqsig_sign(const cc_key *key, const char *method, const char *path, const char *query,
                      const uint8_t *body, size_t len, int64_t created_s, cc_reqsig_headers *out,
                      cc_errbuf *eb) CC_WUR;
/* The same with a given nonce (RFC 9421 "nonce": 16..64 characters of
 * [A-Za-z0-9_-]), or none when nonce is NULL. cc_reqsig_sign always sends a
 * fresh random one, so two identical requests in the same second carry
 * different signatures (Ed25519 signatures are deterministic). */
cc_err cc_reqsig_sign_nonce(const cc_key *key, const char *method, const char *path, const char *query,
                            const uint8_t *body, size_t len, int64_t created_s, const char *nonce,
                            cc_reqsig_headers *out, cc_errbuf *eb) CC_WUR;

/* A verified signature. */
typedef struct cc_reqsig_verified {
    uint8_t keyid[CC_PUBKEY_BYTES]; /* who signed */
    int64_t created_s;
    uint8_t sig[CC_SIG_BYTES]; /* the signature bytes (replay caches key on them) */
} cc_reqsig_verified;

/* Verify a request against its headers (any may be NULL: missing). Checks
 * the component list is exactly ("@method" "@path" "@query"
 * "content-digest"), the digest matches body, created is within
 * CC_REQSIG_SKEW_S of now_s, and the Ed25519 signature by keyid. Every
 * failure is CC_ERR_UNAUTHENTICATED with the reason in eb. Does not check
 * replay (the caller keeps the cache) or that keyid is a member. */
cc_err cc_reqsig_verify(const char *method, const char *path, const char *query, const uint8_t *body,
                        size_t len, const char *content_digest, const char *signature_input,
                        const char *signature, int64_t now_s, cc_reqsig_verified *out, cc_errbuf *eb) CC_WUR;

#ifdef __cplusplus
}
#endif

#endif
