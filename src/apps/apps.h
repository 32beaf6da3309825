/*
 * apps.h — the application modules' tx type tables and small payload
 * helpers they share. Each module exports one NULL-terminated table;
 * apps.c lists the modules (one line per module).
 */
#ifndef CC_APPS_H
#define CC_APPS_H

#include "exec/exec.h"

extern const cc_tx_type cc_identity_tx_types[];
extern const cc_tx_type cc_note_tx_types[];
extern const cc_tx_type cc_network_tx_types[];

/* Genesis state of the network module: node records and network/config. */
cc_err cc_network_genesis(cc_exec_ctx *ctx);

/* Payload field helpers: each fails with CC_ERR_INVALID and a message
 * naming the field. */
cc_err cc_payload_only(const json_t *p, const char *const *allowed, cc_errbuf *eb);
cc_err cc_payload_str(const json_t *p, const char *field, bool required, size_t max, const char **out,
                      cc_errbuf *eb);
cc_err cc_payload_hex(const json_t *p, const char *field, uint8_t *out, size_t n, cc_errbuf *eb);

#endif
