/*
 * apps.h — the application modules' tx type tables and small payload
 * helpers they share. Each module exports one NULL-terminated table;
 * apps.c lists the modules (one line per module).
 */
#ifndef CC_APPS_H
#define CC_APPS_H

#include "apps/records.h"
#include "exec/exec.h"

extern const cc_tx_type cc_identity_tx_types[];
extern const cc_tx_type cc_note_tx_types[];
extern const cc_tx_type cc_network_tx_types[];
extern const cc_tx_type cc_consent_tx_types[];
extern const cc_tx_type cc_records_tx_types[];
extern const cc_tx_type cc_audit_tx_types[];
extern const cc_tx_type cc_claims_tx_types[];
extern const cc_tx_type cc_supply_tx_types[];
extern const cc_tx_type cc_trials_tx_types[];

/* Revoke consent id as consent.revoke does (the signer must act for the
 * patient; keys taken back; a research consent ends the patient's
 * participation in its trial). trial.withdraw uses it. */
cc_err cc_consent_revoke(cc_exec_ctx *ctx, const char *id, const char *reason);

/* Genesis state of the network module: node records and network/config. */
cc_err cc_network_genesis(cc_exec_ctx *ctx);
/* Whether a proposal record (netprop/<txid>) takes no approval at time
 * now_ms because its "expires_ms" has passed (one without it never
 * expires). Exec asks with the block time, readers with their clock. */
bool cc_network_proposal_expired(const json_t *prop, uint64_t now_ms);
/* Genesis state of the records module: "orgkey/<org>" = the first admin
 * identity of each organisation. */
cc_err cc_records_genesis(cc_exec_ctx *ctx);

/* The cc_state_reader of a handler: ctx is its cc_exec_ctx, so reads see
 * the block's and the tx's own writes. */
cc_err cc_apps_reader(void *ctx, const char *key, json_t **out);
/* Append the string s to the JSON array stored under key (created empty
 * when absent). */
cc_err cc_apps_list_append(cc_exec_ctx *ctx, const char *key, const char *s);

#define CC_APPS_TIME_BYTES 64
/* ms since the epoch, in UTC (no locale, no time zone: the same text on
 * every node) -> "2025-11-25" (date_only) or "2025-11-25T16:20:00Z". */
const char *cc_apps_time(int64_t ms, bool date_only, char out[CC_APPS_TIME_BYTES]);

/* Payload field helpers: each fails with CC_ERR_INVALID and a message
 * naming the field. */
cc_err cc_payload_only(const json_t *p, const char *const *allowed, cc_errbuf *eb);
cc_err cc_payload_str(const json_t *p, const char *field, bool required, size_t max, const char **out,
                      cc_errbuf *eb);
cc_err cc_payload_hex(const json_t *p, const char *field, uint8_t *out, size_t n, cc_errbuf *eb);
/* An integer in min..max; absent is CC_OK (with *out untouched) unless required. */
cc_err cc_payload_int(const json_t *p, const char *field, bool required, json_int_t min, json_int_t max,
                      json_int_t *out, cc_errbuf *eb);
/* A boolean; absent is CC_OK (with *out untouched) unless required. */
cc_err cc_payload_bool(const json_t *p, const char *field, bool required, bool *out, cc_errbuf *eb);
/* An array of 1..max_count distinct strings, each accepted by valid (what
 * names the expected form in the message). Absent is CC_OK unless required;
 * allow_empty lets a present array be []. */
cc_err cc_payload_str_list(const json_t *p, const char *field, bool required, bool allow_empty,
                           size_t max_count, bool (*valid)(const char *s), const char *what, cc_errbuf *eb);
/* An object mapping ids (id_bytes bytes in lowercase hex) to wrapped data
 * keys (base64 of exactly CC_WRAPPED_KEY_BYTES bytes); non-empty. */
cc_err cc_payload_wrapped_keys(const json_t *p, const char *field, size_t id_bytes, cc_errbuf *eb);
/* Is s exactly n bytes in lowercase hex (2n digits)? */
bool cc_hex_id_valid(const char *s, size_t n);

/* ---- health records (access.c): shared by consent.c, records.c, audit.c ---- */

/* Limits of the records payloads. */
#define CC_RECORDS_REASON_MAX   200 /* bytes of an erase, revoke or audit reason */
#define CC_RECORDS_LIST_MAX     64  /* entries of a consent's scope list */
#define CC_RECORDS_ORG_MAX      63  /* bytes of an organisation id */
#define CC_RECORDS_ENDPOINT_MAX 200 /* bytes of an audited endpoint */

/* FHIR resource type names ([A-Z][A-Za-z]{1,63}) and category tokens
 * ([a-z0-9-]{1,32}). */
bool cc_records_resource_type_valid(const char *s);
bool cc_records_category_valid(const char *s);
/* Does the scope of consent (a "consent/<id>" value, or a consent.grant
 * payload) cover a record of this resource type, category and id? Every
 * scope list that is present and non-empty must contain the record's
 * value; record_id NULL (a record not created yet) is in no "records"
 * list. */
bool cc_consent_covers(const json_t *consent, const char *resource_type, const char *category,
                       const char *record_id);
/* The hex id of org's records key holder ("orgkey/<org>") into out.
 * CC_ERR_NOT_FOUND when the organisation has none. */
cc_err cc_records_org_key(cc_state_reader get, void *ctx, const char *org, char out[CC_HASH_HEX]) CC_WUR;

#endif
