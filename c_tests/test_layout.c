/* The C layout of every public struct of vyre.h, pinned at compile time.
 * The numbers are worked out by hand from the field lists (uint32_t: 4
 * bytes, uint64_t: 8, natural alignment, no packing); src/ffi/megakernel.rs
 * pins the same numbers on the Rust side, so a field moved, resized or
 * reordered on either side breaks a build. A few protocol constants are
 * checked for the relationships the protocol relies on, and at run time
 * the library's own idea of the two versioned structs' sizes is compared
 * with this header's. */
#undef NDEBUG
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <vyre.h>

#include "vyre_test.h"

#define PIN(what, value) _Static_assert((what) == (value), #what " == " #value)
#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* ---------------------------------------------------------------- scalars */
PIN(sizeof(vyre_status), 4);
_Static_assert((vyre_status)-1 < 0, "vyre_status is signed");

/* ------------------------------------------------ vyre_megakernel_options
 * 8 x uint32_t: 0 struct_size, 4 backend, 8 slot_count, 12 worker_count,
 * 16 observable_count, 20 tenant_count, 24 debug_log_capacity, 28 flags. */
PIN(sizeof(vyre_megakernel_options), 36);
PIN(_Alignof(vyre_megakernel_options), 4);
PIN(offsetof(vyre_megakernel_options, struct_size), 0);
PIN(offsetof(vyre_megakernel_options, backend), 4);
PIN(offsetof(vyre_megakernel_options, slot_count), 8);
PIN(offsetof(vyre_megakernel_options, worker_count), 12);
PIN(offsetof(vyre_megakernel_options, observable_count), 16);
PIN(offsetof(vyre_megakernel_options, tenant_count), 20);
PIN(offsetof(vyre_megakernel_options, debug_log_capacity), 24);
PIN(offsetof(vyre_megakernel_options, device_index), 32);
PIN(offsetof(vyre_megakernel_options, flags), 28);
PIN(FIELD_SIZE(vyre_megakernel_options, struct_size), 4);
PIN(FIELD_SIZE(vyre_megakernel_options, flags), 4);

/* ------------------------------------------------------------ vyre_ticket
 * 0 slot, 4 generation. */
PIN(sizeof(vyre_ticket), 8);
PIN(_Alignof(vyre_ticket), 4);
PIN(offsetof(vyre_ticket, slot), 0);
PIN(offsetof(vyre_ticket, generation), 4);
PIN(FIELD_SIZE(vyre_ticket, generation), 4);

/* ------------------------------------------------------ vyre_slot_request
 * 0 opcode, 4 tenant, 8 arg_count, 12 args[12] (48 bytes): 60. */
PIN(sizeof(vyre_slot_request), 60);
PIN(_Alignof(vyre_slot_request), 4);
PIN(offsetof(vyre_slot_request, opcode), 0);
PIN(offsetof(vyre_slot_request, tenant), 4);
PIN(offsetof(vyre_slot_request, arg_count), 8);
PIN(offsetof(vyre_slot_request, args), 12);
PIN(FIELD_SIZE(vyre_slot_request, args), 48);
PIN(FIELD_SIZE(vyre_slot_request, args[0]), 4);
PIN(FIELD_SIZE(vyre_slot_request, args) / FIELD_SIZE(vyre_slot_request, args[0]),
    VYRE_SLOT_MAX_ARGS);

/* ------------------------------------------------------ vyre_debug_record
 * 0 tenant, 4 format_id, 8 value_count, 12 values[8] (32 bytes): 44. */
PIN(sizeof(vyre_debug_record), 44);
PIN(_Alignof(vyre_debug_record), 4);
PIN(offsetof(vyre_debug_record, tenant), 0);
PIN(offsetof(vyre_debug_record, format_id), 4);
PIN(offsetof(vyre_debug_record, value_count), 8);
PIN(offsetof(vyre_debug_record, values), 12);
PIN(FIELD_SIZE(vyre_debug_record, values), 32);
PIN(FIELD_SIZE(vyre_debug_record, values) / FIELD_SIZE(vyre_debug_record, values[0]),
    VYRE_PRINTF_MAX_VALUES);

/* -------------------------------------------------- vyre_megakernel_stats
 * 10 x uint32_t: 0 struct_size, 4 backend, 8 slot_count, 12 worker_count,
 * 16 observable_count, 20 tenant_count, 24 epoch, 28 done_count,
 * 32 fault_count, 36 lane_count; then 2 x uint64_t at 8-byte alignment:
 * 40 published_count, 48 cancelled_count: 56, aligned to 8. (The struct
 * tag is used: it names the struct whatever the typedef situation.) */
PIN(sizeof(struct vyre_megakernel_stats), 56);
PIN(_Alignof(struct vyre_megakernel_stats), 8);
PIN(offsetof(struct vyre_megakernel_stats, struct_size), 0);
PIN(offsetof(struct vyre_megakernel_stats, backend), 4);
PIN(offsetof(struct vyre_megakernel_stats, slot_count), 8);
PIN(offsetof(struct vyre_megakernel_stats, worker_count), 12);
PIN(offsetof(struct vyre_megakernel_stats, observable_count), 16);
PIN(offsetof(struct vyre_megakernel_stats, tenant_count), 20);
PIN(offsetof(struct vyre_megakernel_stats, epoch), 24);
PIN(offsetof(struct vyre_megakernel_stats, done_count), 28);
PIN(offsetof(struct vyre_megakernel_stats, fault_count), 32);
PIN(offsetof(struct vyre_megakernel_stats, lane_count), 36);
PIN(offsetof(struct vyre_megakernel_stats, published_count), 40);
PIN(offsetof(struct vyre_megakernel_stats, cancelled_count), 48);
PIN(FIELD_SIZE(struct vyre_megakernel_stats, lane_count), 4);
PIN(FIELD_SIZE(struct vyre_megakernel_stats, published_count), 8);
PIN(FIELD_SIZE(struct vyre_megakernel_stats, cancelled_count), 8);

/* ------------------------------------------------------ protocol constants */
/* A slot: status, opcode, tenant, batch, then the arguments. */
PIN(VYRE_SLOT_WORDS, 4 + VYRE_SLOT_MAX_ARGS);
PIN(VYRE_SLOT_WORD_STATUS, 0);
PIN(VYRE_SLOT_WORD_OPCODE, 1);
PIN(VYRE_SLOT_WORD_TENANT, 2);
PIN(VYRE_SLOT_WORD_BATCH, 3);
PIN(VYRE_SLOT_WORD_ARG0, 4);
PIN(VYRE_SLOT_WORD_ARG0 + VYRE_SLOT_MAX_ARGS, VYRE_SLOT_WORDS);

/* Status word: state | reason << 4 | generation << 8, fields disjoint and
 * filling the 32 bits. */
PIN(VYRE_STATUS_STATE_MASK & (VYRE_STATUS_REASON_MASK << VYRE_STATUS_REASON_SHIFT), 0);
PIN((VYRE_STATUS_REASON_MASK << VYRE_STATUS_REASON_SHIFT) &
        ((uint64_t)VYRE_STATUS_GENERATION_MASK << VYRE_STATUS_GENERATION_SHIFT),
    0);
PIN(VYRE_STATUS_STATE_MASK | (VYRE_STATUS_REASON_MASK << VYRE_STATUS_REASON_SHIFT) |
        ((uint64_t)VYRE_STATUS_GENERATION_MASK << VYRE_STATUS_GENERATION_SHIFT),
    0xFFFFFFFFu);
PIN(VYRE_SLOT_FAULT <= VYRE_STATUS_STATE_MASK, 1);
PIN(VYRE_FAULT_BAD_BATCH <= VYRE_STATUS_REASON_MASK, 1);

/* Slot states and fault reasons are distinct small numbers. */
PIN(VYRE_SLOT_EMPTY, 0);
PIN(VYRE_SLOT_PUBLISHED + 1, VYRE_SLOT_CLAIMED);
PIN(VYRE_SLOT_CLAIMED + 1, VYRE_SLOT_DONE);
PIN(VYRE_SLOT_REQUEUE + 1, VYRE_SLOT_FAULT);
PIN(VYRE_FAULT_NONE, 0);

/* PACKED_SLOT: the count and four 4-bit opcodes fit in args[0], and four
 * operations' two arguments fit after it. */
PIN(VYRE_PACKED_COUNT_MASK >= VYRE_PACKED_MAX_OPS, 1);
PIN(VYRE_PACKED_COUNT_MASK + 1, 1 << VYRE_PACKED_OPCODE_SHIFT);
PIN(VYRE_PACKED_OPCODE_SHIFT + VYRE_PACKED_OPCODE_BITS * VYRE_PACKED_MAX_OPS <= 32, 1);
PIN(1 + 2 * VYRE_PACKED_MAX_OPS <= VYRE_SLOT_MAX_ARGS, 1);
PIN(VYRE_OP_LOAD_U32 < (1 << VYRE_PACKED_OPCODE_BITS), 1);

/* PRINTF: format id, count, values all in one slot; records hold them. */
PIN(2 + VYRE_PRINTF_MAX_VALUES <= VYRE_SLOT_MAX_ARGS, 1);
PIN(VYRE_DEBUG_RECORD_WORDS, VYRE_DEBUG_REC_VALUE0 + VYRE_PRINTF_MAX_VALUES);
PIN(VYRE_DEBUG_REC_COMMIT, 0);

/* Metric buckets 0..7 are numbered like opcodes 0..7, all below the count. */
PIN(VYRE_METRIC_NOP, VYRE_OP_NOP);
PIN(VYRE_METRIC_STORE_U32, VYRE_OP_STORE_U32);
PIN(VYRE_METRIC_ATOMIC_ADD, VYRE_OP_ATOMIC_ADD);
PIN(VYRE_METRIC_LOAD_U32, VYRE_OP_LOAD_U32);
PIN(VYRE_METRIC_COMPARE_SWAP, VYRE_OP_COMPARE_SWAP);
PIN(VYRE_METRIC_MEMCPY, VYRE_OP_MEMCPY);
PIN(VYRE_METRIC_DFA_SCAN, VYRE_OP_DFA_SCAN);
PIN(VYRE_METRIC_BATCH_FENCE, VYRE_OP_BATCH_FENCE);
PIN(VYRE_METRIC_FAULT < VYRE_METRIC_COUNT, 1);

/* The tenant opcode space lies between PRINTF and PACKED_SLOT. */
PIN(VYRE_TENANT_OPCODE_BASE > VYRE_OP_PRINTF, 1);
PIN((uint64_t)VYRE_TENANT_OPCODE_BASE + (uint64_t)VYRE_MAX_TENANTS * VYRE_TENANT_OPCODE_WINDOW <=
        VYRE_OP_PACKED_SLOT,
    1);
PIN(VYRE_OP_SHUTDOWN, 0xFFFFFFFFu);

/* Markers that mean "none" / "forever" are all-ones 32-bit values. */
PIN(VYRE_WAIT_FOREVER, UINT32_MAX);
PIN(VYRE_NO_OBSERVABLE, UINT32_MAX);

/* Limits: every default lies within its limit; the control header fits. */
PIN(VYRE_DEFAULT_SLOTS <= VYRE_MAX_SLOTS, 1);
PIN(VYRE_DEFAULT_OBSERVABLES <= VYRE_MAX_OBSERVABLES, 1);
PIN(VYRE_DEFAULT_DEBUG_RECORDS <= VYRE_MAX_DEBUG_RECORDS, 1);
PIN(VYRE_CTRL_SLOT_COUNT < VYRE_CTRL_HEADER_WORDS, 1);
/* "VYR1", little-endian. */
PIN(VYRE_CONTROL_MAGIC, ((uint32_t)'V' | (uint32_t)'Y' << 8 | (uint32_t)'R' << 16 | (uint32_t)'1' << 24));

/* Queues and scan records: the last word of each record is inside it. */
PIN(VYRE_IO_WORD_TAG < VYRE_IO_SLOT_WORDS, 1);
PIN(VYRE_SCAN_COMPLETION_FAULT < VYRE_SCAN_COMPLETION_WORDS, 1);
PIN(VYRE_SCAN_JOB_FAULT < VYRE_SCAN_JOB_WORDS, 1);
PIN(VYRE_SCAN_HIT_END < VYRE_SCAN_HIT_WORDS, 1);
PIN(VYRE_SCAN_ARG_FLAGS < VYRE_SLOT_MAX_ARGS, 1);
PIN(VYRE_TABLE_OFF_STARTS < VYRE_TABLE_HEADER_WORDS, 1);
/* "VYS1" and "VYT1", little-endian. */
PIN(VYRE_SCAN_MAGIC, ((uint32_t)'V' | (uint32_t)'Y' << 8 | (uint32_t)'S' << 16 | (uint32_t)'1' << 24));
PIN(VYRE_TABLE_MAGIC, ((uint32_t)'V' | (uint32_t)'Y' << 8 | (uint32_t)'T' << 16 | (uint32_t)'1' << 24));

/* Status codes: success 0, errors negative and outside -1..-999 (-errno). */
PIN(VYRE_OK, 0);
PIN(VYRE_E_INVALID_ARGUMENT, -1001);
PIN(VYRE_E_PROTOCOL, -1016);
PIN(VYRE_E_NOT_FOUND, -1017);
PIN(VYRE_E_HITS_TRUNCATED, -1018);
PIN(VYRE_E_HITS_TRUNCATED - VYRE_E_INVALID_ARGUMENT, -17);

int main(void)
{
    vyre_megakernel_options opts;
    struct vyre_megakernel_stats stats;
    vyre_megakernel *mk = NULL;

    /* The library writes its own sizes: they must equal this header's. */
    memset(&opts, 0, sizeof opts);
    VYRE_CHECK_OK(vyre_megakernel_options_init(&opts));
    VYRE_CHECK(opts.struct_size == sizeof(vyre_megakernel_options));

    opts.backend = VYRE_BACKEND_REFERENCE;
    VYRE_CHECK_OK(vyre_megakernel_create(&opts, &mk));
    memset(&stats, 0xEE, sizeof stats);
    stats.struct_size = sizeof stats;
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
    VYRE_CHECK(stats.struct_size == sizeof stats);
    /* Each field where this header says: known values in known places. */
    VYRE_CHECK(stats.backend == VYRE_BACKEND_REFERENCE);
    VYRE_CHECK(stats.slot_count == VYRE_DEFAULT_SLOTS);
    VYRE_CHECK(stats.observable_count == VYRE_DEFAULT_OBSERVABLES);
    VYRE_CHECK(stats.tenant_count == 1);
    VYRE_CHECK(stats.worker_count >= 1 && stats.worker_count <= 64);
    VYRE_CHECK(stats.epoch == 0 && stats.done_count == 0 && stats.fault_count == 0);
    VYRE_CHECK(stats.lane_count == stats.worker_count); /* reference: one lane per thread */
    VYRE_CHECK(stats.published_count == 0 && stats.cancelled_count == 0);
    {
        vyre_ticket t;
        uint32_t args[3] = {0, 0, VYRE_NO_OBSERVABLE};
        VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_NOP, 0, NULL, 0, &t));
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, VYRE_WAIT_FOREVER));
        VYRE_CHECK_OK(vyre_megakernel_publish(mk, VYRE_OP_BATCH_FENCE, 0, args, 3, &t));
        VYRE_CHECK_OK(vyre_megakernel_wait(mk, t, VYRE_WAIT_FOREVER));
    }
    VYRE_CHECK_OK(vyre_megakernel_read_stats(mk, &stats));
    VYRE_CHECK(stats.published_count == 2 && stats.done_count == 2 && stats.epoch == 1);
    VYRE_CHECK(stats.fault_count == 0 && stats.cancelled_count == 0 && stats.lane_count >= stats.worker_count);
    vyre_megakernel_destroy(mk);

    printf("test_layout: ok (options %zu, ticket %zu, slot_request %zu, debug_record %zu, "
           "stats %zu bytes)\n",
           sizeof(vyre_megakernel_options), sizeof(vyre_ticket), sizeof(vyre_slot_request),
           sizeof(vyre_debug_record), sizeof(struct vyre_megakernel_stats));
    return 0;
}
