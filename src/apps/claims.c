/*
 * claims.c — benefit plans and claims on the ledger: plan.deploy,
 * coverage.enroll, claim.submit (adjudicated in apply, at commit, on every
 * node), priorauth.decide and payment.settle; and what the node and the CLI
 * share with exec: what-if simulation, the ExplanationOfBenefit view, FHIR
 * output with decimals, and the client-side conversion of real FHIR JSON.
 *
 * State (docs/PLANS.md):
 *   plan/<id>/<version>   {plan, org, txid, height, deployed_by}
 *   plan/<id>             {id, org, latest, versions: [...]}
 *   coverage/<id>         the enrolment: {coverage, patient, plan, version?, period, subscriber, org, txid,
 * height} pcoverage/<patient>   [coverage ids] claim/<id>            {id, use, patient, provider, insurer,
 * submitter, coverage, plan, planVersion, status, claim, lines, benefitCents, patientCents,
 * submitted, history, payment?} pclaimcount/<patient> n;  pclaim/<patient>/<seq> claim id (seq 1..n,
 * oldest first);  ppreauth/<patient>  [preauthorization ids] acc/<patient>/<plan>/<year>, dup/<hash>,
 * units/<patient>/<code>/<date>   (adjudicate.c) payment/<trace>       {trace, org, claims, totalCents, date,
 * txid, height}
 *
 * A claim:   (submit) --> adjudicated --(payment.settle)--> paid
 *                     \-> pended --(priorauth.decide)--> adjudicated
 * A preauthorization is adjudicated (its lines approved or denied) and
 * never paid; an approved line is consumed once by a later claim line.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/claims.h"

#define MS_PER_DAY 86400000LL
#define KEY_BYTES  (32 + 2 * CC_CLAIMS_ID_MAX + CC_HASH_HEX)
#define SIMULATION "simulation"

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

/* The id after prefix in a {"reference": "<prefix><id>"}, or NULL. */
static const char *ref_id(const json_t *ref, const char *prefix)
{
    const char *r = str(ref, "reference");
    size_t n = strlen(prefix);
    return r && strncmp(r, prefix, n) == 0 ? r + n : NULL;
}

static const json_t *focal_insurance(const json_t *claim)
{
    const json_t *list = json_object_get(claim, "insurance"), *e;
    size_t i;
    json_array_foreach(list, i, e)
    {
        if (json_is_true(json_object_get(e, "focal"))) return e;
    }
    return json_array_get(list, 0);
}

/* ---- reading state through a cc_state_reader ------------------------------------------- */

static cc_err read_json(cc_state_reader get, void *ctx, const char *key, json_t **out, cc_errbuf *eb,
                        const char *missing)
{
    cc_err rc = get(ctx, key, out);
    if (rc == CC_ERR_NOT_FOUND) return cc_errf(eb, rc, "%s", missing);
    if (rc != CC_OK) return cc_errf(eb, rc, "cannot read %s", key);
    return CC_OK;
}

/* ---- records read by every claim, parsed once per thread ------------------------------ */

/* Plan versions, plan heads, coverages and patient identities are read by
 * every claim and change rarely, so a parsed copy can serve the claims that
 * follow. A slot is found by its key and serves only while the stored bytes
 * are the same (compared in full): a record written since, or another
 * chain's record in the same process, is parsed afresh. Callers must treat
 * a cached record as read-only. */
#define RECORD_CACHE 512 /* slots, direct-mapped by key */

typedef struct record_slot {
    char *key;
    char *bytes;
    size_t len;
    json_t *rec;
} record_slot;

typedef struct record_cache {
    record_slot slot[RECORD_CACHE];
} record_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void slot_clear(record_slot *sl)
{
    free(sl->key);
    free(sl->bytes);
    json_decref(sl->rec);
    memset(sl, 0, sizeof *sl);
}

static void record_cache_free(void *p)
{
    record_cache *c = p;
    for (size_t i = 0; i < RECORD_CACHE; i++) slot_clear(&c->slot[i]);
    free(c);
}

static void record_cache_init(void)
{
    if (pthread_key_create(&cache_key, record_cache_free) != 0) abort();
}

void cc_claims_release_thread(void)
{
    pthread_once(&cache_once, record_cache_init);
    record_cache *c = pthread_getspecific(cache_key);
    if (c) {
        (void)pthread_setspecific(cache_key, NULL);
        record_cache_free(c);
    }
    cc_claims_rules_release();
}

static size_t key_slot(const char *key)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * 16777619u;
    return h % RECORD_CACHE;
}

/* The JSON record under key, read as read_json does; caller decrefs and
 * must not modify it. Through the thread's cache when get reads exec's
 * state. */
static cc_err cached_json(cc_state_reader get, void *ctx, const char *key, json_t **out, cc_errbuf *eb,
                          const char *missing)
{
    const uint8_t *val;
    size_t len;
    if (get != cc_apps_reader) return read_json(get, ctx, key, out, eb, missing);
    cc_err rc = cc_state_get(ctx, key, &val, &len);
    if (rc == CC_ERR_NOT_FOUND) return cc_errf(eb, rc, "%s", missing);
    if (rc != CC_OK) return cc_errf(eb, rc, "cannot read %s", key);
    pthread_once(&cache_once, record_cache_init);
    record_cache *c = pthread_getspecific(cache_key);
    if (!c && (c = calloc(1, sizeof *c)) && pthread_setspecific(cache_key, c) != 0) {
        free(c);
        c = NULL;
    }
    record_slot *sl = c ? &c->slot[key_slot(key)] : NULL;
    if (sl && sl->rec && sl->len == len && strcmp(sl->key, key) == 0 && memcmp(sl->bytes, val, len) == 0) {
        *out = json_incref(sl->rec);
        return CC_OK;
    }
    if (!(*out = cc_json_parse(val, len, NULL)))
        return strncmp(key, "plan/", 5) == 0 && strchr(key + 5, '/')
                   ? cc_errf(eb, CC_ERR_CORRUPT, "%s is not JSON", key) /* a plan version */
                   : cc_errf(eb, CC_ERR_CORRUPT, "cannot read %s", key);
    if (sl) {
        slot_clear(sl);
        sl->key = strdup(key);
        sl->bytes = malloc(len ? len : 1);
        if (!sl->key || !sl->bytes) {
            slot_clear(sl);
            return CC_OK;
        }
        memcpy(sl->bytes, val, len);
        sl->len = len;
        sl->rec = json_incref(*out);
    }
    return CC_OK;
}

/* Is hex an active patient identity? */
static cc_err patient_check(cc_state_reader get, void *ctx, const char *hex, cc_errbuf *eb)
{
    char key[8 + CC_HASH_HEX], missing[128];
    json_t *o = NULL;
    snprintf(key, sizeof key, "id/%.64s", hex);
    snprintf(missing, sizeof missing, "patient %.12s… is not a registered identity", hex);
    cc_err rc = cached_json(get, ctx, key, &o, eb, missing);
    if (rc != CC_OK) return rc;
    const char *role = str(o, "role"), *status = str(o, "status");
    rc = !role || strcmp(role, "patient") != 0
             ? cc_errf(eb, CC_ERR_INVALID, "identity %.12s… is not a patient", hex)
         : !status || strcmp(status, "active") != 0
             ? cc_errf(eb, CC_ERR_INVALID, "patient %.12s…'s identity was revoked", hex)
             : CC_OK;
    json_decref(o);
    return rc;
}

/* The plan version a claim is adjudicated under: the coverage's pinned
 * version, else the newest whose effective period holds first_day (else the
 * newest). *out gets the "plan/<id>/<v>" record. */
static cc_err plan_pick(cc_state_reader get, void *ctx, const char *id, json_int_t version, int64_t first_day,
                        json_t **out, cc_errbuf *eb)
{
    char key[KEY_BYTES], missing[128];
    json_t *head = NULL;
    cc_err rc;
    snprintf(missing, sizeof missing, "no plan %.64s", id);
    if (version > 0) {
        snprintf(key, sizeof key, "plan/%.64s/%lld", id, (long long)version);
        snprintf(missing, sizeof missing, "no plan %.64s version %lld", id, (long long)version);
        return cached_json(get, ctx, key, out, eb, missing);
    }
    snprintf(key, sizeof key, "plan/%.64s", id);
    if ((rc = cached_json(get, ctx, key, &head, eb, missing)) != CC_OK) return rc;
    const json_t *versions = json_object_get(head, "versions");
    *out = NULL;
    for (size_t i = json_array_size(versions); i-- > 0 && rc == CC_OK;) {
        json_t *rec = NULL;
        int64_t start, end;
        snprintf(key, sizeof key, "plan/%.64s/%lld", id,
                 (long long)json_integer_value(json_array_get(versions, i)));
        if ((rc = cached_json(get, ctx, key, &rec, eb, "a plan version is missing")) != CC_OK) break;
        const json_t *eff = json_object_get(json_object_get(rec, "plan"), "effective");
        bool holds = cc_claims_date_parse(str(eff, "start"), &start) && first_day >= start &&
                     (!str(eff, "end") || (cc_claims_date_parse(str(eff, "end"), &end) && first_day <= end));
        if (!*out) {
            *out = rec; /* the newest, unless one holds the date */
        } else if (holds) {
            json_decref(*out);
            *out = rec;
        } else {
            json_decref(rec);
            continue;
        }
        if (holds) break;
    }
    json_decref(head);
    if (rc == CC_OK && !*out) rc = cc_errf(eb, CC_ERR_CORRUPT, "plan %.64s has no versions", id);
    if (rc != CC_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

cc_err cc_claims_evaluate(cc_state_reader get, void *ctx, const json_t *claim, const char *signer_org,
                          const char *claim_id, uint64_t now_ms, bool text_only, cc_claims_output *out,
                          json_t **coverage_out, json_t **plan_out, cc_errbuf *eb)
{
    const char *patient = ref_id(json_object_get(claim, "patient"), "Patient/");
    const char *provider = ref_id(json_object_get(claim, "provider"), "Organization/");
    const char *coverage = ref_id(json_object_get(focal_insurance(claim), "coverage"), "Coverage/");
    const char *insurer = ref_id(json_object_get(claim, "insurer"), "Organization/");
    char key[KEY_BYTES], missing[160];
    json_t *cov = NULL, *plan = NULL, *item;
    int64_t first = INT64_MAX, day;
    size_t i;
    cc_err rc;
    memset(out, 0, sizeof *out);
    if (!patient || !provider || !coverage)
        return cc_errf(eb, CC_ERR_INVALID, "the claim needs its patient, provider and coverage references");
    if (!signer_org || strcmp(provider, signer_org) != 0)
        return cc_errf(eb, CC_ERR_FORBIDDEN,
                       "the claim's provider is Organization/%.64s, not the submitter's (%.64s)", provider,
                       signer_org ? signer_org : "none");
    if ((rc = patient_check(get, ctx, patient, eb)) != CC_OK) return rc;
    snprintf(key, sizeof key, "coverage/%.64s", coverage);
    snprintf(missing, sizeof missing, "no coverage %.64s", coverage);
    if ((rc = cached_json(get, ctx, key, &cov, eb, missing)) != CC_OK) return rc;
    if (!str(cov, "patient") || strcmp(str(cov, "patient"), patient) != 0) {
        rc = cc_errf(eb, CC_ERR_NOT_FOUND, "coverage %.64s is not patient %.12s…'s", coverage, patient);
        goto done;
    }
    if (insurer && (!str(cov, "org") || strcmp(insurer, str(cov, "org")) != 0)) {
        rc = cc_errf(eb, CC_ERR_INVALID, "the claim's insurer is %.64s, but coverage %.64s is with %.64s",
                     insurer, coverage, str(cov, "org") ? str(cov, "org") : "?");
        goto done;
    }
    json_array_foreach(json_object_get(claim, "item"), i, item)
    {
        if (cc_claims_item_date(item, &day) && day < first) first = day;
    }
    if ((rc = plan_pick(get, ctx, str(cov, "plan") ? str(cov, "plan") : "",
                        json_integer_value(json_object_get(cov, "version")), first, &plan, eb)) != CC_OK)
        goto done;
    cc_claims_input in = {.plan = json_object_get(plan, "plan"),
                          .claim = claim,
                          .coverage = cov,
                          .claim_id = claim_id,
                          .patient = patient,
                          .provider = provider,
                          .insurer = str(cov, "org") ? str(cov, "org") : "",
                          .now_ms = now_ms,
                          .get = get,
                          .get_ctx = ctx,
                          .text_only = text_only,
                          .lines_only = text_only};
    rc = cc_claims_adjudicate(&in, out, eb);
done:
    if (rc == CC_OK && coverage_out) *coverage_out = json_incref(cov);
    if (rc == CC_OK && plan_out) *plan_out = json_incref(plan);
    json_decref(cov);
    json_decref(plan);
    return rc;
}

cc_err cc_claim_simulate(cc_state_reader get, void *ctx, const json_t *payload, const char *provider_org,
                         uint64_t now_ms, json_t **response, cc_errbuf *eb)
{
    static const char *const fields[] = {"claim", NULL};
    cc_claims_output out;
    cc_err rc;
    *response = NULL;
    if (!json_is_object(payload)) return cc_errf(eb, CC_ERR_MALFORMED, "payload must be a JSON object");
    if ((rc = cc_payload_only(payload, fields, eb)) != CC_OK ||
        (rc = cc_claim_validate(json_object_get(payload, "claim"), false, "claim", eb)) != CC_OK)
        return rc;
    if ((rc = cc_claims_evaluate(get, ctx, json_object_get(payload, "claim"), provider_org, SIMULATION,
                                 now_ms, false, &out, NULL, NULL, eb)) != CC_OK)
        return rc;
    *response = json_incref(out.response);
    cc_claims_output_free(&out);
    return CC_OK;
}

/* ---- writing ------------------------------------------------------------------------ */

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

#define FLAT_MEMBERS 8

/* The canonical text of v when it is an integer, or an object of at most
 * FLAT_MEMBERS integers and plain strings under plain keys (accumulators,
 * duplicate keys, daily units): the bytes cc_json_dump writes, without its
 * generic machinery. NULL for anything else (use cc_json_dump). Caller
 * frees. */
static char *flat_dump(const json_t *v)
{
    const char *keys[FLAT_MEMBERS], *k;
    json_t *x;
    size_t n = 0, len = 2;
    char *out = NULL;
    if (json_is_integer(v))
        return asprintf(&out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0 ? NULL : out;
    if (!json_is_object(v) || json_object_size(v) > FLAT_MEMBERS) return NULL;
    json_object_foreach((json_t *)v, k, x)
    {
        if (!cc_json_str_plain(k) ||
            !(json_is_integer(x) || (json_is_string(x) && cc_json_str_plain(json_string_value(x)))))
            return NULL;
        keys[n++] = k;
        len += strlen(k) + 4 + (json_is_string(x) ? strlen(json_string_value(x)) + 2 : 24);
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    if (!(out = malloc(len + 1))) return NULL;
    size_t at = 0;
    out[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        x = json_object_get(v, keys[i]);
        at += (size_t)(json_is_string(x) ? snprintf(out + at, len + 1 - at, "%s\"%s\":\"%s\"", i ? "," : "",
                                                    keys[i], json_string_value(x))
                                         : snprintf(out + at, len + 1 - at, "%s\"%s\":%" JSON_INTEGER_FORMAT,
                                                    i ? "," : "", keys[i], json_integer_value(x)));
    }
    out[at++] = '}';
    out[at] = '\0';
    return out;
}

/* Write an adjudication's effects, in key order. */
static cc_err effects_write(cc_exec_ctx *ctx, const json_t *effects)
{
    size_t n = json_object_size(effects), i = 0;
    const char **keys = calloc(n + 1, sizeof *keys), *k;
    json_t *v;
    cc_err rc = keys ? CC_OK : CC_ERR_NOMEM;
    if (rc != CC_OK) return rc;
    json_object_foreach((json_t *)effects, k, v)
    {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    for (i = 0; i < n && rc == CC_OK; i++) {
        const json_t *val = json_object_get(effects, keys[i]);
        char *text = flat_dump(val);
        if (!text) {
            rc = cc_state_put_json(ctx, keys[i], val);
            continue;
        }
        rc = cc_state_put(ctx, keys[i], text, strlen(text));
        free(text);
    }
    free(keys);
    return rc;
}

static cc_err history_add(cc_exec_ctx *ctx, json_t *rec, const char *status, json_t *extra)
{
    json_t *h = json_object_get(rec, "history");
    json_t *e = json_pack("{s:s, s:I, s:I}", "status", status, "time", (json_int_t)ctx->time_ms, "height",
                          (json_int_t)ctx->height);
    if (!e || !json_is_array(h)) {
        json_decref(e);
        json_decref(extra);
        return e ? cc_errf(ctx->eb, CC_ERR_CORRUPT, "a claim record without history") : CC_ERR_NOMEM;
    }
    if (extra) json_object_update(e, extra);
    json_decref(extra);
    return json_array_append_new(h, e) == 0 ? CC_OK : CC_ERR_NOMEM;
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
    cc_hex(b, n, out);
}

/* ---- plan.deploy ------------------------------------------------------------------------- */

static cc_err deploy_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"plan", NULL};
    cc_err rc = cc_payload_only(p, fields, eb);
    if (rc != CC_OK) return rc;
    if (!json_object_get(p, "plan")) return cc_errf(eb, CC_ERR_INVALID, "payload needs \"plan\"");
    return cc_plan_validate(json_object_get(p, "plan"), eb);
}

static cc_err deploy_apply(cc_exec_ctx *ctx)
{
    const json_t *plan = json_object_get(ctx->payload, "plan");
    const char *id = str(plan, "id");
    json_int_t version = json_integer_value(json_object_get(plan, "version"));
    char key[KEY_BYTES], txid[CC_HASH_HEX], signer[CC_HASH_HEX];
    json_t *head = NULL, *rec = NULL;
    cc_err rc = cc_state_get_json(ctx, (snprintf(key, sizeof key, "plan/%s", id), key), &head);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read %s", key);
    if (head) {
        json_int_t latest = json_integer_value(json_object_get(head, "latest"));
        if (!str(head, "org") || strcmp(str(head, "org"), ctx->signer->org) != 0)
            rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "plan %s belongs to %s", id,
                         str(head, "org") ? str(head, "org") : "?");
        else if (version <= latest)
            rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "plan %s is at version %lld: a new version must be higher",
                         id, (long long)latest);
        if (rc != CC_OK) goto done;
    } else if (!(head = json_pack("{s:s, s:s, s:[]}", "id", id, "org", ctx->signer->org, "versions"))) {
        return CC_ERR_NOMEM;
    }
    if ((rc = cc_plan_test(plan, NULL, ctx->eb)) != CC_OK) goto done;
    hex_of(ctx->tx->txid, CC_HASH_BYTES, txid);
    hex_of(ctx->signer->pk, CC_PUBKEY_BYTES, signer);
    rec = json_pack("{s:O, s:s, s:s, s:I, s:s}", "plan", plan, "org", ctx->signer->org, "txid", txid,
                    "height", (json_int_t)ctx->height, "deployed_by", signer);
    json_object_set_new(head, "latest", json_integer(version));
    if (!rec || json_array_append_new(json_object_get(head, "versions"), json_integer(version)) != 0) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if ((rc = cc_state_put_json(ctx, key, head)) != CC_OK) goto done;
    snprintf(key, sizeof key, "plan/%s/%lld", id, (long long)version);
    rc = cc_state_put_json(ctx, key, rec);
done:
    json_decref(head);
    json_decref(rec);
    return rc;
}

/* ---- coverage.enroll ---------------------------------------------------------------------- */

static cc_err enroll_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"coverage", "patient",    "plan", "version",
                                         "period",   "subscriber", NULL};
    static const char *const period_fields[] = {"start", "end", NULL};
    uint8_t pk[CC_PUBKEY_BYTES];
    json_int_t version;
    int64_t start, end;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "patient", pk, sizeof pk, eb)) != CC_OK ||
        (rc = cc_payload_int(p, "version", false, 1, INT32_MAX, &version, eb)) != CC_OK)
        return rc;
    const char *names[] = {"coverage", "plan", "subscriber"};
    for (size_t i = 0; i < 3; i++)
        if (!cc_claims_id_valid(str(p, names[i])))
            return cc_errf(eb, CC_ERR_INVALID,
                           "\"%s\" must be 1..%d of [A-Za-z0-9.-], starting with a letter or digit", names[i],
                           CC_CLAIMS_ID_MAX);
    const json_t *period = json_object_get(p, "period");
    if (!json_is_object(period) || (rc = cc_payload_only(period, period_fields, eb)) != CC_OK ||
        !cc_claims_date_parse(str(period, "start"), &start))
        return rc != CC_OK ? rc
                           : cc_errf(eb, CC_ERR_INVALID,
                                     "\"period\" must be {\"start\": date, \"end\": date} (end optional)");
    if (json_object_get(period, "end") && (!cc_claims_date_parse(str(period, "end"), &end) || end < start))
        return cc_errf(eb, CC_ERR_INVALID, "\"period\".end must be a date on or after its start");
    return CC_OK;
}

static cc_err enroll_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *id = str(p, "coverage"), *patient = str(p, "patient"), *plan = str(p, "plan");
    char key[KEY_BYTES], txid[CC_HASH_HEX];
    json_t *o = NULL;
    cc_err rc;
    snprintf(key, sizeof key, "coverage/%s", id);
    if ((rc = cc_state_get_json(ctx, key, &o)) == CC_OK) {
        json_decref(o);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "coverage %s already exists", id);
    }
    if (rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read %s", key);
    if ((rc = patient_check(cc_apps_reader, ctx, patient, ctx->eb)) != CC_OK) return rc;
    snprintf(key, sizeof key, "plan/%s", plan);
    if (cc_state_get_json(ctx, key, &o) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no plan %s", plan);
    bool ours = str(o, "org") && strcmp(str(o, "org"), ctx->signer->org) == 0;
    json_decref(o);
    if (!ours)
        return cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "plan %s is not of organisation %s", plan,
                       ctx->signer->org);
    if (json_object_get(p, "version")) {
        snprintf(key, sizeof key, "plan/%s/%lld", plan,
                 (long long)json_integer_value(json_object_get(p, "version")));
        if (cc_state_get_json(ctx, key, &o) != CC_OK)
            return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "plan %s has no version %lld", plan,
                           (long long)json_integer_value(json_object_get(p, "version")));
        json_decref(o);
    }
    if (!(o = json_deep_copy(p))) return CC_ERR_NOMEM;
    hex_of(ctx->tx->txid, CC_HASH_BYTES, txid);
    json_object_set_new(o, "org", json_string(ctx->signer->org));
    json_object_set_new(o, "txid", json_string(txid));
    json_object_set_new(o, "height", json_integer((json_int_t)ctx->height));
    snprintf(key, sizeof key, "coverage/%s", id);
    rc = cc_state_put_json(ctx, key, o);
    json_decref(o);
    snprintf(key, sizeof key, "pcoverage/%s", patient);
    return rc == CC_OK ? cc_apps_list_append(ctx, key, id) : rc;
}

/* ---- claim.submit --------------------------------------------------------------------------- */

static cc_err submit_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"claim", NULL};
    cc_err rc = cc_payload_only(p, fields, eb);
    if (rc != CC_OK) return rc;
    if (!json_object_get(p, "claim")) return cc_errf(eb, CC_ERR_INVALID, "payload needs \"claim\"");
    return cc_claim_validate(json_object_get(p, "claim"), false, "claim", eb);
}

/* Append id to the JSON array of strings under key, splicing its canonical
 * text (ids are hex: no escaping) instead of parsing the list. */
static cc_err list_append_id(cc_exec_ctx *ctx, const char *key, const char *id)
{
    const uint8_t *val;
    size_t len, n = strlen(id);
    cc_err rc = cc_state_get(ctx, key, &val, &len);
    if (rc == CC_ERR_NOT_FOUND) {
        val = (const uint8_t *)"[]";
        len = 2;
    } else if (rc != CC_OK) {
        return cc_errf(ctx->eb, rc, "cannot read %s", key);
    }
    if (len < 2 || val[0] != '[' || val[len - 1] != ']')
        return cc_errf(ctx->eb, CC_ERR_CORRUPT, "%s is not a JSON array", key);
    char *buf = malloc(len + n + 4);
    if (!buf) return CC_ERR_NOMEM;
    size_t k = len - 1;
    memcpy(buf, val, k);
    if (len > 2) buf[k++] = ',';
    buf[k++] = '"';
    memcpy(buf + k, id, n);
    k += n;
    buf[k++] = '"';
    buf[k++] = ']';
    rc = cc_state_put(ctx, key, buf, k);
    free(buf);
    return rc;
}

/* Index claim id under the patient: "pclaim/<patient>/<seq>" = "<id>" with
 * seq = 1, 2, ... from the counter "pclaimcount/<patient>". Two small writes
 * a claim, whatever the patient's history (a whole list rewritten on every
 * claim grew with it). */
static cc_err patient_index_add(cc_exec_ctx *ctx, const char *patient, const char *id)
{
    char key[KEY_BYTES], num[32], val[CC_HASH_HEX + 4];
    const uint8_t *v;
    size_t len;
    uint64_t count = 0;
    snprintf(key, sizeof key, "pclaimcount/%.64s", patient);
    cc_err rc = cc_state_get(ctx, key, &v, &len);
    if (rc == CC_OK) {
        if (len == 0 || len >= sizeof num) return cc_errf(ctx->eb, CC_ERR_CORRUPT, "%s is not a count", key);
        memcpy(num, v, len);
        num[len] = '\0';
        char *end = NULL;
        count = strtoull(num, &end, 10);
        if (!end || *end || num[0] < '1' || num[0] > '9')
            return cc_errf(ctx->eb, CC_ERR_CORRUPT, "%s is not a count", key);
    } else if (rc != CC_ERR_NOT_FOUND) {
        return cc_errf(ctx->eb, rc, "cannot read %s", key);
    }
    int n = snprintf(num, sizeof num, "%" PRIu64, count + 1);
    if ((rc = cc_state_put(ctx, key, num, (size_t)n)) != CC_OK) return rc;
    cc_claims_patient_claim_key(key, patient, count + 1);
    n = snprintf(val, sizeof val, "\"%.64s\"", id);
    return cc_state_put(ctx, key, val, (size_t)n);
}

/* s as a canonical JSON string literal (quotes included); caller frees. */
static char *json_quote(const char *s)
{
    if (!s) return NULL;
    if (cc_json_str_plain(s)) {
        char *q = NULL;
        return asprintf(&q, "\"%s\"", s) < 0 ? NULL : q;
    }
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return d;
}

/* The claim's canonical text: the payload is canonical {"claim":{...}}. */
static char *claim_text(const cc_exec_ctx *ctx, const json_t *claim)
{
    static const char prefix[] = "{\"claim\":";
    const char *p = ctx->tx->payload;
    size_t n = ctx->tx->payload_len, k = sizeof prefix - 1;
    if (p && n > k + 1 && memcmp(p, prefix, k) == 0 && p[n - 1] == '}') {
        char *t = malloc(n - k);
        if (t) {
            memcpy(t, p + k, n - k - 1);
            t[n - k - 1] = '\0';
        }
        return t;
    }
    return cc_json_dump(claim);
}

static cc_err submit_apply(cc_exec_ctx *ctx)
{
    const json_t *claim = json_object_get(ctx->payload, "claim");
    char txid[CC_HASH_HEX], signer[CC_HASH_HEX], key[KEY_BYTES], *ctext = NULL, *rec = NULL;
    cc_claims_output out;
    json_t *cov = NULL, *plan = NULL;
    hex_of(ctx->tx->txid, CC_HASH_BYTES, txid);
    hex_of(ctx->signer->pk, CC_PUBKEY_BYTES, signer);
    cc_err rc = cc_claims_evaluate(cc_apps_reader, ctx, claim, ctx->signer->org, txid, ctx->time_ms, true,
                                   &out, &cov, &plan, ctx->eb);
    if (rc != CC_OK) return rc;
    const char *patient = str(cov, "patient"), *use = str(claim, "use");
    const char *status = out.pended ? "pended" : "adjudicated";
    const json_t *doc = json_object_get(plan, "plan");
    /* the record, in canonical form (keys in bytewise order) */
    const char *plain[] = {str(cov, "coverage"), str(cov, "org"), patient, str(doc, "id"), ctx->signer->org};
    char *q[5] = {NULL};
    bool ok = (ctext = claim_text(ctx, claim)) != NULL;
    for (size_t i = 0; i < 5; i++) ok = ok && (q[i] = json_quote(plain[i])) != NULL;
    if (ok && asprintf(&rec,
                       "{\"benefitCents\":%" PRId64
                       ",\"claim\":%s,\"coverage\":%s,\"history\":[{\"height\":%" PRIu64
                       ",\"status\":\"submitted\",\"time\":%" PRIu64 "},{\"height\":%" PRIu64
                       ",\"status\":\"%s\",\"time\":%" PRIu64 "}],\"id\":\"%s\",\"insurer\":%s,\"lines\":%s,"
                       "\"patient\":%s,\"patientCents\":%" PRId64
                       ",\"plan\":%s,\"planVersion\":%lld,\"provider\":%s,"
                       "\"status\":\"%s\",\"submitted\":%" PRIu64 ",\"submitter\":\"%s\",\"use\":\"%s\"}",
                       out.benefit_cents, ctext, q[0], ctx->height, ctx->time_ms, ctx->height, status,
                       ctx->time_ms, txid, q[1], out.lines_text, q[2], out.patient_cents, q[3],
                       (long long)json_integer_value(json_object_get(doc, "version")), q[4], status,
                       ctx->time_ms, signer, use) < 0)
        rec = NULL;
    for (size_t i = 0; i < 5; i++) free(q[i]);
    if (!rec) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if ((rc = effects_write(ctx, out.effects)) != CC_OK) goto done;
    snprintf(key, sizeof key, "claim/%s", txid);
    if ((rc = cc_state_put(ctx, key, rec, strlen(rec))) != CC_OK) goto done;
    if ((rc = patient_index_add(ctx, patient, txid)) != CC_OK) goto done;
    if (strcmp(use, "preauthorization") == 0) {
        snprintf(key, sizeof key, "ppreauth/%s", patient);
        rc = list_append_id(ctx, key, txid);
    }
done:
    free(ctext);
    free(rec);
    cc_claims_output_free(&out);
    json_decref(cov);
    json_decref(plan);
    return rc;
}

/* ---- priorauth.decide -------------------------------------------------------------------------- */

static cc_err decide_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"claim", "decision", "reason", "carc", NULL};
    uint8_t id[CC_HASH_BYTES];
    const char *s;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK ||
        (rc = cc_payload_hex(p, "claim", id, sizeof id, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "reason", false, CC_CLAIMS_REASON_MAX, &s, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "carc", false, 4, &s, eb)) != CC_OK ||
        (rc = cc_payload_str(p, "decision", true, 8, &s, eb)) != CC_OK)
        return rc;
    if (strcmp(s, "approve") != 0 && strcmp(s, "deny") != 0)
        return cc_errf(eb, CC_ERR_INVALID, "\"decision\" must be \"approve\" or \"deny\"");
    return CC_OK;
}

static cc_err decide_apply(cc_exec_ctx *ctx)
{
    const json_t *p = ctx->payload;
    const char *id = str(p, "claim"), *decision = str(p, "decision");
    char key[KEY_BYTES], signer[CC_HASH_HEX];
    json_t *rec = NULL, *cov = NULL, *plan = NULL;
    cc_claims_output out = {0};
    cc_err rc;
    snprintf(key, sizeof key, "claim/%s", id);
    if (cc_state_get_json(ctx, key, &rec) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no claim %.12s…", id);
    if (!str(rec, "insurer") || strcmp(str(rec, "insurer"), ctx->signer->org) != 0)
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "claim %.12s… is not with organisation %s", id,
                     ctx->signer->org);
    else if (!str(rec, "status") || strcmp(str(rec, "status"), "pended") != 0)
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "claim %.12s… is %s, not pended", id,
                     str(rec, "status") ? str(rec, "status") : "?");
    else
        rc = CC_OK;
    if (rc != CC_OK) goto done;
    snprintf(key, sizeof key, "coverage/%.64s", str(rec, "coverage") ? str(rec, "coverage") : "");
    if ((rc = read_json(cc_apps_reader, ctx, key, &cov, ctx->eb, "the claim's coverage is missing")) != CC_OK)
        goto done;
    snprintf(key, sizeof key, "plan/%.64s/%lld", str(rec, "plan") ? str(rec, "plan") : "",
             (long long)json_integer_value(json_object_get(rec, "planVersion")));
    if ((rc = read_json(cc_apps_reader, ctx, key, &plan, ctx->eb, "the claim's plan is missing")) != CC_OK)
        goto done;
    cc_claims_input in = {.plan = json_object_get(plan, "plan"),
                          .claim = json_object_get(rec, "claim"),
                          .coverage = cov,
                          .claim_id = id,
                          .patient = str(rec, "patient"),
                          .provider = str(rec, "provider"),
                          .insurer = str(rec, "insurer"),
                          .now_ms = ctx->time_ms,
                          .filed_ms = (uint64_t)json_integer_value(json_object_get(rec, "submitted")),
                          .get = cc_apps_reader,
                          .get_ctx = ctx,
                          .review = strcmp(decision, "approve") == 0 ? CC_CLAIMS_REVIEW_APPROVE
                                                                     : CC_CLAIMS_REVIEW_DENY,
                          .review_reason = str(p, "reason"),
                          .review_carc = str(p, "carc"),
                          .lines_only = true};
    if (!in.patient || !in.provider) {
        rc = cc_errf(ctx->eb, CC_ERR_CORRUPT, "claim %.12s… lacks its patient or provider", id);
        goto done;
    }
    if ((rc = cc_claims_adjudicate(&in, &out, ctx->eb)) != CC_OK) goto done;
    json_object_del(rec, "response"); /* rendered on read (a record from before kept its own) */
    json_object_set(rec, "lines", out.lines);
    json_object_set_new(rec, "benefitCents", json_integer(out.benefit_cents));
    json_object_set_new(rec, "patientCents", json_integer(out.patient_cents));
    json_object_set_new(rec, "status", json_string(out.pended ? "pended" : "adjudicated"));
    hex_of(ctx->signer->pk, CC_PUBKEY_BYTES, signer);
    if ((rc = history_add(ctx, rec, out.pended ? "pended" : "adjudicated",
                          json_pack("{s:s, s:s}", "review", decision, "reviewer", signer))) != CC_OK ||
        (rc = effects_write(ctx, out.effects)) != CC_OK)
        goto done;
    snprintf(key, sizeof key, "claim/%s", id);
    rc = cc_state_put_json(ctx, key, rec);
done:
    cc_claims_output_free(&out);
    json_decref(rec);
    json_decref(cov);
    json_decref(plan);
    return rc;
}

/* ---- payment.settle ------------------------------------------------------------------------------ */

static cc_err settle_validate(const json_t *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"trace", "claims", NULL};
    static const char *const entry_fields[] = {"claim", "amountCents", NULL};
    const json_t *list = json_object_get(p, "claims"), *e;
    uint8_t id[CC_HASH_BYTES];
    json_int_t amount;
    size_t i, j;
    cc_err rc;
    if ((rc = cc_payload_only(p, fields, eb)) != CC_OK) return rc;
    if (!cc_claims_id_valid(str(p, "trace")))
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"trace\" must be 1..%d of [A-Za-z0-9.-], starting with a letter or digit",
                       CC_CLAIMS_ID_MAX);
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > CC_CLAIMS_SETTLE_MAX)
        return cc_errf(eb, CC_ERR_INVALID,
                       "\"claims\" must be an array of 1..%d {\"claim\", \"amountCents\"}",
                       CC_CLAIMS_SETTLE_MAX);
    json_array_foreach(list, i, e)
    {
        if (!json_is_object(e) || (rc = cc_payload_only(e, entry_fields, eb)) != CC_OK ||
            (rc = cc_payload_hex(e, "claim", id, sizeof id, eb)) != CC_OK ||
            (rc = cc_payload_int(e, "amountCents", true, 0, CC_CLAIMS_MONEY_MAX * CC_CLAIMS_LINES_MAX,
                                 &amount, eb)) != CC_OK)
            return rc != CC_OK ? rc : cc_errf(eb, CC_ERR_INVALID, "\"claims\"[%zu] must be an object", i);
        for (j = 0; j < i; j++)
            if (strcmp(str(json_array_get(list, j), "claim"), str(e, "claim")) == 0)
                return cc_errf(eb, CC_ERR_INVALID, "\"claims\" lists claim %.12s… twice", str(e, "claim"));
    }
    return CC_OK;
}

static cc_err settle_one(cc_exec_ctx *ctx, const json_t *e, const char *txid, int64_t *total)
{
    const char *id = str(e, "claim"), *trace = str(ctx->payload, "trace");
    json_int_t amount = json_integer_value(json_object_get(e, "amountCents"));
    char key[KEY_BYTES], date[11], value[32];
    json_t *rec = NULL;
    cc_err rc = CC_OK;
    snprintf(key, sizeof key, "claim/%s", id);
    if (cc_state_get_json(ctx, key, &rec) != CC_OK)
        return cc_errf(ctx->eb, CC_ERR_NOT_FOUND, "no claim %.12s…", id);
    const char *status = str(rec, "status"), *use = str(rec, "use");
    if (!str(rec, "insurer") || strcmp(str(rec, "insurer"), ctx->signer->org) != 0)
        rc = cc_errf(ctx->eb, CC_ERR_FORBIDDEN, "claim %.12s… is not with organisation %s", id,
                     ctx->signer->org);
    else if (!use || strcmp(use, "claim") != 0)
        rc = cc_errf(ctx->eb, CC_ERR_INVALID, "%.12s… is a preauthorization: nothing to pay", id);
    else if (!status || strcmp(status, "adjudicated") != 0)
        rc = cc_errf(ctx->eb, CC_ERR_CONFLICT, "claim %.12s… is %s, not adjudicated", id,
                     status ? status : "?");
    else if (amount != json_integer_value(json_object_get(rec, "benefitCents")))
        rc = cc_errf(ctx->eb, CC_ERR_INVALID,
                     "claim %.12s…: amountCents %lld differs from the adjudicated benefit %lld", id,
                     (long long)amount, (long long)json_integer_value(json_object_get(rec, "benefitCents")));
    if (rc != CC_OK) goto done;
    cc_claims_date_format((int64_t)(ctx->time_ms / MS_PER_DAY), date);
    json_t *response = json_object_get(rec, "response");
    const char *currency =
        str(json_object_get(json_array_get(json_object_get(response, "total"), 0), "amount"), "currency");
    json_object_set_new(rec, "status", json_string("paid"));
    json_object_set_new(
        rec, "payment",
        json_pack("{s:s, s:I, s:s, s:s}", "trace", trace, "amountCents", amount, "date", date, "txid", txid));
    if (response) /* a record from before responses were rendered on read keeps its own */
        json_object_set_new(response, "payment",
                            json_pack("{s:{s:[{s:s, s:s}]}, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "type",
                                      "coding", "system", CC_CLAIMS_PAYMENT_TYPE_SYSTEM, "code", "complete",
                                      "date", date, "amount", "value", cc_claims_cents_format(amount, value),
                                      "currency", currency ? currency : "USD", "identifier", "system",
                                      CC_CLAIMS_TRACE_SYSTEM, "value", trace));
    if ((rc = history_add(ctx, rec, "paid", json_pack("{s:s}", "trace", trace))) == CC_OK)
        rc = cc_state_put_json(ctx, key, rec);
    *total += amount;
done:
    json_decref(rec);
    return rc;
}

static cc_err settle_apply(cc_exec_ctx *ctx)
{
    const char *trace = str(ctx->payload, "trace");
    const json_t *list = json_object_get(ctx->payload, "claims"), *e;
    char key[KEY_BYTES], txid[CC_HASH_HEX], date[11];
    int64_t total = 0;
    json_t *o = NULL;
    size_t i;
    cc_err rc;
    snprintf(key, sizeof key, "payment/%s", trace);
    if ((rc = cc_state_get_json(ctx, key, &o)) == CC_OK) {
        json_decref(o);
        return cc_errf(ctx->eb, CC_ERR_CONFLICT, "remittance %s was already settled", trace);
    }
    if (rc != CC_ERR_NOT_FOUND) return cc_errf(ctx->eb, rc, "cannot read %s", key);
    hex_of(ctx->tx->txid, CC_HASH_BYTES, txid);
    rc = CC_OK;
    json_array_foreach(list, i, e)
    {
        if (rc == CC_OK) rc = settle_one(ctx, e, txid, &total);
    }
    if (rc != CC_OK) return rc;
    o = json_pack("{s:s, s:s, s:O, s:I, s:s, s:s, s:I}", "trace", trace, "org", ctx->signer->org, "claims",
                  list, "totalCents", (json_int_t)total, "date",
                  cc_claims_date_format((int64_t)(ctx->time_ms / MS_PER_DAY), date), "txid", txid, "height",
                  (json_int_t)ctx->height);
    rc = o ? cc_state_put_json(ctx, key, o) : CC_ERR_NOMEM;
    json_decref(o);
    return rc;
}

const cc_tx_type cc_claims_tx_types[] = {
    {"plan.deploy", CC_ROLE_PAYER, deploy_validate, deploy_apply, NULL},
    {"coverage.enroll", CC_ROLE_PAYER, enroll_validate, enroll_apply, NULL},
    {"claim.submit", CC_ROLE_CLINICIAN | CC_ROLE_ADMIN, submit_validate, submit_apply, NULL},
    {"priorauth.decide", CC_ROLE_PAYER, decide_validate, decide_apply, NULL},
    {"payment.settle", CC_ROLE_PAYER, settle_validate, settle_apply, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* ---- client side: real FHIR JSON ------------------------------------------------------------- */

cc_err cc_claims_json_load(const char *text, size_t len, json_t **out, cc_errbuf *eb)
{
    char *buf = malloc(2 * len + 1);
    size_t n = 0;
    bool in_str = false;
    *out = NULL;
    if (!buf) return CC_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            buf[n++] = c;
            if (c == '\\' && i + 1 < len)
                buf[n++] = text[++i];
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        if (c != '-' && (c < '0' || c > '9')) {
            buf[n++] = c;
            continue;
        }
        /* a number: quote it when it has a fraction or an exponent */
        size_t j = i + 1;
        bool real = false;
        while (j < len &&
               ((text[j] >= '0' && text[j] <= '9') || text[j] == '.' || text[j] == 'e' || text[j] == 'E' ||
                ((text[j] == '+' || text[j] == '-') && (text[j - 1] == 'e' || text[j - 1] == 'E'))))
            real |= text[j] == '.' || text[j] == 'e' || text[j] == 'E', j++;
        if (real) buf[n++] = '"';
        memcpy(buf + n, text + i, j - i);
        n += j - i;
        if (real) buf[n++] = '"';
        i = j - 1;
    }
    *out = cc_json_parse((const uint8_t *)buf, n, eb);
    free(buf);
    return *out ? CC_OK : CC_ERR_MALFORMED;
}

static void dropped_add(json_t *list, const char *path)
{
    size_t i;
    json_t *v;
    if (!list) return;
    json_array_foreach(list, i, v)
    {
        if (strcmp(json_string_value(v), path) == 0) return;
    }
    json_array_append_new(list, json_string(path));
}

/* A CodeableConcept with only {system, code, version} codings. */
static json_t *clean_concept(const json_t *c, const char *path, json_t *dropped)
{
    json_t *codings = json_array(), *x;
    size_t i;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)c, k, v)
    {
        if (strcmp(k, "coding") != 0) {
            char p[160];
            snprintf(p, sizeof p, "%s.%s", path, k);
            dropped_add(dropped, p);
        }
    }
    json_array_foreach(json_object_get(c, "coding"), i, x)
    {
        json_t *o = json_object();
        static const char *const keep[] = {"system", "code", "version"};
        for (size_t f = 0; o && f < 3; f++)
            if (json_is_string(json_object_get(x, keep[f])))
                json_object_set(o, keep[f], json_object_get(x, keep[f]));
        json_object_foreach(x, k, v)
        {
            if (strcmp(k, "system") && strcmp(k, "code") && strcmp(k, "version")) {
                char p[160];
                snprintf(p, sizeof p, "%s.coding[].%s", path, k);
                dropped_add(dropped, p);
            }
        }
        if (o && json_object_get(o, "code"))
            json_array_append_new(codings, o);
        else
            json_decref(o);
    }
    return json_pack("{s:o}", "coding", codings);
}

/* List in dropped each field of o (at path) that is not among keep. */
static void dropped_fields(const json_t *o, const char *const *keep, size_t n, const char *path,
                           json_t *dropped)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool kept = false;
        for (size_t i = 0; i < n && !kept; i++) kept = strcmp(k, keep[i]) == 0;
        if (!kept) {
            char p[160];
            snprintf(p, sizeof p, "%s.%s", path, k);
            dropped_add(dropped, p);
        }
    }
}

/* Money with its value and currency; anything else in m (at path) is
 * listed in dropped (NULL: not listed). */
static json_t *clean_money(const json_t *m, const char *path, json_t *dropped)
{
    static const char *const keep[] = {"value", "currency"};
    dropped_fields(m, keep, 2, path, dropped);
    json_t *o = json_object();
    if (o && json_object_get(m, "value")) json_object_set(o, "value", json_object_get(m, "value"));
    if (o && json_is_string(json_object_get(m, "currency")))
        json_object_set(o, "currency", json_object_get(m, "currency"));
    return o;
}

/* A period's start and end, as clean_money. */
static json_t *clean_period(const json_t *p, const char *path, json_t *dropped)
{
    static const char *const keep[] = {"start", "end"};
    dropped_fields(p, keep, 2, path, dropped);
    json_t *o = json_object();
    if (o && json_is_string(json_object_get(p, "start")))
        json_object_set(o, "start", json_object_get(p, "start"));
    if (o && json_is_string(json_object_get(p, "end"))) json_object_set(o, "end", json_object_get(p, "end"));
    return o;
}

static json_t *clean_item(const json_t *item, json_t *kept_diags, json_t *dropped)
{
    static const char *const concepts[] = {"productOrService", "category", "revenue",
                                           "locationCodeableConcept"};
    json_t *o = json_object(), *v;
    const char *k;
    size_t i;
    if (!o) return NULL;
    json_object_foreach((json_t *)item, k, v)
    {
        bool kept = true;
        if (strcmp(k, "sequence") == 0 || strcmp(k, "servicedDate") == 0 ||
            strcmp(k, "careTeamSequence") == 0)
            json_object_set(o, k, v);
        else if (strcmp(k, "servicedPeriod") == 0) {
            json_object_set_new(o, k, clean_period(v, "item[].servicedPeriod", dropped));
        } else if (strcmp(k, "unitPrice") == 0 || strcmp(k, "net") == 0) {
            char p[32];
            snprintf(p, sizeof p, "item[].%s", k);
            json_object_set_new(o, k, clean_money(v, p, dropped));
        } else if (strcmp(k, "quantity") == 0) {
            static const char *const keep[] = {"value"};
            dropped_fields(v, keep, 1, "item[].quantity", dropped);
            json_object_set_new(o, k, json_pack("{s:O}", "value", json_object_get(v, "value")));
        } else if (strcmp(k, "modifier") == 0) {
            json_t *mods = json_array(), *m;
            json_array_foreach(v, i, m)
            {
                json_array_append_new(mods, clean_concept(m, "item[].modifier[]", dropped));
            }
            json_object_set_new(o, k, mods);
        } else if (strcmp(k, "diagnosisSequence") == 0) {
            json_t *seqs = json_array(), *s;
            json_array_foreach(v, i, s)
            {
                size_t j;
                json_t *d;
                json_array_foreach(kept_diags, j, d)
                {
                    if (json_integer_value(json_object_get(d, "sequence")) == json_integer_value(s))
                        json_array_append(seqs, s);
                }
            }
            if (json_array_size(seqs) > 0)
                json_object_set_new(o, k, seqs);
            else
                json_decref(seqs);
        } else {
            kept = false;
            for (size_t c = 0; c < sizeof concepts / sizeof concepts[0]; c++)
                if (strcmp(k, concepts[c]) == 0) {
                    char p[96];
                    snprintf(p, sizeof p, "item[].%s", k);
                    json_object_set_new(o, k, clean_concept(v, p, dropped));
                    kept = true;
                }
            if (!kept) {
                char p[96];
                snprintf(p, sizeof p, "item[].%s", k);
                dropped_add(dropped, p);
            }
        }
    }
    return o;
}

cc_err cc_claim_from_fhir(const json_t *fhir, const cc_claim_refs *refs, json_t **out, json_t **dropped_out,
                          cc_errbuf *eb)
{
    /* not "id": the provider's id of the resource is often its claim
     * number (the audit's HL7 example had "MED-00050", the value of its
     * identifier); on the ledger a claim is known by its txid */
    static const char *const copy[] = {"status", "use", "created"};
    static const char *const concepts[] = {"type", "subType", "priority"};
    char ref[3][32 + CC_CLAIMS_ID_MAX + CC_HASH_HEX];
    json_t *c = NULL, *dropped = json_array(), *v, *diags = NULL, *items = NULL;
    const char *k;
    size_t i;
    cc_err rc = CC_OK;
    *out = NULL;
    if (dropped_out) *dropped_out = NULL;
    if (!dropped || !(c = json_object())) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if (!json_is_object(fhir) || !str(fhir, "resourceType") ||
        strcmp(str(fhir, "resourceType"), "Claim") != 0) {
        rc = cc_errf(eb, CC_ERR_INVALID, "not a FHIR Claim (resourceType must be \"Claim\")");
        goto done;
    }
    if (!refs || !refs->patient || !refs->provider || !refs->coverage) {
        rc = cc_errf(eb, CC_ERR_INVALID,
                     "the patient, provider and coverage to put into the claim are required");
        goto done;
    }
    json_object_set_new(c, "resourceType", json_string("Claim"));
    for (i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if ((v = json_object_get(fhir, copy[i]))) json_object_set(c, copy[i], v);
    if (refs->use) json_object_set_new(c, "use", json_string(refs->use));
    for (i = 0; i < sizeof concepts / sizeof concepts[0]; i++)
        if ((v = json_object_get(fhir, concepts[i])))
            json_object_set_new(c, concepts[i], clean_concept(v, concepts[i], dropped));
    if ((v = json_object_get(fhir, "billablePeriod")))
        json_object_set_new(c, "billablePeriod", clean_period(v, "billablePeriod", dropped));
    if ((v = json_object_get(fhir, "total")))
        json_object_set_new(c, "total", clean_money(v, "total", dropped));
    snprintf(ref[0], sizeof ref[0], "Patient/%s", refs->patient);
    snprintf(ref[1], sizeof ref[1], "Organization/%s", refs->provider);
    snprintf(ref[2], sizeof ref[2], "Coverage/%s", refs->coverage);
    json_object_set_new(c, "patient", json_pack("{s:s}", "reference", ref[0]));
    json_object_set_new(c, "provider", json_pack("{s:s}", "reference", ref[1]));
    json_t *ins =
        json_pack("{s:i, s:b, s:{s:s}}", "sequence", 1, "focal", 1, "coverage", "reference", ref[2]);
    if (ins && json_array_size(refs->preauths) > 0)
        json_object_set(ins, "preAuthRef", (json_t *)refs->preauths);
    json_object_set_new(c, "insurance", json_pack("[o]", ins));
    diags = json_array();
    json_array_foreach(json_object_get(fhir, "diagnosis"), i, v)
    {
        const json_t *cc = json_object_get(v, "diagnosisCodeableConcept");
        if (!cc) {
            dropped_add(dropped, "diagnosis[].diagnosisReference");
            continue;
        }
        json_t *d =
            json_pack("{s:O, s:o}", "sequence", json_object_get(v, "sequence"), "diagnosisCodeableConcept",
                      clean_concept(cc, "diagnosis[].diagnosisCodeableConcept", dropped));
        if (d) json_array_append_new(diags, d);
        json_object_foreach(v, k, cc)
        {
            if (strcmp(k, "sequence") && strcmp(k, "diagnosisCodeableConcept")) {
                char p[96];
                snprintf(p, sizeof p, "diagnosis[].%s", k);
                dropped_add(dropped, p);
            }
        }
    }
    if (json_array_size(diags) > 0) json_object_set(c, "diagnosis", diags);
    items = json_array();
    json_array_foreach(json_object_get(fhir, "item"), i, v)
    {
        json_array_append_new(items, clean_item(v, diags, dropped));
    }
    json_object_set(c, "item", items);
    json_object_foreach((json_t *)fhir, k, v)
    {
        static const char *const handled[] = {"resourceType", "status",  "use",      "created",
                                              "type",         "subType", "priority", "billablePeriod",
                                              "total",        "patient", "provider", "insurance",
                                              "diagnosis",    "item",    NULL};
        size_t h = 0;
        while (handled[h] && strcmp(handled[h], k) != 0) h++;
        if (!handled[h]) dropped_add(dropped, k);
    }
    if ((rc = cc_claim_validate(c, false, "claim", eb)) != CC_OK) goto done;
    *out = c;
    c = NULL;
    if (dropped_out) {
        *dropped_out = dropped;
        dropped = NULL;
    }
done:
    json_decref(c);
    json_decref(dropped);
    json_decref(diags);
    json_decref(items);
    return rc;
}

cc_err cc_claims_patient_claims(cc_state_reader get, void *ctx, const char *patient, json_t **out)
{
    char key[CC_CLAIMS_KEY_MAX];
    json_t *count = NULL, *ids = json_array();
    cc_err rc = ids ? CC_OK : CC_ERR_NOMEM;
    *out = NULL;
    snprintf(key, sizeof key, "pclaimcount/%.64s", patient);
    if (rc == CC_OK && (rc = get(ctx, key, &count)) == CC_ERR_NOT_FOUND) rc = CC_OK;
    if (rc == CC_OK && count && (!json_is_integer(count) || json_integer_value(count) < 0))
        rc = CC_ERR_CORRUPT;
    for (json_int_t i = 1; rc == CC_OK && count && i <= json_integer_value(count); i++) {
        json_t *id = NULL;
        cc_claims_patient_claim_key(key, patient, (uint64_t)i);
        if ((rc = get(ctx, key, &id)) != CC_OK) break;
        if (!json_is_string(id))
            rc = CC_ERR_CORRUPT;
        else if (json_array_append_new(ids, id) != 0)
            rc = CC_ERR_NOMEM;
        if (rc != CC_OK) json_decref(id);
    }
    json_decref(count);
    if (rc == CC_OK)
        *out = ids;
    else
        json_decref(ids);
    return rc;
}

cc_err cc_claims_record_view(cc_state_reader get, void *ctx, const json_t *record, json_t **out)
{
    char key[KEY_BYTES];
    json_t *plan = NULL, *resp = NULL, *view = NULL, *v;
    const char *k;
    char *text = NULL;
    cc_err rc = CC_OK;
    *out = NULL;
    if (json_object_get(record, "response")) return (*out = json_incref((json_t *)record)), CC_OK;
    snprintf(key, sizeof key, "plan/%.64s/%lld", str(record, "plan") ? str(record, "plan") : "",
             (long long)json_integer_value(json_object_get(record, "planVersion")));
    if ((rc = get(ctx, key, &plan)) != CC_OK) return rc == CC_ERR_NOT_FOUND ? CC_ERR_CORRUPT : rc;
    const char *currency = str(json_object_get(plan, "plan"), "currency");
    if (!(text = cc_claims_response_text(record, currency ? currency : "USD")) ||
        !(resp = cc_json_parse((const uint8_t *)text, strlen(text), NULL))) {
        rc = text ? CC_ERR_NOMEM : CC_ERR_CORRUPT;
        goto done;
    }
    /* keys in bytewise order, "response" among them, as the record was stored before */
    if (!(view = json_object())) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    json_object_foreach((json_t *)record, k, v)
    {
        if (resp && strcmp(k, "response") > 0) {
            json_object_set_new(view, "response", resp);
            resp = NULL;
        }
        json_object_set(view, k, v);
    }
    if (resp) {
        json_object_set_new(view, "response", resp);
        resp = NULL;
    }
    *out = view;
    view = NULL;
done:
    free(text);
    json_decref(plan);
    json_decref(resp);
    json_decref(view);
    return rc;
}

/* ---- views ---------------------------------------------------------------------------------- */

json_t *cc_claims_eob(const json_t *record)
{
    const json_t *claim = json_object_get(record, "claim"), *resp = json_object_get(record, "response");
    const json_t *items = json_object_get(claim, "item"), *item;
    const char *id = str(record, "id"), *patient = str(record, "patient"),
               *provider = str(record, "provider");
    char ref[5][32 + CC_CLAIMS_ID_MAX + CC_HASH_HEX];
    size_t i;
    if (!id || !patient || !provider || !json_is_object(claim) || !json_is_object(resp)) return NULL;
    snprintf(ref[0], sizeof ref[0], "Patient/%s", patient);
    snprintf(ref[1], sizeof ref[1], "Organization/%s", provider);
    snprintf(ref[2], sizeof ref[2], "Claim/%s", id);
    snprintf(ref[3], sizeof ref[3], "ClaimResponse/%s", id);
    snprintf(ref[4], sizeof ref[4], "Coverage/%.64s", str(record, "coverage") ? str(record, "coverage") : "");
    json_t *eob = json_pack(
        "{s:s, s:s, s:s, s:O, s:O, s:{s:s}, s:O, s:O, s:{s:s}, s:{s:s}, s:{s:s}, s:O, s:[{s:b, s:{s:s}}], "
        "s:O, s:[]}",
        "resourceType", "ExplanationOfBenefit", "id", id, "status", "active", "type",
        json_object_get(claim, "type"), "use", json_object_get(claim, "use"), "patient", "reference", ref[0],
        "created", json_object_get(resp, "created"), "insurer", json_object_get(resp, "insurer"), "provider",
        "reference", ref[1], "claim", "reference", ref[2], "claimResponse", "reference", ref[3], "outcome",
        json_object_get(resp, "outcome"), "insurance", "focal", 1, "coverage", "reference", ref[4], "total",
        json_object_get(resp, "total"), "item");
    if (!eob) return NULL;
    static const char *const copied[] = {"disposition", "extension", "processNote", "payment", "subType"};
    for (i = 0; i < sizeof copied / sizeof copied[0]; i++)
        if (json_object_get(resp, copied[i]))
            json_object_set(eob, copied[i], json_object_get(resp, copied[i]));
    if (str(claim, "use") && strcmp(str(claim, "use"), "preauthorization") == 0)
        json_object_set_new(eob, "preAuthRef", json_pack("[s]", id));
    json_array_foreach(items, i, item)
    {
        static const char *const fields[] = {
            "sequence", "productOrService", "modifier", "servicedDate",     "servicedPeriod",
            "quantity", "unitPrice",        "net",      "diagnosisSequence"};
        const json_t *ri = json_array_get(json_object_get(resp, "item"), i);
        json_t *e = json_object();
        for (size_t f = 0; e && f < sizeof fields / sizeof fields[0]; f++)
            if (json_object_get(item, fields[f]))
                json_object_set(e, fields[f], json_object_get(item, fields[f]));
        if (e && ri) {
            json_object_set(e, "adjudication", json_object_get(ri, "adjudication"));
            if (json_object_get(ri, "noteNumber"))
                json_object_set(e, "noteNumber", json_object_get(ri, "noteNumber"));
        }
        if (!e || json_array_append_new(json_object_get(eob, "item"), e) != 0) {
            json_decref(eob);
            return NULL;
        }
    }
    return eob;
}

#define NUMBER_MARK                                                                                          \
    "\x01" /* a decimal string to print as a number (never in stored text: no control chars) */

/* Mark the decimal strings of every Money ({"value", "currency"}) and
 * Quantity ("quantity": {"value"}) in v. */
static void mark_numbers(json_t *v, bool quantity)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            mark_numbers(x, false);
        }
        return;
    }
    if (!json_is_object(v)) return;
    const char *value = str(v, "value");
    int64_t cents;
    if (value && (quantity || json_object_get(v, "currency")) &&
        cc_claims_cents(json_object_get(v, "value"), &cents) == CC_OK && strlen(value) < 64) {
        char marked[80];
        snprintf(marked, sizeof marked, NUMBER_MARK "%s", value);
        json_object_set_new(v, "value", json_string(marked));
    }
    json_object_foreach(v, k, x)
    {
        mark_numbers(x, strcmp(k, "quantity") == 0);
    }
}

char *cc_claims_fhir_dump(const json_t *resource)
{
    static const char mark[] = "\"\\u0001";
    json_t *copy = json_deep_copy(resource);
    mark_numbers(copy, false);
    char *text = copy ? json_dumps(copy, JSON_COMPACT) : NULL, *r, *w;
    json_decref(copy);
    if (!text) return NULL;
    /* "\u0001135.57" -> 135.57 (in place: the text only shrinks) */
    for (r = w = text; *r;) {
        if (strncmp(r, mark, sizeof mark - 1) == 0) {
            r += sizeof mark - 1;
            while (*r && *r != '"') *w++ = *r++;
            if (*r) r++;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return text;
}
