/*
 * node/http_epcis.c — the EPCIS 2.0 interface (docs/SUPPLY.md "EPCIS 2.0"):
 * POST /epcis/capture, GET /epcis/events?MATCH_epc= and
 * GET /epcis/epcs/{epc}/events.
 *
 * Capture: the document's HTTP request is signed by a member; the node
 * checks and maps it against its current state (so a bad document is
 * refused with the JSON path of the problem before anything is
 * submitted), then commits one epcis.capture tx signed by the node that
 * carries the document's exact bytes and the member's signature headers.
 * Every node re-checks that signature in exec, so a node cannot capture on
 * anyone's behalf, and the document commits whole or not at all.
 *
 * Queries are custody history: signed, and answered only to an
 * organisation that owns or owned every EPC asked about, made it, or
 * regulates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/supply.h"
#include "carechain/os.h"
#include "node/http.h"

#define MATCH_EPCS_MAX   50   /* EPCs of one MATCH_epc */
#define QUERY_EVENTS_MAX 2000 /* events of one answer */

static enum MHD_Result send_capture_error(cc_http_req *req, cc_err e, const char *msg)
{
    /* A document that is not valid EPCIS (or asks what we do not track) is
     * a 400 naming the JSON path, as the EPCIS capture interface answers. */
    if (e == CC_ERR_INVALID || e == CC_ERR_MALFORMED) return cc_http_send_error_status(req, 400, e, msg);
    return cc_http_send_error(req, e, NULL, "%s", msg);
}

enum MHD_Result cc_http_post_epcis_capture(cc_http_req *req)
{
    cc_errbuf eb = {0};
    cc_chain_view *view = NULL;
    cc_reqauth who;
    json_t *doc = NULL, *ops = NULL;
    cc_err rc;

    if ((rc = cc_chain_view_open(req->node->chain, &view)) != CC_OK)
        return cc_http_send_error(req, rc, NULL, "cannot read the state");
    if ((rc = cc_reqauth_check(req, view, &who, &eb)) != CC_OK) {
        cc_chain_view_close(view);
        return cc_http_send_error(req, rc, NULL, "%s", eb.msg);
    }
    if (!req->body_len) { /* after the signature: an unsigned caller learns first that it must sign */
        cc_chain_view_close(view);
        return cc_http_send_error(req, CC_ERR_USAGE, NULL, "the body must be an EPCIS 2.0 document");
    }
    doc = cc_json_parse(req->body, req->body_len, &eb);
    if (!doc) {
        cc_chain_view_close(view);
        char msg[sizeof eb.msg + 8];
        snprintf(msg, sizeof msg, "$: %s", eb.msg);
        return send_capture_error(req, CC_ERR_MALFORMED, msg);
    }
    rc = cc_epcis_map(doc, cc_chain_view_get_json, view, &ops, &eb);
    cc_chain_view_close(view);
    size_t events = rc == CC_OK ? json_array_size(ops) : 0;
    json_decref(doc);
    json_decref(ops);
    if (rc != CC_OK) return send_capture_error(req, rc, eb.msg);

    json_t *p =
        json_pack("{s:s%, s:s, s:s, s:s}", "document", (const char *)req->body, req->body_len,
                  "content_digest", cc_http_header(req, "Content-Digest"), "signature_input",
                  cc_http_header(req, "Signature-Input"), "signature", cc_http_header(req, "Signature"));
    char *text = p ? cc_json_dump(p) : NULL;
    json_decref(p);
    if (!text) return cc_http_send_error(req, CC_ERR_NOMEM, NULL, "no memory for the capture");
    if (strlen(text) > CC_PAYLOAD_MAX) {
        free(text);
        return cc_http_send_error(
            req, CC_ERR_TOO_LARGE, NULL,
            "the document does not fit one tx once escaped: split it into smaller documents");
    }
    uint8_t txid[CC_HASH_BYTES];
    char txid_hex[CC_HASH_HEX];
    cc_result result;
    rc = cc_reqauth_submit(req->node, "epcis.capture", text, txid, &result, &eb);
    free(text);
    cc_hex(txid, CC_HASH_BYTES, txid_hex);
    if (rc != CC_OK) return cc_http_send_error(req, rc, txid, "%s", eb.msg);
    if (result.code != CC_OK) return send_capture_error(req, (cc_err)result.code, result.message);
    return cc_http_send_json(req, MHD_HTTP_ACCEPTED,
                             json_pack("{s:s, s:I, s:s}", "txid", txid_hex, "events", (json_int_t)events,
                                       "capturedBy", who.requester_hex));
}

/* ---- queries ---------------------------------------------------------------------------------------- */

typedef struct query {
    cc_http_req *req;
    cc_chain_view *view;
    cc_reqauth who;
    json_t *seen;   /* event ids answered: {id: true} */
    json_t *events; /* the answer */
} query;

/* The state record of an EPC: dunit/ or dcase/. */
static cc_err epc_record(query *q, const char *epc, json_t **out, cc_errbuf *eb)
{
    cc_gs1_id id;
    char key[96];
    if (cc_gs1_parse(epc, &id, eb) != CC_OK) return CC_ERR_USAGE;
    if (id.kind == CC_GS1_SGTIN)
        snprintf(key, sizeof key, "dunit/%s/%s", id.gtin, id.serial);
    else
        snprintf(key, sizeof key, "dcase/%s", id.sscc);
    cc_err rc = cc_chain_view_get_json(q->view, key, out);
    if (rc == CC_ERR_NOT_FOUND)
        return cc_errf(eb, rc, "no events for %s: it was never commissioned or packed", epc);
    return rc;
}

static bool entitled(const query *q, const json_t *rec)
{
    const char *org = q->who.org;
    if (q->who.role & CC_ROLE_REGULATOR) return true;
    const char *own = json_string_value(json_object_get(rec, "own"));
    const char *mfr = json_string_value(json_object_get(rec, "mfr"));
    const char *to = json_string_value(json_object_get(rec, "to"));
    if ((own && strcmp(own, org) == 0) || (mfr && strcmp(mfr, org) == 0) || (to && strcmp(to, org) == 0))
        return true;
    json_t *past = json_object_get(rec, "past");
    for (size_t i = 0; i < json_array_size(past); i++)
        if (strcmp(json_string_value(json_array_get(past, i)), org) == 0) return true;
    return false;
}

/* Append the EPCIS event an event id stands for. */
static void add_event(query *q, const char *ev)
{
    char hex[CC_HASH_HEX];
    uint8_t txid[CC_HASH_BYTES];
    json_t *tx = NULL, *event = NULL;
    if (json_object_get(q->seen, ev) || json_array_size(q->events) >= QUERY_EVENTS_MAX) return;
    json_object_set_new(q->seen, ev, json_true());
    if (cc_supply_event_txid(ev, txid) != CC_OK || cc_chain_tx_json(q->req->node->chain, txid, &tx) != CC_OK)
        return;
    cc_hex(txid, CC_HASH_BYTES, hex);
    const char *type = json_string_value(json_object_get(tx, "type"));
    json_t *payload = json_object_get(tx, "payload");
    uint64_t time_ms = (uint64_t)json_integer_value(json_object_get(tx, "block_time_ms"));
    if (type && strcmp(type, "epcis.capture") == 0) {
        const char *colon = strchr(ev, ':');
        const char *text = json_string_value(json_object_get(payload, "document"));
        json_t *doc = text ? cc_json_parse((const uint8_t *)text, strlen(text), NULL) : NULL;
        json_t *list = json_object_get(json_object_get(doc, "epcisBody"), "eventList");
        json_t *one = colon ? json_array_get(list, strtoul(colon + 1, NULL, 10)) : NULL;
        if (one) event = cc_epcis_recorded(one, time_ms);
        json_decref(doc);
    } else if (type) {
        event = cc_epcis_render(type, payload, hex, time_ms, cc_chain_view_get_json, q->view);
    }
    if (event) json_array_append_new(q->events, event);
    json_decref(tx);
}

/* Answer the events of the EPCs in list (comma-separated). */
static enum MHD_Result answer_epcs(cc_http_req *req, const char *list)
{
    cc_errbuf eb = {0};
    query q = {.req = req, .seen = json_object(), .events = json_array()};
    enum MHD_Result ret;
    cc_err rc = cc_chain_view_open(req->node->chain, &q.view);
    if (rc != CC_OK) {
        ret = cc_http_send_error(req, rc, NULL, "cannot read the state");
        goto out;
    }
    if ((rc = cc_reqauth_check(req, q.view, &q.who, &eb)) != CC_OK) {
        ret = cc_http_send_error(req, rc, NULL, "%s", eb.msg);
        goto out;
    }
    char *copy = strdup(list), *save = NULL;
    size_t count = 0;
    for (char *epc = copy ? strtok_r(copy, ",", &save) : NULL; epc; epc = strtok_r(NULL, ",", &save)) {
        json_t *rec = NULL;
        if (++count > MATCH_EPCS_MAX) {
            rc = cc_errf(&eb, CC_ERR_USAGE, "at most %d EPCs in one query", MATCH_EPCS_MAX);
            break;
        }
        if ((rc = epc_record(&q, epc, &rec, &eb)) != CC_OK) break;
        if (!entitled(&q, rec)) {
            json_decref(rec);
            rc = cc_errf(&eb, CC_ERR_FORBIDDEN, "%s may not see the custody history of %s", q.who.org, epc);
            break;
        }
        json_t *evs = json_object_get(rec, "ev");
        for (size_t i = 0; i < json_array_size(evs); i++)
            add_event(&q, json_string_value(json_array_get(evs, i)));
        json_decref(rec);
    }
    free(copy);
    if (rc == CC_OK && count == 0) rc = cc_errf(&eb, CC_ERR_USAGE, "name at least one EPC");
    if (rc != CC_OK) {
        ret = cc_http_send_error(req, rc, NULL, "%s", eb.msg);
        goto out;
    }
    uint64_t now_ms = cc_clocks_now_ms(&req->node->clocks);
    ret = cc_http_send_json(req, MHD_HTTP_OK, cc_epcis_query_document(q.events, now_ms));
    q.events = NULL;
out:
    if (q.view) cc_chain_view_close(q.view);
    json_decref(q.seen);
    json_decref(q.events);
    return ret;
}

enum MHD_Result cc_http_get_epcis_events(cc_http_req *req)
{
    const char *match = cc_http_query(req, "MATCH_epc");
    if (!match || !*match)
        return cc_http_send_error(
            req, CC_ERR_USAGE, NULL,
            "give MATCH_epc=<EPC URI>[,<EPC URI>...]: carechain answers queries by EPC");
    return answer_epcs(req, match);
}

enum MHD_Result cc_http_get_epcis_epc_events(cc_http_req *req)
{
    return answer_epcs(req, req->arg);
}
