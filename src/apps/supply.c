/*
 * supply.c — the drug supply chain on the ledger (docs/SUPPLY.md): company
 * prefixes, products, serialised units from commissioning to dispensing,
 * their custody (aggregation, shipments, receipts, returns), recalls,
 * suspect and illegitimate product notifications, the alerts they raise,
 * and the capture of signed EPCIS 2.0 documents.
 *
 * Every lifecycle tx is an "operation" over units and cases: the direct
 * drug.* txs carry one, an epcis.capture carries one per event (mapped by
 * epcis.c) and applies them in order, all or nothing. An operation acts for
 * an organisation (the tx signer's, or the capturing identity's) and is
 * named by an event id: the txid, or "<txid>:<i>" for the i-th event of a
 * captured document.
 *
 * A unit's states (the "st" field of dunit/<gtin>/<serial>):
 *
 *   active --ship/return--> transit --receive--> active (receiver owns it)
 *   active --dispense--> dispensed                    (final)
 *   active --decommission--> decommissioned|destroyed (final)
 *   "in": <sscc> while packed in a case; flags "recall", "suspect",
 *   "illegitimate" on any state, until cleared (recall is never cleared).
 *
 * Invariants: a unit has exactly one owner ("own"); a packed unit is in
 * exactly one case and its case has the same owner and state; only
 * top-level items (not packed) are shipped, received, dispensed or
 * decommissioned — a case stands for all it holds.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/supply.h"
#include "carechain/records.h"
#include "core/date.h"

#define UNIT_KEY_MAX  (6 + CC_SUPPLY_UNIT_ID_MAX) /* "dunit/<gtin>/<serial>" */
#define EVENT_ID_MAX  (CC_HASH_HEX + 8)           /* "<txid>:<i>" */
#define CASE_DEPTH    4                           /* unit < case < pallet < ... */
#define DAY_MS        (24LL * 60 * 60 * 1000)
#define ALERT_UNITS   20 /* unit ids an alert lists; the count says how many in all */
#define STATEMENT_TXT "seller attests the DSCSA transaction statement"

/* One lifecycle operation in progress. */
typedef struct op {
    cc_exec_ctx *ctx;
    const json_t *p; /* its payload */
    const char *org; /* the organisation acting */
    unsigned role;   /* the acting identity's role */
    char ev[EVENT_ID_MAX];
} op;

/* A unit or case loaded for an operation: written back by items_flush. */
typedef struct item {
    char key[UNIT_KEY_MAX];
    char id[CC_SUPPLY_UNIT_ID_MAX]; /* "<gtin>.<serial>" or the SSCC */
    bool is_case;
    bool top;  /* named by the payload (not reached through a case) */
    json_t *v; /* owned */
} item;

typedef struct items {
    item *v;
    size_t n, cap;
    size_t units; /* how many are units */
} items;

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ---- identifiers ------------------------------------------------------------------ */

static void unit_key(const char *unit, char key[UNIT_KEY_MAX])
{
    snprintf(key, UNIT_KEY_MAX, "dunit/%.14s/%s", unit, unit + CC_GS1_GTIN_DIGITS + 1);
}

/* ---- payload checks ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An array of 0..max distinct strings accepted by valid. Duplicates are
 * found by sorting (lists run to 10,000 entries). */
static cc_err id_list(const json_t *p, const char *field, bool required, size_t max,
                      bool (*valid)(const char *), const char *what, cc_errbuf *eb)
{
    json_t *v = json_object_get(p, field), *x;
    size_t i;
    if (!v) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_array(v) || json_array_size(v) > max)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be an array of at most %zu %s", field, max, what);
    const char **s = malloc((json_array_size(v) + 1) * sizeof *s);
    if (!s) return CC_ERR_NOMEM;
    json_array_foreach(v, i, x)
    {
        s[i] = json_string_value(x);
        if (!s[i] || !valid(s[i])) {
            free(s);
            return cc_errf(eb, CC_ERR_INVALID, "\"%s\" entry %zu is not %s", field, i, what);
        }
    }
    qsort(s, json_array_size(v), sizeof *s, cmp_str);
    for (i = 1; i < json_array_size(v); i++)
        if (strcmp(s[i - 1], s[i]) == 0) {
            cc_err rc = cc_errf(eb, CC_ERR_INVALID, "\"%s\" lists \"%s\" twice", field, s[i]);
            free(s);
            return rc;
        }
    free(s);
    return CC_OK;
}

static size_t list_len(const json_t *p, const char *field)
{
    return json_array_size(json_object_get(p, field));
}

/* A new reference to the array p holds under field, or a new empty array.
 * For json_pack's "o" (which takes the reference): a fresh array given to
 * "O" instead is incremented again and never freed. */
static json_t *list_ref(const json_t *p, const char *field)
{
    json_t *v = json_object_get(p, field);
    return v ? json_incref(v) : json_array();
}

/* "units" and "cases", at least one item in all. */
static cc_err items_check(const json_t *p, cc_errbuf *eb)
{
    cc_err rc;
    if ((rc = id_list(p, "units", false, CC_SUPPLY_BATCH_MAX, cc_supply_unit_valid,
                      "a unit <gtin14>.<serial>", eb)) != CC_OK ||
        (rc = id_list(p, "cases", false, CC_SUPPLY_BATCH_MAX, cc_supply_sscc_valid, "an SSCC", eb)) != CC_OK)
        return rc;
    if (list_len(p, "units") + list_len(p, "cases") == 0)
        return cc_errf(eb, CC_ERR_INVALID, "name at least one unit or case");
    return CC_OK;
}

static bool org_valid(const char *s)
{
    return s[0] && strlen(s) <= CC_RECORDS_ORG_MAX;
}

bool cc_supply_date_valid(const char *s)
{
    int64_t day;
    return cc_date_parse(s, &day) && day >= cc_days_from_civil(CC_SUPPLY_FIRST_YEAR, 1, 1);
}

/* The DSCSA transaction information a seller adds: {"id","date","statement":true}. */
static cc_err transaction_check(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"id", "date", "statement", NULL};
    json_t *t = json_object_get(p, "transaction");
    const char *id, *date;
    cc_err rc;
    if (!json_is_object(t))
        return cc_errf(eb, CC_ERR_INVALID,
                       "payload needs \"transaction\": {\"id\",\"date\",\"statement\":true} (DSCSA)");
    if ((rc = cc_payload_only(t, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(t, "id", true, CC_SUPPLY_TEXT_MAX, &id, eb)) != CC_OK ||
        (rc = cc_payload_str(t, "date", true, 10, &date, eb)) != CC_OK)
        return rc;
    if (!cc_supply_date_valid(date))
        return cc_errf(eb, CC_ERR_INVALID,
                       "transaction date must be a day that exists, YYYY-MM-DD, from %d on",
                       CC_SUPPLY_FIRST_YEAR);
    if (!json_is_true(json_object_get(t, "statement")))
        return cc_errf(eb, CC_ERR_INVALID,
                       "transaction \"statement\" must be true: the " STATEMENT_TXT " with every sale");
    return CC_OK;
}

static cc_err text_field(const json_t *p, const char *field, bool required, cc_errbuf *eb)
{
    const char *s;
    return cc_payload_str(p, field, required, CC_SUPPLY_TEXT_MAX, &s, eb);
}

/* ---- state helpers ------------------------------------------------------------------- */

static cc_err put(op *o, const char *key, json_t *v)
{
    cc_err rc = v ? cc_state_put_json(o->ctx, key, v) : CC_ERR_NOMEM;
    json_decref(v);
    return rc;
}

static cc_err get(op *o, const char *key, json_t **out)
{
    return cc_state_get_json(o->ctx, key, out);
}

static void ev_add(json_t *v, const char *ev)
{
    json_t *a = json_object_get(v, "ev");
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(v, "ev", a);
    }
    json_array_append_new(a, json_string(ev));
}

static bool org_exists(op *o, const char *org)
{
    const cc_genesis *g = o->ctx->genesis;
    for (size_t i = 0; i < g->org_count; i++)
        if (strcmp(g->orgs[i].id, org) == 0) return true;
    return false;
}

/* The organisation a product belongs to (its manufacturer), from dproduct/. */
static cc_err product_get(op *o, const char *gtin, json_t **out)
{
    char key[32];
    snprintf(key, sizeof key, "dproduct/%s", gtin);
    cc_err rc = get(o, key, out);
    if (rc == CC_ERR_NOT_FOUND) return cc_errf(o->ctx->eb, rc, "GTIN %s is not a registered product", gtin);
    return rc;
}

/* ---- alerts -------------------------------------------------------------------------- */

/* Append an alert; orgs is an array of organisation ids (stolen), detail
 * a JSON object or NULL (stolen). */
static cc_err alert_add(op *o, const char *kind, const char *subject_field, const char *subject, json_t *orgs,
                        json_t *detail)
{
    json_t *count = NULL;
    json_int_t n = 0;
    cc_err rc = get(o, "dalert/count", &count);
    if (rc == CC_OK) n = json_integer_value(count);
    json_decref(count);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) {
        json_decref(orgs);
        json_decref(detail);
        return rc;
    }
    n++;
    json_t *a = json_pack("{s:s, s:s, s:I, s:s, s:o}", "kind", kind, subject_field, subject, "time",
                          (json_int_t)o->ctx->time_ms, "txid", o->ev, "orgs", orgs ? orgs : json_array());
    if (a && detail)
        json_object_set_new(a, "detail", detail);
    else
        json_decref(detail);
    char key[40];
    snprintf(key, sizeof key, "dalert/%lld", (long long)n);
    if ((rc = put(o, key, a)) != CC_OK) return rc;
    return put(o, "dalert/count", json_integer(n));
}

/* ["a","b"] without duplicates or NULLs. */
static json_t *org_set(const char *a, const char *b, const char *c)
{
    json_t *s = json_array();
    const char *v[] = {a, b, c};
    for (size_t i = 0; i < 3; i++) {
        if (!v[i] || !v[i][0]) continue;
        bool seen = false;
        for (size_t j = 0; j < i; j++) seen = seen || streq(v[i], v[j]);
        if (!seen) json_array_append_new(s, json_string(v[i]));
    }
    return s;
}

/* A list of at most ALERT_UNITS ids from an array of strings, and the count. */
static json_t *unit_sample(const json_t *ids)
{
    json_t *s = json_array();
    for (size_t i = 0; i < json_array_size(ids) && i < ALERT_UNITS; i++)
        json_array_append(s, json_array_get(ids, i));
    return json_pack("{s:o, s:I}", "units", s, "count", (json_int_t)json_array_size(ids));
}

/* ---- working sets of units and cases ------------------------------------------------------ */

static void items_free(items *s)
{
    for (size_t i = 0; i < s->n; i++) json_decref(s->v[i].v);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static item *items_push(items *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        item *v = realloc(s->v, cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    item *it = &s->v[s->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static cc_err items_add_case(op *o, items *s, const char *sscc, bool top, int depth);

/* Load a unit (it must exist) into s. */
static cc_err items_add_unit(op *o, items *s, const char *unit, bool top)
{
    if (s->units >= CC_SUPPLY_BATCH_MAX)
        return cc_errf(o->ctx->eb, CC_ERR_TOO_LARGE, "more than %d units in one operation",
                       CC_SUPPLY_BATCH_MAX);
    item *it = items_push(s);
    if (!it) return CC_ERR_NOMEM;
    snprintf(it->id, sizeof it->id, "%s", unit);
    unit_key(unit, it->key);
    it->top = top;
    cc_err rc = get(o, it->key, &it->v);
    if (rc != CC_OK) {
        s->n--;
        return rc == CC_ERR_NOT_FOUND ? cc_errf(o->ctx->eb, rc, "unit %s was never commissioned", unit)
                                      : cc_errf(o->ctx->eb, rc, "cannot read unit %s", unit);
    }
    s->units++;
    return CC_OK;
}

/* Load a case and, recursively, everything packed in it. */
static cc_err items_add_case(op *o, items *s, const char *sscc, bool top, int depth)
{
    if (depth > CASE_DEPTH)
        return cc_errf(o->ctx->eb, CC_ERR_INVALID, "cases nest deeper than %d levels at %s", CASE_DEPTH,
                       sscc);
    item *it = items_push(s);
    if (!it) return CC_ERR_NOMEM;
    snprintf(it->id, sizeof it->id, "%s", sscc);
    snprintf(it->key, sizeof it->key, "dcase/%s", sscc);
    it->is_case = true;
    it->top = top;
    cc_err rc = get(o, it->key, &it->v);
    if (rc != CC_OK) {
        s->n--;
        return rc == CC_ERR_NOT_FOUND ? cc_errf(o->ctx->eb, rc, "case %s is unknown", sscc)
                                      : cc_errf(o->ctx->eb, rc, "cannot read case %s", sscc);
    }
    json_t *units = json_incref(json_object_get(it->v, "units"));
    json_t *cases = json_incref(json_object_get(it->v, "cases"));
    size_t i;
    for (i = 0; rc == CC_OK && i < json_array_size(units); i++)
        rc = items_add_unit(o, s, json_string_value(json_array_get(units, i)), false);
    for (i = 0; rc == CC_OK && i < json_array_size(cases); i++)
        rc = items_add_case(o, s, json_string_value(json_array_get(cases, i)), false, depth + 1);
    json_decref(units);
    json_decref(cases);
    return rc;
}

/* Load the payload's "units" and "cases" (top level) and what the cases hold. */
static cc_err items_load(op *o, items *s)
{
    json_t *x;
    size_t i;
    cc_err rc = CC_OK;
    json_array_foreach(json_object_get(o->p, "units"), i, x)
    {
        if ((rc = items_add_unit(o, s, json_string_value(x), true)) != CC_OK) return rc;
    }
    json_array_foreach(json_object_get(o->p, "cases"), i, x)
    {
        if ((rc = items_add_case(o, s, json_string_value(x), true, 1)) != CC_OK) return rc;
    }
    return rc;
}

static cc_err items_flush(op *o, items *s)
{
    for (size_t i = 0; i < s->n; i++) {
        cc_err rc = cc_state_put_json(o->ctx, s->v[i].key, s->v[i].v);
        if (rc != CC_OK) return rc;
    }
    return CC_OK;
}

static const char *what(const item *it)
{
    return it->is_case ? "case" : "unit";
}

/* Is the unit or case owned by the acting organisation, in state st, and
 * (when top) not packed in a case? */
static cc_err owned(op *o, const item *it, const char *st)
{
    const char *own = str(it->v, "own"), *cur = str(it->v, "st");
    if (!streq(own, o->org))
        return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "%s %s belongs to %s, not %s", what(it), it->id,
                       own ? own : "nobody", o->org);
    if (!streq(cur, st)) return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "%s %s is %s", what(it), it->id, cur);
    if (it->top && str(it->v, "in"))
        return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "%s %s is packed in case %s: unpack it or name the case",
                       what(it), it->id, str(it->v, "in"));
    return CC_OK;
}

/* Refuse a unit flagged recalled (unless allow_recall), suspect or illegitimate. */
static cc_err unflagged(op *o, const item *it, bool allow_recall)
{
    if (it->is_case) return CC_OK;
    if (str(it->v, "illegitimate"))
        return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "unit %s is quarantined as illegitimate product", it->id);
    if (str(it->v, "suspect"))
        return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "unit %s is quarantined as suspect product", it->id);
    if (allow_recall) return CC_OK;
    char gtin[CC_GS1_GTIN_DIGITS + 1], serial[CC_GS1_SERIAL_MAX + 1], key[64];
    json_t *r = NULL;
    bool recalled = str(it->v, "recall") != NULL;
    if (!recalled && cc_supply_unit_split(it->id, gtin, serial)) {
        snprintf(key, sizeof key, "drecall/%s/%s", gtin, str(it->v, "lot"));
        recalled = get(o, key, &r) == CC_OK;
        json_decref(r);
    }
    return recalled ? cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "unit %s is recalled", it->id) : CC_OK;
}

static bool expired(const json_t *unit, uint64_t time_ms)
{
    int64_t last = cc_gs1_exp_day(str(unit, "exp") ? str(unit, "exp") : "");
    return last >= 0 && (int64_t)(time_ms / DAY_MS) > last;
}

/* ---- drug.prefix ----------------------------------------------------------------------- */

static bool digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static cc_err prefix_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"prefix", "org", NULL};
    const char *prefix, *org;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "prefix", true, CC_GS1_PREFIX_MAX, &prefix, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "org", true, CC_RECORDS_ORG_MAX, &org, eb)) != CC_OK)
        return rc;
    if (!digits(prefix, CC_GS1_PREFIX_MIN, CC_GS1_PREFIX_MAX))
        return cc_errf(eb, CC_ERR_INVALID, "a GS1 company prefix is %d..%d digits", CC_GS1_PREFIX_MIN,
                       CC_GS1_PREFIX_MAX);
    return CC_OK;
}

static cc_err prefix_apply(cc_exec_ctx *ctx)
{
    op o = {.ctx = ctx, .p = ctx->payload, .org = ctx->signer->org, .role = ctx->signer->role};
    const char *prefix = str(o.p, "prefix"), *org = str(o.p, "org");
    char key[48], owner[64];
    json_t *v = NULL;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, o.ev);
    if (!org_exists(&o, org)) return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no organisation \"%s\"", org);
    /* Prefix-free: no assigned prefix starts this one, none starts with it. */
    cc_err rc = cc_supply_prefix_owner(cc_apps_reader, ctx, prefix, owner, NULL);
    if (rc == CC_OK)
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "company prefix %s overlaps one assigned to %s", prefix,
                       owner);
    if (rc != CC_ERR_NOT_FOUND) return rc;
    snprintf(key, sizeof key, "dprefixpart/%s", prefix);
    if (get(&o, key, &v) == CC_OK) {
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "company prefix %s is the start of assigned prefix %s", prefix,
                     str(v, "prefix"));
        json_decref(v);
        return rc;
    }
    snprintf(key, sizeof key, "dprefix/%s", prefix);
    if ((rc = put(&o, key, json_pack("{s:s, s:s}", "org", org, "txid", o.ev))) != CC_OK) return rc;
    for (size_t len = CC_GS1_PREFIX_MIN; len < strlen(prefix); len++) {
        snprintf(key, sizeof key, "dprefixpart/%.*s", (int)len, prefix);
        if ((rc = put(&o, key, json_pack("{s:s}", "prefix", prefix))) != CC_OK) return rc;
    }
    return CC_OK;
}

/* ---- drug.product ------------------------------------------------------------------------- */

static bool ndc_valid(const char *s)
{
    size_t n = strlen(s), dashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-')
            dashes++;
        else if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return n >= 10 && n <= CC_SUPPLY_NDC_MAX && dashes <= 2 && s[0] != '-' && s[n - 1] != '-';
}

static cc_err product_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"gtin", "ndc", "name", "strength", "form", NULL};
    const char *gtin, *ndc;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "gtin", true, CC_GS1_GTIN_DIGITS, &gtin, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "ndc", true, CC_SUPPLY_NDC_MAX, &ndc, eb)) != CC_OK ||
        (rc = text_field(p, "name", true, eb)) != CC_OK ||
        (rc = text_field(p, "strength", true, eb)) != CC_OK ||
        (rc = text_field(p, "form", true, eb)) != CC_OK)
        return rc;
    if (!cc_gs1_gtin_valid(gtin))
        return cc_errf(eb, CC_ERR_INVALID, "\"gtin\" must be a GTIN-14 with a valid check digit");
    if (!ndc_valid(ndc)) return cc_errf(eb, CC_ERR_INVALID, "\"ndc\" must be an NDC such as 12345-6789-01");
    return CC_OK;
}

/* The acting organisation must own the GTIN's company prefix. */
static cc_err prefix_owned(op *o, const char *gtin, unsigned *prefix_len)
{
    char owner[64];
    cc_err rc = cc_supply_prefix_owner(cc_apps_reader, o->ctx, gtin + 1, owner, prefix_len);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "no organisation holds the company prefix of GTIN %s",
                       gtin);
    if (rc != CC_OK) return rc;
    if (strcmp(owner, o->org) != 0)
        return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "GTIN %s is under a company prefix of %s, not %s", gtin,
                       owner, o->org);
    return CC_OK;
}

static cc_err product_apply(cc_exec_ctx *ctx)
{
    op o = {.ctx = ctx, .p = ctx->payload, .org = ctx->signer->org, .role = ctx->signer->role};
    const char *gtin = str(o.p, "gtin");
    unsigned len = 0;
    char key[32];
    json_t *old = NULL;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, o.ev);
    cc_err rc = prefix_owned(&o, gtin, &len);
    if (rc != CC_OK) return rc;
    snprintf(key, sizeof key, "dproduct/%s", gtin);
    if (get(&o, key, &old) == CC_OK) {
        json_decref(old);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "GTIN %s is already registered", gtin);
    }
    json_t *v = json_deep_copy(o.p);
    if (!v) return CC_ERR_NOMEM;
    char prefix[CC_GS1_PREFIX_MAX + 1];
    snprintf(prefix, sizeof prefix, "%.*s", (int)len, gtin + 1);
    json_object_set_new(v, "prefix", json_string(prefix));
    json_object_set_new(v, "org", json_string(o.org));
    json_object_set_new(v, "txid", json_string(o.ev));
    return put(&o, key, v);
}

/* ---- drug.commission ----------------------------------------------------------------------- */

static bool serial_ok(const char *s)
{
    return cc_gs1_serial_valid(s);
}

/* A serial range, {"prefix","start","count","width"}: count serials
 * prefix + (start + k) in decimal, zero-padded to width digits. A list of
 * 10,000 serials does not fit the 64 KiB payload; a range does. */
static cc_err range_check(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"prefix", "start", "count", "width", NULL};
    json_t *r = json_object_get(p, "range");
    const char *prefix = NULL;
    json_int_t start = 0, count = 0, width = 0;
    cc_err rc;
    if (!json_is_object(r))
        return cc_errf(eb, CC_ERR_INVALID, "\"range\" must be {\"prefix\",\"start\",\"count\",\"width\"}");
    if ((rc = cc_payload_only(r, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(r, "prefix", false, CC_GS1_SERIAL_MAX, &prefix, eb)) != CC_OK ||
        (rc = cc_payload_int(r, "width", true, 1, 18, &width, eb)) != CC_OK ||
        (rc = cc_payload_int(r, "start", true, 0, 999999999999999999LL, &start, eb)) != CC_OK ||
        (rc = cc_payload_int(r, "count", true, 1, CC_SUPPLY_BATCH_MAX, &count, eb)) != CC_OK)
        return rc;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (prefix && !cc_gs1_serial_valid(prefix))
        return cc_errf(eb, CC_ERR_INVALID, "range \"prefix\" holds a character outside the GS1 set");
    if (plen + (size_t)width > CC_GS1_SERIAL_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "range serials would be longer than %d characters",
                       CC_GS1_SERIAL_MAX);
    json_int_t limit = 1;
    for (json_int_t i = 0; i < width; i++) limit *= 10;
    if (start + count > limit)
        return cc_errf(eb, CC_ERR_INVALID, "range runs past %lld digits", (long long)width);
    return CC_OK;
}

size_t cc_supply_serial_count(const json_t *p)
{
    json_t *r = json_object_get(p, "range");
    return r ? (size_t)json_integer_value(json_object_get(r, "count")) : list_len(p, "serials");
}

const char *cc_supply_serial_at(const json_t *p, size_t k, char buf[CC_GS1_SERIAL_MAX + 1])
{
    json_t *r = json_object_get(p, "range");
    if (!r) return json_string_value(json_array_get(json_object_get(p, "serials"), k));
    const char *prefix = json_string_value(json_object_get(r, "prefix"));
    snprintf(buf, CC_GS1_SERIAL_MAX + 1, "%s%0*lld", prefix ? prefix : "",
             (int)json_integer_value(json_object_get(r, "width")),
             (long long)(json_integer_value(json_object_get(r, "start")) + (json_int_t)k));
    return buf;
}

static cc_err commission_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"gtin", "lot", "exp", "serials", "range", NULL};
    const char *gtin, *lot, *exp;
    bool has_range = json_object_get(p, "range") != NULL;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "gtin", true, CC_GS1_GTIN_DIGITS, &gtin, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "lot", true, CC_GS1_LOT_MAX, &lot, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "exp", true, CC_GS1_EXP_DIGITS, &exp, eb)) != CC_OK ||
        (rc = id_list(p, "serials", false, CC_SUPPLY_BATCH_MAX, serial_ok, "a GS1 serial", eb)) != CC_OK ||
        (has_range && (rc = range_check(p, eb)) != CC_OK))
        return rc;
    if (!cc_gs1_gtin_valid(gtin))
        return cc_errf(eb, CC_ERR_INVALID, "\"gtin\" must be a GTIN-14 with a valid check digit");
    if (!cc_gs1_lot_valid(lot)) return cc_errf(eb, CC_ERR_INVALID, "\"lot\" is not a GS1 lot number");
    if (!cc_gs1_exp_valid(exp)) return cc_errf(eb, CC_ERR_INVALID, "\"exp\" must be a date YYMMDD");
    if (has_range == (json_object_get(p, "serials") != NULL))
        return cc_errf(eb, CC_ERR_INVALID, "a commission names either \"serials\" or a \"range\"");
    if (cc_supply_serial_count(p) == 0) return cc_errf(eb, CC_ERR_INVALID, "\"serials\" is empty");
    return CC_OK;
}

static cc_err commission_op(op *o)
{
    const char *gtin = str(o->p, "gtin"), *lot = str(o->p, "lot"), *exp = str(o->p, "exp");
    json_t *product = NULL, *lotv = NULL;
    char key[UNIT_KEY_MAX + 16];
    cc_err rc = product_get(o, gtin, &product);
    if (rc != CC_OK) return rc;
    bool mine = streq(str(product, "org"), o->org);
    json_decref(product);
    if (!mine) return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "GTIN %s is not a product of %s", gtin, o->org);
    if (cc_gs1_exp_day(exp) < (int64_t)(o->ctx->time_ms / DAY_MS))
        return cc_errf(o->ctx->eb, CC_ERR_INVALID, "expiry %s is already past", exp);

    /* One lot has one expiry. */
    snprintf(key, sizeof key, "dlot/%s/%s", gtin, lot);
    rc = get(o, key, &lotv);
    if (rc == CC_OK && !streq(str(lotv, "exp"), exp)) {
        rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "lot %s was commissioned with expiry %s, not %s", lot,
                     str(lotv, "exp"), exp);
        json_decref(lotv);
        return rc;
    }
    if (rc == CC_ERR_NOT_FOUND)
        lotv = json_pack("{s:s, s:I}", "exp", exp, "count", (json_int_t)0);
    else if (rc != CC_OK)
        return rc;
    if (!lotv) return CC_ERR_NOMEM;
    size_t count = cc_supply_serial_count(o->p);
    json_object_set_new(lotv, "count",
                        json_integer(json_integer_value(json_object_get(lotv, "count")) + (json_int_t)count));
    if ((rc = put(o, key, lotv)) != CC_OK) return rc;

    /* Each unit record in canonical form (keys sorted), formatted directly:
     * commissioning writes up to 10,000 of them. */
    char rec[512], buf[CC_GS1_SERIAL_MAX + 1];
    const char *plain_lot = cc_json_str_plain(lot) ? lot : NULL;
    for (size_t k = 0; k < count; k++) {
        const char *serial = cc_supply_serial_at(o->p, k, buf);
        const uint8_t *old;
        size_t old_len;
        snprintf(key, sizeof key, "dunit/%s/%s", gtin, serial);
        rc = cc_state_get(o->ctx, key, &old, &old_len);
        if (rc == CC_OK)
            return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "serial %s of GTIN %s already exists", serial, gtin);
        if (rc != CC_ERR_NOT_FOUND) return rc;
        if (plain_lot && cc_json_str_plain(o->org)) {
            int n = snprintf(rec, sizeof rec,
                             "{\"ev\":[\"%s\"],\"exp\":\"%s\",\"lot\":\"%s\",\"mfr\":\"%s\",\"own\":\"%s\","
                             "\"st\":\"active\"}",
                             o->ev, exp, lot, o->org, o->org);
            if (n > 0 && (size_t)n < sizeof rec) {
                if ((rc = cc_state_put(o->ctx, key, rec, (size_t)n)) != CC_OK) return rc;
                continue;
            }
        }
        json_t *u = json_pack("{s:[s], s:s, s:s, s:s, s:s, s:s}", "ev", o->ev, "exp", exp, "lot", lot, "mfr",
                              o->org, "own", o->org, "st", "active");
        if ((rc = put(o, key, u)) != CC_OK) return rc;
    }
    return CC_OK;
}

/* ---- drug.aggregate / drug.disaggregate ---------------------------------------------------------- */

static cc_err aggregate_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"sscc", "units", "cases", NULL};
    const char *sscc;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "sscc", true, CC_GS1_SSCC_DIGITS, &sscc, eb)) != CC_OK ||
        (rc = items_check(p, eb)) != CC_OK)
        return rc;
    if (!cc_gs1_sscc_valid(sscc))
        return cc_errf(eb, CC_ERR_INVALID, "\"sscc\" must be an SSCC with a valid check digit");
    json_t *cases = json_object_get(p, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++)
        if (streq(json_string_value(json_array_get(cases, i)), sscc))
            return cc_errf(eb, CC_ERR_INVALID, "case %s cannot be packed into itself", sscc);
    return CC_OK;
}

static cc_err aggregate_op(op *o)
{
    const char *sscc = str(o->p, "sscc");
    char key[32], owner[64];
    json_t *old = NULL;
    items s = {0};
    cc_err rc = cc_supply_prefix_owner(cc_apps_reader, o->ctx, sscc + 1, owner, NULL);
    if (rc == CC_ERR_NOT_FOUND || (rc == CC_OK && strcmp(owner, o->org) != 0))
        return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "SSCC %s is not under a company prefix of %s", sscc,
                       o->org);
    if (rc != CC_OK) return rc;
    snprintf(key, sizeof key, "dcase/%s", sscc);
    rc = get(o, key, &old);
    if (rc == CC_OK && !streq(str(old, "st"), "empty")) {
        rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "case %s is in use (%s)", sscc, str(old, "st"));
        json_decref(old);
        return rc;
    }
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return rc;
    json_t *evs = old ? json_incref(json_object_get(old, "ev")) : json_array();
    json_decref(old);

    if ((rc = items_load(o, &s)) != CC_OK) goto out;
    for (size_t i = 0; i < s.n; i++) {
        item *it = &s.v[i];
        if ((rc = owned(o, it, "active")) != CC_OK || (rc = unflagged(o, it, false)) != CC_OK) goto out;
        if (it->top) json_object_set_new(it->v, "in", json_string(sscc));
        if (it->top) ev_add(it->v, o->ev);
    }
    if ((rc = items_flush(o, &s)) != CC_OK) goto out;
    json_t *c = json_pack("{s:s, s:s, s:o, s:o, s:o}", "own", o->org, "st", "active", "units",
                          list_ref(o->p, "units"), "cases", list_ref(o->p, "cases"), "ev", evs);
    evs = NULL;
    if (c) ev_add(c, o->ev);
    rc = put(o, key, c);
out:
    json_decref(evs);
    items_free(&s);
    return rc;
}

static cc_err disaggregate_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"sscc", NULL};
    const char *sscc;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "sscc", true, CC_GS1_SSCC_DIGITS, &sscc, eb)) != CC_OK)
        return rc;
    return cc_gs1_sscc_valid(sscc)
               ? CC_OK
               : cc_errf(eb, CC_ERR_INVALID, "\"sscc\" must be an SSCC with a valid check digit");
}

static cc_err disaggregate_op(op *o)
{
    const char *sscc = str(o->p, "sscc");
    items s = {0};
    cc_err rc = items_add_case(o, &s, sscc, true, 1);
    if (rc != CC_OK) goto out;
    item *c = &s.v[0];
    if ((rc = owned(o, c, "active")) != CC_OK) goto out;
    /* Only the case's direct children are released; they keep what they hold. */
    for (size_t i = 1; i < s.n; i++)
        if (streq(str(s.v[i].v, "in"), sscc)) {
            json_object_del(s.v[i].v, "in");
            ev_add(s.v[i].v, o->ev);
        }
    json_object_set_new(c->v, "st", json_string("empty"));
    json_object_set_new(c->v, "units", json_array());
    json_object_set_new(c->v, "cases", json_array());
    ev_add(c->v, o->ev);
    rc = items_flush(o, &s);
out:
    items_free(&s);
    return rc;
}

/* ---- drug.ship / drug.return ---------------------------------------------------------------- */

static cc_err ship_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"to", "units", "cases", "transaction", NULL};
    const char *to;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "to", true, CC_RECORDS_ORG_MAX, &to, eb)) != CC_OK ||
        (rc = items_check(p, eb)) != CC_OK || (rc = transaction_check(p, eb)) != CC_OK)
        return rc;
    return org_valid(to) ? CC_OK : cc_errf(eb, CC_ERR_INVALID, "\"to\" is not an organisation id");
}

static bool in_list(const json_t *a, const char *s)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (streq(json_string_value(json_array_get(a, i)), s)) return true;
    return false;
}

/* Add organisation org (ignored when NULL) to the list orgs, once. */
static void org_add(json_t *orgs, const char *org)
{
    if (org && !in_list(orgs, org)) json_array_append_new(orgs, json_string(org));
}

static cc_err open_shipments_edit(op *o, const char *add, const char *remove)
{
    json_t *open = NULL;
    cc_err rc = get(o, "dshipopen", &open);
    if (rc == CC_ERR_NOT_FOUND)
        open = json_array();
    else if (rc != CC_OK)
        return rc;
    if (!open) return CC_ERR_NOMEM;
    if (add) json_array_append_new(open, json_string(add));
    for (size_t i = 0; remove && i < json_array_size(open); i++)
        if (streq(json_string_value(json_array_get(open, i)), remove)) json_array_remove(open, i--);
    return put(o, "dshipopen", open);
}

/* Name org among the consignees of every lot that units of s belong to:
 * dlot/<gtin>/<lot> "consignees" lists each organisation units of the lot
 * were shipped to, in the order they first were, so that a recall of the
 * lot reaches every organisation that held or was sent any of it. A
 * shipment of 10,000 units may span as many lots: their keys are sorted
 * and each lot is read once. */
static cc_err lots_consign(op *o, const items *s, const char *org)
{
    char(*keys)[UNIT_KEY_MAX + 16] = malloc((s->n + 1) * sizeof *keys);
    const char **sorted = malloc((s->n + 1) * sizeof *sorted);
    size_t n = 0;
    cc_err rc = keys && sorted ? CC_OK : CC_ERR_NOMEM;
    for (size_t i = 0; rc == CC_OK && i < s->n; i++) {
        const char *lot = s->v[i].v ? str(s->v[i].v, "lot") : NULL;
        if (s->v[i].is_case || !lot) continue;
        snprintf(keys[n], sizeof keys[n], "dlot/%.14s/%s", s->v[i].id, lot);
        sorted[n] = keys[n];
        n++;
    }
    if (rc == CC_OK) qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; rc == CC_OK && i < n; i++) {
        json_t *lotv = NULL;
        if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0) continue;
        if ((rc = get(o, sorted[i], &lotv)) != CC_OK) {
            if (rc == CC_ERR_NOT_FOUND) rc = cc_errf(o->ctx->eb, CC_ERR_CORRUPT, "%s is missing", sorted[i]);
            break;
        }
        json_t *list = json_object_get(lotv, "consignees");
        if (!json_is_array(list)) json_object_set_new(lotv, "consignees", list = json_array());
        if (in_list(list, org)) {
            json_decref(lotv);
            continue;
        }
        json_array_append_new(list, json_string(org));
        rc = put(o, sorted[i], lotv);
    }
    free(keys);
    free(sorted);
    return rc;
}

static cc_err ship_common(op *o, bool is_return)
{
    const char *to = str(o->p, "to");
    items s = {0};
    cc_err rc;
    if (!org_exists(o, to)) return cc_errf(o->ctx->eb, CC_ERR_NOT_FOUND, "no organisation \"%s\"", to);
    if (strcmp(to, o->org) == 0) return cc_errf(o->ctx->eb, CC_ERR_INVALID, "%s cannot ship to itself", to);
    if ((rc = items_load(o, &s)) != CC_OK) goto out;
    json_t *units = json_array(), *cases = json_array();
    for (size_t i = 0; i < s.n; i++) {
        item *it = &s.v[i];
        bool to_maker = !it->is_case && streq(str(it->v, "mfr"), to);
        if ((rc = owned(o, it, "active")) != CC_OK || (rc = unflagged(o, it, is_return && to_maker)) != CC_OK)
            break;
        if (is_return && !it->is_case && !in_list(json_object_get(it->v, "past"), to)) {
            rc = cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN,
                         "unit %s never belonged to %s: a return goes back up the chain", it->id, to);
            break;
        }
        json_object_set_new(it->v, "st", json_string("transit"));
        json_object_set_new(it->v, "ship", json_string(o->ev));
        json_object_set_new(it->v, "to", json_string(to));
        ev_add(it->v, o->ev);
        json_array_append_new(it->is_case ? cases : units, json_string(it->id));
    }
    if (rc == CC_OK) rc = lots_consign(o, &s, to);
    if (rc == CC_OK) rc = items_flush(o, &s);
    char key[16 + EVENT_ID_MAX];
    snprintf(key, sizeof key, "dship/%s", o->ev);
    json_t *ship = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:O, s:s}", "from", o->org, "to", to,
                             "kind", is_return ? "return" : "sale", "time", (json_int_t)o->ctx->time_ms,
                             "units", units, "cases", cases, "top", list_ref(o->p, "cases"), "transaction",
                             json_object_get(o->p, "transaction"), "status", "open");
    if (rc == CC_OK)
        rc = put(o, key, ship);
    else
        json_decref(ship);
    if (rc == CC_OK) rc = open_shipments_edit(o, o->ev, NULL);
out:
    items_free(&s);
    return rc;
}

static cc_err ship_op(op *o)
{
    return ship_common(o, false);
}

static cc_err return_op(op *o)
{
    return ship_common(o, true);
}

/* ---- drug.receive ----------------------------------------------------------------------------- */

static cc_err receive_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"shipment", "units", "cases", NULL};
    const char *ship;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "shipment", false, EVENT_ID_MAX - 1, &ship, eb)) != CC_OK ||
        (rc = items_check(p, eb)) != CC_OK)
        return rc;
    if (ship && !cc_hex_id_valid(ship, CC_HASH_BYTES) &&
        !(strlen(ship) > CC_HASH_HEX && ship[CC_HASH_HEX - 1] == ':'))
        return cc_errf(eb, CC_ERR_INVALID, "\"shipment\" must be the txid of a shipment");
    return CC_OK;
}

/* A sorted view of a JSON array of strings, for membership tests over
 * lists of up to 10,000 units (the strings stay owned by the array). */
typedef struct idset {
    const char **v;
    size_t n;
} idset;

static cc_err idset_make(const json_t *a, idset *out)
{
    out->n = json_array_size(a);
    out->v = malloc((out->n + 1) * sizeof *out->v);
    if (!out->v) return CC_ERR_NOMEM;
    for (size_t i = 0; i < out->n; i++) out->v[i] = json_string_value(json_array_get(a, i));
    qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return CC_OK;
}

static bool idset_has(const idset *s, const char *id)
{
    return bsearch(&id, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

/* Close one shipment after a receipt: the units of it that were not
 * received this time (and are still in transit) are missing. */
static cc_err shipment_close(op *o, const char *ship_id, const json_t *received)
{
    char key[16 + EVENT_ID_MAX];
    json_t *ship = NULL, *missing = json_array(), *x;
    idset got;
    size_t i;
    snprintf(key, sizeof key, "dship/%s", ship_id);
    cc_err rc = get(o, key, &ship);
    if (rc == CC_OK) rc = idset_make(received, &got);
    if (rc != CC_OK) {
        json_decref(ship);
        json_decref(missing);
        return rc;
    }
    json_array_foreach(json_object_get(ship, "units"), i, x)
    {
        const char *u = json_string_value(x);
        if (idset_has(&got, u)) continue;
        char ukey[UNIT_KEY_MAX];
        json_t *unit = NULL;
        unit_key(u, ukey);
        if (get(o, ukey, &unit) == CC_OK && streq(str(unit, "st"), "transit") &&
            streq(str(unit, "ship"), ship_id))
            json_array_append_new(missing, json_string(u));
        json_decref(unit);
    }
    free(got.v);
    bool was_open = streq(str(ship, "status"), "open");
    json_object_set_new(ship, "status", json_string("received"));
    json_object_set_new(ship, "received", json_string(o->ev));
    json_object_set(ship, "missing", missing);
    const char *from = str(ship, "from"), *to = str(ship, "to");
    json_t *orgs = org_set(from, to, NULL);
    if (json_array_size(missing) > 0 && was_open) {
        json_t *d = unit_sample(missing);
        json_object_set_new(d, "shipment", json_string(ship_id));
        rc = alert_add(o, "missing", "shipment", ship_id, orgs, d);
        orgs = NULL;
    }
    json_decref(orgs);
    json_decref(missing);
    if (rc == CC_OK)
        rc = put(o, key, ship);
    else
        json_decref(ship);
    if (rc == CC_OK && was_open) rc = open_shipments_edit(o, NULL, ship_id);
    return rc;
}

static cc_err receive_op(op *o)
{
    const char *named = str(o->p, "shipment");
    json_t *ship = NULL, *received = json_array(), *unexpected = json_array(), *shipments = json_array();
    json_t *flagged_cases = json_array(); /* top-level cases flagged unexpected, and cases inside them */
    size_t flagged = 0;                   /* items flagged, not transferred */
    items s = {0};
    char key[16 + EVENT_ID_MAX];
    cc_err rc = CC_OK;
    if (named) {
        snprintf(key, sizeof key, "dship/%s", named);
        rc = get(o, key, &ship);
        if (rc == CC_ERR_NOT_FOUND) rc = cc_errf(o->ctx->eb, rc, "no shipment %s", named);
        if (rc != CC_OK) goto out;
        if (!streq(str(ship, "to"), o->org)) {
            rc = cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "shipment %.12s… goes to %s, not %s", named,
                         str(ship, "to"), o->org);
            goto out;
        }
        json_array_append_new(shipments, json_string(named));
    }
    if ((rc = items_load(o, &s)) != CC_OK) goto out;
    for (size_t i = 0; i < s.n; i++) {
        item *it = &s.v[i];
        const char *st = str(it->v, "st"), *to = str(it->v, "to"), *sid = str(it->v, "ship");
        bool in_transit = streq(st, "transit");
        /* What a flagged case holds is flagged with it. items_add_case
         * loads a case before its contents, so its id is listed by now;
         * without this, its units failed the check below ("not in transit
         * ... (it is transit)") and the whole receipt was refused. */
        if (!it->top && in_list(flagged_cases, str(it->v, "in"))) {
            json_array_append_new(it->is_case ? flagged_cases : unexpected, json_string(it->id));
            flagged++;
            json_decref(it->v);
            it->v = NULL; /* not written back */
            continue;
        }
        if (in_transit && !streq(to, o->org)) {
            rc = cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "%s %s is shipped to %s, not to %s", what(it), it->id,
                         to, o->org);
            goto out;
        }
        if (!in_transit || (named && !streq(sid, named))) {
            /* Not shipped to us (in this shipment): flagged, not transferred. */
            if (!named || !it->top) {
                rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "%s %s is not in transit to %s (it is %s)",
                             what(it), it->id, o->org, st);
                goto out;
            }
            json_array_append_new(it->is_case ? flagged_cases : unexpected, json_string(it->id));
            flagged++;
            json_decref(it->v);
            it->v = NULL; /* not written back */
            continue;
        }
        /* A packed unit or case is received with its case (the invariant
         * above: only top-level items are received). Taken alone it would
         * change hands while its case stayed in transit with the sender,
         * and neither could be received, unpacked or shipped after that. */
        if (it->top && str(it->v, "in")) {
            rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "%s %s is packed in case %s: receive the case",
                         what(it), it->id, str(it->v, "in"));
            goto out;
        }
        if (!in_list(shipments, sid)) json_array_append_new(shipments, json_string(sid));
        const char *prev = str(it->v, "own");
        json_t *past = json_object_get(it->v, "past");
        if (!json_is_array(past)) json_object_set_new(it->v, "past", past = json_array());
        if (prev && !in_list(past, prev)) json_array_append_new(past, json_string(prev));
        json_object_set_new(it->v, "own", json_string(o->org));
        json_object_set_new(it->v, "st", json_string("active"));
        json_object_del(it->v, "ship");
        json_object_del(it->v, "to");
        ev_add(it->v, o->ev);
        if (!it->is_case) json_array_append_new(received, json_string(it->id));
    }
    if (flagged > 0 && flagged == s.n) {
        rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "nothing received was in shipment %.12s…", named);
        goto out;
    }
    for (size_t i = 0; i < s.n; i++)
        if (s.v[i].v && (rc = cc_state_put_json(o->ctx, s.v[i].key, s.v[i].v)) != CC_OK) goto out;
    if (json_array_size(unexpected) > 0) {
        json_t *d = unit_sample(unexpected);
        json_object_set_new(d, "shipment", json_string(named));
        rc = alert_add(o, "unexpected", "shipment", named, org_set(str(ship, "from"), o->org, NULL), d);
        if (rc != CC_OK) goto out;
    }
    for (size_t i = 0; rc == CC_OK && i < json_array_size(shipments); i++)
        rc = shipment_close(o, json_string_value(json_array_get(shipments, i)), received);
out:
    json_decref(ship);
    json_decref(received);
    json_decref(unexpected);
    json_decref(flagged_cases);
    json_decref(shipments);
    items_free(&s);
    return rc;
}

/* ---- drug.dispense / drug.decommission -------------------------------------------------------------- */

static cc_err dispense_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"units", NULL};
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = id_list(p, "units", true, CC_SUPPLY_BATCH_MAX, cc_supply_unit_valid, "a unit <gtin14>.<serial>",
                      eb)) != CC_OK)
        return rc;
    return list_len(p, "units") ? CC_OK : cc_errf(eb, CC_ERR_INVALID, "\"units\" is empty");
}

static cc_err dispense_op(op *o)
{
    items s = {0};
    cc_err rc = items_load(o, &s);
    for (size_t i = 0; rc == CC_OK && i < s.n; i++) {
        item *it = &s.v[i];
        if (streq(str(it->v, "st"), "dispensed")) {
            rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT,
                         "unit %s was already dispensed: this package may be a copy", it->id);
            break;
        }
        if ((rc = owned(o, it, "active")) != CC_OK || (rc = unflagged(o, it, false)) != CC_OK) break;
        if (expired(it->v, o->ctx->time_ms)) {
            rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "unit %s expired (%s)", it->id, str(it->v, "exp"));
            break;
        }
        json_object_set_new(it->v, "st", json_string("dispensed"));
        ev_add(it->v, o->ev);
    }
    if (rc == CC_OK) rc = items_flush(o, &s);
    items_free(&s);
    return rc;
}

static const char *const decommission_reasons[] = {"destroyed", "damaged", "sample", "other", NULL};

static cc_err decommission_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"units", "cases", "reason", "note", NULL};
    const char *reason;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = items_check(p, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", true, 16, &reason, eb)) != CC_OK ||
        (rc = text_field(p, "note", false, eb)) != CC_OK)
        return rc;
    for (size_t i = 0; decommission_reasons[i]; i++)
        if (strcmp(reason, decommission_reasons[i]) == 0) return CC_OK;
    return cc_errf(eb, CC_ERR_INVALID, "\"reason\" must be destroyed, damaged, sample or other");
}

static cc_err decommission_op(op *o)
{
    const char *st = streq(str(o->p, "reason"), "destroyed") ? "destroyed" : "decommissioned";
    items s = {0};
    cc_err rc = items_load(o, &s);
    for (size_t i = 0; rc == CC_OK && i < s.n; i++) {
        item *it = &s.v[i];
        if ((rc = owned(o, it, "active")) != CC_OK) break;
        json_object_set_new(it->v, "st", json_string(st));
        ev_add(it->v, o->ev);
    }
    if (rc == CC_OK) rc = items_flush(o, &s);
    items_free(&s);
    return rc;
}

/* ---- drug.recall ------------------------------------------------------------------------------------ */

static cc_err recall_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"gtin", "lot", "serials", "class", "reason", NULL};
    const char *gtin, *lot, *cls;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "gtin", true, CC_GS1_GTIN_DIGITS, &gtin, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "lot", false, CC_GS1_LOT_MAX, &lot, eb)) != CC_OK ||
        (rc = id_list(p, "serials", false, CC_SUPPLY_BATCH_MAX, serial_ok, "a GS1 serial", eb)) != CC_OK ||
        (rc = cc_payload_str(p, "class", true, 3, &cls, eb)) != CC_OK ||
        (rc = text_field(p, "reason", true, eb)) != CC_OK)
        return rc;
    if (!cc_gs1_gtin_valid(gtin)) return cc_errf(eb, CC_ERR_INVALID, "\"gtin\" must be a valid GTIN-14");
    if (!streq(cls, "I") && !streq(cls, "II") && !streq(cls, "III"))
        return cc_errf(eb, CC_ERR_INVALID, "\"class\" must be I, II or III (FDA recall classification)");
    if (!lot == !json_object_get(p, "serials"))
        return cc_errf(eb, CC_ERR_INVALID, "a recall names either a \"lot\" or \"serials\"");
    if (json_object_get(p, "serials") && list_len(p, "serials") == 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"serials\" is empty");
    return CC_OK;
}

static cc_err recall_op(op *o)
{
    const char *gtin = str(o->p, "gtin"), *lot = str(o->p, "lot");
    json_t *product = NULL, *v = NULL, *x;
    char key[UNIT_KEY_MAX + 16];
    size_t i;
    cc_err rc = product_get(o, gtin, &product);
    if (rc != CC_OK) return rc;
    bool mine = streq(str(product, "org"), o->org);
    json_decref(product);
    if (!mine)
        return cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "only the manufacturer of GTIN %s may recall it", gtin);
    json_t *detail = json_pack("{s:s, s:s, s:s}", "gtin", gtin, "class", str(o->p, "class"), "reason",
                               str(o->p, "reason"));
    if (lot) {
        snprintf(key, sizeof key, "dlot/%s/%s", gtin, lot);
        if ((rc = get(o, key, &v)) != CC_OK) {
            json_decref(detail);
            return rc == CC_ERR_NOT_FOUND
                       ? cc_errf(o->ctx->eb, rc, "lot %s of GTIN %s was never commissioned", lot, gtin)
                       : rc;
        }
        /* the alert concerns the maker and every organisation the lot went to */
        json_t *orgs = org_set(o->org, NULL, NULL);
        json_array_foreach(json_object_get(v, "consignees"), i, x)
        {
            org_add(orgs, json_string_value(x));
        }
        json_decref(v);
        snprintf(key, sizeof key, "drecall/%s/%s", gtin, lot);
        if (get(o, key, &v) == CC_OK) {
            json_decref(v);
            json_decref(detail);
            json_decref(orgs);
            return cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "lot %s is already recalled", lot);
        }
        rc = put(o, key,
                 json_pack("{s:s, s:s, s:s, s:I}", "txid", o->ev, "class", str(o->p, "class"), "reason",
                           str(o->p, "reason"), "time", (json_int_t)o->ctx->time_ms));
        char subject[CC_GS1_GTIN_DIGITS + 2 + CC_GS1_LOT_MAX];
        snprintf(subject, sizeof subject, "%s/%s", gtin, lot);
        if (rc == CC_OK) return alert_add(o, "recalled", "lot", subject, orgs, detail);
        json_decref(orgs);
        json_decref(detail);
        return rc;
    }
    /* a recall by serials concerns the maker and each unit's holder, and
     * the organisation it is on its way to */
    json_t *units = json_array(), *orgs = org_set(o->org, NULL, NULL);
    json_array_foreach(json_object_get(o->p, "serials"), i, x)
    {
        snprintf(key, sizeof key, "dunit/%s/%s", gtin, json_string_value(x));
        if ((rc = get(o, key, &v)) != CC_OK) {
            if (rc == CC_ERR_NOT_FOUND)
                rc = cc_errf(o->ctx->eb, rc, "serial %s of GTIN %s was never commissioned",
                             json_string_value(x), gtin);
            break;
        }
        org_add(orgs, str(v, "own"));
        org_add(orgs, str(v, "to"));
        json_object_set_new(v, "recall", json_string(o->ev));
        ev_add(v, o->ev);
        if ((rc = put(o, key, v)) != CC_OK) break;
        json_array_append_new(units, json_sprintf("%s.%s", gtin, json_string_value(x)));
    }
    if (rc == CC_OK) {
        json_t *d = unit_sample(units);
        json_object_update(d, detail);
        rc = alert_add(o, "recalled", "gtin", gtin, orgs, d);
        orgs = NULL;
    }
    json_decref(orgs);
    json_decref(detail);
    json_decref(units);
    return rc;
}

/* ---- drug.suspect / drug.clear ---------------------------------------------------------------------- */

static cc_err suspect_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"units", "kind", "reason", NULL};
    const char *kind;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = id_list(p, "units", true, CC_SUPPLY_BATCH_MAX, cc_supply_unit_valid, "a unit <gtin14>.<serial>",
                      eb)) != CC_OK ||
        (rc = cc_payload_str(p, "kind", true, 16, &kind, eb)) != CC_OK ||
        (rc = text_field(p, "reason", true, eb)) != CC_OK)
        return rc;
    if (list_len(p, "units") == 0) return cc_errf(eb, CC_ERR_INVALID, "\"units\" is empty");
    return streq(kind, "suspect") || streq(kind, "illegitimate")
               ? CC_OK
               : cc_errf(eb, CC_ERR_INVALID, "\"kind\" must be suspect or illegitimate");
}

/* May the acting organisation speak for this unit: its owner, a past
 * owner, its receiver, its manufacturer, or a regulator? */
static bool involved_org(const json_t *u, const char *org);
static bool involved(const op *o, const json_t *u)
{
    return (o->role & CC_ROLE_REGULATOR) || involved_org(u, o->org);
}

static bool involved_org(const json_t *u, const char *org)
{
    return streq(str(u, "own"), org) || streq(str(u, "mfr"), org) || streq(str(u, "to"), org) ||
           in_list(json_object_get(u, "past"), org);
}

static cc_err suspect_op(op *o)
{
    const char *kind = str(o->p, "kind");
    json_t *orgs = json_array(), *x;
    items s = {0};
    size_t i;
    cc_err rc = items_load(o, &s);
    for (i = 0; rc == CC_OK && i < s.n; i++) {
        item *it = &s.v[i];
        if (!involved(o, it->v)) {
            rc = cc_errf(o->ctx->eb, CC_ERR_FORBIDDEN, "%s has never held unit %s", o->org, it->id);
            break;
        }
        json_object_set_new(it->v, kind, json_string(o->ev));
        ev_add(it->v, o->ev);
        org_add(orgs, str(it->v, "own"));
        org_add(orgs, str(it->v, "mfr"));
    }
    if (rc == CC_OK) rc = items_flush(o, &s);
    if (rc == CC_OK) {
        org_add(orgs, o->org);
        json_t *d = unit_sample(json_object_get(o->p, "units"));
        json_object_set_new(d, "reason", json_string(str(o->p, "reason")));
        json_object_set_new(d, "by", json_string(o->org));
        char nkey[16 + EVENT_ID_MAX];
        snprintf(nkey, sizeof nkey, "dnotice/%s", o->ev);
        rc = put(o, nkey, json_pack("{s:s, s:s}", "org", o->org, "kind", kind));
        x = json_array_get(json_object_get(o->p, "units"), 0);
        if (rc == CC_OK)
            rc = alert_add(o, kind, "unit", json_string_value(x), json_incref(orgs), d);
        else
            json_decref(d);
    }
    json_decref(orgs);
    items_free(&s);
    return rc;
}

static cc_err clear_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"units", "reason", NULL};
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = id_list(p, "units", true, CC_SUPPLY_BATCH_MAX, cc_supply_unit_valid, "a unit <gtin14>.<serial>",
                      eb)) != CC_OK ||
        (rc = text_field(p, "reason", true, eb)) != CC_OK)
        return rc;
    return list_len(p, "units") ? CC_OK : cc_errf(eb, CC_ERR_INVALID, "\"units\" is empty");
}

static cc_err clear_op(op *o)
{
    static const char *const kinds[] = {"suspect", "illegitimate"};
    items s = {0};
    cc_err rc = items_load(o, &s);
    for (size_t i = 0; rc == CC_OK && i < s.n; i++) {
        item *it = &s.v[i];
        bool any = false;
        for (size_t k = 0; rc == CC_OK && k < 2; k++) {
            const char *notice = str(it->v, kinds[k]);
            if (!notice) continue;
            char nkey[16 + EVENT_ID_MAX];
            json_t *n = NULL;
            snprintf(nkey, sizeof nkey, "dnotice/%s", notice);
            if ((rc = get(o, nkey, &n)) != CC_OK) break;
            bool may = (o->role & CC_ROLE_REGULATOR) || streq(str(n, "org"), o->org) ||
                       streq(str(it->v, "mfr"), o->org);
            json_decref(n);
            if (!may) {
                rc = cc_errf(
                    o->ctx->eb, CC_ERR_FORBIDDEN,
                    "only the notifying organisation, the manufacturer or a regulator may clear unit %s",
                    it->id);
                break;
            }
            json_object_del(it->v, kinds[k]);
            any = true;
        }
        if (rc == CC_OK && !any)
            rc = cc_errf(o->ctx->eb, CC_ERR_CONFLICT, "unit %s has no suspect or illegitimate notification",
                         it->id);
        if (rc == CC_OK) ev_add(it->v, o->ev);
    }
    if (rc == CC_OK) rc = items_flush(o, &s);
    if (rc == CC_OK) {
        json_t *d = unit_sample(json_object_get(o->p, "units"));
        json_object_set_new(d, "reason", json_string(str(o->p, "reason")));
        rc = alert_add(
            o, "cleared", "unit", json_string_value(json_array_get(json_object_get(o->p, "units"), 0)),
            org_set(o->org, s.n ? str(s.v[0].v, "mfr") : NULL, s.n ? str(s.v[0].v, "own") : NULL), d);
    }
    items_free(&s);
    return rc;
}

/* ---- the operation table and the direct txs ------------------------------------------------------------ */

typedef struct op_type {
    const char *name;
    cc_err (*run)(op *o);
} op_type;

/* The operations a direct tx or an EPCIS event can stand for; their roles
 * and payload checks are those of cc_supply_tx_types below. */
static const op_type op_types[] = {
    {"drug.commission", commission_op},
    {"drug.aggregate", aggregate_op},
    {"drug.disaggregate", disaggregate_op},
    {"drug.ship", ship_op},
    {"drug.receive", receive_op},
    {"drug.dispense", dispense_op},
    {"drug.decommission", decommission_op},
    {"drug.return", return_op},
    {"drug.recall", recall_op},
    {"drug.suspect", suspect_op},
    {"drug.clear", clear_op},
};
#define OP_TYPE_COUNT (sizeof op_types / sizeof op_types[0])

static const op_type *op_type_find(const char *name)
{
    for (size_t i = 0; i < OP_TYPE_COUNT; i++)
        if (strcmp(op_types[i].name, name) == 0) return &op_types[i];
    return NULL;
}

#define TRADERS (CC_ROLE_ADMIN | CC_ROLE_MANUFACTURER | CC_ROLE_DISTRIBUTOR | CC_ROLE_PHARMACY)

static cc_err direct_apply(cc_exec_ctx *ctx)
{
    const op_type *t = op_type_find(ctx->tx->type);
    op o = {.ctx = ctx, .p = ctx->payload, .org = ctx->signer->org, .role = ctx->signer->role};
    assert(t);
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, o.ev);
    return t->run(&o);
}

/* ---- drug.alert
 * -------------------------------------------------------------------------------------------- */

static const char *const alert_kinds[] = {"unknown",  "mismatch", "clone",        "not_owner", "expired",
                                          "recalled", "suspect",  "illegitimate", NULL};

static cc_err alert_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"kind", "unit", "by", "request", "lot", "exp", NULL};
    const char *kind, *unit, *lot, *exp;
    uint8_t h[CC_HASH_BYTES];
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "kind", true, 16, &kind, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "unit", true, CC_SUPPLY_UNIT_ID_MAX, &unit, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "by", h, sizeof h, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "request", h, sizeof h, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "lot", false, CC_GS1_LOT_MAX, &lot, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "exp", false, CC_GS1_EXP_DIGITS, &exp, eb)) != CC_OK)
        return rc;
    if (!cc_supply_unit_valid(unit)) return cc_errf(eb, CC_ERR_INVALID, "\"unit\" is not <gtin14>.<serial>");
    for (size_t i = 0; alert_kinds[i]; i++)
        if (strcmp(kind, alert_kinds[i]) == 0) return CC_OK;
    return cc_errf(eb, CC_ERR_INVALID, "\"kind\" is not a verification signal");
}

static cc_err alert_apply(cc_exec_ctx *ctx)
{
    op o = {.ctx = ctx, .p = ctx->payload, .org = ctx->signer->org, .role = ctx->signer->role};
    const char *unit = str(o.p, "unit");
    char key[80], idkey[8 + CC_HASH_HEX], ukey[UNIT_KEY_MAX];
    json_t *v = NULL, *by = NULL;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, o.ev);
    snprintf(key, sizeof key, "dalertreq/%s", str(o.p, "request"));
    if (get(&o, key, &v) == CC_OK) {
        json_decref(v);
        return cc_errf(ctx->eb, CC_ERR_DUPLICATE, "this verification request was already reported");
    }
    snprintf(idkey, sizeof idkey, "id/%s", str(o.p, "by"));
    cc_err rc = get(&o, idkey, &by);
    if (rc != CC_OK) return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "the presenter is not a registered identity");
    json_t *orgs = org_set(str(by, "org"), NULL, NULL);
    unit_key(unit, ukey);
    if (get(&o, ukey, &v) == CC_OK) {
        org_add(orgs, str(v, "mfr"));
        org_add(orgs, str(v, "own"));
        org_add(orgs, str(v, "to"));
    }
    json_decref(v);
    json_t *d = json_pack("{s:s, s:s}", "presenter", str(o.p, "by"), "presenter_org", str(by, "org"));
    if (str(o.p, "lot")) json_object_set_new(d, "lot", json_string(str(o.p, "lot")));
    if (str(o.p, "exp")) json_object_set_new(d, "exp", json_string(str(o.p, "exp")));
    json_decref(by);
    if ((rc = put(&o, key, json_pack("{s:s}", "txid", o.ev))) != CC_OK) {
        json_decref(orgs);
        json_decref(d);
        return rc;
    }
    return alert_add(&o, str(o.p, "kind"), "unit", unit, orgs, d);
}

/* ---- epcis.capture
 * ------------------------------------------------------------------------------------------ */

static cc_err capture_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"document", "content_digest", "signature_input", "signature", NULL};
    const char *doc, *s;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "content_digest", true, 63, &s, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "signature_input", true, 255, &s, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "signature", true, 99, &s, eb)) != CC_OK)
        return rc;
    json_t *d = json_object_get(p, "document");
    doc = json_string_value(d);
    if (!doc || json_string_length(d) == 0 || json_string_length(d) > CC_SUPPLY_EPCIS_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "\"document\" must be the EPCIS document's text, at most %d bytes",
                       CC_SUPPLY_EPCIS_MAX);
    return CC_OK;
}

static cc_err capture_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    json_t *doc = NULL, *ops = NULL, *idv = NULL, *x;
    const char *text = json_string_value(json_object_get(p, "document"));
    size_t len = json_string_length(json_object_get(p, "document")), i;
    char txid[CC_HASH_HEX], key[16 + CC_HASH_HEX], who[CC_HASH_HEX];
    cc_reqsig_verified sig;
    cc_identity capturer;
    cc_err rc;

    /* The capturer's signature over the exact document, re-checked here. */
    rc = cc_reqsig_verify("POST", "/epcis/capture", "", (const uint8_t *)text, len, str(p, "content_digest"),
                          str(p, "signature_input"), str(p, "signature"), (int64_t)(ctx->time_ms / 1000),
                          &sig, ctx->eb);
    if (rc != CC_OK) return rc;
    uint8_t sig_hash[CC_HASH_BYTES];
    char sig_hex[CC_HASH_HEX];
    cc_sha256(sig.sig, sizeof sig.sig, sig_hash);
    snprintf(key, sizeof key, "depcisreq/%s", cc_hex(sig_hash, CC_HASH_BYTES, sig_hex));
    if (cc_state_get_json(ctx, key, &idv) == CC_OK) {
        json_decref(idv);
        return cc_errf(ctx->eb, CC_ERR_DUPLICATE, "this signed EPCIS document was already captured");
    }
    char idkey[8 + CC_HASH_HEX];
    snprintf(idkey, sizeof idkey, "id/%s", cc_hex(sig.keyid, CC_PUBKEY_BYTES, who));
    if ((rc = cc_state_get_json(ctx, idkey, &idv)) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_UNKNOWN_SIGNER,
                       "the document's signer %.12s… is not a registered identity", who);
    memset(&capturer, 0, sizeof capturer);
    capturer.role = cc_role_parse(str(idv, "role") ? str(idv, "role") : "");
    snprintf(capturer.org, sizeof capturer.org, "%s", str(idv, "org") ? str(idv, "org") : "");
    bool revoked = streq(str(idv, "status"), "revoked");
    json_decref(idv);
    if (revoked) return cc_errf(ctx->eb, CC_ERR_REVOKED, "the document's signer was revoked");

    doc = cc_json_parse((const uint8_t *)text, len, ctx->eb);
    if (!doc) return CC_ERR_MALFORMED;
    if ((rc = cc_epcis_map(doc, cc_apps_reader, ctx, &ops, ctx->eb)) != CC_OK) goto out;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid);
    json_array_foreach(ops, i, x)
    {
        const char *type = str(x, "type");
        const op_type *t = type ? op_type_find(type) : NULL;
        const cc_tx_type *tt = type ? cc_tx_type_find(type) : NULL;
        op o = {.ctx = ctx, .p = json_object_get(x, "payload"), .org = capturer.org, .role = capturer.role};
        char prefix[64];
        snprintf(o.ev, sizeof o.ev, "%.64s:%u", txid, (unsigned)(i % 100000));
        snprintf(prefix, sizeof prefix, "$.epcisBody.eventList[%zu]", i);
        if (!t || !tt || !json_is_object(o.p)) {
            rc = cc_errf(ctx->eb, CC_ERR_INVALID, "%s: no lifecycle operation", prefix);
            goto out;
        }
        if (!(capturer.role & tt->roles)) {
            rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "%s: role %s may not %s", prefix,
                         cc_role_name(capturer.role), type);
            goto out;
        }
        if ((rc = tt->validate(o.p, ctx->eb)) != CC_OK || (rc = t->run(&o)) != CC_OK) {
            char why[sizeof ctx->eb->msg];
            snprintf(why, sizeof why, "%s", ctx->eb->msg);
            rc = cc_errf(ctx->eb, rc, "%s: %s", prefix, why);
            goto out;
        }
    }
    json_t *seen = json_pack("{s:s, s:s}", "txid", txid, "by", who);
    rc = seen ? cc_state_put_json(ctx, key, seen) : CC_ERR_NOMEM;
    json_decref(seen);
out:
    json_decref(doc);
    json_decref(ops);
    return rc;
}

const cc_tx_type cc_supply_tx_types[] = {
    {"drug.prefix", CC_ROLE_REGULATOR, prefix_validate, prefix_apply, NULL},
    {"drug.product", CC_ROLE_ADMIN | CC_ROLE_MANUFACTURER, product_validate, product_apply, NULL},
    {"drug.commission", CC_ROLE_ADMIN | CC_ROLE_MANUFACTURER, commission_validate, direct_apply, NULL},
    {"drug.aggregate", TRADERS, aggregate_validate, direct_apply, NULL},
    {"drug.disaggregate", TRADERS, disaggregate_validate, direct_apply, NULL},
    {"drug.ship", TRADERS, ship_validate, direct_apply, NULL},
    {"drug.receive", TRADERS, receive_validate, direct_apply, NULL},
    {"drug.dispense", CC_ROLE_PHARMACY, dispense_validate, direct_apply, NULL},
    {"drug.decommission", TRADERS, decommission_validate, direct_apply, NULL},
    {"drug.return", TRADERS, ship_validate, direct_apply, NULL},
    {"drug.recall", CC_ROLE_ADMIN | CC_ROLE_MANUFACTURER, recall_validate, direct_apply, NULL},
    {"drug.suspect", TRADERS | CC_ROLE_REGULATOR, suspect_validate, direct_apply, NULL},
    {"drug.clear", TRADERS | CC_ROLE_REGULATOR, clear_validate, direct_apply, NULL},
    {"drug.alert", CC_ROLE_NODE, alert_validate, alert_apply, NULL},
    {"epcis.capture", CC_ROLE_NODE, capture_validate, capture_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* ---- verification (the node's GET /v1/drugs/verify) ---------------------------------------------------- */

static void add_once(json_t *a, const char *s)
{
    if (!in_list(a, s)) json_array_append_new(a, json_string(s));
}

cc_err cc_supply_verify(cc_state_reader get_fn, void *ctx, const cc_supply_query *q, uint64_t now_ms,
                        json_t **out)
{
    char key[UNIT_KEY_MAX + 16];
    json_t *unit = NULL, *v = NULL;
    json_t *info = json_array(), *signals = json_array();
    json_t *ans = json_pack("{s:s, s:s}", "gtin", q->gtin, "serial", q->serial);
    cc_err rc;
    *out = NULL;
    if (!ans || !info || !signals) {
        rc = CC_ERR_NOMEM;
        goto fail;
    }
    snprintf(key, sizeof key, "dunit/%s/%s", q->gtin, q->serial);
    rc = get_fn(ctx, key, &unit);
    if (rc == CC_ERR_NOT_FOUND) {
        snprintf(key, sizeof key, "dproduct/%s", q->gtin);
        rc = get_fn(ctx, key, &v);
        if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) goto fail;
        json_object_set_new(ans, "verified", json_false());
        json_object_set_new(ans, "reason",
                            json_string(rc == CC_OK ? "No_match_GTIN_Serial" : "No_match_GTIN"));
        json_decref(v);
        add_once(signals, "unknown");
        goto done;
    }
    if (rc != CC_OK) goto fail;

    const char *lot = str(unit, "lot"), *exp = str(unit, "exp"), *st = str(unit, "st");
    bool lot_bad = q->lot && q->lot[0] && !streq(q->lot, lot);
    bool exp_bad = q->exp && q->exp[0] && !streq(q->exp, exp);
    if (lot_bad || exp_bad) {
        json_object_set_new(ans, "verified", json_false());
        json_object_set_new(ans, "reason",
                            json_string(lot_bad && exp_bad ? "No_match_GTIN_Serial_Lot_Expiry"
                                        : lot_bad          ? "No_match_GTIN_Serial_Lot"
                                                           : "No_match_GTIN_Serial_Expiry"));
        add_once(signals, "mismatch");
    } else {
        json_object_set_new(ans, "verified", json_true());
    }
    json_object_set_new(ans, "status", json_string(st));

    snprintf(key, sizeof key, "drecall/%s/%s", q->gtin, lot ? lot : "");
    bool recalled = str(unit, "recall") != NULL;
    if (!recalled) {
        rc = get_fn(ctx, key, &v);
        if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) goto fail;
        recalled = rc == CC_OK;
        json_decref(v);
    }
    if (recalled) {
        add_once(info, "Recalled");
        add_once(signals, "recalled");
    }
    if (expired(unit, now_ms)) {
        add_once(info, "Expired");
        add_once(signals, "expired");
    }
    if (str(unit, "suspect")) {
        add_once(info, "Suspect");
        add_once(signals, "suspect");
    }
    if (str(unit, "illegitimate")) {
        add_once(info, "Illegitimate");
        add_once(signals, "illegitimate");
    }
    if (streq(st, "dispensed")) {
        add_once(info, "Dispensed");
        /* Presented again after dispensing, by anyone but the dispenser. */
        if (!q->inquiry && (!q->presenter_org || !streq(q->presenter_org, str(unit, "own"))))
            add_once(signals, "clone");
    }
    if (streq(st, "decommissioned") || streq(st, "destroyed")) add_once(info, "Not_for_re-distribution");
    if (q->presenter_org && !q->inquiry && !streq(st, "dispensed") &&
        !(q->presenter_role & CC_ROLE_REGULATOR) && !streq(q->presenter_org, str(unit, "own")) &&
        !streq(q->presenter_org, str(unit, "mfr")) &&
        !(streq(st, "transit") && streq(q->presenter_org, str(unit, "to"))))
        add_once(signals, "not_owner");

    if (q->presenter_org &&
        ((q->presenter_role & CC_ROLE_REGULATOR) || involved_org(unit, q->presenter_org))) {
        json_t *owners = json_deep_copy(json_object_get(unit, "past"));
        if (!owners) owners = json_array();
        json_array_append_new(owners, json_string(str(unit, "own")));
        json_t *h = json_pack("{s:s, s:s, s:o, s:o}", "manufacturer", str(unit, "mfr"), "lot", lot, "owners",
                              owners, "events", list_ref(unit, "ev"));
        if (h && exp) json_object_set_new(h, "exp", json_string(exp));
        if (h && str(unit, "to")) json_object_set_new(h, "to", json_string(str(unit, "to")));
        if (h && str(unit, "in")) json_object_set_new(h, "case", json_string(str(unit, "in")));
        if (h) json_object_set_new(ans, "history", h);
    }
done:
    json_object_set_new(
        ans, "saleable",
        json_boolean(json_is_true(json_object_get(ans, "verified")) && json_array_size(info) == 0 &&
                     (streq(str(ans, "status"), "active") || streq(str(ans, "status"), "transit"))));
    json_object_set_new(ans, "info", info);
    json_object_set_new(ans, "signals", signals);
    json_decref(unit);
    *out = ans;
    return CC_OK;
fail:
    json_decref(unit);
    json_decref(info);
    json_decref(signals);
    json_decref(ans);
    return rc;
}
