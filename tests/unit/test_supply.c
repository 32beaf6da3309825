/*
 * test_supply.c — the drug supply chain on a real chain (src/apps/supply.c,
 * docs/SUPPLY.md): company prefixes, products, commissioning (its batch
 * limit and atomicity), the custody lifecycle with aggregation, shipments,
 * receipts and their discrepancies, dispensing, returns, recalls, suspect
 * and illegitimate notifications, decommissioning and expiry, the
 * verification answer (cc_supply_verify through a chain view) after each
 * step, node-signed alerts, signed EPCIS capture (all or nothing, replay and
 * tampering refused), and determinism: the same blocks replayed on two
 * fresh chains give the same state root.
 *
 * Every tx goes in its own block through cc_chain_produce; the tests assert
 * the result code, the reason text where it matters, and the raw records
 * (dunit/, dcase/, dship/, dalert/) the manual documents.
 */
#include "unit_support.h"

#include "apps/supply.h"
#include "carechain/chain.h"
#include "carechain/records.h"

#define T0     1764000100000ULL /* 2025-11-24T16:01:40Z, after the genesis time */
#define MS_DAY 86400000ULL
#define KEYS   16
#define TXN    "{\"id\":\"INV-1\",\"date\":\"2025-11-24\",\"statement\":true}"

/* Identifiers (check digits computed by hand, asserted in test_identifiers). */
#define PFX_PHARMA   "0614141"
#define PFX_DIST     "0012345"
#define PFX_GENERICS "0351234"
#define GT           "10614141073464" /* pharma's product: urn:epc:id:sgtin:0614141.107346.<serial> */
#define GT_GEN       "00351234000176" /* generics' product */
#define GT_FREE      "00614141073474" /* under pharma's prefix, never registered */
#define CASE1        "006141410000000012"
#define CASE2        "006141410000000029"
#define CASE_EPC     "006141410000000173" /* urn:epc:id:sscc:0614141.0000000017 */
#define CASE_DIST    "000123450000000010" /* under the distributor's prefix */
#define U(s)         GT "." s
#define EXP          "281231"

/* Key numbers (key i is 32 bytes of i); every one but STRANGER is in the genesis. */
enum {
    NODE = 1,
    MFR = 2,      /* manufacturer, pharma */
    DIST = 3,     /* distributor, distributor */
    PHARM = 4,    /* pharmacy, pharmacy */
    STORE = 5,    /* pharmacy, drugstore */
    REG = 6,      /* regulator, regulator */
    GEN = 7,      /* manufacturer, generics */
    STRANGER = 9, /* never registered */
};

static const struct {
    int key;
    const char *org, *role;
} PEOPLE[] = {{MFR, "pharma", "manufacturer"}, {DIST, "distributor", "distributor"},
              {PHARM, "pharmacy", "pharmacy"}, {STORE, "drugstore", "pharmacy"},
              {REG, "regulator", "regulator"}, {GEN, "generics", "manufacturer"}};
#define PEOPLE_COUNT (sizeof PEOPLE / sizeof PEOPLE[0])

typedef struct fixture {
    char *dir, *genesis;
    cc_chain *c;
    cc_key k[KEYS];
    char hex[KEYS][CC_HASH_HEX];
    uint64_t t;
    char msg[CC_RESULT_MSG_MAX + 1];
    char txid[CC_HASH_HEX]; /* of the last tx sent */
} fixture;

#define EXPECT(code, call)                                                                                   \
    do {                                                                                                     \
        cc_err got_ = (call);                                                                                \
        if (got_ != (code))                                                                                  \
            fail_msg("line %d: %s: expected %s, got %s (%s)", __LINE__, #call, cc_err_name(code),            \
                     cc_err_name(got_), f->msg);                                                             \
    } while (0)

/* The last result's message contains needle. */
#define SAYS(needle)                                                                                         \
    do {                                                                                                     \
        if (!strstr(f->msg, (needle)))                                                                       \
            fail_msg("line %d: message \"%s\" does not say \"%s\"", __LINE__, f->msg, (needle));             \
    } while (0)

/* ---- the chain ------------------------------------------------------------------------------ */

static char *genesis_text(void)
{
    cc_key k;
    char hex[KEYS][CC_HASH_HEX];
    for (int i = 0; i < KEYS; i++) {
        ut_key(i, &k);
        cc_hex(k.pk, CC_PUBKEY_BYTES, hex[i]);
    }
    char *out = NULL;
    int n = asprintf(
        &out,
        "{\"carechain_genesis\":1,\"chain_name\":\"supply\",\"time_ms\":1764000000000,"
        "\"organisations\":[{\"id\":\"pharma\",\"name\":\"Pharma Inc\",\"kind\":\"manufacturer\"},"
        "{\"id\":\"generics\",\"name\":\"Generics Ltd\",\"kind\":\"manufacturer\"},"
        "{\"id\":\"distributor\",\"name\":\"Wholesale Co\",\"kind\":\"distributor\"},"
        "{\"id\":\"pharmacy\",\"name\":\"Main St Pharmacy\",\"kind\":\"pharmacy\"},"
        "{\"id\":\"drugstore\",\"name\":\"Corner Drugstore\",\"kind\":\"pharmacy\"},"
        "{\"id\":\"regulator\",\"name\":\"Drug Agency\",\"kind\":\"regulator\"}],"
        "\"nodes\":[{\"name\":\"node1\",\"id\":\"%s\",\"org\":\"regulator\",\"api\":\"127.0.0.1:7800\","
        "\"raft\":\"127.0.0.1:7900\"}],"
        "\"identities\":[{\"id\":\"%s\",\"role\":\"manufacturer\",\"org\":\"pharma\"},"
        "{\"id\":\"%s\",\"role\":\"distributor\",\"org\":\"distributor\"},"
        "{\"id\":\"%s\",\"role\":\"pharmacy\",\"org\":\"pharmacy\"},"
        "{\"id\":\"%s\",\"role\":\"pharmacy\",\"org\":\"drugstore\"},"
        "{\"id\":\"%s\",\"role\":\"regulator\",\"org\":\"regulator\"},"
        "{\"id\":\"%s\",\"role\":\"manufacturer\",\"org\":\"generics\"}]}",
        hex[NODE], hex[MFR], hex[DIST], hex[PHARM], hex[STORE], hex[REG], hex[GEN]);
    assert_true(n > 0);
    return out;
}

/* Send one tx signed by key number signer in its own block; payload is
 * stolen. f->txid gets its id and f->msg the result's message. */
static cc_err send(fixture *f, int signer, const char *type, json_t *payload)
{
    cc_tx tx;
    cc_result r;
    cc_header h;
    cc_errbuf eb = {""};
    assert_non_null(payload);
    char *text = cc_json_dump(payload);
    json_decref(payload);
    assert_non_null(text);
    f->t += 10;
    cc_tx_params p = {.chain_id = cc_chain_genesis(f->c)->chain_id,
                      .type = type,
                      .payload = text,
                      .payload_len = strlen(text),
                      .created_ms = f->t,
                      .expiry_ms = f->t + 3600 * 1000,
                      .nonce = f->t};
    cc_err rc = cc_tx_create(&p, &f->k[signer], &tx, &eb);
    free(text);
    if (rc != CC_OK) fail_msg("cc_tx_create %s: %s", type, eb.msg);
    cc_hex(tx.txid, CC_HASH_BYTES, f->txid);
    if (cc_chain_produce(f->c, &tx, 1, f->t + 1, &f->k[NODE], &h, &r, &eb) != CC_OK)
        fail_msg("produce: %s", eb.msg);
    cc_tx_free(&tx);
    snprintf(f->msg, sizeof f->msg, "%s", r.message);
    return (cc_err)r.code;
}

/* The block time of the next tx send() makes. */
static uint64_t next_block_ms(const fixture *f)
{
    return f->t + 10 + 1;
}

static json_t *state(fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *state(fixture *f, const char *fmt, ...)
{
    char key[256], *v = NULL;
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    if (cc_chain_state_get(f->c, key, &v, &n) != CC_OK) return NULL;
    json_t *o = cc_json_parse((const uint8_t *)v, n, NULL);
    free(v);
    assert_non_null(o);
    return o;
}

static json_t *unit_rec(fixture *f, const char *serial)
{
    return state(f, "dunit/" GT "/%s", serial);
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool has(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_string_value(json_array_get(a, i)) &&
            strcmp(json_string_value(json_array_get(a, i)), s) == 0)
            return true;
    return false;
}

/* a is exactly the comma-separated list want ("" for an empty list), in any order. */
static void list_is(const json_t *a, const char *want, const char *what)
{
    char buf[512], *save = NULL;
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", want);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++)
        if (!has(a, tok)) {
            char *got = json_dumps(a, JSON_COMPACT);
            fail_msg("%s %s lacks \"%s\"", what, got ? got : "(none)", tok);
        }
    if (json_array_size(a) != n) {
        char *got = json_dumps(a, JSON_COMPACT);
        fail_msg("%s is %s, expected [%s]", what, got ? got : "(none)", want);
    }
}

/* A unit's raw record: its state, owner and (NULL: not checked) where it is. */
static void unit_is(fixture *f, const char *serial, const char *st, const char *own)
{
    json_t *u = unit_rec(f, serial);
    if (!u) fail_msg("no dunit/%s/%s", GT, serial);
    if (strcmp(jstr(u, "st"), st) != 0 || strcmp(jstr(u, "own"), own) != 0)
        fail_msg("unit %s is %s of %s, expected %s of %s", serial, jstr(u, "st"), jstr(u, "own"), st, own);
    json_decref(u);
}

/* ---- payloads ------------------------------------------------------------------------------- */

/* A JSON array of the strings given (NULL-terminated). */
static json_t *strs(const char *first, ...)
{
    json_t *a = json_array();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) json_array_append_new(a, json_string(s));
    va_end(ap);
    return a;
}

#define LIST(...) strs(__VA_ARGS__, NULL)

static json_t *commission(const char *gtin, const char *lot, const char *exp, json_t *serials)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "gtin", gtin, "lot", lot, "exp", exp, "serials", serials);
}

/* {"units": units, "cases": cases} plus extra fields; NULL lists are left out. */
static json_t *items(json_t *units, json_t *cases)
{
    json_t *p = json_object();
    if (units) json_object_set_new(p, "units", units);
    if (cases) json_object_set_new(p, "cases", cases);
    return p;
}

static json_t *ship(const char *to, json_t *units, json_t *cases)
{
    json_t *p = items(units, cases);
    json_object_set_new(p, "to", json_string(to));
    json_object_set_new(p, "transaction", json_loads(TXN, 0, NULL));
    return p;
}

static json_t *receive(const char *shipment, json_t *units, json_t *cases)
{
    json_t *p = items(units, cases);
    if (shipment) json_object_set_new(p, "shipment", json_string(shipment));
    return p;
}

static json_t *aggregate(const char *sscc, json_t *units, json_t *cases)
{
    json_t *p = items(units, cases);
    json_object_set_new(p, "sscc", json_string(sscc));
    return p;
}

/* Commission serials of lot L1 (expiry EXP) of GT as pharma. */
static void make_units(fixture *f, json_t *serials)
{
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "L1", EXP, serials)));
}

/* Ship units from one organisation's identity to another's and receive them there. */
static void hand_over(fixture *f, int from, int to, const char *to_org, json_t *units)
{
    char sid[CC_HASH_HEX];
    EXPECT(CC_OK, send(f, from, "drug.ship", ship(to_org, json_incref(units), NULL)));
    snprintf(sid, sizeof sid, "%s", f->txid);
    EXPECT(CC_OK, send(f, to, "drug.receive", receive(sid, units, NULL)));
}

/* ---- verification ------------------------------------------------------------------------------ */

/* cc_supply_verify at the head through a chain view, presented by key
 * number presenter (0: an unsigned request), or asked after (inquiry: a
 * custody history). Caller decrefs. */
static json_t *verify_full(fixture *f, const char *gtin, const char *serial, const char *lot, const char *exp,
                           int presenter, bool inquiry)
{
    cc_chain_view *v = NULL;
    json_t *out = NULL;
    cc_supply_query q = {.gtin = gtin, .serial = serial, .lot = lot, .exp = exp, .inquiry = inquiry};
    for (size_t i = 0; presenter && i < PEOPLE_COUNT; i++)
        if (PEOPLE[i].key == presenter) {
            q.presenter_org = PEOPLE[i].org;
            q.presenter_role = cc_role_parse(PEOPLE[i].role);
        }
    assert_true(!presenter || q.presenter_org);
    assert_int_equal(cc_chain_view_open(f->c, &v), CC_OK);
    assert_int_equal(cc_supply_verify(cc_chain_view_get_json, v, &q, cc_chain_view_time(v), &out), CC_OK);
    cc_chain_view_close(v);
    assert_non_null(out);
    return out;
}

static json_t *verify(fixture *f, const char *serial, int presenter)
{
    return verify_full(f, GT, serial, NULL, NULL, presenter, false);
}

/* The answer for serial of GT, as presenter sees it: verified, status,
 * info, saleable and signals (lists comma-separated, "" for none). */
static void verify_is(fixture *f, const char *serial, int presenter, const char *status, const char *info,
                      bool saleable, const char *signals)
{
    json_t *a = verify(f, serial, presenter);
    assert_true(json_is_true(json_object_get(a, "verified")));
    if (strcmp(jstr(a, "status"), status) != 0)
        fail_msg("%s: status %s, expected %s", serial, jstr(a, "status"), status);
    list_is(json_object_get(a, "info"), info, "info");
    list_is(json_object_get(a, "signals"), signals, "signals");
    assert_int_equal(json_is_true(json_object_get(a, "saleable")), saleable);
    json_decref(a);
}

/* Is custody history shown to presenter? */
static bool sees_history(fixture *f, const char *serial, int presenter)
{
    json_t *a = verify(f, serial, presenter);
    bool shown = json_object_get(a, "history") != NULL;
    json_decref(a);
    return shown;
}

/* ---- alerts --------------------------------------------------------------------------------------- */

static json_int_t alert_count(fixture *f)
{
    json_t *n = state(f, "dalert/count");
    json_int_t c = n ? json_integer_value(n) : 0;
    json_decref(n);
    return c;
}

/* The newest alert of kind, or NULL. Caller decrefs. */
static json_t *alert_newest(fixture *f, const char *kind)
{
    for (json_int_t i = alert_count(f); i >= 1; i--) {
        json_t *a = state(f, "dalert/%lld", (long long)i);
        if (a && strcmp(jstr(a, "kind"), kind) == 0) return a;
        json_decref(a);
    }
    return NULL;
}

/* ---- fixtures ---------------------------------------------------------------------------------- */

static int setup(void **st)
{
    fixture *f = calloc(1, sizeof *f);
    char data[600];
    f->dir = ut_tmpdir();
    f->genesis = genesis_text();
    snprintf(data, sizeof data, "%s/data", f->dir);
    assert_int_equal(cc_chain_open(data, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &f->c, NULL),
                     CC_OK);
    for (int i = 0; i < KEYS; i++) {
        ut_key(i, &f->k[i]);
        cc_hex(f->k[i].pk, CC_PUBKEY_BYTES, f->hex[i]);
    }
    f->t = T0;
    EXPECT(CC_OK,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", PFX_PHARMA, "org", "pharma")));
    EXPECT(CC_OK,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", PFX_DIST, "org", "distributor")));
    EXPECT(CC_OK,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", PFX_GENERICS, "org", "generics")));
    EXPECT(CC_OK, send(f, MFR, "drug.product",
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "gtin", GT, "ndc", "0614-1107-34", "name",
                                 "Examplomab", "strength", "10 mg", "form", "tablet")));
    EXPECT(CC_OK, send(f, GEN, "drug.product",
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "gtin", GT_GEN, "ndc", "35123-4001-76", "name",
                                 "Genericol", "strength", "5 mg", "form", "capsule")));
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fixture *f = *st;
    cc_chain_close(f->c);
    ut_rmdir(f->dir);
    free(f->genesis);
    free(f);
    return 0;
}

/* ---- identifiers the tests use ---------------------------------------------------------------------- */

static void test_identifiers(void **st)
{
    (void)st;
    const char *gtins[] = {GT, GT_GEN, GT_FREE};
    const char *ssccs[] = {CASE1, CASE2, CASE_EPC, CASE_DIST};
    for (size_t i = 0; i < 3; i++) assert_true(cc_gs1_gtin_valid(gtins[i]));
    for (size_t i = 0; i < 4; i++) assert_true(cc_gs1_sscc_valid(ssccs[i]));
    assert_true(cc_supply_unit_valid(U("S1")));
}

/* A DSCSA transaction date is a day that exists, written exactly
 * YYYY-MM-DD, from 2000 on; drug.ship and drug.return refuse any other. */
static void test_transaction_dates(void **st)
{
    (void)st;
    static const char *const good[] = {"2025-11-24", "2028-02-29", "2000-01-01", "9999-12-31"};
    static const char *const bad[] = {"2026-02-29", "2026-04-31", "2026-13-01",           "2026-00-10",
                                      "2026-01-00", "1999-12-31", "2026-+1-01",           "2026- 1-01",
                                      "+026-01-01", "2026-1-01",  "2026-01-01T00:00:00Z", "",
                                      "20260101",   "2026/01/01"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) assert_true(cc_supply_date_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (cc_supply_date_valid(bad[i])) fail_msg("\"%s\" taken for a transaction date", bad[i]);
        char payload[256];
        snprintf(payload, sizeof payload,
                 "{\"to\":\"distributor\",\"units\":[\"%s\"],\"transaction\":"
                 "{\"id\":\"INV-1\",\"date\":\"%s\",\"statement\":true}}",
                 U("S1"), bad[i]);
        cc_errbuf eb = {""};
        assert_int_equal(cc_payload_validate("drug.ship", (const uint8_t *)payload, strlen(payload), &eb),
                         CC_ERR_INVALID);
        /* (what is not 10 characters long is refused as a string first) */
        if (strlen(bad[i]) == 10)
            assert_non_null(strstr(eb.msg, "transaction date must be a day that exists"));
    }
}

/* ---- drug.prefix and drug.product ---------------------------------------------------------------------- */

static void test_prefix(void **st)
{
    fixture *f = *st;
    json_t *v = state(f, "dprefix/" PFX_PHARMA);
    assert_non_null(v);
    assert_string_equal(jstr(v, "org"), "pharma");
    json_decref(v);
    v = state(f, "dprefixpart/061414");
    assert_non_null(v);
    assert_string_equal(jstr(v, "prefix"), PFX_PHARMA);
    json_decref(v);

    EXPECT(CC_ERR_FORBIDDEN,
           send(f, MFR, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "0999999", "org", "pharma")));
    SAYS("role manufacturer may not send drug.prefix");
    /* a shorter prefix of an assigned one */
    EXPECT(CC_ERR_CONFLICT,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "061414", "org", "distributor")));
    SAYS("is the start of assigned prefix " PFX_PHARMA);
    /* a longer one under an assigned one */
    EXPECT(CC_ERR_CONFLICT,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "06141419", "org", "distributor")));
    SAYS("overlaps one assigned to pharma");
    /* the same prefix again */
    EXPECT(CC_ERR_CONFLICT,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", PFX_PHARMA, "org", "generics")));
    EXPECT(CC_ERR_NOT_FOUND,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "0777777", "org", "acme")));
    SAYS("no organisation \"acme\"");
    EXPECT(CC_ERR_INVALID,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "12345", "org", "pharma")));
    SAYS("6..12 digits");
    assert_null(state(f, "dprefix/061414"));
    assert_null(state(f, "dprefix/06141419"));
    assert_null(state(f, "dprefix/0777777"));
    /* a disjoint one is fine, and blocks its own neighbours */
    EXPECT(CC_OK,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "0777777", "org", "drugstore")));
    EXPECT(CC_ERR_CONFLICT,
           send(f, REG, "drug.prefix", json_pack("{s:s, s:s}", "prefix", "077777", "org", "pharmacy")));
}

static json_t *product(const char *gtin, const char *ndc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "gtin", gtin, "ndc", ndc, "name", "Examplomab XR",
                     "strength", "20 mg", "form", "tablet");
}

static void test_product(void **st)
{
    fixture *f = *st;
    json_t *v = state(f, "dproduct/" GT);
    assert_non_null(v);
    assert_string_equal(jstr(v, "org"), "pharma");
    assert_string_equal(jstr(v, "prefix"), PFX_PHARMA);
    json_decref(v);

    /* only the prefix owner */
    EXPECT(CC_ERR_FORBIDDEN, send(f, GEN, "drug.product", product(GT_FREE, "0614-1107-35")));
    SAYS("under a company prefix of pharma, not generics");
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.product", product(GT_FREE, "0614-1107-35")));
    SAYS("role distributor may not send drug.product");
    EXPECT(CC_OK, send(f, MFR, "drug.product", product(GT_FREE, "0614-1107-35")));
    /* the same GTIN twice */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.product", product(GT_FREE, "0614-1107-36")));
    SAYS("already registered");
    v = state(f, "dproduct/" GT_FREE);
    assert_string_equal(jstr(v, "ndc"), "0614-1107-35");
    json_decref(v);
    /* refused at validate: a wrong check digit, an NDC that is not one */
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.product", product("00614141073475", "0614-1107-35")));
    SAYS("valid check digit");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.product", product("00614141073481", "06-14")));
    SAYS("\"ndc\"");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.product", product("00614141073481", "0614-11O7-35")));
    SAYS("\"ndc\"");
    /* a GTIN under no assigned prefix */
    EXPECT(CC_ERR_FORBIDDEN, send(f, MFR, "drug.product", product("00999999000019", "0999-9990-00")));
    SAYS("no organisation holds the company prefix");
}

/* ---- drug.commission ---------------------------------------------------------------------------- */

/* Serial i (0-based) in base 62, as short as it can be: 10,000 serials
 * must fit in one payload (CC_PAYLOAD_MAX). */
static void short_serial(size_t i, char out[8])
{
    static const char digits62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char tmp[8];
    size_t n = 0, width = i < 62 ? 1 : i < 62 + 62 * 62 ? 2 : 3;
    size_t v = i < 62 ? i : i < 62 + 62 * 62 ? i - 62 : i - 62 - 62 * 62;
    for (size_t k = 0; k < width; k++, v /= 62) tmp[n++] = digits62[v % 62];
    for (size_t k = 0; k < n; k++) out[k] = tmp[n - 1 - k];
    out[n] = '\0';
}

static json_t *many_serials(size_t count)
{
    json_t *a = json_array();
    char s[8];
    for (size_t i = 0; i < count; i++) {
        short_serial(i, s);
        json_array_append_new(a, json_string(s));
    }
    return a;
}

static void test_commission_batch_limit(void **st)
{
    fixture *f = *st;
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", commission(GT, "BIG", EXP, many_serials(10001))));
    SAYS("at most 10000");
    assert_null(unit_rec(f, "0"));
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "BIG", EXP, many_serials(10000))));
    char first[8], last[8];
    short_serial(0, first);
    short_serial(9999, last);
    unit_is(f, first, "active", "pharma");
    unit_is(f, last, "active", "pharma");
    json_t *u = unit_rec(f, last);
    assert_string_equal(jstr(u, "lot"), "BIG");
    assert_string_equal(jstr(u, "exp"), EXP);
    assert_string_equal(jstr(u, "mfr"), "pharma");
    list_is(json_object_get(u, "ev"), f->txid, "ev");
    json_decref(u);
    json_t *lot = state(f, "dlot/" GT "/BIG");
    assert_non_null(lot);
    assert_int_equal(json_integer_value(json_object_get(lot, "count")), 10000);
    json_decref(lot);
    verify_is(f, last, 0, "active", "", true, "");
}

static json_t *range(const char *lot, const char *prefix, json_int_t start, json_int_t count,
                     json_int_t width)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:I, s:I, s:I}}", "gtin", GT, "lot", lot, "exp", EXP, "range",
                     "prefix", prefix, "start", start, "count", count, "width", width);
}

/* 10,000 serials of 12 characters only fit a payload as a range. */
static void test_commission_range(void **st)
{
    fixture *f = *st;
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", range("R1", "SN", 1, 10001, 10)));
    SAYS("count");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", range("R1", "SN", 95, 10, 2)));
    SAYS("past 2 digits");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", range("R1", "SERIALPREFIX", 1, 10, 10)));
    SAYS("longer than 20");
    json_t *both = range("R1", "SN", 1, 5, 10);
    json_object_set_new(both, "serials", LIST("A1"));
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", both));
    SAYS("either");
    EXPECT(CC_OK, send(f, MFR, "drug.commission", range("R1", "SN", 1, 10000, 10)));
    unit_is(f, "SN0000000001", "active", "pharma");
    unit_is(f, "SN0000010000", "active", "pharma");
    assert_null(unit_rec(f, "SN0000010001"));
    assert_null(unit_rec(f, "SN0000000000"));
    /* overlapping a range already commissioned: refused whole */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.commission", range("R1", "SN", 9999, 5, 10)));
    SAYS("SN0000009999");
    assert_null(unit_rec(f, "SN0000010003"));
}

static void test_commission_refusals(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2"));
    /* a serial twice in one list: validate */
    EXPECT(CC_ERR_INVALID,
           send(f, MFR, "drug.commission", commission(GT, "L1", EXP, LIST("S5", "S6", "S5"))));
    SAYS("lists \"S5\" twice");
    /* a serial already there: nothing of the tx stays, not even the serials before it */
    EXPECT(CC_ERR_CONFLICT,
           send(f, MFR, "drug.commission", commission(GT, "L1", EXP, LIST("S7", "S8", "S2", "S9"))));
    SAYS("serial S2 of GTIN " GT " already exists");
    assert_null(unit_rec(f, "S7"));
    assert_null(unit_rec(f, "S8"));
    assert_null(unit_rec(f, "S9"));
    json_t *lot = state(f, "dlot/" GT "/L1");
    assert_int_equal(json_integer_value(json_object_get(lot, "count")), 2);
    json_decref(lot);
    json_t *v = verify(f, "S7", 0);
    assert_false(json_is_true(json_object_get(v, "verified")));
    assert_string_equal(jstr(v, "reason"), "No_match_GTIN_Serial");
    json_decref(v);
    /* another organisation's GTIN */
    EXPECT(CC_ERR_FORBIDDEN, send(f, GEN, "drug.commission", commission(GT, "L9", EXP, LIST("X1"))));
    SAYS("not a product of generics");
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.commission", commission(GT, "L9", EXP, LIST("X1"))));
    SAYS("role distributor may not send drug.commission");
    EXPECT(CC_ERR_NOT_FOUND, send(f, MFR, "drug.commission", commission(GT_FREE, "L9", EXP, LIST("X1"))));
    SAYS("not a registered product");
    /* an expiry already past at the block time (2025-11-24) */
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", commission(GT, "L9", "251101", LIST("X1"))));
    SAYS("expiry 251101 is already past");
    /* one lot, one expiry */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.commission", commission(GT, "L1", "291231", LIST("X1"))));
    SAYS("lot L1 was commissioned with expiry " EXP ", not 291231");
    assert_null(unit_rec(f, "X1"));
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", commission(GT, "L9", "281341", LIST("X1"))));
    SAYS("\"exp\"");
    EXPECT(CC_ERR_INVALID,
           send(f, MFR, "drug.commission", commission("10614141073465", "L9", EXP, LIST("X1"))));
    SAYS("valid check digit");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", commission(GT, "L9", EXP, LIST("A B"))));
    /* the same lot with its expiry commissions more */
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "L1", EXP, LIST("S3"))));
    lot = state(f, "dlot/" GT "/L1");
    assert_int_equal(json_integer_value(json_object_get(lot, "count")), 3);
    json_decref(lot);
}

/* ---- the lifecycle ------------------------------------------------------------------------------- */

static void test_lifecycle(void **st)
{
    fixture *f = *st;
    char ship1[CC_HASH_HEX], ship2[CC_HASH_HEX];
    json_t *v;
    make_units(f, LIST("S1", "S2", "S3", "S4"));
    verify_is(f, "S1", 0, "active", "", true, "");
    verify_is(f, "S1", MFR, "active", "", true, "");

    /* aggregate: the SSCC must be under the packer's own prefix */
    EXPECT(CC_ERR_FORBIDDEN,
           send(f, MFR, "drug.aggregate", aggregate(CASE_DIST, LIST(U("S1"), U("S2")), NULL)));
    SAYS("SSCC " CASE_DIST " is not under a company prefix of pharma");
    assert_null(state(f, "dcase/" CASE_DIST));
    EXPECT(CC_OK, send(f, MFR, "drug.aggregate", aggregate(CASE1, LIST(U("S1"), U("S2")), NULL)));
    v = state(f, "dcase/" CASE1);
    assert_string_equal(jstr(v, "own"), "pharma");
    assert_string_equal(jstr(v, "st"), "active");
    list_is(json_object_get(v, "units"), U("S1") "," U("S2"), "case units");
    json_decref(v);
    v = unit_rec(f, "S1");
    assert_string_equal(jstr(v, "in"), CASE1);
    json_decref(v);
    verify_is(f, "S1", 0, "active", "", true, "");
    /* packed units go with their case */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
    SAYS("packed in case " CASE1);
    /* the DSCSA transaction statement is required */
    json_t *p = ship("distributor", LIST(U("S3")), NULL);
    json_object_set_new(json_object_get(p, "transaction"), "statement", json_false());
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.ship", p));
    SAYS("\"statement\" must be true");
    p = ship("distributor", LIST(U("S3")), NULL);
    json_object_del(json_object_get(p, "transaction"), "statement");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.ship", p));
    /* only the owner ships */
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.ship", ship("pharmacy", LIST(U("S4")), NULL)));
    SAYS("unit " U("S4") " belongs to pharma, not distributor");
    unit_is(f, "S4", "active", "pharma");

    /* ship the case and a loose unit */
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S3")), LIST(CASE1))));
    snprintf(ship1, sizeof ship1, "%s", f->txid);
    v = state(f, "dship/%s", ship1);
    assert_string_equal(jstr(v, "from"), "pharma");
    assert_string_equal(jstr(v, "to"), "distributor");
    assert_string_equal(jstr(v, "status"), "open");
    assert_string_equal(jstr(v, "kind"), "sale");
    list_is(json_object_get(v, "units"), U("S1") "," U("S2") "," U("S3"), "shipment units");
    list_is(json_object_get(v, "cases"), CASE1, "shipment cases");
    assert_string_equal(jstr(json_object_get(v, "transaction"), "id"), "INV-1");
    json_decref(v);
    v = state(f, "dshipopen");
    assert_true(has(v, ship1));
    json_decref(v);
    v = unit_rec(f, "S1");
    assert_string_equal(jstr(v, "st"), "transit");
    assert_string_equal(jstr(v, "ship"), ship1);
    assert_string_equal(jstr(v, "to"), "distributor");
    assert_string_equal(jstr(v, "in"), CASE1); /* still packed */
    json_decref(v);
    /* in transit: the owner and the receiver present it without a signal, others are not owners */
    verify_is(f, "S1", MFR, "transit", "", true, "");
    verify_is(f, "S1", DIST, "transit", "", true, "");
    verify_is(f, "S1", STORE, "transit", "", true, "not_owner");
    verify_is(f, "S3", PHARM, "transit", "", true, "not_owner");

    /* only the named receiver receives */
    EXPECT(CC_ERR_FORBIDDEN, send(f, PHARM, "drug.receive", receive(ship1, NULL, LIST(CASE1))));
    SAYS("goes to distributor, not pharmacy");
    EXPECT(CC_ERR_FORBIDDEN, send(f, PHARM, "drug.receive", receive(NULL, NULL, LIST(CASE1))));
    SAYS("shipped to distributor, not to pharmacy");
    unit_is(f, "S1", "transit", "pharma");

    /* the receiver gets the case only: the loose unit is missing */
    json_int_t alerts = alert_count(f);
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(ship1, NULL, LIST(CASE1))));
    unit_is(f, "S1", "active", "distributor");
    unit_is(f, "S2", "active", "distributor");
    unit_is(f, "S3", "transit", "pharma");
    v = unit_rec(f, "S1");
    list_is(json_object_get(v, "past"), "pharma", "past owners");
    assert_string_equal(jstr(v, "in"), CASE1);
    assert_null(json_object_get(v, "ship"));
    json_decref(v);
    v = unit_rec(f, "S3");
    assert_string_equal(jstr(v, "ship"), ship1);
    json_decref(v);
    v = state(f, "dcase/" CASE1);
    assert_string_equal(jstr(v, "own"), "distributor");
    json_decref(v);
    v = state(f, "dship/%s", ship1);
    assert_string_equal(jstr(v, "status"), "received");
    list_is(json_object_get(v, "missing"), U("S3"), "missing");
    json_decref(v);
    v = state(f, "dshipopen");
    assert_false(has(v, ship1));
    json_decref(v);
    assert_int_equal(alert_count(f), alerts + 1);
    v = alert_newest(f, "missing");
    assert_non_null(v);
    assert_string_equal(jstr(v, "shipment"), ship1);
    list_is(json_object_get(json_object_get(v, "detail"), "units"), U("S3"), "missing alert units");
    list_is(json_object_get(v, "orgs"), "pharma,distributor", "missing alert orgs");
    json_decref(v);
    verify_is(f, "S3", 0, "transit", "", true, "");
    verify_is(f, "S1", DIST, "active", "", true, "");
    verify_is(f, "S1", MFR, "active", "", true, ""); /* the manufacturer presents it: no signal */

    /* unpack, ship on, receive, dispense */
    EXPECT(CC_ERR_FORBIDDEN, send(f, MFR, "drug.disaggregate", json_pack("{s:s}", "sscc", CASE1)));
    SAYS("belongs to distributor, not pharma");
    EXPECT(CC_OK, send(f, DIST, "drug.disaggregate", json_pack("{s:s}", "sscc", CASE1)));
    v = state(f, "dcase/" CASE1);
    assert_string_equal(jstr(v, "st"), "empty");
    list_is(json_object_get(v, "units"), "", "emptied case units");
    json_decref(v);
    v = unit_rec(f, "S1");
    assert_null(json_object_get(v, "in"));
    json_decref(v);
    EXPECT(CC_OK, send(f, DIST, "drug.ship", ship("pharmacy", LIST(U("S1"), U("S2")), NULL)));
    snprintf(ship2, sizeof ship2, "%s", f->txid);
    verify_is(f, "S1", PHARM, "transit", "", true, "");
    EXPECT(CC_OK, send(f, PHARM, "drug.receive", receive(ship2, LIST(U("S1"), U("S2")), NULL)));
    unit_is(f, "S1", "active", "pharmacy");
    v = unit_rec(f, "S1");
    list_is(json_object_get(v, "past"), "pharma,distributor", "past owners");
    json_decref(v);
    verify_is(f, "S1", PHARM, "active", "", true, "");
    verify_is(f, "S1", STORE, "active", "", true, "not_owner");
    v = verify(f, "S1", PHARM);
    list_is(json_object_get(json_object_get(v, "history"), "owners"), "pharma,distributor,pharmacy",
            "owners");
    json_decref(v);

    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    SAYS("role distributor may not send drug.dispense");
    EXPECT(CC_ERR_FORBIDDEN, send(f, STORE, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    SAYS("belongs to pharmacy, not drugstore");
    EXPECT(CC_OK, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    unit_is(f, "S1", "dispensed", "pharmacy");
    /* the dispenser sees it dispensed; anyone else presenting it has a clone */
    verify_is(f, "S1", PHARM, "dispensed", "Dispensed", false, "");
    verify_is(f, "S1", STORE, "dispensed", "Dispensed", false, "clone");
    verify_is(f, "S1", DIST, "dispensed", "Dispensed", false, "clone");
    /* asking after a unit's custody is no presentation: nobody is judged */
    json_t *a = verify_full(f, GT, "S1", NULL, NULL, DIST, true);
    list_is(json_object_get(a, "signals"), "", "an inquiry's signals");
    assert_non_null(json_object_get(a, "history")); /* a past owner */
    json_decref(a);
    verify_is(f, "S2", DIST, "active", "", true, "not_owner");
    a = verify_full(f, GT, "S2", NULL, NULL, DIST, true);
    list_is(json_object_get(a, "signals"), "", "an inquiry's signals");
    json_decref(a);
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    SAYS("already dispensed");
    /* a dispensed unit goes nowhere */
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
    SAYS("is dispensed");
    /* and the rest of the receipt still stands */
    verify_is(f, "S2", PHARM, "active", "", true, "");
}

/* A receipt that names a shipment and a unit from another: flagged, not transferred. */
static void test_receive_unexpected(void **st)
{
    fixture *f = *st;
    char ship_a[CC_HASH_HEX], ship_b[CC_HASH_HEX];
    make_units(f, LIST("S1", "S2", "S3"));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
    snprintf(ship_a, sizeof ship_a, "%s", f->txid);
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S2")), NULL)));
    snprintf(ship_b, sizeof ship_b, "%s", f->txid);

    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(ship_a, LIST(U("S1"), U("S2"), U("S3")), NULL)));
    unit_is(f, "S1", "active", "distributor");
    unit_is(f, "S2", "transit", "pharma"); /* of the other shipment: not transferred */
    unit_is(f, "S3", "active", "pharma");  /* never shipped: not transferred */
    json_t *u = unit_rec(f, "S2");
    assert_string_equal(jstr(u, "ship"), ship_b);
    json_decref(u);
    json_t *a = alert_newest(f, "unexpected");
    assert_non_null(a);
    assert_string_equal(jstr(a, "shipment"), ship_a);
    list_is(json_object_get(json_object_get(a, "detail"), "units"), U("S2") "," U("S3"), "unexpected units");
    list_is(json_object_get(a, "orgs"), "pharma,distributor", "unexpected alert orgs");
    json_decref(a);
    json_t *s = state(f, "dship/%s", ship_b);
    assert_string_equal(jstr(s, "status"), "open");
    json_decref(s);
    /* nothing of the named shipment received at all */
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.receive", receive(ship_a, LIST(U("S3")), NULL)));
    SAYS("nothing received was in shipment");
    /* the other shipment is received in its turn */
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(ship_b, LIST(U("S2")), NULL)));
    unit_is(f, "S2", "active", "distributor");
    s = state(f, "dship/%s", ship_b);
    assert_string_equal(jstr(s, "status"), "received");
    list_is(json_object_get(s, "missing"), "", "missing");
    json_decref(s);
}

/* A case of another shipment named in a receipt: flagged with what it
 * holds, nothing of it transferred. */
static void test_receive_unexpected_case(void **st)
{
    fixture *f = *st;
    char ship_a[CC_HASH_HEX], ship_b[CC_HASH_HEX];
    make_units(f, LIST("S1", "S2", "S3"));
    EXPECT(CC_OK, send(f, MFR, "drug.aggregate", aggregate(CASE1, LIST(U("S2"), U("S3")), NULL)));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
    snprintf(ship_a, sizeof ship_a, "%s", f->txid);
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", NULL, LIST(CASE1))));
    snprintf(ship_b, sizeof ship_b, "%s", f->txid);
    /* nothing of the named shipment: refused, not flagged */
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.receive", receive(ship_a, NULL, LIST(CASE1))));
    SAYS("nothing received was in shipment");
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(ship_a, LIST(U("S1")), LIST(CASE1))));
    unit_is(f, "S1", "active", "distributor");
    unit_is(f, "S2", "transit", "pharma");
    unit_is(f, "S3", "transit", "pharma");
    json_t *c = state(f, "dcase/" CASE1);
    assert_string_equal(jstr(c, "st"), "transit");
    assert_string_equal(jstr(c, "own"), "pharma");
    json_decref(c);
    json_t *a = alert_newest(f, "unexpected");
    assert_non_null(a);
    list_is(json_object_get(json_object_get(a, "detail"), "units"), U("S2") "," U("S3"), "unexpected units");
    json_decref(a);
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(ship_b, NULL, LIST(CASE1))));
    unit_is(f, "S2", "active", "distributor");
}

/* A unit packed in a case travels with it: a receipt names the case, and a
 * unit named alone while its case is in transit is refused, or the unit
 * would change hands while its case did not (and the case, and everything
 * else in it, could then never be received). */
static void test_receive_packed_unit(void **st)
{
    fixture *f = *st;
    char sid[CC_HASH_HEX];
    make_units(f, LIST("S1", "S2"));
    EXPECT(CC_OK, send(f, MFR, "drug.aggregate", aggregate(CASE1, LIST(U("S1"), U("S2")), NULL)));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", NULL, LIST(CASE1))));
    snprintf(sid, sizeof sid, "%s", f->txid);
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.receive", receive(sid, LIST(U("S1")), NULL)));
    SAYS("packed in case " CASE1);
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.receive", receive(NULL, LIST(U("S1")), NULL)));
    SAYS("packed in case " CASE1);
    unit_is(f, "S1", "transit", "pharma");
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(sid, NULL, LIST(CASE1))));
    unit_is(f, "S1", "active", "distributor");
    unit_is(f, "S2", "active", "distributor");
}

/* ---- returns and recalls ----------------------------------------------------------------------- */

static void test_return(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2", "S3"));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S1"), U("S2"), U("S3")));
    /* a return goes back up the chain, to a past owner only */
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.return", ship("drugstore", LIST(U("S1")), NULL)));
    SAYS("never belonged to drugstore");
    EXPECT(CC_OK, send(f, DIST, "drug.return", ship("pharma", LIST(U("S1")), NULL)));
    json_t *s = state(f, "dship/%s", f->txid);
    assert_string_equal(jstr(s, "kind"), "return");
    json_decref(s);
    EXPECT(CC_OK, send(f, MFR, "drug.receive", receive(f->txid, LIST(U("S1")), NULL)));
    unit_is(f, "S1", "active", "pharma");

    /* recalled: back to its manufacturer, and nowhere else */
    EXPECT(CC_OK, send(f, MFR, "drug.recall",
                       json_pack("{s:s, s:s, s:s, s:s}", "gtin", GT, "lot", "L1", "class", "II", "reason",
                                 "out of specification dissolution")));
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.ship", ship("pharmacy", LIST(U("S2")), NULL)));
    SAYS("unit " U("S2") " is recalled");
    unit_is(f, "S2", "active", "distributor");
    EXPECT(CC_OK, send(f, DIST, "drug.return", ship("pharma", LIST(U("S2")), NULL)));
    unit_is(f, "S2", "transit", "distributor");
    EXPECT(CC_OK, send(f, MFR, "drug.receive", receive(f->txid, LIST(U("S2")), NULL)));
    unit_is(f, "S2", "active", "pharma");
    verify_is(f, "S2", MFR, "active", "Recalled", false, "recalled");
    /* the manufacturer may not ship the recalled unit out again */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S2")), NULL)));
    SAYS("is recalled");
}

/* A recalled unit returned to a past owner that is not its manufacturer. */
static void test_recalled_return_to_wholesaler(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1"));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S1")));
    hand_over(f, DIST, PHARM, "pharmacy", LIST(U("S1")));
    EXPECT(CC_OK, send(f, MFR, "drug.recall",
                       json_pack("{s:s, s:o, s:s, s:s}", "gtin", GT, "serials", LIST("S1"), "class", "I",
                                 "reason", "contamination")));
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.return", ship("distributor", LIST(U("S1")), NULL)));
    SAYS("is recalled");
    EXPECT(CC_OK, send(f, PHARM, "drug.return", ship("pharma", LIST(U("S1")), NULL)));
}

static void test_recall(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2", "S3"));
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "L2", EXP, LIST("S4", "S5"))));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S2")));
    /* a unit of L1 on its way to the drugstore, and one of L2 to the pharmacy */
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "L1", EXP, LIST("S6"))));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("drugstore", LIST(U("S6")), NULL)));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("pharmacy", LIST(U("S5")), NULL)));
    json_t *lot1 = state(f, "dlot/" GT "/L1");
    list_is(json_object_get(lot1, "consignees"), "distributor,drugstore", "L1's consignees");
    json_decref(lot1);

    json_t *by_lot =
        json_pack("{s:s, s:s, s:s, s:s}", "gtin", GT, "lot", "L1", "class", "I", "reason", "glass");
    EXPECT(CC_ERR_FORBIDDEN, send(f, GEN, "drug.recall", json_deep_copy(by_lot)));
    SAYS("only the manufacturer of GTIN " GT " may recall it");
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.recall", json_deep_copy(by_lot)));
    SAYS("role distributor may not send drug.recall");
    assert_null(state(f, "drecall/" GT "/L1"));
    EXPECT(CC_OK, send(f, MFR, "drug.recall", json_deep_copy(by_lot)));
    json_t *r = state(f, "drecall/" GT "/L1");
    assert_non_null(r);
    assert_string_equal(jstr(r, "class"), "I");
    assert_string_equal(jstr(r, "txid"), f->txid);
    json_decref(r);
    /* every unit of the lot, wherever it is */
    verify_is(f, "S1", 0, "active", "Recalled", false, "recalled");
    verify_is(f, "S2", 0, "active", "Recalled", false, "recalled");
    verify_is(f, "S3", MFR, "active", "Recalled", false, "recalled");
    verify_is(f, "S4", 0, "active", "", true, "");
    r = alert_newest(f, "recalled");
    assert_non_null(r);
    assert_string_equal(jstr(r, "lot"), GT "/L1");
    /* the maker's, and every organisation the lot went to sees it */
    list_is(json_object_get(r, "orgs"), "pharma,distributor,drugstore", "lot recall alert orgs");
    json_decref(r);
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.recall", by_lot));
    SAYS("already recalled");
    EXPECT(CC_ERR_NOT_FOUND, send(f, MFR, "drug.recall",
                                  json_pack("{s:s, s:s, s:s, s:s}", "gtin", GT, "lot", "L7", "class", "III",
                                            "reason", "label")));
    SAYS("never commissioned");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.recall",
                                json_pack("{s:s, s:s, s:s, s:s}", "gtin", GT, "lot", "L2", "class", "IV",
                                          "reason", "label")));
    SAYS("\"class\"");
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.recall",
                                json_pack("{s:s, s:s, s:o, s:s, s:s}", "gtin", GT, "lot", "L2", "serials",
                                          LIST("S4"), "class", "II", "reason", "label")));
    SAYS("either a \"lot\" or \"serials\"");

    /* by serials: only those */
    EXPECT(CC_OK, send(f, MFR, "drug.recall",
                       json_pack("{s:s, s:o, s:s, s:s}", "gtin", GT, "serials", LIST("S4"), "class", "II",
                                 "reason", "label")));
    json_t *u = unit_rec(f, "S4");
    assert_string_equal(jstr(u, "recall"), f->txid);
    json_decref(u);
    verify_is(f, "S4", 0, "active", "Recalled", false, "recalled");
    verify_is(f, "S5", 0, "transit", "", true, "");
    EXPECT(CC_ERR_NOT_FOUND, send(f, MFR, "drug.recall",
                                  json_pack("{s:s, s:o, s:s, s:s}", "gtin", GT, "serials", LIST("S5", "S99"),
                                            "class", "II", "reason", "label")));
    u = unit_rec(f, "S5");
    assert_null(json_object_get(u, "recall")); /* the failed recall left S5 alone */
    json_decref(u);
    /* a recall by serials concerns each unit's holder and where it is going */
    EXPECT(CC_OK, send(f, MFR, "drug.recall",
                       json_pack("{s:s, s:o, s:s, s:s}", "gtin", GT, "serials", LIST("S5"), "class", "II",
                                 "reason", "label")));
    r = alert_newest(f, "recalled");
    list_is(json_object_get(r, "orgs"), "pharma,pharmacy", "serial recall alert orgs");
    json_decref(r);
    /* recalled units are neither packed nor shipped */
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.aggregate", aggregate(CASE1, LIST(U("S4")), NULL)));
    SAYS("is recalled");
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
}

/* ---- notifications ------------------------------------------------------------------------------- */

static json_t *notice(const char *kind, json_t *units)
{
    return json_pack("{s:o, s:s, s:s}", "units", units, "kind", kind, "reason", "label does not match");
}

static json_t *clear(json_t *units)
{
    return json_pack("{s:o, s:s}", "units", units, "reason", "investigated: genuine");
}

static void test_suspect_and_clear(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2"));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S1"), U("S2")));

    EXPECT(CC_ERR_FORBIDDEN, send(f, STORE, "drug.suspect", notice("suspect", LIST(U("S1")))));
    SAYS("drugstore has never held unit " U("S1"));
    EXPECT(CC_OK, send(f, DIST, "drug.suspect", notice("suspect", LIST(U("S1")))));
    json_t *u = unit_rec(f, "S1");
    assert_string_equal(jstr(u, "suspect"), f->txid);
    json_decref(u);
    json_t *a = alert_newest(f, "suspect");
    assert_non_null(a);
    assert_string_equal(jstr(a, "unit"), U("S1"));
    list_is(json_object_get(a, "orgs"), "distributor,pharma", "suspect alert orgs");
    json_decref(a);
    verify_is(f, "S1", DIST, "active", "Suspect", false, "suspect");
    /* quarantine */
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.ship", ship("pharmacy", LIST(U("S1")), NULL)));
    SAYS("quarantined as suspect");
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.aggregate", aggregate(CASE_DIST, LIST(U("S1")), NULL)));
    SAYS("quarantined as suspect");
    /* an uninvolved organisation may not clear it */
    EXPECT(CC_ERR_FORBIDDEN, send(f, STORE, "drug.clear", clear(LIST(U("S1")))));
    SAYS("only the notifying organisation, the manufacturer or a regulator");
    EXPECT(CC_OK, send(f, DIST, "drug.clear", clear(LIST(U("S1")))));
    u = unit_rec(f, "S1");
    assert_null(json_object_get(u, "suspect"));
    json_decref(u);
    verify_is(f, "S1", DIST, "active", "", true, "");
    EXPECT(CC_ERR_CONFLICT, send(f, DIST, "drug.clear", clear(LIST(U("S1")))));
    SAYS("no suspect or illegitimate notification");
    hand_over(f, DIST, PHARM, "pharmacy", LIST(U("S1")));

    /* a regulator's illegitimate notice blocks dispensing */
    EXPECT(CC_OK, send(f, REG, "drug.suspect", notice("illegitimate", LIST(U("S1")))));
    verify_is(f, "S1", PHARM, "active", "Illegitimate", false, "illegitimate");
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    SAYS("quarantined as illegitimate");
    /* the owner did not notify: it may not clear the regulator's notice */
    EXPECT(CC_ERR_FORBIDDEN, send(f, PHARM, "drug.clear", clear(LIST(U("S1")))));
    EXPECT(CC_ERR_FORBIDDEN, send(f, STORE, "drug.clear", clear(LIST(U("S1")))));
    EXPECT(CC_OK, send(f, REG, "drug.clear", clear(LIST(U("S1")))));
    EXPECT(CC_OK, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));

    /* the manufacturer may clear a notice too */
    EXPECT(CC_OK, send(f, DIST, "drug.suspect", notice("suspect", LIST(U("S2")))));
    EXPECT(CC_OK, send(f, MFR, "drug.clear", clear(LIST(U("S2")))));
    verify_is(f, "S2", DIST, "active", "", true, "");
    EXPECT(CC_ERR_INVALID, send(f, DIST, "drug.suspect", notice("fake", LIST(U("S2")))));
}

/* ---- decommissioning and expiry ---------------------------------------------------------------- */

static void test_decommission(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2"));
    EXPECT(CC_ERR_FORBIDDEN, send(f, DIST, "drug.decommission",
                                  json_pack("{s:o, s:s}", "units", LIST(U("S1")), "reason", "destroyed")));
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.decommission",
                                json_pack("{s:o, s:s}", "units", LIST(U("S1")), "reason", "lost")));
    EXPECT(CC_OK, send(f, MFR, "drug.decommission",
                       json_pack("{s:o, s:s}", "units", LIST(U("S1")), "reason", "destroyed")));
    unit_is(f, "S1", "destroyed", "pharma");
    verify_is(f, "S1", MFR, "destroyed", "Not_for_re-distribution", false, "");
    EXPECT(CC_OK, send(f, MFR, "drug.decommission",
                       json_pack("{s:o, s:s, s:s}", "units", LIST(U("S2")), "reason", "sample", "note",
                                 "QA retain")));
    verify_is(f, "S2", 0, "decommissioned", "Not_for_re-distribution", false, "");
    EXPECT(CC_ERR_CONFLICT, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S1")), NULL)));
    SAYS("is destroyed");
}

static void test_expiry(void **st)
{
    fixture *f = *st;
    /* expires 2025-11-30; the block time is 2025-11-24 */
    EXPECT(CC_OK, send(f, MFR, "drug.commission", commission(GT, "SHORT", "251130", LIST("E1", "E2"))));
    hand_over(f, MFR, DIST, "distributor", LIST(U("E1"), U("E2")));
    hand_over(f, DIST, PHARM, "pharmacy", LIST(U("E1"), U("E2")));
    verify_is(f, "E1", PHARM, "active", "", true, "");
    /* still good on its last day */
    f->t = 1764460800000ULL + 12 * 3600 * 1000ULL; /* 2025-11-30T12:00Z */
    EXPECT(CC_OK, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("E2")))));
    /* the next day it is expired */
    f->t += MS_DAY;
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("E1")))));
    SAYS("expired (251130)");
    unit_is(f, "E1", "active", "pharmacy");
    verify_is(f, "E1", PHARM, "active", "Expired", false, "expired");
    /* and the lot cannot grow any more */
    EXPECT(CC_ERR_INVALID, send(f, MFR, "drug.commission", commission(GT, "SHORT", "251130", LIST("E3"))));
    SAYS("already past");
}

/* ---- verification --------------------------------------------------------------------------------- */

static void no_match(fixture *f, const char *gtin, const char *serial, const char *lot, const char *exp,
                     const char *reason)
{
    json_t *v = verify_full(f, gtin, serial, lot, exp, 0, false);
    assert_false(json_is_true(json_object_get(v, "verified")));
    if (!jstr(v, "reason") || strcmp(jstr(v, "reason"), reason) != 0)
        fail_msg("%s.%s lot %s exp %s: reason %s, expected %s", gtin, serial, lot ? lot : "-",
                 exp ? exp : "-", jstr(v, "reason") ? jstr(v, "reason") : "(none)", reason);
    assert_false(json_is_true(json_object_get(v, "saleable")));
    json_decref(v);
}

static void test_verify(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1", "S2"));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S1")));

    no_match(f, GT_FREE, "S1", NULL, NULL, "No_match_GTIN");
    no_match(f, GT, "S9", NULL, NULL, "No_match_GTIN_Serial");
    no_match(f, GT, "S1", "L2", NULL, "No_match_GTIN_Serial_Lot");
    no_match(f, GT, "S1", NULL, "281230", "No_match_GTIN_Serial_Expiry");
    no_match(f, GT, "S1", "L2", "281230", "No_match_GTIN_Serial_Lot_Expiry");
    json_t *v = verify_full(f, GT, "S9", NULL, NULL, 0, false);
    list_is(json_object_get(v, "signals"), "unknown", "signals");
    json_decref(v);
    v = verify_full(f, GT, "S1", "L2", NULL, 0, false);
    list_is(json_object_get(v, "signals"), "mismatch", "signals");
    json_decref(v);
    v = verify_full(f, GT, "S1", "L1", EXP, 0, false);
    assert_true(json_is_true(json_object_get(v, "verified")));
    assert_null(json_object_get(v, "reason"));
    assert_string_equal(jstr(v, "gtin"), GT);
    assert_string_equal(jstr(v, "serial"), "S1");
    json_decref(v);
    v = verify_full(f, GT, "S1", "", "", 0, false); /* empty lot and expiry: not given */
    assert_true(json_is_true(json_object_get(v, "verified")));
    json_decref(v);

    /* the presenter: owner, past owner and manufacturer, regulator, strangers */
    verify_is(f, "S1", DIST, "active", "", true, "");
    verify_is(f, "S1", MFR, "active", "", true, "");
    verify_is(f, "S1", REG, "active", "", true, "");
    verify_is(f, "S1", PHARM, "active", "", true, "not_owner");
    verify_is(f, "S1", STORE, "active", "", true, "not_owner");
    verify_is(f, "S2", DIST, "active", "", true, "not_owner");
    assert_true(sees_history(f, "S1", DIST));
    assert_true(sees_history(f, "S1", MFR));
    assert_true(sees_history(f, "S1", REG));
    assert_false(sees_history(f, "S1", PHARM));
    assert_false(sees_history(f, "S1", STORE));
    assert_false(sees_history(f, "S1", 0));
    assert_false(sees_history(f, "S2", DIST));
    v = verify(f, "S1", REG);
    json_t *h = json_object_get(v, "history");
    assert_string_equal(jstr(h, "manufacturer"), "pharma");
    assert_string_equal(jstr(h, "lot"), "L1");
    list_is(json_object_get(h, "owners"), "pharma,distributor", "owners");
    assert_int_equal(json_array_size(json_object_get(h, "events")), 3); /* commission, ship, receive */
    json_decref(v);
}

/* ---- drug.alert ---------------------------------------------------------------------------------- */

static json_t *alert(fixture *f, const char *kind, int presenter, char request_fill)
{
    char request[CC_HASH_HEX];
    memset(request, request_fill, CC_HASH_HEX - 1);
    request[CC_HASH_HEX - 1] = '\0';
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", kind, "unit", U("S1"), "by", f->hex[presenter],
                     "request", request, "lot", "L1");
}

static void test_alert(void **st)
{
    fixture *f = *st;
    make_units(f, LIST("S1"));
    hand_over(f, MFR, DIST, "distributor", LIST(U("S1")));
    json_int_t before = alert_count(f);
    EXPECT(CC_OK, send(f, NODE, "drug.alert", alert(f, "not_owner", STORE, 'a')));
    assert_int_equal(alert_count(f), before + 1);
    json_t *a = state(f, "dalert/%lld", (long long)before + 1);
    assert_non_null(a);
    assert_string_equal(jstr(a, "kind"), "not_owner");
    assert_string_equal(jstr(a, "unit"), U("S1"));
    assert_string_equal(jstr(a, "txid"), f->txid);
    assert_int_equal(json_integer_value(json_object_get(a, "time")), (json_int_t)f->t + 1);
    list_is(json_object_get(a, "orgs"), "drugstore,pharma,distributor", "alert orgs");
    assert_string_equal(jstr(json_object_get(a, "detail"), "presenter"), f->hex[STORE]);
    assert_string_equal(jstr(json_object_get(a, "detail"), "presenter_org"), "drugstore");
    json_decref(a);
    a = state(f, "dalertreq/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_non_null(a);
    json_decref(a);
    /* one verification request, one alert */
    EXPECT(CC_ERR_DUPLICATE, send(f, NODE, "drug.alert", alert(f, "not_owner", STORE, 'a')));
    SAYS("already reported");
    EXPECT(CC_ERR_DUPLICATE, send(f, NODE, "drug.alert", alert(f, "clone", PHARM, 'a')));
    assert_int_equal(alert_count(f), before + 1);
    /* only a node records alerts */
    EXPECT(CC_ERR_FORBIDDEN, send(f, REG, "drug.alert", alert(f, "not_owner", STORE, 'b')));
    SAYS("role regulator may not send drug.alert");
    EXPECT(CC_ERR_FORBIDDEN, send(f, MFR, "drug.alert", alert(f, "not_owner", STORE, 'b')));
    EXPECT(CC_ERR_NOT_FOUND, send(f, NODE, "drug.alert", alert(f, "not_owner", STRANGER, 'b')));
    SAYS("not a registered identity");
    EXPECT(CC_ERR_INVALID, send(f, NODE, "drug.alert", alert(f, "missing", STORE, 'b')));
    SAYS("not a verification signal");
    assert_int_equal(alert_count(f), before + 1);
    EXPECT(CC_OK, send(f, NODE, "drug.alert", alert(f, "clone", PHARM, 'b')));
    assert_int_equal(alert_count(f), before + 2);
}

/* ---- epcis.capture -------------------------------------------------------------------------------- */

#define DOC_HEAD                                                                                             \
    "{\"@context\":[\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"],"                    \
    "\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\",\"creationDate\":\"2025-11-24T16:00:00.000Z\","    \
    "\"epcisBody\":{\"eventList\":["
#define DOC_TAIL "]}}"
#define EVENT(type, action, step)                                                                            \
    "{\"type\":\"" type "\",\"eventTime\":\"2025-11-24T11:00:00.000-05:00\",\"eventTimeZoneOffset\":"        \
    "\"-05:00\",\"action\":\"" action "\",\"bizStep\":\"" step "\","
#define SGTIN(s) "\"urn:epc:id:sgtin:0614141.107346." s "\""
#define SSCC_EPC "\"urn:epc:id:sscc:0614141.0000000017\""
#define COMMISSION(a, b)                                                                                     \
    EVENT("ObjectEvent", "ADD", "commissioning")                                                             \
    "\"epcList\":[" SGTIN(a) "," SGTIN(b) "],\"ilmd\":{\"cbvmda:lotNumber\":\"LOT42\","                      \
                                          "\"cbvmda:itemExpirationDate\":\"2028-12-31\"}}"
#define PACK(a, b)                                                                                           \
    EVENT("AggregationEvent", "ADD", "packing")                                                              \
    "\"parentID\":" SSCC_EPC ",\"childEPCs\":[" SGTIN(a) "," SGTIN(b) "]}"

/* The payload of an epcis.capture of doc signed by key number signer, at the
 * time of the next block (created), as the node would send it. */
static json_t *capture(fixture *f, int signer, const char *doc)
{
    cc_reqsig_headers h;
    cc_errbuf eb = {""};
    int64_t created_s = (int64_t)(next_block_ms(f) / 1000);
    if (cc_reqsig_sign(&f->k[signer], "POST", "/epcis/capture", "", (const uint8_t *)doc, strlen(doc),
                       created_s, &h, &eb) != CC_OK)
        fail_msg("cc_reqsig_sign: %s", eb.msg);
    return json_pack("{s:s, s:s, s:s, s:s}", "document", doc, "content_digest", h.content_digest,
                     "signature_input", h.signature_input, "signature", h.signature);
}

static void test_epcis_capture(void **st)
{
    fixture *f = *st;
    static const char doc[] = DOC_HEAD COMMISSION("A1", "A2") "," PACK("A1", "A2") DOC_TAIL;
    char ev0[CC_HASH_HEX + 4], ev1[CC_HASH_HEX + 4];
    json_t *p = capture(f, MFR, doc);
    json_t *again = json_deep_copy(p);
    /* the capturer signs; the node sends */
    EXPECT(CC_ERR_FORBIDDEN, send(f, MFR, "epcis.capture", json_deep_copy(p)));
    SAYS("role manufacturer may not send epcis.capture");
    EXPECT(CC_OK, send(f, NODE, "epcis.capture", p));
    snprintf(ev0, sizeof ev0, "%s:0", f->txid);
    snprintf(ev1, sizeof ev1, "%s:1", f->txid);
    const char *units[] = {"A1", "A2"};
    for (size_t i = 0; i < 2; i++) {
        json_t *u = unit_rec(f, units[i]);
        assert_non_null(u);
        assert_string_equal(jstr(u, "lot"), "LOT42");
        assert_string_equal(jstr(u, "exp"), "281231");
        assert_string_equal(jstr(u, "own"), "pharma"); /* the capturer's organisation, not the node's */
        assert_string_equal(jstr(u, "in"), CASE_EPC);
        json_t *evs = json_object_get(u, "ev");
        assert_int_equal(json_array_size(evs), 2);
        assert_string_equal(json_string_value(json_array_get(evs, 0)), ev0);
        assert_string_equal(json_string_value(json_array_get(evs, 1)), ev1);
        json_decref(u);
    }
    json_t *c = state(f, "dcase/" CASE_EPC);
    assert_string_equal(jstr(c, "own"), "pharma");
    list_is(json_object_get(c, "units"), U("A1") "," U("A2"), "case units");
    list_is(json_object_get(c, "ev"), ev1, "case events");
    json_decref(c);
    /* the replay guard: depcisreq/<sha256 of the signature bytes> names the tx */
    cc_reqsig_verified sig;
    cc_errbuf eb = {""};
    uint8_t sig_hash[CC_HASH_BYTES];
    char sig_hex[CC_HASH_HEX];
    assert_int_equal(cc_reqsig_verify("POST", "/epcis/capture", "", (const uint8_t *)doc, strlen(doc),
                                      jstr(again, "content_digest"), jstr(again, "signature_input"),
                                      jstr(again, "signature"), (int64_t)((f->t + 1) / 1000), &sig, &eb),
                     CC_OK);
    cc_sha256(sig.sig, sizeof sig.sig, sig_hash);
    json_t *seen = state(f, "depcisreq/%s", cc_hex(sig_hash, CC_HASH_BYTES, sig_hex));
    assert_non_null(seen);
    assert_string_equal(jstr(seen, "txid"), f->txid);
    json_decref(seen);
    verify_is(f, "A1", MFR, "active", "", true, "");

    /* the same signed document again */
    EXPECT(CC_ERR_DUPLICATE, send(f, NODE, "epcis.capture", again));
    SAYS("already captured");
}

/* A document whose 2nd event fails leaves nothing of the 1st. */
static void test_epcis_all_or_nothing(void **st)
{
    fixture *f = *st;
    /* the 2nd event packs a unit nobody commissioned */
    static const char doc[] = DOC_HEAD COMMISSION("B1", "B2") "," PACK("B1", "B9") DOC_TAIL;
    EXPECT(CC_ERR_NOT_FOUND, send(f, NODE, "epcis.capture", capture(f, MFR, doc)));
    SAYS("$.epcisBody.eventList[1]: ");
    SAYS("unit " U("B9") " was never commissioned");
    assert_null(unit_rec(f, "B1"));
    assert_null(unit_rec(f, "B2"));
    assert_null(state(f, "dlot/" GT "/LOT42"));
    assert_null(state(f, "dcase/" CASE_EPC));
    /* a refused document was not captured: sent again fixed, it applies */
    static const char fixed[] = DOC_HEAD COMMISSION("B1", "B2") "," PACK("B1", "B2") DOC_TAIL;
    EXPECT(CC_OK, send(f, NODE, "epcis.capture", capture(f, MFR, fixed)));
    unit_is(f, "B1", "active", "pharma");

    /* an event the capturer's role may not stand for */
    static const char dist_doc[] = DOC_HEAD COMMISSION("C1", "C2") DOC_TAIL;
    EXPECT(CC_ERR_FORBIDDEN, send(f, NODE, "epcis.capture", capture(f, DIST, dist_doc)));
    SAYS("$.epcisBody.eventList[0]: role distributor may not drug.commission");
    assert_null(unit_rec(f, "C1"));
}

static void test_epcis_signature(void **st)
{
    fixture *f = *st;
    static const char doc[] = DOC_HEAD COMMISSION("D1", "D2") DOC_TAIL;
    /* one byte changed after signing */
    json_t *p = capture(f, MFR, doc);
    char *tampered = strdup(doc);
    char *lot = strstr(tampered, "LOT42");
    assert_non_null(lot);
    lot[4] = '3';
    json_object_set_new(p, "document", json_string(tampered));
    free(tampered);
    EXPECT(CC_ERR_UNAUTHENTICATED, send(f, NODE, "epcis.capture", p));
    assert_null(unit_rec(f, "D1"));
    /* signed by a key nobody registered */
    EXPECT(CC_ERR_UNKNOWN_SIGNER, send(f, NODE, "epcis.capture", capture(f, STRANGER, doc)));
    SAYS("is not a registered identity");
    assert_null(unit_rec(f, "D1"));
    /* signed long before the block: the created time is checked against the block time */
    cc_reqsig_headers h;
    cc_errbuf eb = {""};
    assert_int_equal(cc_reqsig_sign(&f->k[MFR], "POST", "/epcis/capture", "", (const uint8_t *)doc,
                                    strlen(doc), (int64_t)(next_block_ms(f) / 1000) - 3600, &h, &eb),
                     CC_OK);
    EXPECT(CC_ERR_UNAUTHENTICATED,
           send(f, NODE, "epcis.capture",
                json_pack("{s:s, s:s, s:s, s:s}", "document", doc, "content_digest", h.content_digest,
                          "signature_input", h.signature_input, "signature", h.signature)));
    /* not EPCIS at all, properly signed */
    EXPECT(CC_ERR_INVALID, send(f, NODE, "epcis.capture", capture(f, MFR, "{\"type\":\"EPCISDocument\"}")));
    EXPECT(CC_OK, send(f, NODE, "epcis.capture", capture(f, MFR, doc)));
    unit_is(f, "D1", "active", "pharma");
}

/* ---- determinism ------------------------------------------------------------------------------------ */

/* Replay blocks 1..count of f's chain on a fresh chain in dir; root gets its state root. */
static void replay(fixture *f, uint64_t count, const char *dir, uint8_t root[CC_HASH_BYTES])
{
    cc_chain *c = NULL;
    cc_errbuf eb = {""};
    assert_int_equal(cc_chain_open(dir, (uint8_t *)f->genesis, strlen(f->genesis), NULL, &c, &eb), CC_OK);
    for (uint64_t h = 1; h <= count; h++) {
        uint8_t *raw = NULL;
        size_t len = 0;
        cc_block b;
        assert_int_equal(cc_chain_block_raw(f->c, h, &raw, &len), CC_OK);
        assert_int_equal(cc_block_decode(raw, len, &b, &eb), CC_OK);
        cc_result *results = calloc(b.tx_count + 1, sizeof *results);
        if (cc_chain_apply(c, &b, NULL, results, &eb) != CC_OK)
            fail_msg("apply block %llu: %s", (unsigned long long)h, eb.msg);
        free(results);
        cc_block_free(&b);
        free(raw);
    }
    cc_head head;
    cc_chain_head(c, &head);
    assert_int_equal(head.height, count);
    memcpy(root, head.state_root, CC_HASH_BYTES);
    /* a unit record byte for byte */
    char *mine = NULL, *theirs = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(cc_chain_state_get(f->c, "dunit/" GT "/S1", &mine, &n1), CC_OK);
    assert_int_equal(cc_chain_state_get(c, "dunit/" GT "/S1", &theirs, &n2), CC_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(mine, theirs, n1);
    free(mine);
    free(theirs);
    cc_chain_close(c);
}

static void test_determinism(void **st)
{
    fixture *f = *st;
    static const char doc[] = DOC_HEAD COMMISSION("A1", "A2") "," PACK("A1", "A2") DOC_TAIL;
    make_units(f, LIST("S1", "S2", "S3"));
    EXPECT(CC_OK, send(f, MFR, "drug.aggregate", aggregate(CASE1, LIST(U("S1"), U("S2")), NULL)));
    EXPECT(CC_OK, send(f, MFR, "drug.ship", ship("distributor", LIST(U("S3")), LIST(CASE1))));
    EXPECT(CC_OK, send(f, DIST, "drug.receive", receive(f->txid, NULL, LIST(CASE1))));
    EXPECT(CC_OK, send(f, DIST, "drug.disaggregate", json_pack("{s:s}", "sscc", CASE1)));
    hand_over(f, DIST, PHARM, "pharmacy", LIST(U("S1")));
    EXPECT(CC_OK, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    EXPECT(CC_ERR_CONFLICT, send(f, PHARM, "drug.dispense", json_pack("{s:o}", "units", LIST(U("S1")))));
    EXPECT(CC_OK,
           send(f, MFR, "drug.recall",
                json_pack("{s:s, s:s, s:s, s:s}", "gtin", GT, "lot", "L1", "class", "II", "reason", "x")));
    EXPECT(CC_OK, send(f, NODE, "drug.alert", alert(f, "clone", STORE, 'c')));
    EXPECT(CC_OK, send(f, NODE, "epcis.capture", capture(f, MFR, doc)));
    /* a capture that fails half way (the case is in use): nothing of it in any replica */
    EXPECT(CC_ERR_CONFLICT,
           send(f, NODE, "epcis.capture",
                capture(f, MFR, DOC_HEAD COMMISSION("B1", "B2") "," PACK("B1", "B2") DOC_TAIL)));
    assert_null(unit_rec(f, "B1"));

    cc_head head;
    cc_chain_head(f->c, &head);
    uint8_t roots[2][CC_HASH_BYTES];
    for (int i = 0; i < 2; i++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/replica%d", f->dir, i);
        replay(f, head.height, dir, roots[i]);
        assert_memory_equal(roots[i], head.state_root, CC_HASH_BYTES);
    }
    assert_memory_equal(roots[0], roots[1], CC_HASH_BYTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_transaction_dates),
        cmocka_unit_test_setup_teardown(test_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_product, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commission_batch_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commission_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commission_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_unexpected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_unexpected_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_packed_unit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_return, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recalled_return_to_wholesaler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suspect_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decommission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epcis_capture, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epcis_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epcis_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
    };
    return cmocka_run_group_tests_name("supply", tests, NULL, NULL) ? 1 : 0;
}
