/*
 * audit.c — audit.access: every signed read of protected data, granted or
 * denied, becomes an audit event on the ledger, written by the node that
 * served it (before it answers). A granted break-glass access also raises
 * an alert for the patient.
 *
 * State (docs/RECORDS.md):
 *   audit/<patient>/<seq>   the payload plus txid, node (the signer), height
 *   auditn/<patient>        the number of the patient's audit events
 *   alert/<patient>/<seq>   {audit, txid, requester, record, time, reason}
 *   alertn/<patient>        the number of the patient's alerts
 * Sequence numbers count from 1 and are written as 16 decimal digits, so
 * the keys of one patient sort in order.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"
#include "carechain/records.h"

#define SEQ_KEY_BYTES (16 + CC_HASH_HEX + 17)

static bool outcome_granted(const char *s)
{
    return strcmp(s, "granted") == 0;
}

static cc_err access_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"requester", "patient",   "record", "endpoint", "purpose", "outcome",
                                         "reason",    "emergency", "time",   "request",  NULL};
    uint8_t pk[CC_PUBKEY_BYTES], id[CC_RECORD_ID_BYTES], h[CC_HASH_BYTES];
    const char *s = NULL;
    json_int_t time_ms;
    bool emergency;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "requester", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", pk, sizeof pk, eb)) != CC_OK ||
        (json_object_get(p, "record") && (rc = cc_payload_hex(p, "record", id, sizeof id, eb)) != CC_OK) ||
        (rc = cc_payload_str(p, "endpoint", true, CC_RECORDS_ENDPOINT_MAX, &s, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", false, CC_RECORDS_REASON_MAX, &s, eb)) != CC_OK ||
        (rc = cc_payload_bool(p, "emergency", false, &emergency, eb)) != CC_OK ||
        (rc = cc_payload_int(p, "time", true, 0, INT64_MAX, &time_ms, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "request", h, sizeof h, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "purpose", false, 16, &s, eb)) != CC_OK)
        return rc;
    if (s && !cc_purpose_valid(s))
        return cc_errf(eb, CC_ERR_INVALID, "\"purpose\" must be one of %s", CC_PURPOSES);
    if ((rc = cc_payload_str(p, "outcome", true, 8, &s, eb)) != CC_OK) return rc;
    if (!outcome_granted(s) && strcmp(s, "denied") != 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"outcome\" must be \"granted\" or \"denied\"");
    return CC_OK;
}

/* Count one more under counter_key; *seq gets the new count. */
static cc_err next_seq(cc_exec_ctx *ctx, const char *counter_key, json_int_t *seq)
{
    json_t *n = NULL;
    cc_err rc = cc_state_get_json(ctx, counter_key, &n);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read %s", counter_key);
    *seq = (rc == CC_OK ? json_integer_value(n) : 0) + 1;
    json_decref(n);
    if (!(n = json_integer(*seq))) return CC_ERR_NOMEM;
    rc = cc_state_put_json(ctx, counter_key, n);
    json_decref(n);
    return rc;
}

static cc_err access_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *patient = json_string_value(json_object_get(p, "patient"));
    const char *outcome = json_string_value(json_object_get(p, "outcome"));
    char key[SEQ_KEY_BYTES], txid[CC_HASH_HEX], node[CC_HASH_HEX];
    json_int_t seq, alert_seq;
    cc_err rc;

    /* One signed request is one access, on whichever node: a signature
     * replayed to another node (or after a restart, which empties the
     * node's replay cache) is refused here, once for the whole network. */
    const char *request = json_string_value(json_object_get(p, "request"));
    json_t *seen = NULL;
    snprintf(key, sizeof key, "auditreq/%s", request);
    rc = cc_state_get_json(ctx, key, &seen);
    json_decref(seen);
    if (rc == CC_OK)
        return cc_errf(ctx->eb, CC_ERR_DUPLICATE, "this signed request was already served: a replay");
    if (rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read %s", key);
    json_t *h = json_integer((json_int_t)ctx->height);
    rc = h ? cc_state_put_json(ctx, key, h) : CC_ERR_NOMEM;
    json_decref(h);
    if (rc != CC_OK) return rc;

    snprintf(key, sizeof key, "auditn/%s", patient);
    if ((rc = next_seq(ctx, key, &seq)) != CC_OK) return rc;
    json_t *event = json_deep_copy(p);
    if (!event) return CC_ERR_NOMEM;
    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid);
    json_object_set_new(event, "txid", json_string(txid));
    json_object_set_new(event, "node", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, node)));
    json_object_set_new(event, "height", json_integer((json_int_t)ctx->height));
    snprintf(key, sizeof key, "audit/%s/%016lld", patient, (long long)seq);
    rc = cc_state_put_json(ctx, key, event);
    json_decref(event);
    if (rc != CC_OK || !json_is_true(json_object_get(p, "emergency")) || !outcome_granted(outcome)) return rc;

    /* a granted break-glass access: the patient is alerted */
    snprintf(key, sizeof key, "alertn/%s", patient);
    if ((rc = next_seq(ctx, key, &alert_seq)) != CC_OK) return rc;
    json_t *alert = json_pack("{s:I, s:s, s:O, s:O}", "audit", seq, "txid", txid, "requester",
                              json_object_get(p, "requester"), "time", json_object_get(p, "time"));
    if (!alert) return CC_ERR_NOMEM;
    if (json_object_get(p, "record")) json_object_set(alert, "record", json_object_get(p, "record"));
    if (json_object_get(p, "reason")) json_object_set(alert, "reason", json_object_get(p, "reason"));
    snprintf(key, sizeof key, "alert/%s/%016lld", patient, (long long)alert_seq);
    rc = cc_state_put_json(ctx, key, alert);
    json_decref(alert);
    return rc;
}

const cc_tx_type cc_audit_tx_types[] = {
    {"audit.access", CC_ROLE_NODE, access_validate, access_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
