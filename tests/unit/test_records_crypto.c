/*
 * test_records_crypto.c — the client-side cryptography of health records:
 * the record envelope (round trip; wrong key, record id or version and any
 * altered byte refused), data-key wrapping, and signed requests (the
 * docs/RECORDS.md test vector, round trips, and every way a request fails).
 */
#include "unit_support.h"

#include <sodium.h>

#include "carechain/records.h"

/* asprintf that fails the test on OOM; caller frees. */
static char *ut_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *ut_strf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) fail_msg("out of memory");
    return s;
}

/* ---- the record envelope ------------------------------------------------------ */

static const uint8_t record_id[CC_RECORD_ID_BYTES] = {0x5f, 0x0c, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f,
                                                      0x70, 0x81, 0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7};
static const char fhir[] =
    "{\"resourceType\":\"Observation\",\"status\":\"final\",\"valueQuantity\":{\"value\":7.2}}";

static void encrypt_ok(const char *plain, size_t len, uint32_t version, uint8_t key[CC_DATA_KEY_BYTES],
                       uint8_t **ct, size_t *ct_len)
{
    cc_errbuf eb = {""};
    cc_err rc = cc_record_encrypt((const uint8_t *)plain, len, record_id, version, key, ct, ct_len, &eb);
    if (rc != CC_OK) fail_msg("cc_record_encrypt: %s", eb.msg);
    assert_int_equal(*ct_len, len + CC_RECORD_OVERHEAD);
}

static void test_envelope_round_trip(void **state)
{
    (void)state;
    uint8_t key[CC_DATA_KEY_BYTES], key2[CC_DATA_KEY_BYTES], *ct = NULL, *ct2 = NULL, *plain = NULL;
    size_t ct_len = 0, ct2_len = 0, len = 0;

    encrypt_ok(fhir, strlen(fhir), 3, key, &ct, &ct_len);
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 3, key, &plain, &len, NULL), CC_OK);
    assert_int_equal(len, strlen(fhir));
    assert_memory_equal(plain, fhir, len);
    assert_int_equal(plain[len], '\0'); /* NUL-terminated for convenience */
    free(plain);

    /* the same plaintext twice: fresh key and nonce each time */
    encrypt_ok(fhir, strlen(fhir), 3, key2, &ct2, &ct2_len);
    assert_memory_not_equal(key, key2, CC_DATA_KEY_BYTES);
    assert_memory_not_equal(ct, ct2, CC_RECORD_NONCE_BYTES);
    free(ct);
    free(ct2);

    /* an empty record is still sealed */
    encrypt_ok("", 0, 1, key, &ct, &ct_len);
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 1, key, &plain, &len, NULL), CC_OK);
    assert_int_equal(len, 0);
    free(plain);
    free(ct);
}

static void test_envelope_refuses(void **state)
{
    (void)state;
    uint8_t key[CC_DATA_KEY_BYTES], other_key[CC_DATA_KEY_BYTES], other_id[CC_RECORD_ID_BYTES];
    uint8_t *ct = NULL, *plain = (uint8_t *)"untouched";
    size_t ct_len = 0, len = 99;
    cc_errbuf eb = {""};

    encrypt_ok(fhir, strlen(fhir), 2, key, &ct, &ct_len);

    memcpy(other_key, key, sizeof key);
    other_key[0] ^= 1;
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 2, other_key, &plain, &len, &eb),
                     CC_ERR_VERIFY);
    assert_null(plain);
    assert_int_equal(len, 0);
    assert_true(eb.msg[0] != '\0');

    memcpy(other_id, record_id, sizeof other_id);
    other_id[15] ^= 0x80;
    assert_int_equal(cc_record_decrypt(ct, ct_len, other_id, 2, key, &plain, &len, NULL), CC_ERR_VERIFY);
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 1, key, &plain, &len, NULL), CC_ERR_VERIFY);
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 3, key, &plain, &len, NULL), CC_ERR_VERIFY);

    /* every single altered byte: nonce, body and tag */
    for (size_t i = 0; i < ct_len; i++) {
        ct[i] ^= 0x01;
        assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 2, key, &plain, &len, NULL), CC_ERR_VERIFY);
        ct[i] ^= 0x01;
    }
    /* cut short, or too short to hold nonce and tag */
    assert_int_equal(cc_record_decrypt(ct, ct_len - 1, record_id, 2, key, &plain, &len, NULL), CC_ERR_VERIFY);
    assert_int_equal(cc_record_decrypt(ct, CC_RECORD_OVERHEAD - 1, record_id, 2, key, &plain, &len, &eb),
                     CC_ERR_MALFORMED);
    assert_non_null(strstr(eb.msg, "at least"));

    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 2, key, &plain, &len, NULL), CC_OK);
    free(plain);
    free(ct);
}

/* ---- key wrapping ---------------------------------------------------------------- */

static void test_wrap_round_trip(void **state)
{
    (void)state;
    cc_key reader, other;
    uint8_t key[CC_DATA_KEY_BYTES], got[CC_DATA_KEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES],
        wrapped2[CC_WRAPPED_KEY_BYTES];
    cc_errbuf eb = {""};

    ut_key(11, &reader);
    ut_key(12, &other);
    randombytes_buf(key, sizeof key);
    assert_int_equal(cc_data_key_wrap(key, reader.pk, wrapped, &eb), CC_OK);
    assert_int_equal(cc_data_key_unwrap(wrapped, &reader, got, &eb), CC_OK);
    assert_memory_equal(got, key, sizeof key);

    /* sealed boxes are randomised: two wraps differ, both open */
    assert_int_equal(cc_data_key_wrap(key, reader.pk, wrapped2, NULL), CC_OK);
    assert_memory_not_equal(wrapped, wrapped2, sizeof wrapped);
    assert_int_equal(cc_data_key_unwrap(wrapped2, &reader, got, NULL), CC_OK);
    assert_memory_equal(got, key, sizeof key);

    /* the whole path: encrypt, wrap for the reader, unwrap, decrypt */
    uint8_t *ct = NULL, *plain = NULL;
    size_t ct_len = 0, len = 0;
    encrypt_ok(fhir, strlen(fhir), 1, key, &ct, &ct_len);
    assert_int_equal(cc_data_key_wrap(key, reader.pk, wrapped, NULL), CC_OK);
    memset(got, 0, sizeof got);
    assert_int_equal(cc_data_key_unwrap(wrapped, &reader, got, NULL), CC_OK);
    assert_int_equal(cc_record_decrypt(ct, ct_len, record_id, 1, got, &plain, &len, NULL), CC_OK);
    assert_memory_equal(plain, fhir, len);
    free(plain);
    free(ct);
    cc_key_wipe(&reader);
    cc_key_wipe(&other);
}

static void test_wrap_refuses(void **state)
{
    (void)state;
    cc_key reader, other;
    uint8_t key[CC_DATA_KEY_BYTES], got[CC_DATA_KEY_BYTES], wrapped[CC_WRAPPED_KEY_BYTES];
    cc_errbuf eb = {""};

    ut_key(21, &reader);
    ut_key(22, &other);
    randombytes_buf(key, sizeof key);
    assert_int_equal(cc_data_key_wrap(key, reader.pk, wrapped, NULL), CC_OK);

    assert_int_equal(cc_data_key_unwrap(wrapped, &other, got, &eb), CC_ERR_VERIFY);
    assert_non_null(strstr(eb.msg, "not sealed to this reader"));
    for (size_t i = 0; i < sizeof wrapped; i += 7) {
        wrapped[i] ^= 0x20;
        assert_int_equal(cc_data_key_unwrap(wrapped, &reader, got, NULL), CC_ERR_VERIFY);
        wrapped[i] ^= 0x20;
    }
    assert_int_equal(cc_data_key_unwrap(wrapped, &reader, got, NULL), CC_OK);

    /* not a point of the curve, and a small-order point */
    uint8_t bad[CC_PUBKEY_BYTES];
    memset(bad, 0xff, sizeof bad);
    assert_int_equal(cc_data_key_wrap(key, bad, wrapped, &eb), CC_ERR_INVALID);
    memset(bad, 0, sizeof bad);
    bad[0] = 1; /* the neutral element */
    assert_int_equal(cc_data_key_wrap(key, bad, wrapped, &eb), CC_ERR_INVALID);
    assert_non_null(strstr(eb.msg, "not a valid Ed25519"));
    cc_key_wipe(&reader);
    cc_key_wipe(&other);
}

/* ---- signed requests: the docs/RECORDS.md test vector ---------------------------- */

#define V_PATH    "/v1/records/5f0c1a2b3c4d5e6f708192a3b4c5d6e7"
#define V_QUERY   "purpose=TREAT"
#define V_CREATED 1764090000
#define V_KEYID   "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define V_DIGEST  "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
#define V_PARAMS                                                                                             \
    "(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1764090000;keyid=\"" V_KEYID              \
    "\";alg=\"ed25519\""
#define V_SIG "RwDPr+HziwwrSvvu/0nQvS2ETO33H7E86JBpFb542NHHGNAFbkLAH9ob9BnfEk4W5aaUUIDV1sX+cgy2SulYAg=="

/* The signature base of the vector, byte for byte (lines joined by \n, no
 * final newline). */
static const char vector_base[] = "\"@method\": GET\n"
                                  "\"@path\": " V_PATH "\n"
                                  "\"@query\": ?" V_QUERY "\n"
                                  "\"content-digest\": " V_DIGEST "\n"
                                  "\"@signature-params\": " V_PARAMS;

/* The vector's key: seed 00 01 02 ... 1f. */
static void vector_key(cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)i;
    cc_key_from_seed(seed, k);
}

static void test_reqsig_vector(void **state)
{
    (void)state;
    cc_key k;
    cc_reqsig_headers h;
    cc_reqsig_verified v;
    char hex[CC_HASH_HEX];
    uint8_t sig[CC_SIG_BYTES], expected[CC_SIG_BYTES];
    size_t n = 0;

    vector_key(&k);
    assert_string_equal(cc_hex(k.pk, CC_PUBKEY_BYTES, hex), V_KEYID);
    assert_int_equal(cc_reqsig_sign_nonce(&k, "GET", V_PATH, V_QUERY, NULL, 0, V_CREATED, NULL, &h, NULL),
                     CC_OK);
    assert_string_equal(h.content_digest, V_DIGEST);
    assert_string_equal(h.signature_input, "cc=" V_PARAMS);
    assert_string_equal(h.signature, "cc=:" V_SIG ":");

    /* The signature is over exactly vector_base: it verifies over those
     * bytes, and Ed25519 being deterministic, signing them gives it again. */
    assert_int_equal(sodium_base642bin(sig, sizeof sig, V_SIG, strlen(V_SIG), NULL, &n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(n, CC_SIG_BYTES);
    assert_int_equal(
        crypto_sign_verify_detached(sig, (const uint8_t *)vector_base, strlen(vector_base), k.pk), 0);
    crypto_sign_detached(expected, NULL, (const uint8_t *)vector_base, strlen(vector_base), k.sk);
    assert_memory_equal(sig, expected, CC_SIG_BYTES);

    assert_int_equal(cc_reqsig_verify("GET", V_PATH, V_QUERY, NULL, 0, h.content_digest, h.signature_input,
                                      h.signature, V_CREATED + 5, &v, NULL),
                     CC_OK);
    assert_memory_equal(v.keyid, k.pk, CC_PUBKEY_BYTES);
    assert_int_equal(v.created_s, V_CREATED);
    assert_memory_equal(v.sig, sig, CC_SIG_BYTES);
    cc_key_wipe(&k);
}

/* ---- signed requests: round trips and failures ----------------------------------- */

#define NOW 1764090000

typedef struct signed_req {
    char method[8];
    char path[128];
    char query[128];
    char body[128];
    cc_reqsig_headers h;
} signed_req;

static void sign_req(signed_req *r, const cc_key *k, const char *method, const char *path, const char *query,
                     const char *body, int64_t created)
{
    cc_errbuf eb = {""};
    memset(r, 0, sizeof *r);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    snprintf(r->query, sizeof r->query, "%s", query ? query : "");
    snprintf(r->body, sizeof r->body, "%s", body ? body : "");
    cc_err rc = cc_reqsig_sign(k, method, path, query, (const uint8_t *)r->body, strlen(r->body), created,
                               &r->h, &eb);
    if (rc != CC_OK) fail_msg("cc_reqsig_sign: %s", eb.msg);
}

static cc_err verify_req(const signed_req *r, int64_t now, cc_errbuf *eb)
{
    cc_reqsig_verified v;
    return cc_reqsig_verify(r->method, r->path, r->query, (const uint8_t *)r->body, strlen(r->body),
                            r->h.content_digest, r->h.signature_input, r->h.signature, now, &v, eb);
}

/* Verification fails with CC_ERR_UNAUTHENTICATED and a reason holding why. */
static void expect_refused(const signed_req *r, int64_t now, const char *why)
{
    cc_errbuf eb = {""};
    cc_err rc = verify_req(r, now, &eb);
    if (rc != CC_ERR_UNAUTHENTICATED) fail_msg("expected unauthenticated (%s), got %s", why, cc_err_name(rc));
    if (!strstr(eb.msg, why)) fail_msg("reason \"%s\" does not say \"%s\"", eb.msg, why);
}

static void test_reqsig_round_trips(void **state)
{
    (void)state;
    cc_key k;
    signed_req r;
    cc_reqsig_verified v;
    ut_key(31, &k);

    sign_req(&r, &k, "GET", "/v1/patients/ab/records", "purpose=TREAT&x=%20y", NULL, NOW);
    assert_int_equal(verify_req(&r, NOW, NULL), CC_OK);
    /* no query: "@query" is "?" alone; NULL and "" sign the same */
    sign_req(&r, &k, "GET", "/fhir/Consent/ab", NULL, NULL, NOW);
    assert_int_equal(verify_req(&r, NOW, NULL), CC_OK);
    assert_int_equal(cc_reqsig_verify("GET", "/fhir/Consent/ab", NULL, NULL, 0, r.h.content_digest,
                                      r.h.signature_input, r.h.signature, NOW, &v, NULL),
                     CC_OK);
    /* a body */
    sign_req(&r, &k, "POST", "/v1/things", "a=1", "{\"hello\":\"world\"}", NOW);
    assert_int_equal(verify_req(&r, NOW, NULL), CC_OK);
    /* the edges of the clock window */
    sign_req(&r, &k, "GET", "/x", "", NULL, NOW);
    assert_int_equal(verify_req(&r, NOW + CC_REQSIG_SKEW_S, NULL), CC_OK);
    assert_int_equal(verify_req(&r, NOW - CC_REQSIG_SKEW_S, NULL), CC_OK);
    /* optional whitespace around header values is not part of them */
    char padded[sizeof r.h.signature + 4];
    snprintf(padded, sizeof padded, "  %s\t", r.h.signature);
    assert_int_equal(cc_reqsig_verify("GET", "/x", "", NULL, 0, r.h.content_digest, r.h.signature_input,
                                      padded, NOW, &v, NULL),
                     CC_OK);
    cc_key_wipe(&k);
}

/* The signer's random nonce: the same request twice in one second carries
 * two different signatures (so a replay cache keyed on signatures tells a
 * repeat from a replay); a nonce of the wrong shape is refused. */
static void test_reqsig_nonce(void **state)
{
    (void)state;
    cc_key k;
    cc_reqsig_headers a, b;
    cc_reqsig_verified v;
    cc_errbuf eb = {{0}};
    ut_key(32, &k);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/v1/records/ab", "purpose=TREAT", NULL, 0, NOW, &a, NULL),
                     CC_OK);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/v1/records/ab", "purpose=TREAT", NULL, 0, NOW, &b, NULL),
                     CC_OK);
    assert_non_null(strstr(a.signature_input, ";nonce=\""));
    assert_string_not_equal(a.signature, b.signature);
    assert_int_equal(cc_reqsig_verify("GET", "/v1/records/ab", "purpose=TREAT", NULL, 0, a.content_digest,
                                      a.signature_input, a.signature, NOW, &v, NULL),
                     CC_OK);
    /* the nonce is signed: changing it breaks the signature */
    char *n = strstr(a.signature_input, ";nonce=\"") + 8;
    *n = *n == '0' ? '1' : '0';
    assert_int_equal(cc_reqsig_verify("GET", "/v1/records/ab", "purpose=TREAT", NULL, 0, a.content_digest,
                                      a.signature_input, a.signature, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    /* shapes */
    assert_int_equal(cc_reqsig_sign_nonce(&k, "GET", "/x", "", NULL, 0, NOW, "short", &a, NULL),
                     CC_ERR_USAGE);
    assert_int_equal(
        cc_reqsig_sign_nonce(&k, "GET", "/x", "", NULL, 0, NOW, "has a space in it ......", &a, NULL),
        CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign_nonce(&k, "GET", "/x", "", NULL, 0, NOW, "abcdefghijklmnop", &a, NULL),
                     CC_OK);
    char twice[sizeof a.signature_input + 32];
    snprintf(twice, sizeof twice, "%s;nonce=\"abcdefghijklmnop\"", a.signature_input);
    assert_int_equal(
        cc_reqsig_verify("GET", "/x", "", NULL, 0, a.content_digest, twice, a.signature, NOW, &v, &eb),
        CC_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(eb.msg, "twice"));
    cc_key_wipe(&k);
}

static void test_reqsig_tampered_request(void **state)
{
    (void)state;
    cc_key k;
    signed_req r, t;
    ut_key(32, &k);
    sign_req(&r, &k, "GET", "/v1/records/00112233445566778899aabbccddeeff", "purpose=TREAT", NULL, NOW);
    assert_int_equal(verify_req(&r, NOW, NULL), CC_OK);

    t = r;
    strcpy(t.method, "POST");
    expect_refused(&t, NOW, "does not verify");
    t = r;
    t.path[strlen(t.path) - 1] = '0';
    expect_refused(&t, NOW, "does not verify");
    t = r;
    strcpy(t.query, "purpose=ETREAT");
    expect_refused(&t, NOW, "does not verify");
    t = r;
    strcpy(t.query, "");
    expect_refused(&t, NOW, "does not verify");
    t = r;
    strcpy(t.query, "purpose=TREAT&version=1");
    expect_refused(&t, NOW, "does not verify");

    /* a body the signer did not send */
    t = r;
    strcpy(t.body, "x");
    expect_refused(&t, NOW, "Content-Digest does not match");
    /* a body changed together with its digest: the digest is signed */
    t = r;
    strcpy(t.body, "x");
    strcpy(t.h.content_digest, "sha-256=:LXIUk8Hc5W0mSzbONmHtWtS0gTSlfY5fjYaVBLfWHmk=:");
    expect_refused(&t, NOW, "Content-Digest does not match"); /* (not the digest of "x") */
    {
        uint8_t d[CC_HASH_BYTES];
        char *b64;
        cc_sha256((const uint8_t *)"x", 1, d);
        b64 = cc_base64(d, sizeof d);
        snprintf(t.h.content_digest, sizeof t.h.content_digest, "sha-256=:%s:", b64);
        free(b64);
        expect_refused(&t, NOW, "does not verify");
    }
    /* another created: covered by the signature parameters */
    t = r;
    char *at = strstr(t.h.signature_input, "created=");
    at[strlen("created=") + 9] = at[strlen("created=") + 9] == '0' ? '1' : '0';
    expect_refused(&t, NOW, "does not verify");
    cc_key_wipe(&k);
}

static void test_reqsig_wrong_key(void **state)
{
    (void)state;
    cc_key k, other;
    signed_req r, t;
    char hex[CC_HASH_HEX];
    ut_key(33, &k);
    ut_key(34, &other);
    sign_req(&r, &k, "GET", "/v1/patients/ab/alerts", "", NULL, NOW);

    /* claims to be another identity */
    t = r;
    char *id = strstr(t.h.signature_input, "keyid=\"") + strlen("keyid=\"");
    memcpy(id, cc_hex(other.pk, CC_PUBKEY_BYTES, hex), 64);
    expect_refused(&t, NOW, "does not verify");

    /* signed by another key than the one it names */
    signed_req o;
    sign_req(&o, &other, "GET", "/v1/patients/ab/alerts", "", NULL, NOW);
    t = r;
    strcpy(t.h.signature, o.h.signature);
    expect_refused(&t, NOW, "does not verify");
    cc_key_wipe(&k);
    cc_key_wipe(&other);
}

static void test_reqsig_stale_and_future(void **state)
{
    (void)state;
    cc_key k;
    signed_req r;
    ut_key(35, &k);
    sign_req(&r, &k, "GET", "/v1/patients/ab/records", "purpose=TREAT", NULL, NOW);
    expect_refused(&r, NOW + CC_REQSIG_SKEW_S + 1, "stale");
    expect_refused(&r, NOW + 3600, "stale");
    expect_refused(&r, NOW - CC_REQSIG_SKEW_S - 1, "from the future");
    expect_refused(&r, 0, "from the future");
    cc_key_wipe(&k);
}

/* Replace the Signature-Input of r by text and expect the reason why. */
static void expect_input_refused(const signed_req *r, const char *input, const char *why)
{
    signed_req t = *r;
    snprintf(t.h.signature_input, sizeof t.h.signature_input, "%s", input);
    expect_refused(&t, NOW, why);
}

static void test_reqsig_signature_input_strict(void **state)
{
    (void)state;
    cc_key k;
    signed_req r;
    char hex[CC_HASH_HEX], *s;
    ut_key(36, &k);
    cc_hex(k.pk, CC_PUBKEY_BYTES, hex);
    sign_req(&r, &k, "GET", "/fhir/AuditEvent", "patient=ab", NULL, NOW);

#define COMPONENTS "(\"@method\" \"@path\" \"@query\" \"content-digest\")"
#define PARAMS     ";created=1764090000;keyid=\"%s\";alg=\"ed25519\""

    /* wrong component lists: missing, reordered, extra, none */
    s = ut_strf("cc=(\"@method\" \"@path\" \"content-digest\")" PARAMS, hex);
    expect_input_refused(&r, s, "exactly the components");
    free(s);
    s = ut_strf("cc=(\"@path\" \"@method\" \"@query\" \"content-digest\")" PARAMS, hex);
    expect_input_refused(&r, s, "exactly the components");
    free(s);
    s = ut_strf("cc=(\"@method\" \"@path\" \"@query\" \"content-digest\" \"@authority\")" PARAMS, hex);
    expect_input_refused(&r, s, "exactly the components");
    free(s);
    s = ut_strf("cc=()" PARAMS, hex);
    expect_input_refused(&r, s, "exactly the components");
    free(s);

    /* another label, two signatures, trailing text */
    s = ut_strf("sig1=" COMPONENTS PARAMS, hex);
    expect_input_refused(&r, s, "labelled cc");
    free(s);
    s = ut_strf("cc=" COMPONENTS PARAMS ", sig2=" COMPONENTS PARAMS, hex, hex);
    expect_input_refused(&r, s, "unexpected text");
    free(s);

    /* parameters: missing, doubled, unknown, ill-typed */
    s = ut_strf("cc=" COMPONENTS ";keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "no created");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;alg=\"ed25519\"");
    expect_input_refused(&r, s, "no keyid");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;keyid=\"%s\"", hex);
    expect_input_refused(&r, s, "no alg");
    free(s);
    s = ut_strf("cc=" COMPONENTS PARAMS ";created=1764090000", hex);
    expect_input_refused(&r, s, "created is given twice");
    free(s);
    s = ut_strf("cc=" COMPONENTS PARAMS ";expires=1764090060", hex);
    expect_input_refused(&r, s, "not part of this profile");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=\"1764090000\";keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "created must be");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=-5;keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "created must be");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000.5;keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "created must be");
    free(s);
    /* 16 and 20 digits: over an RFC 8941 integer, and over int64 (the
     * reader once multiplied before it counted: signed overflow, which the
     * fuzzer found) */
    s = ut_strf("cc=" COMPONENTS ";created=1764090000000000;keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "created must be");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=99999999999999999999;keyid=\"%s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "created must be");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;keyid=\"%.62s\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "64 hex digits");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;keyid=\"%.62szz\";alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "64 hex digits");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;keyid=%s;alg=\"ed25519\"", hex);
    expect_input_refused(&r, s, "64 hex digits");
    free(s);
    s = ut_strf("cc=" COMPONENTS ";created=1764090000;keyid=\"%s\";alg=\"rsa-pss-sha512\"", hex);
    expect_input_refused(&r, s, "alg must be");
    free(s);

    /* the parameters in another order are the same signature parameters,
     * but not the ones signed here */
    s = ut_strf("cc=" COMPONENTS ";keyid=\"%s\";alg=\"ed25519\";created=1764090000", hex);
    expect_input_refused(&r, s, "does not verify");
    free(s);
#undef COMPONENTS
#undef PARAMS
    cc_key_wipe(&k);
}

/* Verify r with another Content-Digest value and expect the reason why. */
static void expect_digest_refused(const signed_req *r, const char *digest, const char *why)
{
    cc_reqsig_verified v;
    cc_errbuf eb = {""};
    cc_err rc = cc_reqsig_verify(r->method, r->path, r->query, NULL, 0, digest, r->h.signature_input,
                                 r->h.signature, NOW, &v, &eb);
    if (rc != CC_ERR_UNAUTHENTICATED) fail_msg("expected unauthenticated (%s), got %s", why, cc_err_name(rc));
    if (!strstr(eb.msg, why)) fail_msg("reason \"%s\" does not say \"%s\"", eb.msg, why);
}

static void test_reqsig_bad_encodings(void **state)
{
    (void)state;
    cc_key k;
    signed_req r, t;
    ut_key(37, &k);
    sign_req(&r, &k, "GET", "/v1/records/ab", "purpose=TREAT", NULL, NOW);

    /* Signature: shape and base64 */
    t = r;
    strcpy(t.h.signature, "cc=:not*base64:");
    expect_refused(&t, NOW, "base64");
    t = r;
    t.h.signature[10] = '!';
    expect_refused(&t, NOW, "base64");
    t = r;
    strcpy(t.h.signature, "cc=:AAAA:");
    expect_refused(&t, NOW, "64-byte");
    t = r;
    t.h.signature[strlen(t.h.signature) - 3] = ':'; /* padding cut off */
    t.h.signature[strlen(t.h.signature) - 2] = '\0';
    expect_refused(&t, NOW, "base64");
    t = r;
    memcpy(t.h.signature, "xx", 2);
    expect_refused(&t, NOW, "labelled cc");
    t = r;
    t.h.signature[strlen(t.h.signature) - 1] = '\0';
    expect_refused(&t, NOW, "labelled cc");

    /* Content-Digest: other algorithms, several members, bad base64, wrong length */
    char *two = ut_strf("%s, md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", r.h.content_digest);
    expect_digest_refused(&r, "md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", "Content-Digest must be");
    expect_digest_refused(&r, two, "Content-Digest must be");
    free(two);
    expect_digest_refused(&r,
                          "sha-256=:47DEQpj8HBSa+/TImW*5JCeuQeRkm5NMpJWZG3hSuFU=:", "not the padded base64");
    expect_digest_refused(&r,
                          "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU:", "not the padded base64");
    expect_digest_refused(&r, "sha-256=:AAAA:", "not the padded base64");
    expect_digest_refused(&r,
                          "sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "Content-Digest must be");
    cc_key_wipe(&k);
}

static void test_reqsig_missing_headers(void **state)
{
    (void)state;
    cc_key k;
    signed_req r;
    cc_reqsig_verified v;
    cc_errbuf eb = {""};
    ut_key(38, &k);
    sign_req(&r, &k, "GET", "/v1/records/ab", "purpose=TREAT", NULL, NOW);

    assert_int_equal(cc_reqsig_verify("GET", r.path, r.query, NULL, 0, r.h.content_digest, NULL,
                                      r.h.signature, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(eb.msg, "no Signature-Input"));
    assert_int_equal(cc_reqsig_verify("GET", r.path, r.query, NULL, 0, r.h.content_digest,
                                      r.h.signature_input, NULL, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(eb.msg, "no Signature header"));
    assert_int_equal(cc_reqsig_verify("GET", r.path, r.query, NULL, 0, NULL, r.h.signature_input,
                                      r.h.signature, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    assert_non_null(strstr(eb.msg, "no Content-Digest"));
    assert_int_equal(cc_reqsig_verify("GET", r.path, r.query, NULL, 0, "", "", "", NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    /* a request target the profile refuses */
    assert_int_equal(cc_reqsig_verify("GET", "no-slash", r.query, NULL, 0, r.h.content_digest,
                                      r.h.signature_input, r.h.signature, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    assert_int_equal(cc_reqsig_verify("get", r.path, r.query, NULL, 0, r.h.content_digest,
                                      r.h.signature_input, r.h.signature, NOW, &v, &eb),
                     CC_ERR_UNAUTHENTICATED);
    cc_key_wipe(&k);
}

static void test_reqsig_sign_refuses_bad_input(void **state)
{
    (void)state;
    cc_key k;
    cc_reqsig_headers h;
    cc_errbuf eb = {""};
    ut_key(39, &k);
    assert_int_equal(cc_reqsig_sign(&k, "get", "/x", "", NULL, 0, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "x", "", NULL, 0, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/x?y=1", "", NULL, 0, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/x", "a=1\nb", NULL, 0, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/x", "a b", NULL, 0, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/x", "", NULL, 3, NOW, &h, &eb), CC_ERR_USAGE);
    assert_int_equal(cc_reqsig_sign(&k, "GET", "/x", "", NULL, 0, -1, &h, &eb), CC_ERR_USAGE);
    assert_string_equal(h.signature, ""); /* nothing half-made */
    cc_key_wipe(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_envelope_refuses),
        cmocka_unit_test(test_wrap_round_trip),
        cmocka_unit_test(test_wrap_refuses),
        cmocka_unit_test(test_reqsig_vector),
        cmocka_unit_test(test_reqsig_round_trips),
        cmocka_unit_test(test_reqsig_nonce),
        cmocka_unit_test(test_reqsig_tampered_request),
        cmocka_unit_test(test_reqsig_wrong_key),
        cmocka_unit_test(test_reqsig_stale_and_future),
        cmocka_unit_test(test_reqsig_signature_input_strict),
        cmocka_unit_test(test_reqsig_bad_encodings),
        cmocka_unit_test(test_reqsig_missing_headers),
        cmocka_unit_test(test_reqsig_sign_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
