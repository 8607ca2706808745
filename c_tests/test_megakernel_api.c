/* Bad inputs to every megakernel function: NULL handles and out-pointers,
 * versioned struct sizes, invalid options, argument limits, out-of-range
 * indices, undersized buffers, calls after shutdown. Every failure must
 * return its documented code and leave the outputs untouched. */
#undef NDEBUG
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

#define FOREVER VYRE_WAIT_FOREVER
#define SENTINEL 0xA5A5A5A5u

static const vyre_ticket sentinel_ticket = {SENTINEL, SENTINEL};

static int ticket_is_sentinel(vyre_ticket t)
{
    return t.slot == SENTINEL && t.generation == SENTINEL;
}

/* The last error message names `function` (and is not just the name). */
static void check_message_names(const char *function)
{
    char buf[1024];
    VYRE_CHECK_OK(vyre_last_error_message(buf, sizeof buf, NULL));
    if (strstr(buf, function) == NULL || strlen(buf) <= strlen(function) + 2) {
        fprintf(stderr, "expected a message about %s, got \"%s\"\n", function, buf);
        VYRE_CHECK(!"last error message names the function");
    }
}

static vyre_megakernel *create_with(uint32_t slots, uint32_t workers, uint32_t observables,
                                    uint32_t tenants)
{
    return vyre_test_create(VYRE_BACKEND_AUTO, slots, workers, observables, tenants, 0);
}

/* create must fail with `expected` for these options and leave *out alone. */
static void check_create_fails(const vyre_megakernel_options *opts, vyre_status expected)
{
    vyre_megakernel *mk = (vyre_megakernel *)&mk; /* a sentinel address */
    vyre_megakernel *const before = mk;
    VYRE_CHECK_STATUS(vyre_megakernel_create(opts, &mk), expected);
    VYRE_CHECK(mk == before);
    check_message_names("vyre_megakernel_create");
}

/* ------------------------------------------------------------------ NULL */

static void test_null_handles(void)
{
    uint32_t args[2] = {0, 1};
    uint32_t word = SENTINEL;
    uint32_t metrics[VYRE_METRIC_COUNT];
    size_t count = 77;
    uint32_t dropped = SENTINEL;
    vyre_debug_record rec;
    vyre_slot_request req;
    vyre_ticket t = sentinel_ticket, fence = sentinel_ticket;
    vyre_ticket issued = {0, 1};
    struct vyre_megakernel_stats stats;

    memset(&req, 0, sizeof req);
    req.opcode = VYRE_OP_NOP;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;

    VYRE_CHECK_STATUS(vyre_megakernel_publish(NULL, VYRE_OP_STORE_U32, 0, args, 2, &t),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t));
    check_message_names("vyre_megakernel_publish");
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(NULL, &req, 1, VYRE_NO_OBSERVABLE, &t, &fence),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t) && ticket_is_sentinel(fence));
    check_message_names("vyre_megakernel_publish_batch");
    VYRE_CHECK_STATUS(vyre_megakernel_wait(NULL, issued, 0), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_wait");
    VYRE_CHECK_STATUS(vyre_megakernel_wait_idle(NULL, 0), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_wait_idle");
    VYRE_CHECK_STATUS(vyre_megakernel_shutdown(NULL, 0), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_shutdown");
    VYRE_CHECK_STATUS(vyre_megakernel_epoch(NULL, &word), VYRE_E_NULL_POINTER);
    VYRE_CHECK(word == SENTINEL);
    check_message_names("vyre_megakernel_epoch");
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(NULL, 0, &word, 1), VYRE_E_NULL_POINTER);
    VYRE_CHECK(word == SENTINEL);
    check_message_names("vyre_megakernel_read_observables");
    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(NULL, metrics, VYRE_METRIC_COUNT),
                      VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_read_metrics");
    VYRE_CHECK_STATUS(vyre_megakernel_read_debug_log(NULL, 0, &rec, 1, &count, &dropped),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(count == 77 && dropped == SENTINEL);
    check_message_names("vyre_megakernel_read_debug_log");
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(NULL, 0, 0, 1), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_set_tenant_window");
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(NULL, 0, VYRE_TENANT_OPCODE_BASE,
                                                             VYRE_OP_NOP),
                      VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_register_tenant_opcode");
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(NULL, &stats), VYRE_E_NULL_POINTER);
    VYRE_CHECK(stats.published_count == 0 && stats.backend == 0);
    check_message_names("vyre_megakernel_read_stats");

    VYRE_CHECK_STATUS(vyre_megakernel_options_init(NULL), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_options_init");
    VYRE_CHECK_STATUS(vyre_megakernel_create(NULL, NULL), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_create");

    /* NULL is a no-op for destroy. */
    vyre_megakernel_destroy(NULL);
}

static void test_null_outputs(vyre_megakernel *mk)
{
    uint32_t args[2] = {0, 1};
    vyre_slot_request req;
    vyre_ticket t = sentinel_ticket;
    vyre_debug_record rec;
    size_t count = 77;

    memset(&req, 0, sizeof req);
    req.opcode = VYRE_OP_NOP;

    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, args, 2, NULL),
                      VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_publish");
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, NULL, 2, &t),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t));
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, &req, 1, VYRE_NO_OBSERVABLE, &t, NULL),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t));
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, NULL, 2, VYRE_NO_OBSERVABLE, NULL, &t),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t));
    VYRE_CHECK_STATUS(vyre_megakernel_epoch(mk, NULL), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(mk, 0, NULL, 1), VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(mk, NULL, VYRE_METRIC_COUNT),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_megakernel_read_debug_log(mk, 0, &rec, 1, NULL, NULL),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK_STATUS(vyre_megakernel_read_debug_log(mk, 0, NULL, 1, &count, NULL),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(count == 77);
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(mk, NULL), VYRE_E_NULL_POINTER);
    check_message_names("vyre_megakernel_read_stats");
}

/* --------------------------------------------------------------- options */

static void test_options(void)
{
    vyre_megakernel_options opts, base;
    vyre_megakernel *mk = NULL;
    unsigned char *big;
    struct vyre_megakernel_stats stats;
    const size_t extra = 16;

    /* options_init: struct_size set, everything else 0 (= defaults). */
    memset(&opts, 0xCC, sizeof opts);
    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    VYRE_CHECK(opts.struct_size == sizeof(vyre_megakernel_options));
    VYRE_CHECK(opts.backend == VYRE_BACKEND_AUTO);
    VYRE_CHECK(opts.slot_count == 0 && opts.worker_count == 0 && opts.observable_count == 0);
    VYRE_CHECK(opts.tenant_count == 0 && opts.debug_log_capacity == 0 && opts.flags == 0);
    base = opts;

    /* NULL options: every default. */
    VYRE_CHECK_OK(vyre_megakernel_create(NULL, &mk));
    VYRE_CHECK(mk != NULL);
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
    VYRE_CHECK(stats.struct_size == sizeof stats);
    /* AUTO resolves to a real backend: Vulkan where a device exists, else
     * the reference one (VYRE_BACKEND steers it). */
    VYRE_CHECK(stats.backend != VYRE_BACKEND_AUTO);
    VYRE_CHECK(stats.slot_count == VYRE_DEFAULT_SLOTS);
    VYRE_CHECK(stats.observable_count == VYRE_DEFAULT_OBSERVABLES);
    VYRE_CHECK(stats.tenant_count == 1);
    VYRE_CHECK(stats.worker_count >= 1);
    if (stats.backend == VYRE_BACKEND_REFERENCE) {
        VYRE_CHECK(stats.worker_count <= 4); /* default: up to 4 threads */
    }
    VYRE_CHECK(stats.epoch == 0 && stats.done_count == 0 && stats.fault_count == 0);
    VYRE_CHECK(stats.lane_count >= stats.worker_count && stats.published_count == 0 && stats.cancelled_count == 0);
    vyre_megakernel_destroy(mk);

    /* options_init's result works as is. */
    mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
    VYRE_CHECK(mk != NULL);
    vyre_megakernel_destroy(mk);

    /* struct_size too small, or absurd. */
    opts = base;
    opts.struct_size = 4;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts.struct_size = 0;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts.struct_size = sizeof opts - 4;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);

    /* A larger struct (a newer header) with a zero tail is fine; a
     * non-zero tail names a field this library does not know. */
    big = calloc(1, sizeof opts + extra);
    VYRE_CHECK(big != NULL);
    opts = base;
    opts.struct_size = (uint32_t)(sizeof opts + extra);
    opts.slot_count = 8;
    memcpy(big, &opts, sizeof opts);
    mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_create((const vyre_megakernel_options *)big, &mk));
    VYRE_CHECK(mk != NULL);
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
    VYRE_CHECK(stats.slot_count == 8);
    vyre_megakernel_destroy(mk);
    big[sizeof opts + extra - 1] = 1;
    check_create_fails((const vyre_megakernel_options *)big, VYRE_E_INVALID_ARGUMENT);
    big[sizeof opts + extra - 1] = 0;
    big[sizeof opts] = 0x80;
    check_create_fails((const vyre_megakernel_options *)big, VYRE_E_INVALID_ARGUMENT);
    free(big);

    /* A struct_size far beyond any header version (64 KiB, zero tail):
     * refused as implausible, or accepted; never a crash. */
    big = calloc(1, 1u << 16);
    VYRE_CHECK(big != NULL);
    opts = base;
    opts.struct_size = 1u << 16;
    memcpy(big, &opts, sizeof opts);
    mk = NULL;
    VYRE_CHECK_STATUS_EITHER(vyre_megakernel_create((const vyre_megakernel_options *)big, &mk),
                             VYRE_E_INVALID_ARGUMENT, VYRE_OK);
    vyre_megakernel_destroy(mk);
    free(big);

    /* Unknown backend, reserved flags. */
    opts = base;
    opts.backend = 99;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.flags = 1;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts.flags = 0x80000000u;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);

    /* Counts out of range. */
    opts = base;
    opts.slot_count = VYRE_MAX_SLOTS + 1; /* 65537 */
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.tenant_count = VYRE_MAX_TENANTS + 1; /* 1025 */
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.backend = VYRE_BACKEND_REFERENCE; /* at most 64 worker threads */
    opts.worker_count = 1000;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts.worker_count = 65;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts.backend = VYRE_BACKEND_VULKAN; /* at most 4096 workgroups, checked first */
    opts.worker_count = 4097;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.observable_count = VYRE_MAX_OBSERVABLES + 1;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.debug_log_capacity = VYRE_MAX_DEBUG_RECORDS + 1;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);
    opts = base;
    opts.slot_count = UINT32_MAX;
    check_create_fails(&opts, VYRE_E_INVALID_ARGUMENT);

    /* The limits themselves are accepted (small ones only: cheap). */
    opts = base;
    opts.slot_count = 1;
    opts.worker_count = 1;
    opts.observable_count = 1;
    opts.tenant_count = 1;
    opts.debug_log_capacity = 1;
    opts.backend = VYRE_BACKEND_REFERENCE;
    mk = NULL;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
    vyre_megakernel_destroy(mk);
}

/* --------------------------------------------------------------- publish */

static void test_publish(vyre_megakernel *mk)
{
    uint32_t args[VYRE_SLOT_MAX_ARGS + 1];
    uint32_t packed[VYRE_SLOT_MAX_ARGS];
    vyre_ticket t = sentinel_ticket;
    struct vyre_megakernel_stats before, after;
    unsigned i;

    memset(args, 0, sizeof args);
    memset(&before, 0, sizeof before);
    before.struct_size = sizeof before;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &before));

    /* 13 arguments: too many. */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_NOP, 0, args, VYRE_SLOT_MAX_ARGS + 1, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));
    check_message_names("vyre_megakernel_publish");
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_NOP, 0, args, SIZE_MAX, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));
    /* NULL args with a count. */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, NULL, 2, &t),
                      VYRE_E_NULL_POINTER);
    VYRE_CHECK(ticket_is_sentinel(t));
    /* Unknown opcodes, and the reserved DFA_SCAN. */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, 0x1234, 0, NULL, 0, &t), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, 8, 0, NULL, 0, &t), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PRINTF - 1, 0, NULL, 0, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, 0x80000000u, 0, NULL, 0, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_DFA_SCAN, 0, NULL, 0, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));
    /* Tenant out of range (one tenant). */
    args[0] = 0;
    args[1] = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 1, args, 2, &t),
                      VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK(ticket_is_sentinel(t));
    check_message_names("vyre_megakernel_publish");
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, UINT32_MAX, args, 2, &t),
                      VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK(ticket_is_sentinel(t));

    /* PACKED_SLOT with 5 (and 0) operations; with an unpackable opcode;
     * with a stray word after its last operation. */
    memset(packed, 0, sizeof packed);
    packed[0] = 5;
    for (i = 0; i < 5 && VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i < 32; i++) {
        packed[0] |= (uint32_t)VYRE_OP_STORE_U32 << (VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * i);
    }
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PACKED_SLOT, 0, packed, VYRE_SLOT_MAX_ARGS, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));
    memset(packed, 0, sizeof packed);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PACKED_SLOT, 0, packed, VYRE_SLOT_MAX_ARGS, &t),
                      VYRE_E_INVALID_ARGUMENT);
    packed[0] = 1u | ((uint32_t)VYRE_OP_MEMCPY << VYRE_PACKED_OPCODE_SHIFT);
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PACKED_SLOT, 0, packed, 3, &t),
                      VYRE_E_INVALID_ARGUMENT);
    packed[0] = 1u | ((uint32_t)VYRE_OP_STORE_U32 << VYRE_PACKED_OPCODE_SHIFT);
    packed[3] = 1; /* op 1's first argument, but there is no op 1 */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PACKED_SLOT, 0, packed, 4, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));

    /* Argument limits of MEMCPY and PRINTF. */
    args[0] = 0;
    args[1] = 0;
    args[2] = VYRE_MEMCPY_MAX_WORDS + 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_MEMCPY, 0, args, 3, &t),
                      VYRE_E_INVALID_ARGUMENT);
    args[0] = 7;
    args[1] = VYRE_PRINTF_MAX_VALUES + 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_PRINTF, 0, args, 2, &t),
                      VYRE_E_INVALID_ARGUMENT);
    /* A BATCH_FENCE with members must come from publish_batch. */
    args[0] = 0;
    args[1] = 1;
    args[2] = VYRE_NO_OBSERVABLE;
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_BATCH_FENCE, 0, args, 3, &t),
                      VYRE_E_INVALID_ARGUMENT);
    /* Unregistered tenant opcode. */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_TENANT_OPCODE_BASE, 0, NULL, 0, &t),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(t));

    /* Nothing was published by any of these. */
    memset(&after, 0, sizeof after);
    after.struct_size = sizeof after;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &after));
    VYRE_CHECK(after.published_count == before.published_count);

    /* NULL args with a count of 0 is fine; so are exactly 12 arguments. */
    VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_NOP, 0, NULL, 0, &t));
    VYRE_CHECK(!ticket_is_sentinel(t));
    VYRE_CHECK(t.generation != 0);
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
    memset(args, 0, sizeof args);
    VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_NOP, 0, args, VYRE_SLOT_MAX_ARGS, &t));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
}

static void test_publish_batch(vyre_megakernel *mk, uint32_t slot_count)
{
    vyre_slot_request reqs[4];
    vyre_ticket members[4], fence;
    struct vyre_megakernel_stats before, after;
    vyre_slot_request *many;
    unsigned i;

    memset(reqs, 0, sizeof reqs);
    for (i = 0; i < 4; i++) {
        reqs[i].opcode = VYRE_OP_ATOMIC_ADD;
        reqs[i].arg_count = 2;
        reqs[i].args[0] = 5;
        reqs[i].args[1] = 1;
        members[i] = sentinel_ticket;
    }
    fence = sentinel_ticket;
    memset(&before, 0, sizeof before);
    before.struct_size = sizeof before;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &before));

    /* One bad request spoils the batch: nothing published, nothing written. */
    reqs[2].opcode = 0x1234;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    check_message_names("vyre_megakernel_publish_batch");
    reqs[2].opcode = VYRE_OP_ATOMIC_ADD;
    reqs[3].arg_count = VYRE_SLOT_MAX_ARGS + 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    reqs[3].arg_count = 2;
    /* Mixed tenants. */
    reqs[1].tenant = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    /* All for a tenant that does not exist. */
    for (i = 0; i < 4; i++) {
        reqs[i].tenant = 3;
    }
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_OUT_OF_RANGE);
    for (i = 0; i < 4; i++) {
        reqs[i].tenant = 0;
    }
    /* The epoch observable must lie in the tenant's window. */
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, 1u << 20, members, &fence),
                      VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, NULL, 0, VYRE_NO_OBSERVABLE - 1, NULL, &fence),
                      VYRE_E_OUT_OF_RANGE);
    /* Fences and SHUTDOWN cannot be members. */
    reqs[0].opcode = VYRE_OP_BATCH_FENCE;
    reqs[0].arg_count = 0;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    reqs[0].opcode = VYRE_OP_SHUTDOWN;
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    reqs[0].opcode = VYRE_OP_ATOMIC_ADD;
    reqs[0].arg_count = 2;
    for (i = 0; i < 4; i++) {
        VYRE_CHECK(ticket_is_sentinel(members[i]));
    }
    VYRE_CHECK(ticket_is_sentinel(fence));

    /* A batch that can never fit in the ring (count + 1 > slot_count). */
    many = calloc(slot_count, sizeof *many);
    VYRE_CHECK(many != NULL);
    for (i = 0; i < slot_count; i++) {
        many[i].opcode = VYRE_OP_NOP;
    }
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, many, slot_count, VYRE_NO_OBSERVABLE, NULL, &fence),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(ticket_is_sentinel(fence));
    free(many);

    memset(&after, 0, sizeof after);
    after.struct_size = sizeof after;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &after));
    VYRE_CHECK(after.published_count == before.published_count);

    /* Valid: member tickets optional; an empty batch (NULL, 0) is a fence. */
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, fence, FOREVER));
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(mk, NULL, 0, VYRE_NO_OBSERVABLE, NULL, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, fence, FOREVER));
    VYRE_CHECK_OK(vyre_megakernel_publish_batch(mk, reqs, 4, VYRE_NO_OBSERVABLE, members, &fence));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, fence, FOREVER));
    for (i = 0; i < 4; i++) {
        VYRE_CHECK(!ticket_is_sentinel(members[i]));
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, members[i], 0));
    }
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &after));
    VYRE_CHECK(after.published_count == before.published_count + 5 + 1 + 5);
}

/* ------------------------------------------------------------------ wait */

static void test_wait(vyre_megakernel *mk, uint32_t slot_count)
{
    vyre_ticket t;
    uint32_t args[2] = {1, 2};

    t.slot = slot_count; /* out of range */
    t.generation = 1;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, t, 0), VYRE_E_OUT_OF_RANGE);
    check_message_names("vyre_megakernel_wait");
    t.slot = UINT32_MAX;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, t, FOREVER), VYRE_E_OUT_OF_RANGE);

    /* Generation 0 is never issued. */
    t.slot = 0;
    t.generation = 0;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, t, FOREVER), VYRE_E_INVALID_ARGUMENT);
    check_message_names("vyre_megakernel_wait");

    /* A generation ahead of the slot's was never issued either. */
    VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, args, 2, &t));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, FOREVER));
    t.generation += 1;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, t, FOREVER), VYRE_E_INVALID_ARGUMENT);
    t.generation += 1000;
    VYRE_CHECK_STATUS(vyre_megakernel_wait(mk, t, 0), VYRE_E_INVALID_ARGUMENT);

    /* wait_idle with nothing in flight. */
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, 0));
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, FOREVER));
}

/* ----------------------------------------------------------------- reads */

static void test_reads(vyre_megakernel *mk, uint32_t observables)
{
    uint32_t out[8];
    uint32_t metrics[VYRE_METRIC_COUNT + 4];
    uint32_t epoch = SENTINEL;
    vyre_debug_record rec[2];
    size_t count;
    uint32_t dropped;
    unsigned i;
    struct vyre_megakernel_stats stats;
    unsigned char big_stats[sizeof(struct vyre_megakernel_stats) + 32];

    /* Observables past the end. */
    for (i = 0; i < 8; i++) {
        out[i] = SENTINEL;
    }
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(mk, observables, out, 1), VYRE_E_OUT_OF_RANGE);
    check_message_names("vyre_megakernel_read_observables");
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(mk, observables - 7, out, 8),
                      VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(mk, UINT32_MAX, out, 2), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_read_observables(mk, UINT32_MAX - 1, out, 8),
                      VYRE_E_OUT_OF_RANGE);
    for (i = 0; i < 8; i++) {
        VYRE_CHECK(out[i] == SENTINEL);
    }
    /* Count 0 is fine (even with a NULL buffer), also at the very end. */
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 0, out, 0));
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 0, NULL, 0));
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, observables, NULL, 0));
    VYRE_CHECK(out[0] == SENTINEL);
    /* The last 8 exactly. */
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, observables - 8, out, 8));

    /* Metrics: len below VYRE_METRIC_COUNT. */
    for (i = 0; i < VYRE_METRIC_COUNT + 4; i++) {
        metrics[i] = SENTINEL;
    }
    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT - 1),
                      VYRE_E_BUFFER_TOO_SMALL);
    check_message_names("vyre_megakernel_read_metrics");
    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(mk, metrics, 0), VYRE_E_BUFFER_TOO_SMALL);
    VYRE_CHECK_STATUS(vyre_megakernel_read_metrics(mk, NULL, 0), VYRE_E_BUFFER_TOO_SMALL);
    for (i = 0; i < VYRE_METRIC_COUNT + 4; i++) {
        VYRE_CHECK(metrics[i] == SENTINEL);
    }
    /* A longer buffer: only VYRE_METRIC_COUNT values are written. */
    VYRE_CHECK_OK(vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT + 4));
    for (i = VYRE_METRIC_COUNT; i < VYRE_METRIC_COUNT + 4; i++) {
        VYRE_CHECK(metrics[i] == SENTINEL);
    }
    for (i = VYRE_METRIC_FAULT + 1; i < VYRE_METRIC_COUNT; i++) {
        VYRE_CHECK(metrics[i] == 0); /* unused buckets */
    }

    /* Debug log: out NULL with capacity 0, dropped optional. */
    count = 77;
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(mk, 0, NULL, 0, &count, NULL));
    VYRE_CHECK(count == 0);
    count = 77;
    dropped = SENTINEL;
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(mk, 0, NULL, 0, &count, &dropped));
    VYRE_CHECK(count == 0 && dropped == 0);
    count = 77;
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(mk, UINT32_MAX, rec, 2, &count, NULL));
    VYRE_CHECK(count == 0);

    /* Epoch. */
    VYRE_CHECK_OK(vyre_megakernel_epoch(mk, &epoch));
    VYRE_CHECK(epoch != SENTINEL);

    /* Stats: struct_size too small, or absurd; the struct is untouched. */
    memset(&stats, 0xEE, sizeof stats);
    stats.struct_size = 4;
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(mk, &stats), VYRE_E_INVALID_ARGUMENT);
    check_message_names("vyre_megakernel_read_stats");
    VYRE_CHECK(stats.struct_size == 4 && stats.backend == 0xEEEEEEEEu);
    stats.struct_size = 0;
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(mk, &stats), VYRE_E_INVALID_ARGUMENT);
    stats.struct_size = sizeof stats - 8;
    VYRE_CHECK_STATUS(vyre_megakernel_read_stats(mk, &stats), VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK(stats.published_count == 0xEEEEEEEEEEEEEEEEull);
    /* Larger than this header's struct: fine, only sizeof is written. */
    memset(big_stats, 0xEE, sizeof big_stats);
    {
        uint32_t size = (uint32_t)sizeof big_stats;
        memcpy(big_stats, &size, sizeof size);
    }
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, (struct vyre_megakernel_stats *)(void *)big_stats));
    memcpy(&stats, big_stats, sizeof stats);
    VYRE_CHECK(stats.struct_size == sizeof stats);
    VYRE_CHECK(stats.backend == VYRE_BACKEND_REFERENCE || stats.backend == VYRE_BACKEND_VULKAN);
    for (i = sizeof stats; i < sizeof big_stats; i++) {
        VYRE_CHECK(big_stats[i] == 0xEE);
    }
}

/* ------------------------------------------------------- tenant controls */

static void test_tenant_controls(void)
{
    vyre_megakernel *mk = create_with(16, 2, 64, 2);
    const uint32_t t0_op = VYRE_TENANT_OPCODE_BASE;
    const uint32_t t1_op = VYRE_TENANT_OPCODE_BASE + VYRE_TENANT_OPCODE_WINDOW;
    unsigned i;

    /* Windows: tenant out of range, window past the observables. */
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(mk, 2, 0, 1), VYRE_E_OUT_OF_RANGE);
    check_message_names("vyre_megakernel_set_tenant_window");
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(mk, 0, 60, 5), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(mk, 0, 65, 0), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(mk, 0, UINT32_MAX, 2), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_STATUS(vyre_megakernel_set_tenant_window(mk, 0, 1, UINT32_MAX), VYRE_E_OUT_OF_RANGE);
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(mk, 0, 0, 64));
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(mk, 1, 64, 0));
    VYRE_CHECK_OK(vyre_megakernel_set_tenant_window(mk, 1, 32, 32));

    /* Tenant opcodes: tenant out of range, opcode of another tenant or of
     * no tenant, built-ins that cannot be aliased, duplicates. */
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 2, t0_op + 2 * VYRE_TENANT_OPCODE_WINDOW,
                                                             VYRE_OP_NOP),
                      VYRE_E_OUT_OF_RANGE);
    check_message_names("vyre_megakernel_register_tenant_opcode");
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 1, t0_op, VYRE_OP_NOP),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t1_op, VYRE_OP_NOP),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, VYRE_OP_STORE_U32, VYRE_OP_NOP),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, VYRE_TENANT_OPCODE_BASE - 1,
                                                             VYRE_OP_NOP),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_BATCH_FENCE),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_SHUTDOWN),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_PACKED_SLOT),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_DFA_SCAN),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, t0_op + 1),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, 0x1234),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_STORE_U32));
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op, VYRE_OP_STORE_U32),
                      VYRE_E_INVALID_ARGUMENT);
    VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(mk, 1, t1_op, VYRE_OP_STORE_U32));

    /* The table holds VYRE_TENANT_OPCODE_CAPACITY entries; then QUEUE_FULL. */
    for (i = 2; i < VYRE_TENANT_OPCODE_CAPACITY; i++) {
        VYRE_CHECK_OK(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op + i, VYRE_OP_NOP));
    }
    VYRE_CHECK_STATUS(vyre_megakernel_register_tenant_opcode(mk, 0, t0_op + 1000, VYRE_OP_NOP),
                      VYRE_E_QUEUE_FULL);
    check_message_names("vyre_megakernel_register_tenant_opcode");
    vyre_megakernel_destroy(mk);
}

/* -------------------------------------------------------------- shutdown */

static void test_shutdown(void)
{
    vyre_megakernel *mk = create_with(8, 2, 16, 1);
    uint32_t args[2] = {3, 42};
    uint32_t value = 0, metrics[VYRE_METRIC_COUNT], epoch;
    vyre_ticket t = sentinel_ticket, fence = sentinel_ticket, done;
    vyre_slot_request req;
    size_t count;
    struct vyre_megakernel_stats stats;

    VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, args, 2, &done));
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, done, FOREVER));

    VYRE_CHECK_OK(vyre_megakernel_shutdown(mk, FOREVER));
    VYRE_CHECK_STATUS(vyre_megakernel_shutdown(mk, FOREVER), VYRE_E_SHUTDOWN);
    check_message_names("vyre_megakernel_shutdown");
    VYRE_CHECK_STATUS(vyre_megakernel_shutdown(mk, 0), VYRE_E_SHUTDOWN);

    /* No new work... */
    VYRE_CHECK_STATUS(vyre_megakernel_publish(mk, VYRE_OP_STORE_U32, 0, args, 2, &t),
                      VYRE_E_SHUTDOWN);
    VYRE_CHECK(ticket_is_sentinel(t));
    check_message_names("vyre_megakernel_publish");
    memset(&req, 0, sizeof req);
    VYRE_CHECK_STATUS(vyre_megakernel_publish_batch(mk, &req, 1, VYRE_NO_OBSERVABLE, &t, &fence),
                      VYRE_E_SHUTDOWN);
    VYRE_CHECK(ticket_is_sentinel(t) && ticket_is_sentinel(fence));
    check_message_names("vyre_megakernel_publish_batch");

    /* ...but reads, waits on old tickets and wait_idle still work. */
    VYRE_CHECK_OK(vyre_megakernel_wait(mk, done, 0));
    VYRE_CHECK_OK(vyre_megakernel_wait_idle(mk, 0));
    VYRE_CHECK_OK(vyre_megakernel_read_observables(mk, 3, &value, 1));
    VYRE_CHECK(value == 42);
    VYRE_CHECK_OK(vyre_megakernel_read_metrics(mk, metrics, VYRE_METRIC_COUNT));
    VYRE_CHECK(metrics[VYRE_METRIC_STORE_U32] == 1);
    VYRE_CHECK_OK(vyre_megakernel_epoch(mk, &epoch));
    VYRE_CHECK(epoch == 0);
    VYRE_CHECK_OK(vyre_megakernel_read_debug_log(mk, 0, NULL, 0, &count, NULL));
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
    VYRE_CHECK(stats.published_count == 1 && stats.done_count == 1 && stats.cancelled_count == 0);
    vyre_megakernel_destroy(mk);
}

int main(void)
{
    const uint32_t slots = 32, observables = 64;
    vyre_megakernel *mk;

    test_null_handles();
    test_options();

    mk = create_with(slots, 2, observables, 1);
    test_null_outputs(mk);
    test_publish(mk);
    test_publish_batch(mk, slots);
    test_wait(mk, slots);
    test_reads(mk, observables);
    vyre_megakernel_destroy(mk);

    test_tenant_controls();
    test_shutdown();
    printf("test_megakernel_api: ok\n");
    return 0;
}
