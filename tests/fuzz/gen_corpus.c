/*
 * gen_corpus.c — writes the seed corpus of the fuzz targets (run once, by
 * hand, when the tx format changes; the output is committed):
 *
 *   cc -std=c11 -D_GNU_SOURCE -Iinclude -Isrc tests/fuzz/gen_corpus.c build/libcarechain.a \
 *      $(pkg-config --libs libsodium lmdb jansson libmicrohttpd libcurl raft) -lpthread -lm -o
 * /tmp/gen_corpus rm -rf tests/fuzz/corpus/fuzz_{tx,payload,gs1,block,entry,reqsig} && /tmp/gen_corpus
 * tests/fuzz/corpus
 *
 * (The other targets' seeds are written by hand: fuzz_proof's are real
 * proofs, fuzz_rules's Lua rules and fuzz_epcis's our own documents.)
 *
 * fuzz_tx/: valid txs of each built-in type (one with an attachment),
 * truncations, single flipped bytes and a trailing byte. fuzz_payload/:
 * a type selector byte (see fuzz_payload.c) then a payload, valid or not.
 * fuzz_gs1/: identifiers in every form gs1.h reads, valid or not.
 * fuzz_block/: blocks of those txs, truncations, flipped bytes of the
 * framing and a trailing byte. fuzz_entry/: raft entries of those blocks
 * (one carrying an attachment), truncations and flipped bytes of the entry's
 * own framing. fuzz_reqsig/: signed requests (headers and
 * body, see fuzz_reqsig.c), with and without a nonce, and broken copies.
 * Keys, times and nonces are fixed, so the output is the same every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>

#include "carechain.h"
#include "carechain/records.h"
#include "node/raft_entry.h"

#define CREATED_MS  1764000000000ull
#define LIFETIME_MS 3600000ull

static const char *out_dir;

static void put(const char *sub, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* Copies of data cut at each of cuts[0..n), named "trunc-<cut>". */
static void put_cuts(const char *sub, const uint8_t *data, const size_t *cuts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "trunc-%zu", cuts[i]);
        put(sub, name, data, cuts[i]);
    }
}

/* Copies of data[0..len) with the byte at each of at[0..n) flipped (bit 0,
 * or odd_mask at every odd i), named "flip-<at>"; and one with a trailing
 * zero byte. */
static void put_flips(const char *sub, const uint8_t *data, size_t len, const size_t *at, size_t n,
                      uint8_t odd_mask)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf) exit(1);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        memcpy(buf, data, len);
        buf[at[i]] ^= i % 2 ? odd_mask : 0x01;
        snprintf(name, sizeof name, "flip-%zu", at[i]);
        put(sub, name, buf, len);
    }
    memcpy(buf, data, len);
    buf[len] = 0;
    put(sub, "trailing-byte", buf, len + 1);
    free(buf);
}

static void key(const char *label, cc_key *k)
{
    uint8_t seed[CC_SEED_BYTES];
    cc_sha256((const uint8_t *)label, strlen(label), seed);
    cc_key_from_seed(seed, k);
}

static cc_tx make(const uint8_t *chain, const cc_key *k, const char *type, const char *payload,
                  uint64_t nonce, const uint8_t *att, size_t att_len)
{
    cc_tx_params p = {.chain_id = chain,
                      .type = type,
                      .payload = payload,
                      .payload_len = strlen(payload),
                      .created_ms = CREATED_MS,
                      .expiry_ms = CREATED_MS + LIFETIME_MS,
                      .nonce = nonce,
                      .attachment = att,
                      .attachment_len = att_len};
    cc_tx tx;
    cc_errbuf eb = {{0}};
    memset(&tx, 0, sizeof tx);
    if (cc_tx_create(&p, k, &tx, &eb) != CC_OK) {
        fprintf(stderr, "cc_tx_create %s: %s\n", type, eb.msg);
        exit(1);
    }
    return tx;
}

static void payload(unsigned selector, const char *name, const char *json)
{
    size_t len = strlen(json);
    uint8_t *buf = malloc(len + 1);
    buf[0] = (uint8_t)selector;
    memcpy(buf + 1, json, len);
    put("fuzz_payload", name, buf, len + 1);
    free(buf);
}

static void gs1(const char *name, const char *text)
{
    put("fuzz_gs1", name, text, strlen(text));
}

/* One of each accepted form and of the refusals docs/SUPPLY.md lists. */
static void gs1_corpus(void)
{
    gs1("es-bracketed", "(01)00312345678906(17)281231(10)LOT42(21)SN1001");
    gs1("es-bracketed-order", "(21)SN1001(10)LOT42(01)00312345678906(17)281200");
    gs1("es-plain", "010031234567890617281231"
                    "10LOT42\x1d"
                    "21SN1001");
    gs1("es-plain-symid", "]d2"
                          "0100312345678906"
                          "21A/B%C&D?(1)\x1d"
                          "10L-1");
    gs1("es-plain-gs1-128", "]C1"
                            "\x1d"
                            "0100312345678906"
                            "\x1d"
                            "17290228"
                            "21SN1");
    gs1("es-qr", "]Q3(01)10614141073464(21)2017(7003)2812311200(710)PZN123");
    gs1("es-sscc", "00106141411234567897"
                   "0200312345678906"
                   "3712\x1d"
                   "10LOT9");
    gs1("es-class", "(01)00312345678906(10)LOT42(17)281231");
    gs1("es-bad-check", "(01)00312345678907(21)X");
    gs1("es-bad-month", "0100312345678906"
                        "1728134121X");
    gs1("es-unknown-ai", "(01)00312345678906(99)1(21)X");
    gs1("es-long-serial", "0100312345678906"
                          "21ABCDEFGHIJKLMNOPQRSTU");
    gs1("dl-full", "https://id.gs1.org/01/00312345678906/10/LOT42/21/SN1001?17=281231");
    gs1("dl-prefix", "https://brand.example.com/products/01/01/4006381333931/21/A%2FB%25?linkType=all#x");
    gs1("dl-query-lot", "HTTP://LOCALHOST:8080/01/96385074/21/X?10=L%261&17=281200");
    gs1("dl-sscc", "https://id.gs1.org/00/106141411234567897?10=L-1&17=281200");
    gs1("dl-class", "https://id.gs1.org/01/036000291452");
    gs1("dl-qr", "]Q1https://id.gs1.org/01/00312345678906/21/SN1001");
    gs1("dl-bad-order", "https://id.gs1.org/01/00312345678906/21/X/10/L");
    gs1("dl-bad-escape", "https://id.gs1.org/01/00312345678906/21/A%2");
    gs1("epc-sgtin", "urn:epc:id:sgtin:0614141.107346.2017");
    gs1("epc-sgtin-escaped", "urn:epc:id:sgtin:031234567890.0.%22%25%26%2F%3C%3E%3F!'()*+,-.:;=_");
    gs1("epc-sgtin-prefix6", "urn:epc:id:sgtin:031234.0567890.SN1001");
    gs1("epc-sscc", "urn:epc:id:sscc:0614141.1234567890");
    gs1("epc-sgln", "urn:epc:id:sgln:0614141.12345.400");
    gs1("epc-pgln", "urn:epc:id:pgln:0614141.12345");
    gs1("epc-bad-total", "urn:epc:id:sgtin:0614141.10734.2017");
    gs1("gtin13", "4006381333931");
    gs1("exp", "280229");
    gs1("iso-date", "2028-02-29");
    gs1("empty", "");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);

    uint8_t chain[CC_HASH_BYTES];
    cc_sha256((const uint8_t *)"fuzz chain", 10, chain);
    cc_key admin, member;
    key("fuzz/admin", &admin);
    key("fuzz/member", &member);
    char member_hex[CC_HASH_HEX], sha_hex[CC_HASH_HEX], json[512];
    cc_hex(member.pk, CC_PUBKEY_BYTES, member_hex);
    uint8_t doc[CC_HASH_BYTES];
    cc_sha256((const uint8_t *)"a document", 10, doc);
    cc_hex(doc, CC_HASH_BYTES, sha_hex);

    /* ---- fuzz_tx: valid ---- */
    cc_tx txs[5];
    snprintf(json, sizeof json, "{\"kind\":\"doc\",\"sha256\":\"%s\"}", sha_hex);
    txs[0] = make(chain, &member, "note.put", json, 1, NULL, 0);
    snprintf(json, sizeof json, "{\"kind\":\"doc\",\"sha256\":\"%s\",\"uri\":\"https://example.org/d/1\"}",
             sha_hex);
    txs[1] = make(chain, &member, "note.put", json, 2, NULL, 0);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":\"clinician\",\"name\":\"Dr \\u00e9 Example\"}",
             member_hex);
    txs[2] = make(chain, &admin, "member.register", json, 3, NULL, 0);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"reason\":\"left\"}", member_hex);
    txs[3] = make(chain, &admin, "member.revoke", json, 4, NULL, 0);
    const uint8_t att[] = "ciphertext bytes of an encrypted record";
    snprintf(json, sizeof json, "{\"kind\":\"record\",\"sha256\":\"%s\"}", sha_hex);
    txs[4] = make(chain, &member, "note.put", json, 5, att, sizeof att - 1);
    const char *names[] = {"valid-note", "valid-note-uri", "valid-register", "valid-revoke",
                           "valid-attachment"};
    for (int i = 0; i < 5; i++) put("fuzz_tx", names[i], txs[i].raw, txs[i].raw_len);

    /* ---- fuzz_tx: truncated, flipped, trailing ---- */
    const cc_tx *t = &txs[1];
    size_t n = t->raw_len;
    size_t cuts[] = {0, 1, 2, 33, 34, 40, 80, n / 2, n - 65, n - 64, n - 1};
    put_cuts("fuzz_tx", t->raw, cuts, sizeof cuts / sizeof cuts[0]);
    size_t flips[] = {0, 1, 33, 34, 36, 90, 110, 130, 140, n / 2, n - 70, n - 66, n - 65, n - 1};
    put_flips("fuzz_tx", t->raw, n, flips, sizeof flips / sizeof flips[0], 0x80);
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00};
    put("fuzz_tx", "garbage", garbage, sizeof garbage);

    /* ---- fuzz_block: a block of the five txs, a block of one, and broken forms ---- */
    cc_block blk = {.txs = txs, .tx_count = 5};
    blk.h.version = CC_BLOCK_VERSION;
    memcpy(blk.h.chain_id, chain, CC_HASH_BYTES);
    blk.h.height = 7;
    cc_sha256((const uint8_t *)"block 6", 7, blk.h.prev_hash);
    blk.h.time_ms = CREATED_MS + 1000;
    blk.h.tx_count = 5;
    cc_block_tx_root(txs, 5, blk.h.tx_root);
    cc_sha256((const uint8_t *)"results", 7, blk.h.results_root);
    cc_sha256((const uint8_t *)"state", 5, blk.h.state_root);
    cc_sha256((const uint8_t *)"blocks", 6, blk.h.blocks_root);
    cc_header_sign(&blk.h, &admin);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (cc_block_encode(&blk, &enc, &enc_len) != CC_OK) return 1;
    put("fuzz_block", "valid-five", enc, enc_len);
    size_t block_cuts[] = {0,           CC_HEADER_BYTES, CC_HEADER_BYTES + 4, CC_HEADER_BYTES + 8,
                           enc_len / 2, enc_len - 1};
    put_cuts("fuzz_block", enc, block_cuts, sizeof block_cuts / sizeof block_cuts[0]);
    /* the version, the header's tx count, the block's count, a tx length, a tx byte */
    size_t block_flips[] = {0, 1 + 32 + 8 + 32 + 8, CC_HEADER_BYTES + 3, CC_HEADER_BYTES + 7,
                            CC_HEADER_BYTES + 20};
    put_flips("fuzz_block", enc, enc_len, block_flips, sizeof block_flips / sizeof block_flips[0], 0x01);
    free(enc);

    /* ---- fuzz_entry: the five-tx block as a raft entry, and broken forms ---- */
    uint8_t *ent = NULL;
    size_t ent_len = 0;
    if (cc_raft_entry_encode(&blk.h, txs, 5, &ent, &ent_len) != CC_OK) return 1;
    put("fuzz_entry", "valid-five", ent, ent_len);
    size_t atts = 1 + 4 + cc_get_u32(ent + 1);
    size_t entry_cuts[] = {0, 5, atts - 1, atts, atts + 4, atts + 12, ent_len - 1};
    put_cuts("fuzz_entry", ent, entry_cuts, sizeof entry_cuts / sizeof entry_cuts[0]);
    /* the version, the block length, the attachment count, index, length, a byte, the padding */
    size_t entry_flips[] = {0, 1, atts + 3, atts + 7, atts + 11, atts + 12, ent_len - 1};
    put_flips("fuzz_entry", ent, ent_len, entry_flips, sizeof entry_flips / sizeof entry_flips[0], 0x01);
    raft_free(ent);
    blk.tx_count = blk.h.tx_count = 1;
    cc_block_tx_root(txs, 1, blk.h.tx_root);
    cc_header_sign(&blk.h, &admin);
    if (cc_block_encode(&blk, &enc, &enc_len) != CC_OK) return 1;
    put("fuzz_block", "valid-one", enc, enc_len);
    free(enc);

    /* ---- fuzz_reqsig: requests signed as fuzz_reqsig.c checks them (POST
     * /v1/epcis/capture?q=1 at its clock), and broken copies ---- */
    {
        const char *const bodies[] = {"{\"epcisBody\":{}}", ""};
        const char *const nonces[] = {"fuzz-nonce-0123456789", NULL};
        for (int i = 0; i < 2; i++) {
            cc_reqsig_headers hd;
            char name[64], req[1024];
            if (cc_reqsig_sign_nonce(&member, "POST", "/v1/epcis/capture", "q=1", (const uint8_t *)bodies[i],
                                     strlen(bodies[i]), 1764000000, nonces[i], &hd, NULL) != CC_OK)
                return 1;
            int n = snprintf(req, sizeof req, "%s\n%s\n%s\n%s", hd.content_digest, hd.signature_input,
                             hd.signature, bodies[i]);
            snprintf(name, sizeof name, "valid-%d", i);
            put("fuzz_reqsig", name, req, (size_t)n);
            snprintf(name, sizeof name, "two-headers-%d", i);
            put("fuzz_reqsig", name, req, strlen(hd.content_digest) + 1 + strlen(hd.signature_input));
            req[strlen(hd.content_digest) + 20] ^= 0x01; /* inside Signature-Input */
            snprintf(name, sizeof name, "flipped-%d", i);
            put("fuzz_reqsig", name, req, (size_t)n);
        }
    }

    for (int i = 0; i < 5; i++) cc_tx_free(&txs[i]);

    /* ---- fuzz_payload: 0 member.register, 1 member.revoke, 2 note.put, 3 unknown ---- */
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":\"clinician\"}", member_hex);
    payload(0, "register-valid", json);
    snprintf(json, sizeof json, "{\"role\":\"patient\",\"name\":\"P\",\"id\":\"%s\"}", member_hex);
    payload(0, "register-name-unsorted", json);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":\"king\"}", member_hex);
    payload(0, "register-bad-role", json);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":\"node\"}", member_hex);
    payload(0, "register-node-role", json);
    payload(0, "register-short-id", "{\"id\":\"abcd\",\"role\":\"admin\"}");
    payload(0, "register-missing-id", "{\"role\":\"admin\"}");
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":\"admin\",\"extra\":1}", member_hex);
    payload(0, "register-extra-field", json);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"role\":7}", member_hex);
    payload(0, "register-role-number", json);
    snprintf(json, sizeof json, "{\"id\":\"%s\"}", member_hex);
    payload(1, "revoke-valid", json);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"reason\":\"left the hospital\"}", member_hex);
    payload(1, "revoke-reason", json);
    payload(1, "revoke-bad-id", "{\"id\":\"zz\"}");
    snprintf(json, sizeof json, "{\"kind\":\"doc\",\"sha256\":\"%s\"}", sha_hex);
    payload(2, "note-valid", json);
    snprintf(json, sizeof json, "{ \"sha256\" : \"%s\" ,\n \"kind\" : \"doc\", \"uri\": \"s3://b/k\" }",
             sha_hex);
    payload(2, "note-spaced-uri", json);
    payload(2, "note-bad-sha", "{\"kind\":\"doc\",\"sha256\":\"xyz\"}");
    snprintf(json, sizeof json, "{\"kind\":\"doc\",\"kind\":\"x\",\"sha256\":\"%s\"}", sha_hex);
    payload(2, "note-duplicate-key", json);
    snprintf(json, sizeof json, "{\"kind\":1.5,\"sha256\":\"%s\"}", sha_hex);
    payload(2, "note-real-number", json);
    snprintf(json, sizeof json, "{\"kind\":{\"a\":[1,2,{\"b\":null}]},\"sha256\":\"%s\"}", sha_hex);
    payload(2, "note-nested", json);
    payload(2, "note-bad-utf8", "{\"kind\":\"\xc3\x28\",\"sha256\":\"00\"}");
    payload(2, "note-escapes", "{\"kind\":\"\\u0000\\ud83d\\ude00\\\"\",\"sha256\":\"\"}");
    payload(2, "not-object", "[1,2,3]");
    payload(2, "empty", "");
    payload(2, "trailing", "{} {}");
    payload(2, "big-int", "{\"kind\":123456789012345678901234567890}");
    payload(3, "unknown-type", "{}");

    /* ---- 4 record.put, 5 record.erase, 6 org.key, 7 consent.grant, 8 consent.revoke,
     *      9 patient.delegate, 10 audit.access ---- */
    char keys[256];
    snprintf(keys, sizeof keys, "{\"%s\":\"%s\"}", member_hex,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
             "AAAAAAAAAAAA=");
    snprintf(json, sizeof json,
             "{\"category\":\"laboratory\",\"ciphertext\":\"%s\",\"keys\":%s,\"patient\":\"%s\","
             "\"purpose\":\"TREAT\",\"record\":\"000102030405060708090a0b0c0d0e0f\",\"resourceType\":"
             "\"Observation\","
             "\"version\":1}",
             sha_hex, keys, member_hex);
    payload(4, "record-put-valid", json);
    snprintf(json, sizeof json,
             "{\"category\":\"Lab\",\"ciphertext\":\"%s\",\"keys\":{},\"patient\":\"%s\",\"purpose\":\"FUN\","
             "\"record\":\"00\",\"resourceType\":\"observation\",\"version\":0}",
             sha_hex, member_hex);
    payload(4, "record-put-bad-fields", json);
    payload(5, "record-erase-valid",
            "{\"reason\":\"patient request\",\"record\":\"000102030405060708090a0b0c0d0e0f\"}");
    snprintf(json, sizeof json, "{\"key\":\"%s\"}", member_hex);
    payload(6, "org-key-valid", json);
    snprintf(
        json, sizeof json,
        "{\"actions\":[\"read\"],\"grantee\":{\"identity\":\"%s\"},\"patient\":\"%s\",\"period\":{\"until\":"
        "1900000000000},\"provision\":\"permit\",\"purposes\":[\"TREAT\"],\"scope\":{\"resourceTypes\":["
        "\"Observation\"]}}",
        member_hex, member_hex);
    payload(7, "consent-grant-valid", json);
    snprintf(
        json, sizeof json,
        "{\"actions\":[\"read\",\"read\"],\"grantee\":{\"org\":\"\"},\"patient\":\"%s\",\"period\":{\"from\":"
        "5,\"until\":4},\"provision\":\"maybe\",\"purposes\":[]}",
        member_hex);
    payload(7, "consent-grant-bad", json);
    snprintf(json, sizeof json, "{\"consent\":\"%s\",\"reason\":\"done\"}", sha_hex);
    payload(8, "consent-revoke-valid", json);
    snprintf(json, sizeof json, "{\"active\":true,\"delegate\":\"%s\"}", member_hex);
    payload(9, "delegate-valid", json);
    snprintf(
        json, sizeof json,
        "{\"emergency\":true,\"endpoint\":\"GET "
        "/v1/records/{id}\",\"outcome\":\"granted\",\"patient\":\"%s\","
        "\"purpose\":\"ETREAT\",\"reason\":\"break-glass\",\"record\":\"000102030405060708090a0b0c0d0e0f\","
        "\"request\":\"%s\",\"requester\":\"%s\",\"time\":1764090000000}",
        member_hex, sha_hex, member_hex);
    payload(10, "audit-access-valid", json);

    /* 11..15: the claims types; 16..30: the drug supply chain (docs/SUPPLY.md) */
    payload(16, "drug-prefix-valid", "{\"prefix\":\"0312345\",\"org\":\"pharma\"}");
    payload(16, "drug-prefix-short", "{\"prefix\":\"03123\",\"org\":\"pharma\"}");
    payload(17, "drug-product-valid",
            "{\"gtin\":\"00312345678906\",\"ndc\":\"12345-678-90\",\"name\":\"Amoxicillin\",\"strength\":"
            "\"500 mg\",\"form\":\"capsule\"}");
    payload(17, "drug-product-bad-check",
            "{\"gtin\":\"00312345678907\",\"ndc\":\"12345-678-90\",\"name\":\"A\",\"strength\":\"1\","
            "\"form\":\"tablet\"}");
    payload(18, "drug-commission-valid",
            "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"exp\":\"281231\",\"serials\":[\"SN1\",\"SN2\","
            "\"SN3\"]}");
    payload(
        18, "drug-commission-dup",
        "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"exp\":\"281231\",\"serials\":[\"SN1\",\"SN1\"]}");
    payload(18, "drug-commission-range",
            "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"exp\":\"281231\",\"range\":{\"prefix\":\"SN\","
            "\"start\":1,\"count\":10000,\"width\":10}}");
    payload(18, "drug-commission-bad-exp",
            "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"exp\":\"281341\",\"serials\":[\"SN1\"]}");
    payload(19, "drug-aggregate-valid",
            "{\"sscc\":\"003123450000000011\",\"units\":[\"00312345678906.SN1\",\"00312345678906.SN2\"]}");
    payload(19, "drug-aggregate-self",
            "{\"sscc\":\"003123450000000011\",\"cases\":[\"003123450000000011\"]}");
    payload(20, "drug-disaggregate-valid", "{\"sscc\":\"003123450000000011\"}");
    payload(21, "drug-ship-valid",
            "{\"to\":\"distributor\",\"cases\":[\"003123450000000011\"],\"transaction\":{\"id\":\"INV-1\","
            "\"date\":\"2026-11-25\",\"statement\":true}}");
    payload(21, "drug-ship-no-statement",
            "{\"to\":\"distributor\",\"units\":[\"00312345678906.SN1\"],\"transaction\":{\"id\":\"INV-1\","
            "\"date\":\"2026-11-25\",\"statement\":false}}");
    payload(22, "drug-receive-valid", "{\"units\":[\"00312345678906.SN1\"]}");
    payload(23, "drug-dispense-valid", "{\"units\":[\"00312345678906.SN1\"]}");
    payload(24, "drug-decommission-valid", "{\"units\":[\"00312345678906.SN1\"],\"reason\":\"destroyed\"}");
    payload(25, "drug-return-valid",
            "{\"to\":\"distributor\",\"units\":[\"00312345678906.SN1\"],\"transaction\":{\"id\":\"RMA-1\","
            "\"date\":\"2026-11-25\",\"statement\":true}}");
    payload(26, "drug-recall-lot",
            "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"class\":\"II\",\"reason\":\"label mix-up\"}");
    payload(26, "drug-recall-both",
            "{\"gtin\":\"00312345678906\",\"lot\":\"LOT42\",\"serials\":[\"SN1\"],\"class\":\"I\",\"reason\":"
            "\"x\"}");
    payload(27, "drug-suspect-valid",
            "{\"units\":[\"00312345678906.SN1\"],\"kind\":\"suspect\",\"reason\":\"damaged seal\"}");
    payload(28, "drug-clear-valid", "{\"units\":[\"00312345678906.SN1\"],\"reason\":\"investigated\"}");
    payload(29, "drug-alert-valid",
            "{\"kind\":\"clone\",\"unit\":\"00312345678906.SN1\",\"by\":"
            "\"abababababababababababababababababababababababababababababababab\",\"request\":"
            "\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\"}");
    payload(30, "epcis-capture-short",
            "{\"document\":\"{}\",\"content_digest\":\"sha-256=:AA==:\",\"signature_input\":\"cc=()\","
            "\"signature\":\"cc=:AA==:\"}");

    gs1_corpus();
    return 0;
}
