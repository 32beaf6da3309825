/*
 * node/http.c — the HTTP server: libmicrohttpd with one thread per
 * connection, the route table, upload accounting (413 as soon as a body is
 * known to be over its limit) and the responders every handler uses.
 *
 * Per request, libmicrohttpd first calls on_uri with the request target as
 * sent (before it splits off and decodes the query): that allocates the
 * request context and keeps the target, which signed requests cover. Then
 * it calls on_request several times:
 *   1. headers read (!req->started): route; answer 404/405/413/503 at
 *      once, before any body is read, or accept the request;
 *   2. zero or more body chunks: appended up to the route's limit, the rest
 *      counted and dropped (a body without Content-Length can only be
 *      answered once it ends: libmicrohttpd refuses responses mid-upload);
 *   3. end of body (*upload_data_size == 0): run the handler.
 * on_completed frees the request context in every case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "apps/supply.h"
#include "carechain/os.h"
#include "node/checkpoints.h"
#include "node/http.h"
#include "node/log.h"
#include "node/reqauth.h"
#include "node/strbuf.h"

#define HTTP_CONN_MEMORY           (128u * 1024) /* per-connection buffer pool */
#define HTTP_IDLE_TIMEOUT_MIN_S    60            /* idle connections close after this */
#define HTTP_TIMEOUT_WAIT_MARGIN_S 30            /* beyond ?wait=commit's limit */
#define HTTP_DRAIN_TICK_MS         10
#define HTTP_DISCARD_MAX           (256u * 1024 * 1024) /* hang up on a chunked upload this far over */
#define CONN_REFUSED_LOG_MS        10000 /* a refused connection is logged at most this often */
#define HTTPD_LOG_WINDOW_MS        10000 /* libmicrohttpd's own lines: at most HTTPD_LOG_LINES ... */
#define HTTPD_LOG_LINES            20    /* ... per window, the rest counted */

/* A route's query parameters: Q("a", "b") takes those, NONE takes none;
 * SIGNED_READ("a", "b") and SIGNED_READ_NONE likewise for a signed read,
 * which checks them after the signature (cc_signed_read_begin). */
#define PARAMS(signed_read, ...)                                                                             \
    (&(const cc_http_params){(const char *const[]){__VA_ARGS__, NULL}, signed_read})
#define Q(...)           PARAMS(false, __VA_ARGS__)
#define NONE             PARAMS(false, NULL)
#define SIGNED_READ(...) PARAMS(true, __VA_ARGS__)
#define SIGNED_READ_NONE PARAMS(true, NULL)

/* The API (docs/API.md). Longer patterns are not shadowed: each pattern
 * matches whole segments only. */
static const cc_http_route routes[] = {
    {"GET", "/v1/status", cc_http_get_status, 0, NONE},
    {"GET", "/v1/time", cc_http_get_time, 0, NONE},
    {"POST", "/v1/tx", cc_http_post_tx, CC_HTTP_TX_BODY_MAX, Q("wait")},
    {"POST", "/v1/txs", cc_http_post_txs, CC_HTTP_BATCH_BODY_MAX, Q("wait")},
    {"GET", "/v1/tx/*", cc_http_get_tx, 0, NONE},
    {"GET", "/v1/tx/*/proof", cc_http_get_proof, 0, NONE},
    {"GET", "/v1/blocks", cc_http_get_blocks, 0, Q("from", "limit")},
    {"GET", "/v1/blocks/raw", cc_http_get_blocks_raw, 0, Q("from", "count")}, /* before /v1/blocks/{height} */
    {"GET", "/v1/blocks/*", cc_http_get_block, 0, NONE},
    {"GET", "/v1/blocks/*/raw", cc_http_get_block_raw, 0, NONE},
    {"GET", "/v1/checkpoint", cc_http_get_checkpoint, 0, NONE},
    {"GET", "/v1/checkpoint/signatures", cc_http_get_checkpoint_sigs, 0, Q("height")},
    {"POST", "/v1/checkpoint/signatures", cc_http_post_checkpoint_sigs, CC_CHECKPOINT_BODY_MAX, NONE},
    {"GET", "/v1/evidence", cc_http_get_evidence, 0, NONE},
    {"GET", "/v1/attachments/*", cc_http_get_attachment, 0, NONE},
    {"GET", "/v1/identities/*", cc_http_get_identity, 0, NONE},
    {"GET", "/v1/orgs", cc_http_get_orgs, 0, NONE},
    {"GET", "/v1/orgs/*", cc_http_get_org, 0, NONE},
    {"GET", "/v1/network", cc_http_get_network, 0, NONE},
    {"GET", "/v1/network/nodes/*", cc_http_get_network_node, 0, NONE},
    {"GET", "/v1/network/proposals", cc_http_get_network_proposals, 0, Q("status")},
    {"GET", "/v1/network/proposals/*", cc_http_get_network_proposal, 0, NONE},
    {"GET", "/v1/events", cc_http_get_events, 0, NONE},
    {"GET", "/v1/records/*", cc_http_get_record, 0, SIGNED_READ("purpose", "version")},
    {"GET", "/v1/patients/*/records", cc_http_get_patient_records, 0, SIGNED_READ("purpose")},
    {"GET", "/v1/patients/*/readers", cc_http_get_patient_readers, 0,
     SIGNED_READ("resourceType", "category", "record", "purpose")},
    {"GET", "/v1/patients/*/alerts", cc_http_get_patient_alerts, 0, SIGNED_READ_NONE},
    {"GET", "/fhir/Consent", cc_http_get_fhir_consents, 0, SIGNED_READ("patient")},
    {"GET", "/fhir/Consent/*", cc_http_get_fhir_consent, 0, SIGNED_READ_NONE},
    {"GET", "/fhir/AuditEvent", cc_http_get_fhir_audit_events, 0, SIGNED_READ("patient")},
    {"GET", "/v1/plans/*", cc_http_get_plan, 0, Q("version")},
    {"GET", "/v1/claims/*", cc_http_get_claim, 0, SIGNED_READ_NONE},
    {"POST", "/v1/claims/simulate", cc_http_post_claim_simulate, CC_PAYLOAD_MAX * 2, SIGNED_READ_NONE},
    {"GET", "/v1/patients/*/claims", cc_http_get_patient_claims, 0, SIGNED_READ_NONE},
    {"GET", "/fhir/ExplanationOfBenefit", cc_http_get_fhir_eob, 0, SIGNED_READ("patient")},
    {"GET", "/v1/drugs/verify", cc_http_get_drug_verify, 0,
     Q("id", "gtin", "serial", "lot", "exp", "history")},
    {"GET", "/v1/drugs/alerts", cc_http_get_drug_alerts, 0, Q("limit")},
    {"POST", "/epcis/capture", cc_http_post_epcis_capture, CC_SUPPLY_EPCIS_MAX, NONE},
    {"GET", "/epcis/events", cc_http_get_epcis_events, 0, Q("MATCH_epc")},
    {"GET", "/epcis/epcs/*/events", cc_http_get_epcis_epc_events, 0, NONE},
    {"GET", "/v1/trials/*", cc_http_get_trial, 0, NONE},
    {"GET", "/v1/trials/*/integrity", cc_http_get_trial_integrity, 0, NONE},
    {"GET", "/v1/trials/*/stats", cc_http_get_trial_stats, 0, NONE},
    {"GET", "/fhir/ResearchStudy/*", cc_http_get_fhir_research_study, 0, Q("version")},
    {"GET", "/fhir/ResearchSubject", cc_http_get_fhir_research_subjects, 0, SIGNED_READ("study")},
    {"GET", "/metrics", cc_http_get_metrics, 0, NONE},
    {"GET", "/v1/genesis", cc_http_get_genesis, 0, NONE},
    {"GET", "/ui", cc_http_get_ui_redirect, 0, NULL},
    {"GET", "/ui/", cc_http_get_ui, 0, NULL},
    {"GET", "/ui/*", cc_http_get_ui, 0, NULL},
};

const cc_http_route *cc_http_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* ---- responders ---------------------------------------------------------- */

unsigned cc_http_status_of(cc_err e)
{
    switch (e) {
    case CC_OK:
        return MHD_HTTP_OK;
    case CC_ERR_MALFORMED:
    case CC_ERR_VERSION:
    case CC_ERR_USAGE:
        return MHD_HTTP_BAD_REQUEST;
    case CC_ERR_SIGNATURE:
    case CC_ERR_UNAUTHENTICATED:
        return MHD_HTTP_UNAUTHORIZED;
    case CC_ERR_GONE:
        return MHD_HTTP_GONE;
    case CC_ERR_UNKNOWN_SIGNER:
    case CC_ERR_REVOKED:
    case CC_ERR_FORBIDDEN:
        return MHD_HTTP_FORBIDDEN;
    case CC_ERR_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case CC_ERR_DUPLICATE:
    case CC_ERR_CONFLICT:
        return MHD_HTTP_CONFLICT;
    case CC_ERR_TOO_LARGE:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case CC_ERR_CHAIN_ID:
    case CC_ERR_EXPIRED:
    case CC_ERR_FUTURE:
    case CC_ERR_LIFETIME:
    case CC_ERR_UNKNOWN_TYPE:
    case CC_ERR_INVALID:
    case CC_ERR_ATTACHMENT:
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    case CC_ERR_BUSY:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case CC_ERR_STORE_FULL:
    case CC_ERR_UNREACHABLE:
    case CC_ERR_IO:    /* the node's disk failed or is full: it may do it later, or another node now */
    case CC_ERR_NOMEM: /* likewise */
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case CC_ERR_TIMEOUT:
        return MHD_HTTP_GATEWAY_TIMEOUT;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

enum MHD_Result cc_http_send(cc_http_req *req, unsigned status, const char *content_type, char *body,
                             size_t len)
{
    static char oom_body[] = "{\"error\":{\"code\":\"nomem\",\"message\":\"out of memory\"}}";
    struct MHD_Response *resp;
    enum MHD_Result rc;

    if (!body) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        content_type = "application/json";
        resp = MHD_create_response_from_buffer(sizeof oom_body - 1, oom_body, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!resp) free(body);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (req->audit_txid[0]) MHD_add_response_header(resp, "X-Audit-Txid", req->audit_txid);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && req->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (req->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    rc = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    cc_metrics_http_status(&req->node->metrics, status);
    if (status >= 500 && status != MHD_HTTP_SERVICE_UNAVAILABLE && status != MHD_HTTP_GATEWAY_TIMEOUT)
        cc_node_log(CC_LOG_WARN, "http", "answered %u", status);
    return rc;
}

enum MHD_Result cc_http_send_json(cc_http_req *req, unsigned status, json_t *v)
{
    char *body = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return cc_http_send(req, status, "application/json", body, body ? strlen(body) : 0);
}

/* {"error":{"code":..,"message":..}[,"txid":..][,"audit":..]}, written out
 * rather than packed: a message may quote what the client sent, and bytes
 * of it that are not UTF-8 become '?' instead of failing the answer. */
static enum MHD_Result send_error_body(cc_http_req *req, unsigned status, cc_err e, const uint8_t *txid,
                                       const char *audit, const char *message)
{
    cc_strbuf sb = {0};
    size_t len = 0;
    cc_strbuf_puts(&sb, "{\"error\":{\"code\":");
    cc_strbuf_json_str(&sb, cc_err_name(e));
    cc_strbuf_puts(&sb, ",\"message\":");
    cc_strbuf_json_str(&sb, message && *message ? message : cc_strerror(e));
    cc_strbuf_puts(&sb, "}");
    if (txid) {
        cc_strbuf_puts(&sb, ",\"txid\":");
        cc_strbuf_json_hex(&sb, txid, CC_HASH_BYTES);
    }
    if (audit) {
        cc_strbuf_puts(&sb, ",\"audit\":");
        cc_strbuf_json_str(&sb, audit);
    }
    cc_strbuf_puts(&sb, "}");
    char *body = cc_strbuf_take(&sb, &len);
    return cc_http_send(req, status, "application/json", body, len);
}

enum MHD_Result cc_http_send_error(cc_http_req *req, cc_err e, const uint8_t *txid, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return send_error_body(req, cc_http_status_of(e), e, txid, NULL, message);
}

enum MHD_Result cc_http_send_error_status(cc_http_req *req, unsigned status, cc_err e, const char *message)
{
    return send_error_body(req, status, e, NULL, NULL, message);
}

enum MHD_Result cc_http_send_error_audited(cc_http_req *req, unsigned status, cc_err e, const char *message,
                                           const char *audit)
{
    return send_error_body(req, status, e, NULL, audit, message);
}

const char *cc_http_query(cc_http_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

typedef struct query_check {
    const char *const *allowed;
    char bad[64];   /* the first parameter not allowed, quotable ("" when none) */
    bool any_bad;   /* (bad may stay "" for a name that is not short text) */
    char twice[64]; /* the first parameter given twice */
    const char *seen[8];
    size_t seen_count;
} query_check;

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    query_check *q = cls;
    bool known = false;
    (void)kind, (void)value;
    for (size_t i = 0; q->allowed[i]; i++) known = known || strcmp(q->allowed[i], key) == 0;
    if (!known) {
        /* quoted in the answer only when it is text that fits whole */
        if (!q->any_bad && strlen(key) < sizeof q->bad && cc_utf8_text(key))
            snprintf(q->bad, sizeof q->bad, "%s", key);
        q->any_bad = true;
        return MHD_YES;
    }
    for (size_t i = 0; i < q->seen_count; i++)
        if (strcmp(q->seen[i], key) == 0 && !q->twice[0]) snprintf(q->twice, sizeof q->twice, "%s", key);
    if (q->seen_count < sizeof q->seen / sizeof q->seen[0]) q->seen[q->seen_count++] = key;
    return MHD_YES;
}

bool cc_http_query_check(cc_http_req *req, const char *const *allowed, char *msg, size_t cap)
{
    query_check q = {.allowed = allowed};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_param, &q);
    if (!q.any_bad && !q.twice[0]) return true;
    if (!q.any_bad) {
        snprintf(msg, cap, "query parameter \"%s\" is given twice", q.twice);
        return false;
    }
    char list[128];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; allowed[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", allowed[i]);
    if (q.bad[0])
        snprintf(msg, cap, "unknown query parameter \"%s\" (this endpoint takes %s)", q.bad,
                 allowed[0] ? list : "none");
    else
        snprintf(msg, cap, "an unknown query parameter (this endpoint takes %s)", allowed[0] ? list : "none");
    return false;
}

bool cc_http_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (!s || *s < '0' || *s > '9') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

const char *cc_http_header(cc_http_req *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

/* ---- routing and uploads ------------------------------------------------- */

/* Match path against pattern; '*' captures one non-empty segment into arg. */
static bool path_match(const char *pattern, const char *path, char *arg, size_t arg_size)
{
    while (*pattern) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= arg_size) return false;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0';
}

/* The methods of every route whose pattern matches path, for a 405's Allow
 * header: "GET, HEAD" for a GET route (HEAD works wherever GET does), each
 * method once, in the table's order. */
static void allowed_methods(const char *path, char *out, size_t cap)
{
    char arg[CC_HTTP_ARG_MAX];
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_match(routes[i].pattern, path, arg, sizeof arg) || strstr(out, routes[i].method)) continue;
        const char *more = strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "";
        int w = snprintf(out + n, cap - n, "%s%s%s", n ? ", " : "", routes[i].method, more);
        if (w < 0 || (size_t)w >= cap - n) break; /* cannot happen: CC_HTTP_ALLOW_MAX holds them all */
        n += (size_t)w;
    }
}

/* Reserve cap bytes (in all) of the node-wide upload budget for req. */
static bool budget_reserve(cc_http_req *req, size_t cap)
{
    if (cap <= req->budget) return true;
    size_t more = cap - req->budget;
    size_t before = atomic_fetch_add(&req->node->upload_bytes, more);
    if (before + more > CC_NODE_UPLOAD_MAX_BYTES) {
        atomic_fetch_sub(&req->node->upload_bytes, more);
        return false;
    }
    req->budget = cap;
    return true;
}

static void budget_release(cc_http_req *req)
{
    atomic_fetch_sub(&req->node->upload_bytes, req->budget);
    req->budget = 0;
}

/* Stop keeping the body: the rest of the upload is counted and dropped. */
static void refuse_body(cc_http_req *req, cc_err why)
{
    req->body_refusal = why;
    free(req->body);
    req->body = NULL;
    req->discarded = req->body_len;
    req->body_len = req->body_cap = 0;
    budget_release(req);
}

/* Refuse a write before its body is read: the node takes no txs now, or
 * the body is declared too large. A client that waits for "100 Continue"
 * sends no body and is answered at once. One that sends its body anyway
 * would have the connection closed under its upload (libmicrohttpd closes
 * it after answering mid-request), and its side may then read a reset
 * instead of the answer: a 10 MB upload in CI once got no 413 that way. So
 * its body is read and dropped, and the answer given at its end, unless it
 * declares more than HTTP_DISCARD_MAX. */
__attribute__((format(printf, 3, 4))) static enum MHD_Result refuse_early(cc_http_req *req, cc_err e,
                                                                          const char *fmt, ...)
{
    char msg[sizeof req->refusal_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *expect = cc_http_header(req, MHD_HTTP_HEADER_EXPECT);
    const char *length = cc_http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = length ? strtoull(length, NULL, 10) : 0;
    bool body_comes = (declared > 0 || cc_http_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING)) &&
                      !(expect && strcasecmp(expect, "100-continue") == 0);
    if (!body_comes || declared > HTTP_DISCARD_MAX) return cc_http_send_error(req, e, NULL, "%s", msg);
    refuse_body(req, e);
    snprintf(req->refusal_msg, sizeof req->refusal_msg, "%s", msg);
    return MHD_YES;
}

/* An answer of the router itself, in the shape of the API asked: FHIR
 * clients get an OperationOutcome. */
static enum MHD_Result route_error(cc_http_req *req, const char *url, unsigned status, cc_err e,
                                   const char *message)
{
    if (strncmp(url, "/fhir/", 6) == 0 || strcmp(url, "/fhir") == 0)
        return cc_http_send_fhir_error(req, e, status, message);
    return cc_http_send_error_status(req, status, e, message);
}

/* Does the request target as sent (path or query) encode a NUL? libmicrohttpd
 * decodes every "%XX" of two hex digits in the path and in query keys and
 * values (MHD_http_unescape) and hands both on as C strings, which end at
 * the NUL: "/v1/blocks/2%00junk" would read block 2. The decoded length is
 * not passed on (MHD_lookup_connection_value_n has it for query values, not
 * the path), so the target as sent tells, where "%00" is the only way to
 * write a NUL. (A raw NUL byte, which no HTTP client sends, cuts the target
 * as libmicrohttpd 0.9.75 hands it to on_uri already: nothing here sees it.) */
static bool target_has_nul(const char *target)
{
    return strstr(target, "%00") != NULL;
}

/* Does the path as sent encode a '/' inside a segment ("%2F")? libmicrohttpd
 * decodes it before routing, so "/v1/trials/a%2Fb" would be a path of one
 * more segment, and its answer a puzzling "no such endpoint". No id holds a
 * '/'. */
static bool path_has_slash(const char *target)
{
    size_t path_len = strcspn(target, "?");
    for (size_t i = 0; i + 2 < path_len; i++)
        if (target[i] == '%' && target[i + 1] == '2' && (target[i + 2] == 'F' || target[i + 2] == 'f'))
            return true;
    return false;
}

/* Counts the request's Content-Length headers (an MHD_KeyValueIterator). */
static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) ++*(unsigned *)cls;
    return MHD_YES;
}

/* Is the body framed one way only? Two Content-Length headers, or one
 * beside Transfer-Encoding, frame it two ways (RFC 9112 6.3 says refuse):
 * libmicrohttpd 0.9.75 goes by the first, and a proxy in front of the
 * node that goes by another would see a different next request on the
 * same connection (request smuggling). */
static bool framing_ok(struct MHD_Connection *conn)
{
    unsigned lengths = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_lengths, &lengths);
    return lengths <= 1 && !(lengths == 1 && MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                         MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

/* A connection's verdict on its client certificate (when the node has a
 * tls_client_ca): checked at its first request only, since the
 * certificate cannot change within a connection, and again when the
 * revocation list changed since. */
enum { CERT_UNCHECKED, CERT_GOOD, CERT_REFUSED, CERT_REVOKED };
typedef struct cert_verdict {
    int verdict;             /* CERT_* */
    unsigned crl_generation; /* of the list it was taken under (cc_client_crl_generation) */
} cert_verdict;

/* What the node keeps of a connection (its socket context). */
typedef struct conn_ctx {
    cert_verdict cert;
    bool counted; /* client's connection counted in node->conn_limit */
    uint8_t client[CC_CONN_KEY_BYTES];
} conn_ctx;

/* MHD's accept policy: refuse a client that already holds its share of the
 * connections (conn_limit.h). The refusal closes the socket at once. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    cc_node *node = cls;
    uint8_t key[CC_CONN_KEY_BYTES];
    if (!cc_conn_limit_key(addr, addrlen, key) || cc_conn_limit_admit(&node->conn_limit, key)) return MHD_YES;
    atomic_fetch_add_explicit(&node->metrics.http_conns_refused, 1, memory_order_relaxed);
    uint_fast64_t now = cc_now_ms(), last = atomic_load(&node->conn_refused_logged_ms);
    if (now - last >= CONN_REFUSED_LOG_MS &&
        atomic_compare_exchange_strong(&node->conn_refused_logged_ms, &last, now)) {
        char host[INET6_ADDRSTRLEN] = "?";
        if (addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, host,
                      sizeof host);
        else
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, host,
                      sizeof host);
        cc_node_log(CC_LOG_WARN, "http",
                    "refused a connection from %s: it holds %u open, its share (api_connections_per_client; "
                    "logged at most every %u s)",
                    host, node->api_connections_per_client, CONN_REFUSED_LOG_MS / 1000);
    }
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    cc_node *node = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_ctx *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        /* MHD gives no length; the family says which struct it is */
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        socklen_t len = !sa                         ? 0
                        : sa->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                                    : (socklen_t)sizeof(struct sockaddr_in);
        if (c && cc_conn_limit_key(sa, len, c->client))
            c->counted = cc_conn_limit_opened(&node->conn_limit, c->client);
        *socket_context = c;
    } else {
        conn_ctx *c = *socket_context;
        if (c && c->counted) cc_conn_limit_closed(&node->conn_limit, c->client);
        free(c);
        *socket_context = NULL;
    }
}

/* The verdict on the certificate the client of conn presented: GOOD when
 * it chains to the node's tls_client_ca, is valid now, and is not on the
 * CA's revocation list (tls_client_crl, when given). libmicrohttpd asks
 * every client for one when the node has that CA, and GnuTLS checks the
 * chain against it. */
static int client_cert_verdict(const cc_node *node, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *ctx = sc ? sc->socket_context : NULL;
    cert_verdict *verdict = ctx ? &ctx->cert : NULL;
    unsigned generation = node->client_crl ? cc_client_crl_generation(node->client_crl) : 0;
    if (verdict && verdict->verdict != CERT_UNCHECKED && verdict->crl_generation == generation)
        return verdict->verdict;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned listed = 0, status = 0;
    const gnutls_datum_t *peers = NULL;
    bool ok = s && gnutls_certificate_type_get(s) == GNUTLS_CRT_X509 &&
              (peers = gnutls_certificate_get_peers(s, &listed)) != NULL && listed > 0 &&
              gnutls_certificate_verify_peers2(s, &status) == GNUTLS_E_SUCCESS && status == 0;
    int v = !ok ? CERT_REFUSED
            : node->client_crl && cc_client_crl_revoked(node->client_crl, peers[0].data, peers[0].size)
                ? CERT_REVOKED
                : CERT_GOOD;
    if (verdict) *verdict = (cert_verdict){v, generation}; /* no context (out of memory): check each time */
    return v;
}

/* Headers are in: route, and answer now whatever can be answered before
 * reading a body. */
static enum MHD_Result begin_request(cc_http_req *req, const char *url, const char *method)
{
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const cc_http_route *path_hit = NULL;

    int cert = req->node->tls_client_ca_pem ? client_cert_verdict(req->node, req->conn) : CERT_GOOD;
    if (cert == CERT_REFUSED)
        return route_error(req, url, MHD_HTTP_UNAUTHORIZED, CC_ERR_UNAUTHENTICATED,
                           "this node answers only clients that present a certificate of the "
                           "consortium's CA (its tls_client_ca)");
    if (cert == CERT_REVOKED)
        return route_error(req, url, MHD_HTTP_UNAUTHORIZED, CC_ERR_UNAUTHENTICATED,
                           "this client certificate was revoked by the consortium's CA (its tls_client_crl)");

    if (!framing_ok(req->conn)) {
        req->close = true; /* what follows on this connection cannot be told apart */
        return route_error(req, url, MHD_HTTP_BAD_REQUEST, CC_ERR_MALFORMED,
                           "the body is framed twice (two Content-Length headers, or one beside "
                           "Transfer-Encoding)");
    }
    if (!req->uri) return route_error(req, url, MHD_HTTP_SERVICE_UNAVAILABLE, CC_ERR_NOMEM, "out of memory");
    if (target_has_nul(req->uri))
        return route_error(req, url, MHD_HTTP_BAD_REQUEST, CC_ERR_MALFORMED,
                           "the path or query has a NUL (%00), which no id or value may hold");
    if (path_has_slash(req->uri))
        return route_error(req, url, MHD_HTTP_BAD_REQUEST, CC_ERR_MALFORMED,
                           "a path segment holds a '/' (%2F), which no id may hold");

    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        req->arg[0] = '\0'; /* a failed match may have captured a segment */
        if (!path_match(routes[i].pattern, url, req->arg, sizeof req->arg)) continue;
        if (strcmp(routes[i].method, m) == 0) {
            req->route = &routes[i];
            break;
        }
        path_hit = &routes[i];
    }
    if (!req->route) {
        if (!path_hit) return route_error(req, url, MHD_HTTP_NOT_FOUND, CC_ERR_NOT_FOUND, "no such endpoint");
        req->route = path_hit;
        allowed_methods(url, req->allow, sizeof req->allow);
        char message[96];
        snprintf(message, sizeof message, "use %s for this endpoint", req->allow);
        return route_error(req, url, MHD_HTTP_METHOD_NOT_ALLOWED, CC_ERR_USAGE, message);
    }
    /* an id no handler could have stored; refused here so that none has to
     * quote bytes that are not text back to the client */
    if (!cc_utf8_text(req->arg))
        return route_error(req, url, MHD_HTTP_BAD_REQUEST, CC_ERR_MALFORMED,
                           "a path segment is not valid UTF-8 text");

    char why[160];
    const cc_http_params *query = req->route->query;
    if (query && !query->signed_read && !cc_http_query_check(req, query->names, why, sizeof why))
        return route_error(req, url, MHD_HTTP_BAD_REQUEST, CC_ERR_USAGE, why);

    req->body_limit = req->route->body_limit;
    if (req->body_limit == 0) return MHD_YES;

    /* A write: refuse it before its body is read when the node takes no
     * txs, or when the body is declared too large (refuse_early says when
     * the answer goes out). */
    cc_node *node = req->node;
    if (atomic_load(&node->stopping)) return refuse_early(req, CC_ERR_UNREACHABLE, "the node is stopping");
    if (atomic_load(&node->store_full))
        return refuse_early(req, CC_ERR_STORE_FULL, "the node's storage is full; it accepts no new txs");
    bool submits_txs = req->route->handler == cc_http_post_tx || req->route->handler == cc_http_post_txs ||
                       req->route->handler == cc_http_post_epcis_capture;
    uint64_t removed_at =
        submits_txs && node->consensus.removed_at ? node->consensus.removed_at(&node->consensus) : 0;
    if (removed_at)
        return refuse_early(req, CC_ERR_UNREACHABLE,
                            "this node was removed from the network by governance (block %llu); send txs "
                            "to a member node",
                            (unsigned long long)removed_at);
    char halt[CC_HALT_REASON_BYTES];
    if (submits_txs &&
        ((node->consensus.halted && node->consensus.halted(&node->consensus, halt, sizeof halt)) ||
         cc_chain_halted(node->chain, halt, sizeof halt)))
        return refuse_early(req, CC_ERR_UNREACHABLE,
                            "this node stopped applying blocks (%s); send txs to another node", halt);
    const char *cl = cc_http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        unsigned long long declared = strtoull(cl, &end, 10);
        if (end == cl || *end != '\0')
            return cc_http_send_error(req, CC_ERR_USAGE, NULL, "Content-Length is not a number");
        if (declared > req->body_limit)
            return refuse_early(req, CC_ERR_TOO_LARGE, "the body is %llu bytes; the limit here is %zu",
                                declared, req->body_limit);
        if (!budget_reserve(req, (size_t)declared))
            return refuse_early(req, CC_ERR_BUSY, "too many large uploads in flight; retry later");
        req->body_cap = (size_t)declared; /* allocated with the first chunk */
    }
    return MHD_YES;
}

/* Append an upload chunk, or count and drop it once over the limit. */
static enum MHD_Result take_upload(cc_http_req *req, const char *data, size_t n)
{
    if (req->body_refusal == CC_OK && req->body_len + n > req->body_limit) refuse_body(req, CC_ERR_TOO_LARGE);
    if (req->body_refusal == CC_OK && (req->body_len + n > req->body_cap || !req->body)) {
        size_t cap = req->body_cap > req->body_len + n ? req->body_cap : req->body_len + n;
        if (cap < 2 * req->body_len) cap = 2 * req->body_len;
        if (cap > req->body_limit) cap = req->body_limit;
        uint8_t *p = budget_reserve(req, cap) ? realloc(req->body, cap) : NULL;
        if (p) {
            req->body = p;
            req->body_cap = cap;
        } else {
            refuse_body(req, CC_ERR_BUSY);
        }
    }
    if (req->body_refusal != CC_OK) {
        req->discarded += n;
        /* libmicrohttpd cannot answer in the middle of an upload: drop the
         * rest (nothing is kept) and answer at its end; hang up on an
         * upload that will not stop. */
        return req->discarded > HTTP_DISCARD_MAX ? MHD_NO : MHD_YES;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
    return MHD_YES;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request target as sent. The context
 * returned here is the request's *con_cls from now on. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    cc_http_req *req = calloc(1, sizeof *req);
    if (!req) return NULL; /* on_request tries again */
    req->node = cls;
    req->conn = conn;
    req->uri = strdup(uri);
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    cc_http_req *req = *con_cls;
    (void)version;

    if (!req || !req->started) {
        if (!req && !(req = calloc(1, sizeof *req))) return MHD_NO;
        req->node = cls;
        req->conn = conn;
        req->started = true;
        snprintf(req->method, sizeof req->method, "%s", method);
        *con_cls = req;
        return begin_request(req, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return take_upload(req, upload_data, n);
    }
    if (req->body_refusal != CC_OK && req->refusal_msg[0])
        return cc_http_send_error(req, req->body_refusal, NULL, "%s", req->refusal_msg);
    if (req->body_refusal == CC_ERR_TOO_LARGE)
        return cc_http_send_error(req, CC_ERR_TOO_LARGE, NULL, "the body is over the limit of %zu bytes here",
                                  req->body_limit);
    if (req->body_refusal != CC_OK)
        return cc_http_send_error(req, CC_ERR_BUSY, NULL, "too many large uploads in flight; retry later");
    atomic_fetch_add(&req->node->active_handlers, 1);
    enum MHD_Result rc = req->route->handler(req);
    atomic_fetch_sub(&req->node->active_handlers, 1);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cc_http_req *req = *con_cls;
    (void)cls, (void)conn, (void)toe;
    if (!req) return;
    budget_release(req);
    free(req->body);
    free(req->uri);
    free(req);
    *con_cls = NULL;
}

/* libmicrohttpd's own lines (a client that hung up mid-request, a send that
 * failed, ...): each client can cause one at will, so a window of
 * HTTPD_LOG_WINDOW_MS logs at most HTTPD_LOG_LINES of them, and the next
 * window opens by saying how many were left out: the log cannot be made to
 * fill the disk. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    cc_node *node = cls;
    uint_fast64_t now = cc_now_ms(), start = atomic_load(&node->httpd_log_window_ms);
    if (now - start >= HTTPD_LOG_WINDOW_MS &&
        atomic_compare_exchange_strong(&node->httpd_log_window_ms, &start, now)) {
        unsigned dropped = atomic_exchange(&node->httpd_log_dropped, 0);
        atomic_store(&node->httpd_log_lines, 0);
        if (dropped)
            cc_node_log(CC_LOG_WARN, "httpd", "%u more of its lines were left out in the %u s before",
                        dropped, HTTPD_LOG_WINDOW_MS / 1000);
    }
    if (atomic_fetch_add(&node->httpd_log_lines, 1) >= HTTPD_LOG_LINES) {
        atomic_fetch_add(&node->httpd_log_dropped, 1);
        return;
    }
    char message[256];
    vsnprintf(message, sizeof message, fmt, ap);
    cc_node_log(CC_LOG_WARN, "httpd", "%s", message);
}

/* ---- the daemon ---------------------------------------------------------- */

/* "host:port" or "[v6]:port" -> socket address. */
static cc_err parse_listen_addr(const char *api, struct sockaddr_storage *ss, socklen_t *ss_len,
                                uint16_t *port, cc_errbuf *eb)
{
    char host[CC_NODE_ADDR_MAX];
    const char *colon = strrchr(api, ':');
    struct addrinfo hints = {0}, *res = NULL;
    char *end = NULL;

    if (!colon || colon == api || (size_t)(colon - api) >= sizeof host)
        return cc_errf(eb, CC_ERR_USAGE, "API address \"%s\" is not host:port", api);
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p > 65535)
        return cc_errf(eb, CC_ERR_USAGE, "API address \"%s\" has no valid port", api);
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0 || !res)
        return cc_errf(eb, CC_ERR_USAGE, "cannot resolve \"%s\": %s", host, gai_strerror(gai));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ss_len = res->ai_addrlen;
    *port = (uint16_t)p;
    freeaddrinfo(res);
    return CC_OK;
}

const char *cc_http_scheme(const cc_node *node)
{
    return node->tls_cert_pem ? "https" : "http";
}

cc_err cc_http_start(cc_node *node, cc_errbuf *eb)
{
    struct sockaddr_storage ss;
    socklen_t ss_len = 0;
    uint16_t port = 0;
    cc_err rc = parse_listen_addr(node->api, &ss, &ss_len, &port, eb);
    if (rc != CC_OK) return rc;
    rc = cc_reqauth_start(eb);
    if (rc != CC_OK) return rc;

    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* HTTPS: libmicrohttpd with GnuTLS; the PEMs stay in node until it is freed */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, node->tls_key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, node->tls_cert_pem},
        {node->tls_client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, node->tls_client_ca_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (node->tls_cert_pem)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: on Linux it means SO_REUSEPORT,
     * which would let a second node share the port. MHD's default
     * SO_REUSEADDR already allows a restart while old sockets linger.
     * A connection blocked in ?wait=commit must not be timed out first. */
    unsigned timeout_s = node->wait_timeout_ms / 1000 + HTTP_TIMEOUT_WAIT_MARGIN_S;
    if (timeout_s < HTTP_IDLE_TIMEOUT_MIN_S) timeout_s = HTTP_IDLE_TIMEOUT_MIN_S;
    if (cc_conn_limit_init(&node->conn_limit, node->api_connections_per_client, node->max_connections) !=
        CC_OK) {
        cc_reqauth_stop();
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    }

    node->httpd = MHD_start_daemon(flags, port, on_accept, node, on_request, node, MHD_OPTION_EXTERNAL_LOGGER,
                                   on_mhd_log, node, /* first, to catch all */
                                   MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                                   (unsigned)node->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
                                   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
                                   MHD_OPTION_URI_LOG_CALLBACK, on_uri, node, MHD_OPTION_NOTIFY_COMPLETED,
                                   on_completed, node, MHD_OPTION_NOTIFY_CONNECTION, on_connection, node,
                                   MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!node->httpd) {
        cc_conn_limit_destroy(&node->conn_limit);
        cc_reqauth_stop();
        return cc_errf(eb, CC_ERR_IO, "cannot serve %s on %s (address in use%s?)",
                       node->tls_cert_pem ? "HTTPS" : "HTTP", node->api,
                       node->tls_cert_pem
                           ? ", or a certificate and key that do not fit, or a key that needs a passphrase"
                           : "");
    }

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(node->httpd, MHD_DAEMON_INFO_BIND_PORT);
    cc_node_log(CC_LOG_INFO, "http",
                "API listening on %s://%s (port %u), at most %u connections (%u per client address)%s",
                cc_http_scheme(node), node->api, info ? (unsigned)info->port : (unsigned)port,
                node->max_connections, node->api_connections_per_client,
                node->tls_client_ca_pem ? ", clients with a certificate of tls_client_ca only" : "");
    return CC_OK;
}

void cc_http_quiesce(cc_node *node)
{
    if (!node->httpd) return;
    MHD_socket fd = MHD_quiesce_daemon(node->httpd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void cc_http_drain(cc_node *node, unsigned timeout_ms)
{
    const struct timespec tick = {0, HTTP_DRAIN_TICK_MS * 1000000L};
    for (unsigned waited = 0; atomic_load(&node->active_handlers) > 0 && waited < timeout_ms;
         waited += HTTP_DRAIN_TICK_MS)
        nanosleep(&tick, NULL);
}

void cc_http_stop(cc_node *node)
{
    if (!node->httpd) return;
    MHD_stop_daemon(node->httpd);
    node->httpd = NULL;
    cc_conn_limit_destroy(&node->conn_limit);
    cc_reqauth_stop();
}
