/*
 * envelope.c — the record envelope and data-key wrapping of
 * carechain/records.h (docs/RECORDS.md "Cryptography").
 *
 *   ciphertext = nonce (24) || XChaCha20-Poly1305-IETF(plain) || tag (16)
 *   AD         = "carechain/record/v1" || record id (16) || u32 BE version
 *   wrapped    = crypto_box_seal(data key, X25519 form of the reader's Ed25519 pk)
 *
 * The only randomness is libsodium's (the data key, the nonce and the sealed
 * box's ephemeral key): this is client-side code. Every secret that passes
 * through a local buffer is wiped before return.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain/records.h"
#include "core/codec.h"

#define ENVELOPE_AD_PREFIX "carechain/record/v1"
#define ENVELOPE_AD_BYTES  (sizeof ENVELOPE_AD_PREFIX - 1 + CC_RECORD_ID_BYTES + 4)

_Static_assert(CC_RECORD_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(CC_RECORD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(CC_DATA_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(CC_WRAPPED_KEY_BYTES == CC_DATA_KEY_BYTES + crypto_box_SEALBYTES, "wrapped key size");

/* The associated data that binds a ciphertext to its record and version. */
static void envelope_ad(const uint8_t id[CC_RECORD_ID_BYTES], uint32_t version, uint8_t ad[ENVELOPE_AD_BYTES])
{
    size_t prefix = sizeof ENVELOPE_AD_PREFIX - 1;
    memcpy(ad, ENVELOPE_AD_PREFIX, prefix);
    memcpy(ad + prefix, id, CC_RECORD_ID_BYTES);
    cc_put_u32(ad + prefix + CC_RECORD_ID_BYTES, version);
}

cc_err cc_record_encrypt(const uint8_t *plain, size_t len, const uint8_t id[CC_RECORD_ID_BYTES],
                         uint32_t version, uint8_t key[CC_DATA_KEY_BYTES], uint8_t **ct, size_t *ct_len,
                         cc_errbuf *eb)
{
    uint8_t ad[ENVELOPE_AD_BYTES];
    unsigned long long sealed_len = 0;

    *ct = NULL;
    *ct_len = 0;
    if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX || len > SIZE_MAX - CC_RECORD_OVERHEAD)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "a record of %zu bytes is too large to encrypt", len);
    if (len > 0 && !plain) return cc_errf(eb, CC_ERR_USAGE, "no plaintext given");
    uint8_t *out = malloc(len + CC_RECORD_OVERHEAD);
    if (!out) return cc_errf(eb, CC_ERR_NOMEM, "no memory for a %zu-byte ciphertext", len);

    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    randombytes_buf(out, CC_RECORD_NONCE_BYTES);
    envelope_ad(id, version, ad);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + CC_RECORD_NONCE_BYTES, &sealed_len, plain,
                                               (unsigned long long)len, ad, sizeof ad, NULL, out, key);
    *ct = out;
    *ct_len = CC_RECORD_NONCE_BYTES + (size_t)sealed_len;
    return CC_OK;
}

cc_err cc_record_decrypt(const uint8_t *ct, size_t ct_len, const uint8_t id[CC_RECORD_ID_BYTES],
                         uint32_t version, const uint8_t key[CC_DATA_KEY_BYTES], uint8_t **plain, size_t *len,
                         cc_errbuf *eb)
{
    uint8_t ad[ENVELOPE_AD_BYTES];
    unsigned long long plain_len = 0;

    *plain = NULL;
    *len = 0;
    if (!ct || ct_len < CC_RECORD_OVERHEAD)
        return cc_errf(eb, CC_ERR_MALFORMED, "a record ciphertext is at least %d bytes; this one is %zu",
                       CC_RECORD_OVERHEAD, ct ? ct_len : 0);
    size_t max = ct_len - CC_RECORD_OVERHEAD;
    uint8_t *out = malloc(max + 1);
    if (!out) return cc_errf(eb, CC_ERR_NOMEM, "no memory for a %zu-byte record", max);

    envelope_ad(id, version, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plain_len, NULL, ct + CC_RECORD_NONCE_BYTES,
                                                   ct_len - CC_RECORD_NONCE_BYTES, ad, sizeof ad, ct,
                                                   key) != 0) {
        free(out);
        return cc_errf(eb, CC_ERR_VERIFY,
                       "the ciphertext does not decrypt with this key for this record and version");
    }
    out[plain_len] = '\0';
    *plain = out;
    *len = (size_t)plain_len;
    return CC_OK;
}

cc_err cc_data_key_wrap(const uint8_t key[CC_DATA_KEY_BYTES], const uint8_t reader[CC_PUBKEY_BYTES],
                        uint8_t out[CC_WRAPPED_KEY_BYTES], cc_errbuf *eb)
{
    uint8_t x_pk[crypto_box_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_pk_to_curve25519(x_pk, reader) != 0)
        return cc_errf(eb, CC_ERR_INVALID, "the reader's key is not a valid Ed25519 public key");
    if (crypto_box_seal(out, key, CC_DATA_KEY_BYTES, x_pk) != 0)
        return cc_errf(eb, CC_ERR_INVALID, "cannot seal the data key to the reader's key");
    return CC_OK;
}

cc_err cc_data_key_unwrap(const uint8_t wrapped[CC_WRAPPED_KEY_BYTES], const cc_key *reader,
                          uint8_t key[CC_DATA_KEY_BYTES], cc_errbuf *eb)
{
    uint8_t x_pk[crypto_box_PUBLICKEYBYTES], x_sk[crypto_box_SECRETKEYBYTES];
    cc_err rc = CC_OK;

    if (crypto_sign_ed25519_pk_to_curve25519(x_pk, reader->pk) != 0) {
        rc = cc_errf(eb, CC_ERR_INVALID, "the reader's key is not a valid Ed25519 public key");
        goto out;
    }
    crypto_sign_ed25519_sk_to_curve25519(x_sk, reader->sk);
    if (crypto_box_seal_open(key, wrapped, CC_WRAPPED_KEY_BYTES, x_pk, x_sk) != 0) {
        sodium_memzero(key, CC_DATA_KEY_BYTES);
        rc = cc_errf(eb, CC_ERR_VERIFY, "the wrapped key is not sealed to this reader (or was altered)");
    }
out:
    sodium_memzero(x_sk, sizeof x_sk);
    return rc;
}
