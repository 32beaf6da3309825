/*
 * carechain/gs1.h — GS1 identifiers of the drug supply chain: GTINs and
 * serials (SGTIN), logistic units (SSCC), lots and expiry dates, read from
 * the forms a scanner, a web page or an EPCIS document hands us, and the
 * EPC URIs EPCIS speaks (docs/SUPPLY.md lists the accepted forms).
 *
 * Pure code: no I/O, no clock, no allocation. Every parser fails with
 * CC_ERR_INVALID and a reason in eb that names the offending part.
 */
#ifndef CARECHAIN_GS1_H
#define CARECHAIN_GS1_H

#include "carechain.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CC_GS1_GTIN_DIGITS 14 /* GTIN-14; shorter GTINs are left-padded with 0 */
#define CC_GS1_SSCC_DIGITS 18
#define CC_GS1_SERIAL_MAX  20 /* AI (21): 1..20 characters of the GS1 set 82 */
#define CC_GS1_LOT_MAX     20 /* AI (10): 1..20 characters of the GS1 set 82 */
#define CC_GS1_EXP_DIGITS  6  /* AI (17): YYMMDD; DD 00 means the month's end */
#define CC_GS1_PREFIX_MIN  6  /* GS1 company prefix length bounds (EPC URIs) */
#define CC_GS1_PREFIX_MAX  12
#define CC_GS1_EPC_MAX     96 /* bytes of the longest EPC URI we write, NUL included */

typedef enum cc_gs1_kind {
    CC_GS1_SGTIN = 1, /* a serialised trade item: GTIN + serial */
    CC_GS1_SSCC = 2,  /* a logistic unit: a case or a pallet */
} cc_gs1_kind;

/* One parsed identifier. Strings are NUL-terminated; an absent lot or
 * expiry is "". prefix_len is the GS1 company prefix length when the form
 * carried it (EPC URIs), else 0. */
typedef struct cc_gs1_id {
    cc_gs1_kind kind;
    char gtin[CC_GS1_GTIN_DIGITS + 1];
    char serial[CC_GS1_SERIAL_MAX + 1];
    char lot[CC_GS1_LOT_MAX + 1];
    char exp[CC_GS1_EXP_DIGITS + 1];
    char sscc[CC_GS1_SSCC_DIGITS + 1];
    unsigned prefix_len;
} cc_gs1_id;

/* Parse any accepted form, recognised by its shape:
 *  - a GS1 element string, parenthesised "(01)…(17)…(10)…(21)…" (a value
 *    runs to the next '(') or plain "01…17…10…21…" with GS (0x1D) after
 *    each variable-length field that is not last, AIs in any order,
 *    optionally led by the symbology identifier "]d2", "]C1" or "]Q3";
 *    AI (00) gives an SSCC; AIs 02, 11, 13, 15, 16, 20, 22, 30, 37, 240,
 *    241, 7003 and 710..715 are checked and dropped, any other refused;
 *  - a GS1 Digital Link URI on any domain (http or https, optionally led by
 *    "]Q1" or "]d1"), with an optional path prefix:
 *    ".../01/{gtin}[/10/{lot}][/21/{serial}][?17=YYMMDD&10={lot}...]" or
 *    ".../00/{sscc}", percent-encoding decoded, GTIN-8/12/13 normalised;
 *  - an EPC pure identity URI "urn:epc:id:sgtin:Prefix.IndicatorItemRef.Serial"
 *    (serial percent-encoded as TDS 1.13 requires) or "urn:epc:id:sscc:Prefix.Ext".
 * An SGTIN needs a serial, except that cc_gs1_parse_class allows none. An
 * SSCC may carry a lot and expiry, never a serial. Check digits of GTINs
 * and SSCCs are verified. On failure *out is zeroed. */
cc_err cc_gs1_parse(const char *text, cc_gs1_id *out, cc_errbuf *eb) CC_WUR;
/* The same, but an SGTIN form without serial (a product class, as when a
 * Digital Link names only a GTIN) is accepted with serial "". */
cc_err cc_gs1_parse_class(const char *text, cc_gs1_id *out, cc_errbuf *eb) CC_WUR;

/* Is gtin 14 digits with a correct check digit? (8, 12 and 13 digit GTINs
 * are not accepted here: normalise first.) */
bool cc_gs1_gtin_valid(const char *gtin);
/* Normalise a GTIN-8/12/13/14 to 14 digits (left-padded with 0), checking
 * the check digit. out holds CC_GS1_GTIN_DIGITS + 1 bytes. */
cc_err cc_gs1_gtin_normalize(const char *gtin, char out[CC_GS1_GTIN_DIGITS + 1], cc_errbuf *eb) CC_WUR;
/* Is sscc 18 digits with a correct check digit? */
bool cc_gs1_sscc_valid(const char *sscc);
/* Is s 1..max characters of the GS1 AI encodable character set 82? */
bool cc_gs1_serial_valid(const char *s);
bool cc_gs1_lot_valid(const char *s);
/* Is exp YYMMDD with month 01..12 and day 00..(days in that month)? The
 * century is 20YY (DSCSA products expire within this century). */
bool cc_gs1_exp_valid(const char *exp);
/* The last day exp covers, as days since 1970-01-01 (DD 00 -> the month's
 * last day). -1 when exp is not valid. */
int64_t cc_gs1_exp_day(const char *exp);
/* "2028-12-31" (ISO 8601, as EPCIS ilmd carries it) <-> "281231". From ISO:
 * years 2000..2099 only; out is "" on failure. To ISO: DD 00 becomes the
 * month's last day; out is "" when exp is not valid. */
cc_err cc_gs1_exp_from_iso(const char *iso, char out[CC_GS1_EXP_DIGITS + 1], cc_errbuf *eb) CC_WUR;
void cc_gs1_exp_to_iso(const char *exp, char out[11]);

/* EPC URIs. prefix_len is the company prefix length (6..12), which the
 * GTIN alone does not tell; the ledger knows it from the product's
 * registration. The serial is percent-encoded where TDS requires. gtin is
 * 14 digits. CC_ERR_INVALID for a bad argument, CC_ERR_TOO_LARGE when cap
 * is too small (CC_GS1_EPC_MAX always suffices); out is "" on failure. */
cc_err cc_gs1_sgtin_uri(const char *gtin, const char *serial, unsigned prefix_len, char *out, size_t cap,
                        cc_errbuf *eb) CC_WUR;
cc_err cc_gs1_sscc_uri(const char *sscc, unsigned prefix_len, char *out, size_t cap, cc_errbuf *eb) CC_WUR;
/* A GLN of a party or location: "urn:epc:id:sgln:Prefix.LocRef.Ext" or
 * "urn:epc:id:pgln:Prefix.PartyRef" -> its company prefix (digits) in
 * prefix (CC_GS1_PREFIX_MAX + 1 bytes). Nothing else is checked against a
 * registry here. */
cc_err cc_gs1_gln_prefix(const char *uri, char prefix[CC_GS1_PREFIX_MAX + 1], cc_errbuf *eb) CC_WUR;

/* A GS1 Digital Link on id.gs1.org: for an SGTIN ".../01/{gtin}[/10/{lot}]
 * [/21/{serial}][?17={exp}]" (serial "" for a product class), for an SSCC
 * ".../00/{sscc}[?10={lot}][&17={exp}]"; every character but A-Z a-z 0-9
 * - . _ percent-encoded. 200 bytes always suffice. Errors as for
 * cc_gs1_sgtin_uri. */
cc_err cc_gs1_digital_link(const cc_gs1_id *id, char *out, size_t cap, cc_errbuf *eb) CC_WUR;

#ifdef __cplusplus
}
#endif

#endif
