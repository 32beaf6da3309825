/*
 * test_gs1.c — GS1 identifiers (include/carechain/gs1.h): check digits,
 * set 82, expiry dates, element strings in every AI order, Digital Links,
 * EPC URIs both ways, GLN prefixes, and malformed inputs refused for the
 * reason a pharmacist would need to hear (the message is checked).
 */
#include "unit_support.h"

#include "carechain/gs1.h"

#define GTIN  "00312345678906" /* GS1 US example: prefix 0312345, item 67890 */
#define GTIN2 "10614141073464" /* EPCIS examples: urn:epc:id:sgtin:0614141.107346.* */
#define SSCC  "106141411234567897"
#define GSS   "\x1d"

/* text parses (strictly when strict, else as a class) to these fields. */
static void expect_id(const char *text, bool strict, cc_gs1_kind kind, const char *gtin, const char *serial,
                      const char *lot, const char *exp, const char *sscc)
{
    cc_gs1_id id;
    cc_errbuf eb = {""};
    cc_err rc = strict ? cc_gs1_parse(text, &id, &eb) : cc_gs1_parse_class(text, &id, &eb);
    if (rc != CC_OK) fail_msg("\"%s\" refused: %s", text, eb.msg);
    if (id.kind != kind) fail_msg("\"%s\": kind %d, want %d", text, (int)id.kind, (int)kind);
    if (strcmp(id.gtin, gtin) || strcmp(id.serial, serial) || strcmp(id.lot, lot) || strcmp(id.exp, exp) ||
        strcmp(id.sscc, sscc))
        fail_msg("\"%s\": got gtin %s serial %s lot %s exp %s sscc %s", text, id.gtin, id.serial, id.lot,
                 id.exp, id.sscc);
}

static void expect_unit(const char *text, const char *gtin, const char *serial, const char *lot,
                        const char *exp)
{
    expect_id(text, true, CC_GS1_SGTIN, gtin, serial, lot, exp, "");
}

static int rejected; /* rejection assertions made, reported at the end */

static void expect_msg(cc_err rc, const cc_errbuf *eb, const char *what, const char *needle)
{
    rejected++;
    if (rc != CC_ERR_INVALID) fail_msg("\"%s\" not refused as invalid (%d)", what, (int)rc);
    if (!strstr(eb->msg, needle)) fail_msg("\"%s\": message \"%s\" lacks \"%s\"", what, eb->msg, needle);
}

/* cc_gs1_parse refuses text with a message containing needle. */
static void expect_bad(const char *text, const char *needle)
{
    cc_gs1_id id;
    cc_errbuf eb = {""};
    cc_err rc = cc_gs1_parse(text, &id, &eb);
    expect_msg(rc, &eb, text ? text : "(null)", needle);
    assert_int_equal(id.kind, 0); /* out is zeroed on failure */
}

static void test_check_digits(void **state)
{
    (void)state;
    char out[CC_GS1_GTIN_DIGITS + 1];
    cc_errbuf eb = {""};
    assert_true(cc_gs1_gtin_valid(GTIN));
    assert_true(cc_gs1_gtin_valid(GTIN2));
    assert_true(cc_gs1_gtin_valid("04006381333931"));
    assert_false(cc_gs1_gtin_valid("00312345678907"));
    assert_false(cc_gs1_gtin_valid("0031234567890"));
    assert_false(cc_gs1_gtin_valid("003123456789060"));
    assert_false(cc_gs1_gtin_valid("4006381333931")); /* GTIN-13: normalise first */
    assert_false(cc_gs1_gtin_valid("0031234567890A"));
    assert_false(cc_gs1_gtin_valid(""));
    assert_false(cc_gs1_gtin_valid(NULL));

    static const struct {
        const char *in, *out;
    } ok[] = {
        {"96385074", "00000096385074"},       /* GTIN-8 */
        {"036000291452", "00036000291452"},   /* GTIN-12 (UPC-A) */
        {"4006381333931", "04006381333931"},  /* GTIN-13 (EAN-13) */
        {"00312345678906", "00312345678906"}, /* GTIN-14 */
        {"10614141073464", "10614141073464"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(cc_gs1_gtin_normalize(ok[i].in, out, &eb), CC_OK);
        assert_string_equal(out, ok[i].out);
    }
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"00312345678907", "check digit is 7, should be 6"},
        {"96385075", "check digit is 5, should be 4"},
        {"036000291453", "check digit is 3, should be 2"},
        {"4006381333932", "check digit is 2, should be 1"},
        {"10614141073465", "check digit is 5, should be 4"},
        {"00312345678", "has 11 digits; a GTIN has 8, 12, 13 or 14"},
        {"003123456789060", "has 15 digits"},
        {"0031234567890O", "character 14 ('O') is not a digit"},
        {" 00312345678906", "character 1 (space) is not a digit"},
        {"", "GTIN is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_msg(cc_gs1_gtin_normalize(bad[i].in, out, &eb), &eb, bad[i].in, bad[i].why);
    expect_msg(cc_gs1_gtin_normalize(NULL, out, &eb), &eb, "(null)", "GTIN is empty");

    assert_true(cc_gs1_sscc_valid(SSCC));
    assert_true(cc_gs1_sscc_valid("106141412345678908"));
    assert_false(cc_gs1_sscc_valid("106141411234567890"));
    assert_false(cc_gs1_sscc_valid("10614141123456789"));
    assert_false(cc_gs1_sscc_valid("1061414112345678970"));
    assert_false(cc_gs1_sscc_valid(NULL));
}

static void test_character_set(void **state)
{
    (void)state;
    assert_true(cc_gs1_serial_valid("SN1001"));
    assert_true(cc_gs1_serial_valid("!\"%&'()*+,-./:;<=>?_"));
    assert_true(cc_gs1_serial_valid("AZaz09"));
    assert_true(cc_gs1_serial_valid("12345678901234567890")); /* 20 */
    assert_false(cc_gs1_serial_valid("123456789012345678901"));
    assert_false(cc_gs1_serial_valid(""));
    assert_false(cc_gs1_serial_valid(NULL));
    static const char *const outside[] = {"A B", "A#B", "A$B", "A@B", "A[B", "A\\B",   "A]B",      "A^B",
                                          "A`B", "A{B", "A|B", "A}B", "A~B", "A\035B", "A\xc3\xa9"};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        assert_false(cc_gs1_serial_valid(outside[i]));
        assert_false(cc_gs1_lot_valid(outside[i]));
    }
    assert_true(cc_gs1_lot_valid("LOT-42/B"));
    assert_false(cc_gs1_lot_valid("LOT4567890123456789012"));
}

static void test_expiry(void **state)
{
    (void)state;
    static const char *const valid[] = {"281231", "280229", "000229", "281200", "290200", "991231", "000100"};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) assert_true(cc_gs1_exp_valid(valid[i]));
    static const char *const invalid[] = {"290229",  "281300", "280000", "280431", "28123",
                                          "2812311", "28a231", "",       "281232"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert_false(cc_gs1_exp_valid(invalid[i]));
    assert_false(cc_gs1_exp_valid(NULL));

    assert_int_equal(cc_gs1_exp_day("281231"), 21549);
    assert_int_equal(cc_gs1_exp_day("281200"), 21549); /* DD 00: the month's last day */
    assert_int_equal(cc_gs1_exp_day("000101"), 10957);
    assert_int_equal(cc_gs1_exp_day("280200"), 21243); /* 2028-02-29 */
    assert_int_equal(cc_gs1_exp_day("290200"), 21608); /* 2029-02-28 */
    assert_int_equal(cc_gs1_exp_day("991231"), 47481);
    assert_int_equal(cc_gs1_exp_day("700101"), 36525); /* 2070, not 1970 */
    assert_int_equal(cc_gs1_exp_day("281301"), -1);
    assert_int_equal(cc_gs1_exp_day(NULL), -1);

    char exp[CC_GS1_EXP_DIGITS + 1], iso[11];
    cc_errbuf eb = {""};
    assert_int_equal(cc_gs1_exp_from_iso("2028-12-31", exp, &eb), CC_OK);
    assert_string_equal(exp, "281231");
    assert_int_equal(cc_gs1_exp_from_iso("2000-02-29", exp, &eb), CC_OK);
    assert_string_equal(exp, "000229");
    static const struct {
        const char *in, *why;
    } bad[] = {
        {"1999-12-31", "year 1999 is outside 2000..2099"},
        {"2100-01-01", "year 2100"},
        {"2028-13-01", "month 13"},
        {"2029-02-29", "day 29, but 2029-02 has 28 days"},
        {"2028-12-00", "day 00"},
        {"28-12-31", "expected YYYY-MM-DD"},
        {"2028-12-31T00:00:00Z", "expected YYYY-MM-DD"},
        {"2028/12/31", "expected YYYY-MM-DD"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_msg(cc_gs1_exp_from_iso(bad[i].in, exp, &eb), &eb, bad[i].in, bad[i].why);
        assert_string_equal(exp, "");
    }
    cc_gs1_exp_to_iso("281231", iso);
    assert_string_equal(iso, "2028-12-31");
    cc_gs1_exp_to_iso("280200", iso);
    assert_string_equal(iso, "2028-02-29");
    cc_gs1_exp_to_iso("290200", iso);
    assert_string_equal(iso, "2029-02-28");
    cc_gs1_exp_to_iso("281301", iso);
    assert_string_equal(iso, "");
}

/* Every order of (01), (17), (10), (21), bracketed and scanned. */
static void test_element_strings_every_order(void **state)
{
    (void)state;
    static const struct {
        const char *ai, *value;
        bool variable;
    } f[] = {{"01", GTIN, false}, {"17", "281231", false}, {"10", "LOT42", true}, {"21", "SN1001", true}};
    static const int perms[24][4] = {
        {0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1},
        {1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0}, {1, 3, 0, 2}, {1, 3, 2, 0},
        {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0},
        {3, 0, 1, 2}, {3, 0, 2, 1}, {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0},
    };
    static const char *const symids[] = {"", "]d2", "]C1", "]Q3"};
    for (size_t i = 0; i < 24; i++) {
        for (size_t s = 0; s < 4; s++) {
            char br[128], plain[128];
            size_t b = (size_t)snprintf(br, sizeof br, "%s", symids[s]);
            size_t p = (size_t)snprintf(plain, sizeof plain, "%s", symids[s]);
            for (int j = 0; j < 4; j++) {
                int k = perms[i][j];
                b += (size_t)snprintf(br + b, sizeof br - b, "(%s)%s", f[k].ai, f[k].value);
                p += (size_t)snprintf(plain + p, sizeof plain - p, "%s%s%s", f[k].ai, f[k].value,
                                      f[k].variable && j < 3 ? GSS : "");
            }
            expect_unit(br, GTIN, "SN1001", "LOT42", "281231");
            expect_unit(plain, GTIN, "SN1001", "LOT42", "281231");
        }
    }
}

static void test_element_strings(void **state)
{
    (void)state;
    /* the docs/SUPPLY.md examples */
    expect_unit("(01)00312345678906(17)281231(10)LOT42(21)SN1001", GTIN, "SN1001", "LOT42", "281231");
    expect_unit("010031234567890617281231"
                "10LOT42" GSS "21SN1001",
                GTIN, "SN1001", "LOT42", "281231");
    /* the minimum, a GS after a fixed field, a leading FNC1, a trailing GS */
    expect_unit("(01)00312345678906(21)1", GTIN, "1", "", "");
    expect_unit("0100312345678906" GSS "21SN1", GTIN, "SN1", "", "");
    expect_unit(GSS "0100312345678906"
                    "21SN1",
                GTIN, "SN1", "", "");
    expect_unit("]d20100312345678906"
                "21SN1" GSS,
                GTIN, "SN1", "", "");
    /* set 82 in full, '(' inside a scanned serial */
    expect_unit("0100312345678906"
                "21!\"%&'()*+,-./:;<=>?_",
                GTIN, "!\"%&'()*+,-./:;<=>?_", "", "");
    expect_unit("(01)10614141073464(21)12345678901234567890", GTIN2, "12345678901234567890", "", "");
    /* AIs read and dropped */
    expect_unit("(01)00312345678906(11)260115(17)281200(10)L1(21)S1(7003)2812311200(710)PZN123", GTIN, "S1",
                "L1", "281200");
    expect_unit("0100312345678906"
                "11260115"
                "1528120"
                "0"
                "21S1" GSS "71012345",
                GTIN, "S1", "", "");
    expect_unit("(01)00312345678906(20)01(240)ABC(21)S1(30)12", GTIN, "S1", "", "");
    /* an SSCC, with what a pallet label adds */
    expect_id("(00)106141411234567897", true, CC_GS1_SSCC, "", "", "", "", SSCC);
    expect_id("00106141411234567897"
              "0200312345678906"
              "3712" GSS "10LOT9",
              true, CC_GS1_SSCC, "", "", "LOT9", "", SSCC);
    expect_id("]C1(00)106141411234567897(17)290228", true, CC_GS1_SSCC, "", "", "", "290228", SSCC);
    /* a product class */
    expect_id("(01)00312345678906", false, CC_GS1_SGTIN, GTIN, "", "", "", "");
    expect_id("(01)00312345678906(10)LOT42(17)281231", false, CC_GS1_SGTIN, GTIN, "", "LOT42", "281231", "");
}

static void test_element_strings_rejected(void **state)
{
    (void)state;
    expect_bad("(01)00312345678907(21)X", "AI (01) GTIN 00312345678907: check digit is 7, should be 6");
    expect_bad("(01)0031234567890(21)X", "AI (01) GTIN needs 14 digits, got 13");
    expect_bad("(01)003123456789060(21)X", "AI (01) GTIN needs 14 digits, got 15");
    expect_bad("(01)00312345678906 (21)X", "character 15 (space) is not a digit");
    expect_bad("(01)00312345678906(17)281341(21)X", "AI (17) expiry 281341: month 13");
    expect_bad("(01)00312345678906(17)280021(21)X", "AI (17) expiry 280021: month 00");
    expect_bad("(01)00312345678906(17)290229(21)X", "day 29, but 2029-02 has 28 days");
    expect_bad("(01)00312345678906(17)28123(21)X", "AI (17) expiry \"28123\": expected 6 digits YYMMDD");
    expect_bad("(99)12(01)00312345678906(21)X", "unknown AI (99)");
    expect_bad("(01)00312345678906(21)X(716)A", "unknown AI (716)");
    expect_bad("(01)00312345678906(21)123456789012345678901", "AI (21) serial");
    expect_bad("(01)00312345678906(21)123456789012345678901", "longer than 20 characters");
    expect_bad("(01)00312345678906(10)LOT456789012345678901(21)X",
               "AI (10) lot \"LOT456789012345678901\" is longer");
    expect_bad("(01)00312345678906(21)", "AI (21) serial is empty");
    expect_bad("(01)00312345678906(10)(21)X", "AI (10) lot is empty");
    expect_bad("(01)00312345678906(21)A B", "character 2 (space) is not in the GS1 character set 82");
    expect_bad("(01)00312345678906(21)A#B", "character 2 ('#') is not in the GS1 character set 82");
    expect_bad("(01)00312345678906(21)A" GSS, "(0x1D) is not in the GS1 character set 82");
    expect_bad("(01)00312345678906(21)A(21)B", "AI (21) serial appears twice");
    expect_bad("(01)00312345678906(01)00312345678906(21)B", "AI (01) GTIN appears twice");
    expect_bad("(01)00312345678906", "has no serial (21)");
    expect_bad("(01)00312345678906(10)L1(17)281231", "a unit needs GTIN and serial");
    expect_bad("(00)106141411234567897(01)00312345678906", "both an SSCC (00) and a GTIN (01)");
    expect_bad("(00)106141411234567897(21)X", "a serial (21) goes with a GTIN (01)");
    expect_bad("(00)106141411234567890", "AI (00) SSCC 106141411234567890: check digit is 0, should be 7");
    expect_bad("(17)281231(21)X", "no GTIN (01) or SSCC (00)");
    expect_bad("(01", "not 2 to 4 digits in brackets");
    expect_bad("(1)00312345678906", "not 2 to 4 digits in brackets");
    expect_bad("(01234)5", "not 2 to 4 digits in brackets");
    expect_bad("(11)281301(01)00312345678906(21)X", "AI (11) production date 281301: month 13");
    expect_bad("(01)00312345678906(7003)28123112(21)X",
               "AI (7003) expiry date and time needs 10 digits, got 8");
    expect_bad("(01)00312345678906(20)1(21)X", "AI (20) variant needs 2 digits, got 1");
    expect_bad("(01)00312345678906(30)123456789(21)X", "AI (30) count is longer than 8 digits");
    expect_bad("]e0(01)00312345678906(21)X", "symbology identifier \"]e0\" is not GS1");
    expect_bad("]d2", "empty after the symbology identifier");
    expect_bad("0100312345678906"
               "992112",
               "unknown AI (99) at character 17");
    expect_bad("0100312345678906"
               "7004123",
               "unknown AI (7004) at character 17");
    expect_bad("01003123456789", "AI (01) GTIN needs 14 digits, got 12");
    expect_bad("0100312345678906" GSS GSS "21X", "expected an AI at character 18");
    expect_bad("0100312345678906 21X", "expected an AI at character 17");
    expect_bad("0100312345678906"
               "21ABCDEFGHIJKLMNOPQRSTU",
               "longer than 20 characters");
    expect_bad("0100312345678906"
               "1728134121X",
               "AI (17) expiry 281341: month 13");
    expect_bad("0100312345678906"
               "1728" GSS "21X",
               "AI (17) expiry \"28\": expected 6 digits");
    expect_bad("0100312345678907"
               "21X",
               "check digit is 7, should be 6");
    expect_bad("(01)00312345678906x(21)X", "character 15 ('x') is not a digit");
}

static void test_digital_links(void **state)
{
    (void)state;
    expect_unit("https://id.gs1.org/01/00312345678906/10/LOT42/21/SN1001?17=281231", GTIN, "SN1001", "LOT42",
                "281231");
    expect_unit("http://example.com/01/00312345678906/21/SN1001", GTIN, "SN1001", "", "");
    expect_unit("https://brand.example.com/products/shop/01/00312345678906/21/SN1001", GTIN, "SN1001", "",
                "");
    expect_unit("https://example.com/01/01/00312345678906/21/SN1001", GTIN, "SN1001", "",
                ""); /* prefix "01" */
    expect_unit("https://id.gs1.org/01/00312345678906/10/L%2F1/21/A%25B%26C", GTIN, "A%B&C", "L/1", "");
    expect_unit("https://id.gs1.org/01/00312345678906/21/%28x%29%3f", GTIN, "(x)?", "", "");
    expect_unit("https://id.gs1.org/01/00312345678906/21/SN1?10=LOT42&17=281200&linkType=gs1:pip", GTIN,
                "SN1", "LOT42", "281200");
    expect_unit("https://id.gs1.org/01/00312345678906/21/SN1?linkType=all&17=281231#top", GTIN, "SN1", "",
                "281231");
    expect_unit("https://id.gs1.org/01/4006381333931/21/X", "04006381333931", "X", "", "");
    expect_unit("https://id.gs1.org/01/036000291452/21/X", "00036000291452", "X", "", "");
    expect_unit("https://id.gs1.org/01/96385074/21/X", "00000096385074", "X", "", "");
    expect_unit("HTTPS://ID.GS1.ORG/01/00312345678906/21/SN1001", GTIN, "SN1001", "", "");
    expect_unit("https://localhost:8080/01/00312345678906/21/SN1001/", GTIN, "SN1001", "", "");
    expect_unit("https://id.gs1.org/01/10614141073464/21/2017?11=260101", GTIN2, "2017", "", "");
    expect_unit("]Q1https://id.gs1.org/01/00312345678906/21/SN1001", GTIN, "SN1001", "", "");
    expect_id("https://id.gs1.org/00/106141411234567897", true, CC_GS1_SSCC, "", "", "", "", SSCC);
    expect_id("https://id.gs1.org/01/00312345678906", false, CC_GS1_SGTIN, GTIN, "", "", "", "");
    expect_id("https://id.gs1.org/01/00312345678906/10/LOT42?17=281231", false, CC_GS1_SGTIN, GTIN, "",
              "LOT42", "281231", "");
}

static void test_digital_links_rejected(void **state)
{
    (void)state;
    char big[256];
    expect_bad("https:///01/00312345678906/21/X", "has no host");
    expect_bad("https://user@id.gs1.org/01/00312345678906/21/X", "character '@' is not allowed");
    expect_bad("https://id.gs1.org/", "no /01/{GTIN} or /00/{SSCC} in the path");
    expect_bad("https://id.gs1.org", "no /01/{GTIN} or /00/{SSCC} in the path");
    expect_bad("https://id.gs1.org/01/00312345678906/21", "no /01/{GTIN}");
    expect_bad("https://id.gs1.org/01/00312345678907/21/X",
               "GTIN 00312345678907: check digit is 7, should be 6");
    expect_bad("https://id.gs1.org/01/00312345678/21/X", "has 11 digits");
    expect_bad("https://id.gs1.org/01/00312345678906", "has no serial (21)");
    expect_bad("https://id.gs1.org/01/00312345678906/21/X/10/L",
               "the lot (/10/) must come before the serial");
    expect_bad("https://id.gs1.org/01/00312345678906/22/ABC/21/X",
               "/22/ after the GTIN is not a key qualifier");
    expect_bad("https://id.gs1.org/01/00312345678906/21/A%2", "not followed by two hex digits");
    expect_bad("https://id.gs1.org/01/00312345678906/21/A%ZZ", "not followed by two hex digits");
    expect_bad("https://id.gs1.org/01/00312345678906/21/A%00", "%00 is not allowed");
    expect_bad("https://id.gs1.org/01/00312345678906/21/A%20B", "(space) is not in the GS1 character set 82");
    expect_bad("https://id.gs1.org/01/00312345678906/21/X?17=281341", "AI (17) expiry 281341: month 13");
    expect_bad("https://id.gs1.org/01/00312345678906/21/X?17=2812", "expected 6 digits YYMMDD");
    expect_bad("https://id.gs1.org/01/00312345678906/21/X?17=281231&17=281231",
               "AI (17) expiry appears twice");
    expect_bad("https://id.gs1.org/01/00312345678906?21=X", "AI (21) belongs in the path");
    expect_bad("https://id.gs1.org/01/00312345678906/21/X?99=1", "unknown AI (99) in the Digital Link query");
    expect_bad("https://id.gs1.org/01/00312345678906/10/L1/21/X?10=L2", "the lot is given twice");
    expect_bad("https://id.gs1.org/00/106141411234567897/21/X", "an SSCC (/00/) takes nothing more");
    expect_bad("https://id.gs1.org/00/106141411234567890",
               "SSCC 106141411234567890: check digit is 0, should be 7");
    expect_bad("https://id.gs1.org/01/00312345678906/21/123456789012345678901", "longer than 20 characters");
    snprintf(big, sizeof big, "https://id.gs1.org/01/00312345678906/21/%s",
             "%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41");
    expect_bad(big, "longer than 20 characters");
}

static void test_epc_uris(void **state)
{
    (void)state;
    cc_gs1_id id;
    cc_errbuf eb = {""};
    assert_int_equal(cc_gs1_parse("urn:epc:id:sgtin:0614141.107346.2017", &id, &eb), CC_OK);
    assert_int_equal(id.kind, CC_GS1_SGTIN);
    assert_string_equal(id.gtin, GTIN2);
    assert_string_equal(id.serial, "2017");
    assert_int_equal(id.prefix_len, 7);
    expect_unit("urn:epc:id:sgtin:0312345.067890.SN1001", GTIN, "SN1001", "", "");
    expect_unit("urn:epc:id:sgtin:0614141.107346.A%2fB%22", GTIN2, "A/B\"", "", "");
    expect_unit("urn:epc:id:sgtin:0614141.107346.!'()*+,-.:;=_", GTIN2, "!'()*+,-.:;=_", "", "");
    assert_int_equal(cc_gs1_parse("urn:epc:id:sscc:0614141.1234567890", &id, &eb), CC_OK);
    assert_int_equal(id.kind, CC_GS1_SSCC);
    assert_string_equal(id.sscc, "106141412345678908");
    assert_int_equal(id.prefix_len, 7);
    expect_id("urn:epc:id:sscc:0312345.1000000001", true, CC_GS1_SSCC, "", "", "", "", "103123450000000018");

    char uri[CC_GS1_EPC_MAX];
    assert_int_equal(cc_gs1_sgtin_uri(GTIN2, "2017", 7, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sgtin:0614141.107346.2017");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN, "SN1001", 7, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sgtin:0312345.067890.SN1001");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN, "A/B%", 6, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sgtin:031234.0567890.A%2FB%25");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN, "x", 12, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sgtin:031234567890.0.x");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN, "\"%&/<>?\"%&/<>?\"%&/<>", 9, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri,
                        "urn:epc:id:sgtin:031234567.0890.%22%25%26%2F%3C%3E%3F%22%25%26%2F%3C%3E%3F%22%25%26%"
                        "2F%3C%3E"); /* the longest kind of serial fits CC_GS1_EPC_MAX */
    assert_int_equal(cc_gs1_sscc_uri("106141412345678908", 7, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sscc:0614141.1234567890");
    assert_int_equal(cc_gs1_sscc_uri(SSCC, 10, uri, sizeof uri, &eb), CC_OK);
    assert_string_equal(uri, "urn:epc:id:sscc:0614141123.1456789");

    /* round trips over every prefix length and serials needing escapes */
    static const char *const serials[] = {"SN1001", "A/B", "100%", "a&b<c>d?\"e", "!'()*+,-.:;=_", "0"};
    static const char *const gtins[] = {GTIN, GTIN2, "04006381333931", "00000096385074"};
    for (unsigned len = CC_GS1_PREFIX_MIN; len <= CC_GS1_PREFIX_MAX; len++) {
        for (size_t g = 0; g < 4; g++) {
            for (size_t s = 0; s < sizeof serials / sizeof serials[0]; s++) {
                assert_int_equal(cc_gs1_sgtin_uri(gtins[g], serials[s], len, uri, sizeof uri, &eb), CC_OK);
                assert_int_equal(cc_gs1_parse(uri, &id, &eb), CC_OK);
                assert_string_equal(id.gtin, gtins[g]);
                assert_string_equal(id.serial, serials[s]);
                assert_int_equal(id.prefix_len, len);
            }
        }
        assert_int_equal(cc_gs1_sscc_uri(SSCC, len, uri, sizeof uri, &eb), CC_OK);
        assert_int_equal(cc_gs1_parse(uri, &id, &eb), CC_OK);
        assert_string_equal(id.sscc, SSCC);
        assert_int_equal(id.prefix_len, len);
    }
}

static void test_epc_uris_rejected(void **state)
{
    (void)state;
    char uri[CC_GS1_EPC_MAX];
    cc_errbuf eb = {""};
    expect_bad("urn:epc:id:sgtin:06141.1073460.2017", "company prefix has 5 digits, not 6..12");
    expect_bad("urn:epc:id:sgtin:0614141073464.1.2017", "company prefix has 13 digits, not 6..12");
    expect_bad("urn:epc:id:sgtin:0614141.10734.2017", "have 12 digits together, not 13");
    expect_bad("urn:epc:id:sgtin:0614141.1073460.2017", "have 14 digits together, not 13");
    expect_bad("urn:epc:id:sgtin:0614141.107346", "expected '.' and the serial");
    expect_bad("urn:epc:id:sgtin:0614141107346.2017", "company prefix has 13 digits");
    expect_bad("urn:epc:id:sgtin:.107346.2017", "company prefix has 0 digits");
    expect_bad("urn:epc:id:sgtin:0614141.107346.", "serial is empty");
    expect_bad("urn:epc:id:sgtin:0614141.107346.A/B", "'/' must be written %2F");
    expect_bad("urn:epc:id:sgtin:0614141.107346.A?B", "'?' must be written %3F");
    expect_bad("urn:epc:id:sgtin:0614141.107346.A%2", "not followed by two hex digits");
    expect_bad("urn:epc:id:sgtin:0614141.107346.A B", "(space) is not in the GS1 character set 82");
    expect_bad("urn:epc:id:sgtin:0614141.107346.A%20B", "(space) is not in the GS1 character set 82");
    expect_bad("urn:epc:id:sgtin:0614141.107346.123456789012345678901", "longer than 20 characters");
    expect_bad("urn:epc:id:sscc:0614141.123456789", "have 16 digits together, not 17");
    expect_bad("urn:epc:id:sscc:0614141.1234567890.1", "unexpected \".1\" after the serial reference");
    expect_bad("urn:epc:id:sgln:0614141.12345.0", "names a location or party (GLN), not a unit or case");
    expect_bad("urn:epc:id:grai:0614141.12345.400", "only urn:epc:id:sgtin: and urn:epc:id:sscc:");
    expect_bad("urn:epc:class:lgtin:0614141.107346.LOT1", "not an EPC pure identity URI");
    expect_bad("URN:EPC:ID:SGTIN:0614141.107346.2017", "not an EPC pure identity URI");

    expect_msg(cc_gs1_sgtin_uri("00312345678907", "X", 7, uri, sizeof uri, &eb), &eb, "sgtin gtin",
               "check digit is 7, should be 6");
    expect_msg(cc_gs1_sgtin_uri("4006381333931", "X", 7, uri, sizeof uri, &eb), &eb, "sgtin gtin13",
               "is not 14 digits");
    expect_msg(cc_gs1_sgtin_uri(GTIN, "", 7, uri, sizeof uri, &eb), &eb, "sgtin empty", "serial is empty");
    expect_msg(cc_gs1_sgtin_uri(GTIN, "A B", 7, uri, sizeof uri, &eb), &eb, "sgtin space", "set 82");
    expect_msg(cc_gs1_sgtin_uri(GTIN, "X", 5, uri, sizeof uri, &eb), &eb, "sgtin 5",
               "length 5 is outside 6..12");
    expect_msg(cc_gs1_sgtin_uri(GTIN, "X", 13, uri, sizeof uri, &eb), &eb, "sgtin 13",
               "length 13 is outside");
    expect_msg(cc_gs1_sscc_uri("106141411234567890", 7, uri, sizeof uri, &eb), &eb, "sscc check",
               "check digit is 0, should be 7");
    expect_msg(cc_gs1_sscc_uri("10614141123456789", 7, uri, sizeof uri, &eb), &eb, "sscc 17",
               "is not 18 digits");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN2, "2017", 7, uri, 36, &eb), CC_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "needs 37 bytes, the buffer has 36"));
    assert_string_equal(uri, "");
    assert_int_equal(cc_gs1_sgtin_uri(GTIN2, "2017", 7, uri, 37, &eb), CC_OK);
}

static void test_gln_prefix(void **state)
{
    (void)state;
    char prefix[CC_GS1_PREFIX_MAX + 1];
    cc_errbuf eb = {""};
    static const struct {
        const char *uri, *prefix;
    } ok[] = {
        {"urn:epc:id:sgln:0614141.12345.0", "0614141"},
        {"urn:epc:id:sgln:0614141.12345.400", "0614141"},
        {"urn:epc:id:sgln:0614141.12345.A%2FB", "0614141"},
        {"urn:epc:id:sgln:061414112345..0", "061414112345"},
        {"urn:epc:id:pgln:0614141.12345", "0614141"},
        {"urn:epc:id:pgln:061414.123456", "061414"},
        {"urn:epc:id:pgln:031234567890.", "031234567890"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (cc_gs1_gln_prefix(ok[i].uri, prefix, &eb) != CC_OK) fail_msg("%s: %s", ok[i].uri, eb.msg);
        assert_string_equal(prefix, ok[i].prefix);
    }
    static const struct {
        const char *uri, *why;
    } bad[] = {
        {"urn:epc:id:sgln:0614141.1234.0", "have 11 digits together, not 12"},
        {"urn:epc:id:sgln:06141.1234567.0", "company prefix has 5 digits"},
        {"urn:epc:id:sgln:0614141.12345", "expected '.' and the extension"},
        {"urn:epc:id:sgln:0614141.12345.", "extension is empty"},
        {"urn:epc:id:sgln:0614141.12345.a b", "not in the GS1 character set 82"},
        {"urn:epc:id:pgln:0614141.12345.0", "unexpected \".0\" after the party reference"},
        {"urn:epc:id:sgtin:0614141.107346.2017", "is not a GLN URI"},
        {"", "is not a GLN URI"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_msg(cc_gs1_gln_prefix(bad[i].uri, prefix, &eb), &eb, bad[i].uri, bad[i].why);
        assert_string_equal(prefix, "");
    }
}

static void expect_link(const char *text, bool strict, const char *want)
{
    cc_gs1_id id, back;
    cc_errbuf eb = {""};
    char link[256];
    assert_int_equal(cc_gs1_parse_class(text, &id, &eb), CC_OK);
    if (cc_gs1_digital_link(&id, link, sizeof link, &eb) != CC_OK) fail_msg("%s: %s", text, eb.msg);
    assert_string_equal(link, want);
    cc_err rc = strict ? cc_gs1_parse(link, &back, &eb) : cc_gs1_parse_class(link, &back, &eb);
    if (rc != CC_OK) fail_msg("%s: %s", link, eb.msg);
    assert_int_equal(back.kind, id.kind);
    assert_string_equal(back.gtin, id.gtin);
    assert_string_equal(back.serial, id.serial);
    assert_string_equal(back.lot, id.lot);
    assert_string_equal(back.exp, id.exp);
    assert_string_equal(back.sscc, id.sscc);
}

static void test_digital_link_writer(void **state)
{
    (void)state;
    expect_link("(01)00312345678906(17)281231(10)LOT42(21)SN1001", true,
                "https://id.gs1.org/01/00312345678906/10/LOT42/21/SN1001?17=281231");
    expect_link("urn:epc:id:sgtin:0614141.107346.2017", true, "https://id.gs1.org/01/10614141073464/21/2017");
    expect_link("0100312345678906"
                "21A/B%C&D?(1)",
                true, "https://id.gs1.org/01/00312345678906/21/A%2FB%25C%26D%3F%281%29");
    expect_link("(01)00312345678906", false, "https://id.gs1.org/01/00312345678906");
    expect_link("(00)106141411234567897", true, "https://id.gs1.org/00/106141411234567897");
    expect_link("(00)106141411234567897(10)L-1(17)281200", true,
                "https://id.gs1.org/00/106141411234567897?10=L-1&17=281200");

    cc_gs1_id id;
    cc_errbuf eb = {""};
    char link[256];
    assert_int_equal(cc_gs1_parse("(01)00312345678906(21)SN1", &id, &eb), CC_OK);
    cc_gs1_id bad = id;
    strcpy(bad.exp, "281341");
    expect_msg(cc_gs1_digital_link(&bad, link, sizeof link, &eb), &eb, "link exp", "month 13");
    bad = id;
    strcpy(bad.serial, "A B");
    expect_msg(cc_gs1_digital_link(&bad, link, sizeof link, &eb), &eb, "link serial", "set 82");
    bad = id;
    bad.gtin[13] = '7';
    expect_msg(cc_gs1_digital_link(&bad, link, sizeof link, &eb), &eb, "link gtin", "check digit is 7");
    bad = id;
    bad.kind = 0;
    expect_msg(cc_gs1_digital_link(&bad, link, sizeof link, &eb), &eb, "link kind", "neither SGTIN nor SSCC");
    assert_int_equal(cc_gs1_digital_link(&id, link, 20, &eb), CC_ERR_TOO_LARGE);
    assert_string_equal(link, "");
}

static void test_other_rejections(void **state)
{
    (void)state;
    expect_bad("", "the identifier is empty");
    expect_bad(NULL, "the identifier is empty");
    expect_bad("hello", "is not a GS1 identifier");
    expect_bad("ftp://id.gs1.org/01/00312345678906/21/X", "is not a GS1 identifier");
    expect_bad("<GS>", "is not a GS1 identifier");
}

static void test_rejection_count(void **state)
{
    (void)state;
    assert_true(rejected >= 40);
    print_message("%d malformed inputs refused with their reason checked\n", rejected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_digits),     cmocka_unit_test(test_character_set),
        cmocka_unit_test(test_expiry),           cmocka_unit_test(test_element_strings_every_order),
        cmocka_unit_test(test_element_strings),  cmocka_unit_test(test_element_strings_rejected),
        cmocka_unit_test(test_digital_links),    cmocka_unit_test(test_digital_links_rejected),
        cmocka_unit_test(test_epc_uris),         cmocka_unit_test(test_epc_uris_rejected),
        cmocka_unit_test(test_gln_prefix),       cmocka_unit_test(test_digital_link_writer),
        cmocka_unit_test(test_other_rejections), cmocka_unit_test(test_rejection_count),
    };
    return cmocka_run_group_tests_name("gs1", tests, NULL, NULL);
}
