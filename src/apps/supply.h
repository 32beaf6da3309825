/*
 * apps/supply.h — the drug supply chain module: the state it keeps, the
 * EPCIS 2.0 mapping (a captured document -> the lifecycle txs it stands
 * for, and a lifecycle tx -> the EPCIS events it stands for), and the
 * verification answer the node and exec share.
 *
 * Everything here is pure: state is read through a cc_state_reader
 * (apps/records.h), the time is passed in. docs/SUPPLY.md is the manual.
 */
#ifndef CC_APPS_SUPPLY_H
#define CC_APPS_SUPPLY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "apps/records.h"
#include "carechain.h"
#include "carechain/gs1.h"

#define CC_SUPPLY_BATCH_MAX    10000       /* serials of one commission; units of one tx, cases expanded */
#define CC_SUPPLY_TEXT_MAX     200         /* bytes of a name, reason, note or transaction id */
#define CC_SUPPLY_NDC_MAX      13          /* "12345-6789-01" */
#define CC_SUPPLY_EPCIS_MAX    (48 * 1024) /* bytes of one captured EPCIS document */
#define CC_SUPPLY_EVENTS_MAX   1000        /* events of one captured document */
#define CC_SUPPLY_RECEIVE_DAYS 3           /* shipped and not received after this many days: overdue */
#define CC_SUPPLY_UNIT_ID_MAX  (CC_GS1_GTIN_DIGITS + 1 + CC_GS1_SERIAL_MAX + 1) /* "<gtin>.<serial>" */

/* ---- state keys (docs/SUPPLY.md) -------------------------------------------
 *   dprefix/<prefix>        {"org","txid"}            an assigned company prefix
 *   dprefixpart/<digits>    {"prefix"}                a proper prefix of an assigned prefix
 *   dproduct/<gtin>         {"gtin","ndc","name","strength","form","prefix","org","txid"}
 *   dunit/<gtin>/<serial>   the unit (below)
 *   dcase/<sscc>            {"own","st","units":[],"cases":[],"in","ev":[]}
 *   dship/<txid>            the shipment: {"from","to","kind","time","units":[],"cases":[],
 *                           "transaction":{},"status":"open"|"received","missing":[],"unexpected":[]}
 *   dshipopen               ["<txid>", ...] shipments not yet received, oldest first
 *   drecall/<gtin>/<lot>    {"txid","class","reason","time"}
 *   dalert/count            n;  dalert/<i> (i = 1..n) one alert (below)
 *   depcisreq/<hex sha256(signature)>  the txid that captured a signed document (replay)
 *   dalertreq/<hex sha256(request)>    the txid of the drug.alert of a signed verification
 *
 * A unit:
 *   {"lot","exp","mfr","own","st":"active"|"transit"|"dispensed"|"decommissioned"|"destroyed",
 *    "in":"<sscc>" (packed), "ship":"<txid>" and "to":"<org>" (in transit),
 *    "past":["<org>",...] earlier owners, "recall":"<txid>", "suspect":"<txid>",
 *    "illegitimate":"<txid>", "ev":["<txid>" or "<txid>:<i>", ...] its events}
 * An alert:
 *   {"kind","unit" or "sscc" or "lot","time","txid","orgs":["<org>",...],"detail"}
 */

/* Split "<gtin14>.<serial>" (both validated) into its parts. */
bool cc_supply_unit_split(const char *unit, char gtin[CC_GS1_GTIN_DIGITS + 1],
                          char serial[CC_GS1_SERIAL_MAX + 1]);
/* How many serials a drug.commission payload p names (its "serials", or
 * its "range"), and the k-th of them (in buf when made from the range). */
size_t cc_supply_serial_count(const json_t *p);
const char *cc_supply_serial_at(const json_t *p, size_t k, char buf[CC_GS1_SERIAL_MAX + 1]);
/* Is s a valid "<gtin14>.<serial>"? Is s a valid SSCC? (for cc_payload_str_list) */
bool cc_supply_unit_valid(const char *s);
bool cc_supply_sscc_valid(const char *s);
/* Is s a DSCSA transaction date: "YYYY-MM-DD", a day that exists, in
 * CC_SUPPLY_FIRST_YEAR or later? */
#define CC_SUPPLY_FIRST_YEAR 2000
bool cc_supply_date_valid(const char *s);

/* The organisation holding the company prefix that digits starts with:
 * reads "dprefix/<first L digits>" for L = CC_GS1_PREFIX_MIN..MAX (as
 * long as digits lasts; no assigned prefix is a prefix of another, so at
 * most one matches). Pass the digits where the company prefix starts:
 * gtin + 1 for a GTIN-14 (after the indicator digit), sscc + 1 for an
 * SSCC (after the extension digit), a GLN's prefix as it is. org (64
 * bytes) and *prefix_len (when not NULL) are filled. CC_ERR_NOT_FOUND
 * when none, CC_ERR_CORRUPT for a dprefix/ value without "org", or the
 * reader's error. */
cc_err cc_supply_prefix_owner(cc_state_reader get, void *ctx, const char *digits, char org[64],
                              unsigned *prefix_len) CC_WUR;

/* The txid an event id ("<txid hex>" or "<txid hex>:<i>", as units' "ev"
 * lists hold them) names. CC_ERR_INVALID when it does not start with one. */
cc_err cc_supply_event_txid(const char *ev, uint8_t txid[CC_HASH_BYTES]) CC_WUR;

/* ---- verification (supply.c) ------------------------------------------------------ */

/* What a verification asks. presenter_org is NULL for an unsigned request. */
typedef struct cc_supply_query {
    const char *gtin, *serial; /* required, validated */
    const char *lot, *exp;     /* NULL or "" when not given */
    const char *presenter_org; /* the signed requester's organisation, or NULL */
    unsigned presenter_role;
    bool inquiry; /* asks after the unit (its custody history) without presenting the
                   * package: no clone or not_owner signal judges the requester */
} cc_supply_query;

/* The answer of GET /v1/drugs/verify from the state get reads, judged at
 * now_ms (expiry): {"verified", "reason" (when not), "gtin", "serial",
 * "status", "info", "signals", "saleable", "history" (only for a presenter
 * who owns or owned the unit, made it, or is a regulator; "events" are
 * event ids)}. Caller decrefs *out. Errors: those of get, CC_ERR_NOMEM. */
cc_err cc_supply_verify(cc_state_reader get, void *ctx, const cc_supply_query *q, uint64_t now_ms,
                        json_t **out) CC_WUR;

/* ---- EPCIS 2.0 (epcis.c) ------------------------------------------------------ */

/* Check an EPCIS 2.0 document (parsed JSON) and map each event onto the
 * lifecycle tx it stands for. *out is an array with one entry per event,
 * in document order: {"type":"drug.commission", "payload":{...exactly a
 * payload of that tx type...}}. GLNs are resolved to organisations through
 * get (dprefix/ keys). Failure: CC_ERR_INVALID for a document that is not
 * valid EPCIS 2.0 and also for a valid event carechain does not track
 * (then the message says "unsupported"; docs/SUPPLY.md lists both),
 * CC_ERR_NOT_FOUND for a GLN nobody holds, CC_ERR_NOMEM; eb then starts
 * with the JSON path of the problem ("$.epcisBody.eventList[2].bizStep:
 * ..."). On success the caller decrefs *out; on failure *out is NULL. */
cc_err cc_epcis_map(const json_t *doc, cc_state_reader get, void *ctx, json_t **out, cc_errbuf *eb) CC_WUR;

/* The EPCIS 2.0 event a lifecycle tx stands for, as the query endpoints
 * answer it: type, payload as committed, txid (hex), the block time and
 * index (its events are numbered 0.. when the tx stands for several).
 * EPC URIs take their company prefix lengths through get (dproduct/ and
 * dprefix/ keys; a GS1 Digital Link when neither tells); parties are
 * written urn:carechain:org:<id>. NULL on OOM, a malformed payload, or a
 * type that stands for no EPCIS event (drug.recall, drug.suspect,
 * drug.clear, and every non-lifecycle type): the caller skips those.
 * Caller decrefs. */
json_t *cc_epcis_render(const char *type, const json_t *payload, const char *txid_hex, uint64_t time_ms,
                        cc_state_reader get, void *ctx);
/* A captured event as stored, with recordTime (the block time) added.
 * Caller decrefs. */
json_t *cc_epcis_recorded(const json_t *event, uint64_t time_ms);
/* Wrap events (stolen) in an EPCISQueryDocument created at now_ms. */
json_t *cc_epcis_query_document(json_t *events, uint64_t now_ms);

#endif
