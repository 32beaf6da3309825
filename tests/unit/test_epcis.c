/*
 * test_epcis.c — EPCIS 2.0 capture mapping and event rendering
 * (src/apps/epcis.c) over a small in-memory state: the official GS1
 * examples (read from the shared data directory, never copied here) are
 * refused for the reason carechain gives, mutated copies of them map onto
 * the lifecycle txs, our own documents cover every mapped bizStep, each
 * malformed document is refused at the JSON path of its fault, and every
 * mapped tx renders back as an event with the same EPCs, bizStep and action.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/supply.h"
#include "support/support.h"

/* ---- fixtures ------------------------------------------------------------------ */

/* The txid of a shipment the fake state knows (dship/<TXID>). */
#define TXID "abababababababababababababababababababababababababababababababab"

static json_t *state; /* key -> value, the fake ledger state */

static cc_err fake_get(void *ctx, const char *key, json_t **out)
{
    json_t *v = json_object_get((json_t *)ctx, key);
    if (!v) return CC_ERR_NOT_FOUND;
    *out = json_incref(v);
    return CC_OK;
}

static int setup(void **st)
{
    (void)st;
    state = json_pack("{s:{s:s}, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s}}", "dprefix/0614141", "org",
                      "pharma", "dprefix/0012345", "org", "distributor", "dproduct/10614141073464", "gtin",
                      "10614141073464", "prefix", "0614141", "org", "pharma", "dship/" TXID, "from", "pharma",
                      "to", "distributor");
    return state ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    json_decref(state);
    return 0;
}

/* An official example from the shared data directory, or NULL (and the
 * test is skipped, saying why) when the directory is not there. */
static json_t *example(const char *name)
{
    const char *base = getenv("CC_SHARED_DATA");
    if (!base) base = getenv("CARECHAIN_SHARED_DATA");
    char *path = ct_strf("%s/epcis/%s", base ? base : "../shared/data", name);
    size_t len = 0;
    uint8_t *bytes = ct_read_file(path, &len);
    json_t *doc = NULL;
    if (!bytes) {
        fprintf(stderr, "[  SKIPPED ] the GS1 EPCIS examples are not here (%s): set CC_SHARED_DATA\n", path);
    } else {
        cc_errbuf eb = {{0}};
        doc = cc_json_parse(bytes, len, &eb);
        if (!doc) fail_msg("%s: %s", path, eb.msg);
    }
    free(bytes);
    free(path);
    return doc;
}

#define DOC_HEAD                                                                                             \
    "{\"@context\":[\"https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld\"],"                    \
    "\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\",\"creationDate\":\"2026-11-25T10:00:00.000Z\","    \
    "\"epcisBody\":{\"eventList\":["
#define DOC_TAIL "]}}"

/* Our own events, as JSON text. */
#define EV_HEAD(type, action, step)                                                                          \
    "{\"type\":\"" type "\",\"eventTime\":\"2026-11-25T09:00:00.000-05:00\",\"eventTimeZoneOffset\":"        \
    "\"-05:00\",\"action\":\"" action "\",\"bizStep\":\"" step "\","
#define A1        "\"urn:epc:id:sgtin:0614141.107346.A1\""
#define A2        "\"urn:epc:id:sgtin:0614141.107346.A2\""
#define CASE      "\"urn:epc:id:sscc:0614141.0000000017\""
#define PALLET    "\"urn:epc:id:sscc:0614141.1234567890\""
#define CASE_ID   "006141410000000173"
#define PALLET_ID "106141412345678908"
#define UNIT_A1   "10614141073464.A1"
#define UNIT_A2   "10614141073464.A2"

#define COMMISSION                                                                                           \
    EV_HEAD("ObjectEvent", "ADD", "commissioning")                                                           \
    "\"epcList\":[" A1 "," A2 "],\"disposition\":\"active\",\"ilmd\":{\"cbvmda:lotNumber\":\"LOT42\","       \
    "\"cbvmda:itemExpirationDate\":\"2028-12-31\"}}"
#define PACK                                                                                                 \
    EV_HEAD("AggregationEvent", "ADD", "packing") "\"parentID\":" PALLET ",\"childEPCs\":[" A1 "," CASE "]}"
#define UNPACK                                                                                               \
    EV_HEAD("AggregationEvent", "DELETE", "urn:epcglobal:cbv:bizstep:unpacking") "\"parentID\":" PALLET "}"
#define SHIP                                                                                                 \
    EV_HEAD("ObjectEvent", "OBSERVE", "shipping")                                                            \
    "\"epcList\":[" A1 "," CASE "],\"destinationList\":[{\"type\":\"location\",\"destination\":"             \
    "\"urn:epc:id:sgln:0012345.11111.0\"},{\"type\":\"urn:epcglobal:cbv:sdt:owning_party\","                 \
    "\"destination\":\"urn:epc:id:sgln:0012345.11111.0\"}],\"bizTransactionList\":[{\"type\":\"inv\","       \
    "\"bizTransaction\":\"INV-1\"},{\"bizTransaction\":\"PO-9\"}]}"
#define RECEIVE EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[" CASE "]}"
#define DISPENSE                                                                                             \
    EV_HEAD("ObjectEvent", "OBSERVE", "https://ref.gs1.org/cbv/BizStep-dispensing") "\"epcList\":[" A1 "]}"
#define DESTROY EV_HEAD("ObjectEvent", "DELETE", "destroying") "\"epcList\":[" A2 "]}"
#define DECOMMISSION                                                                                         \
    EV_HEAD("ObjectEvent", "DELETE", "decommissioning") "\"epcList\":[" CASE "],\"example:note\":\"kept\"}"

static json_t *doc_of(const char *events)
{
    char *text = ct_strf(DOC_HEAD "%s" DOC_TAIL, events);
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (!doc) fail_msg("test document does not parse: %s", text);
    free(text);
    return doc;
}

static json_t *event_of(json_t *doc, size_t i)
{
    return json_array_get(json_object_get(json_object_get(doc, "epcisBody"), "eventList"), i);
}

/* Map doc (consumed); asserts success and returns the txs. */
static json_t *map_ok(json_t *doc)
{
    json_t *out = NULL;
    cc_errbuf eb = {{0}};
    cc_err rc = cc_epcis_map(doc, fake_get, state, &out, &eb);
    if (rc != CC_OK) fail_msg("map refused: %s", eb.msg);
    assert_non_null(out);
    json_decref(doc);
    return out;
}

/* Map doc (consumed); asserts the refusal: code, message starting with path,
 * and containing word (when not NULL). */
static void map_refused(json_t *doc, cc_err want, const char *path, const char *word)
{
    json_t *out = (json_t *)1;
    cc_errbuf eb = {{0}};
    cc_err rc = cc_epcis_map(doc, fake_get, state, &out, &eb);
    json_decref(doc);
    if (rc != want) fail_msg("want %s, got %s: %s", cc_err_name(want), cc_err_name(rc), eb.msg);
    assert_null(out);
    if (strncmp(eb.msg, path, strlen(path)) != 0)
        fail_msg("want a message starting \"%s\": %s", path, eb.msg);
    if (word && !strstr(eb.msg, word)) fail_msg("want \"%s\" in: %s", word, eb.msg);
}

static void refused_events(const char *events, const char *path, const char *word)
{
    map_refused(doc_of(events), CC_ERR_INVALID, path, word);
}

static void assert_payload(const json_t *tx, const char *type, const char *payload_json)
{
    json_t *want = json_loads(payload_json, 0, NULL);
    assert_non_null(want);
    assert_string_equal(json_string_value(json_object_get(tx, "type")), type);
    if (!json_equal(json_object_get(tx, "payload"), want)) {
        char *got = json_dumps(json_object_get(tx, "payload"), JSON_SORT_KEYS);
        fail_msg("%s payload\n got  %s\n want %s", type, got, payload_json);
    }
    json_decref(want);
}

/* ---- the official examples --------------------------------------------------------- */

static void test_official_examples_refused(void **st)
{
    (void)st;
    json_t *d1 = example("Example_9.6.1-ObjectEvent.jsonld");
    if (!d1) skip();
    map_refused(d1, CC_ERR_INVALID, "$.epcisBody.eventList[0].destinationList: ", "owning_party");
    json_t *d2 = example("Example_9.6.2-ObjectEvent.jsonld");
    assert_non_null(d2);
    map_refused(d2, CC_ERR_INVALID, "$.epcisBody.eventList[0].quantityList: ", "unsupported");
    json_t *d3 = example("Example_9.6.3-AggregationEvent.jsonld");
    assert_non_null(d3);
    map_refused(d3, CC_ERR_INVALID, "$.epcisBody.eventList[0].childQuantityList: ", "unsupported");
}

/* 9.6.1 with the receiving trading partner named maps to a shipment and
 * its receipt; the vendor extension and readPoint/bizLocation are kept. */
static void test_official_9_6_1_with_owner(void **st)
{
    (void)st;
    static const char *const gln[] = {"urn:epc:id:pgln:0012345.00000", "urn:epc:id:sgln:0012345.11111.0"};
    static const char *const sdt[] = {"owning_party", "https://ref.gs1.org/cbv/SDT-owning_party"};
    for (int k = 0; k < 2; k++) {
        json_t *doc = example("Example_9.6.1-ObjectEvent.jsonld");
        if (!doc) skip();
        json_object_set_new(event_of(doc, 0), "destinationList",
                            json_pack("[{s:s, s:s}]", "type", sdt[k], "destination", gln[k]));
        json_t *txs = map_ok(doc);
        assert_int_equal(json_array_size(txs), 2);
        assert_payload(json_array_get(txs, 0), "drug.ship",
                       "{\"to\":\"distributor\",\"units\":[\"10614141073464.2017\",\"10614141073464.2018\"],"
                       "\"transaction\":{\"id\":\"http://transaction.acme.com/po/12345678\","
                       "\"date\":\"2005-04-03\",\"statement\":true}}");
        assert_payload(json_array_get(txs, 1), "drug.receive", "{\"units\":[\"10614141073464.2018\"]}");
        json_decref(txs);
    }
}

/* A GLN whose company prefix nobody holds is NOT_FOUND, naming the GLN. */
static void test_unknown_gln(void **st)
{
    (void)st;
    json_t *doc = example("Example_9.6.1-ObjectEvent.jsonld");
    if (!doc) skip();
    json_object_set_new(
        event_of(doc, 0), "destinationList",
        json_pack("[{s:s, s:s}]", "type", "owning_party", "destination", "urn:epc:id:pgln:0099999.00000"));
    map_refused(doc, CC_ERR_NOT_FOUND,
                "$.epcisBody.eventList[0].destinationList[0].destination: ", "urn:epc:id:pgln:0099999.00000");
}

/* 9.6.3 without its class-level list is an OBSERVE aggregation: refused
 * (carechain records packing and unpacking only); as ADD packing it maps. */
static void test_official_9_6_3_aggregation(void **st)
{
    (void)st;
    json_t *doc = example("Example_9.6.3-AggregationEvent.jsonld");
    if (!doc) skip();
    json_object_del(event_of(doc, 0), "childQuantityList");
    map_refused(json_deep_copy(doc), CC_ERR_INVALID, "$.epcisBody.eventList[0].action: ", "unsupported");
    json_object_set_new(event_of(doc, 0), "action", json_string("ADD"));
    map_refused(json_deep_copy(doc), CC_ERR_INVALID, "$.epcisBody.eventList[0].bizStep: ", "unsupported");
    json_object_set_new(event_of(doc, 0), "bizStep", json_string("packing"));
    json_t *txs = map_ok(doc);
    assert_payload(json_array_get(txs, 0), "drug.aggregate",
                   "{\"sscc\":\"" PALLET_ID
                   "\",\"units\":[\"10614141073464.2017\",\"10614141073464.2018\"]}");
    json_decref(txs);
}

/* ---- our own documents ------------------------------------------------------------ */

static void test_every_bizstep(void **st)
{
    (void)st;
    json_t *txs = map_ok(doc_of(COMMISSION "," PACK "," UNPACK "," SHIP "," RECEIVE "," DISPENSE "," DESTROY
                                           "," DECOMMISSION));
    assert_int_equal(json_array_size(txs), 8);
    assert_payload(json_array_get(txs, 0), "drug.commission",
                   "{\"gtin\":\"10614141073464\",\"lot\":\"LOT42\",\"exp\":\"281231\","
                   "\"serials\":[\"A1\",\"A2\"]}");
    assert_payload(json_array_get(txs, 1), "drug.aggregate",
                   "{\"sscc\":\"" PALLET_ID "\",\"units\":[\"" UNIT_A1 "\"],\"cases\":[\"" CASE_ID "\"]}");
    assert_payload(json_array_get(txs, 2), "drug.disaggregate", "{\"sscc\":\"" PALLET_ID "\"}");
    assert_payload(json_array_get(txs, 3), "drug.ship",
                   "{\"to\":\"distributor\",\"units\":[\"" UNIT_A1 "\"],\"cases\":[\"" CASE_ID "\"],"
                   "\"transaction\":{\"id\":\"INV-1\",\"date\":\"2026-11-25\",\"statement\":true}}");
    assert_payload(json_array_get(txs, 4), "drug.receive", "{\"cases\":[\"" CASE_ID "\"]}");
    assert_payload(json_array_get(txs, 5), "drug.dispense", "{\"units\":[\"" UNIT_A1 "\"]}");
    assert_payload(json_array_get(txs, 6), "drug.decommission",
                   "{\"units\":[\"" UNIT_A2 "\"],\"reason\":\"destroyed\"}");
    assert_payload(json_array_get(txs, 7), "drug.decommission",
                   "{\"cases\":[\"" CASE_ID "\"],\"reason\":\"other\"}");
    json_decref(txs);
}

/* Digital Link URIs are EPCs too in EPCIS 2.0; schemaVersion 2.0.0 and a
 * string @context are accepted; packing may leave out bizStep. */
static void test_accepted_variants(void **st)
{
    (void)st;
    json_t *doc = doc_of(EV_HEAD(
        "ObjectEvent", "OBSERVE",
        "receiving") "\"epcList\":["
                     "\"https://id.gs1.org/01/10614141073464/21/A1\",\"https://example.com/00/" CASE_ID
                     "\"],\"eventID\":\"ni:///sha-256;00?ver=CBV2.0\"},"
                     "{\"type\":\"AggregationEvent\",\"eventTime\":\"2026-11-25T14:00:00.123456Z\","
                     "\"eventTimeZoneOffset\":\"+00:00\",\"action\":\"ADD\",\"parentID\":" PALLET
                     ",\"childEPCs\":[" CASE
                     "],\"eventID\":\"urn:uuid:7b0d6b8a-3f0e-4c59-9d5a-1d2b3c4d5e6f\"}");
    json_object_set_new(doc, "schemaVersion", json_string("2.0.0"));
    json_object_set_new(doc, "@context",
                        json_string("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"));
    json_t *txs = map_ok(doc);
    assert_payload(json_array_get(txs, 0), "drug.receive",
                   "{\"units\":[\"" UNIT_A1 "\"],\"cases\":[\"" CASE_ID "\"]}");
    assert_payload(json_array_get(txs, 1), "drug.aggregate",
                   "{\"sscc\":\"" PALLET_ID "\",\"cases\":[\"" CASE_ID "\"]}");
    json_decref(txs);
}

/* RFC 3339 as EPCIS uses it: the date must exist, an offset is required. */
static void test_event_times(void **st)
{
    (void)st;
    static const struct {
        const char *time;
        bool ok;
    } cases[] = {
        {"2024-02-29T23:59:60.5+14:00", true},    {"2000-02-29T00:00:00z", true},
        {"2026-11-25t10:00:00.123456789Z", true}, {"2100-02-29T00:00:00Z", false},
        {"2026-04-31T00:00:00Z", false},          {"2026-11-25T24:00:00Z", false},
        {"2026-11-25T10:00:00.Z", false},         {"2026-11-25T10:00:00.1234567890Z", false},
        {"2026-11-25T10:00:00+0100", false},      {"2026-11-25 10:00:00Z", false},
        {"2026-11-25T10:00:00Z ", false},         {"26-11-25T10:00:00Z", false},
        {"2026-11-25T10:00:00-23:59", true},      {"2026-11-25T10:00:00+24:00", false},
        {"2026-11-25T10:00:00+05:60", false},     {"2026-11-25T10:00:00+05:3", false},
        {"2026-11-25T10:00:00+05:30x", false},    {"2026-11-25T10:60:00Z", false},
        {"2026-11-25T10:00:61Z", false},          {"2026-1a-25T10:00:00Z", false},
        {"2026-11-25T1-:00:00Z", false},          {"+026-11-25T10:00:00Z", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = doc_of(RECEIVE);
        json_object_set_new(event_of(doc, 0), "eventTime", json_string(cases[i].time));
        if (cases[i].ok)
            json_decref(map_ok(doc));
        else
            map_refused(doc, CC_ERR_INVALID, "$.epcisBody.eventList[0].eventTime: ", "RFC 3339");
    }
}

/* ---- malformed and unsupported documents ----------------------------------------- */

static void test_document_level_refusals(void **st)
{
    (void)st;
    static const struct {
        const char *field, *value_json, *path;
    } cases[] = {
        {"type", "\"EPCISQueryDocument\"", "$.type: "},
        {"type", "null", "$.type: "},
        {"schemaVersion", "\"1.2\"", "$.schemaVersion: "},
        {"schemaVersion", "2.0", "$.schemaVersion: "},
        {"@context", "null", "$.@context: "},
        {"@context", "[]", "$.@context: "},
        {"creationDate", "\"2026-11-25 10:00\"", "$.creationDate: "},
        {"epcisBody", "{}", "$.epcisBody.eventList: "},
        {"epcisBody", "{\"eventList\":[]}", "$.epcisBody.eventList: "},
        {"epcisBody", "[]", "$.epcisBody: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = doc_of(RECEIVE);
        json_t *v = json_loads(cases[i].value_json, JSON_DECODE_ANY, NULL);
        if (v)
            json_object_set_new(doc, cases[i].field, v);
        else
            json_object_del(doc, cases[i].field);
        map_refused(doc, CC_ERR_INVALID, cases[i].path, NULL);
    }
    json_t *arr = json_array();
    map_refused(arr, CC_ERR_INVALID, "$: ", NULL);
}

static void test_event_refusals(void **st)
{
    (void)st;
    /* times */
    refused_events("{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-02-30T10:00:00Z\",\"eventTimeZoneOffset\":"
                   "\"+00:00\",\"action\":\"OBSERVE\",\"bizStep\":\"receiving\",\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].eventTime: ", "RFC 3339");
    refused_events("{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-11-25T10:00:00\",\"eventTimeZoneOffset\":"
                   "\"+00:00\",\"action\":\"OBSERVE\",\"bizStep\":\"receiving\",\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].eventTime: ", "offset");
    refused_events("{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-11-25T10:00:00Z\",\"eventTimeZoneOffset\":"
                   "\"-5:00\",\"action\":\"OBSERVE\",\"bizStep\":\"receiving\",\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].eventTimeZoneOffset: ", "+hh:mm");
    refused_events("{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-11-25T10:00:00Z\",\"action\":\"OBSERVE\","
                   "\"bizStep\":\"receiving\",\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0]: ", "eventTimeZoneOffset");
    /* the second event is the faulty one: its index is named */
    refused_events(RECEIVE
                   ",{\"type\":\"ObjectEvent\",\"eventTime\":\"2026-11-25T10:00:00Z\","
                   "\"eventTimeZoneOffset\":\"+00:00\",\"action\":\"OBSERVE\",\"bizStep\":\"receiving\","
                   "\"epcList\":[" A1 "],\"eventID\":\"not a uri\"}",
                   "$.epcisBody.eventList[1].eventID: ", "URI");
    /* types, actions, bizSteps */
    refused_events("{\"type\":\"TransformationEvent\",\"eventTime\":\"2026-11-25T10:00:00Z\","
                   "\"eventTimeZoneOffset\":\"+00:00\"}",
                   "$.epcisBody.eventList[0].type: ", "unsupported");
    refused_events("{\"type\":\"AssociationEvent\"}", "$.epcisBody.eventList[0].type: ", "unsupported");
    refused_events("{\"type\":\"TransactionEvent\"}", "$.epcisBody.eventList[0].type: ", "unsupported");
    refused_events("{\"type\":\"QuantityEvent\"}", "$.epcisBody.eventList[0].type: ", "not an EPCIS");
    refused_events("\"shipping\"", "$.epcisBody.eventList[0]: ", "object");
    refused_events(EV_HEAD("ObjectEvent", "ADD", "shipping") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].action: ", "OBSERVE");
    refused_events(EV_HEAD("ObjectEvent", "MOVE", "receiving") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].action: ", "ADD, OBSERVE or DELETE");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "storing") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].bizStep: ", "unsupported");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "urn:example:bizstep:scan") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].bizStep: ", "unsupported");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "Shipping!") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].bizStep: ", "neither");
    refused_events(EV_HEAD("AggregationEvent", "DELETE", "packing") "\"parentID\":" PALLET "}",
                   "$.epcisBody.eventList[0].bizStep: ", "unsupported");
    refused_events(EV_HEAD("AggregationEvent", "ADD", "packing") "\"parentID\":" A1 ",\"childEPCs\":[" A2
                                                                 "]}",
                   "$.epcisBody.eventList[0].parentID: ", "unsupported");
    refused_events(EV_HEAD("AggregationEvent", "ADD", "packing") "\"childEPCs\":[" A2 "]}",
                   "$.epcisBody.eventList[0]: ", "parentID");
    refused_events(EV_HEAD("AggregationEvent", "ADD", "packing") "\"parentID\":" PALLET "}",
                   "$.epcisBody.eventList[0]: ", "childEPCs");
    refused_events(EV_HEAD("AggregationEvent", "ADD", "packing") "\"parentID\":" PALLET
                                                                 ",\"childEPCs\":[" PALLET "]}",
                   "$.epcisBody.eventList[0].childEPCs: ", "itself");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE",
                           "receiving") "\"epcList\":[" A1 "],\"errorDeclaration\":{\"declarationTime\":"
                                        "\"2026-11-26T10:00:00Z\"}}",
                   "$.epcisBody.eventList[0].errorDeclaration: ", "unsupported");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcClass\":\"urn:epc:class:lgtin:0614141."
                                                       "107346.LOT42\"}",
        "$.epcisBody.eventList[0].epcClass: ", "unsupported");
    /* EPCs */
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":["
                                                       "\"https://id.gs1.org/01/10614141073465/21/A1\"]}",
        "$.epcisBody.eventList[0].epcList[0]: ", "check digit");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[" A1 ","
                                                       "\"https://id.gs1.org/00/006141410000000174\"]}",
        "$.epcisBody.eventList[0].epcList[1]: ", "check digit");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[\"urn:epc:id:grai:0614141.12345.400\"]}",
        "$.epcisBody.eventList[0].epcList[0]: ", "unsupported");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[\"(01)10614141073464(21)A1\"]}",
        "$.epcisBody.eventList[0].epcList[0]: ", "not an EPC URI");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[" A1 ",17]}",
                   "$.epcisBody.eventList[0].epcList[1]: ", NULL);
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[" A1 "," A2 ","
                                                       "\"https://id.gs1.org/01/10614141073464/21/A1\"]}",
        "$.epcisBody.eventList[0].epcList: ", "twice");
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"epcList\":[]}",
                   "$.epcisBody.eventList[0].epcList: ", NULL);
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "receiving") "\"x\":1}",
                   "$.epcisBody.eventList[0]: ", "epcList");
    /* commissioning */
    refused_events(EV_HEAD("ObjectEvent", "ADD",
                           "commissioning") "\"epcList\":[" A1 ",\"urn:epc:id:sgtin:0614141.107347.A2\"],"
                                            "\"ilmd\":{\"cbvmda:lotNumber\":\"L1\","
                                            "\"cbvmda:itemExpirationDate\":\"2028-12-31\"}}",
                   "$.epcisBody.eventList[0].epcList[1]: ", "GTIN");
    refused_events(EV_HEAD("ObjectEvent", "ADD", "commissioning") "\"epcList\":[" A1 "]}",
                   "$.epcisBody.eventList[0].ilmd: ", "lotNumber");
    refused_events(EV_HEAD("ObjectEvent", "ADD", "commissioning") "\"epcList\":[" A1
                                                                  "],\"ilmd\":{\"cbvmda:itemExpirationDate\":"
                                                                  "\"2028-12-31\"}}",
                   "$.epcisBody.eventList[0].ilmd.cbvmda:lotNumber: ", NULL);
    refused_events(EV_HEAD("ObjectEvent", "ADD",
                           "commissioning") "\"epcList\":[" A1 "],\"ilmd\":{\"cbvmda:lotNumber\":\"L1\","
                                            "\"cbvmda:itemExpirationDate\":\"31.12.2028\"}}",
                   "$.epcisBody.eventList[0].ilmd.cbvmda:itemExpirationDate: ", "31.12.2028");
    refused_events(EV_HEAD("ObjectEvent", "ADD",
                           "commissioning") "\"epcList\":[" CASE "],\"ilmd\":{\"cbvmda:lotNumber\":\"L1\","
                                            "\"cbvmda:itemExpirationDate\":\"2028-12-31\"}}",
                   "$.epcisBody.eventList[0].epcList: ", "packed");
    /* shipping */
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "shipping") "\"epcList\":[" A1
                                                                 "],\"destinationList\":[{\"type\":"
                                                                 "\"owning_party\",\"destination\":"
                                                                 "\"urn:epc:id:pgln:0012345.00000\"}]}",
                   "$.epcisBody.eventList[0].bizTransactionList: ", "transaction id");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "shipping") "\"epcList\":[" A1 "],\"destinationList\":[{\"type\":"
                                                      "\"owning_party\",\"destination\":"
                                                      "\"urn:epc:id:pgln:0012345.00000\"},{\"type\":"
                                                      "\"owning_party\",\"destination\":"
                                                      "\"urn:epc:id:pgln:0614141.00000\"}],"
                                                      "\"bizTransactionList\":[{\"bizTransaction\":"
                                                      "\"I\"}]}",
        "$.epcisBody.eventList[0].destinationList[1]: ", "second owning_party");
    /* the event's date is the DSCSA transaction date, which starts in 2000 */
    refused_events("{\"type\":\"ObjectEvent\",\"eventTime\":\"1999-12-31T23:00:00.000-05:00\","
                   "\"eventTimeZoneOffset\":\"-05:00\",\"action\":\"OBSERVE\",\"bizStep\":\"shipping\","
                   "\"epcList\":[" A1 "],\"destinationList\":[{\"type\":\"owning_party\",\"destination\":"
                   "\"urn:epc:id:pgln:0012345.00000\"}],\"bizTransactionList\":[{\"bizTransaction\":\"I\"}]}",
                   "$.epcisBody.eventList[0].eventTime: ", "1999-12-31, must be in 2000 or later");
    refused_events(
        EV_HEAD("ObjectEvent", "OBSERVE", "shipping") "\"epcList\":[" A1 "],\"destinationList\":[{\"type\":"
                                                      "\"owning_party\",\"destination\":"
                                                      "\"urn:epc:id:sgtin:0614141.107346.A1\"}],"
                                                      "\"bizTransactionList\":[{\"bizTransaction\":"
                                                      "\"I\"}]}",
        "$.epcisBody.eventList[0].destinationList[0].destination: ", "GLN");
    /* dispensing a case */
    refused_events(EV_HEAD("ObjectEvent", "OBSERVE", "dispensing") "\"epcList\":[" A1 "," CASE "]}",
                   "$.epcisBody.eventList[0].epcList: ", "not cases");
}

/* More than CC_SUPPLY_BATCH_MAX EPCs across one document is refused at the
 * event that crosses the limit. */
static void test_document_epc_limit(void **st)
{
    (void)st;
    json_t *doc = doc_of(RECEIVE "," RECEIVE);
    for (size_t e = 0; e < 2; e++) {
        json_t *list = json_array();
        size_t n = e == 0 ? CC_SUPPLY_BATCH_MAX / 2 : CC_SUPPLY_BATCH_MAX / 2 + 1;
        for (size_t i = 0; i < n; i++) {
            char epc[64];
            snprintf(epc, sizeof epc, "urn:epc:id:sgtin:0614141.107346.S%zu", i);
            json_array_append_new(list, json_string(epc));
        }
        json_object_set_new(event_of(doc, e), "epcList", list);
    }
    json_t *first = json_deep_copy(doc);
    json_array_remove(json_object_get(json_object_get(first, "epcisBody"), "eventList"), 1);
    json_decref(map_ok(first));
    map_refused(doc, CC_ERR_INVALID, "$.epcisBody.eventList[1].epcList: ", "more than 10000");
}

/* ---- rendering -------------------------------------------------------------------- */

/* The EPCs of an event as payload forms ("<gtin>.<serial>" or an SSCC),
 * sorted into one JSON array, so that two events can be compared. */
static json_t *epc_set(const json_t *ev, const char *field)
{
    json_t *set = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(ev, field), i, v)
    {
        cc_gs1_id id;
        cc_errbuf eb = {{0}};
        if (cc_gs1_parse(json_string_value(v), &id, &eb) != CC_OK)
            fail_msg("%s: %s", json_string_value(v), eb.msg);
        char *s = id.kind == CC_GS1_SGTIN ? ct_strf("%s.%s", id.gtin, id.serial) : ct_strf("%s", id.sscc);
        size_t at = 0;
        while (at < json_array_size(set) && strcmp(json_string_value(json_array_get(set, at)), s) < 0) at++;
        json_array_insert_new(set, at, json_string(s));
        free(s);
    }
    return set;
}

static const char *bare_step(const json_t *ev)
{
    const char *s = json_string_value(json_object_get(ev, "bizStep"));
    const char *colon = s ? strrchr(s, ':') : NULL, *dash = s ? strrchr(s, '-') : NULL;
    return !s ? "" : dash && strncmp(s, "https:", 6) == 0 ? dash + 1 : colon ? colon + 1 : s;
}

static void assert_same_epcs(const json_t *a, const char *fa, const json_t *b, const char *fb)
{
    json_t *x = epc_set(a, fa), *y = epc_set(b, fb);
    if (!json_equal(x, y)) {
        char *sx = json_dumps(x, 0), *sy = json_dumps(y, 0);
        fail_msg("EPCs differ: %s vs %s", sx, sy);
    }
    json_decref(x);
    json_decref(y);
}

/* Every mapped tx renders back as an event meaning what the captured one
 * meant: the same EPCs, bizStep and action. */
static void test_round_trip(void **st)
{
    (void)st;
    json_t *doc =
        doc_of(COMMISSION "," PACK "," UNPACK "," SHIP "," RECEIVE "," DISPENSE "," DESTROY "," DECOMMISSION);
    json_t *txs = map_ok(json_deep_copy(doc)), *tx;
    size_t i;
    json_array_foreach(txs, i, tx)
    {
        const json_t *orig = event_of(doc, i);
        json_t *ev = cc_epcis_render(json_string_value(json_object_get(tx, "type")),
                                     json_object_get(tx, "payload"), TXID, 1764064800123ull, fake_get, state);
        assert_non_null(ev);
        assert_string_equal(json_string_value(json_object_get(ev, "type")),
                            json_string_value(json_object_get(orig, "type")));
        assert_string_equal(json_string_value(json_object_get(ev, "action")),
                            json_string_value(json_object_get(orig, "action")));
        assert_string_equal(bare_step(ev), bare_step(orig));
        if (json_object_get(orig, "parentID")) {
            assert_string_equal(json_string_value(json_object_get(ev, "parentID")),
                                json_string_value(json_object_get(orig, "parentID")));
            if (strcmp(json_string_value(json_object_get(orig, "action")), "ADD") == 0)
                assert_same_epcs(ev, "childEPCs", orig, "childEPCs");
            else
                assert_null(json_object_get(ev, "childEPCs"));
        } else {
            assert_same_epcs(ev, "epcList", orig, "epcList");
            /* the company prefix length came from state: the very URIs come back */
            assert_true(json_equal(json_object_get(ev, "epcList"), json_object_get(orig, "epcList")));
        }
        assert_string_equal(json_string_value(json_object_get(ev, "eventTime")), "2025-11-25T10:00:00.123Z");
        assert_string_equal(json_string_value(json_object_get(ev, "recordTime")), "2025-11-25T10:00:00.123Z");
        assert_string_equal(json_string_value(json_object_get(ev, "eventTimeZoneOffset")), "+00:00");
        assert_string_equal(json_string_value(json_object_get(ev, "eventID")),
                            "ni:///sha-256;50b73e59d5b1154761f827f96668cb775a38699552349fafd14b98bc2e52677f"
                            "?ver=CBV2.0");
        json_decref(ev);
    }
    json_decref(txs);
    json_decref(doc);
}

static void test_render_details(void **st)
{
    (void)st;
    json_t *p = json_pack("{s:s, s:[s], s:{s:s, s:s, s:b}}", "to", "distributor", "units", UNIT_A1,
                          "transaction", "id", "INV-1", "date", "2026-11-25", "statement", 1);
    json_t *ev = cc_epcis_render("drug.ship", p, TXID, 951782400000ull, fake_get, state);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "eventTime")), "2000-02-29T00:00:00.000Z");
    json_t *want =
        json_loads("{\"sourceList\":[{\"type\":\"owning_party\",\"source\":\"urn:carechain:org:pharma\"}],"
                   "\"destinationList\":[{\"type\":\"owning_party\",\"destination\":"
                   "\"urn:carechain:org:distributor\"}],\"bizTransactionList\":[{\"type\":\"inv\","
                   "\"bizTransaction\":\"INV-1\"}],\"disposition\":\"in_transit\"}",
                   0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v)
    {
        if (!json_equal(json_object_get(ev, k), v)) fail_msg("ship event's %s differs", k);
    }
    json_decref(want);
    json_decref(ev);

    /* a return is shipping too, disposition returned; without a shipment record no sourceList */
    ev = cc_epcis_render("drug.return", p, "cd", 0, fake_get, state);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "bizStep")), "shipping");
    assert_string_equal(json_string_value(json_object_get(ev, "disposition")), "returned");
    assert_null(json_object_get(ev, "sourceList"));
    assert_string_equal(json_string_value(json_object_get(ev, "eventTime")), "1970-01-01T00:00:00.000Z");
    json_decref(ev);
    json_decref(p);

    /* a GTIN nobody registered: a GS1 Digital Link stands in for the EPC URI */
    p = json_pack("{s:[s]}", "units", "00312345678906.SN1");
    ev = cc_epcis_render("drug.dispense", p, TXID, 0, fake_get, state);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "epcList"), 0)),
                        "https://id.gs1.org/01/00312345678906/21/SN1");
    json_decref(ev);

    /* flags on units are no EPCIS events; nor is anything else */
    assert_null(cc_epcis_render("drug.suspect", p, TXID, 0, fake_get, state));
    assert_null(cc_epcis_render("drug.recall", p, TXID, 0, fake_get, state));
    assert_null(cc_epcis_render("drug.clear", p, TXID, 0, fake_get, state));
    assert_null(cc_epcis_render("note.put", p, TXID, 0, fake_get, state));
    json_decref(p);

    /* commissioning carries lot and expiry in ilmd */
    p = json_pack("{s:s, s:s, s:s, s:[s]}", "gtin", "10614141073464", "lot", "LOT42", "exp", "280200",
                  "serials", "A/1");
    ev = cc_epcis_render("drug.commission", p, TXID, 0, fake_get, state);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "ilmd"), "cbvmda:lotNumber")),
                        "LOT42");
    assert_non_null(
        json_string_value(json_object_get(json_object_get(ev, "ilmd"), "cbvmda:itemExpirationDate")));
    json_t *set = epc_set(ev, "epcList");
    assert_string_equal(json_string_value(json_array_get(set, 0)), "10614141073464.A/1");
    json_decref(set);
    json_decref(ev);
    json_decref(p);

    /* a commission by range lists every EPC of the range */
    p = json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}}", "gtin", "10614141073464", "lot", "LOT42", "exp",
                  "280200", "range", "prefix", "SN", "start", 7, "count", 3, "width", 4);
    ev = cc_epcis_render("drug.commission", p, TXID, 0, fake_get, state);
    assert_non_null(ev);
    set = epc_set(ev, "epcList");
    assert_int_equal(json_array_size(set), 3);
    assert_string_equal(json_string_value(json_array_get(set, 0)), "10614141073464.SN0007");
    assert_string_equal(json_string_value(json_array_get(set, 2)), "10614141073464.SN0009");
    json_decref(set);
    json_decref(ev);
    json_decref(p);
}

static void test_recorded_and_query_document(void **st)
{
    (void)st;
    json_t *ev = json_pack("{s:s, s:s}", "type", "ObjectEvent", "example:myField", "kept");
    json_t *rec = cc_epcis_recorded(ev, 1764064800123ull);
    assert_non_null(rec);
    assert_null(json_object_get(ev, "recordTime")); /* a copy */
    assert_string_equal(json_string_value(json_object_get(rec, "recordTime")), "2025-11-25T10:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(rec, "example:myField")), "kept");
    json_t *events = json_array();
    json_array_append_new(events, rec);
    json_t *q = cc_epcis_query_document(events, 1764064800123ull);
    assert_non_null(q);
    assert_string_equal(json_string_value(json_object_get(q, "type")), "EPCISQueryDocument");
    assert_string_equal(json_string_value(json_object_get(q, "schemaVersion")), "2.0");
    assert_string_equal(json_string_value(json_object_get(q, "@context")),
                        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld");
    assert_string_equal(json_string_value(json_object_get(q, "creationDate")), "2025-11-25T10:00:00.123Z");
    json_t *results = json_object_get(json_object_get(q, "epcisBody"), "queryResults");
    assert_string_equal(json_string_value(json_object_get(results, "queryName")), "SimpleEventQuery");
    assert_int_equal(json_array_size(json_object_get(json_object_get(results, "resultsBody"), "eventList")),
                     1);
    json_decref(q);
    json_decref(ev);
}

/* ---- identifiers -------------------------------------------------------------------- */

static void test_supply_ids(void **st)
{
    (void)st;
    char gtin[CC_GS1_GTIN_DIGITS + 1], serial[CC_GS1_SERIAL_MAX + 1], org[64];
    unsigned len = 0;
    assert_true(cc_supply_unit_split("10614141073464.A.1", gtin, serial));
    assert_string_equal(gtin, "10614141073464");
    assert_string_equal(serial, "A.1");
    assert_false(cc_supply_unit_valid("10614141073465.A1")); /* check digit */
    assert_false(cc_supply_unit_valid("10614141073464."));
    assert_false(cc_supply_unit_valid("10614141073464A1"));
    assert_false(cc_supply_unit_valid("1061414107346.A1"));
    assert_false(cc_supply_unit_valid(NULL));
    assert_true(cc_supply_sscc_valid(CASE_ID));
    assert_false(cc_supply_sscc_valid("006141410000000174"));
    assert_int_equal(cc_supply_prefix_owner(fake_get, state, "06141410734", org, &len), CC_OK);
    assert_string_equal(org, "pharma");
    assert_int_equal(len, 7);
    assert_int_equal(cc_supply_prefix_owner(fake_get, state, "0012345", org, &len), CC_OK);
    assert_string_equal(org, "distributor");
    assert_int_equal(cc_supply_prefix_owner(fake_get, state, "061414", org, &len), CC_ERR_NOT_FOUND);
    assert_int_equal(cc_supply_prefix_owner(fake_get, state, "0999999999999", org, &len), CC_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_official_examples_refused),
        cmocka_unit_test(test_official_9_6_1_with_owner),
        cmocka_unit_test(test_unknown_gln),
        cmocka_unit_test(test_official_9_6_3_aggregation),
        cmocka_unit_test(test_every_bizstep),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_event_times),
        cmocka_unit_test(test_document_level_refusals),
        cmocka_unit_test(test_event_refusals),
        cmocka_unit_test(test_document_epc_limit),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_render_details),
        cmocka_unit_test(test_recorded_and_query_document),
        cmocka_unit_test(test_supply_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
