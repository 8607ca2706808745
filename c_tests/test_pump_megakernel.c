/* A pump feeding a bare megakernel through the C API: files (by path and by
 * fd) and a pipe fed in pieces are read into observables, each chunk's
 * MEMCPY slot copies its words to where they belong in a mirror of its file,
 * and every mirror is read back and compared with the file's bytes; a closed
 * descriptor and a slot that faults end only their own requests; bad inputs
 * to vyre_pump_create_for_megakernel and to a submit naming no template
 * return their documented codes and name the problem. Exits 77 where
 * io_uring is not available. */
#undef NDEBUG
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vyre.h>

#include "vyre_test.h"
#include "pump_test.h"

/* Layout, mirrored by src/pump/megakernel_feed.rs. */
_Static_assert(sizeof(vyre_pump_slot_template) == 72, "vyre_pump_slot_template size");
_Static_assert(offsetof(vyre_pump_slot_template, args) == 12, "vyre_pump_slot_template.args");
_Static_assert(offsetof(vyre_pump_slot_template, fill) == 60, "vyre_pump_slot_template.fill");

#define WAIT_MS 60000u
#define CHUNK 1024u
#define SHARE_WORDS 2048u
#define MIRROR_WORDS 2048u
#define MIRRORS 4u
#define REQUESTS 6

/* Per request: its results' statuses and the bytes its OK results covered. */
struct outcome {
    uint64_t covered;
    size_t results, faulted;
    int32_t status; /* of the last result */
    int done;
};

static struct outcome outcomes[REQUESTS];

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
    uint8_t *bytes = malloc(len ? len : 1);
    VYRE_CHECK(bytes != NULL);
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        bytes[i] = (uint8_t)(seed >> 24);
    }
    return bytes;
}

/* MEMCPY(the chunk's words -> mirror k, at the chunk's place in its file). */
static vyre_pump_slot_template mirror(uint32_t k)
{
    vyre_pump_slot_template t;
    memset(&t, 0, sizeof t);
    t.opcode = VYRE_OP_MEMCPY;
    t.arg_count = 3;
    t.args[1] = SHARE_WORDS + k * MIRROR_WORDS;
    t.fill[0] = VYRE_PUMP_ARG_WORD;
    t.fill[1] = VYRE_PUMP_ARG_REQUEST_WORD;
    t.fill[2] = VYRE_PUMP_ARG_WORDS;
    return t;
}

static size_t drain_all(vyre_pump *pump, size_t pending)
{
    size_t finished = 0;
    vyre_pump_result results[16];
    while (finished < pending) {
        size_t n = 0;
        VYRE_CHECK_OK(vyre_pump_drain(pump, results, 16, NULL, 0, &n, NULL, WAIT_MS));
        VYRE_CHECK(n > 0);
        for (size_t i = 0; i < n; i++) {
            const vyre_pump_result *r = &results[i];
            VYRE_CHECK(r->user_data < REQUESTS && r->hits_stored == 0);
            struct outcome *o = &outcomes[r->user_data];
            VYRE_CHECK(!o->done);
            o->results++;
            if (r->status == VYRE_OK) {
                VYRE_CHECK(r->fault_reason == 0);
                o->covered += r->length;
            } else if (r->status == VYRE_E_SLOT_FAULT) {
                VYRE_CHECK(r->fault_reason == VYRE_FAULT_OUT_OF_WINDOW);
                o->faulted++;
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

/* Mirror k holds `bytes`, zero-padded to the end of the mirror. */
static void check_mirror(vyre_megakernel *mk, uint32_t k, const uint8_t *bytes, size_t len)
{
    static uint32_t words[MIRROR_WORDS];
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, SHARE_WORDS + k * MIRROR_WORDS, words, MIRROR_WORDS));
    for (size_t i = 0; i < MIRROR_WORDS * 4; i++) {
        uint8_t got = (uint8_t)(words[i / 4] >> (8 * (i % 4)));
        if (got != (i < len ? bytes[i] : 0)) {
            fprintf(stderr, "mirror %u: byte %zu is %u, the file's %u\n", k, i, got, i < len ? bytes[i] : 0);
            VYRE_CHECK(!"the mirror equals the file");
        }
    }
}

/* 0 if io_uring is missing. */
static int files_and_a_pipe_are_mirrored_byte_for_byte(void)
{
    vyre_megakernel *mk = vyre_test_create(VYRE_BACKEND_AUTO, 0, 0, SHARE_WORDS + MIRRORS * MIRROR_WORDS, 1, 0);
    vyre_pump_slot_template templates[MIRRORS + 1];
    for (uint32_t k = 0; k < MIRRORS; k++) {
        templates[k] = mirror(k);
    }
    /* STORE_U32 far outside the tenant's window: its slots fault. */
    memset(&templates[MIRRORS], 0, sizeof templates[MIRRORS]);
    templates[MIRRORS].opcode = VYRE_OP_STORE_U32;
    templates[MIRRORS].arg_count = 2;
    templates[MIRRORS].args[0] = 1u << 30;
    templates[MIRRORS].fill[1] = VYRE_PUMP_ARG_BYTES;

    vyre_pump_options po;
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.chunk_bytes = CHUNK;
    po.arena_bytes = SHARE_WORDS * 4;
    vyre_pump *pump = NULL;
    vyre_status st = vyre_pump_create_for_megakernel(mk, &po, templates, MIRRORS + 1, &pump);
    if (st == VYRE_E_UNSUPPORTED) {
        vyre_test_message_has("io_uring");
        vyre_megakernel_destroy(mk);
        return 0;
    }
    VYRE_CHECK_OK(st);

    static const size_t sizes[3] = {1, 1025, 8192};
    uint8_t *files[3];
    char paths[3][64];
    for (unsigned i = 0; i < 3; i++) {
        files[i] = random_bytes(sizes[i], 7 + i);
        snprintf(paths[i], sizeof paths[i], "/tmp/vyre-pump-mk-%d-%u", (int)getpid(), i);
        FILE *f = fopen(paths[i], "wb");
        VYRE_CHECK(f != NULL && fwrite(files[i], 1, sizes[i], f) == sizes[i] && fclose(f) == 0);
    }
    size_t pending = 0;
    int pipe_fds[2];
    VYRE_CHECK(pipe(pipe_fds) == 0);
    uint8_t *stream = random_bytes(5000, 99);
    /* Under valgrind 3.19 a read parked on an empty pipe never completes
     * (its io_uring_enter), so there the pipe holds its whole stream, and
     * its end, before the pump reads it; elsewhere it is fed later. */
    int parked = !vyre_test_under("valgrind");
    if (!parked) {
        VYRE_CHECK(write(pipe_fds[1], stream, 5000) == 5000 && close(pipe_fds[1]) == 0);
    }
    SUBMIT(pump, vyre_pump_submit_fd(pump, pipe_fds[0], 0, VYRE_PUMP_TO_EOF, 3, 3), pending);
    SUBMIT(pump, vyre_pump_submit_path(pump, paths[0], 0, VYRE_PUMP_TO_EOF, 0, 0), pending);
    FILE *by_fd = fopen(paths[1], "rb");
    VYRE_CHECK(by_fd != NULL);
    SUBMIT(pump, vyre_pump_submit_fd(pump, fileno(by_fd), 0, VYRE_PUMP_TO_EOF, 1, 1), pending);
    SUBMIT(pump, vyre_pump_submit_path(pump, paths[2], 0, VYRE_PUMP_TO_EOF, 2, 2), pending);
    SUBMIT(pump, vyre_pump_submit_fd(pump, INT_MAX, 0, VYRE_PUMP_TO_EOF, 0, 4), pending);
    SUBMIT(pump, vyre_pump_submit_path(pump, paths[2], 0, VYRE_PUMP_TO_EOF, MIRRORS, 5), pending);
    if (parked) {
        /* The files finish while the pipe has not sent a byte. */
        pending -= drain_all(pump, 5);
        VYRE_CHECK(!outcomes[3].done);
        struct feeder feeder = {pipe_fds[1], stream, 5000};
        pthread_t thread;
        VYRE_CHECK(pthread_create(&thread, NULL, feed, &feeder) == 0);
        drain_all(pump, pending);
        VYRE_CHECK(pthread_join(thread, NULL) == 0);
    } else {
        drain_all(pump, pending);
    }

    for (unsigned i = 0; i < 3; i++) {
        VYRE_CHECK(outcomes[i].status == VYRE_OK && outcomes[i].covered == sizes[i]);
        VYRE_CHECK(outcomes[i].results == (sizes[i] + CHUNK - 1) / CHUNK);
        check_mirror(mk, i, files[i], sizes[i]);
    }
    VYRE_CHECK(outcomes[3].status == VYRE_OK && outcomes[3].covered == 5000);
    check_mirror(mk, 3, stream, 5000);
    VYRE_CHECK(outcomes[4].status == -EBADF && outcomes[4].results == 1);
    VYRE_CHECK(outcomes[5].status == VYRE_E_SLOT_FAULT && outcomes[5].faulted == 8192 / CHUNK);

    vyre_pump_destroy(pump);
    vyre_megakernel_destroy(mk);
    fclose(by_fd);
    close(pipe_fds[0]);
    for (unsigned i = 0; i < 3; i++) {
        unlink(paths[i]);
        free(files[i]);
    }
    free(stream);
    return 1;
}

static void bad_inputs_are_refused(void)
{
    vyre_megakernel *mk = vyre_test_create(VYRE_BACKEND_REFERENCE, 0, 1, SHARE_WORDS + MIRROR_WORDS, 2, 0);
    vyre_pump_slot_template t = mirror(0);
    vyre_pump_options po;
    vyre_pump *pump = NULL;

    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(NULL, &po, &t, 1, &pump), VYRE_E_NULL_POINTER);
    vyre_test_message_has("mk");
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, NULL), VYRE_E_NULL_POINTER);
    vyre_test_message_has("out");
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, NULL, 1, &pump), VYRE_E_NULL_POINTER);
    vyre_test_message_has("templates");
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, NULL, 0, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("templates");
    po.struct_size = 8;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("struct_size");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.arena_offset = 6;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("multiples of 4");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.arena_offset = (SHARE_WORDS + MIRROR_WORDS) * 4;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_OUT_OF_RANGE);
    vyre_test_message_has("arena_offset");
    VYRE_CHECK_OK(vyre_pump_options_init(&po));
    po.arena_bytes = SHARE_WORDS * 4;
    t.arg_count = 13;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("arg_count");
    t = mirror(0);
    t.fill[2] = 200;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("fill[2]");
    t = mirror(0);
    t.tenant = 1; /* tenant 1's window is the upper half: the share is not in it */
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_OUT_OF_RANGE);
    vyre_test_message_has("window");
    t = mirror(0);
    t.opcode = VYRE_OP_SHUTDOWN;
    VYRE_CHECK_STATUS(vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump), VYRE_E_INVALID_ARGUMENT);
    vyre_test_message_has("SHUTDOWN");
    VYRE_CHECK(pump == NULL);

    t = mirror(0);
    vyre_status st = vyre_pump_create_for_megakernel(mk, &po, &t, 1, &pump);
    if (st != VYRE_E_UNSUPPORTED) {
        VYRE_CHECK_OK(st);
        VYRE_CHECK_STATUS(vyre_pump_submit_path(pump, "/etc/hostname", 0, VYRE_PUMP_TO_EOF, 1, 0),
                          VYRE_E_NOT_FOUND);
        vyre_test_message_has("template");
        VYRE_CHECK_STATUS(vyre_pump_submit_fd(pump, INT_MAX, 0, VYRE_PUMP_TO_EOF, 1, 0), VYRE_E_NOT_FOUND);
        vyre_pump_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        VYRE_CHECK_OK(vyre_pump_get_info(pump, &info));
        VYRE_CHECK(info.requests_in_flight == 0 && info.arena_bytes == SHARE_WORDS * 4 && info.chunk_bytes == 2048);
        vyre_pump_destroy(pump);
    }
    vyre_megakernel_destroy(mk);
}

int main(void)
{
    bad_inputs_are_refused();
    if (!files_and_a_pipe_are_mirrored_byte_for_byte()) {
        printf("test_pump_megakernel: skipped (no io_uring)\n");
        return VYRE_TEST_SKIP;
    }
    printf("test_pump_megakernel: ok\n");
    return 0;
}
