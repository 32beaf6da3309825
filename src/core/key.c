/*
 * key.c — Ed25519 identities and their JSON key-file form.
 *
 * A key file is {"type":"ed25519","id":<hex public key>,"secret":<hex seed>}
 * plus optional descriptive fields (name, role, org). The secret is the
 * 32-byte seed; the id is derived from it and checked on load.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain.h"

void cc_key_from_seed(const uint8_t seed[CC_SEED_BYTES], cc_key *k)
{
    crypto_sign_seed_keypair(k->pk, k->sk, seed);
}

void cc_key_wipe(cc_key *k)
{
    sodium_memzero(k, sizeof *k);
}

char *cc_key_to_json(const cc_key *k, const json_t *extra)
{
    char pk_hex[2 * CC_PUBKEY_BYTES + 1], seed_hex[2 * CC_SEED_BYTES + 1];
    json_t *o = extra ? json_deep_copy(extra) : json_object();
    char *out = NULL;
    if (!o) return NULL;
    cc_hex(k->pk, CC_PUBKEY_BYTES, pk_hex);
    cc_hex(k->sk, CC_SEED_BYTES, seed_hex); /* libsodium's sk starts with the seed */
    json_object_set_new(o, "type", json_string("ed25519"));
    json_object_set_new(o, "id", json_string(pk_hex));
    json_object_set_new(o, "secret", json_string(seed_hex));
    out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    sodium_memzero(seed_hex, sizeof seed_hex);
    /* the secret lives in o's string too: wipe it before freeing */
    json_t *sec = json_object_get(o, "secret");
    if (sec) sodium_memzero((void *)json_string_value(sec), json_string_length(sec));
    json_decref(o);
    return out;
}

cc_err cc_key_from_json(const uint8_t *buf, size_t len, cc_key *k, json_t **extra, cc_errbuf *eb)
{
    uint8_t seed[CC_SEED_BYTES], pk[CC_PUBKEY_BYTES];
    cc_err rc = CC_OK;
    json_t *o = cc_json_parse(buf, len, eb);
    if (!o) return CC_ERR_MALFORMED;
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *secret = json_string_value(json_object_get(o, "secret"));
    if (!json_is_object(o) || !type || strcmp(type, "ed25519") != 0) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "not an ed25519 key file");
        goto done;
    }
    if (!id || cc_unhex(id, pk, sizeof pk) != CC_OK) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "key file id must be 64 hex digits");
        goto done;
    }
    if (!secret || cc_unhex(secret, seed, sizeof seed) != CC_OK) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "key file secret must be 64 hex digits");
        goto done;
    }
    cc_key_from_seed(seed, k);
    if (memcmp(k->pk, pk, sizeof pk) != 0) {
        cc_key_wipe(k);
        rc = cc_errf(eb, CC_ERR_MALFORMED, "key file secret does not match its id");
        goto done;
    }
    if (extra) *extra = json_incref(o);
done:
    sodium_memzero(seed, sizeof seed);
    json_t *sec = json_object_get(o, "secret");
    if (json_is_string(sec)) {
        sodium_memzero((void *)json_string_value(sec), json_string_length(sec));
        json_object_del(o, "secret"); /* *extra never carries the secret */
    }
    json_decref(o);
    return rc;
}
