/*
 * test_drugs_cli.c — the drug supply chain end to end on one real node,
 * through `carechain drug ...` as trading partners use it (docs/SUPPLY.md):
 * commission -> aggregate -> ship -> receive -> disaggregate -> dispense
 * with the verification answer checked after every step; a clone (a
 * dispensed serial presented again elsewhere) and a recall flagged and
 * listed as alerts; the custody rules (receive by the wrong party, ship by a
 * non-owner, commission under another's prefix); lot and expiry mismatches;
 * a shortfall at receipt flagged missing; custody history shown to an owner
 * but not to an unrelated organisation; identifiers in every form, and bad
 * ones refused with a one-line reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/ct_drugs.h"
#include "support/support.h"

#define CLI_MS   60000
#define ALERT_MS 10000
/* SSCCs under pharma's prefix 0312345 (check digits computed by hand) */
#define CASE1 "103123450000000018"
#define CASE2 "103123450000000025"

static ct_drugnet dn;
static char *k_mfr, *k_whs, *k_pha, *k_drug, *k_reg, *k_clin;

static int setup(void **state)
{
    (void)state;
    if (ct_drugnet_start(&dn, "drugs-cli") != 0) return -1;
    k_mfr = ct_drugnet_key(&dn, "manufacturer");
    k_whs = ct_drugnet_key(&dn, "distributor");
    k_pha = ct_drugnet_key(&dn, "pharmacy");
    k_drug = ct_drugnet_key(&dn, "pharmacy2");
    k_reg = ct_drugnet_key(&dn, "regulator");
    k_clin = ct_drugnet_key(&dn, "clinician");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ct_drugnet_stop(&dn);
    free(k_mfr);
    free(k_whs);
    free(k_pha);
    free(k_drug);
    free(k_reg);
    free(k_clin);
    return 0;
}

/* Run `carechain drug ARGS... --node URL`; the exit code, output in *out. */
#define DRUG(out, ...) ct_cli(out, CLI_MS, "drug", __VA_ARGS__, "--node", dn.node.url, NULL)

static void expect_code(int want, int got, const char *what, char *out)
{
    if (want != got) fail_msg("%s: exit %d, expected %d:\n%s", what, got, want, out ? out : "");
}

/* The last "txid <hex>" line of a command's output. */
static void txid_of(const char *out, char id[CC_HASH_HEX])
{
    const char *t = strstr(out, "txid "), *next;
    while (t && (next = strstr(t + 1, "txid "))) t = next;
    if (!t || sscanf(t, "txid %64s", id) != 1) fail_msg("no txid in:\n%s", out);
}

/* The verification answer for unit "<gtin>.<serial>" (unsigned, --json). */
static json_t *verify_json(const char *serial, int *code)
{
    char *out = NULL, id[64];
    snprintf(id, sizeof id, CT_GTIN ".%s", serial);
    *code = DRUG(&out, "verify", id, "--json");
    json_error_t je;
    const char *brace = out ? strchr(out, '{') : NULL;
    json_t *j = brace ? json_loads(brace, 0, &je) : NULL;
    if (!j) fail_msg("verify %s --json printed no JSON:\n%s", id, out ? out : "");
    free(out);
    return j;
}

static bool list_has(const json_t *a, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_string_value(v) && strcmp(json_string_value(v), s) == 0) return true;
    }
    return false;
}

/* verify: verified, saleable, status (a prefix of it; NULL: not checked)
 * and whether info holds info_item (NULL: info must be empty). */
static void expect_verify(const char *serial, bool saleable, const char *status, const char *info_item)
{
    int code;
    json_t *j = verify_json(serial, &code);
    char *text = json_dumps(j, JSON_COMPACT);
    if (!json_is_true(json_object_get(j, "verified"))) fail_msg("%s not verified: %s", serial, text);
    if (json_is_true(json_object_get(j, "saleable")) != saleable)
        fail_msg("%s: saleable should be %d: %s", serial, saleable, text);
    if (status && strncmp(ct_json_str(j, "status"), status, strlen(status)) != 0)
        fail_msg("%s: status should be %s: %s", serial, status, text);
    const json_t *info = json_object_get(j, "info");
    if (info_item ? !list_has(info, info_item) : json_array_size(info) != 0)
        fail_msg("%s: info should %s%s: %s", serial, info_item ? "hold " : "be empty",
                 info_item ? info_item : "", text);
    expect_code(saleable ? 0 : 1, code, "verify exit status", text);
    free(text);
    json_decref(j);
}

static void commission(const char *lot, const char *prefix, const char *count)
{
    char *out = NULL;
    int code = DRUG(&out, "commission", "--key", k_mfr, "--gtin", CT_GTIN, "--lot", lot, "--exp", dn.exp,
                    "--count", count, "--serial-prefix", prefix);
    expect_code(0, code, "commission", out);
    free(out);
}

/* Does the regulator's alert list hold an alert of kind about subject?
 * Polled: a signed verification records its alert in a later block. */
static bool alert_listed(const char *kind, const char *subject)
{
    uint64_t deadline = ct_now_ms() + ALERT_MS;
    for (;;) {
        char *out = NULL;
        int code = DRUG(&out, "alerts", "--key", k_reg, "--json");
        json_t *j = code == 0 && out ? json_loads(strchr(out, '{') ? strchr(out, '{') : out, 0, NULL) : NULL;
        if (!j && code == 0 && out && strchr(out, '[')) j = json_loads(strchr(out, '['), 0, NULL);
        const json_t *list = json_is_array(j) ? j : json_object_get(j, "alerts");
        size_t i;
        const json_t *a;
        bool found = false;
        json_array_foreach(list, i, a)
        {
            if (strcmp(ct_json_str(a, "kind"), kind) != 0) continue;
            char *text = json_dumps(a, JSON_COMPACT);
            found = found || (text && strstr(text, subject));
            free(text);
        }
        json_decref(j);
        if (found) {
            free(out);
            return true;
        }
        if (ct_now_ms() > deadline) {
            fprintf(stderr, "no %s alert about %s in:\n%s\n", kind, subject, out ? out : "");
            free(out);
            return false;
        }
        free(out);
        cc_sleep_ms(200);
    }
}

/* The lifecycle, with the verification answer after every step, and
 * identifiers in each form the command accepts. */
static void test_lifecycle(void **state)
{
    (void)state;
    char *out = NULL, ship[CC_HASH_HEX];
    commission("L1", "A", "20"); /* A1..A20 */
    expect_verify("A1", true, "active", NULL);
    /* a Digital Link, an EPC URI, an element string, the ledger's form */
    int code = DRUG(&out, "aggregate", "--key", k_mfr, "--sscc", CASE1,
                    "https://id.gs1.org/01/" CT_GTIN "/21/A1", "urn:epc:id:sgtin:0312345.067890.A2",
                    "(01)" CT_GTIN "(21)A3", "--items", CT_GTIN ".A4," CT_GTIN ".A5");
    expect_code(0, code, "aggregate", out);
    free(out);
    expect_verify("A1", true, NULL, NULL);
    /* shipping needs the DSCSA statement */
    code = DRUG(&out, "ship", "(00)" CASE1, "--to", "distributor", "--key", k_mfr);
    expect_code(2, code, "ship without --statement", out);
    assert_non_null(strstr(out, "statement"));
    free(out);
    /* a transaction date must be a day that exists, as the node requires */
    static const char *const bad_dates[] = {"2026-02-31", "2026-+1-01", "1999-12-31", "2026-1-01"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
        code = DRUG(&out, "ship", "(00)" CASE1, "--to", "distributor", "--statement", "--date", bad_dates[i],
                    "--key", k_mfr);
        expect_code(2, code, bad_dates[i], out);
        assert_non_null(strstr(out, "--date"));
        free(out);
    }
    code = DRUG(&out, "ship", "urn:epc:id:sscc:0312345.1000000001", "--to", "distributor", "--statement",
                "--tx-id", "INV-T-1", "--key", k_mfr);
    expect_code(0, code, "ship the case", out);
    txid_of(out, ship);
    free(out);
    expect_verify("A2", true, "transit", NULL);
    /* the pharmacy is not the receiver */
    code = DRUG(&out, "receive", CASE1, "--shipment", ship, "--key", k_pha);
    expect_code(1, code, "receive by the wrong party", out);
    free(out);
    code = DRUG(&out, "receive", CASE1, "--shipment", ship, "--key", k_whs);
    expect_code(0, code, "receive", out);
    free(out);
    expect_verify("A2", true, "active", NULL);
    code = DRUG(&out, "disaggregate", CASE1, "--key", k_whs);
    expect_code(0, code, "disaggregate", out);
    free(out);
    expect_verify("A3", true, "active", NULL);
    code = DRUG(&out, "ship", CT_GTIN ".A1", CT_GTIN ".A2", CT_GTIN ".A3", "--to", "pharmacy", "--statement",
                "--key", k_whs);
    expect_code(0, code, "ship units to the pharmacy", out);
    if (!strstr(out, "Committed drug.ship ")) fail_msg("ship does not say what it committed:\n%s", out);
    txid_of(out, ship);
    free(out);
    expect_verify("A1", true, "transit", NULL);
    /* a receive without --shipment takes the shipment from the units */
    code = DRUG(&out, "receive", CT_GTIN ".A1", CT_GTIN ".A2", CT_GTIN ".A3", "--key", k_pha);
    expect_code(0, code, "pharmacy receives", out);
    free(out);
    expect_verify("A1", true, "active", NULL);
    code = DRUG(&out, "verify", "(01)" CT_GTIN "(21)A1");
    expect_code(0, code, "verify in plain words", out);
    assert_non_null(strstr(out, "GENUINE"));
    free(out);
    code = DRUG(&out, "dispense", "urn:epc:id:sgtin:0312345.067890.A1", "--key", k_pha);
    expect_code(0, code, "dispense", out);
    free(out);
    expect_verify("A1", false, "dispensed", "Dispensed");
    code = DRUG(&out, "verify", "--gtin", CT_GTIN, "--serial", "A1");
    expect_code(1, code, "verify a dispensed unit", out);
    assert_non_null(strstr(out, "NOT SALEABLE"));
    free(out);
    /* custody history: to an owner, not to an unrelated organisation */
    code = DRUG(&out, "history", CT_GTIN ".A2", "--key", k_pha);
    expect_code(0, code, "history by the owner", out);
    assert_non_null(strstr(out, "Custody history"));
    if (strstr(out, "_ms")) fail_msg("a formatted time is labelled as milliseconds:\n%s", out);
    free(out);
    /* a past owner asks after it: an inquiry, not a presentation, so no not_owner alert */
    code = DRUG(&out, "history", CT_GTIN ".A2", "--key", k_whs, "--json");
    expect_code(0, code, "history by a past owner", out);
    if (!strstr(out, "\"history\"") || strstr(out, "\"alert\"") || strstr(out, "not_owner"))
        fail_msg("history by a past owner:\n%s", out);
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".A2", "--key", k_whs, "--json");
    if (!strstr(out, "not_owner") || !strstr(out, "\"alert\"")) fail_msg("verify by a past owner:\n%s", out);
    free(out);
    code = DRUG(&out, "history", CT_GTIN ".A2", "--key", k_clin);
    expect_code(1, code, "history by an unrelated organisation", out);
    assert_non_null(strstr(out, "No custody history"));
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".A2", "--key", k_clin, "--json");
    assert_null(strstr(out, "\"history\""));
    free(out);
}

/* A dispensed serial presented again by another pharmacy is a clone. */
static void test_clone(void **state)
{
    (void)state;
    char *out = NULL;
    commission("L2", "C", "3");
    int code = DRUG(&out, "ship", CT_GTIN ".C1", "--to", "pharmacy", "--statement", "--key", k_mfr);
    expect_code(0, code, "ship", out);
    free(out);
    code = DRUG(&out, "receive", CT_GTIN ".C1", "--key", k_pha);
    expect_code(0, code, "receive", out);
    free(out);
    code = DRUG(&out, "dispense", CT_GTIN ".C1", "--key", k_pha);
    expect_code(0, code, "dispense", out);
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".C1", "--key", k_drug);
    expect_code(1, code, "a copy verified at the drugstore", out);
    assert_non_null(strstr(out, "clone"));
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".C1", "--key", k_drug, "--json");
    assert_non_null(strstr(out, "\"clone\""));
    free(out);
    assert_true(alert_listed("clone", CT_GTIN ".C1"));
}

/* A recalled lot verifies as Recalled, not saleable. */
static void test_recall(void **state)
{
    (void)state;
    char *out = NULL;
    commission("L3", "R", "4");
    expect_verify("R2", true, "active", NULL);
    int code = DRUG(&out, "recall", "--gtin", CT_GTIN, "--lot", "L3", "--class", "II", "--reason", "test",
                    "--key", k_whs);
    expect_code(1, code, "recall by someone not the manufacturer", out);
    free(out);
    code = DRUG(&out, "recall", "--gtin", CT_GTIN, "--lot", "L3", "--class", "IV", "--reason", "x", "--key",
                k_mfr);
    expect_code(2, code, "recall class IV", out);
    free(out);
    code = DRUG(&out, "recall", "--gtin", CT_GTIN, "--lot", "L3", "--class", "II", "--reason",
                "out of specification", "--key", k_mfr);
    expect_code(0, code, "recall", out);
    free(out);
    expect_verify("R2", false, NULL, "Recalled");
    code = DRUG(&out, "verify", CT_GTIN ".R3");
    expect_code(1, code, "verify a recalled unit", out);
    assert_non_null(strstr(out, "verified but NOT SALEABLE: Recalled"));
    free(out);
    /* recalled units may not be shipped on */
    code = DRUG(&out, "ship", CT_GTIN ".R1", "--to", "distributor", "--statement", "--key", k_mfr);
    expect_code(1, code, "ship a recalled unit", out);
    free(out);
    /* presented signed by a pharmacy: a recalled signal, listed */
    code = DRUG(&out, "verify", CT_GTIN ".R4", "--key", k_mfr);
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".R4", "--key", k_drug);
    free(out);
    assert_true(alert_listed("recalled", "L3"));
    assert_true(alert_listed("not_owner", CT_GTIN ".R4")); /* the drugstore never owned it */
}

/* Who may do what. */
static void test_custody_rules(void **state)
{
    (void)state;
    char *out = NULL;
    commission("L4", "S", "3");
    /* ship by a non-owner */
    int code = DRUG(&out, "ship", CT_GTIN ".S1", "--to", "pharmacy", "--statement", "--key", k_whs);
    expect_code(1, code, "ship by a non-owner", out);
    free(out);
    /* commission and register under someone else's prefix */
    code = DRUG(&out, "commission", "--key", k_whs, "--gtin", CT_GTIN, "--lot", "X1", "--exp", dn.exp,
                "--serials", "Z1,Z2");
    expect_code(1, code, "commission under another's prefix", out);
    free(out);
    code = DRUG(&out, "product-register", "--key", k_whs, "--gtin", "00312345999995", "--ndc",
                "12345-0000-01", "--name", "Fake", "--strength", "1 mg", "--form", "tablet");
    expect_code(1, code, "product under another's prefix", out);
    free(out);
    /* prefixes are the regulator's to assign */
    code = DRUG(&out, "prefix", "0377777", "--org", "distributor", "--key", k_whs);
    expect_code(1, code, "prefix by a non-regulator", out);
    free(out);
    /* the serial never commissioned under another prefix either */
    json_t *j;
    j = verify_json("Z1", &code);
    assert_false(json_is_true(json_object_get(j, "verified")));
    json_decref(j);
}

/* Lot, expiry and serial mismatches, and identifiers refused. */
static void test_mismatch_and_bad_ids(void **state)
{
    (void)state;
    char *out = NULL;
    commission("L5", "M", "2");
    int code = DRUG(&out, "verify", CT_GTIN ".M1", "--lot", "WRONG");
    expect_code(1, code, "lot mismatch", out);
    assert_non_null(strstr(out, "NOT VERIFIED: No_match_GTIN_Serial_Lot"));
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".M1", "--exp", "300101");
    expect_code(1, code, "expiry mismatch", out);
    assert_non_null(strstr(out, "NOT VERIFIED: No_match_GTIN_Serial_Expiry"));
    free(out);
    char es[128];
    snprintf(es, sizeof es, "(01)" CT_GTIN "(17)%s(10)L5(21)M1", dn.exp);
    code = DRUG(&out, "verify", es);
    expect_code(0, code, "matching lot and expiry in an element string", out);
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".NOPE");
    expect_code(1, code, "unknown serial", out);
    assert_non_null(strstr(out, "NOT VERIFIED: No_match_GTIN_Serial"));
    free(out);
    code = DRUG(&out, "verify", CT_GTIN ".M1", "--json");
    assert_non_null(strstr(out, "\"verified\": true"));
    free(out);
    /* bad identifiers: a usage error with one line saying why */
    const char *bad[] = {"(01)00312345678907(21)M1", "urn:epc:id:sgtin:0312345.067890", "not-an-id",
                         "00312345678907.M1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        code = DRUG(&out, "verify", bad[i]);
        if (code != 2 && code != 1) fail_msg("verify %s: exit %d:\n%s", bad[i], code, out);
        size_t lines = 0;
        for (const char *p = out; *p; p++) lines += *p == '\n';
        if (lines != 1) fail_msg("verify %s: not one line:\n%s", bad[i], out);
        free(out);
    }
    code = DRUG(&out, "verify", "(01)00312345678907(21)M1");
    assert_non_null(strstr(out, "check digit"));
    free(out);
    code = DRUG(&out, "ship", "(00)103123450000000019", "--to", "pharmacy", "--statement", "--key", k_mfr);
    expect_code(2, code, "ship a case with a bad SSCC", out);
    free(out);
    code = DRUG(&out, "commission", "--key", k_mfr, "--gtin", "12345", "--lot", "L", "--exp", dn.exp,
                "--serials", "Q");
    expect_code(2, code, "commission with a bad GTIN", out);
    free(out);
    code = DRUG(&out, "commission", "--key", k_mfr, "--gtin", CT_GTIN, "--lot", "L", "--exp", "991399",
                "--serials", "Q");
    expect_code(2, code, "commission with a bad expiry", out);
    free(out);
}

/* Shipped but not all received: the shortfall stays in transit, flagged. */
static void test_missing_at_receipt(void **state)
{
    (void)state;
    char *out = NULL, ship[CC_HASH_HEX];
    commission("L6", "N", "3");
    int code = DRUG(&out, "aggregate", "--sscc", CASE2, CT_GTIN ".N2", "--key", k_mfr);
    expect_code(0, code, "aggregate", out);
    free(out);
    code = DRUG(&out, "ship", CT_GTIN ".N1", CASE2, "--to", "distributor", "--statement", "--key", k_mfr);
    expect_code(0, code, "ship", out);
    txid_of(out, ship);
    free(out);
    code = DRUG(&out, "receive", CT_GTIN ".N1", "--shipment", ship, "--key", k_whs);
    expect_code(0, code, "receive with a unit missing", out);
    free(out);
    expect_verify("N1", true, "active", NULL);
    expect_verify("N2", true, "transit", NULL);
    assert_true(alert_listed("missing", "N2") || alert_listed("missing", CASE2));
}

/* Returns, suspect product notifications and their clearance,
 * decommissioning. */
static void test_notifications_and_returns(void **state)
{
    (void)state;
    char *out = NULL;
    commission("L7", "P", "3");
    int code = DRUG(&out, "ship", CT_GTIN ".P1", CT_GTIN ".P2", CT_GTIN ".P3", "--to", "pharmacy",
                    "--statement", "--key", k_mfr);
    expect_code(0, code, "ship", out);
    free(out);
    code = DRUG(&out, "receive", "--items", CT_GTIN ".P1," CT_GTIN ".P2," CT_GTIN ".P3", "--key", k_pha);
    expect_code(0, code, "receive", out);
    free(out);
    /* a saleable return to a past owner */
    code = DRUG(&out, "return", CT_GTIN ".P1", "--to", "pharma", "--key", k_pha);
    expect_code(2, code, "return without --statement", out);
    free(out);
    code = DRUG(&out, "return", CT_GTIN ".P1", "--to", "pharma", "--statement", "--key", k_pha);
    expect_code(0, code, "return", out);
    free(out);
    expect_verify("P1", true, "transit", NULL);
    code = DRUG(&out, "receive", CT_GTIN ".P1", "--key", k_mfr);
    expect_code(0, code, "the manufacturer receives the return", out);
    free(out);
    expect_verify("P1", true, "active", NULL);
    /* suspect, then cleared */
    code = DRUG(&out, "suspect", CT_GTIN ".P2", "--kind", "counterfeit", "--reason", "x", "--key", k_pha);
    expect_code(2, code, "suspect with a bad kind", out);
    free(out);
    code = DRUG(&out, "suspect", CT_GTIN ".P2", "--kind", "suspect", "--reason", "torn seal", "--key", k_pha);
    expect_code(0, code, "suspect", out);
    free(out);
    expect_verify("P2", false, NULL, "Suspect");
    code = DRUG(&out, "dispense", CT_GTIN ".P2", "--key", k_pha);
    expect_code(1, code, "dispense a suspect unit", out);
    free(out);
    code = DRUG(&out, "clear", CT_GTIN ".P2", "--reason", "seal damaged in transit", "--key", k_pha);
    expect_code(0, code, "clear", out);
    free(out);
    expect_verify("P2", true, "active", NULL);
    /* decommissioned: not for re-distribution */
    code =
        DRUG(&out, "decommission", CT_GTIN ".P3", "--reason", "damaged", "--note", "dropped", "--key", k_pha);
    expect_code(0, code, "decommission", out);
    free(out);
    expect_verify("P3", false, NULL, "Not_for_re-distribution");
}

/* --help everywhere; usage errors exit 2. */
static void test_usage(void **state)
{
    (void)state;
    const char *subs[] = {
        "prefix",       "product-register", "commission", "aggregate", "disaggregate", "ship",
        "receive",      "dispense",         "return",     "recall",    "suspect",      "clear",
        "decommission", "verify",           "history",    "alerts"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char *out = NULL;
        int code = ct_cli(&out, CLI_MS, "drug", subs[i], "--help", NULL);
        if (code != 0 || !strstr(out, "usage: carechain drug"))
            fail_msg("drug %s --help: %d\n%s", subs[i], code, out);
        free(out);
    }
    char *out = NULL;
    int code = ct_cli(&out, CLI_MS, "drug", "verify", NULL);
    expect_code(2, code, "verify without an id", out);
    free(out);
    code = ct_cli(&out, CLI_MS, "drug", "verify", CT_GTIN ".A1", "--node", "http://127.0.0.1:1", NULL);
    expect_code(3, code, "verify with no node", out);
    free(out);
    code = DRUG(&out, "commission", "--key", k_mfr, "--gtin", CT_GTIN, "--lot", "L", "--exp", dn.exp);
    expect_code(2, code, "commission without serials", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_recall),
        cmocka_unit_test(test_custody_rules),
        cmocka_unit_test(test_mismatch_and_bad_ids),
        cmocka_unit_test(test_missing_at_receipt),
        cmocka_unit_test(test_notifications_and_returns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
