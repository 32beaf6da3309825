/*
 * fuzz_payload.c — libFuzzer target for payload validation and the
 * canonical JSON form. The first byte picks a tx type; the rest is the
 * payload. cc_payload_validate must not crash and must say why when it
 * refuses; cc_json_canonical, when it accepts, yields an object that is
 * its own canonical form (idempotent) and that validates like the input.
 * "no.such.type" checks that unknown types are refused as such.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain.h"
#include "carechain/chain.h"
#include "fuzz/fuzz.h"

/* New types go at the end: the seed corpus selects types by index. */
static const char *const types[] = {
    "member.register",   "member.revoke", "note.put",        "no.such.type",    "record.put",
    "record.erase",      "org.key",       "consent.grant",   "consent.revoke",  "patient.delegate",
    "audit.access",      "plan.deploy",   "coverage.enroll", "claim.submit",    "priorauth.decide",
    "payment.settle",    "drug.prefix",   "drug.product",    "drug.commission", "drug.aggregate",
    "drug.disaggregate", "drug.ship",     "drug.receive",    "drug.dispense",   "drug.decommission",
    "drug.return",       "drug.recall",   "drug.suspect",    "drug.clear",      "drug.alert",
    "epcis.capture"};
#define TYPE_COUNT (sizeof types / sizeof types[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *type = types[data[0] % TYPE_COUNT];
    const uint8_t *payload = data + 1;
    size_t len = size - 1;

    cc_errbuf eb;
    memset(&eb, 0, sizeof eb);
    cc_err v = cc_payload_validate(type, payload, len, &eb);
    if (strcmp(type, "no.such.type") == 0) CHECK(v == CC_ERR_UNKNOWN_TYPE);
    if (v != CC_OK) CHECK(eb.msg[0] != 0 && memchr(eb.msg, 0, sizeof eb.msg) != NULL);

    char *canon = NULL;
    size_t canon_len = 0;
    cc_err c = cc_json_canonical(payload, len, &canon, &canon_len, &eb);
    if (c == CC_OK) {
        CHECK(canon != NULL && strlen(canon) == canon_len && canon[0] == '{');
        char *twice = NULL;
        size_t twice_len = 0;
        CHECK(cc_json_canonical((const uint8_t *)canon, canon_len, &twice, &twice_len, NULL) == CC_OK);
        CHECK(twice_len == canon_len && memcmp(twice, canon, canon_len) == 0);
        free(twice);
        /* validation looks at meaning, not layout (away from the size limit) */
        if (len < CC_PAYLOAD_MAX / 2 && canon_len < CC_PAYLOAD_MAX / 2) {
            cc_err vc = cc_payload_validate(type, (const uint8_t *)canon, canon_len, NULL);
            CHECK((vc == CC_OK) == (v == CC_OK));
        }
    }
    free(canon);
    return 0;
}
