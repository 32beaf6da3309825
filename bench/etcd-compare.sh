#!/usr/bin/env bash
# bench/etcd-compare.sh — puts/s of a 3-member etcd cluster on this machine,
# through its JSON gateway (POST /v3/kv/put, base64 key and value), with the
# payload size of a carechain note.put tx: the yardstick of issue 3 (">= 3x
# a 3-node etcd cluster"). `carechain bench --nodes 3 --etcd` runs it after
# its own phases, with the nodes stopped; it can also run alone.
#
# It installs nothing. etcd comes from Debian (etcd-server, etcd-client,
# 3.4.23 in Debian 12): scripts/deps.sh --bench, or as root
#   apt-get install -y etcd-server etcd-client
# Without etcd it says so and exits 3 (the bench then skips the comparison).
#
# The cluster: 3 members on 127.0.0.1, free client and peer ports, data dirs
# in a temp dir; every member stopped and the dir removed on exit, Ctrl-C or
# SIGTERM. Default etcd settings (WAL fsync on every commit, as carechain
# fsyncs its LMDB commits).
#
# The load: a small C driver (libcurl multi, kept-alive connections), built
# in the temp dir, keeps C requests in flight, spread round-robin over the
# three members (followers forward to the leader, as with carechain). Each
# key + value is as long as one carechain tx (--value-bytes). Three runs:
#   put/64    single puts, 64 in flight
#   put/256   single puts, 256 in flight
#   txn/16    txns of 128 puts (etcd's default --max-txn-ops), 16 in flight:
#             etcd's counterpart of carechain's batches
# A put counts once etcd answered 200 for it (etcd answers a put after it is
# committed and applied); a count-only range over the keys checks afterwards
# that every counted put is there. The figure handed to the bench is the
# best of the three runs: the comparison is as favourable to etcd as this
# script can make it.
#
# Usage: bench/etcd-compare.sh [--value-bytes N] [--puts N] [--keep]
# Prints progress, then the lines "etcd_puts_per_s=X" (best run),
# "etcd_single_puts_per_s=Y" (best single-put run) and "etcd_how=...".
set -eu

value_bytes=259 # a carechain note.put tx as `carechain bench` signs it
puts=40000
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --value-bytes) value_bytes="$2"; shift 2 ;;
    --puts) puts="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: bench/etcd-compare.sh [--value-bytes N] [--puts N] [--keep]" >&2; exit 2 ;;
    esac
done

if ! command -v etcd >/dev/null 2>&1; then
    echo "etcd is not installed: no comparison. Install it with scripts/deps.sh --bench"
    echo "(or as root: apt-get install -y etcd-server etcd-client; Debian 12 has 3.4.23)."
    exit 3
fi
for tool in cc curl base64; do
    command -v "$tool" >/dev/null 2>&1 || { echo "etcd-compare: $tool is missing" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/carechain-etcd-XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$keep" = 1 ]; then echo "etcd-compare: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the driver ---------------------------------------------------------------------------
cat >"$tmp/driver.c" <<'EOF'
/* etcd-compare driver: "ports N" prints N free loopback ports;
 * "load URLS C TOTAL BYTES OPS TAG" posts TOTAL keys (key + value = BYTES)
 * with C requests in flight over the comma-separated member URLS: single
 * puts when OPS is 1, else txns of OPS puts. Prints one result line. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#define MAX_URLS 8
#define MAX_C 1024

typedef struct slot {
    CURL *e;
    char *body, *resp;
    size_t resp_len, resp_cap;
    long puts;
    double t0;
} slot;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void b64(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

static size_t on_data(char *p, size_t sz, size_t nm, void *u)
{
    slot *s = u;
    size_t n = sz * nm;
    if (s->resp_len + n + 1 > s->resp_cap) {
        s->resp_cap = (s->resp_len + n + 1) * 2;
        s->resp = realloc(s->resp, s->resp_cap);
        if (!s->resp) abort();
    }
    memcpy(s->resp + s->resp_len, p, n);
    s->resp_len += n;
    s->resp[s->resp_len] = '\0';
    return n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "ports") == 0) {
        int n = atoi(argv[2]), fds[64];
        for (int i = 0; i < n && i < 64; i++) {
            struct sockaddr_in a = {0};
            socklen_t l = sizeof a;
            fds[i] = socket(AF_INET, SOCK_STREAM, 0);
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
                getsockname(fds[i], (struct sockaddr *)&a, &l) != 0)
                return 1;
            printf("%u\n", ntohs(a.sin_port));
        }
        for (int i = 0; i < n && i < 64; i++) close(fds[i]);
        return 0;
    }
    if (argc != 8 || strcmp(argv[1], "load") != 0) {
        fprintf(stderr, "usage: driver ports N | driver load URLS C TOTAL BYTES OPS TAG\n");
        return 2;
    }
    char *urls[MAX_URLS], *save = NULL;
    int nurls = 0;
    for (char *u = strtok_r(argv[2], ",", &save); u && nurls < MAX_URLS; u = strtok_r(NULL, ",", &save)) {
        urls[nurls] = malloc(strlen(u) + 32);
        sprintf(urls[nurls++], "%s/v3/kv/%s", u, atol(argv[6]) > 1 ? "txn" : "put");
    }
    int c = atoi(argv[3]);
    long total = atol(argv[4]), bytes = atol(argv[5]), ops = atol(argv[6]);
    const char *tag = argv[7];
    if (c < 1 || c > MAX_C || total < 1 || ops < 1 || bytes < 32 || nurls < 1) return 2;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    slot *slots = calloc((size_t)c, sizeof *slots);
    long requests = (total + ops - 1) / ops;
    double *lat = calloc((size_t)requests, sizeof *lat);
    long next_key = 0, next_req = 0, ok_puts = 0, failed = 0, nlat = 0, inflight = 0;
    char first_err[256] = "";
    unsigned char *value = malloc((size_t)bytes);
    for (long i = 0; i < bytes; i++) value[i] = (unsigned char)('a' + i % 26);
    char key[64], kb[128], *vb = malloc((size_t)bytes * 2 + 8);

    /* one request: ops keys from next_key */
    #define START(s)                                                                              \
        do {                                                                                      \
            long n = total - next_key < ops ? total - next_key : ops;                             \
            size_t cap = (size_t)n * ((size_t)bytes * 2 + 200) + 64, o = 0;                       \
            (s)->body = realloc((s)->body, cap);                                                  \
            if (ops > 1) o += (size_t)sprintf((s)->body + o, "{\"success\":[");                  \
            for (long k = 0; k < n; k++) {                                                        \
                int kl = snprintf(key, sizeof key, "bench/%s/%09ld/", tag, next_key + k);         \
                b64((unsigned char *)key, (size_t)kl, kb);                                        \
                b64(value, (size_t)(bytes - kl), vb);                                             \
                if (ops > 1)                                                                      \
                    o += (size_t)sprintf((s)->body + o, "%s{\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\"}}", \
                                         k ? "," : "", kb, vb);                                   \
                else                                                                              \
                    o += (size_t)sprintf((s)->body + o, "{\"key\":\"%s\",\"value\":\"%s\"}", kb, vb); \
            }                                                                                     \
            if (ops > 1) o += (size_t)sprintf((s)->body + o, "]}");                              \
            next_key += n;                                                                        \
            (s)->puts = n;                                                                        \
            (s)->resp_len = 0;                                                                    \
            if (!(s)->e) (s)->e = curl_easy_init();                                               \
            curl_easy_setopt((s)->e, CURLOPT_URL, urls[next_req++ % nurls]);                      \
            curl_easy_setopt((s)->e, CURLOPT_HTTPHEADER, hdrs);                                   \
            curl_easy_setopt((s)->e, CURLOPT_POSTFIELDS, (s)->body);                              \
            curl_easy_setopt((s)->e, CURLOPT_POSTFIELDSIZE, (long)o);                             \
            curl_easy_setopt((s)->e, CURLOPT_WRITEFUNCTION, on_data);                             \
            curl_easy_setopt((s)->e, CURLOPT_WRITEDATA, (s));                                     \
            curl_easy_setopt((s)->e, CURLOPT_PRIVATE, (s));                                       \
            curl_easy_setopt((s)->e, CURLOPT_NOSIGNAL, 1L);                                       \
            curl_easy_setopt((s)->e, CURLOPT_TIMEOUT_MS, 60000L);                                 \
            (s)->t0 = now_s();                                                                    \
            curl_multi_add_handle(m, (s)->e);                                                     \
            inflight++;                                                                           \
        } while (0)

    double t0 = now_s();
    for (int i = 0; i < c && next_key < total; i++) START(&slots[i]);
    while (inflight > 0) {
        int running, q;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &q)) != NULL) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot *s;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(m, s->e);
            inflight--;
            int good = msg->data.result == CURLE_OK && status == 200 && s->resp &&
                       strstr(s->resp, "\"header\"") && (ops == 1 || strstr(s->resp, "\"succeeded\":true"));
            if (good) {
                ok_puts += s->puts;
                lat[nlat++] = (now_s() - s->t0) * 1e3;
            } else {
                failed += s->puts;
                if (!first_err[0])
                    snprintf(first_err, sizeof first_err, "HTTP %ld %s %.150s", status,
                             curl_easy_strerror(msg->data.result), s->resp ? s->resp : "");
            }
            if (next_key < total) START(s);
        }
        if (inflight > 0) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    double secs = now_s() - t0;
    qsort(lat, (size_t)nlat, sizeof *lat, cmp);
    printf("%s puts=%ld failed=%ld seconds=%.3f puts_per_s=%.0f request_p50_ms=%.1f request_p99_ms=%.1f%s%s\n",
           tag, ok_puts, failed, secs, secs > 0 ? (double)ok_puts / secs : 0,
           nlat ? lat[(nlat - 1) / 2] : 0, nlat ? lat[(long)((double)(nlat - 1) * 0.99)] : 0,
           first_err[0] ? " first_error=" : "", first_err);
    return failed ? 1 : 0;
}
EOF
cc -O2 -Wall -o "$tmp/driver" "$tmp/driver.c" -lcurl

# ---- the cluster ---------------------------------------------------------------------------
mapfile -t ports < <("$tmp/driver" ports 6)
cluster=""
clients=""
for i in 1 2 3; do
    peer=${ports[$((i + 2))]}
    cluster+="${cluster:+,}m$i=http://127.0.0.1:$peer"
done
for i in 1 2 3; do
    client=${ports[$((i - 1))]}
    peer=${ports[$((i + 2))]}
    clients+="${clients:+,}http://127.0.0.1:$client"
    etcd --name "m$i" --data-dir "$tmp/m$i" \
        --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token carechain-bench \
        --logger zap --log-level warn --log-outputs "$tmp/m$i.log" >"$tmp/m$i.out" 2>&1 &
    pids+=($!)
done
echo "etcd $(etcd --version | sed -n 's/^etcd Version: //p'): 3 members on $clients (data in $tmp)"

# a leader, and every member answering
deadline=$((SECONDS + 30))
ready=0
while [ $SECONDS -lt $deadline ]; do
    ready=0
    for u in ${clients//,/ }; do
        curl -sf -m 1 "$u/health" | grep -q '"health":"true"' && ready=$((ready + 1))
    done
    [ $ready -eq 3 ] && break
    sleep 0.2
done
if [ $ready -ne 3 ]; then
    echo "etcd-compare: the cluster did not become healthy within 30 s (logs: $tmp/m*.log)" >&2
    keep=1
    exit 1
fi

# ---- the runs --------------------------------------------------------------------------------
best=0
best_how=""
best_single=0
run() { # tag in-flight ops
    local tag=$1 c=$2 ops=$3 line pps
    line=$("$tmp/driver" load "$clients" "$c" "$puts" "$value_bytes" "$ops" "$tag") || {
        echo "  $line"
        echo "etcd-compare: the $tag run had failures" >&2
        exit 1
    }
    echo "  $line"
    pps=$(sed -n 's/.* puts_per_s=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "$ops" -eq 1 ] && [ "${pps:-0}" -gt "$best_single" ]; then best_single=$pps; fi
    if [ "${pps:-0}" -gt "$best" ]; then
        best=$pps
        if [ "$ops" -gt 1 ]; then
            best_how="txns of $ops puts, $c in flight over the 3 members, key+value $value_bytes bytes"
        else
            best_how="single puts, $c in flight over the 3 members, key+value $value_bytes bytes"
        fi
    fi
}
echo "Loading $puts keys per run (key + value = $value_bytes bytes) through POST /v3/kv/put|txn:"
run put64 64 1
run put256 256 1
run txn16 16 128

# every counted put is there: a count-only range over bench/
key64=$(printf 'bench/' | base64)
end64=$(printf 'bench0' | base64)
count=$(curl -sf -m 10 -X POST "${clients%%,*}/v3/kv/range" \
    -d "{\"key\":\"$key64\",\"range_end\":\"$end64\",\"count_only\":true}" |
    sed -n 's/.*"count":"\{0,1\}\([0-9]*\).*/\1/p')
if [ "${count:-0}" -ne $((3 * puts)) ]; then
    echo "etcd-compare: etcd holds ${count:-?} bench keys, expected $((3 * puts))" >&2
    exit 1
fi
echo "  check: etcd holds all $count keys written."
echo "etcd_puts_per_s=$best"
echo "etcd_single_puts_per_s=$best_single"
echo "etcd_how=best of 3 runs: $best_how"
