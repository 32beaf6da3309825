/*
 * node/log.h — the node's log: one line per event on stderr, stamped with
 * UTC time and a level. Callers pass heights, counts, txids and error codes;
 * never payload or attachment contents (health data must not reach logs).
 */
#ifndef CC_NODE_LOG_H
#define CC_NODE_LOG_H

#include <stdbool.h>

typedef enum cc_log_level {
    CC_LOG_INFO,  /* normal events; silenced by cc_node_log_quiet */
    CC_LOG_WARN,  /* something a client or operator did wrong */
    CC_LOG_ERROR, /* the node could not do its job */
} cc_log_level;

/* Silence (or restore) info lines; warnings and errors always print. */
void cc_node_log_quiet(bool quiet);

/* Write one line "2025-11-25T17:20:00.123Z info <what>: <message>".
 * The line is written with a single write(2) so threads never interleave. */
void cc_node_log(cc_log_level level, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
