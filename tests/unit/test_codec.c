/*
 * test_codec.c — the tx wire format: the PROTOCOL.md vectors, round trips,
 * and the rejection of every malformed form (one encoding per tx).
 */
#include "unit_support.h"

#include "core/codec.h"
#include "core/date.h"
#include "vectors.h"

static const char *const vector_payloads[] = {
    "{\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"kind\":\"consent-"
    "form\"}",
    "{\"role\":\"clinician\",\"id\":\"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c\","
    "\"name\":\"Dr. Ada Example\"}",
    "{\"kind\":\"scan\",\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
    "\"uri\":\"urn:example:scan:7\"}",
};

static void vector_chain(uint8_t chain[CC_HASH_BYTES])
{
    const char *name = "carechain test vectors";
    cc_sha256((const uint8_t *)name, strlen(name), chain);
}

/* Decode hex into a fresh buffer. */
static uint8_t *unhex_alloc(const char *hex, size_t *n)
{
    *n = strlen(hex) / 2;
    uint8_t *b = malloc(*n);
    assert_int_equal(cc_unhex(hex, b, *n), CC_OK);
    return b;
}

static void check_vector(int seed, const char *type, int which, uint64_t nonce, const char *att,
                         const char *raw_hex, const char *txid_hex)
{
    uint8_t chain[CC_HASH_BYTES];
    cc_key k;
    cc_tx made, got;
    char hex[CC_HASH_HEX];
    size_t n;
    vector_chain(chain);
    ut_key(seed, &k);
    cc_tx_params p = {.chain_id = chain,
                      .type = type,
                      .payload = vector_payloads[which],
                      .payload_len = strlen(vector_payloads[which]),
                      .created_ms = 1764000000000ULL,
                      .expiry_ms = 1764003600000ULL,
                      .nonce = nonce,
                      .attachment = (const uint8_t *)att,
                      .attachment_len = att ? strlen(att) : 0};
    assert_int_equal(cc_tx_create(&p, &k, &made, NULL), CC_OK);
    uint8_t *raw = unhex_alloc(raw_hex, &n);
    assert_int_equal(made.raw_len, n);
    assert_memory_equal(made.raw, raw, n);
    assert_string_equal(cc_hex(made.txid, 32, hex), txid_hex);

    assert_int_equal(cc_tx_decode(raw, n, &got, NULL), CC_OK);
    assert_true(cc_tx_verify_sig(&got));
    assert_string_equal(got.type, type);
    assert_int_equal(got.nonce, nonce);
    assert_int_equal(got.created_ms, 1764000000000ULL);
    assert_memory_equal(got.signer, k.pk, 32);
    assert_memory_equal(got.txid, made.txid, 32);
    assert_int_equal(got.has_attachment, att != NULL);
    assert_null(got.attachment); /* the bytes travel apart */
    cc_tx_free(&made);
    cc_tx_free(&got);
    free(raw);
}

static void test_vectors(void **state)
{
    (void)state;
    check_vector(1, "note.put", 0, 1, NULL, V1_RAW, V1_TXID);
    check_vector(2, "member.register", 1, 42, NULL, V2_RAW, V2_TXID);
    check_vector(3, "note.put", 2, UINT64_MAX, "hello, carechain", V3_RAW, V3_TXID);
}

static cc_err decode_hex_mutated(const char *raw_hex, size_t offset, uint8_t xor_with, cc_errbuf *eb)
{
    size_t n;
    cc_tx tx;
    uint8_t *raw = unhex_alloc(raw_hex, &n);
    raw[offset] ^= xor_with;
    cc_err rc = cc_tx_decode(raw, n, &tx, eb);
    if (rc == CC_OK) cc_tx_free(&tx);
    free(raw);
    return rc;
}

static void test_rejects_truncation_and_trailing(void **state)
{
    (void)state;
    size_t n;
    cc_tx tx;
    uint8_t *raw = unhex_alloc(V3_RAW, &n);
    for (size_t len = 0; len < n; len++) {
        cc_errbuf eb = {""};
        assert_int_not_equal(cc_tx_decode(raw, len, &tx, &eb), CC_OK);
        assert_true(eb.msg[0] != '\0'); /* every rejection says why */
    }
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, raw, n);
    longer[n] = 0;
    cc_errbuf eb;
    assert_int_equal(cc_tx_decode(longer, n + 1, &tx, &eb), CC_ERR_MALFORMED);
    assert_non_null(strstr(eb.msg, "trailing"));
    free(longer);
    free(raw);
}

static void test_rejects_bad_fields(void **state)
{
    (void)state;
    cc_errbuf eb;
    /* version 2 */
    assert_int_equal(decode_hex_mutated(V1_RAW, 0, 0x03, &eb), CC_ERR_VERSION);
    /* type length 0 (8 ^ 8) and over-long (8 ^ 0x48 = 0x40+8 = 72) */
    assert_int_equal(decode_hex_mutated(V1_RAW, 33, 0x08, &eb), CC_ERR_MALFORMED);
    assert_int_equal(decode_hex_mutated(V1_RAW, 33, 0x48, &eb), CC_ERR_MALFORMED);
    /* upper-case letter in the type */
    assert_int_equal(decode_hex_mutated(V1_RAW, 34, 0x20, &eb), CC_ERR_MALFORMED);
    /* payload length over the limit: set its top byte */
    size_t plen_at = 1 + 32 + 1 + 8 + 32 + 24;
    assert_int_equal(decode_hex_mutated(V1_RAW, plen_at, 0x01, &eb), CC_ERR_TOO_LARGE);
    /* payload length one longer than the payload */
    assert_int_equal(decode_hex_mutated(V1_RAW, plen_at + 3, 0x01 ^ 0x00, &eb), CC_ERR_MALFORMED);
    /* attachment flag 2 */
    size_t flag_at = plen_at + 4 + 0x63;
    assert_int_equal(decode_hex_mutated(V1_RAW, flag_at, 0x02, &eb), CC_ERR_MALFORMED);
    /* a flipped signature bit decodes but does not verify */
    size_t n;
    cc_tx tx;
    uint8_t *raw = unhex_alloc(V1_RAW, &n);
    raw[n - 5] ^= 0x10;
    assert_int_equal(cc_tx_decode(raw, n, &tx, NULL), CC_OK);
    assert_false(cc_tx_verify_sig(&tx));
    cc_tx_free(&tx);
    free(raw);
}

/* Build a tx by hand around a given payload (signature not valid). */
static cc_err decode_with_payload(const char *payload, size_t plen, cc_errbuf *eb)
{
    uint8_t buf[1024], *p = buf;
    *p++ = 1;
    memset(p, 0xab, 32), p += 32;
    *p++ = 8;
    memcpy(p, "note.put", 8), p += 8;
    memset(p, 0x11, 32), p += 32;
    memset(p, 0, 24), p += 24;
    cc_put_u32(p, (uint32_t)plen), p += 4;
    memcpy(p, payload, plen), p += plen;
    *p++ = 0;
    memset(p, 0, 64), p += 64;
    cc_tx tx;
    cc_err rc = cc_tx_decode(buf, (size_t)(p - buf), &tx, eb);
    if (rc == CC_OK) cc_tx_free(&tx);
    return rc;
}

static void test_rejects_bad_payloads(void **state)
{
    (void)state;
    cc_errbuf eb;
    assert_int_equal(decode_with_payload("{\"a\":1}", 7, &eb), CC_OK);
    assert_int_equal(decode_with_payload("[1,2]", 5, &eb), CC_ERR_MALFORMED);              /* not an object */
    assert_int_equal(decode_with_payload("\"x\"", 3, &eb), CC_ERR_MALFORMED);              /* not an object */
    assert_int_equal(decode_with_payload("{\"a\":1,\"a\":2}", 13, &eb), CC_ERR_MALFORMED); /* duplicate key */
    assert_non_null(strstr(eb.msg, "duplicate"));
    assert_int_equal(decode_with_payload("{\"a\":\"\xff\"}", 8, &eb), CC_ERR_MALFORMED); /* invalid UTF-8 */
    assert_int_equal(decode_with_payload("{\"a\":1.5}", 9, &eb), CC_ERR_MALFORMED);      /* real number */
    assert_non_null(strstr(eb.msg, ".a"));
    assert_int_equal(decode_with_payload("{\"b\":1,\"a\":2}", 13, &eb), CC_ERR_MALFORMED); /* keys unsorted */
    assert_int_equal(decode_with_payload("{\"a\": 1}", 8, &eb), CC_ERR_MALFORMED);         /* not compact */
    assert_int_equal(decode_with_payload("{\"a\":1} ", 8, &eb), CC_ERR_MALFORMED);  /* trailing space */
    assert_int_equal(decode_with_payload("{\"a\":1}{}", 9, &eb), CC_ERR_MALFORMED); /* two values */
    assert_int_equal(decode_with_payload("", 0, &eb), CC_ERR_MALFORMED);
    /* a refusal never quotes the payload (it may be health data): where, not what */
    static const char *const secret[] = {"{\"k\":HIVPOSITIVE}", "{\"HIVPOSITIVE\":1,\"HIVPOSITIVE\":2}",
                                         "{\"k\":\"HIVPOSITIVE\\u0000\"}"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        assert_int_equal(decode_with_payload(secret[i], strlen(secret[i]), &eb), CC_ERR_MALFORMED);
        if (strstr(eb.msg, "HIVPOSITIVE")) fail_msg("the refusal quotes the payload: %s", eb.msg);
        assert_non_null(strstr(eb.msg, "column"));
    }
}

/* cc_json_canonical_check answers what comparing with jansson's canonical
 * dump answers (its fast lexical path must never accept what the dump
 * would write differently): fixed cases, then deterministic mutations. */
static bool dump_equals(const char *t, size_t n, bool *usable)
{
    json_t *v = json_loadb(t, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    *usable = false;
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return false;
    }
    char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    bool real = false;
    for (const char *c = t; !real && c < t + n; c++) real = *c == '.' || *c == 'e' || *c == 'E';
    *usable = d && !real; /* a text that may hold a real is left out (refused before the form is checked) */
    bool same = d && strlen(d) == n && memcmp(d, t, n) == 0;
    free(d);
    json_decref(v);
    return same;
}

static void test_canonical_check_agrees_with_dump(void **state)
{
    (void)state;
    static const char *const cases[] = {"{\"a\":1}",
                                        "{\"a\":-0}",
                                        "{\"a\":-1}",
                                        "{\"a\":01}",
                                        "{\"b\":1,\"a\":2}",
                                        "{\"a\":1,\"b\":2}",
                                        "{\"a\":{\"d\":1,\"c\":2}}",
                                        "{\"a\":[{\"z\":1,\"y\":2}]}",
                                        "{\"\":1,\"a\":\"\xc3\xa9\"}",
                                        "{\"a\":\"\\u0041\"}",
                                        "{\"a\":\"\\/\"}",
                                        "{\"a\":\"/\"}",
                                        "{\"a\":\"\\n\"}",
                                        "{\"a\":\"\\u00e9\"}",
                                        "{\"B\":1,\"a\":2}",
                                        "{\"a\":true,\"b\":false,\"c\":null}",
                                        "{ \"a\":1}",
                                        "{\"a\":[]}",
                                        "{}",
                                        "{\"ab\":1,\"a\":2}",
                                        "{\"a\":2,\"ab\":1}",
                                        "{\"a\":9223372036854775807}",
                                        "{\"\\u0061\":1}",
                                        "{\"a\":\"\x7f\"}"};
    char buf[256];
    uint64_t x = 88172645463325252ULL;
    size_t tried = 0;
    for (size_t it = 0; it < 20000; it++) {
        const char *seed = cases[it % (sizeof cases / sizeof cases[0])];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        if (it >= sizeof cases / sizeof cases[0]) { /* mutate: swap two bytes, or drop one */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t i = x % n, j = (x >> 20) % n;
            if ((x >> 40) & 1) {
                char t = buf[i];
                buf[i] = buf[j], buf[j] = t;
            } else if (n > 1) {
                memmove(buf + i, buf + i + 1, n - i - 1), n--;
            }
        }
        bool usable, want = dump_equals(buf, n, &usable);
        if (!usable) continue;
        tried++;
        json_t *v = NULL;
        cc_err rc = cc_json_canonical_check((const uint8_t *)buf, n, &v, NULL);
        if ((rc == CC_OK) != want)
            fail_msg("the canonical check %s what the dump %s: %.*s", rc == CC_OK ? "accepts" : "refuses",
                     want ? "writes the same" : "writes otherwise", (int)n, buf);
        json_decref(v);
    }
    assert_true(tried > 1000);
}

static void test_create_canonicalises_and_limits(void **state)
{
    (void)state;
    uint8_t chain[CC_HASH_BYTES] = {0};
    cc_key k;
    cc_tx tx;
    cc_errbuf eb;
    ut_key(5, &k);
    cc_tx_params p = {.chain_id = chain,
                      .type = "note.put",
                      .payload = "{ \"z\": 1, \"a\": [true, null] }",
                      .created_ms = 1,
                      .expiry_ms = 2};
    p.payload_len = strlen(p.payload);
    assert_int_equal(cc_tx_create(&p, &k, &tx, &eb), CC_OK);
    assert_string_equal(tx.payload, "{\"a\":[true,null],\"z\":1}");
    cc_tx copy;
    assert_int_equal(cc_tx_decode(tx.raw, tx.raw_len, &copy, NULL), CC_OK);
    assert_memory_equal(copy.txid, tx.txid, 32);
    /* the parsed payload iterates its keys in canonical order, as a node
     * that decodes the tx sees them (exec's answers may name the first
     * unknown field) */
    const char *key;
    json_t *value;
    char order[8] = "";
    json_object_foreach(tx.json, key, value) strncat(order, key, sizeof order - strlen(order) - 1);
    assert_string_equal(order, "az");
    cc_tx_free(&copy);
    cc_tx_free(&tx);

    char *big = malloc(CC_PAYLOAD_MAX + 100);
    memset(big, 'x', CC_PAYLOAD_MAX + 100);
    memcpy(big, "{\"a\":\"", 6);
    memcpy(big + CC_PAYLOAD_MAX + 98, "\"}", 2);
    p.payload = big;
    p.payload_len = CC_PAYLOAD_MAX + 100;
    assert_int_equal(cc_tx_create(&p, &k, &tx, &eb), CC_ERR_TOO_LARGE);
    free(big);

    p.payload = "{}";
    p.payload_len = 2;
    p.type = "Bad Type";
    assert_int_equal(cc_tx_create(&p, &k, &tx, &eb), CC_ERR_MALFORMED);
    p.type = "note.put";
    static uint8_t att[CC_ATTACHMENT_MAX + 1];
    p.attachment = att;
    p.attachment_len = sizeof att;
    assert_int_equal(cc_tx_create(&p, &k, &tx, &eb), CC_ERR_TOO_LARGE);
    p.attachment_len = CC_ATTACHMENT_MAX;
    assert_int_equal(cc_tx_create(&p, &k, &tx, &eb), CC_OK);
    assert_int_equal(tx.attachment_len, CC_ATTACHMENT_MAX);
    cc_tx_free(&tx);
}

static void test_header_and_block_round_trip(void **state)
{
    (void)state;
    cc_header h, back;
    cc_key k;
    uint8_t buf[CC_HEADER_BYTES];
    memset(&h, 0, sizeof h);
    h.version = CC_BLOCK_VERSION;
    h.height = 7;
    h.time_ms = 1764000000123ULL;
    h.tx_count = 2;
    memset(h.state_root, 0x5a, 32);
    ut_key(9, &k);
    cc_header_sign(&h, &k);
    assert_true(cc_header_verify_sig(&h));
    cc_header_encode(&h, buf);
    assert_int_equal(cc_header_decode(buf, sizeof buf, &back, NULL), CC_OK);
    assert_memory_equal(&back, &h, sizeof h);
    back.time_ms++;
    assert_false(cc_header_verify_sig(&back));
    assert_int_equal(cc_header_decode(buf, sizeof buf - 1, &back, NULL), CC_ERR_MALFORMED);
    buf[0] = 9;
    assert_int_equal(cc_header_decode(buf, sizeof buf, &back, NULL), CC_ERR_VERSION);

    /* a block of the three vectors round-trips byte for byte */
    cc_block b = {h, calloc(3, sizeof(cc_tx)), 3};
    const char *raws[] = {V1_RAW, V2_RAW, V3_RAW};
    for (int i = 0; i < 3; i++) {
        size_t n;
        uint8_t *raw = unhex_alloc(raws[i], &n);
        assert_int_equal(cc_tx_decode(raw, n, &b.txs[i], NULL), CC_OK);
        free(raw);
    }
    b.h.tx_count = 3;
    uint8_t *enc;
    size_t len;
    cc_block dec;
    assert_int_equal(cc_block_encode(&b, &enc, &len), CC_OK);
    assert_int_equal(cc_block_decode(enc, len, &dec, NULL), CC_OK);
    assert_int_equal(dec.tx_count, 3);
    assert_memory_equal(dec.txs[2].txid, b.txs[2].txid, 32);
    cc_block_free(&dec);
    assert_int_equal(cc_block_decode(enc, len - 1, &dec, NULL), CC_ERR_MALFORMED);
    enc[CC_HEADER_BYTES + 3] = 2; /* count disagrees with the header */
    assert_int_equal(cc_block_decode(enc, len, &dec, NULL), CC_ERR_MALFORMED);
    free(enc);
    cc_block_free(&b);
}

static void test_keys_and_hex(void **state)
{
    (void)state;
    cc_key k, back;
    json_t *extra = json_pack("{s:s}", "role", "patient"), *got = NULL;
    ut_key(7, &k);
    char *text = cc_key_to_json(&k, extra);
    assert_non_null(text);
    assert_int_equal(cc_key_from_json((uint8_t *)text, strlen(text), &back, &got, NULL), CC_OK);
    assert_memory_equal(back.sk, k.sk, CC_SECKEY_BYTES);
    assert_string_equal(json_string_value(json_object_get(got, "role")), "patient");
    assert_null(json_object_get(got, "secret")); /* the secret is not handed back */
    json_decref(got);
    /* a key file whose id does not match its secret is refused */
    char *id = strstr(text, "\"id\": \"") + 7;
    id[0] = id[0] == 'a' ? 'b' : 'a';
    cc_errbuf eb;
    assert_int_equal(cc_key_from_json((uint8_t *)text, strlen(text), &back, NULL, &eb), CC_ERR_MALFORMED);
    free(text);
    json_decref(extra);

    uint8_t bin[3];
    assert_int_equal(cc_unhex("a1B2c3", bin, 3), CC_OK);
    assert_int_equal(cc_unhex("a1b2c", bin, 3), CC_ERR_MALFORMED);
    assert_int_equal(cc_unhex("zz0000", bin, 3), CC_ERR_MALFORMED);
    uint8_t *b64out;
    size_t n;
    assert_int_equal(cc_unbase64("aGVsbG8=", &b64out, &n), CC_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(b64out, "hello", 5);
    free(b64out);
    assert_int_equal(cc_unbase64("aGVsbG8", &b64out, &n), CC_ERR_MALFORMED);
    assert_int_equal(cc_unbase64("a*==", &b64out, &n), CC_ERR_MALFORMED);
}

static void test_genesis_rejects(void **state)
{
    (void)state;
    cc_genesis g;
    cc_errbuf eb;
    char *ok = ut_genesis();
    assert_int_equal(cc_genesis_parse((uint8_t *)ok, strlen(ok), &g, &eb), CC_OK);
    assert_int_equal(g.node_count, 1);
    assert_int_equal(g.identity_count, 2);
    uint8_t id[32];
    cc_sha256((uint8_t *)ok, strlen(ok), id);
    assert_memory_equal(g.chain_id, id, 32);
    cc_genesis_free(&g);
    const char *bad[] = {
        "{}",
        "{\"carechain_genesis\":2}",
        ("{\"carechain_genesis\":1,\"chain_name\":\"x\",\"time_ms\":1,\"organisations\":[],\"nodes\":[],"
         "\"identities\":[]}"),
        "[1]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cc_genesis_parse((const uint8_t *)bad[i], strlen(bad[i]), &g, &eb), CC_OK);
    /* an identity of an unknown organisation: the message names it (a
     * consortium writes its genesis by hand) */
    char *s = strdup(ok);
    char *org = strstr(s, "\"org\":\"payer\"");
    memcpy(org, "\"org\":\"pzyer\"", 13);
    assert_int_equal(cc_genesis_parse((uint8_t *)s, strlen(s), &g, &eb), CC_ERR_MALFORMED);
    assert_non_null(strstr(eb.msg, "organisation \"pzyer\" is not among the organisations"));
    free(s);
    /* a role no identity can have */
    s = strdup(ok);
    char *role = strstr(s, "\"role\":\"admin\"");
    assert_non_null(role);
    memcpy(role, "\"role\":\"adnim\"", 14);
    assert_int_equal(cc_genesis_parse((uint8_t *)s, strlen(s), &g, &eb), CC_ERR_MALFORMED);
    if (!strstr(eb.msg, "role \"adnim\" is not one of")) fail_msg("%s", eb.msg);
    free(s);
    /* a second node with the first one's name, API address or raft address */
    static const char *const second[][4] = {
        {"node1", "127.0.0.1:7801", "127.0.0.1:7901", "has the name of node node1"},
        {"node2", "127.0.0.1:7800", "127.0.0.1:7901", "has the API address of node node1"},
        {"node2", "127.0.0.1:7801", "127.0.0.1:7900", "has the raft address of node node1"},
        {"node2", "127.0.0.1:7801", "127.0.0.1:7901", NULL},
    };
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
        cc_key k;
        char hex[CC_HASH_HEX], node[400];
        ut_key(9, &k);
        snprintf(
            node, sizeof node,
            "\"raft\":\"127.0.0.1:7900\"},{\"name\":\"%s\",\"id\":\"%s\",\"org\":\"payer\",\"api\":\"%s\","
            "\"raft\":\"%s\"}]",
            second[i][0], cc_hex(k.pk, CC_PUBKEY_BYTES, hex), second[i][1], second[i][2]);
        const char *at = strstr(ok, "\"raft\":\"127.0.0.1:7900\"}]");
        assert_non_null(at);
        char *two = NULL;
        assert_true(asprintf(&two, "%.*s%s%s", (int)(at - ok), ok, node,
                             at + strlen("\"raft\":\"127.0.0.1:7900\"}]")) > 0);
        cc_err rc = cc_genesis_parse((uint8_t *)two, strlen(two), &g, &eb);
        if (!second[i][3]) {
            assert_int_equal(rc, CC_OK);
            assert_int_equal(g.node_count, 2);
            cc_genesis_free(&g);
        } else if (rc != CC_ERR_MALFORMED || !strstr(eb.msg, second[i][3])) {
            fail_msg("%s: %s", second[i][3], eb.msg);
        }
        free(two);
    }
    free(ok);
}

/* The members hash of PROTOCOL.md "Checkpoints" (the vector there), and
 * the set it is made from: any order in, ascending out, no key twice. */
static void test_members_hash_vector(void **state)
{
    (void)state;
    uint8_t keys[3][32], want[32];
    cc_members m;
    memset(keys[0], 0xfe, 32);
    memset(keys[1], 0x01, 32);
    memset(keys[2], 0x02, 32);
    assert_int_equal(cc_members_set(&m, (const uint8_t(*)[32])keys, 3), CC_OK);
    assert_int_equal(m.count, 3);
    assert_int_equal(m.key[0][0], 0x01);
    assert_int_equal(m.key[2][0], 0xfe);
    assert_int_equal(cc_unhex("5a3208cc5057da44ae534440dd910052a11153a4ae81cf97f7cd124dcc77ef82", want, 32),
                     CC_OK);
    assert_memory_equal(m.hash, want, 32);
    assert_int_equal(cc_members_index(&m, keys[2]), 1);
    uint8_t other[32] = {3};
    assert_int_equal(cc_members_index(&m, other), -1);
    memset(keys[2], 0x01, 32);
    assert_int_equal(cc_members_set(&m, (const uint8_t(*)[32])keys, 3), CC_ERR_MALFORMED);
    assert_int_equal(cc_members_set(&m, (const uint8_t(*)[32])keys, 0), CC_ERR_MALFORMED);
}

/* The calendar (core/date.h): day numbers round-trip over 1600..2400,
 * step by step, and YYYY-MM-DD is read exactly. */
static void test_calendar(void **state)
{
    (void)state;
    int64_t y, first = cc_days_from_civil(1600, 1, 1), last = cc_days_from_civil(2400, 12, 31);
    unsigned m, d, expect_m = 1, expect_d = 1;
    int64_t expect_y = 1600;
    for (int64_t day = first; day <= last; day++) {
        cc_civil_from_days(day, &y, &m, &d);
        if (y != expect_y || m != expect_m || d != expect_d)
            fail_msg("day %lld is %lld-%u-%u, want %lld-%u-%u", (long long)day, (long long)y, m, d,
                     (long long)expect_y, expect_m, expect_d);
        assert_int_equal(cc_days_from_civil(y, m, d), day);
        if (++expect_d > cc_month_days(expect_y, expect_m)) {
            expect_d = 1;
            if (++expect_m > 12) expect_m = 1, expect_y++;
        }
    }
    assert_int_equal(cc_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cc_days_from_civil(2000, 3, 1), 11017);
    assert_true(cc_leap_year(2000) && cc_leap_year(2024) && !cc_leap_year(1900) && !cc_leap_year(2026));

    int64_t day = 7;
    assert_true(cc_date_parse("2024-02-29", &day));
    assert_int_equal(day, cc_days_from_civil(2024, 2, 29));
    static const char *const bad[] = {"2023-02-29",  "2024-04-31", "2024-13-01", "2024-00-01",
                                      "2024-01-00",  "2024-1-01",  "2024-+1-01", " 2024-1-01",
                                      "2024-01-01 ", "2024/01/01", "",           "2024-01-0x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        day = 7;
        if (cc_date_parse(bad[i], &day)) fail_msg("\"%s\" read as a date", bad[i]);
        assert_int_equal(day, 7);
    }
    assert_false(cc_date_parse(NULL, &day));

    assert_int_equal(cc_digits_value("0042", 4), 42);
    assert_int_equal(cc_digits_value("999999999999999999", 18), 999999999999999999);
    assert_int_equal(cc_digits_value("12", 0), 0);
    assert_int_equal(cc_digits_value("1", 2), -1); /* stops at the terminator */
    assert_int_equal(cc_digits_value("-1", 2), -1);
    assert_int_equal(cc_digits_value("1 ", 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_calendar),
        cmocka_unit_test(test_rejects_truncation_and_trailing),
        cmocka_unit_test(test_rejects_bad_fields),
        cmocka_unit_test(test_rejects_bad_payloads),
        cmocka_unit_test(test_canonical_check_agrees_with_dump),
        cmocka_unit_test(test_create_canonicalises_and_limits),
        cmocka_unit_test(test_header_and_block_round_trip),
        cmocka_unit_test(test_keys_and_hex),
        cmocka_unit_test(test_genesis_rejects),
        cmocka_unit_test(test_members_hash_vector),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
