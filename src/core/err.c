/*
 * err.c — the one error table: a stable name and a sentence per cc_err.
 */
#include <stdarg.h>
#include <stdio.h>

#include "carechain.h"

static const struct {
    const char *name;
    const char *text;
} err_table[CC_ERR__COUNT] = {
    [CC_OK] = {"ok", "success"},
    [CC_ERR_NOMEM] = {"nomem", "out of memory"},
    [CC_ERR_MALFORMED] = {"malformed", "malformed input"},
    [CC_ERR_TOO_LARGE] = {"too_large", "input is over a size limit"},
    [CC_ERR_VERSION] = {"version", "unknown format version"},
    [CC_ERR_SIGNATURE] = {"signature", "signature does not verify"},
    [CC_ERR_CHAIN_ID] = {"chain_id", "belongs to another chain"},
    [CC_ERR_EXPIRED] = {"expired", "transaction has expired"},
    [CC_ERR_FUTURE] = {"future", "transaction is dated in the future"},
    [CC_ERR_LIFETIME] = {"lifetime", "transaction lifetime is invalid"},
    [CC_ERR_UNKNOWN_SIGNER] = {"unknown_signer", "signer is not a registered identity"},
    [CC_ERR_REVOKED] = {"revoked", "signer's identity was revoked"},
    [CC_ERR_FORBIDDEN] = {"forbidden", "signer's role may not do this"},
    [CC_ERR_UNKNOWN_TYPE] = {"unknown_type", "unknown transaction type"},
    [CC_ERR_DUPLICATE] = {"duplicate", "transaction was already submitted"},
    [CC_ERR_NOT_FOUND] = {"not_found", "not found"},
    [CC_ERR_CONFLICT] = {"conflict", "conflicts with the current state"},
    [CC_ERR_INVALID] = {"invalid", "breaks a rule of its type"},
    [CC_ERR_ATTACHMENT] = {"attachment", "attachment is missing or does not match its hash"},
    [CC_ERR_IO] = {"io", "input/output error"},
    [CC_ERR_STORE_FULL] = {"store_full", "the node's storage is full"},
    [CC_ERR_BUSY] = {"busy", "too busy; retry later"},
    [CC_ERR_TIMEOUT] = {"timeout", "timed out"},
    [CC_ERR_UNREACHABLE] = {"unreachable", "node cannot be reached"},
    [CC_ERR_VERIFY] = {"verify", "verification failed"},
    [CC_ERR_USAGE] = {"usage", "bad usage"},
    [CC_ERR_CORRUPT] = {"corrupt", "stored data is inconsistent"},
    [CC_ERR_UNAUTHENTICATED] = {"unauthenticated", "the request is not signed by a known identity"},
    [CC_ERR_GONE] = {"gone", "the object was erased"},
};

const char *cc_strerror(cc_err e)
{
    if ((unsigned)e >= CC_ERR__COUNT) return "unknown error";
    return err_table[e].text;
}

const char *cc_err_name(cc_err e)
{
    if ((unsigned)e >= CC_ERR__COUNT) return "unknown";
    return err_table[e].name;
}

cc_err cc_errf(cc_errbuf *eb, cc_err e, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return e;
}
