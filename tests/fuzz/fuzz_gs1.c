/*
 * fuzz_gs1.c — libFuzzer target for the GS1 identifier parsers
 * (include/carechain/gs1.h). On any text cc_gs1_parse and
 * cc_gs1_parse_class must not crash and must say why when they refuse.
 * What they accept must be valid by the header's own predicates and come
 * back unchanged through every writer: its Digital Link, and its EPC URI
 * at each company prefix length. The small validators run on the text too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/gs1.h"
#include "fuzz/fuzz.h"

#define TEXT_MAX  4096 /* longer inputs are cut: the parsers' limits are far below */
#define LINK_SIZE 256  /* the longest Digital Link we write is under 200 bytes */

/* Same identifier; with_data: same lot and expiry too. */
static void same_id(const cc_gs1_id *a, const cc_gs1_id *b, bool with_data)
{
    CHECK(a->kind == b->kind);
    CHECK(strcmp(a->gtin, b->gtin) == 0 && strcmp(a->serial, b->serial) == 0 &&
          strcmp(a->sscc, b->sscc) == 0);
    if (with_data) CHECK(strcmp(a->lot, b->lot) == 0 && strcmp(a->exp, b->exp) == 0);
}

/* Every field of an accepted identifier obeys the header. */
static void check_valid(const cc_gs1_id *id)
{
    if (id->kind == CC_GS1_SGTIN) {
        CHECK(cc_gs1_gtin_valid(id->gtin) && id->sscc[0] == '\0');
        CHECK(id->serial[0] == '\0' || cc_gs1_serial_valid(id->serial));
    } else {
        CHECK(id->kind == CC_GS1_SSCC && cc_gs1_sscc_valid(id->sscc));
        CHECK(id->gtin[0] == '\0' && id->serial[0] == '\0');
    }
    CHECK(id->lot[0] == '\0' || cc_gs1_lot_valid(id->lot));
    CHECK(id->exp[0] == '\0' || cc_gs1_exp_valid(id->exp));
    CHECK(id->prefix_len == 0 ||
          (id->prefix_len >= CC_GS1_PREFIX_MIN && id->prefix_len <= CC_GS1_PREFIX_MAX));
}

static void round_trips(const cc_gs1_id *id)
{
    cc_gs1_id back;
    cc_errbuf eb = {""};
    char link[LINK_SIZE], uri[CC_GS1_EPC_MAX];
    CHECK(cc_gs1_digital_link(id, link, sizeof link, &eb) == CC_OK);
    CHECK(cc_gs1_parse_class(link, &back, &eb) == CC_OK);
    same_id(id, &back, true);
    CHECK(back.prefix_len == 0);
    for (unsigned len = CC_GS1_PREFIX_MIN; len <= CC_GS1_PREFIX_MAX; len++) {
        if (id->kind == CC_GS1_SSCC)
            CHECK(cc_gs1_sscc_uri(id->sscc, len, uri, sizeof uri, &eb) == CC_OK);
        else if (id->serial[0])
            CHECK(cc_gs1_sgtin_uri(id->gtin, id->serial, len, uri, sizeof uri, &eb) == CC_OK);
        else
            break; /* a product class has no EPC pure identity */
        CHECK(cc_gs1_parse(uri, &back, &eb) == CC_OK);
        same_id(id, &back, false);
        CHECK(back.prefix_len == len);
    }
}

/* The small validators on the raw text. */
static void validators(const char *text)
{
    cc_errbuf eb = {""};
    char gtin[CC_GS1_GTIN_DIGITS + 1], exp[CC_GS1_EXP_DIGITS + 1], iso[11], prefix[CC_GS1_PREFIX_MAX + 1];
    if (cc_gs1_gtin_normalize(text, gtin, &eb) == CC_OK)
        CHECK(cc_gs1_gtin_valid(gtin));
    else
        CHECK(eb.msg[0] != '\0');
    CHECK(cc_gs1_gtin_valid(text) ==
          (strlen(text) == CC_GS1_GTIN_DIGITS && cc_gs1_gtin_normalize(text, gtin, NULL) == CC_OK));
    (void)cc_gs1_sscc_valid(text);
    (void)cc_gs1_serial_valid(text);
    (void)cc_gs1_lot_valid(text);
    CHECK(cc_gs1_exp_valid(text) == (cc_gs1_exp_day(text) >= 0));
    cc_gs1_exp_to_iso(text, iso);
    CHECK((iso[0] != '\0') == cc_gs1_exp_valid(text));
    if (cc_gs1_exp_from_iso(text, exp, &eb) == CC_OK) {
        CHECK(cc_gs1_exp_valid(exp));
        cc_gs1_exp_to_iso(exp, iso);
        CHECK(strcmp(iso, text) == 0);
    }
    if (cc_gs1_gln_prefix(text, prefix, &eb) == CC_OK) {
        size_t n = strlen(prefix);
        CHECK(n >= CC_GS1_PREFIX_MIN && n <= CC_GS1_PREFIX_MAX && strspn(prefix, "0123456789") == n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[TEXT_MAX + 1];
    if (size > TEXT_MAX) size = TEXT_MAX;
    memcpy(text, data, size);
    text[size] = '\0';

    cc_gs1_id unit, cls;
    cc_errbuf eb = {""}, eb_cls = {""};
    cc_err rc = cc_gs1_parse(text, &unit, &eb);
    cc_err rc_cls = cc_gs1_parse_class(text, &cls, &eb_cls);
    CHECK(rc == CC_OK || (rc == CC_ERR_INVALID && eb.msg[0] != '\0' && unit.kind == 0));
    CHECK(rc_cls == CC_OK || (rc_cls == CC_ERR_INVALID && eb_cls.msg[0] != '\0' && cls.kind == 0));
    if (rc == CC_OK) {
        /* a unit is a class with a serial */
        CHECK(rc_cls == CC_OK);
        same_id(&unit, &cls, true);
        CHECK(unit.prefix_len == cls.prefix_len);
        CHECK(unit.kind == CC_GS1_SSCC || unit.serial[0] != '\0');
    } else if (rc_cls == CC_OK) {
        CHECK(cls.kind == CC_GS1_SGTIN && cls.serial[0] == '\0');
    }
    if (rc_cls == CC_OK) {
        check_valid(&cls);
        round_trips(&cls);
    }
    validators(text);
    return 0;
}
