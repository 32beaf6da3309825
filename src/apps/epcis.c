/*
 * epcis.c — EPCIS 2.0 in both directions: a captured EPCISDocument is
 * checked and mapped onto the lifecycle txs its events stand for
 * (cc_epcis_map), and a committed lifecycle tx is rendered as the EPCIS
 * event it stands for (cc_epcis_render), for the query endpoints.
 *
 * Pure and deterministic: this runs inside exec on every node. No clock
 * (times are passed in), no I/O, state only through a cc_state_reader;
 * events, lists and JSON objects are walked in document order.
 *
 * The mapping table and what is refused: docs/SUPPLY.md "EPCIS 2.0".
 * Every refusal starts with the JSON path of the problem
 * ("$.epcisBody.eventList[2].bizStep: ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/supply.h"
#include "core/date.h"

#define PATH_MAX_BYTES 96       /* "$.epcisBody.eventList[999].destinationList[12].destination" */
#define SHOW           "%.100s" /* how much of a document's value an error message quotes */
#define TIME_BYTES     40       /* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes), room the compiler asks for */
#define ORG_BYTES      64
#define SECFRAC_MAX    9 /* fractional second digits accepted in a timestamp */

#define QUERY_CONTEXT "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

/* The two spellings of a CBV vocabulary besides the bare word. */
typedef struct cbv_vocab {
    const char *urn; /* "urn:epcglobal:cbv:bizstep:" */
    const char *web; /* "https://ref.gs1.org/cbv/BizStep-" */
} cbv_vocab;

static const cbv_vocab BIZSTEP = {"urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"};
static const cbv_vocab SDT = {"urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"};

/* One mapping run over one document. */
typedef struct mapper {
    cc_state_reader get;
    void *ctx;
    cc_errbuf *eb;
    size_t epc_count;        /* EPCs named so far across the document */
    char at[PATH_MAX_BYTES]; /* the current event: "$.epcisBody.eventList[i]" */
} mapper;

/* ---- small checks ------------------------------------------------------------------ */

/* "+hh:mm" or "-hh:mm" (hh 00..23, mm 00..59), exactly. */
static bool offset_valid(const char *s)
{
    if (s[0] != '+' && s[0] != '-') return false;
    int64_t hh = cc_digits_value(s + 1, 2);
    if (hh < 0 || hh > 23 || s[3] != ':') return false;
    int64_t mm = cc_digits_value(s + 4, 2);
    return mm >= 0 && mm <= 59 && s[6] == '\0';
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm); the
 * date must exist, seconds may be 60 (a leap second). */
static bool rfc3339_valid(const char *s)
{
    if (strnlen(s, 20) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    int64_t y = cc_digits_value(s, 4), mo = cc_digits_value(s + 5, 2), d = cc_digits_value(s + 8, 2);
    int64_t h = cc_digits_value(s + 11, 2), mi = cc_digits_value(s + 14, 2), sec = cc_digits_value(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > cc_month_days(y, (unsigned)mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        size_t n = 0;
        while (p[1 + n] >= '0' && p[1 + n] <= '9') n++;
        if (n < 1 || n > SECFRAC_MAX) return false;
        p += 1 + n;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') return true;
    return offset_valid(p);
}

/* An absolute URI: scheme ":" and at least one more character, no space
 * or control characters (RFC 3986 scheme = ALPHA *(ALPHA / DIGIT / + - .)). */
static bool uri_valid(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
           s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    if (s[i] != ':' || s[i + 1] == '\0') return false;
    for (; s[i]; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return false;
    return true;
}

static bool cbv_word_valid(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return false;
    return true;
}

/* The bare CBV word s stands for ("shipping" for "shipping",
 * "urn:epcglobal:cbv:bizstep:shipping" or "https://ref.gs1.org/cbv/BizStep-shipping"),
 * or NULL when s is some other URI (a vocabulary of someone else's) or no
 * word at all (*malformed then). */
static const char *cbv_word(const char *s, const cbv_vocab *v, bool *malformed)
{
    const char *w = s;
    *malformed = false;
    if (strncmp(s, v->urn, strlen(v->urn)) == 0)
        w = s + strlen(v->urn);
    else if (strncmp(s, v->web, strlen(v->web)) == 0)
        w = s + strlen(v->web);
    else if (!cbv_word_valid(s)) {
        *malformed = !uri_valid(s);
        return NULL;
    }
    if (!cbv_word_valid(w)) {
        *malformed = true;
        return NULL;
    }
    return w;
}

static bool is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string that list (an array of strings) names twice, or NULL.
 * Sorting a copy keeps this O(n log n) for 10,000-unit events; the answer
 * does not depend on the sort's stability. */
static const char *first_twice(const json_t *list, bool *nomem)
{
    size_t n = json_array_size(list);
    const char *found = NULL;
    *nomem = false;
    if (n < 2) return NULL;
    const char **v = malloc(n * sizeof *v);
    if (!v) {
        *nomem = true;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) v[i] = json_string_value(json_array_get(list, i));
    qsort(v, n, sizeof *v, cmp_str);
    for (size_t i = 1; i < n && !found; i++)
        if (strcmp(v[i - 1], v[i]) == 0) found = v[i];
    free(v);
    return found;
}

/* ---- EPC lists ------------------------------------------------------------------- */

static cc_err nomem(mapper *m)
{
    return cc_errf(m->eb, CC_ERR_NOMEM, "%s: out of memory", m->at);
}

/* Parse one EPC (at path) into the payload form of a unit or a case. */
static cc_err epc_parse(mapper *m, const char *path, const json_t *v, cc_gs1_id *id)
{
    const char *s = json_string_value(v);
    cc_errbuf why = {{0}};
    if (!s) return cc_errf(m->eb, CC_ERR_INVALID, "%s: must be an EPC URI (a string)", path);
    if (strncmp(s, "urn:epc:id:", 11) == 0) {
        if (strncmp(s + 11, "sgtin:", 6) != 0 && strncmp(s + 11, "sscc:", 5) != 0)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s: \"" SHOW "\" is unsupported: carechain tracks serialised units (sgtin) "
                           "and cases (sscc)",
                           path, s);
    } else if (strncmp(s, "urn:epc:class:", 14) == 0 || strncmp(s, "urn:epc:idpat:", 14) == 0) {
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s: \"" SHOW "\" names a class of products, which is unsupported: carechain "
                       "tracks serialised units",
                       path, s);
    } else if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
        return cc_errf(m->eb, CC_ERR_INVALID, "%s: \"" SHOW "\" is not an EPC URI or a GS1 Digital Link URI",
                       path, s);
    }
    if (cc_gs1_parse(s, id, &why) != CC_OK)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s: \"" SHOW "\": %s", path, s, why.msg);
    return CC_OK;
}

/* The EPCs of ev[field] into units ("<gtin>.<serial>") and cases (SSCCs),
 * both arrays the caller made. Absent is fine unless required; present
 * it must be an array of 1..CC_SUPPLY_BATCH_MAX distinct EPCs. */
static cc_err epc_list(mapper *m, const json_t *ev, const char *field, bool required, json_t *units,
                       json_t *cases)
{
    const json_t *list = json_object_get(ev, field), *v;
    char path[PATH_MAX_BYTES + 32];
    size_t i, n = json_array_size(list);
    bool oom;
    if (!list) {
        if (!required) return CC_OK;
        return cc_errf(m->eb, CC_ERR_INVALID, "%s: needs \"%s\", the EPCs the event is about", m->at, field);
    }
    if (!json_is_array(list) || n == 0 || n > CC_SUPPLY_BATCH_MAX)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.%s: must be an array of 1..%d EPC URIs", m->at, field,
                       CC_SUPPLY_BATCH_MAX);
    m->epc_count += n;
    if (m->epc_count > CC_SUPPLY_BATCH_MAX)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.%s: the document names more than %d EPCs", m->at, field,
                       CC_SUPPLY_BATCH_MAX);
    json_array_foreach(list, i, v)
    {
        cc_gs1_id id;
        char unit[CC_SUPPLY_UNIT_ID_MAX];
        snprintf(path, sizeof path, "%s.%s[%zu]", m->at, field, i);
        cc_err rc = epc_parse(m, path, v, &id);
        if (rc != CC_OK) return rc;
        int added;
        if (id.kind == CC_GS1_SGTIN) {
            snprintf(unit, sizeof unit, "%s.%s", id.gtin, id.serial);
            added = json_array_append_new(units, json_string(unit));
        } else {
            added = json_array_append_new(cases, json_string(id.sscc));
        }
        if (added != 0) return nomem(m);
    }
    const char *twice = first_twice(units, &oom);
    if (!twice && !oom) twice = first_twice(cases, &oom);
    if (oom) return nomem(m);
    if (twice)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.%s: names " SHOW " twice (each EPC once per event)", m->at,
                       field, twice);
    return CC_OK;
}

/* payload[field] = list when the list is not empty (an empty list is left
 * out: every list field of the lifecycle payloads is optional). */
static cc_err put_list(mapper *m, json_t *payload, const char *field, json_t *list)
{
    if (json_array_size(list) == 0) return CC_OK;
    return json_object_set(payload, field, list) == 0 ? CC_OK : nomem(m);
}

/* ---- the events -------------------------------------------------------------------- */

/* ObjectEvent ADD commissioning -> drug.commission {gtin, lot, exp, serials}. */
static cc_err map_commission(mapper *m, const json_t *ev, const json_t *units, const json_t *cases,
                             json_t *payload)
{
    const json_t *ilmd = json_object_get(ev, "ilmd");
    const char *lot = json_string_value(json_object_get(ilmd, "cbvmda:lotNumber"));
    const char *iso = json_string_value(json_object_get(ilmd, "cbvmda:itemExpirationDate"));
    char gtin[CC_GS1_GTIN_DIGITS + 1] = "", exp[CC_GS1_EXP_DIGITS + 1];
    cc_errbuf why = {{0}};
    size_t i;
    const json_t *u;
    if (json_array_size(cases) > 0)
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.epcList: commissioning names serialised units (sgtin) only; a case (sscc) is "
                       "not commissioned but packed (AggregationEvent ADD packing)",
                       m->at);
    if (!json_is_object(ilmd))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.ilmd: commissioning needs ilmd with cbvmda:lotNumber and "
                       "cbvmda:itemExpirationDate (DSCSA product identifier)",
                       m->at);
    if (!lot || !cc_gs1_lot_valid(lot))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.ilmd.cbvmda:lotNumber: needs the lot, 1..%d characters of the GS1 set 82", m->at,
                       CC_GS1_LOT_MAX);
    if (!iso)
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.ilmd.cbvmda:itemExpirationDate: needs the expiry date, YYYY-MM-DD", m->at);
    if (cc_gs1_exp_from_iso(iso, exp, &why) != CC_OK)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.ilmd.cbvmda:itemExpirationDate: %s", m->at, why.msg);
    json_t *serials = json_array();
    if (!serials) return nomem(m);
    json_array_foreach(units, i, u)
    {
        const char *unit = json_string_value(u);
        if (i == 0) {
            memcpy(gtin, unit, CC_GS1_GTIN_DIGITS);
            gtin[CC_GS1_GTIN_DIGITS] = '\0';
        } else if (strncmp(unit, gtin, CC_GS1_GTIN_DIGITS) != 0) {
            json_decref(serials);
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.epcList[%zu]: GTIN %.14s differs from GTIN %s of epcList[0]: one "
                           "commissioning event is of one product (one GTIN, lot and expiry)",
                           m->at, i, unit, gtin);
        }
        if (json_array_append_new(serials, json_string(unit + CC_GS1_GTIN_DIGITS + 1)) != 0) {
            json_decref(serials);
            return nomem(m);
        }
    }
    int failed = json_object_set_new(payload, "gtin", json_string(gtin)) |
                 json_object_set_new(payload, "lot", json_string(lot)) |
                 json_object_set_new(payload, "exp", json_string(exp)) |
                 json_object_set_new(payload, "serials", serials);
    return failed ? nomem(m) : CC_OK;
}

/* The organisation a shipping event's owning_party destination names:
 * exactly one owning_party entry whose GLN's company prefix someone holds. */
static cc_err ship_to(mapper *m, const json_t *ev, char org[ORG_BYTES])
{
    const json_t *list = json_object_get(ev, "destinationList"), *d;
    const char *gln = NULL;
    size_t i, at = 0;
    char prefix[CC_GS1_PREFIX_MAX + 1];
    cc_errbuf why = {{0}};
    if (list && !json_is_array(list))
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.destinationList: must be an array of {type, destination}",
                       m->at);
    json_array_foreach(list, i, d)
    {
        const char *type = json_string_value(json_object_get(d, "type"));
        const char *dest = json_string_value(json_object_get(d, "destination"));
        bool malformed;
        if (!type || !dest)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.destinationList[%zu]: must be an object with string \"type\" and "
                           "\"destination\"",
                           m->at, i);
        const char *word = cbv_word(type, &SDT, &malformed);
        if (malformed)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.destinationList[%zu].type: \"" SHOW "\" is neither a CBV word nor a URI",
                           m->at, i, type);
        if (!word || strcmp(word, "owning_party") != 0) continue;
        if (gln)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.destinationList[%zu]: a second owning_party destination (entry %zu is the "
                           "first): one shipment goes to one trading partner",
                           m->at, i, at);
        gln = dest;
        at = i;
    }
    if (!gln)
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.destinationList: shipping needs an owning_party destination (DSCSA names the "
                       "receiving trading partner)",
                       m->at);
    if (cc_gs1_gln_prefix(gln, prefix, &why) != CC_OK)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.destinationList[%zu].destination: %s", m->at, at, why.msg);
    cc_err rc = cc_supply_prefix_owner(m->get, m->ctx, prefix, org, NULL);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_errf(m->eb, CC_ERR_NOT_FOUND,
                       "%s.destinationList[%zu].destination: no organisation holds the company prefix %s "
                       "of GLN " SHOW,
                       m->at, at, prefix, gln);
    if (rc != CC_OK)
        return cc_errf(m->eb, rc, "%s.destinationList[%zu].destination: reading the prefix owner: %s", m->at,
                       at, cc_strerror(rc));
    return CC_OK;
}

/* The DSCSA transaction information of a shipping event: the first
 * bizTransaction names the transaction, the event's local date dates it,
 * and capturing the signed event is the seller's transaction statement. */
static cc_err ship_transaction(mapper *m, const json_t *ev, json_t **out)
{
    const json_t *list = json_object_get(ev, "bizTransactionList"), *b;
    const char *time = json_string_value(json_object_get(ev, "eventTime"));
    char date[11];
    size_t i;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.bizTransactionList: shipping needs a bizTransactionList whose first "
                       "bizTransaction is the DSCSA transaction id",
                       m->at);
    json_array_foreach(list, i, b)
    {
        const char *id = json_string_value(json_object_get(b, "bizTransaction"));
        const json_t *type = json_object_get(b, "type");
        if (!id || !*id || strlen(id) > CC_SUPPLY_TEXT_MAX)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.bizTransactionList[%zu].bizTransaction: must be a string of 1..%d bytes",
                           m->at, i, CC_SUPPLY_TEXT_MAX);
        if (type && !json_is_string(type))
            return cc_errf(m->eb, CC_ERR_INVALID, "%s.bizTransactionList[%zu].type: must be a string", m->at,
                           i);
    }
    memcpy(date, time, 10);
    date[10] = '\0';
    if (!cc_supply_date_valid(date))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.eventTime: the shipment's DSCSA transaction date, %s, must be in %d or later",
                       m->at, date, CC_SUPPLY_FIRST_YEAR);
    *out = json_pack("{s:s, s:s, s:b}", "id",
                     json_string_value(json_object_get(json_array_get(list, 0), "bizTransaction")), "date",
                     date, "statement", 1);
    return *out ? CC_OK : nomem(m);
}

/* Refuse what carechain does not track: class-level quantities and
 * error declarations (a retraction of an earlier event). */
static cc_err refuse_unsupported_fields(mapper *m, const json_t *ev)
{
    static const char *const class_level[] = {"quantityList", "childQuantityList", "epcClass", NULL};
    for (const char *const *f = class_level; *f; f++)
        if (json_object_get(ev, *f))
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.%s: class-level quantities are unsupported: carechain tracks serialised "
                           "units (epcList, childEPCs)",
                           m->at, *f);
    if (json_object_get(ev, "errorDeclaration"))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.errorDeclaration: error declarations are unsupported: a committed event is "
                       "corrected by a new event",
                       m->at);
    return CC_OK;
}

static cc_err check_common(mapper *m, const json_t *ev)
{
    const json_t *t = json_object_get(ev, "eventTime"), *z = json_object_get(ev, "eventTimeZoneOffset");
    const json_t *id = json_object_get(ev, "eventID");
    if (!t) return cc_errf(m->eb, CC_ERR_INVALID, "%s: needs \"eventTime\"", m->at);
    if (!json_is_string(t) || !rfc3339_valid(json_string_value(t)))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.eventTime: must be an RFC 3339 time with an offset, like 2026-11-25T14:05:00.000Z "
                       "or 2026-11-25T08:05:00-06:00",
                       m->at);
    if (!z) return cc_errf(m->eb, CC_ERR_INVALID, "%s: needs \"eventTimeZoneOffset\"", m->at);
    if (!json_is_string(z) || !offset_valid(json_string_value(z)))
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.eventTimeZoneOffset: must be \"+hh:mm\" or \"-hh:mm\"",
                       m->at);
    if (id && (!json_is_string(id) ||
               (strncmp(json_string_value(id), "ni:///", 6) != 0 && !uri_valid(json_string_value(id)))))
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.eventID: must be a URI (ni:///sha-256;… or another)",
                       m->at);
    return CC_OK;
}

/* Map one event: *type and the payload it stands for. */
static cc_err map_event(mapper *m, const json_t *ev, const char **type, json_t *payload)
{
    static const char *const unsupported_types[] = {"TransformationEvent", "TransactionEvent",
                                                    "AssociationEvent", NULL};
    static const char *const actions[] = {"ADD", "OBSERVE", "DELETE", NULL};
    const char *etype, *action, *step = NULL;
    const json_t *bs;
    bool malformed;
    cc_err rc;

    if (!json_is_object(ev)) return cc_errf(m->eb, CC_ERR_INVALID, "%s: an event must be an object", m->at);
    etype = json_string_value(json_object_get(ev, "type"));
    if (!etype) return cc_errf(m->eb, CC_ERR_INVALID, "%s.type: needs the event type", m->at);
    if (is_one_of(etype, unsupported_types))
        return cc_errf(m->eb, CC_ERR_INVALID,
                       "%s.type: %s is unsupported: carechain maps ObjectEvent and AggregationEvent", m->at,
                       etype);
    if (strcmp(etype, "ObjectEvent") != 0 && strcmp(etype, "AggregationEvent") != 0)
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.type: \"" SHOW "\" is not an EPCIS 2.0 event type", m->at,
                       etype);
    if ((rc = check_common(m, ev)) != CC_OK) return rc;
    action = json_string_value(json_object_get(ev, "action"));
    if (!action || !is_one_of(action, actions))
        return cc_errf(m->eb, CC_ERR_INVALID, "%s.action: an %s needs action ADD, OBSERVE or DELETE", m->at,
                       etype);
    if ((rc = refuse_unsupported_fields(m, ev)) != CC_OK) return rc;
    if ((bs = json_object_get(ev, "bizStep"))) {
        if (!json_is_string(bs))
            return cc_errf(m->eb, CC_ERR_INVALID, "%s.bizStep: must be a CBV word or a URI", m->at);
        step = cbv_word(json_string_value(bs), &BIZSTEP, &malformed);
        if (malformed)
            return cc_errf(m->eb, CC_ERR_INVALID, "%s.bizStep: \"" SHOW "\" is neither a CBV word nor a URI",
                           m->at, json_string_value(bs));
        if (!step)
            return cc_errf(m->eb, CC_ERR_INVALID,
                           "%s.bizStep: \"" SHOW "\" is unsupported: carechain maps CBV business steps",
                           m->at, json_string_value(bs));
    }

    json_t *units = json_array(), *cases = json_array();
    if (!units || !cases) {
        rc = nomem(m);
        goto done;
    }
    if (strcmp(etype, "AggregationEvent") == 0) {
        const json_t *parent = json_object_get(ev, "parentID");
        char path[PATH_MAX_BYTES + 16];
        cc_gs1_id id;
        bool add = strcmp(action, "ADD") == 0, del = strcmp(action, "DELETE") == 0;
        if (!add && !del) {
            rc = cc_errf(m->eb, CC_ERR_INVALID,
                         "%s.action: AggregationEvent OBSERVE is unsupported: carechain records packing "
                         "(ADD) and unpacking (DELETE); send the receipt as an ObjectEvent",
                         m->at);
            goto done;
        }
        if (step && strcmp(step, add ? "packing" : "unpacking") != 0) {
            rc = cc_errf(m->eb, CC_ERR_INVALID,
                         "%s.bizStep: AggregationEvent %s with bizStep %s is unsupported (carechain maps %s)",
                         m->at, action, step, add ? "packing" : "unpacking");
            goto done;
        }
        if (!parent) {
            rc = cc_errf(m->eb, CC_ERR_INVALID, "%s: needs \"parentID\", the case (SSCC)", m->at);
            goto done;
        }
        snprintf(path, sizeof path, "%s.parentID", m->at);
        if ((rc = epc_parse(m, path, parent, &id)) != CC_OK) goto done;
        if (id.kind != CC_GS1_SSCC) {
            rc = cc_errf(m->eb, CC_ERR_INVALID,
                         "%s.parentID: a serialised unit as parent is unsupported: carechain packs into "
                         "cases and pallets (sscc)",
                         m->at);
            goto done;
        }
        /* unpacking empties the whole case: childEPCs, when present, are checked for form only */
        if ((rc = epc_list(m, ev, "childEPCs", add, units, cases)) != CC_OK) goto done;
        for (size_t i = 0; i < json_array_size(cases); i++)
            if (strcmp(json_string_value(json_array_get(cases, i)), id.sscc) == 0) {
                rc = cc_errf(m->eb, CC_ERR_INVALID, "%s.childEPCs: the case %s cannot hold itself", m->at,
                             id.sscc);
                goto done;
            }
        *type = add ? "drug.aggregate" : "drug.disaggregate";
        if (json_object_set_new(payload, "sscc", json_string(id.sscc)) != 0) {
            rc = nomem(m);
            goto done;
        }
        if (add && ((rc = put_list(m, payload, "units", units)) != CC_OK ||
                    (rc = put_list(m, payload, "cases", cases)) != CC_OK))
            goto done;
        rc = CC_OK;
        goto done;
    }

    /* ObjectEvent: the bizStep decides, and each bizStep has one action */
    static const struct {
        const char *step, *action, *type;
    } object_steps[] = {
        {"commissioning", "ADD", "drug.commission"},        {"shipping", "OBSERVE", "drug.ship"},
        {"receiving", "OBSERVE", "drug.receive"},           {"dispensing", "OBSERVE", "drug.dispense"},
        {"decommissioning", "DELETE", "drug.decommission"}, {"destroying", "DELETE", "drug.decommission"},
    };
    size_t k = 0, nsteps = sizeof object_steps / sizeof object_steps[0];
    if (!step) {
        rc = cc_errf(m->eb, CC_ERR_INVALID,
                     "%s: an ObjectEvent without bizStep is unsupported: carechain maps object events by "
                     "their bizStep",
                     m->at);
        goto done;
    }
    while (k < nsteps && strcmp(object_steps[k].step, step) != 0) k++;
    if (k == nsteps) {
        rc = cc_errf(m->eb, CC_ERR_INVALID,
                     "%s.bizStep: %s is unsupported: carechain maps commissioning, shipping, receiving, "
                     "dispensing, decommissioning and destroying",
                     m->at, step);
        goto done;
    }
    if (strcmp(object_steps[k].action, action) != 0) {
        rc = cc_errf(m->eb, CC_ERR_INVALID, "%s.action: bizStep %s needs action %s, not %s", m->at, step,
                     object_steps[k].action, action);
        goto done;
    }
    if ((rc = epc_list(m, ev, "epcList", true, units, cases)) != CC_OK) goto done;
    *type = object_steps[k].type;
    if (strcmp(step, "commissioning") == 0) {
        rc = map_commission(m, ev, units, cases, payload);
    } else if (strcmp(step, "shipping") == 0) {
        char org[ORG_BYTES];
        json_t *transaction = NULL;
        if ((rc = ship_to(m, ev, org)) != CC_OK || (rc = ship_transaction(m, ev, &transaction)) != CC_OK)
            goto done;
        if (json_object_set_new(payload, "to", json_string(org)) != 0 ||
            json_object_set_new(payload, "transaction", transaction) != 0)
            rc = nomem(m);
        else if ((rc = put_list(m, payload, "units", units)) == CC_OK)
            rc = put_list(m, payload, "cases", cases);
    } else if (strcmp(step, "dispensing") == 0) {
        if (json_array_size(cases) > 0)
            rc = cc_errf(m->eb, CC_ERR_INVALID,
                         "%s.epcList: dispensing names the units handed to patients (sgtin), not cases "
                         "(sscc): unpack the case first",
                         m->at);
        else
            rc = put_list(m, payload, "units", units);
    } else { /* receiving, decommissioning, destroying */
        if ((rc = put_list(m, payload, "units", units)) == CC_OK) rc = put_list(m, payload, "cases", cases);
        if (rc == CC_OK && strcmp(step, "receiving") != 0 &&
            json_object_set_new(payload, "reason",
                                json_string(strcmp(step, "destroying") == 0 ? "destroyed" : "other")) != 0)
            rc = nomem(m);
    }
done:
    json_decref(units);
    json_decref(cases);
    return rc;
}

static cc_err check_document(const json_t *doc, cc_errbuf *eb)
{
    const json_t *ctx = json_object_get(doc, "@context"), *body, *list;
    const char *type = json_string_value(json_object_get(doc, "type"));
    const char *version = json_string_value(json_object_get(doc, "schemaVersion"));
    const char *created = json_string_value(json_object_get(doc, "creationDate"));
    if (!json_is_object(doc)) return cc_errf(eb, CC_ERR_INVALID, "$: an EPCIS document is a JSON object");
    if (!type || strcmp(type, "EPCISDocument") != 0)
        return cc_errf(eb, CC_ERR_INVALID, "$.type: must be \"EPCISDocument\"");
    if (!version || (strcmp(version, "2.0") != 0 && strcmp(version, "2.0.0") != 0))
        return cc_errf(eb, CC_ERR_INVALID, "$.schemaVersion: must be \"2.0\" (EPCIS 2.0)");
    if (!(json_is_string(ctx) || (json_is_array(ctx) && json_array_size(ctx) > 0)))
        return cc_errf(eb, CC_ERR_INVALID,
                       "$.@context: needs the EPCIS 2.0 JSON-LD context (a string or a non-empty array)");
    if (!created || !rfc3339_valid(created))
        return cc_errf(eb, CC_ERR_INVALID, "$.creationDate: must be an RFC 3339 time with an offset");
    body = json_object_get(doc, "epcisBody");
    if (!json_is_object(body)) return cc_errf(eb, CC_ERR_INVALID, "$.epcisBody: needs an object");
    list = json_object_get(body, "eventList");
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > CC_SUPPLY_EVENTS_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "$.epcisBody.eventList: must be an array of 1..%d events",
                       CC_SUPPLY_EVENTS_MAX);
    return CC_OK;
}

cc_err cc_epcis_map(const json_t *doc, cc_state_reader get, void *ctx, json_t **out, cc_errbuf *eb)
{
    mapper m = {.get = get, .ctx = ctx, .eb = eb};
    const json_t *list, *ev;
    size_t i;
    cc_err rc;
    *out = NULL;
    if ((rc = check_document(doc, eb)) != CC_OK) return rc;
    list = json_object_get(json_object_get(doc, "epcisBody"), "eventList");
    json_t *txs = json_array();
    if (!txs) return cc_errf(eb, CC_ERR_NOMEM, "$: out of memory");
    json_array_foreach(list, i, ev)
    {
        const char *type = NULL;
        json_t *payload = json_object();
        snprintf(m.at, sizeof m.at, "$.epcisBody.eventList[%zu]", i);
        if (!payload) {
            rc = nomem(&m);
            break;
        }
        rc = map_event(&m, ev, &type, payload);
        if (rc == CC_OK &&
            json_array_append_new(txs, json_pack("{s:s, s:O}", "type", type, "payload", payload)) != 0)
            rc = nomem(&m);
        json_decref(payload);
        if (rc != CC_OK) break;
    }
    if (rc != CC_OK) {
        json_decref(txs);
        return rc;
    }
    *out = txs;
    return CC_OK;
}

/* ---- rendering committed txs as EPCIS events ----------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" of a time in ms since 1970 (UTC, proleptic
 * Gregorian; days to civil date after H. Hinnant's algorithm). */
static void format_time(uint64_t time_ms, char out[TIME_BYTES])
{
    int64_t days = (int64_t)(time_ms / 86400000u);
    unsigned ms_of_day = (unsigned)(time_ms % 86400000u);
    int64_t z = days + 719468, era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, mo = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (mo <= 2);
    snprintf(out, TIME_BYTES, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)(y % 10000), mo, d,
             ms_of_day / 3600000u, ms_of_day / 60000u % 60, ms_of_day / 1000u % 60, ms_of_day % 1000u);
}

/* Rendering state: the company prefix length of the last GTIN seen (units
 * of one tx mostly share one GTIN). */
typedef struct renderer {
    cc_state_reader get;
    void *ctx;
    char gtin[CC_GS1_GTIN_DIGITS + 1];
    unsigned prefix_len; /* 0: unknown, write a Digital Link */
} renderer;

static unsigned gtin_prefix_len(renderer *r, const char *gtin)
{
    if (strcmp(r->gtin, gtin) == 0) return r->prefix_len;
    char key[sizeof "dproduct/" + CC_GS1_GTIN_DIGITS], org[ORG_BYTES];
    json_t *product = NULL;
    unsigned len = 0;
    snprintf(key, sizeof key, "dproduct/%s", gtin);
    if (r->get(r->ctx, key, &product) == CC_OK) {
        const char *prefix = json_string_value(json_object_get(product, "prefix"));
        if (prefix) len = (unsigned)strlen(prefix);
    }
    json_decref(product);
    if ((len < CC_GS1_PREFIX_MIN || len > CC_GS1_PREFIX_MAX) &&
        cc_supply_prefix_owner(r->get, r->ctx, gtin + 1, org, &len) != CC_OK)
        len = 0;
    snprintf(r->gtin, sizeof r->gtin, "%s", gtin);
    r->prefix_len = len;
    return len;
}

/* The EPC URI of a unit "<gtin>.<serial>" or an SSCC; a GS1 Digital Link
 * on id.gs1.org (EPCIS 2.0 accepts both) when no prefix length is known. */
static json_t *epc_of(renderer *r, const char *item)
{
    char uri[CC_GS1_EPC_MAX + 64], org[ORG_BYTES];
    cc_gs1_id id = {0};
    unsigned len = 0;
    cc_err rc;
    if (!item) return NULL;
    if (cc_supply_unit_split(item, id.gtin, id.serial)) {
        id.kind = CC_GS1_SGTIN;
        len = gtin_prefix_len(r, id.gtin);
        rc = len ? cc_gs1_sgtin_uri(id.gtin, id.serial, len, uri, sizeof uri, NULL)
                 : cc_gs1_digital_link(&id, uri, sizeof uri, NULL);
    } else if (cc_supply_sscc_valid(item)) {
        if (cc_supply_prefix_owner(r->get, r->ctx, item + 1, org, &len) == CC_OK)
            rc = cc_gs1_sscc_uri(item, len, uri, sizeof uri, NULL);
        else
            rc = snprintf(uri, sizeof uri, "https://id.gs1.org/00/%s", item) > 0 ? CC_OK : CC_ERR_INVALID;
    } else {
        return NULL;
    }
    return rc == CC_OK ? json_string(uri) : NULL;
}

/* Append the EPCs of payload[field] (units or cases) to list. */
static bool add_epcs(renderer *r, json_t *list, const json_t *payload, const char *field)
{
    const json_t *v;
    size_t i;
    json_array_foreach(json_object_get(payload, field), i, v)
    {
        json_t *epc = epc_of(r, json_string_value(v));
        if (!epc || json_array_append_new(list, epc) != 0) return false;
    }
    return true;
}

static json_t *party(const char *type, const char *key, const char *org)
{
    char uri[sizeof "urn:carechain:org:" + ORG_BYTES];
    snprintf(uri, sizeof uri, "urn:carechain:org:%s", org);
    return json_pack("[{s:s, s:s}]", "type", type, key, uri);
}

/* The fields of the rendered event that its tx type decides. */
static bool render_body(renderer *r, const char *type, const json_t *payload, const char *txid_hex,
                        json_t *ev)
{
    json_t *epcs = json_array();
    bool ok = epcs != NULL;
    const char *etype = "ObjectEvent", *action = "OBSERVE", *step = NULL, *disposition = NULL;
    const char *list_field = "epcList";
    if (strcmp(type, "drug.commission") == 0) {
        const char *gtin = json_string_value(json_object_get(payload, "gtin"));
        const char *lot = json_string_value(json_object_get(payload, "lot"));
        const char *exp = json_string_value(json_object_get(payload, "exp"));
        char unit[CC_SUPPLY_UNIT_ID_MAX], serial[CC_GS1_SERIAL_MAX + 1], iso[11];
        action = "ADD", step = "commissioning", disposition = "active";
        ok = ok && gtin && lot && exp && cc_gs1_exp_valid(exp);
        /* a list of serials, or a range of them (as many as 10,000) */
        for (size_t k = 0, n = cc_supply_serial_count(payload); ok && k < n; k++) {
            const char *s = cc_supply_serial_at(payload, k, serial);
            snprintf(unit, sizeof unit, "%s.%s", gtin, s ? s : "");
            json_t *epc = epc_of(r, unit);
            ok = epc && json_array_append_new(epcs, epc) == 0;
        }
        if (ok) {
            cc_gs1_exp_to_iso(exp, iso);
            ok = json_object_set_new(
                     ev, "ilmd",
                     json_pack("{s:s, s:s}", "cbvmda:lotNumber", lot, "cbvmda:itemExpirationDate", iso)) == 0;
        }
    } else if (strcmp(type, "drug.aggregate") == 0 || strcmp(type, "drug.disaggregate") == 0) {
        bool add = strcmp(type, "drug.aggregate") == 0;
        json_t *parent = epc_of(r, json_string_value(json_object_get(payload, "sscc")));
        etype = "AggregationEvent", action = add ? "ADD" : "DELETE", step = add ? "packing" : "unpacking";
        list_field = add ? "childEPCs" : NULL;
        if (ok && parent)
            ok = json_object_set_new(ev, "parentID", parent) == 0;
        else
            ok = false, json_decref(parent);
        ok = ok && add_epcs(r, epcs, payload, "units") && add_epcs(r, epcs, payload, "cases");
    } else if (strcmp(type, "drug.ship") == 0 || strcmp(type, "drug.return") == 0) {
        bool ret = strcmp(type, "drug.return") == 0;
        const char *to = json_string_value(json_object_get(payload, "to"));
        const char *tid = json_string_value(json_object_get(json_object_get(payload, "transaction"), "id"));
        char key[sizeof "dship/" + CC_HASH_HEX];
        json_t *ship = NULL;
        step = "shipping", disposition = ret ? "returned" : "in_transit";
        ok = ok && to && add_epcs(r, epcs, payload, "units") && add_epcs(r, epcs, payload, "cases");
        /* the payload does not name the sender; the shipment record does */
        snprintf(key, sizeof key, "dship/%s", txid_hex);
        if (ok && r->get(r->ctx, key, &ship) == CC_OK && json_string_value(json_object_get(ship, "from")))
            ok = json_object_set_new(
                     ev, "sourceList",
                     party("owning_party", "source", json_string_value(json_object_get(ship, "from")))) == 0;
        json_decref(ship);
        ok = ok && json_object_set_new(ev, "destinationList", party("owning_party", "destination", to)) == 0;
        if (ok && tid)
            ok = json_object_set_new(ev, "bizTransactionList",
                                     json_pack("[{s:s, s:s}]", "type", "inv", "bizTransaction", tid)) == 0;
    } else if (strcmp(type, "drug.receive") == 0 || strcmp(type, "drug.dispense") == 0) {
        bool receive = strcmp(type, "drug.receive") == 0;
        step = receive ? "receiving" : "dispensing", disposition = receive ? "in_progress" : "dispensed";
        ok = ok && add_epcs(r, epcs, payload, "units") && add_epcs(r, epcs, payload, "cases");
    } else if (strcmp(type, "drug.decommission") == 0) {
        const char *reason = json_string_value(json_object_get(payload, "reason"));
        bool destroyed = reason && strcmp(reason, "destroyed") == 0;
        action = "DELETE", step = destroyed ? "destroying" : "decommissioning";
        disposition = destroyed ? "destroyed" : "inactive";
        ok = ok && add_epcs(r, epcs, payload, "units") && add_epcs(r, epcs, payload, "cases");
    } else {
        ok = false; /* drug.recall, drug.suspect, drug.clear and the rest: no event */
    }
    ok = ok && json_object_set_new(ev, "type", json_string(etype)) == 0 &&
         json_object_set_new(ev, "action", json_string(action)) == 0 &&
         json_object_set_new(ev, "bizStep", json_string(step)) == 0 &&
         (!disposition || json_object_set_new(ev, "disposition", json_string(disposition)) == 0);
    if (ok && list_field) ok = json_object_set(ev, list_field, epcs) == 0;
    json_decref(epcs);
    return ok;
}

json_t *cc_epcis_render(const char *type, const json_t *payload, const char *txid_hex, uint64_t time_ms,
                        cc_state_reader get, void *ctx)
{
    renderer r = {.get = get, .ctx = ctx};
    char time[TIME_BYTES], input[CC_HASH_HEX + 8], hex[CC_HASH_HEX],
        id[sizeof "ni:///sha-256;?ver=CBV2.0" + 64];
    uint8_t hash[CC_HASH_BYTES];
    const unsigned index = 0; /* every lifecycle tx stands for one event */
    if (!type || !json_is_object(payload) || !txid_hex) return NULL;
    format_time(time_ms, time);
    snprintf(input, sizeof input, "%s:%u", txid_hex, index);
    cc_sha256((const uint8_t *)input, strlen(input), hash);
    snprintf(id, sizeof id, "ni:///sha-256;%s?ver=CBV2.0", cc_hex(hash, sizeof hash, hex));
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "eventID", id, "eventTime", time, "recordTime", time,
                           "eventTimeZoneOffset", "+00:00");
    if (!ev || !render_body(&r, type, payload, txid_hex, ev)) {
        json_decref(ev);
        return NULL;
    }
    return ev;
}

json_t *cc_epcis_recorded(const json_t *event, uint64_t time_ms)
{
    char time[TIME_BYTES];
    json_t *copy = json_deep_copy(event);
    format_time(time_ms, time);
    if (copy && json_object_set_new(copy, "recordTime", json_string(time)) != 0) {
        json_decref(copy);
        return NULL;
    }
    return copy;
}

json_t *cc_epcis_query_document(json_t *events, uint64_t now_ms)
{
    char time[TIME_BYTES];
    format_time(now_ms, time);
    if (!events) return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:{s:s, s:{s:o}}}}", "@context", QUERY_CONTEXT, "type",
                     "EPCISQueryDocument", "schemaVersion", "2.0", "creationDate", time, "epcisBody",
                     "queryResults", "queryName", "SimpleEventQuery", "resultsBody", "eventList", events);
}
