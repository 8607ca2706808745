/* Hostile values at the C boundary that the other C tests leave out: every
 * engine option past its limit (refused before anything is allocated), the
 * struct_size cap of versioned structs, serialized rule sets whose header
 * claims an oversized table, an engine's rule-table room, rule-set count and
 * match-list limits, jobs at the very end of the arena, and an invalid
 * VYRE_BACKEND. docs/SECURITY.md says what each part proves. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

/* A struct_size no header declares: one byte past the cap (4096). */
#define PAST_CAP 4097u

static vyre_rule_set *compile_literals(const char *literal, size_t copies)
{
    vyre_pattern *patterns = calloc(copies, sizeof *patterns);
    vyre_rule_set *rs = NULL;
    size_t i;
    VYRE_CHECK(patterns != NULL);
    for (i = 0; i < copies; i++) {
        patterns[i].bytes = (const uint8_t *)literal;
        patterns[i].len = strlen(literal);
        patterns[i].kind = VYRE_PATTERN_LITERAL;
    }
    VYRE_CHECK_OK(vyre_rule_set_compile(NULL, patterns, copies, &rs));
    free(patterns);
    return rs;
}

static vyre_engine *create_engine(uint64_t arena_bytes, uint64_t rule_table_bytes)
{
    vyre_engine_options opts;
    vyre_engine *engine = NULL;
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    opts.queue_depth = 8;
    opts.max_hits_per_job = 8;
    opts.arena_bytes = arena_bytes;
    opts.rule_table_bytes = rule_table_bytes;
    VYRE_CHECK_OK(vyre_engine_create(&opts, &engine));
    return engine;
}

/* ------------------------------------------------------- VYRE_BACKEND */

/* An unknown VYRE_BACKEND fails an AUTO create with INVALID_ARGUMENT (never
 * a silent fallback); an explicit backend does not read it. */
static void invalid_backend_variable(void)
{
    const char *set = getenv("VYRE_BACKEND");
    char *old = set != NULL ? strdup(set) : NULL;
    vyre_megakernel *mk = (vyre_megakernel *)&mk;
    vyre_megakernel *const mk_before = mk;
    vyre_engine *engine = (vyre_engine *)&engine;
    vyre_engine *const engine_before = engine;
    vyre_megakernel_options opts;

    VYRE_CHECK(setenv("VYRE_BACKEND", "cuda", 1) == 0);
    VYRE_CHECK_STATUS(vyre_megakernel_create(NULL, &mk), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(mk == mk_before);
    vyre_test_message_has("VYRE_BACKEND");
    VYRE_CHECK_STATUS(vyre_engine_create(NULL, &engine), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(engine == engine_before);
    vyre_test_message_has("VYRE_BACKEND");

    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    opts.backend = VYRE_BACKEND_REFERENCE;
    opts.slot_count = 4;
    opts.worker_count = 1;
    mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
    vyre_megakernel_destroy(mk);

    if (old != NULL) {
        VYRE_CHECK(setenv("VYRE_BACKEND", old, 1) == 0);
        free(old);
    } else {
        VYRE_CHECK(unsetenv("VYRE_BACKEND") == 0);
    }
}

/* ---------------------------------------------------- engine options */

static void check_engine_refused(const vyre_engine_options *opts, vyre_status expected, const char *needle)
{
    vyre_engine *engine = (vyre_engine *)&engine; /* a sentinel address */
    vyre_engine *const before = engine;
    VYRE_CHECK_STATUS(vyre_engine_create(opts, &engine), expected);
    VYRE_CHECK(engine == before);
    vyre_test_message_has("vyre_engine_create");
    vyre_test_message_has(needle);
}

/* Every size past its limit is refused with its name in the message. The
 * two products at the end would need about 32 GiB of scan state: they are
 * refused by arithmetic, before any buffer is allocated. */
static void engine_options_past_their_limits(void)
{
    vyre_engine_options base, o;
    VYRE_CHECK_OK(vyre_engine_options_init(&base));

    o = base;
    o.max_hits_per_job = (1u << 24) + 1;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "max_hits_per_job");
    o = base;
    o.part_bytes = 255;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "part_bytes");
    o.part_bytes = (1u << 30) + 1;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "part_bytes");
    o = base;
    o.arena_bytes = VYRE_ENGINE_MAX_ARENA_BYTES + 1;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "arena_bytes");
    o = base;
    o.rule_table_bytes = 1023;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "rule_table_bytes");
    o.rule_table_bytes = (1ull << 32) + 1;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "rule_table_bytes");
    o = base;
    o.reserved = 1;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "reserved");
    o = base;
    o.backend = 99;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "backend");
    o = base;
    o.persistent = UINT32_MAX;
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "persistent");

    o = base;
    o.queue_depth = VYRE_ENGINE_MAX_QUEUE_DEPTH;
    o.max_hits_per_job = 1u << 16; /* 2^32 hit records */
    check_engine_refused(&o, VYRE_E_INVALID_ARGUMENT, "hit records");
    o.max_hits_per_job = (1u << 16) - 1; /* fits 32 bits, its scan state does not */
    check_engine_refused(&o, VYRE_E_OUT_OF_RANGE, "scan state");
}

/* ------------------------------------------------------- struct_size */

/* A struct_size past 4096 is refused for inputs (even with a zero tail)
 * and outputs (before anything is written); 4096 itself is accepted. */
static void struct_sizes_past_the_cap(void)
{
    unsigned char *big = calloc(1, 2 * PAST_CAP);
    vyre_engine_options eo;
    vyre_megakernel_options mo;
    vyre_rule_set_options ro;
    vyre_engine *engine = NULL;
    vyre_megakernel *mk = NULL;
    vyre_rule_set *rs = NULL;
    uint32_t size = PAST_CAP;
    size_t i;

    VYRE_CHECK(big != NULL);
    VYRE_CHECK_OK(vyre_engine_options_init(&eo));
    eo.struct_size = PAST_CAP;
    memcpy(big, &eo, sizeof eo);
    VYRE_CHECK_STATUS(vyre_engine_create((const vyre_engine_options *)(void *)big, &engine),
                      VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK(engine == NULL);

    memset(big, 0, 2 * PAST_CAP);
    VYRE_CHECK_OK(vyre_megakernel_options_init(&mo));
    mo.struct_size = PAST_CAP;
    memcpy(big, &mo, sizeof mo);
    VYRE_CHECK_STATUS(vyre_megakernel_create((const vyre_megakernel_options *)(void *)big, &mk),
                      VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK(mk == NULL);

    memset(big, 0, 2 * PAST_CAP);
    VYRE_CHECK_OK(vyre_rule_set_options_init(&ro));
    ro.struct_size = PAST_CAP;
    memcpy(big, &ro, sizeof ro);
    VYRE_CHECK_STATUS(vyre_rule_set_compile((const vyre_rule_set_options *)(void *)big, NULL, 0, &rs),
                      VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK(rs == NULL);

    /* Outputs: nothing past struct_size is written, and nothing at all on
     * failure. */
    rs = compile_literals("key", 1);
    engine = create_engine(1024, 0);
    mk = vyre_test_create(VYRE_BACKEND_AUTO, 4, 1, 4, 1, 4);
    memset(big, 0xEE, 2 * PAST_CAP);
    memcpy(big, &size, sizeof size);
    VYRE_CHECK_STATUS(vyre_rule_set_get_info(rs, (vyre_rule_set_info *)(void *)big), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_engine_get_info(engine, (vyre_engine_info *)(void *)big), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(mk, (struct vyre_megakernel_stats *)(void *)big),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_device_get_info(0, (vyre_device_info *)(void *)big), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    for (i = sizeof size; i < 2 * PAST_CAP; i++) {
        VYRE_CHECK(big[i] == 0xEE);
    }
    size = PAST_CAP - 1;
    memcpy(big, &size, sizeof size);
    VYRE_CHECK_OK(vyre_rule_set_get_info(rs, (vyre_rule_set_info *)(void *)big));
    for (i = sizeof(vyre_rule_set_info); i < 2 * PAST_CAP; i++) {
        VYRE_CHECK(big[i] == 0xEE);
    }
    vyre_megakernel_destroy(mk);
    vyre_engine_destroy(engine);
    vyre_rule_set_destroy(rs);
    free(big);
}

/* ------------------------------------------------ forged rule sets */

static void put_le32(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
    at[2] = (uint8_t)(value >> 16);
    at[3] = (uint8_t)(value >> 24);
}

/* Header fields (docs/RULES.md, "Serialization"). */
enum { AT_PATTERNS = 16, AT_STATES = 20, AT_CLASSES = 24, AT_MATCH_IDS = 28 };

/* Serialized rule sets whose header claims counts past the limits, or a
 * table of gigabytes: refused with VYRE_E_PROTOCOL from the header alone
 * (the counts are checked before anything is allocated from them). */
static void forged_headers_claiming_oversized_tables(void)
{
    static const struct {
        unsigned at[2];
        uint32_t value[2];
        const char *needle;
    } forgeries[] = {
        {{AT_STATES, AT_STATES}, {VYRE_RULE_SET_MAX_STATES + 1, VYRE_RULE_SET_MAX_STATES + 1}, "state_count"},
        {{AT_STATES, AT_STATES}, {UINT32_MAX, UINT32_MAX}, "state_count"},
        {{AT_CLASSES, AT_CLASSES}, {257, 257}, "class_count"},
        {{AT_PATTERNS, AT_PATTERNS}, {VYRE_RULE_SET_MAX_PATTERNS + 1, VYRE_RULE_SET_MAX_PATTERNS + 1}, "pattern_count"},
        /* 2^22 states x 257 columns x 4 bytes: 4 GiB of transitions. */
        {{AT_STATES, AT_CLASSES}, {VYRE_RULE_SET_MAX_STATES, 256}, "exceeds"},
        {{AT_MATCH_IDS, AT_MATCH_IDS}, {UINT32_MAX, UINT32_MAX}, "exceeds"},
        /* Within every limit, but longer than the bytes given. */
        {{AT_STATES, AT_STATES}, {100000, 100000}, "truncated"},
    };
    vyre_rule_set *rs = compile_literals("key", 1);
    size_t needed = 0, i;
    uint8_t *good, *bad;

    VYRE_CHECK_STATUS(vyre_rule_set_serialize(rs, NULL, 0, &needed), VYRE_E_BUFFER_TOO_SMALL);
    good = malloc(needed);
    bad = malloc(needed);
    VYRE_CHECK(good != NULL && bad != NULL);
    VYRE_CHECK_OK(vyre_rule_set_serialize(rs, good, needed, NULL));
    for (i = 0; i < sizeof forgeries / sizeof forgeries[0]; i++) {
        vyre_rule_set *out = (vyre_rule_set *)&out;
        vyre_rule_set *const before = out;
        memcpy(bad, good, needed);
        put_le32(bad + forgeries[i].at[0], forgeries[i].value[0]);
        put_le32(bad + forgeries[i].at[1], forgeries[i].value[1]);
        VYRE_CHECK_STATUS(vyre_rule_set_deserialize(bad, needed, &out), VYRE_E_PROTOCOL);
        VYRE_CHECK(out == before);
        vyre_test_message_has(forgeries[i].needle);
    }
    free(bad);
    free(good);
    vyre_rule_set_destroy(rs);
}

/* ------------------------------------------------- engine rule limits */

/* The rule buffer fills up: the next load fails with OUT_OF_MEMORY and
 * takes no id; loaded sets keep working; ids never assigned are NOT_FOUND. */
static void rule_table_room_runs_out_cleanly(void)
{
    vyre_engine *engine = create_engine(1024, 4096);
    vyre_rule_set *rs = compile_literals("ab", 1);
    uint32_t id = 0, loaded = 0;
    vyre_status st;
    vyre_completion done[4];
    vyre_hit hits[8];
    size_t n = 0, stored = 0;

    for (;;) {
        id = UINT32_MAX;
        st = vyre_engine_load_rule_set(engine, rs, &id);
        if (st != VYRE_OK) {
            break;
        }
        VYRE_CHECK(id == loaded);
        loaded++;
        VYRE_CHECK(loaded < 100);
    }
    VYRE_CHECK(st == VYRE_E_OUT_OF_MEMORY && loaded >= 1);
    VYRE_CHECK(id == UINT32_MAX);
    vyre_test_message_has("rule_table_bytes");

    VYRE_CHECK_OK(vyre_engine_write(engine, 0, "xabxab", 6));
    {
        vyre_work_item good = {0, 6, 0, 0, 1, 0, 0};
        vyre_work_item unknown = {0, 6, loaded, 0, 2, 0, 0};
        VYRE_CHECK_OK(vyre_engine_enqueue(engine, &good));
        VYRE_CHECK_OK(vyre_engine_enqueue(engine, &unknown));
    }
    while (n < 2) {
        size_t got = 0;
        VYRE_CHECK_OK(vyre_engine_wait(engine, done + n, 2 - n, hits + stored, 8 - stored, &got, NULL,
                                       VYRE_WAIT_FOREVER));
        for (size_t k = n; k < n + got; k++) {
            stored += done[k].hits_stored;
        }
        n += got;
    }
    for (size_t k = 0; k < 2; k++) {
        if (done[k].user_data == 1) {
            VYRE_CHECK(done[k].status == VYRE_OK && done[k].hit_count == 2);
        } else {
            VYRE_CHECK(done[k].user_data == 2 && done[k].status == VYRE_E_NOT_FOUND);
        }
    }
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

/* A set where more than VYRE_TABLE_MAX_MATCHES_PER_STATE patterns end at
 * one byte is refused at load (a lane must report a whole list within a
 * slice); exactly that many loads. Then VYRE_ENGINE_MAX_RULE_SETS sets
 * load, and the next is refused. */
static void match_list_and_rule_set_count_limits(void)
{
    vyre_engine *engine = create_engine(1024, 16u << 20);
    vyre_rule_set *too_many = compile_literals("k", VYRE_TABLE_MAX_MATCHES_PER_STATE + 1);
    vyre_rule_set *just_enough = compile_literals("k", VYRE_TABLE_MAX_MATCHES_PER_STATE);
    vyre_rule_set *small = compile_literals("a", 1);
    uint32_t id = UINT32_MAX, i;

    VYRE_CHECK_STATUS(vyre_engine_load_rule_set(engine, too_many, &id), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("VYRE_TABLE_MAX_MATCHES_PER_STATE");
    VYRE_CHECK(id == UINT32_MAX);
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, just_enough, &id));
    VYRE_CHECK(id == 0);
    for (i = 1; i < VYRE_ENGINE_MAX_RULE_SETS; i++) {
        VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, small, &id));
        VYRE_CHECK(id == i);
    }
    id = UINT32_MAX;
    VYRE_CHECK_STATUS(vyre_engine_load_rule_set(engine, small, &id), VYRE_E_OUT_OF_MEMORY);
    vyre_test_message_has("VYRE_ENGINE_MAX_RULE_SETS");
    VYRE_CHECK(id == UINT32_MAX);
    vyre_rule_set_destroy(small);
    vyre_rule_set_destroy(just_enough);
    vyre_rule_set_destroy(too_many);
    vyre_engine_destroy(engine);
}

/* --------------------------------------------- jobs at the arena's end */

/* Ranges that touch or pass the end of the arena, and ids that name no
 * rule set: each job is accepted and completes exactly once, with its
 * matches or its error. */
static void jobs_at_the_end_of_the_arena(void)
{
    enum { ARENA = 1024, JOBS = 7 };
    vyre_engine *engine = create_engine(ARENA, 0);
    vyre_rule_set *rs = compile_literals("ab", 1);
    uint32_t id = 0;
    vyre_completion done[JOBS];
    vyre_hit hits[JOBS * 8];
    size_t n = 0, stored = 0, k;
    int seen[JOBS] = {0};

    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    VYRE_CHECK_OK(vyre_engine_write(engine, ARENA - 2, "ab", 2));
    VYRE_CHECK_STATUS(vyre_engine_write(engine, ARENA - 1, "ab", 2), VYRE_E_OUT_OF_RANGE);
    {
        const vyre_work_item items[JOBS] = {
            {ARENA, 0, id, 0, 0, 0, 0},                          /* empty, at the very end */
            {ARENA - 2, 2, id, 0, 1, 0, 0},                      /* ends at the very end */
            {ARENA - 1, 2, id, 0, 2, 0, 0},                      /* one byte past it */
            {ARENA, 1, id, 0, 3, 0, 0},                          /* starts at the end */
            {UINT64_MAX, 0, id, 0, 4, 0, 0},                     /* empty, far past it */
            {0, VYRE_ENGINE_MAX_JOB_BYTES + 1, id, 0, 5, 0, 0},  /* 4 GiB */
            {0, 2, UINT32_MAX, 0, 6, 0, 0},                      /* no such rule set */
        };
        size_t accepted = 0;
        VYRE_CHECK_OK(vyre_engine_enqueue_batch(engine, items, JOBS, &accepted));
        VYRE_CHECK(accepted == JOBS);
    }
    while (n < JOBS) {
        size_t got = 0, hits_got = 0;
        const vyre_hit *call_hits = hits + stored; /* first_hit counts from here */
        VYRE_CHECK_OK(vyre_engine_wait(engine, done, JOBS, hits + stored, JOBS * 8 - stored, &got, &hits_got,
                                       VYRE_WAIT_FOREVER));
        for (k = 0; k < got; k++) {
            const vyre_completion *c = &done[k];
            VYRE_CHECK(c->user_data < JOBS && !seen[c->user_data]);
            seen[c->user_data] = 1;
            switch (c->user_data) {
            case 0:
                VYRE_CHECK(c->status == VYRE_OK && c->hit_count == 0);
                break;
            case 1:
                VYRE_CHECK(c->status == VYRE_OK && c->hit_count == 1 && c->hits_stored == 1);
                VYRE_CHECK(call_hits[c->first_hit].end_offset == 2 && call_hits[c->first_hit].pattern_id == 0);
                break;
            case 6:
                VYRE_CHECK(c->status == VYRE_E_NOT_FOUND && c->hit_count == 0);
                break;
            default:
                VYRE_CHECK(c->status == VYRE_E_OUT_OF_RANGE && c->hit_count == 0);
            }
        }
        n += got;
        stored += hits_got;
    }
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

int main(void)
{
    invalid_backend_variable(); /* first: no other thread reads the environment yet */
    engine_options_past_their_limits();
    struct_sizes_past_the_cap();
    forged_headers_claiming_oversized_tables();
    rule_table_room_runs_out_cleanly();
    match_list_and_rule_set_count_limits();
    jobs_at_the_end_of_the_arena();
    printf("test_hostile: ok\n");
    return 0;
}
