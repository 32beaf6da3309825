/*
 * cli/cmd_note.c — `carechain note put`: anchor a document on the ledger by
 * its SHA-256 (a signed, time-stamped note.put; the document stays local).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"

#define KIND_MAX   64
#define URI_MAX    512
#define READ_CHUNK 65536

/* SHA-256 of a file of any size, read in chunks. */
static bool hash_file(const char *path, uint8_t out[CC_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    uint8_t buf[READ_CHUNK];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&st, buf, n);
    bool ok = !ferror(f);
    fclose(f);
    if (ok) crypto_hash_sha256_final(&st, out);
    return ok;
}

static int note_put(int argc, char **argv)
{
    const char *key = NULL, *kind = NULL, *sha = NULL, *file = NULL, *uri = NULL, *genesis = NULL;
    bool no_wait = false;
    const cc_cli_opt opts[] = {
        {"key", "FILE", "key file of the signer", &key},
        {"kind", "KIND", "what the document is (1..64 chars), e.g. discharge-summary", &kind},
        {"sha256", "HEX", "the document's SHA-256", &sha},
        {"file", "FILE", "hash this file (it is not uploaded)", &file},
        {"uri", "URI", "where the document lives (at most 512 bytes)", &uri},
        {"no-wait", NULL, "do not wait for the block", &no_wait},
        {"genesis", "FILE", "take the chain id from this genesis file, not the node", &genesis},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {"note put",
                              "--key K --kind KIND (--sha256 HEX | --file F) [--uri U]",
                              "Anchor a document's hash on the ledger (a note.put tx).",
                              opts,
                              0,
                              0,
                              true,
                              true,
                              NULL};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!key) return cc_cli_usage(ctx.cmd, "missing --key");
    if (!kind) return cc_cli_usage(ctx.cmd, "missing --kind");
    if (!sha == !file) return cc_cli_usage(ctx.cmd, "give exactly one of --sha256 and --file");
    if (!*kind || strlen(kind) > KIND_MAX)
        return cc_cli_usage(ctx.cmd, "--kind must be 1..%d chars", KIND_MAX);
    if (uri && strlen(uri) > URI_MAX) return cc_cli_usage(ctx.cmd, "--uri is longer than %d bytes", URI_MAX);

    uint8_t h[CC_HASH_BYTES];
    char hex[CC_HASH_HEX];
    if (sha) {
        if (strlen(sha) != 2 * CC_HASH_BYTES || cc_unhex(sha, h, CC_HASH_BYTES) != CC_OK)
            return cc_cli_usage(ctx.cmd, "--sha256 must be 64 hex digits");
    } else {
        if (!hash_file(file, h)) {
            fprintf(stderr, "carechain note put: cannot read %s: %s\n", file, strerror(errno));
            return CC_EXIT_FAIL;
        }
    }
    cc_hex(h, CC_HASH_BYTES, hex);
    json_t *p = json_pack("{s:s,s:s}", "kind", kind, "sha256", hex);
    if (p && uri) json_object_set_new(p, "uri", json_string(uri));
    char *payload = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!payload) return CC_EXIT_FAIL;
    rc = cc_cli_send_and_report(&ctx, key, genesis, "note.put", payload, NULL, 0, !no_wait);
    free(payload);
    return rc;
}

int cc_cmd_note(int argc, char **argv)
{
    static const cc_cli_sub subs[] = {
        {"put", note_put, "anchor a document's hash"},
        {NULL, NULL, NULL},
    };
    return cc_cli_dispatch("note", subs, argc, argv);
}
