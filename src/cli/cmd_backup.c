/*
 * cli/cmd_backup.c — `carechain backup --dir NODEDIR --out DIR`: a copy of
 * a node's chain that a restored node starts from (docs/OPERATIONS.md
 * "Backups").
 *
 * The store is copied with LMDB's own compacting copy, inside one read
 * snapshot, so the node may keep running and committing meanwhile: the
 * backup is the chain as of one committed block. DIR gets data/data.mdb
 * (mode 0600, in a 0700 directory), and the node's genesis.json and
 * config.json; never node.key, which stays with the node or its own safe.
 * The copy is then opened the way a node opens it, and its head printed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carechain/chain.h"
#include "carechain/os.h"
#include "cli/cli.h"

#define PATH_BYTES 4096

/* Copy dir/name to out/name when it exists (optional: only config.json). */
static cc_err copy_file(const char *dir, const char *out, const char *name, bool optional, cc_errbuf *eb)
{
    char from[PATH_BYTES], to[PATH_BYTES];
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(from, sizeof from, "%s/%s", dir, name);
    snprintf(to, sizeof to, "%s/%s", out, name);
    if (optional && access(from, F_OK) != 0) return CC_OK;
    cc_err rc = cc_file_read(from, CC_GENESIS_MAX_BYTES, &buf, &len, eb);
    if (rc == CC_OK) rc = cc_file_write(to, buf, len, 0644, eb);
    free(buf);
    return rc;
}

/* Open data_dir for reading with genesis (the file's bytes) and take its head. */
static cc_err head_of(const char *data_dir, const uint8_t *genesis, size_t glen, cc_head *head, cc_errbuf *eb)
{
    cc_chain *c = NULL;
    cc_chain_options opt = {.readonly = true};
    cc_err rc = cc_chain_open(data_dir, genesis, glen, &opt, &c, eb);
    if (rc != CC_OK) return rc;
    cc_chain_head(c, head);
    cc_chain_close(c);
    return CC_OK;
}

/* The backup itself; on failure the caller removes out. */
static cc_err backup(const char *dir, const char *out, cc_head *head, off_t *bytes, cc_errbuf *eb)
{
    char gpath[PATH_BYTES], data[PATH_BYTES], copy[PATH_BYTES];
    uint8_t *genesis = NULL;
    size_t glen = 0;
    cc_chain *c = NULL;
    cc_chain_options opt = {.readonly = true};
    snprintf(gpath, sizeof gpath, "%s/genesis.json", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(copy, sizeof copy, "%s/data", out);
    cc_err rc = cc_file_read(gpath, CC_GENESIS_MAX_BYTES, &genesis, &glen, eb);
    if (rc != CC_OK) return rc;
    if ((rc = cc_chain_open(data, genesis, glen, &opt, &c, eb)) != CC_OK) {
        if (rc == CC_ERR_NOT_FOUND) rc = cc_errf(eb, rc, "%s holds no chain yet", data);
        goto out;
    }
    if (mkdir(out, 0700) != 0) {
        rc = cc_errf(eb, CC_ERR_IO, "cannot create %s: %s", out, strerror(errno));
        goto out;
    }
    if ((rc = cc_chain_backup(c, copy, eb)) != CC_OK ||
        (rc = copy_file(dir, out, "genesis.json", false, eb)) != CC_OK ||
        (rc = copy_file(dir, out, "config.json", true, eb)) != CC_OK)
        goto out;
    /* what a restored node will find: open the copy as a node does */
    if ((rc = head_of(copy, genesis, glen, head, eb)) != CC_OK) goto out;
    struct stat st;
    snprintf(gpath, sizeof gpath, "%s/data/data.mdb", out);
    *bytes = stat(gpath, &st) == 0 ? st.st_size : 0;
out:
    cc_chain_close(c);
    free(genesis);
    return rc;
}

int cc_cmd_backup(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    const cc_cli_opt opts[] = {
        {"dir", "NODEDIR", "the node's directory (genesis.json, data/); the node may be running", &dir},
        {"out", "DIR", "where the backup goes (must not exist)", &out},
        {NULL, NULL, NULL, NULL},
    };
    const cc_cli_spec spec = {
        "backup",
        "--dir NODEDIR --out DIR",
        "Copy a node's chain, as of one committed block, for restoring it later.",
        opts,
        0,
        0,
        false,
        true,
        "The node may keep running: the copy is one consistent snapshot of its store,\n"
        "compacted. DIR gets data/, genesis.json and config.json, never node.key: keep the\n"
        "node key apart. Check a backup with carechain verify-chain --dir DIR; restore it by\n"
        "copying DIR and the node key into an empty node directory (docs/OPERATIONS.md).\n"
        "Exit status: 0 done, 1 failed (nothing is left at DIR), 2 usage.\n"};
    cc_cli_ctx ctx;
    int rc = cc_cli_parse(&spec, argc, argv, &ctx);
    if (rc >= 0) return rc;
    if (!dir || !out) return cc_cli_usage(ctx.cmd, "--dir and --out are required");
    if (access(out, F_OK) == 0) return cc_cli_usage(ctx.cmd, "%s exists; refusing to overwrite it", out);

    cc_errbuf eb = {{0}};
    cc_head head;
    off_t bytes = 0;
    uint64_t t0 = cc_mono_ns();
    cc_err e = backup(dir, out, &head, &bytes, &eb);
    double secs = (double)(cc_mono_ns() - t0) / 1e9;
    if (e != CC_OK) {
        cc_errbuf rm_eb;
        if (access(out, F_OK) == 0 && cc_cli_rmtree(out, &rm_eb) != CC_OK)
            fprintf(stderr, "carechain backup: %s\n", rm_eb.msg);
        fprintf(stderr, "carechain backup: %s\n", eb.msg);
        return CC_EXIT_FAIL;
    }
    char hash[CC_HASH_HEX], tm[40];
    cc_hex(head.hash, CC_HASH_BYTES, hash);
    if (ctx.json) {
        json_t *j =
            json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:f}", "dir", dir, "out", out, "height",
                      (json_int_t)head.height, "head_hash", hash, "head_time_ms", (json_int_t)head.time_ms,
                      "tx_total", (json_int_t)head.tx_total, "bytes", (json_int_t)bytes, "seconds", secs);
        cc_cli_print_json(j);
        json_decref(j);
    } else {
        char sh[CC_CLI_SHORT_BYTES];
        printf(
            "Backed up %s at height %llu (block %s, made %s; %llu txs in all) to %s: %.1f MiB in %.1f s.\n",
            dir, (unsigned long long)head.height, cc_cli_short(hash, sh), cc_cli_time(head.time_ms, tm),
            (unsigned long long)head.tx_total, out, (double)bytes / (1024.0 * 1024.0), secs);
        printf("node.key is not in the backup: keep it apart. Check the backup with\n"
               "carechain verify-chain --dir %s\n",
               out);
    }
    return CC_EXIT_OK;
}
