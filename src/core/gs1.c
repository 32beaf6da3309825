/*
 * gs1.c — GS1 identifiers (include/carechain/gs1.h): check digits, the GS1
 * character set 82, YYMMDD dates, the three forms an identifier arrives in
 * (element strings, Digital Link URIs, EPC URIs) and the writers of EPC
 * URIs and Digital Links.
 *
 * Pure code: no I/O, no allocation, no clock. Parsers read the caller's
 * NUL-terminated string with bounded local buffers, fill a scratch
 * cc_gs1_id and copy it out only when every rule holds. The first fault
 * found is reported in eb, naming the part (GTIN, AI (17) expiry, serial,
 * ...) and quoting what was read, so the person holding the package knows
 * what to look at.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "carechain/gs1.h"
#include "core/date.h"

#define GS               '\x1d' /* group separator: FNC1 between fields of a scanned element string */
#define SHOW_MAX         40     /* characters of the input quoted in a message */
#define SHOW_BYTES       (SHOW_MAX * 4 + 4)
#define AI_DIGITS_MAX    4 /* an AI is 2 to 4 digits */
#define AI_DIGITS_MIN    2
#define SGTIN_REF_DIGITS 13 /* EPC SGTIN: company prefix + indicator and item reference */
#define SSCC_REF_DIGITS  17 /* EPC SSCC: company prefix + extension and serial reference */
#define GLN_REF_DIGITS   12 /* EPC SGLN/PGLN: company prefix + location or party reference */
#define GLN_EXT_MAX      20 /* SGLN extension: like a serial, 1..20 characters of set 82 */
#define DL_VALUE_MAX     64 /* bytes of one percent-decoded Digital Link value we look at */
#define DL_SEGS_MAX      64 /* path segments of a Digital Link */
#define GTIN_SHORT_MAX   14

#define EPC_ID     "urn:epc:id:"
#define EPC_SGTIN  "urn:epc:id:sgtin:"
#define EPC_SSCC   "urn:epc:id:sscc:"
#define EPC_SGLN   "urn:epc:id:sgln:"
#define EPC_PGLN   "urn:epc:id:pgln:"
#define DL_HOST    "https://id.gs1.org"
#define HEX_DIGITS "0123456789ABCDEF"

/* ---- small pieces ------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return false;
    return true;
}

static size_t digit_run(const char *s)
{
    size_t n = 0;
    while (is_digit(s[n])) n++;
    return n;
}

/* The GS1 character set 82 (General Specifications figure 7.11-1). */
static bool cset82(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!\"%&'()*+,-./:;<=>?_", c) != NULL);
}

/* Does s start with the lower-case ASCII prefix p, ignoring case? */
static bool prefix_ci(const char *s, const char *p)
{
    for (; *p; s++, p++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != *p) return false;
    }
    return true;
}

static int hex_value(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* s[0..n) quoted for a message: printable ASCII as is, other bytes as \xHH,
 * cut at SHOW_MAX characters with "...". */
static const char *show(char buf[SHOW_BYTES], const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = HEX_DIGITS[c >> 4];
            buf[o++] = HEX_DIGITS[c & 0xf];
        }
    }
    if (n > SHOW_MAX) buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}

/* One character named for a message: 'x', space, or 0xHH. */
static const char *show_char(char buf[8], char c)
{
    unsigned char u = (unsigned char)c;
    if (u == ' ')
        snprintf(buf, 8, "space");
    else if (u > 0x20 && u < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02X", u);
    return buf;
}

/* The GS1 mod-10 check digit of d[0..n): weights 3, 1, 3, ... from the right. */
static int check_digit(const char *d, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) sum += (d[i] - '0') * ((n - i) % 2 ? 3 : 1);
    return (10 - sum % 10) % 10;
}

/* ---- GTIN, SSCC, set 82 ---------------------------------------------------------- */

/* Digits only, else a message naming the first other character. */
static cc_err digits_check(const char *what, const char *s, size_t n, cc_errbuf *eb)
{
    char b[SHOW_BYTES], c[8];
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return cc_errf(eb, CC_ERR_INVALID, "%s \"%s\": character %zu (%s) is not a digit", what,
                           show(b, s, n), i + 1, show_char(c, s[i]));
    return CC_OK;
}

/* Is the last of the n digits s the right check digit? */
static cc_err check_digit_check(const char *what, const char *s, size_t n, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    int want = check_digit(s, n - 1);
    if (s[n - 1] - '0' == want) return CC_OK;
    return cc_errf(eb, CC_ERR_INVALID, "%s %s: check digit is %c, should be %d", what, show(b, s, n),
                   s[n - 1], want);
}

/* A GTIN-8/12/13/14 s[0..n) -> 14 digits in out. */
static cc_err gtin_from(const char *what, const char *s, size_t n, char out[CC_GS1_GTIN_DIGITS + 1],
                        cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    if (n == 0) return cc_errf(eb, CC_ERR_INVALID, "%s is empty", what);
    cc_err rc = digits_check(what, s, n, eb);
    if (rc != CC_OK) return rc;
    if (n != 8 && n != 12 && n != 13 && n != CC_GS1_GTIN_DIGITS)
        return cc_errf(eb, CC_ERR_INVALID, "%s %s has %zu digits; a GTIN has 8, 12, 13 or 14", what,
                       show(b, s, n), n);
    rc = check_digit_check(what, s, n, eb);
    if (rc != CC_OK) return rc;
    memset(out, '0', CC_GS1_GTIN_DIGITS - n);
    memcpy(out + CC_GS1_GTIN_DIGITS - n, s, n);
    out[CC_GS1_GTIN_DIGITS] = '\0';
    return CC_OK;
}

static cc_err sscc_from(const char *what, const char *s, size_t n, char out[CC_GS1_SSCC_DIGITS + 1],
                        cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    if (n == 0) return cc_errf(eb, CC_ERR_INVALID, "%s is empty", what);
    cc_err rc = digits_check(what, s, n, eb);
    if (rc != CC_OK) return rc;
    if (n != CC_GS1_SSCC_DIGITS)
        return cc_errf(eb, CC_ERR_INVALID, "%s %s has %zu digits; an SSCC has 18", what, show(b, s, n), n);
    rc = check_digit_check(what, s, n, eb);
    if (rc != CC_OK) return rc;
    memcpy(out, s, n);
    out[n] = '\0';
    return CC_OK;
}

/* 1..max characters of set 82. */
static cc_err text_check(const char *what, const char *s, size_t n, size_t max, cc_errbuf *eb)
{
    char b[SHOW_BYTES], c[8];
    if (n == 0) return cc_errf(eb, CC_ERR_INVALID, "%s is empty", what);
    if (n > max)
        return cc_errf(eb, CC_ERR_INVALID, "%s \"%s\" is longer than %zu characters (%zu)", what,
                       show(b, s, n), max, n);
    for (size_t i = 0; i < n; i++)
        if (!cset82(s[i]))
            return cc_errf(eb, CC_ERR_INVALID,
                           "%s \"%s\": character %zu (%s) is not in the GS1 character set 82", what,
                           show(b, s, n), i + 1, show_char(c, s[i]));
    return CC_OK;
}

static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n]) n++;
    return n;
}

bool cc_gs1_gtin_valid(const char *gtin)
{
    if (!gtin || bounded_len(gtin, CC_GS1_GTIN_DIGITS) != CC_GS1_GTIN_DIGITS) return false;
    return all_digits(gtin, CC_GS1_GTIN_DIGITS) &&
           check_digit(gtin, CC_GS1_GTIN_DIGITS - 1) == gtin[CC_GS1_GTIN_DIGITS - 1] - '0';
}

cc_err cc_gs1_gtin_normalize(const char *gtin, char out[CC_GS1_GTIN_DIGITS + 1], cc_errbuf *eb)
{
    assert(out);
    out[0] = '\0';
    if (!gtin) return cc_errf(eb, CC_ERR_INVALID, "GTIN is empty");
    return gtin_from("GTIN", gtin, strlen(gtin), out, eb);
}

bool cc_gs1_sscc_valid(const char *sscc)
{
    if (!sscc || bounded_len(sscc, CC_GS1_SSCC_DIGITS) != CC_GS1_SSCC_DIGITS) return false;
    return all_digits(sscc, CC_GS1_SSCC_DIGITS) &&
           check_digit(sscc, CC_GS1_SSCC_DIGITS - 1) == sscc[CC_GS1_SSCC_DIGITS - 1] - '0';
}

static bool text_valid(const char *s, size_t max)
{
    if (!s) return false;
    size_t n = bounded_len(s, max);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!cset82(s[i])) return false;
    return true;
}

bool cc_gs1_serial_valid(const char *s)
{
    return text_valid(s, CC_GS1_SERIAL_MAX);
}

bool cc_gs1_lot_valid(const char *s)
{
    return text_valid(s, CC_GS1_LOT_MAX);
}

/* ---- dates ------------------------------------------------------------------------ */

#define CENTURY 2000 /* YY -> 20YY */

/* The calendar's month length (date.h), in the int arithmetic of this file. */
static int month_days(int y, int m)
{
    return (int)cc_month_days(y, (unsigned)m);
}

/* A two-digit field whose digits were checked. */
static int two(const char *s)
{
    return (int)cc_digits_value(s, 2);
}

/* A YYMMDD date (day 00 allowed: the month's end) s[0..n) of what. */
static cc_err date6_check(const char *what, const char *s, size_t n, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    if (n != CC_GS1_EXP_DIGITS || !all_digits(s, n))
        return cc_errf(eb, CC_ERR_INVALID, "%s \"%s\": expected 6 digits YYMMDD", what, show(b, s, n));
    int y = CENTURY + two(s), m = two(s + 2), d = two(s + 4);
    if (m < 1 || m > 12) return cc_errf(eb, CC_ERR_INVALID, "%s %.6s: month %02d does not exist", what, s, m);
    if (d > month_days(y, m))
        return cc_errf(eb, CC_ERR_INVALID, "%s %.6s: day %02d, but %04d-%02d has %d days", what, s, d, y, m,
                       month_days(y, m));
    return CC_OK;
}

bool cc_gs1_exp_valid(const char *exp)
{
    return exp && bounded_len(exp, CC_GS1_EXP_DIGITS) == CC_GS1_EXP_DIGITS &&
           date6_check("", exp, CC_GS1_EXP_DIGITS, NULL) == CC_OK;
}

int64_t cc_gs1_exp_day(const char *exp)
{
    if (!cc_gs1_exp_valid(exp)) return -1;
    int y = CENTURY + two(exp), m = two(exp + 2), d = two(exp + 4);
    return cc_days_from_civil(y, (unsigned)m, (unsigned)(d ? d : month_days(y, m)));
}

#define ISO_DATE_CHARS 10 /* "YYYY-MM-DD" */

cc_err cc_gs1_exp_from_iso(const char *iso, char out[CC_GS1_EXP_DIGITS + 1], cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    assert(out);
    out[0] = '\0';
    size_t n = iso ? bounded_len(iso, ISO_DATE_CHARS) : 0;
    if (n != ISO_DATE_CHARS || !all_digits(iso, 4) || iso[4] != '-' || !all_digits(iso + 5, 2) ||
        iso[7] != '-' || !all_digits(iso + 8, 2))
        return cc_errf(eb, CC_ERR_INVALID, "expiry date \"%s\": expected YYYY-MM-DD",
                       show(b, iso ? iso : "", iso ? strlen(iso) : 0));
    int y = two(iso) * 100 + two(iso + 2), m = two(iso + 5), d = two(iso + 8);
    if (y < CENTURY || y > CENTURY + 99)
        return cc_errf(eb, CC_ERR_INVALID, "expiry date %.10s: year %d is outside 2000..2099 (GS1 YYMMDD)",
                       iso, y);
    if (m < 1 || m > 12)
        return cc_errf(eb, CC_ERR_INVALID, "expiry date %.10s: month %02d does not exist", iso, m);
    if (d < 1 || d > month_days(y, m))
        return cc_errf(eb, CC_ERR_INVALID, "expiry date %.10s: day %02d, but %04d-%02d has %d days", iso, d,
                       y, m, month_days(y, m));
    memcpy(out, iso + 2, 2);
    memcpy(out + 2, iso + 5, 2);
    memcpy(out + 4, iso + 8, 2);
    out[CC_GS1_EXP_DIGITS] = '\0';
    return CC_OK;
}

void cc_gs1_exp_to_iso(const char *exp, char out[11])
{
    out[0] = '\0';
    if (!cc_gs1_exp_valid(exp)) return;
    int y = CENTURY + two(exp), m = two(exp + 2), d = two(exp + 4);
    if (!d) d = month_days(y, m);
    memcpy(out, "20", 2);
    memcpy(out + 2, exp, 2);
    out[4] = '-';
    memcpy(out + 5, exp + 2, 2);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[ISO_DATE_CHARS] = '\0';
}

/* ---- application identifiers ----------------------------------------------------------- */

typedef enum ai_field {
    AI_SKIP, /* checked for shape, then dropped */
    AI_SSCC,
    AI_GTIN,
    AI_LOT,
    AI_EXP,
    AI_SERIAL,
} ai_field;

typedef enum ai_shape {
    AI_NUMERIC, /* digits */
    AI_DATE,    /* YYMMDD */
    AI_TEXT,    /* set 82 */
} ai_shape;

typedef struct ai_def {
    const char *ai;
    unsigned fixed; /* the value's length when fixed, else 0 */
    unsigned max;   /* the value's longest length */
    ai_shape shape;
    ai_field field;
    const char *what; /* "AI (17) expiry": how a message names it */
} ai_def;

/* The AIs read from a drug's label. No AI is a prefix of another, so a
 * plain element string is read by matching this table at each field. */
static const ai_def ai_table[] = {
    {"00", 18, 18, AI_NUMERIC, AI_SSCC, "AI (00) SSCC"},
    {"01", 14, 14, AI_NUMERIC, AI_GTIN, "AI (01) GTIN"},
    {"02", 14, 14, AI_NUMERIC, AI_SKIP, "AI (02) contained GTIN"},
    {"10", 0, CC_GS1_LOT_MAX, AI_TEXT, AI_LOT, "AI (10) lot"},
    {"11", 6, 6, AI_DATE, AI_SKIP, "AI (11) production date"},
    {"13", 6, 6, AI_DATE, AI_SKIP, "AI (13) packaging date"},
    {"15", 6, 6, AI_DATE, AI_SKIP, "AI (15) best before date"},
    {"16", 6, 6, AI_DATE, AI_SKIP, "AI (16) sell by date"},
    {"17", 6, 6, AI_DATE, AI_EXP, "AI (17) expiry"},
    {"20", 2, 2, AI_NUMERIC, AI_SKIP, "AI (20) variant"},
    {"21", 0, CC_GS1_SERIAL_MAX, AI_TEXT, AI_SERIAL, "AI (21) serial"},
    {"22", 0, 20, AI_TEXT, AI_SKIP, "AI (22) consumer product variant"},
    {"30", 0, 8, AI_NUMERIC, AI_SKIP, "AI (30) count"},
    {"37", 0, 8, AI_NUMERIC, AI_SKIP, "AI (37) count of trade items"},
    {"240", 0, 30, AI_TEXT, AI_SKIP, "AI (240) additional product id"},
    {"241", 0, 30, AI_TEXT, AI_SKIP, "AI (241) customer part number"},
    {"7003", 10, 10, AI_NUMERIC, AI_SKIP, "AI (7003) expiry date and time"},
    {"710", 0, 20, AI_TEXT, AI_SKIP, "AI (710) national healthcare reimbursement number"},
    {"711", 0, 20, AI_TEXT, AI_SKIP, "AI (711) national healthcare reimbursement number"},
    {"712", 0, 20, AI_TEXT, AI_SKIP, "AI (712) national healthcare reimbursement number"},
    {"713", 0, 20, AI_TEXT, AI_SKIP, "AI (713) national healthcare reimbursement number"},
    {"714", 0, 20, AI_TEXT, AI_SKIP, "AI (714) national healthcare reimbursement number"},
    {"715", 0, 20, AI_TEXT, AI_SKIP, "AI (715) national healthcare reimbursement number"},
};
#define AI_COUNT (sizeof ai_table / sizeof ai_table[0])

/* The entry whose AI begins s, or NULL. */
static const ai_def *ai_at(const char *s)
{
    for (size_t i = 0; i < AI_COUNT; i++)
        if (strncmp(s, ai_table[i].ai, strlen(ai_table[i].ai)) == 0) return &ai_table[i];
    return NULL;
}

/* The entry for exactly the AI s[0..n), or NULL. */
static const ai_def *ai_exact(const char *s, size_t n)
{
    for (size_t i = 0; i < AI_COUNT; i++)
        if (strlen(ai_table[i].ai) == n && memcmp(s, ai_table[i].ai, n) == 0) return &ai_table[i];
    return NULL;
}

/* How many digits an unknown AI starting with the two digits s has: the
 * GS1 General Specifications fix it by those two (for messages only). */
static size_t ai_len_guess(const char *s)
{
    int p = two(s);
    if (p <= 22 || p == 30 || p == 37 || p >= 90) return 2;
    if ((p >= 31 && p <= 36) || p == 39 || p == 43 || p == 70 || p >= 72) return 4;
    return 3;
}

/* Store the value v[0..n) of ai in id, after checking its shape. seen has
 * a bit per ai_table entry, for duplicates. */
static cc_err ai_value(const ai_def *ai, const char *v, size_t n, cc_gs1_id *id, uint32_t *seen,
                       cc_errbuf *eb)
{
    uint32_t bit = UINT32_C(1) << (ai - ai_table);
    if (*seen & bit) return cc_errf(eb, CC_ERR_INVALID, "%s appears twice", ai->what);
    *seen |= bit;
    cc_err rc = CC_OK;
    if (ai->shape == AI_TEXT) {
        rc = text_check(ai->what, v, n, ai->max, eb);
    } else if (ai->shape == AI_DATE) {
        rc = date6_check(ai->what, v, n, eb);
    } else {
        rc = digits_check(ai->what, v, n, eb);
        if (rc == CC_OK && n == 0) rc = cc_errf(eb, CC_ERR_INVALID, "%s is empty", ai->what);
        if (rc == CC_OK && ai->fixed && n != ai->fixed)
            rc = cc_errf(eb, CC_ERR_INVALID, "%s needs %u digits, got %zu", ai->what, ai->fixed, n);
        if (rc == CC_OK && n > ai->max)
            rc = cc_errf(eb, CC_ERR_INVALID, "%s is longer than %u digits (%zu)", ai->what, ai->max, n);
    }
    if (rc != CC_OK) return rc;
    switch (ai->field) {
    case AI_SSCC:
        return sscc_from(ai->what, v, n, id->sscc, eb);
    case AI_GTIN:
        return gtin_from(ai->what, v, n, id->gtin, eb);
    case AI_LOT:
        memcpy(id->lot, v, n), id->lot[n] = '\0';
        break;
    case AI_EXP:
        memcpy(id->exp, v, n), id->exp[n] = '\0';
        break;
    case AI_SERIAL:
        memcpy(id->serial, v, n), id->serial[n] = '\0';
        break;
    case AI_SKIP:
        break;
    }
    return CC_OK;
}

/* ---- element strings ------------------------------------------------------------------ */

/* "(01)00312345678906(17)281231(10)LOT42(21)SN1001": a value runs to the
 * next '(' (so the bracketed form cannot carry a '(' inside a lot or
 * serial; the scanned form can). */
static cc_err es_bracketed(const char *s, const char *p, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    uint32_t seen = 0;
    while (*p) {
        if (*p != '(')
            return cc_errf(eb, CC_ERR_INVALID, "element string: expected '(' at character %zu, found \"%s\"",
                           (size_t)(p - s) + 1, show(b, p, strlen(p)));
        size_t n = digit_run(p + 1);
        if (p[1 + n] != ')' || n < AI_DIGITS_MIN || n > AI_DIGITS_MAX)
            return cc_errf(eb, CC_ERR_INVALID,
                           "element string: an AI at character %zu is not 2 to 4 digits in brackets: \"%s\"",
                           (size_t)(p - s) + 1, show(b, p, strlen(p)));
        const ai_def *ai = ai_exact(p + 1, n);
        if (!ai) return cc_errf(eb, CC_ERR_INVALID, "unknown AI (%.*s)", (int)n, p + 1);
        const char *v = p + 2 + n;
        size_t len = strcspn(v, "(");
        cc_err rc = ai_value(ai, v, len, id, &seen, eb);
        if (rc != CC_OK) return rc;
        p = v + len;
    }
    return CC_OK;
}

/* "0100312345678906172812311\x1d" ...: fixed-length fields need no GS after
 * them (one is tolerated); a variable one runs to a GS or the end. */
static cc_err es_plain(const char *s, const char *p, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    uint32_t seen = 0;
    if (*p == GS) p++; /* a leading FNC1, as some scanners send it */
    while (*p) {
        const ai_def *ai = ai_at(p);
        if (!ai) {
            size_t n = digit_run(p);
            if (n < AI_DIGITS_MIN)
                return cc_errf(eb, CC_ERR_INVALID,
                               "element string: expected an AI at character %zu, found \"%s\"",
                               (size_t)(p - s) + 1, show(b, p, strlen(p)));
            size_t guess = ai_len_guess(p);
            return cc_errf(eb, CC_ERR_INVALID, "unknown AI (%.*s) at character %zu",
                           (int)(n < guess ? n : guess), p, (size_t)(p - s) + 1);
        }
        const char *v = p + strlen(ai->ai);
        size_t len = 0;
        if (ai->fixed) {
            while (len < ai->fixed && v[len] && v[len] != GS) len++;
        } else {
            len = strcspn(v, "\x1d");
        }
        cc_err rc = ai_value(ai, v, len, id, &seen, eb);
        if (rc != CC_OK) return rc;
        p = v + len;
        if (*p == GS) p++;
    }
    return CC_OK;
}

/* ---- percent-encoding ------------------------------------------------------------------- */

/* Decode s[0..n) into out (at most max bytes, then NUL). what names the
 * value in messages. Every byte must decode to something other than NUL. */
static cc_err pct_decode(const char *what, const char *s, size_t n, char *out, size_t max, size_t *out_n,
                         cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return cc_errf(eb, CC_ERR_INVALID,
                               "%s \"%s\": '%%' at character %zu is not followed by two hex digits", what,
                               show(b, s, n), i + 1);
            c = (char)(hi * 16 + lo);
            if (c == '\0')
                return cc_errf(eb, CC_ERR_INVALID, "%s \"%s\": %%00 is not allowed", what, show(b, s, n));
            i += 2;
        }
        if (o == max)
            return cc_errf(eb, CC_ERR_INVALID, "%s \"%s\" is longer than %zu characters", what, show(b, s, n),
                           max);
        out[o++] = c;
    }
    out[o] = '\0';
    *out_n = o;
    return CC_OK;
}

/* ---- Digital Link ------------------------------------------------------------------------- */

typedef struct span {
    const char *p;
    size_t n;
} span;

static bool span_is(span s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* The value of ai, percent-decoded, into id. */
static cc_err dl_value(const ai_def *ai, span v, cc_gs1_id *id, uint32_t *seen, cc_errbuf *eb)
{
    char buf[DL_VALUE_MAX + 1];
    size_t n = 0;
    size_t max = ai->max > DL_VALUE_MAX ? DL_VALUE_MAX : ai->max;
    cc_err rc = pct_decode(ai->what, v.p, v.n, buf, max, &n, eb);
    if (rc != CC_OK) return rc;
    return ai_value(ai, buf, n, id, seen, eb);
}

static cc_err dl_query(span q, cc_gs1_id *id, uint32_t *seen, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    const char *end = q.p + q.n;
    for (const char *p = q.p; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        span part = {p, (size_t)((amp ? amp : end) - p)};
        p = amp ? amp + 1 : end;
        const char *eq = memchr(part.p, '=', part.n);
        span key = {part.p, eq ? (size_t)(eq - part.p) : part.n};
        span val = {eq ? eq + 1 : part.p + part.n, eq ? part.n - key.n - 1 : 0};
        if (key.n == 0 || !all_digits(key.p, key.n)) continue; /* linkType=..., context=...: not data */
        if (span_is(key, "01") || span_is(key, "00") || span_is(key, "21"))
            return cc_errf(eb, CC_ERR_INVALID,
                           "Digital Link: AI (%.*s) belongs in the path (/%.*s/...), not the query",
                           (int)key.n, key.p, (int)key.n, key.p);
        const ai_def *ai = key.n <= AI_DIGITS_MAX ? ai_exact(key.p, key.n) : NULL;
        if (!ai)
            return cc_errf(eb, CC_ERR_INVALID, "unknown AI (%s) in the Digital Link query",
                           show(b, key.p, key.n));
        if (ai->field == AI_LOT && id->lot[0])
            return cc_errf(eb, CC_ERR_INVALID,
                           "Digital Link: the lot is given twice (path /10/ and query 10=)");
        cc_err rc = dl_value(ai, val, id, seen, eb);
        if (rc != CC_OK) return rc;
    }
    return CC_OK;
}

/* "https://host[/prefix...]/01/{gtin}[/10/{lot}][/21/{serial}][?17=...&10=...]" or ".../00/{sscc}". */
static cc_err dl_parse(const char *s, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES], c[8];
    const char *p = s + (prefix_ci(s, "https://") ? strlen("https://") : strlen("http://"));
    size_t host_n = strcspn(p, "/?#");
    if (host_n == 0)
        return cc_errf(eb, CC_ERR_INVALID, "Digital Link \"%s\" has no host", show(b, s, strlen(s)));
    for (size_t i = 0; i < host_n; i++)
        if (!is_alnum(p[i]) && !strchr(".-:[]", p[i]))
            return cc_errf(eb, CC_ERR_INVALID, "Digital Link host \"%s\": character %s is not allowed",
                           show(b, p, host_n), show_char(c, p[i]));
    p += host_n;
    span path = {p, strcspn(p, "?#")};
    span query = {path.p + path.n, 0};
    if (*query.p == '?') query.p++, query.n = strcspn(query.p, "#");
    if (path.n > 1 && path.p[path.n - 1] == '/') path.n--; /* one trailing slash */

    span seg[DL_SEGS_MAX];
    size_t count = 0;
    for (const char *q = path.p; q < path.p + path.n;) {
        q++; /* the '/' */
        const char *slash = memchr(q, '/', (size_t)(path.p + path.n - q));
        const char *stop = slash ? slash : path.p + path.n;
        if (count == DL_SEGS_MAX)
            return cc_errf(eb, CC_ERR_INVALID, "Digital Link path has more than %d segments", DL_SEGS_MAX);
        seg[count++] = (span){q, (size_t)(stop - q)};
        q = stop;
    }
    /* The primary key: the first /01/ or /00/ whose value ends an even run
     * of segments, so a custom path prefix may itself contain "01". */
    size_t k = 0;
    while (k < count && !((span_is(seg[k], "01") || span_is(seg[k], "00")) && (count - k) % 2 == 0)) k++;
    if (k == count)
        return cc_errf(eb, CC_ERR_INVALID, "Digital Link \"%s\": no /01/{GTIN} or /00/{SSCC} in the path",
                       show(b, s, strlen(s)));
    uint32_t seen = 0;
    char key[DL_VALUE_MAX + 1];
    size_t key_n = 0;
    cc_err rc = CC_OK;
    if (span_is(seg[k], "00")) {
        if (count - k != 2)
            return cc_errf(eb, CC_ERR_INVALID, "Digital Link: an SSCC (/00/) takes nothing more in the path");
        rc = pct_decode("SSCC", seg[k + 1].p, seg[k + 1].n, key, DL_VALUE_MAX, &key_n, eb);
        if (rc == CC_OK) rc = sscc_from("SSCC", key, key_n, id->sscc, eb);
        if (rc == CC_OK) seen |= UINT32_C(1) << (ai_exact("00", 2) - ai_table);
    } else {
        rc = pct_decode("GTIN", seg[k + 1].p, seg[k + 1].n, key, DL_VALUE_MAX, &key_n, eb);
        if (rc == CC_OK) rc = gtin_from("GTIN", key, key_n, id->gtin, eb);
        if (rc == CC_OK) seen |= UINT32_C(1) << (ai_exact("01", 2) - ai_table);
        for (size_t i = k + 2; rc == CC_OK && i < count; i += 2) {
            if (span_is(seg[i], "10") && id->serial[0])
                return cc_errf(eb, CC_ERR_INVALID,
                               "Digital Link: the lot (/10/) must come before the serial (/21/)");
            if (!span_is(seg[i], "10") && !span_is(seg[i], "21"))
                return cc_errf(eb, CC_ERR_INVALID,
                               "Digital Link: /%s/ after the GTIN is not a key qualifier we read "
                               "(expected /10/ lot or /21/ serial)",
                               show(b, seg[i].p, seg[i].n));
            rc = dl_value(ai_exact(seg[i].p, seg[i].n), seg[i + 1], id, &seen, eb);
        }
    }
    if (rc == CC_OK) rc = dl_query(query, id, &seen, eb);
    return rc;
}

/* ---- EPC URIs ----------------------------------------------------------------------------- */

/* Characters an EPC URI component carries as themselves (TDS 1.13 table
 * I.3.1-1: set 82 less " % & / < > ?, which are written %22 %25 %26 %2F
 * %3C %3E %3F). */
static bool epc_plain(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!'()*+,-.:;=_", c) != NULL);
}

/* An EPC serial or extension s[0..n) -> set-82 text in out (max chars). */
static cc_err epc_text(const char *what, const char *s, size_t n, char *out, size_t max, cc_errbuf *eb)
{
    char b[SHOW_BYTES], c[8];
    for (size_t i = 0; i < n; i++)
        if (s[i] != '%' && !epc_plain(s[i])) {
            if (cset82(s[i]))
                return cc_errf(eb, CC_ERR_INVALID, "EPC %s \"%s\": %s must be written %%%02X in an EPC URI",
                               what, show(b, s, n), show_char(c, s[i]), (unsigned char)s[i]);
            return cc_errf(eb, CC_ERR_INVALID,
                           "EPC %s \"%s\": character %zu (%s) is not in the GS1 character set 82", what,
                           show(b, s, n), i + 1, show_char(c, s[i]));
        }
    size_t got = 0;
    cc_err rc = pct_decode(what, s, n, out, max, &got, eb);
    if (rc == CC_OK) rc = text_check(what, out, got, max, eb);
    return rc;
}

/* "Prefix.Ref" at p: the two digit runs, which must total want digits
 * with a prefix of 6..12; *next is what follows Ref. */
static cc_err epc_refs(const char *uri, const char *p, size_t want, const char *ref_name, span *prefix,
                       span *ref, const char **next, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    prefix->p = p;
    prefix->n = digit_run(p);
    if (p[prefix->n] != '.')
        return cc_errf(eb, CC_ERR_INVALID, "EPC URI \"%s\": expected the company prefix digits then '.'",
                       show(b, uri, strlen(uri)));
    if (prefix->n < CC_GS1_PREFIX_MIN || prefix->n > CC_GS1_PREFIX_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "EPC URI \"%s\": company prefix has %zu digits, not 6..12",
                       show(b, uri, strlen(uri)), prefix->n);
    ref->p = p + prefix->n + 1;
    ref->n = digit_run(ref->p);
    if (prefix->n + ref->n != want)
        return cc_errf(eb, CC_ERR_INVALID,
                       "EPC URI \"%s\": the company prefix and %s have %zu digits together, not %zu",
                       show(b, uri, strlen(uri)), ref_name, prefix->n + ref->n, want);
    *next = ref->p + ref->n;
    return CC_OK;
}

static cc_err epc_sgtin(const char *s, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    span prefix, ref;
    const char *p = NULL;
    cc_err rc = epc_refs(s, s + strlen(EPC_SGTIN), SGTIN_REF_DIGITS,
                         "the item reference (with its indicator digit)", &prefix, &ref, &p, eb);
    if (rc != CC_OK) return rc;
    if (*p != '.')
        return cc_errf(eb, CC_ERR_INVALID,
                       "EPC URI \"%s\": expected '.' and the serial after the item reference",
                       show(b, s, strlen(s)));
    rc = epc_text("serial", p + 1, strlen(p + 1), id->serial, CC_GS1_SERIAL_MAX, eb);
    if (rc != CC_OK) return rc;
    id->gtin[0] = ref.p[0];
    memcpy(id->gtin + 1, prefix.p, prefix.n);
    memcpy(id->gtin + 1 + prefix.n, ref.p + 1, ref.n - 1);
    id->gtin[CC_GS1_GTIN_DIGITS - 1] = (char)('0' + check_digit(id->gtin, CC_GS1_GTIN_DIGITS - 1));
    id->gtin[CC_GS1_GTIN_DIGITS] = '\0';
    id->prefix_len = (unsigned)prefix.n;
    return CC_OK;
}

static cc_err epc_sscc(const char *s, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES], b2[SHOW_BYTES];
    span prefix, ref;
    const char *p = NULL;
    cc_err rc = epc_refs(s, s + strlen(EPC_SSCC), SSCC_REF_DIGITS,
                         "the serial reference (with its extension digit)", &prefix, &ref, &p, eb);
    if (rc != CC_OK) return rc;
    if (*p)
        return cc_errf(eb, CC_ERR_INVALID, "EPC URI \"%s\": unexpected \"%s\" after the serial reference",
                       show(b, s, strlen(s)), show(b2, p, strlen(p)));
    id->sscc[0] = ref.p[0];
    memcpy(id->sscc + 1, prefix.p, prefix.n);
    memcpy(id->sscc + 1 + prefix.n, ref.p + 1, ref.n - 1);
    id->sscc[CC_GS1_SSCC_DIGITS - 1] = (char)('0' + check_digit(id->sscc, CC_GS1_SSCC_DIGITS - 1));
    id->sscc[CC_GS1_SSCC_DIGITS] = '\0';
    id->prefix_len = (unsigned)prefix.n;
    return CC_OK;
}

static cc_err epc_parse(const char *s, cc_gs1_id *id, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    if (strncmp(s, EPC_SGTIN, strlen(EPC_SGTIN)) == 0) return epc_sgtin(s, id, eb);
    if (strncmp(s, EPC_SSCC, strlen(EPC_SSCC)) == 0) return epc_sscc(s, id, eb);
    if (strncmp(s, EPC_SGLN, strlen(EPC_SGLN)) == 0 || strncmp(s, EPC_PGLN, strlen(EPC_PGLN)) == 0)
        return cc_errf(eb, CC_ERR_INVALID,
                       "EPC URI \"%s\" names a location or party (GLN), not a unit or case",
                       show(b, s, strlen(s)));
    if (strncmp(s, EPC_ID, strlen(EPC_ID)) == 0)
        return cc_errf(eb, CC_ERR_INVALID,
                       "EPC URI \"%s\": only urn:epc:id:sgtin: and urn:epc:id:sscc: are read",
                       show(b, s, strlen(s)));
    return cc_errf(eb, CC_ERR_INVALID, "\"%s\" is not an EPC pure identity URI (urn:epc:id:...)",
                   show(b, s, strlen(s)));
}

cc_err cc_gs1_gln_prefix(const char *uri, char prefix[CC_GS1_PREFIX_MAX + 1], cc_errbuf *eb)
{
    char b[SHOW_BYTES], b2[SHOW_BYTES], ext[GLN_EXT_MAX + 1];
    span pre, ref;
    const char *p = NULL;
    cc_err rc = CC_OK;
    assert(prefix);
    prefix[0] = '\0';
    if (!uri) uri = "";
    if (strncmp(uri, EPC_SGLN, strlen(EPC_SGLN)) == 0) {
        rc = epc_refs(uri, uri + strlen(EPC_SGLN), GLN_REF_DIGITS, "the location reference", &pre, &ref, &p,
                      eb);
        if (rc == CC_OK && *p != '.')
            rc = cc_errf(eb, CC_ERR_INVALID,
                         "EPC URI \"%s\": expected '.' and the extension after the location "
                         "reference",
                         show(b, uri, strlen(uri)));
        if (rc == CC_OK) rc = epc_text("extension", p + 1, strlen(p + 1), ext, GLN_EXT_MAX, eb);
    } else if (strncmp(uri, EPC_PGLN, strlen(EPC_PGLN)) == 0) {
        rc = epc_refs(uri, uri + strlen(EPC_PGLN), GLN_REF_DIGITS, "the party reference", &pre, &ref, &p, eb);
        if (rc == CC_OK && *p)
            rc = cc_errf(eb, CC_ERR_INVALID, "EPC URI \"%s\": unexpected \"%s\" after the party reference",
                         show(b, uri, strlen(uri)), show(b2, p, strlen(p)));
    } else {
        rc = cc_errf(eb, CC_ERR_INVALID,
                     "\"%s\" is not a GLN URI (urn:epc:id:sgln:... or urn:epc:id:pgln:...)",
                     show(b, uri, strlen(uri)));
    }
    if (rc != CC_OK) return rc;
    memcpy(prefix, pre.p, pre.n);
    prefix[pre.n] = '\0';
    return CC_OK;
}

/* ---- any form --------------------------------------------------------------------------------- */

/* Symbology identifiers of the GS1 carriers: DataMatrix, GS1-128, QR Code. */
static const char *const gs1_symbologies[] = {"]d2", "]C1", "]Q3"};
/* Carriers of a plain Digital Link URI: DataMatrix and QR Code without FNC1. */
static const char *const dl_symbologies[] = {"]d1", "]Q1"};
#define SYMBOLOGY_CHARS 3

static bool one_of(const char *s, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strncmp(s, list[i], SYMBOLOGY_CHARS) == 0) return true;
    return false;
}

static bool is_dl(const char *s)
{
    return prefix_ci(s, "https://") || prefix_ci(s, "http://");
}

/* The rules that tie the fields together. */
static cc_err id_finish(cc_gs1_id *id, bool need_serial, cc_errbuf *eb)
{
    if (id->gtin[0] && id->sscc[0])
        return cc_errf(eb, CC_ERR_INVALID, "both an SSCC (00) and a GTIN (01): give one identifier");
    if (id->sscc[0] && id->serial[0])
        return cc_errf(eb, CC_ERR_INVALID, "a serial (21) goes with a GTIN (01), not with an SSCC (00)");
    if (!id->gtin[0] && !id->sscc[0]) return cc_errf(eb, CC_ERR_INVALID, "no GTIN (01) or SSCC (00)");
    id->kind = id->sscc[0] ? CC_GS1_SSCC : CC_GS1_SGTIN;
    if (id->kind == CC_GS1_SGTIN && need_serial && !id->serial[0])
        return cc_errf(eb, CC_ERR_INVALID, "GTIN %s has no serial (21): a unit needs GTIN and serial",
                       id->gtin);
    return CC_OK;
}

static cc_err parse_any(const char *text, cc_gs1_id *out, bool need_serial, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    cc_gs1_id id;
    cc_err rc = CC_OK;
    assert(out);
    memset(out, 0, sizeof *out);
    memset(&id, 0, sizeof id);
    const char *s = text ? text : "";
    if (!*s) return cc_errf(eb, CC_ERR_INVALID, "the identifier is empty");
    if (s[0] == ']' && one_of(s, dl_symbologies, 2) && is_dl(s + SYMBOLOGY_CHARS)) {
        rc = dl_parse(s + SYMBOLOGY_CHARS, &id, eb);
    } else if (s[0] == ']') {
        if (!one_of(s, gs1_symbologies, 3))
            return cc_errf(eb, CC_ERR_INVALID,
                           "symbology identifier \"%s\" is not GS1 DataMatrix (]d2), GS1-128 (]C1) or GS1 QR "
                           "(]Q3)",
                           show(b, s, strnlen(s, SYMBOLOGY_CHARS)));
        const char *p = s + SYMBOLOGY_CHARS;
        if (!*p) return cc_errf(eb, CC_ERR_INVALID, "element string is empty after the symbology identifier");
        rc = *p == '(' ? es_bracketed(s, p, &id, eb) : es_plain(s, p, &id, eb);
    } else if (s[0] == '(') {
        rc = es_bracketed(s, s, &id, eb);
    } else if (is_digit(s[0]) || s[0] == GS) {
        rc = es_plain(s, s, &id, eb);
    } else if (is_dl(s)) {
        rc = dl_parse(s, &id, eb);
    } else if (prefix_ci(s, "urn:")) {
        rc = epc_parse(s, &id, eb);
    } else {
        rc = cc_errf(eb, CC_ERR_INVALID,
                     "\"%s\" is not a GS1 identifier: expected an element string ((01)...), a Digital Link "
                     "(https://.../01/...) or an EPC URI (urn:epc:id:...)",
                     show(b, s, strlen(s)));
    }
    if (rc == CC_OK) rc = id_finish(&id, need_serial, eb);
    if (rc == CC_OK) *out = id;
    return rc;
}

cc_err cc_gs1_parse(const char *text, cc_gs1_id *out, cc_errbuf *eb)
{
    return parse_any(text, out, true, eb);
}

cc_err cc_gs1_parse_class(const char *text, cc_gs1_id *out, cc_errbuf *eb)
{
    return parse_any(text, out, false, eb);
}

/* ---- writers ------------------------------------------------------------------------------------- */

/* Output into a caller's buffer that remembers how much it would need. */
typedef struct sink {
    char *buf;
    size_t cap, len;
} sink;

static void put(sink *o, const char *s, size_t n)
{
    if (o->len + n < o->cap) memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(sink *o, const char *s)
{
    put(o, s, strlen(s));
}

/* s with every character not in keep written %HH. */
static void put_escaped(sink *o, const char *s, bool (*keep)(char))
{
    for (; *s; s++) {
        if (keep(*s)) {
            put(o, s, 1);
        } else {
            char e[3] = {'%', HEX_DIGITS[(unsigned char)*s >> 4], HEX_DIGITS[*s & 0xf]};
            put(o, e, sizeof e);
        }
    }
}

static cc_err sink_end(sink *o, const char *what, cc_errbuf *eb)
{
    if (o->len >= o->cap) {
        if (o->cap) o->buf[0] = '\0';
        return cc_errf(eb, CC_ERR_TOO_LARGE, "the %s needs %zu bytes, the buffer has %zu", what, o->len + 1,
                       o->cap);
    }
    o->buf[o->len] = '\0';
    return CC_OK;
}

static cc_err gtin14_check(const char *gtin, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    size_t n = gtin ? strlen(gtin) : 0;
    if (n != CC_GS1_GTIN_DIGITS)
        return cc_errf(eb, CC_ERR_INVALID, "GTIN \"%s\" is not 14 digits (normalise it first)",
                       show(b, gtin ? gtin : "", n));
    char tmp[CC_GS1_GTIN_DIGITS + 1];
    return gtin_from("GTIN", gtin, n, tmp, eb);
}

static cc_err prefix_len_check(unsigned prefix_len, cc_errbuf *eb)
{
    if (prefix_len < CC_GS1_PREFIX_MIN || prefix_len > CC_GS1_PREFIX_MAX)
        return cc_errf(eb, CC_ERR_INVALID, "company prefix length %u is outside 6..12", prefix_len);
    return CC_OK;
}

cc_err cc_gs1_sgtin_uri(const char *gtin, const char *serial, unsigned prefix_len, char *out, size_t cap,
                        cc_errbuf *eb)
{
    assert(out || cap == 0);
    if (cap) out[0] = '\0';
    cc_err rc = gtin14_check(gtin, eb);
    if (rc == CC_OK)
        rc = text_check("serial", serial ? serial : "", serial ? strlen(serial) : 0, CC_GS1_SERIAL_MAX, eb);
    if (rc == CC_OK) rc = prefix_len_check(prefix_len, eb);
    if (rc != CC_OK) return rc;
    sink o = {out, cap, 0};
    puts_(&o, EPC_SGTIN);
    put(&o, gtin + 1, prefix_len);
    put(&o, ".", 1);
    put(&o, gtin, 1);
    put(&o, gtin + 1 + prefix_len, CC_GS1_GTIN_DIGITS - 2 - prefix_len);
    put(&o, ".", 1);
    put_escaped(&o, serial, epc_plain);
    return sink_end(&o, "EPC URI", eb);
}

cc_err cc_gs1_sscc_uri(const char *sscc, unsigned prefix_len, char *out, size_t cap, cc_errbuf *eb)
{
    char b[SHOW_BYTES];
    assert(out || cap == 0);
    if (cap) out[0] = '\0';
    char tmp[CC_GS1_SSCC_DIGITS + 1];
    size_t n = sscc ? strlen(sscc) : 0;
    cc_err rc = n == CC_GS1_SSCC_DIGITS ? sscc_from("SSCC", sscc, n, tmp, eb)
                                        : cc_errf(eb, CC_ERR_INVALID, "SSCC \"%s\" is not 18 digits",
                                                  show(b, sscc ? sscc : "", n));
    if (rc == CC_OK) rc = prefix_len_check(prefix_len, eb);
    if (rc != CC_OK) return rc;
    sink o = {out, cap, 0};
    puts_(&o, EPC_SSCC);
    put(&o, sscc + 1, prefix_len);
    put(&o, ".", 1);
    put(&o, sscc, 1);
    put(&o, sscc + 1 + prefix_len, CC_GS1_SSCC_DIGITS - 2 - prefix_len);
    return sink_end(&o, "EPC URI", eb);
}

/* RFC 3986 unreserved characters: a Digital Link writes every other one %HH. */
static bool dl_plain(char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

cc_err cc_gs1_digital_link(const cc_gs1_id *id, char *out, size_t cap, cc_errbuf *eb)
{
    assert(id && (out || cap == 0));
    if (cap) out[0] = '\0';
    cc_err rc = CC_OK;
    char tmp[CC_GS1_SSCC_DIGITS + 1];
    if (id->kind == CC_GS1_SSCC)
        rc = sscc_from("SSCC", id->sscc, strnlen(id->sscc, sizeof id->sscc), tmp, eb);
    else if (id->kind == CC_GS1_SGTIN)
        rc = gtin14_check(id->gtin, eb);
    else
        rc = cc_errf(eb, CC_ERR_INVALID, "identifier kind %d is neither SGTIN nor SSCC", (int)id->kind);
    if (rc == CC_OK && id->kind == CC_GS1_SGTIN && id->serial[0])
        rc = text_check("serial", id->serial, strnlen(id->serial, sizeof id->serial), CC_GS1_SERIAL_MAX, eb);
    if (rc == CC_OK && id->lot[0])
        rc = text_check("lot", id->lot, strnlen(id->lot, sizeof id->lot), CC_GS1_LOT_MAX, eb);
    if (rc == CC_OK && id->exp[0])
        rc = date6_check("AI (17) expiry", id->exp, strnlen(id->exp, sizeof id->exp), eb);
    if (rc != CC_OK) return rc;

    sink o = {out, cap, 0};
    puts_(&o, DL_HOST);
    const char *sep = "?";
    if (id->kind == CC_GS1_SSCC) {
        puts_(&o, "/00/");
        puts_(&o, id->sscc);
        if (id->lot[0]) {
            puts_(&o, "?10=");
            put_escaped(&o, id->lot, dl_plain);
            sep = "&";
        }
    } else {
        puts_(&o, "/01/");
        puts_(&o, id->gtin);
        if (id->lot[0]) puts_(&o, "/10/"), put_escaped(&o, id->lot, dl_plain);
        if (id->serial[0]) puts_(&o, "/21/"), put_escaped(&o, id->serial, dl_plain);
    }
    if (id->exp[0]) puts_(&o, sep), puts_(&o, "17="), puts_(&o, id->exp);
    return sink_end(&o, "Digital Link", eb);
}
