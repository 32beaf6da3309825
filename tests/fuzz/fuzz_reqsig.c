/*
 * fuzz_reqsig.c — libFuzzer target for the signed-request verifier
 * (src/core/reqsig.c, RFC 9421 as carechain profiles it). Every node
 * parses these headers from any client on every signed read, and again
 * inside exec for each epcis.capture, so on arbitrary bytes:
 *   - cc_reqsig_verify must not crash, and every refusal is
 *     CC_ERR_UNAUTHENTICATED with the reason;
 *   - an accepted request names the signer its Signature-Input names,
 *     created within the allowed skew, and the same headers are refused for
 *     another body, another query, another method, or a clock moved past
 *     the allowed skew.
 *
 * The input is the Content-Digest, Signature-Input and Signature header
 * values, then the body, separated by the first three '\n' bytes (fewer
 * separators: the later headers are missing). The request is a POST to
 * /v1/epcis/capture with the query "q=1" at a fixed clock; the seed corpus
 * holds requests signed for exactly that (tests/fuzz/gen_corpus.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "carechain/records.h"
#include "fuzz/fuzz.h"

#define METHOD "POST"
#define PATH   "/v1/epcis/capture"
#define QUERY  "q=1"
#define NOW_S  1764000000 /* the seeds' created */

static cc_err verify(const char *method, const char *query, const uint8_t *body, size_t len, char *const h[3],
                     int64_t now_s, cc_reqsig_verified *out, cc_errbuf *eb)
{
    memset(eb, 0, sizeof *eb);
    return cc_reqsig_verify(method, PATH, query, body, len, h[0], h[1], h[2], now_s, out, eb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Split into three NUL-terminated header values and the body. */
    char *copy = malloc(size + 1);
    CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *h[3] = {NULL, NULL, NULL};
    char *p = copy, *end = copy + size;
    for (int i = 0; i < 3 && p; i++) {
        h[i] = p;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
    const uint8_t *body = p ? (const uint8_t *)p : (const uint8_t *)"";
    size_t len = p ? (size_t)(end - p) : 0;

    cc_reqsig_verified v;
    cc_errbuf eb;
    cc_err rc = verify(METHOD, QUERY, body, len, h, NOW_S, &v, &eb);
    if (rc != CC_OK) {
        CHECK(rc == CC_ERR_UNAUTHENTICATED);
        CHECK(eb.msg[0] != '\0' && memchr(eb.msg, 0, sizeof eb.msg) != NULL);
        free(copy);
        return 0;
    }

    /* Accepted: the signer is the one the input names, at a time within
     * the skew. */
    char keyid_hex[CC_HASH_HEX];
    cc_hex(v.keyid, CC_PUBKEY_BYTES, keyid_hex);
    CHECK(strcasestr(h[1], keyid_hex) != NULL);
    CHECK(v.created_s >= NOW_S - CC_REQSIG_SKEW_S && v.created_s <= NOW_S + CC_REQSIG_SKEW_S);

    /* ... and the signature covers what it claims to. */
    cc_reqsig_verified w;
    uint8_t *other = malloc(len + 1);
    CHECK(other != NULL);
    memcpy(other, body, len);
    other[len] = 'x';
    CHECK(verify(METHOD, QUERY, other, len + 1, h, NOW_S, &w, &eb) == CC_ERR_UNAUTHENTICATED);
    free(other);
    CHECK(verify(METHOD, "q=2", body, len, h, NOW_S, &w, &eb) == CC_ERR_UNAUTHENTICATED);
    CHECK(verify("PUT", QUERY, body, len, h, NOW_S, &w, &eb) == CC_ERR_UNAUTHENTICATED);
    CHECK(verify(METHOD, QUERY, body, len, h, v.created_s + CC_REQSIG_SKEW_S + 1, &w, &eb) ==
          CC_ERR_UNAUTHENTICATED);
    CHECK(verify(METHOD, QUERY, body, len, h, NOW_S, &w, &eb) == CC_OK);
    CHECK(memcmp(&v, &w, sizeof v) == 0);
    free(copy);
    return 0;
}
