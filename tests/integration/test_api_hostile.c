/*
 * test_api_hostile.c — every route of the HTTP API (the node's own routing
 * table, cc_http_routes) fed what no honest client sends: path segments and query
 * values that are not UTF-8 text, or are cut in the middle of a character,
 * huge, negative or out of range; unknown and repeated parameters; the wrong
 * method; bodies that are not JSON, not the expected JSON, or nest without
 * end. Unsigned, and on the signed endpoints signed by a registered patient
 * too, so that the checks behind authentication run as well.
 *
 * Every answer must be a 2xx or a 4xx, never a 5xx or no answer, and every
 * 4xx must carry its API's error body (an OperationOutcome under /fhir/).
 * Unsigned bad input must change nothing: the height stays where it was.
 * The node must be up at the end. A few answers that once were 500s are
 * checked by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "carechain/os.h"
#include "node/http.h"
#include "support/ct_records.h"

#define NODE_START_MS 20000
#define DEEP_NESTING  5000 /* '[' then ']' this many times each */

/* The signed reads (cc_signed_read_begin): these get the sweep again,
 * signed. Every other route is swept unsigned only. */
static const char *const signed_routes[] = {
    "/v1/records/*",       "/v1/patients/*/records", "/v1/patients/*/readers",     "/v1/patients/*/alerts",
    "/fhir/Consent",       "/fhir/Consent/*",        "/fhir/AuditEvent",           "/v1/claims/*",
    "/v1/claims/simulate", "/v1/patients/*/claims",  "/fhir/ExplanationOfBenefit", "/epcis/capture",
    "/epcis/events",       "/fhir/ResearchSubject",
};

/* GET /v1/events answers by staying open (a stream; test_api.c covers it). */
static bool swept(const cc_http_route *rt)
{
    return strcmp(rt->pattern, "/v1/events") != 0;
}

static bool is_signed(const cc_http_route *rt)
{
    for (size_t i = 0; i < sizeof signed_routes / sizeof signed_routes[0]; i++)
        if (strcmp(rt->pattern, signed_routes[i]) == 0) return true;
    return false;
}

/* Path segments, as sent (percent-encoded). "%C3" is the first byte of a
 * two-byte character alone. */
static const char *const segments[] = {
    "x",
    "%ff%fe",
    "%C3",
    "-1",
    "99999999999999999999999",
    "0",
    "%00",
    "%2e%2e",
    "000000000000000000000000000000000000000000000000000000000000000000", /* one hex digit too many */
};

/* Every query parameter some endpoint reads, and one none does. */
static const char *const params[] = {"MATCH_epc", "category", "exp",          "from",   "gtin",
                                     "height",    "id",       "limit",        "lot",    "patient",
                                     "purpose",   "record",   "resourceType", "serial", "status",
                                     "study",     "version",  "wait",         "unknown"};

/* Query values. Nine 'é's are 18 bytes: a message that quotes 16 of them
 * cuts the ninth in half. */
static const char *const values[] = {
    "", "%ff", "%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9", "-1", "99999999999999999999", "abc",
};

typedef struct fixture {
    ct_net net;
    ct_node node;
    ct_http *http;
    cc_key patient;
    char patient_hex[CC_HASH_HEX];
    char *long_segment; /* 300 x 'A' */
    char *long_value;   /* 600 x 'A' */
    char *deep_json;    /* DEEP_NESTING '[' then as many ']' */
    unsigned requests;
    unsigned unauthenticated; /* 401 answers */
} fixture;

static fixture fx;

/* ---- checks --------------------------------------------------------------- */

static bool is_fhir(const char *path)
{
    return strncmp(path, "/fhir/", 6) == 0;
}

/* A 4xx body in the shape of its API. */
static bool error_shaped(const char *path, const ct_resp *r)
{
    if (!r->json) return false;
    if (is_fhir(path)) return strcmp(ct_json_str(r->json, "resourceType"), "OperationOutcome") == 0;
    const json_t *e = json_object_get(r->json, "error");
    return *ct_json_str(e, "code") && *ct_json_str(e, "message");
}

/* The answer is a 2xx/3xx, or a 4xx with its error body: anything else
 * fails the test naming the request. */
static void expect_clean(const char *method, const char *path, const char *query, const ct_resp *r)
{
    fx.requests++;
    if (r->status == 401) fx.unauthenticated++;
    const char *q = query && *query ? "?" : "";
    if (r->status == 0) fail_msg("%s %s%s%.200s: no answer (%s)", method, path, q, query, r->curl_error);
    if (r->status >= 500)
        fail_msg("%s %s%s%.200s: %ld %.300s", method, path, q, query ? query : "", r->status, r->body);
    if (r->status >= 400 && !error_shaped(path, r))
        fail_msg("%s %s%s%.200s: %ld without an error body: %.300s", method, path, q, query ? query : "",
                 r->status, r->body);
}

/* ---- requests ------------------------------------------------------------- */

static void unsigned_request(const char *method, const char *path, const char *query, const char *ctype,
                             const void *body, size_t len)
{
    ct_resp r;
    char *u = ct_strf("%s%s%s%s", fx.node.url, path, query && *query ? "?" : "", query ? query : "");
    int rc = ct_http_do(fx.http, method, u, ctype, body, len, 0, &r);
    (void)rc; /* no answer is r.status 0, which expect_clean names */
    expect_clean(method, path, query, &r);
    ct_resp_free(&r);
    free(u);
}

static void signed_request(const char *method, const char *path, const char *query, const char *ctype,
                           const void *body, size_t len)
{
    ct_signed_resp s;
    if (strcmp(method, "POST") == 0)
        ct_signed_post(fx.node.url, &fx.patient, path, ctype, body, len, &s);
    else
        ct_signed_get(fx.node.url, &fx.patient, path, query, 0, NULL, &s);
    expect_clean(method, path, query, &s.r);
    ct_signed_resp_free(&s);
}

/* The route's pattern with seg for its '*'. Caller frees. */
static char *fill(const char *pattern, const char *seg)
{
    const char *star = strchr(pattern, '*');
    if (!star) return ct_strf("%s", pattern);
    return ct_strf("%.*s%s%s", (int)(star - pattern), pattern, seg, star + 1);
}

/* One route with every bad segment, parameter and (for a POST) body, sent
 * by send (unsigned_request or signed_request). */
static void sweep_route(const cc_http_route *rt, void (*send)(const char *, const char *, const char *,
                                                              const char *, const void *, size_t))
{
    bool post = strcmp(rt->method, "POST") == 0;
    const char *ctype = post ? "application/json" : NULL;
    const char *empty = post ? "{}" : NULL;
    size_t empty_len = post ? 2 : 0;

    if (strchr(rt->pattern, '*')) {
        for (size_t i = 0; i < sizeof segments / sizeof segments[0]; i++) {
            char *path = fill(rt->pattern, segments[i]);
            send(rt->method, path, NULL, ctype, empty, empty_len);
            free(path);
        }
        char *path = fill(rt->pattern, fx.long_segment);
        send(rt->method, path, NULL, ctype, empty, empty_len);
        free(path);
    }

    /* the parameters on a path whose segment is a real id (the patient's),
     * so the signed patient endpoints get past it */
    char *path = fill(rt->pattern, fx.patient_hex);
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
        for (size_t v = 0; v <= sizeof values / sizeof values[0]; v++) {
            const char *value = v < sizeof values / sizeof values[0] ? values[v] : fx.long_value;
            char *query = ct_strf("%s=%s", params[p], value);
            send(rt->method, path, query, ctype, empty, empty_len);
            free(query);
        }
    }
    send(rt->method, path, "limit=1&limit=2&from=1&from=-2", ctype, empty, empty_len);
    send(rt->method, path, "purpose=TREAT&purpose=%ff", ctype, empty, empty_len);

    if (post) {
        static const char *const bodies[] = {
            "",
            "{",
            "[]",
            "null",
            "{\"a\":1,\"a\":2}",
            "{\"tx\":\"!!!\"}",
            "{\"txs\":[1,{}]}",
            "{\"signatures\":[{\"height\":-1,\"node\":\"zz\",\"sig\":1}]}",
            "{\"plan\":\"x\",\"lines\":[{\"code\":\"99213\",\"amount\":-5}]}",
            "{\"type\":\"EPCISDocument\",\"epcisBody\":{\"eventList\":[{}]}}",
        };
        for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++)
            send(rt->method, path, NULL, "application/json", bodies[b], strlen(bodies[b]));
        static const uint8_t not_utf8[] = "{\"a\":\"\xff\xfe\"}";
        send(rt->method, path, NULL, "application/json", not_utf8, sizeof not_utf8 - 1);
        send(rt->method, path, NULL, "application/json", fx.deep_json, strlen(fx.deep_json));
        uint8_t noise[512];
        for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)(i * 167 + 13);
        send(rt->method, path, NULL, "application/octet-stream", noise, sizeof noise);
        send(rt->method, path, NULL, "text/plain", "{}", 2);
    }
    free(path);
}

/* ---- fixture -------------------------------------------------------------- */

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    if (ct_net_create(&fx.net, "hostile") != 0) return -1;
    if (ct_node_start(&fx.node, fx.net.node_dir, fx.net.api_port, 0, 0, NODE_START_MS) != 0) return -1;
    fx.http = ct_http_new();
    ct_key("hostile-patient", &fx.patient);
    ct_pk_hex(&fx.patient, fx.patient_hex);
    fx.long_segment = repeat('A', 300);
    fx.long_value = repeat('A', 600);
    fx.deep_json = malloc(2 * DEEP_NESTING + 1);
    if (!fx.deep_json) abort();
    memset(fx.deep_json, '[', DEEP_NESTING);
    memset(fx.deep_json + DEEP_NESTING, ']', DEEP_NESTING);
    fx.deep_json[2 * DEEP_NESTING] = '\0';
    char *payload = ct_strf("{\"id\":\"%s\",\"role\":\"patient\"}", fx.patient_hex);
    int rc = ct_commit_tx(&fx.net, fx.node.url, &fx.net.admin, "member.register", payload, NULL, 0, NULL);
    free(payload);
    if (rc != 0) ct_node_dump_log(&fx.node);
    return rc ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ct_http_free(fx.http);
    ct_node_free(&fx.node);
    ct_net_destroy(&fx.net);
    free(fx.long_segment);
    free(fx.long_value);
    free(fx.deep_json);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_once_500s_are_4xx(void **state)
{
    (void)state;
    ct_resp r;
    /* an id that is not text: was 500 "out of memory" (the FHIR error
     * could not quote it) */
    char *u = ct_strf("%s/fhir/ResearchStudy/%%ff%%fe", fx.node.url);
    assert_int_equal(ct_http_do(fx.http, "GET", u, NULL, NULL, 0, 0, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(ct_json_str(r.json, "resourceType"), "OperationOutcome");
    assert_non_null(strstr(r.body, "UTF-8"));
    ct_resp_free(&r);
    free(u);

    /* FHIR's shape for the router's own answers under /fhir/ too */
    u = ct_strf("%s/fhir/Nothing", fx.node.url);
    assert_int_equal(ct_http_do(fx.http, "GET", u, NULL, NULL, 0, 0, &r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(ct_json_str(r.json, "resourceType"), "OperationOutcome");
    ct_resp_free(&r);
    free(u);

    /* a purpose that is not text, and one cut mid-character by the message
     * that quotes it: were 500 */
    char *path = ct_strf("/v1/patients/%s/records", fx.patient_hex);
    static const char *const purposes[] = {"purpose=%ff",
                                           "purpose=%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9"};
    for (size_t i = 0; i < 2; i++) {
        ct_signed_resp s;
        assert_int_equal(ct_signed_get(fx.node.url, &fx.patient, path, purposes[i], 0, NULL, &s), 0);
        if (s.r.status != 400) fail_msg("%s?%s: %ld %s", path, purposes[i], s.r.status, s.r.body);
        assert_string_equal(ct_resp_error_code(&s.r), "usage");
        assert_non_null(strstr(ct_resp_error_message(&s.r), "purpose"));
        ct_signed_resp_free(&s);
    }
    free(path);
}

/* GET url; the status, the body's error code (an OperationOutcome's
 * carechain code under /fhir/) and the message. */
static long get_error(const char *url, char *code, size_t code_cap, char *message, size_t message_cap)
{
    ct_resp r;
    assert_int_equal(ct_http_do(fx.http, "GET", url, NULL, NULL, 0, 0, &r), 0);
    const json_t *issue = json_array_get(json_object_get(r.json, "issue"), 0);
    const json_t *coding = json_array_get(json_object_get(json_object_get(issue, "details"), "coding"), 0);
    snprintf(code, code_cap, "%s", issue ? ct_json_str(coding, "code") : ct_resp_error_code(&r));
    snprintf(message, message_cap, "%s",
             issue ? ct_json_str(issue, "diagnostics") : ct_resp_error_message(&r));
    long status = r.status;
    ct_resp_free(&r);
    return status;
}

/* Each of targets answers 400 with code. */
static void expect_400_each(const char *const *targets, size_t n, const char *code_want)
{
    char code[32], message[200];
    for (size_t i = 0; i < n; i++) {
        char *u = ct_strf("%s%s", fx.node.url, targets[i]);
        long status = get_error(u, code, sizeof code, message, sizeof message);
        if (status != 400 || strcmp(code, code_want) != 0)
            fail_msg("%s: %ld %s %s, not 400 %s", targets[i], status, code, message, code_want);
        free(u);
    }
}

/* A NUL (%00) in the path or a query value is refused, not cut off: the
 * node saw C strings that ended at it, and "/v1/blocks/1%00junk" was block
 * 1, a signed ".../records%00junk" the patient's records. */
static void test_nul_in_target_is_malformed(void **state)
{
    (void)state;
    static const char *const targets[] = {
        "/v1/blocks/1%00junk",
        "/v1/blocks/1%00",
        "/v1/status%00",
        "/v1/blocks?limit=1%00junk",
        "/v1/blocks?from=1&limit%00x=1",
        "/fhir/ResearchStudy/x%00y",
    };
    expect_400_each(targets, sizeof targets / sizeof targets[0], "malformed");

    /* signed: the same request without the NUL is served */
    char *path = ct_strf("/v1/patients/%s/records", fx.patient_hex);
    char *cut = ct_strf("%s%%00junk", path);
    struct {
        const char *path, *query;
        long status;
    } const reads[] = {
        {path, "purpose=TREAT", 200}, {cut, "purpose=TREAT", 400}, {path, "purpose=TREAT%00x", 400}};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        ct_signed_resp s;
        assert_int_equal(ct_signed_get(fx.node.url, &fx.patient, reads[i].path, reads[i].query, 0, NULL, &s),
                         0);
        if (s.r.status != reads[i].status)
            fail_msg("%s?%s: %ld %s, not %ld", reads[i].path, reads[i].query, s.r.status, s.r.body,
                     reads[i].status);
        if (reads[i].status == 400) assert_string_equal(ct_resp_error_code(&s.r), "malformed");
        ct_signed_resp_free(&s);
    }
    free(cut);
    free(path);
}

/* A '/' inside a segment (%2F) is refused by name: it was decoded before
 * routing, and "/v1/trials/a%2Fb/integrity" answered "no such endpoint",
 * which the explorer read as a node without the trials module. A %2F in
 * the query is a value like any other. */
static void test_slash_in_segment_is_malformed(void **state)
{
    (void)state;
    static const char *const targets[] = {
        "/v1/trials/a%2Fb/integrity",
        "/v1/claims/..%2f..%2fv1%2fstatus",
        "/v1/orgs/x%2F",
    };
    expect_400_each(targets, sizeof targets / sizeof targets[0], "malformed");
    ct_resp r;
    char *u = ct_strf("%s/v1/drugs/verify?id=%%2F", fx.node.url);
    assert_int_equal(ct_get(u, &r), 0);
    if (r.status != 400 || strcmp(ct_resp_error_code(&r), "malformed") == 0)
        fail_msg("%%2F in a query value: %ld %s", r.status, r.body);
    ct_resp_free(&r);
    free(u);
}

/* A number past 64 bits is a 400, like any other bad number; strtoll
 * capped it, and the answer was a 404 for version 9223372036854775807. */
static void test_huge_numbers_are_usage(void **state)
{
    (void)state;
    static const char *const targets[] = {
        "/v1/plans/no-such-plan?version=99999999999999999999",
        "/fhir/ResearchStudy/no-such-trial?version=99999999999999999999999",
        "/v1/checkpoint/signatures?height=99999999999999999999",
        "/v1/blocks?limit=99999999999999999999",
        "/v1/blocks/raw?from=1&count=99999999999999999999",
        "/v1/blocks/99999999999999999999",
    };
    expect_400_each(targets, sizeof targets / sizeof targets[0], "usage");
}

static size_t on_header(char *line, size_t size, size_t count, void *user)
{
    size_t n = size * count;
    char *allow = user;
    if (n > 6 && strncasecmp(line, "Allow:", 6) == 0) {
        size_t len = n - 6;
        while (len && (line[6 + len - 1] == '\r' || line[6 + len - 1] == '\n')) len--;
        snprintf(allow, 64, "%.*s", (int)len, line + 6);
    }
    return n;
}

static size_t discard(char *data, size_t size, size_t count, void *user)
{
    (void)data, (void)user;
    return size * count;
}

/* What the node sends back on one connection for the bytes raw, until it
 * closes the connection or 5 s pass ("<timeout>" then ends it). */
static char *raw_exchange(const char *raw)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.net.api_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(send(fd, raw, strlen(raw), 0), (ssize_t)strlen(raw));
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap + 16);
    for (ssize_t got; n < cap && (got = recv(fd, out + n, cap - n, 0)) != 0; n += (size_t)got)
        if (got < 0) {
            strcpy(out + n, "<timeout>");
            break;
        }
    close(fd);
    return out;
}

/* A body framed two ways (two Content-Length headers, or one beside
 * Transfer-Encoding) is refused and the connection closed: libmicrohttpd
 * went by the first length and served what followed as a second request,
 * which a proxy going by the other would not have seen (smuggling). */
static void test_body_framed_twice_is_refused(void **state)
{
    (void)state;
    static const char *const raw[] = {
        "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\n"
        "abcGET /v1/time HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nContent-Length: 3\r\n\r\n"
        "abcGET /v1/time HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\nGET /v1/time HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        char *out = raw_exchange(raw[i]);
        if (strncmp(out, "HTTP/1.1 400", 12) != 0 || !strstr(out, "framed twice") ||
            strstr(out + 12, "HTTP/1.1 ") || strstr(out, "<timeout>"))
            fail_msg("framing %zu: %s", i, out);
        free(out);
    }
    /* one Content-Length, then a second request on the same connection: both served */
    char *out = raw_exchange("GET /v1/time HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /v1/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_non_null(strstr(strstr(out, "HTTP/1.1 200") + 1, "HTTP/1.1 200"));
    free(out);
}

/* A 405 names every method of the path: /v1/checkpoint/signatures takes
 * GET and POST, and its Allow header said POST only. */
static void test_allow_names_every_method(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"DELETE", "/v1/checkpoint/signatures", " GET, HEAD, POST"},
        {"PUT", "/v1/checkpoint/signatures", " GET, HEAD, POST"},
        {"DELETE", "/v1/status", " GET, HEAD"},
        {"GET", "/v1/tx", " POST"},
        {"DELETE", "/v1/claims/simulate", " GET, HEAD, POST"}, /* also /v1/claims/{id} */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char allow[64] = "";
        long status = 0;
        char *u = ct_strf("%s%s", fx.node.url, cases[i].path);
        CURL *c = curl_easy_init();
        assert_non_null(c);
        curl_easy_setopt(c, CURLOPT_URL, u);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, cases[i].method);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, allow);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(c);
        if (status != 405 || strcmp(allow, cases[i].allow) != 0)
            fail_msg("%s %s: %ld, Allow:%s, not 405 with Allow:%s", cases[i].method, cases[i].path, status,
                     allow, cases[i].allow);
        free(u);
    }
}

/* A FHIR searchset under a Host header that is not text, or so long that
 * the base URL cuts it mid-character: every entry is there, under the
 * node's own address. Each entry's fullUrl quotes the base, and before the
 * fix an entry that could not be written was left out: the Bundle said
 * "total": 1 and had no entry. */
static void test_fhir_bundle_under_a_bad_host(void **state)
{
    (void)state;
    /* one byte, then 100 two-byte characters: 201 bytes, past what a base
     * URL holds, and cut there mid-character */
    char long_host[8 + 201 + 1] = "Host: a";
    for (size_t i = 0; i < 100; i++) strcat(long_host, "\xc3\xa9");
    const char *hosts[] = {"Host: \xff\xfe", long_host};
    /* a read the ledger audits, so that the search has an entry */
    char *records = ct_strf("/v1/patients/%s/records", fx.patient_hex);
    ct_signed_resp read;
    assert_int_equal(ct_signed_get(fx.node.url, &fx.patient, records, "purpose=TREAT", 0, NULL, &read), 0);
    if (read.r.status != 200 || !read.audit[0]) fail_msg("%s: %ld %s", records, read.r.status, read.r.body);
    ct_signed_resp_free(&read);
    free(records);

    const char *path = "/fhir/AuditEvent";
    char *query = ct_strf("patient=%s", fx.patient_hex);
    char *u = ct_strf("%s%s?%s", fx.node.url, path, query);
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        cc_reqsig_headers h;
        assert_int_equal(
            cc_reqsig_sign(&fx.patient, "GET", path, query, NULL, 0, (int64_t)(cc_now_ms() / 1000), &h, NULL),
            CC_OK);
        char *lines[3] = {ct_strf("Content-Digest: %s", h.content_digest),
                          ct_strf("Signature-Input: %s", h.signature_input),
                          ct_strf("Signature: %s", h.signature)};
        const char *headers[] = {lines[0], lines[1], lines[2], hosts[i], NULL};
        ct_signed_resp s;
        assert_int_equal(ct_get_with_headers(u, headers, &s), 0);
        if (s.r.status != 200) fail_msg("%s: %ld %s", u, s.r.status, s.r.body);
        json_t *entries = json_object_get(s.r.json, "entry");
        assert_true(ct_json_int(s.r.json, "total") > 0);
        assert_int_equal(json_array_size(entries), ct_json_int(s.r.json, "total"));
        const char *full = ct_json_str(json_array_get(entries, 0), "fullUrl");
        char *base = ct_strf("%s/fhir/AuditEvent/", fx.node.url);
        if (strncmp(full, base, strlen(base)) != 0) fail_msg("fullUrl %s, not under %s", full, base);
        free(base);
        ct_signed_resp_free(&s);
        for (size_t k = 0; k < 3; k++) free(lines[k]);
    }
    free(u);
    free(query);
}

static void test_every_route_unsigned(void **state)
{
    (void)state;
    int64_t before = ct_status_height(fx.node.url);
    assert_true(before >= 1);
    unsigned start = fx.requests;
    size_t n = 0;
    const cc_http_route *routes = cc_http_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (!swept(&routes[i])) continue;
        sweep_route(&routes[i], unsigned_request);
        /* and the other methods */
        const char *other = strcmp(routes[i].method, "GET") == 0 ? "POST" : "GET";
        char *path = fill(routes[i].pattern, "x");
        unsigned_request(other, path, NULL, "application/json", "{}", 2);
        unsigned_request("DELETE", path, NULL, NULL, NULL, 0);
        free(path);
    }
    print_message("%u unsigned requests\n", fx.requests - start);
    assert_true(ct_node_alive(&fx.node));
    /* nothing an unsigned bad request sends can commit */
    assert_int_equal(ct_status_height(fx.node.url), before);
}

static void test_every_signed_route_signed(void **state)
{
    (void)state;
    unsigned start = fx.requests;
    fx.unauthenticated = 0;
    size_t n = 0, found = 0;
    const cc_http_route *routes = cc_http_routes(&n);
    for (size_t i = 0; i < n; i++) {
        if (!is_signed(&routes[i])) continue;
        found++;
        sweep_route(&routes[i], signed_request);
    }
    /* every signed route listed above is still a route */
    assert_int_equal(found, sizeof signed_routes / sizeof signed_routes[0]);
    print_message("%u signed requests\n", fx.requests - start);
    /* every one got past authentication to the checks behind it */
    assert_int_equal(fx.unauthenticated, 0);
    assert_true(ct_node_alive(&fx.node));
    assert_true(ct_status_height(fx.node.url) >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_500s_are_4xx),
        cmocka_unit_test(test_nul_in_target_is_malformed),
        cmocka_unit_test(test_slash_in_segment_is_malformed),
        cmocka_unit_test(test_huge_numbers_are_usage),
        cmocka_unit_test(test_allow_names_every_method),
        cmocka_unit_test(test_body_framed_twice_is_refused),
        cmocka_unit_test(test_every_route_unsigned),
        cmocka_unit_test(test_every_signed_route_signed),
        cmocka_unit_test(test_fhir_bundle_under_a_bad_host),
    };
    return cmocka_run_group_tests_name("api_hostile", tests, group_setup, group_teardown);
}
