/*
 * cli/demo_drugs.c — the drug supply chain scenario of `carechain demo`
 * (docs/SUPPLY.md): a regulator assigns company prefixes; the manufacturer
 * registers a product, commissions a lot and packs a case; the case goes to
 * the wholesaler, which unpacks it and ships units on to the pharmacy; the
 * pharmacy verifies and dispenses one; a copy of that serial turns up at
 * another pharmacy and is flagged as a clone; the manufacturer recalls the
 * lot and the rest of it verifies as Recalled; the alerts list both.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "carechain/gs1.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES    4096
#define LOT_SERIALS   20
#define CASE_UNITS    10
#define ALERT_WAIT_MS 10000
#define ALERT_POLL_MS 200
#define GTIN          "00312345678906" /* prefix 0312345, item 67890 */
#define CASE_SSCC     "103123450000000018"
#define LOT           "LOT42"
#define UNIT_TEXT_MAX (CC_GS1_GTIN_DIGITS + 1 + CC_GS1_SERIAL_MAX + 1)

typedef struct scene {
    cc_cli_http *h;
    const uint8_t *chain_id;
    const char *dir;
    cc_key regulator, mfr, wholesaler, pharmacy, drugstore;
    char exp[CC_GS1_EXP_DIGITS + 1];
} scene;

static bool key_at(const scene *s, const char *name, cc_key *k)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/keys/%s.key", s->dir, name);
    if (cc_key_load(path, k, NULL, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", path, eb.msg);
    return false;
}

static bool commit(scene *s, const cc_key *k, const char *type, json_t *payload, char txid[CC_HASH_HEX])
{
    cc_errbuf eb = {{0}};
    if (cc_cli_commit_json(s->h, s->chain_id, k, type, payload, txid, &eb) == CC_OK) return true;
    printf("   FAILED: %s: %s\n", type, eb.msg);
    return false;
}

static char *sh(const char *hex)
{
    static char bufs[4][CC_CLI_SHORT_BYTES];
    static unsigned next;
    char *b = bufs[next++ % 4];
    return (char *)cc_cli_short(hex, b);
}

/* Units SN<from>..SN<to> of the lot as "<gtin>.<serial>". */
static json_t *units(unsigned from, unsigned to)
{
    json_t *a = json_array();
    for (unsigned i = from; a && i <= to; i++) {
        char u[UNIT_TEXT_MAX];
        snprintf(u, sizeof u, GTIN ".SN%u", i);
        json_array_append_new(a, json_string(u));
    }
    return a;
}

static json_t *transaction(const char *id)
{
    char today[16];
    time_t now = (time_t)(cc_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    return json_pack("{s:s,s:s,s:b}", "id", id, "date", today, "statement", 1);
}

/* GET /v1/drugs/verify for one serial, signed by k (NULL: unsigned).
 * Prints the verdict; *answer is the node's JSON (caller decrefs). */
static bool verify(scene *s, const cc_key *k, unsigned serial, const char *who, json_t **answer)
{
    char path[160], verdict[300];
    cc_errbuf eb = {{0}};
    long status = 0;
    *answer = NULL;
    snprintf(path, sizeof path, "/v1/drugs/verify?gtin=" GTIN "&serial=SN%u", serial);
    cc_err e;
    if (k) {
        e = cc_cli_signed_json(s->h, k, path, answer, &status, &eb);
    } else {
        cc_cli_resp r;
        e = cc_cli_http_request(s->h, path, NULL, NULL, 0, &r, &eb);
        if (e == CC_OK && r.status == 200 && r.json)
            *answer = json_incref(r.json);
        else if (e == CC_OK)
            e = cc_errf(&eb, CC_ERR_INVALID, "HTTP %ld: %s", r.status, cc_cli_resp_message(&r));
        cc_cli_resp_free(&r);
    }
    if (e != CC_OK) {
        printf("   FAILED: verify SN%u: %s\n", serial, eb.msg);
        return false;
    }
    cc_cli_drug_verdict(*answer, verdict, sizeof verdict);
    printf("   %s scans SN%u and asks the ledger%s:\n   %s.\n", who, serial, k ? " (a signed request)" : "",
           verdict);
    const json_t *sig = json_object_get(*answer, "signals");
    if (json_array_size(sig) > 0) {
        printf("   Signal%s:", json_array_size(sig) == 1 ? "" : "s");
        size_t i;
        const json_t *v;
        json_array_foreach(sig, i, v)
        {
            printf("%s %s", i ? "," : "", json_string_value(v));
        }
        const char *alert = cc_cli_jstr(*answer, "alert", NULL);
        if (alert)
            printf(" \u2014 the node recorded this presentation on the ledger (drug.alert tx %s).\n",
                   sh(alert));
        else
            printf(".\n");
    }
    return true;
}

/* Does the answer's array field hold s? */
static bool answer_has(const json_t *ans, const char *field, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(ans, field), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
    }
    return false;
}

static int setup(scene *s)
{
    static const char *const orgs[][2] = {
        {"0312345", "pharma"}, {"0398765", "distributor"}, {"0355501", "pharmacy"}, {"0355502", "drugstore"}};
    for (size_t i = 0; i < 4; i++)
        if (!commit(s, &s->regulator, "drug.prefix",
                    json_pack("{s:s,s:s}", "prefix", orgs[i][0], "org", orgs[i][1]), NULL))
            return CC_EXIT_FAIL;
    printf(
        "   The regulator's inspector assigns GS1 company prefixes: 0312345 to Example Pharma, 0398765 to\n"
        "   Example Wholesale, 0355501 to Corner Pharmacy and 0355502 to Main Street Drugstore.\n");
    char txid[CC_HASH_HEX];
    if (!commit(s, &s->mfr, "drug.product",
                json_pack("{s:s,s:s,s:s,s:s,s:s}", "gtin", GTIN, "ndc", "12345-6789-01", "name",
                          "Examplomycin", "strength", "500 mg", "form", "tablet"),
                txid))
        return CC_EXIT_FAIL;
    printf("   Example Pharma registers Examplomycin 500 mg tablets as GTIN " GTIN " (NDC 12345-6789-01).\n");
    json_t *serials = json_array();
    for (unsigned i = 1; i <= LOT_SERIALS; i++) {
        char sn[16];
        snprintf(sn, sizeof sn, "SN%u", 1000 + i);
        json_array_append_new(serials, json_string(sn));
    }
    if (!commit(s, &s->mfr, "drug.commission",
                json_pack("{s:s,s:s,s:s,s:o}", "gtin", GTIN, "lot", LOT, "exp", s->exp, "serials", serials),
                txid))
        return CC_EXIT_FAIL;
    printf("   It commissions lot " LOT " (expiry %s): %d serials, SN1001..SN%d, in tx %s.\n", s->exp,
           LOT_SERIALS, 1000 + LOT_SERIALS, sh(txid));
    if (!commit(s, &s->mfr, "drug.aggregate",
                json_pack("{s:s,s:o}", "sscc", CASE_SSCC, "units", units(1001, 1000 + CASE_UNITS)), txid))
        return CC_EXIT_FAIL;
    printf("   It packs SN1001..SN%d into case SSCC " CASE_SSCC " (tx %s).\n", 1000 + CASE_UNITS, sh(txid));
    return CC_EXIT_OK;
}

static int custody(scene *s)
{
    char ship[CC_HASH_HEX], txid[CC_HASH_HEX];
    json_t *cases = json_pack("[s]", CASE_SSCC);
    if (!commit(s, &s->mfr, "drug.ship",
                json_pack("{s:s,s:o,s:o}", "to", "distributor", "cases", cases, "transaction",
                          transaction("INV-2026-0042")),
                ship))
        return CC_EXIT_FAIL;
    printf("   Example Pharma ships the case to Example Wholesale with the DSCSA transaction information\n"
           "   (invoice INV-2026-0042) and its transaction statement: shipment %s.\n",
           sh(ship));
    if (!commit(s, &s->wholesaler, "drug.receive",
                json_pack("{s:s,s:[s]}", "shipment", ship, "cases", CASE_SSCC), txid))
        return CC_EXIT_FAIL;
    printf(
        "   The wholesaler's warehouse lead receives it (tx %s): the 10 units are now Example Wholesale's.\n",
        sh(txid));
    if (!commit(s, &s->wholesaler, "drug.disaggregate", json_pack("{s:s}", "sscc", CASE_SSCC), txid))
        return CC_EXIT_FAIL;
    if (!commit(s, &s->wholesaler, "drug.ship",
                json_pack("{s:s,s:o,s:o}", "to", "pharmacy", "units", units(1001, 1005), "transaction",
                          transaction("SO-7781")),
                ship))
        return CC_EXIT_FAIL;
    printf("   It unpacks the case and ships SN1001..SN1005 on to Corner Pharmacy (order SO-7781, shipment "
           "%s).\n",
           sh(ship));
    if (!commit(s, &s->pharmacy, "drug.receive",
                json_pack("{s:s,s:o}", "shipment", ship, "units", units(1001, 1005)), txid))
        return CC_EXIT_FAIL;
    printf("   Corner Pharmacy's pharmacist receives them (tx %s).\n", sh(txid));
    return CC_EXIT_OK;
}

/* The alerts the regulator sees, polled until clone and recalled are
 * there (a signed verification commits its drug.alert after answering). */
static int alerts(scene *s)
{
    json_t *ans = NULL;
    bool clone = false, recalled = false;
    uint64_t deadline = cc_mono_ns() + (uint64_t)ALERT_WAIT_MS * 1000000u;
    for (;;) {
        cc_errbuf eb = {{0}};
        json_decref(ans);
        ans = NULL;
        if (cc_cli_signed_json(s->h, &s->regulator, "/v1/drugs/alerts", &ans, NULL, &eb) != CC_OK) {
            printf("   FAILED: GET /v1/drugs/alerts: %s\n", eb.msg);
            return CC_EXIT_FAIL;
        }
        const json_t *list = json_is_array(ans) ? ans : json_object_get(ans, "alerts");
        size_t i;
        const json_t *a;
        clone = recalled = false;
        json_array_foreach(list, i, a)
        {
            clone = clone || strcmp(cc_cli_jstr(a, "kind", ""), "clone") == 0;
            recalled = recalled || strcmp(cc_cli_jstr(a, "kind", ""), "recalled") == 0;
        }
        if ((clone && recalled) || cc_mono_ns() >= deadline) break;
        struct timespec ts = {0, ALERT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    const json_t *list = json_is_array(ans) ? ans : json_object_get(ans, "alerts");
    printf("   The regulator lists the supply chain's alerts, newest first (%zu):\n", json_array_size(list));
    size_t i;
    const json_t *a;
    json_array_foreach(list, i, a)
    {
        char line[1024];
        printf("   - %s\n", cc_cli_drug_alert_text(a, line, sizeof line));
    }
    json_decref(ans);
    if (!clone || !recalled) {
        printf("   FAILED: the alerts lack %s.\n", !clone ? "the clone" : "the recall");
        return CC_EXIT_FAIL;
    }
    return CC_EXIT_OK;
}

static int scenario(scene *s)
{
    int rc = setup(s);
    if (rc == CC_EXIT_OK) rc = custody(s);
    if (rc != CC_EXIT_OK) return rc;

    json_t *ans;
    if (!verify(s, NULL, 1001, "At the counter, Corner Pharmacy", &ans)) return CC_EXIT_FAIL;
    bool genuine = json_is_true(json_object_get(ans, "saleable"));
    json_decref(ans);
    if (!genuine) {
        printf("   FAILED: a received unit does not verify as genuine and saleable.\n");
        return CC_EXIT_FAIL;
    }
    char txid[CC_HASH_HEX];
    if (!commit(s, &s->pharmacy, "drug.dispense", json_pack("{s:o}", "units", units(1001, 1001)), txid))
        return CC_EXIT_FAIL;
    printf("   The pharmacist dispenses SN1001 to a patient (tx %s): it leaves the supply chain.\n",
           sh(txid));

    printf("   A package with the very same serial SN1001 turns up at Main Street Drugstore.\n");
    if (!verify(s, &s->drugstore, 1001, "The drugstore's pharmacist", &ans)) return CC_EXIT_FAIL;
    bool clone = answer_has(ans, "signals", "clone");
    json_decref(ans);
    if (!clone) {
        printf("   FAILED: the copy of a dispensed serial was not flagged as a clone.\n");
        return CC_EXIT_FAIL;
    }
    printf("   The ledger flags it as a clone: SN1001 was already dispensed at Corner Pharmacy.\n");

    if (!commit(s, &s->mfr, "drug.recall",
                json_pack("{s:s,s:s,s:s,s:s}", "gtin", GTIN, "lot", LOT, "class", "II", "reason",
                          "tablets out of dissolution specification"),
                txid))
        return CC_EXIT_FAIL;
    printf("   Example Pharma recalls lot " LOT
           " (class II: tablets out of dissolution specification; tx %s).\n",
           sh(txid));
    if (!verify(s, &s->pharmacy, 1002, "Corner Pharmacy", &ans)) return CC_EXIT_FAIL;
    bool recalled = answer_has(ans, "info", "Recalled") && !json_is_true(json_object_get(ans, "saleable"));
    json_decref(ans);
    if (!recalled) {
        printf("   FAILED: a unit of the recalled lot still verifies as saleable.\n");
        return CC_EXIT_FAIL;
    }
    return alerts(s);
}

int cc_cli_demo_drugs(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const char *net_dir)
{
    scene s;
    memset(&s, 0, sizeof s);
    s.h = h;
    s.chain_id = chain_id;
    s.dir = net_dir;
    /* an expiry two years ahead, at the end of that month */
    time_t now = (time_t)(cc_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(s.exp, sizeof s.exp, "%02u%02u00", (unsigned)(tm.tm_year + 2) % 100u,
             (unsigned)(tm.tm_mon + 1) % 100u);
    int rc = CC_EXIT_FAIL;
    if (key_at(&s, "regulator", &s.regulator) && key_at(&s, "manufacturer", &s.mfr) &&
        key_at(&s, "distributor", &s.wholesaler) && key_at(&s, "pharmacy", &s.pharmacy) &&
        key_at(&s, "pharmacy2", &s.drugstore))
        rc = scenario(&s);
    cc_key_wipe(&s.regulator);
    cc_key_wipe(&s.mfr);
    cc_key_wipe(&s.wholesaler);
    cc_key_wipe(&s.pharmacy);
    cc_key_wipe(&s.drugstore);
    return rc;
}
