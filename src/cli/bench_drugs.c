/*
 * cli/bench_drugs.c — `carechain bench --drugs N`: the drug supply chain's
 * two figures on one node (DESIGN.md target: >= 20,000 verification
 * answers/s over HTTP).
 *
 * A fresh single-node network; the regulator assigns the manufacturer a
 * company prefix and it registers one product. Phase 1: N serials are
 * commissioned in drug.commission txs of 10,000 serials each (ranges of
 * 12-character serials, SN0000000000...), signed beforehand; the clock runs
 * from the first POST /v1/txs until the node's tx_total holds them all.
 * Phase 2: 2 x cores threads, each on its own keep-alive TCP connection,
 * send GET /v1/drugs/verify for random commissioned serials (one in ten
 * unknown) for VERIFY_SECONDS; answers/s and latency percentiles.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "carechain/gs1.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES       4096
#define DIR_BYTES        1024
#define READY_TIMEOUT_MS 20000
#define DONE_TIMEOUT_MS  600000
#define BATCH_SERIALS    10000
#define PAYLOAD_SLACK    256 /* bytes of a commission payload besides its serials */
#define TXS_PER_POST     16
#define VERIFY_SECONDS   10
#define UNKNOWN_PERCENT  10
#define TARGET_PER_S     20000
#define THREADS_MAX      64
#define RESP_MAX         (64 * 1024)
#define GTIN             "00312345678906"
#define LOT              "BENCH1"
#define EXP              "351231"

#define SERIAL_PREFIX "SN"
#define SERIAL_DIGITS 10 /* serials of 12 characters, as serial number managers issue them */

/* Serial i: SN and i in SERIAL_DIGITS decimal digits, the form a
 * commission range names (docs/SUPPLY.md). */
static void serial_of(uint64_t i, char out[24])
{
    snprintf(out, 24, SERIAL_PREFIX "%0*llu", SERIAL_DIGITS, (unsigned long long)i);
}

typedef struct drugs_bench {
    char dir[DIR_BYTES], base[80];
    unsigned port;
    pid_t pid;
    cc_cli_http *h;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_key regulator, mfr;
    uint64_t n;
} drugs_bench;

typedef struct worker {
    const drugs_bench *b;
    uint64_t stop_ns;
    uint64_t seed;
    uint64_t *lat_ns; /* one per answer */
    size_t count, cap;
    uint64_t errors, unknown_sent, verified;
    char error[160];
} worker;

static uint64_t next_rand(uint64_t *s)
{
    /* xorshift64*: the bench's sampling, not anything secret */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static int connect_node(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0) return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read one HTTP/1.1 answer with Content-Length. Returns the status, or -1
 * when the connection failed. *verified: the body says "verified":true. */
static int read_answer(int fd, char *buf, size_t cap, bool *verified)
{
    size_t len = 0;
    char *body = NULL;
    long content_len = -1;
    for (;;) {
        if (len + 1 >= cap) return -1;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (!body) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            body = end + 4;
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            if (!cl || cl > end) return -1;
            content_len = strtol(cl + 17, NULL, 10);
        }
        if ((long)(len - (size_t)(body - buf)) >= content_len) break;
    }
    *verified = strstr(body, "\"verified\":true") || strstr(body, "\"verified\": true");
    return atoi(buf + 9); /* "HTTP/1.1 200" */
}

static void *verify_worker(void *arg)
{
    worker *w = arg;
    char req[512], serial[32];
    char *buf = malloc(RESP_MAX);
    int fd = connect_node(w->b->port);
    if (!buf || fd < 0) {
        snprintf(w->error, sizeof w->error, "cannot connect: %s", strerror(errno));
        goto out;
    }
    while (cc_mono_ns() < w->stop_ns) {
        uint64_t r = next_rand(&w->seed);
        bool unknown = r % 100 < UNKNOWN_PERCENT;
        if (unknown) {
            serial[0] = 'U'; /* one character longer than any commissioned serial */
            serial_of((r >> 8) % w->b->n, serial + 1);
            w->unknown_sent++;
        } else {
            serial_of((r >> 8) % w->b->n, serial);
        }
        int n = snprintf(req, sizeof req,
                         "GET /v1/drugs/verify?gtin=" GTIN "&serial=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Accept: application/json\r\n\r\n",
                         serial);
        uint64_t t0 = cc_mono_ns();
        bool verified = false;
        if (write(fd, req, (size_t)n) != n) {
            snprintf(w->error, sizeof w->error, "write: %s", strerror(errno));
            break;
        }
        int status = read_answer(fd, buf, RESP_MAX, &verified);
        uint64_t dt = cc_mono_ns() - t0;
        if (status < 0) {
            /* the node closed the connection: open another and go on */
            close(fd);
            w->errors++;
            if ((fd = connect_node(w->b->port)) < 0) {
                snprintf(w->error, sizeof w->error, "reconnect: %s", strerror(errno));
                break;
            }
            continue;
        }
        if (status != 200 || verified == unknown) w->errors++;
        if (verified) w->verified++;
        if (w->count == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 65536;
            uint64_t *p = realloc(w->lat_ns, cap * sizeof *p);
            if (!p) break;
            w->lat_ns = p;
            w->cap = cap;
        }
        w->lat_ns[w->count++] = dt;
    }
out:
    if (fd >= 0) close(fd);
    free(buf);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static cc_err post_batch(cc_cli_http *h, const uint8_t *buf, size_t len, size_t count, cc_errbuf *eb)
{
    cc_cli_resp r;
    cc_err rc = cc_cli_http_request(h, "/v1/txs", "application/octet-stream", buf, len, &r, eb);
    if (rc != CC_OK) return rc;
    json_int_t accepted = json_integer_value(json_object_get(r.json, "accepted"));
    if (r.status >= 300 || accepted != (json_int_t)count)
        rc = cc_errf(eb, CC_ERR_INVALID, "the node accepted %lld of %zu txs (HTTP %ld): %.300s",
                     (long long)accepted, count, r.status, r.body ? r.body : "");
    cc_cli_resp_free(&r);
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

static cc_err setup(drugs_bench *b, cc_errbuf *eb)
{
    char path[PATH_BYTES], api[64], log[PATH_BYTES];
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/carechain-drugs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir)) return cc_errf(eb, CC_ERR_IO, "mkdtemp: %s", strerror(errno));
    b->port = cc_cli_free_port();
    if (!b->port) return cc_errf(eb, CC_ERR_IO, "no free TCP port");
    cc_err rc = cc_cli_net_init_ports(b->dir, 1, "carechain-drugs-bench", b->port, b->port + 100, eb);
    if (rc != CC_OK) return rc;
    snprintf(api, sizeof api, "127.0.0.1:%u", b->port);
    snprintf(b->base, sizeof b->base, "http://%s", api);
    snprintf(path, sizeof path, "%s/node1", b->dir);
    snprintf(log, sizeof log, "%s/node1/node.log", b->dir);
    if ((rc = cc_cli_node_spawn(path, api, log, &b->pid, eb)) != CC_OK) return rc;
    if ((rc = cc_cli_node_wait_ready(b->base, b->pid, READY_TIMEOUT_MS, eb)) != CC_OK) return rc;
    if (!(b->h = cc_cli_http_new(b->base))) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    if ((rc = cc_cli_chain_id(b->h, NULL, b->chain_id, eb)) != CC_OK) return rc;
    json_t *answer = NULL;
    if ((rc = cc_cli_keyring_register(b->h, b->dir, b->chain_id, &answer, eb)) != CC_OK) return rc;
    json_decref(answer);
    snprintf(path, sizeof path, "%s/keys/regulator.key", b->dir);
    if ((rc = cc_key_load(path, &b->regulator, NULL, eb)) != CC_OK) return rc;
    snprintf(path, sizeof path, "%s/keys/manufacturer.key", b->dir);
    if ((rc = cc_key_load(path, &b->mfr, NULL, eb)) != CC_OK) return rc;
    rc = cc_cli_commit_json(b->h, b->chain_id, &b->regulator, "drug.prefix",
                            json_pack("{s:s,s:s}", "prefix", "0312345", "org", "pharma"), NULL, eb);
    if (rc == CC_OK)
        rc = cc_cli_commit_json(b->h, b->chain_id, &b->mfr, "drug.product",
                                json_pack("{s:s,s:s,s:s,s:s,s:s}", "gtin", GTIN, "ndc", "12345-6789-01",
                                          "name", "Benchmarkol", "strength", "10 mg", "form", "tablet"),
                                NULL, eb);
    return rc;
}

/* Phase 1: sign every commission, post them, wait until all committed. */
static cc_err commission(drugs_bench *b, size_t *txs_out, double *secs, char last_txid[CC_HASH_HEX],
                         cc_errbuf *eb)
{
    size_t per_tx = BATCH_SERIALS;
    size_t txs = (size_t)((b->n + per_tx - 1) / per_tx), posts = (txs + TXS_PER_POST - 1) / TXS_PER_POST;
    uint8_t **bufs = calloc(posts, sizeof *bufs);
    size_t *lens = calloc(posts, sizeof *lens), *caps = calloc(posts, sizeof *caps);
    cc_err rc = bufs && lens && caps ? CC_OK : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    char text[PAYLOAD_SLACK];
    fprintf(stderr, "bench --drugs: signing %zu drug.commission txs of up to %zu serials...\n", txs, per_tx);
    for (size_t t = 0; rc == CC_OK && t < txs; t++) {
        uint64_t first = (uint64_t)t * per_tx, count = b->n - first < per_tx ? b->n - first : per_tx;
        snprintf(text, sizeof text,
                 "{\"exp\":\"" EXP "\",\"gtin\":\"" GTIN "\",\"lot\":\"" LOT "\",\"range\":{\"count\":%llu,"
                 "\"prefix\":\"" SERIAL_PREFIX "\",\"start\":%llu,\"width\":%d}}",
                 (unsigned long long)count, (unsigned long long)first, SERIAL_DIGITS);
        cc_tx tx;
        rc = cc_cli_tx_build(b->chain_id, &b->mfr, "drug.commission", text, NULL, 0, &tx, eb);
        if (rc != CC_OK) break;
        size_t p = t / TXS_PER_POST;
        rc = cc_cli_batch_add(&bufs[p], &lens[p], &caps[p], &tx);
        if (t + 1 == txs) cc_hex(tx.txid, CC_HASH_BYTES, last_txid);
        cc_tx_free(&tx);
        if (rc != CC_OK) rc = cc_errf(eb, rc, "out of memory");
    }
    uint64_t base = tx_total(b->h), t0 = cc_now_ms();
    fprintf(stderr, "bench --drugs: commissioning %llu serials...\n", (unsigned long long)b->n);
    for (size_t p = 0; rc == CC_OK && p < posts; p++) {
        size_t count = p + 1 < posts ? TXS_PER_POST : txs - p * TXS_PER_POST;
        rc = post_batch(b->h, bufs[p], lens[p], count, eb);
    }
    while (rc == CC_OK && tx_total(b->h) < base + txs) {
        if (cc_now_ms() - t0 > DONE_TIMEOUT_MS)
            rc = cc_errf(eb, CC_ERR_TIMEOUT, "the commissions did not all commit");
        usleep(2000);
    }
    *secs = (double)(cc_now_ms() - t0) / 1000.0;
    *txs_out = txs;
    for (size_t p = 0; bufs && p < posts; p++) free(bufs[p]);
    free(bufs);
    free(lens);
    free(caps);
    return rc;
}

/* The result of a committed tx: CC_OK when "ok". */
static cc_err tx_ok(drugs_bench *b, const char *txid, cc_errbuf *eb)
{
    char path[128];
    cc_cli_resp r;
    snprintf(path, sizeof path, "/v1/tx/%s", txid);
    cc_err rc = cc_cli_http_request(b->h, path, NULL, NULL, 0, &r, eb);
    if (rc != CC_OK) return rc;
    const json_t *res = json_object_get(r.json, "result");
    if (strcmp(cc_cli_jstr(res, "code", "?"), "ok") != 0)
        rc = cc_errf(eb, CC_ERR_INVALID, "the last commission failed: %s: %s", cc_cli_jstr(res, "code", "?"),
                     cc_cli_jstr(res, "message", ""));
    cc_cli_resp_free(&r);
    return rc;
}

int cc_cli_bench_drugs(uint64_t n, bool json_out)
{
    drugs_bench b;
    cc_errbuf eb = {{0}};
    memset(&b, 0, sizeof b);
    b.n = n;
    int rc = CC_EXIT_FAIL;
    worker *w = NULL;
    unsigned threads = 0;
    uint64_t *all = NULL;
    fprintf(stderr, "bench --drugs: setting up one node, a company prefix and a product...\n");
    cc_err e = setup(&b, &eb);
    size_t txs = 0;
    double csecs = 0;
    char last[CC_HASH_HEX] = "";
    if (e == CC_OK) e = commission(&b, &txs, &csecs, last, &eb);
    if (e == CC_OK) e = tx_ok(&b, last, &eb);
    if (e != CC_OK) goto out;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = (unsigned)(cores > 0 ? 2 * cores : 4);
    if (threads > THREADS_MAX) threads = THREADS_MAX;
    w = calloc(threads, sizeof *w);
    pthread_t tid[THREADS_MAX];
    if (!w) {
        e = cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    fprintf(stderr, "bench --drugs: verifying for %d s on %u keep-alive connections...\n", VERIFY_SECONDS,
            threads);
    uint64_t t0 = cc_mono_ns(), stop = t0 + (uint64_t)VERIFY_SECONDS * 1000000000ull;
    unsigned started = 0;
    for (unsigned i = 0; i < threads; i++) {
        w[i].b = &b;
        w[i].stop_ns = stop;
        w[i].seed = cc_random_u64() | 1;
        if (pthread_create(&tid[i], NULL, verify_worker, &w[i]) != 0) break;
        started++;
    }
    for (unsigned i = 0; i < started; i++) pthread_join(tid[i], NULL);
    double vsecs = (double)(cc_mono_ns() - t0) / 1e9;
    size_t total = 0;
    uint64_t errors = 0, unknown = 0;
    for (unsigned i = 0; i < started; i++) {
        total += w[i].count;
        errors += w[i].errors;
        unknown += w[i].unknown_sent;
        if (w[i].error[0]) fprintf(stderr, "bench --drugs: connection %u: %s\n", i, w[i].error);
    }
    all = malloc((total ? total : 1) * sizeof *all);
    if (!all) {
        e = cc_errf(&eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (unsigned i = 0; i < started; i++) {
        memcpy(all + k, w[i].lat_ns, w[i].count * sizeof *all);
        k += w[i].count;
    }
    qsort(all, total, sizeof *all, cmp_u64);
    double p50 = total ? (double)all[total / 2] / 1e6 : 0,
           p99 = total ? (double)all[total * 99 / 100] / 1e6 : 0;
    double crate = csecs > 0 ? (double)n / csecs : 0, vrate = vsecs > 0 ? (double)total / vsecs : 0;
    if (json_out) {
        json_t *j = json_pack(
            "{s:I,s:I,s:f,s:f,s:i,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:i,s:b}", "serials", (json_int_t)n,
            "commission_txs", (json_int_t)txs, "commission_seconds", csecs, "serials_per_s", crate,
            "connections", (int)started, "answers", (json_int_t)total, "unknown_asked", (json_int_t)unknown,
            "wrong_answers", (json_int_t)errors, "verify_seconds", vsecs, "answers_per_s", vrate, "p50_ms",
            p50, "p99_ms", p99, "target_answers_per_s", TARGET_PER_S, "target_met", vrate >= TARGET_PER_S);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        printf(
            "Drugs: %llu serials commissioned in %zu drug.commission txs in %.2f s on one node: %.0f "
            "serials/s.\n"
            "Verification: %zu answers in %.1f s over %u keep-alive HTTP connections: %.0f answers/s\n"
            "(%llu of the serials asked were unknown; %llu wrong or failed answers); latency p50 %.2f ms,\n"
            "p99 %.2f ms. Target 20,000 answers/s: %s.\n",
            (unsigned long long)n, txs, csecs, crate, total, vsecs, started, vrate,
            (unsigned long long)unknown, (unsigned long long)errors, p50, p99,
            vrate >= TARGET_PER_S ? "met" : "NOT met");
    }
    rc = total > 0 && errors == 0 ? CC_EXIT_OK : CC_EXIT_FAIL;
out:
    if (e != CC_OK) fprintf(stderr, "carechain bench --drugs: %s\n", eb.msg);
    for (unsigned i = 0; w && i < threads; i++) free(w[i].lat_ns);
    free(w);
    free(all);
    cc_cli_http_free(b.h);
    if (b.pid > 0) cc_cli_node_stop(b.pid, 15000);
    cc_key_wipe(&b.regulator);
    cc_key_wipe(&b.mfr);
    if (b.dir[0]) {
        cc_errbuf ignored = {{0}};
        if (cc_cli_rmtree(b.dir, &ignored) != CC_OK) fprintf(stderr, "carechain bench: %s\n", ignored.msg);
    }
    return rc;
}
