/*
 * cli/main.c — main() of the one carechain binary: node, client and demo.
 * Looks the command up in one table and hands it the rest of argv.
 */
#include <string.h>

#include <curl/curl.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"keygen", cc_cmd_keygen, "generate an identity key file"},
    {"init", cc_cmd_init, "create a network: genesis, node directories, demo keyring"},
    {"genesis", cc_cmd_genesis, "write and check a consortium's genesis (genesis member, new, check)"},
    {"node", cc_cmd_node, "run a node"},
    {"status", cc_cmd_status, "show a node's chain and height"},
    {"tx", cc_cmd_tx, "send or look up a transaction (tx send, tx get)"},
    {"block", cc_cmd_block, "show a block (block get)"},
    {"proof", cc_cmd_proof, "fetch the proof of a transaction"},
    {"verify-proof", cc_cmd_verify_proof, "check a proof offline against genesis"},
    {"verify-chain", cc_cmd_verify_chain, "re-check a node's whole chain from its data directory"},
    {"backup", cc_cmd_backup, "copy a node's chain for restoring it later (the node may be running)"},
    {"restore", cc_cmd_restore, "put a backup's chain into a node directory"},
    {"member", cc_cmd_member, "register or revoke an identity (member register, member revoke)"},
    {"note", cc_cmd_note, "anchor a document's hash (note put)"},
    {"patient", cc_cmd_patient, "register a patient, name a delegate (patient register|delegate)"},
    {"record", cc_cmd_record, "encrypted health records (record put|get|list|erase)"},
    {"consent", cc_cmd_consent, "who may read or write a patient's records (consent grant|revoke|list)"},
    {"audit", cc_cmd_audit, "every access to a patient's data, granted or denied"},
    {"alerts", cc_cmd_alerts, "break-glass accesses to a patient's records"},
    {"plan", cc_cmd_plan, "benefit plans as contracts (plan deploy|test|show)"},
    {"coverage", cc_cmd_coverage, "enroll a member in a plan (coverage enroll)"},
    {"claim", cc_cmd_claim, "claims adjudicated at commit (claim submit|simulate|get|list|eob)"},
    {"priorauth", cc_cmd_priorauth, "decide a pended prior authorization (priorauth decide)"},
    {"payment", cc_cmd_payment, "pay adjudicated claims as one remittance (payment settle)"},
    {"drug", cc_cmd_drug,
     "the drug supply chain (drug commission|ship|receive|dispense|verify|history|alerts|...)"},
    {"epcis", cc_cmd_epcis, "EPCIS 2.0 events (epcis capture FILE, epcis events EPC)"},
    {"trial", cc_cmd_trial, "clinical trials (trial register|amend|enroll|withdraw|results|integrity|show)"},
    {"network", cc_cmd_network,
     "govern the consensus nodes (network propose-add|propose-remove|approve|withdraw|proposals|members)"},
    {"devnet", cc_cmd_devnet, "run a network of N nodes on this machine until Ctrl-C"},
    {"demo", cc_cmd_demo, "walk through a fresh single-node network"},
    {"bench", cc_cmd_bench, "measure committed tx/s against this machine's Ed25519 rate"},
};

static void print_usage(void)
{
    FILE *f = stdout;
    fprintf(f,
            "usage: carechain <command> [options]\n\n"
            "carechain is a permissioned, tamper-evident ledger for a healthcare consortium.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-14s%s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nEvery command has --help. Client commands take --node URL (default %s)\n"
            "and --json. Exit status: 0 ok, 1 rejected or verification failed, 2 usage,\n"
            "3 node unreachable.\n",
            CC_CLI_DEFAULT_NODE);
}

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2) {
        fprintf(stderr, "carechain: missing command (try: carechain --help)\n");
        return CC_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            char *sub[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) return commands[i].run(2, sub);
        }
        print_usage();
        return CC_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("carechain %s\n", CC_VERSION);
        return CC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, argv[1]) != 0) continue;
        curl_global_init(CURL_GLOBAL_ALL);
        rc = commands[i].run(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "carechain: unknown command '%s' (try: carechain --help)\n", argv[1]);
    return CC_EXIT_USAGE;
}
