/*
 * trials.c — the clinical trial registry in exec: trial.register,
 * trial.amend, trial.enroll, trial.withdraw and trial.results (docs/TRIALS.md).
 *
 * The ledger's block times make pre-registration provable: every version
 * of a trial's registration, every enrolment and every results posting
 * carries the time of the block that committed it, and trials_view.c
 * reads them back to show what changed after the first enrolment.
 *
 * State:
 *   trial/<id>                 {"id", "sponsor", "org", "version", "researchers",
 *                               "registered_at", "txid", "height"}
 *   trialv/<id>/<version>      one version (6 digits): the registered fields
 *                              plus "version", "txid", "time", "by",
 *                              "postStart" and, for amendments, "reason"
 *   trialenrol/<id>            {"first": {"time", "txid"}, "enrolled", "withdrawn",
 *                               "subjects": [patient ids, in enrolment order]}
 *   trialsubj/<id>/<patient>   {"subject", "patient", "status", "consent", "site",
 *                               "enrolled_by", "enrolled_at", "txid"} (+ "withdrawn_at",
 *                               "withdrawn_by", "withdrawnBy", "withdraw_txid", "reason")
 *   trialres/<id>              [{"txid", "time", "by", "outcomes": [...]}, ...]
 *
 * A subject:  (none) --enroll--> enrolled --withdraw | consent.revoke--> withdrawn (final)
 *
 * Invariants: (1) a subject is enrolled only while a research consent
 * (consent.grant naming the trial, purpose HRESCH) is active at the block
 * time; (2) versions are never rewritten, only added; (3) "postStart" of a
 * version is true exactly when an enrolment committed before it.
 */
#include <stdio.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/claims.h"
#include "apps/trials.h"
#include "carechain/records.h"

#define KEY_MAX     (32 + CC_TRIALS_ID_MAX + CC_HASH_HEX)
#define SUBJECT_HEX 16 /* a subject id: the first 8 bytes of the enrolment txid */

static const char *const phases[] = {"n-a",     "early-phase-1",   "phase-1", "phase-1-phase-2",
                                     "phase-2", "phase-2-phase-3", "phase-3", "phase-4",
                                     NULL};

/* The fields of a registration that trial.amend may change. */
static const char *const registrable[] = {"title",           "phase",
                                          "primaryOutcomes", "secondaryOutcomes",
                                          "enrollment",      "primaryCompletionDate",
                                          "protocolSha256",  "sapSha256",
                                          "researchers",     NULL};

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

bool cc_trials_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (strncmp(s, "NCT", 3) == 0) {
        if (n != 11) return false;
        for (size_t i = 3; i < n; i++)
            if (s[i] < '0' || s[i] > '9') return false;
        return true;
    }
    if (n < 3 || n > CC_TRIALS_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) return false;
    }
    return true;
}

static bool phase_valid(const char *s)
{
    for (size_t i = 0; phases[i]; i++)
        if (strcmp(phases[i], s) == 0) return true;
    return false;
}

static bool identity_hex_valid(const char *s)
{
    return cc_hex_id_valid(s, CC_PUBKEY_BYTES);
}

/* ---- payload checks ------------------------------------------------------------------ */

static cc_err trial_field(const json_t *p, cc_errbuf *eb)
{
    const char *id;
    cc_err rc = cc_payload_str(p, "trial", true, CC_TRIALS_ID_MAX, &id, eb);
    if (rc == CC_OK && !cc_trials_id_valid(id))
        rc = cc_errf(eb, CC_ERR_INVALID,
                     "\"trial\" must be NCT followed by 8 digits, or a sponsor's id of 3..%d letters, "
                     "digits, '.', '_' and '-' (not starting with NCT)",
                     CC_TRIALS_ID_MAX);
    return rc;
}

/* Prefix eb's message with the list entry it is about. */
static cc_err entry_error(cc_errbuf *eb, cc_err rc, const char *field, size_t i)
{
    char why[sizeof eb->msg];
    snprintf(why, sizeof why, "%s", eb->msg);
    return cc_errf(eb, rc, "\"%s\" entry %zu: %s", field, i, why);
}

/* An array of outcomes {measure, timeFrame, description?}; measures must
 * be distinct within seen (an object of every measure so far). */
static cc_err outcomes_check(const json_t *p, const char *field, bool required, json_t *seen, cc_errbuf *eb)
{
    static const char *const fields[] = {"measure", "timeFrame", "description", NULL};
    const json_t *list = json_object_get(p, field), *o;
    size_t i;
    if (!list) return required ? cc_errf(eb, CC_ERR_INVALID, "payload needs \"%s\"", field) : CC_OK;
    if (!json_is_array(list) || (required && json_array_size(list) == 0) ||
        json_array_size(list) > CC_TRIALS_OUTCOMES_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "\"%s\" must be an array of %d..%d outcomes", field,
                       required ? 1 : 0, CC_TRIALS_OUTCOMES_MAX);
    json_array_foreach(list, i, o)
    {
        const char *measure, *frame, *desc;
        cc_err rc;
        if (!json_is_object(o))
            return cc_errf(eb, CC_ERR_INVALID,
                           "\"%s\" entry %zu must be {\"measure\", \"timeFrame\", "
                           "\"description\"}",
                           field, i);
        if ((rc = cc_payload_only(o, fields, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "measure", true, CC_TRIALS_MEASURE_MAX, &measure, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "timeFrame", true, CC_TRIALS_TIME_FRAME_MAX, &frame, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "description", false, CC_TRIALS_DESCRIPTION_MAX, &desc, eb)) != CC_OK)
            return entry_error(eb, rc, field, i);
        if (json_object_get(seen, measure))
            return cc_errf(eb, CC_ERR_INVALID, "outcome \"%.80s\" is listed twice", measure);
        json_object_set_new(seen, measure, json_true());
    }
    return CC_OK;
}

/* The registrable fields present in p (all of them when all). */
static cc_err registration_check(const json_t *p, bool all, cc_errbuf *eb)
{
    const char *s;
    json_int_t n;
    int64_t day;
    uint8_t hash[CC_HASH_BYTES];
    cc_err rc = CC_OK;
    if ((rc = cc_payload_str(p, "title", all, CC_TRIALS_TITLE_MAX, &s, eb)) != CC_OK) return rc;
    if ((rc = cc_payload_str(p, "phase", all, 32, &s, eb)) != CC_OK) return rc;
    if (s && !phase_valid(s))
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"phase\" must be a FHIR research-study-phase code (n-a, early-phase-1, phase-1, "
                       "phase-1-phase-2, phase-2, phase-2-phase-3, phase-3, phase-4)");
    json_t *seen = json_object();
    if (!seen) return CC_ERR_NOMEM;
    bool primary = all || json_object_get(p, "primaryOutcomes");
    rc = outcomes_check(p, "primaryOutcomes", primary, seen, eb);
    if (rc == CC_OK) rc = outcomes_check(p, "secondaryOutcomes", false, seen, eb);
    json_decref(seen);
    if (rc != CC_OK) return rc;
    if ((rc = cc_payload_int(p, "enrollment", all, 1, CC_TRIALS_ENROLLMENT_MAX, &n, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "primaryCompletionDate", all, 10, &s, eb)) != CC_OK)
        return rc;
    if (s && !cc_claims_date_parse(s, &day))
        return cc_errf(eb, CC_ERR_INVALID, "\"primaryCompletionDate\" must be a date YYYY-MM-DD");
    static const char *const hashes[] = {"protocolSha256", "sapSha256"};
    for (size_t i = 0; i < 2; i++)
        if ((all || json_object_get(p, hashes[i])) &&
            (rc = cc_payload_hex(p, hashes[i], hash, sizeof hash, eb)) != CC_OK)
            return rc;
    return cc_payload_str_list(p, "researchers", all, false, CC_TRIALS_RESEARCHERS_MAX, identity_hex_valid,
                               "an identity id (64 lowercase hex digits)", eb);
}

static cc_err register_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trial",
                                         "title",
                                         "phase",
                                         "primaryOutcomes",
                                         "secondaryOutcomes",
                                         "enrollment",
                                         "primaryCompletionDate",
                                         "protocolSha256",
                                         "sapSha256",
                                         "researchers",
                                         NULL};
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = trial_field(p, eb)) != CC_OK) return rc;
    return registration_check(p, true, eb);
}

static cc_err amend_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trial",
                                         "version",
                                         "reason",
                                         "title",
                                         "phase",
                                         "primaryOutcomes",
                                         "secondaryOutcomes",
                                         "enrollment",
                                         "primaryCompletionDate",
                                         "protocolSha256",
                                         "sapSha256",
                                         "researchers",
                                         NULL};
    const char *reason;
    json_int_t version;
    bool any = false;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = trial_field(p, eb)) != CC_OK ||
        (rc = cc_payload_int(p, "version", true, 2, 999999, &version, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", true, CC_TRIALS_REASON_MAX, &reason, eb)) != CC_OK)
        return rc;
    for (size_t i = 0; registrable[i]; i++) any = any || json_object_get(p, registrable[i]);
    if (!any) return cc_errf(eb, CC_ERR_INVALID, "an amendment must change at least one registered field");
    return registration_check(p, false, eb);
}

static cc_err enroll_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trial", "patient", "consent", NULL};
    uint8_t id[CC_HASH_BYTES];
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = trial_field(p, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", id, sizeof id, eb)) != CC_OK)
        return rc;
    return json_object_get(p, "consent") ? cc_payload_hex(p, "consent", id, sizeof id, eb) : CC_OK;
}

static cc_err withdraw_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trial", "patient", "reason", NULL};
    uint8_t id[CC_HASH_BYTES];
    const char *reason;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = trial_field(p, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", id, sizeof id, eb)) != CC_OK)
        return rc;
    return cc_payload_str(p, "reason", false, CC_TRIALS_REASON_MAX, &reason, eb);
}

static cc_err results_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trial", "outcomes", NULL};
    static const char *const outcome_fields[] = {"measure", "value", "unit", "description", NULL};
    const json_t *list = json_object_get(p, "outcomes"), *o;
    size_t i;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK || (rc = trial_field(p, eb)) != CC_OK) return rc;
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > 2 * CC_TRIALS_OUTCOMES_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "\"outcomes\" must be an array of 1..%d reported outcomes",
                       2 * CC_TRIALS_OUTCOMES_MAX);
    json_array_foreach(list, i, o)
    {
        const char *measure, *s;
        if (!json_is_object(o))
            return cc_errf(
                eb, CC_ERR_INVALID,
                "\"outcomes\" entry %zu must be {\"measure\", \"value\", \"unit\", \"description\"}", i);
        if ((rc = cc_payload_only(o, outcome_fields, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "measure", true, CC_TRIALS_MEASURE_MAX, &measure, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "value", true, CC_TRIALS_VALUE_MAX, &s, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "unit", false, CC_TRIALS_VALUE_MAX, &s, eb)) != CC_OK ||
            (rc = cc_payload_str(o, "description", false, CC_TRIALS_DESCRIPTION_MAX, &s, eb)) != CC_OK)
            return entry_error(eb, rc, "outcomes", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(str(json_array_get(list, j), "measure"), measure) == 0)
                return cc_errf(eb, CC_ERR_INVALID, "outcome \"%.80s\" is reported twice", measure);
    }
    return CC_OK;
}

/* ---- state helpers ------------------------------------------------------------------- */

static cc_err get_fmt(cc_exec_ctx *ctx, json_t **out, const char *fmt, const char *a, const char *b)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, fmt, a, b);
    return cc_state_get_json(ctx, key, out);
}

static cc_err put_fmt(cc_exec_ctx *ctx, const json_t *v, const char *fmt, const char *a, const char *b)
{
    char key[KEY_MAX];
    snprintf(key, sizeof key, fmt, a, b);
    return cc_state_put_json(ctx, key, v);
}

static void version_key(char *out, size_t n, const char *trial, json_int_t version)
{
    snprintf(out, n, "trialv/%s/%06lld", trial, (long long)version);
}

/* The registered trial, or CC_ERR_NOT_FOUND with the message set. */
static cc_err trial_get(cc_exec_ctx *ctx, const char *trial, json_t **out)
{
    cc_err rc = get_fmt(ctx, out, "trial/%s%s", trial, "");
    if (rc == CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "no trial %s is registered", trial);
    return rc == CC_OK ? CC_OK : cc_errf(ctx->eb, rc, "cannot read trial %s", trial);
}

/* The signer must be a sponsor of the trial's organisation. */
static cc_err sponsor_check(cc_exec_ctx *ctx, const json_t *head)
{
    const char *org = str(head, "org");
    if (org && strcmp(org, ctx->signer->org) == 0) return CC_OK;
    return cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "trial %s belongs to sponsor organisation %s, not %s",
                   str(head, "id"), org ? org : "?", ctx->signer->org);
}

/* Every researcher named must be an active identity that is not a patient. */
static cc_err researchers_check(cc_exec_ctx *ctx, const json_t *list)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        json_t *o = NULL;
        const char *id = json_string_value(v);
        if (get_fmt(ctx, &o, "id/%s%s", id, "") != CC_OK)
            return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "researcher %.12s… is not a registered identity", id);
        const char *status = str(o, "status"), *role = str(o, "role");
        bool ok = status && strcmp(status, "active") == 0 && role && strcmp(role, "patient") != 0;
        json_decref(o);
        if (!ok)
            return cc_errf(ctx->eb, CC_ERR_INVALID,
                           "researcher %.12s… is not an active identity of a person "
                           "other than a patient",
                           id);
    }
    return CC_OK;
}

/* Store version doc (the registered fields) as the trial's version n. */
static cc_err version_put(cc_exec_ctx *ctx, const char *trial, json_t *doc, json_int_t n, bool post_start)
{
    char key[KEY_MAX], txid[CC_HASH_HEX], by[CC_HASH_HEX];
    json_object_set_new(doc, "version", json_integer(n));
    json_object_set_new(doc, "txid", json_string(cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid)));
    json_object_set_new(doc, "time", json_integer((json_int_t)ctx->time_ms));
    json_object_set_new(doc, "by", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, by)));
    json_object_set_new(doc, "postStart", json_boolean(post_start));
    version_key(key, sizeof key, trial, n);
    return cc_state_put_json(ctx, key, doc);
}

/* Has anyone been enrolled in the trial (in an earlier tx)? */
static bool started(cc_exec_ctx *ctx, const char *trial)
{
    json_t *e = NULL;
    bool yes = get_fmt(ctx, &e, "trialenrol/%s%s", trial, "") == CC_OK;
    json_decref(e);
    return yes;
}

/* ---- trial.register --------------------------------------------------------------- */

static cc_err register_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *trial = str(p, "trial");
    char txid[CC_HASH_HEX], by[CC_HASH_HEX];
    json_t *head = NULL;
    cc_err rc = get_fmt(ctx, &head, "trial/%s%s", trial, "");
    json_decref(head);
    if (rc == CC_OK) return cc_errf(ctx->eb, CC_ERR_CONFLICT, "trial %s is already registered", trial);
    if ((rc = researchers_check(ctx, json_object_get(p, "researchers"))) != CC_OK) return rc;

    json_t *doc = json_deep_copy(p);
    if (!doc) return CC_ERR_NOMEM;
    json_object_del(doc, "trial");
    if (!json_object_get(doc, "secondaryOutcomes"))
        json_object_set_new(doc, "secondaryOutcomes", json_array());
    rc = version_put(ctx, trial, doc, 1, started(ctx, trial));
    json_decref(doc);
    if (rc != CC_OK) return rc;
    head =
        json_pack("{s:s, s:s, s:s, s:i, s:O, s:I, s:s, s:I}", "id", trial, "sponsor",
                  cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, by), "org", ctx->signer->org, "version", 1,
                  "researchers", json_object_get(p, "researchers"), "registered_at", (json_int_t)ctx->time_ms,
                  "txid", cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid), "height", (json_int_t)ctx->height);
    rc = head ? put_fmt(ctx, head, "trial/%s%s", trial, "") : CC_ERR_NOMEM;
    json_decref(head);
    return rc;
}

/* ---- trial.amend -------------------------------------------------------------------- */

static cc_err amend_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *trial = str(p, "trial");
    json_int_t n = json_integer_value(json_object_get(p, "version"));
    char key[KEY_MAX];
    json_t *head = NULL, *prev = NULL;
    cc_err rc = trial_get(ctx, trial, &head);
    if (rc != CC_OK) return rc;
    if ((rc = sponsor_check(ctx, head)) != CC_OK) goto out;
    json_int_t current = json_integer_value(json_object_get(head, "version"));
    if (n != current + 1) {
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT,
                     "trial %s is at version %lld: the amendment must be version %lld", trial,
                     (long long)current, (long long)current + 1);
        goto out;
    }
    if (json_object_get(p, "researchers") &&
        (rc = researchers_check(ctx, json_object_get(p, "researchers"))) != CC_OK)
        goto out;
    version_key(key, sizeof key, trial, current);
    if ((rc = cc_state_get_json(ctx, key, &prev)) != CC_OK) {
        rc = cc_errf(ctx->eb, CC_ERR_CORRUPT, "trial %s lacks its version %lld", trial, (long long)current);
        goto out;
    }
    /* the new version: the previous one with the amended fields replaced */
    static const char *const bookkeeping[] = {"version", "txid", "time", "by", "postStart", "reason", NULL};
    for (size_t i = 0; bookkeeping[i]; i++) json_object_del(prev, bookkeeping[i]);
    for (size_t i = 0; registrable[i]; i++)
        if (json_object_get(p, registrable[i]))
            json_object_set(prev, registrable[i], json_object_get(p, registrable[i]));
    /* measures stay distinct across both roles after the merge */
    json_t *seen = json_object();
    rc = seen ? outcomes_check(prev, "primaryOutcomes", true, seen, ctx->eb) : CC_ERR_NOMEM;
    if (rc == CC_OK) rc = outcomes_check(prev, "secondaryOutcomes", false, seen, ctx->eb);
    json_decref(seen);
    if (rc != CC_OK) goto out;
    json_object_set(prev, "reason", json_object_get(p, "reason"));
    if ((rc = version_put(ctx, trial, prev, n, started(ctx, trial))) != CC_OK) goto out;
    json_object_set_new(head, "version", json_integer(n));
    json_object_set(head, "researchers", json_object_get(prev, "researchers"));
    rc = put_fmt(ctx, head, "trial/%s%s", trial, "");
out:
    json_decref(prev);
    json_decref(head);
    return rc;
}

/* ---- trial.enroll ------------------------------------------------------------------- */

/* Is consent c an active research permit of patient for trial at now_ms? */
static bool research_consent_ok(const json_t *c, const char *patient, const char *trial, uint64_t now_ms)
{
    const char *s = str(c, "status"), *prov = str(c, "provision");
    const json_t *period = json_object_get(c, "period");
    const json_t *from = json_object_get(period, "from"), *until = json_object_get(period, "until");
    uint64_t f = (uint64_t)json_integer_value(from ? from : json_object_get(c, "granted_at"));
    bool hresch = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "purposes"), i, v)
    {
        hresch = hresch || (json_is_string(v) && strcmp(json_string_value(v), "HRESCH") == 0);
    }
    return s && strcmp(s, "active") == 0 && prov && strcmp(prov, "permit") == 0 && str(c, "patient") &&
           strcmp(str(c, "patient"), patient) == 0 && str(c, "trial") &&
           strcmp(str(c, "trial"), trial) == 0 && hresch && now_ms >= f &&
           !(json_is_integer(until) && now_ms >= (uint64_t)json_integer_value(until));
}

/* The research consent an enrolment relies on: the one named, else the
 * oldest that qualifies. */
static cc_err find_consent(cc_exec_ctx *ctx, const char *trial, const char *patient, char out[CC_HASH_HEX])
{
    const char *named = str(ctx->payload, "consent");
    json_t *ids = NULL, *c = NULL, *v;
    size_t i;
    if (named) {
        bool ok = get_fmt(ctx, &c, "consent/%s%s", named, "") == CC_OK &&
                  research_consent_ok(c, patient, trial, ctx->time_ms);
        json_decref(c);
        if (!ok)
            return cc_errf(ctx->eb, CC_ERR_FORBIDDEN,
                           "consent %.12s… is not an active research consent (HRESCH) of this patient naming "
                           "trial %s",
                           named, trial);
        snprintf(out, CC_HASH_HEX, "%s", named);
        return CC_OK;
    }
    if (get_fmt(ctx, &ids, "pconsents/%s%s", patient, "") == CC_OK) {
        json_array_foreach(ids, i, v)
        {
            const char *id = json_string_value(v);
            c = NULL;
            bool ok = id && get_fmt(ctx, &c, "consent/%s%s", id, "") == CC_OK &&
                      research_consent_ok(c, patient, trial, ctx->time_ms);
            json_decref(c);
            if (ok) {
                snprintf(out, CC_HASH_HEX, "%s", id);
                json_decref(ids);
                return CC_OK;
            }
        }
    }
    json_decref(ids);
    return cc_errf(ctx->eb, CC_ERR_FORBIDDEN,
                   "patient %.12s… has no active research consent (consent.grant with purpose HRESCH naming "
                   "trial %s): enrolment refused",
                   patient, trial);
}

static cc_err enroll_apply(cc_exec_ctx *ctx)
{
    const char *trial = str(ctx->payload, "trial"), *patient = str(ctx->payload, "patient");
    char consent[CC_HASH_HEX], txid[CC_HASH_HEX], by[CC_HASH_HEX], subject[SUBJECT_HEX + 1];
    json_t *o = NULL, *enrol = NULL;
    cc_err rc;
    if (get_fmt(ctx, &o, "id/%s%s", patient, "") != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "patient %.12s… is not a registered identity", patient);
    bool is_patient = str(o, "role") && strcmp(str(o, "role"), "patient") == 0 && str(o, "status") &&
                      strcmp(str(o, "status"), "active") == 0;
    json_decref(o);
    o = NULL;
    if (!is_patient) return cc_errf(ctx->eb, CC_ERR_INVALID, "%.12s… is not an active patient", patient);
    if (get_fmt(ctx, &o, "trialsubj/%s/%s", trial, patient) == CC_OK) {
        json_decref(o);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "patient %.12s… was already enrolled in trial %s", patient,
                       trial);
    }
    if ((rc = find_consent(ctx, trial, patient, consent)) != CC_OK) return rc;

    cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid);
    snprintf(subject, sizeof subject, "%.*s", SUBJECT_HEX, txid);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "subject", subject, "patient", patient,
                  "status", "enrolled", "consent", consent, "site", ctx->signer->org, "enrolled_by",
                  cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, by), "enrolled_at", (json_int_t)ctx->time_ms,
                  "txid", txid);
    rc = o ? put_fmt(ctx, o, "trialsubj/%s/%s", trial, patient) : CC_ERR_NOMEM;
    json_decref(o);
    if (rc != CC_OK) return rc;
    rc = get_fmt(ctx, &enrol, "trialenrol/%s%s", trial, "");
    if (rc == CC_ERR_NOT_FOUND) {
        enrol = json_pack("{s:{s:I, s:s}, s:i, s:i, s:[]}", "first", "time", (json_int_t)ctx->time_ms, "txid",
                          txid, "enrolled", 0, "withdrawn", 0, "subjects");
        rc = enrol ? CC_OK : CC_ERR_NOMEM;
    }
    if (rc != CC_OK) return rc;
    json_t *subjects = json_object_get(enrol, "subjects");
    if (json_array_size(subjects) >= CC_TRIALS_SUBJECTS_MAX) {
        json_decref(enrol);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "trial %s has %d subjects, the most one trial may hold",
                       trial, CC_TRIALS_SUBJECTS_MAX);
    }
    json_array_append_new(subjects, json_string(patient));
    json_object_set_new(enrol, "enrolled",
                        json_integer(json_integer_value(json_object_get(enrol, "enrolled")) + 1));
    rc = put_fmt(ctx, enrol, "trialenrol/%s%s", trial, "");
    json_decref(enrol);
    return rc;
}

/* ---- trial.withdraw ------------------------------------------------------------------ */

/* End subject's participation (by_patient: the patient or a delegate acted). */
static cc_err mark_withdrawn(cc_exec_ctx *ctx, const char *trial, json_t *subject, bool by_patient,
                             const char *reason)
{
    char txid[CC_HASH_HEX], by[CC_HASH_HEX];
    json_t *enrol = NULL;
    json_object_set_new(subject, "status", json_string("withdrawn"));
    json_object_set_new(subject, "withdrawn_at", json_integer((json_int_t)ctx->time_ms));
    json_object_set_new(subject, "withdrawn_by", json_string(cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, by)));
    json_object_set_new(subject, "withdrawnBy", json_string(by_patient ? "patient" : "site"));
    json_object_set_new(subject, "withdraw_txid", json_string(cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid)));
    if (reason) json_object_set_new(subject, "reason", json_string(reason));
    cc_err rc = put_fmt(ctx, subject, "trialsubj/%s/%s", trial, str(subject, "patient"));
    if (rc == CC_OK && (rc = get_fmt(ctx, &enrol, "trialenrol/%s%s", trial, "")) == CC_OK) {
        json_object_set_new(enrol, "withdrawn",
                            json_integer(json_integer_value(json_object_get(enrol, "withdrawn")) + 1));
        rc = put_fmt(ctx, enrol, "trialenrol/%s%s", trial, "");
    }
    json_decref(enrol);
    return rc;
}

cc_err cc_trials_consent_revoked(cc_exec_ctx *ctx, const json_t *consent, const char *reason)
{
    const char *trial = str(consent, "trial"), *patient = str(consent, "patient"), *id = str(consent, "id");
    json_t *subject = NULL;
    cc_err rc = CC_OK;
    if (!trial || !patient || !id || get_fmt(ctx, &subject, "trialsubj/%s/%s", trial, patient) != CC_OK)
        return CC_OK;
    if (strcmp(str(subject, "status"), "enrolled") == 0 && str(subject, "consent") &&
        strcmp(str(subject, "consent"), id) == 0)
        rc = mark_withdrawn(ctx, trial, subject, true, reason);
    json_decref(subject);
    return rc;
}

static cc_err withdraw_apply(cc_exec_ctx *ctx)
{
    const char *trial = str(ctx->payload, "trial"), *patient = str(ctx->payload, "patient");
    const char *reason = str(ctx->payload, "reason");
    json_t *subject = NULL;
    bool self = false;
    cc_err rc;
    if (get_fmt(ctx, &subject, "trialsubj/%s/%s", trial, patient) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "patient %.12s… is not enrolled in trial %s", patient,
                       trial);
    if (strcmp(str(subject, "status"), "enrolled") != 0) {
        json_decref(subject);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "patient %.12s… already withdrew from trial %s", patient,
                       trial);
    }
    rc = cc_access_is_patient_or_delegate(cc_apps_reader, ctx, patient, ctx->signer->pk, &self);
    if (rc == CC_OK && self) {
        /* the patient withdraws: their research consent is revoked, which
         * ends the participation (cc_trials_consent_revoked) */
        char why[CC_RECORDS_REASON_MAX + 1];
        json_t *c = NULL, *after = NULL;
        snprintf(why, sizeof why, "%s", reason ? reason : "withdrew from the trial");
        bool active = get_fmt(ctx, &c, "consent/%s%s", str(subject, "consent"), "") == CC_OK &&
                      str(c, "status") && strcmp(str(c, "status"), "active") == 0;
        json_decref(c);
        if (active) rc = cc_consent_revoke(ctx, str(subject, "consent"), why);
        if (rc == CC_OK && get_fmt(ctx, &after, "trialsubj/%s/%s", trial, patient) == CC_OK &&
            strcmp(str(after, "status"), "enrolled") == 0)
            rc = mark_withdrawn(ctx, trial, after, true, reason); /* the consent was revoked already */
        json_decref(after);
    } else if (rc == CC_OK) {
        bool site = (ctx->signer->role & (CC_ROLE_CLINICIAN | CC_ROLE_ADMIN)) && str(subject, "site") &&
                    strcmp(str(subject, "site"), ctx->signer->org) == 0;
        rc = site
                 ? mark_withdrawn(ctx, trial, subject, false, reason)
                 : cc_errf(
                       ctx->eb, CC_ERR_FORBIDDEN,
                       "only the patient, a delegate, or a clinician or admin of the enrolling site (%s) may "
                       "withdraw this subject",
                       str(subject, "site") ? str(subject, "site") : "?");
    }
    json_decref(subject);
    return rc;
}

/* ---- trial.results -------------------------------------------------------------------- */

static cc_err results_apply(cc_exec_ctx *ctx)
{
    const char *trial = str(ctx->payload, "trial");
    char txid[CC_HASH_HEX], by[CC_HASH_HEX];
    json_t *head = NULL, *list = NULL;
    cc_err rc = trial_get(ctx, trial, &head);
    if (rc != CC_OK) return rc;
    rc = sponsor_check(ctx, head);
    json_decref(head);
    if (rc != CC_OK) return rc;
    rc = get_fmt(ctx, &list, "trialres/%s%s", trial, "");
    if (rc == CC_ERR_NOT_FOUND) {
        list = json_array();
        rc = list ? CC_OK : CC_ERR_NOMEM;
    }
    if (rc != CC_OK) return rc;
    if (json_array_size(list) >= CC_TRIALS_RESULTS_MAX) {
        json_decref(list);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "trial %s already has %d results postings", trial,
                       CC_TRIALS_RESULTS_MAX);
    }
    json_array_append_new(
        list, json_pack("{s:s, s:I, s:s, s:O}", "txid", cc_hex(ctx->tx->txid, CC_HASH_BYTES, txid), "time",
                        (json_int_t)ctx->time_ms, "by", cc_hex(ctx->signer->pk, CC_PUBKEY_BYTES, by),
                        "outcomes", json_object_get(ctx->payload, "outcomes")));
    rc = put_fmt(ctx, list, "trialres/%s%s", trial, "");
    json_decref(list);
    return rc;
}

const cc_tx_type cc_trials_tx_types[] = {
    {"trial.register", CC_ROLE_SPONSOR, register_validate, register_apply, NULL},
    {"trial.amend", CC_ROLE_SPONSOR, amend_validate, amend_apply, NULL},
    {"trial.enroll", CC_ROLE_CLINICIAN | CC_ROLE_ADMIN, enroll_validate, enroll_apply, NULL},
    {"trial.withdraw", CC_ROLES_PEOPLE, withdraw_validate, withdraw_apply, NULL},
    {"trial.results", CC_ROLE_SPONSOR, results_validate, results_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
