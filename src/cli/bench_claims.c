/*
 * cli/bench_claims.c — `carechain bench --claims N`: adjudicated claims per
 * second on one node (DESIGN.md target: >= 5,000 ten-line claims/s) with a
 * plan that includes a custom Lua rule.
 *
 * A fresh single-node network; the payer deploys the plan and enrolls
 * PATIENTS members; N claim.submit txs of 10 lines each are signed
 * beforehand by the hospital's clinician (distinct amounts, so none is a
 * duplicate); the clock runs from the first POST /v1/txs until the node's
 * tx_total holds every claim. Then one claim is read back to show it was
 * adjudicated (not merely stored).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apps/claims.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES       4096
#define DIR_BYTES        1024
#define PATIENTS         100
#define LINES            10
#define BATCH            500
#define READY_TIMEOUT_MS 20000
#define DONE_TIMEOUT_MS  600000

static const char plan_fmt[] =
    "{\"plan\":{\"id\":\"bench-plan\",\"version\":1,\"currency\":\"USD\","
    "\"effective\":{\"start\":\"%1$d-01-01\",\"end\":\"%1$d-12-31\"},"
    "\"deductibleCents\":50000,\"outOfPocketMaxCents\":300000,\"timelyFilingDays\":365,"
    "\"categories\":{\"lab\":{\"copayCents\":0,\"coinsuranceBp\":2000,\"deductible\":true}},"
    "\"covered\":[{\"from\":\"80047\",\"to\":\"80076\",\"category\":\"lab\",\"allowedCents\":2500}],"
    "\"rules\":\"function adjudicate(claim, member, plan) local out = {} "
    "for _, l in ipairs(claim.lines) do if l.decision == 'approve' and l.billedCents > 2000000 then "
    "out[#out + 1] = {line = l.line, decision = 'pend', reason = 'over $20,000'} end end return out end\","
    "\"tests\":[{\"name\":\"one lab line\",\"claim\":{\"resourceType\":\"Claim\",\"status\":\"active\","
    "\"use\":\"claim\",\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"created\":\"%1$d-03-02\","
    "\"item\":[{\"sequence\":1,\"productOrService\":{\"coding\":[{\"code\":\"80053\"}]},"
    "\"servicedDate\":\"%1$d-03-02\",\"net\":{\"value\":\"40.00\",\"currency\":\"USD\"}}]},"
    "\"expect\":{\"lines\":[{\"line\":1,\"eligibleCents\":2500}]}}]}}";

typedef struct claims_bench {
    char dir[DIR_BYTES], base[80];
    pid_t pid;
    cc_cli_http *h;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_key payer, clinician, admin;
    char patients[PATIENTS][CC_HASH_HEX];
    char today[16];
    int year;
} claims_bench;

static cc_err post_batch(cc_cli_http *h, const uint8_t *buf, size_t len, size_t count, bool wait,
                         cc_errbuf *eb)
{
    cc_cli_resp r;
    cc_err rc = cc_cli_http_request(h, wait ? "/v1/txs?wait=commit" : "/v1/txs", "application/octet-stream",
                                    buf, len, &r, eb);
    if (rc != CC_OK) return rc;
    json_int_t accepted = json_integer_value(json_object_get(r.json, "accepted"));
    if (r.status >= 300 || accepted != (json_int_t)count)
        rc = cc_errf(eb, CC_ERR_INVALID, "the node accepted %lld of %zu txs (HTTP %ld): %.200s",
                     (long long)accepted, count, r.status, r.body ? r.body : "");
    cc_cli_resp_free(&r);
    return rc;
}

/* Sign one tx into the batch buffer. */
static cc_err add_tx(claims_bench *b, const cc_key *k, const char *type, const char *payload, uint8_t **buf,
                     size_t *len, size_t *cap, cc_errbuf *eb)
{
    cc_tx tx;
    cc_err rc = cc_cli_tx_build(b->chain_id, k, type, payload, NULL, 0, &tx, eb);
    if (rc != CC_OK) return rc;
    rc = cc_cli_batch_add(buf, len, cap, &tx);
    cc_tx_free(&tx);
    return rc == CC_OK ? CC_OK : cc_errf(eb, rc, "out of memory");
}

/* Claim i: LINES lab lines on today's date for patient i % PATIENTS, amounts
 * unique to i so that no line is a duplicate of another claim's. */
static char *claim_text(const claims_bench *b, size_t i)
{
    char items[LINES * 200];
    size_t len = 0;
    for (size_t l = 0; l < LINES; l++)
        len +=
            (size_t)snprintf(items + len, sizeof items - len,
                             "%s{\"net\":{\"currency\":\"USD\",\"value\":\"%zu.%02zu\"},\"productOrService\":"
                             "{\"coding\":[{\"code\":\"%zu\"}]},\"sequence\":%zu,\"servicedDate\":\"%s\"}",
                             l ? "," : "", 30 + i / 100, i % 100, (size_t)80047 + l * 3, l + 1, b->today);
    const char *p = b->patients[i % PATIENTS];
    char *out = NULL;
    if (asprintf(
            &out,
            "{\"claim\":{\"created\":\"%s\",\"insurance\":[{\"coverage\":{\"reference\":\"Coverage/"
            "cov-b-%zu\"},"
            "\"focal\":true,\"sequence\":1}],\"item\":[%s],\"patient\":{\"reference\":\"Patient/%s\"},"
            "\"provider\":{\"reference\":\"Organization/hospital\"},\"resourceType\":\"Claim\",\"status\":"
            "\"active\",\"type\":{\"coding\":[{\"code\":\"professional\"}]},\"use\":\"claim\"}}",
            b->today, i % PATIENTS, items, p) < 0)
        return NULL;
    return out;
}

static cc_err setup(claims_bench *b, cc_errbuf *eb)
{
    char path[PATH_BYTES], api[64];
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/carechain-claims-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) return cc_errf(eb, CC_ERR_IO, "mkdtemp: %s", strerror(errno));
    unsigned port = cc_cli_free_port();
    if (!port) return cc_errf(eb, CC_ERR_IO, "no free TCP port");
    cc_err rc = cc_cli_net_init_ports(b->dir, 1, "carechain-claims-bench", port, port + 100, eb);
    if (rc != CC_OK) return rc;
    snprintf(api, sizeof api, "127.0.0.1:%u", port);
    snprintf(b->base, sizeof b->base, "http://%s", api);
    snprintf(path, sizeof path, "%s/node1", b->dir);
    char log[PATH_BYTES];
    snprintf(log, sizeof log, "%s/node1/node.log", b->dir);
    if ((rc = cc_cli_node_spawn(path, api, log, &b->pid, eb)) != CC_OK) return rc;
    if ((rc = cc_cli_node_wait_ready(b->base, b->pid, READY_TIMEOUT_MS, eb)) != CC_OK) return rc;
    if (!(b->h = cc_cli_http_new(b->base))) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    if ((rc = cc_cli_chain_id(b->h, NULL, b->chain_id, eb)) != CC_OK) return rc;
    json_t *answer = NULL;
    if ((rc = cc_cli_keyring_register(b->h, b->dir, b->chain_id, &answer, eb)) != CC_OK) return rc;
    json_decref(answer);
    const struct {
        const char *name;
        cc_key *k;
    } keys[] = {{"payer", &b->payer}, {"clinician", &b->clinician}, {"admin-hospital", &b->admin}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/keys/%s.key", b->dir, keys[i].name);
        if ((rc = cc_key_load(path, keys[i].k, NULL, eb)) != CC_OK) return rc;
    }

    /* the plan, PATIENTS patients and their coverages */
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    char text[4096];
    json_t *plan = NULL;
    snprintf(text, sizeof text, plan_fmt, b->year);
    if ((rc = cc_claims_json_load(text, strlen(text), &plan, eb)) != CC_OK) return rc;
    char *canon = cc_cli_json_text(plan);
    rc = canon ? add_tx(b, &b->payer, "plan.deploy", canon, &buf, &len, &cap, eb) : CC_ERR_NOMEM;
    free(canon);
    for (size_t i = 0; rc == CC_OK && i < PATIENTS; i++) {
        cc_key p;
        cc_key_generate(&p);
        cc_hex(p.pk, CC_PUBKEY_BYTES, b->patients[i]);
        cc_key_wipe(&p);
        snprintf(text, sizeof text, "{\"id\":\"%s\",\"role\":\"patient\"}", b->patients[i]);
        rc = add_tx(b, &b->admin, "member.register", text, &buf, &len, &cap, eb);
    }
    if (rc == CC_OK) rc = post_batch(b->h, buf, len, PATIENTS + 1, true, eb);
    len = 0;
    for (size_t i = 0; rc == CC_OK && i < PATIENTS; i++) {
        snprintf(
            text, sizeof text,
            "{\"coverage\":\"cov-b-%zu\",\"patient\":\"%s\",\"period\":{\"start\":\"%d-01-01\"},\"plan\":"
            "\"bench-plan\",\"subscriber\":\"S%zu\"}",
            i, b->patients[i], b->year, i);
        rc = add_tx(b, &b->payer, "coverage.enroll", text, &buf, &len, &cap, eb);
    }
    if (rc == CC_OK) rc = post_batch(b->h, buf, len, PATIENTS, true, eb);
    free(buf);
    return rc;
}

static uint64_t tx_total(cc_cli_http *h)
{
    cc_cli_resp r;
    cc_errbuf eb = {{0}};
    uint64_t t = 0;
    if (cc_cli_http_request(h, "/v1/status", NULL, NULL, 0, &r, &eb) == CC_OK)
        t = cc_cli_juint(r.json, "tx_total");
    cc_cli_resp_free(&r);
    return t;
}

int cc_cli_bench_claims(uint64_t n, bool json_out)
{
    claims_bench b;
    cc_errbuf eb = {{0}};
    memset(&b, 0, sizeof b);
    time_t now = (time_t)(cc_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    b.year = tm.tm_year + 1900;
    strftime(b.today, sizeof b.today, "%Y-%m-%d", &tm);

    int rc = CC_EXIT_FAIL;
    uint8_t **bufs = NULL;
    size_t *lens = NULL, nb = (size_t)((n + BATCH - 1) / BATCH);
    fprintf(stderr, "bench --claims: setting up one node, a plan with a Lua rule and %d members...\n",
            PATIENTS);
    cc_err e = setup(&b, &eb);
    if (e != CC_OK) goto out;

    fprintf(stderr, "bench --claims: signing %llu claims of %d lines...\n", (unsigned long long)n, LINES);
    bufs = calloc(nb, sizeof *bufs);
    lens = calloc(nb, sizeof *lens);
    if (!bufs || !lens) {
        e = cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    char first_id[CC_HASH_HEX] = "";
    for (size_t k = 0; e == CC_OK && k < nb; k++) {
        size_t cap = 0;
        for (uint64_t i = k * BATCH; e == CC_OK && i < n && i < (k + 1) * BATCH; i++) {
            char *raw = claim_text(&b, (size_t)i), *text = NULL;
            json_t *parsed = NULL;
            if (raw && cc_claims_json_load(raw, strlen(raw), &parsed, &eb) == CC_OK)
                text = cc_cli_json_text(parsed); /* canonical: sorted keys, compact */
            free(raw);
            cc_tx tx;
            e = text ? cc_cli_tx_build(b.chain_id, &b.clinician, "claim.submit", text, NULL, 0, &tx, &eb)
                     : cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
            free(text);
            if (e != CC_OK) break;
            if (i == 0) cc_hex(tx.txid, CC_HASH_BYTES, first_id);
            e = cc_cli_batch_add(&bufs[k], &lens[k], &cap, &tx);
            cc_tx_free(&tx);
        }
    }
    if (e != CC_OK) goto out;

    uint64_t base = tx_total(b.h), t0 = cc_now_ms();
    fprintf(stderr, "bench --claims: submitting...\n");
    for (size_t k = 0; e == CC_OK && k < nb; k++) {
        size_t count = (size_t)((k + 1) * BATCH <= n ? BATCH : n - k * BATCH);
        e = post_batch(b.h, bufs[k], lens[k], count, false, &eb);
    }
    while (e == CC_OK && tx_total(b.h) < base + n) {
        if (cc_now_ms() - t0 > DONE_TIMEOUT_MS)
            e = cc_errf(&eb, CC_ERR_TIMEOUT, "the claims did not all commit");
        usleep(5000);
    }
    uint64_t t1 = cc_now_ms();
    if (e != CC_OK) goto out;

    /* one claim read back: adjudicated, by the plan with its rule */
    char path[160];
    json_t *c = NULL;
    snprintf(path, sizeof path, "/v1/claims/%s", first_id);
    e = cc_cli_signed_json(b.h, &b.clinician, path, &c, NULL, &eb);
    if (e != CC_OK) goto out;
    const char *status = json_string_value(json_object_get(c, "status"));
    size_t lines = json_array_size(json_object_get(c, "lines"));
    double secs = (double)(t1 - t0) / 1000.0, rate = secs > 0 ? (double)n / secs : 0;
    if (json_out) {
        json_t *j = json_pack("{s:I, s:i, s:f, s:f, s:f, s:s, s:i, s:b}", "claims", (json_int_t)n,
                              "lines_per_claim", LINES, "seconds", secs, "claims_per_s", rate, "lines_per_s",
                              rate * LINES, "sample_status", status ? status : "?", "target_claims_per_s",
                              5000, "target_met", rate >= 5000);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        printf(
            "Claims: %llu claims of %d lines adjudicated and committed in %.2f s on one node: %.0f claims/s\n"
            "(%.0f lines/s), with a plan that runs a Lua rule on every claim. Target 5,000 claims/s: %s.\n"
            "A sample claim reads back as %s with %zu adjudicated lines.\n",
            (unsigned long long)n, LINES, secs, rate, rate * LINES, rate >= 5000 ? "met" : "NOT met",
            status ? status : "?", lines);
    }
    rc = status && strcmp(status, "adjudicated") == 0 && lines == LINES ? CC_EXIT_OK : CC_EXIT_FAIL;
    json_decref(c);
out:
    if (e != CC_OK) fprintf(stderr, "carechain bench --claims: %s\n", eb.msg);
    for (size_t k = 0; bufs && k < nb; k++) free(bufs[k]);
    free(bufs);
    free(lens);
    cc_cli_http_free(b.h);
    if (b.pid > 0) cc_cli_node_stop(b.pid, 15000);
    cc_key_wipe(&b.payer);
    cc_key_wipe(&b.clinician);
    cc_key_wipe(&b.admin);
    if (b.dir[0]) {
        cc_errbuf ignored = {{0}};
        if (cc_cli_rmtree(b.dir, &ignored) != CC_OK) fprintf(stderr, "carechain bench: %s\n", ignored.msg);
    }
    return rc;
}
