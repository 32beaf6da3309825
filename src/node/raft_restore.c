/*
 * node/raft_restore.c — the first leader after a whole-network restore
 * (consensus_raft.c, invariant 9): before it proposes, it asks every node
 * for its head and takes the blocks of the furthest one.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/log.h"
#include "node/peer_answer.h"
#include "node/raft_node.h"

#define RESTORE_RETRY_MS 500   /* after a restore: between two rounds of asking the nodes for heads */
#define RESTORE_LOG_MS   60000 /* ... and how often the nodes still awaited are logged */
#define RESTORE_MARK     "restore-pending" /* in raft/: restore_pending survives a restart */

/* ---- the first leader after a whole-network restore (apply thread) ----------------------
 *
 * Restored from backups, every node starts raft afresh on the chain its
 * backup holds, and the backups may be of different days. Raft cannot tell
 * which node holds the most of the chain (every log is one bootstrap
 * entry), so a leader elected before any entry was applied asks every node
 * of the set for its head, and waits until each has answered: the newest
 * block a majority signed before the loss may be on one node only, and a
 * chain that went on without it would halt the whole network once that
 * node's checkpoints are seen again. config.json "restore_without" names
 * nodes not to wait for (lost for good). Then the leader takes the blocks
 * the furthest node holds (each verified and committed by cc_chain_apply)
 * and proposes; the nodes behind take what they lack from their peers when
 * its first block arrives (cc_raft_apply_entry). */

bool cc_raft_dir_has(const cc_raft_node *r, const char *name)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", r->raft_dir, name);
    return access(path, F_OK) == 0;
}

void cc_raft_mark(cc_raft_node *r, const char *name, const char *text, bool on)
{
    char path[PATH_MAX + 32];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/%s", r->raft_dir, name);
    if (on ? cc_file_write(path, text, strlen(text), 0600, &eb) != CC_OK
           : unlink(path) != 0 && errno != ENOENT)
        cc_node_log(CC_LOG_WARN, "raft", "%s %s: %s", on ? "cannot write" : "cannot remove", path,
                    on ? eb.msg : strerror(errno));
}

/* Is raft/RESTORE_MARK there? */
bool cc_raft_restore_marked(const cc_raft_node *r)
{
    return cc_raft_dir_has(r, RESTORE_MARK);
}

/* Write (or, when on is false, remove) raft/RESTORE_MARK. */
void cc_raft_restore_mark(cc_raft_node *r, bool on)
{
    cc_raft_mark(r, RESTORE_MARK,
                 "raft started afresh on a restored chain; no block has come through raft since "
                 "(docs/CONSENSUS.md \"Restoring a whole network\")\n",
                 on);
}

/* GET api/v1/status: the node's head height and hash. */
static cc_err peer_head(cc_raft_node *r, CURL *c, const char *api, uint64_t *height,
                        uint8_t hash[CC_HASH_BYTES], cc_errbuf *eb)
{
    char url[CATCHUP_URL_MAX];
    cc_peer_answer a = {.max = PROBE_ANSWER_MAX, .cancelled = cc_raft_stop_asked, .cancel_ctx = r};
    long status = 0;
    cc_peer_url(url, sizeof url, api, "/v1/status");
    CURLcode cr = cc_peer_perform(c, url, PROBE_TIMEOUT_MS, CATCHUP_CONNECT_MS, &a, &status);
    json_t *st =
        cr == CURLE_OK && status == 200 && a.buf ? cc_json_parse((uint8_t *)a.buf, a.len, NULL) : NULL;
    free(a.buf);
    json_t *h = json_object_get(st, "height");
    const char *hex = json_string_value(json_object_get(st, "head_hash"));
    cc_err rc = CC_OK;
    if (cr != CURLE_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "%s", curl_easy_strerror(cr));
    else if (!json_is_integer(h) || json_integer_value(h) < 0 || !hex ||
             cc_unhex(hex, hash, CC_HASH_BYTES) != CC_OK)
        rc = cc_errf(eb, CC_ERR_UNREACHABLE, "HTTP %ld without a chain head", status);
    else
        *height = (uint64_t)json_integer_value(h);
    json_decref(st);
    return rc;
}

/* Is name in config.json "restore_without"? */
static bool restore_skips(const cc_raft_node *r, const char *name)
{
    for (size_t i = 0; i < r->restore_without_count; i++)
        if (strcmp(r->restore_without[i], name) == 0) return true;
    return false;
}

/* Does this node still lead in term (the loop publishes both)? */
static bool still_leads(cc_raft_node *r, uint64_t term)
{
    pthread_mutex_lock(&r->mu);
    bool leads = r->state == RAFT_LEADER && r->term == term && !r->stop_requested;
    pthread_mutex_unlock(&r->mu);
    return leads;
}

/* The leader of term, before it proposes (see the section comment). Gives
 * up without a word when this node stops leading: the next leader asks. */
void cc_raft_restore_gate(cc_raft_node *r, uint64_t term, cc_result *results)
{
    member *peers = calloc(RAFT_MEMBERS_MAX, sizeof *peers);
    bool *heard = calloc(RAFT_MEMBERS_MAX, sizeof *heard);
    CURL *c = curl_easy_init();
    size_t n = 0, answered = 0, best = SIZE_MAX;
    cc_head head;
    snap_record target = {0};
    char skipped[256] = "";
    if (!peers || !heard || !c) {
        cc_raft_halt(r, "no memory to ask the other nodes for their heads after a restore");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->member_count; i++) {
        if (r->members[i].id == r->self_id) continue;
        if (!restore_skips(r, r->members[i].name))
            peers[n++] = r->members[i];
        else
            snprintf(skipped + strlen(skipped), sizeof skipped - strlen(skipped), "%s%s",
                     *skipped ? ", " : "", r->members[i].name);
    }
    pthread_mutex_unlock(&r->mu);
    cc_chain_head(r->chain, &head);
    target.height = head.height;
    cc_node_log(CC_LOG_WARN, "raft",
                "first leader since raft started afresh at height %llu (a restore from backups): asking the "
                "other %zu nodes for their heads before proposing%s%s%s",
                (unsigned long long)head.height, n, *skipped ? " (not waiting for " : "", skipped,
                *skipped ? ": config.json \"restore_without\")" : "");
    uint64_t log_at = cc_now_ms() + RESTORE_RETRY_MS;
    while (answered < n && still_leads(r, term)) {
        char waiting[512] = "";
        for (size_t i = 0; i < n && !cc_raft_stopping(r); i++) {
            uint64_t height = 0;
            uint8_t hash[CC_HASH_BYTES];
            cc_errbuf eb = {{0}};
            if (heard[i]) continue;
            if (peer_head(r, c, peers[i].api, &height, hash, &eb) != CC_OK) {
                snprintf(waiting + strlen(waiting), sizeof waiting - strlen(waiting), "%s%s (%s)",
                         *waiting ? ", " : "", peers[i].name, eb.msg);
                continue;
            }
            heard[i] = true;
            answered++;
            if (height > target.height) {
                target.height = height;
                memcpy(target.hash, hash, CC_HASH_BYTES);
                best = i;
            }
        }
        if (answered == n || !still_leads(r, term)) break;
        pthread_mutex_lock(&r->mu); /* for GET /v1/status */
        r->restore_waiting_count = 0;
        for (size_t i = 0; i < n && r->restore_waiting_count < CC_RESTORE_WAITING_MAX; i++)
            if (!heard[i])
                snprintf(r->restore_waiting_names[r->restore_waiting_count++],
                         sizeof r->restore_waiting_names[0], "%s", peers[i].name);
        pthread_mutex_unlock(&r->mu);
        if (cc_now_ms() >= log_at) {
            cc_node_log(CC_LOG_WARN, "raft",
                        "waiting for the heads of %s: the chain goes on once every node has said its head, "
                        "or config.json \"restore_without\" names the nodes lost for good",
                        waiting);
            log_at = cc_now_ms() + RESTORE_LOG_MS;
        }
        for (unsigned waited = 0; waited < RESTORE_RETRY_MS && !cc_raft_stopping(r);
             waited += RAFT_STOP_POLL_MS) {
            struct timespec ts = {0, RAFT_STOP_POLL_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (answered < n) goto out; /* no longer the leader, or stopping */
    if (best == SIZE_MAX) {
        cc_node_log(CC_LOG_WARN, "raft", "no node is past height %llu: the chain goes on from here",
                    (unsigned long long)head.height);
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    r->restore_waiting_count = 0; /* the wait is over; the catch-up below may take a while */
    pthread_mutex_unlock(&r->mu);
    char what[MEMBER_NAME_MAX + 32];
    snprintf(what, sizeof what, "the chain %s kept", peers[best].name);
    snprintf(r->catchup_api, sizeof r->catchup_api, "%s", peers[best].api);
    if (cc_raft_catch_up_to(r, &target, false, what, results))
        cc_node_log(CC_LOG_WARN, "raft",
                    "took blocks %llu..%llu from %s: the chain goes on from height %llu, the newest block a "
                    "node kept",
                    (unsigned long long)head.height + 1, (unsigned long long)target.height, peers[best].name,
                    (unsigned long long)target.height);
out:
    pthread_mutex_lock(&r->mu);
    r->restore_waiting_count = 0;
    pthread_mutex_unlock(&r->mu);
    if (c) curl_easy_cleanup(c);
    free(heard);
    free(peers);
}
