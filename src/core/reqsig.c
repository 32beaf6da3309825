/*
 * reqsig.c — signed requests: carechain's profile of RFC 9421 (HTTP Message
 * Signatures) with an RFC 9530 Content-Digest (docs/RECORDS.md "Signed
 * requests").
 *
 * The profile admits exactly one shape, so the parser is a matcher rather
 * than a general structured-field parser:
 *
 *   Content-Digest:  sha-256=:<base64 of 32 bytes>:
 *   Signature-Input: cc=("@method" "@path" "@query" "content-digest")
 *                       ;created=<int>;keyid="<64 hex>";alg="ed25519"[;nonce="<16..64>"]  (one line)
 *   Signature:       cc=:<base64 of 64 bytes>:
 *
 * (created, keyid and alg in any order, each exactly once; an optional
 * nonce, which our signer always sends; no others). The
 * signature base is five lines joined by '\n' with no final newline; the
 * last one repeats the Signature-Input value after "cc=" byte for byte.
 * Pure code: the caller passes the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "carechain/records.h"
#include "core/date.h"

#define REQSIG_COMPONENTS     "(\"@method\" \"@path\" \"@query\" \"content-digest\")"
#define REQSIG_ALG            "ed25519"
#define REQSIG_DIGEST_PREFIX  "sha-256=:"
#define REQSIG_CREATED_DIGITS 15 /* an RFC 8941 integer has at most 15 digits */
#define REQSIG_METHOD_MAX     16

/* ---- shared pieces ---------------------------------------------------------- */

/* Decode exactly want bytes of padded standard base64 from s[0..n). */
static bool b64_exact(const char *s, size_t n, uint8_t *out, size_t want)
{
    size_t got = 0;
    const char *end = NULL;
    uint8_t buf[CC_SIG_BYTES + 3];
    if (want > CC_SIG_BYTES || n != sodium_base64_encoded_len(want, sodium_base64_VARIANT_ORIGINAL) - 1)
        return false;
    if (sodium_base642bin(buf, sizeof buf, s, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != s + n || got != want)
        return false;
    memcpy(out, buf, want);
    return true;
}

/* The request method: an upper-case token (GET, POST, ...). */
static bool method_valid(const char *m)
{
    size_t n = m ? strlen(m) : 0;
    if (n == 0 || n > REQSIG_METHOD_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    return true;
}

/* Visible ASCII without the characters that end a path or a query. */
static bool uri_part_valid(const char *s, const char *forbidden)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || strchr(forbidden, *s)) return false;
    return true;
}

static bool path_valid(const char *path)
{
    return path && path[0] == '/' && uri_part_valid(path, "?#");
}

/* "sha-256=:<base64>:" of body into out (at least 64 bytes). */
static void content_digest(const uint8_t *body, size_t len, char out[64])
{
    uint8_t h[CC_HASH_BYTES];
    char b64[sodium_base64_ENCODED_LEN(CC_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    crypto_hash_sha256(h, len ? body : (const uint8_t *)"", len);
    sodium_bin2base64(b64, sizeof b64, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, 64, REQSIG_DIGEST_PREFIX "%s:", b64);
}

/* The signature base (RFC 9421 §2.5); caller frees. NULL on OOM. */
static char *signature_base(const char *method, const char *path, const char *query, const char *digest,
                            const char *params, size_t *len)
{
    char *base = NULL;
    int n = asprintf(&base,
                     "\"@method\": %s\n"
                     "\"@path\": %s\n"
                     "\"@query\": ?%s\n"
                     "\"content-digest\": %s\n"
                     "\"@signature-params\": %s",
                     method, path, query, digest, params);
    if (n < 0) return NULL;
    *len = (size_t)n;
    return base;
}

#define REQSIG_NONCE_MIN 16
#define REQSIG_NONCE_MAX 64

/* ---- signing ------------------------------------------------------------------ */

cc_err cc_reqsig_sign(const cc_key *key, const char *method, const char *path, const char *query,
                      const uint8_t *body, size_t len, int64_t created_s, cc_reqsig_headers *out,
                      cc_errbuf *eb)
{
    uint8_t rnd[CC_REQSIG_NONCE_BYTES];
    char nonce[2 * CC_REQSIG_NONCE_BYTES + 1];
    randombytes_buf(rnd, sizeof rnd);
    return cc_reqsig_sign_nonce(key, method, path, query, body, len, created_s,
                                cc_hex(rnd, sizeof rnd, nonce), out, eb);
}

/* A nonce is 16..64 characters of [A-Za-z0-9_-] (no quoting needed). */
static bool nonce_valid(const char *n, size_t len)
{
    if (len < REQSIG_NONCE_MIN || len > REQSIG_NONCE_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

cc_err cc_reqsig_sign_nonce(const cc_key *key, const char *method, const char *path, const char *query,
                            const uint8_t *body, size_t len, int64_t created_s, const char *nonce,
                            cc_reqsig_headers *out, cc_errbuf *eb)
{
    char keyid[2 * CC_PUBKEY_BYTES + 1];
    char sig_b64[sodium_base64_ENCODED_LEN(CC_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    uint8_t sig[CC_SIG_BYTES];
    size_t base_len = 0;

    memset(out, 0, sizeof *out);
    if (!query) query = "";
    if (!method_valid(method))
        return cc_errf(eb, CC_ERR_USAGE, "the method must be an upper-case token such as GET");
    if (!path_valid(path))
        return cc_errf(eb, CC_ERR_USAGE, "the path must start with / and hold visible ASCII without ? or #");
    if (!uri_part_valid(query, "#"))
        return cc_errf(eb, CC_ERR_USAGE, "the query must be visible ASCII without #, as sent, without the ?");
    if (len > 0 && !body)
        return cc_errf(eb, CC_ERR_USAGE, "a body of %zu bytes was announced but not given", len);
    if (created_s < 0) return cc_errf(eb, CC_ERR_USAGE, "created must not be negative");
    if (nonce && !nonce_valid(nonce, strlen(nonce)))
        return cc_errf(eb, CC_ERR_USAGE, "a nonce is 16..64 characters of letters, digits, - and _");

    cc_hex(key->pk, CC_PUBKEY_BYTES, keyid);
    content_digest(body, len, out->content_digest);
    int n =
        snprintf(out->signature_input, sizeof out->signature_input,
                 CC_REQSIG_LABEL "=" REQSIG_COMPONENTS ";created=%lld;keyid=\"%s\";alg=\"" REQSIG_ALG "\"",
                 (long long)created_s, keyid);
    if (nonce && n > 0 && (size_t)n < sizeof out->signature_input)
        snprintf(out->signature_input + n, sizeof out->signature_input - (size_t)n, ";nonce=\"%s\"", nonce);
    const char *params = out->signature_input + strlen(CC_REQSIG_LABEL "=");

    char *base = signature_base(method, path, query, out->content_digest, params, &base_len);
    if (!base) {
        memset(out, 0, sizeof *out);
        return cc_errf(eb, CC_ERR_NOMEM, "no memory for the signature base");
    }
    crypto_sign_detached(sig, NULL, (const uint8_t *)base, base_len, key->sk);
    free(base);
    sodium_bin2base64(sig_b64, sizeof sig_b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out->signature, sizeof out->signature, CC_REQSIG_LABEL "=:%s:", sig_b64);
    return CC_OK;
}

/* ---- verification --------------------------------------------------------------- */

/* A header value without the optional whitespace around it: [*start, *start + *n). */
static void trim_ows(const char *v, const char **start, size_t *n)
{
    size_t len = strlen(v);
    while (len > 0 && (*v == ' ' || *v == '\t')) v++, len--;
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) len--;
    *start = v;
    *n = len;
}

typedef struct sig_params {
    int64_t created_s;
    uint8_t keyid[CC_PUBKEY_BYTES];
} sig_params;

/* One quoted string parameter value at *p (an sf-string without escapes);
 * on success *p is past the closing quote and [val, val + val_len) is the
 * content. */
static bool take_quoted(const char **p, const char *end, const char **val, size_t *val_len)
{
    const char *s = *p;
    if (s >= end || *s != '"') return false;
    const char *q = memchr(s + 1, '"', (size_t)(end - s - 1));
    if (!q) return false;
    for (const char *c = s + 1; c < q; c++)
        if (*c == '\\' || *c < 0x20 || *c > 0x7e) return false;
    *val = s + 1;
    *val_len = (size_t)(q - s - 1);
    *p = q + 1;
    return true;
}

/* Parse the parameters after the component list: ;created=..;keyid="..";alg=".." */
static cc_err parse_params(const char *p, const char *end, sig_params *out, cc_errbuf *eb)
{
    bool have_created = false, have_keyid = false, have_alg = false, have_nonce = false;

    while (p < end) {
        if (*p != ';')
            return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                           "Signature-Input: unexpected text after the parameters (only one signature, "
                           "label " CC_REQSIG_LABEL ", is read)");
        p++;
        const char *name = p;
        while (p < end && ((*p >= 'a' && *p <= 'z') || *p == '-' || *p == '_')) p++;
        size_t name_len = (size_t)(p - name);
        if (p >= end || *p != '=')
            return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: a parameter has no value");
        p++;
        if (name_len == 7 && memcmp(name, "created", 7) == 0) {
            if (have_created)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: created is given twice");
            const char *digits = p;
            while (p < end && *p >= '0' && *p <= '9') p++;
            size_t n = (size_t)(p - digits);
            if (n == 0 || n > REQSIG_CREATED_DIGITS || (p < end && *p != ';'))
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                               "Signature-Input: created must be a non-negative integer of seconds");
            out->created_s = cc_digits_value(digits, n); /* at most 15 digits: no overflow */
            have_created = true;
        } else if (name_len == 5 && memcmp(name, "keyid", 5) == 0) {
            const char *val;
            size_t val_len;
            char hex[2 * CC_PUBKEY_BYTES + 1];
            if (have_keyid)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: keyid is given twice");
            if (!take_quoted(&p, end, &val, &val_len) || val_len != 2 * CC_PUBKEY_BYTES)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                               "Signature-Input: keyid must be a quoted string of 64 hex digits");
            memcpy(hex, val, val_len);
            hex[val_len] = '\0';
            if (cc_unhex(hex, out->keyid, CC_PUBKEY_BYTES) != CC_OK)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                               "Signature-Input: keyid must be a quoted string of 64 hex digits");
            have_keyid = true;
        } else if (name_len == 3 && memcmp(name, "alg", 3) == 0) {
            const char *val;
            size_t val_len;
            if (have_alg) return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: alg is given twice");
            if (!take_quoted(&p, end, &val, &val_len) || val_len != strlen(REQSIG_ALG) ||
                memcmp(val, REQSIG_ALG, val_len) != 0)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: alg must be \"" REQSIG_ALG "\"");
            have_alg = true;
        } else if (name_len == 5 && memcmp(name, "nonce", 5) == 0) {
            const char *val;
            size_t val_len;
            if (have_nonce)
                return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input: nonce is given twice");
            if (!take_quoted(&p, end, &val, &val_len) || !nonce_valid(val, val_len))
                return cc_errf(
                    eb, CC_ERR_UNAUTHENTICATED,
                    "Signature-Input: nonce must be a quoted string of 16..64 letters, digits, - or _");
            have_nonce = true;
        } else {
            return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                           "Signature-Input: parameter \"%.*s\" is not part of this profile (only created, "
                           "keyid, alg, nonce)",
                           (int)(name_len > 32 ? 32 : name_len), name);
        }
    }
    if (!have_created) return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input has no created parameter");
    if (!have_keyid) return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input has no keyid parameter");
    if (!have_alg) return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Signature-Input has no alg parameter");
    return CC_OK;
}

/* Signature-Input: label, component list, parameters. *params is the value
 * after "cc=" (it enters the signature base as it is). */
static cc_err parse_signature_input(const char *header, sig_params *out, const char **params,
                                    size_t *params_len, cc_errbuf *eb)
{
    const char *v;
    size_t n;
    const size_t label_len = strlen(CC_REQSIG_LABEL "="), list_len = strlen(REQSIG_COMPONENTS);

    trim_ows(header, &v, &n);
    if (n < label_len || memcmp(v, CC_REQSIG_LABEL "=", label_len) != 0)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "Signature-Input must hold one signature labelled " CC_REQSIG_LABEL);
    v += label_len;
    n -= label_len;
    if (n < list_len || memcmp(v, REQSIG_COMPONENTS, list_len) != 0)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "Signature-Input must cover exactly the components " REQSIG_COMPONENTS
                       ", in this order");
    cc_err rc = parse_params(v + list_len, v + n, out, eb);
    if (rc != CC_OK) return rc;
    *params = v;
    *params_len = n;
    return CC_OK;
}

/* Signature: cc=:<base64 of 64 bytes>: */
static cc_err parse_signature(const char *header, uint8_t sig[CC_SIG_BYTES], cc_errbuf *eb)
{
    const char *v;
    size_t n;
    const size_t prefix = strlen(CC_REQSIG_LABEL "=:");

    trim_ows(header, &v, &n);
    if (n < prefix + 1 || memcmp(v, CC_REQSIG_LABEL "=:", prefix) != 0 || v[n - 1] != ':' ||
        memchr(v + prefix, ':', n - prefix - 1))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "Signature must be one signature labelled " CC_REQSIG_LABEL ": " CC_REQSIG_LABEL
                       "=:<base64>:");
    if (!b64_exact(v + prefix, n - prefix - 1, sig, CC_SIG_BYTES))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "Signature is not the padded base64 of a 64-byte Ed25519 signature");
    return CC_OK;
}

/* Content-Digest: sha-256=:<base64 of 32 bytes>:, and it matches body. */
static cc_err check_digest(const char *header, const uint8_t *body, size_t len, cc_errbuf *eb)
{
    const char *v;
    size_t n;
    const size_t prefix = strlen(REQSIG_DIGEST_PREFIX);
    uint8_t want[CC_HASH_BYTES], got[CC_HASH_BYTES];

    trim_ows(header, &v, &n);
    if (n < prefix + 1 || memcmp(v, REQSIG_DIGEST_PREFIX, prefix) != 0 || v[n - 1] != ':' ||
        memchr(v + prefix, ':', n - prefix - 1))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "Content-Digest must be " REQSIG_DIGEST_PREFIX "<base64>:");
    if (!b64_exact(v + prefix, n - prefix - 1, want, CC_HASH_BYTES))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Content-Digest is not the padded base64 of a SHA-256");
    crypto_hash_sha256(got, len ? body : (const uint8_t *)"", len);
    if (sodium_memcmp(want, got, CC_HASH_BYTES) != 0)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "Content-Digest does not match the body");
    return CC_OK;
}

cc_err cc_reqsig_verify(const char *method, const char *path, const char *query, const uint8_t *body,
                        size_t len, const char *content_digest_h, const char *signature_input,
                        const char *signature, int64_t now_s, cc_reqsig_verified *out, cc_errbuf *eb)
{
    sig_params sp = {0};
    const char *params = NULL, *digest = NULL;
    size_t params_len = 0, digest_len = 0, base_len = 0;
    uint8_t sig[CC_SIG_BYTES];
    cc_err rc;

    memset(out, 0, sizeof *out);
    if (!query) query = "";
    if (!signature_input)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "the request is not signed: no Signature-Input header");
    if (!signature)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "the request is not signed: no Signature header");
    if (!content_digest_h) return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "no Content-Digest header");
    if (!method_valid(method))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED, "the request method is not a token");
    if (!path_valid(path) || !uri_part_valid(query, "#"))
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "the request target holds characters this profile refuses");

    rc = parse_signature_input(signature_input, &sp, &params, &params_len, eb);
    if (rc != CC_OK) return rc;
    rc = parse_signature(signature, sig, eb);
    if (rc != CC_OK) return rc;
    rc = check_digest(content_digest_h, body, len, eb);
    if (rc != CC_OK) return rc;
    if (sp.created_s < now_s - CC_REQSIG_SKEW_S)
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "the signature is stale: created %lld s before the node's clock (at most %d s)",
                       (long long)(now_s - sp.created_s), CC_REQSIG_SKEW_S);
    if (sp.created_s > now_s + CC_REQSIG_SKEW_S)
        return cc_errf(
            eb, CC_ERR_UNAUTHENTICATED,
            "the signature is from the future: created %lld s after the node's clock (at most %d s)",
            (long long)(sp.created_s - now_s), CC_REQSIG_SKEW_S);

    /* The base carries the headers' values as sent (without the OWS around them). */
    trim_ows(content_digest_h, &digest, &digest_len);
    char *d = strndup(digest, digest_len), *pr = strndup(params, params_len);
    char *base = d && pr ? signature_base(method, path, query, d, pr, &base_len) : NULL;
    free(d);
    free(pr);
    if (!base) return cc_errf(eb, CC_ERR_NOMEM, "no memory for the signature base");
    bool ok = crypto_sign_verify_detached(sig, (const uint8_t *)base, base_len, sp.keyid) == 0;
    free(base);
    if (!ok) {
        char hex[2 * CC_PUBKEY_BYTES + 1];
        return cc_errf(eb, CC_ERR_UNAUTHENTICATED,
                       "the signature does not verify for key %.16s... over this method, path, query and "
                       "body",
                       cc_hex(sp.keyid, CC_PUBKEY_BYTES, hex));
    }
    memcpy(out->keyid, sp.keyid, CC_PUBKEY_BYTES);
    out->created_s = sp.created_s;
    memcpy(out->sig, sig, CC_SIG_BYTES);
    return CC_OK;
}
