/*
 * cli/cmd_tx.c — `carechain tx send|get`, and the path every write command
 * (member, note, network, tx send) shares: its --key/--genesis/--no-wait,
 * load the key, find the chain id, build and sign a tx, POST it, report.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "carechain/os.h"
#include "cli/cli.h"

#define TX_LIFETIME_MS (3600ull * 1000) /* expiry = created + 1 h */
#define U32_BYTES      4

cc_err cc_cli_chain_id(cc_cli_http *h, const char *genesis_path, uint8_t chain_id[CC_HASH_BYTES],
                       cc_errbuf *eb)
{
    cc_err rc;
    if (genesis_path) {
        uint8_t *buf;
        size_t len;
        rc = cc_file_read(genesis_path, CC_GENESIS_MAX_BYTES, &buf, &len, eb);
        if (rc != CC_OK) return rc;
        cc_sha256(buf, len, chain_id);
        free(buf);
        return CC_OK;
    }
    cc_cli_resp r;
    rc = cc_cli_http_request(h, "/v1/status", NULL, NULL, 0, &r, eb);
    if (rc != CC_OK) return rc;
    const char *hex = cc_cli_jstr(r.json, "chain_id", NULL);
    if (r.status != 200 || !hex)
        rc = cc_errf(eb, CC_ERR_MALFORMED, "the node's /v1/status gave no chain_id (HTTP %ld)", r.status);
    else if (cc_unhex(hex, chain_id, CC_HASH_BYTES) != CC_OK)
        rc = cc_errf(eb, CC_ERR_MALFORMED, "the node's chain_id is not 64 hex digits");
    cc_cli_resp_free(&r);
    return rc;
}

cc_err cc_cli_tx_build(const uint8_t chain_id[CC_HASH_BYTES], const cc_key *key, const char *type,
                       const char *payload, const uint8_t *attachment, size_t attachment_len, cc_tx *out,
                       cc_errbuf *eb)
{
    cc_tx_params p = {0};
    p.chain_id = chain_id;
    p.type = type;
    p.payload = payload;
    p.payload_len = strlen(payload);
    p.created_ms = cc_now_ms();
    p.expiry_ms = p.created_ms + TX_LIFETIME_MS;
    p.nonce = cc_random_u64();
    p.attachment = attachment;
    p.attachment_len = attachment_len;
    memset(out, 0, sizeof *out);
    return cc_tx_create(&p, key, out, eb);
}

static void sent_fill(cc_cli_sent *s, const cc_cli_resp *r)
{
    json_t *j = r->json;
    s->status = r->status;
    s->accepted = r->status >= 200 && r->status < 300;
    s->json = json_incref(j);
    if (s->accepted) {
        json_t *res = json_object_get(j, "result");
        s->committed = json_is_object(res) || json_is_integer(json_object_get(j, "height"));
        s->height = cc_cli_juint(j, "height");
        s->index = (uint32_t)cc_cli_juint(j, "index");
        snprintf(s->code, sizeof s->code, "%s", res ? cc_cli_jstr(res, "code", "?") : "pending");
        snprintf(s->message, sizeof s->message, "%s", res ? cc_cli_jstr(res, "message", "") : "");
    } else {
        snprintf(s->code, sizeof s->code, "%s", cc_cli_resp_code(r));
        snprintf(s->message, sizeof s->message, "%s", cc_cli_resp_message(r));
    }
}

cc_err cc_cli_tx_post(cc_cli_http *h, const cc_tx *tx, bool wait, cc_cli_sent *out, cc_errbuf *eb)
{
    cc_err rc = CC_OK;
    size_t att = tx->has_attachment && tx->attachment ? tx->attachment_len : 0;
    size_t len = tx->raw_len + att;
    uint8_t *body = malloc(len ? len : 1);
    cc_cli_resp r;

    memset(out, 0, sizeof *out);
    cc_hex(tx->txid, CC_HASH_BYTES, out->txid);
    if (!body) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    memcpy(body, tx->raw, tx->raw_len);
    if (att) memcpy(body + tx->raw_len, tx->attachment, att);
    rc = cc_cli_http_request(h, wait ? "/v1/tx?wait=commit" : "/v1/tx", "application/octet-stream", body, len,
                             &r, eb);
    if (rc == CC_OK) {
        sent_fill(out, &r);
        cc_cli_resp_free(&r);
    }
    free(body);
    return rc;
}

void cc_cli_sent_free(cc_cli_sent *s)
{
    json_decref(s->json);
    s->json = NULL;
}

bool cc_cli_sent_ok(const cc_cli_sent *s)
{
    return s->accepted && (!s->committed || strcmp(s->code, "ok") == 0);
}

int cc_cli_sent_report(const cc_cli_ctx *ctx, const cc_cli_sent *s, const char *what)
{
    char sh[CC_CLI_SHORT_BYTES];
    int rc = cc_cli_sent_ok(s) ? CC_EXIT_OK : CC_EXIT_FAIL;
    const char *w = what ? what : "tx";

    if (ctx->json) {
        if (s->json) {
            cc_cli_print_json(s->json);
        } else {
            json_t *j = json_pack("{s:s,s:{s:s,s:s}}", "txid", s->txid, "error", "code", s->code, "message",
                                  s->message);
            cc_cli_print_json(j);
            json_decref(j);
        }
        return rc;
    }
    cc_cli_short(s->txid, sh);
    if (!s->accepted)
        fprintf(stderr, "Rejected %s %s (HTTP %ld, %s): %s.\n", w, sh, s->status, s->code, s->message);
    else if (!s->committed)
        printf("Accepted %s %s; it is pending (add --wait to wait for its block).\n", w, sh);
    else if (rc == CC_EXIT_OK)
        printf("Committed %s %s in block %llu: ok.\n", w, sh, (unsigned long long)s->height);
    else
        printf("Committed %s %s in block %llu, but it failed: %s%s%s.\n", w, sh,
               (unsigned long long)s->height, s->code, s->message[0] ? ": " : "", s->message);
    printf("txid %s\n", s->txid);
    return rc;
}

cc_err cc_cli_batch_add(uint8_t **buf, size_t *len, size_t *cap, const cc_tx *tx)
{
    size_t att = tx->has_attachment && tx->attachment ? tx->attachment_len : 0;
    size_t n = tx->raw_len + att;
    if (*len + U32_BYTES + n > *cap) {
        size_t c = *cap ? *cap : 1 << 16;
        while (c < *len + U32_BYTES + n) c *= 2;
        uint8_t *p = realloc(*buf, c);
        if (!p) return CC_ERR_NOMEM;
        *buf = p;
        *cap = c;
    }
    uint32_t be = htonl((uint32_t)n);
    memcpy(*buf + *len, &be, U32_BYTES);
    memcpy(*buf + *len + U32_BYTES, tx->raw, tx->raw_len);
    if (att) memcpy(*buf + *len + U32_BYTES + tx->raw_len, tx->attachment, att);
    *len += U32_BYTES + n;
    return CC_OK;
}

bool cc_cli_key_load(const char *cmd, const char *path, cc_key *k, json_t **extra)
{
    cc_errbuf eb = {{0}};
    if (cc_key_load(path, k, extra, &eb) != CC_OK) {
        fprintf(stderr, "carechain %s: cannot load key %s: %s\n", cmd, path, eb.msg);
        return false;
    }
    return true;
}

/* ---- the write commands' shared path ------------------------------------------ */

int cc_cli_parse_write(const cc_cli_spec *spec, int argc, char **argv, cc_cli_ctx *ctx, const cc_cli_write *w)
{
    int rc = cc_cli_parse(spec, argc, argv, ctx);
    if (rc >= 0) return rc;
    if (!w->key) return cc_cli_usage(ctx->cmd, "missing --key");
    return -1;
}

/* Say why a write command could not get an answer (stderr, or JSON) and
 * return its exit code. */
static int send_failed(const cc_cli_ctx *ctx, cc_err e, const char *msg)
{
    if (ctx->json) {
        json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", cc_err_name(e), "message", msg);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        fprintf(stderr, "carechain %s: %s\n", ctx->cmd, msg);
    }
    return e == CC_ERR_UNREACHABLE ? CC_EXIT_UNREACHABLE : e == CC_ERR_USAGE ? CC_EXIT_USAGE : CC_EXIT_FAIL;
}

int cc_cli_send(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type, const char *payload,
                const uint8_t *attachment, size_t attachment_len, cc_cli_sent *out)
{
    int rc = -1;
    cc_errbuf eb = {{0}};
    cc_key key;
    cc_tx tx;
    uint8_t chain_id[CC_HASH_BYTES];
    cc_cli_http *h;
    cc_err e = CC_OK;

    if (!cc_cli_key_load(ctx->cmd, w->key, &key, NULL)) return CC_EXIT_FAIL;
    h = cc_cli_http_new(ctx->node);
    if (!h) {
        rc = send_failed(ctx, CC_ERR_NOMEM, "out of memory");
        goto err_after_key;
    }
    e = cc_cli_chain_id(h, w->genesis, chain_id, &eb);
    if (e != CC_OK) goto err_after_http;
    e = cc_cli_tx_build(chain_id, &key, type, payload, attachment, attachment_len, &tx, &eb);
    if (e != CC_OK) goto err_after_http;
    e = cc_cli_tx_post(h, &tx, !w->no_wait, out, &eb);
    cc_tx_free(&tx);
err_after_http:
    if (e != CC_OK) rc = send_failed(ctx, e, eb.msg);
    cc_cli_http_free(h);
err_after_key:
    cc_key_wipe(&key);
    return rc;
}

int cc_cli_send_and_report(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type,
                           const char *payload, const uint8_t *attachment, size_t attachment_len)
{
    cc_cli_sent sent;
    int rc = cc_cli_send(ctx, w, type, payload, attachment, attachment_len, &sent);
    if (rc >= 0) return rc;
    rc = cc_cli_sent_report(ctx, &sent, type);
    cc_cli_sent_free(&sent);
    return rc;
}

char *cc_cli_json_text(json_t *payload)
{
    char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(payload);
    return text;
}

cc_err cc_cli_commit_json(cc_cli_http *h, const uint8_t chain_id[CC_HASH_BYTES], const cc_key *key,
                          const char *type, json_t *payload, char txid[CC_HASH_HEX], cc_errbuf *eb)
{
    cc_tx tx;
    cc_cli_sent sent;
    char *text = cc_cli_json_text(payload);
    if (!text) return cc_errf(eb, CC_ERR_NOMEM, "cannot build %s: out of memory", type);
    cc_err rc = cc_cli_tx_build(chain_id, key, type, text, NULL, 0, &tx, eb);
    free(text);
    if (rc != CC_OK) return rc;
    rc = cc_cli_tx_post(h, &tx, true, &sent, eb);
    cc_tx_free(&tx);
    if (rc != CC_OK) return rc;
    if (txid) snprintf(txid, CC_HASH_HEX, "%s", sent.txid);
    if (!cc_cli_sent_ok(&sent) || !sent.committed)
        rc = cc_errf(eb, CC_ERR_INVALID, "%s: %s", sent.code, sent.message);
    cc_cli_sent_free(&sent);
    return rc;
}

int cc_cli_send_json(const cc_cli_ctx *ctx, const cc_cli_write *w, const char *type, json_t *payload)
{
    char *text = cc_cli_json_text(payload);
    if (!text) return CC_EXIT_FAIL;
    int rc = cc_cli_send_and_report(ctx, w, type, text, NULL, 0);
    free(text);
    return rc;
}

/* ---- tx send ------------------------------------------------------------------ */

static int tx_send(int argc, char **argv)
{
    const char *type = NULL, *payload = NULL, *attach = NULL;
    cc_cli_write w = {0};
    bool wait = false;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "key file of the signer", &w.key},
        {"type", "TYPE", "tx type, e.g. note.put", &type},
        {"payload", "JSON|@FILE", "payload: a JSON object, or @file to read it", &payload},
        {"attach", "FILE", "attach this file (at most 1 MiB)", &attach},
        {"wait", NULL, "wait until the tx is committed and show its result", &wait},
        CC_CLI_OPT_GENESIS(&w),
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"tx send",
                              "--key K --type T --payload JSON|@file [--attach FILE] [--wait]",
                              "Sign a transaction and send it to the node.",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              "Exit status: 0 accepted (and ok with --wait), 1 rejected or failed,\n"
                              "2 usage, 3 node unreachable.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse_write(&spec, argc, argv, &ctx, &w);
    if (rc >= 0) return rc;
    if (!type) return cc_cli_usage(ctx.cmd, "missing --type");
    if (!payload) return cc_cli_usage(ctx.cmd, "missing --payload");
    if (!cc_tx_type_valid(type)) return cc_cli_usage(ctx.cmd, "'%s' is not a tx type name", type);

    cc_errbuf eb = {{0}};
    uint8_t *pbuf = NULL, *abuf = NULL;
    size_t plen = 0, alen = 0;
    rc = CC_EXIT_FAIL;
    if (payload[0] == '@') {
        if (cc_file_read(payload + 1, CC_PAYLOAD_MAX, &pbuf, &plen, &eb) != CC_OK) {
            fprintf(stderr, "carechain tx send: cannot read the payload: %s\n", eb.msg);
            goto out;
        }
        payload = (const char *)pbuf;
    }
    json_t *pj = cc_json_parse((const uint8_t *)payload, strlen(payload), &eb);
    if (!json_is_object(pj)) {
        json_decref(pj);
        rc = cc_cli_usage(ctx.cmd, "the payload must be a JSON object%s%s", pj ? "" : ": ", pj ? "" : eb.msg);
        goto out;
    }
    json_decref(pj);
    if (attach && cc_file_read(attach, CC_ATTACHMENT_MAX, &abuf, &alen, &eb) != CC_OK) {
        fprintf(stderr, "carechain tx send: cannot read the attachment: %s\n", eb.msg);
        goto out;
    }
    w.no_wait = !wait;
    rc = cc_cli_send_and_report(&ctx, &w, type, payload, abuf, alen);
out:
    free(pbuf);
    free(abuf);
    return rc;
}

/* ---- tx get ---------------------------------------------------------------------- */

static int tx_get(int argc, char **argv)
{
    const cc_cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
    const cc_cli_spec spec = {
        "tx get", "TXID", "Show a committed (or pending) transaction.", opts, 1, 1, true, true, NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!cc_cli_hex_ok(ctx.pos[0], CC_HASH_BYTES)) return cc_cli_usage(ctx.cmd, "TXID must be 64 hex digits");

    char path[128], sh[CC_CLI_SHORT_BYTES], sg[CC_CLI_SHORT_BYTES], tm[40];
    json_t *j;
    snprintf(path, sizeof path, "/v1/tx/%s", ctx.pos[0]);
    rc = cc_cli_get_json(&ctx, path, &j, NULL);
    if (rc >= 0) return rc;
    if (ctx.json) {
        cc_cli_print_json(j);
        json_decref(j);
        return CC_EXIT_OK;
    }
    const char *status = cc_cli_jstr(j, "status", "?");
    cc_cli_short(ctx.pos[0], sh);
    if (strcmp(status, "committed") != 0) {
        printf("Tx %s is %s (not in a block yet).\n", sh, status);
        json_decref(j);
        return CC_EXIT_OK;
    }
    json_t *res = json_object_get(j, "result");
    const char *code = cc_cli_jstr(res, "code", "?");
    const char *msg = cc_cli_jstr(res, "message", "");
    printf("Tx %s (%s) signed by %s was committed in block %llu at position %llu, %s: %s%s%s.\n", sh,
           cc_cli_jstr(j, "type", "?"), cc_cli_short(cc_cli_jstr(j, "signer", "?"), sg),
           (unsigned long long)cc_cli_juint(j, "height"), (unsigned long long)cc_cli_juint(j, "index"),
           cc_cli_time(cc_cli_juint(j, "block_time_ms"), tm), code, msg[0] ? ": " : "", msg);
    char *p = json_dumps(json_object_get(j, "payload"), JSON_COMPACT | JSON_SORT_KEYS);
    if (p) printf("Payload: %s\n", p);
    free(p);
    json_t *att = json_object_get(j, "attachment");
    if (att && !json_is_null(att)) {
        char *a = json_dumps(att, JSON_COMPACT | JSON_ENCODE_ANY);
        if (a) printf("Attachment: %s\n", a);
        free(a);
    }
    rc = strcmp(code, "ok") == 0 ? CC_EXIT_OK : CC_EXIT_FAIL;
    json_decref(j);
    return rc;
}

int cc_cmd_tx(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"send", tx_send, "sign and send a transaction"},
        {"get", tx_get, "show a transaction by txid"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("tx", subs, argc, argv);
}
