/*
 * cli/bench.c — `carechain bench`: committed tx/s of one node against this
 * machine's raw Ed25519 verify rate, measured in the same run, and commit
 * latency at half the measured peak. A benchmark, not a test.
 *
 * Phases, in order:
 *   1. raw Ed25519 verify rate: one core for ~2 s, then every core at once
 *   2. a fresh network in a temp dir, its node started as a child process
 *      on a free port, the keyring registered (not timed)
 *   3. N note.put txs pre-signed by several identities (not timed)
 *   4. throughput: batches over POST /v1/txs from several client threads;
 *      from the first send until /v1/status shows the last one committed
 *   5. latency, open loop: exactly half the peak tx/s (or --latency-rate),
 *      offered as small batches (POST /v1/txs?wait=commit) on a schedule
 *      fixed in advance, by several client threads; each tx's latency runs
 *      from its batch's send to the committed answer
 *   6. latency, closed loop: one client, one tx at a time with ?wait=commit
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES        4096
#define DEFAULT_TXS       200000
#define DEFAULT_BATCH     2000
#define DEFAULT_CLIENTS   4
#define DEFAULT_LATENCY_S 10
#define RAW_SECONDS       2.0
#define RAW_CHECK_EVERY   256
#define POLL_MS           5
#define STALL_TIMEOUT_NS  (60ull * 1000000000ull)
#define BUSY_BACKOFF_MS   5
#define LAT_CLIENTS       8
#define LAT_INFLIGHT_MAX  24 /* per client: 8 x 24 stays below the node's 256 connections */
#define LAT_TXS_MAX       1000000
#define LAT_REQS_PER_S    400 /* the batch size is chosen to stay around or below this */
#define LAT_BATCH_MIN     8
#define LAT_BATCH_MAX     64
#define LAT_AT_LOAD       0.9                 /* achieved/offered below this: not at the intended load */
#define LAT_LATE_NS       (5ull * 1000000ull) /* a send this late counts as late */
#define LAT_TIMEOUT_MS    60000L
#define SINGLE_SECONDS    3.0
#define READY_TIMEOUT_MS  20000
#define STOP_TIMEOUT_MS   30000
#define TARGET_RATIO      0.7
#define TARGET_P99_MS     50.0
#define NS_PER_S          1e9
#define NS_PER_MS         1e6
#define U32_BYTES         4

typedef struct batch {
    uint8_t *buf; /* u32 length || tx, repeated */
    size_t len, cap;
    size_t count;
} batch;

typedef struct bench {
    /* options */
    uint64_t txs, batch_size, clients, latency_s, latency_rate_opt;
    bool json, keep;
    const char *dir_opt;
    /* network */
    char dir[PATH_BYTES / 2]; /* room left for the file names under it */
    bool temp_dir;
    char base[80], api[64], log_path[PATH_BYTES];
    pid_t node;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_key *signers;
    size_t signer_count;
    /* raw crypto */
    unsigned cores;
    size_t msg_len;
    double raw_one, raw_all;
    /* throughput */
    batch *batches;
    size_t batch_count;
    atomic_size_t next_batch, presign_next;
    atomic_uint_fast64_t accepted, rejected, busy_retries;
    atomic_bool send_error;
    char first_error[256];
    pthread_mutex_t err_lock;
    uint64_t base_total, committed;
    double tps, seconds;
    /* latency, open loop */
    uint64_t lat_batch_opt;
    batch *lat_batches;
    size_t lat_batch_count, lat_batch_size, lat_count;
    double *lat_ms; /* per tx, from its batch's send to the answer; < 0 when it failed */
    uint64_t lat_t0;
    double lat_rate, lat_p50, lat_p99, lat_max, lat_achieved, lat_lag_max;
    uint64_t lat_sent, lat_failed, lat_late;
    /* latency, closed loop */
    double one_tps, one_p50, one_p99, one_max;
    uint64_t one_count, one_failed;
} bench;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Keep the first error any thread saw, for the report. */
static void note_error(bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_error(bench *b, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&b->err_lock);
    if (!b->first_error[0]) {
        va_start(ap, fmt);
        vsnprintf(b->first_error, sizeof b->first_error, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&b->err_lock);
}

/* ---- 1. raw Ed25519 ------------------------------------------------------------ */

typedef struct raw_job {
    const uint8_t *msg, *sig, *pk;
    size_t msg_len;
    double seconds;
    uint64_t count;
    uint64_t elapsed_ns;
} raw_job;

static void *raw_verify(void *arg)
{
    raw_job *j = arg;
    uint64_t t0 = cc_mono_ns(), limit = (uint64_t)(j->seconds * NS_PER_S), n = 0, now = t0;
    for (;;) {
        for (unsigned i = 0; i < RAW_CHECK_EVERY; i++)
            if (crypto_sign_verify_detached(j->sig, j->msg, j->msg_len, j->pk) != 0) return NULL;
        n += RAW_CHECK_EVERY;
        now = cc_mono_ns();
        if (now - t0 >= limit) break;
    }
    j->count = n;
    j->elapsed_ns = now - t0;
    return NULL;
}

static void measure_raw(bench *b)
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
    uint8_t *msg = malloc(b->msg_len);
    if (!msg) return;
    randombytes_buf(msg, b->msg_len);
    crypto_sign_keypair(pk, sk);
    crypto_sign_detached(sig, NULL, msg, b->msg_len, sk);
    sodium_memzero(sk, sizeof sk);

    raw_job one = {msg, sig, pk, b->msg_len, RAW_SECONDS, 0, 0};
    raw_verify(&one);
    b->raw_one = one.elapsed_ns ? (double)one.count * NS_PER_S / (double)one.elapsed_ns : 0;

    raw_job *jobs = calloc(b->cores, sizeof *jobs);
    pthread_t *th = calloc(b->cores, sizeof *th);
    if (jobs && th) {
        for (unsigned i = 0; i < b->cores; i++) {
            jobs[i] = one;
            pthread_create(&th[i], NULL, raw_verify, &jobs[i]);
        }
        for (unsigned i = 0; i < b->cores; i++) {
            pthread_join(th[i], NULL);
            if (jobs[i].elapsed_ns)
                b->raw_all += (double)jobs[i].count * NS_PER_S / (double)jobs[i].elapsed_ns;
        }
    }
    free(jobs);
    free(th);
    free(msg);
}

/* ---- 2. the network --------------------------------------------------------------- */

static cc_err start_network(bench *b, cc_errbuf *eb)
{
    cc_err rc;
    char path[PATH_BYTES], node_dir[PATH_BYTES];
    if (b->dir_opt) {
        if (strlen(b->dir_opt) >= sizeof b->dir) return cc_errf(eb, CC_ERR_USAGE, "--dir is too long");
        snprintf(b->dir, sizeof b->dir, "%s", b->dir_opt);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(b->dir, sizeof b->dir, "%s/carechain-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(b->dir)) return cc_errf(eb, CC_ERR_IO, "mkdtemp %s: %s", b->dir, strerror(errno));
        b->temp_dir = true;
    }
    rc = cc_cli_net_init(b->dir, 1, "carechain-bench", eb);
    if (rc != CC_OK) return rc;
    snprintf(path, sizeof path, "%s/genesis.json", b->dir);
    uint8_t *g;
    size_t glen;
    rc = cc_file_read(path, 16u << 20, &g, &glen, eb);
    if (rc != CC_OK) return rc;
    cc_sha256(g, glen, b->chain_id);
    free(g);

    unsigned port = cc_cli_free_port();
    if (!port) return cc_errf(eb, CC_ERR_IO, "no free TCP port on 127.0.0.1");
    snprintf(b->api, sizeof b->api, "127.0.0.1:%u", port);
    snprintf(b->base, sizeof b->base, "http://%s", b->api);
    snprintf(node_dir, sizeof node_dir, "%s/node1", b->dir);
    snprintf(b->log_path, sizeof b->log_path, "%s/node1/node.log", b->dir);
    rc = cc_cli_node_spawn(node_dir, b->api, b->log_path, &b->node, eb);
    if (rc != CC_OK) return rc;
    rc = cc_cli_node_wait_ready(b->base, b->node, READY_TIMEOUT_MS, eb);
    if (rc != CC_OK) {
        b->node = 0;
        return rc;
    }

    /* identities that sign: the founding admins and the registered keyring */
    cc_cli_http *h = cc_cli_http_new(b->base);
    json_t *answer = NULL;
    if (!h) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    rc = cc_cli_keyring_register(h, b->dir, b->chain_id, &answer, eb);
    cc_cli_http_free(h);
    if (rc != CC_OK) return rc;
    json_decref(answer);
    b->signers = calloc(cc_cli_org_count + cc_cli_member_count, sizeof *b->signers);
    if (!b->signers) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cc_cli_org_count + cc_cli_member_count; i++) {
        if (i < cc_cli_org_count)
            snprintf(path, sizeof path, "%s/keys/admin-%s.key", b->dir, cc_cli_orgs[i].id);
        else
            snprintf(path, sizeof path, "%s/keys/%s.key", b->dir, cc_cli_members[i - cc_cli_org_count].role);
        rc = cc_key_load(path, &b->signers[i], NULL, eb);
        if (rc != CC_OK) return rc;
        b->signer_count++;
    }
    return CC_OK;
}

/* ---- 3. pre-signing ------------------------------------------------------------------ */

static cc_err sign_note(bench *b, uint64_t i, cc_tx *tx, cc_errbuf *eb)
{
    char payload[160], hex[CC_HASH_HEX];
    uint8_t h[CC_HASH_BYTES], seed[16];
    uint64_t nonce = cc_random_u64();
    memcpy(seed, &i, 8);
    memcpy(seed + 8, &nonce, 8);
    cc_sha256(seed, sizeof seed, h);
    snprintf(payload, sizeof payload, "{\"kind\":\"bench\",\"sha256\":\"%s\"}",
             cc_hex(h, CC_HASH_BYTES, hex));
    return cc_cli_tx_build(b->chain_id, &b->signers[i % b->signer_count], "note.put", payload, NULL, 0, tx,
                           eb);
}

/* Sign txs [first, last) into bt; false (error noted) on failure. */
static bool fill_batch(bench *b, batch *bt, uint64_t first, uint64_t last)
{
    cc_errbuf eb = {{0}};
    for (uint64_t i = first; i < last; i++) {
        cc_tx tx;
        if (sign_note(b, i, &tx, &eb) != CC_OK ||
            cc_cli_batch_add(&bt->buf, &bt->len, &bt->cap, &tx) != CC_OK) {
            note_error(b, "%s%s", "cannot sign: ", eb.msg);
            atomic_store(&b->send_error, true);
            cc_tx_free(&tx);
            return false;
        }
        bt->count++;
        cc_tx_free(&tx);
    }
    return true;
}

/* Batches k < batch_count are the throughput phase's, the rest the latency
 * phase's; tx numbers go on from one phase to the next. */
static void *presign_worker(void *arg)
{
    bench *b = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&b->presign_next, 1);
        if (k >= b->batch_count + b->lat_batch_count) break;
        bool ok;
        if (k < b->batch_count) {
            uint64_t first = (uint64_t)k * b->batch_size;
            uint64_t last = first + b->batch_size < b->txs ? first + b->batch_size : b->txs;
            ok = fill_batch(b, &b->batches[k], first, last);
        } else {
            uint64_t first = b->txs + (uint64_t)(k - b->batch_count) * b->lat_batch_size;
            ok = fill_batch(b, &b->lat_batches[k - b->batch_count], first, first + b->lat_batch_size);
        }
        if (!ok) break;
    }
    return NULL;
}

static bool run_threads(unsigned n, void *(*fn)(void *), void *arg)
{
    pthread_t *th = calloc(n, sizeof *th);
    unsigned started = 0;
    if (!th) return false;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, fn, arg) != 0) break;
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    return started > 0;
}

/* ---- 4. throughput ----------------------------------------------------------------------- */

/* Keep the entries of bt whose result is busy; false when none are. */
static bool keep_busy(batch *bt, const json_t *results)
{
    size_t off = 0, out = 0, kept = 0;
    for (size_t i = 0; i < bt->count && off + U32_BYTES <= bt->len; i++) {
        uint32_t be;
        memcpy(&be, bt->buf + off, U32_BYTES);
        size_t n = U32_BYTES + ntohl(be);
        const char *code = cc_cli_jstr(json_object_get(json_array_get(results, i), "error"), "code", "");
        if (strcmp(code, "busy") == 0) {
            memmove(bt->buf + out, bt->buf + off, n);
            out += n;
            kept++;
        }
        off += n;
    }
    bt->len = out;
    bt->count = kept;
    return kept > 0;
}

static void *send_worker(void *arg)
{
    bench *b = arg;
    cc_errbuf eb = {{0}};
    cc_cli_http *h = cc_cli_http_new(b->base);
    if (!h) return NULL;
    while (!atomic_load(&b->send_error)) {
        size_t k = atomic_fetch_add(&b->next_batch, 1);
        if (k >= b->batch_count) break;
        batch *bt = &b->batches[k];
        while (bt->count > 0 && !atomic_load(&b->send_error)) {
            cc_cli_resp r;
            if (cc_cli_http_request(h, "/v1/txs", "application/octet-stream", bt->buf, bt->len, &r, &eb) !=
                CC_OK) {
                note_error(b, "%s%s", "", eb.msg);
                atomic_store(&b->send_error, true);
                break;
            }
            if (r.status == 429 || r.status == 503) { /* the whole batch: mempool full */
                atomic_fetch_add(&b->busy_retries, 1);
                cc_cli_resp_free(&r);
                sleep_ms(BUSY_BACKOFF_MS);
                continue;
            }
            json_t *results = json_object_get(r.json, "results");
            if (r.status != 200 || !json_is_array(results)) {
                note_error(b, "the node refused a batch: %s: %s", cc_cli_resp_code(&r),
                           cc_cli_resp_message(&r));
                atomic_store(&b->send_error, true);
                cc_cli_resp_free(&r);
                break;
            }
            size_t busy = 0;
            for (size_t i = 0; i < json_array_size(results); i++) {
                json_t *e = json_object_get(json_array_get(results, i), "error");
                if (!e) {
                    atomic_fetch_add(&b->accepted, 1);
                } else if (strcmp(cc_cli_jstr(e, "code", ""), "busy") == 0) {
                    busy++;
                } else {
                    atomic_fetch_add(&b->rejected, 1);
                    note_error(b, "a tx was rejected: %s: %s", cc_cli_jstr(e, "code", "?"),
                               cc_cli_jstr(e, "message", ""));
                }
            }
            if (busy && keep_busy(bt, results)) {
                atomic_fetch_add(&b->busy_retries, 1);
                sleep_ms(BUSY_BACKOFF_MS);
            } else {
                bt->count = 0;
            }
            cc_cli_resp_free(&r);
        }
        free(bt->buf);
        bt->buf = NULL;
    }
    cc_cli_http_free(h);
    return NULL;
}

typedef struct sender_arg {
    bench *b;
    atomic_bool done;
} sender_arg;

static void *senders_main(void *arg)
{
    sender_arg *sa = arg;
    run_threads((unsigned)sa->b->clients, send_worker, sa->b);
    atomic_store(&sa->done, true);
    return NULL;
}

static cc_err status_total(cc_cli_http *h, uint64_t *total, cc_errbuf *eb)
{
    cc_cli_resp r;
    cc_err rc = cc_cli_http_request(h, "/v1/status", NULL, NULL, 0, &r, eb);
    if (rc != CC_OK) return rc;
    if (r.status != 200 || !json_is_integer(json_object_get(r.json, "tx_total")))
        rc = cc_errf(eb, CC_ERR_MALFORMED, "/v1/status answered HTTP %ld without tx_total", r.status);
    else
        *total = cc_cli_juint(r.json, "tx_total");
    cc_cli_resp_free(&r);
    return rc;
}

static cc_err measure_throughput(bench *b, cc_errbuf *eb)
{
    cc_err rc;
    pthread_t th;
    sender_arg sa = {b, false};
    uint64_t total = 0, last_total, last_progress;
    cc_cli_http *h = cc_cli_http_new(b->base);
    if (!h) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    cc_cli_http_timeout(h, 5000);
    rc = status_total(h, &b->base_total, eb);
    if (rc != CC_OK) goto out;
    last_total = b->base_total;

    uint64_t t0 = cc_mono_ns(), t_end = t0;
    last_progress = t0;
    if (pthread_create(&th, NULL, senders_main, &sa) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot start the client threads");
        goto out;
    }
    for (;;) {
        sleep_ms(POLL_MS);
        bool done = atomic_load(&sa.done);
        uint64_t now = cc_mono_ns();
        rc = status_total(h, &total, eb);
        if (rc != CC_OK) break;
        if (total != last_total) {
            last_total = total;
            last_progress = now;
        }
        if (atomic_load(&b->send_error) && done) {
            rc = cc_errf(eb, CC_ERR_INVALID, "%s", b->first_error);
            break;
        }
        if (done && total >= b->base_total + atomic_load(&b->accepted)) {
            t_end = now;
            break;
        }
        if (now - last_progress > STALL_TIMEOUT_NS) {
            rc = cc_errf(eb, CC_ERR_TIMEOUT, "no tx committed for 60 s (%llu of %llu committed)",
                         (unsigned long long)(total - b->base_total),
                         (unsigned long long)atomic_load(&b->accepted));
            atomic_store(&b->send_error, true);
            break;
        }
    }
    pthread_join(th, NULL);
    if (rc == CC_OK) {
        b->seconds = (double)(t_end - t0) / NS_PER_S;
        b->committed = total - b->base_total;
        b->tps = b->seconds > 0 ? (double)b->committed / b->seconds : 0;
    }
out:
    cc_cli_http_free(h);
    return rc;
}

/* ---- 5. latency, open loop ------------------------------------------------------------------ */

/* One request in flight: a batch, when it went out, and its answer. */
typedef struct lat_slot {
    CURL *easy;
    size_t batch_idx;
    uint64_t sent_ns;
    char *resp;
    size_t resp_len, resp_cap;
    bool oom;
} lat_slot;

/* One client thread: batches k, k + LAT_CLIENTS, ... of the schedule. */
typedef struct lat_client {
    bench *b;
    size_t first;
    uint64_t sent, failed, late, t_last;
    double lag_max_ms;
} lat_client;

static size_t lat_on_data(char *ptr, size_t size, size_t nmemb, void *user)
{
    lat_slot *s = user;
    size_t n = size * nmemb;
    if (s->resp_len + n + 1 > s->resp_cap) {
        size_t cap = (s->resp_len + n + 1) * 2;
        char *p = realloc(s->resp, cap);
        if (!p) {
            s->oom = true;
            return n;
        }
        s->resp = p;
        s->resp_cap = cap;
    }
    memcpy(s->resp + s->resp_len, ptr, n);
    s->resp_len += n;
    s->resp[s->resp_len] = '\0';
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t lat_sched_ns(const bench *b, size_t k)
{
    return b->lat_t0 + (uint64_t)((double)k * (double)b->lat_batch_size * NS_PER_S / b->lat_rate);
}

/* Record the answer to one batch: each committed-ok tx gets its latency,
 * every other tx counts as failed. */
static void lat_answer(lat_client *c, lat_slot *s, CURLcode cr, uint64_t end)
{
    bench *b = c->b;
    long status = 0;
    size_t first = s->batch_idx * b->lat_batch_size, n = b->lat_batches[s->batch_idx].count, ok = 0;
    double ms = (double)(end - s->sent_ns) / NS_PER_MS;
    json_t *answer = NULL, *results = NULL;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (cr == CURLE_OK && !s->oom && status == 200 && s->resp)
        answer = json_loadb(s->resp, s->resp_len, 0, NULL);
    results = json_object_get(answer, "results");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(results, i);
        const char *st = cc_cli_jstr(e, "status", "");
        const char *code = cc_cli_jstr(json_object_get(e, "result"), "code", "");
        if (strcmp(st, "committed") == 0 && strcmp(code, "ok") == 0) {
            b->lat_ms[first + i] = ms;
            ok++;
            continue;
        }
        b->lat_ms[first + i] = -1;
        if (!json_is_array(results))
            note_error(b, "latency phase: %s%s (HTTP %ld)", cr == CURLE_OK ? "" : curl_easy_strerror(cr),
                       s->resp && cr == CURLE_OK ? s->resp : "", status);
        else if (json_object_get(e, "error"))
            note_error(b, "latency phase: %s: %s", cc_cli_jstr(json_object_get(e, "error"), "code", "?"),
                       cc_cli_jstr(json_object_get(e, "error"), "message", ""));
        else
            note_error(b, "latency phase: tx %s, result %s", st, code);
    }
    c->failed += n - ok;
    c->t_last = end;
    json_decref(answer);
}

static void lat_start(lat_client *c, CURLM *m, lat_slot *s, size_t k, const char *url,
                      struct curl_slist *hdrs)
{
    const batch *bt = &c->b->lat_batches[k];
    s->batch_idx = k;
    s->resp_len = 0;
    s->oom = false;
    curl_easy_reset(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, bt->buf);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bt->len);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, lat_on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, LAT_TIMEOUT_MS);
    curl_multi_add_handle(m, s->easy);
    s->sent_ns = cc_mono_ns();
    uint64_t sched = lat_sched_ns(c->b, k);
    double lag_ms = s->sent_ns > sched ? (double)(s->sent_ns - sched) / NS_PER_MS : 0;
    if (lag_ms > c->lag_max_ms) c->lag_max_ms = lag_ms;
    if (s->sent_ns > sched + LAT_LATE_NS) c->late++;
    c->sent += bt->count;
}

/* Send this client's batches at their scheduled instants, however slow the
 * answers (up to LAT_INFLIGHT_MAX in flight), and wait for every answer. */
static void *lat_client_main(void *arg)
{
    lat_client *c = arg;
    bench *b = c->b;
    char url[128];
    CURLM *m = curl_multi_init();
    lat_slot slots[LAT_INFLIGHT_MAX] = {{0}};
    lat_slot *free_slots[LAT_INFLIGHT_MAX];
    struct curl_slist *hdrs = NULL;
    size_t nfree = 0, next = c->first, inflight = 0;

    hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
    hdrs = curl_slist_append(hdrs, "Expect:");
    snprintf(url, sizeof url, "%s/v1/txs?wait=commit", b->base);
    for (size_t i = 0; i < LAT_INFLIGHT_MAX; i++) {
        slots[i].easy = curl_easy_init();
        if (slots[i].easy) free_slots[nfree++] = &slots[i];
    }
    if (!m || !hdrs || nfree == 0) {
        note_error(b, "latency phase: cannot set up a client");
        for (size_t k = next; k < b->lat_batch_count; k += LAT_CLIENTS) {
            c->failed += b->lat_batches[k].count;
            for (size_t i = 0; i < b->lat_batches[k].count; i++) b->lat_ms[k * b->lat_batch_size + i] = -1;
        }
        goto out;
    }
    while (next < b->lat_batch_count || inflight > 0) {
        while (next < b->lat_batch_count && nfree > 0 && lat_sched_ns(b, next) <= cc_mono_ns()) {
            lat_start(c, m, free_slots[--nfree], next, url, hdrs);
            inflight++;
            next += LAT_CLIENTS;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            lat_slot *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            lat_answer(c, s, msg->data.result, cc_mono_ns());
            curl_multi_remove_handle(m, s->easy);
            free_slots[nfree++] = s;
            inflight--;
        }
        int wait_ms = 100;
        if (next < b->lat_batch_count && nfree > 0) {
            uint64_t due = lat_sched_ns(b, next), now = cc_mono_ns();
            wait_ms = due <= now ? 0 : (int)((due - now) / (uint64_t)NS_PER_MS);
        }
        if (wait_ms > 0) curl_multi_poll(m, NULL, 0, wait_ms, NULL);
    }
out:
    for (size_t i = 0; i < LAT_INFLIGHT_MAX; i++) {
        if (slots[i].easy) curl_easy_cleanup(slots[i].easy);
        free(slots[i].resp);
    }
    curl_slist_free_all(hdrs);
    if (m) curl_multi_cleanup(m);
    return NULL;
}

/* p50, p99 and max of the n values in v (sorted here); 0 when n is 0. */
static void percentiles(double *v, size_t n, double *p50, double *p99, double *max)
{
    *p50 = *p99 = *max = 0;
    if (n == 0) return;
    qsort(v, n, sizeof *v, cmp_double);
    *p50 = v[(n - 1) / 2];
    *p99 = v[(size_t)((double)(n - 1) * 0.99)];
    *max = v[n - 1];
}

static cc_err measure_latency(bench *b, cc_errbuf *eb)
{
    lat_client clients[LAT_CLIENTS] = {{0}};
    pthread_t th[LAT_CLIENTS];
    size_t started = 0, ok = 0;
    uint64_t t_last = 0;

    b->lat_t0 = cc_mono_ns() + (uint64_t)(POLL_MS * NS_PER_MS); /* every client is up by then */
    for (; started < LAT_CLIENTS; started++) {
        clients[started] = (lat_client){.b = b, .first = started};
        if (pthread_create(&th[started], NULL, lat_client_main, &clients[started]) != 0) break;
    }
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    if (started < LAT_CLIENTS) return cc_errf(eb, CC_ERR_IO, "cannot start the client threads");
    for (size_t i = 0; i < LAT_CLIENTS; i++) {
        b->lat_sent += clients[i].sent;
        b->lat_failed += clients[i].failed;
        b->lat_late += clients[i].late;
        if (clients[i].lag_max_ms > b->lat_lag_max) b->lat_lag_max = clients[i].lag_max_ms;
        if (clients[i].t_last > t_last) t_last = clients[i].t_last;
    }
    for (size_t i = 0; i < b->lat_count; i++)
        if (b->lat_ms[i] >= 0) b->lat_ms[ok++] = b->lat_ms[i];
    percentiles(b->lat_ms, ok, &b->lat_p50, &b->lat_p99, &b->lat_max);
    double secs = t_last > b->lat_t0 ? (double)(t_last - b->lat_t0) / NS_PER_S : 0;
    b->lat_achieved = secs > 0 ? (double)ok / secs : 0;
    return CC_OK;
}

/* ---- 6. latency, closed loop ------------------------------------------------------------------ */

/* One client, one tx at a time with ?wait=commit, for SINGLE_SECONDS. Each
 * tx is signed just before it is sent; its latency excludes the signing. */
static cc_err measure_single(bench *b, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    size_t cap = 1024, n = 0;
    double *lat = malloc(cap * sizeof *lat), busy_s = 0;
    cc_cli_http *h = cc_cli_http_new(b->base);
    uint64_t idx = b->txs + b->lat_count, t0 = cc_mono_ns();

    if (!lat || !h) {
        rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        goto out;
    }
    while ((double)(cc_mono_ns() - t0) < SINGLE_SECONDS * NS_PER_S) {
        cc_tx tx;
        cc_cli_sent sent;
        rc = sign_note(b, idx++, &tx, eb);
        if (rc != CC_OK) goto out;
        uint64_t t_send = cc_mono_ns();
        rc = cc_cli_tx_post(h, &tx, true, &sent, eb);
        uint64_t t_end = cc_mono_ns();
        cc_tx_free(&tx);
        if (rc != CC_OK) goto out;
        busy_s += (double)(t_end - t_send) / NS_PER_S;
        b->one_count++;
        if (sent.committed && strcmp(sent.code, "ok") == 0) {
            if (n == cap) {
                double *p = realloc(lat, 2 * cap * sizeof *lat);
                if (!p) {
                    cc_cli_sent_free(&sent);
                    rc = cc_errf(eb, CC_ERR_NOMEM, "out of memory");
                    goto out;
                }
                lat = p;
                cap *= 2;
            }
            lat[n++] = (double)(t_end - t_send) / NS_PER_MS;
        } else {
            b->one_failed++;
            note_error(b, "closed loop: HTTP %ld %s: %s", sent.status, sent.code, sent.message);
        }
        cc_cli_sent_free(&sent);
    }
    b->one_tps = busy_s > 0 ? (double)n / busy_s : 0;
    percentiles(lat, n, &b->one_p50, &b->one_p99, &b->one_max);
out:
    cc_cli_http_free(h);
    free(lat);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------- */

static void report(const bench *b)
{
    double raw_x = b->raw_one * b->cores;
    double ratio = raw_x > 0 ? b->tps / raw_x : 0;
    double ratio_all = b->raw_all > 0 ? b->tps / b->raw_all : 0;
    bool at_load = b->lat_sent > 0 && b->lat_achieved >= LAT_AT_LOAD * b->lat_rate;
    if (b->json) {
        json_t *j =
            json_pack("{s:I,s:I,s:I,s:i}", "txs", (json_int_t)b->txs, "batch", (json_int_t)b->batch_size,
                      "clients", (json_int_t)b->clients, "cores", (int)b->cores);
        json_object_set_new(j, "ed25519",
                            json_pack("{s:f,s:f,s:f,s:I}", "verify_per_s_one_core", b->raw_one,
                                      "verify_per_s_x_cores", raw_x, "verify_per_s_all_cores", b->raw_all,
                                      "message_bytes", (json_int_t)b->msg_len));
        json_object_set_new(j, "throughput",
                            json_pack("{s:I,s:I,s:f,s:f}", "committed", (json_int_t)b->committed, "rejected",
                                      (json_int_t)atomic_load(&b->rejected), "seconds", b->seconds,
                                      "tx_per_s", b->tps));
        json_object_set_new(j, "ratio",
                            json_pack("{s:f,s:f,s:f}", "vs_one_core_x_cores", ratio, "vs_all_cores",
                                      ratio_all, "target", TARGET_RATIO));
        json_t *l =
            json_pack("{s:f,s:f,s:I,s:I,s:f,s:f,s:f}", "rate_per_s", b->lat_rate, "achieved_per_s",
                      b->lat_achieved, "sent", (json_int_t)b->lat_sent, "failed", (json_int_t)b->lat_failed,
                      "p50_ms", b->lat_p50, "p99_ms", b->lat_p99, "max_ms", b->lat_max);
        json_object_set_new(l, "batch", json_integer((json_int_t)b->lat_batch_size));
        json_object_set_new(l, "clients", json_integer(LAT_CLIENTS));
        json_object_set_new(l, "requests_per_s",
                            json_real(b->lat_batch_size ? b->lat_rate / (double)b->lat_batch_size : 0));
        json_object_set_new(l, "at_offered_load", json_boolean(at_load));
        json_object_set_new(l, "late_sends", json_integer((json_int_t)b->lat_late));
        json_object_set_new(l, "send_lag_max_ms", json_real(b->lat_lag_max));
        json_object_set_new(l, "p99_met", at_load ? json_boolean(b->lat_p99 <= TARGET_P99_MS) : json_null());
        json_object_set_new(j, "latency", l);
        json_object_set_new(j, "closed_loop",
                            json_pack("{s:I,s:I,s:f,s:f,s:f,s:f}", "txs", (json_int_t)b->one_count, "failed",
                                      (json_int_t)b->one_failed, "tx_per_s", b->one_tps, "p50_ms", b->one_p50,
                                      "p99_ms", b->one_p99, "max_ms", b->one_max));
        json_object_set_new(j, "target_p99_ms", json_real(TARGET_P99_MS));
        json_object_set_new(j, "met", json_boolean(ratio >= TARGET_RATIO));
        cc_cli_print_json(j);
        json_decref(j);
        return;
    }
    printf("\nResults\n");
    printf("  Ed25519 verify (libsodium, %zu-byte messages): %.0f/s on one core; x %u cores = %.0f/s;\n"
           "  measured on all %u cores at once: %.0f/s.\n",
           b->msg_len, b->raw_one, b->cores, raw_x, b->cores, b->raw_all);
    printf("  Committed: %llu txs in %.2f s = %.0f tx/s (first send to last commit, every signature verified "
           "by the node).\n",
           (unsigned long long)b->committed, b->seconds, b->tps);
    if (atomic_load(&b->rejected))
        printf("  %llu txs were rejected (first: %s).\n", (unsigned long long)atomic_load(&b->rejected),
               b->first_error);
    printf("  Ratio: %.0f / %.0f = %.2f of raw verify x cores (target >= %.1f: %s); %.2f of the all-cores "
           "measurement.\n",
           b->tps, raw_x, ratio, TARGET_RATIO, ratio >= TARGET_RATIO ? "met" : "NOT met", ratio_all);
    if (b->lat_sent) {
        printf("  Latency, open loop: %.0f tx/s offered (%s) as batches of %zu with ?wait=commit from %d "
               "clients\n"
               "  (%.0f requests/s on a fixed schedule), %llu txs over ~%llu s; achieved %.0f tx/s "
               "(%.0f%% of offered).\n",
               b->lat_rate, b->latency_rate_opt ? "set by --latency-rate" : "half the peak",
               b->lat_batch_size, LAT_CLIENTS, b->lat_rate / (double)b->lat_batch_size,
               (unsigned long long)b->lat_sent, (unsigned long long)b->latency_s, b->lat_achieved,
               b->lat_rate > 0 ? 100 * b->lat_achieved / b->lat_rate : 0);
        printf(
            "  Per tx, batch sent -> committed answer: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %llu failed;\n"
            "  %llu of %zu sends over %.0f ms late (latest %.1f ms).\n",
            b->lat_p50, b->lat_p99, b->lat_max, (unsigned long long)b->lat_failed,
            (unsigned long long)b->lat_late, b->lat_batch_count, (double)LAT_LATE_NS / NS_PER_MS,
            b->lat_lag_max);
        if (at_load)
            printf("  Target p99 <= %.0f ms at half of peak: %s.\n", TARGET_P99_MS,
                   b->lat_p99 <= TARGET_P99_MS ? "met" : "NOT met");
        else
            printf(
                "  NOT AT THE INTENDED LOAD: achieved %.0f of %.0f tx/s (below %.0f%%), so these figures are "
                "not\n  latency at %s and say nothing about the p99 target.\n",
                b->lat_achieved, b->lat_rate, 100 * LAT_AT_LOAD,
                b->latency_rate_opt ? "the rate asked for" : "half of peak");
    }
    if (b->one_count)
        printf(
            "  Closed loop, one client, one tx at a time with ?wait=commit, %llu txs in ~%.0f s: %.0f tx/s,\n"
            "  p50 %.1f ms, p99 %.1f ms, max %.1f ms; %llu failed.\n",
            (unsigned long long)b->one_count, SINGLE_SECONDS, b->one_tps, b->one_p50, b->one_p99, b->one_max,
            (unsigned long long)b->one_failed);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void progress(const bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const bench *b, const char *fmt, ...)
{
    va_list ap;
    FILE *f = b->json ? stderr : stdout;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fflush(f);
}

int cc_cmd_bench(int argc, char **argv)
{
    const char *txs_s = NULL, *dir = NULL, *batch_s = NULL, *clients_s = NULL, *lat_s = NULL, *rate_s = NULL,
               *lat_batch_s = NULL;
    bool keep = false;
    const cc_cli_opt opts[] = {
        {"txs", "N", "pre-signed note.put txs to commit (default 200000)", &txs_s},
        {"dir", "DIR", "make the network here (absent or empty) instead of a temp dir", &dir},
        {"batch", "N", "txs per POST /v1/txs (default 2000)", &batch_s},
        {"clients", "N", "client threads sending batches (default 4)", &clients_s},
        {"latency-seconds", "S", "length of the latency phase (default 10; 0 skips it)", &lat_s},
        {"latency-rate", "R", "tx/s in the latency phase (default: half the measured peak)", &rate_s},
        {"latency-batch", "N", "txs per request in the latency phase (default: 8..64, ~400 requests/s)",
         &lat_batch_s},
        {"keep", NULL, "keep the temp network directory afterwards", &keep},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "bench",
        "[--txs N] [--dir D] [--batch 2000] [--clients 4]",
        "Measure committed tx/s of one node against this machine's Ed25519 verify rate, and latency.",
        opts,
        0,
        0,
        false,
        true,
        "Not a test: it prints measurements. See bench/README.md for how to read them.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;

    bench *b = calloc(1, sizeof *b);
    if (!b) return CC_EXIT_FAIL;
    b->txs = DEFAULT_TXS;
    b->batch_size = DEFAULT_BATCH;
    b->clients = DEFAULT_CLIENTS;
    b->latency_s = DEFAULT_LATENCY_S;
    b->json = ctx.json;
    b->keep = keep;
    b->dir_opt = dir;
    pthread_mutex_init(&b->err_lock, NULL);
    if ((txs_s && (!cc_cli_parse_u64(txs_s, false, &b->txs) || b->txs < 1 || b->txs > 100000000)) ||
        (batch_s &&
         (!cc_cli_parse_u64(batch_s, false, &b->batch_size) || b->batch_size < 1 || b->batch_size > 10000)) ||
        (clients_s &&
         (!cc_cli_parse_u64(clients_s, false, &b->clients) || b->clients < 1 || b->clients > 256)) ||
        (lat_s && (!cc_cli_parse_u64(lat_s, false, &b->latency_s) || b->latency_s > 3600)) ||
        (rate_s && (!cc_cli_parse_u64(rate_s, false, &b->latency_rate_opt) || b->latency_rate_opt < 1)) ||
        (lat_batch_s && (!cc_cli_parse_u64(lat_batch_s, false, &b->lat_batch_opt) || b->lat_batch_opt < 1 ||
                         b->lat_batch_opt > 10000))) {
        rc = cc_cli_usage(ctx.cmd,
                          "--txs 1..1e8, --batch 1..10000, --clients 1..256, --latency-seconds 0..3600, "
                          "--latency-rate >= 1, --latency-batch 1..10000");
        goto out_free;
    }
    signal(SIGPIPE, SIG_IGN);
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    b->cores = nc > 0 ? (unsigned)nc : 1;
    rc = CC_EXIT_FAIL;
    cc_errbuf eb = {{0}};

    progress(b, "carechain bench: %llu pre-signed note.put txs, batches of %llu, %llu clients, %u cores.\n",
             (unsigned long long)b->txs, (unsigned long long)b->batch_size, (unsigned long long)b->clients,
             b->cores);
    progress(b, "Starting a fresh single-node network... ");
    if (start_network(b, &eb) != CC_OK) {
        progress(b, "failed: %s\n", eb.msg);
        goto out;
    }
    progress(b, "node at %s (data in %s).\n", b->base, b->dir);

    /* the raw rate is measured on a message as long as a tx's signed part */
    cc_tx probe;
    if (sign_note(b, 0, &probe, &eb) != CC_OK) {
        progress(b, "cannot sign: %s\n", eb.msg);
        goto out;
    }
    b->msg_len = probe.raw_len - CC_SIG_BYTES;
    cc_tx_free(&probe);
    progress(b, "Measuring raw Ed25519 verify: one core, then %u cores at once (~%.0f s)...\n", b->cores,
             2 * RAW_SECONDS);
    measure_raw(b);

    b->batch_count = (size_t)((b->txs + b->batch_size - 1) / b->batch_size);
    b->batches = calloc(b->batch_count, sizeof *b->batches);
    if (!b->batches) goto out;
    progress(b, "Pre-signing %llu txs on %u threads (not timed)... ", (unsigned long long)b->txs, b->cores);
    uint64_t t_sign = cc_mono_ns();
    run_threads(b->cores, presign_worker, b);
    if (atomic_load(&b->send_error)) {
        progress(b, "failed: %s\n", b->first_error);
        goto out;
    }
    progress(b, "%.1f s.\n", (double)(cc_mono_ns() - t_sign) / NS_PER_S);

    progress(b, "Sending batches over POST /v1/txs and watching /v1/status...\n");
    if (measure_throughput(b, &eb) != CC_OK) {
        progress(b, "Throughput phase failed: %s (node log: %s)\n", eb.msg, b->log_path);
        goto out;
    }
    progress(b, "  %.0f tx/s committed.\n", b->tps);

    if (b->latency_s > 0 && b->tps > 0) {
        b->lat_rate = b->latency_rate_opt ? (double)b->latency_rate_opt : b->tps / 2;
        b->lat_batch_size =
            b->lat_batch_opt ? b->lat_batch_opt : (size_t)(b->lat_rate / LAT_REQS_PER_S + 0.999);
        if (!b->lat_batch_opt && b->lat_batch_size < LAT_BATCH_MIN) b->lat_batch_size = LAT_BATCH_MIN;
        if (!b->lat_batch_opt && b->lat_batch_size > LAT_BATCH_MAX) b->lat_batch_size = LAT_BATCH_MAX;
        double want = b->lat_rate * (double)b->latency_s / (double)b->lat_batch_size;
        if (want * (double)b->lat_batch_size > LAT_TXS_MAX) want = LAT_TXS_MAX / (double)b->lat_batch_size;
        b->lat_batch_count = want < 1 ? 1 : (size_t)(want + 0.5);
        b->lat_count = b->lat_batch_count * b->lat_batch_size;
        b->lat_batches = calloc(b->lat_batch_count, sizeof *b->lat_batches);
        b->lat_ms = calloc(b->lat_count, sizeof *b->lat_ms);
        if (!b->lat_batches || !b->lat_ms) goto out;
        b->first_error[0] = '\0';
        atomic_store(&b->presign_next, b->batch_count);
        progress(b, "Pre-signing %zu txs for the latency phase... ", b->lat_count);
        run_threads(b->cores, presign_worker, b);
        if (atomic_load(&b->send_error)) {
            progress(b, "failed: %s\n", b->first_error);
            goto out;
        }
        progress(
            b,
            "done.\nLatency, open loop: %.0f tx/s as %zu batches of %zu (%.0f requests/s) from %d clients, "
            "each with ?wait=commit...\n",
            b->lat_rate, b->lat_batch_count, b->lat_batch_size, b->lat_rate / (double)b->lat_batch_size,
            LAT_CLIENTS);
        if (measure_latency(b, &eb) != CC_OK) {
            progress(b, "Latency phase failed: %s\n", eb.msg);
            goto out;
        }
        if (b->lat_failed)
            progress(b, "  %llu failed; first: %s\n", (unsigned long long)b->lat_failed, b->first_error);
        b->first_error[0] = '\0';
        progress(b, "Latency, closed loop: one client, one tx at a time with ?wait=commit, ~%.0f s...\n",
                 SINGLE_SECONDS);
        if (measure_single(b, &eb) != CC_OK) {
            progress(b, "Closed-loop phase failed: %s\n", eb.msg);
            goto out;
        }
        if (b->one_failed)
            progress(b, "  %llu failed; first: %s\n", (unsigned long long)b->one_failed, b->first_error);
    }
    report(b);
    rc = CC_EXIT_OK;
out:
    if (b->node > 0) {
        int st = cc_cli_node_stop(b->node, STOP_TIMEOUT_MS);
        if (st != 0)
            progress(b, "The node did not stop cleanly (wait status %d; log %s).\n", st, b->log_path);
    }
    if (b->temp_dir && !b->keep) {
        cc_errbuf rm_eb;
        if (cc_cli_rmtree(b->dir, &rm_eb) != CC_OK) progress(b, "%s\n", rm_eb.msg);
    } else if (b->dir[0]) {
        progress(b, "The bench network stays in %s.\n", b->dir);
    }
    for (size_t i = 0; i < b->signer_count; i++) cc_key_wipe(&b->signers[i]);
    free(b->signers);
    for (size_t i = 0; b->batches && i < b->batch_count; i++) free(b->batches[i].buf);
    free(b->batches);
    for (size_t i = 0; b->lat_batches && i < b->lat_batch_count; i++) free(b->lat_batches[i].buf);
    free(b->lat_batches);
    free(b->lat_ms);
out_free:
    pthread_mutex_destroy(&b->err_lock);
    free(b);
    return rc;
}
