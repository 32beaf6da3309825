/*
 * json.c — strict JSON parsing and the canonical payload form.
 *
 * Canonical form: a JSON object dumped by jansson with JSON_COMPACT |
 * JSON_SORT_KEYS (keys in bytewise order, no spaces, UTF-8 kept as is), and
 * no real numbers anywhere (determinism; money is integer cents). A payload
 * is valid only when its bytes are exactly that form, so each payload has
 * one encoding.
 */
#include <stdlib.h>
#include <string.h>

#include "carechain.h"

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

json_t *cc_json_parse(const uint8_t *buf, size_t len, cc_errbuf *eb)
{
    json_error_t jerr;
    if (!buf || len == 0) {
        cc_errf(eb, CC_ERR_MALFORMED, "invalid JSON: the text is empty");
        return NULL;
    }
    json_t *v = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        /* jansson quotes the text where it stopped ("near 'xyz'"): a
         * payload's bytes, which may be health data, never go into a
         * message (they reach answers and logs); the position says where */
        char *near = strstr(jerr.text, " near ");
        if (near) *near = '\0';
        cc_errf(eb, CC_ERR_MALFORMED, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                jerr.text);
    }
    return v;
}

/* Is there a real number anywhere in v? (The fast path: no paths built.) */
static bool any_real(const json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_real(v)) return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            if (any_real(x)) return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (any_real(x)) return true;
        }
    }
    return false;
}

/* Depth-first search for a real number; on a hit, path holds where it is
 * (".a.b[2]"), cut to fit. Run only once any_real has found one. */
static bool has_real(const json_t *v, char *path, size_t used, size_t cap)
{
    if (json_is_real(v)) return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            int n = snprintf(path + used, cap - used, ".%s", k);
            size_t next = used + (n > 0 ? (size_t)n : 0);
            if (has_real(x, path, next < cap ? next : cap - 1, cap)) return true;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            int n = snprintf(path + used, cap - used, "[%zu]", i);
            size_t next = used + (n > 0 ? (size_t)n : 0);
            if (has_real(x, path, next < cap ? next : cap - 1, cap)) return true;
        }
    }
    path[used] = '\0';
    return false;
}

bool cc_json_str_plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\') return false;
    return true;
}

char *cc_json_dump(const json_t *v)
{
    return json_dumps(v, CANONICAL_FLAGS | JSON_ENCODE_ANY);
}

cc_err cc_json_canonical(const uint8_t *buf, size_t len, char **out, size_t *out_len, cc_errbuf *eb)
{
    return cc_json_canonical_parse(buf, len, out, out_len, NULL, eb);
}

cc_err cc_json_canonical_parse(const uint8_t *buf, size_t len, char **out, size_t *out_len, json_t **parsed,
                               cc_errbuf *eb)
{
    char path[256] = "";
    cc_err rc = CC_OK;
    json_t *v = cc_json_parse(buf, len, eb);
    if (!v) return CC_ERR_MALFORMED;
    if (!json_is_object(v)) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "payload must be a JSON object");
        goto done;
    }
    if (any_real(v) && has_real(v, path, 0, sizeof path)) {
        rc =
            cc_errf(eb, CC_ERR_MALFORMED,
                    "payload holds a real number at %s; use an integer (cents, for money) or a string", path);
        goto done;
    }
    char *s = json_dumps(v, CANONICAL_FLAGS);
    if (!s) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory dumping JSON");
        goto done;
    }
    *out = s;
    *out_len = strlen(s);
    /* parsed from the canonical text, not the caller's: its keys then go
     * in the order every node that decodes the tx sees them, and exec's
     * answers cannot depend on how the payload was first written (the
     * first unknown field a check names, for one) */
    if (parsed && !(*parsed = cc_json_parse((const uint8_t *)s, *out_len, eb))) {
        free(s);
        *out = NULL;
        rc = CC_ERR_NOMEM;
    }
done:
    json_decref(v);
    return rc;
}

/* json_dump_callback sink that compares the dump with the expected bytes
 * as it goes (nothing is allocated for the text) and stops at the first
 * difference. */
typedef struct canon_cmp {
    const char *want;
    size_t len, at;
    bool differs;
} canon_cmp;

static int canon_cmp_chunk(const char *buf, size_t n, void *data)
{
    canon_cmp *c = data;
    if (n > c->len - c->at || memcmp(c->want + c->at, buf, n) != 0) {
        c->differs = true;
        return -1;
    }
    c->at += n;
    return 0;
}

#define LEX_DEPTH 64

/* Bytewise order of two keys given as raw bytes without escapes (strcmp's
 * order for strings without NUL). */
static int key_order(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

/* A fast, conservative test of canonical form on text that jansson has
 * parsed (valid JSON, no real numbers): true only when the text is plainly
 * what json_dumps(JSON_COMPACT | JSON_SORT_KEYS) writes for it, i.e. no
 * whitespace, no escape sequence in any string (so a string's bytes are
 * what the dump writes, and keys compare as their bytes), integers as
 * "%lld" writes them, and each object's keys in increasing bytewise order.
 * false means "not shown": the caller asks jansson's dump. */
static bool plainly_canonical(const uint8_t *p, size_t len)
{
    const uint8_t *key[LEX_DEPTH];
    size_t key_len[LEX_DEPTH], depth = 0, i = 0;
    bool is_obj[LEX_DEPTH];
    while (i < len) {
        uint8_t c = p[i];
        if (c == '{' || c == '[') {
            if (depth == LEX_DEPTH) return false;
            is_obj[depth] = c == '{';
            key[depth] = NULL;
            key_len[depth++] = 0;
            i++;
        } else if (c == '}' || c == ']' || c == ',' || c == ':') {
            if (c == '}' || c == ']') depth--;
            i++;
        } else if (c == '"') {
            size_t start = ++i;
            while (i < len && p[i] != '"') {
                if (p[i] == '\\') return false;
                i++;
            }
            if (i == len) return false;
            /* a key: followed by ':' in an object */
            if (i + 1 < len && p[i + 1] == ':' && depth > 0 && is_obj[depth - 1]) {
                size_t d = depth - 1, n = i - start;
                if (key[d] && key_order(key[d], key_len[d], p + start, n) >= 0) return false;
                key[d] = p + start;
                key_len[d] = n;
            }
            i++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            if (c == '-') i++;
            if (i == len || p[i] < '0' || p[i] > '9') return false;
            if (p[i] == '0' && (c == '-' || (i + 1 < len && p[i + 1] >= '0' && p[i + 1] <= '9')))
                return false;
            while (i < len && p[i] >= '0' && p[i] <= '9') i++;
            if (i - start > 20) return false;
        } else if (len - i >= 4 && (memcmp(p + i, "true", 4) == 0 || memcmp(p + i, "null", 4) == 0)) {
            i += 4;
        } else if (len - i >= 5 && memcmp(p + i, "false", 5) == 0) {
            i += 5;
        } else {
            return false; /* whitespace, or anything unexpected */
        }
    }
    return depth == 0;
}

cc_err cc_json_canonical_check(const uint8_t *buf, size_t len, json_t **parsed, cc_errbuf *eb)
{
    char path[256] = "";
    cc_err rc = CC_OK;
    json_t *v = cc_json_parse(buf, len, eb);
    if (!v) return CC_ERR_MALFORMED;
    if (!json_is_object(v)) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "payload must be a JSON object");
        goto done;
    }
    if (any_real(v) && has_real(v, path, 0, sizeof path)) {
        rc =
            cc_errf(eb, CC_ERR_MALFORMED,
                    "payload holds a real number at %s; use an integer (cents, for money) or a string", path);
        goto done;
    }
    if (plainly_canonical(buf, len)) goto ok;
    canon_cmp c = {(const char *)buf, len, 0, false};
    if (json_dump_callback(v, canon_cmp_chunk, &c, CANONICAL_FLAGS) != 0 && !c.differs) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory dumping JSON");
        goto done;
    }
    if (c.differs || c.at != len) {
        rc = cc_errf(eb, CC_ERR_MALFORMED, "payload is not in canonical form (compact, keys sorted)");
        goto done;
    }
ok:
    if (parsed) *parsed = json_incref(v);
done:
    json_decref(v);
    return rc;
}
