/*
 * rules.c — the Lua 5.4 sandbox that runs payers' custom claims rules.
 *
 * A rule runs in exec on every node, so the sandbox has two jobs: the same
 * inputs give byte-identical outputs in any process (DESIGN.md invariant 1),
 * and no rule can hang, crash or exhaust the node.
 *
 * Invariants
 *  1. A rule reaches only pure functions: base (assert error ipairs pairs
 *     spairs pcall rawequal rawget rawlen select tonumber tostring type),
 *     string (no dump, pack, unpack), table, an integer-only math, utf8, and
 *     json.null. No io, os, debug, require, package, load, dofile,
 *     collectgarbage, next, setmetatable, getmetatable, rawset, coroutine,
 *     print. Library tables are read-only views; the string metatable cannot
 *     be reached, and strings do no arithmetic ("1" + 1 is an error).
 *  2. No floats by construction: the source may not contain float literals,
 *     '/', '^' or '...' (scan_source), math has no float functions, tonumber
 *     answers integers only. What is left (a numeric for over strings) is
 *     plain IEEE arithmetic, identical everywhere; floats never reach JSON.
 *  3. Nothing observable depends on the process: pairs iterates in sorted
 *     key order (integers, then floats, then strings bytewise, then false,
 *     true) because stock Lua seeds its string hash per state; next is gone;
 *     tostring and string.format never show an address; error messages
 *     carry only the chunk name "rules" and line numbers.
 *  4. No call sees another: each call runs the chunk's top level again in a
 *     fresh global table, then makes the globals read-only (writes raise an
 *     error) before adjudicate runs. The inputs are read-only views of the
 *     caller's JSON (push_input), converted member by member as the rule
 *     reads them, so a call costs what the rule reads.
 *  5. Every call is bounded. Time: a count hook every HOOK_STEP VM
 *     instructions, plus library functions whose work is not O(1) charge it
 *     to the same budget first (patterns at their worst case, table.insert,
 *     remove, move, concat, unpack, sort, string.byte, rep, utf8 scans,
 *     pairs). Memory: the cap applies to a deterministic measure (below),
 *     never to what the allocator happens to hold; no string may exceed
 *     CC_RULES_STRING_MAX, and library calls that build strings in C
 *     (table.concat, string.format, string.gsub, string.rep) refuse before
 *     building one that would.
 *  6. Budget and memory errors cannot be swallowed: pcall re-raises them, and
 *     once a limit is hit every further allocation of the call is refused.
 *
 * What the budget does not see: VM instructions whose own cost grows with
 * their operands. Comparing or concatenating two long strings (up to
 * CC_RULES_STRING_MAX) and pairs over a table whose keys were mostly
 * removed (Lua scans the empty slots; their number depends on the hash
 * seed, so it cannot be charged without breaking determinism) are one
 * instruction each. Both are bounded by the string cap and the memory cap
 * (pairs allocates, and nothing is collected inside a call). The string cap
 * is small for that reason: a loop of a million instructions comparing two
 * equal strings took 1.94 s at 65,000 bytes and 0.11 s at 4,000 (stock Lua
 * 5.4 on this VM; 0.03 s without the compares), so a rule built to be slow
 * costs a few times what the budget alone allows, not seconds. '...' is
 * refused because passing varargs on is the same kind of instruction.
 *
 * Memory: why the allocator cannot decide, and what does.
 * Stock Lua seeds its string hash per state (luai_makeseed: the state's and
 * a stack address, the library's address, the time). A table that had keys
 * removed keeps the emptied slots; a new key whose main position is such a
 * slot reuses it, any other new key uses up a free slot, and the table is
 * resized when no free slot is left. Where keys land follows the hash, so
 * *when* such a table grows or shrinks, and the bytes the allocator counts,
 * differ between processes for the same rule (test_rules.c
 * test_memory_cap_deterministic prints peaks a few KB apart). What earlier
 * calls left (garbage, the string table's size, the stack) adds more. A cap
 * on allocated bytes therefore pends a claim near it on one node and not on
 * another: a consensus divergence. So the cap is applied to a measure that
 * depends only on the values the rule creates and holds:
 *
 *   created   bytes of the objects Lua never shares, as the allocator is
 *             asked for them when each is made (tables, functions, upvalues,
 *             userdata, strings longer than Lua's 40-byte short strings).
 *             Each such creation allocates exactly once, with a size fixed
 *             by its contents, in every process; short strings are left out
 *             because they are interned (whether making one allocates
 *             depends on what the state holds). Nothing is collected inside
 *             a call, so this is everything of those kinds a call makes.
 *             What a library makes once per state on first use would be
 *             counted by the first call only: lauxlib's buffer-box
 *             metatable, the only such object found in the libraries the
 *             sandbox opens, is made with the sandbox
 *             (make_buffer_box_metatable).
 *   reachable at every measuring tick (a count hook every HOOK_STEP
 *             instructions: the same instruction counts on every node), a
 *             walk over what the run can still reach (measure): its stack
 *             frames and every slot, the functions running and their
 *             upvalues, this call's view cache and the chunk (whose _ENV
 *             holds the call's globals), tables' keys, values and
 *             metatables, userdata. Sizes are fixed lower bounds of Lua's
 *             (a string 17 + its length, a table 48 + 16 per key, ...),
 *             summed once per object, in any visiting order; the sandbox's
 *             own objects (base_set, immutable to rules) are not counted.
 *             A walk of v objects charges v / WALK_CHARGE_DIV to the budget
 *             and the next waits v / WALK_SPACING ticks, so large states are
 *             measured less often and a walk costs at most a quarter of the
 *             budget; both follow from the measure, so they are the same
 *             everywhere.
 *
 * A call fails with TOO_LARGE when created passes the cap (at the
 * allocation that does it) or when a tick's reachable measure does. Both
 * depend on the rule and its inputs only, so every node gives the same
 * verdict at the same point, with the same message. Garbage collection
 * (between calls, and at a tick when the allocator holds more than the cap)
 * changes neither measure.
 *
 * What the measure cannot see is bounded another way: hash and array slack
 * in tables (at most ~4.5x the 16 bytes per key counted, while resizing),
 * short strings made since the last tick (at most one or two per
 * instruction), stack slots of frames pushed since the last tick (a run
 * whose calls nest deeper than CALL_DEPTH_MAX at a tick fails, TOO_LARGE,
 * so at most that plus HOOK_STEP frames of up to 255 slots exist), library buffers (never past
 * CC_RULES_STRING_MAX, see invariant 5) and array slots that hold nothing:
 * these come from constructors listing nil ({nil, nil, ...} loads any run
 * of nils in one instruction), which the source scanner refuses, and from
 * table.unpack / string.byte results spread into a constructor, which are
 * charged per element. The allocator keeps a safety net,
 * CC_RULES_HARD_FACTOR caps above what the state held when the run began,
 * that these bounds keep out of reach (about 8 caps in the worst case
 * worked out above). Reaching it would mean a bound above is wrong: the call
 * fails with CC_ERR_NOMEM, which exec treats as a node fault (the block is
 * not applied, no per-node verdict is recorded), never as a verdict.
 * cc_rules_peak_bytes reports the allocator's peak for metrics only.
 *
 * A call, step by step (call_body):
 *   inputs -> views; hook on; top level runs with globals writable;
 *   globals read-only; adjudicate(claim, member, plan); hook off;
 *   result -> JSON (sorted keys, so even the first bad value found is the
 *   same everywhere); errors classified by what the sandbox saw (budget,
 *   memory, string) before what Lua raised.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "exec/rules.h"

#define HOOK_STEP        1000          /* instructions between budget and memory checks (ticks) */
#define GC_SLACK         (256u * 1024) /* garbage tolerated between calls */
#define SHORT_STRING_MAX 65            /* bytes of Lua's largest interned string (24 + 40 + 1, LP64) */
#define WALK_CHARGE_DIV  16            /* a measure charges the budget one unit per this many visits */
#define WALK_SPACING     4096          /* visits per tick a measure may spread over: the next walk waits */
#define CALL_DEPTH_MAX   200           /* nested calls (Lua and C) a run may have at a tick */
#define GC_ROUNDS        16            /* full collections until nothing more is freed */
#define STRING_OVERHEAD  64            /* Lua's string header, allowed on top of CC_RULES_STRING_MAX */
#define NUMERAL_MAX      200           /* bytes of one numeral the source scanner checks */
#define SMALL_KEYS       16            /* objects up to this many keys sort on the C stack */
#define FORMAT_ITEM_MAX  128           /* bytes one string.format conversion adds besides a string */
#define NUMBER_TEXT_MAX  48            /* bytes of a number converted to text */

enum fatal { FATAL_NONE, FATAL_BUDGET, FATAL_MEMORY, FATAL_STRING, FATAL_DEPTH, FATAL_NOMEM, FATAL_HARD };

/* A set of object addresses (open addressing), outside Lua's heap. */
struct ptr_set {
    const void **slot;
    size_t cap, count; /* cap: a power of two, or 0 */
};

struct cc_rules {
    lua_State *L;
    size_t cap;                /* the memory cap of the current compile or call (deterministic measures) */
    size_t limit;              /* the safety net: growth past this many bytes is refused, a node fault */
    size_t used, peak;         /* bytes held now, and the most ever */
    size_t base;               /* bytes held after compiling and a full collection */
    size_t after_gc;           /* bytes held after the last collection */
    uint64_t created;          /* bytes of never-shared objects created in this run (see measure) */
    uint64_t measured;         /* the largest reachable measure of this run (ticks) */
    struct ptr_set base_set;   /* the sandbox's own objects: never counted */
    struct ptr_set walk_set;   /* a measure's visited objects (kept to reuse its buffer) */
    uint64_t ticks, next_walk; /* ticks of this run, and the tick of the next measure */
    bool measuring;            /* created counts (a run is in progress) */
    uint64_t budget;           /* instructions for the current run */
    uint64_t spent;            /* instructions and charges so far */
    int hook_step;
    enum fatal fatal; /* the first limit the current run hit */
    bool refusing;    /* the cap was hit: refuse all growth until the run ends */
    bool top_level;   /* the chunk's top level is running: globals writable */
};

/* Registry keys (addresses only). */
static const char main_key = 'm';      /* the compiled chunk */
static const char dmeta_key = 'd';     /* metatable of a call's globals: __index = the base environment */
static const char null_tag = 'n';      /* json.null is a light userdata pointing here */
static const char view_key = 'v';      /* the hidden field of an input view */
static const char view_meta_key = 'V'; /* the metatable of input views */
static const char cache_key = 'c';     /* this call's views and long strings, by JSON node */

static cc_rules *owner(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

static const json_t *view_node(lua_State *L, int idx);
static int view_index(lua_State *L);
static int view_len(lua_State *L);
static int view_newindex(lua_State *L);

/* ---- limits ----------------------------------------------------------------- */

/* Objects Lua never shares, whose creation is a pure function of what the
 * rule does: tables, functions, upvalues, userdata and long strings (short
 * strings are interned, so whether creating one allocates depends on what
 * the state happens to hold). When ptr is NULL, osize is the object's type. */
static bool never_shared(const void *ptr, size_t osize, size_t nsize)
{
    if (ptr) return false;
    if (osize == LUA_TSTRING) return nsize > SHORT_STRING_MAX;
    return osize > LUA_TSTRING && osize <= LUA_NUMTYPES + 1; /* table .. upvalue, proto */
}

static void *rules_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    cc_rules *r = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        r->used -= old;
        return NULL;
    }
    if (nsize > old) {
        if (!ptr && osize == LUA_TSTRING && nsize > CC_RULES_STRING_MAX + STRING_OVERHEAD) {
            if (!r->fatal) r->fatal = FATAL_STRING;
            r->refusing = true;
            return NULL;
        }
        if (r->measuring && never_shared(ptr, osize, nsize)) {
            r->created += nsize;
            if (r->created > r->cap) { /* deterministic: the same objects are created everywhere */
                if (!r->fatal) r->fatal = FATAL_MEMORY;
                r->refusing = true;
            }
        }
        if (!r->refusing && (nsize - old > r->limit - r->used || r->used > r->limit)) {
            if (!r->fatal) r->fatal = FATAL_HARD; /* the safety net: a node fault, not a verdict */
            r->refusing = true;
        }
        if (r->refusing) return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        if (nsize <= old) { /* a shrink that failed: keep the block, account it as shrunk */
            r->used -= old - nsize;
            return ptr;
        }
        if (!r->fatal) r->fatal = FATAL_NOMEM;
        r->refusing = true;
        return NULL;
    }
    r->used = r->used - old + nsize;
    if (r->used > r->peak) r->peak = r->used;
    return p;
}

static int raise_budget(lua_State *L, cc_rules *r)
{
    if (!r->fatal) r->fatal = FATAL_BUDGET;
    lua_pushliteral(L, "instruction budget exceeded");
    return lua_error(L);
}

static void measure_tick(lua_State *L, cc_rules *r);

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    cc_rules *r = owner(L);
    r->spent += (uint64_t)r->hook_step;
    if (r->spent >= r->budget) raise_budget(L, r);
    measure_tick(L, r);
}

/* Charge n units of work done in C to the budget (one unit ~ one VM
 * instruction); raise the budget error when it runs out. */
static void charge(lua_State *L, uint64_t n)
{
    cc_rules *r = owner(L);
    r->spent = n > UINT64_MAX - r->spent ? UINT64_MAX : r->spent + n;
    if (r->spent >= r->budget) raise_budget(L, r);
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

static uint64_t n_log_n(uint64_t n)
{
    uint64_t lg = 1;
    for (uint64_t m = n; m > 1; m >>= 1) lg++;
    return sat_mul(n, lg);
}

static void start_budget(lua_State *L, cc_rules *r, uint64_t budget)
{
    r->budget = budget;
    r->spent = 0;
    r->hook_step = budget < HOOK_STEP ? (int)budget : HOOK_STEP;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, r->hook_step);
}

static void stop_budget(lua_State *L, cc_rules *r)
{
    lua_sethook(L, NULL, 0, 0);
    r->budget = UINT64_MAX;
}

/* ---- the deterministic memory measure --------------------------------------- */

/* Lower bounds of what Lua allocates (LP64, Lua 5.4), so the measure never
 * exceeds the allocator's count of the same objects. */
#define STRING_MIN   17 /* a string: header, then its bytes and a NUL */
#define TABLE_MIN    48 /* a table, plus ENTRY_MIN per key it holds */
#define ENTRY_MIN    16
#define LCLOSURE_MIN 24 /* a Lua function, plus 8 per upvalue */
#define CCLOSURE_MIN 24 /* a C function with upvalues, plus 16 per upvalue */
#define UDATA_MIN    24 /* a userdata, plus its bytes */
#define FRAME_MIN    48 /* a call frame, plus SLOT_MIN per stack slot it uses */
#define SLOT_MIN     16

/* Add p to s: 1 when it was not there, 0 when it was, -1 out of memory. */
static int set_add(struct ptr_set *s, const void *p)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 512;
        const void **slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slot[i]) continue;
            size_t h = (size_t)(((uint64_t)(uintptr_t)s->slot[i] * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);
            while (slot[h]) h = (h + 1) & (cap - 1);
            slot[h] = s->slot[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t h = (size_t)(((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u) >> 20) & (s->cap - 1);
    for (; s->slot[h]; h = (h + 1) & (s->cap - 1))
        if (s->slot[h] == p) return 0;
    s->slot[h] = p;
    s->count++;
    return 1;
}

/* Make dst a copy of src (dst's buffer reused when it is as large). */
static bool set_copy(struct ptr_set *dst, const struct ptr_set *src)
{
    if (dst->cap != src->cap) {
        free(dst->slot);
        dst->slot = NULL;
        dst->cap = dst->count = 0;
        if (src->cap && !(dst->slot = malloc(src->cap * sizeof *dst->slot))) return false;
        dst->cap = src->cap;
    }
    if (src->cap) memcpy(dst->slot, src->slot, src->cap * sizeof *dst->slot);
    dst->count = src->count;
    return true;
}

static void set_free(struct ptr_set *s)
{
    free(s->slot);
    memset(s, 0, sizeof *s);
}

struct walk {
    lua_State *L;
    struct ptr_set *seen;
    uint64_t bytes, visits;
    int queue; /* stack index of the table of objects still to look into */
    lua_Integer head, tail;
    bool failed; /* out of memory outside Lua */
};

/* Count the value at idx once: a string at once, an object with contents
 * queued. Numbers, booleans, light userdata and light C functions cost
 * nothing. */
static void walk_value(struct walk *w, int idx)
{
    lua_State *L = w->L;
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TTABLE && t != LUA_TFUNCTION && t != LUA_TUSERDATA) return;
    const void *p = lua_topointer(L, idx);
    if (!p) return;
    w->visits++;
    int added = set_add(w->seen, p);
    if (added < 0) w->failed = true;
    if (added <= 0) return;
    if (t == LUA_TSTRING) {
        w->bytes += lua_rawlen(L, idx) + STRING_MIN;
        return;
    }
    lua_pushvalue(L, idx);
    lua_rawseti(L, w->queue, ++w->tail);
}

/* Count the object at the top of the stack and queue what it holds; pops it. */
static void walk_object(struct walk *w)
{
    lua_State *L = w->L;
    int top = lua_gettop(L), n = 0;
    switch (lua_type(L, top)) {
    case LUA_TTABLE:
        w->bytes += TABLE_MIN;
        for (lua_pushnil(L); lua_next(L, top); lua_pop(L, 1)) {
            w->bytes += ENTRY_MIN;
            w->visits++;
            walk_value(w, -2);
            walk_value(w, -1);
        }
        break;
    case LUA_TFUNCTION:
        for (; lua_getupvalue(L, top, n + 1); n++) {
            walk_value(w, -1);
            lua_pop(L, 1);
        }
        w->bytes += lua_iscfunction(L, top) ? (n ? CCLOSURE_MIN + 16u * (unsigned)n : 0)
                                            : LCLOSURE_MIN + 8u * (unsigned)n;
        break;
    case LUA_TUSERDATA:
        w->bytes += UDATA_MIN + lua_rawlen(L, top);
        break;
    default:
        break;
    }
    if (lua_type(L, top) != LUA_TFUNCTION && lua_getmetatable(L, top)) {
        walk_value(w, -1);
        lua_pop(L, 1);
    }
    lua_settop(L, top - 1);
}

static void walk_drain(struct walk *w)
{
    while (!w->failed && w->head < w->tail) {
        lua_rawgeti(w->L, w->queue, ++w->head);
        walk_object(w);
    }
}

/* The sandbox's own objects (the base environment and the libraries behind
 * it, the metatables of strings and views): shared by every call, immutable
 * to rules, never counted. */
static cc_err collect_base(lua_State *L, cc_rules *r)
{
    struct walk w = {.L = L, .seen = &r->base_set};
    lua_checkstack(L, 8);
    lua_createtable(L, 256, 0);
    w.queue = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &dmeta_key);
    walk_value(&w, -1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &view_meta_key);
    walk_value(&w, -1);
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) walk_value(&w, -1);
    lua_settop(L, w.queue);
    walk_drain(&w);
    lua_pop(L, 1);
    return w.failed ? CC_ERR_NOMEM : CC_OK;
}

/* What the run can still reach, in bytes (lower bounds of Lua's sizes): the
 * call stack (frames, every slot, the functions running and what they hold),
 * this call's cache of input views and the compiled chunk (whose _ENV is the
 * call's globals). Deterministic: it depends on the values the rule holds,
 * never on addresses, hash order or when memory was collected. frame0 is how
 * many slots of the innermost frame to look at (a hook's own pushes are not
 * the rule's). */
static uint64_t measure(lua_State *L, cc_rules *r, int frame0, uint64_t *visits, bool *failed)
{
    struct walk w = {.L = L, .seen = &r->walk_set};
    bool was = r->measuring;
    r->measuring = false; /* the walk's own queue is not the rule's */
    if (!set_copy(&r->walk_set, &r->base_set)) {
        *failed = true;
        return 0;
    }
    lua_checkstack(L, 8);
    lua_createtable(L, 64, 0);
    w.queue = lua_gettop(L);
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        w.bytes += FRAME_MIN;
        lua_getinfo(L, "f", &ar);
        walk_value(&w, -1);
        lua_pop(L, 1);
        for (int n = 1; level > 0 || n <= frame0; n++) {
            if (!lua_getlocal(L, &ar, n)) break;
            w.bytes += SLOT_MIN;
            walk_value(&w, -1);
            lua_pop(L, 1);
        }
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
    walk_value(&w, -1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &main_key);
    walk_value(&w, -1);
    lua_settop(L, w.queue);
    walk_drain(&w);
    lua_pop(L, 1);
    r->measuring = was;
    *visits = w.visits;
    *failed = w.failed;
    return w.bytes;
}

/* At every tick (HOOK_STEP instructions: the same points on every node):
 * measure what the run can reach, charge the walk to the budget, and stop
 * the run when the measure is over the cap. Garbage is collected first when
 * the state holds more than the cap, which changes no measure. */
static void measure_tick(lua_State *L, cc_rules *r)
{
    if (!r->measuring) return;
    lua_Debug deep;
    if (lua_getstack(L, CALL_DEPTH_MAX, &deep)) { /* also what keeps walking the frames cheap */
        if (!r->fatal) r->fatal = FATAL_DEPTH;
        luaL_error(L, "calls nested too deep");
        return;
    }
    if (++r->ticks < r->next_walk) return;
    int frame0 = lua_gettop(L);
    if (r->used > r->cap) lua_gc(L, LUA_GCCOLLECT);
    uint64_t visits;
    bool failed;
    uint64_t m = measure(L, r, frame0, &visits, &failed);
    if (failed) {
        if (!r->fatal) r->fatal = FATAL_NOMEM;
        r->refusing = true;
        luaL_error(L, "out of memory measuring the rule");
        return;
    }
    if (m > r->measured) r->measured = m;
    r->next_walk = r->ticks + 1 + visits / WALK_SPACING; /* a large state is measured less often */
    charge(L, visits / WALK_CHARGE_DIV);
    if (m > r->cap) {
        if (!r->fatal) r->fatal = FATAL_MEMORY;
        r->refusing = true;
        luaL_error(L, "memory cap");
    }
}

/* ---- the sandbox's functions ---------------------------------------------- */

/* Call the stock function in upvalue 1 with this function's arguments. */
static int call_stock(lua_State *L, int nresults)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, nresults);
    return nresults == LUA_MULTRET ? lua_gettop(L) : nresults;
}

/* pcall that cannot catch the sandbox's own limits. */
static int sb_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status != LUA_OK) {
        if (owner(L)->fatal) return lua_error(L);
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* tostring without addresses: tables and functions give their type name,
 * json.null gives "null". */
static int sb_tostring(lua_State *L)
{
    luaL_checkany(L, 1);
    switch (lua_type(L, 1)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
        luaL_tolstring(L, 1, NULL);
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, 1) == &null_tag) {
            lua_pushliteral(L, "null");
            break;
        }
        /* fall through */
    default:
        lua_pushstring(L, luaL_typename(L, 1));
    }
    return 1;
}

/* tonumber that answers integers only (nil for anything else). */
static int sb_tonumber(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) charge(L, lua_rawlen(L, 1) / 16 + 1);
    call_stock(L, 1);
    if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) lua_pushnil(L);
    return 1;
}

/* ---- sorted pairs ------------------------------------------------------------ */

enum key_kind { K_INT, K_FLOAT, K_STRING, K_BOOL };

struct key_ent {
    enum key_kind kind;
    lua_Integer i; /* K_INT: the key; K_BOOL: 0 or 1 */
    double d;
    const char *s;
    size_t len;
    int idx; /* 1-based position in the unsorted key list */
};

static int key_cmp(const void *pa, const void *pb)
{
    const struct key_ent *a = pa, *b = pb;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    switch (a->kind) {
    case K_INT:
    case K_BOOL:
        return (a->i > b->i) - (a->i < b->i);
    case K_FLOAT:
        return (a->d > b->d) - (a->d < b->d);
    case K_STRING: {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, n);
        if (c) return c;
        return (a->len > b->len) - (a->len < b->len);
    }
    }
    return 0;
}

/* Describe the key at the top of the stack; false for a key type that has
 * no order (tables, functions, userdata). */
static bool key_describe(lua_State *L, struct key_ent *e)
{
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            e->kind = K_INT;
            e->i = lua_tointeger(L, -1);
        } else {
            e->kind = K_FLOAT;
            e->d = lua_tonumber(L, -1);
        }
        return true;
    case LUA_TSTRING:
        e->kind = K_STRING;
        e->s = lua_tolstring(L, -1, &e->len);
        return true;
    case LUA_TBOOLEAN:
        e->kind = K_BOOL;
        e->i = lua_toboolean(L, -1);
        return true;
    default:
        return false;
    }
}

static int spairs_next(lua_State *L)
{
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
    for (;;) {
        if (lua_rawgeti(L, lua_upvalueindex(2), ++pos) == LUA_TNIL) break;
        lua_pushvalue(L, -1);
        if (lua_gettable(L, lua_upvalueindex(1)) != LUA_TNIL) { /* keys removed meanwhile are skipped */
            lua_pushinteger(L, pos);
            lua_replace(L, lua_upvalueindex(3));
            return 2;
        }
        lua_pop(L, 2);
    }
    lua_pushinteger(L, pos - 1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

/* Leave the iterator over t (index 1) and the sorted keys (index 4). */
static int push_iterator(lua_State *L)
{
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, spairs_next, 3);
    return 1;
}

/* pairs over an input view: the JSON object's keys sorted bytewise, or an
 * array's indices. */
static int view_pairs(lua_State *L, const json_t *v)
{
    size_t n = json_is_object(v) ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0;
    charge(L, n_log_n(n) + 1);
    lua_settop(L, 1);
    lua_pushnil(L); /* 2, 3: unused, as in sb_pairs */
    lua_pushnil(L);
    lua_createtable(L, n < INT_MAX ? (int)n : INT_MAX, 0); /* 4: keys sorted */
    if (json_is_array(v)) {
        for (size_t i = 1; i <= n; i++) {
            lua_pushinteger(L, (lua_Integer)i);
            lua_rawseti(L, 4, (lua_Integer)i);
        }
        return push_iterator(L);
    }
    struct key_ent *e = lua_newuserdatauv(L, n * sizeof *e + 1, 0);
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        e[i].kind = K_STRING;
        e[i].s = k;
        e[i++].len = strlen(k);
    }
    qsort(e, n, sizeof *e, key_cmp);
    for (i = 0; i < n; i++) {
        lua_pushlstring(L, e[i].s, e[i].len);
        lua_rawseti(L, 4, (lua_Integer)i + 1);
    }
    lua_pop(L, 1);
    return push_iterator(L);
}

/* pairs (and spairs): iterate over a snapshot of the keys, sorted. */
static int sb_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    const json_t *view = view_node(L, 1);
    if (view) return view_pairs(L, view);
    lua_Integer n = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1)) n++;
    charge(L, n_log_n((uint64_t)n) + 1);
    lua_createtable(L, n < INT_MAX ? (int)n : INT_MAX, 0);                  /* 2: keys as found */
    struct key_ent *e = lua_newuserdatauv(L, (size_t)n * sizeof *e + 1, 0); /* 3 */
    lua_Integer i = 0;
    for (lua_pushnil(L); lua_next(L, 1); i++) {
        lua_pop(L, 1);
        if (!key_describe(L, &e[i]))
            return luaL_error(L, "pairs: only number, string and boolean keys have a stable order");
        e[i].idx = (int)(i + 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, 2, i + 1); /* keeps the key (and e[i].s) alive */
    }
    qsort(e, (size_t)n, sizeof *e, key_cmp);
    lua_createtable(L, n < INT_MAX ? (int)n : INT_MAX, 0); /* 4: keys sorted */
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, 2, e[i].idx);
        lua_rawseti(L, 4, i + 1);
    }
    return push_iterator(L);
}

/* ---- string ---------------------------------------------------------------- */

/* string.format without %p, and %s of a non-string shown as tostring shows
 * it (no addresses). */
static int raise_string_max(lua_State *L);

static int sb_format(lua_State *L)
{
    size_t flen;
    const char *f = luaL_checklstring(L, 1, &flen);
    int top = lua_gettop(L), arg = 1;
    uint64_t out = flen; /* a bound of the result, checked before any of it is built */
    for (size_t i = 0; i < flen; i++) {
        if (f[i] != '%') continue;
        if (++i < flen && f[i] == '%') continue;
        while (i < flen && f[i] != '\0' && strchr("-+ #0123456789.", f[i])) i++;
        if (i >= flen) break; /* the stock function reports it */
        arg++;
        if (f[i] == 'p') return luaL_error(L, "string.format: '%%p' is not available to rules");
        if (f[i] == 's' && arg <= top && lua_type(L, arg) != LUA_TSTRING && lua_type(L, arg) != LUA_TNUMBER) {
            lua_pushcfunction(L, sb_tostring);
            lua_pushvalue(L, arg);
            lua_call(L, 1, 1);
            lua_replace(L, arg);
        }
        size_t len = 0;
        if (arg <= top && lua_type(L, arg) == LUA_TSTRING) lua_tolstring(L, arg, &len);
        out += f[i] == 's'   ? len + FORMAT_ITEM_MAX
               : f[i] == 'q' ? 4 * (uint64_t)len + FORMAT_ITEM_MAX
                             : FORMAT_ITEM_MAX;
    }
    if (out > CC_RULES_STRING_MAX) return raise_string_max(L);
    return call_stock(L, 1);
}

static int raise_string_max(lua_State *L)
{
    cc_rules *r = owner(L);
    if (!r->fatal) r->fatal = FATAL_STRING;
    return luaL_error(L, "string longer than %d bytes", (int)CC_RULES_STRING_MAX);
}

static int sb_rep(lua_State *L)
{
    size_t len, sep_len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &sep_len);
    if (n > 0) {
        /* the result is n * len + (n - 1) * sep_len = n * unit - sep_len bytes */
        uint64_t unit = (uint64_t)len + sep_len;
        if (unit && (uint64_t)n > (CC_RULES_STRING_MAX + sep_len) / unit) return raise_string_max(L);
        charge(L, (uint64_t)n / 8 + 1); /* one loop turn per copy, even of "" */
    }
    return call_stock(L, 1);
}

static int sb_byte(lua_State *L)
{
    size_t n;
    luaL_checklstring(L, 1, &n);
    charge(L, n + 1);
    return call_stock(L, LUA_MULTRET);
}

enum pattern_fn { P_FIND, P_MATCH, P_GMATCH, P_GSUB };

/* The matcher backtracks: with k quantifiers a pattern can try (n+1)^k
 * ways at each of n+1 starting points. That worst case is what a call is
 * charged, so no pattern can run past the budget. */
static uint64_t pattern_cost(enum pattern_fn fn, size_t n, const char *p, size_t m, bool plain)
{
    bool special = false; /* what lstrlib's nospecials looks for, past any NUL too */
    for (size_t i = 0; i < m && !special; i++) special = p[i] != '\0' && strchr("^$*+?.([%-", p[i]);
    if (plain || !special) return sat_mul(n + 1, m + 1);
    uint64_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (p[i] == '%') {
            if (i + 1 < m && p[i + 1] == 'b') k++;
            i++;
        } else if (p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?') {
            k++;
        }
    }
    uint64_t cost = fn != P_GMATCH && m && p[0] == '^' ? 1 : n + 1;
    for (uint64_t j = 0; j < k && cost != UINT64_MAX; j++) cost = sat_mul(cost, n + 1);
    return sat_mul(cost, m + 1);
}

/* A gsub replacement function or table, wrapped: upvalue 1 the rule's,
 * upvalue 2 the bytes replaced so far. Fails the call before the result
 * can pass CC_RULES_STRING_MAX (the unmatched text is at most the subject). */
static int gsub_counted(lua_State *L)
{
    int n = lua_gettop(L);
    if (lua_type(L, lua_upvalueindex(1)) == LUA_TTABLE) {
        lua_settop(L, 1);
        lua_gettable(L, lua_upvalueindex(1));
    } else {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, n, 1);
    }
    size_t len = 0;
    if (lua_type(L, -1) == LUA_TSTRING) lua_tolstring(L, -1, &len);
    if (lua_type(L, -1) == LUA_TNUMBER) len = NUMBER_TEXT_MAX; /* gsub converts it; keep the number */
    lua_Integer total = lua_tointeger(L, lua_upvalueindex(2)) + (lua_Integer)len;
    if (total > (lua_Integer)CC_RULES_STRING_MAX) return raise_string_max(L);
    lua_pushinteger(L, total);
    lua_replace(L, lua_upvalueindex(2));
    return 1;
}

/* The most bytes gsub with the string replacement r can produce from n
 * bytes: every position a match, every %1..%9 a capture of the whole
 * subject. */
static uint64_t gsub_bound(size_t n, const char *r, size_t rlen)
{
    uint64_t per = 0;
    for (size_t i = 0; i < rlen; i++) {
        if (r[i] == '%' && i + 1 < rlen && r[i + 1] >= '0' && r[i + 1] <= '9') {
            per += n;
            i++;
        } else {
            per++;
        }
    }
    return (uint64_t)n + sat_mul((uint64_t)n + 1, per);
}

static int sb_pattern(lua_State *L)
{
    size_t n, m;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &m);
    enum pattern_fn fn = (enum pattern_fn)lua_tointeger(L, lua_upvalueindex(2));
    bool plain = fn == P_FIND && lua_toboolean(L, 4);
    charge(L, pattern_cost(fn, n, p, m, plain));
    if (fn == P_GSUB) {
        int t = lua_type(L, 3);
        if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            size_t rlen;
            const char *r = lua_tolstring(L, 3, &rlen);
            if (gsub_bound(n, r, rlen) > CC_RULES_STRING_MAX) return raise_string_max(L);
        } else if (t == LUA_TFUNCTION || t == LUA_TTABLE) {
            if (n > CC_RULES_STRING_MAX) return raise_string_max(L);
            lua_pushvalue(L, 3);
            lua_pushinteger(L, (lua_Integer)n);
            lua_pushcclosure(L, gsub_counted, 2);
            lua_replace(L, 3);
        }
    }
    return call_stock(L, LUA_MULTRET);
}

/* ---- table, math, utf8 ------------------------------------------------------ */

static uint64_t span(lua_Integer from, lua_Integer to)
{
    return to >= from ? (uint64_t)to - (uint64_t)from + 1 : 0;
}

/* #t as the stock function will see it (an input view's __len included). */
static lua_Integer table_len(lua_State *L, int idx)
{
    return lua_istable(L, idx) ? luaL_len(L, idx) : 0;
}

static int sb_insert(lua_State *L)
{
    if (lua_gettop(L) >= 3) charge(L, (uint64_t)table_len(L, 1) + 1);
    return call_stock(L, 0);
}

static int sb_remove(lua_State *L)
{
    lua_Integer size = table_len(L, 1);
    charge(L, span(luaL_optinteger(L, 2, size), size) + 1);
    return call_stock(L, 1);
}

static int sb_move(lua_State *L)
{
    charge(L, span(luaL_checkinteger(L, 2), luaL_checkinteger(L, 3)) + 1);
    return call_stock(L, 1);
}

/* table.concat, refused before it builds a result over CC_RULES_STRING_MAX. */
static int sb_concat(lua_State *L)
{
    size_t sep;
    luaL_optlstring(L, 2, "", &sep);
    lua_Integer from = luaL_optinteger(L, 3, 1), to = luaL_optinteger(L, 4, table_len(L, 1));
    charge(L, span(from, to) + 1);
    uint64_t out = 0;
    for (lua_Integer k = from; k <= to && out <= CC_RULES_STRING_MAX; k++) {
        size_t len = 0;
        int t = lua_geti(L, 1, k);
        if (t == LUA_TSTRING || t == LUA_TNUMBER) lua_tolstring(L, -1, &len); /* a copy: converting is fine */
        lua_pop(L, 1);
        out += len + (k > from ? sep : 0);
        if (k == to) break;
    }
    if (out > CC_RULES_STRING_MAX) return raise_string_max(L);
    return call_stock(L, 1);
}

static int sb_unpack(lua_State *L)
{
    charge(L, span(luaL_optinteger(L, 2, 1), luaL_optinteger(L, 3, table_len(L, 1))) + 1);
    return call_stock(L, LUA_MULTRET);
}

static int sb_sort(lua_State *L)
{
    lua_Integer n = table_len(L, 1);
    charge(L, n_log_n(n > 0 ? (uint64_t)n : 0) + 1);
    return call_stock(L, 0);
}

static int sb_utf8_scan(lua_State *L)
{
    size_t n;
    luaL_checklstring(L, 1, &n);
    charge(L, n + 1);
    return call_stock(L, LUA_MULTRET);
}

static int math_abs(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    lua_pushinteger(L, n < 0 ? (lua_Integer)(0u - (lua_Unsigned)n) : n);
    return 1;
}

static int math_minmax(lua_State *L, bool want_max)
{
    int n = lua_gettop(L);
    lua_Integer best = luaL_checkinteger(L, 1);
    for (int i = 2; i <= n; i++) {
        lua_Integer v = luaL_checkinteger(L, i);
        if (want_max ? v > best : v < best) best = v;
    }
    lua_pushinteger(L, best);
    return 1;
}

static int math_max(lua_State *L)
{
    return math_minmax(L, true);
}

static int math_min(lua_State *L)
{
    return math_minmax(L, false);
}

/* ---- building the sandbox ---------------------------------------------------- */

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "library tables are read-only");
}

/* Replace the table at the top with a read-only view of it: an empty table
 * whose metatable reads through to it and refuses writes. */
static void make_readonly(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* Open a stock library and leave it at the top. */
static void open_stock(lua_State *L, lua_CFunction open)
{
    lua_pushcfunction(L, open);
    lua_call(L, 0, 1);
}

/* t[name] = stock[name], with stock at index src and t at the top. */
static void copy_field(lua_State *L, int src, const char *name)
{
    lua_getfield(L, src, name);
    lua_setfield(L, -2, name);
}

/* t[name] = closure(wrapper, stock[name] [, extra]), t at the top. */
static void wrap_field(lua_State *L, int src, const char *name, lua_CFunction wrapper)
{
    lua_getfield(L, src, name);
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, -2, name);
}

static void wrap_pattern(lua_State *L, int src, const char *name, enum pattern_fn fn)
{
    lua_getfield(L, src, name);
    lua_pushinteger(L, fn);
    lua_pushcclosure(L, sb_pattern, 2);
    lua_setfield(L, -2, name);
}

/* lauxlib moves a buffer that outgrows LUAL_BUFFERSIZE (string.rep, gsub,
 * table.concat, string.format, ...) into a box, a userdata whose metatable
 * it makes in the registry ("_UBOX*") the first time a box is needed, and
 * keeps. Made during a call, that table would count in the created bytes
 * of the first such call on each state only, so a node that had just
 * started would measure that call 56 bytes higher than the others
 * (fuzz_rules found it; test_rules.c test_buffer_box_same_on_first_call).
 * One buffer that needs a box, here, makes the table before any call. */
static void make_buffer_box_metatable(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinitsize(L, &b, LUAL_BUFFERSIZE + 1);
    luaL_pushresultsize(&b, 0);
    lua_pop(L, 1);
}

/* Build the base environment, the string metatable and the metatable of
 * every call's globals (registry dmeta_key). */
static void build_sandbox(lua_State *L)
{
    int top = lua_gettop(L);
    lua_createtable(L, 0, 24); /* env */
    int env = lua_gettop(L);

    open_stock(L, luaopen_base);
    int g = lua_gettop(L);
    lua_pushvalue(L, env);
    static const char *const base_names[] = {"assert", "error",  "ipairs", "rawequal",
                                             "rawget", "rawlen", "select", "type"};
    for (size_t i = 0; i < sizeof base_names / sizeof *base_names; i++) copy_field(L, g, base_names[i]);
    wrap_field(L, g, "tonumber", sb_tonumber);
    lua_pushcfunction(L, sb_tostring);
    lua_setfield(L, -2, "tostring");
    lua_pushcfunction(L, sb_pcall);
    lua_setfield(L, -2, "pcall");
    lua_pushcfunction(L, sb_pairs);
    lua_setfield(L, -2, "pairs");
    lua_pushcfunction(L, sb_pairs);
    lua_setfield(L, -2, "spairs");
    lua_settop(L, env);
    /* The stock globals (with load, dofile, ...) are unreachable; empty them anyway. */
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);

    open_stock(L, luaopen_string);
    int s = lua_gettop(L);
    lua_createtable(L, 0, 16);
    static const char *const string_names[] = {"char", "len", "lower", "reverse", "sub", "upper"};
    for (size_t i = 0; i < sizeof string_names / sizeof *string_names; i++) copy_field(L, s, string_names[i]);
    wrap_field(L, s, "byte", sb_byte);
    wrap_field(L, s, "format", sb_format);
    wrap_field(L, s, "rep", sb_rep);
    wrap_pattern(L, s, "find", P_FIND);
    wrap_pattern(L, s, "match", P_MATCH);
    wrap_pattern(L, s, "gmatch", P_GMATCH);
    wrap_pattern(L, s, "gsub", P_GSUB);
    /* The one string metatable: methods only, no arithmetic, no __metatable to find. */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "");
    lua_insert(L, -2);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    make_readonly(L);
    lua_setfield(L, env, "string");
    lua_settop(L, env);

    open_stock(L, luaopen_table);
    int t = lua_gettop(L);
    lua_createtable(L, 0, 8);
    copy_field(L, t, "pack");
    wrap_field(L, t, "concat", sb_concat);
    wrap_field(L, t, "insert", sb_insert);
    wrap_field(L, t, "move", sb_move);
    wrap_field(L, t, "remove", sb_remove);
    wrap_field(L, t, "sort", sb_sort);
    wrap_field(L, t, "unpack", sb_unpack);
    make_readonly(L);
    lua_setfield(L, env, "table");
    lua_settop(L, env);

    open_stock(L, luaopen_math);
    int m = lua_gettop(L);
    lua_createtable(L, 0, 8);
    copy_field(L, m, "tointeger");
    copy_field(L, m, "type");
    copy_field(L, m, "ult");
    copy_field(L, m, "maxinteger");
    copy_field(L, m, "mininteger");
    lua_pushcfunction(L, math_abs);
    lua_setfield(L, -2, "abs");
    lua_pushcfunction(L, math_max);
    lua_setfield(L, -2, "max");
    lua_pushcfunction(L, math_min);
    lua_setfield(L, -2, "min");
    make_readonly(L);
    lua_setfield(L, env, "math");
    lua_settop(L, env);

    open_stock(L, luaopen_utf8);
    int u = lua_gettop(L);
    lua_createtable(L, 0, 6);
    copy_field(L, u, "char");
    copy_field(L, u, "charpattern");
    copy_field(L, u, "codes");
    wrap_field(L, u, "codepoint", sb_utf8_scan);
    wrap_field(L, u, "len", sb_utf8_scan);
    wrap_field(L, u, "offset", sb_utf8_scan);
    make_readonly(L);
    lua_setfield(L, env, "utf8");
    lua_settop(L, env);

    lua_createtable(L, 0, 1);
    lua_pushlightuserdata(L, (void *)&null_tag);
    lua_setfield(L, -2, "null");
    make_readonly(L);
    lua_setfield(L, env, "json");

    lua_createtable(L, 0, 3); /* input views */
    lua_pushcfunction(L, view_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, view_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, view_len);
    lua_setfield(L, -2, "__len");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &view_meta_key);

    lua_createtable(L, 0, 1); /* a call's globals read through to env */
    lua_pushvalue(L, env);
    lua_setfield(L, -2, "__index");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &dmeta_key);
    make_buffer_box_metatable(L);
    lua_settop(L, top);
}

/* __newindex of a call's globals: writable while the top level runs. */
static int env_newindex(lua_State *L)
{
    if (owner(L)->top_level) {
        lua_getmetatable(L, 1);
        lua_getfield(L, -1, "__index");
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 3);
        lua_rawset(L, -3);
        return 0;
    }
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L,
                          "assignment to global '%s': globals are read-only once the rules are loaded "
                          "(use local)",
                          lua_tostring(L, 2));
    return luaL_error(L, "assignment to a global: globals are read-only once the rules are loaded");
}

/* Run the chunk's top level in fresh globals and leave them (read-only
 * from now on) at the top of the stack. */
static void run_top_level(lua_State *L, cc_rules *r)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &main_key); /* main */
    lua_newtable(L);                              /* main, D: the globals */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &dmeta_key);
    lua_setmetatable(L, -2);
    lua_newtable(L); /* main, D, P: the view the chunk sees */
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_remove(L, -2); /* main, P */
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1); /* main's _ENV = P, shared by every closure it makes */
    lua_insert(L, -2);        /* P, main */
    r->top_level = true;
    lua_call(L, 0, 0);
    r->top_level = false;
}

/* ---- JSON <-> Lua ---------------------------------------------------------- */

/* Where a value sits, for messages: segments are recorded on the way down
 * and formatted only when something is reported. Indices are 1-based, as
 * the rule sees them. */
struct json_path {
    const char *root; /* "claim", "member", "plan", "result" */
    struct {
        const char *key; /* NULL: an array element */
        size_t index;
    } seg[CC_RULES_DEPTH_MAX + 1];
    char text[160];
};

static const char *path_text(struct json_path *p, int depth)
{
    size_t used = (size_t)snprintf(p->text, sizeof p->text, "%s", p->root);
    for (int i = 0; i < depth && used < sizeof p->text; i++) {
        int n = p->seg[i].key ? snprintf(p->text + used, sizeof p->text - used, ".%s", p->seg[i].key)
                              : snprintf(p->text + used, sizeof p->text - used, "[%zu]", p->seg[i].index);
        used += n > 0 ? (size_t)n : 0;
    }
    return p->text;
}

/* Inputs reach the rule as read-only views: a view is an empty table whose
 * hidden field (key: the address view_key) holds the JSON node and whose
 * metatable (registry view_meta_key) converts a member only when the rule
 * reads it. Views and long strings are cached per call (registry
 * cache_key), so plan.x == plan.x and reading twice allocates once. A call
 * costs what the rule reads, not the size of the plan; a real number or an
 * over-long string fails the call when the rule reads it (the same reads,
 * so the same outcome, on every node). */
static void push_input(lua_State *L, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
    case JSON_STRING:
        if (json_is_string(v) && json_string_length(v) > CC_RULES_STRING_MAX) {
            raise_string_max(L);
            return;
        }
        if (json_is_string(v) && json_string_length(v) <= 40) {
            lua_pushlstring(L, json_string_value(v), json_string_length(v));
            return;
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
        if (lua_rawgetp(L, -1, v) == LUA_TNIL) {
            lua_pop(L, 1);
            if (json_is_string(v)) {
                lua_pushlstring(L, json_string_value(v), json_string_length(v));
            } else {
                lua_createtable(L, 0, 1);
                lua_pushlightuserdata(L, (void *)v);
                lua_rawsetp(L, -2, &view_key);
                lua_rawgetp(L, LUA_REGISTRYINDEX, &view_meta_key);
                lua_setmetatable(L, -2);
            }
            lua_pushvalue(L, -1);
            lua_rawsetp(L, -3, v);
        }
        lua_remove(L, -2);
        return;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        return;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(v));
        return;
    case JSON_NULL:
        lua_pushlightuserdata(L, (void *)&null_tag);
        return;
    case JSON_REAL:
        break;
    }
    luaL_error(L, "the rule read a real number from its inputs; carechain JSON has integers only");
}

/* The JSON node behind the view at idx, or NULL when it is not a view. */
static const json_t *view_node(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &view_meta_key);
    bool is_view = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!is_view) return NULL;
    lua_rawgetp(L, idx, &view_key);
    const json_t *v = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return v;
}

static const json_t *view_self(lua_State *L)
{
    lua_rawgetp(L, 1, &view_key);
    const json_t *v = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return v;
}

static int view_index(lua_State *L)
{
    const json_t *v = view_self(L), *x = NULL;
    if (json_is_object(v) && lua_type(L, 2) == LUA_TSTRING) {
        size_t len;
        const char *k = lua_tolstring(L, 2, &len);
        x = json_object_getn(v, k, len);
    } else if (json_is_array(v) && lua_isinteger(L, 2)) {
        lua_Integer i = lua_tointeger(L, 2);
        if (i >= 1 && (lua_Unsigned)i <= json_array_size(v)) x = json_array_get(v, (size_t)i - 1);
    }
    if (!x) return 0;
    push_input(L, x);
    return 1;
}

static int view_len(lua_State *L)
{
    const json_t *v = view_self(L);
    lua_pushinteger(L, json_is_array(v) ? (lua_Integer)json_array_size(v) : 0);
    return 1;
}

static int view_newindex(lua_State *L)
{
    return luaL_error(L, "the rule's inputs are read-only; build the result in a new table");
}

/* RFC 3629 UTF-8 (what jansson accepts), NUL allowed only when nul_ok. */
static bool utf8_valid(const unsigned char *s, size_t n, bool nul_ok)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            if (c == 0 && !nul_ok) return false;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

struct to_json {
    cc_errbuf *eb;
    size_t bytes;                      /* approximate size of the result so far */
    int ancestors[CC_RULES_DEPTH_MAX]; /* stack indices of the tables being converted */
    struct json_path path;
};

/* Attach v to parent: as key in an object, or appended to an array (key
 * NULL), or as the root (parent NULL, root slot). Steals v. */
static cc_err attach(json_t *parent, const char *key, json_t **root, json_t *v)
{
    if (!v) return CC_ERR_NOMEM;
    if (!parent) {
        *root = v;
        return CC_OK;
    }
    int bad = key ? json_object_set_new_nocheck(parent, key, v) : json_array_append_new(parent, v);
    return bad ? CC_ERR_NOMEM : CC_OK;
}

static cc_err conv(lua_State *L, int idx, int depth, json_t *parent, const char *key, json_t **root,
                   struct to_json *c);

/* Nesting levels and approximate bytes of a JSON value. */
static void json_measure(const json_t *v, int *levels, size_t *bytes)
{
    *bytes += 8;
    *levels = 0;
    if (json_is_string(v)) *bytes += json_string_length(v);
    if (!json_is_object(v) && !json_is_array(v)) return;
    const char *k;
    json_t *x;
    size_t i;
    int sub;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x)
        {
            *bytes += strlen(k) + 4;
            json_measure(x, &sub, bytes);
            if (sub > *levels) *levels = sub;
        }
    } else {
        json_array_foreach(v, i, x)
        {
            json_measure(x, &sub, bytes);
            if (sub > *levels) *levels = sub;
        }
    }
    (*levels)++;
}

/* An input (or part of one) returned as is: a copy of its JSON. */
static cc_err conv_view(const json_t *v, int depth, json_t *parent, const char *key, json_t **root,
                        struct to_json *c)
{
    int levels;
    size_t bytes = 0;
    json_measure(v, &levels, &bytes);
    if (depth + levels > CC_RULES_DEPTH_MAX)
        return cc_errf(c->eb, CC_ERR_INVALID, "the rule's %s nests deeper than %d levels",
                       path_text(&c->path, depth), CC_RULES_DEPTH_MAX);
    c->bytes += bytes;
    if (c->bytes > CC_RULES_RESULT_MAX)
        return cc_errf(c->eb, CC_ERR_TOO_LARGE, "the rule's result is over %d bytes",
                       (int)CC_RULES_RESULT_MAX);
    return attach(parent, key, root, json_deep_copy(v));
}

static cc_err conv_table(lua_State *L, int idx, int depth, json_t *parent, const char *key, json_t **root,
                         struct to_json *c)
{
    cc_err rc = CC_OK;
    const json_t *view = view_node(L, idx);
    if (view) return conv_view(view, depth, parent, key, root, c);
    for (int i = 0; i < depth; i++)
        if (lua_rawequal(L, c->ancestors[i], idx))
            return cc_errf(c->eb, CC_ERR_INVALID, "the rule's %s contains itself (a cycle)",
                           path_text(&c->path, depth));
    if (depth >= CC_RULES_DEPTH_MAX)
        return cc_errf(c->eb, CC_ERR_INVALID, "the rule's %s nests deeper than %d levels",
                       path_text(&c->path, depth), CC_RULES_DEPTH_MAX);
    c->ancestors[depth] = idx;
    luaL_checkstack(L, 6, "result nesting");

    lua_Integer n = 0, min = LUA_MAXINTEGER, max = 0;
    bool ints = true, strs = true;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        n++;
        if (lua_type(L, -2) == LUA_TSTRING) {
            ints = false;
        } else if (lua_isinteger(L, -2)) {
            lua_Integer k = lua_tointeger(L, -2);
            strs = false;
            if (k < min) min = k;
            if (k > max) max = k;
        } else {
            ints = strs = false;
        }
    }
    c->bytes += 2;
    if (n == 0 || (ints && min == 1 && max == n)) {
        json_t *a = json_array();
        if ((rc = attach(parent, key, root, a)) != CC_OK) return rc;
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            c->path.seg[depth].key = NULL;
            c->path.seg[depth].index = (size_t)i;
            if ((rc = conv(L, lua_gettop(L), depth + 1, a, NULL, root, c)) != CC_OK) return rc;
            lua_pop(L, 1);
        }
        return CC_OK;
    }
    if (!strs)
        return cc_errf(c->eb, CC_ERR_INVALID,
                       "the rule's %s is a table whose keys are neither all strings (an object) nor 1..n "
                       "(an array)",
                       path_text(&c->path, depth));

    struct key_ent small[SMALL_KEYS], *e = small;
    int buffer = 0;
    if (n > SMALL_KEYS) {
        e = lua_newuserdatauv(L, (size_t)n * sizeof *e, 0);
        buffer = lua_gettop(L);
    }
    lua_Integer i = 0;
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), i++) {
        e[i].kind = K_STRING;
        e[i].s = lua_tolstring(L, -2, &e[i].len); /* the table keeps the key alive */
    }
    qsort(e, (size_t)n, sizeof *e, key_cmp);
    json_t *o = json_object();
    if ((rc = attach(parent, key, root, o)) != CC_OK) return rc;
    for (i = 0; i < n; i++) {
        if (strlen(e[i].s) != e[i].len || !utf8_valid((const unsigned char *)e[i].s, e[i].len, false))
            return cc_errf(c->eb, CC_ERR_INVALID, "the rule's %s has a key that is not valid UTF-8 text",
                           path_text(&c->path, depth));
        c->bytes += e[i].len + 4;
        lua_pushlstring(L, e[i].s, e[i].len);
        lua_rawget(L, idx);
        c->path.seg[depth].key = e[i].s;
        if ((rc = conv(L, lua_gettop(L), depth + 1, o, e[i].s, root, c)) != CC_OK) return rc;
        lua_pop(L, 1);
    }
    if (buffer) lua_remove(L, buffer);
    return CC_OK;
}

/* Convert the value at idx into JSON attached to parent (see attach).
 * Every node is attached before anything below it is converted, so if Lua
 * raises (memory), *root still owns all of it. */
static cc_err conv(lua_State *L, int idx, int depth, json_t *parent, const char *key, json_t **root,
                   struct to_json *c)
{
    c->bytes += 8;
    if (c->bytes > CC_RULES_RESULT_MAX)
        return cc_errf(c->eb, CC_ERR_TOO_LARGE, "the rule's result is over %d bytes",
                       (int)CC_RULES_RESULT_MAX);
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return attach(parent, key, root, json_null());
    case LUA_TBOOLEAN:
        return attach(parent, key, root, json_boolean(lua_toboolean(L, idx)));
    case LUA_TNUMBER:
        if (!lua_isinteger(L, idx))
            return cc_errf(c->eb, CC_ERR_INVALID,
                           "the rule's %s is a float (%.14g); rules compute in integers",
                           path_text(&c->path, depth), lua_tonumber(L, idx));
        return attach(parent, key, root, json_integer((json_int_t)lua_tointeger(L, idx)));
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!utf8_valid((const unsigned char *)s, len, true))
            return cc_errf(c->eb, CC_ERR_INVALID, "the rule's %s is not valid UTF-8 text",
                           path_text(&c->path, depth));
        c->bytes += len;
        if (c->bytes > CC_RULES_RESULT_MAX)
            return cc_errf(c->eb, CC_ERR_TOO_LARGE, "the rule's result is over %d bytes",
                           (int)CC_RULES_RESULT_MAX);
        return attach(parent, key, root, json_stringn_nocheck(s, len));
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &null_tag) return attach(parent, key, root, json_null());
        break;
    case LUA_TTABLE:
        return conv_table(L, idx, depth, parent, key, root, c);
    default:
        break;
    }
    return cc_errf(c->eb, CC_ERR_INVALID,
                   "the rule's %s is a %s; only tables, strings, integers, booleans and json.null convert to "
                   "JSON",
                   path_text(&c->path, depth), luaL_typename(L, idx));
}

/* ---- the source scanner -------------------------------------------------- */

static bool is_newline(char c)
{
    return c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_xdigit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Skip one line break ("\n", "\r", "\r\n" or "\n\r", as Lua counts them). */
static size_t skip_newline(const char *s, size_t n, size_t i, int *line)
{
    char c = s[i++];
    if (i < n && is_newline(s[i]) && s[i] != c) i++;
    (*line)++;
    return i;
}

/* At '[': the level of a long bracket ("[==[" is 2), or -1. */
static long long_bracket(const char *s, size_t n, size_t i)
{
    size_t j = i + 1;
    while (j < n && s[j] == '=') j++;
    return j < n && s[j] == '[' ? (long)(j - i - 1) : -1;
}

static size_t skip_long(const char *s, size_t n, size_t i, long level, int *line)
{
    i += (size_t)level + 2;
    while (i < n) {
        if (is_newline(s[i])) {
            i = skip_newline(s, n, i, line);
        } else if (s[i] == ']') {
            size_t j = i + 1;
            while (j < n && s[j] == '=') j++;
            if (j < n && s[j] == ']' && (long)(j - i - 1) == level) return j + 1;
            i++;
        } else {
            i++;
        }
    }
    return n;
}

static size_t skip_quoted(const char *s, size_t n, size_t i, int *line)
{
    char q = s[i++];
    while (i < n && s[i] != q) {
        if (s[i] == '\\' && i + 1 < n) i++;
        if (is_newline(s[i]))
            i = skip_newline(s, n, i, line);
        else
            i++;
    }
    return i + 1;
}

/* Where the scanner is in table constructors: nil as a positional item
 * ({1, nil, 3}, also parenthesised) is refused, because Lua reserves an
 * array slot for it that holds nothing, out of sight of the memory measure
 * (consecutive nils load in one instruction, so such slots would cost
 * almost no budget either). */
#define CTOR_DEPTH 64

enum ctor_state { CS_NONE, CS_ITEM, CS_NIL };

struct ctor_scan {
    char open[CTOR_DEPTH]; /* the brackets open, innermost last */
    int depth;
    int parens; /* '(' opened since the item began */
    enum ctor_state state;
};

/* Feed one token (a bracket or other punctuation character, or 'a' for a
 * name, number or string); true when it ends a positional nil item. */
static bool ctor_token(struct ctor_scan *k, char tok, bool is_nil)
{
    if (k->state == CS_NIL) {
        if (tok == ')' && k->parens > 0) {
            k->parens--;
            k->depth--;
            return false;
        }
        if (k->parens == 0 && (tok == ',' || tok == ';' || tok == '}')) return true;
    }
    if (tok == '{' || tok == '(' || tok == '[') {
        bool item = k->state == CS_ITEM;
        if (k->depth < CTOR_DEPTH) k->open[k->depth] = tok;
        k->depth++;
        k->state = tok == '{' || (tok == '(' && item) ? CS_ITEM : CS_NONE;
        k->parens = tok == '{' ? 0 : tok == '(' && item ? k->parens + 1 : 0;
        return false;
    }
    if (tok == '}' || tok == ')' || tok == ']') {
        if (k->depth > 0) k->depth--;
        k->state = CS_NONE;
        k->parens = 0;
        return false;
    }
    bool in_ctor = k->depth > 0 && k->depth <= CTOR_DEPTH && k->open[k->depth - 1] == '{';
    if ((tok == ',' || tok == ';') && in_ctor) {
        k->state = CS_ITEM;
        k->parens = 0;
        return false;
    }
    k->state = is_nil && k->state == CS_ITEM ? CS_NIL : CS_NONE;
    if (k->state == CS_NONE) k->parens = 0;
    return false;
}

/* Refuse what the sandbox leaves out of the language: float literals, '/',
 * '^', '...' and nil as a positional item of a table constructor. Runs on
 * source that compiled, so tokens are well formed; it follows Lua's lexer
 * for comments, strings and numerals. */
static cc_err scan_source(lua_State *L, const char *s, size_t n, cc_errbuf *eb)
{
    int line = 1;
    size_t i = 0;
    struct ctor_scan k = {.state = CS_NONE};
    while (i < n) {
        char c = s[i], tok = 'a';
        bool is_nil = false;
        long level;
        if (is_newline(c) || c == ' ' || c == '\t' || c == '\v' || c == '\f') {
            tok = 0;
            if (is_newline(c))
                i = skip_newline(s, n, i, &line);
            else
                i++;
        } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            tok = 0;
            i += 2;
            if (i < n && s[i] == '[' && (level = long_bracket(s, n, i)) >= 0)
                i = skip_long(s, n, i, level, &line);
            else
                while (i < n && !is_newline(s[i])) i++;
        } else if (c == '[' && (level = long_bracket(s, n, i)) >= 0) {
            i = skip_long(s, n, i, level, &line);
        } else if (c == '"' || c == '\'') {
            i = skip_quoted(s, n, i, &line);
        } else if (is_alpha(c)) {
            size_t start = i;
            while (i < n && (is_alpha(s[i]) || is_digit(s[i]))) i++;
            is_nil = i - start == 3 && memcmp(s + start, "nil", 3) == 0;
        } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit(s[i + 1]))) {
            size_t start = i;
            const char *expo = "Ee";
            if (c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
                expo = "Pp";
                i++;
            }
            for (i++; i < n;) {
                if (s[i] == expo[0] || s[i] == expo[1]) {
                    i++;
                    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
                } else if (is_xdigit(s[i]) || s[i] == '.') {
                    i++;
                } else {
                    break;
                }
            }
            char num[NUMERAL_MAX + 1];
            size_t len = i - start;
            bool integer = false;
            if (len <= NUMERAL_MAX) {
                memcpy(num, s + start, len);
                num[len] = '\0';
                if (lua_stringtonumber(L, num)) {
                    integer = lua_isinteger(L, -1);
                    lua_pop(L, 1);
                }
            }
            if (!integer)
                return cc_errf(eb, CC_ERR_INVALID,
                               "rules:%d: %.*s is not an integer; rules compute in integers (cents, basis "
                               "points)",
                               line, (int)(len < 40 ? len : 40), s + start);
        } else if (c == '.' && i + 2 < n && s[i + 1] == '.' && s[i + 2] == '.') {
            return cc_errf(eb, CC_ERR_INVALID,
                           "rules:%d: '...' (variable arguments) is not available to rules", line);
        } else if (c == '.' && i + 1 < n && s[i + 1] == '.') {
            tok = '.';
            i += 2;
        } else if (c == '/') {
            tok = '/';
            if (i + 1 < n && s[i + 1] == '/')
                i += 2;
            else
                return cc_errf(eb, CC_ERR_INVALID,
                               "rules:%d: '/' makes a float; use '//' (integer division, rounds down)", line);
        } else if (c == '^') {
            return cc_errf(eb, CC_ERR_INVALID, "rules:%d: '^' makes a float; multiply instead", line);
        } else {
            tok = c;
            i++;
        }
        if (tok && ctor_token(&k, tok, is_nil))
            return cc_errf(eb, CC_ERR_INVALID,
                           "rules:%d: nil as an item of a table constructor ({1, nil, 3}) reserves a slot "
                           "that holds nothing; leave it out or give keys ({[1] = 1, [3] = 3})",
                           line);
    }
    return CC_OK;
}

/* ---- compile and call -------------------------------------------------------- */

static void message(cc_errbuf *eb, const char *prefix, const char *msg)
{
    if (eb) snprintf(eb->msg, sizeof eb->msg, "%s%s", prefix, msg);
}

/* Every reason leaves as one printable ASCII sentence: control and
 * non-ASCII bytes become '?' (reasons go into tx results and JSON, and a
 * cut could split a UTF-8 sequence). Returns rc. */
static cc_err printable(cc_errbuf *eb, cc_err rc)
{
    if (eb && rc != CC_OK)
        for (char *p = eb->msg; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
    return rc;
}

static void collect(cc_rules *r)
{
    size_t before;
    int rounds = 0;
    do {
        before = r->used;
        lua_gc(r->L, LUA_GCCOLLECT);
    } while (r->used < before && ++rounds < GC_ROUNDS);
    r->after_gc = r->used;
}

/* What stopped a run, from what the sandbox saw before what Lua raised. */
static cc_err classify(cc_rules *r, int status, const char *prefix, cc_errbuf *eb)
{
    switch (r->fatal) {
    case FATAL_BUDGET:
        return cc_errf(eb, CC_ERR_TIMEOUT, "custom rule ran past its budget of %llu instructions",
                       (unsigned long long)r->budget);
    case FATAL_MEMORY:
        return cc_errf(eb, CC_ERR_TOO_LARGE, "custom rule needed more than its memory cap of %zu bytes",
                       r->cap);
    case FATAL_STRING:
        return cc_errf(eb, CC_ERR_TOO_LARGE, "custom rule made a string longer than %d bytes",
                       (int)CC_RULES_STRING_MAX);
    case FATAL_DEPTH:
        return cc_errf(eb, CC_ERR_TOO_LARGE, "custom rule nested calls deeper than %d", CALL_DEPTH_MAX);
    case FATAL_NOMEM:
        return cc_errf(eb, CC_ERR_NOMEM, "out of memory running a custom rule");
    case FATAL_HARD:
        return cc_errf(
            eb, CC_ERR_NOMEM,
            "custom rule reached the node's safety limit of %zu bytes (a node fault, not a verdict)",
            r->limit);
    case FATAL_NONE:
        break;
    }
    if (status == LUA_ERRMEM) return cc_errf(eb, CC_ERR_NOMEM, "out of memory running a custom rule");
    if (lua_type(r->L, -1) == LUA_TSTRING) {
        message(eb, prefix, lua_tostring(r->L, -1));
    } else {
        char what[64];
        snprintf(what, sizeof what, "an error object that is a %s", luaL_typename(r->L, -1));
        message(eb, prefix, what);
    }
    return CC_ERR_INVALID;
}

/* End a run: hook off, limits reset for the housekeeping between runs. */
static void end_run(cc_rules *r)
{
    stop_budget(r->L, r);
    r->top_level = false;
    r->refusing = false;
    r->measuring = false;
    r->fatal = FATAL_NONE;
    r->limit = SIZE_MAX;
    lua_settop(r->L, 0);
}

/* Start counting a run: the deterministic measures from zero, the safety net
 * CC_RULES_HARD_FACTOR caps above what the state holds now. */
static void start_run(cc_rules *r)
{
    size_t room = r->cap > SIZE_MAX / CC_RULES_HARD_FACTOR ? SIZE_MAX : r->cap * CC_RULES_HARD_FACTOR;
    r->limit = r->used > SIZE_MAX - room ? SIZE_MAX : r->used + room;
    r->created = 0;
    r->measured = 0;
    r->ticks = r->next_walk = 0;
    r->measuring = true;
}

struct compile_ctx {
    const char *source;
    size_t len;
    uint64_t budget;
    cc_err rc;
    cc_errbuf *eb;
};

static int compile_body(lua_State *L)
{
    struct compile_ctx *c = lua_touserdata(L, 1);
    cc_rules *r = owner(L);
    build_sandbox(L);
    if (collect_base(L, r) != CC_OK) {
        c->rc = cc_errf(c->eb, CC_ERR_NOMEM, "out of memory");
        return 0;
    }
    int status = luaL_loadbufferx(L, c->source, c->len, "=rules", "t");
    if (status == LUA_ERRSYNTAX) {
        message(c->eb, "rules do not compile: ", lua_tostring(L, -1));
        c->rc = CC_ERR_INVALID;
        return 0;
    }
    if (status != LUA_OK) return lua_error(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &main_key);
    if ((c->rc = scan_source(L, c->source, c->len, c->eb)) != CC_OK) return 0;
    start_run(r);
    start_budget(L, r, c->budget);
    run_top_level(L, r);
    stop_budget(L, r);
    r->measuring = false;
    if (lua_getfield(L, -1, "adjudicate") != LUA_TFUNCTION)
        c->rc =
            cc_errf(c->eb, CC_ERR_INVALID, "the rules define no function adjudicate(claim, member, plan)");
    return 0;
}

static void limits_of(const cc_rules_limits *lim, uint64_t *instructions, size_t *memory)
{
    *instructions = lim && lim->instructions ? lim->instructions : CC_RULES_INSTRUCTIONS;
    *memory = lim && lim->memory ? lim->memory : CC_RULES_MEMORY;
}

cc_err cc_rules_compile(const char *source, size_t len, const cc_rules_limits *lim, cc_rules **out,
                        cc_errbuf *eb)
{
    assert(out);
    *out = NULL;
    if (!source) return cc_errf(eb, CC_ERR_INVALID, "no rules source");
    if (len > CC_RULES_SOURCE_MAX)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "the rules are %zu bytes, over the limit of %d", len,
                       (int)CC_RULES_SOURCE_MAX);
    if (len && source[0] == LUA_SIGNATURE[0])
        return cc_errf(eb, CC_ERR_INVALID, "rules must be Lua source text, not a binary chunk");
    cc_rules *r = calloc(1, sizeof *r);
    if (!r) return cc_errf(eb, CC_ERR_NOMEM, "out of memory");
    struct compile_ctx c = {.source = source, .len = len, .rc = CC_OK, .eb = eb};
    limits_of(lim, &c.budget, &r->cap);
    r->limit = r->cap > SIZE_MAX / CC_RULES_HARD_FACTOR ? SIZE_MAX : r->cap * CC_RULES_HARD_FACTOR;
    r->budget = UINT64_MAX;
    cc_err rc;
    r->L = lua_newstate(rules_alloc, r);
    if (!r->L) {
        rc = r->fatal == FATAL_HARD ? cc_errf(eb, CC_ERR_TOO_LARGE, "the memory cap is too small for Lua")
                                    : cc_errf(eb, CC_ERR_NOMEM, "out of memory");
        goto err_free;
    }
    lua_gc(r->L, LUA_GCSTOP); /* collections happen between calls only (see the top of this file) */
    lua_pushcfunction(r->L, compile_body);
    lua_pushlightuserdata(r->L, &c);
    int status = lua_pcall(r->L, 1, 0, 0);
    if (status != LUA_OK || r->fatal)
        rc = classify(r, status, "the rules' top level failed: ", eb);
    else
        rc = c.rc;
    end_run(r);
    if (rc != CC_OK) goto err_close;
    collect(r);
    r->base = r->after_gc;
    *out = r;
    return CC_OK;

err_close:
    lua_close(r->L);
err_free:
    set_free(&r->base_set);
    set_free(&r->walk_set);
    free(r);
    return printable(eb, rc);
}

void cc_rules_free(cc_rules *r)
{
    if (!r) return;
    lua_close(r->L);
    set_free(&r->base_set);
    set_free(&r->walk_set);
    free(r);
}

struct call_ctx {
    const json_t *in[3];
    json_t *out;
    uint64_t budget;
    cc_err rc;
    cc_errbuf *eb;
};

static int call_body(lua_State *L)
{
    struct call_ctx *c = lua_touserdata(L, 1);
    cc_rules *r = owner(L);
    lua_settop(L, 0);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
    for (int i = 0; i < 3; i++) {
        if (c->in[i])
            push_input(L, c->in[i]);
        else
            lua_pushlightuserdata(L, (void *)&null_tag);
    }
    start_budget(L, r, c->budget);
    run_top_level(L, r); /* claim, member, plan, globals */
    if (lua_getfield(L, -1, "adjudicate") != LUA_TFUNCTION) {
        c->rc =
            cc_errf(c->eb, CC_ERR_INVALID, "the rules define no function adjudicate(claim, member, plan)");
        return 0;
    }
    lua_replace(L, -2);
    lua_insert(L, 1);
    lua_call(L, 3, 1);
    stop_budget(L, r);
    struct to_json tj = {.eb = c->eb, .path.root = "result"};
    c->rc = conv(L, 1, 0, NULL, NULL, &c->out, &tj);
    return 0;
}

cc_err cc_rules_call(cc_rules *r, const json_t *claim, const json_t *member, const json_t *plan,
                     const cc_rules_limits *lim, json_t **out, cc_errbuf *eb)
{
    assert(r && out);
    *out = NULL;
    struct call_ctx c = {.in = {claim, member, plan}, .eb = eb};
    limits_of(lim, &c.budget, &r->cap);
    if (r->cap <= r->base)
        return cc_errf(eb, CC_ERR_TOO_LARGE, "the memory cap of %zu bytes is smaller than the loaded rules",
                       r->cap);
    if (r->used > r->after_gc + GC_SLACK) collect(r);
    start_run(r);
    lua_pushcfunction(r->L, call_body);
    lua_pushlightuserdata(r->L, &c);
    int status = lua_pcall(r->L, 1, 0, 0);
    cc_err rc = status != LUA_OK || r->fatal ? classify(r, status, "custom rule error: ", eb) : c.rc;
    end_run(r);
    if (rc != CC_OK) {
        json_decref(c.out);
        c.out = NULL;
        collect(r);
    }
    if (r->used > r->after_gc + GC_SLACK) collect(r);
    *out = c.out;
    return printable(eb, rc);
}

size_t cc_rules_peak_bytes(const cc_rules *r)
{
    return r->peak;
}

uint64_t cc_rules_measured_bytes(const cc_rules *r)
{
    return r->created > r->measured ? r->created : r->measured;
}
