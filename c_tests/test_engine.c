/* The scanning engine through the C API: layouts pinned, jobs from the
 * arena pointer and from vyre_engine_write scanned exactly like the CPU
 * oracle (vyre_rule_set_scan_cpu), several threads enqueueing at once,
 * every error a job can end in, and bad inputs to every vyre_engine_*
 * function (each must return its documented code and name the problem). */
#undef NDEBUG
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

/* Layout, mirrored by src/ffi/engine.rs. */
_Static_assert(sizeof(vyre_work_item) == 40, "vyre_work_item size");
_Static_assert(offsetof(vyre_work_item, input_len) == 8, "vyre_work_item.input_len");
_Static_assert(offsetof(vyre_work_item, rule_set_id) == 16, "vyre_work_item.rule_set_id");
_Static_assert(offsetof(vyre_work_item, user_data) == 24, "vyre_work_item.user_data");
_Static_assert(offsetof(vyre_work_item, context_before) == 32, "vyre_work_item.context_before");
_Static_assert(offsetof(vyre_work_item, context_after) == 36, "vyre_work_item.context_after");
_Static_assert(sizeof(vyre_completion) == 32, "vyre_completion size");
_Static_assert(offsetof(vyre_completion, first_hit) == 16, "vyre_completion.first_hit");
_Static_assert(offsetof(vyre_completion, hits_stored) == 24, "vyre_completion.hits_stored");
_Static_assert(offsetof(vyre_completion, status) == 28, "vyre_completion.status");
_Static_assert(sizeof(vyre_hit) == 24, "vyre_hit size");
_Static_assert(offsetof(vyre_hit, end_offset) == 8, "vyre_hit.end_offset");
_Static_assert(offsetof(vyre_hit, pattern_id) == 16, "vyre_hit.pattern_id");
_Static_assert(sizeof(vyre_engine_options) == 56, "vyre_engine_options size");
_Static_assert(offsetof(vyre_engine_options, arena_bytes) == 32, "vyre_engine_options.arena_bytes");
_Static_assert(offsetof(vyre_engine_options, rule_table_bytes) == 40, "vyre_engine_options.rule_table_bytes");
_Static_assert(sizeof(vyre_engine_info) == 296, "vyre_engine_info size");
_Static_assert(offsetof(vyre_engine_info, arena_bytes) == 24, "vyre_engine_info.arena_bytes");
_Static_assert(offsetof(vyre_engine_info, device_name) == 40, "vyre_engine_info.device_name");

#define MAX_HITS 256
#define WAIT_MS 60000u

static vyre_rule_set *compile_secrets(void)
{
    static const char *const texts[] = {"AKIA", "ghp_", "key", "ey"};
    vyre_pattern patterns[5];
    for (int i = 0; i < 4; i++) {
        patterns[i].bytes = (const uint8_t *)texts[i];
        patterns[i].len = strlen(texts[i]);
        patterns[i].kind = VYRE_PATTERN_LITERAL;
    }
    patterns[4].bytes = (const uint8_t *)"x[0-9]+y";
    patterns[4].len = strlen("x[0-9]+y");
    patterns[4].kind = VYRE_PATTERN_REGEX;
    vyre_rule_set *rs = NULL;
    VYRE_CHECK_OK(vyre_rule_set_compile(NULL, patterns, 5, &rs));
    return rs;
}

/* CPU oracle: every (end, pattern) of `data`, in the engine's order. */
struct oracle {
    size_t count;
    uint64_t ends[MAX_HITS];
    uint32_t patterns[MAX_HITS];
};

static int record(void *ctx, uint32_t pattern_id, uint64_t end_offset)
{
    struct oracle *o = ctx;
    VYRE_CHECK(o->count < MAX_HITS);
    o->ends[o->count] = end_offset;
    o->patterns[o->count] = pattern_id;
    o->count++;
    return 0;
}

static vyre_engine *create_engine(uint32_t queue_depth, uint64_t arena_bytes, uint32_t max_hits)
{
    vyre_engine_options opts;
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    opts.queue_depth = queue_depth;
    opts.arena_bytes = arena_bytes;
    opts.max_hits_per_job = max_hits;
    opts.part_bytes = 256; /* small parts: most jobs here are split */
    vyre_engine *engine = NULL;
    VYRE_CHECK_OK(vyre_engine_create(&opts, &engine));
    VYRE_CHECK(engine != NULL);
    return engine;
}

/* Wait for exactly one completion and return it, with its hits. */
static vyre_completion wait_one(vyre_engine *engine, vyre_hit *hits)
{
    vyre_completion c;
    size_t n = 0, stored = 0;
    VYRE_CHECK_OK(vyre_engine_wait(engine, &c, 1, hits, MAX_HITS, &n, &stored, WAIT_MS));
    VYRE_CHECK(n == 1);
    VYRE_CHECK(stored == c.hits_stored);
    VYRE_CHECK(c.first_hit == 0);
    return c;
}

static void scans_match_the_cpu_oracle(void)
{
    vyre_engine *engine = create_engine(8, 1 << 16, MAX_HITS);
    vyre_rule_set *rs = compile_secrets();
    uint32_t id = 99;
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    VYRE_CHECK(id == 0);

    vyre_engine_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    VYRE_CHECK_OK(vyre_engine_get_info(engine, &info));
    VYRE_CHECK(info.queue_depth == 8 && info.max_hits_per_job == MAX_HITS && info.part_bytes == 256);
    VYRE_CHECK(info.arena_bytes == 1 << 16 && info.lane_count > 0 && info.device_name[0] != 0);
    VYRE_CHECK(memchr(info.device_name, 0, sizeof info.device_name) != NULL);

    uint8_t *arena = NULL;
    uint64_t arena_len = 0;
    VYRE_CHECK_OK(vyre_engine_arena(engine, &arena, &arena_len));
    VYRE_CHECK(arena != NULL && arena_len == 1 << 16);

    /* 2 KiB of text with tokens across the 256-byte part boundaries. */
    char text[2048];
    for (size_t i = 0; i < sizeof text; i++) text[i] = "abcdefg hijk\n"[i % 13];
    for (size_t at = 250; at + 24 < sizeof text; at += 253) memcpy(text + at, "AKIAkey x12345y ghp_ey", 22);

    for (int way = 0; way < 2; way++) {
        uint64_t offset = way == 0 ? 3 : 5001; /* odd offsets: bytes not word-aligned */
        if (way == 0) {
            memcpy(arena + offset, text, sizeof text); /* in place */
        } else {
            VYRE_CHECK_OK(vyre_engine_write(engine, offset, text, sizeof text));
        }
        vyre_work_item item = {offset, sizeof text, id, 0, 1000u + (uint64_t)way, 0, 0};
        VYRE_CHECK_OK(vyre_engine_enqueue(engine, &item));
        vyre_hit hits[MAX_HITS];
        vyre_completion c = wait_one(engine, hits);
        struct oracle expected = {0};
        VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, (const uint8_t *)text, sizeof text, record, &expected));
        VYRE_CHECK(expected.count > 20);
        VYRE_CHECK(c.user_data == item.user_data && c.status == VYRE_OK);
        VYRE_CHECK(c.hit_count == expected.count && c.hits_stored == expected.count);
        for (size_t i = 0; i < expected.count; i++) {
            VYRE_CHECK(hits[i].user_data == item.user_data);
            VYRE_CHECK(hits[i].end_offset == expected.ends[i]);
            VYRE_CHECK(hits[i].pattern_id == expected.patterns[i]);
        }
    }

    /* Every failure is one completion with its status. */
    vyre_work_item bad[3] = {
        {arena_len - 10, 11, id, 0, 1, 0, 0}, /* past the arena */
        {0, 10, id + 5, 0, 2, 0, 0},          /* no such rule set */
        {3, sizeof text, id, 0, 3, 0, 0},     /* fine, but too many hits for 4 */
    };
    size_t accepted = 0;
    VYRE_CHECK_OK(vyre_engine_enqueue_batch(engine, bad, 3, &accepted));
    VYRE_CHECK(accepted == 3);
    vyre_status seen[4] = {0};
    for (int i = 0; i < 3; i++) {
        vyre_hit hits[MAX_HITS];
        vyre_completion c = wait_one(engine, hits);
        VYRE_CHECK(c.user_data >= 1 && c.user_data <= 3);
        seen[c.user_data] = c.status;
    }
    VYRE_CHECK(seen[1] == VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK(seen[2] == VYRE_E_NOT_FOUND);
    VYRE_CHECK(seen[3] == VYRE_OK);

    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

/* An engine of 4 hits per job whose arena starts with "keykeykeykey":
 * "key" and "ey" each end at 3, 6, 9 and 12. */
static vyre_engine *engine_over_keys(vyre_rule_set **rs, uint32_t *id)
{
    vyre_engine *engine = create_engine(4, 4096, 4);
    *rs = compile_secrets();
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, *rs, id));
    VYRE_CHECK_OK(vyre_engine_write(engine, 0, "keykeykeykey", 12));
    return engine;
}

static void truncation_reports_the_true_count(void)
{
    vyre_rule_set *rs = NULL;
    uint32_t id = 0;
    vyre_engine *engine = engine_over_keys(&rs, &id);
    vyre_work_item item = {0, 12, id, 0, 7, 0, 0};
    VYRE_CHECK_OK(vyre_engine_enqueue(engine, &item));
    /* A hits array smaller than the job's stored hits is refused... */
    vyre_completion c;
    vyre_hit hits[MAX_HITS];
    size_t n = 99, stored = 99;
    vyre_status status;
    do {
        status = vyre_engine_poll(engine, &c, 1, hits, 2, &n, &stored);
    } while (status == VYRE_OK && n == 0);
    VYRE_CHECK(status == VYRE_E_BUFFER_TOO_SMALL && n == 0);
    vyre_test_message_has("max_hits_per_job");
    /* ...and a large enough one gets 4 of the 8 matches ("key" 4x, "ey" 4x). */
    c = wait_one(engine, hits);
    VYRE_CHECK(c.status == VYRE_E_HITS_TRUNCATED && c.hit_count == 8 && c.hits_stored == 4);
    VYRE_CHECK(strcmp(vyre_status_str(VYRE_E_HITS_TRUNCATED), "unknown status") != 0);
    VYRE_CHECK_STATUS(vyre_engine_wait(engine, &c, 1, hits, MAX_HITS, &n, NULL, 10), VYRE_E_TIMEOUT);
    VYRE_CHECK(n == 0);
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

/* A stream cut into overlapping jobs: each job's contexts leave out the
 * matches its neighbours report, counts included. */
static void contexts_report_each_match_once(void)
{
    vyre_rule_set *rs = NULL;
    uint32_t id = 0;
    vyre_engine *engine = engine_over_keys(&rs, &id);
    /* Bytes [0, 8) own (0, 6], bytes [4, 12) own (6, 12]. The second job's
     * context, "ey" at [4, 6), ends a match the first job reports. */
    vyre_work_item jobs[2] = {{0, 8, id, 0, 1, 0, 2}, {4, 8, id, 0, 2, 2, 0}};
    size_t accepted = 0;
    VYRE_CHECK_OK(vyre_engine_enqueue_batch(engine, jobs, 2, &accepted));
    VYRE_CHECK(accepted == 2);
    uint64_t count[3] = {0, 0, 0};
    for (int i = 0; i < 2; i++) {
        vyre_hit hits[MAX_HITS];
        vyre_completion c = wait_one(engine, hits);
        VYRE_CHECK(c.status == VYRE_OK && (c.user_data == 1 || c.user_data == 2));
        count[c.user_data] = c.hit_count;
        for (uint32_t k = 0; k < c.hits_stored; k++) {
            uint64_t end = hits[c.first_hit + k].end_offset; /* from the job's first byte */
            VYRE_CHECK(c.user_data == 1 ? end > 0 && end <= 6 : end > 2 && end <= 8);
        }
    }
    VYRE_CHECK(count[1] == 4 && count[2] == 4);
    vyre_work_item too_much = {0, 8, id, 0, 3, 5, 4};
    VYRE_CHECK_STATUS(vyre_engine_enqueue(engine, &too_much), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("context");
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

struct producer {
    vyre_engine *engine;
    uint32_t id;
    unsigned jobs;
    unsigned first;
};

/* Enqueue `jobs` jobs, retrying on QUEUE_FULL (another thread drains). */
static void *produce(void *arg)
{
    struct producer *p = arg;
    for (unsigned i = 0; i < p->jobs; i++) {
        vyre_work_item item = {(uint64_t)(i % 16) * 64, 64, p->id, 0, p->first + i, 0, 0};
        vyre_status status;
        while ((status = vyre_engine_enqueue(p->engine, &item)) == VYRE_E_QUEUE_FULL) {
        }
        VYRE_CHECK_OK(status);
    }
    return NULL;
}

static void threads_enqueue_and_every_job_completes_once(void)
{
    enum { THREADS = 4 };
    unsigned per_thread = vyre_test_scaled(300, 30);
    vyre_engine *engine = create_engine(32, 4096, 64);
    vyre_rule_set *rs = compile_secrets();
    uint32_t id = 0;
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    char block[1024];
    for (size_t i = 0; i < sizeof block; i++) block[i] = "key-AKIA-"[i % 9];
    VYRE_CHECK_OK(vyre_engine_write(engine, 0, block, sizeof block));
    unsigned expected[16];
    for (int j = 0; j < 16; j++) {
        struct oracle o = {0};
        VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, (const uint8_t *)block + j * 64, 64, record, &o));
        expected[j] = (unsigned)o.count;
    }
    pthread_t threads[THREADS];
    struct producer producers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        producers[t] = (struct producer){engine, id, per_thread, (unsigned)t * per_thread};
        VYRE_CHECK(pthread_create(&threads[t], NULL, produce, &producers[t]) == 0);
    }
    unsigned total = THREADS * per_thread;
    unsigned char *seen = calloc(total, 1);
    VYRE_CHECK(seen != NULL);
    for (unsigned got = 0; got < total;) {
        vyre_completion cs[16];
        vyre_hit hits[16 * 64];
        size_t n = 0;
        VYRE_CHECK_OK(vyre_engine_wait(engine, cs, 16, hits, 16 * 64, &n, NULL, WAIT_MS));
        for (size_t i = 0; i < n; i++) {
            VYRE_CHECK(cs[i].user_data < total && !seen[cs[i].user_data]);
            seen[cs[i].user_data] = 1;
            VYRE_CHECK(cs[i].status == VYRE_OK);
            VYRE_CHECK(cs[i].hit_count == expected[cs[i].user_data % per_thread % 16]);
        }
        got += (unsigned)n;
    }
    for (int t = 0; t < THREADS; t++) VYRE_CHECK(pthread_join(threads[t], NULL) == 0);
    free(seen);
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine);
}

static void bad_inputs_are_refused(void)
{
    vyre_engine *engine = NULL;
    vyre_engine_options opts;
    VYRE_CHECK_STATUS(vyre_engine_options_init(NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    VYRE_CHECK_STATUS(vyre_engine_create(&opts, NULL), VYRE_E_NULL_POINTER);
    opts.persistent = 9;
    VYRE_CHECK_STATUS(vyre_engine_create(&opts, &engine), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("VYRE_PERSISTENT_AUTO");
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    opts.struct_size = 8;
    VYRE_CHECK_STATUS(vyre_engine_create(&opts, &engine), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    opts.queue_depth = VYRE_ENGINE_MAX_QUEUE_DEPTH + 1;
    VYRE_CHECK_STATUS(vyre_engine_create(&opts, &engine), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("queue_depth");
    VYRE_CHECK_OK(vyre_engine_options_init(&opts));
    opts.flags = 1;
    VYRE_CHECK_STATUS(vyre_engine_create(&opts, &engine), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(engine == NULL);
    vyre_engine_destroy(NULL); /* no-op */

    engine = create_engine(2, 1024, 8);
    vyre_rule_set *rs = compile_secrets();
    uint32_t id = 0;
    uint8_t *base = NULL;
    uint64_t len = 0;
    VYRE_CHECK_STATUS(vyre_engine_load_rule_set(NULL, rs, &id), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_load_rule_set(engine, NULL, &id), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_load_rule_set(engine, rs, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    VYRE_CHECK_STATUS(vyre_engine_arena(engine, NULL, &len), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_arena(NULL, &base, &len), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_write(engine, 1020, "12345", 5), VYRE_E_OUT_OF_RANGE);
    vyre_test_message_has("arena");
    VYRE_CHECK_STATUS(vyre_engine_write(engine, UINT64_MAX, "1", 1), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_engine_write(engine, 0, NULL, 3), VYRE_E_NULL_POINTER);
    VYRE_CHECK_OK(vyre_engine_write(engine, 0, NULL, 0));
    VYRE_CHECK_STATUS(vyre_engine_enqueue(engine, NULL), VYRE_E_NULL_POINTER);
    vyre_work_item flagged = {0, 1, id, 4, 0, 0, 0};
    VYRE_CHECK_STATUS(vyre_engine_enqueue(engine, &flagged), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("flags");
    VYRE_CHECK_STATUS(vyre_engine_enqueue_batch(engine, NULL, 2, NULL), VYRE_E_NULL_POINTER);
    /* A queue of 2: the third job waits for room. */
    vyre_work_item items[3] = {{0, 4, id, 0, 1, 0, 0}, {0, 4, id, 0, 2, 0, 0}, {0, 4, id, 0, 3, 0, 0}};
    size_t accepted = 99;
    VYRE_CHECK_STATUS(vyre_engine_enqueue_batch(engine, items, 3, &accepted), VYRE_E_QUEUE_FULL);
    VYRE_CHECK(accepted == 2);
    vyre_test_message_has("item 2");
    size_t n = 0;
    vyre_completion cs[4];
    VYRE_CHECK_STATUS(vyre_engine_poll(engine, cs, 4, NULL, 0, NULL, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_poll(engine, NULL, 4, NULL, 0, &n, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_poll(NULL, cs, 4, NULL, 0, &n, NULL), VYRE_E_NULL_POINTER);
    vyre_engine_info info;
    info.struct_size = 4;
    VYRE_CHECK_STATUS(vyre_engine_get_info(engine, &info), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_engine_get_info(engine, NULL), VYRE_E_NULL_POINTER);
    vyre_rule_set_destroy(rs);
    vyre_engine_destroy(engine); /* with jobs in flight: must not hang */
}

int main(void)
{
    scans_match_the_cpu_oracle();
    truncation_reports_the_true_count();
    contexts_report_each_match_once();
    threads_enqueue_and_every_job_completes_once();
    bad_inputs_are_refused();
    printf("test_engine: ok\n");
    return 0;
}
