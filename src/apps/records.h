/*
 * apps/records.h — health records, consent and audit, as the node's read
 * path sees them: the access decision (who may read or write which record
 * for which purpose) and the state keys the modules keep. The same decision
 * code runs inside exec (record.put's write check, against the block's
 * state) and in the node (reads, against a cc_chain_view), so both agree.
 *
 * The model and every state layout: docs/RECORDS.md.
 */
#ifndef CC_APPS_RECORDS_H
#define CC_APPS_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "carechain.h"

/* Read a JSON state value by key; CC_ERR_NOT_FOUND when absent; the caller
 * decrefs *out. cc_chain_view_get_json is one (ctx = the view); exec passes
 * its own over the block's overlay. */
typedef cc_err (*cc_state_reader)(void *ctx, const char *key, json_t **out);

/* Purposes of use (HL7 v3 PurposeOfUse codes). */
#define CC_PURPOSES "TREAT HPAYMT HOPERAT HRESCH ETREAT"
bool cc_purpose_valid(const char *purpose);

typedef enum cc_access_action {
    CC_ACCESS_READ = 1,
    CC_ACCESS_WRITE = 2,
} cc_access_action;

typedef struct cc_access_request {
    uint8_t requester[CC_PUBKEY_BYTES];
    const char *patient; /* hex id */
    cc_access_action action;
    const char *purpose;  /* one of CC_PURPOSES */
    const json_t *record; /* the "rec/<id>" value, or NULL: the patient's data as a whole */
    /* For a write of a record that does not exist yet: what it will be. */
    const char *resource_type, *category;
    uint64_t now_ms; /* block time in exec; the view's block time in the node */
} cc_access_request;

typedef struct cc_access_decision {
    bool permit;
    bool emergency;               /* permitted only by break-glass (ETREAT) */
    char via[16];                 /* "patient", "consent", "break-glass", or "" when denied */
    char consent[CC_HASH_HEX];    /* the consent that decided, when one did */
    char key_holder[CC_HASH_HEX]; /* read permits: whose wrapped key to serve
                                   * (the requester's own, or its organisation's key) */
    char reason[200];             /* one sentence, for the audit event and the 403 */
} cc_access_decision;

/* Decide. Order: an unknown or revoked requester is denied; the patient may
 * do anything with their own data; a matching active deny consent denies
 * (deny wins); a matching active permit permits; a clinician with purpose
 * ETREAT reading a record whose key is wrapped to them or their
 * organisation is permitted as break-glass (emergency); anything else is
 * denied with the most specific reason found. Returns an error only when
 * reading state fails. */
cc_err cc_access_decide(cc_state_reader get, void *ctx, const cc_access_request *rq,
                        cc_access_decision *out) CC_WUR;

/* Is requester the patient or an active delegate the patient registered? */
cc_err cc_access_is_patient_or_delegate(cc_state_reader get, void *ctx, const char *patient,
                                        const uint8_t requester[CC_PUBKEY_BYTES], bool *out) CC_WUR;

/* The public keys (hex strings, sorted) a new version of a record of
 * patient with this resource type and category must be wrapped for: the
 * patient, the authoring organisation's key (author_org; NULL when the
 * patient writes), and the recipient of every active read-permit consent
 * whose scope covers the record (record_id may be NULL for a new record).
 * Caller decrefs *out (a JSON array). */
cc_err cc_records_required_readers(cc_state_reader get, void *ctx, const char *patient, const char *record_id,
                                   const char *resource_type, const char *category, const char *author_org,
                                   uint64_t now_ms, json_t **out, cc_errbuf *eb) CC_WUR;

/* FHIR R4 renderings of ledger objects (node views). Caller decrefs.
 * consent: the "consent/<id>" value; event: an "audit/<patient>/<seq>" value. */
json_t *cc_fhir_consent(const json_t *consent, uint64_t now_ms);
json_t *cc_fhir_audit_event(const json_t *event);

#endif
