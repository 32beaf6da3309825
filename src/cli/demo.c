/*
 * cli/demo.c — `carechain demo`: a fresh single-node network walked through
 * in plain words. The scenario is a list of steps (the table `steps` below);
 * later issues add their applications' scenarios as more steps.
 *
 * Each step prints what it does and what the ledger answered, and returns an
 * exit code; the first step that fails ends the demo (the node is stopped).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES        4096
#define DEFAULT_DIR       "demo-net"
#define DEFAULT_PORT      7800
#define READY_TIMEOUT_MS  20000
#define STOP_TIMEOUT_MS   15000
#define MAX_NODES         5
#define LEADER_TIMEOUT_MS 15000
#define PROOF_TIMEOUT_MS  10000

typedef struct demo {
    const char *dir;
    unsigned nodes;          /* 1: solo; more: a raft network on this machine */
    unsigned api_base;       /* node I's API port is api_base + I - 1 */
    pid_t others[MAX_NODES]; /* nodes 2..N (index I-1); node1 is `node` */
    char node_dir[PATH_BYTES];
    char log_path[PATH_BYTES];
    char api[64];  /* 127.0.0.1:port */
    char base[80]; /* http://127.0.0.1:port */
    pid_t node;
    cc_cli_http *http;
    uint8_t *genesis;
    size_t genesis_len;
    uint8_t chain_id[CC_HASH_BYTES];
    char note_txid[CC_HASH_HEX]; /* the clinician's anchored document */
    uint64_t note_height;
    json_t *proof;
} demo;

typedef struct demo_step {
    const char *title;
    int (*run)(demo *d);
} demo_step;

static char *sh(const char *hex)
{
    /* a few short forms live at once in one printf: rotate buffers */
    static char bufs[4][CC_CLI_SHORT_BYTES];
    static unsigned next;
    char *b = bufs[next++ % 4];
    cc_cli_short(hex, b);
    return b;
}

static char *sh_bin(const uint8_t *bin)
{
    char hex[CC_HASH_HEX];
    cc_hex(bin, CC_HASH_BYTES, hex);
    return sh(hex);
}

static int fail(const char *fmt, const char *detail)
{
    printf("   FAILED: ");
    printf(fmt, detail);
    printf("\n");
    return CC_EXIT_FAIL;
}

static bool load_key(const demo *d, const char *name, cc_key *k, json_t **extra)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    snprintf(path, sizeof path, "%s/keys/%s.key", d->dir, name);
    if (cc_key_load(path, k, extra, &eb) == CC_OK) return true;
    printf("   FAILED: cannot load %s: %s\n", path, eb.msg);
    return false;
}

/* Sign and send one tx with ?wait=commit. false when the node could not be
 * reached or the tx could not be built (said on stdout). */
static bool send_tx(demo *d, const cc_key *k, const char *type, const char *payload, cc_tx *tx_out,
                    cc_cli_sent *sent)
{
    cc_errbuf eb = {{0}};
    cc_tx tx;
    if (cc_cli_tx_build(d->chain_id, k, type, payload, NULL, 0, &tx, &eb) != CC_OK) {
        printf("   FAILED: cannot build the %s tx: %s\n", type, eb.msg);
        return false;
    }
    cc_err e = cc_cli_tx_post(d->http, &tx, true, sent, &eb);
    if (e != CC_OK) {
        printf("   FAILED: %s\n", eb.msg);
        cc_tx_free(&tx);
        return false;
    }
    if (tx_out)
        *tx_out = tx;
    else
        cc_tx_free(&tx);
    return true;
}

/* Start nodes 2..N (node1 is started on its own, as in a single-node demo). */
static int start_others(demo *d)
{
    for (unsigned i = 2; i <= d->nodes; i++) {
        char dir[PATH_BYTES], log[PATH_BYTES], api[64], base[80];
        cc_errbuf eb = {{0}};
        snprintf(dir, sizeof dir, "%s/node%u", d->dir, i);
        snprintf(log, sizeof log, "%s/node%u/node.log", d->dir, i);
        snprintf(api, sizeof api, "127.0.0.1:%u", d->api_base + i - 1);
        snprintf(base, sizeof base, "http://%s", api);
        if (cc_cli_node_spawn(dir, api, log, &d->others[i - 1], &eb) != CC_OK ||
            cc_cli_node_wait_ready(base, d->others[i - 1], READY_TIMEOUT_MS, &eb) != CC_OK) {
            d->others[i - 1] = 0;
            printf("   FAILED: node%u did not start: %s (its log: %s)\n", i, eb.msg, log);
            return CC_EXIT_FAIL;
        }
    }
    return CC_EXIT_OK;
}

/* SIGTERM nodes 2..N; true when all exited 0. */
static bool stop_others(demo *d)
{
    bool clean = true;
    for (unsigned i = 2; i <= d->nodes; i++) {
        if (d->others[i - 1] <= 0) continue;
        int status = cc_cli_node_stop(d->others[i - 1], STOP_TIMEOUT_MS);
        d->others[i - 1] = 0;
        clean = clean && status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return clean;
}

/* Wait until node1 names a raft leader; prints who leads. */
static int wait_leader(demo *d)
{
    uint64_t deadline = cc_mono_ns() + (uint64_t)LEADER_TIMEOUT_MS * 1000000u;
    while (cc_mono_ns() < deadline) {
        cc_cli_resp r;
        cc_errbuf eb = {{0}};
        if (cc_cli_http_request(d->http, "/v1/status", NULL, NULL, 0, &r, &eb) == CC_OK && r.status == 200) {
            const char *leader = json_string_value(json_object_get(r.json, "leader"));
            json_t *term = json_object_get(r.json, "term");
            if (leader && *leader) {
                printf("   The nodes elected %s as raft leader (term %lld). Any node takes txs: followers\n"
                       "   forward them to the leader, and every node re-checks every block itself.\n",
                       leader, (long long)json_integer_value(term));
                cc_cli_resp_free(&r);
                return CC_EXIT_OK;
            }
        }
        cc_cli_resp_free(&r);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    return fail("%s", "no raft leader yet: see the nodes' node.log");
}

/* ---- the steps ---------------------------------------------------------------- */

static int step_init(demo *d)
{
    cc_errbuf eb = {{0}};
    char path[PATH_BYTES];
    /* the ports the nodes will use, so that genesis, config and the
     * explorer's network page name them (with --port too) */
    cc_err e = cc_cli_net_init_ports(d->dir, d->nodes, NULL, d->api_base, d->api_base + 100, &eb);
    if (e != CC_OK) return fail("%s", eb.msg);
    snprintf(path, sizeof path, "%s/genesis.json", d->dir);
    if (cc_file_read(path, CC_GENESIS_MAX_BYTES, &d->genesis, &d->genesis_len, &eb) != CC_OK)
        return fail("%s", eb.msg);
    cc_sha256(d->genesis, d->genesis_len, d->chain_id);
    printf("   Wrote %s/genesis.json: chain carechain-demo, id %s (the SHA-256 of that file).\n", d->dir,
           sh_bin(d->chain_id));
    printf("   Genesis founds %zu organisations, each with one admin:", cc_cli_org_count);
    for (size_t i = 0; i < cc_cli_org_count; i++)
        printf("%s %s", i ? (i + 1 == cc_cli_org_count ? " and" : ",") : "", cc_cli_orgs[i].name);
    if (d->nodes == 1)
        printf(".\n   One node (node1, run by %s) and a keyring of %zu more identities in %s/keys.\n",
               cc_cli_orgs[0].name, cc_cli_member_count, d->dir);
    else
        printf(".\n   %u nodes (node1..node%u, run by different organisations) and a keyring of %zu more\n"
               "   identities in %s/keys.\n",
               d->nodes, d->nodes, cc_cli_member_count, d->dir);
    return CC_EXIT_OK;
}

static int step_start(demo *d)
{
    cc_errbuf eb = {{0}};
    if (cc_cli_node_spawn(d->node_dir, d->api, d->log_path, &d->node, &eb) != CC_OK)
        return fail("%s", eb.msg);
    if (cc_cli_node_wait_ready(d->base, d->node, READY_TIMEOUT_MS, &eb) != CC_OK) {
        d->node = 0;
        printf("   FAILED: %s (its log: %s)\n", eb.msg, d->log_path);
        return CC_EXIT_FAIL;
    }
    printf("   Node node1 (process %d) answers at %s; it logs to %s.\n", (int)d->node, d->base, d->log_path);
    if (d->nodes == 1) return CC_EXIT_OK;
    int rc = start_others(d);
    if (rc != CC_EXIT_OK) return rc;
    printf("   Nodes node2..node%u answer at http://127.0.0.1:%u..%u; the demo talks to node1.\n", d->nodes,
           d->api_base + 1, d->api_base + d->nodes - 1);
    return wait_leader(d);
}

static int step_register(demo *d)
{
    cc_errbuf eb = {{0}};
    json_t *answer;
    size_t failed = 0;
    if (cc_cli_keyring_register(d->http, d->dir, d->chain_id, &answer, &eb) != CC_OK)
        return fail("%s", eb.msg);
    json_t *results = json_object_get(answer, "results");
    printf("   Each organisation's admin signed member.register txs for its people; all %zu went in one "
           "batch:\n",
           cc_cli_member_count);
    for (size_t i = 0; i < cc_cli_member_count && i < json_array_size(results); i++) {
        const cc_cli_member *m = &cc_cli_members[i];
        json_t *r = json_array_get(results, i);
        json_t *res = json_object_get(r, "result");
        const char *code =
            res ? cc_cli_jstr(res, "code", "?") : cc_cli_jstr(json_object_get(r, "error"), "code", "?");
        const char *who =
            strcmp(m->role, "patient") == 0 ? "a pseudonymous patient (no name on the ledger)" : m->name;
        const char *org = m->org;
        for (size_t o = 0; o < cc_cli_org_count; o++)
            if (strcmp(cc_cli_orgs[o].id, m->org) == 0) org = cc_cli_orgs[o].name;
        if (strcmp(code, "ok") != 0) failed++;
        printf("   - %s registers %s as %s: tx %s, block %llu, %s.\n", org, who, m->role,
               sh(cc_cli_jstr(r, "txid", "?")), (unsigned long long)cc_cli_juint(r, "height"), code);
    }
    json_decref(answer);
    if (failed) return fail("%s", "some registrations did not commit with result ok");
    return CC_EXIT_OK;
}

static int step_note(demo *d)
{
    static const char document[] = "Discharge summary — demo text, not about any real person.\n";
    cc_key k;
    cc_cli_sent s;
    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX], payload[256];
    int rc = CC_EXIT_FAIL;

    if (!load_key(d, "clinician", &k, NULL)) return CC_EXIT_FAIL;
    cc_sha256((const uint8_t *)document, sizeof document - 1, h);
    cc_hex(h, CC_HASH_BYTES, hex);
    snprintf(payload, sizeof payload,
             "{\"kind\":\"discharge-summary\",\"sha256\":\"%s\",\"uri\":\"urn:demo:doc:1\"}", hex);
    if (!send_tx(d, &k, "note.put", payload, NULL, &s)) goto out;
    if (!cc_cli_sent_ok(&s) || !s.committed) {
        printf("   FAILED: the note did not commit: %s %s\n", s.code, s.message);
        goto out_sent;
    }
    snprintf(d->note_txid, sizeof d->note_txid, "%s", s.txid);
    d->note_height = s.height;
    printf("   Dr Ada Example anchors a discharge summary by its hash %s (the document stays at the "
           "hospital).\n",
           sh(hex));
    printf("   note.put committed in block %llu at position %u: ok.\n   txid %s\n",
           (unsigned long long)s.height, s.index, s.txid);
    rc = CC_EXIT_OK;
out_sent:
    cc_cli_sent_free(&s);
out:
    cc_key_wipe(&k);
    return rc;
}

static int step_forbidden(demo *d)
{
    cc_key patient, fresh;
    cc_cli_sent s;
    int rc = CC_EXIT_FAIL;
    if (!load_key(d, "patient", &patient, NULL)) return CC_EXIT_FAIL;
    cc_key_generate(&fresh);
    char *payload = cc_cli_member_payload(&fresh, "clinician", "Dr Not Really");
    cc_key_wipe(&fresh);
    if (!payload || !send_tx(d, &patient, "member.register", payload, NULL, &s)) goto out;
    printf("   The patient signs a member.register tx to make someone a clinician.\n");
    if (cc_cli_sent_ok(&s)) {
        printf("   FAILED: the node accepted it (block %llu).\n", (unsigned long long)s.height);
    } else {
        printf("   Refused%s: %s — %s.\n", s.committed ? " in its block" : " by the node", s.code, s.message);
        rc = CC_EXIT_OK;
    }
    cc_cli_sent_free(&s);
out:
    free(payload);
    cc_key_wipe(&patient);
    return rc;
}

static int step_duplicate(demo *d)
{
    cc_key k;
    cc_tx tx;
    cc_cli_sent first, second;
    cc_errbuf eb = {{0}};
    int rc = CC_EXIT_FAIL;
    char payload[160];
    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];

    if (!load_key(d, "pharmacy", &k, NULL)) return CC_EXIT_FAIL;
    cc_sha256((const uint8_t *)"dispensing record, demo", 23, h);
    snprintf(payload, sizeof payload, "{\"kind\":\"dispensing-record\",\"sha256\":\"%s\"}",
             cc_hex(h, CC_HASH_BYTES, hex));
    if (!send_tx(d, &k, "note.put", payload, &tx, &first)) goto out;
    printf("   The pharmacist anchors a dispensing record: tx %s committed in block %llu: %s.\n",
           sh(first.txid), (unsigned long long)first.height, first.code);
    if (cc_cli_tx_post(d->http, &tx, true, &second, &eb) != CC_OK) {
        printf("   FAILED: %s\n", eb.msg);
        goto out_first;
    }
    printf("   The very same signed bytes are sent again (a replay).\n");
    if (second.accepted) {
        printf("   FAILED: the node accepted the replay (HTTP %ld).\n", second.status);
    } else {
        printf("   Refused (HTTP %ld, %s): %s.\n", second.status, second.code, second.message);
        rc = cc_cli_sent_ok(&first) ? CC_EXIT_OK : CC_EXIT_FAIL;
    }
    cc_cli_sent_free(&second);
out_first:
    cc_cli_sent_free(&first);
    cc_tx_free(&tx);
out:
    cc_key_wipe(&k);
    return rc;
}

static int step_revoke(demo *d)
{
    cc_key admin, researcher;
    cc_cli_sent s;
    int rc = CC_EXIT_FAIL;
    char payload[256], id[CC_HASH_HEX];

    if (!load_key(d, "admin-research", &admin, NULL)) return CC_EXIT_FAIL;
    if (!load_key(d, "researcher", &researcher, NULL)) goto out_admin;
    cc_hex(researcher.pk, CC_PUBKEY_BYTES, id);
    snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"reason\":\"left the study team\"}", id);
    if (!send_tx(d, &admin, "member.revoke", payload, NULL, &s)) goto out;
    printf("   The research sponsor's admin revokes the study researcher (%s): tx %s, block %llu, %s.\n",
           sh(id), sh(s.txid), (unsigned long long)s.height, s.code);
    bool revoked = cc_cli_sent_ok(&s) && s.committed;
    cc_cli_sent_free(&s);
    if (!revoked) {
        printf("   FAILED: the revocation did not commit.\n");
        goto out;
    }
    snprintf(payload, sizeof payload, "{\"kind\":\"lab-notebook\",\"sha256\":\"%064d\"}", 0);
    if (!send_tx(d, &researcher, "note.put", payload, NULL, &s)) goto out;
    printf("   The researcher then tries to anchor a lab notebook.\n");
    if (cc_cli_sent_ok(&s)) {
        printf("   FAILED: the node accepted a tx from a revoked identity.\n");
    } else {
        printf("   Refused%s: %s — %s.\n", s.committed ? " in its block" : " by the node", s.code, s.message);
        rc = CC_EXIT_OK;
    }
    cc_cli_sent_free(&s);
out:
    cc_key_wipe(&researcher);
out_admin:
    cc_key_wipe(&admin);
    return rc;
}

static bool save_json(const char *path, const json_t *j)
{
    cc_errbuf eb = {{0}};
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    bool ok = text && cc_file_write(path, text, strlen(text), 0644, &eb) == CC_OK;
    free(text);
    return ok;
}

static int step_proof(demo *d)
{
    char path[PATH_BYTES], url[128];
    cc_errbuf eb = {{0}};
    cc_cli_resp r;
    cc_proof_report rep;

    snprintf(url, sizeof url, "/v1/tx/%s/proof", d->note_txid);
    /* on several nodes the checkpoint needs a majority's signatures first */
    uint64_t deadline = cc_mono_ns() + (uint64_t)PROOF_TIMEOUT_MS * 1000000u;
    for (;;) {
        if (cc_cli_http_request(d->http, url, NULL, NULL, 0, &r, &eb) != CC_OK) return fail("%s", eb.msg);
        if (r.status != 404 || cc_mono_ns() >= deadline) break;
        cc_cli_resp_free(&r);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (r.status != 200 || !r.json) {
        printf("   FAILED: GET %s answered HTTP %ld: %s\n", url, r.status, cc_cli_resp_message(&r));
        cc_cli_resp_free(&r);
        return CC_EXIT_FAIL;
    }
    d->proof = json_incref(r.json);
    cc_cli_resp_free(&r);
    snprintf(path, sizeof path, "%s/note-proof.json", d->dir);
    if (!save_json(path, d->proof)) return fail("cannot write %s", path);
    printf("   Fetched the proof of the discharge summary's tx and saved it to %s.\n", path);
    uint64_t t0 = cc_mono_ns();
    cc_err e = cc_proof_verify(d->proof, d->genesis, d->genesis_len, &rep, &eb);
    double ms = (double)(cc_mono_ns() - t0) / 1e6;
    if (e != CC_OK) return fail("the proof does not verify: %s", eb.msg);
    printf(
        "   Checked offline with only that file and genesis.json (%.3f ms): tx %s is in block %llu with "
        "result %s,\n"
        "   and block %llu is in the history of the checkpoint at height %llu, signed by %zu of %u node%s.\n",
        ms, sh_bin(rep.txid), (unsigned long long)rep.height, rep.result.code == CC_OK ? "ok" : "not ok",
        (unsigned long long)rep.height, (unsigned long long)rep.checkpoint_height, rep.signatures, d->nodes,
        d->nodes == 1 ? "" : "s");
    printf("   Try it yourself: carechain verify-proof %s --genesis %s/genesis.json\n", path, d->dir);
    return CC_EXIT_OK;
}

/* Flip one hex digit of a string field, in place. */
static bool flip_hex(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || !*s) return false;
    char *c = strdup(s);
    if (!c) return false;
    size_t i = strlen(c) / 2;
    c[i] = c[i] == '0' ? '1' : '0';
    json_object_set_new(obj, key, json_string(c));
    free(c);
    return true;
}

static int step_tamper(demo *d)
{
    char path[PATH_BYTES];
    cc_errbuf eb = {{0}};
    cc_proof_report rep;
    int rc = CC_EXIT_OK;

    /* 1: claim another outcome for the tx */
    json_t *t1 = json_deep_copy(d->proof);
    json_t *res = json_object_get(t1, "result");
    json_object_set_new(res, "message", json_string("approved by the board"));
    snprintf(path, sizeof path, "%s/note-proof-tampered.json", d->dir);
    if (!t1 || !save_json(path, t1)) rc = fail("cannot write %s", path);
    cc_err e = cc_proof_verify(t1, d->genesis, d->genesis_len, &rep, &eb);
    printf("   A copy whose result message was edited (saved as %s):\n", path);
    if (e == CC_OK)
        rc = fail("%s", "the tampered proof verified");
    else
        printf("   NOT verified: %s.\n", eb.msg);
    json_decref(t1);

    /* 2: forge the checkpoint header */
    json_t *t2 = json_deep_copy(d->proof);
    memset(&eb, 0, sizeof eb);
    if (!t2 || !flip_hex(json_object_get(t2, "checkpoint"), "header")) {
        json_decref(t2);
        return rc;
    }
    e = cc_proof_verify(t2, d->genesis, d->genesis_len, &rep, &eb);
    printf("   A copy with one hex digit changed in the signed checkpoint header:\n");
    if (e == CC_OK)
        rc = fail("%s", "the tampered proof verified");
    else
        printf("   NOT verified: %s.\n", eb.msg);
    json_decref(t2);
    return rc;
}

static int step_verify_chain(demo *d)
{
    cc_errbuf eb = {{0}};
    cc_verify_report rep;
    int status = cc_cli_node_stop(d->node, STOP_TIMEOUT_MS);
    d->node = 0;
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("   The node did not stop cleanly (wait status %d); its log: %s\n", status, d->log_path);
    else
        printf("   Sent SIGTERM: the node finished its block in flight, closed its store and exited 0.\n");
    if (d->nodes > 1) {
        if (stop_others(d))
            printf("   Sent SIGTERM to the other %u nodes too; each exited 0.\n", d->nodes - 1);
        else
            printf("   Sent SIGTERM to the other %u nodes; not all exited cleanly (see their node.log).\n",
                   d->nodes - 1);
    }
    for (unsigned i = 1; i <= d->nodes; i++) {
        char dir[PATH_BYTES];
        snprintf(dir, sizeof dir, "%s/node%u", d->dir, i);
        memset(&rep, 0, sizeof rep);
        cc_err e = cc_cli_verify_dir(dir, &rep, &eb);
        if (e != CC_OK) {
            printf("   verify-chain --dir %s: NOT sound%s%llu: %s\n", dir,
                   rep.bad_height ? " at height " : "", (unsigned long long)rep.bad_height,
                   rep.what[0] ? rep.what : eb.msg);
            return CC_EXIT_FAIL;
        }
        printf("   verify-chain --dir %s: sound. %llu blocks and %llu txs re-checked from disk%s\n", dir,
               (unsigned long long)rep.blocks, (unsigned long long)rep.txs, i == 1 ? ": every hash," : ".");
        if (i == 1)
            printf("   Merkle root and signature recomputed, every tx replayed, the state roots match.\n");
    }
    return CC_EXIT_OK;
}

static int step_records(demo *d)
{
    return cc_cli_demo_records(d->http, d->chain_id, d->dir);
}

static int step_claims(demo *d)
{
    return cc_cli_demo_claims(d->http, d->chain_id, d->dir);
}

static int step_drugs(demo *d)
{
    return cc_cli_demo_drugs(d->http, d->chain_id, d->dir);
}

static int step_trials(demo *d)
{
    return cc_cli_demo_trials(d->http, d->chain_id, d->dir);
}

static const demo_step steps[] = {
    {"Create a fresh network", step_init},
    {"Start the node", step_start},
    {"Register the demo identities", step_register},
    {"A clinician anchors a document", step_note},
    {"A tx that breaks the rules is refused, with the reason", step_forbidden},
    {"Exactly once: the same tx sent twice", step_duplicate},
    {"Revocation", step_revoke},
    {"A proof, checked offline", step_proof},
    {"Tampered proofs fail", step_tamper},
    {"Health records: the patient decides who reads, and sees every access", step_records},
    {"Claims: a payer's plan is a contract; claims are adjudicated as they commit", step_claims},
    {"Drug supply chain: every package traced from its maker to the patient; clones and recalls flagged",
     step_drugs},
    {"Research: a trial's outcomes are fixed in advance, and switching them shows", step_trials},
    {"Stop the node(s) and verify the whole chain", step_verify_chain},
};

/* ---- setup, serve, main ---------------------------------------------------------- */

/* Make dir ready for init: absent, empty, or a network made by carechain
 * (marker present) which is wiped. */
static int prepare_dir(const char *dir)
{
    char marker[PATH_BYTES];
    struct stat st;
    cc_errbuf eb = {{0}};
    if (stat(dir, &st) != 0) return errno == ENOENT ? CC_EXIT_OK : cc_cli_usage("demo", "cannot use %s", dir);
    if (!S_ISDIR(st.st_mode)) return cc_cli_usage("demo", "%s exists and is not a directory", dir);
    snprintf(marker, sizeof marker, "%s/" CC_CLI_NET_MARKER, dir);
    if (access(marker, F_OK) != 0) {
        if (rmdir(dir) == 0) return CC_EXIT_OK; /* it was empty */
        return cc_cli_usage("demo", "%s exists and is not a carechain network (no %s); refusing to wipe it",
                            dir, CC_CLI_NET_MARKER);
    }
    if (cc_cli_rmtree(dir, &eb) != CC_OK) {
        fprintf(stderr, "carechain demo: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    return CC_EXIT_OK;
}

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int serve(demo *d)
{
    cc_errbuf eb = {{0}};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (cc_cli_node_spawn(d->node_dir, d->api, d->log_path, &d->node, &eb) != CC_OK ||
        cc_cli_node_wait_ready(d->base, d->node, READY_TIMEOUT_MS, &eb) != CC_OK) {
        printf("The node did not start again: %s (log: %s)\n", eb.msg, d->log_path);
        return CC_EXIT_FAIL;
    }
    printf("\nThe node is running again and serving at %s (Ctrl-C stops it).\n", d->base);
    printf("Try: carechain status --node %s\n", d->base);
    fflush(stdout);
    int status = 0;
    bool exited = false;
    while (!stop_requested && !exited) {
        pid_t w = waitpid(d->node, &status, 0);
        if (w == d->node)
            exited = true;
        else if (w < 0 && errno != EINTR)
            break;
    }
    if (exited && !stop_requested) {
        d->node = 0;
        printf("The node exited on its own (wait status %d); its log: %s\n", status, d->log_path);
        return CC_EXIT_FAIL;
    }
    if (!exited) status = cc_cli_node_stop(d->node, STOP_TIMEOUT_MS);
    d->node = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        printf("\nStopped the node; it exited cleanly. Its chain stays in %s.\n", d->node_dir);
    else
        printf("\nStopped the node, but it did not exit cleanly (wait status %d; log %s).\n", status,
               d->log_path);
    return CC_EXIT_OK;
}

int cc_cmd_demo(int argc, char **argv)
{
    const char *dir = DEFAULT_DIR, *nodes_s = NULL, *port_s = NULL;
    bool do_serve = false;
    const cc_cli_opt opts[] = {
        {"dir", "DIR", "where to create the network (default ./" DEFAULT_DIR "; wiped if made by carechain)",
         &dir},
        {"nodes", "N", "number of nodes, 1..5 (default 1; more run raft on this machine)", &nodes_s},
        {"serve", NULL, "keep the node running afterwards, until Ctrl-C", &do_serve},
        {"port", "PORT", "the node's API port (default 7800)", &port_s},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"demo",
                              "[--dir D] [--nodes N] [--serve] [--port P]",
                              "Create a fresh network, start its node and walk through what the ledger does.",
                              opts,
                              0,
                              0,
                              false,
                              false,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    uint64_t nodes = 1, port = DEFAULT_PORT;
    if (nodes_s && (!cc_cli_parse_u64(nodes_s, false, &nodes) || nodes < 1 || nodes > MAX_NODES))
        return cc_cli_usage(ctx.cmd, "--nodes must be 1..%d", MAX_NODES);
    if (port_s && (!cc_cli_parse_u64(port_s, false, &port) || port < 1 || port > 65535))
        return cc_cli_usage(ctx.cmd, "--port must be 1..65535");
    if (!*dir) return cc_cli_usage(ctx.cmd, "--dir is empty");

    demo d;
    memset(&d, 0, sizeof d);
    d.dir = dir;
    d.nodes = (unsigned)nodes;
    d.api_base = (unsigned)port;
    snprintf(d.node_dir, sizeof d.node_dir, "%s/node1", dir);
    snprintf(d.log_path, sizeof d.log_path, "%s/node1/node.log", dir);
    snprintf(d.api, sizeof d.api, "127.0.0.1:%u", (unsigned)port);
    snprintf(d.base, sizeof d.base, "http://%s", d.api);
    for (unsigned i = 0; i < (unsigned)nodes; i++) {
        unsigned p = (unsigned)port + i, raft = (unsigned)port + 100 + i;
        if (!cc_cli_port_free(p) || (nodes > 1 && !cc_cli_port_free(raft)))
            return cc_cli_usage(ctx.cmd, "port %u or %u is in use (another node?); pass --port", p, raft);
    }
    rc = prepare_dir(dir);
    if (rc != CC_EXIT_OK) return rc;
    d.http = cc_cli_http_new(d.base);
    if (!d.http) return CC_EXIT_FAIL;
    signal(SIGPIPE, SIG_IGN);

    if (nodes == 1)
        printf("carechain demo: a fresh single-node network in %s, walked through step by step.\n", dir);
    else
        printf("carechain demo: a fresh %u-node raft network in %s, walked through step by step.\n",
               (unsigned)nodes, dir);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        printf("\n%zu. %s\n", i + 1, steps[i].title);
        fflush(stdout);
        rc = steps[i].run(&d);
        fflush(stdout);
        if (rc != CC_EXIT_OK) {
            printf("\nThe demo stopped at step %zu.\n", i + 1);
            goto out;
        }
    }
    if (d.nodes == 1)
        printf("\nDone. The network lives in %s; the node listened on %s.\n", dir, d.base);
    else
        printf("\nDone. The network lives in %s; its nodes listened on http://127.0.0.1:%u..%u.\n"
               "Start them all again with:  carechain devnet --dir %s\n",
               dir, d.api_base, d.api_base + d.nodes - 1, dir);
    if (do_serve && d.nodes > 1) {
        printf(
            "--serve keeps a single-node demo running; for several nodes run:  carechain devnet --dir %s\n",
            dir);
    } else if (do_serve) {
        rc = serve(&d);
    } else if (d.nodes == 1) {
        printf("Start it again with:  carechain node --dir %s --api %s\n", d.node_dir, d.api);
        printf("or run the demo again and keep its node:  carechain demo --serve\n");
    }
out:
    if (d.node > 0) cc_cli_node_stop(d.node, STOP_TIMEOUT_MS);
    stop_others(&d);
    json_decref(d.proof);
    free(d.genesis);
    cc_cli_http_free(d.http);
    return rc;
}
