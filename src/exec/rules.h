/*
 * rules.h — payers' custom claims rules: Lua 5.4 run in a deterministic
 * sandbox (docs/PLANS.md "Custom rules (Lua)" is the rule author's manual).
 *
 * A rule is Lua source that defines a global function
 * adjudicate(claim, member, plan) returning a table of line decisions. It
 * runs inside exec, on every node, so it must give byte-identical answers
 * everywhere (DESIGN.md invariant 1) and must never hurt the node: every
 * call has an instruction budget and a memory cap, and a rule can reach
 * only pure, integer-only functions. What the sandbox contains and why is
 * described at the top of rules.c.
 */
#ifndef CC_EXEC_RULES_H
#define CC_EXEC_RULES_H

#include "carechain.h"

/* A payer's custom rules: Lua 5.4 source that defines a global function
 * adjudicate(claim, member, plan) returning a table of line decisions. */
typedef struct cc_rules cc_rules;

typedef struct cc_rules_limits {
    /* VM instructions per call (count hook granularity ok); 0 = CC_RULES_INSTRUCTIONS */
    uint64_t instructions;
    /* bytes the state may hold; 0 = CC_RULES_MEMORY */
    size_t memory;
} cc_rules_limits;

#define CC_RULES_INSTRUCTIONS 1000000
#define CC_RULES_MEMORY       (8u * 1024 * 1024)
#define CC_RULES_HARD_FACTOR  16 /* the allocator's safety net, in memory caps (a node fault) */
#define CC_RULES_SOURCE_MAX   (64u * 1024)
#define CC_RULES_STRING_MAX   (4u * 1024)  /* bytes in one Lua string (inputs included) */
#define CC_RULES_DEPTH_MAX    32           /* nesting of a result converted to JSON */
#define CC_RULES_RESULT_MAX   (64u * 1024) /* approximate bytes of the JSON a call returns */

/* Compile source (text only: binary chunks refused) in a fresh sandboxed state
 * and check it defines adjudicate. CC_ERR_INVALID with the Lua message (line
 * number) on a syntax error or missing function; CC_ERR_TOO_LARGE over
 * CC_RULES_SOURCE_MAX. Running the chunk's top level is itself limited.
 *
 * Also CC_ERR_INVALID when the source uses what the sandbox leaves out of
 * the language: float literals, '/', '^', '...' and nil as a positional
 * item of a table constructor (the message names the line); CC_ERR_TIMEOUT or CC_ERR_TOO_LARGE when the top
 * level exceeds the budget or the memory cap; CC_ERR_NOMEM. lim may be NULL (defaults). On success *out is
 * the caller's, freed with cc_rules_free; source is copied (the caller may free it). */
cc_err cc_rules_compile(const char *source, size_t len, const cc_rules_limits *lim, cc_rules **out,
                        cc_errbuf *eb) CC_WUR;

/* Free r and its Lua state. NULL is ignored. */
void cc_rules_free(cc_rules *r);

/* Call adjudicate(claim, member, plan) with the three JSON values converted
 * to Lua tables (objects -> tables with string keys, arrays -> 1-based
 * sequences, integers -> Lua integers, strings, booleans, null -> a unique
 * sentinel `json.null`; reals are refused since no floats exist in carechain
 * JSON), and convert the returned value back to JSON (*out, caller decrefs).
 * Failures leave the cc_rules usable and set eb to a one-sentence reason:
 * CC_ERR_TIMEOUT instruction budget exceeded; CC_ERR_TOO_LARGE memory cap
 * hit (on cc_rules_measured_bytes, never on the allocator's count: the same
 * verdict in every process); CC_ERR_NOMEM out of memory, or the allocator's
 * safety net reached (a node fault: the caller must not record it as a
 * verdict); CC_ERR_INVALID a runtime error (message with line) or a result that
 * cannot be converted (floats, NaN, cycles, non-string/non-sequence keys,
 * depth > 32). Deterministic: same inputs -> byte-identical output in any
 * process. Not thread safe: one caller at a time per cc_rules.
 *
 * Details: the inputs are read-only views (tables the rule can index,
 * ipairs, pairs and #, whose members are converted when read: a call costs
 * what the rule reads, not the size of the plan; writing to them raises an
 * error; rawget and rawlen see nothing). A real number, or a string over
 * CC_RULES_STRING_MAX, fails the call when the rule reads it (INVALID,
 * TOO_LARGE). Each call runs the chunk's top level again in a fresh global
 * environment, so no call sees what an earlier one left; the top level and
 * adjudicate share the call's budget. The first value adjudicate returns is
 * converted: nil and json.null -> null, an empty table -> [], a table with
 * keys 1..n -> an array, a table with string keys -> an object (keys
 * sorted), an input view -> a copy of its JSON. Also CC_ERR_TOO_LARGE for
 * any string over CC_RULES_STRING_MAX or a result over CC_RULES_RESULT_MAX.
 * claim, member and plan may be NULL (the rule gets json.null) and must not
 * change during the call; lim may be NULL. */
cc_err cc_rules_call(cc_rules *r, const json_t *claim, const json_t *member, const json_t *plan,
                     const cc_rules_limits *lim, json_t **out, cc_errbuf *eb) CC_WUR;

/* The most bytes r's Lua state has held at once since it was created, as
 * the allocator counts them (metrics and tests). This depends on the
 * process (Lua's per-state hash seed, what earlier calls left): it never
 * decides anything. It stays under the safety net, CC_RULES_HARD_FACTOR
 * times the memory cap above what the state held before the call. */
size_t cc_rules_peak_bytes(const cc_rules *r);

/* The deterministic memory measure of r's last compile or call, in bytes:
 * the larger of what it created of the objects Lua never shares and the
 * most its reachable data measured at a tick (rules.c "Memory"). The same
 * in every process for the same rule and inputs; the memory cap is applied
 * to it. */
uint64_t cc_rules_measured_bytes(const cc_rules *r);

#endif
