/* The pump through the C API: layouts pinned; files (by path and by fd,
 * straddling small chunks), a pipe fed in pieces, and failing requests
 * among them, every match checked against the CPU oracle
 * (vyre_rule_set_scan_cpu) and every result's range checked to tile its
 * file; bad inputs to every vyre_pump_* function (each must return its
 * documented code and name the problem). Exits 77 where io_uring is not
 * available. */
#undef NDEBUG
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vyre.h>

#include "vyre_test.h"
#include "pump_test.h"

/* Layout, mirrored by src/ffi/pump.rs. */
_Static_assert(sizeof(vyre_pump_options) == 40, "vyre_pump_options size");
_Static_assert(offsetof(vyre_pump_options, chunk_bytes) == 16, "vyre_pump_options.chunk_bytes");
_Static_assert(offsetof(vyre_pump_options, arena_bytes) == 32, "vyre_pump_options.arena_bytes");
_Static_assert(sizeof(vyre_pump_info) == 72, "vyre_pump_info size");
_Static_assert(offsetof(vyre_pump_info, requests_in_flight) == 40, "vyre_pump_info.requests_in_flight");
_Static_assert(sizeof(vyre_pump_result) == 56, "vyre_pump_result size");
_Static_assert(offsetof(vyre_pump_result, first_hit) == 32, "vyre_pump_result.first_hit");
_Static_assert(offsetof(vyre_pump_result, status) == 44, "vyre_pump_result.status");
_Static_assert(offsetof(vyre_pump_result, flags) == 48, "vyre_pump_result.flags");
/* Mirrored by src/ffi/engine_io.rs. */
_Static_assert(sizeof(vyre_read_request) == 32, "vyre_read_request size");
_Static_assert(offsetof(vyre_read_request, byte_count) == 12, "vyre_read_request.byte_count");
_Static_assert(offsetof(vyre_read_request, file_offset) == 16, "vyre_read_request.file_offset");
_Static_assert(offsetof(vyre_read_request, flags) == 28, "vyre_read_request.flags");
_Static_assert(sizeof(vyre_read_ticket) == 8, "vyre_read_ticket size");
_Static_assert(offsetof(vyre_read_ticket, generation) == 4, "vyre_read_ticket.generation");
_Static_assert(sizeof(vyre_read_outcome) == 8, "vyre_read_outcome size");
_Static_assert(offsetof(vyre_read_outcome, value) == 4, "vyre_read_outcome.value");

#define MAX_HITS 65536u
#define WAIT_MS 60000u
#define FILES 12
#define PIPE_BYTES 20000u
#define CHUNK 1024u

/* Per request: matches (end, pattern) and the bytes its results covered. */
struct outcome {
    size_t count, cap;
    uint64_t *ends;
    uint32_t *patterns;
    uint64_t covered;       /* sum of the OK chunk results' lengths */
    int32_t status;         /* of the last result */
    int done;
};

static struct outcome outcomes[FILES + 8];

static void add_match(struct outcome *o, uint64_t end, uint32_t pattern)
{
    if (o->count == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->ends = realloc(o->ends, o->cap * sizeof *o->ends);
        o->patterns = realloc(o->patterns, o->cap * sizeof *o->patterns);
        VYRE_CHECK(o->ends && o->patterns);
    }
    o->ends[o->count] = end;
    o->patterns[o->count] = pattern;
    o->count++;
}

static int on_cpu_match(void *ctx, uint32_t pattern_id, uint64_t end_offset)
{
    add_match(ctx, end_offset, pattern_id);
    return 0;
}

/* Sort by (end, pattern): chunk results arrive in any order. */
static void sort_matches(struct outcome *o)
{
    for (size_t i = 1; i < o->count; i++) {
        for (size_t j = i; j > 0; j--) {
            uint64_t e0 = o->ends[j - 1], e1 = o->ends[j];
            uint32_t p0 = o->patterns[j - 1], p1 = o->patterns[j];
            if (e0 < e1 || (e0 == e1 && p0 <= p1)) {
                break;
            }
            o->ends[j - 1] = e1, o->ends[j] = e0;
            o->patterns[j - 1] = p1, o->patterns[j] = p0;
        }
    }
}

static void free_outcome(struct outcome *o)
{
    free(o->ends);
    free(o->patterns);
    memset(o, 0, sizeof *o);
}

static vyre_rule_set *compile_rules(void)
{
    static const char *const texts[] = {"ab", "bca", "\\bc[ab]{0,5}\\b", "[abc]{3}$", "^a"};
    static const uint32_t kinds[] = {VYRE_PATTERN_LITERAL, VYRE_PATTERN_LITERAL, VYRE_PATTERN_REGEX,
                                     VYRE_PATTERN_REGEX, VYRE_PATTERN_REGEX};
    vyre_pattern patterns[5];
    for (int i = 0; i < 5; i++) {
        patterns[i].bytes = (const uint8_t *)texts[i];
        patterns[i].len = strlen(texts[i]);
        patterns[i].kind = kinds[i];
    }
    vyre_rule_set *rs = NULL;
    VYRE_CHECK_OK(vyre_rule_set_compile(NULL, patterns, 5, &rs));
    return rs;
}

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
    uint8_t *bytes = malloc(len ? len : 1);
    VYRE_CHECK(bytes != NULL);
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        bytes[i] = (uint8_t)"abc \n"[seed % 5];
    }
    return bytes;
}

/* Drain until at least `pending` requests have their last result; returns
 * how many did. */
static size_t drain_all(vyre_pump *pump, size_t pending)
{
    size_t finished = 0;
    static vyre_pump_result results[32];
    static vyre_hit hits[MAX_HITS];
    while (finished < pending) {
        size_t n = 0, stored = 0;
        vyre_status st = vyre_pump_drain(pump, results, 32, hits, MAX_HITS, &n, &stored, WAIT_MS);
        if (st != VYRE_OK) {
            vyre_pump_info info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            VYRE_CHECK_OK(vyre_pump_get_info(pump, &info));
            fprintf(stderr, "stuck: %llu requests, %llu reads, %llu jobs in flight\n",
                    (unsigned long long)info.requests_in_flight, (unsigned long long)info.reads_in_flight,
                    (unsigned long long)info.jobs_in_flight);
        }
        VYRE_CHECK_OK(st);
        VYRE_CHECK(n > 0);
        for (size_t i = 0; i < n; i++) {
            const vyre_pump_result *r = &results[i];
            VYRE_CHECK(r->user_data < FILES + 8 && (r->flags & VYRE_PUMP_RESULT_DIRECT) == 0);
            struct outcome *o = &outcomes[r->user_data];
            VYRE_CHECK(!o->done);
            VYRE_CHECK(r->first_hit + r->hits_stored <= stored);
            for (uint32_t k = 0; k < r->hits_stored; k++) {
                const vyre_hit *h = &hits[r->first_hit + k];
                VYRE_CHECK(h->user_data == r->user_data);
                VYRE_CHECK(h->end_offset > r->file_offset && h->end_offset <= r->file_offset + r->length);
                add_match(o, h->end_offset, h->pattern_id);
            }
            if (r->status == VYRE_OK) {
                o->covered += r->length;
            }
            if (r->flags & VYRE_PUMP_RESULT_LAST) {
                o->status = r->status;
                o->done = 1;
                finished++;
            }
        }
    }
    return finished;
}

/* The engine's matches of request `ud` equal the oracle's over `bytes`. */
static void check_against_cpu(const vyre_rule_set *rs, unsigned ud, const uint8_t *bytes, size_t len)
{
    struct outcome cpu;
    memset(&cpu, 0, sizeof cpu);
    VYRE_CHECK_OK(vyre_rule_set_scan_cpu(rs, bytes, len, on_cpu_match, &cpu));
    struct outcome *o = &outcomes[ud];
    sort_matches(o);
    sort_matches(&cpu);
    if (o->status != VYRE_OK || o->covered != len || o->count != cpu.count) {
        fprintf(stderr, "request %u: status %d, covered %llu of %zu bytes, %zu matches, the CPU %zu\n", ud,
                (int)o->status, (unsigned long long)o->covered, len, o->count, cpu.count);
        VYRE_CHECK(!"the request matches the CPU oracle");
    }
    for (size_t i = 0; i < cpu.count; i++) {
        VYRE_CHECK(o->ends[i] == cpu.ends[i] && o->patterns[i] == cpu.patterns[i]);
    }
    free_outcome(&cpu);
}

static vyre_engine *create_engine(void)
{
    vyre_engine_options eo;
    VYRE_CHECK_OK(vyre_engine_options_init(&eo));
    eo.arena_bytes = 1 << 20;
    eo.queue_depth = 64;
    eo.max_hits_per_job = MAX_HITS;
    vyre_engine *engine = NULL;
    VYRE_CHECK_OK(vyre_engine_create(&eo, &engine));
    return engine;
}

/* A pump on ingest path `path` with `flags`; NULL if io_uring (or, asked
 * for, its SQPOLL thread) is missing: the test is then skipped. */
static vyre_pump *create_pump(vyre_engine *engine, uint32_t path, uint32_t flags)
{
    vyre_pump_options po;
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    VYRE_CHECK(po.struct_size == sizeof po && po.path == VYRE_PUMP_PATH_AUTO && po.chunk_bytes == 0);
    po.path = path;
    po.chunk_bytes = CHUNK;
    po.arena_bytes = 64 * CHUNK;
    po.queue_depth = 8;
    po.flags = flags;
    vyre_pump *pump = NULL;
    vyre_status st = vyre_pump_create(engine, &po, &pump);
    if (st == VYRE_E_UNSUPPORTED) {
        vyre_test_message_has(flags & VYRE_PUMP_FLAG_SQPOLL ? "SQPOLL" : "io_uring");
        return NULL;
    }
    VYRE_CHECK_OK(st);
    vyre_pump_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    VYRE_CHECK_OK(vyre_pump_get_info(pump, &info));
    /* AUTO reports what it chose: the direct path, until measurements say otherwise. */
    VYRE_CHECK(info.path == (path == VYRE_PUMP_PATH_AUTO ? VYRE_PUMP_PATH_DIRECT : path));
    VYRE_CHECK(info.chunk_bytes == CHUNK && info.arena_bytes == 64 * CHUNK);
    VYRE_CHECK(info.queue_depth == 8 && info.requests_in_flight == 0 && info.flags == flags);
    return pump;
}

/* Close, delete and free the test's files, then their directory. */
static void remove_files(const char *dir, char path[FILES][64], uint8_t *bytes[FILES], const int fds[FILES])
{
    for (unsigned i = 0; i < FILES; i++) {
        close(fds[i]);
        unlink(path[i]);
        free(bytes[i]);
    }
    rmdir(dir);
}

static int files_pipes_and_errors_match_the_cpu(uint32_t ingest_path, uint32_t flags)
{
    static const size_t sizes[FILES] = {0, 1, 1000, 1023, 1024, 1025, 3000, 4096, 10000, 33333, 70000, 200000};
    char dir[] = "/tmp/vyre-test-pump-XXXXXX";
    char path[FILES][64];
    uint8_t *bytes[FILES];
    int fds[FILES];
    VYRE_CHECK(mkdtemp(dir) != NULL);
    for (unsigned i = 0; i < FILES; i++) {
        size_t len = vyre_test_small() && sizes[i] > 20000 ? 20000 : sizes[i];
        bytes[i] = random_bytes(len, 1000 + i);
        snprintf(path[i], sizeof path[i], "%s/f%u", dir, i);
        FILE *f = fopen(path[i], "wb");
        VYRE_CHECK(f != NULL && fwrite(bytes[i], 1, len, f) == len && fclose(f) == 0);
        fds[i] = open(path[i], O_RDONLY | O_CLOEXEC);
        VYRE_CHECK(fds[i] >= 0);
    }

    vyre_engine *engine = create_engine();
    vyre_rule_set *rs = compile_rules();
    uint32_t id = 0;
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    vyre_pump *pump = create_pump(engine, ingest_path, flags);
    if (pump == NULL) {
        vyre_engine_destroy(engine);
        vyre_rule_set_destroy(rs);
        remove_files(dir, path, bytes, fds);
        return 0;
    }

    /* A pipe first: it finishes last, after the files behind it. Not under
     * valgrind 3.19, whose io_uring_enter never lets a read parked on an
     * empty pipe complete (the pipe is covered by the other variants). */
    int with_pipe = !vyre_test_under("valgrind");
    int pipe_fds[2];
    VYRE_CHECK(pipe(pipe_fds) == 0);
    uint8_t *stream = random_bytes(PIPE_BYTES, 7);
    size_t pending = 0;
    pthread_t thread;
    struct feeder feeder = {pipe_fds[1], stream, PIPE_BYTES};
    if (with_pipe) {
        SUBMIT(pump, vyre_pump_submit_fd(pump, pipe_fds[0], 0, VYRE_PUMP_TO_EOF, id, FILES), pending);
        VYRE_CHECK(pthread_create(&thread, NULL, feed, &feeder) == 0);
    } else {
        close(pipe_fds[1]);
    }

    for (unsigned i = 0; i < FILES; i++) {
        if (i % 2) {
            SUBMIT(pump, vyre_pump_submit_path(pump, path[i], 0, VYRE_PUMP_TO_EOF, id, i), pending);
        } else {
            SUBMIT(pump, vyre_pump_submit_fd(pump, fds[i], 0, VYRE_PUMP_TO_EOF, id, i), pending);
        }
    }
    /* Failing requests: each ends with its own errno, the others go on. */
    char missing[96];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    /* A descriptor number no open can return: INT_MAX is above the kernel's
     * largest descriptor table (fs.nr_open). A number merely closed may be
     * reused at once by another thread, e.g. by the GPU driver, whose
     * descriptor a read would then steal events from; and the process's
     * RLIMIT_NOFILE is no safe choice either: valgrind keeps its own
     * descriptors just above the limit it reports. */
    int closed = INT_MAX;
    SUBMIT(pump, vyre_pump_submit_path(pump, missing, 0, VYRE_PUMP_TO_EOF, id, FILES + 1), pending);
    SUBMIT(pump, vyre_pump_submit_fd(pump, closed, 0, VYRE_PUMP_TO_EOF, id, FILES + 2), pending);
    SUBMIT(pump, vyre_pump_submit_path(pump, dir, 0, VYRE_PUMP_TO_EOF, id, FILES + 3), pending);
    drain_all(pump, pending);
    if (with_pipe) {
        VYRE_CHECK(pthread_join(thread, NULL) == 0);
    }

    uint64_t total = with_pipe ? PIPE_BYTES : 0;
    for (unsigned i = 0; i < FILES; i++) {
        size_t len = vyre_test_small() && sizes[i] > 20000 ? 20000 : sizes[i];
        check_against_cpu(rs, i, bytes[i], len);
        total += len;
    }
    if (with_pipe) {
        check_against_cpu(rs, FILES, stream, PIPE_BYTES);
    }
    VYRE_CHECK(outcomes[FILES + 1].status == -ENOENT);
    VYRE_CHECK(outcomes[FILES + 2].status == -EBADF);
    VYRE_CHECK(outcomes[FILES + 3].status == -EISDIR);

    vyre_pump_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    VYRE_CHECK_OK(vyre_pump_get_info(pump, &info));
    VYRE_CHECK(info.requests_in_flight == 0 && info.reads_in_flight == 0 && info.jobs_in_flight == 0);
    VYRE_CHECK(info.bytes_read >= total); /* overlaps are read twice */

    vyre_pump_destroy(pump);
    vyre_engine_destroy(engine);
    vyre_rule_set_destroy(rs);
    close(pipe_fds[0]);
    for (unsigned i = 0; i < FILES + 8; i++) {
        free_outcome(&outcomes[i]);
    }
    free(stream);
    remove_files(dir, path, bytes, fds);
    return 1;
}

static void bad_inputs_are_refused(void)
{
    vyre_engine *engine = create_engine();
    vyre_rule_set *rs = compile_rules();
    uint32_t id = 0;
    VYRE_CHECK_OK(vyre_engine_load_rule_set(engine, rs, &id));
    vyre_pump_options po;
    vyre_pump *pump = NULL;

    VYRE_CHECK_STATUS(vyre_pump_options_init(NULL), VYRE_E_NULL_POINTER);
    vyre_test_message_has("opts");

    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    VYRE_CHECK_STATUS(vyre_pump_create(NULL, &po, &pump), VYRE_E_NULL_POINTER);
    vyre_test_message_has("engine");
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, NULL), VYRE_E_NULL_POINTER);
    vyre_test_message_has("out");
    po.struct_size = 8;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.path = 99;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("VYRE_PUMP_PATH_STAGED");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.flags = VYRE_PUMP_FLAG_SQPOLL << 1;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("VYRE_PUMP_FLAG_SQPOLL");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.chunk_bytes = 3;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("chunk_bytes");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.arena_offset = 1 << 20;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_OUT_OF_RANGE);
    vyre_test_message_has("arena_offset");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.queue_depth = VYRE_PUMP_MAX_QUEUE_DEPTH + 1;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("queue_depth");
    VYRE_CHECK(pump == NULL);

    pump = create_pump(engine, VYRE_PUMP_PATH_AUTO, 0);
    if (pump != NULL) {
        vyre_pump_result results[4];
        vyre_hit hits[4];
        size_t n = 0;
        VYRE_CHECK_STATUS(vyre_pump_submit_fd(NULL, 0, 0, 1, id, 0), VYRE_E_NULL_POINTER);
        vyre_test_message_has("pump");
        VYRE_CHECK_STATUS(vyre_pump_submit_fd(pump, -1, 0, 1, id, 0), VYRE_E_INVALID_ARGUMENT);
        vyre_test_message_has("fd");
        VYRE_CHECK_STATUS(vyre_pump_submit_fd(pump, 0, 0, 1, id + 7, 0), VYRE_E_NOT_FOUND);
        vyre_test_message_has("rule set");
        VYRE_CHECK_STATUS(vyre_pump_submit_path(NULL, "/etc/hostname", 0, 1, id, 0), VYRE_E_NULL_POINTER);
        VYRE_CHECK_STATUS(vyre_pump_submit_path(pump, NULL, 0, 1, id, 0), VYRE_E_NULL_POINTER);
        vyre_test_message_has("path");
        VYRE_CHECK_STATUS(vyre_pump_submit_path(pump, "", 0, 1, id, 0), VYRE_E_INVALID_ARGUMENT);
        vyre_test_message_has("path");
        VYRE_CHECK_STATUS(vyre_pump_submit_path(pump, "/", 5, UINT64_MAX - 1, id, 0), VYRE_E_INVALID_ARGUMENT);
        vyre_test_message_has("VYRE_PUMP_TO_EOF");
        VYRE_CHECK_STATUS(vyre_pump_drain(NULL, results, 4, hits, 4, &n, NULL, 0), VYRE_E_NULL_POINTER);
        VYRE_CHECK_STATUS(vyre_pump_drain(pump, results, 4, hits, 4, NULL, NULL, 0), VYRE_E_NULL_POINTER);
        vyre_test_message_has("out_results");
        VYRE_CHECK_STATUS(vyre_pump_drain(pump, NULL, 4, hits, 4, &n, NULL, 0), VYRE_E_NULL_POINTER);
        vyre_test_message_has("results");
        VYRE_CHECK_STATUS(vyre_pump_drain(pump, results, 4, NULL, 4, &n, NULL, 0), VYRE_E_NULL_POINTER);
        vyre_test_message_has("hits");
        /* Nothing in flight: drain returns at once, empty. */
        n = 99;
        VYRE_CHECK_OK(vyre_pump_drain(pump, results, 4, hits, 4, &n, NULL, VYRE_WAIT_FOREVER));
        VYRE_CHECK(n == 0);
        vyre_pump_info info;
        memset(&info, 0, sizeof info);
        VYRE_CHECK_STATUS(vyre_pump_get_info(pump, &info), VYRE_E_INVALID_ARGUMENT);
        vyre_test_message_has("struct_size");
        VYRE_CHECK_STATUS(vyre_pump_get_info(pump, NULL), VYRE_E_NULL_POINTER);
        VYRE_CHECK_STATUS(vyre_pump_get_info(NULL, &info), VYRE_E_NULL_POINTER);
        vyre_pump_destroy(pump);
    }
    vyre_pump_destroy(NULL); /* a no-op */
    vyre_engine_destroy(engine);
    vyre_rule_set_destroy(rs);
}

/* Sources of device reads (vyre_pump_register_fd/_path): every bad
 * argument is refused with a message, and nothing is written to the output. */
static void io_sources_are_checked(void)
{
    vyre_engine *engine = create_engine();
    vyre_pump *pump = create_pump(engine, VYRE_PUMP_PATH_AUTO, 0); /* share: the first 64 KiB */
    if (pump != NULL) {
        const uint64_t window = 1u << 19;
        uint32_t source = 77;
        int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
        VYRE_CHECK(fd >= 0);
        VYRE_CHECK_STATUS(vyre_pump_register_fd(NULL, fd, window, 4096, &source), VYRE_E_NULL_POINTER);
        vyre_test_message_has("pump");
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, fd, window, 4096, NULL), VYRE_E_NULL_POINTER);
        vyre_test_message_has("out_source");
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, -1, window, 4096, &source), VYRE_E_INVALID_ARGUMENT);
        vyre_test_message_has("fd");
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, INT_MAX, window, 4096, &source), VYRE_E_INVALID_ARGUMENT);
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, fd, 0, 4096, &source), VYRE_E_OUT_OF_RANGE);
        vyre_test_message_has("share");
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, fd, window, 0, &source), VYRE_E_OUT_OF_RANGE);
        VYRE_CHECK_STATUS(vyre_pump_register_fd(pump, fd, UINT64_MAX, 2, &source), VYRE_E_OUT_OF_RANGE);
        vyre_test_message_has("arena");
        VYRE_CHECK_STATUS(vyre_pump_register_path(NULL, "/etc/hostname", window, 4096, &source), VYRE_E_NULL_POINTER);
        VYRE_CHECK_STATUS(vyre_pump_register_path(pump, NULL, window, 4096, &source), VYRE_E_NULL_POINTER);
        vyre_test_message_has("path");
        VYRE_CHECK_STATUS(vyre_pump_register_path(pump, "", window, 4096, &source), VYRE_E_INVALID_ARGUMENT);
        VYRE_CHECK_STATUS(vyre_pump_register_path(pump, "/nonexistent/vyre", window, 4096, &source), VYRE_E_NOT_FOUND);
        VYRE_CHECK_STATUS(vyre_pump_register_path(pump, "/etc/hostname", window, 4096, NULL), VYRE_E_NULL_POINTER);
        VYRE_CHECK(source == 77);
        VYRE_CHECK_OK(vyre_pump_register_fd(pump, fd, window, 4096, &source));
        VYRE_CHECK(source == 0);
        VYRE_CHECK_OK(vyre_pump_register_path(pump, "/etc/hostname", window, 4096, &source));
        VYRE_CHECK(source == 1);
        vyre_pump_destroy(pump);
        close(fd);
    }
    vyre_engine_destroy(engine);
}

/* Drain the pump until the device read `t` is answered; returns its outcome. */
static vyre_read_outcome answer_read(vyre_engine *engine, vyre_pump *pump, const vyre_read_ticket *t)
{
    static vyre_pump_result results[4];
    static vyre_hit hits[MAX_HITS];
    time_t deadline = time(NULL) + 120;
    for (;;) {
        vyre_read_outcome outcome;
        vyre_status st = vyre_engine_read_result(engine, t, &outcome);
        if (st == VYRE_OK) {
            return outcome;
        }
        VYRE_CHECK_STATUS(st, VYRE_E_TIMEOUT);
        VYRE_CHECK(time(NULL) < deadline);
        size_t n = 0;
        st = vyre_pump_drain(pump, results, 4, hits, MAX_HITS, &n, NULL, 1);
        VYRE_CHECK(st == VYRE_OK || st == VYRE_E_TIMEOUT);
        VYRE_CHECK(n == 0); /* device reads make no pump results */
    }
}

/* Device reads through vyre_engine_request_read / vyre_engine_read_result:
 * every IO slot taken while nothing drains, one more refused with
 * QUEUE_FULL; then each answered DONE with the file's bytes in the arena,
 * an unknown source answered ERRNO EBADF, and bad pointers, struct sizes,
 * flags and forged or stale tickets refused with a message, nothing written. */
static void device_reads_through_the_c_api(void)
{
    vyre_engine *engine = create_engine();
    vyre_pump *pump = create_pump(engine, VYRE_PUMP_PATH_AUTO, 0); /* share: the first 64 KiB */
    if (pump == NULL) {
        vyre_engine_destroy(engine);
        return;
    }
    const uint32_t window = 1u << 19;
    const size_t len = 100000;
    uint8_t *bytes = random_bytes(len, 42);
    char path[] = "/tmp/vyre-test-reads-XXXXXX";
    int fd = mkstemp(path);
    VYRE_CHECK(fd >= 0 && write(fd, bytes, len) == (ssize_t)len && close(fd) == 0);
    uint32_t source = 0;
    VYRE_CHECK_OK(vyre_pump_register_path(pump, path, window, window, &source));
    uint8_t *arena = NULL;
    uint64_t arena_len = 0;
    VYRE_CHECK_OK(vyre_engine_arena(engine, &arena, &arena_len));

    vyre_read_request req;
    memset(&req, 0, sizeof req);
    req.struct_size = sizeof req;
    req.source = source;
    vyre_read_ticket tickets[VYRE_IO_SLOT_COUNT], spare = {7, 7};
    for (uint32_t k = 0; k < VYRE_IO_SLOT_COUNT; k++) {
        req.arena_offset = window + k * 4096;
        req.byte_count = 4096 - k;
        req.file_offset = (uint64_t)k * 1500;
        req.tag = k;
        VYRE_CHECK_OK(vyre_engine_request_read(engine, &req, &tickets[k]));
    }
    VYRE_CHECK_STATUS(vyre_engine_request_read(engine, &req, &spare), VYRE_E_QUEUE_FULL);
    vyre_test_message_has("IO slots");
    vyre_read_outcome outcome = {77, 77};
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, &tickets[0], &outcome), VYRE_E_TIMEOUT); /* nothing drained yet */
    vyre_test_message_has("vyre_pump_drain");
    VYRE_CHECK(spare.slot == 7 && spare.generation == 7 && outcome.kind == 77 && outcome.value == 77);

    for (uint32_t k = 0; k < VYRE_IO_SLOT_COUNT; k++) {
        size_t start = (size_t)k * 1500, end = start + 4096 - k;
        end = end < len ? end : len;
        outcome = answer_read(engine, pump, &tickets[k]);
        VYRE_CHECK(outcome.kind == VYRE_READ_DONE && outcome.value == end - start);
        VYRE_CHECK(memcmp(arena + window + k * 4096, bytes + start, end - start) == 0);
    }
    outcome = answer_read(engine, pump, &tickets[0]); /* asking again answers the same */
    VYRE_CHECK(outcome.kind == VYRE_READ_DONE && outcome.value == 4096);
    vyre_read_ticket unknown;
    req.source = 99;
    VYRE_CHECK_OK(vyre_engine_request_read(engine, &req, &unknown));
    outcome = answer_read(engine, pump, &unknown);
    VYRE_CHECK(outcome.kind == VYRE_READ_ERRNO && outcome.value == EBADF);

    req.source = source;
    VYRE_CHECK_STATUS(vyre_engine_request_read(NULL, &req, &spare), VYRE_E_NULL_POINTER);
    vyre_test_message_has("engine");
    VYRE_CHECK_STATUS(vyre_engine_request_read(engine, NULL, &spare), VYRE_E_NULL_POINTER);
    vyre_test_message_has("req");
    VYRE_CHECK_STATUS(vyre_engine_request_read(engine, &req, NULL), VYRE_E_NULL_POINTER);
    vyre_test_message_has("out_ticket");
    req.struct_size = sizeof req - 4;
    VYRE_CHECK_STATUS(vyre_engine_request_read(engine, &req, &spare), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    req.struct_size = sizeof req;
    req.flags = 1;
    VYRE_CHECK_STATUS(vyre_engine_request_read(engine, &req, &spare), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("flags");
    VYRE_CHECK(spare.slot == 7 && spare.generation == 7);

    vyre_read_ticket last = tickets[VYRE_IO_SLOT_COUNT - 1], forged = last;
    outcome.kind = outcome.value = 77;
    VYRE_CHECK_STATUS(vyre_engine_read_result(NULL, &last, &outcome), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, NULL, &outcome), VYRE_E_NULL_POINTER);
    vyre_test_message_has("ticket");
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, &last, NULL), VYRE_E_NULL_POINTER);
    vyre_test_message_has("`out`");
    forged.slot = UINT32_MAX;
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, &forged, &outcome), VYRE_E_OUT_OF_RANGE);
    forged = last;
    forged.generation++;
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, &forged, &outcome), VYRE_E_TICKET_EXPIRED);
    vyre_test_message_has("moved on");
    forged.slot = unknown.slot + 100; /* never published: opcode 0 */
    forged.generation = 0;
    VYRE_CHECK_STATUS(vyre_engine_read_result(engine, &forged, &outcome), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("not an IO_READ");
    VYRE_CHECK(outcome.kind == 77 && outcome.value == 77);

    vyre_pump_destroy(pump);
    vyre_engine_destroy(engine);
    unlink(path);
    free(bytes);
}

/* Staging buffers io_uring cannot register (one over its 1 GiB limit) make
 * a staged pump unsupported, with a message naming the direct path. The
 * reference backend's 1.5 GiB arena and the staging memory are only
 * reserved, never touched. */
static void unregistrable_staging_is_unsupported(void)
{
    vyre_engine_options eo;
    VYRE_CHECK_OK(vyre_engine_options_init(&eo));
    eo.backend = VYRE_BACKEND_REFERENCE;
    eo.arena_bytes = (uint64_t)3 << 29;
    vyre_engine *engine = NULL;
    VYRE_CHECK_OK(vyre_engine_create(&eo, &engine));
    vyre_pump_options po;
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.path = VYRE_PUMP_PATH_STAGED;
    po.chunk_bytes = ((uint64_t)1 << 30) + 64;
    po.queue_depth = 1;
    vyre_pump *pump = NULL;
    VYRE_CHECK_STATUS(vyre_pump_create(engine, &po, &pump), VYRE_E_UNSUPPORTED);
    vyre_test_message_has("VYRE_PUMP_PATH_DIRECT");
    VYRE_CHECK(pump == NULL);
    vyre_engine_destroy(engine);
}

int main(void)
{
    bad_inputs_are_refused();
    io_sources_are_checked();
    device_reads_through_the_c_api();
    if (!files_pipes_and_errors_match_the_cpu(VYRE_PUMP_PATH_AUTO, 0)) {
        printf("test_pump: skipped (no io_uring)\n");
        return VYRE_TEST_SKIP;
    }
    files_pipes_and_errors_match_the_cpu(VYRE_PUMP_PATH_STAGED, 0);
    if (!files_pipes_and_errors_match_the_cpu(VYRE_PUMP_PATH_DIRECT, VYRE_PUMP_FLAG_SQPOLL)) {
        printf("test_pump: the kernel refuses SQPOLL; that variant was not run\n");
    }
    unregistrable_staging_is_unsupported();
    printf("test_pump: ok\n");
    return 0;
}
