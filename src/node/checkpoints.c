/*
 * node/checkpoints.c — the senders of checkpoint signature exchange: one
 * thread per peer pushes this node's checkpoint signatures to the peer's
 * POST /v1/checkpoint/signatures (see checkpoints.h; the receiving side is
 * http_checkpoints.c).
 *
 * A sender's state is `taken`: the highest height the peer has stored
 * this node's signature for, with every lower height of the window. Each
 * round it sends the heights (max(taken + 1, head - WINDOW + 1) .. head]:
 *
 *   IDLE --head moved--> SEND --all stored--> IDLE (taken = head)
 *                          |--peer lacks a block ("pending")--> wait RETRY, SEND
 *                          |--no answer--> wait back-off (RETRY .. BACKOFF_MAX), SEND
 *                          +--refused (4xx)--> log, taken = head, IDLE
 *
 * Invariants:
 *   1. A sender only signs headers of blocks in this node's own store
 *      (cc_checkpoint_sign is deterministic: the signature is the one
 *      cc_chain_apply stored at commit).
 *   2. At most CC_CHECKPOINT_WINDOW heights per request; a peer that is
 *      further behind gets the newest ones once it catches up (only the
 *      newest majority-signed height matters for proofs).
 *   3. Senders never write to the chain and hold no lock while they talk.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "carechain/os.h"
#include "node/checkpoints.h"
#include "node/log.h"
#include "node/peer_answer.h"
#include "node/node_internal.h"

#define CKPT_POLL_MS            25   /* how often an idle sender looks at the head */
#define CKPT_RETRY_MS           100  /* a peer lacked a block, or failed: try again after */
#define CKPT_BACKOFF_MAX_MS     2000 /* the longest pause before trying an unreachable peer */
#define CKPT_TIMEOUT_MS         2000L
#define CKPT_CONNECT_TIMEOUT_MS 500L
#define CKPT_ANSWER_MAX         (256u * 1024)
#define CKPT_WARN_EVERY         50 /* log every Nth consecutive failure */

typedef struct peer {
    cc_checkpoints *cp;
    size_t index; /* genesis index */
    pthread_t thread;
    bool started;
    uint64_t taken;
    unsigned failures; /* consecutive rounds without a usable answer */
    CURL *curl;
    struct curl_slist *headers;
} peer;

struct cc_checkpoints {
    cc_node *node;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* the stop */
    bool stop;
    size_t peer_count;
    peer *peers;
};

/* Sleep up to ms or until the stop; true when stopping. */
static bool pause_ms(cc_checkpoints *cp, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&cp->mu);
    while (!cp->stop && pthread_cond_timedwait(&cp->cond, &cp->mu, &until) == 0) continue;
    bool stop = cp->stop;
    pthread_mutex_unlock(&cp->mu);
    return stop;
}

/* {"signatures": [{height, node, sig, header}, ...]} for from..to; NULL on
 * OOM or when a header cannot be read. Caller frees. */
static char *batch_body(cc_node *node, uint64_t from, uint64_t to)
{
    json_t *list = json_array();
    char *body = NULL;
    for (uint64_t h = from; h <= to && list; h++) {
        cc_header hdr;
        cc_checkpoint_sig s;
        uint8_t raw[CC_HEADER_BYTES];
        char raw_hex[2 * CC_HEADER_BYTES + 1], sig_hex[2 * CC_SIG_BYTES + 1];
        if (cc_chain_header_get(node->chain, h, &hdr) != CC_OK) goto out;
        cc_checkpoint_sign(&hdr, &node->key, &s);
        cc_header_encode(&hdr, raw);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s}", "height", (json_int_t)h, "node",
                                              node->node_id_hex, "sig", cc_hex(s.sig, CC_SIG_BYTES, sig_hex),
                                              "header", cc_hex(raw, sizeof raw, raw_hex)));
    }
    if (list) {
        json_t *doc = json_pack("{s:O}", "signatures", list);
        body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
    }
out:
    json_decref(list);
    return body;
}

/* Read the peer's per-signature answer: the new `taken`, and whether the
 * peer still lacks some block. */
static void read_results(peer *p, const json_t *doc, uint64_t from, uint64_t to, bool *pending)
{
    const json_t *results = json_object_get(doc, "results");
    uint64_t taken = p->taken < from - 1 ? from - 1 : p->taken;
    *pending = false;
    for (size_t k = 0; k < json_array_size(results); k++) {
        const json_t *r = json_array_get(results, k);
        const char *st = json_string_value(json_object_get(r, "status"));
        json_int_t h = json_integer_value(json_object_get(r, "height"));
        if (!st || h != (json_int_t)(taken + 1) || (uint64_t)h > to) break;
        if (strcmp(st, "stored") != 0) {
            *pending = true;
            break;
        }
        taken = (uint64_t)h;
    }
    if (taken < to) *pending = true;
    p->taken = taken;
}

/* One round for peer p; returns how long to pause before the next. */
static unsigned send_round(peer *p)
{
    cc_node *node = p->cp->node;
    const cc_genesis_node *to_node = &cc_chain_genesis(node->chain)->nodes[p->index];
    cc_head head;
    cc_peer_answer a = {.max = CKPT_ANSWER_MAX};
    long status = 0;
    unsigned pause = CKPT_POLL_MS;
    char url[192];

    cc_chain_head(node->chain, &head);
    uint64_t from = p->taken + 1;
    if (head.height >= CC_CHECKPOINT_WINDOW && from < head.height - CC_CHECKPOINT_WINDOW + 1)
        from = head.height - CC_CHECKPOINT_WINDOW + 1;
    if (head.height == 0 || from > head.height) return CKPT_POLL_MS;

    char *body = batch_body(node, from, head.height);
    if (!body) return CKPT_RETRY_MS;
    snprintf(url, sizeof url, "http://%s/v1/checkpoint/signatures", to_node->api);
    curl_easy_setopt(p->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, p->headers);
    CURLcode cr = cc_peer_perform(p->curl, url, CKPT_TIMEOUT_MS, CKPT_CONNECT_TIMEOUT_MS, &a, &status);
    json_t *doc = a.buf ? cc_json_parse((const uint8_t *)a.buf, a.len, NULL) : NULL;

    if (cr != CURLE_OK || status >= 500 || !doc) {
        /* unreachable, stopping, or busy: back off */
        if (p->failures++ % CKPT_WARN_EVERY == 0)
            cc_node_log(CC_LOG_WARN, "checkpoint", "cannot give %s checkpoint signatures: %s", to_node->name,
                        cr != CURLE_OK ? curl_easy_strerror(cr) : "no usable answer");
        unsigned shift = p->failures < 5 ? p->failures : 5;
        pause = CKPT_RETRY_MS << shift;
        if (pause > CKPT_BACKOFF_MAX_MS) pause = CKPT_BACKOFF_MAX_MS;
    } else if (status == 200) {
        bool pending = false;
        p->failures = 0;
        read_results(p, doc, from, head.height, &pending);
        pause = pending ? CKPT_RETRY_MS : CKPT_POLL_MS;
    } else {
        /* refused for good (409: the peer holds a different block here and
         * recorded the evidence); sending these heights again changes nothing */
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        p->failures = 0;
        cc_node_log(status == 409 ? CC_LOG_ERROR : CC_LOG_WARN, "checkpoint",
                    "%s refused this node's checkpoint signatures for heights %llu..%llu (%ld): %s",
                    to_node->name, (unsigned long long)from, (unsigned long long)head.height, status,
                    msg ? msg : "");
        p->taken = head.height;
        pause = CKPT_RETRY_MS;
    }
    json_decref(doc);
    free(a.buf);
    free(body);
    return pause;
}

static void *sender_main(void *arg)
{
    peer *p = arg;
    unsigned pause = 0;
    while (!pause_ms(p->cp, pause)) pause = send_round(p);
    return NULL;
}

cc_err cc_checkpoints_start(cc_node *node, cc_checkpoints **out, cc_errbuf *eb)
{
    const cc_genesis *g = cc_chain_genesis(node->chain);
    pthread_condattr_t attr;
    cc_err rc = CC_OK;

    *out = NULL;
    if (g->node_count <= 1) return CC_OK;
    cc_checkpoints *cp = calloc(1, sizeof *cp);
    if (!cp || !(cp->peers = calloc(g->node_count, sizeof *cp->peers))) {
        free(cp);
        return cc_errf(eb, CC_ERR_NOMEM, "no memory for the checkpoint senders");
    }
    cp->node = node;
    pthread_mutex_init(&cp->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cp->cond, &attr);
    pthread_condattr_destroy(&attr);

    for (size_t i = 0; i < g->node_count; i++) {
        if (memcmp(g->nodes[i].pk, node->key.pk, CC_PUBKEY_BYTES) == 0) continue;
        peer *p = &cp->peers[cp->peer_count];
        p->cp = cp;
        p->index = i;
        p->curl = curl_easy_init();
        p->headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (p->headers) p->headers = curl_slist_append(p->headers, "Expect:");
        cp->peer_count++;
        if (!p->curl || !p->headers) {
            rc = cc_errf(eb, CC_ERR_NOMEM, "no memory for the checkpoint senders");
            goto err;
        }
        if (pthread_create(&p->thread, NULL, sender_main, p) != 0) {
            rc = cc_errf(eb, CC_ERR_IO, "cannot start a checkpoint sender thread");
            goto err;
        }
        p->started = true;
    }
    *out = cp;
    return CC_OK;
err:
    cc_checkpoints_stop(cp);
    return rc;
}

void cc_checkpoints_stop(cc_checkpoints *cp)
{
    if (!cp) return;
    pthread_mutex_lock(&cp->mu);
    cp->stop = true;
    pthread_cond_broadcast(&cp->cond);
    pthread_mutex_unlock(&cp->mu);
    for (size_t i = 0; i < cp->peer_count; i++) {
        peer *p = &cp->peers[i];
        if (p->started) pthread_join(p->thread, NULL);
        if (p->curl) curl_easy_cleanup(p->curl);
        curl_slist_free_all(p->headers);
    }
    pthread_cond_destroy(&cp->cond);
    pthread_mutex_destroy(&cp->mu);
    free(cp->peers);
    free(cp);
}
