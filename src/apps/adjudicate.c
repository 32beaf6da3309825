/*
 * adjudicate.c — the adjudication engine: a FHIR R4 Claim, the plan
 * document, the member's enrolment and what the ledger already holds
 * (accumulators, adjudicated lines, daily units, authorizations) -> a FHIR
 * R4 ClaimResponse, the line decisions, and the state writes they imply.
 * The order of the steps and the arithmetic: docs/PLANS.md "Adjudication".
 *
 * Invariants:
 *   1. Pure and deterministic: state is read through the caller's
 *      cc_state_reader, the time is the caller's, lines are visited in item
 *      order, plan lists in document order; nothing depends on a hash
 *      table's order or on the process.
 *   2. Integers only: cents, basis points, days since 1970-01-01. Money
 *      arrives as decimal strings (cc_claims_cents) and leaves as decimal
 *      strings (cc_claims_cents_format).
 *   3. Nothing is written here. The writes are returned as effects; the
 *      caller makes them only for an adjudicated claim (not a pended one,
 *      not a preauthorization).
 *   4. Denied lines count toward nothing: no accumulator, no daily units,
 *      no duplicate key, no authorization consumed.
 *
 * A line's decision:
 *
 *   approve --(a check fails: steps 1-8)------------------> deny (final)
 *   approve --(custom rule, rule failure, preauth code)---> pend
 *   pend    --(review: approve | deny)--------------------> approve | deny
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/claims.h"
#include "core/date.h"
#include "exec/rules.h"

#define SYS_ADJUDICATION "http://terminology.hl7.org/CodeSystem/adjudication"
#define SYS_C4BB         "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
#define EXT_DECISION     "urn:carechain:line-decision"
#define MS_PER_DAY       86400000LL
#define DAY_NONE         INT64_MAX /* an open end */
#define CARC_BYTES       8
#define DIGITS_MAX       32 /* significant digits of a decimal literal */
#define RULES_CACHE      4  /* compiled rules kept per thread */

/* ---- dates ------------------------------------------------------------------- */

bool cc_claims_date_parse(const char *s, int64_t *days)
{
    int64_t day;
    if (!cc_date_parse(s, &day) || day < cc_days_from_civil(1900, 1, 1)) return false;
    *days = day;
    return true;
}

char *cc_claims_date_format(int64_t days, char *out)
{
    int64_t y;
    unsigned m, d;
    cc_civil_from_days(days, &y, &m, &d);
    snprintf(out, 11, "%04" PRId64 "-%02u-%02u", y, m, d);
    return out;
}

/* ms since the epoch -> "2026-03-02T10:04:05Z" (FHIR dateTime). */
static char *date_time(uint64_t ms, char out[32])
{
    char date[11];
    uint64_t s = (ms % MS_PER_DAY) / 1000;
    snprintf(out, 32, "%sT%02u:%02u:%02uZ", cc_claims_date_format((int64_t)(ms / MS_PER_DAY), date),
             (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    return out;
}

int64_t cc_claims_plan_year(const json_t *plan, int64_t day)
{
    const char *ys = json_string_value(json_object_get(plan, "planYearStart"));
    unsigned m = 1, d = 1, dd;
    int64_t y;
    if (ys && strlen(ys) == 5 && ys[2] == '-') { /* "MM-DD"; anything else means January 1 */
        int64_t ym = cc_digits_value(ys, 2), yd = cc_digits_value(ys + 3, 2);
        if (ym >= 1 && ym <= 12 && yd >= 1 && yd <= 28 + (ym != 2) * 3) {
            m = (unsigned)ym;
            d = (unsigned)yd;
        }
    }
    cc_civil_from_days(day, &y, &dd, &dd);
    if (d > cc_month_days(y, m)) d = cc_month_days(y, m);
    return day >= cc_days_from_civil(y, m, d) ? y : y - 1;
}

void cc_claims_acc_key(char *out, const char *patient, const char *plan, int64_t year)
{
    snprintf(out, CC_CLAIMS_KEY_MAX, "acc/%.64s/%.64s/%" PRId64, patient, plan, year);
}

void cc_claims_patient_claim_key(char *out, const char *patient, uint64_t seq)
{
    snprintf(out, CC_CLAIMS_KEY_MAX, "pclaim/%.64s/%010" PRIu64, patient, seq);
}

/* ---- money -------------------------------------------------------------------- */

cc_err cc_claims_cents(const json_t *v, int64_t *cents)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x > CC_CLAIMS_MONEY_MAX / 100 || x < -CC_CLAIMS_MONEY_MAX / 100) return CC_ERR_INVALID;
        *cents = (int64_t)x * 100;
        return CC_OK;
    }
    const char *s = json_string_value(v);
    char dig[DIGITS_MAX];
    size_t i = 0, nd = 0, nfrac = 0, nint = 0;
    bool neg = false;
    long exp = 0;
    if (!s) return CC_ERR_INVALID;
    if (s[i] == '-') neg = (i++, true);
    for (; s[i] >= '0' && s[i] <= '9'; i++, nint++) {
        if (nd == DIGITS_MAX) return CC_ERR_INVALID;
        dig[nd++] = s[i];
    }
    if (nint == 0) return CC_ERR_INVALID;
    if (s[i] == '.') {
        for (i++; s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
            if (nd == DIGITS_MAX) return CC_ERR_INVALID;
            dig[nd++] = s[i];
        }
        if (nfrac == 0) return CC_ERR_INVALID;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        bool eneg = false;
        size_t ne = 0;
        i++;
        if (s[i] == '+' || s[i] == '-') eneg = s[i++] == '-';
        for (; s[i] >= '0' && s[i] <= '9'; i++, ne++) {
            exp = exp * 10 + (s[i] - '0');
            if (exp > 64) return CC_ERR_INVALID;
        }
        if (ne == 0) return CC_ERR_INVALID;
        if (eneg) exp = -exp;
    }
    if (s[i]) return CC_ERR_INVALID;
    /* cents = digits x 10^shift; a negative shift drops digits that must be 0 */
    long shift = exp - (long)nfrac + 2;
    for (; shift < 0 && nd > 0; shift++, nd--)
        if (dig[nd - 1] != '0') return CC_ERR_INVALID;
    int64_t x = 0;
    for (size_t k = 0; k < nd; k++)
        if ((x = x * 10 + (dig[k] - '0')) > CC_CLAIMS_MONEY_MAX) return CC_ERR_INVALID;
    for (; shift > 0 && x != 0; shift--)
        if ((x *= 10) > CC_CLAIMS_MONEY_MAX) return CC_ERR_INVALID;
    *cents = neg ? -x : x;
    return CC_OK;
}

char *cc_claims_cents_format(int64_t cents, char *out)
{
    uint64_t a = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    snprintf(out, 32, "%s%" PRIu64 ".%02u", cents < 0 ? "-" : "", a / 100, (unsigned)(a % 100));
    return out;
}

/* ---- small JSON readers --------------------------------------------------------- */

static const char *str(const json_t *o, const char *field)
{
    return json_string_value(json_object_get(o, field));
}

static int64_t integer(const json_t *o, const char *field, int64_t dflt)
{
    const json_t *v = json_object_get(o, field);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

const char *cc_claims_concept_code(const json_t *concept)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(concept, "coding"), i, c)
    {
        const char *code = str(c, "code");
        if (code) return code;
    }
    return NULL;
}

bool cc_claims_item_date(const json_t *item, int64_t *day)
{
    const char *d = str(item, "servicedDate");
    char date[11];
    if (!d) {
        d = str(json_object_get(item, "servicedPeriod"), "start");
        if (!d || strlen(d) < 10) return false;
        memcpy(date, d, 10);
        date[10] = '\0';
        d = date;
    }
    return cc_claims_date_parse(d, day);
}

/* ---- the plan as adjudication reads it ------------------------------------------ */

typedef struct pcov {
    const char *code, *from, *to, *category;
    size_t len;
    int64_t allowed, copay, bp;
    bool deductible;
} pcov;

typedef struct plan_view {
    const json_t *doc;
    const char *id, *currency, *rules;
    int64_t version, eff_start, eff_end, deductible, oop, filing_days, pa_days;
    pcov *cov;
    size_t ncov;
    const json_t *diagnosis, *prior_auth, *units, *pairs;
} plan_view;

static cc_err plan_view_load(const json_t *doc, plan_view *p)
{
    const json_t *eff = json_object_get(doc, "effective"), *cats = json_object_get(doc, "categories");
    const json_t *covered = json_object_get(doc, "covered"), *e;
    size_t i;
    memset(p, 0, sizeof *p);
    p->doc = doc;
    p->id = str(doc, "id");
    p->currency = str(doc, "currency") ? str(doc, "currency") : "USD";
    p->rules = str(doc, "rules");
    p->version = integer(doc, "version", 0);
    p->deductible = integer(doc, "deductibleCents", 0);
    p->oop = integer(doc, "outOfPocketMaxCents", 0);
    p->filing_days = integer(doc, "timelyFilingDays", 0);
    p->pa_days = integer(doc, "priorAuthValidDays", 90);
    p->diagnosis = json_object_get(doc, "diagnosis");
    p->prior_auth = json_object_get(doc, "priorAuth");
    p->units = json_object_get(doc, "unitsPerDay");
    p->pairs = json_object_get(doc, "pairs");
    if (!p->id || !cc_claims_date_parse(str(eff, "start"), &p->eff_start)) return CC_ERR_INVALID;
    if (!str(eff, "end") || !cc_claims_date_parse(str(eff, "end"), &p->eff_end)) p->eff_end = DAY_NONE;
    p->cov = calloc(json_array_size(covered) + 1, sizeof *p->cov);
    if (!p->cov) return CC_ERR_NOMEM;
    json_array_foreach(covered, i, e)
    {
        pcov *c = &p->cov[p->ncov++];
        const json_t *cat = json_object_get(cats, str(e, "category") ? str(e, "category") : "");
        c->code = str(e, "code");
        c->from = str(e, "from");
        c->to = str(e, "to");
        c->len = c->from ? strlen(c->from) : 0;
        c->category = str(e, "category");
        c->allowed = integer(e, "allowedCents", 0);
        c->copay = integer(cat, "copayCents", 0);
        c->bp = integer(cat, "coinsuranceBp", 0);
        c->deductible = !json_is_false(json_object_get(cat, "deductible"));
        if (!c->category || !cat || (!c->code && (!c->from || !c->to))) return CC_ERR_INVALID;
    }
    return CC_OK;
}

/* The fee schedule entry of a code: the first that matches. */
static const pcov *plan_covered(const plan_view *p, const char *code)
{
    size_t n = strlen(code);
    for (size_t i = 0; i < p->ncov; i++) {
        const pcov *c = &p->cov[i];
        if (c->code ? strcmp(c->code, code) == 0
                    : n == c->len && strcmp(c->from, code) <= 0 && strcmp(code, c->to) <= 0)
            return c;
    }
    return NULL;
}

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *x = json_string_value(v);
        if (x && strcmp(x, s) == 0) return true;
    }
    return false;
}

/* ICD-10 matching: dots ignored, letters upper-cased; a pattern ending in
 * '*' is a prefix. */
static void icd_norm(const char *in, char out[CC_CLAIMS_CODE_MAX + 2])
{
    size_t n = 0;
    for (; *in && n < CC_CLAIMS_CODE_MAX + 1; in++)
        if (*in != '.') out[n++] = (*in >= 'a' && *in <= 'z') ? (char)(*in - 32) : *in;
    out[n] = '\0';
}

static bool icd_match(const char *pattern, const char *code)
{
    char p[CC_CLAIMS_CODE_MAX + 2], c[CC_CLAIMS_CODE_MAX + 2];
    icd_norm(pattern, p);
    icd_norm(code, c);
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '*') return strncmp(c, p, n - 1) == 0;
    return strcmp(c, p) == 0;
}

/* ---- one adjudication ------------------------------------------------------------ */

typedef enum verdict { APPROVE = 0, DENY, PEND } verdict;
static const char *const decision_names[] = {"approve", "deny", "pend"};

typedef struct line {
    const json_t *item;
    json_int_t seq;
    const char *code;
    int64_t day, units, billed, year;
    char date[11];
    const pcov *cov;
    verdict d;
    char carc[CARC_BYTES];
    char reason[CC_CLAIMS_REASON_MAX + 1];
    char dup_key[8 + CC_HASH_HEX];
    char auth[CC_HASH_HEX]; /* the authorization it consumes: a preauthorization id ... */
    json_int_t auth_line;   /* ... and its line */
    int64_t allowed, ded, copay, coins, patient, benefit;
} line;

typedef struct acc {
    int64_t year, ded, oop;
    bool dirty;
} acc;

typedef struct adj {
    const cc_claims_input *in;
    cc_errbuf *eb;
    plan_view p;
    bool preauth, pended, priced;
    int64_t cov_start, cov_end, filed_day;
    line *lines;
    size_t n;
    acc accs[CC_CLAIMS_LINES_MAX];
    size_t nacc;
    json_t *effects;  /* key -> value written */
    json_t *tally;    /* "units/..." and "dup/..." keys of this claim's earlier lines */
    json_t *reserved; /* "<preauth>#<line>" taken by an earlier line of this claim */
    const json_t *preauth_refs;
} adj;

/* Read state, seeing this adjudication's own effects first. */
static cc_err get(adj *a, const char *key, json_t **out)
{
    json_t *v = json_object_get(a->effects, key);
    if (v) return (*out = json_deep_copy(v)) ? CC_OK : CC_ERR_NOMEM;
    return a->in->get(a->in->get_ctx, key, out);
}

/* Cut s before a UTF-8 sequence that a truncation left incomplete. */
static void utf8_trim(char *s)
{
    size_t n = strlen(s), i = n, need;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) i--; /* continuation bytes */
    if (i == 0) return;
    unsigned char lead = (unsigned char)s[i - 1];
    need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (n - (i - 1) < need) s[i - 1] = '\0';
}

static void deny(line *l, const char *carc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void deny(line *l, const char *carc, const char *fmt, ...)
{
    va_list ap;
    l->d = DENY;
    snprintf(l->carc, sizeof l->carc, "%s", carc);
    va_start(ap, fmt);
    vsnprintf(l->reason, sizeof l->reason, fmt, ap);
    va_end(ap);
    utf8_trim(l->reason);
}

static void pend(line *l, const char *reason)
{
    l->d = PEND;
    snprintf(l->carc, sizeof l->carc, "133");
    snprintf(l->reason, sizeof l->reason, "%s", reason);
    utf8_trim(l->reason);
}

/* Parse the claim's items into lines (the claim passed cc_claim_validate). */
static cc_err lines_load(adj *a)
{
    const json_t *items = json_object_get(a->in->claim, "item"), *item;
    size_t i;
    a->n = json_array_size(items);
    if (a->n == 0 || a->n > CC_CLAIMS_LINES_MAX)
        return cc_errf(a->eb, CC_ERR_INVALID, "a claim has 1..%d items", CC_CLAIMS_LINES_MAX);
    if (!(a->lines = calloc(a->n, sizeof *a->lines))) return CC_ERR_NOMEM;
    json_array_foreach(items, i, item)
    {
        line *l = &a->lines[i];
        const json_t *qty = json_object_get(json_object_get(item, "quantity"), "value");
        const json_t *net = json_object_get(json_object_get(item, "net"), "value");
        const json_t *unit = json_object_get(json_object_get(item, "unitPrice"), "value");
        int64_t q = 100, price = 0;
        l->item = item;
        l->seq = json_integer_value(json_object_get(item, "sequence"));
        l->code = cc_claims_concept_code(json_object_get(item, "productOrService"));
        if (!l->code || !cc_claims_item_date(item, &l->day))
            return cc_errf(a->eb, CC_ERR_INVALID, "item %zu needs a code and a service date", i);
        cc_claims_date_format(l->day, l->date);
        if ((qty && (cc_claims_cents(qty, &q) != CC_OK || q <= 0 || q % 100 != 0)) ||
            q / 100 > CC_CLAIMS_UNITS_MAX)
            return cc_errf(a->eb, CC_ERR_INVALID, "item %zu: quantity must be whole units", i);
        l->units = q / 100;
        if (net) {
            if (cc_claims_cents(net, &l->billed) != CC_OK || l->billed < 0)
                return cc_errf(a->eb, CC_ERR_INVALID, "item %zu: net is not an amount", i);
        } else if (unit && cc_claims_cents(unit, &price) == CC_OK && price >= 0) {
            l->billed = price * l->units;
        } else {
            return cc_errf(a->eb, CC_ERR_INVALID, "item %zu needs net or unitPrice", i);
        }
        if (l->billed > CC_CLAIMS_MONEY_MAX)
            return cc_errf(a->eb, CC_ERR_INVALID, "item %zu: the amount is over the limit", i);
        l->year = cc_claims_plan_year(a->p.doc, l->day);
    }
    return CC_OK;
}

/* Every Money of the claim must be in the plan's currency. */
static cc_err currency_check(adj *a)
{
    static const char *const fields[] = {"net", "unitPrice"};
    const json_t *total = json_object_get(a->in->claim, "total");
    const char *cur = str(total, "currency");
    if (cur && strcmp(cur, a->p.currency) != 0) goto bad;
    for (size_t i = 0; i < a->n; i++)
        for (size_t f = 0; f < 2; f++)
            if ((cur = str(json_object_get(a->lines[i].item, fields[f]), "currency")) &&
                strcmp(cur, a->p.currency) != 0)
                goto bad;
    return CC_OK;
bad:
    return cc_errf(a->eb, CC_ERR_INVALID, "the claim's money is in %.8s; plan %s is in %s", cur, a->p.id,
                   a->p.currency);
}

/* The diagnoses a line points at (diagnosisSequence), or all of the claim's. */
static bool diagnosis_supports(adj *a, const line *l, const json_t *patterns)
{
    const json_t *diags = json_object_get(a->in->claim, "diagnosis"),
                 *seqs = json_object_get(l->item, "diagnosisSequence");
    const json_t *d, *pat;
    size_t i, j;
    json_array_foreach(diags, i, d)
    {
        const char *code = cc_claims_concept_code(json_object_get(d, "diagnosisCodeableConcept"));
        bool pointed = json_array_size(seqs) == 0;
        size_t k;
        json_t *s;
        json_array_foreach(seqs, k, s)
        {
            pointed |= json_integer_value(s) == json_integer_value(json_object_get(d, "sequence"));
        }
        if (!code || !pointed) continue;
        json_array_foreach(patterns, j, pat)
        {
            if (icd_match(json_string_value(pat), code)) return true;
        }
    }
    return false;
}

/* An approved, unconsumed authorization for line l (claims only). */
static cc_err authorization_find(adj *a, line *l)
{
    char key[16 + CC_CLAIMS_KEY_MAX];
    json_t *list = NULL, *id;
    size_t i;
    cc_err rc = CC_OK;
    if (json_array_size(a->preauth_refs) > 0) {
        list = json_incref((json_t *)a->preauth_refs);
    } else {
        snprintf(key, sizeof key, "ppreauth/%.64s", a->in->patient);
        rc = get(a, key, &list);
        if (rc == CC_ERR_NOT_FOUND) return CC_OK;
        if (rc != CC_OK) return cc_errf(a->eb, rc, "cannot read %s", key);
    }
    json_array_foreach(list, i, id)
    {
        json_t *rec = NULL, *pl;
        size_t j;
        if (!json_string_value(id)) continue;
        snprintf(key, sizeof key, "claim/%.64s", json_string_value(id));
        rc = get(a, key, &rec);
        if (rc == CC_ERR_NOT_FOUND) {
            rc = CC_OK;
            continue;
        }
        if (rc != CC_OK) break;
        const char *use = str(rec, "use"), *patient = str(rec, "patient"), *provider = str(rec, "provider");
        bool fits = use && strcmp(use, "preauthorization") == 0 && patient &&
                    strcmp(patient, a->in->patient) == 0 && provider &&
                    strcmp(provider, a->in->provider) == 0;
        json_array_foreach(json_object_get(rec, "lines"), j, pl)
        {
            int64_t from;
            const char *code = str(pl, "code"), *dec = str(pl, "decision");
            char taken[CC_HASH_HEX + 24];
            snprintf(taken, sizeof taken, "%.64s#%lld", json_string_value(id),
                     (long long)integer(pl, "line", 0));
            if (!fits || !code || strcmp(code, l->code) != 0 || !dec || strcmp(dec, "approve") != 0 ||
                json_object_get(pl, "consumedBy") || json_object_get(a->reserved, taken) ||
                integer(pl, "units", 0) < l->units || !cc_claims_date_parse(str(pl, "date"), &from) ||
                l->day < from || l->day > from + a->p.pa_days)
                continue;
            snprintf(l->auth, sizeof l->auth, "%.64s", json_string_value(id));
            l->auth_line = integer(pl, "line", 0);
            rc = json_object_set_new(a->reserved, taken, json_true()) == 0 ? CC_OK : CC_ERR_NOMEM;
            break;
        }
        json_decref(rec);
        if (rc != CC_OK || l->auth[0]) break;
    }
    json_decref(list);
    return rc;
}

/* The duplicate key of a line: "dup/<sha-256 of provider|patient|code|
 * date|billedCents>". One small value per approved line: a claim reads and
 * writes only its own lines' keys, however many services the member had
 * that day. */
static void dup_key(adj *a, line *l)
{
    char buf[512], hex[CC_HASH_HEX];
    uint8_t h[CC_HASH_BYTES];
    int n = snprintf(buf, sizeof buf, "%s|%s|%s|%s|%" PRId64, a->in->provider, a->in->patient, l->code,
                     l->date, l->billed);
    cc_sha256((const uint8_t *)buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, h);
    snprintf(l->dup_key, sizeof l->dup_key, "dup/%s", cc_hex(h, CC_HASH_BYTES, hex));
}

/* Steps 1.1 .. 1.6 of one line. */
static cc_err check_line(adj *a, line *l)
{
    char d1[11], d2[11];
    json_t *seen = NULL;
    cc_err rc;
    int64_t start = a->cov_start > a->p.eff_start ? a->cov_start : a->p.eff_start;
    int64_t end = a->cov_end < a->p.eff_end ? a->cov_end : a->p.eff_end;
    if (l->day < start)
        return deny(l, "26", "service date %s is before coverage starts (%s)", l->date,
                    cc_claims_date_format(start, d1)),
               CC_OK;
    if (l->day > end)
        return deny(l, "27", "service date %s is after coverage ended (%s)", l->date,
                    cc_claims_date_format(end, d1)),
               CC_OK;
    if (!a->preauth) {
        if (l->day > a->filed_day)
            return deny(l, "110", "service date %s is after the claim was filed (%s)", l->date,
                        cc_claims_date_format(a->filed_day, d2)),
                   CC_OK;
        if (a->filed_day - l->day > a->p.filing_days)
            return deny(l, "29", "filed %" PRId64 " days after the service date; the limit is %" PRId64,
                        a->filed_day - l->day, a->p.filing_days),
                   CC_OK;
        dup_key(a, l);
        if (json_object_get(a->tally, l->dup_key))
            return deny(l, "18", "the same service is billed twice in this claim"), CC_OK;
        rc = get(a, l->dup_key, &seen);
        if (rc == CC_OK) {
            deny(l, "18", "duplicate of line %lld of claim %.12s…", (long long)integer(seen, "line", 0),
                 str(seen, "claim") ? str(seen, "claim") : "?");
            json_decref(seen);
            return CC_OK;
        }
        if (rc != CC_ERR_NOT_FOUND) return cc_errf(a->eb, rc, "cannot read the duplicate index");
        if (json_object_set_new(a->tally, l->dup_key, json_true()) != 0) return CC_ERR_NOMEM;
    }
    if (!(l->cov = plan_covered(&a->p, l->code)))
        return deny(l, "96", "%s is not covered by plan %s", l->code, a->p.id), CC_OK;
    if (!a->preauth && list_has(a->p.prior_auth, l->code)) {
        if ((rc = authorization_find(a, l)) != CC_OK) return rc;
        if (!l->auth[0])
            return deny(l, "197", "%s needs a prior authorization; none applies", l->code), CC_OK;
    }
    const json_t *patterns = json_object_get(a->p.diagnosis, l->code);
    if (patterns && !diagnosis_supports(a, l, patterns))
        return deny(l, "11", "no diagnosis on the line supports %s", l->code), CC_OK;
    return CC_OK;
}

/* Step 1.7: pair edits, against the decisions of steps 1.1 .. 1.6. */
static void pair_edits(adj *a)
{
    bool *was_denied = calloc(a->n + 1, sizeof *was_denied);
    const json_t *pair;
    size_t k;
    if (!was_denied) return;
    for (size_t i = 0; i < a->n; i++) was_denied[i] = a->lines[i].d == DENY;
    for (size_t i = 0; i < a->n; i++) {
        line *l = &a->lines[i];
        if (was_denied[i]) continue;
        json_array_foreach(a->p.pairs, k, pair)
        {
            const char *primary = str(pair, "primary"), *secondary = str(pair, "secondary");
            if (!primary || !secondary || strcmp(secondary, l->code) != 0) continue;
            for (size_t j = 0; j < a->n && l->d != DENY; j++)
                if (j != i && !was_denied[j] && a->lines[j].day == l->day &&
                    strcmp(a->lines[j].code, primary) == 0)
                    deny(l, "97", "%s is bundled into %s (line %lld) on %s", l->code, primary,
                         (long long)a->lines[j].seq, l->date);
            if (l->d == DENY) break;
        }
    }
    free(was_denied);
}

/* Step 1.8: units per member, code and day, over all claims. */
static cc_err unit_limits(adj *a)
{
    char key[CC_CLAIMS_KEY_MAX];
    for (size_t i = 0; i < a->n; i++) {
        line *l = &a->lines[i];
        const json_t *limit = json_object_get(a->p.units, l->code);
        json_t *prior = NULL;
        if (l->d == DENY || !limit) continue;
        snprintf(key, sizeof key, "units/%.64s/%.16s/%s", a->in->patient, l->code, l->date);
        cc_err rc = get(a, key, &prior);
        if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(a->eb, rc, "cannot read %s", key);
        int64_t before = json_is_integer(prior) ? (int64_t)json_integer_value(prior) : 0;
        json_decref(prior);
        int64_t mine = integer(a->tally, key, 0);
        if (before + mine + l->units > json_integer_value(limit)) {
            deny(l, "119", "%" PRId64 " units of %s on %s would exceed the limit of %lld a day",
                 before + mine + l->units, l->code, l->date, (long long)json_integer_value(limit));
            continue;
        }
        if (json_object_set_new(a->tally, key, json_integer(mine + l->units)) != 0) return CC_ERR_NOMEM;
    }
    return CC_OK;
}

/* ---- money (step 4) ----------------------------------------------------------------- */

/* The member's accumulators for a plan year, read once per adjudication. */
static cc_err acc_get(adj *a, int64_t year, acc **out)
{
    char key[CC_CLAIMS_KEY_MAX];
    json_t *v = NULL;
    for (size_t i = 0; i < a->nacc; i++)
        if (a->accs[i].year == year) return (*out = &a->accs[i]), CC_OK;
    if (a->nacc == CC_CLAIMS_LINES_MAX) return CC_ERR_INVALID; /* a line has one year: cannot happen */
    cc_claims_acc_key(key, a->in->patient, a->p.id, year);
    cc_err rc = get(a, key, &v);
    if (rc != CC_OK && rc != CC_ERR_NOT_FOUND) return cc_errf(a->eb, rc, "cannot read %s", key);
    acc *m = &a->accs[a->nacc++];
    m->year = year;
    m->ded = integer(v, "deductibleMetCents", 0);
    m->oop = integer(v, "outOfPocketMetCents", 0);
    m->dirty = false;
    json_decref(v);
    *out = m;
    return CC_OK;
}

static int64_t min64(int64_t x, int64_t y)
{
    return x < y ? x : y;
}

/* Cut up to *excess from *part. */
static void cut(int64_t *part, int64_t *excess)
{
    int64_t c = min64(*part, *excess);
    *part -= c;
    *excess -= c;
}

static cc_err price(adj *a)
{
    for (size_t i = 0; i < a->n; i++) {
        line *l = &a->lines[i];
        acc *m = NULL;
        cc_err rc;
        if (l->d != APPROVE) continue;
        if ((rc = acc_get(a, l->year, &m)) != CC_OK) return rc;
        l->allowed = min64(l->billed, l->cov->allowed * l->units);
        l->ded = l->cov->deductible
                     ? min64(l->allowed, a->p.deductible > m->ded ? a->p.deductible - m->ded : 0)
                     : 0;
        l->copay = min64(l->cov->copay, l->allowed - l->ded);
        /* coinsurance: round half up to the cent */
        l->coins = ((l->allowed - l->ded - l->copay) * l->cov->bp + 5000) / 10000;
        int64_t room = a->p.oop > m->oop ? a->p.oop - m->oop : 0;
        int64_t excess = l->ded + l->copay + l->coins - room;
        if (excess > 0) {
            cut(&l->coins, &excess);
            cut(&l->copay, &excess);
            cut(&l->ded, &excess);
        }
        l->patient = l->ded + l->copay + l->coins;
        l->benefit = l->allowed - l->patient;
        m->ded += l->ded;
        m->oop += l->patient;
        m->dirty = true;
    }
    a->priced = true;
    return CC_OK;
}

/* ---- custom rules (step 2) --------------------------------------------------------- */

/* Compiled rules, kept per thread (a cc_rules serves one caller at a
 * time) and keyed by the SHA-256 of their source. Every call runs the
 * chunk afresh (exec/rules.h), so reusing a compiled rule changes no
 * answer; it only spares a compile per claim. */
typedef struct rules_slot {
    uint8_t hash[CC_HASH_BYTES];
    cc_rules *r;
    uint64_t used;
} rules_slot;

typedef struct rules_cache {
    rules_slot slot[RULES_CACHE];
    uint64_t tick;
} rules_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    rules_cache *c = p;
    for (size_t i = 0; i < RULES_CACHE; i++) cc_rules_free(c->slot[i].r);
    free(c);
}

static void cache_init(void)
{
    if (pthread_key_create(&cache_key, cache_free) != 0) abort();
}

void cc_claims_rules_release(void)
{
    pthread_once(&cache_once, cache_init);
    rules_cache *c = pthread_getspecific(cache_key);
    if (!c) return;
    (void)pthread_setspecific(cache_key, NULL);
    cache_free(c);
}

cc_err cc_claims_rules_get(const char *source, cc_rules **out, cc_errbuf *eb)
{
    uint8_t h[CC_HASH_BYTES];
    size_t len = strlen(source), lru = 0;
    pthread_once(&cache_once, cache_init);
    rules_cache *c = pthread_getspecific(cache_key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return CC_ERR_NOMEM;
        if (pthread_setspecific(cache_key, c) != 0) {
            free(c);
            return CC_ERR_NOMEM;
        }
    }
    cc_sha256((const uint8_t *)source, len, h);
    for (size_t i = 0; i < RULES_CACHE; i++) {
        rules_slot *s = &c->slot[i];
        if (s->r && memcmp(s->hash, h, sizeof h) == 0) {
            s->used = ++c->tick;
            *out = s->r;
            return CC_OK;
        }
        if (c->slot[lru].r && (!s->r || s->used < c->slot[lru].used)) lru = i; /* empty, else least recent */
    }
    cc_rules *r = NULL;
    cc_err rc = cc_rules_compile(source, len, NULL, &r, eb);
    if (rc != CC_OK) return rc;
    rules_slot *s = &c->slot[lru];
    cc_rules_free(s->r);
    memcpy(s->hash, h, sizeof h);
    s->r = r;
    s->used = ++c->tick;
    *out = r;
    return CC_OK;
}

void cc_claims_rules_flush(void)
{
    pthread_once(&cache_once, cache_init);
    rules_cache *c = pthread_getspecific(cache_key);
    if (c && pthread_setspecific(cache_key, NULL) == 0) cache_free(c);
}

/* The diagnosis codes line l points at (all of the claim's when it points at none). */
static json_t *line_diagnoses(const adj *a, const line *l)
{
    const json_t *diags = json_object_get(a->in->claim, "diagnosis"), *d, *s;
    const json_t *seqs = l ? json_object_get(l->item, "diagnosisSequence") : NULL;
    json_t *out = json_array();
    size_t i, k;
    json_array_foreach(diags, i, d)
    {
        bool pointed = json_array_size(seqs) == 0;
        json_array_foreach(seqs, k, s)
        {
            pointed |= json_integer_value(s) == json_integer_value(json_object_get(d, "sequence"));
        }
        const char *code = cc_claims_concept_code(json_object_get(d, "diagnosisCodeableConcept"));
        if (out && pointed && code) json_array_append_new(out, json_string(code));
    }
    return out;
}

/* The claim as a rule sees it (docs/PLANS.md "What a custom rule is given"). */
static json_t *rules_claim(const adj *a)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < a->n; i++) {
        const line *l = &a->lines[i];
        /* built field by field: json_pack would parse its format for every line */
        json_t *o = json_object();
        if (o && (json_object_set_new_nocheck(o, "line", json_integer(l->seq)) ||
                  json_object_set_new_nocheck(o, "code", json_string(l->code)) ||
                  json_object_set_new_nocheck(o, "date", json_string(l->date)) ||
                  json_object_set_new_nocheck(o, "units", json_integer((json_int_t)l->units)) ||
                  json_object_set_new_nocheck(o, "billedCents", json_integer((json_int_t)l->billed)) ||
                  json_object_set_new_nocheck(o, "decision", json_string(decision_names[l->d])) ||
                  json_object_set_new_nocheck(o, "diagnoses", line_diagnoses(a, l)))) {
            json_decref(o);
            o = NULL;
        }
        if (o && l->cov) {
            json_object_set_new(o, "category", json_string(l->cov->category));
            json_object_set_new(o, "allowedCents",
                                json_integer(min64(l->billed, l->cov->allowed * l->units)));
        }
        if (o && l->d != APPROVE) json_object_set_new(o, "carc", json_string(l->carc));
        if (!o || json_array_append_new(lines, o) != 0) {
            json_decref(lines);
            return NULL;
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", a->in->claim_id, "use",
                     a->preauth ? "preauthorization" : "claim", "patient", a->in->patient, "provider",
                     a->in->provider, "diagnoses", line_diagnoses(a, NULL), "lines", lines);
}

static bool carc_valid(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (n >= 4 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'A' && s[n] <= 'Z'))) return false;
    return n > 0;
}

/* Every line a check did not deny is pended with why (a rule that failed). */
static void pend_all(adj *a, const char *why)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->lines[i].d != DENY) pend(&a->lines[i], why);
}

/* Apply the rule's decisions; false (and nothing applied) when its answer
 * is not a list of well-formed decisions for lines of this claim. */
static bool rules_apply(adj *a, const json_t *decisions, char *why, size_t cap)
{
    const json_t *d;
    size_t i;
    if (!json_is_array(decisions))
        return snprintf(why, cap, "it did not return a list of line decisions"), false;
    json_array_foreach(decisions, i, d)
    {
        const char *dec = json_string_value(json_object_get(d, "decision"));
        const json_t *carc = json_object_get(d, "carc"), *reason = json_object_get(d, "reason");
        json_int_t n = json_integer_value(json_object_get(d, "line"));
        size_t k = 0;
        while (k < a->n && a->lines[k].seq != n) k++;
        if (!json_is_object(d) || k == a->n)
            return snprintf(why, cap, "decision %zu names no line of the claim", i + 1), false;
        if (!dec || (strcmp(dec, "deny") && strcmp(dec, "pend") && strcmp(dec, "approve")))
            return snprintf(why, cap, "decision %zu is not deny, pend or approve", i + 1), false;
        if ((carc && !carc_valid(json_string_value(carc))) || (reason && !json_is_string(reason)))
            return snprintf(why, cap, "decision %zu has a malformed carc or reason", i + 1), false;
    }
    json_array_foreach(decisions, i, d)
    {
        const char *dec = json_string_value(json_object_get(d, "decision"));
        const char *carc = json_string_value(json_object_get(d, "carc"));
        const char *reason = json_string_value(json_object_get(d, "reason"));
        char text[CC_CLAIMS_REASON_MAX + 1];
        line *l = a->lines;
        while (l->seq != json_integer_value(json_object_get(d, "line"))) l++;
        snprintf(text, sizeof text, "%s", reason && *reason ? reason : "");
        for (char *c = text; *c; c++)
            if ((unsigned char)*c < 0x20) *c = ' ';
        if (l->d == DENY) continue; /* a rule cannot lift a denial */
        if (strcmp(dec, "deny") == 0)
            deny(l, carc ? carc : "96", "%s", text[0] ? text : "denied by the plan's custom rule");
        else if (strcmp(dec, "pend") == 0)
            pend(l, text[0] ? text : "the plan's custom rule asks for a review");
        else if (l->d == PEND)
            l->d = APPROVE, l->carc[0] = l->reason[0] = '\0';
    }
    return true;
}

static cc_err run_rules(adj *a)
{
    cc_errbuf why = {""};
    cc_rules *r = NULL;
    acc *m = NULL;
    json_t *claim = NULL, *member = NULL, *plan = NULL, *decisions = NULL;
    size_t first = 0;
    cc_err rc = cc_claims_rules_get(a->p.rules, &r, &why);
    if (rc == CC_ERR_NOMEM) return rc;
    if (rc != CC_OK) {
        char text[CC_CLAIMS_REASON_MAX + 1];
        snprintf(text, sizeof text, "custom rule failed: %s", why.msg);
        pend_all(a, text);
        return CC_OK;
    }
    for (size_t i = 1; i < a->n; i++)
        if (a->lines[i].day < a->lines[first].day) first = i;
    if ((rc = acc_get(a, a->lines[first].year, &m)) != CC_OK) return rc;
    claim = rules_claim(a);
    member = json_pack("{s:I, s:I, s:I}", "deductibleMetCents", (json_int_t)m->ded, "outOfPocketMetCents",
                       (json_int_t)m->oop, "planYear", (json_int_t)m->year);
    /* the plan as deployed: the rule reads it through a view, so passing the
     * whole document costs only what the rule looks at */
    plan = json_incref((json_t *)a->p.doc);
    if (!claim || !member) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    rc = cc_rules_call(r, claim, member, plan, NULL, &decisions, &why);
    if (rc == CC_ERR_NOMEM) goto done;
    char text[CC_CLAIMS_REASON_MAX + 1], bad[120];
    if (rc != CC_OK) {
        snprintf(text, sizeof text, "custom rule failed: %s", why.msg);
        pend_all(a, text);
    } else if (!rules_apply(a, decisions, bad, sizeof bad)) {
        snprintf(text, sizeof text, "custom rule answered wrongly: %s", bad);
        pend_all(a, text);
    }
    rc = CC_OK;
done:
    json_decref(claim);
    json_decref(member);
    json_decref(plan);
    json_decref(decisions);
    return rc;
}

/* ---- effects (step 5) ------------------------------------------------------------------ */

static cc_err effect_set(adj *a, const char *key, json_t *v)
{
    return v && json_object_set_new(a->effects, key, v) == 0 ? CC_OK : CC_ERR_NOMEM;
}

static cc_err consume(adj *a, const line *l)
{
    char key[16 + CC_HASH_HEX];
    json_t *rec = NULL, *pl;
    size_t j;
    snprintf(key, sizeof key, "claim/%s", l->auth);
    cc_err rc = get(a, key, &rec);
    if (rc != CC_OK) return cc_errf(a->eb, rc, "cannot read %s", key);
    json_array_foreach(json_object_get(rec, "lines"), j, pl)
    {
        if (integer(pl, "line", 0) == l->auth_line) {
            json_object_set_new(pl, "consumedBy", json_string(a->in->claim_id));
        }
        json_object_set_new(pl, "consumedLine", json_integer(l->seq));
    }
    return effect_set(a, key, rec);
}

static cc_err effects(adj *a)
{
    char key[CC_CLAIMS_KEY_MAX];
    cc_err rc = CC_OK;
    for (size_t i = 0; i < a->nacc && rc == CC_OK; i++) {
        if (!a->accs[i].dirty) continue;
        cc_claims_acc_key(key, a->in->patient, a->p.id, a->accs[i].year);
        rc = effect_set(a, key,
                        json_pack("{s:I, s:I}", "deductibleMetCents", (json_int_t)a->accs[i].ded,
                                  "outOfPocketMetCents", (json_int_t)a->accs[i].oop));
    }
    for (size_t i = 0; i < a->n && rc == CC_OK; i++) {
        line *l = &a->lines[i];
        if (l->d != APPROVE) continue;
        rc = effect_set(a, l->dup_key, json_pack("{s:s, s:I}", "claim", a->in->claim_id, "line", l->seq));
        if (rc == CC_OK && json_object_get(a->p.units, l->code)) {
            json_t *prior = NULL;
            snprintf(key, sizeof key, "units/%.64s/%.16s/%s", a->in->patient, l->code, l->date);
            rc = get(a, key, &prior);
            if (rc == CC_OK || rc == CC_ERR_NOT_FOUND)
                rc = effect_set(
                    a, key,
                    json_integer((json_is_integer(prior) ? json_integer_value(prior) : 0) + l->units));
            json_decref(prior);
        }
        if (rc == CC_OK && l->auth[0]) rc = consume(a, l);
    }
    return rc;
}

/* ---- the ClaimResponse -------------------------------------------------------------------- */

/* The response and the lines are written as canonical JSON text directly
 * (keys in bytewise order, compact, jansson's escaping): the same bytes
 * json_dumps(JSON_COMPACT | JSON_SORT_KEYS) would give, without building
 * and sorting a tree per claim. claim.submit stores them as they are. */
typedef struct sb {
    char *p;
    size_t n, cap;
    bool oom;
} sb;

static void sb_raw(sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_lit(sb *b, const char *s)
{
    sb_raw(b, s, strlen(s));
}

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *digits_of(uint64_t v, char *end)
{
    do *--end = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return end;
}

static void sb_int(sb *b, int64_t v)
{
    char buf[24], *end = buf + sizeof buf,
                  *p = digits_of(v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, end);
    if (v < 0) *--p = '-';
    sb_raw(b, p, (size_t)(end - p));
}

/* A JSON value, dumped canonically. */
static void sb_json(sb *b, const json_t *v)
{
    char *d = v ? cc_json_dump(v) : NULL;
    if (!d) {
        b->oom = true;
        return;
    }
    sb_lit(b, d);
    free(d);
}

/* A JSON string as jansson writes it. */
static void sb_str(sb *b, const char *s)
{
    if (cc_json_str_plain(s)) {
        sb_raw(b, "\"", 1);
        sb_lit(b, s);
        sb_raw(b, "\"", 1);
        return;
    }
    json_t *j = json_string(s);
    char *d = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!d) {
        b->oom = true;
        return;
    }
    sb_lit(b, d);
    free(d);
}

/* A CodeableConcept of one coding, as canonical text, from literals. */
#define CONCEPT(system, code) "{\"coding\":[{\"code\":\"" code "\",\"system\":\"" system "\"}]}"
#define ADJ(code)             CONCEPT(SYS_ADJUDICATION, code)
#define C4BB(code)            CONCEPT(SYS_C4BB, code)

/* {"currency":cur,"value":"12.34"}; currency is 3 capital letters (plan.c). */
static void sb_money(sb *b, const adj *a, int64_t cents)
{
    char buf[40], *end = buf + sizeof buf, *p = end;
    uint64_t v = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    *--p = '}';
    *--p = '"';
    *--p = (char)('0' + v % 10);
    *--p = (char)('0' + v / 10 % 10);
    *--p = '.';
    p = digits_of(v / 100, p);
    if (cents < 0) *--p = '-';
    sb_lit(b, "{\"currency\":\"");
    sb_raw(b, a->p.currency, 3);
    sb_lit(b, "\",\"value\":\"");
    sb_raw(b, p, (size_t)(end - p));
}

/* One adjudication: {"amount":...,"category":...,"reason":...}; carc is
 * 1..4 of [0-9A-Z] (checked where it comes from). */
static void sb_adj(sb *b, const adj *a, bool *first, const char *category, int64_t cents, const char *carc)
{
    sb_lit(b, *first ? "{\"amount\":" : ",{\"amount\":");
    *first = false;
    sb_money(b, a, cents);
    sb_lit(b, ",\"category\":");
    sb_lit(b, category);
    if (carc && carc[0]) {
        sb_lit(b, ",\"reason\":{\"coding\":[{\"code\":");
        sb_str(b, carc);
        sb_lit(b, ",\"system\":\"" CC_CLAIMS_CARC_SYSTEM "\"}]}");
    }
    sb_lit(b, "}");
}

typedef struct sums {
    int64_t submitted, eligible, ded, copay, coins, patient, benefit;
} sums;

/* What each category sums to over the lines (the response's total). */
static void sums_of(const adj *a, sums *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < a->n; i++) {
        const line *l = &a->lines[i];
        t->submitted += l->billed;
        if (l->d != APPROVE) continue;
        t->eligible += l->allowed;
        if (!a->priced) continue;
        t->ded += l->ded;
        t->copay += l->copay;
        t->coins += l->coins;
        t->patient += l->patient;
        t->benefit += l->benefit;
    }
}

static void sb_item(sb *b, const adj *a, const line *l, size_t note)
{
    bool first = true;
    sb_lit(b, "{\"adjudication\":[");
    sb_adj(b, a, &first, ADJ("submitted"), l->billed, l->d == PEND ? l->carc : NULL);
    if (l->d == DENY) {
        sb_adj(b, a, &first, ADJ("eligible"), 0, l->carc);
        sb_adj(b, a, &first, C4BB("noncovered"), l->billed, NULL);
        sb_adj(b, a, &first, ADJ("benefit"), 0, NULL);
    } else if (l->d == APPROVE && a->priced) {
        sb_adj(b, a, &first, ADJ("eligible"), l->allowed, l->allowed < l->billed ? "45" : NULL);
        /* a line lists the patient's shares it has (totals list every category) */
        if (l->ded) sb_adj(b, a, &first, ADJ("deductible"), l->ded, "1");
        if (l->copay) sb_adj(b, a, &first, ADJ("copay"), l->copay, "3");
        if (l->coins) sb_adj(b, a, &first, C4BB("coinsurance"), l->coins, "2");
        sb_adj(b, a, &first, C4BB("memberliability"), l->patient, NULL);
        sb_adj(b, a, &first, ADJ("benefit"), l->benefit, NULL);
    } else if (l->d == APPROVE) {
        sb_adj(b, a, &first, ADJ("eligible"), l->allowed, l->allowed < l->billed ? "45" : NULL);
    }
    sb_lit(b, "],\"extension\":[{\"url\":\"" EXT_DECISION "\",\"valueCode\":\"");
    sb_lit(b, decision_names[l->d]);
    sb_lit(b, "\"}],\"itemSequence\":");
    sb_int(b, l->seq);
    if (note) {
        sb_lit(b, ",\"noteNumber\":[");
        sb_int(b, (int64_t)note);
        sb_lit(b, "]");
    }
    sb_lit(b, "}");
}

static void sb_totals(sb *b, const adj *a, const sums *t)
{
    struct {
        const char *category;
        int64_t cents;
    } rows[] = {{ADJ("submitted"), t->submitted}, {ADJ("eligible"), t->eligible},
                {ADJ("deductible"), t->ded},      {ADJ("copay"), t->copay},
                {C4BB("coinsurance"), t->coins},  {C4BB("memberliability"), t->patient},
                {ADJ("benefit"), t->benefit}};
    size_t n = a->priced ? sizeof rows / sizeof rows[0] : 2;
    sb_lit(b, "[");
    for (size_t i = 0; i < n; i++) {
        sb_lit(b, i ? ",{\"amount\":" : "{\"amount\":");
        sb_money(b, a, rows[i].cents);
        sb_lit(b, ",\"category\":");
        sb_lit(b, rows[i].category);
        sb_lit(b, "}");
    }
    sb_lit(b, "]");
}

static const char *disposition(const adj *a, char *out, size_t cap)
{
    size_t approved = 0, denied = 0, pended = 0;
    const char *why = "";
    for (size_t i = 0; i < a->n; i++) {
        approved += a->lines[i].d == APPROVE;
        denied += a->lines[i].d == DENY;
        if (a->lines[i].d == PEND && !pended++) why = a->lines[i].reason;
    }
    if (pended && !a->preauth)
        snprintf(out, cap, "Pended for review: %s", why);
    else if (a->preauth)
        snprintf(out, cap,
                 "Preauthorization under plan %s version %" PRId64
                 ": %zu authorized, %zu denied, %zu pending review.",
                 a->p.id, a->p.version, approved, denied, pended);
    else
        snprintf(out, cap, "Adjudicated under plan %s version %" PRId64 ": %zu of %zu lines approved.",
                 a->p.id, a->p.version, approved, a->n);
    utf8_trim(out);
    return out;
}

/* The lines as claim.submit stores them (keys in bytewise order). */
static void sb_lines(sb *b, const adj *a)
{
    sb_lit(b, "[");
    for (size_t i = 0; i < a->n; i++) {
        const line *l = &a->lines[i];
        bool priced = l->d == APPROVE && a->priced;
        sb_lit(b, i ? ",{" : "{");
        if (priced) {
            sb_lit(b, "\"allowedCents\":");
            sb_int(b, l->allowed);
            sb_lit(b, ",");
        }
        if (l->auth[0]) {
            sb_lit(b, "\"authorization\":");
            sb_str(b, l->auth);
            sb_lit(b, ",");
        }
        if (priced) {
            sb_lit(b, "\"benefitCents\":");
            sb_int(b, l->benefit);
            sb_lit(b, ",");
        }
        sb_lit(b, "\"billedCents\":");
        sb_int(b, l->billed);
        if (l->d != APPROVE) {
            sb_lit(b, ",\"carc\":");
            sb_str(b, l->carc);
        }
        sb_lit(b, ",\"code\":");
        sb_str(b, l->code);
        if (priced) {
            sb_lit(b, ",\"coinsuranceCents\":");
            sb_int(b, l->coins);
            sb_lit(b, ",\"copayCents\":");
            sb_int(b, l->copay);
        }
        sb_lit(b, ",\"date\":\"");
        sb_lit(b, l->date);
        sb_lit(b, "\",\"decision\":\"");
        sb_lit(b, decision_names[l->d]);
        sb_lit(b, "\"");
        if (priced) {
            sb_lit(b, ",\"deductibleCents\":");
            sb_int(b, l->ded);
        }
        sb_lit(b, ",\"line\":");
        sb_int(b, l->seq);
        if (priced) {
            sb_lit(b, ",\"patientCents\":");
            sb_int(b, l->patient);
        }
        if (l->reason[0]) {
            sb_lit(b, ",\"reason\":");
            sb_str(b, l->reason);
        }
        sb_lit(b, ",\"units\":");
        sb_int(b, l->units);
        sb_lit(b, "}");
    }
    sb_lit(b, "]");
}

/* {"reference":"<type>/<id>"} */
static void sb_ref(sb *b, const char *type, const char *id)
{
    char ref[32 + CC_CLAIMS_ID_MAX + CC_HASH_HEX];
    snprintf(ref, sizeof ref, "%s/%s", type, id);
    sb_lit(b, "{\"reference\":");
    sb_str(b, ref);
    sb_lit(b, "}");
}

/* The ClaimResponse as canonical text into r; payment (canonical JSON text,
 * or NULL) is a paid claim's "payment". */
static void response_write(const adj *a, const char *payment, sb *r)
{
    const json_t *sub = json_object_get(a->in->claim, "subType");
    char created[32], disp[400], plan[CC_CLAIMS_ID_MAX + 24];
    size_t notes = 0;
    sums t;
    sums_of(a, &t);
    snprintf(plan, sizeof plan, "%s|%" PRId64, a->p.id, a->p.version);
    sb_lit(r, "{\"created\":\"");
    sb_lit(r, date_time(a->in->now_ms, created));
    sb_lit(r, "\",\"disposition\":");
    sb_str(r, disposition(a, disp, sizeof disp));
    sb_lit(r, ",\"extension\":[{\"url\":\"" CC_CLAIMS_PLAN_EXTENSION "\",\"valueString\":");
    sb_str(r, plan);
    sb_lit(r, "}],\"id\":");
    sb_str(r, a->in->claim_id);
    sb_lit(r, ",\"insurer\":");
    sb_ref(r, "Organization", a->in->insurer);
    sb_lit(r, ",\"item\":[");
    for (size_t i = 0; i < a->n; i++) {
        if (i) sb_lit(r, ",");
        sb_item(r, a, &a->lines[i], a->lines[i].reason[0] ? ++notes : 0);
    }
    sb_lit(r, "],\"outcome\":\"");
    sb_lit(r, a->pended ? "queued" : "complete");
    sb_lit(r, "\",\"patient\":");
    sb_ref(r, "Patient", a->in->patient);
    if (payment) {
        sb_lit(r, ",\"payment\":");
        sb_lit(r, payment);
    }
    if (a->preauth) {
        sb_lit(r, ",\"preAuthRef\":");
        sb_str(r, a->in->claim_id);
    }
    if (notes) {
        sb_lit(r, ",\"processNote\":[");
        for (size_t i = 0, k = 0; i < a->n; i++) {
            if (!a->lines[i].reason[0]) continue;
            sb_lit(r, k ? ",{\"number\":" : "{\"number\":");
            sb_int(r, (int64_t)++k);
            sb_lit(r, ",\"text\":");
            sb_str(r, a->lines[i].reason);
            sb_lit(r, ",\"type\":\"display\"}");
        }
        sb_lit(r, "]");
    }
    sb_lit(r, ",\"request\":");
    sb_ref(r, "Claim", a->in->claim_id);
    sb_lit(r, ",\"requestor\":");
    sb_ref(r, "Organization", a->in->provider);
    sb_lit(r, ",\"resourceType\":\"ClaimResponse\",\"status\":\"active\"");
    if (sub) {
        sb_lit(r, ",\"subType\":");
        sb_json(r, sub);
    }
    sb_lit(r, ",\"total\":");
    sb_totals(r, a, &t);
    sb_lit(r, ",\"type\":");
    sb_json(r, json_object_get(a->in->claim, "type"));
    sb_lit(r, ",\"use\":\"");
    sb_lit(r, a->preauth ? "preauthorization" : "claim");
    sb_lit(r, "\"}");
}

static cc_err response(adj *a, cc_claims_output *out)
{
    sums t;
    sb r = {0}, l = {0};
    cc_err rc = CC_OK;
    sums_of(a, &t);
    if (!a->in->lines_only) response_write(a, NULL, &r);
    sb_lines(&l, a);
    if (r.oom || l.oom) {
        rc = CC_ERR_NOMEM;
        goto fail;
    }
    out->response_text = r.p;
    out->lines_text = l.p;
    r.p = l.p = NULL;
    out->benefit_cents = t.benefit;
    out->patient_cents = t.patient;
    if (!a->in->text_only) {
        if (out->response_text && !(out->response = cc_json_parse((const uint8_t *)out->response_text,
                                                                  strlen(out->response_text), NULL)))
            rc = CC_ERR_NOMEM;
        out->lines = cc_json_parse((const uint8_t *)out->lines_text, strlen(out->lines_text), NULL);
        if (!out->lines) rc = CC_ERR_NOMEM;
    }
fail:
    free(r.p);
    free(l.p);
    return rc;
}

/* ---- the ClaimResponse of a stored claim ------------------------------------------------- */

static verdict verdict_of(const char *s)
{
    return s && strcmp(s, "deny") == 0 ? DENY : s && strcmp(s, "pend") == 0 ? PEND : APPROVE;
}

/* The time of the claim's last adjudication (the response's "created"). */
static bool adjudicated_ms(const json_t *record, uint64_t *ms)
{
    const json_t *h = json_object_get(record, "history");
    for (size_t i = json_array_size(h); i-- > 0;) {
        const json_t *e = json_array_get(h, i);
        const char *st = str(e, "status");
        if (st && (strcmp(st, "adjudicated") == 0 || strcmp(st, "pended") == 0) &&
            json_is_integer(json_object_get(e, "time")))
            return (*ms = (uint64_t)json_integer_value(json_object_get(e, "time"))), true;
    }
    return false;
}

char *cc_claims_response_text(const json_t *record, const char *currency)
{
    const json_t *lines = json_object_get(record, "lines"), *pl, *pay = json_object_get(record, "payment");
    const char *status = str(record, "status"), *use = str(record, "use");
    cc_claims_input in = {.claim = json_object_get(record, "claim"),
                          .claim_id = str(record, "id"),
                          .patient = str(record, "patient"),
                          .provider = str(record, "provider"),
                          .insurer = str(record, "insurer")};
    adj a = {.in = &in};
    char *payment = NULL;
    size_t i;
    sb r = {0};
    if (!in.claim_id || !in.patient || !in.provider || !in.insurer || !status || !use ||
        !json_is_object(in.claim) || !json_is_array(lines) || !str(record, "plan") ||
        !adjudicated_ms(record, &in.now_ms) || !currency || strlen(currency) != 3)
        return NULL;
    a.p.id = str(record, "plan");
    a.p.version = integer(record, "planVersion", 0);
    a.p.currency = currency;
    a.preauth = strcmp(use, "preauthorization") == 0;
    a.pended = strcmp(status, "pended") == 0;
    a.priced = !a.pended;
    a.n = json_array_size(lines);
    if (a.n == 0 || !(a.lines = calloc(a.n, sizeof *a.lines))) return NULL;
    json_array_foreach(lines, i, pl)
    {
        line *l = &a.lines[i];
        l->seq = integer(pl, "line", 0);
        l->code = str(pl, "code") ? str(pl, "code") : "";
        l->d = verdict_of(str(pl, "decision"));
        l->units = integer(pl, "units", 0);
        l->billed = integer(pl, "billedCents", 0);
        l->allowed = integer(pl, "allowedCents", 0);
        l->ded = integer(pl, "deductibleCents", 0);
        l->copay = integer(pl, "copayCents", 0);
        l->coins = integer(pl, "coinsuranceCents", 0);
        l->patient = integer(pl, "patientCents", 0);
        l->benefit = integer(pl, "benefitCents", 0);
        snprintf(l->carc, sizeof l->carc, "%s", str(pl, "carc") ? str(pl, "carc") : "");
        snprintf(l->reason, sizeof l->reason, "%s", str(pl, "reason") ? str(pl, "reason") : "");
    }
    if (json_is_object(pay)) {
        /* as payment.settle writes it: type complete, the date, the amount, the trace */
        char value[32];
        json_t *p = json_pack("{s:{s:[{s:s, s:s}]}, s:s, s:{s:s, s:s}, s:{s:s, s:s}}", "type", "coding",
                              "system", CC_CLAIMS_PAYMENT_TYPE_SYSTEM, "code", "complete", "date",
                              str(pay, "date") ? str(pay, "date") : "", "amount", "value",
                              cc_claims_cents_format(integer(pay, "amountCents", 0), value), "currency",
                              currency, "identifier", "system", CC_CLAIMS_TRACE_SYSTEM, "value",
                              str(pay, "trace") ? str(pay, "trace") : "");
        payment = p ? cc_json_dump(p) : NULL;
        json_decref(p);
        if (!payment) r.oom = true;
    }
    if (!r.oom) response_write(&a, payment, &r);
    free(payment);
    free(a.lines);
    if (r.oom) {
        free(r.p);
        return NULL;
    }
    return r.p;
}

/* ---- the steps in order ------------------------------------------------------------------- */

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

static void review(adj *a)
{
    const cc_claims_input *in = a->in;
    for (size_t i = 0; i < a->n; i++) {
        line *l = &a->lines[i];
        if (l->d != PEND || in->review == CC_CLAIMS_REVIEW_NONE) continue;
        if (in->review == CC_CLAIMS_REVIEW_APPROVE) {
            l->d = APPROVE;
            l->carc[0] = l->reason[0] = '\0';
        } else {
            deny(l,
                 in->review_carc && *in->review_carc ? in->review_carc
                 : a->preauth                        ? "197"
                                                     : "96",
                 "%s",
                 in->review_reason && *in->review_reason ? in->review_reason
                                                         : "denied by the payer's reviewer");
        }
    }
}

cc_err cc_claims_adjudicate(const cc_claims_input *in, cc_claims_output *out, cc_errbuf *eb)
{
    adj a = {.in = in, .eb = eb};
    const char *use = str(in->claim, "use");
    cc_err rc;
    memset(out, 0, sizeof *out);
    if ((rc = plan_view_load(in->plan, &a.p)) != CC_OK) {
        rc = rc == CC_ERR_NOMEM ? rc : cc_errf(eb, CC_ERR_CORRUPT, "the plan is not a valid plan document");
        goto done;
    }
    a.preauth = use && strcmp(use, "preauthorization") == 0;
    a.filed_day = (int64_t)((in->filed_ms ? in->filed_ms : in->now_ms) / MS_PER_DAY);
    a.cov_start = a.p.eff_start;
    a.cov_end = a.p.eff_end;
    if (in->coverage) {
        const json_t *period = json_object_get(in->coverage, "period");
        if (!cc_claims_date_parse(str(period, "start"), &a.cov_start)) {
            rc = cc_errf(eb, CC_ERR_CORRUPT, "the coverage has no start date");
            goto done;
        }
        if (!str(period, "end") || !cc_claims_date_parse(str(period, "end"), &a.cov_end))
            a.cov_end = DAY_NONE;
    }
    a.preauth_refs = json_object_get(focal_insurance(in->claim), "preAuthRef");
    a.effects = json_object();
    a.tally = json_object();
    a.reserved = json_object();
    if (!a.effects || !a.tally || !a.reserved) {
        rc = CC_ERR_NOMEM;
        goto done;
    }
    if ((rc = lines_load(&a)) != CC_OK || (rc = currency_check(&a)) != CC_OK) goto done;

    /* 1. the checks, line by line, then pair edits and unit limits */
    for (size_t i = 0; i < a.n; i++)
        if ((rc = check_line(&a, &a.lines[i])) != CC_OK) goto done;
    pair_edits(&a);
    if ((rc = unit_limits(&a)) != CC_OK) goto done;
    if (a.preauth)
        for (size_t i = 0; i < a.n; i++)
            if (a.lines[i].d == APPROVE && list_has(a.p.prior_auth, a.lines[i].code))
                pend(&a.lines[i], "the service needs a prior authorization review");
    /* 2. custom rules; 3. a review resolves what pends */
    if (a.p.rules && (rc = run_rules(&a)) != CC_OK) goto done;
    review(&a);
    for (size_t i = 0; i < a.n; i++) a.pended |= a.lines[i].d == PEND;
    /* 4. money; 5. effects */
    if (!a.pended && (rc = price(&a)) != CC_OK) goto done;
    if (!a.pended && !a.preauth && (rc = effects(&a)) != CC_OK) goto done;
    if ((rc = response(&a, out)) != CC_OK) goto done;
    out->pended = a.pended;
    if (a.pended || a.preauth) json_object_clear(a.effects);
    out->effects = a.effects;
    a.effects = NULL;
done:
    if (rc != CC_OK) cc_claims_output_free(out);
    free(a.p.cov);
    free(a.lines);
    json_decref(a.effects);
    json_decref(a.tally);
    json_decref(a.reserved);
    return rc;
}

void cc_claims_output_free(cc_claims_output *out)
{
    free(out->response_text);
    free(out->lines_text);
    json_decref(out->response);
    json_decref(out->lines);
    json_decref(out->effects);
    memset(out, 0, sizeof *out);
}
