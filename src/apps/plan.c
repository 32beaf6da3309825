/*
 * plan.c — the stateless checks of the claims module: a plan document
 * (cc_plan_validate) and a Claim as the ledger accepts it (cc_claim_validate:
 * minimum necessary), and the plan's test cases (cc_plan_test), which run
 * the adjudication engine over a small in-memory state.
 *
 * Every message names the JSON path of what is wrong
 * ("plan.covered[3].allowedCents must be ..."), so an analyst editing a plan
 * or a clinic's developer can find it. docs/PLANS.md is the reference.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "apps/claims.h"

#define PATH_BYTES      192
#define MS_PER_DAY      86400000LL
#define NAME_MAX_BYTES  200
#define TEST_NAME_MAX   100
#define SYSTEM_MAX      256
#define TOKEN_MAX       64
#define CODINGS_MAX     8
#define CARE_TEAM_MAX   8
#define MODIFIERS_MAX   4
#define INSURANCE_MAX   8
#define PREAUTH_REFS    8
#define CATEGORIES_MAX  64
#define COVERED_MAX     2000
#define PATTERNS_MAX    32
#define PAIRS_MAX       500
#define RULES_MAX       32768
#define CARC_MAX        4
#define FILING_DAYS_MAX 36500
#define PA_DAYS_MAX     3650
#define TEST_PATIENT    "test-patient"
#define TEST_PROVIDER   "test-provider"
#define TEST_AUTH       "test-authorization"

/* ---- syntax ----------------------------------------------------------------------- */

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool cc_claims_code_valid(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (n >= CC_CLAIMS_CODE_MAX || !(alnum(s[n]) || s[n] == '.' || s[n] == '-')) return false;
    return n > 0;
}

bool cc_claims_id_valid(const char *s)
{
    size_t n = 0;
    if (!s || !alnum(s[0])) return false;
    for (; s[n]; n++)
        if (n >= CC_CLAIMS_ID_MAX || !(alnum(s[n]) || s[n] == '.' || s[n] == '-')) return false;
    return true;
}

/* A lowercase plan id: [a-z0-9][a-z0-9.-]{0,63}. */
static bool plan_id_valid(const char *s)
{
    if (!cc_claims_id_valid(s)) return false;
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') return false;
    return true;
}

static bool text_ok(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > max) return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20) return false;
    return true;
}

/* A coded field's value (a coding's code and version, a unit) or a code
 * system's URI: 1..max printable ASCII characters of a code or of a URI
 * (RFC 3986), never a space. A claim carries codes, not sentences
 * (docs/RECORDS.md "What is on the ledger"). */
static bool coded_ok(const json_t *v, size_t max, bool uri)
{
    static const char code_chars[] = "._:/-+*%^{}[]";
    static const char uri_chars[] = "._:/-+*%~?#[]@!$&'(),;=";
    const char *s = json_string_value(v), *extra = uri ? uri_chars : code_chars;
    if (!s || !*s || json_string_length(v) > max) return false;
    for (; *s; s++)
        if (!alnum(*s) && !strchr(extra, *s)) return false;
    return true;
}

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

/* ---- path-naming checks ---------------------------------------------------------------- */

/* Format a JSON path into out (PATH_BYTES; long paths are cut). */
static const char *sub(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *sub(char *out, const char *fmt, ...)
{
    /* Paths are made for every element a claim has, mostly to go unused:
     * the "%s" and "%zu" that paths use are copied here (the same bytes,
     * cut the same way, as vsnprintf), anything else goes to vsnprintf. */
    char digits[24];
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        const char *piece = f;
        size_t len = 1;
        if (f[0] == '%' && f[1] == 's') {
            piece = va_arg(ap, const char *);
            if (!piece) piece = "(null)"; /* as glibc prints it */
            len = strlen(piece);
            f++;
        } else if (f[0] == '%' && f[1] == 'z' && f[2] == 'u') {
            size_t v = va_arg(ap, size_t);
            char *d = digits + sizeof digits;
            do *--d = (char)('0' + v % 10);
            while ((v /= 10) != 0);
            piece = d;
            len = (size_t)(digits + sizeof digits - d);
            f += 2;
        } else if (f[0] == '%') {
            va_end(ap);
            va_start(ap, fmt);
            vsnprintf(out, PATH_BYTES, fmt, ap);
            va_end(ap);
            return out;
        }
        if (len > PATH_BYTES - 1 - n) len = PATH_BYTES - 1 - n;
        memcpy(out + n, piece, len);
        n += len;
    }
    va_end(ap);
    out[n] = '\0';
    return out;
}

static cc_err bad(cc_errbuf *eb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static cc_err bad(cc_errbuf *eb, const char *fmt, ...)
{
    va_list ap;
    if (eb) {
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return CC_ERR_INVALID;
}

/* Why an element is refused (minimum necessary). */
static const char *refusal(const char *key)
{
    static const struct {
        const char *key, *why;
    } known[] = {
        {"contained", "embedded resources (a Patient's name, birth date, address) stay in encrypted records"},
        {"supportingInfo", "clinical detail stays in encrypted records"},
        {"informationSequence", "clinical detail (supportingInfo) stays in encrypted records"},
        {"text", "free text is not accepted: codes only"},
        {"display", "display texts are not accepted: codes only"},
        {"note", "free text is not accepted: codes only"},
        {"extension", "extensions are not accepted"},
        {"modifierExtension", "extensions are not accepted"},
        {"detail", "item details are not supported"},
        {"factor", "price factors are not supported"},
        {"udi", "device identifiers are not needed to adjudicate"},
        {"encounter", "encounter references are not needed to adjudicate"},
        {"bodySite", "clinical detail stays in encrypted records"},
        {"subSite", "clinical detail stays in encrypted records"},
        {"procedure", "clinical detail stays in encrypted records"},
        {"accident", "clinical detail stays in encrypted records"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].key, key) == 0) return known[i].why;
    return "not needed to adjudicate (minimum necessary)";
}

static cc_err only(const json_t *o, const char *path, const char *const *allowed, cc_errbuf *eb)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o)) return bad(eb, "%s must be an object", path);
    json_object_foreach((json_t *)o, k, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0) i++;
        if (!allowed[i]) return bad(eb, "%s.%.40s is not accepted: %s", path, k, refusal(k));
    }
    return CC_OK;
}

static cc_err need(const json_t *o, const char *path, const char *field, cc_errbuf *eb)
{
    return json_object_get(o, field) ? CC_OK : bad(eb, "%s needs \"%s\"", path, field);
}

/* An integer field in min..max; absent is fine unless required. */
static cc_err int_field(const json_t *o, const char *path, const char *field, bool required, int64_t min,
                        int64_t max, cc_errbuf *eb)
{
    const json_t *v = json_object_get(o, field);
    if (!v) return required ? bad(eb, "%s needs \"%s\"", path, field) : CC_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad(eb, "%s.%s must be an integer from %" PRId64 " to %" PRId64, path, field, min, max);
    return CC_OK;
}

static cc_err text_field(const json_t *o, const char *path, const char *field, bool required, size_t max,
                         cc_errbuf *eb)
{
    const json_t *v = json_object_get(o, field);
    if (!v) return required ? bad(eb, "%s needs \"%s\"", path, field) : CC_OK;
    if (!text_ok(v, max))
        return bad(eb, "%s.%s must be a string of 1..%zu bytes without control characters", path, field, max);
    return CC_OK;
}

static cc_err coded_field(const json_t *o, const char *path, const char *field, bool required, bool uri,
                          cc_errbuf *eb)
{
    const json_t *v = json_object_get(o, field);
    size_t max = uri ? SYSTEM_MAX : TOKEN_MAX;
    if (!v) return required ? bad(eb, "%s needs \"%s\"", path, field) : CC_OK;
    if (!coded_ok(v, max, uri))
        return bad(eb, "%s.%s must be %s of 1..%zu characters without spaces", path, field,
                   uri ? "a URI" : "a code", max);
    return CC_OK;
}

static cc_err code_value(const json_t *v, const char *path, cc_errbuf *eb)
{
    return cc_claims_code_valid(json_string_value(v))
               ? CC_OK
               : bad(eb, "%s must be a code: 1..%d of [A-Za-z0-9.-]", path, CC_CLAIMS_CODE_MAX);
}

static cc_err date_value(const json_t *v, const char *path, cc_errbuf *eb)
{
    int64_t d;
    return cc_claims_date_parse(json_string_value(v), &d) ? CC_OK
                                                          : bad(eb, "%s must be a date YYYY-MM-DD", path);
}

/* A FHIR date or dateTime: a valid date, then optionally "T" and a time. */
static cc_err date_time_value(const json_t *v, const char *path, cc_errbuf *eb)
{
    const char *s = json_string_value(v);
    char date[11];
    int64_t d;
    size_t n = s ? strlen(s) : 0;
    if (n >= 10) {
        memcpy(date, s, 10);
        date[10] = '\0';
    }
    bool ok = n >= 10 && n <= 35 && cc_claims_date_parse(date, &d) && (n == 10 || s[10] == 'T');
    for (size_t i = 11; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || s[i] == ':' || s[i] == '.' || s[i] == '+' || s[i] == '-' ||
             s[i] == 'Z';
    return ok ? CC_OK : bad(eb, "%s must be a FHIR date or dateTime", path);
}

/* A CodeableConcept of codings {system, code, version}; code_token: the
 * first code must be a procedure/diagnosis code. */
static cc_err concept(const json_t *v, const char *path, bool code_token, cc_errbuf *eb)
{
    static const char *const fields[] = {"coding", NULL};
    static const char *const coding_fields[] = {"system", "code", "version", NULL};
    char p[PATH_BYTES];
    const json_t *codings = json_object_get(v, "coding"), *c;
    size_t i;
    cc_err rc = only(v, path, fields, eb);
    if (rc != CC_OK) return rc;
    if (!json_is_array(codings) || json_array_size(codings) == 0 || json_array_size(codings) > CODINGS_MAX)
        return bad(eb, "%s.coding must be an array of 1..%d codings", path, CODINGS_MAX);
    json_array_foreach(codings, i, c)
    {
        sub(p, "%s.coding[%zu]", path, i);
        if ((rc = only(c, p, coding_fields, eb)) != CC_OK ||
            (rc = coded_field(c, p, "system", false, true, eb)) ||
            (rc = coded_field(c, p, "code", true, false, eb)) ||
            (rc = coded_field(c, p, "version", false, false, eb)))
            return rc;
        if (i == 0 && code_token) {
            sub(p, "%s.coding[0].code", path);
            if ((rc = code_value(json_object_get(c, "code"), p, eb)) != CC_OK) return rc;
        }
    }
    return CC_OK;
}

static cc_err money(const json_t *v, const char *path, cc_errbuf *eb)
{
    static const char *const fields[] = {"value", "currency", NULL};
    const json_t *cur = json_object_get(v, "currency");
    int64_t cents;
    cc_err rc = only(v, path, fields, eb);
    if (rc != CC_OK || (rc = need(v, path, "value", eb)) != CC_OK) return rc;
    if (cc_claims_cents(json_object_get(v, "value"), &cents) != CC_OK || cents < 0)
        return bad(
            eb,
            "%s.value must be an amount of at most 2 decimals, from 0 to 1000000000, as a decimal string "
            "(\"135.57\") or whole units",
            path);
    const char *c = json_string_value(cur);
    if (cur && (!c || strlen(c) != 3 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' || c[2] < 'A' ||
                c[2] > 'Z'))
        return bad(eb, "%s.currency must be an ISO 4217 code (USD)", path);
    return CC_OK;
}

/* {"reference": "<prefix><id>"} where the id passes valid. */
static cc_err reference(const json_t *v, const char *path, const char *prefix, bool (*valid)(const char *),
                        const char *what, cc_errbuf *eb)
{
    static const char *const fields[] = {"reference", NULL};
    const char *r = str(v, "reference");
    cc_err rc = only(v, path, fields, eb);
    if (rc != CC_OK) return rc;
    size_t n = strlen(prefix);
    if (!r || strncmp(r, prefix, n) != 0 || !valid(r + n))
        return bad(eb, "%s.reference must be \"%s<%s>\"", path, prefix, what);
    return CC_OK;
}

static bool hex_id(const char *s)
{
    return cc_hex_id_valid(s, CC_PUBKEY_BYTES);
}

/* "Type/id": a FHIR resource type and a FHIR id, as in "Practitioner/example". */
static bool resource_ref(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash - s > 64 || s[0] < 'A' || s[0] > 'Z') return false;
    for (const char *c = s; c < slash; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z'))) return false;
    return cc_claims_id_valid(slash + 1);
}

static cc_err period(const json_t *v, const char *path, cc_errbuf *eb)
{
    static const char *const fields[] = {"start", "end", NULL};
    char p[PATH_BYTES];
    cc_err rc = only(v, path, fields, eb);
    for (int i = 0; rc == CC_OK && i < 2; i++) {
        const json_t *x = json_object_get(v, fields[i]);
        sub(p, "%s.%s", path, fields[i]);
        if (x) rc = date_time_value(x, p, eb);
    }
    return rc;
}

/* An array of 1..max positive integers; when restricted, each must be the
 * "sequence" of one of the entries of the array among (NULL: none). */
static cc_err sequence_list(const json_t *v, const char *path, size_t max, bool restricted,
                            const json_t *among, cc_errbuf *eb)
{
    size_t i, j;
    json_t *x, *e;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max)
        return bad(eb, "%s must be an array of 1..%zu sequence numbers", path, max);
    json_array_foreach(v, i, x)
    {
        bool found = !restricted;
        if (!json_is_integer(x) || json_integer_value(x) < 1)
            return bad(eb, "%s[%zu] must be a positive integer", path, i);
        json_array_foreach(among, j, e)
        {
            found |= json_integer_value(json_object_get(e, "sequence")) == json_integer_value(x);
        }
        if (!found) return bad(eb, "%s[%zu] names no diagnosis of the claim", path, i);
    }
    return CC_OK;
}

/* ---- the Claim --------------------------------------------------------------------- */

static cc_err claim_item(const json_t *item, const char *path, const json_t *diagnoses, json_int_t *last_seq,
                         cc_errbuf *eb)
{
    static const char *const fields[] = {"sequence",
                                         "careTeamSequence",
                                         "diagnosisSequence",
                                         "productOrService",
                                         "modifier",
                                         "servicedDate",
                                         "servicedPeriod",
                                         "quantity",
                                         "unitPrice",
                                         "net",
                                         "category",
                                         "revenue",
                                         "locationCodeableConcept",
                                         NULL};
    static const char *const qty_fields[] = {"value", "unit", "system", "code", NULL};
    static const char *const concepts[] = {"category", "revenue", "locationCodeableConcept"};
    char p[PATH_BYTES];
    const json_t *v;
    int64_t q;
    size_t i;
    cc_err rc;
    if ((rc = only(item, path, fields, eb)) != CC_OK ||
        (rc = int_field(item, path, "sequence", true, 1, 10000, eb)) != CC_OK)
        return rc;
    json_int_t seq = json_integer_value(json_object_get(item, "sequence"));
    if (seq <= *last_seq) return bad(eb, "%s.sequence must be greater than the previous item's", path);
    *last_seq = seq;
    sub(p, "%s.productOrService", path);
    if ((rc = need(item, path, "productOrService", eb)) != CC_OK ||
        (rc = concept(json_object_get(item, "productOrService"), p, true, eb)) != CC_OK)
        return rc;
    if ((v = json_object_get(item, "modifier"))) {
        if (!json_is_array(v) || json_array_size(v) > MODIFIERS_MAX)
            return bad(eb, "%s.modifier must be an array of up to %d codes", path, MODIFIERS_MAX);
        json_array_foreach(v, i, v)
        {
            sub(p, "%s.modifier[%zu]", path, i);
            if ((rc = concept(v, p, true, eb)) != CC_OK) return rc;
        }
    }
    for (i = 0; i < sizeof concepts / sizeof concepts[0]; i++) {
        sub(p, "%s.%s", path, concepts[i]);
        if ((v = json_object_get(item, concepts[i])) && (rc = concept(v, p, false, eb)) != CC_OK) return rc;
    }
    const json_t *date = json_object_get(item, "servicedDate"),
                 *per = json_object_get(item, "servicedPeriod");
    if (!date == !per) return bad(eb, "%s needs one of \"servicedDate\" and \"servicedPeriod\"", path);
    sub(p, "%s.%s", path, date ? "servicedDate" : "servicedPeriod");
    if (date && (rc = date_value(date, p, eb)) != CC_OK) return rc;
    if (per && ((rc = period(per, p, eb)) != CC_OK || (rc = need(per, p, "start", eb)) != CC_OK)) return rc;
    if ((v = json_object_get(item, "quantity"))) {
        sub(p, "%s.quantity", path);
        if ((rc = only(v, p, qty_fields, eb)) != CC_OK || (rc = need(v, p, "value", eb)) != CC_OK ||
            (rc = coded_field(v, p, "unit", false, false, eb)) != CC_OK ||
            (rc = coded_field(v, p, "system", false, true, eb)) != CC_OK ||
            (rc = coded_field(v, p, "code", false, false, eb)) != CC_OK)
            return rc;
        if (cc_claims_cents(json_object_get(v, "value"), &q) != CC_OK || q <= 0 || q % 100 != 0 ||
            q / 100 > CC_CLAIMS_UNITS_MAX)
            return bad(eb, "%s.value must be a whole number of units from 1 to %d", p, CC_CLAIMS_UNITS_MAX);
    }
    if (!json_object_get(item, "net") && !json_object_get(item, "unitPrice"))
        return bad(eb, "%s needs \"net\" or \"unitPrice\"", path);
    for (i = 0; i < 2; i++) {
        const char *f = i ? "unitPrice" : "net";
        sub(p, "%s.%s", path, f);
        if ((v = json_object_get(item, f)) && (rc = money(v, p, eb)) != CC_OK) return rc;
    }
    if ((v = json_object_get(item, "diagnosisSequence"))) {
        sub(p, "%s.diagnosisSequence", path);
        if ((rc = sequence_list(v, p, CC_CLAIMS_DIAGNOSES_MAX, true, diagnoses, eb)) != CC_OK) return rc;
    }
    if ((v = json_object_get(item, "careTeamSequence"))) {
        sub(p, "%s.careTeamSequence", path);
        if ((rc = sequence_list(v, p, CARE_TEAM_MAX, false, NULL, eb)) != CC_OK) return rc;
    }
    return CC_OK;
}

static cc_err claim_insurance(const json_t *list, const char *path, cc_errbuf *eb)
{
    static const char *const fields[] = {"sequence", "focal", "coverage", "preAuthRef", NULL};
    char p[PATH_BYTES], q[PATH_BYTES];
    const json_t *e, *refs, *r;
    size_t i, j, focal = 0;
    cc_err rc;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > INSURANCE_MAX)
        return bad(eb, "%s must be an array of 1..%d entries", path, INSURANCE_MAX);
    json_array_foreach(list, i, e)
    {
        sub(p, "%s[%zu]", path, i);
        if ((rc = only(e, p, fields, eb)) != CC_OK ||
            (rc = int_field(e, p, "sequence", true, 1, 100, eb)) != CC_OK ||
            (rc = need(e, p, "coverage", eb)) != CC_OK)
            return rc;
        if (json_object_get(e, "focal") && !json_is_boolean(json_object_get(e, "focal")))
            return bad(eb, "%s.focal must be true or false", p);
        focal += json_is_true(json_object_get(e, "focal"));
        sub(q, "%s.coverage", p);
        if ((rc = reference(json_object_get(e, "coverage"), q, "Coverage/", cc_claims_id_valid, "coverage id",
                            eb)) != CC_OK)
            return rc;
        if ((refs = json_object_get(e, "preAuthRef"))) {
            if (!json_is_array(refs) || json_array_size(refs) == 0 || json_array_size(refs) > PREAUTH_REFS)
                return bad(eb, "%s.preAuthRef must be an array of 1..%d preauthorization claim ids", p,
                           PREAUTH_REFS);
            json_array_foreach(refs, j, r)
            {
                if (!json_string_value(r) || !hex_id(json_string_value(r)))
                    return bad(eb, "%s.preAuthRef[%zu] must be a claim id (64 lowercase hex digits)", p, j);
            }
        }
    }
    if (focal > 1 || (focal == 0 && json_array_size(list) > 1))
        return bad(eb, "%s must have exactly one focal entry", path);
    return CC_OK;
}

cc_err cc_claim_validate(const json_t *claim, bool test_case, const char *prefix, cc_errbuf *eb)
{
    static const char *const fields[] = {
        "resourceType",   "id",        "status",  "type",     "subType",  "use",   "patient",
        "billablePeriod", "created",   "insurer", "provider", "priority", "payee", "careTeam",
        "diagnosis",      "insurance", "item",    "total",    NULL};
    static const char *const diag_fields[] = {"sequence", "diagnosisCodeableConcept", "type", NULL};
    static const char *const team_fields[] = {"sequence", "provider", "role", "qualification", NULL};
    static const char *const payee_fields[] = {"type", NULL};
    char p[PATH_BYTES], q[PATH_BYTES];
    const json_t *v, *e;
    size_t i, j;
    cc_err rc;
    const char *path = prefix ? prefix : "claim";
    if ((rc = only(claim, path, fields, eb)) != CC_OK) return rc;
    if (!str(claim, "resourceType") || strcmp(str(claim, "resourceType"), "Claim") != 0)
        return bad(eb, "%s.resourceType must be \"Claim\"", path);
    if ((v = json_object_get(claim, "id")) && !cc_claims_id_valid(json_string_value(v)))
        return bad(eb, "%s.id must be a FHIR id (1..64 of [A-Za-z0-9.-])", path);
    if (!str(claim, "status") || strcmp(str(claim, "status"), "active") != 0)
        return bad(eb, "%s.status must be \"active\"", path);
    const char *use = str(claim, "use");
    if (!use || (strcmp(use, "claim") != 0 && strcmp(use, "preauthorization") != 0))
        return bad(eb, "%s.use must be \"claim\" or \"preauthorization\"", path);
    sub(p, "%s.type", path);
    if ((rc = need(claim, path, "type", eb)) != CC_OK ||
        (rc = concept(json_object_get(claim, "type"), p, false, eb)))
        return rc;
    sub(p, "%s.subType", path);
    if ((v = json_object_get(claim, "subType")) && (rc = concept(v, p, false, eb)) != CC_OK) return rc;
    sub(p, "%s.priority", path);
    if ((v = json_object_get(claim, "priority")) && (rc = concept(v, p, false, eb)) != CC_OK) return rc;
    sub(p, "%s.created", path);
    if ((rc = need(claim, path, "created", eb)) != CC_OK ||
        (rc = date_time_value(json_object_get(claim, "created"), p, eb)) != CC_OK)
        return rc;
    sub(p, "%s.billablePeriod", path);
    if ((v = json_object_get(claim, "billablePeriod")) && (rc = period(v, p, eb)) != CC_OK) return rc;
    sub(p, "%s.patient", path);
    if ((v = json_object_get(claim, "patient")) || !test_case) {
        if ((rc = need(claim, path, "patient", eb)) != CC_OK ||
            (rc = reference(v, p, "Patient/", hex_id, "patient id: 64 hex digits", eb)) != CC_OK)
            return rc;
    }
    sub(p, "%s.provider", path);
    if ((v = json_object_get(claim, "provider")) || !test_case) {
        if ((rc = need(claim, path, "provider", eb)) != CC_OK ||
            (rc = reference(v, p, "Organization/", cc_claims_id_valid, "organisation id", eb)) != CC_OK)
            return rc;
    }
    sub(p, "%s.insurer", path);
    if ((v = json_object_get(claim, "insurer")) &&
        (rc = reference(v, p, "Organization/", cc_claims_id_valid, "organisation id", eb)) != CC_OK)
        return rc;
    sub(p, "%s.insurance", path);
    if ((v = json_object_get(claim, "insurance")) || !test_case) {
        if ((rc = need(claim, path, "insurance", eb)) != CC_OK || (rc = claim_insurance(v, p, eb)) != CC_OK)
            return rc;
    }
    if ((v = json_object_get(claim, "payee"))) {
        sub(p, "%s.payee", path);
        sub(q, "%s.payee.type", path);
        if ((rc = only(v, p, payee_fields, eb)) != CC_OK ||
            (json_object_get(v, "type") && (rc = concept(json_object_get(v, "type"), q, false, eb)) != CC_OK))
            return rc;
    }
    if ((v = json_object_get(claim, "careTeam"))) {
        if (!json_is_array(v) || json_array_size(v) > CARE_TEAM_MAX)
            return bad(eb, "%s.careTeam must be an array of up to %d entries", path, CARE_TEAM_MAX);
        json_array_foreach(v, i, e)
        {
            sub(p, "%s.careTeam[%zu]", path, i);
            sub(q, "%s.careTeam[%zu].provider", path, i);
            if ((rc = only(e, p, team_fields, eb)) != CC_OK ||
                (rc = int_field(e, p, "sequence", true, 1, 100, eb)) != CC_OK ||
                (rc = need(e, p, "provider", eb)) != CC_OK ||
                (rc = reference(json_object_get(e, "provider"), q, "", resource_ref, "Type/id", eb)) != CC_OK)
                return rc;
            for (j = 0; j < 2; j++) {
                const char *f = j ? "qualification" : "role";
                sub(q, "%s.careTeam[%zu].%s", path, i, f);
                if (json_object_get(e, f) && (rc = concept(json_object_get(e, f), q, false, eb)) != CC_OK)
                    return rc;
            }
        }
    }
    const json_t *diagnoses = json_object_get(claim, "diagnosis");
    if (diagnoses) {
        if (!json_is_array(diagnoses) || json_array_size(diagnoses) > CC_CLAIMS_DIAGNOSES_MAX)
            return bad(eb, "%s.diagnosis must be an array of up to %d diagnoses", path,
                       CC_CLAIMS_DIAGNOSES_MAX);
        json_array_foreach(diagnoses, i, e)
        {
            sub(p, "%s.diagnosis[%zu]", path, i);
            sub(q, "%s.diagnosis[%zu].diagnosisCodeableConcept", path, i);
            if ((rc = only(e, p, diag_fields, eb)) != CC_OK ||
                (rc = int_field(e, p, "sequence", true, 1, 100, eb)) != CC_OK ||
                (rc = need(e, p, "diagnosisCodeableConcept", eb)) != CC_OK ||
                (rc = concept(json_object_get(e, "diagnosisCodeableConcept"), q, true, eb)) != CC_OK)
                return rc;
            for (j = 0; j < i; j++)
                if (json_integer_value(json_object_get(json_array_get(diagnoses, j), "sequence")) ==
                    json_integer_value(json_object_get(e, "sequence")))
                    return bad(eb, "%s.sequence repeats diagnosis[%zu]'s", p, j);
            const json_t *types = json_object_get(e, "type"), *t;
            size_t k;
            if (types && (!json_is_array(types) || json_array_size(types) > MODIFIERS_MAX))
                return bad(eb, "%s.type must be an array of up to %d codes", p, MODIFIERS_MAX);
            json_array_foreach(types, k, t)
            {
                sub(q, "%s.diagnosis[%zu].type[%zu]", path, i, k);
                if ((rc = concept(t, q, false, eb)) != CC_OK) return rc;
            }
        }
    }
    const json_t *items = json_object_get(claim, "item");
    if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > CC_CLAIMS_LINES_MAX)
        return bad(eb, "%s.item must be an array of 1..%d lines", path, CC_CLAIMS_LINES_MAX);
    json_int_t last = 0;
    json_array_foreach(items, i, e)
    {
        sub(p, "%s.item[%zu]", path, i);
        if ((rc = claim_item(e, p, diagnoses, &last, eb)) != CC_OK) return rc;
    }
    sub(p, "%s.total", path);
    if ((v = json_object_get(claim, "total")) && (rc = money(v, p, eb)) != CC_OK) return rc;
    return CC_OK;
}

/* ---- the plan document ------------------------------------------------------------------ */

static cc_err code_list(const json_t *v, const char *path, size_t max, cc_errbuf *eb)
{
    char p[PATH_BYTES];
    size_t i, j;
    json_t *x;
    cc_err rc;
    if (!json_is_array(v) || json_array_size(v) > max)
        return bad(eb, "%s must be an array of up to %zu codes", path, max);
    json_array_foreach(v, i, x)
    {
        if ((rc = code_value(x, sub(p, "%s[%zu]", path, i), eb)) != CC_OK) return rc;
        for (j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(v, j)), json_string_value(x)) == 0)
                return bad(eb, "%s lists %s twice", path, json_string_value(x));
    }
    return CC_OK;
}

/* Lua source: 1..RULES_MAX bytes; the only control characters are tab, CR, LF. */
static cc_err rules_field(const json_t *plan, cc_errbuf *eb)
{
    const json_t *v = json_object_get(plan, "rules");
    const char *s = json_string_value(v);
    if (!v) return CC_OK;
    if (!s || !*s || json_string_length(v) > RULES_MAX || strlen(s) != json_string_length(v))
        return bad(eb, "plan.rules must be Lua source of 1..%d bytes", RULES_MAX);
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
            return bad(eb, "plan.rules holds a control character");
    return CC_OK;
}

/* "MM-DD" of a day that every year has (no 02-29). */
static bool month_day_valid(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != '-') return false;
    char date[11];
    int64_t d;
    snprintf(date, sizeof date, "2001-%s", s);
    return cc_claims_date_parse(date, &d);
}

static cc_err plan_categories(const json_t *cats, cc_errbuf *eb)
{
    static const char *const fields[] = {"copayCents", "coinsuranceBp", "deductible", NULL};
    char p[PATH_BYTES];
    const char *name;
    json_t *c;
    cc_err rc;
    if (!json_is_object(cats) || json_object_size(cats) == 0 || json_object_size(cats) > CATEGORIES_MAX)
        return bad(eb, "plan.categories must be an object of 1..%d categories", CATEGORIES_MAX);
    json_object_foreach((json_t *)cats, name, c)
    {
        if (!cc_records_category_valid(name))
            return bad(eb, "plan.categories: \"%.40s\" is not a category name (1..32 of [a-z0-9-])", name);
        sub(p, "plan.categories.%s", name);
        if ((rc = only(c, p, fields, eb)) != CC_OK ||
            (rc = int_field(c, p, "copayCents", true, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK ||
            (rc = int_field(c, p, "coinsuranceBp", true, 0, 10000, eb)) != CC_OK)
            return rc;
        if (json_object_get(c, "deductible") && !json_is_boolean(json_object_get(c, "deductible")))
            return bad(eb, "%s.deductible must be true or false", p);
    }
    return CC_OK;
}

static cc_err plan_covered(const json_t *plan, cc_errbuf *eb)
{
    static const char *const fields[] = {"code", "from", "to", "category", "allowedCents", NULL};
    const json_t *list = json_object_get(plan, "covered"), *e;
    char p[PATH_BYTES], q[PATH_BYTES];
    size_t i, j;
    cc_err rc;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > COVERED_MAX)
        return bad(eb, "plan.covered must be an array of 1..%d fee schedule entries", COVERED_MAX);
    json_array_foreach(list, i, e)
    {
        sub(p, "plan.covered[%zu]", i);
        if ((rc = only(e, p, fields, eb)) != CC_OK ||
            (rc = int_field(e, p, "allowedCents", true, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK ||
            (rc = text_field(e, p, "category", true, 32, eb)) != CC_OK)
            return rc;
        if (!json_object_get(json_object_get(plan, "categories"), str(e, "category")))
            return bad(eb, "%s.category \"%s\" is not in plan.categories", p, str(e, "category"));
        const char *code = str(e, "code"), *from = str(e, "from"), *to = str(e, "to");
        if (json_object_get(e, "code")) {
            if (json_object_get(e, "from") || json_object_get(e, "to"))
                return bad(eb, "%s has \"code\" or \"from\" and \"to\", not both", p);
            if ((rc = code_value(json_object_get(e, "code"), sub(q, "%s.code", p), eb)) != CC_OK) return rc;
            for (j = 0; j < i; j++)
                if (str(json_array_get(list, j), "code") &&
                    strcmp(str(json_array_get(list, j), "code"), code) == 0)
                    return bad(eb, "%s: code %s is already in plan.covered[%zu]", p, code, j);
            continue;
        }
        if (!json_object_get(e, "from") || !json_object_get(e, "to"))
            return bad(eb, "%s needs \"code\", or \"from\" and \"to\"", p);
        if ((rc = code_value(json_object_get(e, "from"), sub(q, "%s.from", p), eb)) != CC_OK ||
            (rc = code_value(json_object_get(e, "to"), sub(q, "%s.to", p), eb)) != CC_OK)
            return rc;
        if (strlen(from) != strlen(to) || strcmp(from, to) > 0)
            return bad(eb, "%s: \"from\" and \"to\" must be codes of one length with from <= to", p);
    }
    return CC_OK;
}

static cc_err plan_edits(const json_t *plan, cc_errbuf *eb)
{
    static const char *const pair_fields[] = {"primary", "secondary", NULL};
    char p[PATH_BYTES];
    const json_t *v, *x;
    const char *k;
    size_t i, j;
    cc_err rc;
    if ((v = json_object_get(plan, "diagnosis"))) {
        if (!json_is_object(v)) return bad(eb, "plan.diagnosis must be an object: code -> ICD-10 patterns");
        json_object_foreach((json_t *)v, k, x)
        {
            if (!cc_claims_code_valid(k)) return bad(eb, "plan.diagnosis: \"%.40s\" is not a code", k);
            if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > PATTERNS_MAX)
                return bad(eb, "plan.diagnosis.%s must be an array of 1..%d patterns", k, PATTERNS_MAX);
            json_array_foreach(x, i, x)
            {
                const char *pat = json_string_value(x);
                char body[CC_CLAIMS_CODE_MAX + 2];
                size_t n = pat ? strlen(pat) : 0;
                snprintf(body, sizeof body, "%.*s", (int)(n > 0 && pat[n - 1] == '*' ? n - 1 : n),
                         pat ? pat : "");
                if (!pat || n == 0 || n > CC_CLAIMS_CODE_MAX || strchr(body, '*') ||
                    (body[0] && !cc_claims_code_valid(body)))
                    return bad(eb,
                               "plan.diagnosis.%s[%zu] must be an ICD-10 code or prefix ending in * (E11.*)",
                               k, i);
            }
        }
    }
    if ((v = json_object_get(plan, "priorAuth")) &&
        (rc = code_list(v, "plan.priorAuth", COVERED_MAX, eb)) != CC_OK)
        return rc;
    if ((v = json_object_get(plan, "unitsPerDay"))) {
        if (!json_is_object(v)) return bad(eb, "plan.unitsPerDay must be an object: code -> units");
        json_object_foreach((json_t *)v, k, x)
        {
            if (!cc_claims_code_valid(k)) return bad(eb, "plan.unitsPerDay: \"%.40s\" is not a code", k);
            if (!json_is_integer(x) || json_integer_value(x) < 1 ||
                json_integer_value(x) > CC_CLAIMS_UNITS_MAX)
                return bad(eb, "plan.unitsPerDay.%s must be an integer from 1 to %d", k, CC_CLAIMS_UNITS_MAX);
        }
    }
    if ((v = json_object_get(plan, "pairs"))) {
        if (!json_is_array(v) || json_array_size(v) > PAIRS_MAX)
            return bad(eb, "plan.pairs must be an array of up to %d pairs", PAIRS_MAX);
        json_array_foreach(v, i, x)
        {
            sub(p, "plan.pairs[%zu]", i);
            if ((rc = only(x, p, pair_fields, eb)) != CC_OK || (rc = need(x, p, "primary", eb)) != CC_OK ||
                (rc = need(x, p, "secondary", eb)) != CC_OK)
                return rc;
            for (j = 0; j < 2; j++) {
                char q[PATH_BYTES];
                if ((rc = code_value(json_object_get(x, pair_fields[j]), sub(q, "%s.%s", p, pair_fields[j]),
                                     eb)) != CC_OK)
                    return rc;
            }
            if (strcmp(str(x, "primary"), str(x, "secondary")) == 0)
                return bad(eb, "%s: a code cannot be bundled into itself", p);
        }
    }
    return CC_OK;
}

static cc_err plan_test_shape(const json_t *t, const char *p, cc_errbuf *eb)
{
    static const char *const fields[] = {"name", "claim", "member", "authorized", "date", "expect", NULL};
    static const char *const member_fields[] = {"deductibleMetCents", "outOfPocketMetCents", NULL};
    static const char *const expect_fields[] = {"outcome", "benefitCents", "patientCents", "lines", NULL};
    static const char *const line_fields[] = {
        "line",       "decision",         "carc",         "eligibleCents", "deductibleCents",
        "copayCents", "coinsuranceCents", "benefitCents", "patientCents",  NULL};
    char q[PATH_BYTES], r[PATH_BYTES];
    const json_t *v, *x;
    size_t i, j;
    cc_err rc;
    if ((rc = only(t, p, fields, eb)) != CC_OK ||
        (rc = text_field(t, p, "name", true, TEST_NAME_MAX, eb)) != CC_OK ||
        (rc = need(t, p, "claim", eb)) != CC_OK || (rc = need(t, p, "expect", eb)) != CC_OK ||
        (rc = cc_claim_validate(json_object_get(t, "claim"), true, sub(q, "%s.claim", p), eb)) != CC_OK)
        return rc;
    if ((v = json_object_get(t, "member")) &&
        ((rc = only(v, sub(q, "%s.member", p), member_fields, eb)) != CC_OK ||
         (rc = int_field(v, q, "deductibleMetCents", false, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK ||
         (rc = int_field(v, q, "outOfPocketMetCents", false, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK))
        return rc;
    if ((v = json_object_get(t, "authorized")) &&
        (rc = code_list(v, sub(q, "%s.authorized", p), CC_CLAIMS_LINES_MAX, eb)) != CC_OK)
        return rc;
    if ((v = json_object_get(t, "date")) && (rc = date_value(v, sub(q, "%s.date", p), eb)) != CC_OK)
        return rc;
    v = json_object_get(t, "expect");
    sub(q, "%s.expect", p);
    if ((rc = only(v, q, expect_fields, eb)) != CC_OK ||
        (rc = int_field(v, q, "benefitCents", false, 0, INT64_MAX / 4, eb)) != CC_OK ||
        (rc = int_field(v, q, "patientCents", false, 0, INT64_MAX / 4, eb)) != CC_OK)
        return rc;
    const char *outcome = str(v, "outcome");
    if (json_object_get(v, "outcome") &&
        (!outcome || (strcmp(outcome, "complete") && strcmp(outcome, "queued"))))
        return bad(eb, "%s.outcome must be \"complete\" or \"queued\"", q);
    if (!(v = json_object_get(v, "lines"))) return CC_OK;
    if (!json_is_array(v) || json_array_size(v) > CC_CLAIMS_LINES_MAX)
        return bad(eb, "%s.lines must be an array of up to %d lines", q, CC_CLAIMS_LINES_MAX);
    json_array_foreach(v, i, x)
    {
        sub(r, "%s.lines[%zu]", q, i);
        if ((rc = only(x, r, line_fields, eb)) != CC_OK ||
            (rc = int_field(x, r, "line", true, 1, 10000, eb)) != CC_OK)
            return rc;
        for (j = 3; line_fields[j]; j++)
            if ((rc = int_field(x, r, line_fields[j], false, 0, INT64_MAX / 4, eb)) != CC_OK) return rc;
        const char *d = str(x, "decision");
        if (json_object_get(x, "decision") &&
            (!d || (strcmp(d, "approve") && strcmp(d, "deny") && strcmp(d, "pend"))))
            return bad(eb, "%s.decision must be \"approve\", \"deny\" or \"pend\"", r);
        const json_t *carc = json_object_get(x, "carc"), *c;
        size_t k;
        if (carc && (!json_is_array(carc) || json_array_size(carc) > 8))
            return bad(eb, "%s.carc must be an array of reason codes (strings)", r);
        json_array_foreach(carc, k, c)
        {
            if (!text_ok(c, CARC_MAX)) return bad(eb, "%s.carc[%zu] must be a reason code", r, k);
        }
    }
    return CC_OK;
}

cc_err cc_plan_validate(const json_t *plan, cc_errbuf *eb)
{
    static const char *const fields[] = {"id",
                                         "version",
                                         "name",
                                         "currency",
                                         "effective",
                                         "planYearStart",
                                         "deductibleCents",
                                         "outOfPocketMaxCents",
                                         "timelyFilingDays",
                                         "priorAuthValidDays",
                                         "categories",
                                         "covered",
                                         "diagnosis",
                                         "priorAuth",
                                         "unitsPerDay",
                                         "pairs",
                                         "rules",
                                         "tests",
                                         NULL};
    static const char *const eff_fields[] = {"start", "end", NULL};
    char p[PATH_BYTES];
    const json_t *v, *t;
    size_t i, j;
    int64_t start, end;
    cc_err rc;
    if ((rc = only(plan, "plan", fields, eb)) != CC_OK) return rc;
    if (!plan_id_valid(str(plan, "id")))
        return bad(eb, "plan.id must be 1..%d of [a-z0-9.-], starting with a letter or digit",
                   CC_CLAIMS_ID_MAX);
    if ((rc = int_field(plan, "plan", "version", true, 1, INT32_MAX, eb)) != CC_OK ||
        (rc = text_field(plan, "plan", "name", false, NAME_MAX_BYTES, eb)) != CC_OK ||
        (rc = int_field(plan, "plan", "deductibleCents", true, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK ||
        (rc = int_field(plan, "plan", "outOfPocketMaxCents", true, 0, CC_CLAIMS_MONEY_MAX, eb)) != CC_OK ||
        (rc = int_field(plan, "plan", "timelyFilingDays", true, 1, FILING_DAYS_MAX, eb)) != CC_OK ||
        (rc = int_field(plan, "plan", "priorAuthValidDays", false, 1, PA_DAYS_MAX, eb)) != CC_OK)
        return rc;
    if (json_integer_value(json_object_get(plan, "outOfPocketMaxCents")) <
        json_integer_value(json_object_get(plan, "deductibleCents")))
        return bad(eb, "plan.outOfPocketMaxCents must be at least plan.deductibleCents (the deductible "
                       "counts toward it)");
    const char *cur = str(plan, "currency");
    if (json_object_get(plan, "currency") && (!cur || strlen(cur) != 3 ||
                                              !(cur[0] >= 'A' && cur[0] <= 'Z' && cur[1] >= 'A' &&
                                                cur[1] <= 'Z' && cur[2] >= 'A' && cur[2] <= 'Z')))
        return bad(eb, "plan.currency must be an ISO 4217 code (USD)");
    v = json_object_get(plan, "effective");
    if ((rc = need(plan, "plan", "effective", eb)) != CC_OK ||
        (rc = only(v, "plan.effective", eff_fields, eb)) != CC_OK ||
        (rc = need(v, "plan.effective", "start", eb)) != CC_OK ||
        (rc = date_value(json_object_get(v, "start"), "plan.effective.start", eb)) != CC_OK ||
        (json_object_get(v, "end") &&
         (rc = date_value(json_object_get(v, "end"), "plan.effective.end", eb)) != CC_OK))
        return rc;
    if (cc_claims_date_parse(str(v, "start"), &start) && cc_claims_date_parse(str(v, "end"), &end) &&
        end < start)
        return bad(eb, "plan.effective.end is before plan.effective.start");
    if (json_object_get(plan, "planYearStart") && !month_day_valid(str(plan, "planYearStart")))
        return bad(eb, "plan.planYearStart must be MM-DD (a day every year has: not 02-29)");
    if ((rc = plan_categories(json_object_get(plan, "categories"), eb)) != CC_OK ||
        (rc = plan_covered(plan, eb)) != CC_OK || (rc = plan_edits(plan, eb)) != CC_OK ||
        (rc = rules_field(plan, eb)) != CC_OK)
        return rc;
    if (str(plan, "rules")) {
        cc_rules *r = NULL;
        cc_errbuf why = {""};
        if ((rc = cc_claims_rules_get(str(plan, "rules"), &r, &why)) == CC_ERR_NOMEM) return rc;
        if (rc != CC_OK) return bad(eb, "plan.rules: %s", why.msg);
    }
    v = json_object_get(plan, "tests");
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > CC_CLAIMS_TESTS_MAX)
        return bad(eb, "plan.tests must be an array of 1..%d test cases: a plan is deployed with its tests",
                   CC_CLAIMS_TESTS_MAX);
    json_array_foreach(v, i, t)
    {
        if ((rc = plan_test_shape(t, sub(p, "plan.tests[%zu]", i), eb)) != CC_OK) return rc;
        for (j = 0; j < i; j++)
            if (strcmp(str(json_array_get(v, j), "name"), str(t, "name")) == 0)
                return bad(eb, "plan.tests[%zu].name repeats plan.tests[%zu]'s: names must be unique", i, j);
    }
    return CC_OK;
}

/* ---- test cases ---------------------------------------------------------------------- */

static cc_err memory_get(void *ctx, const char *key, json_t **out)
{
    json_t *v = json_object_get(ctx, key);
    if (!v) return CC_ERR_NOT_FOUND;
    return (*out = json_deep_copy(v)) ? CC_OK : CC_ERR_NOMEM;
}

/* The state a test case runs against: the member's accumulators for the
 * plan year of the claim's first service date, and one approved
 * authorization per "authorized" code, planned for the first service date. */
static json_t *test_state(const json_t *plan, const json_t *t, int64_t first_day)
{
    char key[CC_CLAIMS_KEY_MAX], date[11];
    const json_t *member = json_object_get(t, "member"), *codes = json_object_get(t, "authorized"), *c;
    json_t *st = json_object(), *lines = json_array();
    size_t i;
    if (!st || !lines) goto fail;
    cc_claims_acc_key(key, TEST_PATIENT, str(plan, "id"), cc_claims_plan_year(plan, first_day));
    if (member &&
        json_object_set_new(st, key,
                            json_pack("{s:I, s:I}", "deductibleMetCents",
                                      json_integer_value(json_object_get(member, "deductibleMetCents")),
                                      "outOfPocketMetCents",
                                      json_integer_value(json_object_get(member, "outOfPocketMetCents")))))
        goto fail;
    json_array_foreach(codes, i, c)
    {
        if (json_array_append_new(lines,
                                  json_pack("{s:I, s:O, s:s, s:I, s:s}", "line", (json_int_t)i + 1, "code", c,
                                            "date", cc_claims_date_format(first_day, date), "units",
                                            (json_int_t)CC_CLAIMS_UNITS_MAX, "decision", "approve")))
            goto fail;
    }
    if (json_array_size(codes) > 0 &&
        (json_object_set_new(st, "ppreauth/" TEST_PATIENT, json_pack("[s]", TEST_AUTH)) ||
         json_object_set_new(st, "claim/" TEST_AUTH,
                             json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "id", TEST_AUTH, "use",
                                       "preauthorization", "patient", TEST_PATIENT, "provider", TEST_PROVIDER,
                                       "status", "adjudicated", "lines", lines))))
        goto fail;
    json_decref(lines);
    return st;
fail:
    json_decref(st);
    json_decref(lines);
    return NULL;
}

/* The reason codes of an output line, in the order of its adjudications. */
static void line_carcs(const json_t *l, char *out, size_t cap)
{
    const char *carc = str(l, "carc"), *d = str(l, "decision");
    out[0] = '\0';
    if (d && strcmp(d, "approve") != 0) {
        snprintf(out, cap, "[%s]", carc ? carc : "");
        return;
    }
    struct {
        const char *field, *code;
    } rows[] = {{NULL, "45"}, {"deductibleCents", "1"}, {"copayCents", "3"}, {"coinsuranceCents", "2"}};
    size_t n = 0;
    n += (size_t)snprintf(out + n, cap - n, "[");
    for (size_t i = 0; i < 4 && n < cap; i++) {
        json_int_t v = rows[i].field ? json_integer_value(json_object_get(l, rows[i].field))
                                     : json_integer_value(json_object_get(l, "billedCents")) -
                                           json_integer_value(json_object_get(l, "allowedCents"));
        if (v > 0) n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 1 ? "," : "", rows[i].code);
    }
    if (n < cap) snprintf(out + n, cap - n, "]");
}

static void expected_carcs(const json_t *list, char *out, size_t cap)
{
    size_t i, n = 0;
    json_t *c;
    n += (size_t)snprintf(out, cap, "[");
    json_array_foreach(list, i, c)
    {
        if (n < cap) n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", json_string_value(c));
    }
    if (n < cap) snprintf(out + n, cap - n, "]");
}

/* Compare an adjudication with a test case's expectations: the first
 * difference into msg, or "" when all match. */
static void test_compare(const json_t *expect, const cc_claims_output *o, char *msg, size_t cap)
{
    static const struct {
        const char *expect, *line;
    } amounts[] = {{"eligibleCents", "allowedCents"}, {"deductibleCents", "deductibleCents"},
                   {"copayCents", "copayCents"},      {"coinsuranceCents", "coinsuranceCents"},
                   {"benefitCents", "benefitCents"},  {"patientCents", "patientCents"}};
    const char *outcome = str(expect, "outcome"), *got = str(o->response, "outcome");
    const json_t *e, *l = NULL;
    size_t i, j;
    msg[0] = '\0';
    if (outcome && strcmp(outcome, got) != 0) {
        snprintf(msg, cap, "outcome is %s, expected %s", got, outcome);
        return;
    }
    if (json_object_get(expect, "benefitCents") &&
        json_integer_value(json_object_get(expect, "benefitCents")) != o->benefit_cents) {
        snprintf(msg, cap, "benefitCents is %" PRId64 ", expected %lld", o->benefit_cents,
                 (long long)json_integer_value(json_object_get(expect, "benefitCents")));
        return;
    }
    if (json_object_get(expect, "patientCents") &&
        json_integer_value(json_object_get(expect, "patientCents")) != o->patient_cents) {
        snprintf(msg, cap, "patientCents is %" PRId64 ", expected %lld", o->patient_cents,
                 (long long)json_integer_value(json_object_get(expect, "patientCents")));
        return;
    }
    json_array_foreach(json_object_get(expect, "lines"), i, e)
    {
        json_int_t n = json_integer_value(json_object_get(e, "line"));
        l = NULL;
        json_array_foreach(o->lines, j, l)
        {
            if (json_integer_value(json_object_get(l, "line")) == n) break;
        }
        if (j == json_array_size(o->lines)) {
            snprintf(msg, cap, "the claim has no line %lld", (long long)n);
            return;
        }
        const char *d = str(e, "decision");
        if (d && strcmp(d, str(l, "decision")) != 0) {
            snprintf(msg, cap, "line %lld is %s (%s), expected %s", (long long)n, str(l, "decision"),
                     str(l, "reason") ? str(l, "reason") : "", d);
            return;
        }
        if (json_object_get(e, "carc")) {
            char want[64], have[64];
            expected_carcs(json_object_get(e, "carc"), want, sizeof want);
            line_carcs(l, have, sizeof have);
            if (strcmp(want, have) != 0) {
                snprintf(msg, cap, "line %lld reason codes are %s, expected %s", (long long)n, have, want);
                return;
            }
        }
        for (size_t k = 0; k < sizeof amounts / sizeof amounts[0]; k++) {
            const json_t *want = json_object_get(e, amounts[k].expect);
            json_int_t have = json_integer_value(json_object_get(l, amounts[k].line));
            if (want && json_integer_value(want) != have) {
                snprintf(msg, cap, "line %lld %s is %lld, expected %lld", (long long)n, amounts[k].expect,
                         (long long)have, (long long)json_integer_value(want));
                return;
            }
        }
    }
}

cc_err cc_plan_test(const json_t *plan, json_t **report, cc_errbuf *eb)
{
    const json_t *tests = json_object_get(plan, "tests"), *t;
    json_t *rep = json_array();
    cc_err result = CC_OK;
    size_t i;
    if (!rep) return CC_ERR_NOMEM;
    json_array_foreach(tests, i, t)
    {
        const json_t *claim = json_object_get(t, "claim"), *item;
        char msg[sizeof eb->msg] = "", id[32];
        int64_t first = INT64_MAX, last = INT64_MIN, day, today;
        size_t k;
        cc_errbuf why = {""};
        json_array_foreach(json_object_get(claim, "item"), k, item)
        {
            if (cc_claims_item_date(item, &day)) {
                first = day < first ? day : first;
                last = day > last ? day : last;
            }
        }
        if (!cc_claims_date_parse(str(t, "date"), &today)) today = last;
        json_t *st = first != INT64_MAX ? test_state(plan, t, first) : NULL;
        if (!st) {
            json_decref(rep);
            return CC_ERR_NOMEM;
        }
        snprintf(id, sizeof id, "test-%zu", i + 1);
        cc_claims_input in = {.plan = plan,
                              .claim = claim,
                              .claim_id = id,
                              .patient = TEST_PATIENT,
                              .provider = TEST_PROVIDER,
                              .insurer = "test-payer",
                              .now_ms = (uint64_t)(today * MS_PER_DAY + MS_PER_DAY / 2),
                              .get = memory_get,
                              .get_ctx = st};
        cc_claims_output out;
        cc_err rc = cc_claims_adjudicate(&in, &out, &why);
        if (rc == CC_ERR_NOMEM) {
            json_decref(st);
            json_decref(rep);
            return rc;
        }
        if (rc != CC_OK)
            snprintf(msg, sizeof msg, "%s", why.msg);
        else
            test_compare(json_object_get(t, "expect"), &out, msg, sizeof msg);
        cc_claims_output_free(&out);
        json_decref(st);
        json_array_append_new(rep, json_pack("{s:s, s:b, s:s}", "name", str(t, "name"), "passed",
                                             msg[0] == '\0', "message", msg));
        if (msg[0] && result == CC_OK)
            result = cc_errf(eb, CC_ERR_INVALID, "plan test \"%.60s\": %s", str(t, "name"), msg);
    }
    if (report)
        *report = rep;
    else
        json_decref(rep);
    return result;
}
