/*
 * node/http_drugs.c — GET /v1/drugs/verify and GET /v1/drugs/alerts
 * (docs/SUPPLY.md "Verification" and "Alerts").
 *
 * Verification is open to anyone and answers from committed state; a
 * request signed by a member (RFC 9421) also judges the presenter, shows
 * custody history to those entitled to it, and records what it flagged as
 * a drug.alert tx signed by this node before answering. The unsigned path
 * is the hot one (a scanner at a dock door): one read view, two or three
 * state reads, no allocation beyond the answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/supply.h"
#include "carechain/os.h"
#include "node/http.h"

#define ALERTS_DEFAULT  100
#define ALERTS_MAX      500
#define ALERTS_SCAN_MAX 20000 /* stored alerts looked at for one listing */
#define DAY_MS          (24ULL * 60 * 60 * 1000)

/* Is the request signed (any of the three headers present)? */
static bool is_signed(cc_http_req *req)
{
    return cc_http_header(req, "Signature") || cc_http_header(req, "Signature-Input") ||
           cc_http_header(req, "Content-Digest");
}

/* Only the parameters in allowed, each at most once. */
static bool params_ok(cc_http_req *req, const char *const *allowed, char *bad, size_t cap)
{
    const char *q = req->uri ? strchr(req->uri, '?') : NULL;
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "=&");
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strlen(allowed[i]) == n && strncmp(allowed[i], q, n) == 0;
        if (!ok && n) {
            snprintf(bad, cap, "%.*s", (int)(n < 40 ? n : 40), q);
            return false;
        }
        q = strchr(q, '&');
    }
    return true;
}

/* The identifier asked about: ?id= in any form, or gtin, serial, lot, exp. */
static cc_err read_query(cc_http_req *req, cc_gs1_id *id, cc_errbuf *eb)
{
    const char *text = cc_http_query(req, "id"), *gtin = cc_http_query(req, "gtin");
    const char *serial = cc_http_query(req, "serial"), *lot = cc_http_query(req, "lot");
    const char *exp = cc_http_query(req, "exp");
    cc_err rc;
    memset(id, 0, sizeof *id);
    if (text) {
        if (gtin || serial) return cc_errf(eb, CC_ERR_USAGE, "give either id or gtin and serial, not both");
        if ((rc = cc_gs1_parse(text, id, eb)) != CC_OK) return CC_ERR_USAGE;
        if (id->kind != CC_GS1_SGTIN)
            return cc_errf(eb, CC_ERR_USAGE, "verification is of a saleable unit (an SGTIN), not a case");
    } else {
        if (!gtin || !serial)
            return cc_errf(eb, CC_ERR_USAGE, "give id, or gtin and serial (lot and exp optional)");
        id->kind = CC_GS1_SGTIN;
        if ((rc = cc_gs1_gtin_normalize(gtin, id->gtin, eb)) != CC_OK) return CC_ERR_USAGE;
        if (!cc_gs1_serial_valid(serial))
            return cc_errf(eb, CC_ERR_USAGE, "serial must be 1..%d characters of the GS1 set",
                           CC_GS1_SERIAL_MAX);
        snprintf(id->serial, sizeof id->serial, "%s", serial);
    }
    if (lot) {
        if (!cc_gs1_lot_valid(lot))
            return cc_errf(eb, CC_ERR_USAGE, "lot must be 1..%d characters of the GS1 set", CC_GS1_LOT_MAX);
        snprintf(id->lot, sizeof id->lot, "%s", lot);
    }
    if (exp) {
        if (strlen(exp) == 10 && cc_gs1_exp_from_iso(exp, id->exp, eb) == CC_OK) return CC_OK;
        if (!cc_gs1_exp_valid(exp)) return cc_errf(eb, CC_ERR_USAGE, "exp must be YYMMDD or YYYY-MM-DD");
        snprintf(id->exp, sizeof id->exp, "%s", exp);
    }
    return CC_OK;
}

/* Each event id of a history, with the tx's type, time and signer. */
static json_t *history_events(cc_node *node, const json_t *ids)
{
    json_t *out = json_array(), *x;
    size_t i;
    json_array_foreach(ids, i, x)
    {
        const char *ev = json_string_value(x);
        uint8_t txid[CC_HASH_BYTES];
        json_t *tx = NULL;
        if (!ev || cc_supply_event_txid(ev, txid) != CC_OK ||
            cc_chain_tx_json(node->chain, txid, &tx) != CC_OK) {
            json_array_append_new(out, json_pack("{s:s?}", "event", ev));
            continue;
        }
        json_array_append_new(
            out, json_pack("{s:s, s:O, s:O, s:O, s:O}", "event", ev, "type", json_object_get(tx, "type"),
                           "time_ms", json_object_get(tx, "block_time_ms"), "height",
                           json_object_get(tx, "height"), "signer", json_object_get(tx, "signer")));
        json_decref(tx);
    }
    return out;
}

/* The signal a signed verification records: the first one that is about
 * this presentation (recalls and notifications are alerts already). */
static const char *presentation_signal(const json_t *signals)
{
    static const char *const kinds[] = {"clone", "unknown", "mismatch", "not_owner", "expired", NULL};
    for (size_t k = 0; kinds[k]; k++)
        for (size_t i = 0; i < json_array_size(signals); i++)
            if (strcmp(json_string_value(json_array_get(signals, i)), kinds[k]) == 0) return kinds[k];
    return NULL;
}

static cc_err record_alert(cc_node *node, const cc_reqauth *who, const cc_gs1_id *id, const char *kind,
                           char txid_hex[CC_HASH_HEX], cc_errbuf *eb)
{
    char unit[CC_SUPPLY_UNIT_ID_MAX];
    uint8_t txid[CC_HASH_BYTES];
    cc_result result;
    snprintf(unit, sizeof unit, "%s.%s", id->gtin, id->serial);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "unit", unit, "by", who->requester_hex,
                          "request", who->request_hex);
    if (p && id->lot[0]) json_object_set_new(p, "lot", json_string(id->lot));
    if (p && id->exp[0]) json_object_set_new(p, "exp", json_string(id->exp));
    char *text = p ? cc_json_dump(p) : NULL;
    json_decref(p);
    if (!text) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the alert");
    cc_err rc = cc_reqauth_submit(node, "drug.alert", text, txid, &result, eb);
    free(text);
    if (rc == CC_OK && result.code != CC_OK)
        rc = cc_errf(eb, (cc_err)result.code, "the ledger refused the alert: %s", result.message);
    cc_hex(txid, CC_HASH_BYTES, txid_hex);
    return rc;
}

enum MHD_Result cc_http_get_drug_verify(cc_http_req *req)
{
    static const char *const params[] = {"id", "gtin", "serial", "lot", "exp", "history", NULL};
    cc_errbuf eb = {0};
    cc_gs1_id id;
    cc_chain_view *view = NULL;
    cc_reqauth who;
    json_t *ans = NULL;
    char bad[48];
    bool sig = is_signed(req);

    if (!params_ok(req, params, bad, sizeof bad))
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "unknown parameter \"%s\"", bad);
    if (read_query(req, &id, &eb) != CC_OK) return cc_http_send_error(req, CC_ERR_USAGE, NULL, "%s", eb.msg);
    /* history=1: a member asks after the unit's custody, holding no package;
     * it is not a presentation, so it is not judged and records nothing */
    const char *history = cc_http_query(req, "history");
    if (history && strcmp(history, "1") != 0)
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "history must be 1");
    if (history && !sig)
        return cc_http_send_error(req, CC_ERR_USAGE, NULL,
                                  "history=1 is for a signed request: custody history is shown to the unit's "
                                  "owners, its manufacturer and regulators");
    cc_err rc = cc_chain_view_open(req->node->chain, &view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the state");
    if (sig && (rc = cc_reqauth_check(req, view, &who, &eb)) != CC_OK) {
        cc_chain_view_close(view);
        return cc_http_send_error(req, rc, NULL, "%s", eb.msg);
    }
    cc_supply_query q = {.gtin = id.gtin,
                         .serial = id.serial,
                         .lot = id.lot,
                         .exp = id.exp,
                         .presenter_org = sig ? who.org : NULL,
                         .presenter_role = sig ? who.role : 0,
                         .inquiry = history != NULL};
    rc = cc_supply_verify(cc_chain_view_get_json, view, &q, cc_clocks_now_ms(&req->node->clocks), &ans);
    uint64_t height = cc_chain_view_height(view);
    cc_chain_view_close(view);
    if (rc != CC_OK) return cc_http_send_error(req, rc, NULL, "cannot read the state");
    json_object_set_new(ans, "height", json_integer((json_int_t)height));
    json_t *h = json_object_get(ans, "history");
    if (h) json_object_set_new(h, "events", history_events(req->node, json_object_get(h, "events")));

    const char *kind = sig && !history ? presentation_signal(json_object_get(ans, "signals")) : NULL;
    if (kind) {
        char txid[CC_HASH_HEX];
        if (record_alert(req->node, &who, &id, kind, txid, &eb) == CC_OK)
            json_object_set_new(ans, "alert", json_string(txid));
        else
            json_object_set_new(ans, "alert_error", json_string(eb.msg));
    }
    return cc_http_send_json(req, MHD_HTTP_OK, ans);
}

/* ---- alerts ------------------------------------------------------------------------------------------ */

static bool may_see(const cc_reqauth *who, const json_t *alert)
{
    if (who->role & CC_ROLE_REGULATOR) return true;
    json_t *orgs = json_object_get(alert, "orgs");
    for (size_t i = 0; i < json_array_size(orgs); i++)
        if (strcmp(json_string_value(json_array_get(orgs, i)), who->org) == 0) return true;
    return false;
}

/* Shipments still open after CC_SUPPLY_RECEIVE_DAYS, as alerts. */
static void overdue_alerts(cc_chain_view *view, const cc_reqauth *who, uint64_t now_ms, json_t *out,
                           size_t limit)
{
    json_t *open = NULL, *x;
    size_t i;
    if (cc_chain_view_get_json(view, "dshipopen", &open) != CC_OK) return;
    json_array_foreach(open, i, x)
    {
        char key[96];
        json_t *ship = NULL;
        if (json_array_size(out) >= limit) break;
        snprintf(key, sizeof key, "dship/%s", json_string_value(x));
        if (cc_chain_view_get_json(view, key, &ship) != CC_OK) continue;
        uint64_t t = (uint64_t)json_integer_value(json_object_get(ship, "time"));
        if (t + CC_SUPPLY_RECEIVE_DAYS * DAY_MS < now_ms) {
            json_t *a =
                json_pack("{s:s, s:O, s:I, s:O, s:[O, O], s:{s:I, s:O}}", "kind", "overdue", "shipment", x,
                          "time", (json_int_t)(t + CC_SUPPLY_RECEIVE_DAYS * DAY_MS), "txid", x, "orgs",
                          json_object_get(ship, "from"), json_object_get(ship, "to"), "detail", "count",
                          (json_int_t)json_array_size(json_object_get(ship, "units")), "to",
                          json_object_get(ship, "to"));
            if (a && may_see(who, a)) json_array_append(out, a);
            json_decref(a);
        }
        json_decref(ship);
    }
    json_decref(open);
}

enum MHD_Result cc_http_get_drug_alerts(cc_http_req *req)
{
    static const char *const params[] = {"limit", NULL};
    cc_errbuf eb = {0};
    cc_chain_view *view = NULL;
    cc_reqauth who;
    json_t *count = NULL, *list = json_array();
    char bad[48];
    uint64_t limit = ALERTS_DEFAULT;
    const char *l = cc_http_query(req, "limit");

    if (!params_ok(req, params, bad, sizeof bad)) {
        json_decref(list);
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "unknown parameter \"%s\"", bad);
    }
    if (l && !cc_http_parse_u64(l, 1, ALERTS_MAX, &limit)) {
        json_decref(list);
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "limit must be 1..%d", ALERTS_MAX);
    }
    cc_err rc = cc_chain_view_open(req->node->chain, &view);
    if (rc != CC_OK) {
        json_decref(list);
        return cc_http_send_error(req, rc, NULL, "cannot read the state");
    }
    if ((rc = cc_reqauth_check(req, view, &who, &eb)) != CC_OK) {
        cc_chain_view_close(view);
        json_decref(list);
        return cc_http_send_error(req, rc, NULL, "%s", eb.msg);
    }
    uint64_t now_ms = cc_clocks_now_ms(&req->node->clocks);
    if (now_ms < cc_chain_view_time(view)) now_ms = cc_chain_view_time(view);
    overdue_alerts(view, &who, now_ms, list, (size_t)limit);
    json_int_t n =
        cc_chain_view_get_json(view, "dalert/count", &count) == CC_OK ? json_integer_value(count) : 0;
    json_decref(count);
    for (json_int_t i = n, scanned = 0;
         i >= 1 && scanned < ALERTS_SCAN_MAX && json_array_size(list) < (size_t)limit; i--, scanned++) {
        char key[40];
        json_t *a = NULL;
        snprintf(key, sizeof key, "dalert/%lld", (long long)i);
        if (cc_chain_view_get_json(view, key, &a) != CC_OK) continue;
        if (may_see(&who, a)) json_array_append(list, a);
        json_decref(a);
    }
    cc_chain_view_close(view);
    return cc_http_send_json(req, MHD_HTTP_OK, json_pack("{s:o, s:I}", "alerts", list, "recorded", n));
}
